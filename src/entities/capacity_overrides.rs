use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "capacity_overrides")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub lab: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub equipment: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub week_start: Date,
    pub hours_per_week: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
