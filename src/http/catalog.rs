//! `/api/v1/regions`, `/api/v1/equipment`, `/api/v1/test-types`: the catalog the registry refers to.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PageParams;
use super::error::{ApiResult, Problem};
use super::extract::{Json, Path, Query};
use super::policy::Authenticated;
use crate::app::catalog::{self as ops, Equipment, EquipmentBody, Region, RegionBody, TestType, TestTypeBody};
use crate::domain::paging::{ListResponse, PageRequest};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_regions, create_region))
        .routes(routes!(get_region, put_region, delete_region))
        .routes(routes!(list_equipment, create_equipment))
        .routes(routes!(get_equipment, put_equipment, delete_equipment))
        .routes(routes!(list_test_types, create_test_type))
        .routes(routes!(get_test_type, put_test_type, delete_test_type))
}

// ---- regions ----

#[utoipa::path(get, path = "/regions", tag = "catalog", params(PageParams),
    responses((status = 200, body = ListResponse<Region>), (status = 422, body = Problem)))]
pub async fn list_regions(
    State(state): State<AppState>,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<ListResponse<Region>>> {
    Ok(axum::Json(ops::list_regions(&state.db, p.parse()?).await?))
}

#[utoipa::path(post, path = "/regions", tag = "catalog", request_body = Region,
    responses((status = 201, body = Region), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_region(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<Region>,
) -> ApiResult<(StatusCode, axum::Json<Region>)> {
    let fields = RegionBody { name: body.name, name_en: body.name_en, lat: body.lat, lon: body.lon };
    Ok((StatusCode::CREATED, axum::Json(ops::save_region(&state.db, &caller, &body.code, fields, false).await?)))
}

#[utoipa::path(get, path = "/regions/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 200, body = Region), (status = 404, body = Problem)))]
pub async fn get_region(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult<axum::Json<Region>> {
    Ok(axum::Json(ops::get_region(&state.db, &code).await?))
}

#[utoipa::path(put, path = "/regions/{code}", tag = "catalog", params(("code" = String, Path)), request_body = RegionBody,
    responses((status = 200, body = Region), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_region(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(code): Path<String>,
    Json(body): Json<RegionBody>,
) -> ApiResult<axum::Json<Region>> {
    Ok(axum::Json(ops::save_region(&state.db, &caller, &code, body, true).await?))
}

#[utoipa::path(delete, path = "/regions/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_region(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(code): Path<String>,
) -> ApiResult<StatusCode> {
    ops::delete_region(&state.db, &caller, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- equipment ----

#[utoipa::path(get, path = "/equipment", tag = "catalog", params(PageParams),
    responses((status = 200, body = ListResponse<Equipment>), (status = 422, body = Problem)))]
pub async fn list_equipment(
    State(state): State<AppState>,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<ListResponse<Equipment>>> {
    Ok(axum::Json(ops::list_equipment(&state.db, p.parse()?).await?))
}

#[utoipa::path(post, path = "/equipment", tag = "catalog", request_body = Equipment,
    responses((status = 201, body = Equipment), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_equipment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<Equipment>,
) -> ApiResult<(StatusCode, axum::Json<Equipment>)> {
    let fields =
        EquipmentBody { name: body.name, name_en: body.name_en, max_hours_per_test_week: body.max_hours_per_test_week };
    Ok((StatusCode::CREATED, axum::Json(ops::save_equipment(&state.db, &caller, &body.code, fields, false).await?)))
}

#[utoipa::path(get, path = "/equipment/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 200, body = Equipment), (status = 404, body = Problem)))]
pub async fn get_equipment(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<Equipment>> {
    Ok(axum::Json(ops::get_equipment(&state.db, &code).await?))
}

#[utoipa::path(put, path = "/equipment/{code}", tag = "catalog", params(("code" = String, Path)), request_body = EquipmentBody,
    responses((status = 200, body = Equipment), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_equipment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(code): Path<String>,
    Json(body): Json<EquipmentBody>,
) -> ApiResult<axum::Json<Equipment>> {
    Ok(axum::Json(ops::save_equipment(&state.db, &caller, &code, body, true).await?))
}

#[utoipa::path(delete, path = "/equipment/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_equipment(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(code): Path<String>,
) -> ApiResult<StatusCode> {
    ops::delete_equipment(&state.db, &caller, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- test types ----

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TestTypeQuery {
    /// Only test types on this equipment class
    pub equipment: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

#[utoipa::path(get, path = "/test-types", tag = "catalog", params(TestTypeQuery),
    responses((status = 200, body = ListResponse<TestType>), (status = 422, body = Problem)))]
pub async fn list_test_types(
    State(state): State<AppState>,
    Query(q): Query<TestTypeQuery>,
) -> ApiResult<axum::Json<ListResponse<TestType>>> {
    let page = PageRequest::parse(q.page, q.per_page)?;
    Ok(axum::Json(ops::list_test_types(&state.db, q.equipment.as_deref(), page).await?))
}

#[utoipa::path(post, path = "/test-types", tag = "catalog", request_body = TestType,
    responses((status = 201, body = TestType), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_test_type(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<TestType>,
) -> ApiResult<(StatusCode, axum::Json<TestType>)> {
    let fields = TestTypeBody {
        standard: body.standard,
        name: body.name,
        name_en: body.name_en,
        equipment: body.equipment,
        hours: body.hours,
    };
    Ok((StatusCode::CREATED, axum::Json(ops::save_test_type(&state.db, &caller, &body.code, fields, false).await?)))
}

#[utoipa::path(get, path = "/test-types/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 200, body = TestType), (status = 404, body = Problem)))]
pub async fn get_test_type(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult<axum::Json<TestType>> {
    Ok(axum::Json(ops::get_test_type(&state.db, &code).await?))
}

#[utoipa::path(put, path = "/test-types/{code}", tag = "catalog", params(("code" = String, Path)), request_body = TestTypeBody,
    responses((status = 200, body = TestType), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_test_type(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(code): Path<String>,
    Json(body): Json<TestTypeBody>,
) -> ApiResult<axum::Json<TestType>> {
    Ok(axum::Json(ops::save_test_type(&state.db, &caller, &code, body, true).await?))
}

#[utoipa::path(delete, path = "/test-types/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_test_type(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(code): Path<String>,
) -> ApiResult<StatusCode> {
    ops::delete_test_type(&state.db, &caller, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}
