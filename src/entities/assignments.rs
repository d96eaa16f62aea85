use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::status::{BookingStatus, Outcome};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "assignments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run: i64,
    pub request: String,
    pub lab: String,
    pub start_date: Date,
    pub end_date: Date,
    pub cost: f64,
    pub status: BookingStatus,
    #[sea_orm(column_type = "Text", nullable)]
    pub decline_reason: Option<String>,
    pub answered_at: Option<DateTimeUtc>,
    pub answered_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub received_on: Option<Date>,
    pub started_on: Option<Date>,
    pub completed_on: Option<Date>,
    pub protocol_number: Option<String>,
    pub outcome: Option<Outcome>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub withdraw_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
