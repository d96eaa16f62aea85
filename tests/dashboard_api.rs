//! The ministry's figures as data: every `/api/v1/dashboard/...` endpoint on the demo
//! with a published plan gives the same numbers as the dashboard page's tables (read
//! through the page's own CSV downloads), filters narrow them, and bad filters are a 422.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestApp, TestDb, Who};
use reqwest::StatusCode;
use serde_json::Value;

both_backends!(dashboard_endpoints_give_the_pages_figures);

/// A page's CSV download as rows of cells, header left out.
async fn page_csv(app: &TestApp, cookie: &str, path: &str) -> Vec<Vec<String>> {
    let resp = common::web::client().get(app.url(path)).header("cookie", cookie).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
    let text = resp.text().await.unwrap();
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect()
}

/// The page's CSV holds whole numbers: the figure rounded.
fn whole(v: &Value) -> String {
    format!("{}", v.as_f64().unwrap().round() as i64)
}

async fn dashboard_endpoints_give_the_pages_figures(db: TestDb) {
    let app = TestApp::spawn_demo(&db.url).await;
    app.publish_demo_plan().await;
    let email = app.user(&Who::Ministry).await;
    let cookie = common::web::session(&app, &email, common::PASSWORD).await;
    app.act_as(Who::Ministry).await;

    // Demand against capacity, by equipment class and by region.
    let (status, demand) = app.get("/api/v1/dashboard/demand").await;
    assert_eq!(status, StatusCode::OK, "{demand}");
    for (list, csv) in
        [("by_equipment", "/dashboard/demand-equipment.csv"), ("by_region", "/dashboard/demand-region.csv")]
    {
        let rows = page_csv(&app, &cookie, csv).await;
        let api = demand[list].as_array().unwrap();
        assert_eq!(rows.len(), api.len(), "{list}");
        for (row, figure) in rows.iter().zip(api) {
            assert_eq!(row[1], whole(&figure["demand_hours"]), "{list} {figure}");
            assert_eq!(row[2], whole(&figure["capacity_hours"]), "{list} {figure}");
        }
        if list == "by_equipment" {
            for (row, figure) in rows.iter().zip(api) {
                assert!(row[0].starts_with(figure["key"].as_str().unwrap()), "{row:?} {figure}");
            }
        }
    }
    let total_demand: f64 =
        demand["by_equipment"].as_array().unwrap().iter().map(|f| f["demand_hours"].as_f64().unwrap()).sum();
    assert!(total_demand > 0.0);

    // Unmet and late, by region and by test type.
    let (status, unmet) = app.get("/api/v1/dashboard/unmet").await;
    assert_eq!(status, StatusCode::OK, "{unmet}");
    for (list, csv) in
        [("by_region", "/dashboard/unmet-region.csv"), ("by_test_type", "/dashboard/unmet-test-type.csv")]
    {
        let rows = page_csv(&app, &cookie, csv).await;
        let api = unmet[list].as_array().unwrap();
        assert!(!api.is_empty(), "the demo's plan leaves some requests out or late");
        assert_eq!(rows.len(), api.len(), "{list}");
        for (row, f) in rows.iter().zip(api) {
            let counts: Vec<String> =
                ["no_accredited_lab", "excluded_by_company", "no_capacity_in_window", "outranked", "late", "total"]
                    .iter()
                    .map(|k| f[k].to_string())
                    .collect();
            assert_eq!(row[1..], counts[..], "{list} {f}");
        }
    }

    // The capacity ranking.
    let (status, bottlenecks) = app.get("/api/v1/dashboard/bottlenecks").await;
    assert_eq!(status, StatusCode::OK, "{bottlenecks}");
    let rows = page_csv(&app, &cookie, "/dashboard/capacity-helps.csv").await;
    let api = bottlenecks.as_array().unwrap();
    assert_eq!(rows.len(), api.len());
    for (row, b) in rows.iter().zip(api) {
        assert!(row[0].starts_with(b["lab"].as_str().unwrap()) && row[1].starts_with(b["equipment"].as_str().unwrap()));
        assert_eq!(row[2], b["binding_weeks"].to_string());
        assert_eq!(row[4], whole(&b["saving_of_40_hours"]));
    }

    // Capacity per lab and class adds up to the page's capacity per class.
    let (status, capacity) = app.get("/api/v1/dashboard/capacity").await;
    assert_eq!(status, StatusCode::OK, "{capacity}");
    for figure in demand["by_equipment"].as_array().unwrap() {
        let class = figure["key"].as_str().unwrap();
        let sum: f64 = capacity
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["equipment"] == class)
            .map(|c| c["capacity_hours"].as_f64().unwrap())
            .sum();
        assert!((sum - figure["capacity_hours"].as_f64().unwrap()).abs() < 1e-6, "{class}: {sum} against {figure}");
    }
    let planned: f64 = capacity.as_array().unwrap().iter().map(|c| c["planned_hours"].as_f64().unwrap()).sum();
    assert!(planned > 0.0, "the published plan books hours");

    // Filters narrow the figures; a class's demand is the same asked alone.
    let emc = demand["by_equipment"].as_array().unwrap().iter().find(|f| f["key"] == "EMC").unwrap().clone();
    let (status, only) = app.get("/api/v1/dashboard/demand?equipment=EMC").await;
    assert_eq!(status, StatusCode::OK, "{only}");
    for f in only["by_equipment"].as_array().unwrap() {
        if f["key"] == "EMC" {
            assert_eq!(f, &emc);
        } else {
            assert_eq!(f["demand_hours"], 0.0, "{f}");
        }
    }
    let (status, first_weeks) = app.get("/api/v1/dashboard/capacity?from=2027-01-04&to=2027-01-17").await;
    assert_eq!(status, StatusCode::OK, "{first_weeks}");
    let two_weeks: f64 = first_weeks.as_array().unwrap().iter().map(|c| c["capacity_hours"].as_f64().unwrap()).sum();
    let all: f64 = capacity.as_array().unwrap().iter().map(|c| c["capacity_hours"].as_f64().unwrap()).sum();
    assert!(two_weeks > 0.0 && two_weeks < all / 5.0, "two weeks of {all}: {two_weeks}");

    // The page's progress section for one region: the API's figures for that region.
    let region = demand["by_region"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["demand_hours"].as_f64().unwrap() > 0.0)
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let rows = page_csv(&app, &cookie, &format!("/dashboard/progress.csv?region={region}")).await;
    let (status, progress) = app.get(&format!("/api/v1/dashboard/progress?region={region}")).await;
    assert_eq!(status, StatusCode::OK, "{progress}");
    let months = progress["months"].as_array().unwrap();
    assert!(!months.is_empty());
    assert_eq!(rows.len(), months.len());
    for (row, m) in rows.iter().zip(months) {
        assert_eq!(row[0], m["month"].as_str().unwrap());
        assert_eq!(row[1], m["filed"].to_string(), "{m}");
    }
    let (_, everywhere) = app.get("/api/v1/dashboard/progress").await;
    assert!(progress["totals"]["filed"].as_u64() < everywhere["totals"]["filed"].as_u64());
    let html = common::web::client()
        .get(app.url(&format!("/dashboard?region={region}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .replace("&#x2f;", "/");
    assert!(html.contains(&format!("<option value=\"{region}\" selected>")), "the region stays chosen");
    assert!(html.contains(&format!("/dashboard/progress.xlsx?region={region}")));
    let resp = common::web::client()
        .get(app.url(&format!("/dashboard/progress.xlsx?region={region}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = calamine::Reader::worksheet_range_at(&mut book, 0).unwrap().unwrap();
    assert_eq!(sheet.rows().count(), months.len() + 1);

    // CSV on request.
    let resp = app.client().get(app.url("/api/v1/dashboard/unmet?format=csv")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    assert!(text.starts_with("group,key,no_accredited_lab"), "{text}");
    assert_eq!(
        text.lines().count(),
        1 + unmet["by_region"].as_array().unwrap().len() + unmet["by_test_type"].as_array().unwrap().len()
    );

    // And as a workbook: the same rows, numbers as numbers.
    let resp = app.client().get(app.url("/api/v1/dashboard/unmet?format=xlsx")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let bytes = resp.bytes().await.unwrap().to_vec();
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = calamine::Reader::worksheet_range_at(&mut book, 0).unwrap().unwrap();
    assert_eq!(sheet.rows().count(), text.lines().count());
    assert!(sheet.rows().nth(1).unwrap()[2..].iter().all(|c| matches!(c, calamine::Data::Float(_))));

    // Bad filters name themselves.
    for (path, field) in [
        ("/api/v1/dashboard/demand?region=XX-NONE", "region"),
        ("/api/v1/dashboard/capacity?equipment=NOPE", "equipment"),
        ("/api/v1/dashboard/unmet?test_type=NOPE", "test_type"),
        ("/api/v1/dashboard/bottlenecks?from=2027-03-01&to=2027-01-01", "to"),
        ("/api/v1/dashboard/demand?format=xml", "format"),
    ] {
        let (status, problem) = app.get(path).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {problem}");
        assert!(problem.to_string().contains(field), "{path}: {problem}");
    }
    app.stop().await;
}
