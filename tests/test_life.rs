//! The rest of a booking's life on the demo, through the API: published, confirmed,
//! samples received, testing started, completed with a PDF protocol that the company
//! downloads byte for byte; steps out of order answer 409 and change nothing; a
//! withdrawn booking sends its request back to planning; the next run leaves the
//! completed booking alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, TestDb, Who};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(a_booking_lives_from_confirmation_to_its_protocol);

/// The lab's page in a real browser (SQLite, as the other browser tests): receive, start,
/// complete with a PDF chosen in the file input, then the protocol's link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_carries_a_booking_through_its_page_in_a_browser() {
    use labplan::entities::assignments;
    use sea_orm::EntityTrait;
    let db = TestDb::create(common::Backend::Sqlite).await.expect("sqlite database");
    let app = TestApp::spawn_demo(&db.url).await;
    app.publish_demo_plan().await;
    let (_, page) = app.get("/api/v1/assignments?status=proposed&per_page=1").await;
    let booking = page["items"][0].clone();
    let id = booking["id"].as_i64().unwrap();
    let lab = Who::Lab(booking["lab"].as_str().unwrap().to_string());
    app.act_as(lab.clone()).await;
    let (status, _) = app.post(&format!("/api/v1/assignments/{id}/confirm"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let status = |id: i64| {
        let db = app.db.clone();
        async move { assignments::Entity::find_by_id(id).one(&db).await.unwrap().unwrap().status.as_str() }
    };

    let email = app.user(&lab).await;
    let mut b = common::browser::Browser::start(&app.url(""), "lab-work").await;
    b.sign_in(&email, common::PASSWORD).await;
    b.goto("/lab/work").await;
    assert_eq!(b.text("h1").await, "Испытания лаборатории");
    b.screenshot("confirmed").await;
    // Each step's page is recognised by the next step's button, not by the notice, which
    // the page before had too.
    b.click(&format!("#receive-{id}")).await;
    b.wait_for(&format!("#start-{id}")).await;
    assert_eq!(status(id).await, "received");
    b.click(&format!("#start-{id}")).await;
    b.wait_for(&format!("#complete-{id}")).await;
    assert_eq!(status(id).await, "in_testing");

    // No protocol number: refused next to the field, nothing changes.
    b.click(&format!("#complete-{id}")).await;
    b.wait_for(&format!("#protocol-number-{id}-error")).await;
    assert_eq!(status(id).await, "in_testing");
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("protocol.pdf");
    std::fs::write(&pdf, protocol_pdf()).unwrap();
    b.fill(&format!("#protocol-number-{id}"), "П-21").await;
    b.find(&format!("#protocol-{id}")).await.send_keys(pdf.to_str().unwrap()).await.expect("choose the file");
    b.screenshot("completing").await;
    b.click(&format!("#complete-{id}")).await;
    b.wait_for(&format!("a#protocol-{id}")).await;
    assert_eq!(status(id).await, "completed");
    assert!(b.exists("#notice").await);
    b.screenshot("completed").await;
    b.close().await;
    app.stop().await;
}

/// A small PDF with every byte value in it, so that the round trip is checked for binary.
fn protocol_pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    pdf.extend(0u8..=255);
    pdf.extend_from_slice(b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n");
    pdf
}

async fn load_demo(app: &TestApp) {
    let instance = labplan::app::import::parse_instance(labplan::demo::BUNDLED).unwrap();
    labplan::app::import::instance(&app.db, &labplan::domain::access::Caller::Operator, &instance).await.unwrap();
}

/// Starts a short run as the planner, waits for its plan and publishes it.
async fn plan_and_publish(app: &TestApp) -> i64 {
    app.act_as(Who::Planner).await;
    let (status, run) = app.post("/api/v1/planning-runs", &json!({"time_limit_seconds": 5})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_i64().unwrap();
    let started = Instant::now();
    loop {
        let (_, run) = app.get(&format!("/api/v1/planning-runs/{id}")).await;
        match run["status"].as_str() {
            Some("succeeded") => break,
            Some("failed" | "cancelled") => panic!("the run ended without a plan: {run}"),
            _ => {}
        }
        assert!(started.elapsed() < Duration::from_secs(180), "the run takes too long");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (status, body) = app.post(&format!("/api/v1/planning-runs/{id}/publish"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}

async fn complete(app: &TestApp, id: i64, number: &str, outcome: &str, pdf: Option<Vec<u8>>) -> (StatusCode, Value) {
    let mut form = reqwest::multipart::Form::new()
        .text("protocol_number", number.to_string())
        .text("completed_on", chrono::Utc::now().date_naive().to_string())
        .text("outcome", outcome.to_string())
        .text("note", "образцы возвращены");
    if let Some(pdf) = pdf {
        let part =
            reqwest::multipart::Part::bytes(pdf).file_name("протокол 17.pdf").mime_str("application/pdf").unwrap();
        form = form.part("protocol", part);
    }
    let resp = app.client().post(app.url(&format!("/api/v1/assignments/{id}/complete"))).multipart(form).send().await;
    let resp = resp.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The booking and its request as oversight sees them, and how many audit rows there are.
async fn state_of(app: &TestApp, booking: i64, request: &str) -> (Value, Value, u64) {
    app.act_as(Who::Admin).await;
    let (status, b) = app.get(&format!("/api/v1/assignments/{booking}")).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let (status, r) = app.get(&format!("/api/v1/requests/{request}")).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let audit = app.total("/api/v1/audit?per_page=1").await;
    (b, r, audit)
}

/// A step that must be refused: 409, and the booking, its request and the log unchanged.
async fn refused(app: &TestApp, lab: &Who, booking: i64, request: &str, step: &str) {
    app.token(lab).await;
    let before = state_of(app, booking, request).await;
    app.act_as(lab.clone()).await;
    let (status, body) = match step {
        "complete" => complete(app, booking, "П-1", "passed", Some(protocol_pdf())).await,
        "withdraw" => app.post(&format!("/api/v1/assignments/{booking}/withdraw"), &json!({"reason": "нет"})).await,
        step => app.post(&format!("/api/v1/assignments/{booking}/{step}"), &json!({})).await,
    };
    assert_eq!(status, StatusCode::CONFLICT, "{step} of {booking}: {body}");
    assert_eq!(state_of(app, booking, request).await, before, "a refused {step} changed something");
}

/// A page session for `who` (the user is made on first use).
async fn session(app: &TestApp, who: &Who) -> String {
    let email = app.user(who).await;
    common::web::session(app, &email, common::PASSWORD).await
}

async fn page_get(app: &TestApp, cookie: &str, path: &str) -> String {
    let resp = common::web::client().get(app.url(path)).header("cookie", cookie).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
    resp.text().await.unwrap()
}

/// Posts a page's form; it must succeed and send the browser back to the page.
async fn page_post(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) {
    let resp = common::web::client().post(app.url(path)).header("cookie", cookie).form(form).send().await.unwrap();
    let status = resp.status();
    assert_eq!(status, StatusCode::SEE_OTHER, "POST {path}: {}", resp.text().await.unwrap());
}

async fn a_booking_lives_from_confirmation_to_its_protocol(db: TestDb) {
    let app = db.spawn_with_worker().await;
    load_demo(&app).await;
    let first_run = plan_and_publish(&app).await;

    let (_, page) = app.get("/api/v1/assignments?status=proposed&per_page=3").await;
    let picks = page["items"].as_array().unwrap().clone();
    assert_eq!(picks.len(), 3, "{page}");
    let booking = picks[0]["id"].as_i64().unwrap();
    let request = picks[0]["request"].as_str().unwrap().to_string();
    let lab = Who::Lab(picks[0]["lab"].as_str().unwrap().to_string());
    let company: &'static str = Box::leak(picks[0]["company"].as_str().unwrap().to_string().into_boxed_str());
    // The company's user exists before the steps, so their notices reach it.
    app.token(&Who::Company(company)).await;

    // Nothing before confirmation.
    for step in ["receive", "start", "complete"] {
        refused(&app, &lab, booking, &request, step).await;
    }
    app.act_as(lab.clone()).await;
    let (status, body) = app.post(&format!("/api/v1/assignments/{booking}/confirm"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for step in ["start", "complete"] {
        refused(&app, &lab, booking, &request, step).await;
    }

    // Received: today unless the lab says otherwise; never a day in the future.
    app.act_as(lab.clone()).await;
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    let (status, _) =
        app.post(&format!("/api/v1/assignments/{booking}/receive"), &json!({"received_on": tomorrow})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let resp = app.client().post(app.url(&format!("/api/v1/assignments/{booking}/receive"))).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let received: Value = resp.json().await.unwrap();
    assert_eq!(received["status"], "received");
    assert_eq!(received["request_status"], "confirmed");
    assert_eq!(received["received_on"], chrono::Utc::now().date_naive().to_string());
    for step in ["receive", "complete"] {
        refused(&app, &lab, booking, &request, step).await;
    }

    // Started: the request is in testing.
    app.act_as(lab.clone()).await;
    let (status, started) = app.post(&format!("/api/v1/assignments/{booking}/start"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["status"], "in_testing");
    assert_eq!(started["request_status"], "in_testing");
    refused(&app, &lab, booking, &request, "start").await;

    // Completed: a file that is not a PDF, or no outcome, is refused and nothing changes.
    let before = state_of(&app, booking, &request).await;
    app.act_as(lab.clone()).await;
    let (status, body) = complete(&app, booking, "П-17", "passed", Some(b"just text".to_vec())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "protocol", "{body}");
    let (status, body) = complete(&app, booking, "П-17", "maybe", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app.post(&format!("/api/v1/assignments/{booking}/complete"), &json!({})).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(state_of(&app, booking, &request).await, before);
    // Another lab cannot see it, let alone complete it.
    let other = Who::Lab(if picks[0]["lab"] == "L001" { "L002" } else { "L001" }.to_string());
    app.act_as(other.clone()).await;
    let (status, _) = complete(&app, booking, "П-17", "passed", Some(protocol_pdf())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    app.act_as(lab.clone()).await;
    let (status, done) = complete(&app, booking, "П-17", "passed", Some(protocol_pdf())).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["request_status"], "completed");
    assert_eq!(done["protocol_number"], "П-17");
    assert_eq!(done["outcome"], "passed");
    assert_eq!(done["protocol"]["size"], protocol_pdf().len());
    assert_eq!(done["protocol"]["file_name"], "протокол 17.pdf");
    for step in ["receive", "start", "complete", "withdraw"] {
        refused(&app, &lab, booking, &request, step).await;
    }

    // The company sees the request completed and downloads the same bytes.
    app.act_as(Who::Company(company)).await;
    let (_, seen) = app.get(&format!("/api/v1/requests/{request}")).await;
    assert_eq!(seen["status"], "completed", "{seen}");
    let (status, seen) = app.get(&format!("/api/v1/assignments/{booking}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(seen["status"], "completed");
    assert_eq!(seen["late"], false);
    let href = seen["protocol"]["href"].as_str().unwrap().to_string();
    let resp = app.client().get(app.url(&href)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), protocol_pdf());
    // Its lab, the planner and the ministry may read it too; another company or lab may not.
    for who in [lab.clone(), Who::Planner, Who::Ministry] {
        app.act_as(who.clone()).await;
        let resp = app.client().get(app.url(&href)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{who:?}");
    }
    let stranger = if company == "C0001" { "C0002" } else { "C0001" };
    for who in [Who::Company(stranger), other] {
        app.act_as(who.clone()).await;
        let resp = app.client().get(app.url(&href)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{who:?}");
    }

    // Each step the company should know of left it a notice, in the step's transaction.
    app.act_as(Who::Company(company)).await;
    let (status, notices) = app.get("/api/v1/notices?unread=true").await;
    assert_eq!(status, StatusCode::OK, "{notices}");
    let kinds: Vec<&str> = notices["items"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    for kind in ["confirmed", "received", "completed"] {
        assert!(kinds.contains(&kind), "no {kind} notice: {notices}");
    }
    let unread = notices["total"].as_u64().unwrap();
    let first_notice = notices["items"][0]["id"].as_i64().unwrap();
    let company_cookie = session(&app, &Who::Company(company)).await;
    let html = page_get(&app, &company_cookie, "/notices").await;
    assert!(html.contains(&format!("id=\"unread-count\">{unread}<")), "{html}");
    // The e-mail choice on the same page: only completed tests by e-mail.
    let csrf = common::web::hidden_csrf(&html);
    page_post(&app, &company_cookie, "/notices/preferences", &[("csrf", &csrf), ("email", "completed")]).await;
    app.act_as(Who::Company(company)).await;
    let (_, choice) = app.get("/api/v1/notices/preferences").await;
    assert_eq!(choice["email"], json!(["completed"]));
    let html = page_get(&app, &company_cookie, "/notices").await;
    assert!(html.contains("id=\"mail-completed\" checked") && !html.contains("id=\"mail-declined\" checked"));
    app.act_as(Who::Planner).await;
    let (status, _) = app.post(&format!("/api/v1/notices/{first_notice}/read"), &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another user's notice");
    let (_, planner_notices) = app.get("/api/v1/notices").await;
    assert!(
        planner_notices["items"].as_array().unwrap().iter().any(|n| n["kind"] == "run_finished"),
        "{planner_notices}"
    );
    app.act_as(Who::Company(company)).await;
    let (status, read) = app.post(&format!("/api/v1/notices/{first_notice}/read"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert!(read["read_at"].is_string());
    assert_eq!(app.total("/api/v1/notices?unread=true").await, unread - 1);

    // The ministry's progress: one completed test; the dashboard page shows the same figures.
    app.act_as(Who::Ministry).await;
    let (status, progress) = app.get("/api/v1/dashboard/progress").await;
    assert_eq!(status, StatusCode::OK, "{progress}");
    assert_eq!(progress["totals"]["completed"], 1, "{progress}");
    assert_eq!(progress["totals"]["in_testing"], 0, "{progress}");
    let months = progress["months"].as_array().unwrap();
    assert_eq!(months.iter().map(|m| m["completed"].as_u64().unwrap()).sum::<u64>(), 1);
    assert_eq!(
        months.iter().map(|m| m["filed"].as_u64().unwrap()).sum::<u64>(),
        progress["totals"]["filed"].as_u64().unwrap()
    );
    let (status, filtered) =
        app.get(&format!("/api/v1/dashboard/progress?test_type={}", picks[0]["test_type"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(filtered["totals"]["completed"], 1);
    let (status, _) = app.get("/api/v1/dashboard/progress?region=XX-NONE").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let resp = app.client().get(app.url("/api/v1/dashboard/progress?format=csv")).send().await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let api_csv = resp.text().await.unwrap();
    let ministry = session(&app, &Who::Ministry).await;
    let page_csv = page_get(&app, &ministry, "/dashboard/progress.csv").await;
    let rows = |csv: &str| csv.trim_start_matches('\u{feff}').lines().skip(1).map(str::to_string).collect::<Vec<_>>();
    assert_eq!(rows(&page_csv), rows(&api_csv), "the page's progress differs from the API's");
    let html = page_get(&app, &ministry, "/dashboard").await;
    assert!(html.contains(&format!("id=\"progress-completed\">{}<", progress["totals"]["completed"])), "{html}");
    assert!(html.contains(&format!("id=\"progress-late\">{}<", progress["totals"]["late"])));

    // A second booking is withdrawn after its samples came: its request goes back to planning.
    let second = picks[1]["id"].as_i64().unwrap();
    let second_request = picks[1]["request"].as_str().unwrap().to_string();
    let second_lab = Who::Lab(picks[1]["lab"].as_str().unwrap().to_string());
    app.act_as(second_lab.clone()).await;
    let (status, _) = app.post(&format!("/api/v1/assignments/{second}/confirm"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.post(&format!("/api/v1/assignments/{second}/receive"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.post(&format!("/api/v1/assignments/{second}/withdraw"), &json!({"reason": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, withdrawn) =
        app.post(&format!("/api/v1/assignments/{second}/withdraw"), &json!({"reason": "камера сломалась"})).await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    assert_eq!(withdrawn["status"], "withdrawn");
    assert_eq!(withdrawn["request_status"], "submitted");
    refused(&app, &second_lab, second, &second_request, "start").await;

    // A third booking goes through the lab's page: its forms, the CSRF token, the PDF.
    let third = picks[2]["id"].as_i64().unwrap();
    let third_request = picks[2]["request"].as_str().unwrap().to_string();
    let third_lab = Who::Lab(picks[2]["lab"].as_str().unwrap().to_string());
    app.act_as(third_lab.clone()).await;
    let (status, _) = app.post(&format!("/api/v1/assignments/{third}/confirm"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let cookie = session(&app, &third_lab).await;
    let html = page_get(&app, &cookie, "/lab/work").await;
    assert!(html.contains(&format!("id=\"receive-{third}\"")), "no receive button: {html}");
    let csrf = common::web::hidden_csrf(&html);
    let today = chrono::Utc::now().date_naive().to_string();
    page_post(&app, &cookie, &format!("/lab/work/{third}/receive"), &[("csrf", &csrf), ("received_on", &today)]).await;
    page_post(&app, &cookie, &format!("/lab/work/{third}/start"), &[("csrf", &csrf)]).await;
    // Without the token nothing happens.
    let form = reqwest::multipart::Form::new().text("protocol_number", "П-18").text("outcome", "failed");
    let resp = common::web::client()
        .post(app.url(&format!("/lab/work/{third}/complete")))
        .header("cookie", &cookie)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let part =
        reqwest::multipart::Part::bytes(protocol_pdf()).file_name("p18.pdf").mime_str("application/pdf").unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("protocol_number", "П-18")
        .text("completed_on", today.clone())
        .text("outcome", "failed")
        .text("note", "")
        .part("protocol", part);
    let resp = common::web::client()
        .post(app.url(&format!("/lab/work/{third}/complete")))
        .header("cookie", &cookie)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{}", resp.text().await.unwrap());
    let (done, _, _) = state_of(&app, third, &third_request).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["outcome"], "failed");
    assert_eq!(done["received_on"], today.as_str());
    let html = page_get(&app, &cookie, "/lab/work").await;
    assert!(html.contains(&format!("href=\"/bookings/{third}/protocol\"")), "{html}");
    // Its timeline row draws the planned weeks and, below them, the weeks it really took.
    let row = html.split(&format!("id=\"booking-{third}\"")).nth(1).unwrap().split("</tr>").next().unwrap();
    assert!(row.contains("class=\"life-bar\""), "{row}");
    assert!(row.contains("y=\"2\"") && row.contains("y=\"12\""), "planned and actual bars: {row}");
    assert!(row.contains(&format!("— {}", done["completed_on"].as_str().unwrap())), "{row}");
    // The company sees the steps on its request's page and downloads the protocol there.
    let third_company: &'static str = Box::leak(picks[2]["company"].as_str().unwrap().to_string().into_boxed_str());
    let company_cookie = session(&app, &Who::Company(third_company)).await;
    let html = page_get(&app, &company_cookie, &format!("/requests/{third_request}")).await;
    assert!(html.contains("П-18"), "{html}");
    let resp = common::web::client()
        .get(app.url(&format!("/bookings/{third}/protocol")))
        .header("cookie", &company_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().to_vec(), protocol_pdf());

    // A confirmed booking whose planned end has passed is late: flagged on its lab's page,
    // listed on the ministry's, counted in the progress figures.
    let (_, page) = app.get("/api/v1/assignments?status=proposed&per_page=1").await;
    let fourth = page["items"][0]["id"].as_i64().unwrap();
    let fourth_lab = Who::Lab(page["items"][0]["lab"].as_str().unwrap().to_string());
    app.act_as(fourth_lab.clone()).await;
    let (status, _) = app.post(&format!("/api/v1/assignments/{fourth}/confirm"), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let planned_weeks = {
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let row = labplan::entities::assignments::Entity::find_by_id(fourth).one(&app.db).await.unwrap().unwrap();
        let planned = (row.start_date, row.end_date);
        let mut late: labplan::entities::assignments::ActiveModel = row.into();
        let today = chrono::Utc::now().date_naive();
        late.start_date = Set(today - chrono::Days::new(17));
        late.end_date = Set(today - chrono::Days::new(10));
        late.update(&app.db).await.unwrap();
        planned
    };
    app.act_as(Who::Ministry).await;
    let (_, progress) = app.get("/api/v1/dashboard/progress").await;
    assert_eq!(progress["totals"]["late"], 1, "{progress}");
    let lab_cookie = session(&app, &fourth_lab).await;
    let html = page_get(&app, &lab_cookie, "/lab/work").await;
    assert!(html.contains(&format!("id=\"late-{fourth}\"")), "the lab's page flags the late booking");
    let html = page_get(&app, &ministry, "/dashboard").await;
    assert!(html.contains("id=\"late-bookings\""), "the ministry's page lists late bookings");
    assert!(html.contains(&format!("data-booking=\"{fourth}\"")), "the late booking is listed");
    assert!(html.contains("id=\"progress-late\">1<"));
    {
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let row = labplan::entities::assignments::Entity::find_by_id(fourth).one(&app.db).await.unwrap().unwrap();
        let mut back: labplan::entities::assignments::ActiveModel = row.into();
        (back.start_date, back.end_date) = (Set(planned_weeks.0), Set(planned_weeks.1));
        back.update(&app.db).await.unwrap();
    }
    let html = page_get(&app, &ministry, "/dashboard").await;
    assert!(html.contains("id=\"late-none\""), "nothing late once its end is ahead again");

    // The next run: the completed request is not in its input, its booking is untouched;
    // the withdrawn one is planned again, never at the lab that gave it up.
    let (before, _, _) = state_of(&app, booking, &request).await;
    let next_run = plan_and_publish(&app).await;
    assert_ne!(next_run, first_run);
    let (_, instance) = app.get(&format!("/api/v1/planning-runs/{next_run}/instance")).await;
    let requests = instance["requests"].as_array().unwrap();
    assert!(requests.iter().all(|r| r["id"] != request.as_str()), "a completed request was planned again");
    let again = requests.iter().find(|r| r["id"] == second_request.as_str()).expect("the withdrawn request");
    let Who::Lab(second_lab_id) = &second_lab else { unreachable!() };
    assert!(again["excluded_labs"].as_array().unwrap().iter().any(|l| l == second_lab_id.as_str()), "{again}");
    assert!(instance["pinned"].as_array().unwrap().iter().all(|p| p["request"] != request.as_str()));
    let (after, seen, _) = state_of(&app, booking, &request).await;
    assert_eq!(after, before, "the next run touched a completed booking");
    assert_eq!(seen["status"], "completed");
    app.act_as(Who::Planner).await;
    let (_, of_request) = app.get(&format!("/api/v1/assignments?request={request}&run={next_run}")).await;
    assert_eq!(of_request["total"], 0, "{of_request}");
    app.stop().await;
}
