//! `/api/v1/regions`, `/api/v1/equipment`, `/api/v1/test-types`: the catalog the registry refers to.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, FieldError, Problem};
use super::extract::{Json, Query};
use super::pagination::{ListResponse, PageParams};
use super::validate::Checker;
use crate::db::fetch_page;
use crate::entities::{equipment, regions, test_types};

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

/// A region (ISO 3166-2 code) with its centre's coordinates.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// ISO 3166-2 code, e.g. `RU-SAM`
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionBody {
    pub name: String,
    pub name_en: String,
    pub lat: f64,
    pub lon: f64,
}

impl From<regions::Model> for Region {
    fn from(m: regions::Model) -> Self {
        Self { code: m.code, name: m.name, name_en: m.name_en, lat: m.lat, lon: m.lon }
    }
}

fn region_model(code: &str, body: &RegionBody) -> Result<regions::ActiveModel, ApiError> {
    let mut c = Checker::default();
    let code = c.region_code("code", code);
    let name = c.name("name", &body.name);
    let name_en = c.name("name_en", &body.name_en);
    c.check("lat", (-90.0..=90.0).contains(&body.lat), "must be between -90 and 90");
    c.check("lon", (-180.0..=180.0).contains(&body.lon), "must be between -180 and 180");
    c.finish()?;
    Ok(regions::ActiveModel {
        code: Set(code),
        name: Set(name),
        name_en: Set(name_en),
        lat: Set(body.lat),
        lon: Set(body.lon),
    })
}

#[utoipa::path(get, path = "/regions", tag = "catalog", params(PageParams),
    responses((status = 200, body = ListResponse<Region>)))]
pub async fn list_regions(
    State(state): State<AppState>,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<ListResponse<Region>>> {
    let page = p.parse()?;
    let (rows, total) =
        fetch_page(&state.db, regions::Entity::find().order_by_asc(regions::Column::Code), page).await?;
    Ok(axum::Json(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page)))
}

#[utoipa::path(post, path = "/regions", tag = "catalog", request_body = Region,
    responses((status = 201, body = Region), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_region(
    State(state): State<AppState>,
    Json(body): Json<Region>,
) -> ApiResult<(StatusCode, axum::Json<Region>)> {
    let model = region_model(
        &body.code,
        &RegionBody { name: body.name.clone(), name_en: body.name_en.clone(), lat: body.lat, lon: body.lon },
    )?;
    let code = body.code.trim();
    if regions::Entity::find_by_id(code.to_string()).one(&state.db).await?.is_some() {
        return Err(ApiError::Conflict(format!("region '{code}' already exists")));
    }
    let row = model.insert(&state.db).await?;
    Ok((StatusCode::CREATED, axum::Json(row.into())))
}

#[utoipa::path(get, path = "/regions/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 200, body = Region), (status = 404, body = Problem)))]
pub async fn get_region(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult<axum::Json<Region>> {
    let row = regions::Entity::find_by_id(code.to_string())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("region", &code))?;
    Ok(axum::Json(row.into()))
}

#[utoipa::path(put, path = "/regions/{code}", tag = "catalog", params(("code" = String, Path)), request_body = RegionBody,
    responses((status = 200, body = Region), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_region(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Json(body): Json<RegionBody>,
) -> ApiResult<axum::Json<Region>> {
    let existing = regions::Entity::find_by_id(code.to_string())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("region", &code))?;
    let mut model = region_model(&existing.code, &body)?;
    model.code = sea_orm::ActiveValue::Unchanged(existing.code);
    Ok(axum::Json(model.update(&state.db).await?.into()))
}

#[utoipa::path(delete, path = "/regions/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_region(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult<StatusCode> {
    let result = regions::Entity::delete_by_id(&code).exec(&state.db).await?;
    if result.rows_affected == 0 {
        return Err(ApiError::not_found("region", &code));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---- equipment ----

/// An equipment class, e.g. climatic chamber or EMC chamber.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Equipment {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// The most hours one test may use it in one week (168 around the clock, 40 attended)
    pub max_hours_per_test_week: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EquipmentBody {
    pub name: String,
    pub name_en: String,
    pub max_hours_per_test_week: i64,
}

impl From<equipment::Model> for Equipment {
    fn from(m: equipment::Model) -> Self {
        Self {
            code: m.code,
            name: m.name,
            name_en: m.name_en,
            max_hours_per_test_week: i64::from(m.max_hours_per_test_week),
        }
    }
}

fn equipment_model(code: &str, body: &EquipmentBody) -> Result<equipment::ActiveModel, ApiError> {
    let mut c = Checker::default();
    let code = c.code("code", code);
    let name = c.name("name", &body.name);
    let name_en = c.name("name_en", &body.name_en);
    let max = c.int("max_hours_per_test_week", body.max_hours_per_test_week, 1, 168);
    c.finish()?;
    Ok(equipment::ActiveModel {
        code: Set(code),
        name: Set(name),
        name_en: Set(name_en),
        max_hours_per_test_week: Set(max),
    })
}

#[utoipa::path(get, path = "/equipment", tag = "catalog", params(PageParams),
    responses((status = 200, body = ListResponse<Equipment>)))]
pub async fn list_equipment(
    State(state): State<AppState>,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<ListResponse<Equipment>>> {
    let page = p.parse()?;
    let (rows, total) =
        fetch_page(&state.db, equipment::Entity::find().order_by_asc(equipment::Column::Code), page).await?;
    Ok(axum::Json(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page)))
}

#[utoipa::path(post, path = "/equipment", tag = "catalog", request_body = Equipment,
    responses((status = 201, body = Equipment), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_equipment(
    State(state): State<AppState>,
    Json(body): Json<Equipment>,
) -> ApiResult<(StatusCode, axum::Json<Equipment>)> {
    let model = equipment_model(
        &body.code,
        &EquipmentBody {
            name: body.name.clone(),
            name_en: body.name_en.clone(),
            max_hours_per_test_week: body.max_hours_per_test_week,
        },
    )?;
    if equipment::Entity::find_by_id(body.code.trim()).one(&state.db).await?.is_some() {
        return Err(ApiError::Conflict(format!("equipment '{}' already exists", body.code.trim())));
    }
    Ok((StatusCode::CREATED, axum::Json(model.insert(&state.db).await?.into())))
}

#[utoipa::path(get, path = "/equipment/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 200, body = Equipment), (status = 404, body = Problem)))]
pub async fn get_equipment(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<Equipment>> {
    let row = equipment::Entity::find_by_id(code.to_string())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("equipment", &code))?;
    Ok(axum::Json(row.into()))
}

#[utoipa::path(put, path = "/equipment/{code}", tag = "catalog", params(("code" = String, Path)), request_body = EquipmentBody,
    responses((status = 200, body = Equipment), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_equipment(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Json(body): Json<EquipmentBody>,
) -> ApiResult<axum::Json<Equipment>> {
    let existing = equipment::Entity::find_by_id(code.to_string())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("equipment", &code))?;
    let mut model = equipment_model(&existing.code, &body)?;
    model.code = sea_orm::ActiveValue::Unchanged(existing.code);
    Ok(axum::Json(model.update(&state.db).await?.into()))
}

#[utoipa::path(delete, path = "/equipment/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_equipment(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult<StatusCode> {
    if equipment::Entity::delete_by_id(&code).exec(&state.db).await?.rows_affected == 0 {
        return Err(ApiError::not_found("equipment", &code));
    }
    Ok(StatusCode::NO_CONTENT)
}

// ---- test types ----

/// A kind of test: the standard it follows, the equipment it needs and for how long.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestType {
    pub code: String,
    /// The standard, e.g. `UNECE R10`
    pub standard: String,
    pub name: String,
    pub name_en: String,
    /// Equipment class code
    pub equipment: String,
    /// Equipment hours one test needs
    pub hours: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestTypeBody {
    pub standard: String,
    pub name: String,
    pub name_en: String,
    pub equipment: String,
    pub hours: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TestTypeQuery {
    /// Only test types on this equipment class
    pub equipment: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl From<test_types::Model> for TestType {
    fn from(m: test_types::Model) -> Self {
        Self {
            code: m.code,
            standard: m.standard,
            name: m.name,
            name_en: m.name_en,
            equipment: m.equipment,
            hours: i64::from(m.hours),
        }
    }
}

async fn test_type_model(
    state: &AppState,
    code: &str,
    body: &TestTypeBody,
) -> Result<test_types::ActiveModel, ApiError> {
    let mut c = Checker::default();
    let code = c.code("code", code);
    let standard = c.name("standard", &body.standard);
    let name = c.name("name", &body.name);
    let name_en = c.name("name_en", &body.name_en);
    let hours = c.int("hours", body.hours, 1, 10_000);
    let equipment_code = c.code("equipment", &body.equipment);
    if !equipment_code.is_empty() && equipment::Entity::find_by_id(&equipment_code).one(&state.db).await?.is_none() {
        c.push(FieldError::new("equipment", format!("unknown equipment '{equipment_code}'")));
    }
    c.finish()?;
    Ok(test_types::ActiveModel {
        code: Set(code),
        standard: Set(standard),
        name: Set(name),
        name_en: Set(name_en),
        equipment: Set(equipment_code),
        hours: Set(hours),
    })
}

#[utoipa::path(get, path = "/test-types", tag = "catalog", params(TestTypeQuery),
    responses((status = 200, body = ListResponse<TestType>)))]
pub async fn list_test_types(
    State(state): State<AppState>,
    Query(q): Query<TestTypeQuery>,
) -> ApiResult<axum::Json<ListResponse<TestType>>> {
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let mut select = test_types::Entity::find().order_by_asc(test_types::Column::Code);
    if let Some(eq) = &q.equipment {
        select = select.filter(test_types::Column::Equipment.eq(eq.as_str()));
    }
    let (rows, total) = fetch_page(&state.db, select, page).await?;
    Ok(axum::Json(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page)))
}

#[utoipa::path(post, path = "/test-types", tag = "catalog", request_body = TestType,
    responses((status = 201, body = TestType), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_test_type(
    State(state): State<AppState>,
    Json(body): Json<TestType>,
) -> ApiResult<(StatusCode, axum::Json<TestType>)> {
    let model = test_type_model(
        &state,
        &body.code,
        &TestTypeBody {
            standard: body.standard.clone(),
            name: body.name.clone(),
            name_en: body.name_en.clone(),
            equipment: body.equipment.clone(),
            hours: body.hours,
        },
    )
    .await?;
    if test_types::Entity::find_by_id(body.code.trim()).one(&state.db).await?.is_some() {
        return Err(ApiError::Conflict(format!("test type '{}' already exists", body.code.trim())));
    }
    Ok((StatusCode::CREATED, axum::Json(model.insert(&state.db).await?.into())))
}

#[utoipa::path(get, path = "/test-types/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 200, body = TestType), (status = 404, body = Problem)))]
pub async fn get_test_type(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult<axum::Json<TestType>> {
    let row = test_types::Entity::find_by_id(code.to_string())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("test type", &code))?;
    Ok(axum::Json(row.into()))
}

#[utoipa::path(put, path = "/test-types/{code}", tag = "catalog", params(("code" = String, Path)), request_body = TestTypeBody,
    responses((status = 200, body = TestType), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_test_type(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Json(body): Json<TestTypeBody>,
) -> ApiResult<axum::Json<TestType>> {
    let existing = test_types::Entity::find_by_id(code.to_string())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("test type", &code))?;
    let mut model = test_type_model(&state, &existing.code, &body).await?;
    model.code = sea_orm::ActiveValue::Unchanged(existing.code);
    Ok(axum::Json(model.update(&state.db).await?.into()))
}

#[utoipa::path(delete, path = "/test-types/{code}", tag = "catalog", params(("code" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_test_type(State(state): State<AppState>, Path(code): Path<String>) -> ApiResult<StatusCode> {
    if test_types::Entity::delete_by_id(&code).exec(&state.db).await?.rows_affected == 0 {
        return Err(ApiError::not_found("test type", &code));
    }
    Ok(StatusCode::NO_CONTENT)
}
