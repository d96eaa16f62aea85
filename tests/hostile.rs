//! Hostile input and a hostile user: a disabled user is cut off at once, the sign-in
//! form sends nobody to another site, malformed input gets a clear 4xx and changes
//! nothing, clients cannot grow the metrics, and sign-in limits hold under a burst and
//! behind a proxy. SQLite and PostgreSQL where storage is involved.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::web::{client, hidden_csrf, session, sign_in, sign_in_with};
use common::{PASSWORD, TestApp, TestDb, Who};
use labplan::app::signin::TrustedProxies;
use labplan::startup::Settings;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

both_backends!(a_disabled_user_is_cut_off_at_once, malformed_input_is_refused_and_changes_nothing);

async fn count_requests(app: &TestApp) -> u64 {
    labplan::db::requests::count(&app.db).await.unwrap()
}

/// Posts a one-button form of the admin's user page.
async fn admin_button(app: &TestApp, admin: &str, user: i64, action: &str) -> StatusCode {
    let page = client().get(app.url(&format!("/admin/users/{user}"))).header(COOKIE, admin).send().await.unwrap();
    let csrf = hidden_csrf(&page.text().await.unwrap());
    let resp = client()
        .post(app.url(&format!("/admin/users/{user}/{action}")))
        .header(COOKIE, admin)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    resp.status()
}

async fn a_disabled_user_is_cut_off_at_once(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    let engineer = Who::Company("C0001");
    let token = app.token(&engineer).await.unwrap();
    let email = app.user(&engineer).await;
    let own_session = session(&app, &email, PASSWORD).await;
    let admin_email = app.user(&Who::Admin).await;
    let admin = session(&app, &admin_email, PASSWORD).await;
    let api = |token: String| {
        let url = app.url("/api/v1/requests");
        async move { reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status() }
    };
    let page = |cookie: String| {
        let url = app.url("/requests");
        async move { client().get(url).header(COOKIE, cookie).send().await.unwrap().status() }
    };
    assert_eq!(api(token.clone()).await, StatusCode::OK);
    assert_eq!(page(own_session.clone()).await, StatusCode::OK);

    let user =
        labplan::app::users::find_by_email(&app.db, &labplan::domain::access::Caller::Operator, &email).await.unwrap();
    assert_eq!(admin_button(&app, &admin, user.id, "disable").await, StatusCode::SEE_OTHER);
    // Token, session and password all stop at once.
    assert_eq!(api(token.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(page(own_session.clone()).await, StatusCode::SEE_OTHER, "the session has ended: back to sign-in");
    let refused = sign_in(&app, &email, PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(common::web::set_cookie(&refused, "labplan_session").is_none());
    app.act_as(Who::Admin).await;
    let (_, audit) = app.get(&format!("/api/v1/audit?entity=user&entity_id={email}")).await;
    assert_eq!(audit["items"][0]["action"], "disable", "{audit}");
    assert_eq!(audit["items"][0]["actor"], admin_email.as_str());

    // Enabled again, the token works again; a new session can be opened.
    assert_eq!(admin_button(&app, &admin, user.id, "enable").await, StatusCode::SEE_OTHER);
    assert_eq!(api(token).await, StatusCode::OK);
    assert_eq!(page(session(&app, &email, PASSWORD).await).await, StatusCode::OK);

    // A token with an expiry stops at it.
    let short = labplan::app::users::create_token(
        &app.db,
        &labplan::domain::access::Caller::Operator,
        user.id,
        "short",
        Some(1),
    )
    .await
    .unwrap();
    assert_eq!(api(short.clone()).await, StatusCode::OK);
    {
        use sea_orm::ConnectionTrait;
        let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
        let sql = format!("UPDATE api_tokens SET expires_at = '{past}' WHERE name = 'short'");
        app.db.execute_unprepared(&sql).await.unwrap();
    }
    assert_eq!(api(short).await, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

async fn malformed_input_is_refused_and_changes_nothing(db: TestDb) {
    let app = db.spawn_with_fixture().await;
    app.act_as(Who::Company("C0001")).await;
    let before = count_requests(&app).await;
    let filing = json!({"company": "C0001", "test_type": "EMC-R10", "samples": 1, "ready_date": "2027-01-11",
        "due_date": "2027-03-01", "priority": 1});

    // A page far past any list answers 422, not a dropped connection.
    for list in ["/api/v1/requests", "/api/v1/labs", "/api/v1/test-types", "/api/v1/assignments", "/api/v1/companies"] {
        let (status, problem) = app.get(&format!("{list}?page=9223372036854775806")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{list}: {problem}");
    }
    // NUL in free text, in a filter and in a path.
    let mut with_nul = filing.clone();
    with_nul["notes"] = json!("образцы\u{0}готовы");
    let (status, problem) = app.post("/api/v1/requests", &with_nul).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "notes");
    let (status, _) = app.get("/api/v1/requests?test_type=EMC%00").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.get("/api/v1/requests/R%0000001").await;
    assert!(status.is_client_error(), "{status}");
    // Trailing text after the body.
    let (status, _) = app.post_raw("/api/v1/requests", &format!("{filing} xyz")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Dates of another age.
    for year in ["0000", "1900"] {
        let mut old = filing.clone();
        old["ready_date"] = json!(format!("{year}-01-03"));
        let (status, problem) = app.post("/api/v1/requests", &old).await;
        assert!(status.is_client_error(), "{year}: {status} {problem}");
    }
    // Ten megabytes, announced the way curl sends a large body: the answer comes before
    // any of it is sent. (Sent without asking, the body may meet a connection the server
    // closed after answering, and the client sees a reset instead of the 413.)
    let token = app.token(&Who::Company("C0001")).await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/requests HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        app.addr,
        10 * 1024 * 1024
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::io::AsyncReadExt::read(&mut stream, &mut answer),
    )
    .await
    .expect("an answer before the body")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert_eq!(count_requests(&app).await, before, "nothing was filed");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_goes_nowhere_else_and_keeps_its_limits() {
    let db = TestDb::create(common::Backend::Sqlite).await.unwrap();
    let app = db.spawn_with_fixture().await;
    let email = app.user(&Who::Planner).await;
    // After sign-in the browser is sent only to a path of this site.
    for next in ["/\t/other.example/x", "//other.example", "/\\other.example", "/\u{1}x"] {
        let resp = sign_in_with(&app, &email, PASSWORD, &[("next", next)], &[]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(resp.headers()[LOCATION], "/", "{next:?}");
    }
    let resp = client().get(app.url("/login?next=%0D%0ASet-Cookie:%20x=1")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // Twenty wrong passwords at once get five real checks.
    let app = Arc::new(app);
    let mut tries = Vec::new();
    for _ in 0..20 {
        let app = app.clone();
        let email = email.clone();
        tries.push(tokio::spawn(async move { sign_in(&app, &email, "not the password").await.status() }));
    }
    let mut statuses = Vec::new();
    for t in tries {
        statuses.push(t.await.unwrap().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 15, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_has_its_own_limit() {
    let db = TestDb::create(common::Backend::Sqlite).await.unwrap();
    let trusted = TrustedProxies::parse("127.0.0.1").unwrap();
    let settings = Settings { trusted_proxies: trusted, ..Settings::new(&db.url, "127.0.0.1:0".parse().unwrap()) };
    let app = TestApp::spawn_with(settings).await;
    let email = app.user(&Who::Planner).await;
    // Thirty failures from one client behind the proxy (each for another account).
    for i in 0..30 {
        let resp = sign_in_with(&app, &format!("x{i}@a.ru"), "wrong", &[], &[("x-forwarded-for", "203.0.113.5")]).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let blocked = sign_in_with(&app, &email, PASSWORD, &[], &[("x-forwarded-for", "203.0.113.5")]).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS, "that client waits");
    let other = sign_in_with(&app, &email, PASSWORD, &[], &[("x-forwarded-for", "198.51.100.7")]).await;
    assert_eq!(other.status(), StatusCode::SEE_OTHER, "another client behind the same proxy does not");

    // Without the trust, the header is the client's own word and counts for nothing.
    let plain = db.spawn().await;
    for i in 0..30 {
        let resp =
            sign_in_with(&plain, &format!("y{i}@a.ru"), "wrong", &[], &[("x-forwarded-for", "203.0.113.9")]).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let spoofed = sign_in_with(&plain, &email, PASSWORD, &[], &[("x-forwarded-for", "198.51.100.8")]).await;
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_speaks_plain_http_carefully() {
    let db = TestDb::create(common::Backend::Sqlite).await.unwrap();
    let settings = Settings {
        header_read_timeout: Duration::from_secs(1),
        ..Settings::new(&db.url, "127.0.0.1:0".parse().unwrap())
    };
    let app = TestApp::spawn_with(settings).await;
    app.act_as(Who::Planner).await;

    // Invented methods do not become metric labels.
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        let _ = app.client().request(method, app.url("/api/v1/regions")).send().await.unwrap();
    }
    let metrics = reqwest::get(app.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("BREW"), "an invented method became a label");
    assert!(metrics.contains("method=\"other\""));

    // A method the resource does not have is 405 with Allow; HEAD goes with GET.
    let resp = app.client().patch(app.url("/api/v1/regions")).json(&json!({})).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "GET, POST, HEAD");
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let resp = app.client().head(app.url("/api/v1/regions")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // Pages say what they may load and that no other site may frame them.
    let resp = client().get(app.url("/login")).send().await.unwrap();
    let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");

    // The document names the scheme and the answers every route can give.
    let doc: Value = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for code in ["401", "403", "503"] {
                let problem = &operation["responses"][code]["content"]["application/problem+json"];
                assert!(problem.is_object(), "{method} {path} does not document {code}");
            }
        }
    }

    // Headers sent halfway are not waited on for ever.
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
    assert!(read.is_ok(), "the server still waits after 5 s for headers it limited to 1 s");
}
