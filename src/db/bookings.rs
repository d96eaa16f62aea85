//! Bookings of published plans (the `assignments` table): what each lab is asked to do
//! and how it answered.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::fetch_page;
use crate::domain::access::Caller;
use crate::domain::paging::PageRequest;
use crate::domain::status::BookingStatus;
use crate::entities::{assignments, test_requests};

/// Bookings a caller may see: a lab its own, a company its requests' ones, oversight all.
pub fn visible_to(caller: &Caller) -> Condition {
    let mut cond = Condition::all();
    if let Some(lab) = caller.own_lab() {
        cond = cond.add(assignments::Column::Lab.eq(lab.as_str()));
    }
    if let Some(company) = caller.own_company() {
        cond = cond.add(of_company(company.as_str()));
    }
    cond
}

fn of_company(company: &str) -> Condition {
    Condition::all().add(
        assignments::Column::Request.in_subquery(
            Query::select()
                .column(test_requests::Column::Id)
                .from(test_requests::Entity)
                .and_where(test_requests::Column::Company.eq(company))
                .to_owned(),
        ),
    )
}

#[derive(Debug, Default, Clone)]
pub struct BookingFilter {
    pub run: Option<i64>,
    pub lab: Option<String>,
    pub company: Option<String>,
    pub request: Option<String>,
    pub statuses: Vec<BookingStatus>,
}

fn select(caller: &Caller, filter: &BookingFilter) -> sea_orm::Select<assignments::Entity> {
    let mut select = assignments::Entity::find().filter(visible_to(caller));
    if let Some(run) = filter.run {
        select = select.filter(assignments::Column::Run.eq(run));
    }
    if let Some(lab) = &filter.lab {
        select = select.filter(assignments::Column::Lab.eq(lab.as_str()));
    }
    if let Some(request) = &filter.request {
        select = select.filter(assignments::Column::Request.eq(request.as_str()));
    }
    if !filter.statuses.is_empty() {
        select = select.filter(assignments::Column::Status.is_in(filter.statuses.iter().copied()));
    }
    if let Some(company) = &filter.company {
        select = select.filter(of_company(company));
    }
    select
}

/// The caller's bookings that match, by start date.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    filter: &BookingFilter,
    page: PageRequest,
) -> Result<(Vec<assignments::Model>, u64), DbErr> {
    let select =
        select(caller, filter).order_by_asc(assignments::Column::StartDate).order_by_asc(assignments::Column::Id);
    fetch_page(db, select, page).await
}

/// The caller's bookings that match, the latest answered first, at most `limit`.
pub async fn recently_answered<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    filter: &BookingFilter,
    limit: u64,
) -> Result<Vec<assignments::Model>, DbErr> {
    select(caller, filter)
        .order_by_desc(assignments::Column::AnsweredAt)
        .order_by_desc(assignments::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Every booking of one request, the newest first.
pub async fn of_request<C: ConnectionTrait>(db: &C, request: &str) -> Result<Vec<assignments::Model>, DbErr> {
    assignments::Entity::find()
        .filter(assignments::Column::Request.eq(request))
        .order_by_desc(assignments::Column::Id)
        .all(db)
        .await
}

/// A booking the caller may see.
pub async fn find_visible<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: i64,
) -> Result<Option<assignments::Model>, DbErr> {
    assignments::Entity::find_by_id(id).filter(visible_to(caller)).one(db).await
}

/// Bookings in one of `statuses`, of every run, in id order.
pub async fn in_states<C: ConnectionTrait>(
    db: &C,
    statuses: &[BookingStatus],
) -> Result<Vec<assignments::Model>, DbErr> {
    assignments::Entity::find()
        .filter(assignments::Column::Status.is_in(statuses.iter().copied()))
        .order_by_asc(assignments::Column::Id)
        .all(db)
        .await
}

/// The confirmed bookings of a run, by request.
pub async fn confirmed_of_run<C: ConnectionTrait>(
    db: &C,
    run: i64,
) -> Result<HashMap<String, assignments::Model>, DbErr> {
    Ok(assignments::Entity::find()
        .filter(assignments::Column::Run.eq(run))
        .filter(assignments::Column::Status.eq(BookingStatus::Confirmed))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.request.clone(), a))
        .collect())
}

/// Every live booking (proposed or confirmed) becomes superseded; returns how many.
pub async fn supersede_live<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    Ok(assignments::Entity::update_many()
        .col_expr(assignments::Column::Status, Expr::value(BookingStatus::Superseded))
        .filter(assignments::Column::Status.is_in(BookingStatus::LIVE))
        .exec(db)
        .await?
        .rows_affected)
}

pub async fn insert_many<C: ConnectionTrait>(db: &C, rows: Vec<assignments::ActiveModel>) -> Result<(), DbErr> {
    for chunk in rows.chunks(super::BATCH) {
        assignments::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    Ok(())
}

/// A lab's answer as one conditional update: only a `proposed` booking of the published
/// run `run` changes, so of two answers at once exactly one finds it proposed. None when
/// it was not (any more).
pub async fn answer<C: ConnectionTrait>(
    db: &C,
    id: i64,
    run: i64,
    to: BookingStatus,
    reason: Option<String>,
    by: Option<&str>,
) -> Result<Option<assignments::Model>, DbErr> {
    let updated = assignments::Entity::update_many()
        .col_expr(assignments::Column::Status, Expr::value(to))
        .col_expr(assignments::Column::DeclineReason, Expr::value(reason))
        .col_expr(assignments::Column::AnsweredAt, Expr::value(chrono::Utc::now()))
        .col_expr(assignments::Column::AnsweredBy, Expr::value(by.map(str::to_string)))
        .filter(assignments::Column::Id.eq(id))
        .filter(assignments::Column::Run.eq(run))
        .filter(assignments::Column::Status.eq(BookingStatus::Proposed))
        .exec_with_returning(db)
        .await?;
    Ok(updated.into_iter().next())
}

/// The live booking of a request is superseded (its request was cancelled or changed);
/// so is one whose samples the lab has received but not begun to test.
pub async fn release_request<C: ConnectionTrait>(db: &C, request: &str) -> Result<u64, DbErr> {
    Ok(assignments::Entity::update_many()
        .col_expr(assignments::Column::Status, Expr::value(BookingStatus::Superseded))
        .filter(assignments::Column::Request.eq(request))
        .filter(assignments::Column::Status.is_in(BookingStatus::LIVE.into_iter().chain([BookingStatus::Received])))
        .exec(db)
        .await?
        .rows_affected)
}

/// A new booking row.
pub fn new_row(
    run: i64,
    request: &str,
    lab: &str,
    dates: (chrono::NaiveDate, chrono::NaiveDate),
    cost: f64,
    kept: Option<&assignments::Model>,
    now: chrono::DateTime<chrono::Utc>,
) -> assignments::ActiveModel {
    assignments::ActiveModel {
        run: Set(run),
        request: Set(request.to_string()),
        lab: Set(lab.to_string()),
        start_date: Set(dates.0),
        end_date: Set(dates.1),
        cost: Set(cost),
        status: Set(if kept.is_some() { BookingStatus::Confirmed } else { BookingStatus::Proposed }),
        decline_reason: Set(None),
        answered_at: Set(kept.and_then(|k| k.answered_at)),
        answered_by: Set(kept.and_then(|k| k.answered_by.clone())),
        created_at: Set(now),
        ..Default::default()
    }
}

/// Bookings in one of `statuses` whose planned end is before `today`, the longest
/// overdue first, at most `limit`.
pub async fn ended_before<C: ConnectionTrait>(
    db: &C,
    statuses: &[BookingStatus],
    today: chrono::NaiveDate,
    limit: u64,
) -> Result<Vec<assignments::Model>, DbErr> {
    assignments::Entity::find()
        .filter(assignments::Column::Status.is_in(statuses.iter().copied()))
        .filter(assignments::Column::EndDate.lt(today))
        .order_by_asc(assignments::Column::EndDate)
        .order_by_asc(assignments::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
