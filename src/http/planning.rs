//! Planning runs (`/planning-runs`) and the bookings of the published plan (`/assignments`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Path, Query, parse_json};
use super::pagination::{ListResponse, PageParams};
use super::validate::Checker;
use crate::auth::Caller;
use crate::db::assignments::{self as bookings, Answer, AnswerError, PublishReport, horizon_of};
use crate::db::fetch_page;
use crate::db::runs::{self, Cancel, NewRun, RunStatus};
use crate::entities::{assignments, plan_assignments, planning_runs, test_requests};
use crate::planning::diff::{self, Diff, Placement};
use crate::planning::instance::{self, Horizon};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs, create_run))
        .routes(routes!(get_run))
        .routes(routes!(cancel_run))
        .routes(routes!(publish_run))
        .routes(routes!(get_plan))
        .routes(routes!(get_instance))
        .routes(routes!(get_diff))
        .routes(routes!(run_events))
        .routes(routes!(list_assignments))
        .routes(routes!(confirm_assignment))
        .routes(routes!(decline_assignment))
}

impl From<AnswerError> for ApiError {
    fn from(e: AnswerError) -> Self {
        match e {
            AnswerError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            AnswerError::Conflict(message) => ApiError::Conflict(message),
            AnswerError::Db(e) => e.into(),
        }
    }
}

/// A planning run: its parameters, where it is, and what it found.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlanningRun {
    pub id: i64,
    pub status: RunStatus,
    pub horizon_start: NaiveDate,
    pub horizon_weeks: i32,
    pub time_limit_seconds: f64,
    pub gap_limit: f64,
    /// Requests in the run's instance
    pub requests: i32,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// How many workers have claimed it (more than 1: retried after a worker died)
    pub attempts: i32,
    /// The worker holding it, while running
    pub worker: Option<String>,
    pub cancel_requested: bool,
    pub progress: RunProgress,
    /// `optimal` or `feasible`, once the run has a plan
    pub plan_status: Option<String>,
    pub objective: Option<f64>,
    pub bound: Option<f64>,
    pub gap: Option<f64>,
    pub solve_seconds: Option<f64>,
    pub error: Option<String>,
    pub published: bool,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunProgress {
    /// decompose, heuristic, relaxation, mip, done
    pub phase: Option<String>,
    pub parts_done: Option<i32>,
    pub parts_total: Option<i32>,
    /// Objective of the best plan found so far
    pub best_objective: Option<f64>,
    /// Best proven lower bound so far
    pub best_bound: Option<f64>,
    pub gap: Option<f64>,
}

impl PlanningRun {
    fn from_model(run: planning_runs::Model, published_id: Option<i64>) -> Self {
        let gap = run.best_objective.zip(run.best_bound).map(|(o, b)| ((o - b) / o.max(1.0)).max(0.0));
        let running = run.status == RunStatus::Running.as_str();
        Self {
            id: run.id,
            status: RunStatus::parse(&run.status).unwrap_or(RunStatus::Failed),
            horizon_start: run.horizon_start,
            horizon_weeks: run.horizon_weeks,
            time_limit_seconds: run.time_limit_seconds,
            gap_limit: run.gap_limit,
            requests: run.requests,
            created_by: run.created_by,
            created_at: run.created_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            attempts: run.attempts,
            worker: running.then_some(run.lease_owner).flatten(),
            cancel_requested: run.cancel_requested,
            progress: RunProgress {
                phase: run.phase,
                parts_done: run.parts_done,
                parts_total: run.parts_total,
                best_objective: run.best_objective,
                best_bound: run.best_bound,
                gap,
            },
            plan_status: run.plan_status,
            objective: run.objective,
            bound: run.bound,
            gap: run.gap,
            solve_seconds: run.solve_seconds,
            error: run.error,
            published: published_id == Some(run.id),
            published_at: run.published_at,
        }
    }
}

async fn published_id(state: &AppState) -> ApiResult<Option<i64>> {
    Ok(runs::published(&state.db).await?.map(|r| r.id))
}

async fn load_run(state: &AppState, id: i64) -> ApiResult<planning_runs::Model> {
    runs::find(&state.db, id).await?.ok_or_else(|| ApiError::not_found("planning run", &id.to_string()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// queued, running, succeeded, failed or cancelled
    pub status: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[utoipa::path(get, path = "/planning-runs", tag = "planning", params(RunQuery),
    responses((status = 200, body = ListResponse<PlanningRun>), (status = 422, body = Problem)))]
pub async fn list_runs(
    State(state): State<AppState>,
    Query(q): Query<RunQuery>,
) -> ApiResult<axum::Json<ListResponse<PlanningRun>>> {
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let mut select = planning_runs::Entity::find().order_by_desc(planning_runs::Column::Id);
    if let Some(raw) = &q.status {
        let status = RunStatus::parse(raw)
            .ok_or_else(|| ApiError::field("status", "must be one of queued, running, succeeded, failed, cancelled"))?;
        select = select.filter(planning_runs::Column::Status.eq(status.as_str()));
    }
    let published = published_id(&state).await?;
    let (rows, total) = fetch_page(&state.db, select, page).await?;
    Ok(axum::Json(ListResponse::new(
        rows.into_iter().map(|r| PlanningRun::from_model(r, published)).collect(),
        total,
        page,
    )))
}

/// Parameters of a new run; every field has a default.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// Monday that starts the horizon; default: the registry's planning horizon, else next Monday
    pub horizon_start: Option<NaiveDate>,
    /// Weeks in the horizon (1–104); default: the registry's, else 26
    pub horizon_weeks: Option<i64>,
    /// Wall-clock limit of the solve in seconds (1–3600); default 60
    pub time_limit_seconds: Option<f64>,
    /// Stop once the proven gap is at most this (0–1); default 0.01
    pub gap: Option<f64>,
}

#[utoipa::path(post, path = "/planning-runs", tag = "planning", request_body = StartRun,
    responses((status = 202, description = "queued", body = PlanningRun), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub async fn create_run(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, axum::Json<PlanningRun>)> {
    let body: StartRun =
        if body.iter().all(u8::is_ascii_whitespace) { StartRun::default() } else { parse_json(&body)? };
    let settings = instance::settings(&state.db).await?;
    let mut check = Checker::default();
    let start = match body.horizon_start {
        Some(date) => check.monday("horizon_start", date),
        None => settings
            .get("horizon_start")
            .and_then(|s| s.parse::<NaiveDate>().ok())
            .unwrap_or_else(|| crate::domain::week_monday(Utc::now().date_naive()) + chrono::Days::new(7)),
    };
    let weeks = match body.horizon_weeks {
        Some(weeks) => check.int("horizon_weeks", weeks, 1, 104),
        None => settings.get("horizon_weeks").and_then(|s| s.parse().ok()).unwrap_or(26),
    };
    let time_limit = body.time_limit_seconds.unwrap_or(60.0);
    check.check(
        "time_limit_seconds",
        time_limit.is_finite() && (1.0..=3600.0).contains(&time_limit),
        "must be between 1 and 3600 seconds",
    );
    let gap = body.gap.unwrap_or(0.01);
    check.check("gap", gap.is_finite() && (0.0..=1.0).contains(&gap), "must be between 0 and 1");
    check.finish()?;

    let horizon = Horizon { start, weeks: u32::try_from(weeks).unwrap_or(26) };
    let instance = instance::build(&state.db, horizon).await?;
    let run = runs::create(
        &state.db,
        NewRun { horizon, time_limit_seconds: time_limit, gap, created_by: caller.actor(), instance: &instance },
    )
    .await?;
    tracing::info!(run = run.id, requests = run.requests, "planning run queued");
    Ok((StatusCode::ACCEPTED, axum::Json(PlanningRun::from_model(run, None))))
}

#[utoipa::path(get, path = "/planning-runs/{id}", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, body = PlanningRun), (status = 404, body = Problem)))]
pub async fn get_run(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<axum::Json<PlanningRun>> {
    let run = load_run(&state, id).await?;
    Ok(axum::Json(PlanningRun::from_model(run, published_id(&state).await?)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRun {
    /// Keep the best plan found so far (it can then be published); default false
    #[serde(default)]
    pub keep_best: bool,
}

#[utoipa::path(post, path = "/planning-runs/{id}/cancel", tag = "planning", params(("id" = i64, Path)), request_body = CancelRun,
    responses((status = 202, description = "cancelled, or asked to stop", body = PlanningRun), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_run(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, axum::Json<PlanningRun>)> {
    let body: CancelRun =
        if body.iter().all(u8::is_ascii_whitespace) { CancelRun::default() } else { parse_json(&body)? };
    match runs::cancel(&state.db, id, body.keep_best).await? {
        Cancel::Cancelled | Cancel::Requested => {}
        Cancel::AlreadyEnded(status) => {
            return Err(ApiError::Conflict(format!("planning run {id} has already ended: {}", status.as_str())));
        }
        Cancel::NotFound => return Err(ApiError::not_found("planning run", &id.to_string())),
    }
    let run = load_run(&state, id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(PlanningRun::from_model(run, published_id(&state).await?))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Published {
    pub run: PlanningRun,
    pub report: PublishReport,
}

#[utoipa::path(post, path = "/planning-runs/{id}/publish", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, body = Published), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn publish_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Published>> {
    let report = bookings::publish(&state.db, id, caller.actor()).await?;
    let run = load_run(&state, id).await?;
    tracing::info!(run = id, planned = report.planned, unplaceable = report.unplaceable, "plan published");
    Ok(axum::Json(Published { run: PlanningRun::from_model(run, Some(id)), report }))
}

#[utoipa::path(get, path = "/planning-runs/{id}/plan", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, description = "the plan, format labplan-plan/1 of the planning model", body = Object),
        (status = 404, body = Problem), (status = 409, description = "the run has no plan (yet)", body = Problem)))]
pub async fn get_plan(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    let run = load_run(&state, id).await?;
    let plan = runs::plan(&state.db, &run)
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("planning run {id} is {} and has no plan", run.status)))?;
    Ok(axum::Json(plan).into_response())
}

#[utoipa::path(get, path = "/planning-runs/{id}/instance", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, description = "the run's input, format labplan-instance/1: `labplan solve --input` reproduces the run", body = Object),
        (status = 404, body = Problem)))]
pub async fn get_instance(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Response> {
    let run = load_run(&state, id).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], run.instance).into_response())
}

async fn placements(state: &AppState, run: &planning_runs::Model) -> ApiResult<BTreeMap<String, Placement>> {
    let horizon = horizon_of(run);
    Ok(plan_assignments::Entity::find()
        .filter(plan_assignments::Column::Run.eq(run.id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|a| {
            let start_date = horizon.week_start(u32::try_from(a.start_week).unwrap_or(0));
            (a.request, Placement { lab: a.lab, start_date })
        })
        .collect())
}

#[utoipa::path(get, path = "/planning-runs/{id}/diff", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, description = "this run's plan against the published plan", body = Diff),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn get_diff(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<axum::Json<Diff>> {
    let run = load_run(&state, id).await?;
    if run.objective.is_none() {
        return Err(ApiError::Conflict(format!("planning run {id} is {} and has no plan", run.status)));
    }
    let proposed = placements(&state, &run).await?;
    let (published_run, published_objective, published) = match runs::published(&state.db).await? {
        Some(p) => {
            let placed = placements(&state, &p).await?;
            (Some(p.id), p.objective, placed)
        }
        None => (None, None, BTreeMap::new()),
    };
    Ok(axum::Json(diff::compare(id, run.objective, &proposed, published_run, published_objective, &published)))
}

#[utoipa::path(get, path = "/planning-runs/{id}/events", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, description = "server-sent events: `progress` with the run (as GET /{id}) whenever it changes, ending with `end`", content_type = "text/event-stream"),
        (status = 404, body = Problem)))]
pub async fn run_events(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Sse<impl futures_core::Stream<Item = Result<Event, Infallible>>>> {
    load_run(&state, id).await?;
    // The worker may be another process: the database is where progress lives, so
    // the stream follows the run's row.
    let stream = async_stream::stream! {
        let mut last: Option<String> = None;
        loop {
            let run = match runs::find(&state.db, id).await {
                Ok(Some(run)) => run,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(run = id, error = %e, "event stream could not read the run");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let published = runs::published(&state.db).await.ok().flatten().map(|p| p.id);
            let view = PlanningRun::from_model(run, published);
            let ended = matches!(view.status, RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled);
            let json = serde_json::to_string(&view).unwrap_or_default();
            if last.as_deref() != Some(json.as_str()) {
                yield Ok(Event::default().event("progress").data(json.clone()));
                last = Some(json);
            }
            if ended {
                yield Ok(Event::default().event("end").data(view.status.as_str()));
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A booking of the published plan, for the lab to confirm or decline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    pub id: i64,
    pub run: i64,
    pub request: String,
    pub company: Option<String>,
    pub test_type: Option<String>,
    pub lab: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// The request's term of the objective, roubles
    pub cost: f64,
    /// proposed, confirmed, declined or superseded
    pub status: String,
    pub decline_reason: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub answered_by: Option<String>,
}

impl Assignment {
    fn new(a: assignments::Model, request: Option<&test_requests::Model>) -> Self {
        Self {
            id: a.id,
            run: a.run,
            company: request.map(|r| r.company.clone()),
            test_type: request.map(|r| r.test_type.clone()),
            request: a.request,
            lab: a.lab,
            start_date: a.start_date,
            end_date: a.end_date,
            cost: a.cost,
            status: a.status,
            decline_reason: a.decline_reason,
            answered_at: a.answered_at,
            answered_by: a.answered_by,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssignmentQuery {
    pub lab: Option<String>,
    pub company: Option<String>,
    pub request: Option<String>,
    /// proposed, confirmed, declined or superseded
    pub status: Option<String>,
    /// Planning run; default: the published one
    pub run: Option<i64>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[utoipa::path(get, path = "/assignments", tag = "planning", params(AssignmentQuery),
    responses((status = 200, body = ListResponse<Assignment>), (status = 422, body = Problem)))]
pub async fn list_assignments(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AssignmentQuery>,
) -> ApiResult<axum::Json<ListResponse<Assignment>>> {
    use sea_orm::sea_query::Query as SqlQuery;
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let run = match q.run {
        Some(run) => Some(run),
        None => published_id(&state).await?,
    };
    let Some(run) = run else {
        return Ok(axum::Json(ListResponse::new(Vec::new(), 0, page)));
    };
    let mut select = assignments::Entity::find()
        .filter(assignments::Column::Run.eq(run))
        .filter(bookings::visible_to(&caller))
        .order_by_asc(assignments::Column::StartDate)
        .order_by_asc(assignments::Column::Id);
    if let Some(lab) = &q.lab {
        select = select.filter(assignments::Column::Lab.eq(lab.as_str()));
    }
    if let Some(request) = &q.request {
        select = select.filter(assignments::Column::Request.eq(request.as_str()));
    }
    if let Some(status) = &q.status {
        if !["proposed", "confirmed", "declined", "superseded"].contains(&status.as_str()) {
            return Err(ApiError::field("status", "must be one of proposed, confirmed, declined, superseded"));
        }
        select = select.filter(assignments::Column::Status.eq(status.as_str()));
    }
    if let Some(company) = &q.company {
        select = select.filter(
            assignments::Column::Request.in_subquery(
                SqlQuery::select()
                    .column(test_requests::Column::Id)
                    .from(test_requests::Entity)
                    .and_where(test_requests::Column::Company.eq(company.as_str()))
                    .to_owned(),
            ),
        );
    }
    let (rows, total) = fetch_page(&state.db, select, page).await?;
    let ids: Vec<String> = rows.iter().map(|a| a.request.clone()).collect();
    let requests: BTreeMap<String, test_requests::Model> = test_requests::Entity::find()
        .filter(test_requests::Column::Id.is_in(ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    let items = rows
        .into_iter()
        .map(|a| {
            let request = requests.get(&a.request);
            Assignment::new(a, request)
        })
        .collect();
    Ok(axum::Json(ListResponse::new(items, total, page)))
}

async fn answered(state: &AppState, booking: assignments::Model) -> ApiResult<axum::Json<Assignment>> {
    let request = test_requests::Entity::find_by_id(booking.request.as_str()).one(&state.db).await?;
    Ok(axum::Json(Assignment::new(booking, request.as_ref())))
}

#[utoipa::path(post, path = "/assignments/{id}/confirm", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, body = Assignment), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn confirm_assignment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Assignment>> {
    let booking = bookings::answer(&state.db, &caller, id, Answer::Confirm).await?;
    answered(&state, booking).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decline {
    /// Why the lab cannot take it (1–1000 characters)
    pub reason: String,
}

#[utoipa::path(post, path = "/assignments/{id}/decline", tag = "planning", params(("id" = i64, Path)), request_body = Decline,
    responses((status = 200, body = Assignment), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn decline_assignment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    super::extract::Json(body): super::extract::Json<Decline>,
) -> ApiResult<axum::Json<Assignment>> {
    let reason = crate::domain::parse_optional_text(Some(&body.reason), 1000)
        .map_err(|m| ApiError::field("reason", m))?
        .ok_or_else(|| ApiError::field("reason", "a reason is required"))?;
    let booking = bookings::answer(&state.db, &caller, id, Answer::Decline { reason: &reason }).await?;
    answered(&state, booking).await
}
