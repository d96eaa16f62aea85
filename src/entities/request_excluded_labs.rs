use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "request_excluded_labs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub request: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub lab: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
