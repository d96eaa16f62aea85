//! `/api/v1/requests`: test requests filed by companies.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiResult, FieldError, Problem};
use super::extract::{Json, Query, parse_json};
use super::pagination::{ListResponse, PageParams};
use crate::auth::Caller;
use crate::db::audit::{self, AuditEntry, snapshot};
use crate::db::requests::{self as queries, RequestFilter, StoredRequest};
use crate::db::sequences;
use crate::domain::request::{RawRequestFields, RequestFields, RequestStatus};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_requests, create_request))
        .routes(routes!(get_request, update_request))
        .routes(routes!(cancel_request))
}

/// A test request as filed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// Company id, e.g. `C0001`
    pub company: String,
    /// Test type code, e.g. `EMC-R10`
    pub test_type: String,
    /// Number of samples (1–10000)
    pub samples: i64,
    /// When the samples are ready for testing
    pub ready_date: NaiveDate,
    /// When the results are needed
    pub due_date: NaiveDate,
    /// 1 routine, 2 certification, 3 blocks production
    pub priority: i64,
    /// Labs the company will not use
    #[serde(default)]
    pub excluded_labs: Vec<String>,
    /// The company's own reference (unique per company)
    pub external_ref: Option<String>,
    pub notes: Option<String>,
}

/// Changes to a request; fields left out keep their values. `version` must be the version read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestPatch {
    pub version: i64,
    pub test_type: Option<String>,
    pub samples: Option<i64>,
    pub ready_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub priority: Option<i64>,
    pub excluded_labs: Option<Vec<String>>,
    /// An empty string clears it
    pub external_ref: Option<String>,
    /// An empty string clears it
    pub notes: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TestRequest {
    pub id: String,
    pub company: String,
    pub test_type: String,
    pub samples: i32,
    pub ready_date: NaiveDate,
    pub due_date: NaiveDate,
    pub priority: i16,
    pub excluded_labs: Vec<String>,
    pub external_ref: Option<String>,
    pub notes: Option<String>,
    pub status: RequestStatus,
    /// Why the request is unplaceable or was declined, when it is
    pub status_reason: Option<String>,
    /// The lab of the published plan, when planned or confirmed
    pub planned_lab: Option<String>,
    /// Monday of the first week of testing in the published plan
    pub planned_start: Option<NaiveDate>,
    /// Sunday of the last week of testing in the published plan
    pub planned_end: Option<NaiveDate>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StoredRequest> for TestRequest {
    fn from(stored: StoredRequest) -> Self {
        let row = stored.row;
        Self {
            // The database's CHECK admits only known statuses.
            status: RequestStatus::parse(&row.status).unwrap_or(RequestStatus::Submitted),
            id: row.id,
            company: row.company,
            test_type: row.test_type,
            samples: row.samples,
            ready_date: row.ready_date,
            due_date: row.due_date,
            priority: row.priority,
            excluded_labs: stored.excluded_labs,
            external_ref: row.external_ref,
            notes: row.notes,
            status_reason: row.status_reason,
            planned_lab: row.planned_lab,
            planned_start: row.planned_start,
            planned_end: row.planned_end,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    /// Company id
    pub company: Option<String>,
    /// Status, e.g. `submitted`
    pub status: Option<String>,
    /// Test type code
    pub test_type: Option<String>,
    /// Equipment class code of the test type
    pub equipment: Option<String>,
    /// Region code of the company
    pub region: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl RequestQuery {
    fn filter(&self) -> Result<RequestFilter, ApiError> {
        let status = match &self.status {
            Some(raw) => Some(RequestStatus::parse(raw).map_err(|m| ApiError::field("status", m))?),
            None => None,
        };
        Ok(RequestFilter {
            company: self.company.clone(),
            status,
            test_type: self.test_type.clone(),
            equipment: self.equipment.clone(),
            region: self.region.clone(),
        })
    }
}

#[utoipa::path(get, path = "/requests", tag = "requests", params(RequestQuery),
    responses((status = 200, body = ListResponse<TestRequest>), (status = 422, body = Problem)))]
pub async fn list_requests(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<RequestQuery>,
) -> ApiResult<axum::Json<ListResponse<TestRequest>>> {
    let page = PageParams { page: query.page, per_page: query.per_page }.parse()?;
    let (items, total) = queries::list(&state.db, &caller, &query.filter()?, page).await?;
    Ok(axum::Json(ListResponse::new(items.into_iter().map(Into::into).collect(), total, page)))
}

#[utoipa::path(post, path = "/requests", tag = "requests", request_body = NewRequest,
    responses((status = 201, body = TestRequest), (status = 400, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_request(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewRequest>,
) -> ApiResult<(StatusCode, axum::Json<TestRequest>)> {
    let fields = RequestFields::parse(RawRequestFields {
        company: &body.company,
        test_type: &body.test_type,
        samples: body.samples,
        ready_date: body.ready_date,
        due_date: body.due_date,
        priority: body.priority,
        excluded_labs: &body.excluded_labs,
        external_ref: body.external_ref.as_deref(),
        notes: body.notes.as_deref(),
    })
    .map_err(ApiError::Validation)?;
    if let Some(own) = caller.own_company()
        && fields.company.as_str() != own
    {
        return Err(ApiError::field("company", format!("must be your own company, {own}")));
    }
    let missing = queries::check_references(&state.db, &fields).await?;
    if !missing.is_empty() {
        return Err(ApiError::Validation(missing));
    }
    let txn = state.db.begin().await?;
    let number = sequences::next_value(&txn, sequences::REQUEST_SEQUENCE).await?;
    let stored = queries::insert(&txn, sequences::format_request_id(number), &fields).await?;
    let created = TestRequest::from(stored);
    audit::record(
        &txn,
        AuditEntry { actor: caller.actor(), action: "create", entity: "test_request", entity_id: &created.id },
        None,
        snapshot(&created),
    )
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

#[utoipa::path(get, path = "/requests/{id}", tag = "requests", params(("id" = String, Path, description = "Request id, e.g. R00001")),
    responses((status = 200, body = TestRequest), (status = 404, body = Problem)))]
pub async fn get_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<TestRequest>> {
    let stored =
        queries::find_visible(&state.db, &caller, &id).await?.ok_or_else(|| ApiError::not_found("request", &id))?;
    Ok(axum::Json(stored.into()))
}

#[utoipa::path(patch, path = "/requests/{id}", tag = "requests", params(("id" = String, Path, description = "Request id")),
    request_body = RequestPatch,
    responses((status = 200, body = TestRequest), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(patch): Json<RequestPatch>,
) -> ApiResult<axum::Json<TestRequest>> {
    let current =
        queries::find_visible(&state.db, &caller, &id).await?.ok_or_else(|| ApiError::not_found("request", &id))?;
    let before = TestRequest::from(current.clone());
    let version =
        i32::try_from(patch.version).map_err(|_| ApiError::field("version", "is not a version of this request"))?;
    if version != before.version {
        return Err(stale(&id, before.version));
    }
    if !before.status.can_edit() {
        return Err(ApiError::Conflict(format!(
            "request {id} is {} and can no longer be changed; cancel it and file a new one",
            before.status.as_str()
        )));
    }
    let fields = RequestFields::parse(RawRequestFields {
        company: &before.company,
        test_type: patch.test_type.as_deref().unwrap_or(&before.test_type),
        samples: patch.samples.unwrap_or(i64::from(before.samples)),
        ready_date: patch.ready_date.unwrap_or(before.ready_date),
        due_date: patch.due_date.unwrap_or(before.due_date),
        priority: patch.priority.unwrap_or(i64::from(before.priority)),
        excluded_labs: patch.excluded_labs.as_deref().unwrap_or(&before.excluded_labs),
        external_ref: patch.external_ref.as_deref().or(before.external_ref.as_deref()),
        notes: patch.notes.as_deref().or(before.notes.as_deref()),
    })
    .map_err(ApiError::Validation)?;
    if let Some(own) = caller.own_company()
        && fields.company.as_str() != own
    {
        return Err(ApiError::field("company", format!("must be your own company, {own}")));
    }
    let missing = queries::check_references(&state.db, &fields).await?;
    if !missing.is_empty() {
        return Err(ApiError::Validation(missing));
    }
    // A changed request needs planning again; its old placement no longer describes it.
    let txn = state.db.begin().await?;
    let updated = queries::update_if_version(&txn, &id, version, &fields, RequestStatus::Submitted, None)
        .await?
        .ok_or_else(|| stale(&id, before.version))?;
    let after = TestRequest::from(updated);
    audit::record(
        &txn,
        AuditEntry { actor: caller.actor(), action: "update", entity: "test_request", entity_id: &id },
        snapshot(&before),
        snapshot(&after),
    )
    .await?;
    txn.commit().await?;
    Ok(axum::Json(after))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// If given, the cancel only happens when the request is still at this version
    pub version: Option<i64>,
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/requests/{id}/cancel", tag = "requests", params(("id" = String, Path, description = "Request id")),
    request_body(content = Option<CancelRequest>, description = "Optional: version and reason"),
    responses((status = 200, body = TestRequest), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_request(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<axum::Json<TestRequest>> {
    // The body is optional: a bare POST cancels whatever the version.
    let body: CancelRequest =
        if body.iter().all(u8::is_ascii_whitespace) { CancelRequest::default() } else { parse_json(&body)? };
    let current =
        queries::find_visible(&state.db, &caller, &id).await?.ok_or_else(|| ApiError::not_found("request", &id))?;
    let before = TestRequest::from(current);
    if let Some(expected) = body.version
        && expected != i64::from(before.version)
    {
        return Err(stale(&id, before.version));
    }
    if !before.status.can_cancel() {
        return Err(ApiError::Conflict(format!("request {id} is {} and cannot be cancelled", before.status.as_str())));
    }
    let reason = crate::domain::parse_optional_text(body.reason.as_deref(), 1000)
        .map_err(|m| ApiError::Validation(vec![FieldError::new("reason", m)]))?;
    let txn = state.db.begin().await?;
    let updated = queries::set_status_if_version(&txn, &id, before.version, RequestStatus::Cancelled, reason)
        .await?
        .ok_or_else(|| stale(&id, before.version))?;
    let after = TestRequest::from(updated);
    audit::record(
        &txn,
        AuditEntry { actor: caller.actor(), action: "cancel", entity: "test_request", entity_id: &id },
        snapshot(&before),
        snapshot(&after),
    )
    .await?;
    txn.commit().await?;
    Ok(axum::Json(after))
}

fn stale(id: &str, current: i32) -> ApiError {
    ApiError::Conflict(format!("request {id} has changed since it was read; its current version is {current}"))
}
