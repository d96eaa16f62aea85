//! Web pages: sign-in with a session cookie, sign-out, and the pages of each role
//! (one module per role, built on [`page::Page`]).
//! Russian by default, English by `?lang=en` (remembered in a cookie).
//!
//! Sessions: the cookie holds a random secret; the database keeps only its SHA-256,
//! the user, a CSRF token and the expiry. A new secret is issued at every sign-in
//! (any session the browser brought is ended), so a planted cookie is worth nothing.
//! Every form that changes something carries a CSRF token: the session's own once
//! signed in, and a double-submit cookie on the sign-in form itself.

// Page helpers return the refusal page itself as their error: one per request, built
// only on the refusing path, so its size costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod assets;
pub mod company;
pub mod i18n;
pub mod imports;
pub mod lab;
pub mod life;
pub mod lookup;
pub mod ministry;
pub mod notices;
pub mod page;
pub mod planner;
pub mod scenarios;

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use minijinja::{Environment, context};
use serde::Deserialize;

use self::i18n::Lang;
use crate::app::signin::{self, Refusal};
use crate::app::users;
use crate::auth::{new_secret, same_secret};
use crate::state::AppState;

const SESSION_COOKIE: &str = "labplan_session";
const LOGIN_CSRF_COOKIE: &str = "labplan_login_csrf";
const LANG_COOKIE: &str = "lang";

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .merge(company::router())
        .merge(planner::router())
        .merge(scenarios::router())
        .merge(ministry::router())
        .merge(admin::router())
        .merge(lab::router())
        .merge(life::router())
        .merge(notices::router())
        .merge(imports::router())
        .layer(middleware::from_fn(language_layer))
        .merge(assets::router())
}

/// Every template, compiled into the binary.
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = &templates![
    "base.html",
    "macros.html",
    "login.html",
    "error.html",
    "requests.html",
    "request_new.html",
    "request_detail.html",
    "planning.html",
    "planning_run.html",
    "scenarios.html",
    "scenario_compare.html",
    "dashboard.html",
    "dashboard_macros.html",
    "admin_registry.html",
    "admin_users.html",
    "admin_user.html",
    "admin_binding.html",
    "lab_macros.html",
    "lab_assignments.html",
    "lab_timeline.html",
    "lab_capacity.html",
    "lab_scope.html",
    "lab_work.html",
    "notices.html",
    "import_requests.html",
    "import_lab.html",
];

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        env.add_filter("grouped", |v: f64| page::grouped(v));
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        env
    })
}

pub fn render_template(name: &str, ctx: minijinja::Value) -> Result<String, minijinja::Error> {
    templates().get_template(name)?.render(ctx)
}

/// `?lang=` switches the language of this and every later page (a cookie keeps it);
/// without it the cookie decides, and Russian is the default.
async fn language_layer(jar: CookieJar, mut req: Request, next: Next) -> Response {
    let asked = req
        .uri()
        .query()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "lang").map(|(_, v)| Lang::parse(&v)));
    let lang = asked.unwrap_or_else(|| jar.get(LANG_COOKIE).map_or(Lang::Ru, |c| Lang::parse(c.value())));
    req.extensions_mut().insert(lang);
    let response = next.run(req).await;
    match asked {
        Some(lang) => {
            let cookie =
                Cookie::build((LANG_COOKIE, lang.code())).path("/").same_site(SameSite::Lax).permanent().build();
            (jar.add(cookie), response).into_response()
        }
        None => response,
    }
}

fn render(name: &str, ctx: minijinja::Value) -> Response {
    match render_template(name, ctx) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be shown").into_response()
        }
    }
}

/// What pages may load and where they may be shown: only this site's own scripts, styles
/// and images, in no other site's frame.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers every answer carries; pages also their content security policy.
pub async fn security_headers(req: Request, next: Next) -> Response {
    use axum::http::HeaderValue;
    use axum::http::header::{
        CONTENT_SECURITY_POLICY as CSP, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    };
    let mut response = next.run(req).await;
    let is_html =
        response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if is_html {
        headers.insert(CSP, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    }
    response
}

/// Cookies are Secure when the request reached us over TLS (a proxy says so) or when
/// the operator insists with LABPLAN_SECURE_COOKIES=1.
fn secure(headers: &HeaderMap) -> bool {
    std::env::var("LABPLAN_SECURE_COOKIES").is_ok_and(|v| v == "1")
        || headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v == "https")
}

fn cookie(name: &'static str, value: String, headers: &HeaderMap) -> Cookie<'static> {
    Cookie::build((name, value)).path("/").http_only(true).same_site(SameSite::Lax).secure(secure(headers)).build()
}

/// The session a request's cookie stands for, if any and still live.
async fn current_session(state: &AppState, jar: &CookieJar) -> Option<users::Session> {
    let secret = jar.get(SESSION_COOKIE)?.value().to_string();
    users::session(&state.db, &secret).await.ok().flatten()
}

/// A page for an unknown path, in the language the user chose.
pub fn not_found_page(req: &Request) -> Response {
    let jar = CookieJar::from_headers(req.headers());
    let lang = jar.get(LANG_COOKIE).map_or(Lang::Ru, |c| Lang::parse(c.value()));
    let html = render_template(
        "error.html",
        context! {
            lang => lang.code(), t => i18n::texts(lang), status => 404,
            message => i18n::text(lang, "error_not_found"), path => req.uri().path(),
        },
    );
    match html {
        Ok(html) => (StatusCode::NOT_FOUND, Html(html)).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// The signed-in user's own start page; the sign-in page otherwise.
async fn home(State(state): State<AppState>, jar: CookieJar) -> Response {
    match current_session(&state, &jar).await {
        Some(session) => Redirect::to(page::home_of(session.caller.role())).into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only a path of this site: an open redirect would let a link send users elsewhere.
/// Browsers drop tabs and line breaks from a URL and read `\\` as `/`, so `/\t/host`
/// and `/\\host` are other sites; anything but printable ASCII is refused with them.
pub(crate) fn local_path(next: Option<&str>) -> Option<String> {
    next.filter(|n| {
        n.starts_with('/') && n.chars().all(|c| c.is_ascii_graphic()) && !n.contains('\\') && !n[1..].starts_with('/')
    })
    .map(str::to_string)
}

async fn login_page(
    State(state): State<AppState>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<NextQuery>,
) -> Response {
    if current_session(&state, &jar).await.is_some() {
        return Redirect::to(&local_path(q.next.as_deref()).unwrap_or_else(|| "/".into())).into_response();
    }
    login_form(
        jar,
        &headers,
        LoginView { lang, status: StatusCode::OK, error: None, email: "", next: q.next.as_deref() },
    )
}

struct LoginView<'a> {
    lang: Lang,
    status: StatusCode,
    error: Option<&'a str>,
    email: &'a str,
    next: Option<&'a str>,
}

fn login_form(jar: CookieJar, headers: &HeaderMap, view: LoginView<'_>) -> Response {
    let csrf = new_secret("");
    let jar = jar.add(cookie(LOGIN_CSRF_COOKIE, csrf.clone(), headers));
    let error = view.error.map(|key| i18n::text(view.lang, key));
    let page = render(
        "login.html",
        context! {
            lang => view.lang.code(), t => i18n::texts(view.lang), csrf, error, email => view.email,
            next => local_path(view.next), path => "/login",
        },
    );
    (view.status, jar, page).into_response()
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Extension(lang): Extension<Lang>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let refuse = |jar, status, error| {
        login_form(
            jar,
            &headers,
            LoginView { lang, status, error: Some(error), email: &form.email, next: form.next.as_deref() },
        )
    };
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string()).unwrap_or_default();
    if !same_secret(&expected, &form.csrf) {
        return refuse(jar, StatusCode::BAD_REQUEST, "expired");
    }
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let client = state.proxies.client(addr.ip(), forwarded);
    let user = match signin::sign_in(&state.db, &state.limiter, &form.email, &form.password, client).await {
        Ok(Ok(user)) => user,
        Ok(Err(Refusal::TooMany)) => return refuse(jar, StatusCode::TOO_MANY_REQUESTS, "too_many"),
        Ok(Err(Refusal::BadCredentials)) => return refuse(jar, StatusCode::UNAUTHORIZED, "bad_login"),
        Ok(Err(Refusal::Disabled)) => return refuse(jar, StatusCode::FORBIDDEN, "disabled"),
        Err(e) => {
            tracing::error!(error = %e, "sign-in could not be checked");
            return (StatusCode::SERVICE_UNAVAILABLE, "the sign-in could not be completed").into_response();
        }
    };
    // A fresh session at every sign-in; whatever session the browser brought ends.
    let replaced = jar.get(SESSION_COOKIE).map(|c| c.value().to_string());
    let secret = match users::start_session(&state.db, &user, replaced.as_deref()).await {
        Ok(secret) => secret,
        Err(e) => {
            tracing::error!(error = %e, "could not store a session");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the sign-in could not be completed").into_response();
        }
    };
    let session_cookie = Cookie::build((SESSION_COOKIE, secret))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(&headers))
        .build();
    let jar = jar.remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/")).add(session_cookie);
    let target = local_path(form.next.as_deref()).unwrap_or_else(|| "/".into());
    (jar, Redirect::to(&target)).into_response()
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(state): State<AppState>, jar: CookieJar, Form(form): Form<LogoutForm>) -> Response {
    let Some(session) = current_session(&state, &jar).await else {
        return (jar.remove(Cookie::build(SESSION_COOKIE).path("/")), Redirect::to("/login")).into_response();
    };
    if !same_secret(&session.row.csrf_token, &form.csrf) {
        return (StatusCode::BAD_REQUEST, "the form has expired; reload the page").into_response();
    }
    let _ = users::end_session(&state.db, &session).await;
    (jar.remove(Cookie::build(SESSION_COOKIE).path("/")), Redirect::to("/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_this_sites_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/requests?sort=id&dir=asc")).as_deref(), Some("/requests?sort=id&dir=asc"));
        for other in ["//evil.example", "/\t/evil.example", "/\\evil.example", "https://evil.example", "/\n/x", "/ok\0"]
        {
            assert_eq!(local_path(Some(other)), None, "{other:?}");
        }
        assert_eq!(local_path(None), None);
    }
}
