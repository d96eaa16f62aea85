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
    axum::Router::new().route("/notices", get(notices_page)).route("/notices/{id}/read", post(read))
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
    page.render("notices.html", context! { notices => rows })
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
