//! Errors of instance checking and of solving.

use thiserror::Error;

/// Everything wrong with an instance, each problem naming the ids concerned.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("invalid instance: {}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
pub struct InstanceError {
    pub problems: Vec<InstanceProblem>,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum InstanceProblem {
    #[error("format is {0:?}, expected \"labplan-instance/1\"")]
    Format(String),
    #[error("horizon start {start} is a {weekday}, not a Monday")]
    HorizonNotMonday { start: String, weekday: String },
    #[error("horizon start {0:?} is not a date YYYY-MM-DD")]
    BadDate(String),
    #[error("the horizon has no weeks")]
    EmptyHorizon,
    #[error("duplicate {kind} {id}")]
    Duplicate { kind: &'static str, id: String },
    #[error("unknown {kind} {code} in {referenced_by}")]
    UnknownCode { kind: &'static str, code: String, referenced_by: String },
    #[error("{what} is {value}, must be a non-negative number (positive for hours)")]
    Negative { what: String, value: f64 },
    #[error("no distance between {from} and {to} (needed by request {request})")]
    MissingDistance { from: String, to: String, request: String },
    #[error("{0}")]
    Invalid(String),
    #[error("pinned booking of {request} at {lab} from week {start_week} breaks a rule: {rule}")]
    PinnedBreaksRule { request: String, lab: String, start_week: u32, rule: String },
    #[error("request {request} is both pinned and current: a confirmed booking is only pinned")]
    PinnedAndCurrent { request: String },
    #[error("request {request} has more than one current booking")]
    CurrentTwice { request: String },
    #[error(
        "pinned bookings {} use {used:.2} h of {equipment} at lab {lab} in week {week}, over its capacity {capacity}",
        .requests.join(", ")
    )]
    PinnedOverCapacity { lab: String, equipment: String, week: u32, used: f64, capacity: f64, requests: Vec<String> },
}

impl InstanceProblem {
    pub(crate) fn unknown(kind: &'static str, code: &str, referenced_by: String) -> Self {
        InstanceProblem::UnknownCode { kind, code: code.to_string(), referenced_by }
    }
}

#[derive(Debug, Error)]
pub enum SolveError {
    #[error(transparent)]
    Instance(#[from] InstanceError),
    #[error("solver failure: {0}")]
    Solver(String),
}
