use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "scenarios")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub created_by: Option<String>,
    pub created_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub changes: String,
    pub base_hash: String,
    pub time_limit_seconds: f64,
    pub run: i64,
    pub baseline: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
