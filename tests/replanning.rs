//! Re-planning keeps its word on the demo: a plan is published, 5 % more requests are
//! filed, and the next run moves at most 2 % of the published bookings, none inside the
//! freeze window, each only for a saving above its penalty (the validator checks it);
//! without the move weights and the freeze window far more move.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, TestDb, Who};
use labplan_solver::{Instance, Plan};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn solve(app: &TestApp, body: Value) -> (i64, Instance, Plan) {
    app.act_as(Who::Planner).await;
    let (status, run) = app.post("/api/v1/planning-runs", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_i64().unwrap();
    let started = Instant::now();
    loop {
        let (_, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
        match run["status"].as_str() {
            Some("succeeded") => break,
            Some("failed" | "cancelled") => panic!("{run}"),
            _ => assert!(started.elapsed() < Duration::from_secs(300), "the run takes too long"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (_, instance) = app.get(&format!("/api/v1/planning-runs/{id}/instance")).await;
    let (_, plan) = app.get(&format!("/api/v1/planning-runs/{id}/plan")).await;
    (id, serde_json::from_value(instance).unwrap(), serde_json::from_value(plan).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_plan_moves_published_bookings_only_when_that_pays() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn_demo(&db.url).await;
    app.publish_demo_plan().await;
    let (_, published) = app.get("/api/v1/assignments?status=proposed&per_page=1").await;
    let published = published["total"].as_u64().unwrap();

    // Five per cent more demand: copies of the registry's first 65 requests.
    let (_, first) = app.get("/api/v1/requests?per_page=65").await;
    app.act_as(Who::Company("C0001")).await;
    for r in first["items"].as_array().unwrap() {
        let copy = json!({"company": "C0001", "test_type": r["test_type"], "samples": r["samples"],
            "ready_date": r["ready_date"], "due_date": r["due_date"], "priority": r["priority"]});
        let (status, body) = app.post("/api/v1/requests", &copy).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    // With the registry's move weights and freeze window.
    let (id, instance, plan) = solve(&app, json!({"time_limit_seconds": 8})).await;
    let report = labplan_solver::validate(&instance, &plan);
    assert!(report.is_valid(), "{:?}", report.violations);
    let moved = plan.moved.expect("the plan reports its moves");
    assert_eq!(moved, plan.moves.len());
    assert!((moved as f64) <= 0.02 * published as f64, "{moved} of {published} published bookings moved");
    let freeze = 2;
    for m in &plan.moves {
        assert!(m.from.start_week >= freeze, "{} moved inside the freeze window", m.request);
        if let Some(saving) = m.saving {
            assert!(saving >= m.penalty, "{} moved for {saving} against {}", m.request, m.penalty);
        }
    }
    let (_, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
    assert_eq!(run["moved"], moved);

    // Without them, a plan moves whatever saves a rouble.
    let loose = json!({"time_limit_seconds": 8, "move_lab": 0, "move_week": 0, "freeze_weeks": 0});
    let (loose_id, _, _) = solve(&app, loose).await;
    let (_, diff) = app.get(&format!("/api/v1/planning-runs/{loose_id}/diff")).await;
    let loose_moved = diff["moved"].as_array().unwrap().len() + diff["dropped"].as_array().unwrap().len();
    eprintln!("published {published}: moved {moved} with stability, {loose_moved} without");
    assert!(loose_moved > moved, "stability moved {moved}, none {loose_moved}");

    // Continuous planning: confirmed work that started before a run's first week is not
    // planned again, and its hours in the run's weeks are not offered twice.
    app.act_as(Who::Planner).await;
    let (_, bookings) = app.get("/api/v1/assignments?status=proposed&per_page=200").await;
    let date = |v: &Value| chrono::NaiveDate::parse_from_str(v.as_str().unwrap(), "%Y-%m-%d").unwrap();
    let long = bookings["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| (date(&b["end_date"]) - date(&b["start_date"])).num_days() >= 13)
        .expect("a booking of two weeks or more")
        .clone();
    let lab = long["lab"].as_str().unwrap().to_string();
    app.act_as(Who::Lab(lab.clone())).await;
    let (status, body) = app.post(&format!("/api/v1/assignments/{}/confirm", long["id"]), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (start, end) = (date(&long["start_date"]), date(&long["end_date"]));
    let later = start + chrono::Days::new(7);
    app.act_as(Who::Planner).await;
    let body = json!({"horizon_start": later.to_string(), "horizon_weeks": 12, "time_limit_seconds": 1});
    let (status, run) = app.post("/api/v1/planning-runs", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let (_, instance) = app.get(&format!("/api/v1/planning-runs/{}/instance", run["id"])).await;
    app.post(&format!("/api/v1/planning-runs/{}/cancel", run["id"]), &json!({})).await;
    let instance: Instance = serde_json::from_value(instance).unwrap();
    let request = long["request"].as_str().unwrap();
    assert!(instance.requests.iter().all(|r| r.id != request), "work under way is planned again");
    let (_, filed) = app.get(&format!("/api/v1/requests/{request}")).await;
    let test_type = instance.test_types.iter().find(|t| t.code == filed["test_type"].as_str().unwrap()).unwrap();
    let span = (end - start).num_days() / 7 + 1;
    let per_week = test_type.hours / span as f64;
    let base = instance
        .labs
        .iter()
        .find(|l| l.id == lab)
        .unwrap()
        .capacity
        .iter()
        .find(|c| c.equipment == test_type.equipment);
    let base = base.unwrap().hours_per_week;
    let week0 = instance
        .capacity_overrides
        .iter()
        .find(|o| o.lab == lab && o.equipment == test_type.equipment && o.week == 0)
        .expect("the week the work still runs has less to offer");
    assert!(week0.hours_per_week <= (base - per_week).max(0.0) + 1e-6, "{week0:?} of {base}, {per_week} under way");
    app.stop().await;
}
