//! Web pages: sign-in with a session cookie, sign-out, and the signed-in home page.
//! Russian by default, English by `?lang=en` (remembered in a cookie).
//!
//! Sessions: the cookie holds a random secret; the database keeps only its SHA-256,
//! the user, a CSRF token and the expiry. A new secret is issued at every sign-in
//! (any session the browser brought is ended), so a planted cookie is worth nothing.
//! Every form that changes something carries a CSRF token: the session's own once
//! signed in, and a double-submit cookie on the sign-in form itself.

pub mod limiter;

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use minijinja::{Environment, context};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use serde::Deserialize;

use crate::auth::{new_secret, token_hash, users};
use crate::entities::{sessions, users as user_rows};
use crate::http::AppState;

const SESSION_COOKIE: &str = "labplan_session";
const LOGIN_CSRF_COOKIE: &str = "labplan_login_csrf";
const LANG_COOKIE: &str = "lang";
const SESSION_HOURS: i64 = 8;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("login.html", include_str!("templates/login.html")),
            ("home.html", include_str!("templates/home.html")),
        ] {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        env
    })
}

fn texts(lang: &str) -> serde_json::Value {
    if lang == "en" {
        serde_json::json!({
            "title": "labplan", "language": "Language", "sign_in": "Sign in", "sign_out": "Sign out",
            "email": "E-mail", "password": "Password", "welcome": "Welcome", "signed_in_as": "You are signed in as",
            "bad_login": "Wrong e-mail or password.", "too_many": "Too many attempts. Try again in a few minutes.",
            "expired": "The form has expired. Please try again.",
            "role_company": "company engineer", "role_lab": "lab coordinator", "role_planner": "programme planner",
            "role_ministry": "ministry analyst", "role_admin": "administrator",
        })
    } else {
        serde_json::json!({
            "title": "labplan", "language": "Язык", "sign_in": "Вход", "sign_out": "Выйти",
            "email": "Электронная почта", "password": "Пароль", "welcome": "Добро пожаловать",
            "signed_in_as": "Вы вошли как",
            "bad_login": "Неверная электронная почта или пароль.",
            "too_many": "Слишком много попыток. Повторите через несколько минут.",
            "expired": "Форма устарела. Попробуйте ещё раз.",
            "role_company": "инженер компании", "role_lab": "координатор лаборатории",
            "role_planner": "планировщик программы", "role_ministry": "аналитик министерства",
            "role_admin": "администратор",
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The page language: `?lang=` if given (and remembered), else the cookie, else Russian.
fn language(jar: CookieJar, q: &LangQuery) -> (CookieJar, &'static str) {
    let pick = |v: &str| if v == "en" { "en" } else { "ru" };
    match q.lang.as_deref() {
        Some(lang) => {
            let lang = pick(lang);
            let cookie = Cookie::build((LANG_COOKIE, lang)).path("/").same_site(SameSite::Lax).permanent().build();
            (jar.add(cookie), lang)
        }
        None => {
            let lang = jar.get(LANG_COOKIE).map_or("ru", |c| pick(c.value()));
            (jar, lang)
        }
    }
}

fn render(name: &str, ctx: minijinja::Value) -> Response {
    match templates().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be shown").into_response()
        }
    }
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

struct Session {
    row: sessions::Model,
    user: user_rows::Model,
}

async fn current_session(state: &AppState, jar: &CookieJar) -> Option<Session> {
    let secret = jar.get(SESSION_COOKIE)?.value().to_string();
    let row = sessions::Entity::find_by_id(token_hash(&secret)).one(&state.db).await.ok()??;
    if row.expires_at < chrono::Utc::now() {
        let _ = sessions::Entity::delete_by_id(row.id.clone()).exec(&state.db).await;
        return None;
    }
    let user = user_rows::Entity::find_by_id(row.user).one(&state.db).await.ok()??;
    Some(Session { row, user })
}

fn user_context(user: &user_rows::Model) -> minijinja::Value {
    context! { email => user.email, role => user.role, company => user.company, lab => user.lab }
}

async fn home(State(state): State<AppState>, jar: CookieJar, Query(q): Query<LangQuery>) -> Response {
    let (jar, lang) = language(jar, &q);
    let Some(session) = current_session(&state, &jar).await else {
        return (jar, Redirect::to("/login")).into_response();
    };
    let page = render(
        "home.html",
        context! { lang, t => texts(lang), user => user_context(&session.user), csrf => session.row.csrf_token },
    );
    (jar, page).into_response()
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<LangQuery>,
) -> Response {
    let (jar, lang) = language(jar, &q);
    if current_session(&state, &jar).await.is_some() {
        return (jar, Redirect::to("/")).into_response();
    }
    login_form(jar, &headers, lang, StatusCode::OK, None, "")
}

fn login_form(
    jar: CookieJar,
    headers: &HeaderMap,
    lang: &str,
    status: StatusCode,
    error: Option<&str>,
    email: &str,
) -> Response {
    let csrf = new_secret("");
    let jar = jar.add(cookie(LOGIN_CSRF_COOKIE, csrf.clone(), headers));
    let t = texts(lang);
    let error = error.and_then(|key| t.get(key)).and_then(|v| v.as_str()).map(str::to_string);
    let page = render("login.html", context! { lang, t, csrf, error, email });
    (status, jar, page).into_response()
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Compared in constant time: the token is a secret.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && !a.is_empty() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A hash to verify against when the account does not exist, so that an unknown
/// e-mail costs as much time as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| users::hash_password("no such user, no such password").unwrap_or_default())
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Response {
    let (jar, lang) = language(jar, &LangQuery { lang: None });
    let expected = jar.get(LOGIN_CSRF_COOKIE).map(|c| c.value().to_string()).unwrap_or_default();
    if !same_token(&expected, &form.csrf) {
        return login_form(jar, &headers, lang, StatusCode::BAD_REQUEST, Some("expired"), &form.email);
    }
    let email = form.email.trim().to_lowercase();
    let keys = [format!("account:{email}"), format!("address:{}", addr.ip())];
    if state.limiter.blocked(&keys[0], limiter::PER_ACCOUNT) || state.limiter.blocked(&keys[1], limiter::PER_ADDRESS) {
        return login_form(jar, &headers, lang, StatusCode::TOO_MANY_REQUESTS, Some("too_many"), &form.email);
    }
    let user = users::find_by_email(&state.db, &email).await.ok().flatten();
    let ok = match &user {
        Some(user) => users::verify_password(&form.password, &user.password_hash),
        None => {
            users::verify_password(&form.password, dummy_hash());
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        for key in &keys {
            state.limiter.failed(key);
        }
        tracing::info!(address = %addr.ip(), "failed sign-in");
        return login_form(jar, &headers, lang, StatusCode::UNAUTHORIZED, Some("bad_login"), &form.email);
    };
    state.limiter.clear(&keys[0]);

    // A fresh session at every sign-in; whatever session the browser brought ends.
    if let Some(old) = jar.get(SESSION_COOKIE) {
        let _ = sessions::Entity::delete_by_id(token_hash(old.value())).exec(&state.db).await;
    }
    let secret = new_secret("");
    let now = chrono::Utc::now();
    let created = sessions::ActiveModel {
        id: Set(token_hash(&secret)),
        user: Set(user.id),
        csrf_token: Set(new_secret("")),
        created_at: Set(now),
        expires_at: Set(now + chrono::Duration::hours(SESSION_HOURS)),
    }
    .insert(&state.db)
    .await;
    if let Err(e) = created {
        tracing::error!(error = %e, "could not store a session");
        return (StatusCode::INTERNAL_SERVER_ERROR, "the sign-in could not be completed").into_response();
    }
    // Expired sessions of this user are of no further use.
    let _ = sessions::Entity::delete_many()
        .filter(sessions::Column::User.eq(user.id))
        .filter(sessions::Column::ExpiresAt.lt(now))
        .exec(&state.db)
        .await;
    let session_cookie = Cookie::build((SESSION_COOKIE, secret))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(&headers))
        .build();
    let jar = jar.remove(Cookie::build(LOGIN_CSRF_COOKIE).path("/")).add(session_cookie);
    tracing::info!(user = %user.email, "signed in");
    (jar, Redirect::to("/")).into_response()
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
    if !same_token(&session.row.csrf_token, &form.csrf) {
        return (StatusCode::BAD_REQUEST, "the form has expired; reload the page").into_response();
    }
    let _ = sessions::Entity::delete_by_id(session.row.id).exec(&state.db).await;
    (jar.remove(Cookie::build(SESSION_COOKIE).path("/")), Redirect::to("/login")).into_response()
}
