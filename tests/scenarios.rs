//! What-if scenarios through the API, on both backends: "+40 h/week EMC at L039 from
//! week 1" and "salt-fog demand +30 %" solve on the planning workers against one
//! baseline, the comparison has both, and the registry and the published plan are the
//! same byte for byte afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, TestDb, Who};
use reqwest::StatusCode;
use sea_orm::{FromQueryResult, JsonValue, Statement};
use serde_json::{Value, json};

/// Every row of the registry's tables and of the published plan, as text.
async fn registry_and_published_plan(app: &TestApp, published: i64) -> String {
    let backend = app.db.get_database_backend();
    let mut dump = String::new();
    let tables = [
        ("regions", "code"),
        ("region_distances", "from_region, to_region"),
        ("equipment", "code"),
        ("test_types", "code"),
        ("labs", "id"),
        ("accreditations", "lab, test_type"),
        ("capacities", "lab, equipment"),
        ("capacity_overrides", "lab, equipment, week_start"),
        ("companies", "id"),
        ("test_requests", "id"),
        ("request_excluded_labs", "request, lab"),
        ("assignments", "id"),
        ("planning_settings", "key"),
    ];
    let mut queries: Vec<String> =
        tables.iter().map(|(table, order)| format!("SELECT * FROM {table} ORDER BY {order}")).collect();
    queries.push(format!("SELECT * FROM planning_runs WHERE id = {published}"));
    for (table, order) in [
        ("plan_assignments", "request"),
        ("plan_unassigned", "request"),
        ("plan_bottlenecks", "lab, equipment, week"),
        ("plan_moves", "request"),
    ] {
        queries.push(format!("SELECT * FROM {table} WHERE run = {published} ORDER BY {order}"));
    }
    for sql in queries {
        let rows =
            JsonValue::find_by_statement(Statement::from_string(backend, sql.clone())).all(&app.db).await.unwrap();
        dump.push_str(&format!("{sql}: {}\n", serde_json::to_string(&rows).unwrap()));
    }
    dump
}

async fn wait_solved(app: &TestApp, id: i64) -> Value {
    let started = Instant::now();
    loop {
        let (status, scenario) = app.get(&format!("/api/v1/scenarios/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{scenario}");
        match scenario["status"].as_str() {
            Some("succeeded") => return scenario,
            Some("failed" | "cancelled") => panic!("{scenario}"),
            _ => assert!(started.elapsed() < Duration::from_secs(300), "scenario {id} takes too long"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn scenarios_leave_the_registry_alone(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else { return };
    let app = TestApp::spawn_demo(&db.url).await;
    let published = app.publish_demo_plan().await;
    let before = registry_and_published_plan(&app, published).await;

    // Bad changes are refused whole, naming the change, and queue nothing.
    app.act_as(Who::Ministry).await;
    let bad = json!({"name": "bad", "changes": [
        {"kind": "capacity", "lab": "L999", "equipment": "EMC", "hours_per_week": 40, "from_week": 1},
        {"kind": "demand", "equipment": "SALT", "factor": -1},
        {"kind": "capacity", "lab": "L039", "equipment": "EMC", "hours_per_week": 99999, "from_week": 1}
    ]});
    let (status, problem) = app.post("/api/v1/scenarios", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let text = problem.to_string();
    assert!(
        text.contains("L999")
            && text.contains("changes[0].lab")
            && text.contains("changes[1].factor")
            && text.contains("changes[2].hours_per_week"),
        "{problem}"
    );
    let (_, list) = app.get("/api/v1/scenarios").await;
    assert_eq!(list["total"], 0, "{list}");

    // A company may not build scenarios; a lab may not read them.
    app.act_as(Who::Company("C0001")).await;
    let (status, _) = app.post("/api/v1/scenarios", &json!({"name": "x", "changes": []})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    app.act_as(Who::Ministry).await;
    let emc = json!({"name": "+40 ч/нед ЭМС в L039 с недели 1", "time_limit_seconds": 5, "changes": [
        {"kind": "capacity", "lab": "L039", "equipment": "EMC", "hours_per_week": 40, "from_week": 1, "to_week": null}
    ]});
    let (status, emc) = app.post("/api/v1/scenarios", &emc).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{emc}");
    let salt = json!({"name": "Спрос на соляной туман +30 %", "time_limit_seconds": 5, "changes": [
        {"kind": "demand", "equipment": "SALT", "region": null, "factor": 1.3}
    ]});
    let (status, salt) = app.post("/api/v1/scenarios", &salt).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{salt}");
    // Both compare against one baseline: the registry did not change between them.
    assert!(emc["baseline"].is_i64(), "{emc}");
    assert_eq!(emc["baseline"], salt["baseline"]);
    let baseline = emc["baseline"].as_i64().unwrap();

    let emc = wait_solved(&app, emc["id"].as_i64().unwrap()).await;
    let salt = wait_solved(&app, salt["id"].as_i64().unwrap()).await;
    let base = wait_solved(&app, baseline).await;
    for s in [&emc, &salt, &base] {
        let r = &s["result"];
        for field in ["objective", "bound", "assigned", "unassigned", "late", "by_region", "by_equipment"] {
            assert!(!r[field].is_null(), "{field} missing: {s}");
        }
        assert!(r["bound"].as_f64().unwrap() <= r["objective"].as_f64().unwrap() + 1e-6, "{s}");
    }
    // 30 % more salt-fog requests: 183 of them in the demo, so 55 copies.
    let salt_requests = salt["result"]["by_equipment"]["SALT"]["requests"].as_u64().unwrap();
    let base_salt = base["result"]["by_equipment"]["SALT"]["requests"].as_u64().unwrap();
    assert_eq!(salt_requests, base_salt + (base_salt as f64 * 0.3).round() as u64, "{salt}");
    assert_eq!(
        salt["result"]["requests"].as_u64().unwrap(),
        base["result"]["requests"].as_u64().unwrap() + salt_requests - base_salt
    );

    // The changed instance is kept: L039 has 50 EMC hours from week 1, 10 in week 0.
    let (status, instance) = app.get(&format!("/api/v1/scenarios/{}/instance", emc["id"])).await;
    assert_eq!(status, StatusCode::OK);
    let instance: labplan_solver::Instance = serde_json::from_value(instance).unwrap();
    let week = |w: u32| {
        instance
            .capacity_overrides
            .iter()
            .find(|o| o.lab == "L039" && o.equipment == "EMC" && o.week == w)
            .map(|o| o.hours_per_week)
    };
    let base_hours =
        instance.labs.iter().find(|l| l.id == "L039").unwrap().capacity.iter().find(|c| c.equipment == "EMC");
    assert_eq!(base_hours.map(|c| c.hours_per_week), Some(10.0));
    assert_eq!(week(1), Some(50.0));
    assert!(week(0).is_none_or(|h| h <= 10.0));

    let (status, cmp) = app.get(&format!("/api/v1/scenarios/{}/compare", emc["id"])).await;
    assert_eq!(status, StatusCode::OK, "{cmp}");
    assert_eq!(cmp["baseline"]["id"], baseline);
    let exact = cmp["saving"].as_f64().unwrap();
    let estimate = cmp["estimate"].as_f64().expect("a capacity change has a shadow-price estimate");
    eprintln!("EMC at L039: estimated saving {estimate:.0}, solved {exact:.0}");

    // Scenario runs are neither listed with the runs nor publishable.
    app.act_as(Who::Planner).await;
    let (_, runs) = app.get("/api/v1/planning-runs?per_page=100").await;
    let listed: Vec<i64> = runs["items"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(!listed.contains(&emc["run"].as_i64().unwrap()), "{listed:?}");
    let (status, problem) = app.post(&format!("/api/v1/planning-runs/{}/publish", emc["run"]), &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (_, list) = app.get("/api/v1/scenarios").await;
    assert_eq!(list["total"], 3, "two scenarios and their baseline: {list}");

    assert_eq!(before, registry_and_published_plan(&app, published).await, "a scenario changed the registry");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_leave_the_registry_alone_sqlite() {
    scenarios_leave_the_registry_alone(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_leave_the_registry_alone_postgres() {
    scenarios_leave_the_registry_alone(Backend::Postgres).await;
}
