//! `/api/v1/companies`: the makers that file test requests.

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
use crate::auth::Caller;
use crate::db::fetch_page;
use crate::entities::{companies, regions};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_companies, create_company)).routes(routes!(get_company, put_company))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Company {
    /// Registry id, e.g. `C0001`
    pub id: String,
    pub name: String,
    /// Taxpayer number (ИНН): 10 digits for an organisation, 12 for a sole trader
    pub inn: Option<String>,
    /// Region code
    pub region: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyBody {
    pub name: String,
    pub inn: Option<String>,
    pub region: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompanyQuery {
    /// Only companies of this region
    pub region: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl From<companies::Model> for Company {
    fn from(m: companies::Model) -> Self {
        Self { id: m.id, name: m.name, inn: m.inn, region: m.region }
    }
}

/// An INN has 10 or 12 digits; its check digits catch most typing errors.
pub fn parse_inn(raw: &str) -> Result<String, String> {
    let digits: Vec<u32> =
        raw.trim().chars().map(|c| c.to_digit(10)).collect::<Option<_>>().ok_or("must hold only digits")?;
    let check = |weights: &[u32], at: usize| {
        let sum: u32 = weights.iter().zip(&digits).map(|(w, d)| w * d).sum();
        sum % 11 % 10 == digits[at]
    };
    let valid = match digits.len() {
        10 => check(&[2, 4, 10, 3, 5, 9, 4, 6, 8], 9),
        12 => check(&[7, 2, 4, 10, 3, 5, 9, 4, 6, 8], 10) && check(&[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8], 11),
        _ => return Err("must have 10 or 12 digits".into()),
    };
    if valid { Ok(raw.trim().to_string()) } else { Err("check digit does not match".into()) }
}

async fn company_model(state: &AppState, id: &str, body: &CompanyBody) -> Result<companies::ActiveModel, ApiError> {
    let mut c = Checker::default();
    let id = c.code("id", id);
    let name = c.name("name", &body.name);
    let inn = match body.inn.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => match parse_inn(raw) {
            Ok(inn) => Some(inn),
            Err(message) => {
                c.push(FieldError::new("inn", message));
                None
            }
        },
    };
    let region = c.region_code("region", &body.region);
    if !region.is_empty() && regions::Entity::find_by_id(&region).one(&state.db).await?.is_none() {
        c.push(FieldError::new("region", format!("unknown region '{region}'")));
    }
    c.finish()?;
    Ok(companies::ActiveModel { id: Set(id), name: Set(name), inn: Set(inn), region: Set(region) })
}

#[utoipa::path(get, path = "/companies", tag = "companies", params(CompanyQuery),
    responses((status = 200, body = ListResponse<Company>)))]
pub async fn list_companies(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CompanyQuery>,
) -> ApiResult<axum::Json<ListResponse<Company>>> {
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let mut select = companies::Entity::find().order_by_asc(companies::Column::Id);
    if let Some(own) = caller.own_company() {
        select = select.filter(companies::Column::Id.eq(own));
    }
    if let Some(region) = &q.region {
        select = select.filter(companies::Column::Region.eq(region.as_str()));
    }
    let (rows, total) = fetch_page(&state.db, select, page).await?;
    Ok(axum::Json(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page)))
}

#[utoipa::path(post, path = "/companies", tag = "companies", request_body = Company,
    responses((status = 201, body = Company), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_company(
    State(state): State<AppState>,
    Json(body): Json<Company>,
) -> ApiResult<(StatusCode, axum::Json<Company>)> {
    let model = company_model(
        &state,
        &body.id,
        &CompanyBody { name: body.name.clone(), inn: body.inn.clone(), region: body.region.clone() },
    )
    .await?;
    if companies::Entity::find_by_id(body.id.trim()).one(&state.db).await?.is_some() {
        return Err(ApiError::Conflict(format!("company '{}' already exists", body.id.trim())));
    }
    Ok((StatusCode::CREATED, axum::Json(model.insert(&state.db).await?.into())))
}

#[utoipa::path(get, path = "/companies/{id}", tag = "companies", params(("id" = String, Path)),
    responses((status = 200, body = Company), (status = 404, body = Problem)))]
pub async fn get_company(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Company>> {
    let row = companies::Entity::find_by_id(&id)
        .one(&state.db)
        .await?
        .filter(|c| caller.sees_company(&c.id))
        .ok_or_else(|| ApiError::not_found("company", &id))?;
    Ok(axum::Json(row.into()))
}

#[utoipa::path(put, path = "/companies/{id}", tag = "companies", params(("id" = String, Path)), request_body = CompanyBody,
    responses((status = 200, body = Company), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn put_company(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<CompanyBody>,
) -> ApiResult<axum::Json<Company>> {
    let existing =
        companies::Entity::find_by_id(&id).one(&state.db).await?.ok_or_else(|| ApiError::not_found("company", &id))?;
    let mut model = company_model(&state, &existing.id, &body).await?;
    model.id = sea_orm::ActiveValue::Unchanged(existing.id);
    Ok(axum::Json(model.update(&state.db).await?.into()))
}

#[cfg(test)]
mod tests {
    use super::parse_inn;

    #[test]
    fn inn_check_digits() {
        assert!(parse_inn("7707083893").is_ok());
        assert!(parse_inn("7707083894").is_err());
        assert!(parse_inn("500100732259").is_ok());
        assert!(parse_inn("12345").is_err());
        assert!(parse_inn("77070838ab").is_err());
    }
}
