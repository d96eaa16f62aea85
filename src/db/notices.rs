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
    let mut select =
        users::Entity::find().select_only().column(users::Column::Id).filter(users::Column::DisabledAt.is_null());
    select = match audience {
        Audience::Company(c) => {
            select.filter(users::Column::Company.eq(c)).filter(users::Column::Role.eq(Role::Company))
        }
        Audience::Lab(l) => select.filter(users::Column::Lab.eq(l)).filter(users::Column::Role.eq(Role::Lab)),
        Audience::Role(r) => select.filter(users::Column::Role.eq(r)),
    };
    let ids: Vec<i64> = select.into_tuple().all(db).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let now = chrono::Utc::now();
    let rows: Vec<notices::ActiveModel> = ids
        .iter()
        .map(|&user_id| notices::ActiveModel {
            user_id: Set(user_id),
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
