//! labplan-solver: the planning model of labplan (docs/planning-model.md) — instance
//! and plan formats, instance checks, plan validation, and an exact decomposed MILP
//! solver on good_lp + HiGHS. No database, no HTTP.

pub mod baseline;
mod bound;
mod budget;
mod cuts;
mod data;
mod error;
mod explain;
pub mod generate;
mod heuristic;
mod milp;
mod model;
mod moves;
mod part;
mod solve;
mod types;
mod validate;

pub use error::{InstanceError, InstanceProblem, SolveError};
pub use solve::{
    DETERMINISTIC_SAFETY, LP_COLUMNS, PART_COLUMNS, PartPlan, PartSummary, Partition, Phase, Progress, ProgressFn,
    ShadowPrice, SolveOptions, combine, partition, solve, solve_part, solve_part_from,
};
pub use types::*;
pub use validate::{ValidationReport, validate};

impl Instance {
    /// Checks the instance against the specification: known codes, non-negative
    /// numbers, a Monday horizon start, and pinned bookings that keep every rule.
    pub fn check(&self) -> Result<(), InstanceError> {
        data::Data::new(self).map(|_| ())
    }
}
