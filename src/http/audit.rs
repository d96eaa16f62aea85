//! `/api/v1/audit`: who changed what, when (administrator).

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Problem};
use super::extract::Query;
use super::policy::Authenticated;
use crate::app::audit::{self as ops, AuditEntry, AuditQuery};
use crate::domain::paging::ListResponse;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = ListResponse<AuditEntry>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_audit(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::Json<ListResponse<AuditEntry>>> {
    Ok(axum::Json(ops::list(&state.db, &caller, &q).await?))
}
