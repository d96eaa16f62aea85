//! The audit log: written inside the same transaction as the change it records, and read
//! back for the administrator and a request's history.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use super::fetch_page;
use crate::domain::paging::PageRequest;
use crate::entities::audit_log;

/// One change: who did what to which record, with the record before and after.
#[derive(Debug, Clone)]
pub struct Entry {
    pub action: String,
    pub entity: &'static str,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

pub async fn record<C: ConnectionTrait>(db: &C, actor: Option<&str>, entry: Entry) -> Result<(), DbErr> {
    record_many(db, actor, vec![entry]).await
}

/// Records many changes in batched INSERTs (publishing touches every request).
pub async fn record_many<C: ConnectionTrait>(db: &C, actor: Option<&str>, entries: Vec<Entry>) -> Result<(), DbErr> {
    let at = chrono::Utc::now();
    let models: Vec<audit_log::ActiveModel> = entries
        .into_iter()
        .map(|e| audit_log::ActiveModel {
            at: Set(at),
            actor: Set(actor.map(str::to_string)),
            action: Set(e.action),
            entity: Set(e.entity.to_string()),
            entity_id: Set(e.entity_id),
            before: Set(e.before),
            after: Set(e.after),
            ..Default::default()
        })
        .collect();
    for chunk in models.chunks(super::BATCH) {
        audit_log::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub actor: Option<String>,
}

/// The newest entries first.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &Filter,
    page: PageRequest,
) -> Result<(Vec<audit_log::Model>, u64), DbErr> {
    let mut select = audit_log::Entity::find().order_by_desc(audit_log::Column::Id);
    if let Some(entity) = &filter.entity {
        select = select.filter(audit_log::Column::Entity.eq(entity.as_str()));
    }
    if let Some(id) = &filter.entity_id {
        select = select.filter(audit_log::Column::EntityId.eq(id.as_str()));
    }
    if let Some(actor) = &filter.actor {
        select = select.filter(audit_log::Column::Actor.eq(actor.trim().to_lowercase()));
    }
    fetch_page(db, select, page).await
}

/// Every entry of one record, oldest first.
pub async fn history<C: ConnectionTrait>(db: &C, entity: &str, id: &str) -> Result<Vec<audit_log::Model>, DbErr> {
    audit_log::Entity::find()
        .filter(audit_log::Column::Entity.eq(entity))
        .filter(audit_log::Column::EntityId.eq(id))
        .order_by_asc(audit_log::Column::Id)
        .all(db)
        .await
}

pub async fn count<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    audit_log::Entity::find().count(db).await
}
