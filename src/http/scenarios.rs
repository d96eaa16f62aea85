//! `/api/v1/scenarios`: what-if runs on a changed copy of the registry.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PageParams;
use super::error::{ApiResult, Problem};
use super::extract::{Json, Path, Query};
use super::policy::Authenticated;
use crate::app::scenarios::{self as ops, Comparison, NewScenario, Scenario};
use crate::domain::paging::ListResponse;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_scenarios, create_scenario))
        .routes(routes!(get_scenario))
        .routes(routes!(compare_scenario))
        .routes(routes!(scenario_instance))
}

#[utoipa::path(get, path = "/scenarios", tag = "scenarios", params(PageParams),
    responses((status = 200, body = ListResponse<Scenario>), (status = 422, body = Problem)))]
pub async fn list_scenarios(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<ListResponse<Scenario>>> {
    Ok(axum::Json(ops::list(&state.db, &caller, p.parse()?).await?))
}

#[utoipa::path(post, path = "/scenarios", tag = "scenarios", request_body = NewScenario,
    responses((status = 202, description = "queued for the planning workers", body = Scenario), (status = 422, body = Problem)))]
pub async fn create_scenario(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<NewScenario>,
) -> ApiResult<(StatusCode, axum::Json<Scenario>)> {
    Ok((StatusCode::ACCEPTED, axum::Json(ops::create(&state.db, &caller, body).await?)))
}

#[utoipa::path(get, path = "/scenarios/{id}", tag = "scenarios", params(("id" = i64, Path)),
    responses((status = 200, body = Scenario), (status = 404, body = Problem)))]
pub async fn get_scenario(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Scenario>> {
    Ok(axum::Json(ops::get(&state.db, &caller, id).await?))
}

#[utoipa::path(get, path = "/scenarios/{id}/compare", tag = "scenarios", params(("id" = i64, Path)),
    responses((status = 200, body = Comparison), (status = 404, body = Problem)))]
pub async fn compare_scenario(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Comparison>> {
    Ok(axum::Json(ops::compare(&state.db, &caller, id).await?))
}

#[utoipa::path(get, path = "/scenarios/{id}/instance", tag = "scenarios", params(("id" = i64, Path)),
    responses((status = 200, description = "the changed instance, format labplan-instance/1", body = Object),
        (status = 404, body = Problem)))]
pub async fn scenario_instance(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let instance = ops::instance(&state.db, &caller, id).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], instance).into_response())
}
