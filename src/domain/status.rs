//! The states of requests, bookings and planning runs, stored as their snake_case names.
//! An unknown name read from the database is an error, never a silent default.

use sea_orm::sea_query::StringLen;
use sea_orm::{DeriveActiveEnum, EnumIter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a test request is: `submitted` → `planned` → `confirmed` → `in_testing` →
/// `completed`; `cancelled` before testing starts; `unplaceable` when the published plan
/// could not place it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Submitted,
    Planned,
    Confirmed,
    InTesting,
    Completed,
    Cancelled,
    Unplaceable,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 7] = [
        Self::Submitted,
        Self::Planned,
        Self::Confirmed,
        Self::InTesting,
        Self::Completed,
        Self::Cancelled,
        Self::Unplaceable,
    ];

    /// States the optimizer plans (again): everything not yet being tested.
    pub const PLANNABLE: [RequestStatus; 4] = [Self::Submitted, Self::Planned, Self::Unplaceable, Self::Confirmed];

    /// Requests still to be tested: everything but cancelled and completed.
    pub const OPEN: [RequestStatus; 5] =
        [Self::Submitted, Self::Planned, Self::Confirmed, Self::InTesting, Self::Unplaceable];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Planned => "planned",
            Self::Confirmed => "confirmed",
            Self::InTesting => "in_testing",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Unplaceable => "unplaceable",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Work that has started or ended cannot be called off.
    pub fn can_cancel(self) -> bool {
        matches!(self, Self::Submitted | Self::Planned | Self::Confirmed | Self::Unplaceable)
    }

    /// A confirmed booking is the lab's commitment: changing it means cancelling and filing anew.
    pub fn can_edit(self) -> bool {
        matches!(self, Self::Submitted | Self::Planned | Self::Unplaceable)
    }
}

/// A booking of a published plan: `proposed` to the lab, which `confirmed` or `declined`
/// it; `superseded` when a later plan replaced the plan it belongs to. A confirmed
/// booking goes on at its lab: samples `received`, `in_testing`, `completed` with a
/// protocol, or `withdrawn` by the lab (its request goes back to planning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Proposed,
    Confirmed,
    Declined,
    Superseded,
    Received,
    InTesting,
    Completed,
    Withdrawn,
}

impl BookingStatus {
    pub const ALL: [BookingStatus; 8] = [
        Self::Proposed,
        Self::Confirmed,
        Self::Declined,
        Self::Superseded,
        Self::Received,
        Self::InTesting,
        Self::Completed,
        Self::Withdrawn,
    ];

    /// Bookings whose work has begun at the lab or ended there: no plan moves them.
    pub const UNDER_WAY: [BookingStatus; 3] = [Self::Received, Self::InTesting, Self::Completed];

    /// Bookings that hold the request and the lab's time.
    pub const LIVE: [BookingStatus; 2] = [Self::Proposed, Self::Confirmed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proposed => "proposed",
            Self::Confirmed => "confirmed",
            Self::Declined => "declined",
            Self::Superseded => "superseded",
            Self::Received => "received",
            Self::InTesting => "in_testing",
            Self::Completed => "completed",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// What a completed test found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    NotApplicable,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Self::Passed, Self::Failed, Self::NotApplicable];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::NotApplicable => "not_applicable",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// A planning run as a job: `queued`, `running` on a worker, then `succeeded`, `failed`
/// or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 5] = [Self::Queued, Self::Running, Self::Succeeded, Self::Failed, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// What a stored plan is: proven optimal, or the best found within the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Optimal,
    Feasible,
}

/// Why a plan leaves a request out (the planning model's four reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize, ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NoAccreditedLab,
    ExcludedByCompany,
    NoCapacityInWindow,
    Outranked,
}

impl Reason {
    pub const ALL: [Reason; 4] =
        [Self::NoAccreditedLab, Self::ExcludedByCompany, Self::NoCapacityInWindow, Self::Outranked];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoAccreditedLab => "no_accredited_lab",
            Self::ExcludedByCompany => "excluded_by_company",
            Self::NoCapacityInWindow => "no_capacity_in_window",
            Self::Outranked => "outranked",
        }
    }
}

impl From<labplan_solver::Reason> for Reason {
    fn from(r: labplan_solver::Reason) -> Self {
        match r {
            labplan_solver::Reason::NoAccreditedLab => Self::NoAccreditedLab,
            labplan_solver::Reason::ExcludedByCompany => Self::ExcludedByCompany,
            labplan_solver::Reason::NoCapacityInWindow => Self::NoCapacityInWindow,
            labplan_solver::Reason::Outranked => Self::Outranked,
        }
    }
}

impl From<Reason> for labplan_solver::Reason {
    fn from(r: Reason) -> Self {
        match r {
            Reason::NoAccreditedLab => Self::NoAccreditedLab,
            Reason::ExcludedByCompany => Self::ExcludedByCompany,
            Reason::NoCapacityInWindow => Self::NoCapacityInWindow,
            Reason::Outranked => Self::Outranked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unstarted_work_can_be_cancelled() {
        assert!(RequestStatus::Planned.can_cancel());
        assert!(!RequestStatus::InTesting.can_cancel());
        assert!(!RequestStatus::Cancelled.can_cancel());
    }

    #[test]
    fn names_round_trip() {
        for s in RequestStatus::ALL {
            assert_eq!(RequestStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::json!(s.as_str())));
        }
        for s in BookingStatus::ALL {
            assert_eq!(BookingStatus::parse(s.as_str()), Some(s));
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
    }
}
