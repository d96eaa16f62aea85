//! The caller's notices (`/notices`).

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Problem};
use super::extract::{Json, Path, Query};
use super::policy::Authenticated;
use crate::app::notices::{self, MailChoice, Notice, NoticeQuery};
use crate::domain::paging::ListResponse;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notices))
        .routes(routes!(read_notice))
        .routes(routes!(get_mail_choice, put_mail_choice))
}

#[utoipa::path(get, path = "/notices", tag = "notices", params(NoticeQuery),
    responses((status = 200, body = ListResponse<Notice>), (status = 422, body = Problem)))]
pub async fn list_notices(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<NoticeQuery>,
) -> ApiResult<axum::Json<ListResponse<Notice>>> {
    Ok(axum::Json(notices::list(&state.db, &caller, &q).await?))
}

#[utoipa::path(post, path = "/notices/{id}/read", tag = "notices", params(("id" = i64, Path)),
    responses((status = 200, body = Notice), (status = 404, description = "no such notice of the caller's", body = Problem)))]
pub async fn read_notice(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Notice>> {
    Ok(axum::Json(notices::read(&state.db, &caller, id).await?))
}

#[utoipa::path(get, path = "/notices/preferences", tag = "notices",
    responses((status = 200, body = MailChoice)))]
pub async fn get_mail_choice(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> ApiResult<axum::Json<MailChoice>> {
    Ok(axum::Json(notices::mail_choice(&state.db, &caller).await?))
}

#[utoipa::path(put, path = "/notices/preferences", tag = "notices", request_body = MailChoice,
    responses((status = 200, body = MailChoice), (status = 422, body = Problem)))]
pub async fn put_mail_choice(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<MailChoice>,
) -> ApiResult<axum::Json<MailChoice>> {
    Ok(axum::Json(notices::set_mail_choice(&state.db, &caller, body).await?))
}
