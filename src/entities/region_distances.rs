use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "region_distances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub from_region: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub to_region: String,
    pub km: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
