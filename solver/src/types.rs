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
