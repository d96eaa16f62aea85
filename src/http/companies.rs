//! `/api/v1/companies`: the makers that file test requests.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Problem};
use super::extract::{Json, Path, Query};
use super::policy::Authenticated;
use crate::app::companies::{self as ops, Company, CompanyBody};
use crate::domain::paging::{ListResponse, PageRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_companies, create_company)).routes(routes!(get_company, put_company))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompanyQuery {
    /// Only companies of this region
    pub region: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

#[utoipa::path(get, path = "/companies", tag = "companies", params(CompanyQuery),
    responses((status = 200, body = ListResponse<Company>), (status = 422, body = Problem)))]
pub async fn list_companies(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<CompanyQuery>,
) -> ApiResult<axum::Json<ListResponse<Company>>> {
    let page = PageRequest::parse(q.page, q.per_page)?;
    Ok(axum::Json(ops::list(&state.db, &caller, q.region.as_deref(), page).await?))
}

#[utoipa::path(post, path = "/companies", tag = "companies", request_body = Company,
    responses((status = 201, body = Company), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_company(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<Company>,
) -> ApiResult<(StatusCode, axum::Json<Company>)> {
    let fields = CompanyBody { name: body.name, inn: body.inn, region: body.region };
    Ok((StatusCode::CREATED, axum::Json(ops::save(&state.db, &caller, &body.id, fields, false).await?)))
}

#[utoipa::path(get, path = "/companies/{id}", tag = "companies", params(("id" = String, Path)),
    responses((status = 200, body = Company), (status = 404, body = Problem)))]
pub async fn get_company(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Company>> {
    Ok(axum::Json(ops::get(&state.db, &caller, &id).await?))
}

#[utoipa::path(put, path = "/companies/{id}", tag = "companies", params(("id" = String, Path)), request_body = CompanyBody,
    responses((status = 200, body = Company), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn put_company(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(body): Json<CompanyBody>,
) -> ApiResult<axum::Json<Company>> {
    Ok(axum::Json(ops::save(&state.db, &caller, &id, body, true).await?))
}
