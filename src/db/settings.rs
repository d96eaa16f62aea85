//! Planning settings (default horizon, objective weights) as key–value rows.

use std::collections::HashMap;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

use crate::entities::planning_settings;

pub async fn all<C: ConnectionTrait>(db: &C) -> Result<HashMap<String, String>, DbErr> {
    Ok(planning_settings::Entity::find().all(db).await?.into_iter().map(|s| (s.key, s.value)).collect())
}

/// Sets each key to its value, adding keys not stored yet.
pub async fn put<C: ConnectionTrait>(db: &C, values: Vec<(String, String)>) -> Result<(), DbErr> {
    super::catalog::upsert(
        db,
        values.into_iter().map(|(key, value)| planning_settings::ActiveModel { key: Set(key), value: Set(value) }),
        OnConflict::column(planning_settings::Column::Key).update_column(planning_settings::Column::Value).to_owned(),
    )
    .await
}
