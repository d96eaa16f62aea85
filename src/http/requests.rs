//! `/api/v1/requests`: test requests filed by companies.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Problem};
use super::extract::{Json, OptionalJson, Path, Query};
use super::policy::{Authenticated, Vouched};
use crate::app::policy::Op;
use crate::app::requests::{self as ops, CancelRequest, NewRequest, RequestPatch, RequestQuery, TestRequest};
use crate::domain::paging::ListResponse;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_requests, create_request))
        .routes(routes!(get_request, update_request))
        .routes(routes!(cancel_request))
}

#[utoipa::path(get, path = "/requests", tag = "requests", params(RequestQuery),
    responses((status = 200, body = ListResponse<TestRequest>), (status = 422, body = Problem)))]
pub async fn list_requests(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    vouched: Vouched,
    Query(query): Query<RequestQuery>,
) -> ApiResult<axum::Json<ListResponse<TestRequest>>> {
    let page = query.page()?;
    let filter = query.filter()?;
    if let Some(list) = ops::list_claimed(&state.db, &caller, vouched.0.as_ref(), &filter, page).await? {
        return Ok(axum::Json(list));
    }
    let caller = vouched.reread(&state, Op::ReadRequests).await?;
    Ok(axum::Json(ops::list(&state.db, &caller, &filter, page).await?))
}

#[utoipa::path(post, path = "/requests", tag = "requests", request_body = NewRequest,
    responses((status = 201, body = TestRequest), (status = 400, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_request(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    vouched: Vouched,
    Json(body): Json<NewRequest>,
) -> ApiResult<(StatusCode, axum::Json<TestRequest>)> {
    let created =
        match ops::create_claimed(&state.db, state.filings.as_ref(), &caller, vouched.0.as_ref(), &body).await? {
            Some(created) => created,
            None => ops::create(&state.db, &vouched.reread(&state, Op::FileRequest).await?, body).await?,
        };
    Ok((StatusCode::CREATED, axum::Json(created)))
}

#[utoipa::path(get, path = "/requests/{id}", tag = "requests", params(("id" = String, Path, description = "Request id, e.g. R00001")),
    responses((status = 200, body = TestRequest), (status = 404, body = Problem)))]
pub async fn get_request(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<TestRequest>> {
    Ok(axum::Json(ops::get(&state.db, &caller, &id).await?))
}

#[utoipa::path(patch, path = "/requests/{id}", tag = "requests", params(("id" = String, Path, description = "Request id")),
    request_body = RequestPatch,
    responses((status = 200, body = TestRequest), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_request(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(patch): Json<RequestPatch>,
) -> ApiResult<axum::Json<TestRequest>> {
    Ok(axum::Json(ops::update(&state.db, &caller, &id, patch).await?))
}

#[utoipa::path(post, path = "/requests/{id}/cancel", tag = "requests", params(("id" = String, Path, description = "Request id")),
    request_body(content = Option<CancelRequest>, description = "Optional: version and reason"),
    responses((status = 200, body = TestRequest), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_request(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<CancelRequest>,
) -> ApiResult<axum::Json<TestRequest>> {
    Ok(axum::Json(ops::cancel(&state.db, &caller, &id, body).await?))
}
