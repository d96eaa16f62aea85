//! The ministry's figures as data (`/dashboard/...`): JSON by default, `?format=csv` or `xlsx`.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Problem};
use super::extract::Query;
use super::policy::Authenticated;
use crate::app::AppError;
use crate::app::dashboard::{
    self as figures, BottleneckRow, CapacityRow, Data, Demand, DemandRow, FigureQuery, Unmet, UnmetRow,
};
use crate::app::progress::{self, Progress, ProgressQuery};
use crate::domain::access::Caller;
use crate::domain::{FieldError, Msg};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_progress))
        .routes(routes!(get_demand))
        .routes(routes!(get_capacity))
        .routes(routes!(get_unmet))
        .routes(routes!(get_bottlenecks))
}

/// What the caller asked the figures as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xlsx,
}

/// The format asked for; anything but json, csv or xlsx is a 422.
fn format_of(format: Option<&str>) -> Result<Format, AppError> {
    match format {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some("xlsx") => Ok(Format::Xlsx),
        Some(_) => Err(AppError::Validation(vec![FieldError::new("format", Msg::OneOf("json, csv, xlsx".into()))])),
    }
}

/// The same rows as the CSV, as a workbook with numbers as numbers.
fn xlsx_response(file: &str, header: &[&str], rows: &[Vec<String>]) -> Response {
    use crate::sheets::write::{Book, Column, Value};
    let columns: Vec<Column> =
        header.iter().map(|h| Column::new(*h, (h.len() as f64 + 2.0).clamp(10.0, 30.0))).collect();
    let cells = rows.iter().map(|r| {
        r.iter()
            .map(|c| match c.parse::<f64>() {
                Ok(n) if n.is_finite() => Value::Number(n),
                _ if c.is_empty() => Value::Empty,
                _ => Value::Text(c.clone()),
            })
            .collect::<Vec<_>>()
    });
    let mut book = Book::new();
    let sheet: String = file.trim_end_matches(".xlsx").chars().take(31).collect();
    match book.sheet(&sheet, &columns, cells).and_then(|()| book.finish()) {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, super::spreadsheets::XLSX.to_string()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => super::error::ApiError::App(AppError::Unexpected(anyhow::anyhow!(e))).into_response(),
    }
}

/// The rows as the format asks; none for JSON.
fn table_response(
    format: Format,
    file: &str,
    header: &[&str],
    rows: impl FnOnce() -> Vec<Vec<String>>,
) -> Option<Response> {
    match format {
        Format::Json => None,
        Format::Csv => Some(csv_response(&format!("{file}.csv"), header, &rows())),
        Format::Xlsx => Some(xlsx_response(&format!("{file}.xlsx"), header, &rows())),
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
    responses((status = 200, body = Progress, description = "the figures; with `?format=csv` or `xlsx` the months as a table"),
        (status = 422, body = Problem)))]
pub async fn get_progress(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<ProgressQuery>,
) -> ApiResult<Response> {
    let format = format_of(q.format.as_deref())?;
    let figures = progress::progress(&state.db, &caller, &q).await?;
    if let Some(table) = table_response(format, "progress", &Progress::CSV_HEADER, || figures.csv_rows()) {
        return Ok(table);
    }
    Ok(axum::Json(figures).into_response())
}

fn num(v: f64) -> String {
    format!("{v}")
}

fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_default()
}

fn demand_rows(group: &str, rows: &[DemandRow]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| vec![group.into(), r.key.clone(), num(r.demand_hours), num(r.capacity_hours), opt(r.ratio_percent)])
        .collect()
}

fn unmet_rows(group: &str, rows: &[UnmetRow]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            let mut row = vec![group.to_string(), r.key.clone()];
            row.extend(r.counts().iter().map(u64::to_string));
            row.push(r.total.to_string());
            row
        })
        .collect()
}

/// The figures as a table for CSV and XLSX: the file name (no extension), header and rows.
struct CsvOf<T> {
    file: &'static str,
    header: &'static [&'static str],
    rows: fn(&T) -> Vec<Vec<String>>,
}

/// The figures for `q` as JSON, or as CSV when asked.
async fn answer<T: serde::Serialize>(
    state: &AppState,
    caller: &Caller,
    q: &FigureQuery,
    make: fn(&Data) -> T,
    csv: CsvOf<T>,
) -> ApiResult<Response> {
    let format = format_of(q.format.as_deref())?;
    let data = figures::load_filtered(&state.db, caller, q).await?;
    let value = make(&data);
    if let Some(table) = table_response(format, csv.file, csv.header, || (csv.rows)(&value)) {
        return Ok(table);
    }
    Ok(axum::Json(value).into_response())
}

#[utoipa::path(get, path = "/dashboard/demand", tag = "dashboard", params(FigureQuery),
    responses((status = 200, body = Demand, description = "demand against capacity by equipment class and by region; with `?format=csv` or `xlsx` one row per group and key"),
        (status = 422, body = Problem)))]
pub async fn get_demand(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<FigureQuery>,
) -> ApiResult<Response> {
    let make =
        |d: &Data| Demand { by_equipment: figures::demand_by_equipment(d), by_region: figures::demand_by_region(d) };
    let rows = |d: &Demand| {
        let mut rows = demand_rows("equipment", &d.by_equipment);
        rows.extend(demand_rows("region", &d.by_region));
        rows
    };
    let header = &["group", "key", "demand_hours", "capacity_hours", "ratio_percent"];
    answer(&state, &caller, &q, make, CsvOf { file: "demand", header, rows }).await
}

#[utoipa::path(get, path = "/dashboard/capacity", tag = "dashboard", params(FigureQuery),
    responses((status = 200, body = Vec<CapacityRow>, description = "each lab's hours per equipment class against the published plan's bookings"),
        (status = 422, body = Problem)))]
pub async fn get_capacity(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<FigureQuery>,
) -> ApiResult<Response> {
    let rows = |rows: &Vec<CapacityRow>| {
        rows.iter()
            .map(|r| {
                vec![
                    r.lab.clone(),
                    r.region.clone(),
                    r.equipment.clone(),
                    num(r.capacity_hours),
                    num(r.planned_hours),
                    opt(r.utilisation_percent),
                ]
            })
            .collect()
    };
    let header = &["lab", "region", "equipment", "capacity_hours", "planned_hours", "utilisation_percent"];
    answer(&state, &caller, &q, figures::capacity, CsvOf { file: "capacity", header, rows }).await
}

#[utoipa::path(get, path = "/dashboard/unmet", tag = "dashboard", params(FigureQuery),
    responses((status = 200, body = Unmet, description = "requests the published plan leaves out, by reason, and those it places late, by region and by test type"),
        (status = 422, body = Problem)))]
pub async fn get_unmet(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<FigureQuery>,
) -> ApiResult<Response> {
    let make = |d: &Data| Unmet { by_region: figures::unmet_by(d, true), by_test_type: figures::unmet_by(d, false) };
    let rows = |u: &Unmet| {
        let mut rows = unmet_rows("region", &u.by_region);
        rows.extend(unmet_rows("test_type", &u.by_test_type));
        rows
    };
    let header = &[
        "group",
        "key",
        "no_accredited_lab",
        "excluded_by_company",
        "no_capacity_in_window",
        "outranked",
        "late",
        "total",
    ];
    answer(&state, &caller, &q, make, CsvOf { file: "unmet", header, rows }).await
}

#[utoipa::path(get, path = "/dashboard/bottlenecks", tag = "dashboard", params(FigureQuery),
    responses((status = 200, body = Vec<BottleneckRow>, description = "the lab × equipment pairs whose capacity binds hardest, with the first-order saving of 40 more hours a week"),
        (status = 422, body = Problem)))]
pub async fn get_bottlenecks(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<FigureQuery>,
) -> ApiResult<Response> {
    let rows = |rows: &Vec<BottleneckRow>| {
        rows.iter()
            .map(|r| {
                vec![
                    r.lab.clone(),
                    r.equipment.clone(),
                    r.binding_weeks.to_string(),
                    num(r.shadow_price_sum),
                    num(r.saving_of_40_hours),
                ]
            })
            .collect()
    };
    let header = &["lab", "equipment", "binding_weeks", "shadow_price_sum", "saving_of_40_hours"];
    answer(&state, &caller, &q, figures::bottlenecks, CsvOf { file: "bottlenecks", header, rows }).await
}
