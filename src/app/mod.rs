//! The application: one function per thing a user can do. Each takes the database (or a
//! transaction, to be part of a larger one), the caller and a typed command; checks the
//! caller's right ([`policy::Op`]) and scope, validates, writes in one transaction with
//! its audit rows, and returns a typed result or one [`AppError`].
//!
//! The JSON API, the pages, the command line, the importers and the planning worker
//! only translate to and from these functions.

pub mod audit;
pub mod bookings;
pub mod catalog;
pub mod companies;
pub mod dashboard;
pub mod import;
pub mod lab_sheets;
pub mod labs;
pub mod life;
pub mod notices;
pub mod notify;
pub mod policy;
pub mod progress;
pub mod records;
pub mod requests;
pub mod runs;
pub mod scenarios;
pub mod signin;
pub mod spreadsheets;
pub mod users;

use sea_orm::{DatabaseTransaction, DbErr, SqlErr};
use serde::Serialize;

use self::policy::Op;
use crate::db::Db;
use crate::db::audit::Entry;
use crate::domain::access::Caller;
use crate::domain::{FieldError, Msg};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Unknown, or not visible to the caller.
    #[error("{0}")]
    NotFound(String),
    /// A stale `version`, a duplicate, a transition the current state does not allow, a
    /// delete that other rows still refer to, or another writer that got there first.
    #[error("{0}")]
    Conflict(String),
    /// Field values that break the rules; each one named.
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    /// The database cannot be reached; the request may be tried again.
    #[error("the database is unavailable")]
    Unavailable(DbErr),
    /// The database failed.
    #[error(transparent)]
    Database(DbErr),
    /// Anything else unexpected.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::NotFound(format!("{what} '{id}' not found"))
    }

    pub fn field(field: impl Into<String>, message: Msg) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<Vec<FieldError>> for AppError {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::Validation(errors)
    }
}

/// PostgreSQL's codes for a transaction that lost to another: deadlock, serialization.
const LOST_RACE_CODES: [&str; 2] = ["40P01", "40001"];

/// Constraint violations are the database refusing a row the checks above it let
/// through (a race with another writer, usually): the client's conflict, not our failure.
impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if crate::db::is_unavailable(&err) {
            return Self::Unavailable(err);
        }
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => return Self::Conflict(Msg::Duplicate.to_string()),
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => return Self::Conflict(Msg::Referenced.to_string()),
            _ => {}
        }
        let text = err.to_string();
        // SQLite reports a restricted delete as SQLITE_CONSTRAINT_TRIGGER (1811), which
        // sea-orm does not classify; the message is SQLite's fixed text.
        if text.contains("FOREIGN KEY constraint failed") {
            return Self::Conflict(Msg::Referenced.to_string());
        }
        if LOST_RACE_CODES.iter().any(|code| text.contains(code)) {
            return Self::lost_race();
        }
        Self::Database(err)
    }
}

impl AppError {
    /// Another writer changed the records this change read first.
    pub fn lost_race() -> Self {
        Self::Conflict("another change to the same records came first; try again".into())
    }
}

/// Refuses the caller unless its role may do `op`.
pub fn require(caller: &Caller, op: Op) -> AppResult<()> {
    if op.allows(caller) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!("the {} role may not do this", caller.role().as_str())))
    }
}

/// A JSON snapshot of a record for the audit log.
pub fn snapshot<T: Serialize>(value: &T) -> Option<serde_json::Value> {
    serde_json::to_value(value).ok()
}

/// One change in the making: a write transaction and the audit rows that go with it.
/// It commits only with at least one audit row, so no change can forget its record.
pub struct Work {
    txn: DatabaseTransaction,
    actor: Option<String>,
    entries: Vec<Entry>,
}

impl Work {
    pub async fn begin<C: Db>(db: &C, caller: &Caller) -> AppResult<Self> {
        Ok(Self { txn: crate::db::begin(db).await?, actor: caller.actor().map(str::to_string), entries: Vec::new() })
    }

    pub fn db(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Notes a change; the rows are written when the work commits.
    pub fn audit(
        &mut self,
        action: &str,
        entity: &'static str,
        id: impl Into<String>,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) {
        self.entries.push(Entry { action: action.to_string(), entity, entity_id: id.into(), before, after });
    }

    /// How many changes are noted so far.
    pub fn noted(&self) -> usize {
        self.entries.len()
    }

    /// Adds `key: value` to what each change noted since the `from`th says it made (an
    /// import's file name).
    pub fn tag_since(&mut self, from: usize, key: &str, value: &str) {
        for entry in self.entries.iter_mut().skip(from) {
            if let Some(serde_json::Value::Object(after)) = entry.after.as_mut() {
                after.insert(key.into(), serde_json::Value::String(value.to_string()));
            }
        }
    }

    /// Leaves the registry as it was: a dry run, or a refused import.
    pub async fn rollback(self) -> AppResult<()> {
        self.txn.rollback().await?;
        Ok(())
    }

    pub async fn commit(self) -> AppResult<()> {
        if self.entries.is_empty() {
            return Err(AppError::Unexpected(anyhow::anyhow!("a change without an audit row was refused")));
        }
        crate::db::audit::record_many(&self.txn, self.actor.as_deref(), self.entries).await?;
        self.txn.commit().await?;
        Ok(())
    }
}
