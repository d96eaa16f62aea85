//! The audit log, for the administrator: who changed what, when, before and after.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::policy::Op;
use super::{AppResult, require};
use crate::db::audit::{self as queries, Filter};
use crate::domain::access::Caller;
use crate::domain::paging::{ListResponse, PageRequest};
use crate::entities::audit_log;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The user's e-mail; absent for changes made from the command line
    pub actor: Option<String>,
    /// create, update, delete, cancel, publish, plan, confirm, decline, …
    pub action: String,
    /// test_request, lab, capacity, capacity_override, accreditation, assignment, planning_run, …
    pub entity: String,
    pub entity_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl From<audit_log::Model> for AuditEntry {
    fn from(r: audit_log::Model) -> Self {
        Self {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            entity: r.entity,
            entity_id: r.entity_id,
            before: r.before,
            after: r.after,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    /// The user's e-mail
    pub actor: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

pub async fn list<C: ConnectionTrait>(db: &C, caller: &Caller, q: &AuditQuery) -> AppResult<ListResponse<AuditEntry>> {
    require(caller, Op::ReadAudit)?;
    let page = PageRequest::parse(q.page, q.per_page)?;
    let filter = Filter { entity: q.entity.clone(), entity_id: q.entity_id.clone(), actor: q.actor.clone() };
    let (rows, total) = queries::list(db, &filter, page).await?;
    Ok(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page))
}

/// The history of one request, for those who may see the request.
pub async fn request_history<C: ConnectionTrait>(db: &C, caller: &Caller, id: &str) -> AppResult<Vec<AuditEntry>> {
    super::requests::get(db, caller, id).await?;
    Ok(queries::history(db, "test_request", id).await?.into_iter().map(Into::into).collect())
}
