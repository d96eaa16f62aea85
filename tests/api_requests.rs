//! Test requests through the HTTP API: filing, listing, filtering, paging, validation,
//! optimistic locking and cancelling, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestApp, TestDb, Who};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    filing_listing_filtering_and_paging,
    every_bad_body_is_refused_and_changes_nothing,
    stale_versions_and_closed_states_conflict,
    cancel_and_patch_follow_the_status_rules,
);

fn good_request() -> Value {
    json!({
        "company": "C0001",
        "test_type": "EMC-R10",
        "samples": 2,
        "ready_date": "2027-02-01",
        "due_date": "2027-03-26",
        "priority": 2,
        "excluded_labs": ["L002"],
        "external_ref": "PO-77",
        "notes": "Блок управления стеклоподъёмником"
    })
}

/// Every request's excluded labs as its row carries them (what the lists read) name
/// exactly its rows of `request_excluded_labs` (what planning reads).
async fn assert_exclusions_in_step(app: &TestApp) {
    let out = labplan::db::requests::exclusions_out_of_step(&app.db).await.unwrap();
    assert!(out.is_empty(), "excluded labs out of step for {out:?}");
}

async fn audit_rows(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    labplan::entities::audit_log::Entity::find().count(&app.db).await.unwrap()
}

async fn filing_listing_filtering_and_paging(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Company("C0001")).await;
    let (status, created) = app.post("/api/v1/requests", &good_request()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], "R00004", "ids continue after the loaded ones");
    assert_eq!(created["status"], "submitted");
    assert_eq!(created["version"], 1);
    assert_eq!(created["excluded_labs"], json!(["L002"]));
    assert_eq!(created["notes"], "Блок управления стеклоподъёмником");

    let (status, fetched) = app.get("/api/v1/requests/R00004").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);
    assert_eq!(app.total("/api/v1/requests").await, 3, "a company sees its own requests only");

    app.act_as(Who::Planner).await;
    assert_eq!(app.total("/api/v1/requests").await, 4);
    assert_eq!(app.total("/api/v1/requests?company=C0001").await, 3);
    assert_eq!(app.total("/api/v1/requests?company=C0002").await, 1);
    assert_eq!(app.total("/api/v1/requests?test_type=EMC-R10").await, 3);
    assert_eq!(app.total("/api/v1/requests?equipment=CLIM").await, 1);
    assert_eq!(app.total("/api/v1/requests?region=RU-TA").await, 1);
    assert_eq!(app.total("/api/v1/requests?status=submitted&company=C0001&equipment=EMC").await, 2);
    assert_eq!(app.total("/api/v1/requests?status=cancelled").await, 0);

    let (status, page) = app.get("/api/v1/requests?per_page=3&page=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 4);
    assert_eq!(page["page"], 2);
    assert_eq!(page["per_page"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], "R00004");
    let (_, first) = app.get("/api/v1/requests").await;
    assert_eq!(first["per_page"], 50);
    assert_eq!(first["items"][1]["excluded_labs"], json!(["L003"]), "excluded labs come with list items");

    for bad in ["per_page=0", "per_page=501", "page=0", "page=abc", "status=lost"] {
        let (status, problem) = app.get(&format!("/api/v1/requests?{bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {problem}");
        assert!(!problem["errors"].as_array().unwrap().is_empty(), "{bad}: {problem}");
    }
    let (status, _) = app.get("/api/v1/requests/R99999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Past five digits ids read alike on both backends (PostgreSQL makes them in SQL when
    // a filing has no excluded labs), and a list gives each request its labs in order.
    use labplan::db::sequences::{REQUEST_SEQUENCE, raise_to};
    raise_to(&app.db, REQUEST_SEQUENCE, 99_998).await.unwrap();
    app.act_as(Who::Company("C0001")).await;
    let mut plain = good_request();
    plain["excluded_labs"] = json!([]);
    plain["external_ref"] = json!("PO-78");
    let (status, last_short) = app.post("/api/v1/requests", &plain).await;
    assert_eq!((status, last_short["id"].as_str()), (StatusCode::CREATED, Some("R99999")), "{last_short}");
    assert_eq!(last_short["excluded_labs"], json!([]));
    plain["external_ref"] = json!("PO-79");
    plain["excluded_labs"] = json!(["L003", "L002"]);
    let (status, first_long) = app.post("/api/v1/requests", &plain).await;
    assert_eq!((status, first_long["id"].as_str()), (StatusCode::CREATED, Some("R100000")), "{first_long}");
    let (_, fetched) = app.get("/api/v1/requests/R99999").await;
    assert_eq!(fetched, last_short, "the answer to a filing is what a read gives");
    // Unknown references without excluded labs (PostgreSQL's one-statement filing): a
    // 422 naming each field, no row, no audit entry, and no id taken.
    let audited = audit_rows(&app).await;
    let mut unknown = plain.clone();
    unknown["excluded_labs"] = json!([]);
    unknown["external_ref"] = json!("PO-80");
    unknown["test_type"] = json!("NOPE-1");
    let (status, problem) = app.post("/api/v1/requests", &unknown).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "test_type", "{problem}");
    assert_eq!(audit_rows(&app).await, audited, "a refused filing was audited");
    unknown["test_type"] = json!("EMC-R10");
    let (status, next) = app.post("/api/v1/requests", &unknown).await;
    assert_eq!((status, next["id"].as_str()), (StatusCode::CREATED, Some("R100001")), "{next}");
    app.act_as(Who::Planner).await;
    let (_, page) = app.get("/api/v1/requests?per_page=2&page=3").await;
    assert_eq!(page["total"], 7, "{page}");
    assert_eq!(page["items"], json!([first_long, next]), "{page}");
    assert_eq!(page["items"][0]["excluded_labs"], json!(["L002", "L003"]));
    let (_, past) = app.get("/api/v1/requests?per_page=50&page=9").await;
    assert_eq!((past["total"].as_u64(), past["items"].as_array().map(Vec::len)), (Some(7), Some(0)), "{past}");
    assert_exclusions_in_step(&app).await;
    app.stop().await;
}

async fn every_bad_body_is_refused_and_changes_nothing(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Company("C0001")).await;
    let before_total = app.total("/api/v1/requests").await;
    let before_audit = audit_rows(&app).await;

    let with = |field: &str, value: Value| {
        let mut body = good_request();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = good_request();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    // (case, body, expected status, field the problem must name)
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        ("zero samples", with("samples", json!(0)), StatusCode::UNPROCESSABLE_ENTITY, "samples"),
        ("negative samples", with("samples", json!(-3)), StatusCode::UNPROCESSABLE_ENTITY, "samples"),
        ("huge samples", with("samples", json!(1_000_000_000_000_i64)), StatusCode::UNPROCESSABLE_ENTITY, "samples"),
        (
            "samples beyond i64",
            good_request().to_string().replace("\"samples\":2", "\"samples\":99999999999999999999999"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "samples",
        ),
        ("unknown company", with("company", json!("C9999")), StatusCode::UNPROCESSABLE_ENTITY, "company"),
        ("unknown test type", with("test_type", json!("NOPE-1")), StatusCode::UNPROCESSABLE_ENTITY, "test_type"),
        ("ready after due", with("ready_date", json!("2027-04-01")), StatusCode::UNPROCESSABLE_ENTITY, "due_date"),
        ("31 February", with("due_date", json!("2027-02-31")), StatusCode::UNPROCESSABLE_ENTITY, "due_date"),
        ("priority 7", with("priority", json!(7)), StatusCode::UNPROCESSABLE_ENTITY, "priority"),
        ("truncated JSON", good_request().to_string()[..40].to_string(), StatusCode::BAD_REQUEST, ""),
        ("an array", json!([good_request()]).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "body"),
        ("a string for a number", with("samples", json!("two")), StatusCode::UNPROCESSABLE_ENTITY, "samples"),
        (
            "unknown excluded lab",
            with("excluded_labs", json!(["L002", "L404"])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "excluded_labs[1]",
        ),
        ("fractional samples", with("samples", json!(1.5)), StatusCode::UNPROCESSABLE_ENTITY, "samples"),
        ("missing due date", without("due_date"), StatusCode::UNPROCESSABLE_ENTITY, "due_date"),
        ("unknown field", with("sample_count", json!(2)), StatusCode::UNPROCESSABLE_ENTITY, "sample_count"),
        ("not a date", with("ready_date", json!("next week")), StatusCode::UNPROCESSABLE_ENTITY, "ready_date"),
        ("blank company", with("company", json!("  ")), StatusCode::UNPROCESSABLE_ENTITY, "company"),
        ("empty body", String::new(), StatusCode::BAD_REQUEST, ""),
        ("null", "null".to_string(), StatusCode::UNPROCESSABLE_ENTITY, "body"),
    ];
    for (case, body, expected, field) in cases {
        let (status, problem) = app.post_raw("/api/v1/requests", &body).await;
        assert_eq!(status, expected, "{case}: {problem}");
        assert_eq!(problem["status"], expected.as_u16(), "{case}: {problem}");
        assert!(
            problem["title"].is_string() && problem["type"].is_string() && problem["detail"].is_string(),
            "{case}: {problem}"
        );
        if !field.is_empty() {
            let fields: Vec<&str> =
                problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
            assert!(fields.contains(&field), "{case}: expected field {field} in {problem}");
        }
    }
    // Wrong media type.
    let resp = app.client().post(app.url("/api/v1/requests")).body(good_request().to_string()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Several bad fields are reported together.
    let mut body = good_request();
    body["samples"] = json!(0);
    body["priority"] = json!(9);
    body["company"] = json!("C9999");
    let (status, problem) = app.post("/api/v1/requests", &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem["errors"].as_array().unwrap().len(),
        2,
        "range errors first, look-ups only on a well-formed body: {problem}"
    );

    assert_eq!(app.total("/api/v1/requests").await, before_total, "nothing was filed");
    assert_eq!(audit_rows(&app).await, before_audit, "nothing was audited");
    app.stop().await;
}

async fn stale_versions_and_closed_states_conflict(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Company("C0001")).await;
    let (status, updated) = app.patch("/api/v1/requests/R00001", &json!({"version": 1, "samples": 5})).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["samples"], 5);
    assert_eq!(updated["test_type"], "EMC-R10", "fields left out keep their values");

    let (status, problem) = app.patch("/api/v1/requests/R00001", &json!({"version": 1, "samples": 6})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (_, current) = app.get("/api/v1/requests/R00001").await;
    assert_eq!(current["samples"], 5, "a stale write changes nothing");

    let (status, problem) =
        app.patch("/api/v1/requests/R00001", &json!({"version": 2, "due_date": "2026-01-01"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, problem) = app.patch("/api/v1/requests/R00001", &json!({"version": 2, "company": "C0002"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the company cannot be changed: {problem}");
    let (status, _) = app.patch("/api/v1/requests/R00404", &json!({"version": 1})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Excluded labs replaced, then cleared: the list reads them from the request's row,
    // which must follow each change of its rows of excluded labs.
    let (status, moved) =
        app.patch("/api/v1/requests/R00001", &json!({"version": 2, "excluded_labs": ["L003", "L001"]})).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["excluded_labs"], json!(["L001", "L003"]));
    let (_, listed) = app.get("/api/v1/requests?per_page=1").await;
    assert_eq!(listed["items"][0], moved, "the list shows what the edit answered");
    assert_exclusions_in_step(&app).await;
    let (status, again) =
        app.patch("/api/v1/requests/R00001", &json!({"version": 3, "excluded_labs": [], "notes": "срочно"})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["version"], 4);
    assert_eq!(again["notes"], "срочно");
    assert_eq!(again["excluded_labs"], json!([]));
    let (_, listed) = app.get("/api/v1/requests?per_page=1").await;
    assert_eq!(listed["items"][0], again);
    assert_exclusions_in_step(&app).await;

    // Concurrent writers with the same version: exactly one wins.
    let (body_a, body_b) = (json!({"version": 1, "samples": 2}), json!({"version": 1, "samples": 3}));
    let a = app.patch("/api/v1/requests/R00002", &body_a);
    let b = app.patch("/api/v1/requests/R00002", &body_b);
    let ((sa, _), (sb, _)) = tokio::join!(a, b);
    let mut statuses = [sa, sb];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    app.stop().await;
}

async fn cancel_and_patch_follow_the_status_rules(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Company("C0002")).await;
    let (status, problem) = app.post("/api/v1/requests/R00003/cancel", &json!({"version": 7})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, cancelled) =
        app.post("/api/v1/requests/R00003/cancel", &json!({"version": 1, "reason": "испытания не нужны"})).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["status_reason"], "испытания не нужны");
    assert_eq!(cancelled["version"], 2);
    let (status, _) = app.post("/api/v1/requests/R00003/cancel", &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "already cancelled");
    let (status, _) = app.patch("/api/v1/requests/R00003", &json!({"version": 2, "samples": 1})).await;
    assert_eq!(status, StatusCode::CONFLICT, "a cancelled request is closed");
    // A bare POST without a body cancels too.
    app.act_as(Who::Company("C0001")).await;
    let resp = app.client().post(app.url("/api/v1/requests/R00001/cancel")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    app.act_as(Who::Planner).await;
    assert_eq!(app.total("/api/v1/requests?status=cancelled").await, 2);
    app.act_as(Who::Company("C0001")).await;
    let (status, _) = app.post("/api/v1/requests/R00404/cancel", &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}
