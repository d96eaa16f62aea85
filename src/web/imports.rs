//! The survey import page: upload a spreadsheet, see it checked as a table with every
//! refused cell marked and its message, then import it. The checked file travels back
//! with the form, so a person who fixes nothing, or only ticks a box, never uploads it
//! twice; the import itself is the API's operation, all or nothing.

use std::collections::HashMap;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use minijinja::context;

use super::page::Page;
use crate::app::policy::Op;
use crate::app::spreadsheets::{self as ops, ImportOptions, ImportReport};
use crate::sheets::read::MAX_FILE_BYTES;
use crate::state::AppState;

/// Rows of a valid file the preview shows; rows with errors are always shown.
const PREVIEW_ROWS: usize = 50;

pub fn router() -> axum::Router<AppState> {
    // The file, and the checked file again as hex beside it.
    let limit = 3 * MAX_FILE_BYTES + 64 * 1024;
    axum::Router::new().route("/imports/requests", get(form).post(submit).layer(DefaultBodyLimit::max(limit)))
}

/// What the person sent: the form's fields and the file, new or kept from the check.
#[derive(Debug, Default)]
struct Upload {
    csrf: String,
    action: String,
    create_companies: bool,
    file_name: String,
    bytes: Vec<u8>,
}

async fn form(page: Page) -> Response {
    if let Err(refused) = page.allow(Op::ImportRequests) {
        return refused;
    }
    render(&page, StatusCode::OK, &Upload::default(), None, None)
}

fn render(
    page: &Page,
    status: StatusCode,
    upload: &Upload,
    report: Option<&ImportReport>,
    file_error: Option<String>,
) -> Response {
    let preview = report.and_then(|r| preview(page, upload, r));
    let kept = if upload.bytes.is_empty() || report.is_some_and(|r| r.written) {
        String::new()
    } else {
        hex::encode(&upload.bytes)
    };
    let report_view = report.map(|r| {
        let headers = headers_of(&upload.bytes);
        let errors: Vec<minijinja::Value> = r
            .errors
            .iter()
            .map(|e| {
                let column = headers.get(e.column.as_str()).cloned().unwrap_or_else(|| e.column.clone());
                context! { row => e.row, column, message => message(page, e) }
            })
            .collect();
        context! {
            created => r.created, updated => r.updated, unchanged => r.unchanged,
            companies_created => r.companies_created, ignored => r.ignored_columns, errors,
            written => r.written, refused => r.refused(),
        }
    });
    page.render_status(
        status,
        "import_requests.html",
        context! {
            report => report_view, preview, kept, file_name => upload.file_name, file_error,
            create_companies => upload.create_companies, may_create => page.caller.own_company().is_none(),
        },
    )
}

/// A refused cell's message in the page's language, with its values in place.
fn message(page: &Page, e: &ops::RowError) -> String {
    match &e.msg {
        Some(msg) => super::i18n::message(page.lang, &crate::domain::FieldError::new(e.column.clone(), msg.clone())),
        None => e.message.clone(),
    }
}

/// Each column key's header in the file, to name a refused column as the file does.
fn headers_of(bytes: &[u8]) -> HashMap<&'static str, String> {
    let Ok(table) = crate::sheets::read(bytes) else { return HashMap::new() };
    table.header.iter().filter_map(|h| ops::Col::of_header(h).map(|c| (c.key(), h.trim().to_string()))).collect()
}

/// The sheet as a table, each refused cell marked with its messages.
fn preview(page: &Page, upload: &Upload, report: &ImportReport) -> Option<minijinja::Value> {
    let table = crate::sheets::read(&upload.bytes).ok()?;
    let keys: Vec<Option<&'static str>> =
        table.header.iter().map(|h| ops::Col::of_header(h).map(ops::Col::key)).collect();
    let mut bad: HashMap<(u32, usize), Vec<String>> = HashMap::new();
    let mut bad_rows: HashMap<u32, Vec<String>> = HashMap::new();
    for e in &report.errors {
        let text = message(page, e);
        match keys.iter().position(|k| *k == Some(e.column.as_str())) {
            Some(col) => bad.entry((e.row, col)).or_default().push(text),
            // No column of its own (e.g. a missing one): the row itself is marked.
            None => bad_rows.entry(e.row).or_default().push(format!("{}: {text}", e.column)),
        }
    }
    let rows: Vec<minijinja::Value> = table
        .rows
        .iter()
        .enumerate()
        .filter(|(i, (row, _))| *i < PREVIEW_ROWS || bad_rows.contains_key(row) || bad.keys().any(|(r, _)| r == row))
        .map(|(_, (row, cells))| {
            let cells: Vec<minijinja::Value> = (0..table.header.len())
                .map(|col| {
                    let text = cells.get(col).map(crate::sheets::Cell::text).unwrap_or_default();
                    let errors = bad.get(&(*row, col)).map(|m| m.join(" ")).unwrap_or_default();
                    context! { text, errors, col }
                })
                .collect();
            context! { row, cells, row_errors => bad_rows.get(row).map(|m| m.join(" ")).unwrap_or_default() }
        })
        .collect();
    Some(context! { header => table.header, rows, total => table.rows.len() })
}

async fn read_upload(form: Result<Multipart, MultipartRejection>) -> Result<Upload, StatusCode> {
    let mut form = form.map_err(|_| StatusCode::BAD_REQUEST)?;
    let mut upload = Upload::default();
    let mut kept = (String::new(), String::new());
    while let Some(field) = form.next_field().await.map_err(|e| e.status())? {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            let file = field.file_name().unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("").to_string();
            let bytes = field.bytes().await.map_err(|e| e.status())?;
            if !bytes.is_empty() {
                upload.file_name = file.chars().filter(|c| !c.is_control()).take(200).collect();
                upload.bytes = bytes.to_vec();
            }
            continue;
        }
        let text = field.text().await.map_err(|e| e.status())?;
        match name.as_str() {
            "csrf" => upload.csrf = text,
            "action" => upload.action = text,
            "create_companies" => upload.create_companies = !text.is_empty(),
            "kept" => kept.0 = text,
            "kept_name" => kept.1 = text.chars().filter(|c| !c.is_control()).take(200).collect(),
            _ => {}
        }
    }
    if upload.bytes.is_empty() && !kept.0.is_empty() {
        upload.bytes = hex::decode(kept.0.trim()).map_err(|_| StatusCode::BAD_REQUEST)?;
        upload.file_name = kept.1;
    }
    Ok(upload)
}

async fn submit(State(state): State<AppState>, page: Page, form: Result<Multipart, MultipartRejection>) -> Response {
    if let Err(refused) = page.allow(Op::ImportRequests) {
        return refused;
    }
    let upload = match read_upload(form).await {
        Ok(upload) => upload,
        Err(StatusCode::PAYLOAD_TOO_LARGE) => {
            return page.error(StatusCode::PAYLOAD_TOO_LARGE, page.t("import_too_large"));
        }
        Err(status) => return page.error(status, page.t("import_bad_form")),
    };
    if let Err(refused) = page.check_csrf(&upload.csrf) {
        return refused;
    }
    if upload.bytes.is_empty() {
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY, &upload, None, Some(page.t("import_choose_file")));
    }
    let options = ImportOptions {
        dry_run: upload.action != "import",
        create_companies: upload.create_companies,
        file_name: if upload.file_name.is_empty() { "upload".into() } else { upload.file_name.clone() },
    };
    match ops::import_requests(&state.db, &page.caller, &upload.bytes, &options).await {
        Ok(report) => {
            let status = if report.refused() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            render(&page, status, &upload, Some(&report), None)
        }
        Err(crate::app::AppError::Validation(errors)) => {
            let text = errors.iter().map(|e| page.field_errors(std::slice::from_ref(e))).flat_map(|m| m.into_values());
            let text: Vec<String> = text.collect();
            render(&page, StatusCode::UNPROCESSABLE_ENTITY, &upload, None, Some(text.join(" ")))
        }
        Err(e) => page.app_error(e),
    }
}
