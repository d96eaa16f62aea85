//! What the ministry's figures are made of: the open demand, the capacity, and the
//! published plan, read once per view.

use std::collections::HashMap;

use sea_orm::ConnectionTrait;

use super::policy::Op;
use super::{AppResult, require};
use crate::db::catalog::Catalog;
use crate::db::{plans, requests, runs};
use crate::domain::access::Caller;
use crate::domain::horizon::Horizon;
use crate::domain::status::RequestStatus;
use crate::entities::{capacities, plan_assignments, plan_bottlenecks, plan_unassigned, planning_runs, test_requests};

/// Requests still to be tested and figured on the dashboard.
const OPEN: [RequestStatus; 4] =
    [RequestStatus::Submitted, RequestStatus::Planned, RequestStatus::Confirmed, RequestStatus::Unplaceable];

pub struct Data {
    pub catalog: Catalog,
    pub horizon: Horizon,
    pub run: Option<planning_runs::Model>,
    pub requests: Vec<test_requests::Model>,
    pub capacities: Vec<capacities::Model>,
    /// (lab, equipment, week) → that week's hours instead of the base ones.
    pub overrides: HashMap<(String, String, u32), f64>,
    pub assigned: Vec<plan_assignments::Model>,
    pub unassigned: Vec<plan_unassigned::Model>,
    pub bottlenecks: Vec<plan_bottlenecks::Model>,
}

pub async fn load<C: ConnectionTrait>(db: &C, caller: &Caller) -> AppResult<Data> {
    require(caller, Op::ReadDashboard)?;
    let catalog = Catalog::load(db).await?;
    let run = runs::published(db).await?;
    let horizon = match &run {
        Some(run) => super::runs::horizon_of(run),
        None => super::runs::default_horizon(db).await?,
    };
    let end = horizon.end();
    let requests = requests::in_states(db, &OPEN, Some(end)).await?;
    let (capacities, overrides) = super::labs::all_capacity(db, horizon.start, end).await?;
    let overrides = overrides
        .into_iter()
        .filter_map(|o| {
            let week = u32::try_from((o.week_start - horizon.start).num_days() / 7).ok()?;
            Some(((o.lab, o.equipment, week), f64::from(o.hours_per_week)))
        })
        .collect();
    let (assigned, unassigned, bottlenecks) = match &run {
        Some(run) => (
            plans::assignments(db, run.id).await?,
            plans::unassigned(db, run.id).await?,
            plans::bottlenecks(db, run.id).await?,
        ),
        None => Default::default(),
    };
    Ok(Data { catalog, horizon, run, requests, capacities, overrides, assigned, unassigned, bottlenecks })
}
