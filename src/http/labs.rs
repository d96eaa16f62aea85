//! `/api/v1/labs`: accredited labs, their accreditation scope, weekly capacity and closed weeks.

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::PageParams;
use super::error::{ApiResult, Problem};
use super::extract::{Json, Path, Query};
use super::policy::Authenticated;
use crate::app::labs::{
    self as ops, Accreditation, AccreditationBody, Capacity, CapacityBody, CapacityOverride, Lab, LabBody, LabQuery,
    NewAccreditation, OverrideQuery,
};
use crate::domain::paging::ListResponse;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_labs, create_lab))
        .routes(routes!(get_lab, put_lab, delete_lab))
        .routes(routes!(list_accreditations, add_accreditation))
        .routes(routes!(put_accreditation, delete_accreditation))
        .routes(routes!(list_capacity))
        .routes(routes!(put_capacity, delete_capacity))
        .routes(routes!(list_overrides, put_override))
        .routes(routes!(delete_override))
}

#[utoipa::path(get, path = "/labs", tag = "labs", params(LabQuery),
    responses((status = 200, body = ListResponse<Lab>), (status = 422, body = Problem)))]
pub async fn list_labs(
    State(state): State<AppState>,
    Query(q): Query<LabQuery>,
) -> ApiResult<axum::Json<ListResponse<Lab>>> {
    Ok(axum::Json(ops::list(&state.db, &q).await?))
}

#[utoipa::path(post, path = "/labs", tag = "labs", request_body = Lab,
    responses((status = 201, body = Lab), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_lab(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<Lab>,
) -> ApiResult<(StatusCode, axum::Json<Lab>)> {
    let fields = LabBody { name: body.name, name_en: body.name_en, region: body.region, contact: body.contact };
    Ok((StatusCode::CREATED, axum::Json(ops::save(&state.db, &caller, &body.id, fields, false).await?)))
}

#[utoipa::path(get, path = "/labs/{id}", tag = "labs", params(("id" = String, Path)),
    responses((status = 200, body = Lab), (status = 404, body = Problem)))]
pub async fn get_lab(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<axum::Json<Lab>> {
    Ok(axum::Json(ops::get(&state.db, &id).await?))
}

#[utoipa::path(put, path = "/labs/{id}", tag = "labs", params(("id" = String, Path)), request_body = LabBody,
    responses((status = 200, body = Lab), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_lab(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(body): Json<LabBody>,
) -> ApiResult<axum::Json<Lab>> {
    Ok(axum::Json(ops::save(&state.db, &caller, &id, body, true).await?))
}

#[utoipa::path(delete, path = "/labs/{id}", tag = "labs", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_lab(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    ops::delete(&state.db, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- accreditation scope ----

#[utoipa::path(get, path = "/labs/{id}/accreditations", tag = "labs", params(("id" = String, Path), PageParams),
    responses((status = 200, body = ListResponse<Accreditation>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_accreditations(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<ListResponse<Accreditation>>> {
    Ok(axum::Json(ops::accreditations(&state.db, &id, p.parse()?).await?))
}

#[utoipa::path(post, path = "/labs/{id}/accreditations", tag = "labs", params(("id" = String, Path)), request_body = NewAccreditation,
    responses((status = 201, body = Accreditation), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_accreditation(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(body): Json<NewAccreditation>,
) -> ApiResult<(StatusCode, axum::Json<Accreditation>)> {
    let dates = AccreditationBody { valid_from: body.valid_from, valid_to: body.valid_to };
    let saved = ops::save_accreditation(&state.db, &caller, &id, &body.test_type, dates, false).await?;
    Ok((StatusCode::CREATED, axum::Json(saved)))
}

#[utoipa::path(put, path = "/labs/{id}/accreditations/{test_type}", tag = "labs",
    params(("id" = String, Path), ("test_type" = String, Path)), request_body = AccreditationBody,
    responses((status = 200, body = Accreditation), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_accreditation(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((id, test_type)): Path<(String, String)>,
    Json(body): Json<AccreditationBody>,
) -> ApiResult<axum::Json<Accreditation>> {
    Ok(axum::Json(ops::save_accreditation(&state.db, &caller, &id, &test_type, body, true).await?))
}

#[utoipa::path(delete, path = "/labs/{id}/accreditations/{test_type}", tag = "labs",
    params(("id" = String, Path), ("test_type" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_accreditation(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((id, test_type)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    ops::delete_accreditation(&state.db, &caller, &id, &test_type).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- capacity ----

#[utoipa::path(get, path = "/labs/{id}/capacity", tag = "labs", params(("id" = String, Path)),
    responses((status = 200, body = ListResponse<Capacity>), (status = 404, body = Problem)))]
pub async fn list_capacity(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ListResponse<Capacity>>> {
    let items = ops::capacity(&state.db, &id).await?;
    let total = items.len() as u64;
    // One page holds every class a lab offers: a handful.
    Ok(axum::Json(ListResponse { items, total, page: 1, per_page: total.max(1) }))
}

#[utoipa::path(put, path = "/labs/{id}/capacity/{equipment}", tag = "labs",
    params(("id" = String, Path), ("equipment" = String, Path)), request_body = CapacityBody,
    responses((status = 200, body = Capacity), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_capacity(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((id, equipment)): Path<(String, String)>,
    Json(body): Json<CapacityBody>,
) -> ApiResult<axum::Json<Capacity>> {
    Ok(axum::Json(ops::save_capacity(&state.db, &caller, &id, &equipment, body).await?))
}

#[utoipa::path(delete, path = "/labs/{id}/capacity/{equipment}", tag = "labs",
    params(("id" = String, Path), ("equipment" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_capacity(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((id, equipment)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    ops::delete_capacity(&state.db, &caller, &id, &equipment).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- capacity overrides ----

#[utoipa::path(get, path = "/labs/{id}/capacity-overrides", tag = "labs", params(("id" = String, Path), OverrideQuery),
    responses((status = 200, body = ListResponse<CapacityOverride>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_overrides(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<OverrideQuery>,
) -> ApiResult<axum::Json<ListResponse<CapacityOverride>>> {
    Ok(axum::Json(ops::overrides(&state.db, &id, &q).await?))
}

#[utoipa::path(put, path = "/labs/{id}/capacity-overrides", tag = "labs", params(("id" = String, Path)), request_body = CapacityOverride,
    responses((status = 200, body = CapacityOverride), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_override(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(body): Json<CapacityOverride>,
) -> ApiResult<axum::Json<CapacityOverride>> {
    Ok(axum::Json(ops::save_override(&state.db, &caller, &id, body).await?))
}

#[utoipa::path(delete, path = "/labs/{id}/capacity-overrides/{equipment}/{week_start}", tag = "labs",
    params(("id" = String, Path), ("equipment" = String, Path), ("week_start" = NaiveDate, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn delete_override(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((id, equipment, week_start)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    ops::delete_override(&state.db, &caller, &id, &equipment, &week_start).await?;
    Ok(StatusCode::NO_CONTENT)
}
