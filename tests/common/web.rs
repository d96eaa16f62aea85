//! Signing in to the pages over plain HTTP, for tests that need a session cookie.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};

use super::TestApp;

/// A client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// `name=value` of the cookie `name` set by a response, with its attributes.
pub fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
        let (n, value) = pair.split_once('=')?;
        (n.trim() == name).then(|| (value.to_string(), attrs.to_string()))
    })
}

pub fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + "name=\"csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

/// GET /login: the form's CSRF token and the cookie that must come back with it.
pub async fn login_form(app: &TestApp) -> (String, String) {
    let resp = client().get(app.url("/login")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (cookie, _) = set_cookie(&resp, "labplan_login_csrf").expect("a CSRF cookie");
    let html = resp.text().await.unwrap();
    (hidden_csrf(&html), cookie)
}

/// Posts the sign-in form, with `extra` fields (such as `next`) and headers.
pub async fn sign_in_with(
    app: &TestApp,
    email: &str,
    password: &str,
    extra: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let (csrf, cookie) = login_form(app).await;
    let mut form = vec![("csrf", csrf.as_str()), ("email", email), ("password", password)];
    form.extend_from_slice(extra);
    let mut request = client().post(app.url("/login")).header(COOKIE, format!("labplan_login_csrf={cookie}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.form(&form).send().await.unwrap()
}

pub async fn sign_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    sign_in_with(app, email, password, &[], &[]).await
}

/// A signed-in session's cookie header value, `labplan_session=…`.
pub async fn session(app: &TestApp, email: &str, password: &str) -> String {
    let resp = sign_in(app, email, password).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{email} signs in");
    let (value, _) = set_cookie(&resp, "labplan_session").expect("a session cookie");
    format!("labplan_session={value}")
}
