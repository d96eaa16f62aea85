//! The demo data set, idempotent loading, and that what is filed survives a restart, both
//! in-process and through the real `labplan` binary, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, TestDb, Who, binary};
use reqwest::StatusCode;
use serde_json::json;

both_backends!(demo_loads_the_cluster_once, filed_request_survives_restart, binary_serves_demo_and_keeps_data);

async fn demo_loads_the_cluster_once(db: TestDb) {
    let app = db.spawn().await;
    let report = labplan::demo::load_bundled_if_empty(&app.db).await.unwrap().expect("loaded into an empty registry");
    app.act_as(Who::Admin).await;
    assert_eq!((report.requests, report.labs, report.companies), (1300, 40, 102));
    assert_eq!(app.total("/api/v1/requests?per_page=1").await, 1300);
    assert_eq!(app.total("/api/v1/labs").await, 40);
    assert_eq!(app.total("/api/v1/companies").await, 102);
    assert_eq!(app.total("/api/v1/regions").await, 23);
    assert_eq!(app.total("/api/v1/test-types").await, 55);
    assert!(app.total("/api/v1/labs/L001/capacity-overrides?per_page=500").await > 0);

    // Week indices become dates: release week 14 of a horizon starting 2027-01-04.
    let (_, r1) = app.get("/api/v1/requests/R00001").await;
    assert_eq!(r1["ready_date"], "2027-04-12");
    assert_eq!(r1["due_date"], "2027-07-23", "due on the Friday of week 28");

    assert!(labplan::demo::load_bundled_if_empty(&app.db).await.unwrap().is_none(), "not loaded twice");
    // A request whose excluded labs its company has since cleared keeps them cleared.
    app.act_as(Who::Company("C0005")).await;
    let (_, r34) = app.get("/api/v1/requests/R00034").await;
    assert_eq!(r34["excluded_labs"], json!(["L018"]));
    let (status, body) =
        app.patch("/api/v1/requests/R00034", &json!({"version": r34["version"], "excluded_labs": []})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.act_as(Who::Admin).await;
    let instance = labplan::app::import::parse_instance(labplan::demo::BUNDLED).unwrap();
    labplan::app::import::instance(&app.db, &labplan::domain::access::Caller::Operator, &instance)
        .await
        .expect("loading again is harmless");
    assert_eq!(app.total("/api/v1/requests?per_page=1").await, 1300, "loading is idempotent");
    let (_, r34) = app.get("/api/v1/requests/R00034").await;
    assert_eq!(r34["excluded_labs"], json!([]), "loading again leaves a request as it is");
    let out = labplan::db::requests::exclusions_out_of_step(&app.db).await.unwrap();
    assert!(out.is_empty(), "excluded labs out of step for {out:?}");
    app.act_as(Who::Company("C0001")).await;
    let (status, created) = app
        .post(
            "/api/v1/requests",
            &json!({"company": "C0001", "test_type": "EMC-R10", "samples": 1, "ready_date": "2027-01-04", "due_date": "2027-02-26", "priority": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], "R01301");

    let bad = labplan::app::import::parse_instance(br#"{"format": "something-else/1"}"#);
    assert!(bad.is_err());
    app.stop().await;
}

async fn filed_request_survives_restart(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Company("C0002")).await;
    let (status, created) = app
        .post(
            "/api/v1/requests",
            &json!({"company": "C0002", "test_type": "EMC-R10", "samples": 4, "ready_date": "2027-01-11", "due_date": "2027-03-05", "priority": 3, "external_ref": "KE-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    app.stop().await;

    let app = TestApp::spawn(&db.url).await;
    app.act_as(Who::Admin).await;
    let (status, fetched) = app.get(&format!("/api/v1/requests/{}", created["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, created);
    assert_eq!(app.total("/api/v1/requests").await, 4);
    app.stop().await;
}

/// Starts `labplan serve` as a user would, and waits until it answers `/readyz`.
async fn start_binary(db: &TestDb, cwd: &std::path::Path, demo: bool) -> (binary::Server, String) {
    binary::start(db, cwd, if demo { &["--demo"] } else { &[] }).await
}

fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

fn cli_token(db: &TestDb, cwd: &std::path::Path, email: &str) -> String {
    binary::token(db, cwd, email)
}

async fn binary_serves_demo_and_keeps_data(db: TestDb) {
    let cwd = tempfile::tempdir().unwrap();
    let (server, base) = start_binary(&db, cwd.path(), true).await;
    let anonymous = reqwest::Client::new().get(format!("{base}/api/v1/requests?per_page=1")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // The demo users exist; tokens come from the command line, as the README says.
    let client = client_with(&cli_token(&db, cwd.path(), "planner@demo.local"));
    let company = client_with(&cli_token(&db, cwd.path(), "company.c0001@demo.local"));
    let page: serde_json::Value =
        client.get(format!("{base}/api/v1/requests?per_page=1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["total"], 1300);
    let own: serde_json::Value =
        company.get(format!("{base}/api/v1/requests?per_page=1")).send().await.unwrap().json().await.unwrap();
    let expected = labplan::app::import::parse_instance(labplan::demo::BUNDLED)
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.company == "C0001")
        .count();
    assert_eq!(own["total"], expected, "a company token sees its own requests only");
    let resp = company
        .post(format!("{base}/api/v1/requests"))
        .json(&json!({"company": "C0001", "test_type": "EMC-R10", "samples": 2, "ready_date": "2027-01-04", "due_date": "2027-03-05", "priority": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: serde_json::Value = resp.json().await.unwrap();
    drop(server);
    if db.backend == Backend::Sqlite {
        assert!(cwd.path().join("labplan.db").exists(), "the default database is labplan.db in the working directory");
    }

    let (_server, base) = start_binary(&db, cwd.path(), true).await;
    let page: serde_json::Value =
        client.get(format!("{base}/api/v1/requests?per_page=1")).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["total"], 1301, "--demo does not load over existing data");
    let fetched: serde_json::Value = client
        .get(format!("{base}/api/v1/requests/{}", created["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created);
}
