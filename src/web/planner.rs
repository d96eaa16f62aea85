//! Pages of a programme planner: start a run, follow it live, compare its plan with the
//! published one, publish it.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use minijinja::context;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::Deserialize;

use super::page::{CsrfForm, Page, grouped};
use crate::entities::{plan_assignments, plan_unassigned};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::planning::{self as api, PlanningRun};

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/planning", get(runs_page))
        .route("/planning/runs", post(start))
        .route("/planning/runs/{id}", get(run_page))
        .route("/planning/runs/{id}/events", get(events))
        .route("/planning/runs/{id}/publish", post(publish))
        .route("/planning/runs/{id}/cancel", post(cancel))
}

fn percent(gap: Option<f64>) -> Option<String> {
    gap.map(|g| format!("{:.2} %", g * 100.0))
}

fn run_view(page: &Page, run: &PlanningRun) -> minijinja::Value {
    context! {
        id => run.id, status => run.status.as_str(),
        status_text => page.t(&format!("run_status_{}", run.status.as_str())),
        horizon_start => run.horizon_start.to_string(), horizon_weeks => run.horizon_weeks,
        time_limit => run.time_limit_seconds, gap_limit => percent(Some(run.gap_limit)), requests => run.requests,
        created_by => run.created_by, created_at => run.created_at.format("%Y-%m-%d %H:%M").to_string(),
        objective => run.objective.map(grouped), bound => run.bound.map(grouped), gap => percent(run.gap),
        solve_seconds => run.solve_seconds.map(|s| format!("{s:.1}")), error => run.error,
        published => run.published, plan_status => run.plan_status,
        phase => run.progress.phase, parts_done => run.progress.parts_done, parts_total => run.progress.parts_total,
        best_objective => run.progress.best_objective.map(grouped), best_bound => run.progress.best_bound.map(grouped),
        progress_gap => percent(run.progress.gap),
        active => matches!(run.status.as_str(), "queued" | "running"),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    horizon_start: String,
    #[serde(default)]
    horizon_weeks: String,
    #[serde(default)]
    time_limit_seconds: String,
    #[serde(default)]
    gap_percent: String,
}

async fn runs_page(State(state): State<AppState>, page: Page) -> Response {
    if let Err(refused) = page.allow(Method::GET, "/planning-runs") {
        return refused;
    }
    let settings = crate::planning::instance::settings(&state.db).await.unwrap_or_default();
    let form = StartForm {
        horizon_start: settings.get("horizon_start").cloned().unwrap_or_default(),
        horizon_weeks: settings.get("horizon_weeks").cloned().unwrap_or_else(|| "26".into()),
        time_limit_seconds: "60".into(),
        gap_percent: "1".into(),
        ..Default::default()
    };
    show_runs(&state, &page, &form, BTreeMap::new(), StatusCode::OK).await
}

async fn show_runs(
    state: &AppState,
    page: &Page,
    form: &StartForm,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Response {
    let query = api::RunQuery { status: None, page: Some(1), per_page: Some(30) };
    let runs = match api::list_runs(State(state.clone()), crate::http::extract::Query(query)).await {
        Ok(axum::Json(list)) => list.items,
        Err(e) => return page.api_error(e),
    };
    let runs: Vec<minijinja::Value> = runs.iter().map(|r| run_view(page, r)).collect();
    let may_start = page.allow(Method::POST, "/planning-runs").is_ok();
    page.render_status(
        status,
        "planning.html",
        context! {
            runs, may_start, errors,
            form => context! {
                horizon_start => form.horizon_start, horizon_weeks => form.horizon_weeks,
                time_limit_seconds => form.time_limit_seconds, gap_percent => form.gap_percent,
            },
        },
    )
}

async fn start(State(state): State<AppState>, page: Page, Form(form): Form<StartForm>) -> Response {
    if let Err(refused) = page.allow(Method::POST, "/planning-runs").and_then(|()| page.check_csrf(&form.csrf)) {
        return refused;
    }
    // The form's own shape first, in the page's language; the limits are the API's.
    let mut errors = BTreeMap::new();
    let start = match form.horizon_start.trim() {
        "" => None,
        raw => match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                errors.insert("horizon_start".to_string(), page.t("field_date"));
                None
            }
        },
    };
    let mut number = |name: &str, raw: &str| -> Option<f64> {
        let raw = raw.trim().replace(',', ".");
        if raw.is_empty() {
            return None;
        }
        raw.parse::<f64>().ok().filter(|v| v.is_finite()).or_else(|| {
            errors.insert(name.to_string(), page.t("field_number"));
            None
        })
    };
    let weeks = number("horizon_weeks", &form.horizon_weeks);
    let time_limit = number("time_limit_seconds", &form.time_limit_seconds);
    let gap = number("gap_percent", &form.gap_percent);
    if !errors.is_empty() {
        return show_runs(&state, &page, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let body = serde_json::json!({
        "horizon_start": start, "horizon_weeks": weeks.map(|w| w.round() as i64),
        "time_limit_seconds": time_limit, "gap": gap.map(|g| g / 100.0),
    });
    let body = axum::body::Bytes::from(body.to_string());
    match api::create_run(State(state.clone()), page.caller.clone(), body).await {
        Ok((_, axum::Json(run))) => Redirect::to(&format!("/planning/runs/{}", run.id)).into_response(),
        Err(ApiError::Validation(errors)) => {
            let mut errors = page.field_errors(&errors);
            if let Some(message) = errors.remove("gap") {
                errors.insert("gap_percent".into(), message);
            }
            show_runs(&state, &page, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => page.api_error(e),
    }
}

async fn run_page(State(state): State<AppState>, page: Page, Path(id): Path<i64>) -> Response {
    if let Err(refused) = page.allow(Method::GET, "/planning-runs/{id}") {
        return refused;
    }
    let run = match api::get_run(State(state.clone()), crate::http::extract::Path(id)).await {
        Ok(axum::Json(run)) => run,
        Err(e) => return page.api_error(e),
    };
    let view = run_view(&page, &run);
    let mut diff = None;
    let mut counts = None;
    if run.objective.is_some() {
        match api::get_diff(State(state.clone()), crate::http::extract::Path(id)).await {
            Ok(axum::Json(d)) => {
                let change = |c: &crate::planning::diff::Change| {
                    context! {
                        request => c.request,
                        published => c.published.as_ref().map(|p| format!("{} · {}", p.lab, p.start_date)),
                        proposed => c.proposed.as_ref().map(|p| format!("{} · {}", p.lab, p.start_date)),
                    }
                };
                diff = Some(context! {
                    published_run => d.published_run, unchanged => d.unchanged,
                    newly_placed => d.newly_placed.iter().map(change).collect::<Vec<_>>(),
                    moved => d.moved.iter().map(change).collect::<Vec<_>>(),
                    dropped => d.dropped.iter().map(change).collect::<Vec<_>>(),
                    published_objective => d.published_objective.map(grouped),
                    delta => d.objective_delta.map(|v| format!("{}{}", if v > 0.0 { "+" } else { "" }, grouped(v))),
                });
            }
            Err(e) => return page.api_error(e),
        }
        let assigned = plan_assignments::Entity::find().filter(plan_assignments::Column::Run.eq(id)).count(&state.db);
        let unassigned = plan_unassigned::Entity::find().filter(plan_unassigned::Column::Run.eq(id)).count(&state.db);
        if let (Ok(a), Ok(u)) = (assigned.await, unassigned.await) {
            counts = Some(context! { assigned => a, unassigned => u });
        }
    }
    let may_publish = page.allow(Method::POST, "/planning-runs/{id}/publish").is_ok();
    page.render("planning_run.html", context! { run => view, diff, counts, may_publish })
}

/// The run's progress for the page's script: the API's event stream, behind the page's session.
async fn events(State(state): State<AppState>, page: Page, Path(id): Path<i64>) -> Response {
    if let Err(refused) = page.allow(Method::GET, "/planning-runs/{id}/events") {
        return refused;
    }
    match api::run_events(State(state), crate::http::extract::Path(id)).await {
        Ok(sse) => sse.into_response(),
        Err(e) => page.api_error(e),
    }
}

async fn publish(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) =
        page.allow(Method::POST, "/planning-runs/{id}/publish").and_then(|()| page.check_csrf(&form.csrf))
    {
        return refused;
    }
    match api::publish_run(State(state), page.caller.clone(), crate::http::extract::Path(id)).await {
        Ok(_) => Redirect::to(&format!("/planning/runs/{id}")).into_response(),
        Err(e) => page.api_error(e),
    }
}

async fn cancel(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) =
        page.allow(Method::POST, "/planning-runs/{id}/cancel").and_then(|()| page.check_csrf(&form.csrf))
    {
        return refused;
    }
    let body = axum::body::Bytes::from_static(br#"{"keep_best": true}"#);
    match api::cancel_run(State(state), crate::http::extract::Path(id), body).await {
        Ok(_) => Redirect::to(&format!("/planning/runs/{id}")).into_response(),
        Err(e) => page.api_error(e),
    }
}
