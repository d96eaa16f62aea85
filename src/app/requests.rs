//! Test requests: filed, changed and cancelled by their company, read by oversight.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbBackend};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::policy::Op;
use super::users;
use super::{AppError, AppResult, Work, require, snapshot};
use crate::db::Db;
use crate::db::filings::FilingQueue;
use crate::db::requests::{self as queries, RequestFilter, StoredRequest};
use crate::db::{bookings, sequences};
use crate::domain::access::{Caller, TokenClaim};
use crate::domain::json_time;
use crate::domain::paging::{ListResponse, PageRequest};
use crate::domain::request::{MAX_REASON, RawRequestFields, RequestFields};
use crate::domain::status::RequestStatus;
use crate::domain::{FieldError, Msg, parse_optional_text};

/// A test request as filed.
#[derive(Debug, Clone, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
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

/// Cancelling a request: both fields are optional.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// If given, the cancel only happens when the request is still at this version
    pub version: Option<i64>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TestRequest {
    pub id: String,
    pub company: String,
    pub test_type: String,
    pub samples: i32,
    #[serde(serialize_with = "json_time::date")]
    pub ready_date: NaiveDate,
    #[serde(serialize_with = "json_time::date")]
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
    #[serde(serialize_with = "json_time::optional_date")]
    pub planned_start: Option<NaiveDate>,
    /// Sunday of the last week of testing in the published plan
    #[serde(serialize_with = "json_time::optional_date")]
    pub planned_end: Option<NaiveDate>,
    pub version: i32,
    #[serde(serialize_with = "json_time::date_time")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "json_time::date_time")]
    pub updated_at: DateTime<Utc>,
}

impl From<StoredRequest> for TestRequest {
    fn from(stored: StoredRequest) -> Self {
        let row = stored.row;
        Self {
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
            status: row.status,
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

/// The list's filters, as the API's query names them.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
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
    /// 1-based page number (default 1)
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page (default 50, at most 500)
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

impl RequestQuery {
    pub fn filter(&self) -> AppResult<RequestFilter> {
        let status = match &self.status {
            Some(raw) => Some(RequestStatus::parse(raw).ok_or_else(|| {
                let names: Vec<&str> = RequestStatus::ALL.iter().map(|s| s.as_str()).collect();
                AppError::field("status", Msg::OneOf(names.join(", ")))
            })?),
            None => None,
        };
        Ok(RequestFilter {
            company: self.company.clone(),
            status,
            test_type: self.test_type.clone(),
            equipment: self.equipment.clone(),
            region: self.region.clone(),
            ..RequestFilter::default()
        })
    }

    pub fn page(&self) -> AppResult<PageRequest> {
        Ok(PageRequest::parse(self.page, self.per_page)?)
    }
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    filter: &RequestFilter,
    page: PageRequest,
) -> AppResult<ListResponse<TestRequest>> {
    // Without a claim the list always comes back.
    Ok(list_claimed(db, caller, None, filter, page).await?.unwrap_or_else(|| ListResponse::new(Vec::new(), 0, page)))
}

/// [`list`] for a caller taken from a token read earlier (`claim`; None when the token
/// was read for this request). None when the caller must be read again and the list
/// asked again: the token may no longer stand for this caller (or the page is empty).
pub async fn list_claimed<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    claim: Option<&TokenClaim>,
    filter: &RequestFilter,
    page: PageRequest,
) -> AppResult<Option<ListResponse<TestRequest>>> {
    require(caller, Op::ReadRequests)?;
    let Some((items, total)) = queries::list_claimed(db, caller, claim, filter, page).await? else {
        return Ok(None);
    };
    Ok(Some(ListResponse::new(items.into_iter().map(Into::into).collect(), total, page)))
}

/// Up to `limit` requests after the id `after`, in id order, that the caller may see and
/// that pass the filter: a whole list read in chunks of bounded size.
pub async fn chunk_after<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    filter: &RequestFilter,
    after: Option<&str>,
    limit: u64,
) -> AppResult<Vec<TestRequest>> {
    require(caller, Op::ReadRequests)?;
    let rows = queries::chunk_after(db, caller, filter, after, limit).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn get<C: ConnectionTrait>(db: &C, caller: &Caller, id: &str) -> AppResult<TestRequest> {
    require(caller, Op::ReadRequests)?;
    let stored = queries::find_visible(db, caller, id).await?.ok_or_else(|| AppError::not_found("request", id))?;
    Ok(stored.into())
}

fn check_own_company(caller: &Caller, fields: &RequestFields) -> AppResult<()> {
    match caller.own_company() {
        Some(own) if fields.company.as_str() != own.as_str() => {
            Err(AppError::field("company", Msg::OwnCompany(own.to_string())))
        }
        _ => Ok(()),
    }
}

fn parse_new(cmd: &NewRequest) -> Result<RequestFields, Vec<FieldError>> {
    RequestFields::parse(RawRequestFields {
        company: &cmd.company,
        test_type: &cmd.test_type,
        samples: cmd.samples,
        ready_date: cmd.ready_date,
        due_date: cmd.due_date,
        priority: cmd.priority,
        excluded_labs: &cmd.excluded_labs,
        external_ref: cmd.external_ref.as_deref(),
        notes: cmd.notes.as_deref(),
    })
}

/// Files a request for the caller's company; it gets the next registry id.
pub async fn create<C: Db>(db: &C, caller: &Caller, cmd: NewRequest) -> AppResult<TestRequest> {
    create_claimed(db, None, caller, None, &cmd)
        .await?
        .ok_or_else(|| anyhow::anyhow!("a filing without a claim was refused").into())
}

/// [`create`] for a caller taken from a token read earlier (`claim`; None when the token
/// was read for this request). None, with nothing written, when the token no longer
/// stands for this caller: the caller must be read again and the filing asked again.
/// On PostgreSQL, `filings` (the server's) writes the filing together with others
/// that arrive beside it.
pub async fn create_claimed<C: Db>(
    db: &C,
    filings: Option<&FilingQueue>,
    caller: &Caller,
    claim: Option<&TokenClaim>,
    cmd: &NewRequest,
) -> AppResult<Option<TestRequest>> {
    require(caller, Op::FileRequest)?;
    let fields = parse_new(cmd).map_err(AppError::from).and_then(|fields| {
        check_own_company(caller, &fields)?;
        Ok(fields)
    });
    let at_once = db.get_database_backend() == DbBackend::Postgres
        && fields.as_ref().is_ok_and(|fields| fields.excluded_labs.is_empty());
    // The single statement checks the token itself; anything else checks it first, so
    // that a token that no longer holds is told so before any other answer.
    if !at_once
        && let Some(claim) = claim
        && !users::claim_holds(db, claim).await?
    {
        return Ok(None);
    }
    let fields = fields?;
    if at_once {
        return file_at_once(db, filings, caller, claim, fields).await;
    }
    let mut work = Work::begin(db, caller).await?;
    let created = file_fields(&mut work, &fields).await?;
    work.commit().await?;
    Ok(Some(created))
}

/// [`create`] on PostgreSQL, in one statement with its audit entry; the snapshot is
/// made before the id exists and the statement writes the id into it.
async fn file_at_once<C: Db>(
    db: &C,
    filings: Option<&FilingQueue>,
    caller: &Caller,
    claim: Option<&TokenClaim>,
    fields: RequestFields,
) -> AppResult<Option<TestRequest>> {
    let now = queries::database_now();
    let mut created = TestRequest::from(queries::StoredRequest::from(queries::new_model(String::new(), &fields, now)));
    let after = snapshot(&created).unwrap_or(serde_json::Value::Null);
    let filing =
        queries::Filing { fields, now, actor: caller.actor().map(str::to_string), after, claim: claim.cloned() };
    let id = match filings {
        Some(filings) => filings.file(filing.clone()).await?,
        None => queries::insert_audited_at_once(db, std::slice::from_ref(&filing)).await?.into_iter().next().flatten(),
    };
    match id {
        Some(id) => {
            created.id = id;
            Ok(Some(created))
        }
        // Nothing was written: the token, or a reference, did not hold. The caller is read
        // again first, and the filing asked again tells which.
        None if claim.is_some() => Ok(None),
        None => {
            let missing = queries::check_references(db, &filing.fields).await?;
            if missing.is_empty() {
                // The reference was there a moment ago; it went between the two reads.
                Err(AppError::lost_race())
            } else {
                Err(AppError::Validation(missing))
            }
        }
    }
}

/// [`create`]'s step inside a larger piece of work (an import).
pub async fn file(work: &mut Work, caller: &Caller, cmd: &NewRequest) -> AppResult<TestRequest> {
    let fields = parse_new(cmd)?;
    check_own_company(caller, &fields)?;
    file_fields(work, &fields).await
}

async fn file_fields(work: &mut Work, fields: &RequestFields) -> AppResult<TestRequest> {
    let missing = queries::check_references(work.db(), fields).await?;
    if !missing.is_empty() {
        return Err(AppError::Validation(missing));
    }
    let number = sequences::next_value(work.db(), sequences::REQUEST_SEQUENCE).await?;
    let stored = queries::insert(work.db(), sequences::format_request_id(number), fields).await?;
    let created = TestRequest::from(stored);
    work.audit("create", "test_request", created.id.clone(), None, snapshot(&created));
    Ok(created)
}

fn stale(id: &str, current: i32) -> AppError {
    AppError::Conflict(format!("request {id} has changed since it was read; its current version is {current}"))
}

/// The editable states, as the conditional update checks them.
const EDITABLE: [RequestStatus; 3] = [RequestStatus::Submitted, RequestStatus::Planned, RequestStatus::Unplaceable];

pub async fn update<C: Db>(db: &C, caller: &Caller, id: &str, patch: RequestPatch) -> AppResult<TestRequest> {
    require(caller, Op::ChangeRequest)?;
    let mut work = Work::begin(db, caller).await?;
    let updated = change(&mut work, caller, id, &patch).await?;
    work.commit().await?;
    Ok(updated)
}

/// [`update`]'s step inside a larger piece of work.
pub async fn change(work: &mut Work, caller: &Caller, id: &str, patch: &RequestPatch) -> AppResult<TestRequest> {
    let current =
        queries::find_visible(work.db(), caller, id).await?.ok_or_else(|| AppError::not_found("request", id))?;
    let before = TestRequest::from(current);
    let version = i32::try_from(patch.version).map_err(|_| AppError::field("version", Msg::NotAVersion))?;
    if version != before.version {
        return Err(stale(id, before.version));
    }
    if !before.status.can_edit() {
        return Err(AppError::Conflict(format!(
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
    })?;
    check_own_company(caller, &fields)?;
    let missing = queries::check_references(work.db(), &fields).await?;
    if !missing.is_empty() {
        return Err(AppError::Validation(missing));
    }
    // A changed request needs planning again; its old placement no longer describes it.
    let updated = queries::update_if_version(work.db(), id, version, &fields, &EDITABLE)
        .await?
        .ok_or_else(|| stale(id, before.version))?;
    bookings::release_request(work.db(), id).await?;
    let after = TestRequest::from(updated);
    work.audit("update", "test_request", id, snapshot(&before), snapshot(&after));
    Ok(after)
}

pub async fn cancel<C: Db>(db: &C, caller: &Caller, id: &str, cmd: CancelRequest) -> AppResult<TestRequest> {
    require(caller, Op::ChangeRequest)?;
    let reason = parse_optional_text(cmd.reason.as_deref(), MAX_REASON).map_err(|m| AppError::field("reason", m))?;
    let mut work = Work::begin(db, caller).await?;
    let current =
        queries::find_visible(work.db(), caller, id).await?.ok_or_else(|| AppError::not_found("request", id))?;
    let before = TestRequest::from(current);
    let expected = match cmd.version {
        Some(v) => Some(i32::try_from(v).map_err(|_| AppError::field("version", Msg::NotAVersion))?),
        None => None,
    };
    if expected.is_some_and(|v| v != before.version) {
        return Err(stale(id, before.version));
    }
    if !before.status.can_cancel() {
        return Err(AppError::Conflict(format!("request {id} is {} and cannot be cancelled", before.status.as_str())));
    }
    let cancellable: Vec<RequestStatus> = RequestStatus::ALL.into_iter().filter(|s| s.can_cancel()).collect();
    // Conditional on the state, and on the version when the caller named one: a lab's
    // answer in between never undoes the cancel, and a cancel never undoes an answer
    // the caller had not seen when it named its version.
    let row = queries::transition(work.db(), id, expected, &cancellable, RequestStatus::Cancelled, reason, None)
        .await?
        .ok_or_else(|| stale(id, before.version))?;
    bookings::release_request(work.db(), id).await?;
    let after = TestRequest::from(StoredRequest::from(row));
    work.audit("cancel", "test_request", id, snapshot(&before), snapshot(&after));
    work.commit().await?;
    Ok(after)
}
