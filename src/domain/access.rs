//! Who is acting: a user with one role, bound to a company or a lab where the role needs
//! one, or the operator at the command line.

use sea_orm::sea_query::StringLen;
use sea_orm::{DeriveActiveEnum, EnumIter};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::{CompanyId, LabId, UserId};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
    clap::ValueEnum,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An engineer of one supplier company
    Company,
    /// The coordinator of one lab
    Lab,
    /// A programme planner: runs, compares and publishes plans
    Planner,
    /// A ministry analyst: reads everything, changes nothing
    Ministry,
    /// Manages the catalog, labs, companies and users
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Company, Role::Lab, Role::Planner, Role::Ministry, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Company => "company",
            Role::Lab => "lab",
            Role::Planner => "planner",
            Role::Ministry => "ministry",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: UserId,
    pub email: String,
}

/// What a bearer token stood for when it was last read: its hash and its user as stored.
/// A caller taken from a token read earlier acts only through statements that check,
/// inside themselves, that the token still stands for exactly this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaim {
    pub token_hash: String,
    pub user: i64,
    pub email: String,
    pub role: Role,
    pub company: Option<String>,
    pub lab: Option<String>,
}

/// The caller of an operation. A company user always carries its company and a lab user
/// its lab: there is no company user who could see every company's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Company {
        user: Actor,
        company: CompanyId,
    },
    Lab {
        user: Actor,
        lab: LabId,
    },
    Planner(Actor),
    Ministry(Actor),
    Admin(Actor),
    /// Someone at the command line of the server (`labplan users …`, `labplan demo`):
    /// whoever can run the binary can read the database file anyway.
    Operator,
}

impl Caller {
    /// The caller of a stored user, or None when the stored binding does not fit the role
    /// (a company user without a company is refused, not let see everything).
    pub fn of_user(id: UserId, email: &str, role: Role, company: Option<&str>, lab: Option<&str>) -> Option<Self> {
        let user = Actor { id, email: email.to_string() };
        match (role, company, lab) {
            (Role::Company, Some(company), None) => Some(Self::Company { user, company: CompanyId::stored(company) }),
            (Role::Lab, None, Some(lab)) => Some(Self::Lab { user, lab: LabId::stored(lab) }),
            (Role::Planner, None, None) => Some(Self::Planner(user)),
            (Role::Ministry, None, None) => Some(Self::Ministry(user)),
            (Role::Admin, None, None) => Some(Self::Admin(user)),
            _ => None,
        }
    }

    /// The role whose rights apply; the operator has the administrator's.
    pub fn role(&self) -> Role {
        match self {
            Self::Company { .. } => Role::Company,
            Self::Lab { .. } => Role::Lab,
            Self::Planner(_) => Role::Planner,
            Self::Ministry(_) => Role::Ministry,
            Self::Admin(_) | Self::Operator => Role::Admin,
        }
    }

    pub fn user(&self) -> Option<&Actor> {
        match self {
            Self::Company { user, .. } | Self::Lab { user, .. } => Some(user),
            Self::Planner(user) | Self::Ministry(user) | Self::Admin(user) => Some(user),
            Self::Operator => None,
        }
    }

    /// The name written to the audit log; none for the command line.
    pub fn actor(&self) -> Option<&str> {
        self.user().map(|u| u.email.as_str())
    }

    /// A company user's company: every request query of theirs is narrowed to it.
    pub fn own_company(&self) -> Option<&CompanyId> {
        match self {
            Self::Company { company, .. } => Some(company),
            _ => None,
        }
    }

    /// A lab user's lab.
    pub fn own_lab(&self) -> Option<&LabId> {
        match self {
            Self::Lab { lab, .. } => Some(lab),
            _ => None,
        }
    }

    /// Whether the caller may see a company's data; others' answer 404, so ids leak nothing.
    pub fn sees_company(&self, company: &str) -> bool {
        self.own_company().is_none_or(|own| own.as_str() == company)
    }

    /// Whether the caller may change a lab's own records (its scope, capacity, bookings).
    pub fn keeps_lab(&self, lab: &str) -> bool {
        match self {
            Self::Lab { lab: own, .. } => own.as_str() == lab,
            Self::Admin(_) | Self::Operator => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_that_does_not_fit_the_role_makes_no_caller() {
        let id = UserId(1);
        assert!(Caller::of_user(id, "a@b.c", Role::Company, None, None).is_none());
        assert!(Caller::of_user(id, "a@b.c", Role::Lab, Some("C1"), None).is_none());
        assert!(Caller::of_user(id, "a@b.c", Role::Planner, None, Some("L1")).is_none());
        let company = Caller::of_user(id, "a@b.c", Role::Company, Some("C1"), None).expect("a company user");
        assert!(company.sees_company("C1") && !company.sees_company("C2"));
        assert!(Caller::Operator.sees_company("C2"));
    }
}
