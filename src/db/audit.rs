//! The audit log: written inside the same transaction as the change it records.

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};
use serde::Serialize;

use crate::entities::audit_log;

pub struct AuditEntry<'a> {
    pub actor: Option<&'a str>,
    pub action: &'a str,
    pub entity: &'a str,
    pub entity_id: &'a str,
}

pub fn snapshot<T: Serialize>(value: &T) -> Option<serde_json::Value> {
    serde_json::to_value(value).ok()
}

pub async fn record<C: ConnectionTrait>(
    db: &C,
    entry: AuditEntry<'_>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), DbErr> {
    audit_log::ActiveModel {
        at: Set(chrono::Utc::now()),
        actor: Set(entry.actor.map(str::to_string)),
        action: Set(entry.action.to_string()),
        entity: Set(entry.entity.to_string()),
        entity_id: Set(entry.entity_id.to_string()),
        before: Set(before),
        after: Set(after),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Records many changes of one kind in batched INSERTs (publishing touches every request).
pub async fn record_many<C: ConnectionTrait>(
    db: &C,
    actor: Option<&str>,
    action: &str,
    entity: &str,
    rows: Vec<(String, Option<serde_json::Value>, Option<serde_json::Value>)>,
) -> Result<(), DbErr> {
    let at = chrono::Utc::now();
    let models: Vec<audit_log::ActiveModel> = rows
        .into_iter()
        .map(|(entity_id, before, after)| audit_log::ActiveModel {
            at: Set(at),
            actor: Set(actor.map(str::to_string)),
            action: Set(action.to_string()),
            entity: Set(entity.to_string()),
            entity_id: Set(entity_id),
            before: Set(before),
            after: Set(after),
            ..Default::default()
        })
        .collect();
    // Eight columns a row: 500 rows stay well under both backends' parameter limits.
    for chunk in models.chunks(500) {
        audit_log::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    Ok(())
}
