//! Spreadsheets over the API: the survey template and import, and the XLSX exports of
//! the request list and of a plan. Headers follow `Accept-Language` (Russian unless
//! English comes first).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Path, Query};
use super::policy::Authenticated;
use crate::app::lab_sheets::{self, LabImportReport};
use crate::app::requests::RequestQuery;
use crate::app::spreadsheets::{self as ops, ImportOptions, ImportReport, RowError};
use crate::domain::FieldError;
use crate::sheets::Lang;
use crate::sheets::read::MAX_FILE_BYTES;
use crate::state::AppState;
use crate::web::i18n;

pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A multipart form around the file adds its boundaries and headers.
const MULTIPART_ALLOWANCE: usize = 64 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(import_requests))
        .routes(routes!(lab_workbook, import_lab))
        .layer(DefaultBodyLimit::max(MAX_FILE_BYTES + MULTIPART_ALLOWANCE));
    OpenApiRouter::new()
        .routes(routes!(request_template))
        .routes(routes!(export_requests))
        .routes(routes!(export_plan))
        .merge(uploads)
}

fn lang(headers: &HeaderMap) -> Lang {
    Lang::from_accept_language(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()))
}

fn workbook(bytes: Vec<u8>, file_name: &str) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(XLSX));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

#[utoipa::path(get, path = "/imports/requests/template", tag = "requests",
    responses((status = 200, description = "The survey template (XLSX): the columns in the caller's language, \
        one example row, and a sheet of the test types",
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>)))]
pub async fn request_template(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let bytes = ops::template(&state.db, &caller, lang(&headers)).await?;
    Ok(workbook(bytes, "labplan-requests-template.xlsx"))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check and report only; nothing is written
    pub dry_run: Option<bool>,
    /// Add companies of unknown INNs from the name and region columns (planner, admin)
    pub create_companies: Option<bool>,
    /// The file's name for the audit log, when the body is the file itself
    pub file_name: Option<String>,
}

/// The file: the body itself, or the multipart field `file`.
async fn upload(req: Request, state: &AppState) -> Result<(Option<String>, Bytes), ApiError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"));
    let too_large = || ApiError::TooLarge(MAX_FILE_BYTES);
    // A declared length over the limit is answered before the body is read, so a client
    // that asks first never sends it (as for JSON bodies).
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<usize>().ok());
    let allowed = if multipart { MAX_FILE_BYTES + MULTIPART_ALLOWANCE } else { MAX_FILE_BYTES };
    if declared.is_some_and(|n| n > allowed) {
        return Err(too_large());
    }
    if !multipart {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::Malformed(format!("could not read the body: {e}"))
            }
        })?;
        return Ok((None, bytes));
    }
    let mut form = Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::Malformed(format!("not a multipart form: {}", e.body_text())))?;
    loop {
        let field = form.next_field().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::Malformed(format!("the multipart form does not parse: {}", e.body_text()))
            }
        })?;
        let Some(field) = field else {
            return Err(crate::domain::FieldError::new("file", crate::domain::Msg::Required).into());
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::Malformed(format!("the multipart form does not parse: {}", e.body_text()))
            }
        })?;
        return Ok((name, bytes));
    }
}

/// Each refused cell's message in the caller's language, its values in place.
fn translate(errors: &mut [RowError], lang: Lang) {
    let lang = if lang == Lang::En { i18n::Lang::En } else { i18n::Lang::Ru };
    for e in errors {
        if let Some(msg) = &e.msg {
            e.message = i18n::message(lang, &FieldError::new(e.column.clone(), msg.clone()));
        }
    }
}

/// The report, or a problem document around it when rows were refused: 422, nothing written.
fn report_response(report: &impl serde::Serialize, errors: &[RowError]) -> Response {
    if errors.is_empty() {
        return (StatusCode::OK, axum::Json(report)).into_response();
    }
    let mut body = serde_json::to_value(report).unwrap_or_default();
    if let Some(map) = body.as_object_mut() {
        let rows: std::collections::BTreeSet<(&str, u32)> = errors.iter().map(|e| (e.sheet.as_str(), e.row)).collect();
        let rows: Vec<String> = rows
            .iter()
            .map(|(sheet, row)| if sheet.is_empty() { row.to_string() } else { format!("{sheet}!{row}") })
            .collect();
        map.insert("type".into(), "https://labplan.local/problems/import-refused".into());
        map.insert("title".into(), "Unprocessable Entity".into());
        map.insert("status".into(), 422.into());
        map.insert(
            "detail".into(),
            format!("nothing was imported: {} error(s) in row(s) {}", errors.len(), rows.join(", ")).into(),
        );
    }
    let mut response = (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}

fn file_name(uploaded: Option<String>, query: Option<String>) -> String {
    let name = uploaded.or(query).unwrap_or_else(|| "upload".into());
    name.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[utoipa::path(post, path = "/imports/requests", tag = "requests", params(ImportQuery),
    request_body(content = Vec<u8>, description = "The survey's bytes, XLSX or CSV (UTF-8 or Windows-1251, `;` or `,`), \
        under any content type, or a multipart form with the field `file`",
        content_type = "application/octet-stream"),
    responses((status = 200, body = ImportReport, description = "Imported, or checked on a dry run"),
        (status = 413, body = Problem), (status = 422, body = ImportReport,
        description = "A row or the file was refused; nothing was written")))]
pub async fn import_requests(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<Response> {
    let (name, bytes) = upload(req, &state).await?;
    let lang = lang(&headers);
    let options = ImportOptions {
        dry_run: query.dry_run.unwrap_or(false),
        create_companies: query.create_companies.unwrap_or(false),
        file_name: file_name(name, query.file_name),
        lang,
    };
    let mut report: ImportReport = ops::import_requests(&state.db, &caller, &bytes, &options).await?;
    translate(&mut report.errors, lang);
    Ok(report_response(&report, &report.errors))
}

#[utoipa::path(get, path = "/imports/labs/{id}", tag = "labs",
    params(("id" = String, Path, description = "Lab id")),
    responses((status = 200, description = "The lab's workbook as the registry holds it: the scope and capacity \
        sheets the import reads, and the test types and equipment classes to choose from",
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn lab_workbook(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let bytes = lab_sheets::workbook(&state.db, &caller, &id, lang(&headers)).await?;
    Ok(workbook(bytes, &format!("labplan-lab-{}.xlsx", id.replace(|c: char| !c.is_ascii_alphanumeric(), "_"))))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabImportQuery {
    /// Check and report only; nothing is written
    pub dry_run: Option<bool>,
    /// The file's name for the audit log, when the body is the file itself
    pub file_name: Option<String>,
}

#[utoipa::path(post, path = "/imports/labs/{id}", tag = "labs",
    params(("id" = String, Path, description = "Lab id"), LabImportQuery),
    request_body(content = Vec<u8>, description = "The lab's workbook (XLSX) with the sheets «Область аккредитации» \
        (or Scope) and «Мощности» (or Capacity), under any content type, or a multipart form with the field `file`",
        content_type = "application/octet-stream"),
    responses((status = 200, body = LabImportReport, description = "Imported, or checked on a dry run"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem),
        (status = 422, body = LabImportReport, description = "A row or the file was refused; nothing was written")))]
pub async fn import_lab(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Query(query): Query<LabImportQuery>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<Response> {
    let (name, bytes) = upload(req, &state).await?;
    let lang = lang(&headers);
    let options = ImportOptions {
        dry_run: query.dry_run.unwrap_or(false),
        file_name: file_name(name, query.file_name),
        lang,
        ..ImportOptions::default()
    };
    let mut report: LabImportReport = lab_sheets::import_lab(&state.db, &caller, &id, &bytes, &options).await?;
    translate(&mut report.errors, lang);
    Ok(report_response(&report, &report.errors))
}

#[utoipa::path(get, path = "/requests/export", tag = "requests", params(RequestQuery),
    responses((status = 200, description = "The request list as XLSX, filtered as the list is",
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 422, body = Problem)))]
pub async fn export_requests(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<RequestQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let filter = query.filter()?;
    // The export is the whole filtered list, but paging values it is given must still be
    // valid ones: the document shares the list's parameters.
    query.page()?;
    let bytes = ops::export_requests(&state.db, &caller, &filter, lang(&headers)).await?;
    Ok(workbook(bytes, "labplan-requests.xlsx"))
}

#[utoipa::path(get, path = "/planning-runs/{id}/plan/export", tag = "planning",
    params(("id" = i64, Path, description = "Run id")),
    responses((status = 200, description = "The run's plan as XLSX: bookings, and the unplaced requests with reasons",
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn export_plan(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let bytes = ops::export_plan(&state.db, &caller, id, lang(&headers)).await?;
    Ok(workbook(bytes, &format!("labplan-plan-{id}.xlsx")))
}
