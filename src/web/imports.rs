//! The survey import page: upload a spreadsheet, see it checked as a table with every
//! refused cell marked and its message, then import it. The checked file travels back
//! with the form, so a person who fixes nothing, or only ticks a box, never uploads it
//! twice; the import itself is the API's operation, all or nothing. A lab's workbook
//! (scope and capacity, two sheets) is imported the same way on its own page.

use std::collections::HashMap;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use minijinja::context;

use super::page::Page;
use crate::app::lab_sheets::{self, LabImportReport};
use crate::app::labs;
use crate::app::policy::Op;
use crate::app::spreadsheets::{self as ops, ImportOptions, ImportReport, SheetColumn};
use crate::sheets::read::MAX_FILE_BYTES;
use crate::sheets::read::{Which, read_sheet};
use crate::sheets::{Lang as SheetLang, Table};
use crate::state::AppState;

/// Rows of a valid file the preview shows; rows with errors are always shown.
const PREVIEW_ROWS: usize = 50;

pub fn router() -> axum::Router<AppState> {
    // The file, and the checked file again as hex beside it.
    let limit = 3 * MAX_FILE_BYTES + 64 * 1024;
    axum::Router::new()
        .route("/imports/requests", get(form).post(submit).layer(DefaultBodyLimit::max(limit)))
        .route("/imports/requests/template.xlsx", get(survey_template))
        .route("/lab/import", get(own_lab_form))
        .route("/imports/labs/{id}/workbook.xlsx", get(lab_workbook))
        .route("/imports/labs/{id}", get(lab_form).post(lab_submit).layer(DefaultBodyLimit::max(limit)))
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
    Some(sheet_preview(page, &table, &keys, report.errors.iter()))
}

/// One sheet as a table (the first rows, and every row with an error), each refused
/// cell marked with its messages; `keys` is the column key of each header.
fn sheet_preview<'a>(
    page: &Page,
    table: &Table,
    keys: &[Option<&'static str>],
    errors: impl Iterator<Item = &'a ops::RowError>,
) -> minijinja::Value {
    let mut bad: HashMap<(u32, usize), Vec<String>> = HashMap::new();
    let mut bad_rows: HashMap<u32, Vec<String>> = HashMap::new();
    for e in errors {
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
    context! { sheet => table.sheet, header => table.header, rows, total => table.rows.len() }
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

/// The form as sent, its CSRF token checked; an unreadable or oversized form is an error page.
async fn checked_upload(page: &Page, form: Result<Multipart, MultipartRejection>) -> Result<Upload, Response> {
    let upload = match read_upload(form).await {
        Ok(upload) => upload,
        Err(StatusCode::PAYLOAD_TOO_LARGE) => {
            return Err(page.error(StatusCode::PAYLOAD_TOO_LARGE, page.t("import_too_large")));
        }
        Err(status) => return Err(page.error(status, page.t("import_bad_form"))),
    };
    page.check_csrf(&upload.csrf)?;
    Ok(upload)
}

async fn submit(State(state): State<AppState>, page: Page, form: Result<Multipart, MultipartRejection>) -> Response {
    if let Err(refused) = page.allow(Op::ImportRequests) {
        return refused;
    }
    let upload = match checked_upload(&page, form).await {
        Ok(upload) => upload,
        Err(refused) => return refused,
    };
    if upload.bytes.is_empty() {
        return render(&page, StatusCode::UNPROCESSABLE_ENTITY, &upload, None, Some(page.t("import_choose_file")));
    }
    let options = ImportOptions {
        dry_run: upload.action != "import",
        create_companies: upload.create_companies,
        file_name: if upload.file_name.is_empty() { "upload".into() } else { upload.file_name.clone() },
        lang: sheet_lang(&page),
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

/// A workbook the page offers, made by the API's own operation (the API itself wants a
/// bearer token, which a browser does not send).
fn xlsx_response(result: crate::app::AppResult<Vec<u8>>, page: &Page, file_name: &str) -> Response {
    match result {
        Ok(bytes) => {
            let disposition = format!("attachment; filename=\"{file_name}\"");
            let headers = [
                (axum::http::header::CONTENT_TYPE, crate::http::spreadsheets::XLSX.to_string()),
                (axum::http::header::CONTENT_DISPOSITION, disposition),
            ];
            (headers, bytes).into_response()
        }
        Err(e) => page.app_error(e),
    }
}

async fn survey_template(State(state): State<AppState>, page: Page) -> Response {
    if let Err(refused) = page.allow(Op::ImportRequests) {
        return refused;
    }
    let result = ops::template(&state.db, &page.caller, sheet_lang(&page)).await;
    xlsx_response(result, &page, "labplan-requests-template.xlsx")
}

async fn lab_workbook(State(state): State<AppState>, page: Page, Path(lab): Path<String>) -> Response {
    if let Err(refused) = page.allow(Op::KeepLab) {
        return refused;
    }
    let result = lab_sheets::workbook(&state.db, &page.caller, &lab, sheet_lang(&page)).await;
    let name: String = lab.chars().filter(char::is_ascii_alphanumeric).collect();
    xlsx_response(result, &page, &format!("labplan-lab-{name}.xlsx"))
}

fn sheet_lang(page: &Page) -> SheetLang {
    if page.lang == super::i18n::Lang::En { SheetLang::En } else { SheetLang::Ru }
}

// ---- a lab's workbook: accreditation scope and capacity ----

/// The lab coordinator's own lab's import page.
async fn own_lab_form(page: Page) -> Response {
    match page.caller.own_lab() {
        Some(lab) => axum::response::Redirect::to(&format!("/imports/labs/{lab}")).into_response(),
        None => page.forbidden(),
    }
}

async fn lab_form(State(state): State<AppState>, page: Page, Path(lab): Path<String>) -> Response {
    if let Err(refused) = page.allow(Op::KeepLab) {
        return refused;
    }
    match labs::records(&state.db, &page.caller, &lab).await {
        Ok(records) => render_lab(&page, StatusCode::OK, &records.lab, &Upload::default(), None, None),
        Err(e) => page.app_error(e),
    }
}

fn render_lab(
    page: &Page,
    status: StatusCode,
    lab: &labs::Lab,
    upload: &Upload,
    report: Option<&LabImportReport>,
    file_error: Option<String>,
) -> Response {
    let kept = if upload.bytes.is_empty() || report.is_some_and(|r| r.written) {
        String::new()
    } else {
        hex::encode(&upload.bytes)
    };
    let mut previews = Vec::new();
    let mut named: HashMap<(String, &'static str), String> = HashMap::new();
    if let Some(report) = report {
        for names in [&lab_sheets::SCOPE_SHEET, &lab_sheets::CAPACITY_SHEET] {
            let Ok(table) = read_sheet(&upload.bytes, Which::Named(names)) else { continue };
            let keys: Vec<Option<&'static str>> = table
                .header
                .iter()
                .map(|h| {
                    let key = if names == &lab_sheets::SCOPE_SHEET {
                        lab_sheets::ScopeCol::of_header(h).map(SheetColumn::key)
                    } else {
                        lab_sheets::CapacityCol::of_header(h).map(SheetColumn::key)
                    };
                    if let Some(key) = key {
                        named.insert((table.sheet.clone(), key), h.trim().to_string());
                    }
                    key
                })
                .collect();
            let errors = report.errors.iter().filter(|e| e.sheet == table.sheet);
            previews.push(sheet_preview(page, &table, &keys, errors));
        }
    }
    let report_view = report.map(|r| {
        let errors: Vec<minijinja::Value> = r
            .errors
            .iter()
            .map(|e| {
                let column =
                    named.get(&(e.sheet.clone(), e.column.as_str())).cloned().unwrap_or_else(|| e.column.clone());
                context! { sheet => e.sheet, row => e.row, column, message => message(page, e) }
            })
            .collect();
        context! {
            scope => context! { created => r.scope.created, updated => r.scope.updated, unchanged => r.scope.unchanged },
            capacity => context! {
                created => r.capacity.created, updated => r.capacity.updated, unchanged => r.capacity.unchanged
            },
            scope_kept => r.scope_not_in_file, capacity_kept => r.capacity_not_in_file,
            ignored => r.ignored_columns, errors, written => r.written, refused => r.refused(),
        }
    });
    page.render_status(
        status,
        "import_lab.html",
        context! {
            lab => context! { id => lab.id, name => lab.name },
            report => report_view, previews, kept, file_name => upload.file_name, file_error,
        },
    )
}

async fn lab_submit(
    State(state): State<AppState>,
    page: Page,
    Path(lab): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    if let Err(refused) = page.allow(Op::KeepLab) {
        return refused;
    }
    let upload = match checked_upload(&page, form).await {
        Ok(upload) => upload,
        Err(refused) => return refused,
    };
    let found = match labs::records(&state.db, &page.caller, &lab).await {
        Ok(records) => records.lab,
        Err(e) => return page.app_error(e),
    };
    if upload.bytes.is_empty() {
        let text = Some(page.t("import_choose_file"));
        return render_lab(&page, StatusCode::UNPROCESSABLE_ENTITY, &found, &upload, None, text);
    }
    let options = ImportOptions {
        dry_run: upload.action != "import",
        file_name: if upload.file_name.is_empty() { "upload".into() } else { upload.file_name.clone() },
        lang: sheet_lang(&page),
        ..ImportOptions::default()
    };
    match lab_sheets::import_lab(&state.db, &page.caller, &lab, &upload.bytes, &options).await {
        Ok(report) => {
            let status = if report.refused() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
            render_lab(&page, status, &found, &upload, Some(&report), None)
        }
        Err(crate::app::AppError::Validation(errors)) => {
            let text: Vec<String> = page.field_errors(&errors).into_values().collect();
            render_lab(&page, StatusCode::UNPROCESSABLE_ENTITY, &found, &upload, None, Some(text.join(" ")))
        }
        Err(e) => page.app_error(e),
    }
}
