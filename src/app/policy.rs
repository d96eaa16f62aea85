//! Who may do what: every operation the product offers, and the roles allowed to do it,
//! in one table. The operations check it; the API checks it per route before reading a
//! body, and the pages before showing a form, so the three can never disagree.
//!
//! Row-level rules (a company sees only its own requests, a lab changes only its own
//! scope and answers only its own bookings) are applied by the operations and queries
//! through [`Caller`]; this table decides only who may do a thing at all.

use crate::domain::access::{Caller, Role};

use Role::{Admin, Company, Lab, Ministry, Planner};

const EVERYONE: &[Role] = &[Company, Lab, Planner, Ministry, Admin];
const OVERSIGHT: &[Role] = &[Planner, Ministry, Admin];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Regions, equipment classes, test types, labs and their scope and capacity
    ReadCatalog,
    /// Create, change and delete regions, equipment classes, test types and labs
    ManageCatalog,
    /// A lab's accreditation scope, capacity and closed weeks (a lab its own)
    KeepLab,
    ReadCompanies,
    ManageCompanies,
    ReadRequests,
    /// File a request for one's own company
    FileRequest,
    /// Change or cancel one's own company's request
    ChangeRequest,
    ReadRuns,
    /// Start, cancel and publish planning runs
    Plan,
    ReadBookings,
    /// Confirm or decline a booking of one's own lab
    AnswerBooking,
    ReadDashboard,
    /// Build what-if scenarios: changed copies of the registry, solved, never published
    Scenarios,
    ReadScenarios,
    ReadAudit,
    ManageUsers,
    /// Receive samples, start and complete testing, or withdraw a booking of one's own lab
    KeepBooking,
    /// One's own notices
    ReadNotices,
    /// Import a survey of requests: a company its own, a planner or an admin any company's
    ImportRequests,
}

impl Op {
    /// The roles that may do it; the command-line operator may do everything an admin may.
    pub fn roles(self) -> &'static [Role] {
        match self {
            // The catalog and the labs are what everyone plans against; only the admin changes them.
            Self::ReadCatalog | Self::ReadBookings => EVERYONE,
            Self::ManageCatalog | Self::ManageCompanies | Self::ReadAudit | Self::ManageUsers => &[Admin],
            Self::KeepLab => &[Lab, Admin],
            // Requests are the company's commercial secret: it files and changes its own.
            Self::ReadCompanies | Self::ReadRequests => &[Company, Planner, Ministry, Admin],
            Self::FileRequest | Self::ChangeRequest => &[Company],
            // Planning: the planner runs and publishes; the ministry and the admin read.
            Self::ReadRuns | Self::ReadDashboard | Self::ReadScenarios => OVERSIGHT,
            // What new capacity would change is the planner's and the ministry's question.
            Self::Scenarios => &[Planner, Ministry],
            Self::Plan => &[Planner],
            Self::AnswerBooking => &[Lab],
            Self::KeepBooking => &[Lab],
            Self::ReadNotices => EVERYONE,
            Self::ImportRequests => &[Company, Planner, Admin],
        }
    }

    pub fn allows(self, caller: &Caller) -> bool {
        match caller {
            // The operator is trusted with the registry, not with acting as a company or a lab.
            Caller::Operator => self.roles().contains(&Admin) || matches!(self, Self::Plan | Self::ReadRuns),
            _ => self.roles().contains(&caller.role()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Actor;
    use crate::domain::ids::UserId;

    #[test]
    fn a_role_gets_only_what_the_table_says() {
        let user = Actor { id: UserId(1), email: "m@x.ru".into() };
        let ministry = Caller::Ministry(user);
        assert!(Op::ReadDashboard.allows(&ministry));
        assert!(!Op::Plan.allows(&ministry));
        assert!(!Op::FileRequest.allows(&Caller::Operator));
        assert!(Op::ManageUsers.allows(&Caller::Operator));
    }
}
