//! `/api/v1/labs`: accredited labs, their accreditation scope, weekly capacity and closed weeks.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
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
use crate::db::audit::{self, AuditEntry, snapshot};
use crate::db::fetch_page;
use crate::entities::{accreditations, capacities, capacity_overrides, equipment, labs, regions, test_types};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_labs, create_lab))
        .routes(routes!(get_lab, put_lab, delete_lab))
        .routes(routes!(list_accreditations, put_accreditation_collection))
        .routes(routes!(put_accreditation, delete_accreditation))
        .routes(routes!(list_capacity))
        .routes(routes!(put_capacity, delete_capacity))
        .routes(routes!(list_overrides, put_override))
        .routes(routes!(delete_override))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// Registry id, e.g. `L001`
    pub id: String,
    pub name: String,
    pub name_en: String,
    /// Region code
    pub region: String,
    /// Phone or e-mail of the coordinator
    pub contact: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabBody {
    pub name: String,
    pub name_en: String,
    pub region: String,
    pub contact: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabQuery {
    /// Only labs of this region
    pub region: Option<String>,
    /// Only labs accredited for this test type
    pub test_type: Option<String>,
    /// Only labs offering capacity on this equipment class
    pub equipment: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl From<labs::Model> for Lab {
    fn from(m: labs::Model) -> Self {
        Self { id: m.id, name: m.name, name_en: m.name_en, region: m.region, contact: m.contact }
    }
}

async fn lab_model(state: &AppState, id: &str, body: &LabBody) -> Result<labs::ActiveModel, ApiError> {
    let mut c = Checker::default();
    let id = c.code("id", id);
    let name = c.name("name", &body.name);
    let name_en = c.name("name_en", &body.name_en);
    let contact = c.optional_text("contact", body.contact.as_deref(), 300);
    let region = c.region_code("region", &body.region);
    if !region.is_empty() && regions::Entity::find_by_id(&region).one(&state.db).await?.is_none() {
        c.push(FieldError::new("region", format!("unknown region '{region}'")));
    }
    c.finish()?;
    Ok(labs::ActiveModel {
        id: Set(id),
        name: Set(name),
        name_en: Set(name_en),
        region: Set(region),
        contact: Set(contact),
    })
}

async fn find_lab<C: ConnectionTrait>(db: &C, id: &str) -> Result<labs::Model, ApiError> {
    labs::Entity::find_by_id(id).one(db).await?.ok_or_else(|| ApiError::not_found("lab", id))
}

#[utoipa::path(get, path = "/labs", tag = "labs", params(LabQuery), responses((status = 200, body = ListResponse<Lab>)))]
pub async fn list_labs(
    State(state): State<AppState>,
    Query(q): Query<LabQuery>,
) -> ApiResult<axum::Json<ListResponse<Lab>>> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query as SqlQuery};
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let mut select = labs::Entity::find().order_by_asc(labs::Column::Id);
    if let Some(region) = &q.region {
        select = select.filter(labs::Column::Region.eq(region.as_str()));
    }
    if let Some(test_type) = &q.test_type {
        select = select.filter(
            labs::Column::Id.in_subquery(
                SqlQuery::select()
                    .column(accreditations::Column::Lab)
                    .from(accreditations::Entity)
                    .and_where(Expr::col(accreditations::Column::TestType).eq(test_type.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(eq) = &q.equipment {
        select = select.filter(
            labs::Column::Id.in_subquery(
                SqlQuery::select()
                    .column(capacities::Column::Lab)
                    .from(capacities::Entity)
                    .and_where(Expr::col(capacities::Column::Equipment).eq(eq.as_str()))
                    .to_owned(),
            ),
        );
    }
    let (rows, total) = fetch_page(&state.db, select, page).await?;
    Ok(axum::Json(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page)))
}

#[utoipa::path(post, path = "/labs", tag = "labs", request_body = Lab,
    responses((status = 201, body = Lab), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_lab(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Lab>,
) -> ApiResult<(StatusCode, axum::Json<Lab>)> {
    let model = lab_model(
        &state,
        &body.id,
        &LabBody {
            name: body.name.clone(),
            name_en: body.name_en.clone(),
            region: body.region.clone(),
            contact: body.contact.clone(),
        },
    )
    .await?;
    if labs::Entity::find_by_id(body.id.trim()).one(&state.db).await?.is_some() {
        return Err(ApiError::Conflict(format!("lab '{}' already exists", body.id.trim())));
    }
    let txn = state.db.begin().await?;
    let created = Lab::from(model.insert(&txn).await?);
    audit::record(
        &txn,
        AuditEntry { actor: caller.actor(), action: "create", entity: "lab", entity_id: &created.id },
        None,
        snapshot(&created),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

#[utoipa::path(get, path = "/labs/{id}", tag = "labs", params(("id" = String, Path)),
    responses((status = 200, body = Lab), (status = 404, body = Problem)))]
pub async fn get_lab(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<axum::Json<Lab>> {
    Ok(axum::Json(find_lab(&state.db, &id).await?.into()))
}

#[utoipa::path(put, path = "/labs/{id}", tag = "labs", params(("id" = String, Path)), request_body = LabBody,
    responses((status = 200, body = Lab), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_lab(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<LabBody>,
) -> ApiResult<axum::Json<Lab>> {
    let existing = find_lab(&state.db, &id).await?;
    let mut model = lab_model(&state, &existing.id, &body).await?;
    model.id = sea_orm::ActiveValue::Unchanged(existing.id.clone());
    let txn = state.db.begin().await?;
    let updated: Lab = model.update(&txn).await?.into();
    audit::record(
        &txn,
        AuditEntry { actor: caller.actor(), action: "update", entity: "lab", entity_id: &id },
        snapshot(&Lab::from(existing)),
        snapshot(&updated),
    )
    .await?;
    txn.commit().await?;
    Ok(axum::Json(updated))
}

#[utoipa::path(delete, path = "/labs/{id}", tag = "labs", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_lab(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let existing = find_lab(&state.db, &id).await?;
    let txn = state.db.begin().await?;
    labs::Entity::delete_by_id(&id).exec(&txn).await?;
    audit::record(
        &txn,
        AuditEntry { actor: caller.actor(), action: "delete", entity: "lab", entity_id: &id },
        snapshot(&Lab::from(existing)),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- accreditation scope ----

/// A test type in the lab's accreditation scope, valid from a date and, if set, until one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Accreditation {
    pub test_type: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccreditationBody {
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccreditation {
    pub test_type: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

impl From<accreditations::Model> for Accreditation {
    fn from(m: accreditations::Model) -> Self {
        Self { test_type: m.test_type, valid_from: m.valid_from, valid_to: m.valid_to }
    }
}

#[utoipa::path(get, path = "/labs/{id}/accreditations", tag = "labs", params(("id" = String, Path), PageParams),
    responses((status = 200, body = ListResponse<Accreditation>), (status = 404, body = Problem)))]
pub async fn list_accreditations(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<ListResponse<Accreditation>>> {
    let page = p.parse()?;
    find_lab(&state.db, &id).await?;
    let select = accreditations::Entity::find()
        .filter(accreditations::Column::Lab.eq(id.as_str()))
        .order_by_asc(accreditations::Column::TestType);
    let (rows, total) = fetch_page(&state.db, select, page).await?;
    Ok(axum::Json(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page)))
}

#[utoipa::path(post, path = "/labs/{id}/accreditations", tag = "labs", params(("id" = String, Path)), request_body = NewAccreditation,
    responses((status = 201, body = Accreditation), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn put_accreditation_collection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<NewAccreditation>,
) -> ApiResult<(StatusCode, axum::Json<Accreditation>)> {
    own_lab(&caller, &id)?;
    let test_type = body.test_type.trim().to_string();
    let exists = accreditations::Entity::find_by_id((id.clone(), test_type.clone())).one(&state.db).await?.is_some();
    if exists {
        return Err(ApiError::Conflict(format!(
            "lab '{id}' is already accredited for '{test_type}'; PUT it to change the dates"
        )));
    }
    let saved = save_accreditation(
        &state,
        &caller,
        &id,
        &test_type,
        AccreditationBody { valid_from: body.valid_from, valid_to: body.valid_to },
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(saved)))
}

#[utoipa::path(put, path = "/labs/{id}/accreditations/{test_type}", tag = "labs",
    params(("id" = String, Path), ("test_type" = String, Path)), request_body = AccreditationBody,
    responses((status = 200, body = Accreditation), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_accreditation(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, test_type)): Path<(String, String)>,
    Json(body): Json<AccreditationBody>,
) -> ApiResult<axum::Json<Accreditation>> {
    own_lab(&caller, &id)?;
    Ok(axum::Json(save_accreditation(&state, &caller, &id, &test_type, body).await?))
}

async fn save_accreditation(
    state: &AppState,
    caller: &Caller,
    lab: &str,
    test_type: &str,
    body: AccreditationBody,
) -> Result<Accreditation, ApiError> {
    find_lab(&state.db, lab).await?;
    let mut c = Checker::default();
    if test_types::Entity::find_by_id(test_type).one(&state.db).await?.is_none() {
        c.push(FieldError::new("test_type", format!("unknown test type '{test_type}'")));
    }
    if let Some(to) = body.valid_to {
        c.check("valid_to", to >= body.valid_from, "must not be before valid_from");
    }
    c.finish()?;
    let txn = state.db.begin().await?;
    let before = accreditations::Entity::find_by_id((lab.to_string(), test_type.to_string())).one(&txn).await?;
    let model = accreditations::ActiveModel {
        lab: Set(lab.to_string()),
        test_type: Set(test_type.to_string()),
        valid_from: Set(body.valid_from),
        valid_to: Set(body.valid_to),
    };
    let saved: Accreditation = match &before {
        Some(_) => model.update(&txn).await?,
        None => model.insert(&txn).await?,
    }
    .into();
    let key = format!("{lab}/{test_type}");
    audit::record(
        &txn,
        AuditEntry {
            actor: caller.actor(),
            action: if before.is_some() { "update" } else { "create" },
            entity: "accreditation",
            entity_id: &key,
        },
        before.map(Accreditation::from).as_ref().and_then(snapshot),
        snapshot(&saved),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

#[utoipa::path(delete, path = "/labs/{id}/accreditations/{test_type}", tag = "labs",
    params(("id" = String, Path), ("test_type" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_accreditation(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, test_type)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    own_lab(&caller, &id)?;
    let txn = state.db.begin().await?;
    let before = accreditations::Entity::find_by_id((id.clone(), test_type.clone()))
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("lab '{id}' has no accreditation for '{test_type}'")))?;
    accreditations::Entity::delete_by_id((id.clone(), test_type.clone())).exec(&txn).await?;
    let key = format!("{id}/{test_type}");
    audit::record(
        &txn,
        AuditEntry { actor: caller.actor(), action: "delete", entity: "accreditation", entity_id: &key },
        snapshot(&Accreditation::from(before)),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- capacity ----

/// Equipment hours a lab offers to the programme each week, and their price.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Capacity {
    pub equipment: String,
    pub hours_per_week: i32,
    /// Roubles per equipment hour
    pub price_per_hour: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityBody {
    pub hours_per_week: i64,
    pub price_per_hour: i64,
}

impl From<capacities::Model> for Capacity {
    fn from(m: capacities::Model) -> Self {
        Self { equipment: m.equipment, hours_per_week: m.hours_per_week, price_per_hour: m.price_per_hour }
    }
}

/// A week has 168 hours; a lab may run several units of one class side by side.
pub const MAX_HOURS_PER_WEEK: i64 = 168 * 100;

#[utoipa::path(get, path = "/labs/{id}/capacity", tag = "labs", params(("id" = String, Path)),
    responses((status = 200, body = ListResponse<Capacity>), (status = 404, body = Problem)))]
pub async fn list_capacity(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ListResponse<Capacity>>> {
    find_lab(&state.db, &id).await?;
    let rows = capacities::Entity::find()
        .filter(capacities::Column::Lab.eq(id.as_str()))
        .order_by_asc(capacities::Column::Equipment)
        .all(&state.db)
        .await?;
    let total = rows.len() as u64;
    let per_page = total.max(1);
    Ok(axum::Json(ListResponse { items: rows.into_iter().map(Into::into).collect(), total, page: 1, per_page }))
}

#[utoipa::path(put, path = "/labs/{id}/capacity/{equipment}", tag = "labs",
    params(("id" = String, Path), ("equipment" = String, Path)), request_body = CapacityBody,
    responses((status = 200, body = Capacity), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_capacity(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, equipment_code)): Path<(String, String)>,
    Json(body): Json<CapacityBody>,
) -> ApiResult<axum::Json<Capacity>> {
    own_lab(&caller, &id)?;
    find_lab(&state.db, &id).await?;
    let mut c = Checker::default();
    if equipment::Entity::find_by_id(&equipment_code).one(&state.db).await?.is_none() {
        c.push(FieldError::new("equipment", format!("unknown equipment '{equipment_code}'")));
    }
    let hours = c.int("hours_per_week", body.hours_per_week, 0, MAX_HOURS_PER_WEEK);
    let price = c.big_int("price_per_hour", body.price_per_hour, 0, 100_000_000);
    c.finish()?;
    let txn = state.db.begin().await?;
    let before = capacities::Entity::find_by_id((id.clone(), equipment_code.clone())).one(&txn).await?;
    let model = capacities::ActiveModel {
        lab: Set(id.clone()),
        equipment: Set(equipment_code.clone()),
        hours_per_week: Set(hours),
        price_per_hour: Set(price),
    };
    let saved: Capacity = match &before {
        Some(_) => model.update(&txn).await?,
        None => model.insert(&txn).await?,
    }
    .into();
    let key = format!("{id}/{equipment_code}");
    audit::record(
        &txn,
        AuditEntry {
            actor: caller.actor(),
            action: if before.is_some() { "update" } else { "create" },
            entity: "capacity",
            entity_id: &key,
        },
        before.map(Capacity::from).as_ref().and_then(snapshot),
        snapshot(&saved),
    )
    .await?;
    txn.commit().await?;
    Ok(axum::Json(saved))
}

#[utoipa::path(delete, path = "/labs/{id}/capacity/{equipment}", tag = "labs",
    params(("id" = String, Path), ("equipment" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_capacity(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, equipment_code)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    own_lab(&caller, &id)?;
    let txn = state.db.begin().await?;
    let before = capacities::Entity::find_by_id((id.clone(), equipment_code.clone()))
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("lab '{id}' offers no capacity on '{equipment_code}'")))?;
    capacities::Entity::delete_by_id((id.clone(), equipment_code.clone())).exec(&txn).await?;
    let key = format!("{id}/{equipment_code}");
    audit::record(
        &txn,
        AuditEntry { actor: caller.actor(), action: "delete", entity: "capacity", entity_id: &key },
        snapshot(&Capacity::from(before)),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- capacity overrides ----

/// One week's capacity instead of the base one: holidays, maintenance; 0 means closed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityOverride {
    pub equipment: String,
    /// The Monday of the week
    pub week_start: NaiveDate,
    pub hours_per_week: i64,
}

impl From<capacity_overrides::Model> for CapacityOverride {
    fn from(m: capacity_overrides::Model) -> Self {
        Self { equipment: m.equipment, week_start: m.week_start, hours_per_week: i64::from(m.hours_per_week) }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverrideQuery {
    pub equipment: Option<String>,
    /// Weeks starting on or after this date
    pub from: Option<NaiveDate>,
    /// Weeks starting on or before this date
    pub to: Option<NaiveDate>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[utoipa::path(get, path = "/labs/{id}/capacity-overrides", tag = "labs", params(("id" = String, Path), OverrideQuery),
    responses((status = 200, body = ListResponse<CapacityOverride>), (status = 404, body = Problem)))]
pub async fn list_overrides(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<OverrideQuery>,
) -> ApiResult<axum::Json<ListResponse<CapacityOverride>>> {
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    find_lab(&state.db, &id).await?;
    let mut select = capacity_overrides::Entity::find()
        .filter(capacity_overrides::Column::Lab.eq(id.as_str()))
        .order_by_asc(capacity_overrides::Column::WeekStart)
        .order_by_asc(capacity_overrides::Column::Equipment);
    if let Some(eq) = &q.equipment {
        select = select.filter(capacity_overrides::Column::Equipment.eq(eq.as_str()));
    }
    if let Some(from) = q.from {
        select = select.filter(capacity_overrides::Column::WeekStart.gte(from));
    }
    if let Some(to) = q.to {
        select = select.filter(capacity_overrides::Column::WeekStart.lte(to));
    }
    let (rows, total) = fetch_page(&state.db, select, page).await?;
    Ok(axum::Json(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page)))
}

#[utoipa::path(put, path = "/labs/{id}/capacity-overrides", tag = "labs", params(("id" = String, Path)), request_body = CapacityOverride,
    responses((status = 200, body = CapacityOverride), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_override(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<CapacityOverride>,
) -> ApiResult<axum::Json<CapacityOverride>> {
    own_lab(&caller, &id)?;
    find_lab(&state.db, &id).await?;
    let mut c = Checker::default();
    let week_start = c.monday("week_start", body.week_start);
    let hours = c.int("hours_per_week", body.hours_per_week, 0, MAX_HOURS_PER_WEEK);
    let equipment_code = body.equipment.trim().to_string();
    if capacities::Entity::find_by_id((id.clone(), equipment_code.clone())).one(&state.db).await?.is_none() {
        c.push(FieldError::new("equipment", format!("lab '{id}' offers no capacity on '{equipment_code}'")));
    }
    c.finish()?;
    let txn = state.db.begin().await?;
    let key_tuple = (id.clone(), equipment_code.clone(), week_start);
    let before = capacity_overrides::Entity::find_by_id(key_tuple.clone()).one(&txn).await?;
    let model = capacity_overrides::ActiveModel {
        lab: Set(id.clone()),
        equipment: Set(equipment_code.clone()),
        week_start: Set(week_start),
        hours_per_week: Set(hours),
    };
    let saved: CapacityOverride = match &before {
        Some(_) => model.update(&txn).await?,
        None => model.insert(&txn).await?,
    }
    .into();
    let key = format!("{id}/{equipment_code}/{week_start}");
    audit::record(
        &txn,
        AuditEntry {
            actor: caller.actor(),
            action: if before.is_some() { "update" } else { "create" },
            entity: "capacity_override",
            entity_id: &key,
        },
        before.map(CapacityOverride::from).as_ref().and_then(snapshot),
        snapshot(&saved),
    )
    .await?;
    txn.commit().await?;
    Ok(axum::Json(saved))
}

#[utoipa::path(delete, path = "/labs/{id}/capacity-overrides/{equipment}/{week_start}", tag = "labs",
    params(("id" = String, Path), ("equipment" = String, Path), ("week_start" = NaiveDate, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_override(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, equipment_code, week_start)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    own_lab(&caller, &id)?;
    let week_start: NaiveDate =
        week_start.parse().map_err(|_| ApiError::field("week_start", "must be a date YYYY-MM-DD"))?;
    let txn = state.db.begin().await?;
    let key_tuple = (id.clone(), equipment_code.clone(), week_start);
    let before = capacity_overrides::Entity::find_by_id(key_tuple.clone()).one(&txn).await?.ok_or_else(|| {
        ApiError::NotFound(format!("no override for lab '{id}', '{equipment_code}', week of {week_start}"))
    })?;
    capacity_overrides::Entity::delete_by_id(key_tuple).exec(&txn).await?;
    let key = format!("{id}/{equipment_code}/{week_start}");
    audit::record(
        &txn,
        AuditEntry { actor: caller.actor(), action: "delete", entity: "capacity_override", entity_id: &key },
        snapshot(&CapacityOverride::from(before)),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A lab user changes its own lab only; the admin changes any.
fn own_lab(caller: &Caller, lab: &str) -> Result<(), ApiError> {
    match caller.own_lab() {
        Some(own) if own != lab => Err(ApiError::Forbidden(format!("a lab user may change only lab '{own}'"))),
        _ => Ok(()),
    }
}
