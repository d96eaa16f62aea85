//! What every signed-in page needs: the user (as the same [`Caller`] the API uses, so
//! the same scoped queries apply), the language, the session's CSRF token, and
//! rendering with the common layout.

use std::collections::BTreeMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;

use super::i18n::{self, Lang};
use super::{current_session, render_template};
use crate::auth::policy;
use crate::auth::{Caller, Role, users};
use crate::http::AppState;
use crate::http::error::{ApiError, FieldError};

/// A form whose only field is the CSRF token (a button that does one thing).
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// A signed-in user's page request. Without a session the user is sent to sign in and
/// brought back here afterwards.
pub struct Page {
    pub caller: Caller,
    pub lang: Lang,
    pub csrf: String,
    /// The path asked for, for links that keep the user where they are.
    pub path: String,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        let path = parts.uri.path().to_string();
        let jar = CookieJar::from_headers(&parts.headers);
        let session = current_session(state, &jar).await;
        let Some((session, caller)) = session.and_then(|s| users::caller_of(&s.user).map(|c| (s, c))) else {
            let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
            return Err(Redirect::to(&format!("/login?next={next}")).into_response());
        };
        Ok(Self { caller, lang, csrf: session.row.csrf_token, path })
    }
}

/// The navigation of each role: (path, text key).
fn nav(role: Role) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::Company => &[("/requests", "nav_my_requests"), ("/requests/new", "nav_new_request")],
        Role::Lab => &[
            ("/lab/assignments", "nav_lab_assignments"),
            ("/lab/timeline", "nav_lab_timeline"),
            ("/lab/capacity", "nav_lab_capacity"),
            ("/lab/scope", "nav_lab_scope"),
        ],
        Role::Planner => &[("/planning", "nav_planning"), ("/dashboard", "nav_dashboard")],
        Role::Ministry => &[("/dashboard", "nav_dashboard")],
        Role::Admin => &[
            ("/admin/labs", "nav_admin_labs"),
            ("/admin/companies", "nav_admin_companies"),
            ("/admin/test-types", "nav_admin_test_types"),
            ("/admin/users", "nav_admin_users"),
            ("/dashboard", "nav_dashboard"),
        ],
    }
}

/// The page a role lands on after signing in.
pub fn home_of(role: Role) -> &'static str {
    nav(role).first().map_or("/", |(path, _)| path)
}

impl Page {
    pub fn t(&self, key: &str) -> String {
        i18n::text(self.lang, key)
    }

    /// The page for `name` with the layout's context (user, menu, language, CSRF) added.
    pub fn render(&self, name: &str, ctx: minijinja::Value) -> Response {
        self.render_status(StatusCode::OK, name, ctx)
    }

    pub fn render_status(&self, status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
        let nav: Vec<minijinja::Value> = nav(self.caller.role)
            .iter()
            .map(|(href, key)| {
                let current = self.path == *href;
                context! { href, text => self.t(key), current }
            })
            .collect();
        let user = context! {
            email => self.caller.email, role => self.caller.role.as_str(),
            company => self.caller.company, lab => self.caller.lab,
        };
        let full = context! {
            lang => self.lang.code(), t => i18n::texts(self.lang), user, nav, csrf => self.csrf, path => self.path,
            ..ctx
        };
        match render_template(name, full) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "page could not be rendered");
                (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be shown").into_response()
            }
        }
    }

    /// An error page in the user's language.
    pub fn error(&self, status: StatusCode, message: String) -> Response {
        self.render_status(status, "error.html", context! { status => status.as_u16(), message })
    }

    pub fn not_found(&self) -> Response {
        self.error(StatusCode::NOT_FOUND, self.t("error_not_found"))
    }

    pub fn forbidden(&self) -> Response {
        self.error(StatusCode::FORBIDDEN, self.t("error_forbidden"))
    }

    /// Pages act through the API's handlers, so they answer to the same route policy:
    /// a role refused by the API is refused by the page.
    pub fn allow(&self, method: Method, api_path: &str) -> Result<(), Response> {
        match policy::allowed(&method, api_path) {
            Some(roles) if roles.contains(&self.caller.role) => Ok(()),
            _ => Err(self.forbidden()),
        }
    }

    /// Only the listed roles may open the page.
    pub fn only(&self, roles: &[Role]) -> Result<(), Response> {
        if roles.contains(&self.caller.role) { Ok(()) } else { Err(self.forbidden()) }
    }

    /// Every form that changes something carries the session's CSRF token.
    pub fn check_csrf(&self, sent: &str) -> Result<(), Response> {
        if super::same_token(&self.csrf, sent) {
            Ok(())
        } else {
            Err(self.error(StatusCode::BAD_REQUEST, self.t("expired")))
        }
    }

    /// Field errors of the API, keyed by field, in the page's language.
    pub fn field_errors(&self, errors: &[FieldError]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for e in errors {
            // `excluded_labs[2]` belongs next to the `excluded_labs` field.
            let field = e.field.split('[').next().unwrap_or(&e.field).to_string();
            let text = i18n::message(self.lang, &e.message);
            out.entry(field).and_modify(|m: &mut String| m.push_str(&format!(" {text}"))).or_insert(text);
        }
        out
    }

    /// An API error as a page; validation errors are for forms and are handled there.
    pub fn api_error(&self, error: ApiError) -> Response {
        match error {
            ApiError::NotFound(_) => self.not_found(),
            ApiError::Forbidden(_) | ApiError::Unauthorized => self.forbidden(),
            ApiError::Conflict(detail) => {
                self.error(StatusCode::CONFLICT, format!("{}: {}", self.t("error_conflict"), detail))
            }
            ApiError::Validation(errors) => {
                let text: Vec<String> = self.field_errors(&errors).into_values().collect();
                self.error(StatusCode::UNPROCESSABLE_ENTITY, text.join(" "))
            }
            ApiError::Malformed(detail) | ApiError::UnsupportedMediaType(detail) => {
                self.error(StatusCode::BAD_REQUEST, detail)
            }
            ApiError::Database(e) => {
                tracing::error!(error = %e, "database error on a page");
                self.error(StatusCode::INTERNAL_SERVER_ERROR, self.t("error_internal"))
            }
            ApiError::Unexpected(e) => {
                tracing::error!(error = ?e, "unexpected error on a page");
                self.error(StatusCode::INTERNAL_SERVER_ERROR, self.t("error_internal"))
            }
        }
    }
}

/// JSON to embed in a `<script type="application/json">`: `<`, `>` and `&` escaped, so the
/// text can never close the element, and still the same JSON.
pub fn script_json(value: &serde_json::Value) -> minijinja::Value {
    let json = value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026");
    minijinja::Value::from_safe_string(json)
}

/// One CSV field, quoted when it holds a separator, a quote or a line break.
pub fn csv_field(raw: &str) -> String {
    if raw.contains([',', '"', '\n', '\r', ';']) {
        format!("\"{}\"", raw.replace('"', "\"\""))
    } else {
        raw.to_string()
    }
}

/// Rounds and groups a number for people: `1234567.8` as `1 234 568`.
pub fn grouped(value: f64) -> String {
    let rounded = value.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    if rounded < 0 { format!("−{out}") } else { out }
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_json_cannot_close_its_script_and_csv_fields_are_quoted() {
        let json = super::script_json(&serde_json::json!({"name": "</script><b>&"})).to_string();
        assert!(!json.contains('<') && !json.contains('>'));
        let back: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back["name"], "</script><b>&");
        assert_eq!(super::csv_field("plain"), "plain");
        assert_eq!(super::csv_field("ООО «Ромашка», \"А\""), "\"ООО «Ромашка», \"\"А\"\"\"");
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(super::grouped(1_234_567.8), "1\u{a0}234\u{a0}568");
        assert_eq!(super::grouped(999.0), "999");
        assert_eq!(super::grouped(-1000.0), "−1\u{a0}000");
    }
}
