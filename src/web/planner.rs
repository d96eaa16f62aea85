//! Pages of a programme planner: start a run, follow it live, compare its plan with the
//! published one, publish it.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use futures_util::StreamExt;
use minijinja::context;
use serde::Deserialize;

use super::page::{CsrfForm, Page, grouped};
use crate::app::AppError;
use crate::app::policy::Op;
use crate::app::runs::{self as ops, PlanningRun, StartRun};
use crate::domain::paging::PageRequest;
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/planning", get(runs_page))
        .route("/planning/runs", post(start))
        .route("/planning/runs/{id}", get(run_page))
        .route("/planning/runs/{id}/events", get(events))
        .route("/planning/runs/{id}/publish", post(publish))
        .route("/planning/runs/{id}/cancel", post(cancel))
}

/// The newest runs the planning page lists.
const RUNS_SHOWN: u64 = 30;

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
        moved => run.moved, plan_deterministic => run.plan_deterministic,
        published => run.published, plan_status => run.plan_status.map(|s| if s == crate::domain::status::PlanStatus::Optimal { "optimal" } else { "feasible" }),
        phase => run.progress.phase, parts_done => run.progress.parts_done, parts_total => run.progress.parts_total,
        best_objective => run.progress.best_objective.map(grouped), best_bound => run.progress.best_bound.map(grouped),
        progress_gap => percent(run.progress.gap),
        active => !run.status.is_terminal(),
        parts => run.parts.as_ref().map(|parts| parts.iter().map(|p| context! {
            part => p.part, equipment => p.equipment, requests => p.requests,
            status_text => page.t(&format!("part_status_{}", p.status)),
            worker => p.solved_by.as_ref().or(p.worker.as_ref()),
            seconds => p.seconds.map(|s| format!("{s:.1}")),
            objective => p.objective.map(grouped), bound => p.bound.map(grouped),
        }).collect::<Vec<_>>()),
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
    #[serde(default)]
    freeze_weeks: String,
    #[serde(default)]
    move_lab: String,
    #[serde(default)]
    move_week: String,
    #[serde(default)]
    deterministic: Option<String>,
    #[serde(default)]
    spread_parts: Option<String>,
}

async fn runs_page(State(state): State<AppState>, page: Page) -> Response {
    if let Err(refused) = page.allow(Op::ReadRuns) {
        return refused;
    }
    let horizon = match ops::default_horizon(&state.db).await {
        Ok(h) => h,
        Err(e) => return page.app_error(e),
    };
    let form = StartForm {
        horizon_start: horizon.start.to_string(),
        horizon_weeks: horizon.weeks.to_string(),
        time_limit_seconds: format!("{}", ops::DEFAULT_TIME_LIMIT_SECONDS),
        gap_percent: format!("{}", ops::DEFAULT_GAP * 100.0),
        freeze_weeks: crate::db::instance::DEFAULT_FREEZE_WEEKS.to_string(),
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
    let runs = match ops::list(&state.db, &page.caller, None, PageRequest { page: 1, per_page: RUNS_SHOWN }).await {
        Ok(list) => list.items,
        Err(e) => return page.app_error(e),
    };
    let runs: Vec<minijinja::Value> = runs.iter().map(|r| run_view(page, r)).collect();
    let may_start = page.may(Op::Plan);
    page.render_status(
        status,
        "planning.html",
        context! {
            runs, may_start, errors,
            form => context! {
                horizon_start => form.horizon_start, horizon_weeks => form.horizon_weeks,
                time_limit_seconds => form.time_limit_seconds, gap_percent => form.gap_percent,
                freeze_weeks => form.freeze_weeks, move_lab => form.move_lab, move_week => form.move_week,
                deterministic => form.deterministic.is_some(), spread_parts => form.spread_parts.is_some(),
            },
        },
    )
}

async fn start(State(state): State<AppState>, page: Page, Form(form): Form<StartForm>) -> Response {
    if let Err(refused) = page.allow(Op::Plan).and_then(|()| page.check_csrf(&form.csrf)) {
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
    let freeze = number("freeze_weeks", &form.freeze_weeks);
    let move_lab = number("move_lab", &form.move_lab.replace([' ', '\u{a0}'], ""));
    let move_week = number("move_week", &form.move_week.replace([' ', '\u{a0}'], ""));
    if !errors.is_empty() {
        return show_runs(&state, &page, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let body = StartRun {
        horizon_start: start,
        horizon_weeks: weeks.map(|w| w.round() as i64),
        time_limit_seconds: time_limit,
        gap: gap.map(|g| g / 100.0),
        freeze_weeks: freeze.map(|w| w.round() as i64),
        move_lab,
        move_week,
        deterministic: form.deterministic.is_some(),
        spread_parts: form.spread_parts.is_some(),
    };
    match ops::start(&state.db, &page.caller, body).await {
        Ok(run) => Redirect::to(&format!("/planning/runs/{}", run.id)).into_response(),
        Err(AppError::Validation(errors)) => {
            let mut errors = page.field_errors(&errors);
            if let Some(message) = errors.remove("gap") {
                errors.insert("gap_percent".into(), message);
            }
            show_runs(&state, &page, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => page.app_error(e),
    }
}

async fn run_page(State(state): State<AppState>, page: Page, Path(id): Path<i64>) -> Response {
    if let Err(refused) = page.allow(Op::ReadRuns) {
        return refused;
    }
    let run = match ops::get(&state.db, &page.caller, id).await {
        Ok(run) => run,
        Err(e) => return page.app_error(e),
    };
    let view = run_view(&page, &run);
    let mut diff = None;
    let mut counts = None;
    let mut moves: Vec<minijinja::Value> = Vec::new();
    let horizon = crate::domain::horizon::Horizon {
        start: run.horizon_start,
        weeks: u32::try_from(run.horizon_weeks).unwrap_or(0),
    };
    if run.objective.is_some() {
        match ops::diff(&state.db, &page.caller, id).await {
            Ok(d) => {
                let change = |c: &crate::domain::diff::Change| {
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
            Err(e) => return page.app_error(e),
        }
        if let Ok(Some((a, u))) = ops::plan_counts(&state.db, &page.caller, id).await {
            counts = Some(context! { assigned => a, unassigned => u });
        }
        let at = |slot: &labplan_solver::Slot| format!("{} · {}", slot.lab, horizon.week_start(slot.start_week));
        moves = match ops::moves(&state.db, &page.caller, id).await {
            Ok(list) => list
                .iter()
                .map(|m| {
                    context! {
                        request => m.request, from => at(&m.from), to => m.to.as_ref().map(at),
                        penalty => grouped(m.penalty), saving => m.saving.map(grouped), forced => m.forced,
                    }
                })
                .collect(),
            Err(e) => return page.app_error(e),
        };
    }
    let may_publish = page.may(Op::Plan);
    page.render("planning_run.html", context! { run => view, diff, counts, moves, may_publish })
}

/// The run's progress for the page's script: the API's event stream, behind the page's session.
async fn events(State(state): State<AppState>, page: Page, Path(id): Path<i64>) -> Response {
    if let Err(refused) = page.allow(Op::ReadRuns) {
        return refused;
    }
    match ops::follow(state.db.clone(), page.caller.clone(), id).await {
        Ok(updates) => {
            let events = updates
                .take_until(state.stopped())
                .map(|(name, data)| Ok::<_, Infallible>(Event::default().event(name).data(data)));
            Sse::new(events).keep_alive(KeepAlive::default()).into_response()
        }
        Err(e) => page.app_error(e),
    }
}

async fn publish(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = page.allow(Op::Plan).and_then(|()| page.check_csrf(&form.csrf)) {
        return refused;
    }
    match ops::publish(&state.db, &page.caller, id).await {
        Ok(_) => Redirect::to(&format!("/planning/runs/{id}")).into_response(),
        Err(e) => page.app_error(e),
    }
}

async fn cancel(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = page.allow(Op::Plan).and_then(|()| page.check_csrf(&form.csrf)) {
        return refused;
    }
    match ops::cancel(&state.db, &page.caller, id, true).await {
        Ok(_) => Redirect::to(&format!("/planning/runs/{id}")).into_response(),
        Err(e) => page.app_error(e),
    }
}
