//! The request counts the database keeps for the ministry's figures equal a full recount
//! of `test_requests` after every kind of change (filings at once, cancels, edits, a
//! publish that changes hundreds of statuses, a company moving region), folded or not;
//! the lists' totals equal a recount for every combination of region, test type and
//! status, and for a company by test type and status, also after an upgrade from the
//! version before the companies' counts; and the dashboard's demand, read from them,
//! equals the demand summed request by request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::{TestApp, TestDb, Who};
use labplan::db::tallies;
use labplan::domain::status::RequestStatus;
use labplan_migrations::{Migrator, MigratorTrait};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};
use serde_json::{Value, json};

both_backends!(tallies_equal_a_full_recount);

/// The kept counts, with the unfolded delta, against a recount; then folded, again.
async fn assert_counts_hold(app: &TestApp, step: &str) {
    let recount = tallies::recount(&app.db).await.unwrap();
    assert!(!recount.is_empty(), "{step}: no requests counted");
    assert_eq!(tallies::filings(&app.db, None, None).await.unwrap(), recount, "{step}: before folding");
    tallies::fold(&app.db).await.unwrap();
    assert_eq!(tallies::filings(&app.db, None, None).await.unwrap(), recount, "{step}: after folding");
    let unfolded = app.db.query_one_raw(Statement::from_string(
        app.db.get_database_backend(),
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM request_tally_delta",
    ));
    let unfolded: i64 = unfolded.await.unwrap().unwrap().try_get_by_index(0).unwrap();
    assert_eq!(unfolded, 0, "{step}: the fold leaves no delta");
    let totals = tallies::recount_totals(&app.db).await.unwrap();
    assert_eq!(tallies::folded_totals(&app.db).await.unwrap(), totals, "{step}: the lists' totals");
    let companies = tallies::recount_company_totals(&app.db).await.unwrap();
    assert_eq!(tallies::folded_company_totals(&app.db).await.unwrap(), companies, "{step}: the companies' totals");
}

/// `test_requests` counted row by row (`r`, joined with its company `c`).
async fn rows_where(db: &sea_orm::DatabaseConnection, condition: &str) -> u64 {
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM test_requests r JOIN companies c ON c.id = r.company WHERE {condition}"
    );
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql));
    let counted: i64 = row.await.unwrap().unwrap().try_get_by_index(0).unwrap();
    counted as u64
}

#[derive(Debug, FromQueryResult)]
struct RegionHours {
    region: String,
    hours: i64,
}

/// Open requests' hours ready by `end`, by the company's region, summed row by row.
async fn demand_by_region_recounted(app: &TestApp, end: &str) -> BTreeMap<String, f64> {
    let sql = format!(
        "SELECT c.region, CAST(SUM(t.hours) AS BIGINT) AS hours FROM test_requests r \
         JOIN companies c ON c.id = r.company JOIN test_types t ON t.code = r.test_type \
         WHERE r.status IN ('submitted', 'planned', 'confirmed', 'unplaceable') AND r.ready_date <= '{end}' \
         GROUP BY c.region"
    );
    RegionHours::find_by_statement(Statement::from_string(app.db.get_database_backend(), sql))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.region, r.hours as f64))
        .collect()
}

async fn assert_demand_holds(app: &TestApp, end: &str, step: &str) {
    app.act_as(Who::Ministry).await;
    let (status, demand) = app.get("/api/v1/dashboard/demand").await;
    assert_eq!(status, StatusCode::OK, "{demand}");
    let recounted = demand_by_region_recounted(app, end).await;
    let mut shown: BTreeMap<String, f64> = BTreeMap::new();
    for row in demand["by_region"].as_array().unwrap() {
        let hours = row["demand_hours"].as_f64().unwrap();
        if hours > 0.0 {
            shown.insert(row["key"].as_str().unwrap().to_string(), hours);
        }
    }
    assert_eq!(shown, recounted, "{step}: the dashboard's demand by region");
}

fn filing(n: usize) -> Value {
    json!({
        "company": "C0001",
        "test_type": "EMC-R10",
        "samples": 1,
        "ready_date": format!("2027-01-{:02}", 1 + n % 28),
        "due_date": format!("2027-03-{:02}", 1 + n % 28),
        "priority": 2,
    })
}

async fn tallies_equal_a_full_recount(db: TestDb) {
    let app = TestApp::spawn_demo(&db.url).await;
    assert_counts_hold(&app, "the demo as loaded").await;

    // Filings at once, and folds beside them (as several servers would run them), all let
    // go by one barrier: each filing appends its own delta row, and no delta row is
    // folded twice or lost.
    app.act_as(Who::Company("C0001")).await;
    let token = app.token(&Who::Company("C0001")).await.unwrap();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(24 + 4));
    let folds: Vec<_> = (0..4)
        .map(|_| {
            let (db, barrier) = (app.db.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                tallies::fold(&db).await
            })
        })
        .collect();
    let tasks: Vec<_> = (0..24)
        .map(|n| {
            let request = reqwest::Client::new().post(app.url("/api/v1/requests")).bearer_auth(&token).json(&filing(n));
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let response = request.send().await.unwrap();
                (response.status(), response.json::<Value>().await.unwrap())
            })
        })
        .collect();
    for fold in folds {
        fold.await.unwrap().unwrap();
    }
    let mut ids = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    assert_counts_hold(&app, "24 filings and 4 folds at once").await;

    // Cancels and edits of dates and test type.
    for id in &ids[..4] {
        let (status, body) = app.post(&format!("/api/v1/requests/{id}/cancel"), &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for id in &ids[4..8] {
        let (_, current) = app.get(&format!("/api/v1/requests/{id}")).await;
        let body = json!({"version": current["version"], "due_date": "2027-05-28", "test_type": "CLIM-GOST15150"});
        let (status, body) = app.patch(&format!("/api/v1/requests/{id}"), &body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_counts_hold(&app, "cancels and edits").await;

    // A publish moves every planned request's status in a few statements.
    let run = app.publish_demo_plan().await;
    assert_counts_hold(&app, "a published plan").await;
    let (_, run) = app.get(&format!("/api/v1/planning-runs/{run}")).await;
    let start = chrono::NaiveDate::parse_from_str(run["horizon_start"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let weeks = run["horizon_weeks"].as_i64().unwrap();
    let end = (start + chrono::Days::new(7 * weeks as u64 - 1)).to_string();
    assert_demand_holds(&app, &end, "a published plan").await;

    // A company moves region: its requests' counts move with it.
    app.act_as(Who::Admin).await;
    let (_, company) = app.get("/api/v1/companies/C0001").await;
    let old_region = company["region"].as_str().unwrap().to_string();
    let new_region = if old_region == "RU-MOW" { "RU-SAM" } else { "RU-MOW" };
    let moved = json!({"name": company["name"], "inn": company["inn"], "region": new_region});
    let (status, body) = app.put("/api/v1/companies/C0001", &moved).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_counts_hold(&app, "a company moved region").await;
    assert_demand_holds(&app, &end, "a company moved region").await;

    // A planner's list totals come from the tallies: they equal the rows' count.
    app.act_as(Who::Planner).await;
    for (path, condition) in [
        ("/api/v1/requests?per_page=5", "1 = 1".to_string()),
        ("/api/v1/requests?per_page=5&status=planned", "r.status = 'planned'".to_string()),
        (
            "/api/v1/requests?per_page=5&status=cancelled&test_type=EMC-R10",
            "r.status = 'cancelled' AND r.test_type = 'EMC-R10'".to_string(),
        ),
        (&format!("/api/v1/requests?per_page=5&region={new_region}"), format!("c.region = '{new_region}'")),
        (
            "/api/v1/requests?per_page=5&equipment=EMC",
            "r.test_type IN (SELECT code FROM test_types WHERE equipment = 'EMC')".to_string(),
        ),
    ] {
        let counted = rows_where(&app.db, &condition).await;
        assert!(counted > 0, "{path}: the case counts something");
        assert_eq!(app.total(path).await, counted, "{path}");
    }

    // A company's totals come from the tallies too, with a filing not yet folded, for its
    // own users and for a planner who filters by it; with a region or an equipment class
    // beside the company they are counted row by row, and equal all the same.
    app.act_as(Who::Company("C0001")).await;
    let (status, body) = app.post("/api/v1/requests", &filing(0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let own = "r.company = 'C0001'";
    let company_lists = [
        ("/api/v1/requests?per_page=5", own.to_string()),
        ("/api/v1/requests?per_page=5&status=submitted", format!("{own} AND r.status = 'submitted'")),
        ("/api/v1/requests?per_page=5&test_type=EMC-R10", format!("{own} AND r.test_type = 'EMC-R10'")),
        (
            "/api/v1/requests?per_page=5&status=cancelled&test_type=EMC-R10",
            format!("{own} AND r.status = 'cancelled' AND r.test_type = 'EMC-R10'"),
        ),
        (&format!("/api/v1/requests?per_page=5&region={new_region}"), format!("{own} AND c.region = '{new_region}'")),
        (
            "/api/v1/requests?per_page=5&equipment=EMC",
            format!("{own} AND r.test_type IN (SELECT code FROM test_types WHERE equipment = 'EMC')"),
        ),
    ];
    for (path, condition) in &company_lists {
        let counted = rows_where(&app.db, condition).await;
        assert!(counted > 0, "{path}: the case counts something");
        assert_eq!(app.total(path).await, counted, "C0001's own {path}");
    }
    assert_eq!(app.total("/api/v1/requests?per_page=5&company=C0002").await, 0, "another company's requests");
    app.act_as(Who::Planner).await;
    for (path, condition) in &company_lists {
        let path = format!("{path}&company=C0001");
        assert_eq!(app.total(&path).await, rows_where(&app.db, condition).await, "a planner's {path}");
    }
    assert_counts_hold(&app, "a company's filing").await;

    // The folded tallies hold no zero rows.
    let zero = app.db.query_one_raw(Statement::from_string(
        app.db.get_database_backend(),
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM filing_tally WHERE n = 0",
    ));
    let zero: i64 = zero.await.unwrap().unwrap().try_get_by_index(0).unwrap();
    assert_eq!(zero, 0);

    // On PostgreSQL the server vacuums the delta after its folds: the pages a burst of
    // folded rows left behind are cut off once the folds find nothing more, so that the
    // counts, which read the whole delta, do not read them on every call.
    if app.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        app.db
            .execute_unprepared(
                "INSERT INTO request_tally_delta (region, test_type, status, ready_week, due_week, filed_on, n) \
                 SELECT 'RU-MOW', 'EMC-R10', 'submitted', DATE '2027-01-04', DATE '2027-03-01', DATE '2026-11-26', 0 \
                 FROM generate_series(1, 20000)",
            )
            .await
            .unwrap();
        assert!(tallies::delta_pages(&app.db).await.unwrap() > 50, "the burst takes pages");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while tallies::delta_pages(&app.db).await.unwrap() > 0 {
            assert!(std::time::Instant::now() < deadline, "the delta's empty pages are never cut off");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert_counts_hold(&app, "a burst folded and vacuumed").await;
    }
    app.stop().await;

    // A registry of the version before `company_tally`, with delta rows that name no
    // company, upgraded: its companies' counts are exact before the fold and after.
    let conn = labplan::db::connect(&db.url).await.unwrap();
    Migrator::down(&conn, Some(1)).await.unwrap();
    conn.execute_unprepared(
        "UPDATE test_requests SET status = 'cancelled' WHERE id IN \
         (SELECT id FROM test_requests WHERE status = 'planned' ORDER BY id LIMIT 7)",
    )
    .await
    .unwrap();
    Migrator::up(&conn, None).await.unwrap();
    let nameless = rows_of(&conn, "SELECT CAST(COUNT(*) AS BIGINT) FROM request_tally_delta WHERE company = ''").await;
    assert!(nameless > 0, "the earlier triggers wrote delta rows without a company");
    for (company, status) in [("C0001", None), ("C0001", Some(RequestStatus::Cancelled)), ("C0002", None)] {
        let of = tallies::CountOf { company: Some(company), status, ..Default::default() };
        let mut condition = format!("r.company = '{company}'");
        if let Some(status) = status {
            condition.push_str(&format!(" AND r.status = '{}'", status.as_str()));
        }
        let counted = rows_where(&conn, &condition).await;
        assert!(counted > 0, "{condition}: the case counts something");
        assert_eq!(tallies::count(&conn, of).await.unwrap(), Some(counted), "upgraded, unfolded: {condition}");
    }
    tallies::fold(&conn).await.unwrap();
    let companies = tallies::recount_company_totals(&conn).await.unwrap();
    assert_eq!(tallies::folded_company_totals(&conn).await.unwrap(), companies, "upgraded and folded");
    conn.close().await.unwrap();
}

async fn rows_of(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_string()));
    row.await.unwrap().unwrap().try_get_by_index(0).unwrap()
}
