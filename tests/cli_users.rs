//! `labplan users` from the command line: bad input is refused with a clear message and
//! creates nothing; a token works at once and stops working when revoked; a disabled
//! user is cut off (token, session, password) until enabled again; a token lives as
//! many days as it is given; the routes that act on a token read lately (the request
//! list and filing) see every change to it at the very next request.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::web::{client, session, set_cookie, sign_in};
use common::{TestApp, TestDb, Who};
use labplan::domain::access::Caller;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use sea_orm::{ConnectionTrait, Statement};

both_backends!(
    users_command_refuses_bad_input_and_revokes,
    disable_cuts_a_user_off_and_enable_lets_them_back,
    token_days_set_the_expiry,
    a_token_read_lately_answers_to_every_change_at_once,
);

/// The password `labplan users add` gives the users of these tests.
const CLI_PASSWORD: &str = "a long enough password";

fn labplan(db: &TestDb, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_labplan"));
    cmd.args(args).env("DATABASE_URL", &db.url).env("LABPLAN_PASSWORD", CLI_PASSWORD);
    let out = cmd.output().expect("labplan runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn users_command_refuses_bad_input_and_revokes(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    for (args, message) in [
        (vec!["users", "add", "--email", "not-an-address", "--role", "planner"], "is not an e-mail address"),
        (vec!["users", "add", "--email", "x@firm.ru", "--role", "company"], "needs --company"),
        (vec!["users", "add", "--email", "x@firm.ru", "--role", "company", "--company", "C9999"], "does not exist"),
        (vec!["users", "add", "--email", "x@firm.ru", "--role", "lab", "--lab", "L404"], "does not exist"),
        (
            vec!["users", "add", "--email", "x@firm.ru", "--role", "planner", "--lab", "L001"],
            "bound to no company or lab",
        ),
        (vec!["users", "token", "--email", "nobody@firm.ru"], "no user"),
    ] {
        let (ok, _, stderr) = labplan(&db, &args);
        assert!(!ok, "{args:?} succeeded");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let (ok, _, stderr) = labplan(&db, &["users", "add", "--email", "x@firm.ru", "--role", "superuser"]);
    assert!(!ok && stderr.contains("superuser"), "{stderr}");
    let (_, list, _) = labplan(&db, &["users", "list"]);
    assert!(!list.contains("x@firm.ru"), "nothing was created: {list}");

    let (ok, out, stderr) =
        labplan(&db, &["users", "add", "--email", "Ana@Firm.ru", "--role", "company", "--company", "C0001"]);
    assert!(ok, "{stderr}");
    assert!(out.contains("ana@firm.ru") && !out.contains("password:"), "a given password is not printed: {out}");
    let (ok, _, stderr) = labplan(&db, &["users", "add", "--email", "ana@firm.ru", "--role", "planner"]);
    assert!(!ok && stderr.contains("already exists"), "{stderr}");
    let (ok, token, _) = labplan(&db, &["users", "token", "--email", "ana@firm.ru"]);
    assert!(ok);
    let token = token.trim();
    let client = reqwest::Client::new();
    let resp = client.get(app.url("/api/v1/requests")).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (ok, out, _) = labplan(&db, &["users", "revoke", "--email", "ana@firm.ru"]);
    assert!(ok && out.contains("1 token(s) revoked"), "{out}");
    let resp = client.get(app.url("/api/v1/requests")).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (_, list, _) = labplan(&db, &["users", "list"]);
    assert!(list.contains("token 'cli'") && list.contains("revoked"), "{list}");
    app.stop().await;
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let row = app.db.query_one_raw(Statement::from_string(app.db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// The status of `GET /api/v1/requests` with a bearer token.
async fn api(app: &TestApp, token: &str) -> StatusCode {
    reqwest::Client::new().get(app.url("/api/v1/requests")).bearer_auth(token).send().await.unwrap().status()
}

/// A page with a session cookie: 200 while the session lives, else a redirect to sign in.
async fn page(app: &TestApp, cookie: &str) -> reqwest::Response {
    client().get(app.url("/requests")).header(COOKIE, cookie).send().await.unwrap()
}

/// The line of `labplan users list` that names the user (tab-separated, tokens below it).
fn list_line(db: &TestDb, email: &str) -> String {
    let (ok, list, stderr) = labplan(db, &["users", "list"]);
    assert!(ok, "{stderr}");
    list.lines().find(|l| l.starts_with(&format!("{email}\t"))).unwrap_or_else(|| panic!("{email}: {list}")).to_string()
}

async fn disable_cuts_a_user_off_and_enable_lets_them_back(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    let email = "eng@firm.ru";
    let (ok, _, stderr) = labplan(&db, &["users", "add", "--email", email, "--role", "company", "--company", "C0001"]);
    assert!(ok, "{stderr}");
    let (ok, token, stderr) = labplan(&db, &["users", "token", "--email", email]);
    assert!(ok, "{stderr}");
    let token = token.trim().to_string();
    // A second token, revoked before the user is disabled: enabling must not bring it back.
    let (ok, revoked, stderr) = labplan(&db, &["users", "token", "--email", email, "--name", "old"]);
    assert!(ok, "{stderr}");
    let revoked = revoked.trim().to_string();
    let (ok, out, stderr) = labplan(&db, &["users", "revoke", "--email", email, "--name", "old"]);
    assert!(ok && out.contains("1 token(s) revoked"), "{out}{stderr}");

    let cookie = session(&app, email, CLI_PASSWORD).await;
    assert_eq!(api(&app, &token).await, StatusCode::OK);
    assert_eq!(api(&app, &revoked).await, StatusCode::UNAUTHORIZED);
    assert_eq!(page(&app, &cookie).await.status(), StatusCode::OK);
    assert!(!list_line(&db, email).contains("disabled"));

    // An unknown e-mail: a clear message, a failing exit, and nothing changed.
    let (_, users_before, _) = labplan(&db, &["users", "list"]);
    let audit_before = count(&app, "audit_log").await;
    for command in ["disable", "enable"] {
        let (ok, out, stderr) = labplan(&db, &["users", command, "--email", "nobody@firm.ru"]);
        assert!(!ok, "{command} of an unknown user succeeded: {out}");
        assert!(stderr.contains("no user nobody@firm.ru"), "{command}: {stderr}");
    }
    let (_, users_after, _) = labplan(&db, &["users", "list"]);
    assert_eq!(users_before, users_after);
    assert_eq!(count(&app, "audit_log").await, audit_before, "an unknown user's disable was audited");
    assert_eq!(api(&app, &token).await, StatusCode::OK);
    assert_eq!(page(&app, &cookie).await.status(), StatusCode::OK);

    // Disabled (the e-mail in any case): the token, the open session and the password all stop.
    let (ok, out, stderr) = labplan(&db, &["users", "disable", "--email", "Eng@Firm.RU"]);
    assert!(ok, "{stderr}");
    assert!(out.contains(&format!("user {email} disabled")), "{out}");
    assert_eq!(api(&app, &token).await, StatusCode::UNAUTHORIZED);
    let ended = page(&app, &cookie).await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER, "the session has ended");
    assert!(ended.headers()[LOCATION].to_str().unwrap().starts_with("/login"), "{:?}", ended.headers());
    let refused = sign_in(&app, email, CLI_PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "the right password of a disabled user");
    assert!(set_cookie(&refused, "labplan_session").is_none());
    assert!(list_line(&db, email).ends_with("\tdisabled"), "{}", list_line(&db, email));
    let user = labplan::app::users::find_by_email(&app.db, &Caller::Operator, email).await.unwrap();
    assert!(user.disabled_at.is_some());
    let sessions = format!("sessions WHERE \"user\" = {}", user.id);
    assert_eq!(count(&app, &sessions).await, 0, "disabling ends the user's sessions");

    // Enabled again: the password signs in, and the kept (unrevoked, unexpired) token works
    // again, as `users enable` documents; the revoked one and the ended session do not.
    let (ok, out, stderr) = labplan(&db, &["users", "enable", "--email", email]);
    assert!(ok, "{stderr}");
    assert!(out.contains(&format!("user {email} enabled")), "{out}");
    assert_eq!(api(&app, &token).await, StatusCode::OK);
    assert_eq!(api(&app, &revoked).await, StatusCode::UNAUTHORIZED, "a revoked token stays revoked");
    assert_eq!(page(&app, &cookie).await.status(), StatusCode::SEE_OTHER, "the ended session stays ended");
    let fresh = session(&app, email, CLI_PASSWORD).await;
    assert_eq!(page(&app, &fresh).await.status(), StatusCode::OK);
    assert!(!list_line(&db, email).contains("disabled"));

    // Both changes are in the audit log, made from the command line (no actor).
    app.act_as(Who::Admin).await;
    let (status, audit) = app.get(&format!("/api/v1/audit?entity=user&entity_id={email}")).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert_eq!(audit["items"][0]["action"], "enable", "{audit}");
    assert_eq!(audit["items"][1]["action"], "disable", "{audit}");
    assert!(audit["items"][0]["actor"].is_null() && audit["items"][1]["actor"].is_null(), "{audit}");
    app.stop().await;
}

async fn token_days_set_the_expiry(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    let email = "planner@firm.ru";
    let (ok, _, stderr) = labplan(&db, &["users", "add", "--email", email, "--role", "planner"]);
    assert!(ok, "{stderr}");
    let user = labplan::app::users::find_by_email(&app.db, &Caller::Operator, email).await.unwrap();
    let (conn, id) = (&app.db, user.id);
    let tokens = || async move {
        let (_, tokens) = labplan::app::users::get(conn, &Caller::Operator, id).await.unwrap();
        tokens
    };

    // Out-of-range days and a contradictory expiry are refused, and no token is made.
    for (args, message) in [
        (vec!["--days", "0"], "days: must be between 1 and 3650"),
        (vec!["--days", "3651"], "days: must be between 1 and 3650"),
        (vec!["--days", "-3"], "-3"),
        (vec!["--days", "5", "--no-expiry"], "cannot be used with"),
    ] {
        let mut command = vec!["users", "token", "--email", email];
        command.extend(args.iter().copied());
        let (ok, out, stderr) = labplan(&db, &command);
        assert!(!ok, "{args:?} succeeded: {out}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!out.contains("lp_"), "{args:?} printed a token: {out}");
    }
    assert!(tokens().await.is_empty(), "a refused token was stored");

    let before = chrono::Utc::now();
    let mut made = Vec::new();
    for (name, extra) in [("week", vec!["--days", "7"]), ("default", vec![]), ("forever", vec!["--no-expiry"])] {
        let mut command = vec!["users", "token", "--email", email, "--name", name];
        command.extend(extra);
        let (ok, token, stderr) = labplan(&db, &command);
        assert!(ok, "{name}: {stderr}");
        made.push((name, token.trim().to_string()));
    }
    let after = chrono::Utc::now();
    let stored = tokens().await;
    let expiry = |name: &str| stored.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("{name}")).expires_at;
    let within = |at: Option<chrono::DateTime<chrono::Utc>>, days: i64| {
        let at = at.expect("an expiry");
        let slack = chrono::Duration::seconds(1);
        at >= before + chrono::Duration::days(days) - slack && at <= after + chrono::Duration::days(days) + slack
    };
    assert!(within(expiry("week"), 7), "--days 7: {:?}", expiry("week"));
    assert!(within(expiry("default"), 365), "the default is a year: {:?}", expiry("default"));
    assert_eq!(expiry("forever"), None, "--no-expiry");
    // `users list` shows each expiry.
    let (_, list, _) = labplan(&db, &["users", "list"]);
    let week_date = expiry("week").unwrap().format("%Y-%m-%d").to_string();
    let week_line = list.lines().find(|l| l.contains("token 'week'")).unwrap_or_else(|| panic!("{list}"));
    assert!(week_line.ends_with(&format!(", expires {week_date}")), "{week_line}");
    let forever_line = list.lines().find(|l| l.contains("token 'forever'")).unwrap_or_else(|| panic!("{list}"));
    assert!(!forever_line.contains("expires"), "{forever_line}");

    // Each works now; the week's token stops once its expiry has passed.
    for (name, token) in &made {
        assert_eq!(api(&app, token).await, StatusCode::OK, "{name}");
    }
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let sql = format!("UPDATE api_tokens SET expires_at = '{past}' WHERE name = 'week'");
    app.db.execute_unprepared(&sql).await.unwrap();
    assert_eq!(api(&app, &made[0].1).await, StatusCode::UNAUTHORIZED, "an expired token");
    assert_eq!(api(&app, &made[2].1).await, StatusCode::OK, "a token without expiry");
    app.stop().await;
}

/// The companies of a `GET /api/v1/requests` page, and its status.
async fn listed_companies(app: &TestApp, token: &str, query: &str) -> (StatusCode, Vec<String>, u64) {
    let resp = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/requests{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    if status != StatusCode::OK {
        return (status, Vec::new(), 0);
    }
    let body: serde_json::Value = resp.json().await.unwrap();
    let companies =
        body["items"].as_array().unwrap().iter().map(|r| r["company"].as_str().unwrap().to_string()).collect();
    (status, companies, body["total"].as_u64().unwrap())
}

async fn file(app: &TestApp, token: &str) -> StatusCode {
    let body = serde_json::json!({"company": "C0001", "test_type": "EMC-R10", "samples": 1,
        "ready_date": "2027-03-01", "due_date": "2027-05-28", "priority": 2});
    reqwest::Client::new()
        .post(app.url("/api/v1/requests"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn a_token_read_lately_answers_to_every_change_at_once(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    let email = "lately@firm.ru";
    let (ok, _, stderr) = labplan(&db, &["users", "add", "--email", email, "--role", "company", "--company", "C0001"]);
    assert!(ok, "{stderr}");
    let (ok, token, stderr) = labplan(&db, &["users", "token", "--email", email]);
    assert!(ok, "{stderr}");
    let token = token.trim().to_string();

    // Read once, then acted on from memory: the list and a filing work as before.
    let (status, companies, total) = listed_companies(&app, &token, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!companies.is_empty() && companies.iter().all(|c| c == "C0001"), "{companies:?}");
    let (status, companies, _) = listed_companies(&app, &token, "").await;
    assert!(status == StatusCode::OK && companies.iter().all(|c| c == "C0001"), "{companies:?}");
    assert_eq!(file(&app, &token).await, StatusCode::CREATED);
    // A page past the end is empty, not refused.
    let (status, companies, beyond_total) = listed_companies(&app, &token, "?page=999").await;
    assert_eq!((status, companies.len(), beyond_total), (StatusCode::OK, 0, total + 1));

    // Made a planner: the next list is a planner's (every company's), and a planner may not file.
    let user = labplan::app::users::find_by_email(&app.db, &Caller::Operator, email).await.unwrap();
    let planner =
        labplan::app::users::Binding { role: labplan::domain::access::Role::Planner, company: None, lab: None };
    labplan::app::users::set_role(&app.db, &Caller::Operator, user.id, planner).await.unwrap();
    let (status, companies, _) = listed_companies(&app, &token, "?per_page=200").await;
    assert_eq!(status, StatusCode::OK);
    assert!(companies.iter().any(|c| c != "C0001"), "a planner's list: {companies:?}");
    let before = count(&app, "test_requests").await;
    assert_eq!(file(&app, &token).await, StatusCode::FORBIDDEN);

    // Back to C0001, read again, then revoked: both routes refuse at once and nothing is written.
    let company = labplan::app::users::Binding {
        role: labplan::domain::access::Role::Company,
        company: Some("C0001".into()),
        lab: None,
    };
    labplan::app::users::set_role(&app.db, &Caller::Operator, user.id, company).await.unwrap();
    assert_eq!(file(&app, &token).await, StatusCode::CREATED);
    assert_eq!(listed_companies(&app, &token, "").await.0, StatusCode::OK);
    let (ok, out, _) = labplan(&db, &["users", "revoke", "--email", email]);
    assert!(ok && out.contains("1 token(s) revoked"), "{out}");
    assert_eq!(file(&app, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(listed_companies(&app, &token, "").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(count(&app, "test_requests").await, before + 1, "only the filing before the revoke was written");
    app.stop().await;
}
