//! Planning in the service, through the API: runs as jobs, the stored plan checked
//! by the planning model's validator, publish, the labs' answers, re-planning, the
//! event stream, and workers as separate processes on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Backend, TestApp, TestDb, Who};
use labplan_solver::{Instance, Plan};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

both_backends!(
    demo_run_publish_answer_and_replan,
    bad_runs_change_nothing,
    events_stream_until_the_end,
    cancel_mid_solve_keeps_the_plan_only_if_asked,
    spread_run_is_solved_part_by_part,
    spread_run_cancelled_keeps_the_plan_only_if_asked,
    deterministic_spread_runs_are_refused
);

async fn load_demo(app: &TestApp) {
    let instance = labplan::app::import::parse_instance(labplan::demo::BUNDLED).unwrap();
    labplan::app::import::instance(&app.db, &labplan::domain::access::Caller::Operator, &instance).await.unwrap();
    app.act_as(Who::Planner).await;
}

async fn wait_for_end(app: &TestApp, id: i64, within: Duration) -> Value {
    let started = Instant::now();
    loop {
        let (status, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{run}");
        if ["succeeded", "failed", "cancelled"].contains(&run["status"].as_str().unwrap()) {
            return run;
        }
        assert!(started.elapsed() < within, "run {id} did not end within {within:?}: {run}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn instance_and_plan(app: &TestApp, id: i64) -> (Instance, Plan) {
    let (status, instance) = app.get(&format!("/api/v1/planning-runs/{id}/instance")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, plan) = app.get(&format!("/api/v1/planning-runs/{id}/plan")).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    (serde_json::from_value(instance).unwrap(), serde_json::from_value(plan).unwrap())
}

fn assert_valid(instance: &Instance, plan: &Plan) {
    let report = labplan_solver::validate(instance, plan);
    assert!(report.is_valid(), "the stored plan breaks rules: {:?}", report.violations);
    assert!((report.objective - plan.objective).abs() <= 1e-6 * plan.objective.abs().max(1.0));
}

async fn start_run(app: &TestApp, body: Value) -> i64 {
    let (status, run) = app.post("/api/v1/planning-runs", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!(run["status"], "queued");
    run["id"].as_i64().unwrap()
}

async fn demo_run_publish_answer_and_replan(db: TestDb) {
    let app = db.spawn_with_worker().await;
    load_demo(&app).await;

    // A run on the demo: queued, then solved by the embedded worker.
    let first = start_run(&app, json!({"time_limit_seconds": 15, "gap": 0.02})).await;
    let run = wait_for_end(&app, first, Duration::from_secs(120)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["attempts"], 1);
    assert_eq!(run["requests"], 1300);
    let (instance, plan) = instance_and_plan(&app, first).await;
    assert_eq!(instance.requests.len(), 1300);
    assert_valid(&instance, &plan);
    assert_eq!(run["objective"].as_f64().unwrap(), plan.objective);
    assert!(plan.gap <= 0.02 + 1e-9 || run["plan_status"] == "feasible");
    assert!(plan.unassigned.iter().all(|u| !u.detail.is_empty()));

    // Nothing published yet: the diff places everything anew.
    let (status, diff) = app.get(&format!("/api/v1/planning-runs/{first}/diff")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(diff["newly_placed"].as_array().unwrap().len(), plan.assignments.len());
    assert_eq!(diff["published_run"], Value::Null);

    let (status, published) = app.post(&format!("/api/v1/planning-runs/{first}/publish"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{published}");
    assert_eq!(published["report"]["planned"], plan.assignments.len());
    assert_eq!(published["report"]["unplaceable"], plan.unassigned.len());
    assert_eq!(app.total("/api/v1/requests?status=planned").await, plan.assignments.len() as u64);
    assert_eq!(app.total("/api/v1/requests?status=unplaceable").await, plan.unassigned.len() as u64);
    assert_eq!(app.total("/api/v1/requests?status=submitted").await, 0);
    let a = &plan.assignments[0];
    let (_, request) = app.get(&format!("/api/v1/requests/{}", a.request)).await;
    assert_eq!(request["status"], "planned");
    assert_eq!(request["planned_lab"], a.lab.as_str());
    let start = chrono::NaiveDate::parse_from_str(&instance.horizon.start, "%Y-%m-%d").unwrap()
        + chrono::Days::new(7 * u64::from(a.start_week));
    assert_eq!(request["planned_start"], start.to_string());
    if let Some(u) = plan.unassigned.first() {
        let (_, request) = app.get(&format!("/api/v1/requests/{}", u.request)).await;
        assert_eq!(request["status"], "unplaceable");
        assert!(
            request["status_reason"]
                .as_str()
                .unwrap()
                .starts_with(&serde_json::to_value(u.reason).unwrap().as_str().unwrap().to_string())
        );
    }
    // Publishing records each request's new placement, in the publish's transaction.
    app.act_as(Who::Admin).await;
    let (_, audit) = app.get(&format!("/api/v1/audit?entity=test_request&entity_id={}", a.request)).await;
    assert_eq!(audit["total"], 1, "{audit}");
    assert_eq!(audit["items"][0]["action"], "plan");
    assert_eq!(audit["items"][0]["actor"], "planner@test.local");
    assert_eq!(audit["items"][0]["after"]["lab"], a.lab.as_str());
    app.act_as(Who::Planner).await;
    let (status, again) = app.post(&format!("/api/v1/planning-runs/{first}/publish"), &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    // Labs answer: two confirmations and one decline.
    let (status, page) = app.get("/api/v1/assignments?status=proposed&per_page=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], plan.assignments.len());
    let picks: Vec<Value> = page["items"].as_array().unwrap().clone();
    // Another lab cannot see, confirm or decline these bookings: to it they do not exist.
    let other_lab = instance.labs.iter().map(|l| l.id.clone()).find(|l| l != &picks[0]["lab"]).unwrap();
    app.act_as(Who::Lab(other_lab.clone())).await;
    let (status, _) = app.post(&format!("/api/v1/assignments/{}/confirm", picks[0]["id"]), &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "lab {other_lab} confirming another lab's booking");
    let (status, _) =
        app.post(&format!("/api/v1/assignments/{}/decline", picks[0]["id"]), &json!({"reason": "не наше"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, own) = app.get("/api/v1/assignments?per_page=500").await;
    assert!(own["items"].as_array().unwrap().iter().all(|a| a["lab"] == other_lab.as_str()));
    let mut confirmed = HashMap::new();
    for booking in &picks[..2] {
        app.act_as(Who::Lab(booking["lab"].as_str().unwrap().to_string())).await;
        let (status, answered) = app.post(&format!("/api/v1/assignments/{}/confirm", booking["id"]), &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{answered}");
        assert_eq!(answered["status"], "confirmed");
        app.act_as(Who::Planner).await;
        let (_, request) = app.get(&format!("/api/v1/requests/{}", booking["request"].as_str().unwrap())).await;
        assert_eq!(request["status"], "confirmed");
        confirmed.insert(booking["request"].as_str().unwrap().to_string(), booking.clone());
    }
    let declined = &picks[2];
    app.act_as(Who::Lab(declined["lab"].as_str().unwrap().to_string())).await;
    let (status, problem) =
        app.post(&format!("/api/v1/assignments/{}/decline", declined["id"]), &json!({"reason": "  "})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, answered) = app
        .post(&format!("/api/v1/assignments/{}/decline", declined["id"]), &json!({"reason": "камера на ремонте"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["status"], "declined");
    let declined_request = declined["request"].as_str().unwrap().to_string();
    let declined_lab = declined["lab"].as_str().unwrap().to_string();
    let (status, _) = app.post(&format!("/api/v1/assignments/{}/confirm", declined["id"]), &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.act_as(Who::Planner).await;
    let (_, request) = app.get(&format!("/api/v1/requests/{declined_request}")).await;
    assert_eq!(request["status"], "submitted");
    assert!(request["status_reason"].as_str().unwrap().contains("камера на ремонте"));
    app.act_as(Who::Lab(picks[0]["lab"].as_str().unwrap().to_string())).await;
    let (status, twice) = app.post(&format!("/api/v1/assignments/{}/confirm", picks[0]["id"]), &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{twice}");
    app.act_as(Who::Planner).await;

    // New demand arrives; the next run pins the confirmed bookings and avoids the declining lab.
    let mut new_ids = Vec::new();
    for (company, test_type) in [("C0001", "EMC-R10"), ("C0002", "CLIM-ISO16750-4")] {
        app.act_as(Who::Company(company)).await;
        let (status, created) = app
            .post(
                "/api/v1/requests",
                &json!({"company": company, "test_type": test_type, "samples": 2,
                        "ready_date": "2027-02-01", "due_date": "2027-05-28", "priority": 2}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        new_ids.push(created["id"].as_str().unwrap().to_string());
    }
    app.act_as(Who::Planner).await;
    let second = start_run(&app, json!({"time_limit_seconds": 15, "gap": 0.02})).await;
    let run = wait_for_end(&app, second, Duration::from_secs(120)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let (instance2, plan2) = instance_and_plan(&app, second).await;
    assert_valid(&instance2, &plan2);
    assert_eq!(instance2.requests.len(), 1302);
    // Pinned: the confirmed bookings, and published ones starting inside the two-week
    // freeze window, which no run moves either.
    let pinned: HashSet<&str> = instance2.pinned.iter().map(|p| p.request.as_str()).collect();
    for request in confirmed.keys() {
        assert!(pinned.contains(request.as_str()), "confirmed {request} is not pinned");
    }
    for p in instance2.pinned.iter().filter(|p| !confirmed.contains_key(&p.request)) {
        assert!(p.start_week < 2, "{} pinned outside the freeze window: {p:?}", p.request);
    }
    let excluded = &instance2.requests.iter().find(|r| r.id == declined_request).unwrap().excluded_labs;
    assert!(excluded.contains(&declined_lab));
    for (request, booking) in &confirmed {
        let a = plan2.assignments.iter().find(|a| &a.request == request).expect("a confirmed booking stays placed");
        assert_eq!(a.lab, booking["lab"].as_str().unwrap());
        let start = chrono::NaiveDate::parse_from_str(&instance2.horizon.start, "%Y-%m-%d").unwrap()
            + chrono::Days::new(7 * u64::from(a.start_week));
        assert_eq!(start.to_string(), booking["start_date"].as_str().unwrap());
    }
    assert!(plan2.assignments.iter().all(|a| a.request != declined_request || a.lab != declined_lab));
    let placed_or_not: HashSet<&str> = plan2
        .assignments
        .iter()
        .map(|a| a.request.as_str())
        .chain(plan2.unassigned.iter().map(|u| u.request.as_str()))
        .collect();
    assert!(new_ids.iter().all(|id| placed_or_not.contains(id.as_str())));

    let (status, diff) = app.get(&format!("/api/v1/planning-runs/{second}/diff")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(diff["published_run"], first);
    let moved_or_dropped: HashSet<&str> = diff["moved"]
        .as_array()
        .unwrap()
        .iter()
        .chain(diff["dropped"].as_array().unwrap())
        .map(|c| c["request"].as_str().unwrap())
        .collect();
    assert!(confirmed.keys().all(|r| !moved_or_dropped.contains(r.as_str())));
    let delta = diff["objective_delta"].as_f64().unwrap();
    assert!((delta - (plan2.objective - plan.objective)).abs() < 1e-3);

    let (status, published) = app.post(&format!("/api/v1/planning-runs/{second}/publish"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{published}");
    assert_eq!(published["report"]["kept_confirmed"], 2);
    for request in confirmed.keys() {
        let (_, r) = app.get(&format!("/api/v1/requests/{request}")).await;
        assert_eq!(r["status"], "confirmed", "{r}");
    }
    // A cancelled request leaves the plan: no lab or dates are shown for it any more.
    let company_of: HashMap<&str, &str> =
        instance2.requests.iter().map(|r| (r.id.as_str(), r.company.as_str())).collect();
    let planned = plan2
        .assignments
        .iter()
        .find(|a| company_of[a.request.as_str()] == "C0001" && !confirmed.contains_key(&a.request))
        .expect("a planned request of C0001");
    app.act_as(Who::Company("C0001")).await;
    let (status, cancelled) = app.post(&format!("/api/v1/requests/{}/cancel", planned.request), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["planned_lab"], Value::Null);
    assert_eq!(cancelled["planned_start"], Value::Null);
    app.act_as(Who::Planner).await;
    // The older run can no longer be published over the newer one.
    let (status, _) = app.post(&format!("/api/v1/planning-runs/{first}/publish"), &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, runs) = app.get("/api/v1/planning-runs").await;
    assert_eq!(runs["total"], 2);
    assert_eq!(runs["items"][0]["published"], true);
    assert_eq!(runs["items"][1]["published"], false);
    app.stop().await;
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn bad_runs_change_nothing(db: TestDb) {
    // No worker: queued runs stay queued, so cancel and the refusals can be seen.
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Planner).await;
    app.token(&Who::Lab("L001".into())).await;
    let audit_before = count(&app.db, "SELECT COUNT(*) FROM audit_log").await;
    for (body, field) in [
        (json!({"horizon_start": "2027-01-05"}), "horizon_start"),
        (json!({"horizon_weeks": 0}), "horizon_weeks"),
        (json!({"horizon_weeks": 1_000_000_000_000_i64}), "horizon_weeks"),
        (json!({"time_limit_seconds": 0}), "time_limit_seconds"),
        (json!({"gap": 2}), "gap"),
        (json!({"gap": "small"}), "gap"),
        (json!({"horizon_start": "2027-02-31"}), "horizon_start"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let (status, problem) = app.post("/api/v1/planning-runs", &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {problem}");
        assert!(problem["errors"].as_array().unwrap().iter().any(|e| e["field"] == field), "{body}: {problem}");
    }
    for raw in ["{", "[]", "\"run\""] {
        let (status, problem) = app.post_raw("/api/v1/planning-runs", raw).await;
        assert!(status.is_client_error(), "{raw}: {status} {problem}");
    }
    assert_eq!(app.total("/api/v1/planning-runs").await, 0);
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM audit_log").await, audit_before, "refused runs leave no trace");

    let id =
        start_run(&app, json!({"horizon_start": "2027-01-04", "horizon_weeks": 12, "time_limit_seconds": 5})).await;
    let (status, plan) = app.get(&format!("/api/v1/planning-runs/{id}/plan")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{plan}");
    let (status, _) = app.post(&format!("/api/v1/planning-runs/{id}/publish"), &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, run) = app.post(&format!("/api/v1/planning-runs/{id}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!(run["status"], "cancelled");
    let (status, _) = app.post(&format!("/api/v1/planning-runs/{id}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app.get("/api/v1/planning-runs/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/api/v1/planning-runs/abc").await;
    assert!(status.is_client_error());
    app.act_as(Who::Lab("L001".into())).await;
    let (status, _) = app.post("/api/v1/assignments/999999/confirm", &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.act_as(Who::Planner).await;
    let (status, _) = app.get("/api/v1/planning-runs?status=lost").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, page) = app.get("/api/v1/assignments").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 0);

    // The run's instance is the registry as it was, in the planning model's format.
    let (status, instance) = app.get(&format!("/api/v1/planning-runs/{id}/instance")).await;
    assert_eq!(status, StatusCode::OK);
    let instance: Instance = serde_json::from_value(instance).unwrap();
    assert_eq!(instance.horizon.start, "2027-01-04");
    assert_eq!(instance.requests.len(), 3);
    instance.check().expect("the registry's instance is valid");
    // The one good run was started and cancelled: two audited changes, nothing else.
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM audit_log").await, audit_before + 2);
    app.stop().await;
}

async fn events_stream_until_the_end(db: TestDb) {
    let app = db.spawn_with_worker().await;
    let instance = labplan::app::import::parse_instance(common::FIXTURE.as_bytes()).unwrap();
    labplan::app::import::instance(&app.db, &labplan::domain::access::Caller::Operator, &instance).await.unwrap();
    app.act_as(Who::Planner).await;
    let id =
        start_run(&app, json!({"horizon_start": "2027-01-04", "horizon_weeks": 12, "time_limit_seconds": 5})).await;
    let resp = app.client().get(app.url(&format!("/api/v1/planning-runs/{id}/events"))).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = tokio::time::timeout(Duration::from_secs(60), resp.text()).await.expect("the stream ends").unwrap();
    let events: Vec<(&str, &str)> = text
        .split("\n\n")
        .filter_map(|block| {
            let event = block.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((event, data))
        })
        .collect();
    let (last, end) = events.last().expect("events");
    assert_eq!((*last, *end), ("end", "succeeded"), "{text}");
    let progress: Vec<Value> =
        events.iter().filter(|(e, _)| *e == "progress").map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    assert!(!progress.is_empty());
    let final_state = progress.last().unwrap();
    assert_eq!(final_state["status"], "succeeded");
    assert!(final_state["objective"].as_f64().is_some());
    assert_eq!(final_state["progress"]["phase"], "done");
    app.stop().await;
}

/// Waits up to a minute until the run is running and `ready` holds of it.
async fn wait_until_running(app: &TestApp, id: i64, what: &str, ready: impl Fn(&serde_json::Value) -> bool) {
    let started = Instant::now();
    loop {
        let (_, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
        if run["status"] == "running" && ready(&run) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "run {id} did not {what}: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_until_solving(app: &TestApp, id: i64) {
    wait_until_running(app, id, "start solving", |run| run["progress"]["best_objective"].is_number()).await;
}

async fn cancel_mid_solve_keeps_the_plan_only_if_asked(db: TestDb) {
    let app = db.spawn_with_worker().await;
    load_demo(&app).await;
    // A gap of 0 and a long limit: the solve would go on for minutes if not cancelled.
    let long = json!({"time_limit_seconds": 600, "gap": 0});

    let kept = start_run(&app, long.clone()).await;
    wait_until_solving(&app, kept).await;
    let asked = Instant::now();
    let (status, run) = app.post(&format!("/api/v1/planning-runs/{kept}/cancel"), &json!({"keep_best": true})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!(run["cancel_requested"], true);
    let run = wait_for_end(&app, kept, Duration::from_secs(60)).await;
    assert_eq!(run["status"], "cancelled", "{run}");
    assert!(asked.elapsed() < Duration::from_secs(30), "cancel took {:?}", asked.elapsed());
    let (instance, plan) = instance_and_plan(&app, kept).await;
    assert_valid(&instance, &plan);
    assert_eq!(plan.assignments.len() + plan.unassigned.len(), 1300);

    let dropped = start_run(&app, long).await;
    wait_until_solving(&app, dropped).await;
    let (status, _) = app.post(&format!("/api/v1/planning-runs/{dropped}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let run = wait_for_end(&app, dropped, Duration::from_secs(60)).await;
    assert_eq!(run["status"], "cancelled", "{run}");
    assert_eq!(run["objective"], Value::Null);
    let (status, _) = app.get(&format!("/api/v1/planning-runs/{dropped}/plan")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(count(&app.db, &format!("SELECT COUNT(*) FROM plan_assignments WHERE run = {dropped}")).await, 0);
    // The kept plan of a cancelled run can still be published.
    let (status, published) = app.post(&format!("/api/v1/planning-runs/{kept}/publish"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{published}");
    app.stop().await;
}

/// A `labplan worker` process; killed (SIGKILL) when dropped.
struct Worker {
    child: Child,
    log: std::path::PathBuf,
}

impl Worker {
    fn start(url: &str, dir: &std::path::Path, name: &str) -> Self {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_labplan"))
            .args(["worker", "--lease-seconds", "3", "--solver-threads", "1"])
            .env("DATABASE_URL", url)
            .env("LABPLAN_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("labplan worker starts");
        Self { child, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn postgres_db() -> Option<TestDb> {
    TestDb::create(Backend::Postgres).await
}

/// Two worker processes and ten queued runs: every run is executed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_workers_share_ten_runs() {
    let Some(db) = postgres_db().await else { return };
    let app = db.spawn().await;
    let instance = labplan::app::import::parse_instance(common::FIXTURE.as_bytes()).unwrap();
    labplan::app::import::instance(&app.db, &labplan::domain::access::Caller::Operator, &instance).await.unwrap();
    app.act_as(Who::Planner).await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(
            start_run(&app, json!({"horizon_start": "2027-01-04", "horizon_weeks": 12, "time_limit_seconds": 2})).await,
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let workers = [Worker::start(&db.url, dir.path(), "a"), Worker::start(&db.url, dir.path(), "b")];
    for id in &ids {
        let run = wait_for_end(&app, *id, Duration::from_secs(120)).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["attempts"], 1, "{run}");
    }
    // Each run was claimed by exactly one of the two processes.
    let logs: Vec<String> = workers.iter().map(Worker::log).collect();
    for id in &ids {
        let needle = format!("run={id} ");
        let claims: usize = logs
            .iter()
            .map(|log| log.lines().filter(|l| l.contains("planning run claimed") && l.contains(&needle)).count())
            .sum();
        assert_eq!(claims, 1, "run {id} claimed {claims} times:\n{}\n{}", logs[0], logs[1]);
    }
    let stored = count(&app.db, "SELECT COUNT(DISTINCT run) FROM plan_assignments").await;
    assert_eq!(stored, 10);
    drop(workers);
    app.stop().await;
}

/// A worker killed mid-solve: another worker takes the run over once the lease has
/// expired, and no partial plan is ever visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_worker_run_is_retried() {
    let Some(db) = postgres_db().await else { return };
    let app = db.spawn().await;
    load_demo(&app).await;
    let id = start_run(&app, json!({"time_limit_seconds": 8, "gap": 0})).await;
    let dir = tempfile::tempdir().unwrap();
    let first = Worker::start(&db.url, dir.path(), "first");
    let owner = format!(":{}:", first.pid());
    let started = Instant::now();
    loop {
        let (_, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
        if run["status"] == "running" && run["progress"]["phase"].is_string() {
            assert!(run["worker"].as_str().unwrap().contains(&owner), "{run}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the first worker did not start the run: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    drop(first); // SIGKILL, mid-solve

    let second = Worker::start(&db.url, dir.path(), "second");
    let started = Instant::now();
    let run = loop {
        // Plan first, run second: the plan and the run's end commit together, so a plan
        // seen here must belong to a run that has already ended when it is read next.
        let stored = count(&app.db, &format!("SELECT COUNT(*) FROM plan_assignments WHERE run = {id}")).await;
        let (status, _) = app.get(&format!("/api/v1/planning-runs/{id}/plan")).await;
        let (_, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
        if run["status"] != "succeeded" {
            assert_eq!(status, StatusCode::CONFLICT, "a plan is visible before the run ended: {run}");
            assert_eq!(stored, 0, "plan rows stored before the run ended: {run}");
        }
        if run["status"] == "succeeded" {
            break run;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the run was not retried: {run}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(run["attempts"], 2, "{run}");
    let (instance, plan) = instance_and_plan(&app, id).await;
    assert_valid(&instance, &plan);
    assert!(second.log().contains("planning run claimed"));
    drop(second);
    app.stop().await;
}

/// The parts of a spread run, from its view, and checks that the plan is exactly the sum
/// of theirs: objective and bound are what lies outside every part plus the parts'.
fn assert_combined_exactly(run: &Value, instance: &Instance, plan: &Plan) -> Vec<Value> {
    let parts = run["parts"].as_array().unwrap_or_else(|| panic!("a spread run lists its parts: {run}")).clone();
    let partition = labplan_solver::partition(instance, &labplan_solver::SolveOptions::default()).unwrap();
    assert_eq!(parts.len(), partition.parts.len(), "{run}");
    assert!(parts.len() >= 2, "the instance splits: {run}");
    for (part, expected) in parts.iter().zip(&partition.parts) {
        assert_eq!(part["status"], "done", "{run}");
        assert_eq!(part["equipment"], expected.equipment.as_str(), "{run}");
        assert!(part["solved_by"].is_string() && part["seconds"].is_number(), "{part}");
        assert!(part["bound"].as_f64().unwrap() <= part["objective"].as_f64().unwrap() + 1e-6, "{part}");
    }
    let sum = |key: &str| partition.outside + parts.iter().map(|p| p[key].as_f64().unwrap()).sum::<f64>();
    let tolerance = 1e-6 * plan.objective.abs().max(1.0);
    assert!(
        (plan.objective - sum("objective")).abs() <= tolerance,
        "objective {} vs parts {}",
        plan.objective,
        sum("objective")
    );
    assert!((plan.bound - sum("bound")).abs() <= tolerance, "bound {} vs parts {}", plan.bound, sum("bound"));
    assert_eq!(run["bound"].as_f64().unwrap(), plan.bound);
    parts
}

/// A spread run on the embedded worker: the parts are written, solved one by one and
/// combined into a valid plan whose bound is exactly theirs.
async fn spread_run_is_solved_part_by_part(db: TestDb) {
    let app = db.spawn_with_worker().await;
    load_demo(&app).await;
    let id = start_run(&app, json!({"time_limit_seconds": 6, "gap": 0, "spread_parts": true})).await;
    let run = wait_for_end(&app, id, Duration::from_secs(90)).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["spread_parts"], true);
    let (instance, plan) = instance_and_plan(&app, id).await;
    assert_valid(&instance, &plan);
    let parts = assert_combined_exactly(&run, &instance, &plan);
    assert!(parts.iter().all(|p| p["attempts"] == 1), "{run}");
    // The parts' plans are dropped once the run's is stored.
    assert_eq!(
        count(&app.db, &format!("SELECT COUNT(*) FROM run_parts WHERE run = {id} AND result IS NOT NULL")).await,
        0
    );
    // A run not spread lists no parts.
    let other = start_run(&app, json!({"time_limit_seconds": 2})).await;
    let other = wait_for_end(&app, other, Duration::from_secs(60)).await;
    assert_eq!(other["spread_parts"], false);
    assert!(other.get("parts").is_none(), "{other}");
    app.stop().await;
}

/// Two worker processes on one spread run: both take parts of it, each part is solved
/// once, and the owner combines them with the exact bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_workers_share_the_parts_of_one_run() {
    let Some(db) = postgres_db().await else { return };
    let app = db.spawn().await;
    load_demo(&app).await;
    let id = start_run(&app, json!({"time_limit_seconds": 10, "gap": 0, "spread_parts": true})).await;
    let dir = tempfile::tempdir().unwrap();
    let workers = [Worker::start(&db.url, dir.path(), "a"), Worker::start(&db.url, dir.path(), "b")];
    let run = wait_for_end(&app, id, Duration::from_secs(120)).await;
    assert_eq!(run["status"], "succeeded", "{run}\n{}\n{}", workers[0].log(), workers[1].log());
    assert_eq!(run["attempts"], 1, "{run}");
    let (instance, plan) = instance_and_plan(&app, id).await;
    assert_valid(&instance, &plan);
    let parts = assert_combined_exactly(&run, &instance, &plan);
    assert!(parts.iter().all(|p| p["attempts"] == 1), "{run}");
    let solvers: HashSet<&str> = parts.iter().map(|p| p["solved_by"].as_str().unwrap()).collect();
    let pids: Vec<String> = workers.iter().map(|w| format!(":{}:", w.pid())).collect();
    assert_eq!(solvers.len(), 2, "both workers solve parts: {run}");
    for pid in &pids {
        assert!(solvers.iter().any(|s| s.contains(pid.as_str())), "worker {pid} solved no part: {run}");
    }
    // Every part was claimed once in each of its passes, by one of the two.
    let logs: Vec<String> = workers.iter().map(Worker::log).collect();
    let claims: usize =
        logs.iter().map(|log| log.lines().filter(|l| l.contains("part of a planning run claimed")).count()).sum();
    let passes: i64 = parts.iter().map(|p| p["pass"].as_i64().unwrap()).sum();
    assert_eq!(claims as i64, passes, "{}\n{}", logs[0], logs[1]);
    drop(workers);
    app.stop().await;
}

/// The owner of a spread run killed mid-solve: another worker takes the run over once its
/// lease has expired, keeps the parts already solved, takes the killed worker's part
/// again, and the plan is still valid with its exact bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_owner_of_a_spread_run_is_taken_over() {
    let Some(db) = postgres_db().await else { return };
    let app = db.spawn().await;
    load_demo(&app).await;
    let id = start_run(&app, json!({"time_limit_seconds": 10, "gap": 0, "spread_parts": true})).await;
    let dir = tempfile::tempdir().unwrap();
    let first = Worker::start(&db.url, dir.path(), "first");
    let started = Instant::now();
    loop {
        let (_, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
        let parts = run["parts"].as_array().cloned().unwrap_or_default();
        if parts.iter().any(|p| p["status"] == "done") && parts.iter().any(|p| p["status"] != "done") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the first worker solved no part: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, before) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
    drop(first); // SIGKILL, mid-part

    let second = Worker::start(&db.url, dir.path(), "second");
    let run = wait_for_end(&app, id, Duration::from_secs(120)).await;
    assert_eq!(run["status"], "succeeded", "{run}\n{}", second.log());
    assert_eq!(run["attempts"], 2, "{run}");
    let (instance, plan) = instance_and_plan(&app, id).await;
    assert_valid(&instance, &plan);
    let parts = assert_combined_exactly(&run, &instance, &plan);
    // What the first worker had solved was kept: a part solved again keeps the better
    // plan and the higher bound.
    for (was, now) in before["parts"].as_array().unwrap().iter().zip(&parts) {
        if was["status"] == "done" {
            assert!(now["objective"].as_f64().unwrap() <= was["objective"].as_f64().unwrap(), "{was} → {now}");
            assert!(now["bound"].as_f64().unwrap() >= was["bound"].as_f64().unwrap(), "{was} → {now}");
        }
    }
    assert!(parts.iter().any(|p| p["solved_by"].as_str().unwrap().contains(&format!(":{}:", second.pid()))));
    drop(second);
    app.stop().await;
}

/// Waits until a spread run's parts are written and one is being solved or done.
async fn wait_until_parts_solving(app: &TestApp, id: i64) {
    wait_until_running(app, id, "start its parts", |run| {
        run["parts"].as_array().is_some_and(|parts| parts.iter().any(|p| p["status"] != "queued"))
    })
    .await;
}

/// A spread run cancelled mid-solve ends soon: with a valid plan of every request when
/// asked to keep it (parts not solved yet get their first plan), with none otherwise.
async fn spread_run_cancelled_keeps_the_plan_only_if_asked(db: TestDb) {
    let app = db.spawn_with_worker().await;
    load_demo(&app).await;
    let long = json!({"time_limit_seconds": 600, "gap": 0, "spread_parts": true});
    let kept = start_run(&app, long.clone()).await;
    wait_until_parts_solving(&app, kept).await;
    let asked = Instant::now();
    let (status, _) = app.post(&format!("/api/v1/planning-runs/{kept}/cancel"), &json!({"keep_best": true})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let run = wait_for_end(&app, kept, Duration::from_secs(60)).await;
    assert_eq!(run["status"], "cancelled", "{run}");
    assert!(asked.elapsed() < Duration::from_secs(30), "cancel took {:?}", asked.elapsed());
    let (instance, plan) = instance_and_plan(&app, kept).await;
    assert_valid(&instance, &plan);
    assert_eq!(plan.assignments.len() + plan.unassigned.len(), 1300);
    assert_combined_exactly(&run, &instance, &plan);

    let dropped = start_run(&app, long).await;
    wait_until_parts_solving(&app, dropped).await;
    let (status, _) = app.post(&format!("/api/v1/planning-runs/{dropped}/cancel"), &json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let run = wait_for_end(&app, dropped, Duration::from_secs(60)).await;
    assert_eq!(run["status"], "cancelled", "{run}");
    assert_eq!(run["objective"], Value::Null);
    let (status, _) = app.get(&format!("/api/v1/planning-runs/{dropped}/plan")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.stop().await;
}

/// A run both deterministic and spread is refused, next to the field, and nothing is
/// queued: a spread run's passes are decided by the clock. So is a `spread_parts` that is
/// no boolean.
async fn deterministic_spread_runs_are_refused(db: TestDb) {
    let app = db.spawn().await;
    load_demo(&app).await;
    let body = json!({"time_limit_seconds": 3, "spread_parts": true, "deterministic": true});
    let (status, problem) = app.post("/api/v1/planning-runs", &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("spread_parts"), "{problem}");
    // Not a yes or no.
    let (status, problem) = app.post("/api/v1/planning-runs", &json!({"spread_parts": "yes"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem.to_string().contains("spread_parts"), "{problem}");
    assert_eq!(count(&app.db, "SELECT COUNT(*) FROM planning_runs").await, 0);
    app.stop().await;
}
