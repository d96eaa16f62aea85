use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::status::Reason;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "plan_unassigned")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub run: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub request: String,
    pub reason: Reason,
    #[sea_orm(column_type = "Text")]
    pub detail: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
