//! Bookings of the published plan: what each lab is asked to do, and its answers.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::policy::Op;
use super::{AppError, AppResult, Work, require, snapshot};
use crate::db::Db;
use crate::db::bookings::{self as queries, BookingFilter};
use crate::db::{requests, runs};
use crate::domain::access::Caller;
use crate::domain::paging::{ListResponse, PageRequest};
use crate::domain::request::MAX_REASON;
use crate::domain::status::{BookingStatus, RequestStatus};
use crate::domain::{Msg, parse_text};
use crate::entities::{assignments, test_requests};

/// A booking of the published plan, for the lab to confirm or decline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    pub id: i64,
    pub run: i64,
    pub request: String,
    pub company: Option<String>,
    pub test_type: Option<String>,
    pub lab: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// The request's term of the objective, roubles
    pub cost: f64,
    pub status: BookingStatus,
    pub decline_reason: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub answered_by: Option<String>,
}

impl Assignment {
    pub(crate) fn new(a: assignments::Model, request: Option<&test_requests::Model>) -> Self {
        Self {
            id: a.id,
            run: a.run,
            company: request.map(|r| r.company.clone()),
            test_type: request.map(|r| r.test_type.clone()),
            request: a.request,
            lab: a.lab,
            start_date: a.start_date,
            end_date: a.end_date,
            cost: a.cost,
            status: a.status,
            decline_reason: a.decline_reason,
            answered_at: a.answered_at,
            answered_by: a.answered_by,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssignmentQuery {
    pub lab: Option<String>,
    pub company: Option<String>,
    pub request: Option<String>,
    /// proposed, confirmed, declined or superseded
    pub status: Option<String>,
    /// Planning run; default: the published one
    pub run: Option<i64>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

async fn with_requests<C: ConnectionTrait>(db: &C, rows: Vec<assignments::Model>) -> AppResult<Vec<Assignment>> {
    let ids: Vec<String> = rows.iter().map(|a| a.request.clone()).collect();
    let found: HashMap<String, test_requests::Model> = requests::find_many(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|a| {
            let request = found.get(&a.request);
            Assignment::new(a, request)
        })
        .collect())
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    q: &AssignmentQuery,
) -> AppResult<ListResponse<Assignment>> {
    require(caller, Op::ReadBookings)?;
    let page = PageRequest::parse(q.page, q.per_page)?;
    let statuses = match &q.status {
        Some(raw) => vec![BookingStatus::parse(raw).ok_or_else(|| {
            AppError::field("status", Msg::OneOf("proposed, confirmed, declined, superseded".into()))
        })?],
        None => Vec::new(),
    };
    let run = match q.run {
        Some(run) => Some(run),
        None => runs::published(db).await?.map(|r| r.id),
    };
    let Some(run) = run else {
        return Ok(ListResponse::new(Vec::new(), 0, page));
    };
    let filter = BookingFilter {
        run: Some(run),
        lab: q.lab.clone(),
        company: q.company.clone(),
        request: q.request.clone(),
        statuses,
    };
    let (rows, total) = queries::list(db, caller, &filter, page).await?;
    Ok(ListResponse::new(with_requests(db, rows).await?, total, page))
}

/// The bookings a lab coordinator acts on: those waiting for an answer (by start date)
/// and the latest answered ones.
pub async fn for_lab<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    answered_limit: u64,
) -> AppResult<(Vec<Assignment>, Vec<Assignment>)> {
    require(caller, Op::AnswerBooking)?;
    let lab = caller.own_lab().map(ToString::to_string);
    let waiting = BookingFilter { lab: lab.clone(), statuses: vec![BookingStatus::Proposed], ..Default::default() };
    let (waiting, _) = queries::list(db, caller, &waiting, PageRequest::ALL).await?;
    let answered =
        BookingFilter { lab, statuses: vec![BookingStatus::Confirmed, BookingStatus::Declined], ..Default::default() };
    let answered = queries::recently_answered(db, caller, &answered, answered_limit).await?;
    Ok((with_requests(db, waiting).await?, with_requests(db, answered).await?))
}

/// The live bookings (proposed, confirmed) of the caller's lab, of every run.
pub async fn live_of_lab<C: ConnectionTrait>(db: &C, caller: &Caller) -> AppResult<Vec<Assignment>> {
    require(caller, Op::AnswerBooking)?;
    let filter = BookingFilter {
        lab: caller.own_lab().map(ToString::to_string),
        statuses: BookingStatus::LIVE.to_vec(),
        ..Default::default()
    };
    let (rows, _) = queries::list(db, caller, &filter, PageRequest::ALL).await?;
    with_requests(db, rows).await
}

/// Every booking of a request the caller may see, the newest first.
pub async fn of_request<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    request: &str,
) -> AppResult<Vec<assignments::Model>> {
    super::requests::get(db, caller, request).await?;
    Ok(queries::of_request(db, request).await?)
}

/// A lab's answer to a booking of the published plan.
#[derive(Debug, Clone)]
pub enum Answer {
    Confirm,
    Decline { reason: String },
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decline {
    /// Why the lab cannot take it (1–1000 characters)
    pub reason: String,
}

impl Decline {
    pub fn answer(&self) -> AppResult<Answer> {
        let reason = parse_text(&self.reason, MAX_REASON)
            .map_err(|m| AppError::field("reason", if m == Msg::Required { Msg::ReasonRequired } else { m }))?;
        Ok(Answer::Decline { reason })
    }
}

/// A lab answers its own bookings only; another lab's booking is not found. The request
/// moves first (it must still be `planned`), then the booking (it must still be
/// `proposed`): of two answers, or an answer and a cancel, at once, exactly one wins and
/// the other is told so.
pub async fn answer<C: Db>(db: &C, caller: &Caller, id: i64, answer: Answer) -> AppResult<Assignment> {
    require(caller, Op::AnswerBooking)?;
    let mut work = Work::begin(db, caller).await?;
    let booking =
        queries::find_visible(work.db(), caller, id).await?.ok_or_else(|| AppError::not_found("assignment", id))?;
    if booking.status != BookingStatus::Proposed {
        return Err(AppError::Conflict(format!(
            "assignment {id} is {} and cannot be answered",
            booking.status.as_str()
        )));
    }
    let (action, request_status, booking_status, reason, placement) = match &answer {
        Answer::Confirm => (
            "confirm",
            RequestStatus::Confirmed,
            BookingStatus::Confirmed,
            None,
            Some((booking.lab.as_str(), booking.start_date, booking.end_date)),
        ),
        Answer::Decline { reason } => (
            "decline",
            RequestStatus::Submitted,
            BookingStatus::Declined,
            Some(format!("declined by {}: {reason}", booking.lab)),
            None,
        ),
    };
    let request = requests::find(work.db(), &booking.request)
        .await?
        .ok_or_else(|| AppError::not_found("request", &booking.request))?
        .row;
    let moved = requests::transition(
        work.db(),
        &booking.request,
        None,
        &[RequestStatus::Planned],
        request_status,
        reason,
        placement,
    )
    .await?;
    if moved.is_none() {
        let now = requests::find(work.db(), &booking.request).await?.map(|r| r.row.status.as_str()).unwrap_or("gone");
        return Err(AppError::Conflict(format!(
            "request {} is {now} and its booking cannot be answered",
            booking.request
        )));
    }
    let decline_reason = match &answer {
        Answer::Decline { reason } => Some(reason.clone()),
        Answer::Confirm => None,
    };
    let updated = queries::answer(work.db(), id, booking.run, booking_status, decline_reason, caller.actor())
        .await?
        .ok_or_else(|| AppError::Conflict(format!("assignment {id} has been answered or replaced meanwhile")))?;
    super::notify::booking_step(
        work.db(),
        if action == "confirm" { "confirmed" } else { "declined" },
        &updated,
        &request.company,
    )
    .await?;
    work.audit(action, "assignment", id.to_string(), snapshot(&booking), snapshot(&updated));
    work.audit(
        action,
        "test_request",
        booking.request.clone(),
        Some(json!({"status": request.status, "planned_lab": request.planned_lab, "version": request.version})),
        Some(json!({"status": request_status, "version": request.version + 1})),
    );
    work.commit().await?;
    let request = requests::find(db, &updated.request).await?.map(|r| r.row);
    Ok(Assignment::new(updated, request.as_ref()))
}
