//! Notices to users, written in the transaction of the change that causes them.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::fetch_page;
use crate::domain::access::Role;
use crate::domain::paging::PageRequest;
use crate::entities::{notices, users};

/// Who a notice goes to: every enabled user of a company, of a lab, or of a role.
#[derive(Debug, Clone)]
pub enum Audience<'a> {
    Company(&'a str),
    Lab(&'a str),
    Role(Role),
}

/// One notice for each user of `audience`; how many were written.
pub async fn notify<C: ConnectionTrait>(
    db: &C,
    audience: Audience<'_>,
    kind: &str,
    entity: &str,
    entity_id: &str,
    detail: Option<String>,
) -> Result<usize, DbErr> {
    let mut select = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .column(users::Column::MailKinds)
        .filter(users::Column::DisabledAt.is_null());
    select = match audience {
        Audience::Company(c) => {
            select.filter(users::Column::Company.eq(c)).filter(users::Column::Role.eq(Role::Company))
        }
        Audience::Lab(l) => select.filter(users::Column::Lab.eq(l)).filter(users::Column::Role.eq(Role::Lab)),
        Audience::Role(r) => select.filter(users::Column::Role.eq(r)),
    };
    let ids: Vec<(i64, Option<String>)> = select.into_tuple().all(db).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let now = chrono::Utc::now();
    let rows: Vec<notices::ActiveModel> = ids
        .iter()
        .map(|(user_id, mail_kinds)| notices::ActiveModel {
            user_id: Set(*user_id),
            mail_state: Set(wants_mail(mail_kinds.as_deref(), kind).then(|| "pending".to_string())),
            kind: Set(kind.to_string()),
            entity: Set(entity.to_string()),
            entity_id: Set(entity_id.to_string()),
            detail: Set(detail.clone()),
            created_at: Set(now),
            read_at: Set(None),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(super::BATCH) {
        notices::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    Ok(ids.len())
}

/// A user's notices, the newest first.
pub async fn of_user<C: ConnectionTrait>(
    db: &C,
    user: i64,
    unread_only: bool,
    page: PageRequest,
) -> Result<(Vec<notices::Model>, u64), DbErr> {
    let mut select = notices::Entity::find().filter(notices::Column::UserId.eq(user));
    if unread_only {
        select = select.filter(notices::Column::ReadAt.is_null());
    }
    fetch_page(db, select.order_by_desc(notices::Column::Id), page).await
}

pub async fn unread_count<C: ConnectionTrait>(db: &C, user: i64) -> Result<u64, DbErr> {
    notices::Entity::find()
        .filter(notices::Column::UserId.eq(user))
        .filter(notices::Column::ReadAt.is_null())
        .count(db)
        .await
}

pub async fn find_of_user<C: ConnectionTrait>(db: &C, user: i64, id: i64) -> Result<Option<notices::Model>, DbErr> {
    notices::Entity::find_by_id(id).filter(notices::Column::UserId.eq(user)).one(db).await
}

/// Marks the user's notice read, if it was unread; the notice as it is now.
pub async fn mark_read<C: ConnectionTrait>(db: &C, user: i64, id: i64) -> Result<Option<notices::Model>, DbErr> {
    let updated = notices::Entity::update_many()
        .col_expr(notices::Column::ReadAt, Expr::value(chrono::Utc::now()))
        .filter(notices::Column::Id.eq(id))
        .filter(notices::Column::UserId.eq(user))
        .filter(notices::Column::ReadAt.is_null())
        .exec_with_returning(db)
        .await?;
    Ok(updated.into_iter().next())
}

/// Whether a user whose e-mail choice is `mail_kinds` (None: every kind) wants `kind` by e-mail.
pub fn wants_mail(mail_kinds: Option<&str>, kind: &str) -> bool {
    mail_kinds.is_none_or(|kinds| kinds.split(',').any(|k| k.trim() == kind))
}

/// Notices waiting to be e-mailed (pending or being sent).
pub async fn mail_pending<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    notices::Entity::find().filter(notices::Column::MailState.is_in(["pending", "sending"])).count(db).await
}

/// Claims up to `limit` notices due for e-mail for `lease`: pending ones whose time has
/// come, and ones being sent whose sender's lease ran out (it died). One conditional
/// update, so two senders never hold the same notice at once.
pub async fn claim_mail<C: ConnectionTrait>(
    db: &C,
    limit: u64,
    lease: chrono::Duration,
) -> Result<Vec<notices::Model>, DbErr> {
    use sea_orm::Condition;
    use sea_orm::sea_query::Query;
    let now = chrono::Utc::now();
    let due = Condition::any()
        .add(
            Condition::all().add(notices::Column::MailState.eq("pending")).add(
                Condition::any().add(notices::Column::MailNextAt.is_null()).add(notices::Column::MailNextAt.lte(now)),
            ),
        )
        .add(
            Condition::all().add(notices::Column::MailState.eq("sending")).add(notices::Column::MailLeaseUntil.lt(now)),
        );
    let ids = Query::select()
        .column(notices::Column::Id)
        .from(notices::Entity)
        .cond_where(due.clone())
        .order_by(notices::Column::Id, sea_orm::Order::Asc)
        .limit(limit)
        .to_owned();
    notices::Entity::update_many()
        .col_expr(notices::Column::MailState, Expr::value("sending"))
        .col_expr(notices::Column::MailLeaseUntil, Expr::value(now + lease))
        .filter(notices::Column::Id.in_subquery(ids))
        .filter(due)
        .exec_with_returning(db)
        .await
}

/// The notice was handed to the mail server: sent, if this sender still holds it.
pub async fn mark_mailed<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, DbErr> {
    let done = notices::Entity::update_many()
        .col_expr(notices::Column::MailState, Expr::value("sent"))
        .col_expr(notices::Column::MailedAt, Expr::value(chrono::Utc::now()))
        .col_expr(notices::Column::MailLeaseUntil, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .filter(notices::Column::Id.eq(id))
        .filter(notices::Column::MailState.eq("sending"))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Sending failed: try again at `next`, or give up (`failed`) when `next` is None.
pub async fn mail_failed<C: ConnectionTrait>(
    db: &C,
    id: i64,
    next: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::ExprTrait;
    notices::Entity::update_many()
        .col_expr(notices::Column::MailState, Expr::value(if next.is_some() { "pending" } else { "failed" }))
        .col_expr(notices::Column::MailAttempts, Expr::col(notices::Column::MailAttempts).add(1))
        .col_expr(notices::Column::MailNextAt, Expr::value(next))
        .col_expr(notices::Column::MailLeaseUntil, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .filter(notices::Column::Id.eq(id))
        .filter(notices::Column::MailState.eq("sending"))
        .exec(db)
        .await?;
    Ok(())
}

/// The e-mail addresses of users, by id.
pub async fn emails<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<std::collections::HashMap<i64, String>, DbErr> {
    let rows: Vec<(i64, String)> = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .column(users::Column::Email)
        .filter(users::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// A user's choice of the kinds of notice sent by e-mail (None: every kind).
pub async fn set_mail_kinds<C: ConnectionTrait>(db: &C, user: i64, kinds: Option<String>) -> Result<(), DbErr> {
    users::Entity::update_many()
        .col_expr(users::Column::MailKinds, Expr::value(kinds))
        .filter(users::Column::Id.eq(user))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn mail_kinds<C: ConnectionTrait>(db: &C, user: i64) -> Result<Option<String>, DbErr> {
    Ok(users::Entity::find_by_id(user)
        .select_only()
        .column(users::Column::MailKinds)
        .into_tuple::<Option<String>>()
        .one(db)
        .await?
        .flatten())
}
