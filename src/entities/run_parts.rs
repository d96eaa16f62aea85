use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "run_parts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub run: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub part: i32,
    pub equipment: String,
    pub requests: i32,
    pub columns: i64,
    pub pass: i32,
    pub weight: f64,
    pub status: String,
    pub lease_owner: Option<String>,
    pub lease_expires_ms: Option<i64>,
    pub attempts: i32,
    pub time_limit_seconds: Option<f64>,
    pub solved_by: Option<String>,
    pub seconds: Option<f64>,
    pub objective: Option<f64>,
    pub bound: Option<f64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub result: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
