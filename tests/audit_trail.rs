//! Every change leaves its row in the audit log: each writing route of the OpenAPI
//! document is called once, as a user allowed to, with a body that succeeds, and the
//! log must have grown by an entry naming the caller. A writing route missing from the
//! walk fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{TestApp, TestDb, Who};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(every_writing_route_leaves_an_audit_row);

/// The newest audit entry and how many there are, read as the admin.
async fn last_entry(app: &TestApp) -> (u64, Value) {
    app.act_as(Who::Admin).await;
    let (status, page) = app.get("/api/v1/audit?per_page=1").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    (page["total"].as_u64().unwrap(), page["items"][0].clone())
}

/// Sends one write as `who` and checks that it succeeded and was audited under them.
async fn audited(app: &TestApp, who: Who, method: &str, path: &str, body: Value, entity: &str) -> Value {
    let answer = audited_unless(app, who, method, path, body, entity, None).await;
    answer.unwrap_or_else(|| panic!("{method} {path} was refused"))
}

/// As [`audited`], but an answer of status `race` (a race the test cannot rule out) is
/// `None`, once it is checked that it wrote no audit row.
async fn audited_unless(
    app: &TestApp,
    who: Who,
    method: &str,
    path: &str,
    body: Value,
    entity: &str,
    race: Option<StatusCode>,
) -> Option<Value> {
    let (before, _) = last_entry(app).await;
    app.act_as(who.clone()).await;
    let (status, answer) = match method {
        "post" => app.post(path, &body).await,
        "put" => app.put(path, &body).await,
        "patch" => app.patch(path, &body).await,
        "delete" => app.delete(path).await,
        "multipart" => app.post_multipart(path, &body).await,
        other => panic!("unexpected method {other}"),
    };
    if Some(status) == race {
        assert_eq!(last_entry(app).await.0, before, "{method} {path} refused with {status}, yet audited");
        return None;
    }
    assert!(status.is_success(), "{method} {path} as {who:?}: {status} {answer}");
    let (after, entry) = last_entry(app).await;
    assert!(after > before, "{method} {path} left no audit row");
    assert_eq!(entry["entity"], entity, "{method} {path}: {entry}");
    assert_eq!(entry["actor"], app.user(&who).await.as_str(), "{method} {path}: {entry}");
    Some(answer)
}

async fn wait_for_plan(app: &TestApp, id: i64) {
    app.act_as(Who::Planner).await;
    let started = Instant::now();
    loop {
        let (_, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
        match run["status"].as_str() {
            Some("succeeded") => return,
            Some("failed" | "cancelled") => panic!("the run ended without a plan: {run}"),
            _ => {}
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the run takes too long");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn every_writing_route_leaves_an_audit_row(db: TestDb) {
    let app = db.spawn_with_worker().await;
    let instance = labplan::app::import::parse_instance(common::FIXTURE.as_bytes()).unwrap();
    labplan::app::import::instance(&app.db, &labplan::domain::access::Caller::Operator, &instance).await.unwrap();

    let (_, doc) = app.get("/api/v1/openapi.json").await;
    let writing: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let mut walked: BTreeSet<(String, String)> = BTreeSet::new();
    let mut walk = |method: &str, route: &str| {
        walked.insert((method.to_string(), format!("/api/v1{route}")));
    };

    // The catalog, the labs and their records, the companies: the administrator.
    let region =
        json!({"code": "RU-KDA", "name": "Краснодарский край", "name_en": "Krasnodar Krai", "lat": 45.0, "lon": 39.0});
    audited(&app, Who::Admin, "post", "/api/v1/regions", region, "region").await;
    walk("post", "/regions");
    let region = json!({"name": "Краснодарский край", "name_en": "Krasnodar", "lat": 45.0, "lon": 39.0});
    audited(&app, Who::Admin, "put", "/api/v1/regions/RU-KDA", region, "region").await;
    walk("put", "/regions/{code}");
    let equipment = json!({"code": "SALT", "name": "Камера соляного тумана", "name_en": "Salt fog", "max_hours_per_test_week": 168});
    audited(&app, Who::Admin, "post", "/api/v1/equipment", equipment, "equipment").await;
    walk("post", "/equipment");
    let equipment =
        json!({"name": "Камера соляного тумана", "name_en": "Salt fog chamber", "max_hours_per_test_week": 168});
    audited(&app, Who::Admin, "put", "/api/v1/equipment/SALT", equipment, "equipment").await;
    walk("put", "/equipment/{code}");
    let test_type = json!({"code": "SALT-9227", "standard": "ISO 9227", "name": "Соляной туман", "name_en": "Salt fog", "equipment": "SALT", "hours": 96});
    audited(&app, Who::Admin, "post", "/api/v1/test-types", test_type, "test_type").await;
    walk("post", "/test-types");
    let test_type = json!({"standard": "ISO 9227", "name": "Соляной туман", "name_en": "Salt fog test", "equipment": "SALT", "hours": 120});
    audited(&app, Who::Admin, "put", "/api/v1/test-types/SALT-9227", test_type, "test_type").await;
    walk("put", "/test-types/{code}");
    audited(&app, Who::Admin, "delete", "/api/v1/test-types/SALT-9227", json!({}), "test_type").await;
    walk("delete", "/test-types/{code}");
    audited(&app, Who::Admin, "delete", "/api/v1/equipment/SALT", json!({}), "equipment").await;
    walk("delete", "/equipment/{code}");

    let lab = json!({"id": "L009", "name": "Кубанский ЦСМ", "name_en": "Kuban CSM", "region": "RU-KDA"});
    audited(&app, Who::Admin, "post", "/api/v1/labs", lab, "lab").await;
    walk("post", "/labs");
    let lab =
        json!({"name": "Кубанский ЦСМ", "name_en": "Kuban CSM", "region": "RU-KDA", "contact": "+7 861 000-00-00"});
    audited(&app, Who::Admin, "put", "/api/v1/labs/L009", lab, "lab").await;
    walk("put", "/labs/{id}");
    let scope = json!({"test_type": "EMC-R10", "valid_from": "2027-01-04"});
    audited(&app, Who::Admin, "post", "/api/v1/labs/L009/accreditations", scope, "accreditation").await;
    walk("post", "/labs/{id}/accreditations");
    let scope = json!({"valid_from": "2027-01-04", "valid_to": "2028-01-04"});
    audited(&app, Who::Admin, "put", "/api/v1/labs/L009/accreditations/EMC-R10", scope, "accreditation").await;
    walk("put", "/labs/{id}/accreditations/{test_type}");
    audited(&app, Who::Admin, "delete", "/api/v1/labs/L009/accreditations/EMC-R10", json!({}), "accreditation").await;
    walk("delete", "/labs/{id}/accreditations/{test_type}");
    let capacity = json!({"hours_per_week": 40, "price_per_hour": 4000});
    audited(&app, Who::Admin, "put", "/api/v1/labs/L009/capacity/EMC", capacity, "capacity").await;
    walk("put", "/labs/{id}/capacity/{equipment}");
    let closed = json!({"equipment": "EMC", "week_start": "2027-01-11", "hours_per_week": 0});
    audited(&app, Who::Admin, "put", "/api/v1/labs/L009/capacity-overrides", closed, "capacity_override").await;
    walk("put", "/labs/{id}/capacity-overrides");
    let path = "/api/v1/labs/L009/capacity-overrides/EMC/2027-01-11";
    audited(&app, Who::Admin, "delete", path, json!({}), "capacity_override").await;
    walk("delete", "/labs/{id}/capacity-overrides/{equipment}/{week_start}");
    audited(&app, Who::Admin, "delete", "/api/v1/labs/L009/capacity/EMC", json!({}), "capacity").await;
    walk("delete", "/labs/{id}/capacity/{equipment}");
    audited(&app, Who::Admin, "delete", "/api/v1/labs/L009", json!({}), "lab").await;
    walk("delete", "/labs/{id}");
    audited(&app, Who::Admin, "delete", "/api/v1/regions/RU-KDA", json!({}), "region").await;
    walk("delete", "/regions/{code}");

    let company = json!({"id": "C0003", "name": "ООО «Кубань-Деталь»", "region": "RU-SAM"});
    audited(&app, Who::Admin, "post", "/api/v1/companies", company, "company").await;
    walk("post", "/companies");
    let company = json!({"name": "ООО «Кубань-Деталь»", "inn": "7707083893", "region": "RU-SAM"});
    audited(&app, Who::Admin, "put", "/api/v1/companies/C0003", company, "company").await;
    walk("put", "/companies/{id}");

    // A request's life at its company.
    let filed = json!({"company": "C0001", "test_type": "EMC-R10", "samples": 1, "ready_date": "2027-01-11",
        "due_date": "2027-03-01", "priority": 1});
    let created = audited(&app, Who::Company("C0001"), "post", "/api/v1/requests", filed, "test_request").await;
    walk("post", "/requests");
    let id = created["id"].as_str().unwrap().to_string();
    // On PostgreSQL the filing and its entry are one statement that writes the new id
    // into the snapshot: the entry must still say exactly what the answer said.
    let (_, entry) = last_entry(&app).await;
    assert_eq!(entry["entity_id"], id.as_str(), "{entry}");
    assert_eq!(entry["after"], created, "{entry}");
    let patch = json!({"version": created["version"], "samples": 2});
    let patched =
        audited(&app, Who::Company("C0001"), "patch", &format!("/api/v1/requests/{id}"), patch, "test_request").await;
    walk("patch", "/requests/{id}");
    let cancel = json!({"version": patched["version"], "reason": "больше не нужно"});
    audited(&app, Who::Company("C0001"), "post", &format!("/api/v1/requests/{id}/cancel"), cancel, "test_request")
        .await;
    walk("post", "/requests/{id}/cancel");

    // Planning: start, publish, the labs' answers, a cancelled run.
    let start = json!({"horizon_start": "2027-01-04", "horizon_weeks": 12, "time_limit_seconds": 10});
    let run = audited(&app, Who::Planner, "post", "/api/v1/planning-runs", start, "planning_run").await;
    walk("post", "/planning-runs");
    let run = run["id"].as_i64().unwrap();
    wait_for_plan(&app, run).await;
    audited(&app, Who::Planner, "post", &format!("/api/v1/planning-runs/{run}/publish"), json!({}), "planning_run")
        .await;
    walk("post", "/planning-runs/{id}/publish");
    app.act_as(Who::Planner).await;
    let (_, bookings) = app.get("/api/v1/assignments?status=proposed").await;
    let bookings = bookings["items"].as_array().unwrap().clone();
    assert!(bookings.len() >= 3, "three bookings to answer: {bookings:?}");
    let (first, second) = (&bookings[0], &bookings[1]);
    let lab = |b: &Value| Who::Lab(b["lab"].as_str().unwrap().to_string());
    // Notices go to the users a company has when the change happens.
    app.token(&Who::Company("C0002")).await;
    let path = format!("/api/v1/assignments/{}/confirm", first["id"]);
    audited(&app, lab(first), "post", &path, json!({}), "test_request").await;
    walk("post", "/assignments/{id}/confirm");
    // The confirmation told the company; it reads the notice.
    let company = Who::Company(if first["company"] == "C0001" { "C0001" } else { "C0002" });
    app.act_as(company.clone()).await;
    let (_, notices) = app.get("/api/v1/notices?unread=true").await;
    let notice =
        notices["items"].as_array().unwrap().iter().find(|n| n["kind"] == "confirmed").expect("a notice").clone();
    let path = format!("/api/v1/notices/{}/read", notice["id"]);
    audited(&app, company, "post", &path, json!({}), "notice").await;
    walk("post", "/notices/{id}/read");
    let choice = json!({"email": ["completed", "declined"]});
    audited(&app, Who::Company("C0001"), "put", "/api/v1/notices/preferences", choice, "user").await;
    walk("put", "/notices/preferences");
    let path = format!("/api/v1/assignments/{}/decline", second["id"]);
    audited(&app, lab(second), "post", &path, json!({"reason": "камера на ремонте"}), "test_request").await;
    walk("post", "/assignments/{id}/decline");
    // The rest of a booking's life at its lab.
    let life = |step: &str, b: &Value| format!("/api/v1/assignments/{}/{step}", b["id"]);
    audited(&app, lab(first), "post", &life("receive", first), json!({}), "test_request").await;
    walk("post", "/assignments/{id}/receive");
    audited(&app, lab(first), "post", &life("start", first), json!({}), "test_request").await;
    walk("post", "/assignments/{id}/start");
    let completion = json!({"protocol_number": "П-1", "outcome": "passed",
        "protocol": "%PDF-1.4\n1 0 obj\n<< >>\nendobj\ntrailer\n<< >>\n%%EOF\n"});
    audited(&app, lab(first), "multipart", &life("complete", first), completion, "test_request").await;
    walk("post", "/assignments/{id}/complete");
    let third = &bookings[2];
    app.act_as(lab(third)).await;
    let (status, body) = app.post(&life("confirm", third), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reason = json!({"reason": "камера на ремонте"});
    audited(&app, lab(third), "post", &life("withdraw", third), reason, "test_request").await;
    walk("post", "/assignments/{id}/withdraw");
    let start = json!({"horizon_start": "2027-01-04", "horizon_weeks": 12, "time_limit_seconds": 600, "gap": 0});
    // The fixture is small: a run can be solved to its end before the cancel reaches it
    // (409, nothing written); then another run is started and cancelled.
    let mut cancelled = false;
    for _ in 0..5 {
        let another = audited(&app, Who::Planner, "post", "/api/v1/planning-runs", start.clone(), "planning_run").await;
        let path = format!("/api/v1/planning-runs/{}/cancel", another["id"]);
        let conflict = Some(StatusCode::CONFLICT);
        if audited_unless(&app, Who::Planner, "post", &path, json!({}), "planning_run", conflict).await.is_some() {
            cancelled = true;
            break;
        }
    }
    assert!(cancelled, "five runs in a row ended before their cancel");
    walk("post", "/planning-runs/{id}/cancel");

    // A scenario is only audited: the registry is not its to change.
    let scenario = json!({"name": "без изменений", "changes": [], "time_limit_seconds": 1});
    audited(&app, Who::Ministry, "post", "/api/v1/scenarios", scenario, "scenario").await;
    walk("post", "/scenarios");
    // A survey import: each row audited under the importing user.
    let (before, _) = last_entry(&app).await;
    app.act_as(Who::Planner).await;
    let survey = "Компания;Вид испытания;Образцов;Дата готовности;Требуемый срок;Приоритет\n\
                  C0002;EMC-R10;1;01.02.2027;01.04.2027;1\n";
    let resp = app
        .client()
        .post(app.url("/api/v1/imports/requests?file_name=survey.csv"))
        .header("content-type", "text/csv")
        .body(survey)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (after, entry) = last_entry(&app).await;
    assert!(after > before, "the import left no audit row");
    assert_eq!((entry["entity"].as_str(), entry["actor"].as_str()), (Some("test_request"), Some("planner@test.local")));
    walk("post", "/imports/requests");
    // A lab's workbook: each changed row audited under the coordinator.
    let (before, _) = last_entry(&app).await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let scope = book.add_worksheet().set_name("Scope").unwrap();
    scope.write_row(0, 0, ["Test type", "Valid from"]).unwrap();
    scope.write_row(1, 0, ["EMC-R10", "2026-01-01"]).unwrap();
    let capacity = book.add_worksheet().set_name("Capacity").unwrap();
    capacity.write_row(0, 0, ["Equipment", "Hours per week", "Price per hour"]).unwrap();
    capacity.write_string(1, 0, "EMC").unwrap();
    capacity.write_row(1, 1, [96.0, 4500.0]).unwrap();
    app.act_as(Who::Lab("L002".into())).await;
    let resp = app
        .client()
        .post(app.url("/api/v1/imports/labs/L002?file_name=L002.xlsx"))
        .body(book.save_to_buffer().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
    let (after, entry) = last_entry(&app).await;
    assert!(after > before, "the lab's import left no audit row");
    assert_eq!(entry["actor"], "l002@lab.test.local", "{entry}");
    assert_eq!(entry["after"]["import_file"], "L002.xlsx", "{entry}");
    walk("post", "/imports/labs/{id}");

    let missing: Vec<_> = writing.difference(&walked).collect();
    assert!(missing.is_empty(), "writing routes the walk does not cover: {missing:?}");
    app.stop().await;
}
