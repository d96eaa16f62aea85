//! Every signed-in user's notices: the list, newest first, and marking one read.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::context;

use super::page::{CsrfForm, Page};
use crate::app::notices::{self, NoticeQuery};
use crate::app::policy::Op;
use crate::state::AppState;

/// Notices the page lists.
const SHOWN: i64 = 100;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/notices", get(notices_page))
        .route("/notices/{id}/read", post(read))
        .route("/notices/preferences", post(save_choice))
}

/// Where a notice's subject is seen by its recipient.
fn href(page: &Page, entity: &str, entity_id: &str, detail: Option<&str>) -> Option<String> {
    use crate::domain::access::Role;
    match (page.caller.role(), entity) {
        (Role::Company, "assignment") => {
            detail.and_then(|d| d.split(" · ").next()).map(|request| format!("/requests/{request}"))
        }
        (Role::Lab, "assignment") => Some("/lab/work".into()),
        (Role::Lab, "planning_run") => Some("/lab/assignments".into()),
        (Role::Company, "planning_run") => Some("/requests".into()),
        (Role::Planner, "planning_run") => Some(format!("/planning/runs/{entity_id}")),
        _ => None,
    }
}

async fn notices_page(State(state): State<AppState>, page: Page) -> Response {
    if let Err(refused) = page.allow(Op::ReadNotices) {
        return refused;
    }
    let q = NoticeQuery { per_page: Some(SHOWN), ..Default::default() };
    let list = match notices::list(&state.db, &page.caller, &q).await {
        Ok(list) => list,
        Err(e) => return page.app_error(e),
    };
    let rows: Vec<minijinja::Value> = list
        .items
        .iter()
        .map(|n| {
            context! {
                id => n.id, kind => n.kind, at => n.created_at.format("%Y-%m-%d %H:%M").to_string(),
                text => page.t(&format!("notice_{}", n.kind)), detail => n.detail, entity_id => n.entity_id,
                href => href(&page, &n.entity, &n.entity_id, n.detail.as_deref()), read => n.read_at.is_some(),
            }
        })
        .collect();
    let choice = match notices::mail_choice(&state.db, &page.caller).await {
        Ok(c) => c,
        Err(e) => return page.app_error(e),
    };
    let kinds: Vec<minijinja::Value> = notices::KINDS
        .iter()
        .map(|k| {
            let chosen = choice.email.as_ref().is_none_or(|e| e.iter().any(|c| c == k));
            context! { kind => k, text => page.t(&format!("notice_{k}")), chosen }
        })
        .collect();
    page.render("notices.html", context! { notices => rows, kinds })
}

async fn read(State(state): State<AppState>, page: Page, Path(id): Path<i64>, Form(form): Form<CsrfForm>) -> Response {
    if let Err(refused) = page.allow(Op::ReadNotices).and_then(|()| page.check_csrf(&form.csrf)) {
        return refused;
    }
    match notices::read(&state.db, &page.caller, id).await {
        Ok(_) => Redirect::to("/notices").into_response(),
        Err(e) => page.app_error(e),
    }
}

/// The e-mail choice form: one checkbox per kind (`email=<kind>`, repeated).
async fn save_choice(State(state): State<AppState>, page: Page, body: axum::body::Bytes) -> Response {
    let mut csrf = String::new();
    let mut kinds = Vec::new();
    for (name, value) in form_urlencoded::parse(&body) {
        match name.as_ref() {
            "csrf" => csrf = value.into_owned(),
            "email" => kinds.push(value.into_owned()),
            _ => {}
        }
    }
    if let Err(refused) = page.allow(Op::ReadNotices).and_then(|()| page.check_csrf(&csrf)) {
        return refused;
    }
    let choice = notices::MailChoice { email: Some(kinds) };
    match notices::set_mail_choice(&state.db, &page.caller, choice).await {
        Ok(_) => Redirect::to("/notices?saved=1").into_response(),
        Err(e) => page.app_error(e),
    }
}
