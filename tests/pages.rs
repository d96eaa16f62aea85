//! The pages in a real browser (headless chromium through chromedriver) against a real
//! server with the demo data: one test per role walking its main flow, saving a
//! screenshot of each page under target/browser-screenshots.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::browser::Browser;
use common::{Backend, PASSWORD, TestApp, TestDb, Who};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

async fn demo_app() -> (TestDb, TestApp) {
    let db = TestDb::create(Backend::Sqlite).await.expect("sqlite database");
    let app = TestApp::spawn_demo(&db.url).await;
    (db, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn company_files_a_request_and_sees_it() {
    let (_db, app) = demo_app().await;
    let email = app.user(&Who::Company("C0001")).await;
    let mut b = Browser::start(&app.url(""), "company").await;

    // Signing in from a deep link comes back to it.
    b.goto("/requests/new").await;
    assert!(b.path().await.starts_with("/login?next="), "unsigned users are sent to sign in");
    assert_eq!(b.lang().await, "ru");
    b.fill("#email", &email).await;
    b.fill("#password", PASSWORD).await;
    b.click("#sign-in").await;
    b.wait_for("#request-form").await;
    assert!(b.text("#current-user").await.contains("C0001"));

    // My requests: the demo's six for C0001, in Russian, sortable.
    b.goto("/requests").await;
    assert_eq!(b.text("h1").await, "Мои заявки на испытания");
    let before = b.all("#requests-table tbody tr").await.len();
    assert_eq!(before, 6, "C0001 files six requests in the demo");
    b.screenshot("requests").await;
    b.click("#requests-table th:nth-child(5) a").await; // by due date
    b.wait_for("#requests-table th[aria-sort='ascending']").await;

    // The form: a mistake is shown next to its field and nothing typed is lost.
    b.goto("/requests/new").await;
    b.fill("#picker-search", "R10").await;
    let visible: Vec<String> = {
        let mut codes = Vec::new();
        for label in b.all("#picker-list label[data-search]").await {
            if label.is_displayed().await.unwrap() {
                codes.push(label.text().await.unwrap());
            }
        }
        codes
    };
    assert!(!visible.is_empty() && visible.iter().all(|t| t.contains("R10")), "the picker filters: {visible:?}");
    assert!(visible[0].contains("ч"), "the picker shows hours and equipment: {}", visible[0]);
    b.click("#picker-list label[data-search]:not([hidden]) input").await;
    let chosen = b.find("#picker-list input:checked").await.attr("value").await.unwrap().unwrap();
    b.fill("#f-samples", "3").await;
    b.set_value("#f-ready_date", "2027-03-01").await;
    b.set_value("#f-due_date", "2027-02-01").await;
    b.fill("#f-external_ref", "ВН-2027-001").await;
    b.click("#submit-request").await;
    let error = b.text("#f-due_date-error").await;
    assert_eq!(error, "Срок не может быть раньше готовности образцов.");
    assert_eq!(b.attr("#f-due_date", "aria-invalid").await.as_deref(), Some("true"));
    assert_eq!(b.value("#f-samples").await, "3");
    assert_eq!(b.value("#f-external_ref").await, "ВН-2027-001");
    assert_eq!(b.value("#f-ready_date").await, "2027-03-01");
    let still = b.find("#picker-list input:checked").await.attr("value").await.unwrap().unwrap();
    assert_eq!(still, chosen, "the chosen test type is kept");
    assert!(b.text("#picker-chosen").await.contains(&chosen), "and named above the list");
    b.screenshot("request-form-error").await;

    // Corrected, it is filed and shown with its history.
    b.set_value("#f-due_date", "2027-05-31").await;
    b.click("#submit-request").await;
    b.wait_for("#notice").await;
    let id = b.text("#request-id").await;
    assert!(b.text("#history").await.contains("создание"));
    b.screenshot("request-detail").await;
    b.goto("/requests").await;
    assert_eq!(b.all("#requests-table tbody tr").await.len(), before + 1);
    assert!(b.exists(&format!("#requests-table tr[data-request='{id}']")).await);
    let stored = labplan::entities::test_requests::Entity::find_by_id(id.as_str()).one(&app.db).await.unwrap().unwrap();
    assert_eq!((stored.company.as_str(), stored.test_type.as_str(), stored.samples), ("C0001", chosen.as_str(), 3));

    // Excluding a lab, then cancelling, from the detail page.
    b.goto(&format!("/requests/{id}")).await;
    b.click("#exclude-details summary").await;
    b.click("#exclude-form input[value='L001']").await;
    b.click("#save-exclusions").await;
    b.wait_for("#notice").await;
    assert!(b.text("#excluded-labs").await.contains("L001"));
    b.fill("#f-reason", "перенос сроков").await;
    b.click("#cancel-request").await;
    b.wait_for("#notice").await;
    assert_eq!(b.text("#request-status").await, "отменена");

    // English after the switch, on this page and the next.
    b.click("#lang-en").await;
    b.wait_for("html[lang='en']").await;
    assert_eq!(b.text("#request-status").await, "cancelled");
    b.goto("/requests").await;
    assert_eq!(b.text("h1").await, "My test requests");
    b.screenshot("requests-en").await;
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn company_cannot_open_another_company_request() {
    let (_db, app) = demo_app().await;
    let email = app.user(&Who::Company("C0001")).await;
    let other = labplan::entities::test_requests::Entity::find()
        .filter(labplan::entities::test_requests::Column::Company.ne("C0001"))
        .order_by_asc(labplan::entities::test_requests::Column::Id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut b = Browser::start(&app.url(""), "company-other").await;
    b.sign_in(&email, PASSWORD).await;
    b.goto(&format!("/requests/{}", other.id)).await;
    assert_eq!(b.text("#error-message").await, "Страница не найдена или недоступна вам.");
    let body = b.body().await;
    assert!(!body.contains(&other.company) && !body.contains(&other.test_type), "nothing of it is shown");
    b.screenshot("other-company-request").await;
    // Nor open another role's pages.
    b.goto("/planning").await;
    assert!(b.text("#error-message").await.contains("нет доступа"));
    b.close().await;
    app.stop().await;
}

/// A run spread over the workers, started from the form: its page lists the parts, who
/// solved each and their bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planner_spreads_a_run_over_the_workers() {
    let (_db, app) = demo_app().await;
    let email = app.user(&Who::Planner).await;
    let mut b = Browser::start(&app.url(""), "planner-spread").await;
    b.sign_in(&email, PASSWORD).await;
    b.fill("#f-time_limit_seconds", "4").await;
    b.click("#f-spread-parts").await;
    b.click("#start-run-button").await;
    b.wait_for("#run-status").await;
    assert!(b.wait_until("return document.getElementById('objective') !== null", 120).await, "the run ends");
    assert_eq!(b.text("#run-status").await, "готов");
    let rows = b.all("#parts tbody tr").await;
    assert!(rows.len() >= 2, "the demo splits into parts");
    let table = b.text("#parts").await;
    assert_eq!(table.matches("решена").count(), rows.len(), "{table}");
    b.screenshot("run-parts").await;
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planner_runs_and_publishes_a_plan() {
    let (_db, app) = demo_app().await;
    let email = app.user(&Who::Planner).await;
    let mut b = Browser::start(&app.url(""), "planner").await;
    b.sign_in(&email, PASSWORD).await;
    assert_eq!(b.path().await, "/planning", "a planner starts on the planning page");
    assert_eq!(b.text("h1").await, "Планирование");

    // A bad value is refused next to its field, with what was typed kept.
    b.fill("#f-time_limit_seconds", "0").await;
    b.click("#start-run-button").await;
    assert_eq!(b.text("#f-time_limit_seconds-error").await, "Введите число от 1 до 3600 секунд.");
    assert_eq!(b.value("#f-time_limit_seconds").await, "0");
    assert!(b.all("#runs tbody tr").await.is_empty(), "nothing was started");

    // Long enough to watch its progress arrive from the event stream.
    b.fill("#f-time_limit_seconds", "20").await;
    b.fill("#f-gap_percent", "1").await;
    b.screenshot("planning").await;
    b.click("#start-run-button").await;
    b.wait_for("#run-status").await;
    assert!(b.path().await.starts_with("/planning/runs/"));
    // Live progress while it runs; the page reloads itself with the result.
    b.wait_for("#progress").await;
    let live = "const f = n => document.querySelector(`#progress [data-field=${n}]`); \
                return !!f('parts') && f('parts').textContent.includes('/') && f('best_objective').textContent !== '—' \
                && f('status').textContent === 'идёт расчёт';";
    assert!(b.wait_until(live, 60).await, "parts solved and the best plan so far arrive while the run is running");
    b.screenshot("run-progress").await;
    assert!(b.wait_until("return document.getElementById('objective') !== null", 180).await, "the run ends");
    b.screenshot("run-result").await;
    assert_eq!(b.text("#run-status").await, "готов");
    assert!(b.exists("#no-published").await, "nothing was published before");
    let placed: usize = b.text("#diff-new").await.parse().unwrap();
    assert!(placed > 1000, "most of the 1300 demo requests are placed: {placed}");

    b.click("#publish").await;
    b.wait_for("#published").await;
    b.screenshot("run-published").await;
    let published = labplan::db::runs::published(&app.db).await.unwrap().expect("a published run");
    assert!(b.path().await.ends_with(&format!("/planning/runs/{}", published.id)));
    b.goto("/planning").await;
    assert!(b.text("#runs").await.contains("опубликован"));
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ministry_dashboard_shows_its_charts() {
    let (_db, app) = demo_app().await;
    let email = app.user(&Who::Ministry).await;
    app.publish_demo_plan().await;
    let mut b = Browser::start(&app.url(""), "ministry").await;
    b.sign_in(&email, PASSWORD).await;
    assert_eq!(b.path().await, "/dashboard", "the ministry starts on its dashboard");
    assert_eq!(b.lang().await, "ru");
    assert_eq!(b.text("h1").await, "Спрос и мощности испытательных лабораторий");
    assert!(!b.exists("#no-plan").await, "a plan is published");

    // Every chart is drawn, and each has its table and its CSV.
    let charts = b.all("[data-chart]").await.len();
    assert_eq!(charts, 7, "demand ×2, unmet ×2, heatmap, capacity, progress");
    let drawn = format!("return document.querySelectorAll('[data-chart][data-rendered=true]').length === {charts}");
    assert!(b.wait_until(&drawn, 20).await, "every chart is rendered");
    for id in [
        "demand_equipment",
        "demand_region",
        "unmet_region",
        "unmet_test_type",
        "heatmap",
        "capacity_helps",
        "progress",
    ] {
        assert!(b.exists(&format!("#block-{id} [data-chart]")).await, "{id} has a chart");
        assert!(b.exists(&format!("#table-{id} tbody tr")).await, "{id} has a table with rows");
        let href = b.attr(&format!("#csv-{id}"), "href").await.expect("a CSV link");
        let script = format!(
            "return fetch('{href}').then(r => r.arrayBuffer().then(b => [r.status, r.headers.get('content-type'), \
             Array.from(new Uint8Array(b).slice(0, 3)), new TextDecoder().decode(b)]))"
        );
        let answer = b.client.execute(&script, vec![]).await.expect("fetch the CSV");
        assert_eq!(answer[0], 200, "{href}");
        assert!(answer[1].as_str().unwrap().starts_with("text/csv"), "{href}: {answer}");
        assert_eq!(answer[2], serde_json::json!([0xEF, 0xBB, 0xBF]), "{href} starts with a BOM");
        let body = answer[3].as_str().unwrap();
        assert!(body.lines().count() > 1, "{href} has rows");
    }
    let csv =
        b.client.execute("return fetch('/dashboard/demand-equipment.csv').then(r => r.text())", vec![]).await.unwrap();
    assert!(csv.as_str().unwrap().contains("Спрос, ч"), "the CSV header is in the page's language");
    assert!(b.text("#helps-note").await.contains("оценка первого порядка"));
    b.screenshot("dashboard").await;

    // The heatmap of another equipment class.
    let chosen = b.value("#heatmap-equipment").await;
    let other = if chosen == "EMC" { "CLIM" } else { "EMC" };
    b.find("#heatmap-equipment").await.select_by_value(other).await.unwrap();
    b.click("#heatmap-show").await;
    assert!(b.wait_until(&format!("return location.search.indexOf('equipment={other}') >= 0"), 20).await);
    assert_eq!(b.value("#heatmap-equipment").await, other);
    assert!(b.text("#h-heatmap").await.contains(other));
    assert!(b.wait_until(&drawn, 20).await, "every chart is rendered again");
    b.screenshot("dashboard-heatmap").await;

    // The full page for the README.
    b.client.set_window_size(1366, 3250).await.unwrap();
    b.goto("/dashboard").await;
    assert!(b.wait_until(&drawn, 20).await);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let shot = b.screenshot("dashboard-full").await;
    common::browser::update_docs_screenshot(&shot, "ministry-dashboard.png");
    b.client.set_window_size(1366, 900).await.unwrap();

    // In English.
    b.click("#lang-en").await;
    assert!(b.wait_until("return document.documentElement.lang === 'en'", 20).await);
    assert_eq!(b.text("h1").await, "Test demand and lab capacity");
    assert_eq!(b.text("#demand").await, "Demand and capacity");
    assert_eq!(b.text("#helps").await, "Where new capacity helps most");
    assert!(b.wait_until(&drawn, 20).await);
    b.screenshot("dashboard-en").await;

    // From the capacity ranking to a solved scenario and its comparison.
    b.click("#lang-ru").await;
    assert!(b.wait_until("return document.documentElement.lang === 'ru'", 20).await);
    let first = "#try-in-scenario li:first-child a";
    let (lab, equipment) = (b.attr(first, "data-lab").await.unwrap(), b.attr(first, "data-equipment").await.unwrap());
    let ranked = b.find("#table-capacity_helps tbody tr:first-child th").await.prop("textContent").await.unwrap();
    let ranked = ranked.unwrap_or_default();
    assert!(ranked.starts_with(&lab), "the first link is the first ranked pair: {ranked}");
    b.click(first).await;
    assert!(b.wait_until("return location.pathname === '/scenarios'", 20).await);
    assert_eq!(b.text("h1").await, "Сценарии «что если»");
    assert_eq!(b.value("#f-cap_lab").await, lab, "the form starts from the ranked pair");
    assert_eq!(b.value("#f-cap_equipment").await, equipment);
    assert_eq!(b.value("#f-cap_hours").await, "40");
    assert!(b.find("#f-use_capacity").await.is_selected().await.unwrap());
    b.screenshot("scenario-new").await;

    // Hours beyond the rule are refused on the form, which keeps what was typed.
    b.fill("#f-cap_hours", "99999").await;
    b.fill("#f-time_limit_seconds", "5").await;
    b.click("#create-scenario").await;
    assert!(b.wait_until("return document.querySelector('#f-cap_hours-error') !== null", 20).await);
    assert_eq!(b.value("#f-cap_hours").await, "99999");
    assert_eq!(b.value("#f-cap_lab").await, lab);
    b.fill("#f-cap_hours", "40").await;
    b.click("#create-scenario").await;
    assert!(b.wait_until("return location.pathname === '/scenarios/compare'", 20).await);
    assert_eq!(b.text("h1").await, "Сравнение сценариев");
    // The page refreshes itself until both plans are solved.
    assert!(b.wait_until("return document.querySelector('#pending') === null", 120).await, "the scenario is solved");
    let headers = b.all("#summary thead th").await.len();
    assert_eq!(headers, 3, "a label column, the baseline and the scenario");
    assert!(b.text("#summary thead").await.contains("Базовый вариант"));
    assert!(b.exists("#estimates tbody tr").await, "the estimate beside the exact figure");
    let estimate = b.text("#estimates tbody tr td:nth-of-type(1)").await;
    let exact = b.text("#estimates tbody tr td:nth-of-type(2)").await;
    assert!(!estimate.is_empty() && exact != "—", "{estimate} / {exact}");
    let compared = b.all("[data-chart]").await.len();
    assert!(compared >= 4, "unmet and late by region and class, cost, utilisation: {compared}");
    let drawn = format!("return document.querySelectorAll('[data-chart][data-rendered=true]').length === {compared}");
    assert!(b.wait_until(&drawn, 20).await, "every comparison chart is rendered");
    let href = b.attr("#csv-by_region", "href").await.expect("a CSV of the comparison");
    let csv = b.client.execute(&format!("return fetch('{href}').then(r => r.text())"), vec![]).await.unwrap();
    let csv = csv.as_str().unwrap();
    assert!(csv.lines().count() > 2 && csv.contains("Базовый вариант"), "{csv}");
    // The same table as a workbook, its numbers as numbers.
    let href = b.attr("#xlsx-by_region", "href").await.expect("an XLSX of the comparison");
    let fetch = format!("return fetch('{href}').then(r => r.arrayBuffer()).then(b => Array.from(new Uint8Array(b)))");
    let bytes = b.client.execute(&fetch, vec![]).await.unwrap();
    let bytes: Vec<u8> = bytes.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = calamine::Reader::worksheet_range_at(&mut book, 0).unwrap().unwrap();
    let mut rows = sheet.rows();
    assert!(rows.next().unwrap().iter().any(|c| c.to_string().starts_with("Базовый вариант")));
    assert!(rows.next().unwrap()[1..].iter().any(|c| matches!(c, calamine::Data::Float(_))), "numbers as numbers");
    b.client.set_window_size(1366, 2400).await.unwrap();
    let shot = b.screenshot("scenario-compare").await;
    common::browser::update_docs_screenshot(&shot, "scenario-compare.png");
    b.client.set_window_size(1366, 900).await.unwrap();

    // The list has the scenario and its baseline.
    b.goto("/scenarios").await;
    assert_eq!(b.all("#scenarios tbody tr").await.len(), 2);

    // A second scenario on the same page: salt-fog demand +30 %, solved against the same
    // baseline; then both side by side.
    b.fill("#f-name", "Соляной туман +30 %").await;
    b.fill("#f-time_limit_seconds", "5").await;
    if b.find("#f-use_capacity").await.is_selected().await.unwrap() {
        b.click("#f-use_capacity").await;
    }
    b.click("#f-use_demand").await;
    b.find("#f-dem_equipment").await.select_by_value("SALT").await.unwrap();
    b.fill("#f-dem_factor", "1,3").await;
    // A weight below zero is refused on its field; the rest of the form is kept.
    b.click("#f-use_weights").await;
    b.fill("#f-w_unassigned", "-5").await;
    b.click("#create-scenario").await;
    assert!(b.wait_until("return document.querySelector('#f-w_unassigned-error') !== null", 20).await);
    assert_eq!(b.value("#f-dem_factor").await, "1,3");
    b.click("#f-use_weights").await;
    b.click("#create-scenario").await;
    assert!(b.wait_until("return location.pathname === '/scenarios/compare'", 20).await);
    assert!(b.wait_until("return document.querySelector('#pending') === null", 120).await, "salt fog is solved");
    assert!(b.text("#summary thead").await.contains("Соляной туман +30 %"));
    b.goto("/scenarios").await;
    assert_eq!(b.all("#scenarios tbody tr").await.len(), 3, "one baseline for both scenarios");
    for pick in b.all("#scenarios input[name=ids]").await {
        pick.click().await.unwrap();
    }
    b.click("#compare-picked").await;
    assert!(b.wait_until("return location.pathname === '/scenarios/compare'", 20).await);
    assert_eq!(b.all("#summary thead th").await.len(), 4, "a label column, the baseline and both scenarios");
    let head = b.text("#summary thead").await;
    assert!(head.contains("Базовый вариант") && head.contains("Соляной туман +30 %"), "{head}");
    // The shadow-price estimate speaks of added capacity only, not of more demand.
    assert_eq!(b.all("#estimates tbody tr").await.len(), 1, "the capacity scenario's estimate beside its exact figure");
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_manages_users() {
    let (_db, app) = demo_app().await;
    let email = app.user(&Who::Admin).await;
    let mut b = Browser::start(&app.url(""), "admin").await;
    b.sign_in(&email, PASSWORD).await;
    assert_eq!(b.path().await, "/admin/labs", "an admin starts on the labs");
    assert!(b.all("#registry tbody tr").await.len() >= 40, "the demo's labs are listed");
    b.screenshot("labs").await;

    b.goto("/admin/users").await;
    assert_eq!(b.text("h1").await, "Пользователи");
    // A bad e-mail is refused next to the field; what was typed stays.
    b.fill("#f-email", "not-an-address").await;
    b.fill("#f-password", "long enough password").await;
    b.find("#f-role").await.select_by_value("company").await.unwrap();
    b.find("#f-company").await.select_by_value("C0002").await.unwrap();
    b.click("#create-user").await;
    assert!(b.text("#f-email-error").await.contains("не адрес электронной почты"));
    assert_eq!(b.attr("#f-email", "aria-invalid").await.as_deref(), Some("true"));
    assert_eq!(b.value("#f-email").await, "not-an-address");
    assert_eq!(b.value("#f-role").await, "company");
    assert_eq!(b.value("#f-company").await, "C0002");
    b.screenshot("user-refused").await;

    // A company role without a company is refused too.
    b.fill("#f-email", "new.engineer@example.ru").await;
    b.fill("#f-password", "long enough password").await;
    b.find("#f-company").await.select_by_value("").await.unwrap();
    b.click("#create-user").await;
    assert!(b.exists("#f-company-error").await);
    assert_eq!(b.value("#f-email").await, "new.engineer@example.ru");

    b.fill("#f-password", "long enough password").await;
    b.find("#f-company").await.select_by_value("C0002").await.unwrap();
    b.click("#create-user").await;
    b.wait_for("#created").await;
    assert_eq!(b.text("#user-email").await, "new.engineer@example.ru");
    assert!(b.text("#user-company").await.contains("C0002"));
    b.screenshot("user-created").await;

    // Now a lab coordinator of L003.
    b.find("#f-role").await.select_by_value("lab").await.unwrap();
    b.find("#f-lab").await.select_by_value("L003").await.unwrap();
    b.click("#save-role").await;
    b.wait_for("#saved").await;
    assert_eq!(b.text("#user-role").await, "координатор лаборатории");
    assert!(b.text("#user-lab").await.contains("L003"));
    assert!(!b.exists("#user-company").await, "the company binding is gone");
    let operator = labplan::domain::access::Caller::Operator;
    let user = labplan::app::users::find_by_email(&app.db, &operator, "new.engineer@example.ru").await.unwrap();
    assert_eq!((user.role.as_str(), user.lab.as_deref(), user.company.as_deref()), ("lab", Some("L003"), None));
    let audit = labplan::entities::audit_log::Entity::find()
        .filter(labplan::entities::audit_log::Column::EntityId.eq("new.engineer@example.ru"))
        .order_by_asc(labplan::entities::audit_log::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    let actions: Vec<(&str, Option<&str>)> = audit.iter().map(|a| (a.action.as_str(), a.actor.as_deref())).collect();
    assert_eq!(actions, [("create", Some("admin@test.local")), ("set_role", Some("admin@test.local"))]);
    b.screenshot("user-role").await;

    // Revoking a user's tokens.
    let token = labplan::app::users::create_token(&app.db, &operator, user.id, "script", None).await.unwrap();
    b.goto(&format!("/admin/users/{}", user.id)).await;
    b.click("#revoke").await;
    b.wait_for("#saved").await;
    assert!(b.text("#tokens").await.contains("script"));
    assert!(labplan::app::users::authenticate_token(&app.db, &token).await.unwrap().is_none());

    // The list in English.
    b.goto("/admin/users?lang=en").await;
    assert_eq!(b.text("h1").await, "Users");
    assert!(b.text("#users").await.contains("new.engineer@example.ru"));
    b.screenshot("users-en").await;
    b.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_confirms_an_assignment() {
    use labplan::entities::{assignments, capacities};
    let (_db, app) = demo_app().await;
    app.publish_demo_plan().await;

    // The lab with the most bookings waiting for an answer.
    let proposed = assignments::Entity::find().filter(assignments::Column::Status.eq("proposed")).all(&app.db).await;
    let mut per_lab = std::collections::BTreeMap::<String, usize>::new();
    for a in proposed.unwrap() {
        *per_lab.entry(a.lab).or_default() += 1;
    }
    let (lab, waiting) = per_lab.into_iter().max_by_key(|(lab, n)| (*n, std::cmp::Reverse(lab.clone()))).unwrap();
    assert!(waiting >= 2, "{lab} has {waiting} bookings to answer");
    let email = app.user(&Who::Lab(lab.clone())).await;
    let mut b = Browser::start(&app.url(""), "lab").await;
    b.sign_in(&email, PASSWORD).await;
    assert_eq!(b.path().await, "/lab/assignments", "a lab starts on its assignments");
    assert_eq!(b.text("h1").await, "Назначения лаборатории");
    let rows = b.all("#waiting tbody tr").await;
    assert_eq!(rows.len(), waiting);
    b.screenshot("assignments").await;
    let id_of = |i: usize| {
        let rows = &rows;
        async move { rows[i].attr("data-assignment").await.unwrap().unwrap().parse::<i64>().unwrap() }
    };
    let (first, second) = (id_of(0).await, id_of(1).await);
    let status = |id: i64| {
        let db = app.db.clone();
        async move { assignments::Entity::find_by_id(id).one(&db).await.unwrap().unwrap().status.as_str() }
    };

    // Confirm one: the DB and the page say so.
    b.click(&format!("#confirm-{first}")).await;
    b.wait_for("#notice").await;
    assert_eq!(status(first).await, "confirmed");
    assert!(!b.exists(&format!("#waiting tr[data-assignment='{first}']")).await);
    let answered = b.text(&format!("#answered tr[data-assignment='{first}']")).await;
    assert!(answered.contains("подтверждено"), "{answered}");

    // Decline another: an empty reason is refused next to the field, nothing changes.
    b.click(&format!("#decline-{second}")).await;
    let error = b.text(&format!("#reason-{second}-error")).await;
    assert_eq!(error, "Укажите причину.");
    assert_eq!(b.attr(&format!("#reason-{second}"), "aria-invalid").await.as_deref(), Some("true"));
    assert_eq!(status(second).await, "proposed");
    b.screenshot("decline-error").await;
    b.fill(&format!("#reason-{second}"), "стенд на ремонте").await;
    b.click(&format!("#decline-{second}")).await;
    b.wait_for("#notice").await;
    assert_eq!(status(second).await, "declined");
    let answered = b.text(&format!("#answered tr[data-assignment='{second}']")).await;
    assert!(answered.contains("отклонено") && answered.contains("стенд на ремонте"), "{answered}");
    b.screenshot("answered").await;

    // The timeline: the chart is drawn, and its data is also a table.
    b.goto("/lab/timeline").await;
    assert_eq!(b.text("h1").await, "График загрузки лаборатории");
    b.wait_for("#timeline-chart[data-rendered='true']").await;
    assert!(!b.all("#timeline-table tbody tr").await.is_empty());
    assert!(b.text("#timeline-table").await.contains("R"), "the table lists the tests");
    let csv = "var x = new XMLHttpRequest(); x.open('GET', '/lab/timeline.csv', false); x.send(); \
               return x.status === 200 && x.responseText.startsWith('lab,equipment,week_start');";
    assert!(b.wait_until(csv, 10).await, "the timeline downloads as CSV");
    tokio::time::sleep(std::time::Duration::from_millis(800)).await; // the chart's entry animation
    let shot = b.screenshot("timeline").await;
    common::browser::update_docs_screenshot(&shot, "lab-timeline.png");

    // Capacity: a bad value is refused next to its field and changes nothing; a good one is saved.
    let base = capacities::Entity::find().filter(capacities::Column::Lab.eq(lab.as_str())).one(&app.db).await;
    let base = base.unwrap().unwrap();
    let code = base.equipment.clone();
    b.goto("/lab/capacity").await;
    assert_eq!(b.text("h1").await, "Мощности лаборатории");
    b.fill(&format!("#hours-{code}"), "-5").await;
    b.click(&format!("#save-{code}")).await;
    let error = b.text(&format!("#hours-{code}-error")).await;
    assert!(error.starts_with("Введите число от 0 до"), "{error}");
    assert_eq!(b.value(&format!("#hours-{code}")).await, "-5", "what was typed is kept");
    let stored = capacities::Entity::find_by_id((lab.clone(), code.clone())).one(&app.db).await.unwrap().unwrap();
    assert_eq!(stored.hours_per_week, base.hours_per_week, "nothing changed");
    b.screenshot("capacity-error").await;
    b.fill(&format!("#hours-{code}"), &(base.hours_per_week + 8).to_string()).await;
    b.click(&format!("#save-{code}")).await;
    b.wait_for("#notice").await;
    let stored = capacities::Entity::find_by_id((lab.clone(), code.clone())).one(&app.db).await.unwrap().unwrap();
    assert_eq!(stored.hours_per_week, base.hours_per_week + 8);
    b.screenshot("capacity").await;

    // A closed week: a Tuesday is refused next to its field; a Monday is kept and shown.
    let overrides = || {
        labplan::entities::capacity_overrides::Entity::find()
            .filter(labplan::entities::capacity_overrides::Column::Lab.eq(lab.as_str()))
            .all(&app.db)
    };
    let before = overrides().await.unwrap().len();
    b.find("#f-new-equipment").await.select_by_value(&code).await.unwrap();
    b.set_value("#f-new-week_start", "2027-03-09").await;
    b.fill("#f-new-hours_per_week", "0").await;
    b.click("#add-override").await;
    let error = b.text("#f-new-week_start-error").await;
    assert_eq!(error, "2027-03-09 — не понедельник.");
    assert_eq!(overrides().await.unwrap().len(), before, "nothing changed");
    b.set_value("#f-new-week_start", "2027-03-08").await;
    b.click("#add-override").await;
    b.wait_for(&format!("#overrides tr[data-override='{code}/2027-03-08']")).await;
    let added = overrides().await.unwrap();
    assert_eq!(added.len(), before + 1);
    assert!(
        added.iter().any(|o| o.equipment == code && o.hours_per_week == 0 && o.week_start.to_string() == "2027-03-08")
    );

    // The scope: a validity that ends before it starts is refused; a new end date is saved.
    b.goto("/lab/scope").await;
    assert_eq!(b.text("h1").await, "Область аккредитации");
    let first = b.find("#scope tbody tr").await.attr("data-test-type").await.unwrap().unwrap();
    b.set_value(&format!("#to-{first}"), "1999-01-01").await;
    b.click(&format!("#save-scope-{first}")).await;
    b.wait_for(&format!("#to-{first}-error")).await;
    assert_eq!(b.value(&format!("#to-{first}")).await, "1999-01-01", "what was typed is kept");
    b.set_value(&format!("#to-{first}"), "2030-12-31").await;
    b.click(&format!("#save-scope-{first}")).await;
    b.wait_for("#notice").await;
    let scope = labplan::entities::accreditations::Entity::find_by_id((lab.clone(), first.clone()))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(scope.valid_to.map(|d| d.to_string()).as_deref(), Some("2030-12-31"));
    b.screenshot("scope").await;
    b.click("#lang-en").await;
    b.wait_for("html[lang='en']").await;
    assert_eq!(b.text("h1").await, "Accreditation scope");
    b.goto("/lab/timeline").await;
    assert_eq!(b.text("h1").await, "Lab timeline");
    b.wait_for("#timeline-chart[data-rendered='true']").await;
    b.screenshot("timeline-en").await;
    b.close().await;
    app.stop().await;
}

/// A company imports its survey on the page: a file with a bad cell is shown checked,
/// the cell marked with its message, and nothing is written, even when the kept file is
/// checked again unchanged; a good file is checked, then imported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn company_imports_a_survey_on_the_page() {
    let (_db, app) = demo_app().await;
    let email = app.user(&Who::Company("C0001")).await;
    app.act_as(Who::Company("C0001")).await;
    let count = || async {
        let (_, list) = app.get("/api/v1/requests?company=C0001").await;
        list["total"].as_u64().unwrap()
    };
    let before = count().await;

    let dir = tempfile::tempdir().unwrap();
    let header = "Номер заявки предприятия;Вид испытания;Образцов;Дата готовности;Требуемый срок;Приоритет;Цвет папки";
    let bad = dir.path().join("опрос-с-ошибкой.csv");
    std::fs::write(
        &bad,
        format!(
            "{header}\nS-1;EMC-R10;2;01.02.2027;28.05.2027;2;синий\nS-2;EMC-R10;много;01.02.2027;28.05.2027;2;красный\n"
        ),
    )
    .unwrap();
    let good = dir.path().join("опрос.csv");
    std::fs::write(
        &good,
        format!(
            "{header}\nS-1;EMC-R10;2;01.02.2027;28.05.2027;2;синий\nS-2;EMC-R10;3;01.02.2027;28.05.2027;2;красный\n"
        ),
    )
    .unwrap();

    let mut b = Browser::start(&app.url(""), "company-import").await;
    b.sign_in(&email, PASSWORD).await;
    b.goto("/imports/requests").await;
    assert_eq!(b.text("h1").await, "Импорт заявок из таблицы");
    assert!(b.exists("#template-link").await);

    // The bad file: checked, refused, its bad cell (row 3, the samples column) marked.
    b.find("#f-file").await.send_keys(bad.to_str().unwrap()).await.expect("choose the file");
    b.click("#import-check").await;
    b.wait_for("#import-refused").await;
    let cell = "#import-preview #cell-3-2";
    assert!(b.exists(cell).await, "the bad cell is marked");
    assert!(b.text(cell).await.contains("много"));
    assert!(b.text(&format!("{cell} .cell-error")).await.contains("целое число"), "with its message, in Russian");
    assert!(!b.exists("#import-do").await, "a refused file cannot be imported");
    assert!(b.text("#import-ignored").await.contains("Цвет папки"), "unknown columns are named");
    assert!(b.text("#kept-file").await.contains("опрос-с-ошибкой.csv"), "the upload is kept");
    b.screenshot("import-refused").await;
    assert_eq!(count().await, before, "nothing is written");

    // Checking again without fixing anything checks the kept file: still refused.
    b.click("#import-check").await;
    b.wait_for("#import-refused").await;
    assert!(b.exists(cell).await);
    assert_eq!(count().await, before);

    // The good file: checked, then imported.
    b.find("#f-file").await.send_keys(good.to_str().unwrap()).await.expect("choose the file");
    b.click("#import-check").await;
    b.wait_for("#import-checked").await;
    assert!(b.text("#import-checked").await.contains('2'));
    assert_eq!(count().await, before, "a check writes nothing");
    b.click("#import-do").await;
    b.wait_for("#import-done").await;
    assert_eq!(count().await, before + 2);
    b.screenshot("import-done").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_imports_its_workbook_on_the_page() {
    use labplan::entities::{accreditations, capacities};
    let (_db, app) = demo_app().await;
    let held = capacities::Entity::find()
        .order_by_asc(capacities::Column::Lab)
        .order_by_asc(capacities::Column::Equipment)
        .all(&app.db)
        .await
        .unwrap();
    let lab = held[0].lab.clone();
    let capacity: Vec<_> = held.iter().filter(|c| c.lab == lab).collect();
    let scope = accreditations::Entity::find()
        .filter(accreditations::Column::Lab.eq(lab.as_str()))
        .order_by_asc(accreditations::Column::TestType)
        .all(&app.db)
        .await
        .unwrap();
    let email = app.user(&Who::Lab(lab.clone())).await;

    // The workbook a coordinator makes: the scope as held plus one unknown test type (bad),
    // and every class's hours raised by 8.
    let workbook = |with_unknown: bool| {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet().set_name("Область аккредитации").unwrap();
        for (c, h) in ["Вид испытания", "Действует с"].iter().enumerate() {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        let mut row = 1;
        for a in &scope {
            sheet.write_string(row, 0, &a.test_type).unwrap();
            sheet.write_string(row, 1, a.valid_from.format("%d.%m.%Y").to_string()).unwrap();
            row += 1;
        }
        if with_unknown {
            sheet.write_string(row, 0, "NOISE-1").unwrap();
            sheet.write_string(row, 1, "01.01.2027").unwrap();
        }
        let sheet = book.add_worksheet().set_name("Мощности").unwrap();
        for (c, h) in ["Оборудование", "Часов в неделю", "Цена часа"].iter().enumerate()
        {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        for (i, c) in capacity.iter().enumerate() {
            let r = i as u32 + 1;
            sheet.write_string(r, 0, &c.equipment).unwrap();
            sheet.write_number(r, 1, f64::from(c.hours_per_week + 8)).unwrap();
            sheet.write_number(r, 2, c.price_per_hour as f64).unwrap();
        }
        book.save_to_buffer().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("область-с-ошибкой.xlsx");
    std::fs::write(&bad, workbook(true)).unwrap();
    let good = dir.path().join("область.xlsx");
    std::fs::write(&good, workbook(false)).unwrap();
    let hours = || async {
        let rows = capacities::Entity::find()
            .filter(capacities::Column::Lab.eq(lab.as_str()))
            .order_by_asc(capacities::Column::Equipment)
            .all(&app.db)
            .await;
        rows.unwrap().iter().map(|c| c.hours_per_week).collect::<Vec<_>>()
    };
    let before = hours().await;

    let mut b = Browser::start(&app.url(""), "lab-import").await;
    b.sign_in(&email, PASSWORD).await;
    b.goto("/lab/import").await;
    assert!(b.text("h1").await.contains(&lab), "the coordinator's own lab");
    assert!(b.exists("#workbook-link").await);

    // The bad workbook: refused, the unknown test type's cell marked on the scope sheet.
    b.find("#f-file").await.send_keys(bad.to_str().unwrap()).await.expect("choose the file");
    b.click("#import-check").await;
    b.wait_for("#import-refused").await;
    let cell = format!("#import-preview-1 #cell-1-{}-0", scope.len() + 2);
    assert!(b.exists(&cell).await, "the bad cell is marked");
    assert!(b.text(&cell).await.contains("NOISE-1"));
    assert!(b.text("#import-errors").await.contains("Область аккредитации"), "the error names its sheet");
    assert!(!b.exists("#import-do").await);
    b.screenshot("lab-import-refused").await;
    assert_eq!(hours().await, before, "nothing is written");

    // The good one: checked, then imported.
    b.find("#f-file").await.send_keys(good.to_str().unwrap()).await.expect("choose the file");
    b.click("#import-check").await;
    b.wait_for("#import-checked").await;
    assert!(b.text("#counts-capacity").await.contains(&format!("изменено {}", capacity.len())));
    assert_eq!(hours().await, before, "a check writes nothing");
    b.click("#import-do").await;
    b.wait_for("#import-done").await;
    assert_eq!(hours().await, before.iter().map(|h| h + 8).collect::<Vec<_>>());
    b.screenshot("lab-import-done").await;

    // Another lab's page is not the coordinator's.
    let other = capacities::Entity::find().filter(capacities::Column::Lab.ne(lab.as_str())).one(&app.db).await;
    let other = other.unwrap().unwrap().lab;
    b.goto(&format!("/imports/labs/{other}")).await;
    assert!(!b.exists("#import-form").await, "another lab's workbook is refused");
}
