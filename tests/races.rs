//! Two people at the same moment: the invariants hold in the database, not by luck of
//! timing. Each race is started on a barrier; exactly one side wins, the other gets a
//! clear 409 (never a 500), and no request ends with two live bookings or a lost cancel,
//! nor a company with two requests of one reference.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestApp, TestDb, Who};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tokio::sync::Barrier;

both_backends!(
    two_publications_at_once_book_each_request_once,
    a_labs_answers_and_a_cancel_race,
    two_filings_of_one_reference_at_once_file_it_once,
    two_workers_claiming_parts_at_once_get_each_part_once,
);

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let backend = app.db.get_database_backend();
    let row = app.db.query_one_raw(Statement::from_string(backend, sql.to_string())).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// A fixture registry with a dozen more requests, so that a plan has bookings to race on.
async fn registry(db: &TestDb) -> TestApp {
    let app = db.spawn_with_worker().await;
    let instance = labplan::app::import::parse_instance(common::FIXTURE.as_bytes()).unwrap();
    labplan::app::import::instance(&app.db, &labplan::domain::access::Caller::Operator, &instance).await.unwrap();
    app.act_as(Who::Company("C0001")).await;
    for i in 0..12 {
        let (test_type, ready) = if i % 2 == 0 { ("CLIM-GOST15150", "2027-01-04") } else { ("EMC-R10", "2027-01-11") };
        let body = json!({"company": "C0001", "test_type": test_type, "samples": 1, "ready_date": ready,
            "due_date": "2027-03-26", "priority": 1 + i % 3});
        let (status, answer) = app.post("/api/v1/requests", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    app
}

/// Starts a run and waits for its plan.
async fn solved_run(app: &TestApp) -> i64 {
    app.act_as(Who::Planner).await;
    let body = json!({"horizon_start": "2027-01-04", "horizon_weeks": 12, "time_limit_seconds": 10});
    let (status, run) = app.post("/api/v1/planning-runs", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_i64().unwrap();
    let started = Instant::now();
    loop {
        let (_, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
        if run["status"] == "succeeded" {
            return id;
        }
        assert!(run["status"] != "failed", "{run}");
        assert!(started.elapsed() < Duration::from_secs(120), "the run takes too long");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends the requests at once, each after the barrier lets every sender go.
async fn at_once(app: &TestApp, calls: Vec<(Who, String, Value)>) -> Vec<(StatusCode, Value)> {
    let barrier = Arc::new(Barrier::new(calls.len()));
    let mut tasks = Vec::new();
    for (who, path, body) in calls {
        let token = app.token(&who).await.unwrap();
        let url = app.url(&path);
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let request = reqwest::Client::new().post(url).bearer_auth(token).json(&body);
            barrier.wait().await;
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

async fn two_publications_at_once_book_each_request_once(db: TestDb) {
    let app = registry(&db).await;
    for round in 0..3 {
        let (first, second) = (solved_run(&app).await, solved_run(&app).await);
        let answers = at_once(
            &app,
            vec![
                (Who::Planner, format!("/api/v1/planning-runs/{first}/publish"), json!({})),
                (Who::Planner, format!("/api/v1/planning-runs/{second}/publish"), json!({})),
            ],
        )
        .await;
        let statuses: Vec<u16> = answers.iter().map(|(s, _)| s.as_u16()).collect();
        assert!(statuses.contains(&200) && statuses.contains(&409), "round {round}: {answers:?}");
        assert_eq!(scalar(&app, "SELECT COUNT(*) FROM planning_runs WHERE is_published").await, 1);
        let doubled = "SELECT COUNT(*) FROM (SELECT request FROM assignments WHERE status IN ('proposed', 'confirmed') \
                       GROUP BY request HAVING COUNT(*) > 1) AS doubled";
        assert_eq!(scalar(&app, doubled).await, 0, "round {round}: a request with two live bookings");
        let stray = "SELECT COUNT(*) FROM assignments WHERE status IN ('proposed', 'confirmed') \
                     AND run NOT IN (SELECT id FROM planning_runs WHERE is_published)";
        assert_eq!(scalar(&app, stray).await, 0, "round {round}: live bookings of a run not published");
        // The losing run's bookings cannot be answered: it has none.
        let loser = if answers[0].0 == StatusCode::OK { second } else { first };
        assert_eq!(scalar(&app, &format!("SELECT COUNT(*) FROM assignments WHERE run = {loser}")).await, 0);
    }
    app.stop().await;
}

async fn a_labs_answers_and_a_cancel_race(db: TestDb) {
    let app = registry(&db).await;
    let run = solved_run(&app).await;
    let (status, body) = app.post(&format!("/api/v1/planning-runs/{run}/publish"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, page) = app.get("/api/v1/assignments?status=proposed&per_page=100").await;
    let bookings = page["items"].as_array().unwrap().clone();
    assert!(bookings.len() >= 10, "bookings to race on: {}", bookings.len());
    let lab = |b: &Value| Who::Lab(b["lab"].as_str().unwrap().to_string());

    // Confirm and decline of one booking at once: one answer stands.
    for b in &bookings[..4] {
        let id = &b["id"];
        let answers = at_once(
            &app,
            vec![
                (lab(b), format!("/api/v1/assignments/{id}/confirm"), json!({})),
                (lab(b), format!("/api/v1/assignments/{id}/decline"), json!({"reason": "занято"})),
            ],
        )
        .await;
        let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| s.as_u16()).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "booking {id}: {answers:?}");
        let stored = scalar(
            &app,
            &format!("SELECT COUNT(*) FROM assignments WHERE id = {id} AND status IN ('confirmed', 'declined')"),
        )
        .await;
        assert_eq!(stored, 1);
    }

    // The rest of a booking's life: the same step sent twice at once is taken once.
    // The races above may all go to the decline, so these bookings are confirmed first.
    for b in &bookings[8..10] {
        let id = &b["id"];
        app.act_as(lab(b)).await;
        let (status, body) = app.post(&format!("/api/v1/assignments/{id}/confirm"), &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for (step, stored) in [("receive", "received"), ("start", "in_testing")] {
            let path = format!("/api/v1/assignments/{id}/{step}");
            let answers = at_once(&app, vec![(lab(b), path.clone(), json!({})), (lab(b), path, json!({}))]).await;
            let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| s.as_u16()).collect();
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 409], "booking {id} {step}: {answers:?}");
            let sql = format!("SELECT COUNT(*) FROM assignments WHERE id = {id} AND status = '{stored}'");
            assert_eq!(scalar(&app, &sql).await, 1);
        }
    }

    // A company's cancel and its lab's confirm at once: the cancel is never lost.
    for b in &bookings[4..8] {
        let (id, request) = (&b["id"], b["request"].as_str().unwrap());
        let company = if b["company"] == "C0001" { Who::Company("C0001") } else { Who::Company("C0002") };
        let answers = at_once(
            &app,
            vec![
                (lab(b), format!("/api/v1/assignments/{id}/confirm"), json!({})),
                (company, format!("/api/v1/requests/{request}/cancel"), json!({})),
            ],
        )
        .await;
        for (status, body) in &answers {
            assert!(*status == StatusCode::OK || *status == StatusCode::CONFLICT, "{status}: {body}");
        }
        assert_eq!(answers[1].0, StatusCode::OK, "a planned or confirmed request can always be cancelled");
        app.act_as(Who::Planner).await;
        let (_, stored) = app.get(&format!("/api/v1/requests/{request}")).await;
        assert_eq!(stored["status"], "cancelled", "the cancel stands: {answers:?}");
        let live = format!(
            "SELECT COUNT(*) FROM assignments WHERE request = '{request}' AND status IN ('proposed', 'confirmed')"
        );
        assert_eq!(scalar(&app, &live).await, 0, "a cancelled request keeps no live booking");
    }
    app.stop().await;
}

/// The company's reference is unique: of two filings with the same one (on PostgreSQL
/// each a single statement), one is filed and audited, the other is a 409 that leaves
/// no row and no audit entry.
async fn two_filings_of_one_reference_at_once_file_it_once(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    for round in 0..3 {
        let body = json!({"company": "C0001", "test_type": "EMC-R10", "samples": 1, "ready_date": "2027-01-11",
            "due_date": "2027-03-26", "priority": 2, "external_ref": format!("PO-RACE-{round}")});
        let audited = scalar(&app, "SELECT COUNT(*) FROM audit_log WHERE entity = 'test_request'").await;
        let call = (Who::Company("C0001"), "/api/v1/requests".to_string(), body);
        let answers = at_once(&app, vec![call.clone(), call]).await;
        let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| s.as_u16()).collect();
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "round {round}: {answers:?}");
        let refused = &answers.iter().find(|(s, _)| *s == StatusCode::CONFLICT).unwrap().1;
        assert_eq!(refused["type"], "https://labplan.local/problems/conflict", "{refused}");
        let sql = format!("SELECT COUNT(*) FROM test_requests WHERE external_ref = 'PO-RACE-{round}'");
        assert_eq!(scalar(&app, &sql).await, 1, "round {round}");
        let after = scalar(&app, "SELECT COUNT(*) FROM audit_log WHERE entity = 'test_request'").await;
        assert_eq!(after, audited + 1, "round {round}: only the filing that won is audited");
    }
    app.stop().await;
}

/// Two workers asking for a part of a spread run at the same moment, round after round:
/// each part goes to exactly one of them, and every part is handed out.
async fn two_workers_claiming_parts_at_once_get_each_part_once(db: TestDb) {
    use labplan::app::runs::{Claim, PartClaim};
    let app = db.spawn().await;
    let instance = labplan::app::import::parse_instance(labplan::demo::BUNDLED).unwrap();
    labplan::app::import::instance(&app.db, &labplan::domain::access::Caller::Operator, &instance).await.unwrap();
    app.act_as(Who::Planner).await;
    let (status, run) = app.post("/api/v1/planning-runs", &json!({"spread_parts": true})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let lease = Duration::from_secs(60);
    let claim = Claim::next(&app.db, "owner", lease).await.unwrap().expect("the run is claimed");
    let stored: labplan_solver::Instance = serde_json::from_str(&claim.run.instance).unwrap();
    let partition = labplan_solver::partition(&stored, &labplan_solver::SolveOptions::default()).unwrap();
    assert!(claim.write_parts(&app.db, &partition).await.unwrap());

    let db = Arc::new(app.db.clone());
    let mut taken: Vec<(String, usize)> = Vec::new();
    loop {
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|who| {
                let (db, barrier) = (db.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let part = PartClaim::next(db.as_ref(), who, lease, None).await.unwrap();
                    part.map(|p| (who.to_string(), p.part))
                })
            })
            .collect();
        let mut round = Vec::new();
        for task in tasks {
            round.extend(task.await.unwrap());
        }
        if round.is_empty() {
            break;
        }
        taken.extend(round);
    }
    let mut parts: Vec<usize> = taken.iter().map(|t| t.1).collect();
    parts.sort_unstable();
    assert_eq!(parts, (0..partition.parts.len()).collect::<Vec<_>>(), "each part once: {taken:?}");
    let holders = scalar(&app, "SELECT COUNT(DISTINCT lease_owner) FROM run_parts WHERE status = 'running'").await;
    assert_eq!(holders, 2, "both workers got parts: {taken:?}");
    app.stop().await;
}
