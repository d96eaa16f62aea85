//! Signing in to the web pages over real HTTP: the session cookie and its flags,
//! rotation, CSRF on every form, sign-out, the same answer for unknown accounts and
//! wrong passwords, the limit on failed attempts, and which role opens which page; on
//! SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::web::{client, hidden_csrf, login_form, set_cookie, sign_in};
use common::{TestDb, Who};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};

both_backends!(
    sign_in_sign_out_and_csrf,
    failed_sign_ins_look_alike_and_are_limited,
    pages_answer_only_their_roles,
    the_request_list_pages_and_the_workbooks_download,
);

const PASSWORD: &str = "correct horse battery staple";

async fn sign_in_sign_out_and_csrf(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.token(&Who::Company("C0001")).await; // creates c0001@company.test.local
    let email = "c0001@company.test.local";

    // Russian by default, English on request, every label present.
    let html = client().get(app.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<html lang=\"ru\">") && html.contains("Вход") && html.contains("<label for=\"password\">"));
    let resp = client().get(app.url("/login?lang=en")).send().await.unwrap();
    assert!(set_cookie(&resp, "lang").is_some());
    let html = resp.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">") && html.contains("Sign in"));

    // Without the CSRF pair the form is refused.
    let resp = client()
        .post(app.url("/login"))
        .form(&[("csrf", "forged"), ("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookie(&resp, "labplan_session").is_none());

    let resp = sign_in(&app, email, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/");
    let (first, attrs) = set_cookie(&resp, "labplan_session").expect("a session cookie");
    assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax") && attrs.contains("Path=/"), "{attrs}");
    assert!(!attrs.contains("Secure"), "plain HTTP: no Secure flag");

    // The start page sends each role to its own pages.
    let home = client().get(app.url("/")).header(COOKIE, format!("labplan_session={first}")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::SEE_OTHER);
    assert_eq!(home.headers()[LOCATION], "/requests");
    let mine =
        client().get(app.url("/requests")).header(COOKIE, format!("labplan_session={first}")).send().await.unwrap();
    assert_eq!(mine.status(), StatusCode::OK);
    let html = mine.text().await.unwrap();
    assert!(html.contains(email) && html.contains("инженер компании"), "{html}");

    // Signing in again issues a new session; the one the browser brought ends.
    let (csrf, cookie) = login_form(&app).await;
    let resp = client()
        .post(app.url("/login"))
        .header(COOKIE, format!("labplan_login_csrf={cookie}; labplan_session={first}"))
        .form(&[("csrf", csrf.as_str()), ("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let (second, _) = set_cookie(&resp, "labplan_session").unwrap();
    assert_ne!(first, second);
    let old = client().get(app.url("/")).header(COOKIE, format!("labplan_session={first}")).send().await.unwrap();
    assert_eq!(old.status(), StatusCode::SEE_OTHER);
    assert_eq!(old.headers()[LOCATION], "/login", "the old session is over");

    // Sign-out needs the session's CSRF token.
    let html = client()
        .get(app.url("/requests"))
        .header(COOKIE, format!("labplan_session={second}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_csrf(&html);
    let resp = client()
        .post(app.url("/logout"))
        .header(COOKIE, format!("labplan_session={second}"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = client()
        .post(app.url("/logout"))
        .header(COOKIE, format!("labplan_session={second}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let after = client().get(app.url("/")).header(COOKIE, format!("labplan_session={second}")).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(after.headers()[LOCATION], "/login");

    // The session cookie opens pages, not the API: the API wants a bearer token.
    let api = client()
        .get(app.url("/api/v1/requests"))
        .header(COOKIE, format!("labplan_session={second}"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn failed_sign_ins_look_alike_and_are_limited(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.token(&Who::Planner).await;
    let text_of = |html: String| {
        let at = html.find("role=\"alert\"").expect("an error message");
        html[at..].split('<').next().unwrap().to_string()
    };
    let wrong = sign_in(&app, "planner@test.local", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong = text_of(wrong.text().await.unwrap());
    let unknown = sign_in(&app, "nobody@test.local", "not the password").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(text_of(unknown.text().await.unwrap()), wrong, "the same answer whether the user exists or not");

    // Five failures for an account, and even the right password waits.
    for _ in 0..4 {
        assert_eq!(sign_in(&app, "planner@test.local", "still wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = sign_in(&app, "planner@test.local", PASSWORD).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(set_cookie(&limited, "labplan_session").is_none());
    app.stop().await;
}

/// Every page × every role: the page opens for its roles, the others get a 403 page, and
/// without a session every page sends the browser to sign in and back.
async fn pages_answer_only_their_roles(db: TestDb) {
    use common::Who::{Admin, Company, Lab, Ministry, Planner};
    let app = db.spawn_with_fixture().await;
    let who = [Company("C0001"), Lab("L001".into()), Planner, Ministry, Admin];
    let mut sessions = Vec::new();
    for w in &who {
        let email = app.user(w).await;
        let resp = sign_in(&app, &email, PASSWORD).await;
        let (cookie, _) = set_cookie(&resp, "labplan_session").expect("signed in");
        sessions.push((w.clone(), cookie));
    }
    let pages: &[(&str, &[&str])] = &[
        ("/requests", &["company", "planner", "ministry", "admin"]),
        ("/requests/new", &["company"]),
        ("/planning", &["planner", "ministry", "admin"]),
        ("/dashboard", &["planner", "ministry", "admin"]),
        ("/lab/assignments", &["lab"]),
        ("/lab/timeline", &["lab"]),
        ("/lab/capacity", &["lab"]),
        ("/lab/scope", &["lab"]),
        ("/imports/requests", &["company", "planner", "admin"]),
        ("/imports/labs/L001", &["lab", "admin"]),
        ("/admin/labs", &["admin"]),
        ("/admin/companies", &["admin"]),
        ("/admin/test-types", &["admin"]),
        ("/admin/users", &["admin"]),
    ];
    let role = |w: &Who| match w {
        Company(_) => "company",
        Lab(_) => "lab",
        Planner => "planner",
        Ministry => "ministry",
        Admin => "admin",
        Who::Anonymous => "",
    };
    for (path, roles) in pages {
        let anonymous = client().get(app.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::SEE_OTHER, "{path} without a session");
        assert!(anonymous.headers()[LOCATION].to_str().unwrap().starts_with("/login?next="), "{path}");
        for (w, cookie) in &sessions {
            let resp =
                client().get(app.url(path)).header(COOKIE, format!("labplan_session={cookie}")).send().await.unwrap();
            let expected = if roles.contains(&role(w)) { StatusCode::OK } else { StatusCode::FORBIDDEN };
            assert_eq!(resp.status(), expected, "{path} as {w:?}");
            let html = resp.text().await.unwrap();
            assert!(html.starts_with("<!doctype html>") && html.contains("<html lang=\"ru\">"), "{path} as {w:?}");
        }
    }

    // A form posted without the session's CSRF token changes nothing.
    let (_, company) = &sessions[0];
    let before = app.total("/api/v1/requests").await;
    let resp = client()
        .post(app.url("/requests/new"))
        .header(COOKIE, format!("labplan_session={company}"))
        .form(&[
            ("csrf", "forged"),
            ("test_type", "EMC-R10"),
            ("samples", "1"),
            ("ready_date", "2027-01-04"),
            ("due_date", "2027-02-01"),
            ("priority", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.total("/api/v1/requests").await, before);
    app.stop().await;
}

/// Rows of the request list as the page shows them, in its order.
fn listed(html: &str) -> Vec<String> {
    html.split("data-request=\"").skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

async fn the_request_list_pages_and_the_workbooks_download(db: TestDb) {
    use common::web::session;
    let app = db.spawn_with_fixture().await;
    // 250 more requests of C0001, due one day apart, by a survey.
    app.act_as(Who::Planner).await;
    let mut csv = String::from(
        "Компания;Номер заявки предприятия;Вид испытания;Образцов;Дата готовности;Требуемый срок;Приоритет\n",
    );
    let due = chrono::NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
    for i in 1..=250u64 {
        csv.push_str(&format!("C0001;P-{i:03};EMC-R10;1;01.02.2027;{};1\n", due + chrono::Days::new(i)));
    }
    let resp = app.client().post(app.url("/api/v1/imports/requests")).body(csv).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());

    let company = session(&app, &app.user(&Who::Company("C0001")).await, PASSWORD).await;
    let page = |path: &'static str| {
        let company = company.clone();
        let url = app.url(path);
        async move {
            let resp = client().get(url).header(COOKIE, company).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{path}");
            resp.text().await.unwrap()
        }
    };
    // 252 requests of the company, 100 to a page.
    let first = page("/requests").await;
    assert_eq!(listed(&first).len(), 100);
    assert_eq!(listed(&first)[0], "R00001");
    assert!(first.contains("страница 1 из 3"), "the pager says where it is");
    assert!(first.contains("252"), "the count is of the whole list");
    let last = page("/requests?page=3").await;
    assert_eq!(listed(&last).len(), 52);
    assert!(!last.contains("id=\"page-next\""));
    // A page past the end shows the last one.
    assert_eq!(listed(&page("/requests?page=40").await), listed(&last));
    // Sorted in the database: the latest due date first, and the pages follow the order.
    let by_due = listed(&page("/requests?sort=due&dir=desc").await);
    let second = listed(&page("/requests?sort=due&dir=desc&page=2").await);
    assert!(by_due.iter().all(|id| !second.contains(id)), "pages do not overlap");
    app.act_as(Who::Admin).await;
    let (_, latest) = app.get(&format!("/api/v1/requests/{}", by_due[0])).await;
    assert_eq!(latest["external_ref"], "P-250", "{latest}");
    // The search box: a reference typed in lower case; a test type's name.
    assert_eq!(listed(&page("/requests?q=p-12").await).len(), 10, "P-120 to P-129, not P-012");
    let by_name = page("/requests?q=%D1%8D%D0%BC%D1%81").await; // «эмс»
    assert!(by_name.contains("страница 1 из 3") && by_name.contains("251"), "every EMC request, not the climatic one");

    // The workbooks the pages link to download with the session.
    let resp = client().get(app.url("/imports/requests/template.xlsx")).header(COOKIE, &company).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let template = resp.bytes().await.unwrap();
    assert_eq!(labplan::sheets::read(&template).unwrap().header[0], "Номер заявки предприятия");
    let lab = session(&app, &app.user(&Who::Lab("L001".into())).await, PASSWORD).await;
    let own = client().get(app.url("/imports/labs/L001/workbook.xlsx")).header(COOKIE, &lab).send().await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let other = client().get(app.url("/imports/labs/L002/workbook.xlsx")).header(COOKIE, &lab).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}
