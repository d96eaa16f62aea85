use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::status::{PlanStatus, RunStatus};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "planning_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub status: RunStatus,
    pub horizon_start: Date,
    pub horizon_weeks: i32,
    pub time_limit_seconds: f64,
    pub gap_limit: f64,
    pub keep_best_on_cancel: bool,
    pub cancel_requested: bool,
    pub created_by: Option<String>,
    pub created_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub instance: String,
    pub requests: i32,
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_expires_ms: Option<i64>,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub phase: Option<String>,
    pub parts_done: Option<i32>,
    pub parts_total: Option<i32>,
    pub best_objective: Option<f64>,
    pub best_bound: Option<f64>,
    pub plan_status: Option<PlanStatus>,
    pub objective: Option<f64>,
    pub bound: Option<f64>,
    pub gap: Option<f64>,
    pub solve_seconds: Option<f64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub published_at: Option<DateTimeUtc>,
    pub is_published: bool,
    pub move_lab: Option<f64>,
    pub move_week: Option<f64>,
    pub freeze_weeks: Option<i32>,
    pub deterministic: bool,
    pub plan_deterministic: Option<bool>,
    pub moved: Option<i32>,
    pub scenario: bool,
    pub spread_parts: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub scenario_plan: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
