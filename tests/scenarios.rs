//! What-if scenarios through the API, on both backends: "+40 h/week EMC at L039 from
//! week 1" and "salt-fog demand +30 %" solve on the planning workers against one
//! baseline, the comparison has both, and the registry and the published plan are the
//! same byte for byte afterwards. Every other kind of change (capacity taken away, a new
//! lab, a closed lab, demand by region and by class and region, weights) is checked in
//! the changed instance a scenario keeps, against its baseline's, over the small fixture
//! and without a planning worker: nothing is solved, so these stay fast.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, TestDb, Who};
use labplan::domain::scenario::week_hours as hours;
use labplan_solver::Instance;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, FromQueryResult, JsonValue, Statement};
use serde_json::{Value, json};

both_backends!(
    removed_capacity_lowers_exactly_the_named_weeks,
    a_new_lab_brings_its_scope_and_capacity,
    a_closed_lab_offers_nothing_from_its_week,
    demand_scales_by_region_and_class_the_same_way_each_time,
    weights_change_only_the_weights_named,
    invalid_changes_are_refused_whole_and_create_nothing,
);

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

/// The fixture's horizon: 12 weeks.
const WEEKS: u32 = 12;

/// Creates a scenario of `changes`. These servers run no planning worker, so its solve
/// (and its baseline's) stays queued: only the changed instance is looked at.
async fn create(app: &TestApp, name: &str, changes: Value) -> Value {
    let (status, scenario) = app.post("/api/v1/scenarios", &json!({"name": name, "changes": changes})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{scenario}");
    assert_eq!(scenario["status"], "queued", "{scenario}");
    assert!(scenario["baseline"].is_i64(), "a scenario with changes has a baseline: {scenario}");
    scenario
}

/// The instance a scenario solves, as the API gives it.
async fn instance_text(app: &TestApp, id: &Value) -> String {
    let resp = app.client().get(app.url(&format!("/api/v1/scenarios/{id}/instance"))).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

/// The changed instance of a scenario and the unchanged one of its baseline.
async fn instances(app: &TestApp, scenario: &Value) -> (Instance, Instance) {
    let changed: Instance = serde_json::from_str(&instance_text(app, &scenario["id"]).await).unwrap();
    let base: Instance = serde_json::from_str(&instance_text(app, &scenario["baseline"]).await).unwrap();
    // The fixture as loaded: three labs, three requests, twelve weeks.
    assert_eq!(base.labs.len(), 3);
    assert_eq!(base.requests.len(), 3);
    assert_eq!(base.horizon.weeks, WEEKS);
    changed.check().expect("the changed instance is one the planning model takes");
    (changed, base)
}

/// Every (lab, class, week) of `instance`'s labs with its hours.
fn all_hours(instance: &Instance) -> Vec<((String, String, u32), f64)> {
    let mut all = Vec::new();
    for lab in &instance.labs {
        for c in &lab.capacity {
            for w in 0..instance.horizon.weeks {
                all.push(((lab.id.clone(), c.equipment.clone(), w), hours(instance, &lab.id, &c.equipment, w)));
            }
        }
    }
    all
}

/// `changed` with `base`'s capacity overrides: what must equal `base` when a change
/// touches only capacity.
fn without_overrides(changed: &Instance, base: &Instance) -> Instance {
    Instance { capacity_overrides: base.capacity_overrides.clone(), ..changed.clone() }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let row = app.db.query_one_raw(Statement::from_string(app.db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn removed_capacity_lowers_exactly_the_named_weeks(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Planner).await;
    let scenario = create(
        &app,
        "Меньше мощности",
        json!([
            // 168 h of climate chamber at L003 less 100 in weeks 2–4.
            {"kind": "capacity", "lab": "L003", "equipment": "CLIM", "hours_per_week": -100, "from_week": 2, "to_week": 4},
            // L001's EMC chamber is closed in week 0 already (an override of 0 h): it stays
            // at 0 there, and has 40 − 30 h in week 1.
            {"kind": "capacity", "lab": "L001", "equipment": "EMC", "hours_per_week": -30, "from_week": 0, "to_week": 1},
            // More taken than there is leaves none, from week 10 to the end.
            {"kind": "capacity", "lab": "L002", "equipment": "EMC", "hours_per_week": -500, "from_week": 10}
        ]),
    )
    .await;
    let (changed, base) = instances(&app, &scenario).await;
    assert_eq!(hours(&base, "L003", "CLIM", 3), 168.0);
    assert_eq!(hours(&base, "L001", "EMC", 0), 0.0);
    assert_eq!(hours(&base, "L001", "EMC", 1), 40.0);
    assert_eq!(hours(&base, "L002", "EMC", 10), 80.0);
    let expected: Vec<_> = all_hours(&base)
        .into_iter()
        .map(|((lab, equipment, week), h)| {
            let h = match (lab.as_str(), equipment.as_str(), week) {
                ("L003", "CLIM", 2..=4) => 68.0,
                ("L001", "EMC", 0) => 0.0,
                ("L001", "EMC", 1) => 10.0,
                ("L002", "EMC", 10..) => 0.0,
                _ => h,
            };
            ((lab, equipment, week), h)
        })
        .collect();
    assert_eq!(all_hours(&changed), expected, "only the named labs' classes in the named weeks changed");
    // Base capacity, labs, requests and weights are as they were: only week overrides differ.
    assert_eq!(without_overrides(&changed, &base), base);
    app.stop().await;
}

async fn a_new_lab_brings_its_scope_and_capacity(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Ministry).await;
    let scenario = create(
        &app,
        "Новый центр в Казани",
        json!([{"kind": "new_lab", "id": "L900", "name": "Казанский испытательный центр", "region": "RU-TA",
            "accredited": ["CLIM-GOST15150", "EMC-R10"],
            "capacity": [{"equipment": "CLIM", "hours_per_week": 168, "price_per_hour": 1000},
                         {"equipment": "EMC", "hours_per_week": 40, "price_per_hour": 4000}],
            "from_week": 3}]),
    )
    .await;
    let (changed, base) = instances(&app, &scenario).await;
    assert!(!base.labs.iter().any(|l| l.id == "L900"));
    let lab = changed.labs.iter().find(|l| l.id == "L900").expect("the new lab is in the instance");
    assert_eq!(lab.name, "Казанский испытательный центр");
    assert_eq!(lab.region, "RU-TA");
    assert_eq!(lab.accredited, ["CLIM-GOST15150", "EMC-R10"]);
    let capacity: Vec<(&str, f64, f64)> =
        lab.capacity.iter().map(|c| (c.equipment.as_str(), c.hours_per_week, c.price_per_hour)).collect();
    assert_eq!(capacity, [("CLIM", 168.0, 1000.0), ("EMC", 40.0, 4000.0)]);
    // Open from week 3: no hours before it, its capacity from it on.
    for w in 0..WEEKS {
        let open = w >= 3;
        assert_eq!(hours(&changed, "L900", "CLIM", w), if open { 168.0 } else { 0.0 }, "CLIM week {w}");
        assert_eq!(hours(&changed, "L900", "EMC", w), if open { 40.0 } else { 0.0 }, "EMC week {w}");
    }
    // The other labs, their weeks and the requests are as they were.
    let others = Instance {
        labs: changed.labs.iter().filter(|l| l.id != "L900").cloned().collect(),
        capacity_overrides: changed.capacity_overrides.iter().filter(|o| o.lab != "L900").cloned().collect(),
        ..changed.clone()
    };
    assert_eq!(others, base);
    // Only the scenario has it: the registry does not.
    let (status, _) = app.get("/api/v1/labs/L900").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.total("/api/v1/labs").await, 3);
    app.stop().await;
}

async fn a_closed_lab_offers_nothing_from_its_week(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Planner).await;
    let scenario = create(
        &app,
        "Закрытие L001 с недели 4 и L002 сразу",
        json!([{"kind": "close_lab", "lab": "L001", "from_week": 4}, {"kind": "close_lab", "lab": "L002"}]),
    )
    .await;
    let (changed, base) = instances(&app, &scenario).await;
    let expected: Vec<_> = all_hours(&base)
        .into_iter()
        .map(|((lab, equipment, week), h)| {
            // L001 (both its classes) from week 4, L002 from week 0: nothing offered.
            let closed = (lab == "L001" && week >= 4) || lab == "L002";
            ((lab, equipment, week), if closed { 0.0 } else { h })
        })
        .collect();
    assert_eq!(all_hours(&changed), expected);
    // L001 kept its hours before week 4 (its EMC closed in week 0 as the registry has it).
    assert_eq!(hours(&changed, "L001", "CLIM", 3), 336.0);
    assert_eq!(hours(&changed, "L001", "EMC", 2), 40.0);
    // The labs are still there, with their scope and base capacity: only their weeks close.
    assert_eq!(changed.labs, base.labs);
    assert_eq!(without_overrides(&changed, &base), base);
    app.stop().await;
}

async fn demand_scales_by_region_and_class_the_same_way_each_time(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Ministry).await;
    let ids = |i: &Instance| i.requests.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    let region = |i: &Instance, company: &str| i.companies.iter().find(|c| c.id == company).unwrap().region.clone();

    // Samara's companies (C0001: R00001 and R00002) twice over: two copies, in id order;
    // Tatarstan's R00003 is not copied.
    let twice = json!([{"kind": "demand", "region": "RU-SAM", "factor": 2.0}]);
    let scenario = create(&app, "Самара ×2", twice.clone()).await;
    let (changed, base) = instances(&app, &scenario).await;
    assert_eq!(ids(&base), ["R00001", "R00002", "R00003"]);
    assert_eq!(ids(&changed), ["R00001", "R00002", "R00003", "R00001~changes0~0", "R00002~changes0~1"]);
    for copy in &changed.requests[3..] {
        assert_eq!(region(&changed, &copy.company), "RU-SAM", "{copy:?}");
        let original = base.requests.iter().find(|r| copy.id.starts_with(&format!("{}~", r.id))).unwrap();
        assert_eq!(labplan_solver::Request { id: original.id.clone(), ..copy.clone() }, *original);
    }
    assert_eq!(Instance { requests: base.requests.clone(), ..changed.clone() }, base, "only requests change");
    // The same scenario again: the same instance, byte for byte.
    let again = create(&app, "Самара ×2 ещё раз", twice).await;
    assert_eq!(again["baseline"], scenario["baseline"], "the unchanged registry's baseline is reused");
    assert_eq!(instance_text(&app, &again["id"]).await, instance_text(&app, &scenario["id"]).await);

    // EMC in Samara ×3: two copies of R00001 only (R00002 is climatic, R00003 in Tatarstan);
    // a second change in the same scenario is marked with its own index.
    let scenario = create(
        &app,
        "ЭМС в Самаре ×3, Татарстан ×2",
        json!([{"kind": "demand", "equipment": "EMC", "region": "RU-SAM", "factor": 3},
               {"kind": "demand", "region": "RU-TA", "factor": 2}]),
    )
    .await;
    let (changed, _) = instances(&app, &scenario).await;
    assert_eq!(
        ids(&changed),
        ["R00001", "R00002", "R00003", "R00001~changes0~0", "R00001~changes0~1", "R00003~changes1~0"]
    );

    // Below 1 a share is left out, the same one each time: of Samara's two, R00001 goes.
    let half = json!([{"kind": "demand", "region": "RU-SAM", "factor": 0.5}]);
    let scenario = create(&app, "Самара ×0,5", half.clone()).await;
    let (changed, _) = instances(&app, &scenario).await;
    assert_eq!(ids(&changed), ["R00002", "R00003"]);
    let again = create(&app, "Самара ×0,5 ещё раз", half).await;
    assert_eq!(instance_text(&app, &again["id"]).await, instance_text(&app, &scenario["id"]).await);

    // The registry's requests are untouched.
    app.act_as(Who::Planner).await;
    assert_eq!(app.total("/api/v1/requests").await, 3);
    app.stop().await;
}

async fn weights_change_only_the_weights_named(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Planner).await;
    let scenario = create(
        &app,
        "Дороже опоздание",
        json!([{"kind": "weights", "tardiness_per_week": 500000, "unassigned": 1000000.5, "move_week": 0}]),
    )
    .await;
    let (changed, base) = instances(&app, &scenario).await;
    // The fixture's weights, and the registry's default move weights.
    assert_eq!(base.weights.tardiness_per_week, 150_000.0);
    assert_eq!(base.weights.unassigned, 3_000_000.0);
    assert_eq!(base.weights.move_week, 200_000.0);
    let w = &changed.weights;
    assert_eq!(w.tardiness_per_week, 500_000.0);
    assert_eq!(w.unassigned, 1_000_000.5);
    assert_eq!(w.move_week, 0.0);
    assert_eq!(w.transport_per_km, base.weights.transport_per_km, "not named: kept");
    assert_eq!(w.transport_per_km, 40.0);
    assert_eq!(w.max_late_weeks, base.weights.max_late_weeks);
    assert_eq!(w.move_lab, base.weights.move_lab);
    assert_eq!(Instance { weights: base.weights.clone(), ..changed.clone() }, base, "only the weights change");
    app.stop().await;
}

async fn invalid_changes_are_refused_whole_and_create_nothing(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Ministry).await;
    let runs = "SELECT COUNT(*) AS n FROM planning_runs";
    let audited = "SELECT COUNT(*) AS n FROM audit_log WHERE entity = 'scenario'";
    let bad = json!({"name": "плохой", "changes": [
        // Valid by itself, but refused with the rest.
        {"kind": "capacity", "lab": "L001", "equipment": "CLIM", "hours_per_week": 10},
        {"kind": "new_lab", "id": "L001", "name": "Дубль", "region": "RU-XX", "accredited": ["NOPE"],
         "capacity": [{"equipment": "CLIM", "hours_per_week": -5, "price_per_hour": 100}]},
        {"kind": "close_lab", "lab": "L404"},
        {"kind": "close_lab", "lab": "L002", "from_week": 12},
        {"kind": "demand", "region": "RU-XX", "factor": 2},
        {"kind": "demand", "equipment": "EMC", "factor": -0.5},
        {"kind": "demand", "factor": 5.5},
        {"kind": "weights", "transport_per_km": -1},
        {"kind": "capacity", "lab": "L001", "equipment": "CLIM", "hours_per_week": -40, "from_week": 20}
    ]});
    let (status, problem) = app.post("/api/v1/scenarios", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "changes[1].id",
            "changes[1].region",
            "changes[1].accredited[0]",
            "changes[1].capacity[0]",
            "changes[2].lab",
            "changes[3].from_week",
            "changes[4].region",
            "changes[5].factor",
            "changes[6].factor",
            "changes[7].transport_per_km",
            "changes[8].from_week",
        ],
        "{problem}"
    );
    let text = problem.to_string();
    assert!(text.contains("L404") && text.contains("RU-XX") && text.contains("NOPE"), "{problem}");

    // Each kind alone, and a change of no known kind, are refused too.
    for change in [
        json!({"kind": "close_lab", "lab": "L999"}),
        json!({"kind": "new_lab", "id": "L901", "name": "Х", "region": "RU-SAM", "accredited": [],
               "capacity": [{"equipment": "SALT", "hours_per_week": 10, "price_per_hour": 100}]}),
        json!({"kind": "demand", "region": "RU-SAM", "factor": -1}),
        json!({"kind": "weights", "unassigned": -3000000}),
        json!({"kind": "teleport", "lab": "L001"}),
        json!({"kind": "close_lab", "lab": "L001", "week": 3}),
    ] {
        let (status, problem) = app.post("/api/v1/scenarios", &json!({"name": "x", "changes": [change]})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{change}: {problem}");
    }

    // Nothing was created: no scenario, no baseline, no run, no audit row.
    let (status, list) = app.get("/api/v1/scenarios").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 0, "{list}");
    assert_eq!(count(&app, runs).await, 0);
    assert_eq!(count(&app, audited).await, 0);
    app.stop().await;
}
