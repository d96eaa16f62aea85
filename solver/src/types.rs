//! The instance and plan formats of the planning model, as serde types.
//!
//! Field names follow the specification exactly; optional lists default to empty so
//! that a hand-written instance need not spell out what it does not use.

use serde::{Deserialize, Serialize};

pub const INSTANCE_FORMAT: &str = "labplan-instance/1";
pub const PLAN_FORMAT: &str = "labplan-plan/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub horizon: Horizon,
    pub weights: Weights,
    #[serde(default)]
    pub regions: Vec<Region>,
    #[serde(default)]
    pub distances: Vec<Distance>,
    pub equipment: Vec<Equipment>,
    pub test_types: Vec<TestType>,
    pub labs: Vec<Lab>,
    #[serde(default)]
    pub capacity_overrides: Vec<CapacityOverride>,
    pub companies: Vec<Company>,
    pub requests: Vec<Request>,
    #[serde(default)]
    pub pinned: Vec<Pinned>,
    /// Bookings of the published plan that their labs have not confirmed yet: a plan
    /// may move them, paying `weights.move_lab` or `weights.move_week`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub current: Vec<Current>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Horizon {
    /// ISO date of the Monday that starts week 0.
    pub start: String,
    pub weeks: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    pub tardiness_per_week: f64,
    pub transport_per_km: f64,
    pub unassigned: f64,
    pub max_late_weeks: u32,
    /// Roubles for moving a current booking to another lab or leaving it out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub move_lab: f64,
    /// Roubles per week a current booking starts earlier or later at its lab.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub move_week: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    #[serde(default)]
    pub lat: f64,
    #[serde(default)]
    pub lon: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distance {
    pub from: String,
    pub to: String,
    pub km: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Equipment {
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub max_hours_per_test_week: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestType {
    pub code: String,
    #[serde(default)]
    pub standard: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub equipment: String,
    pub hours: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lab {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub name_en: String,
    pub region: String,
    #[serde(default)]
    pub accredited: Vec<String>,
    #[serde(default)]
    pub capacity: Vec<Capacity>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub equipment: String,
    pub hours_per_week: f64,
    pub price_per_hour: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityOverride {
    pub lab: String,
    pub equipment: String,
    pub week: u32,
    pub hours_per_week: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Company {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: String,
    pub company: String,
    pub test_type: String,
    pub samples: u32,
    pub release_week: u32,
    pub due_week: u32,
    pub priority: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_labs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pinned {
    pub request: String,
    pub lab: String,
    pub start_week: u32,
}

/// A request's booking in the published plan that its lab has not confirmed yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Current {
    pub request: String,
    pub lab: String,
    pub start_week: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanStatus {
    Optimal,
    Feasible,
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    pub status: PlanStatus,
    pub objective: f64,
    pub bound: f64,
    pub gap: f64,
    pub solve_seconds: f64,
    pub assignments: Vec<Assignment>,
    pub unassigned: Vec<Unassigned>,
    pub bottlenecks: Vec<Bottleneck>,
    /// How many current bookings the plan moves or drops; absent when the instance
    /// has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved: Option<usize>,
    /// Each current booking the plan moves or drops, with what the move costs and what
    /// it saves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<Move>,
    /// Whether the solve was asked to be deterministic and kept to it: the same
    /// instance and options give this same plan and bound on any machine, whatever its
    /// load. Absent when it was not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deterministic: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub request: String,
    pub lab: String,
    pub start_week: u32,
    pub end_week: u32,
    pub late_weeks: u32,
    pub cost: f64,
}

/// A lab and a start week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub lab: String,
    pub start_week: u32,
}

/// A current booking that the plan moves or drops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Move {
    pub request: String,
    /// The current booking.
    pub from: Slot,
    /// Where the plan books the request; absent when it leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Slot>,
    /// The move's term of the objective: `move_lab`, or `move_week` × weeks shifted.
    pub penalty: f64,
    /// What the plan saves by the move, before its penalty: the objective of the plan
    /// with the request kept at its current booking (and the bookings in its way
    /// rebooked, see docs/planning-model.md), less the plan's objective, plus the
    /// penalty. Absent when the current booking breaks a rule and cannot be kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saving: Option<f64>,
    /// Why the current booking cannot be kept, when it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NoAccreditedLab,
    ExcludedByCompany,
    NoCapacityInWindow,
    Outranked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unassigned {
    pub request: String,
    pub reason: Reason,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bottleneck {
    pub lab: String,
    pub equipment: String,
    pub week: u32,
    pub used_hours: f64,
    pub capacity_hours: f64,
    pub shadow_price: f64,
}
