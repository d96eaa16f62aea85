use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "plan_bottlenecks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub run: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub lab: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub equipment: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub week: i32,
    pub used_hours: f64,
    pub capacity_hours: f64,
    pub shadow_price: f64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
