use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "plan_moves")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub run: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub request: String,
    pub from_lab: String,
    pub from_week: i32,
    pub to_lab: Option<String>,
    pub to_week: Option<i32>,
    pub penalty: f64,
    pub saving: Option<f64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub forced: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
