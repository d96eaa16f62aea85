//! The audit log, for the administrator: who changed what, when, before and after.

use axum::extract::State;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiResult, Problem};
use super::extract::Query;
use super::pagination::{ListResponse, PageParams};
use crate::db::fetch_page;
use crate::entities::audit_log;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    /// The user's e-mail
    pub actor: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = ListResponse<AuditEntry>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_audit(
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::Json<ListResponse<AuditEntry>>> {
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let mut select = audit_log::Entity::find().order_by_desc(audit_log::Column::Id);
    if let Some(entity) = &q.entity {
        select = select.filter(audit_log::Column::Entity.eq(entity.as_str()));
    }
    if let Some(id) = &q.entity_id {
        select = select.filter(audit_log::Column::EntityId.eq(id.as_str()));
    }
    if let Some(actor) = &q.actor {
        select = select.filter(audit_log::Column::Actor.eq(actor.trim().to_lowercase()));
    }
    let (rows, total) = fetch_page(&state.db, select, page).await?;
    let items = rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            entity: r.entity,
            entity_id: r.entity_id,
            before: r.before,
            after: r.after,
        })
        .collect();
    Ok(axum::Json(ListResponse::new(items, total, page)))
}
