//! The ministry's figures as data (`/dashboard/...`): JSON by default, `?format=csv`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Problem};
use super::extract::Query;
use super::policy::Authenticated;
use crate::app::AppError;
use crate::app::progress::{self, Progress, ProgressQuery};
use crate::domain::{FieldError, Msg};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_progress))
}

/// Whether the caller asked for CSV; anything but json or csv is a 422.
fn wants_csv(format: Option<&str>) -> Result<bool, AppError> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(AppError::Validation(vec![FieldError::new("format", Msg::OneOf("json, csv".into()))])),
    }
}

fn csv_response(file: &str, header: &[&str], rows: &[Vec<String>]) -> Response {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let written = writer
        .write_record(header)
        .and_then(|()| rows.iter().try_for_each(|r| writer.write_record(r)))
        .map_err(|e| e.to_string());
    match written.and_then(|()| writer.into_inner().map_err(|e| e.to_string())) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => super::error::ApiError::App(AppError::Unexpected(anyhow::anyhow!(e))).into_response(),
    }
}

#[utoipa::path(get, path = "/dashboard/progress", tag = "dashboard", params(ProgressQuery),
    responses((status = 200, body = Progress, description = "the figures; with `?format=csv` the months as CSV"),
        (status = 422, body = Problem)))]
pub async fn get_progress(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<ProgressQuery>,
) -> ApiResult<Response> {
    let csv = wants_csv(q.format.as_deref())?;
    let figures = progress::progress(&state.db, &caller, &q).await?;
    if csv {
        return Ok(csv_response("progress.csv", &Progress::CSV_HEADER, &figures.csv_rows()));
    }
    Ok(axum::Json(figures).into_response())
}
