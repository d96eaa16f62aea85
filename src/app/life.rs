//! The rest of a booking's life, at its lab: samples received, testing started, testing
//! completed with a protocol, or the booking withdrawn and its request sent back to
//! planning. Each step is allowed only from the step before it; like the lab's answer,
//! it moves the request first (conditional on its state), then the booking (conditional
//! on its state), in one transaction with the audit rows, so a skipped or repeated step,
//! or two steps at once, leave one winner and a conflict, and nothing half done.

use chrono::{NaiveDate, Utc};
use futures_core::Stream;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Digest;
use utoipa::ToSchema;

use super::bookings::Assignment;
use super::policy::Op;
use super::{AppError, AppResult, Work, require, snapshot};
use crate::db::Db;
use crate::db::bookings as booking_queries;
use crate::db::life as queries;
use crate::db::requests;
use crate::domain::access::Caller;
use crate::domain::request::MAX_REASON;
use crate::domain::status::{BookingStatus, Outcome, RequestStatus};
use crate::domain::{FieldError, Msg, parse_optional_text, parse_text};
use crate::entities::assignments;

/// Largest protocol PDF kept, in bytes (10 MiB).
pub const MAX_PROTOCOL_BYTES: usize = 10 * 1024 * 1024;
/// Longest protocol number.
pub const MAX_PROTOCOL_NUMBER: usize = 64;
/// Longest note on a completed test.
pub const MAX_NOTE: usize = 2000;

/// Bookings that are due: their planned end has passed and they are not completed.
const DUE: [BookingStatus; 4] =
    [BookingStatus::Proposed, BookingStatus::Confirmed, BookingStatus::Received, BookingStatus::InTesting];

/// A booking's particulars, with its life at the lab.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Booking {
    #[serde(flatten)]
    pub assignment: Assignment,
    /// The request's status now
    pub request_status: Option<RequestStatus>,
    pub received_on: Option<NaiveDate>,
    pub started_on: Option<NaiveDate>,
    pub completed_on: Option<NaiveDate>,
    pub protocol_number: Option<String>,
    pub outcome: Option<Outcome>,
    pub note: Option<String>,
    pub withdraw_reason: Option<String>,
    /// The protocol's PDF, when one was uploaded
    pub protocol: Option<ProtocolInfo>,
    /// The planned end has passed and the test is not completed
    pub late: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProtocolInfo {
    pub file_name: String,
    pub size: i64,
    /// SHA-256 of the file, hexadecimal
    pub sha256: String,
    /// Where to download it
    pub href: String,
}

/// True when a booking in `status` ending `end` is late on `today`.
pub fn is_late(status: BookingStatus, end: NaiveDate, today: NaiveDate) -> bool {
    DUE.contains(&status) && end < today
}

/// A booking whose planned end has passed without its test completed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LateBooking {
    pub id: i64,
    pub request: String,
    pub lab: String,
    pub status: BookingStatus,
    pub end_date: NaiveDate,
    /// Days since the planned end
    pub days_late: i64,
}

/// How many late bookings the ministry's list shows.
pub const LATE_LIST: u64 = 50;

/// The late bookings of every lab, the longest overdue first (at most `limit`).
pub async fn late_bookings<C: ConnectionTrait>(db: &C, caller: &Caller, limit: u64) -> AppResult<Vec<LateBooking>> {
    require(caller, Op::ReadDashboard)?;
    let today = today();
    Ok(booking_queries::ended_before(db, &DUE, today, limit)
        .await?
        .into_iter()
        .map(|b| LateBooking {
            days_late: (today - b.end_date).num_days(),
            id: b.id,
            request: b.request,
            lab: b.lab,
            status: b.status,
            end_date: b.end_date,
        })
        .collect())
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

async fn view<C: ConnectionTrait>(db: &C, row: assignments::Model) -> AppResult<Booking> {
    let mut one = views(db, vec![row]).await?;
    one.pop().ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("a booking vanished while it was read")))
}

/// The bookings with their requests and protocols, in two queries whatever their number.
async fn views<C: ConnectionTrait>(db: &C, rows: Vec<assignments::Model>) -> AppResult<Vec<Booking>> {
    let request_ids: Vec<String> = rows.iter().map(|r| r.request.clone()).collect();
    let requests = requests::find_many(db, &request_ids).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut protocols = queries::protocol_infos(db, &ids).await?;
    let today = today();
    Ok(rows
        .into_iter()
        .map(|row| {
            let request = requests.get(&row.request);
            let protocol = protocols.remove(&row.id).map(|(file_name, size, sha256)| ProtocolInfo {
                file_name,
                size,
                sha256,
                href: format!("/api/v1/assignments/{}/protocol", row.id),
            });
            Booking {
                request_status: request.map(|r| r.status),
                received_on: row.received_on,
                started_on: row.started_on,
                completed_on: row.completed_on,
                protocol_number: row.protocol_number.clone(),
                outcome: row.outcome,
                note: row.note.clone(),
                withdraw_reason: row.withdraw_reason.clone(),
                protocol,
                late: is_late(row.status, row.end_date, today),
                assignment: Assignment::new(row, request),
            }
        })
        .collect())
}

/// One booking the caller may see: a lab its own, a company its requests' ones,
/// oversight all; any other is not found.
pub async fn get<C: ConnectionTrait>(db: &C, caller: &Caller, id: i64) -> AppResult<Booking> {
    require(caller, Op::ReadBookings)?;
    let row =
        booking_queries::find_visible(db, caller, id).await?.ok_or_else(|| AppError::not_found("assignment", id))?;
    view(db, row).await
}

/// The protocol's PDF: (file name, bytes), to whoever may see the booking.
/// How much of a protocol a download reads at a time: what it holds in memory.
pub const PROTOCOL_CHUNK: i64 = 256 * 1024;

/// A protocol to send: its name and size, and its content read a part at a time.
pub struct ProtocolDownload<S> {
    pub file_name: String,
    pub size: i64,
    pub chunks: S,
}

pub async fn protocol(
    db: &DatabaseConnection,
    caller: &Caller,
    id: i64,
) -> AppResult<ProtocolDownload<impl Stream<Item = Result<Vec<u8>, DbErr>> + Send + 'static>> {
    require(caller, Op::ReadBookings)?;
    booking_queries::find_visible(db, caller, id).await?.ok_or_else(|| AppError::not_found("assignment", id))?;
    let (file_name, size, _) =
        queries::protocol_info(db, id).await?.ok_or_else(|| AppError::not_found("protocol of assignment", id))?;
    let db = db.clone();
    let chunks = futures_util::stream::unfold(0_i64, move |offset| {
        let db = db.clone();
        async move {
            if offset >= size {
                return None;
            }
            let len = PROTOCOL_CHUNK.min(size - offset);
            Some((queries::protocol_chunk(&db, id, offset, len).await, offset + len))
        }
    });
    Ok(ProtocolDownload { file_name, size, chunks })
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Receive {
    /// When the samples arrived; default today, never later than today
    pub received_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Withdraw {
    /// Why the lab gives the booking up (1–1000 characters)
    pub reason: String,
}

/// A completed test as the lab reports it; the protocol's PDF is optional.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    pub protocol_number: Option<String>,
    pub completed_on: Option<String>,
    pub outcome: Option<String>,
    pub note: Option<String>,
    /// (file name, bytes)
    pub protocol: Option<(String, Vec<u8>)>,
}

struct ValidCompletion {
    protocol_number: String,
    completed_on: NaiveDate,
    outcome: Outcome,
    note: Option<String>,
    protocol: Option<(String, Vec<u8>)>,
}

/// A PDF file begins with `%PDF-` and ends with `%%EOF` (perhaps followed by a line end).
pub fn looks_like_pdf(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    bytes.starts_with(b"%PDF-") && tail.windows(5).any(|w| w == b"%%EOF")
}

fn not_after_today(field: &str, date: NaiveDate) -> Result<NaiveDate, FieldError> {
    if date > today() { Err(FieldError::new(field, Msg::Invalid("a date in the future".into()))) } else { Ok(date) }
}

impl Completion {
    fn validate(self, started_on: Option<NaiveDate>) -> AppResult<ValidCompletion> {
        let mut errors = Vec::new();
        let protocol_number = parse_text(self.protocol_number.as_deref().unwrap_or(""), MAX_PROTOCOL_NUMBER)
            .map_err(|m| errors.push(FieldError::new("protocol_number", m)))
            .ok();
        let completed_on = match self.completed_on.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Some(today()),
            Some(raw) => match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
                Ok(date) => match not_after_today("completed_on", date) {
                    Ok(date) if started_on.is_some_and(|s| date < s) => {
                        errors.push(FieldError::new("completed_on", Msg::Invalid("before testing started".into())));
                        None
                    }
                    Ok(date) => Some(date),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                },
                Err(_) => {
                    errors.push(FieldError::new("completed_on", Msg::Date));
                    None
                }
            },
        };
        let outcome = match self.outcome.as_deref().map(str::trim) {
            None | Some("") => {
                errors.push(FieldError::new("outcome", Msg::Required));
                None
            }
            Some(raw) => Outcome::parse(raw).or_else(|| {
                errors.push(FieldError::new("outcome", Msg::OneOf("passed, failed, not_applicable".into())));
                None
            }),
        };
        let note = parse_optional_text(self.note.as_deref(), MAX_NOTE)
            .map_err(|m| errors.push(FieldError::new("note", m)))
            .ok()
            .flatten();
        if let Some((_, bytes)) = &self.protocol {
            if bytes.len() > MAX_PROTOCOL_BYTES {
                errors
                    .push(FieldError::new("protocol", Msg::Invalid(format!("larger than {MAX_PROTOCOL_BYTES} bytes"))));
            } else if !looks_like_pdf(bytes) {
                errors.push(FieldError::new("protocol", Msg::Invalid("not a PDF file".into())));
            }
        }
        match (protocol_number, completed_on, outcome) {
            (Some(protocol_number), Some(completed_on), Some(outcome)) if errors.is_empty() => {
                Ok(ValidCompletion { protocol_number, completed_on, outcome, note, protocol: self.protocol })
            }
            _ => Err(AppError::Validation(errors)),
        }
    }
}

/// A step of the booking's life.
enum Step {
    Receive(NaiveDate),
    Start,
    Complete(ValidCompletion),
    Withdraw(String),
}

impl Step {
    fn action(&self) -> &'static str {
        match self {
            Self::Receive(_) => "receive",
            Self::Start => "start",
            Self::Complete(_) => "complete",
            Self::Withdraw(_) => "withdraw",
        }
    }

    /// The booking's states it may follow, and the state it leads to.
    fn booking(&self) -> (&'static [BookingStatus], BookingStatus) {
        match self {
            Self::Receive(_) => (&[BookingStatus::Confirmed], BookingStatus::Received),
            Self::Start => (&[BookingStatus::Received], BookingStatus::InTesting),
            Self::Complete(_) => (&[BookingStatus::InTesting], BookingStatus::Completed),
            Self::Withdraw(_) => (
                &[BookingStatus::Confirmed, BookingStatus::Received, BookingStatus::InTesting],
                BookingStatus::Withdrawn,
            ),
        }
    }

    /// The request's states it may follow, and the state it leads to.
    fn request(&self) -> (&'static [RequestStatus], RequestStatus) {
        match self {
            Self::Receive(_) => (&[RequestStatus::Confirmed], RequestStatus::Confirmed),
            Self::Start => (&[RequestStatus::Confirmed], RequestStatus::InTesting),
            Self::Complete(_) => (&[RequestStatus::InTesting], RequestStatus::Completed),
            Self::Withdraw(_) => (&[RequestStatus::Confirmed, RequestStatus::InTesting], RequestStatus::Submitted),
        }
    }

    fn columns(&self) -> Vec<(assignments::Column, sea_orm::sea_query::SimpleExpr)> {
        use assignments::Column as C;
        match self {
            Self::Receive(on) => vec![(C::ReceivedOn, Expr::value(*on))],
            Self::Start => vec![(C::StartedOn, Expr::value(today()))],
            Self::Complete(c) => vec![
                (C::CompletedOn, Expr::value(c.completed_on)),
                (C::ProtocolNumber, Expr::value(c.protocol_number.clone())),
                (C::Outcome, Expr::value(c.outcome)),
                (C::Note, Expr::value(c.note.clone())),
            ],
            Self::Withdraw(reason) => vec![(C::WithdrawReason, Expr::value(reason.clone()))],
        }
    }
}

pub async fn receive<C: Db>(db: &C, caller: &Caller, id: i64, cmd: Receive) -> AppResult<Booking> {
    require(caller, Op::KeepBooking)?;
    let on = not_after_today("received_on", cmd.received_on.unwrap_or_else(today)).map_err(|e| vec![e])?;
    run(db, caller, id, |_| Ok(Step::Receive(on))).await
}

pub async fn start<C: Db>(db: &C, caller: &Caller, id: i64) -> AppResult<Booking> {
    require(caller, Op::KeepBooking)?;
    run(db, caller, id, |_| Ok(Step::Start)).await
}

pub async fn complete<C: Db>(db: &C, caller: &Caller, id: i64, cmd: Completion) -> AppResult<Booking> {
    require(caller, Op::KeepBooking)?;
    run(db, caller, id, |booking| Ok(Step::Complete(cmd.validate(booking.started_on)?))).await
}

pub async fn withdraw<C: Db>(db: &C, caller: &Caller, id: i64, cmd: Withdraw) -> AppResult<Booking> {
    require(caller, Op::KeepBooking)?;
    let reason = parse_text(&cmd.reason, MAX_REASON)
        .map_err(|m| AppError::field("reason", if m == Msg::Required { Msg::ReasonRequired } else { m }))?;
    run(db, caller, id, |_| Ok(Step::Withdraw(reason))).await
}

/// Carries out one step on a booking of the caller's own lab (another lab's is not found).
async fn run<C: Db>(
    db: &C,
    caller: &Caller,
    id: i64,
    step: impl FnOnce(&assignments::Model) -> AppResult<Step>,
) -> AppResult<Booking> {
    let mut work = Work::begin(db, caller).await?;
    let booking = booking_queries::find_visible(work.db(), caller, id)
        .await?
        .ok_or_else(|| AppError::not_found("assignment", id))?;
    let step = step(&booking)?;
    let action = step.action();
    let (booking_from, booking_to) = step.booking();
    if !booking_from.contains(&booking.status) {
        return Err(AppError::Conflict(format!(
            "assignment {id} is {} and cannot be {action}d now",
            booking.status.as_str()
        )));
    }
    let request = requests::find(work.db(), &booking.request)
        .await?
        .ok_or_else(|| AppError::not_found("request", &booking.request))?
        .row;
    let (request_from, request_to) = step.request();
    let (reason, placement) = match &step {
        Step::Withdraw(reason) => (Some(format!("withdrawn by {}: {reason}", booking.lab)), None),
        _ => (request.status_reason.clone(), Some((booking.lab.as_str(), booking.start_date, booking.end_date))),
    };
    let moved =
        requests::transition(work.db(), &booking.request, None, request_from, request_to, reason, placement).await?;
    if moved.is_none() {
        return Err(AppError::Conflict(format!(
            "request {} is {} and its booking cannot be {action}d now",
            booking.request,
            request.status.as_str()
        )));
    }
    let updated = queries::step(work.db(), id, booking_from, booking_to, step.columns())
        .await?
        .ok_or_else(|| AppError::Conflict(format!("assignment {id} has changed meanwhile")))?;
    if let Step::Complete(ValidCompletion { protocol: Some((name, bytes)), .. }) = step {
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        queries::insert_protocol(work.db(), id, &name, bytes, sha).await?;
    }
    let notice = match action {
        "receive" => Some("received"),
        "complete" => Some("completed"),
        "withdraw" => Some("withdrawn"),
        _ => None,
    };
    if let Some(kind) = notice {
        super::notify::booking_step(work.db(), kind, &updated, &request.company).await?;
    }
    work.audit(action, "assignment", id.to_string(), snapshot(&booking), snapshot(&updated));
    work.audit(
        action,
        "test_request",
        booking.request.clone(),
        Some(json!({"status": request.status, "version": request.version})),
        Some(json!({"status": request_to, "version": request.version + 1})),
    );
    work.commit().await?;
    view(db, updated).await
}

/// The caller's lab's bookings at work (confirmed, received, in testing) by start date,
/// and its latest finished ones (completed, withdrawn), at most `finished_limit`.
pub async fn of_lab<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    finished_limit: u64,
) -> AppResult<(Vec<Booking>, Vec<Booking>)> {
    use crate::db::bookings::BookingFilter;
    use crate::domain::paging::PageRequest;
    require(caller, Op::KeepBooking)?;
    let lab = caller.own_lab().map(ToString::to_string);
    let open = BookingFilter {
        lab: lab.clone(),
        statuses: vec![BookingStatus::Confirmed, BookingStatus::Received, BookingStatus::InTesting],
        ..Default::default()
    };
    let (open, _) = booking_queries::list(db, caller, &open, PageRequest::ALL).await?;
    let finished =
        BookingFilter { lab, statuses: vec![BookingStatus::Completed, BookingStatus::Withdrawn], ..Default::default() };
    let finished = booking_queries::recently_answered(db, caller, &finished, finished_limit).await?;
    Ok((views(db, open).await?, views(db, finished).await?))
}
