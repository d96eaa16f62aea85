//! What every signed-in page needs: the user (as the same [`Caller`] the API uses, so
//! the same operations and scoping apply), the language, the session's CSRF token, and
//! rendering with the common layout.

use std::collections::BTreeMap;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;

use super::i18n::{self, Lang};
use super::{SESSION_COOKIE, render_template};
use crate::app::AppError;
use crate::app::policy::Op;
use crate::auth::same_secret;
use crate::domain::FieldError;
use crate::domain::access::{Caller, Role};
use crate::state::AppState;

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
    /// The user's unread notices, for the header.
    pub unread: u64,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
        let path = parts.uri.path().to_string();
        let jar = CookieJar::from_headers(&parts.headers);
        let secret = jar.get(SESSION_COOKIE).map(|c| c.value().to_string());
        let session = match secret {
            Some(secret) => crate::app::users::session(&state.db, &secret).await.ok().flatten(),
            None => None,
        };
        let Some(session) = session else {
            let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
            return Err(Redirect::to(&format!("/login?next={next}")).into_response());
        };
        // A header without its count is better than no page: a failed count shows none.
        let unread = crate::app::notices::unread_count(&state.db, &session.caller).await.unwrap_or(0);
        Ok(Self { caller: session.caller, lang, csrf: session.row.csrf_token, path, unread })
    }
}

/// The navigation of each role: (path, text key).
fn nav(role: Role) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::Company => &[
            ("/requests", "nav_my_requests"),
            ("/requests/new", "nav_new_request"),
            ("/imports/requests", "nav_import"),
        ],
        Role::Lab => &[
            ("/lab/assignments", "nav_lab_assignments"),
            ("/lab/work", "nav_lab_work"),
            ("/lab/timeline", "nav_lab_timeline"),
            ("/lab/capacity", "nav_lab_capacity"),
            ("/lab/scope", "nav_lab_scope"),
            ("/lab/import", "nav_lab_import"),
        ],
        Role::Planner => &[
            ("/planning", "nav_planning"),
            ("/dashboard", "nav_dashboard"),
            ("/scenarios", "nav_scenarios"),
            ("/imports/requests", "nav_import"),
        ],
        Role::Ministry => &[("/dashboard", "nav_dashboard"), ("/scenarios", "nav_scenarios")],
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
        let nav: Vec<minijinja::Value> = nav(self.caller.role())
            .iter()
            .map(|(href, key)| {
                let current = self.path == *href;
                context! { href, text => self.t(key), current }
            })
            .collect();
        let user = context! {
            email => self.caller.actor(), role => self.caller.role().as_str(),
            company => self.caller.own_company().map(ToString::to_string),
            lab => self.caller.own_lab().map(ToString::to_string),
        };
        let full = context! {
            lang => self.lang.code(), t => i18n::texts(self.lang), user, nav, csrf => self.csrf, path => self.path,
            unread => self.unread,
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

    /// Whether the caller may do `op`: the same rule the operation and the API apply.
    pub fn may(&self, op: Op) -> bool {
        op.allows(&self.caller)
    }

    /// Refuses the page unless the caller may do `op`.
    pub fn allow(&self, op: Op) -> Result<(), Response> {
        if self.may(op) { Ok(()) } else { Err(self.forbidden()) }
    }

    /// Every form that changes something carries the session's CSRF token.
    pub fn check_csrf(&self, sent: &str) -> Result<(), Response> {
        if same_secret(&self.csrf, sent) { Ok(()) } else { Err(self.error(StatusCode::BAD_REQUEST, self.t("expired"))) }
    }

    /// Field errors, keyed by field, in the page's language.
    pub fn field_errors(&self, errors: &[FieldError]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for e in errors {
            // `excluded_labs[2]` belongs next to the `excluded_labs` field.
            let field = e.field.split('[').next().unwrap_or(&e.field).to_string();
            let text = i18n::message(self.lang, e);
            out.entry(field).and_modify(|m: &mut String| m.push_str(&format!(" {text}"))).or_insert(text);
        }
        out
    }

    /// An operation's error as a page; validation errors are for forms and are handled there.
    pub fn app_error(&self, error: AppError) -> Response {
        match error {
            AppError::NotFound(_) => self.not_found(),
            AppError::Forbidden(_) => self.forbidden(),
            AppError::Conflict(detail) => {
                self.error(StatusCode::CONFLICT, format!("{}: {}", self.t("error_conflict"), detail))
            }
            AppError::Validation(errors) => {
                let text: Vec<String> = self.field_errors(&errors).into_values().collect();
                self.error(StatusCode::UNPROCESSABLE_ENTITY, text.join(" "))
            }
            AppError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable on a page");
                self.error(StatusCode::SERVICE_UNAVAILABLE, self.t("error_unavailable"))
            }
            AppError::Database(e) => {
                tracing::error!(error = %e, "database error on a page");
                self.error(StatusCode::INTERNAL_SERVER_ERROR, self.t("error_internal"))
            }
            AppError::Unexpected(e) => {
                tracing::error!(error = ?e, "unexpected error on a page");
                self.error(StatusCode::INTERNAL_SERVER_ERROR, self.t("error_internal"))
            }
        }
    }
}

/// A CSV file of rows (UTF-8 with a byte-order mark, so that spreadsheet programs read
/// Cyrillic right) as a download.
pub fn csv_download(file: &str, header: &[String], rows: &[Vec<String>]) -> Response {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(b"\xEF\xBB\xBF".to_vec());
    let written = std::iter::once(header.to_vec()).chain(rows.iter().cloned()).try_for_each(|r| writer.write_record(r));
    let bytes = match written.map_err(|e| e.to_string()).and_then(|()| writer.into_inner().map_err(|e| e.to_string())) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "CSV could not be written");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the file could not be made").into_response();
        }
    };
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        bytes,
    )
        .into_response()
}

/// A table as a one-sheet workbook: numbers as numbers, the header row bold and frozen,
/// the first column wide enough for its labels.
pub fn xlsx_download(
    file: &str,
    sheet: &str,
    header: &[String],
    rows: Vec<Vec<crate::sheets::write::Value>>,
) -> Response {
    use crate::sheets::write::{Book, Column};
    let columns: Vec<Column> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            Column::new(h.clone(), if i == 0 { 36.0 } else { (h.chars().count() as f64 + 2.0).clamp(10.0, 30.0) })
        })
        .collect();
    let mut book = Book::new();
    // A sheet's name is at most 31 characters.
    let name: String = sheet.chars().take(31).collect();
    let bytes = match book.sheet(&name, &columns, rows).and_then(|()| book.finish()) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "XLSX could not be written");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the file could not be made").into_response();
        }
    };
    (
        [
            (axum::http::header::CONTENT_TYPE, crate::http::spreadsheets::XLSX.to_string()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        bytes,
    )
        .into_response()
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
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(super::grouped(1_234_567.8), "1\u{a0}234\u{a0}568");
        assert_eq!(super::grouped(999.0), "999");
        assert_eq!(super::grouped(-1000.0), "−1\u{a0}000");
    }
}
