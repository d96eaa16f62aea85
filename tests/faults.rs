//! Faults an operator meets: the database going away and coming back, a plan finished
//! while it was away, and stopping the server with a stream open and an upload under
//! way.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, TestDb, Who, binary};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Closes the test database to new connections and ends the open ones, as an outage or a
/// restart of the server would; `false` opens it again.
async fn outage(db: &TestDb, down: bool) {
    let admin = Database::connect(std::env::var(common::POSTGRES_ENV).unwrap().as_str()).await.unwrap();
    let name = url::Url::parse(&db.url).unwrap().path().trim_start_matches('/').to_string();
    admin.execute_unprepared(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {}", !down)).await.unwrap();
    if down {
        let sql = format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'");
        admin.execute_unprepared(&sql).await.unwrap();
    }
    admin.close().await.unwrap();
}

async fn postgres() -> Option<TestDb> {
    TestDb::create(Backend::Postgres).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_service_resumes_by_itself() {
    let Some(db) = postgres().await else { return };
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Planner).await;
    assert_eq!(app.get("/api/v1/requests").await.0, StatusCode::OK);

    outage(&db, true).await;
    let started = Instant::now();
    let resp = app.client().get(app.url("/api/v1/requests")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert!(started.elapsed() < Duration::from_secs(15), "the 503 took {:?}", started.elapsed());
    assert_eq!(reqwest::get(app.url("/readyz")).await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);

    outage(&db, false).await;
    let started = Instant::now();
    loop {
        if app.get("/api/v1/requests").await.0 == StatusCode::OK
            && reqwest::get(app.url("/readyz")).await.unwrap().status() == StatusCode::OK
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the service did not resume");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_plan_finished_during_an_outage_is_stored_once_the_database_is_back() {
    let Some(db) = postgres().await else { return };
    let app = TestApp::spawn_demo(&db.url).await;
    app.act_as(Who::Planner).await;
    let body = json!({"time_limit_seconds": 4, "gap": 0});
    let (status, run) = app.post("/api/v1/planning-runs", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_i64().unwrap();
    let started = Instant::now();
    loop {
        let (_, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
        if run["status"] == "running" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the run never started: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The solve ends (4 s) while the database is away (8 s).
    outage(&db, true).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    outage(&db, false).await;
    let started = Instant::now();
    let run: Value = loop {
        if let (StatusCode::OK, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await
            && run["status"] != "running"
        {
            break run;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the plan was not stored");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["attempts"], 1, "the plan was stored, not solved again: {run}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_and_finishes_uploads() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let (mut server, base) = binary::start(&db, cwd.path(), &["--demo", "--no-worker"]).await;
    let planner = binary::token(&db, cwd.path(), "planner@demo.local");
    let company = binary::token(&db, cwd.path(), "company.c0001@demo.local");
    let client = reqwest::Client::new();
    // A queued run without a worker: its event stream would go on for ever.
    let run: Value = client
        .post(format!("{base}/api/v1/planning-runs"))
        .bearer_auth(&planner)
        .json(&json!({"time_limit_seconds": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stream = client
        .get(format!("{base}/api/v1/planning-runs/{}/events", run["id"]))
        .bearer_auth(&planner)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);

    // An upload under way: the headers and half the body now, the rest after the signal.
    let body = json!({"company": "C0001", "test_type": "EMC-R10", "samples": 1, "ready_date": "2027-03-01",
        "due_date": "2027-05-28", "priority": 1})
    .to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let addr = base.trim_start_matches("http://").to_string();
    let mut upload = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "POST /api/v1/requests HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {company}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{head}",
        body.len()
    );
    upload.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let signalled = Instant::now();
    let kill = std::process::Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(kill.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    upload.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), upload.read_to_end(&mut answer)).await.expect("an answer").unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 201"), "the upload was cut: {answer}");

    // The stream ended, and so did the server, with success.
    let text = tokio::time::timeout(Duration::from_secs(10), stream.text()).await.expect("the stream ends");
    assert!(text.is_ok());
    let exit = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(signalled.elapsed() < Duration::from_secs(15), "still running after SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "{exit}");
}
