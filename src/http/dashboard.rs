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

/// One CSV download of some figures: its file name, header and rows.
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
    let as_csv = wants_csv(q.format.as_deref())?;
    let data = figures::load_filtered(&state.db, caller, q).await?;
    let value = make(&data);
    if as_csv {
        return Ok(csv_response(csv.file, csv.header, &(csv.rows)(&value)));
    }
    Ok(axum::Json(value).into_response())
}

#[utoipa::path(get, path = "/dashboard/demand", tag = "dashboard", params(FigureQuery),
    responses((status = 200, body = Demand, description = "demand against capacity by equipment class and by region; with `?format=csv` one row per group and key"),
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
    answer(&state, &caller, &q, make, CsvOf { file: "demand.csv", header, rows }).await
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
    answer(&state, &caller, &q, figures::capacity, CsvOf { file: "capacity.csv", header, rows }).await
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
    answer(&state, &caller, &q, make, CsvOf { file: "unmet.csv", header, rows }).await
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
    answer(&state, &caller, &q, figures::bottlenecks, CsvOf { file: "bottlenecks.csv", header, rows }).await
}
