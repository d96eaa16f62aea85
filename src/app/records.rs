//! Saving one keyed record of the registry with its audit row: the shape the catalog,
//! the companies, the labs and a lab's own records share.

use sea_orm::{ActiveModelBehavior, ActiveModelTrait, EntityTrait, IntoActiveModel};
use serde::Serialize;

use super::{AppError, AppResult, Work, snapshot};

/// What a save may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Add a new record; one of the same key is a conflict.
    Create,
    /// Change the record of the key; none is "not found".
    Replace,
    /// Add it, or change the one of the key.
    Upsert,
}

impl Mode {
    pub fn create_or_replace(replace: bool) -> Self {
        if replace { Self::Replace } else { Self::Create }
    }
}

/// The audit log's name of a kind of record, and the name messages call it by.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub entity: &'static str,
    pub name: &'static str,
}

/// Writes `row` (its key's record was `before`) by `mode`, and notes the change.
pub async fn save<A, V>(work: &mut Work, kind: Kind, key: &str, before: Option<V>, row: A, mode: Mode) -> AppResult<V>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    V: From<<A::Entity as EntityTrait>::Model> + Serialize,
{
    let exists = before.is_some();
    match (exists, mode) {
        (true, Mode::Create) => return Err(AppError::Conflict(format!("{} '{key}' already exists", kind.name))),
        (false, Mode::Replace) => return Err(AppError::not_found(kind.name, key)),
        _ => {}
    }
    let saved = V::from(crate::db::save(work.db(), row, exists).await?);
    let action = if exists { "update" } else { "create" };
    work.audit(action, kind.entity, key, before.as_ref().and_then(snapshot), snapshot(&saved));
    Ok(saved)
}
