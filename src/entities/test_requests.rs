use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::status::RequestStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "test_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub company: String,
    pub test_type: String,
    pub samples: i32,
    pub ready_date: Date,
    pub due_date: Date,
    pub priority: i16,
    pub external_ref: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
    pub status: RequestStatus,
    #[sea_orm(column_type = "Text", nullable)]
    pub status_reason: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub planned_lab: Option<String>,
    pub planned_start: Option<Date>,
    pub planned_end: Option<Date>,
    #[sea_orm(column_type = "Text", nullable)]
    pub excluded_labs_joined: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
