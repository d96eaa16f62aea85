//! Access control through the HTTP API: every route × every caller, generated from the
//! OpenAPI document (which is generated from the router), so a new route without an
//! expectation here fails; and the row-level rules (IDOR) on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::{TestApp, TestDb, Who};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(every_route_answers_every_caller_as_the_policy_says, companies_and_labs_see_only_their_own);

/// Callers in the order of the expectation rows.
const CALLERS: [&str; 8] = ["none", "bad", "revoked", "company", "lab", "planner", "ministry", "admin"];

/// (method, path as in the OpenAPI document, concrete path, body, statuses for CALLERS).
/// Write routes use ids that do not exist or bodies that do not validate, so that an
/// allowed caller gets a deterministic 404/409/422 and nothing changes.
fn expectations() -> Vec<(&'static str, &'static str, &'static str, Value, [u16; 8])> {
    const DENY_ALL_BUT: fn([u16; 5]) -> [u16; 8] = |roles| {
        let mut all = [401; 8];
        all[3..].copy_from_slice(&roles);
        all
    };
    let e = json!({});
    vec![
        ("get", "/api/v1/regions", "/api/v1/regions", e.clone(), DENY_ALL_BUT([200, 200, 200, 200, 200])),
        ("post", "/api/v1/regions", "/api/v1/regions", e.clone(), DENY_ALL_BUT([403, 403, 403, 403, 422])),
        ("get", "/api/v1/regions/{code}", "/api/v1/regions/RU-TA", e.clone(), DENY_ALL_BUT([200, 200, 200, 200, 200])),
        ("put", "/api/v1/regions/{code}", "/api/v1/regions/RU-TA", e.clone(), DENY_ALL_BUT([403, 403, 403, 403, 422])),
        (
            "delete",
            "/api/v1/regions/{code}",
            "/api/v1/regions/XX-NONE",
            e.clone(),
            DENY_ALL_BUT([403, 403, 403, 403, 404]),
        ),
        ("get", "/api/v1/equipment", "/api/v1/equipment", e.clone(), DENY_ALL_BUT([200, 200, 200, 200, 200])),
        ("post", "/api/v1/equipment", "/api/v1/equipment", e.clone(), DENY_ALL_BUT([403, 403, 403, 403, 422])),
        (
            "get",
            "/api/v1/equipment/{code}",
            "/api/v1/equipment/EMC",
            e.clone(),
            DENY_ALL_BUT([200, 200, 200, 200, 200]),
        ),
        (
            "put",
            "/api/v1/equipment/{code}",
            "/api/v1/equipment/EMC",
            e.clone(),
            DENY_ALL_BUT([403, 403, 403, 403, 422]),
        ),
        (
            "delete",
            "/api/v1/equipment/{code}",
            "/api/v1/equipment/NONE",
            e.clone(),
            DENY_ALL_BUT([403, 403, 403, 403, 404]),
        ),
        ("get", "/api/v1/test-types", "/api/v1/test-types", e.clone(), DENY_ALL_BUT([200, 200, 200, 200, 200])),
        ("post", "/api/v1/test-types", "/api/v1/test-types", e.clone(), DENY_ALL_BUT([403, 403, 403, 403, 422])),
        (
            "get",
            "/api/v1/test-types/{code}",
            "/api/v1/test-types/EMC-R10",
            e.clone(),
            DENY_ALL_BUT([200, 200, 200, 200, 200]),
        ),
        (
            "put",
            "/api/v1/test-types/{code}",
            "/api/v1/test-types/EMC-R10",
            e.clone(),
            DENY_ALL_BUT([403, 403, 403, 403, 422]),
        ),
        (
            "delete",
            "/api/v1/test-types/{code}",
            "/api/v1/test-types/NONE-1",
            e.clone(),
            DENY_ALL_BUT([403, 403, 403, 403, 404]),
        ),
        ("get", "/api/v1/labs", "/api/v1/labs", e.clone(), DENY_ALL_BUT([200, 200, 200, 200, 200])),
        ("post", "/api/v1/labs", "/api/v1/labs", e.clone(), DENY_ALL_BUT([403, 403, 403, 403, 422])),
        ("get", "/api/v1/labs/{id}", "/api/v1/labs/L001", e.clone(), DENY_ALL_BUT([200, 200, 200, 200, 200])),
        ("put", "/api/v1/labs/{id}", "/api/v1/labs/L001", e.clone(), DENY_ALL_BUT([403, 403, 403, 403, 422])),
        ("delete", "/api/v1/labs/{id}", "/api/v1/labs/L404", e.clone(), DENY_ALL_BUT([403, 403, 403, 403, 404])),
        (
            "get",
            "/api/v1/labs/{id}/accreditations",
            "/api/v1/labs/L001/accreditations",
            e.clone(),
            DENY_ALL_BUT([200, 200, 200, 200, 200]),
        ),
        (
            "post",
            "/api/v1/labs/{id}/accreditations",
            "/api/v1/labs/L001/accreditations",
            e.clone(),
            DENY_ALL_BUT([403, 422, 403, 403, 422]),
        ),
        (
            "put",
            "/api/v1/labs/{id}/accreditations/{test_type}",
            "/api/v1/labs/L001/accreditations/EMC-R10",
            e.clone(),
            DENY_ALL_BUT([403, 422, 403, 403, 422]),
        ),
        (
            "delete",
            "/api/v1/labs/{id}/accreditations/{test_type}",
            "/api/v1/labs/L001/accreditations/NONE-1",
            e.clone(),
            DENY_ALL_BUT([403, 404, 403, 403, 404]),
        ),
        (
            "get",
            "/api/v1/labs/{id}/capacity",
            "/api/v1/labs/L001/capacity",
            e.clone(),
            DENY_ALL_BUT([200, 200, 200, 200, 200]),
        ),
        (
            "put",
            "/api/v1/labs/{id}/capacity/{equipment}",
            "/api/v1/labs/L001/capacity/EMC",
            e.clone(),
            DENY_ALL_BUT([403, 422, 403, 403, 422]),
        ),
        (
            "delete",
            "/api/v1/labs/{id}/capacity/{equipment}",
            "/api/v1/labs/L001/capacity/NONE",
            e.clone(),
            DENY_ALL_BUT([403, 404, 403, 403, 404]),
        ),
        (
            "get",
            "/api/v1/labs/{id}/capacity-overrides",
            "/api/v1/labs/L001/capacity-overrides",
            e.clone(),
            DENY_ALL_BUT([200, 200, 200, 200, 200]),
        ),
        (
            "put",
            "/api/v1/labs/{id}/capacity-overrides",
            "/api/v1/labs/L001/capacity-overrides",
            e.clone(),
            DENY_ALL_BUT([403, 422, 403, 403, 422]),
        ),
        (
            "delete",
            "/api/v1/labs/{id}/capacity-overrides/{equipment}/{week_start}",
            "/api/v1/labs/L001/capacity-overrides/EMC/2027-03-01",
            e.clone(),
            DENY_ALL_BUT([403, 404, 403, 403, 404]),
        ),
        ("get", "/api/v1/companies", "/api/v1/companies", e.clone(), DENY_ALL_BUT([200, 403, 200, 200, 200])),
        ("post", "/api/v1/companies", "/api/v1/companies", e.clone(), DENY_ALL_BUT([403, 403, 403, 403, 422])),
        (
            "get",
            "/api/v1/companies/{id}",
            "/api/v1/companies/C0001",
            e.clone(),
            DENY_ALL_BUT([200, 403, 200, 200, 200]),
        ),
        (
            "put",
            "/api/v1/companies/{id}",
            "/api/v1/companies/C0001",
            e.clone(),
            DENY_ALL_BUT([403, 403, 403, 403, 422]),
        ),
        ("get", "/api/v1/requests", "/api/v1/requests", e.clone(), DENY_ALL_BUT([200, 403, 200, 200, 200])),
        ("post", "/api/v1/requests", "/api/v1/requests", e.clone(), DENY_ALL_BUT([422, 403, 403, 403, 403])),
        ("get", "/api/v1/requests/{id}", "/api/v1/requests/R00001", e.clone(), DENY_ALL_BUT([200, 403, 200, 200, 200])),
        (
            "patch",
            "/api/v1/requests/{id}",
            "/api/v1/requests/R00001",
            e.clone(),
            DENY_ALL_BUT([422, 403, 403, 403, 403]),
        ),
        (
            "post",
            "/api/v1/requests/{id}/cancel",
            "/api/v1/requests/R00404/cancel",
            e.clone(),
            DENY_ALL_BUT([404, 403, 403, 403, 403]),
        ),
        ("get", "/api/v1/planning-runs", "/api/v1/planning-runs", e.clone(), DENY_ALL_BUT([403, 403, 200, 200, 200])),
        (
            "post",
            "/api/v1/planning-runs",
            "/api/v1/planning-runs",
            json!({"gap": 7}),
            DENY_ALL_BUT([403, 403, 422, 403, 403]),
        ),
        (
            "get",
            "/api/v1/planning-runs/{id}",
            "/api/v1/planning-runs/1",
            e.clone(),
            DENY_ALL_BUT([403, 403, 200, 200, 200]),
        ),
        (
            "post",
            "/api/v1/planning-runs/{id}/cancel",
            "/api/v1/planning-runs/999/cancel",
            e.clone(),
            DENY_ALL_BUT([403, 403, 404, 403, 403]),
        ),
        (
            "post",
            "/api/v1/planning-runs/{id}/publish",
            "/api/v1/planning-runs/1/publish",
            e.clone(),
            DENY_ALL_BUT([403, 403, 409, 403, 403]),
        ),
        (
            "get",
            "/api/v1/planning-runs/{id}/plan",
            "/api/v1/planning-runs/1/plan",
            e.clone(),
            DENY_ALL_BUT([403, 403, 409, 409, 409]),
        ),
        (
            "get",
            "/api/v1/planning-runs/{id}/instance",
            "/api/v1/planning-runs/1/instance",
            e.clone(),
            DENY_ALL_BUT([403, 403, 200, 200, 200]),
        ),
        (
            "get",
            "/api/v1/planning-runs/{id}/diff",
            "/api/v1/planning-runs/1/diff",
            e.clone(),
            DENY_ALL_BUT([403, 403, 409, 409, 409]),
        ),
        (
            "get",
            "/api/v1/planning-runs/{id}/events",
            "/api/v1/planning-runs/999/events",
            e.clone(),
            DENY_ALL_BUT([403, 403, 404, 404, 404]),
        ),
        ("get", "/api/v1/scenarios", "/api/v1/scenarios", e.clone(), DENY_ALL_BUT([403, 403, 200, 200, 200])),
        ("post", "/api/v1/scenarios", "/api/v1/scenarios", e.clone(), DENY_ALL_BUT([403, 403, 422, 422, 403])),
        ("get", "/api/v1/scenarios/{id}", "/api/v1/scenarios/999", e.clone(), DENY_ALL_BUT([403, 403, 404, 404, 404])),
        (
            "get",
            "/api/v1/scenarios/{id}/compare",
            "/api/v1/scenarios/999/compare",
            e.clone(),
            DENY_ALL_BUT([403, 403, 404, 404, 404]),
        ),
        (
            "get",
            "/api/v1/scenarios/{id}/instance",
            "/api/v1/scenarios/999/instance",
            e.clone(),
            DENY_ALL_BUT([403, 403, 404, 404, 404]),
        ),
        ("get", "/api/v1/assignments", "/api/v1/assignments", e.clone(), DENY_ALL_BUT([200, 200, 200, 200, 200])),
        (
            "post",
            "/api/v1/assignments/{id}/confirm",
            "/api/v1/assignments/999/confirm",
            e.clone(),
            DENY_ALL_BUT([403, 404, 403, 403, 403]),
        ),
        (
            "post",
            "/api/v1/assignments/{id}/decline",
            "/api/v1/assignments/999/decline",
            e.clone(),
            DENY_ALL_BUT([403, 422, 403, 403, 403]),
        ),
        ("get", "/api/v1/audit", "/api/v1/audit", e.clone(), DENY_ALL_BUT([403, 403, 403, 403, 200])),
        // The rest of a booking's life: the lab's steps; reading it, as the bookings' rows allow.
        (
            "get",
            "/api/v1/assignments/{id}",
            "/api/v1/assignments/999",
            e.clone(),
            DENY_ALL_BUT([404, 404, 404, 404, 404]),
        ),
        (
            "post",
            "/api/v1/assignments/{id}/receive",
            "/api/v1/assignments/999/receive",
            e.clone(),
            DENY_ALL_BUT([403, 404, 403, 403, 403]),
        ),
        (
            "post",
            "/api/v1/assignments/{id}/start",
            "/api/v1/assignments/999/start",
            e.clone(),
            DENY_ALL_BUT([403, 404, 403, 403, 403]),
        ),
        (
            "post",
            "/api/v1/assignments/{id}/complete",
            "/api/v1/assignments/999/complete",
            e.clone(),
            DENY_ALL_BUT([403, 415, 403, 403, 403]),
        ),
        (
            "post",
            "/api/v1/assignments/{id}/withdraw",
            "/api/v1/assignments/999/withdraw",
            e.clone(),
            DENY_ALL_BUT([403, 422, 403, 403, 403]),
        ),
        (
            "get",
            "/api/v1/assignments/{id}/protocol",
            "/api/v1/assignments/999/protocol",
            e.clone(),
            DENY_ALL_BUT([404, 404, 404, 404, 404]),
        ),
        (
            "get",
            "/api/v1/dashboard/progress",
            "/api/v1/dashboard/progress",
            e.clone(),
            DENY_ALL_BUT([403, 403, 200, 200, 200]),
        ),
        (
            "get",
            "/api/v1/dashboard/demand",
            "/api/v1/dashboard/demand",
            e.clone(),
            DENY_ALL_BUT([403, 403, 200, 200, 200]),
        ),
        (
            "get",
            "/api/v1/dashboard/capacity",
            "/api/v1/dashboard/capacity",
            e.clone(),
            DENY_ALL_BUT([403, 403, 200, 200, 200]),
        ),
        (
            "get",
            "/api/v1/dashboard/unmet",
            "/api/v1/dashboard/unmet",
            e.clone(),
            DENY_ALL_BUT([403, 403, 200, 200, 200]),
        ),
        (
            "get",
            "/api/v1/dashboard/bottlenecks",
            "/api/v1/dashboard/bottlenecks",
            e.clone(),
            DENY_ALL_BUT([403, 403, 200, 200, 200]),
        ),
        ("get", "/api/v1/notices", "/api/v1/notices", e.clone(), DENY_ALL_BUT([200, 200, 200, 200, 200])),
        (
            "post",
            "/api/v1/notices/{id}/read",
            "/api/v1/notices/999/read",
            e.clone(),
            DENY_ALL_BUT([404, 404, 404, 404, 404]),
        ),
        (
            "get",
            "/api/v1/notices/preferences",
            "/api/v1/notices/preferences",
            e.clone(),
            DENY_ALL_BUT([200, 200, 200, 200, 200]),
        ),
        (
            "put",
            "/api/v1/notices/preferences",
            "/api/v1/notices/preferences",
            json!({"email": ["nonsense"]}),
            DENY_ALL_BUT([422, 422, 422, 422, 422]),
        ),
        // Spreadsheets: `{}` is no survey, so an allowed import answers 422 and writes nothing.
        (
            "get",
            "/api/v1/imports/requests/template",
            "/api/v1/imports/requests/template",
            e.clone(),
            DENY_ALL_BUT([200, 403, 200, 403, 200]),
        ),
        (
            "post",
            "/api/v1/imports/requests",
            "/api/v1/imports/requests",
            e.clone(),
            DENY_ALL_BUT([422, 403, 422, 403, 422]),
        ),
        (
            "get",
            "/api/v1/imports/labs/{id}",
            "/api/v1/imports/labs/L001",
            e.clone(),
            DENY_ALL_BUT([403, 200, 403, 403, 200]),
        ),
        (
            "post",
            "/api/v1/imports/labs/{id}",
            "/api/v1/imports/labs/L001",
            e.clone(),
            DENY_ALL_BUT([403, 422, 403, 403, 422]),
        ),
        (
            "get",
            "/api/v1/requests/export",
            "/api/v1/requests/export",
            e.clone(),
            DENY_ALL_BUT([200, 403, 200, 200, 200]),
        ),
        (
            "get",
            "/api/v1/planning-runs/{id}/plan/export",
            "/api/v1/planning-runs/1/plan/export",
            e.clone(),
            DENY_ALL_BUT([403, 403, 409, 409, 409]),
        ),
    ]
}

async fn send(app: &TestApp, token: Option<&str>, method: &str, path: &str, body: &Value) -> StatusCode {
    let client = reqwest::Client::new();
    let url = app.url(path);
    let mut req = match method {
        "get" => client.get(url),
        "post" => client.post(url).json(body),
        "put" => client.put(url).json(body),
        "patch" => client.patch(url).json(body),
        "delete" => client.delete(url),
        other => panic!("unexpected method {other}"),
    };
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    if status.is_client_error() {
        let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{method} {path}: {status}");
    }
    status
}

async fn every_route_answers_every_caller_as_the_policy_says(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    // One queued run (no worker here) so that run routes have something to find.
    app.act_as(Who::Planner).await;
    let (status, run) =
        app.post("/api/v1/planning-runs", &json!({"horizon_start": "2027-01-04", "horizon_weeks": 12})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");

    let revoked = app.token(&Who::Ministry).await.unwrap();
    let operator = labplan::domain::access::Caller::Operator;
    let ministry = labplan::app::users::find_by_email(&app.db, &operator, "ministry@test.local").await.unwrap();
    assert_eq!(labplan::app::users::revoke_tokens(&app.db, &operator, ministry.id, None).await.unwrap(), 1);
    let fresh_ministry =
        labplan::app::users::create_token(&app.db, &operator, ministry.id, "fresh", None).await.unwrap();
    let tokens: [Option<String>; 8] = [
        None,
        Some("lp_0000000000000000000000000000000000000000000000000000000000000000".into()),
        Some(revoked),
        app.token(&Who::Company("C0001")).await,
        app.token(&Who::Lab("L001".into())).await,
        app.token(&Who::Planner).await,
        Some(fresh_ministry),
        app.token(&Who::Admin).await,
    ];

    // The routes come from the OpenAPI document, which the router generates.
    let (status, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push((method.clone(), path.clone()));
        }
    }
    let table: BTreeMap<(String, String), (&str, Value, [u16; 8])> = expectations()
        .into_iter()
        .map(|(m, p, concrete, body, statuses)| ((m.to_string(), p.to_string()), (concrete, body, statuses)))
        .collect();
    for route in &routes {
        assert!(table.contains_key(route), "route {} {} has no expectation in the access matrix", route.0, route.1);
    }
    assert_eq!(routes.len(), table.len(), "the matrix names routes the router does not have");

    let mut failures = Vec::new();
    for ((method, path), (concrete, body, expected)) in &table {
        for (i, token) in tokens.iter().enumerate() {
            let status = send(&app, token.as_deref(), method, concrete, body).await;
            if status.as_u16() != expected[i] {
                failures.push(format!(
                    "{method} {path} as {}: {} (expected {})",
                    CALLERS[i],
                    status.as_u16(),
                    expected[i]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));

    // Nothing above changed the registry.
    app.act_as(Who::Admin).await;
    assert_eq!(app.total("/api/v1/requests").await, 3);
    let (_, r1) = app.get("/api/v1/requests/R00001").await;
    assert_eq!(r1["version"], 1);
    // Health and readiness stay open.
    assert_eq!(send(&app, None, "get", "/healthz", &json!({})).await, StatusCode::OK);
    assert_eq!(send(&app, None, "get", "/readyz", &json!({})).await, StatusCode::OK);
    app.stop().await;
}

async fn companies_and_labs_see_only_their_own(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    // R00003 belongs to C0002: to C0001 it does not exist.
    app.act_as(Who::Company("C0001")).await;
    assert_eq!(app.total("/api/v1/requests").await, 2);
    assert_eq!(app.total("/api/v1/requests?company=C0002").await, 0);
    assert_eq!(app.total("/api/v1/companies").await, 1);
    let (status, _) = app.get("/api/v1/companies/C0002").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.token(&Who::Company("C0002")).await;
    let audit_before = audit_count(&app).await;
    let (status, _) = app.get("/api/v1/requests/R00003").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.patch("/api/v1/requests/R00003", &json!({"version": 1, "samples": 9})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.post("/api/v1/requests/R00003/cancel", &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, problem) = app
        .post(
            "/api/v1/requests",
            &json!({"company": "C0002", "test_type": "EMC-R10", "samples": 1,
                    "ready_date": "2027-01-04", "due_date": "2027-02-26", "priority": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "company");
    assert_eq!(audit_count(&app).await, audit_before, "refused changes leave no audit row");

    // Its owner changes it; the audit row names the user.
    app.act_as(Who::Company("C0002")).await;
    let (status, _) = app.patch("/api/v1/requests/R00003", &json!({"version": 1, "samples": 9})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(audit_count(&app).await, audit_before + 1);
    app.act_as(Who::Admin).await;
    let (_, audit) = app.get("/api/v1/audit?entity=test_request&entity_id=R00003").await;
    assert_eq!(audit["total"], 1);
    assert_eq!(audit["items"][0]["actor"], "c0002@company.test.local");
    assert_eq!(audit["items"][0]["before"]["samples"], 3);
    assert_eq!(audit["items"][0]["after"]["samples"], 9);

    // A lab changes its own capacity only.
    app.act_as(Who::Lab("L002".into())).await;
    let (status, _) =
        app.put("/api/v1/labs/L001/capacity/EMC", &json!({"hours_per_week": 1, "price_per_hour": 1})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}

async fn audit_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    labplan::entities::audit_log::Entity::find().count(&app.db).await.unwrap()
}
