//! A user's notices: what happened to their requests, bookings or runs. They are
//! written by the operations that cause them, in the same transaction, so a change and
//! its notices are stored together or not at all.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::policy::Op;
use super::{AppError, AppResult, Work, require, snapshot};
use crate::db::Db;
use crate::db::notices as queries;
use crate::domain::access::Caller;
use crate::domain::paging::{ListResponse, PageRequest};
use crate::entities::notices;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Notice {
    pub id: i64,
    /// assigned, moved, declined, confirmed, received, completed, withdrawn, run_finished or run_failed
    pub kind: String,
    /// What it is about: assignment, test_request or planning_run
    pub entity: String,
    pub entity_id: String,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<notices::Model> for Notice {
    fn from(n: notices::Model) -> Self {
        Self {
            id: n.id,
            kind: n.kind,
            entity: n.entity,
            entity_id: n.entity_id,
            detail: n.detail,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoticeQuery {
    /// Only the unread ones
    pub unread: Option<bool>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

/// The caller's notices, the newest first; the command-line operator has none.
pub async fn list<C: ConnectionTrait>(db: &C, caller: &Caller, q: &NoticeQuery) -> AppResult<ListResponse<Notice>> {
    require(caller, Op::ReadNotices)?;
    let page = PageRequest::parse(q.page, q.per_page)?;
    let Some(user) = caller.user() else {
        return Ok(ListResponse::new(Vec::new(), 0, page));
    };
    let (rows, total) = queries::of_user(db, user.id.0, q.unread.unwrap_or(false), page).await?;
    Ok(ListResponse::new(rows.into_iter().map(Notice::from).collect(), total, page))
}

pub async fn unread_count<C: ConnectionTrait>(db: &C, caller: &Caller) -> AppResult<u64> {
    match caller.user() {
        Some(user) => Ok(queries::unread_count(db, user.id.0).await?),
        None => Ok(0),
    }
}

/// Marks one of the caller's notices read (again: no change); another user's is not found.
pub async fn read<C: Db>(db: &C, caller: &Caller, id: i64) -> AppResult<Notice> {
    require(caller, Op::ReadNotices)?;
    let user = caller.user().ok_or_else(|| AppError::not_found("notice", id))?.id.0;
    let mut work = Work::begin(db, caller).await?;
    let before = queries::find_of_user(work.db(), user, id).await?.ok_or_else(|| AppError::not_found("notice", id))?;
    if before.read_at.is_some() {
        return Ok(before.into());
    }
    let after = queries::mark_read(work.db(), user, id)
        .await?
        .ok_or_else(|| AppError::Conflict(format!("notice {id} changed meanwhile")))?;
    work.audit("read", "notice", id.to_string(), snapshot(&before), snapshot(&after));
    work.commit().await?;
    Ok(after.into())
}

/// The kinds of notice there are.
pub const KINDS: [&str; 9] =
    ["assigned", "moved", "declined", "confirmed", "received", "completed", "withdrawn", "run_finished", "run_failed"];

/// Which notices go to the user by e-mail (besides the page).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailChoice {
    /// The kinds sent by e-mail; null: every kind; an empty list: none
    pub email: Option<Vec<String>>,
}

pub async fn mail_choice<C: ConnectionTrait>(db: &C, caller: &Caller) -> AppResult<MailChoice> {
    require(caller, Op::ReadNotices)?;
    let Some(user) = caller.user() else { return Ok(MailChoice { email: None }) };
    let kinds = queries::mail_kinds(db, user.id.0).await?;
    Ok(MailChoice {
        email: kinds.map(|k| k.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_string).collect()),
    })
}

/// Sets the caller's choice; unknown kinds are a 422 naming them.
pub async fn set_mail_choice<C: Db>(db: &C, caller: &Caller, choice: MailChoice) -> AppResult<MailChoice> {
    require(caller, Op::ReadNotices)?;
    let user = caller.user().ok_or_else(|| AppError::Forbidden("the operator receives no notices".into()))?.id.0;
    if let Some(kinds) = &choice.email {
        let errors: Vec<crate::domain::FieldError> = kinds
            .iter()
            .enumerate()
            .filter(|(_, k)| !KINDS.contains(&k.as_str()))
            .map(|(i, _)| {
                crate::domain::FieldError::new(format!("email[{i}]"), crate::domain::Msg::OneOf(KINDS.join(", ")))
            })
            .collect();
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
    }
    let mut work = Work::begin(db, caller).await?;
    let before = mail_choice(work.db(), caller).await?;
    let stored = choice.email.as_ref().map(|k| k.join(","));
    queries::set_mail_kinds(work.db(), user, stored).await?;
    work.audit("mail_choice", "user", user.to_string(), snapshot(&before), snapshot(&choice));
    work.commit().await?;
    Ok(choice)
}
