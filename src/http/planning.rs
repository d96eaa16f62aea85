//! Planning runs (`/planning-runs`) and the bookings of the published plan (`/assignments`).

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Problem};
use super::extract::{Json, OptionalJson, Path, Query};
use super::policy::Authenticated;
use crate::app::bookings::{self, Answer, Assignment, AssignmentQuery, Decline};
use crate::app::runs::{self, PlanningRun, Published, StartRun};
use crate::domain::diff::Diff;
use crate::domain::paging::{ListResponse, PageRequest};
use crate::state::AppState;

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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// queued, running, succeeded, failed or cancelled
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

#[utoipa::path(get, path = "/planning-runs", tag = "planning", params(RunQuery),
    responses((status = 200, body = ListResponse<PlanningRun>), (status = 422, body = Problem)))]
pub async fn list_runs(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<RunQuery>,
) -> ApiResult<axum::Json<ListResponse<PlanningRun>>> {
    let page = PageRequest::parse(q.page, q.per_page)?;
    Ok(axum::Json(runs::list(&state.db, &caller, q.status.as_deref(), page).await?))
}

#[utoipa::path(post, path = "/planning-runs", tag = "planning", request_body(content = Option<StartRun>, description = "Optional: the run's parameters"),
    responses((status = 202, description = "queued", body = PlanningRun), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub async fn create_run(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OptionalJson(body): OptionalJson<StartRun>,
) -> ApiResult<(StatusCode, axum::Json<PlanningRun>)> {
    Ok((StatusCode::ACCEPTED, axum::Json(runs::start(&state.db, &caller, body).await?)))
}

#[utoipa::path(get, path = "/planning-runs/{id}", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, body = PlanningRun), (status = 404, body = Problem)))]
pub async fn get_run(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<PlanningRun>> {
    Ok(axum::Json(runs::get(&state.db, &caller, id).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRun {
    /// Keep the best plan found so far (it can then be published); default false
    #[serde(default)]
    pub keep_best: bool,
}

#[utoipa::path(post, path = "/planning-runs/{id}/cancel", tag = "planning", params(("id" = i64, Path)),
    request_body(content = Option<CancelRun>, description = "Optional: keep the best plan found so far"),
    responses((status = 202, description = "cancelled, or asked to stop", body = PlanningRun), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_run(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
    OptionalJson(body): OptionalJson<CancelRun>,
) -> ApiResult<(StatusCode, axum::Json<PlanningRun>)> {
    Ok((StatusCode::ACCEPTED, axum::Json(runs::cancel(&state.db, &caller, id, body.keep_best).await?)))
}

#[utoipa::path(post, path = "/planning-runs/{id}/publish", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, body = Published), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn publish_run(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Published>> {
    Ok(axum::Json(runs::publish(&state.db, &caller, id).await?))
}

#[utoipa::path(get, path = "/planning-runs/{id}/plan", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, description = "the plan, format labplan-plan/1 of the planning model", body = Object),
        (status = 404, body = Problem), (status = 409, description = "the run has no plan (yet)", body = Problem)))]
pub async fn get_plan(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    Ok(axum::Json(runs::plan(&state.db, &caller, id).await?).into_response())
}

#[utoipa::path(get, path = "/planning-runs/{id}/instance", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, description = "the run's input, format labplan-instance/1: `labplan solve --input` reproduces the run", body = Object),
        (status = 404, body = Problem)))]
pub async fn get_instance(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let instance = runs::instance(&state.db, &caller, id).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], instance).into_response())
}

#[utoipa::path(get, path = "/planning-runs/{id}/diff", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, description = "this run's plan against the published plan", body = Diff),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn get_diff(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Diff>> {
    Ok(axum::Json(runs::diff(&state.db, &caller, id).await?))
}

#[utoipa::path(get, path = "/planning-runs/{id}/events", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, description = "server-sent events: `progress` with the run (as GET /{id}) whenever it changes, ending with `end`", content_type = "text/event-stream"),
        (status = 404, body = Problem)))]
pub async fn run_events(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let updates = runs::follow(state.db.clone(), caller, id).await?.take_until(state.stopped());
    let events = updates.map(|(name, data)| Ok::<_, Infallible>(Event::default().event(name).data(data)));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

#[utoipa::path(get, path = "/assignments", tag = "planning", params(AssignmentQuery),
    responses((status = 200, body = ListResponse<Assignment>), (status = 422, body = Problem)))]
pub async fn list_assignments(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<AssignmentQuery>,
) -> ApiResult<axum::Json<ListResponse<Assignment>>> {
    Ok(axum::Json(bookings::list(&state.db, &caller, &q).await?))
}

#[utoipa::path(post, path = "/assignments/{id}/confirm", tag = "planning", params(("id" = i64, Path)),
    responses((status = 200, body = Assignment), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn confirm_assignment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Assignment>> {
    Ok(axum::Json(bookings::answer(&state.db, &caller, id, Answer::Confirm).await?))
}

#[utoipa::path(post, path = "/assignments/{id}/decline", tag = "planning", params(("id" = i64, Path)), request_body = Decline,
    responses((status = 200, body = Assignment), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn decline_assignment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
    Json(body): Json<Decline>,
) -> ApiResult<axum::Json<Assignment>> {
    let answer = body.answer()?;
    Ok(axum::Json(bookings::answer(&state.db, &caller, id, answer).await?))
}
