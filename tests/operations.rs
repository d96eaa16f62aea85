//! Running it: past its in-flight limit the server answers 503 at once; the embedded
//! database is backed up while in use and restored in one piece; operators' metrics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, TestDb, Who, binary};
use labplan::startup::Settings;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn scalar(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_string())).await.unwrap();
    row.unwrap().try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_in_flight_limit_the_answer_is_a_quick_503() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let settings = Settings { max_in_flight: 1, ..Settings::new(&db.url, "127.0.0.1:0".parse().unwrap()) };
    let app = TestApp::spawn_with(settings).await;
    let instance = labplan::app::import::parse_instance(common::FIXTURE.as_bytes()).unwrap();
    labplan::app::import::instance(&app.db, &labplan::domain::access::Caller::Operator, &instance).await.unwrap();
    let token = app.token(&Who::Company("C0001")).await.unwrap();
    // One request in flight: its body arrives slowly.
    let body = json!({"company": "C0001", "test_type": "EMC-R10", "samples": 1, "ready_date": "2027-03-01",
        "due_date": "2027-05-28", "priority": 1})
    .to_string();
    let (head, tail) = body.split_at(10);
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "POST /api/v1/requests HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{head}",
        body.len()
    );
    slow.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let asked = Instant::now();
    let resp = reqwest::Client::new().get(app.url("/api/v1/regions")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key("retry-after"));
    assert!(asked.elapsed() < Duration::from_millis(500), "shed in {:?}", asked.elapsed());
    // Probes and metrics still answer.
    assert_eq!(reqwest::get(app.url("/healthz")).await.unwrap().status(), StatusCode::OK);
    let metrics = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    for name in
        ["labplan_http_shed_total", "labplan_http_in_flight 1", "labplan_db_pool_size", "labplan_planning_queue_length"]
    {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }

    // The slow one finishes; then there is room again.
    slow.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 12];
    slow.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 201");
    let resp = reqwest::Client::new().get(app.url("/api/v1/regions")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_database_is_backed_up_in_use_and_restored_whole() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Company("C0001")).await;
    let before = scalar(&app.db, "SELECT COUNT(*) FROM test_requests").await;
    // Requests are filed while the backup is taken.
    let writer = {
        let client = app.client();
        let url = app.url("/api/v1/requests");
        tokio::spawn(async move {
            for i in 0..60 {
                let body = json!({"company": "C0001", "test_type": "EMC-R10", "samples": 1 + i % 3,
                    "ready_date": "2027-03-01", "due_date": "2027-05-28", "priority": 1});
                let resp = client.post(&url).json(&body).send().await.unwrap();
                assert_eq!(resp.status(), StatusCode::CREATED);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let out = binary::command(&db, dir.path())
        .env("DATABASE_URL", &db.url)
        .args(["backup", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    writer.await.unwrap();
    let after = scalar(&app.db, "SELECT COUNT(*) FROM test_requests").await;
    assert_eq!(after, before + 60);

    // The copy is whole and holds a moment between the two counts.
    let copy_url = format!("sqlite://{}?mode=rw", copy.display());
    let copied = labplan::db::connect(&copy_url).await.unwrap();
    let integrity = copied
        .query_one_raw(Statement::from_string(sea_orm::DbBackend::Sqlite, "PRAGMA integrity_check"))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<String>(0)
        .unwrap();
    assert_eq!(integrity, "ok");
    let in_copy = scalar(&copied, "SELECT COUNT(*) FROM test_requests").await;
    assert!((before..=after).contains(&in_copy), "{before} ≤ {in_copy} ≤ {after}");
    let audit_in_copy = scalar(&copied, "SELECT COUNT(*) FROM audit_log WHERE entity = 'test_request'").await;
    assert_eq!(audit_in_copy, in_copy - before, "each filing in the copy has its audit row, no more");
    copied.close().await.unwrap();

    // Restored into another registry, it is the same registry.
    let other = TestDb::create(Backend::Sqlite).await.unwrap();
    let fresh = other.spawn().await;
    let out = binary::command(&other, dir.path())
        .env("DATABASE_URL", &other.url)
        .args(["restore", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(scalar(&fresh.db, "SELECT COUNT(*) FROM test_requests").await, in_copy);
    fresh.act_as(Who::Planner).await;
    assert_eq!(fresh.total("/api/v1/requests").await, u64::try_from(in_copy).unwrap());

    // Not a backup: refused, nothing changed.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let out = binary::command(&other, dir.path())
        .env("DATABASE_URL", &other.url)
        .args(["restore", junk.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(scalar(&fresh.db, "SELECT COUNT(*) FROM test_requests").await, in_copy);
    fresh.stop().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backup_and_restore_point_to_pg_dump() {
    let Some(db) = TestDb::create(Backend::Postgres).await else { return };
    let app = db.spawn().await;
    let dir = tempfile::tempdir().unwrap();
    for args in [vec!["backup", "x.db"], vec!["restore", "x.db"]] {
        let out = binary::command(&db, dir.path()).args(&args).output().unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"), "{args:?}");
    }
    app.stop().await;
}
