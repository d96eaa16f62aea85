//! The catalog, companies and labs with their sub-resources through the HTTP API, and the
//! service endpoints, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestDb;
use reqwest::StatusCode;
use serde_json::json;

both_backends!(
    catalog_create_read_update_delete,
    companies_and_labs,
    lab_scope_capacity_and_overrides,
    service_endpoints_and_openapi,
);

async fn catalog_create_read_update_delete(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    let region = json!({"code": "RU-ULY", "name": "Ульяновская область", "name_en": "Ulyanovsk Oblast", "lat": 54.3, "lon": 48.4});
    let (status, body) = app.post("/api/v1/regions", &region).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = app.post("/api/v1/regions", &region).await;
    assert_eq!(status, StatusCode::CONFLICT, "duplicate code");
    let (status, problem) = app
        .post("/api/v1/regions", &json!({"code": "ulyanovsk", "name": "", "name_en": "x", "lat": 91.0, "lon": 0.0}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3, "{problem}");
    let (status, body) = app
        .put(
            "/api/v1/regions/RU-ULY",
            &json!({"name": "Ульяновская обл.", "name_en": "Ulyanovsk", "lat": 54.3, "lon": 48.4}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name_en"], "Ulyanovsk");
    assert_eq!(app.total("/api/v1/regions").await, 3);
    let (status, _) = app.delete("/api/v1/regions/RU-ULY").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get("/api/v1/regions/RU-ULY").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.delete("/api/v1/regions/RU-SAM").await;
    assert_eq!(status, StatusCode::CONFLICT, "labs and companies still refer to it");

    let (status, body) =
        app.post("/api/v1/equipment", &json!({"code": "SALT", "name": "Камера соляного тумана", "name_en": "Salt spray", "max_hours_per_test_week": 168})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = app
        .post("/api/v1/equipment", &json!({"code": "BIG", "name": "x", "name_en": "x", "max_hours_per_test_week": 169}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a week has 168 hours");

    let test_type = json!({"code": "SALT-ISO9227", "standard": "ISO 9227", "name": "Соляной туман", "name_en": "Salt spray", "equipment": "SALT", "hours": 480});
    let (status, body) = app.post("/api/v1/test-types", &test_type).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, problem) = app
        .post(
            "/api/v1/test-types",
            &json!({"code": "X-1", "standard": "s", "name": "n", "name_en": "n", "equipment": "NOPE", "hours": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["hours", "equipment"]);
    assert_eq!(app.total("/api/v1/test-types?equipment=SALT").await, 1);
    let (status, _) = app.delete("/api/v1/equipment/SALT").await;
    assert_eq!(status, StatusCode::CONFLICT, "a test type still uses it");
    let (status, _) = app.delete("/api/v1/test-types/SALT-ISO9227").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.delete("/api/v1/equipment/SALT").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.delete("/api/v1/test-types/EMC-R10").await;
    assert_eq!(status, StatusCode::CONFLICT, "requests refer to it");
    app.stop().await;
}

async fn companies_and_labs(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    let (status, body) = app
        .post(
            "/api/v1/companies",
            &json!({"id": "C0003", "name": "ООО «Автосвет»", "inn": "7707083893", "region": "RU-SAM"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = app
        .post(
            "/api/v1/companies",
            &json!({"id": "C0004", "name": "ООО «Дубль»", "inn": "7707083893", "region": "RU-SAM"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "the INN is already registered");
    let (status, problem) = app
        .post(
            "/api/v1/companies",
            &json!({"id": "C0005", "name": "ООО «Опечатка»", "inn": "7707083894", "region": "RU-XX"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["inn", "region"], "{problem}");
    assert_eq!(app.total("/api/v1/companies?region=RU-SAM").await, 2);
    let (status, body) =
        app.put("/api/v1/companies/C0003", &json!({"name": "ООО «Автосвет-Волга»", "region": "RU-TA"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["inn"], json!(null));
    let (status, _) = app.put("/api/v1/companies/C0404", &json!({"name": "x", "region": "RU-TA"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let lab = json!({"id": "L004", "name": "Испытательный центр", "name_en": "Test centre", "region": "RU-TA", "contact": "+7 843 000-00-00"});
    let (status, body) = app.post("/api/v1/labs", &lab).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(app.total("/api/v1/labs").await, 4);
    assert_eq!(app.total("/api/v1/labs?region=RU-TA").await, 2);
    assert_eq!(app.total("/api/v1/labs?test_type=EMC-R10").await, 2);
    assert_eq!(app.total("/api/v1/labs?equipment=CLIM").await, 2);
    let (status, body) = app.put("/api/v1/labs/L004", &json!({"name": "ИЦ", "name_en": "TC", "region": "RU-TA"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["contact"], json!(null));
    let (status, _) = app.delete("/api/v1/labs/L004").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.delete("/api/v1/labs/L003").await;
    assert_eq!(status, StatusCode::CONFLICT, "a request excludes it");
    app.stop().await;
}

async fn lab_scope_capacity_and_overrides(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    assert_eq!(app.total("/api/v1/labs/L001/accreditations").await, 2);
    let (status, body) = app
        .post(
            "/api/v1/labs/L002/accreditations",
            &json!({"test_type": "CLIM-GOST15150", "valid_from": "2027-01-01", "valid_to": "2029-12-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = app
        .post("/api/v1/labs/L002/accreditations", &json!({"test_type": "CLIM-GOST15150", "valid_from": "2027-01-01"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, problem) = app
        .put(
            "/api/v1/labs/L002/accreditations/CLIM-GOST15150",
            &json!({"valid_from": "2027-01-01", "valid_to": "2026-01-01"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, _) =
        app.post("/api/v1/labs/L002/accreditations", &json!({"test_type": "NOPE", "valid_from": "2027-01-01"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.delete("/api/v1/labs/L002/accreditations/CLIM-GOST15150").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.delete("/api/v1/labs/L002/accreditations/CLIM-GOST15150").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) =
        app.put("/api/v1/labs/L002/capacity/CLIM", &json!({"hours_per_week": 168, "price_per_hour": 900})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, caps) = app.get("/api/v1/labs/L002/capacity").await;
    assert_eq!(caps["total"], 2);
    let (status, problem) =
        app.put("/api/v1/labs/L002/capacity/CLIM", &json!({"hours_per_week": -1, "price_per_hour": -5})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2);
    let (status, _) =
        app.put("/api/v1/labs/L002/capacity/NOPE", &json!({"hours_per_week": 1, "price_per_hour": 1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, body) = app
        .put(
            "/api/v1/labs/L002/capacity-overrides",
            &json!({"equipment": "EMC", "week_start": "2027-01-11", "hours_per_week": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, problem) = app
        .put(
            "/api/v1/labs/L002/capacity-overrides",
            &json!({"equipment": "EMC", "week_start": "2027-01-12", "hours_per_week": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not a Monday: {problem}");
    let (status, _) = app
        .put(
            "/api/v1/labs/L003/capacity-overrides",
            &json!({"equipment": "EMC", "week_start": "2027-01-11", "hours_per_week": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "L003 has no EMC capacity");
    assert_eq!(app.total("/api/v1/labs/L002/capacity-overrides").await, 1);
    assert_eq!(app.total("/api/v1/labs/L001/capacity-overrides?equipment=EMC&from=2027-01-04&to=2027-01-04").await, 1);
    let (status, _) = app.delete("/api/v1/labs/L002/capacity-overrides/EMC/2027-01-11").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.delete("/api/v1/labs/L002/capacity-overrides/EMC/someday").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.get("/api/v1/labs/L404/capacity").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every change above that succeeded left one audit row.
    use labplan::entities::audit_log;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let audited = audit_log::Entity::find()
        .filter(audit_log::Column::Entity.is_in(["accreditation", "capacity", "capacity_override"]))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(audited, 5);
    app.stop().await;
}

async fn service_endpoints_and_openapi(db: TestDb) {
    let app = db.spawn().await;
    let resp = app.client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app.client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The OpenAPI document describes the API and holds no registry data: open to all.
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/requests",
        "/api/v1/requests/{id}",
        "/api/v1/requests/{id}/cancel",
        "/api/v1/regions",
        "/api/v1/equipment/{code}",
        "/api/v1/test-types",
        "/api/v1/labs/{id}/accreditations",
        "/api/v1/labs/{id}/capacity/{equipment}",
        "/api/v1/labs/{id}/capacity-overrides",
        "/api/v1/companies/{id}",
    ] {
        assert!(doc["paths"][path].is_object(), "OpenAPI lacks {path}");
    }
    let (status, _) = app.get("/api/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let metrics = app.client().get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("labplan_http_requests_total"), "{metrics}");
    app.stop().await;
}
