//! Who is calling and what they may do: users with one role each, API tokens, and the
//! route policy applied to every request in one middleware.

pub mod policy;
pub mod users;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::http::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, clap::ValueEnum)]
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

/// The authenticated caller, put on the request by the policy middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
    pub email: String,
    pub role: Role,
    /// The company of a company user
    pub company: Option<String>,
    /// The lab of a lab user
    pub lab: Option<String>,
}

impl Caller {
    /// The name written to the audit log.
    pub fn actor(&self) -> Option<&str> {
        Some(self.email.as_str())
    }

    /// A company user's company: every request query of theirs is narrowed to it.
    pub fn own_company(&self) -> Option<&str> {
        match self.role {
            Role::Company => self.company.as_deref(),
            _ => None,
        }
    }

    /// A lab user's lab.
    pub fn own_lab(&self) -> Option<&str> {
        match self.role {
            Role::Lab => self.lab.as_deref(),
            _ => None,
        }
    }

    /// Whether the caller may see a company's data; others' answer 404, so ids leak nothing.
    pub fn sees_company(&self, company: &str) -> bool {
        self.own_company().is_none_or(|own| own == company)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // The policy middleware runs on every API route; a handler without it is a wiring error.
        parts.extensions.get::<Caller>().cloned().ok_or(ApiError::Unauthorized)
    }
}

/// Tokens are random and long, so one round of SHA-256 is enough to keep the stored
/// hash useless to a reader of the database, and lets a request find its token by index.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new secret: 32 random bytes, hex, with a prefix that says what it is.
pub fn new_secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}
