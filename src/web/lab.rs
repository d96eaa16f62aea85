//! Pages of a lab coordinator: the bookings of the published plan to confirm or decline,
//! the lab's week-by-week load per equipment class, the capacity editor (base hours,
//! price, closed or reduced weeks) and the accreditation scope.
//!
//! Every change is the application's operation, so validation, row scoping (a lab
//! changes only its own records) and the audit log are the API's own.

use std::collections::{BTreeMap, BTreeSet};

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use super::lookup::{Catalog, Names};
use super::page::{CsrfForm, Page, csv_download, grouped};
use crate::app::bookings::{self, Answer, Assignment, Decline};
use crate::app::labs::{self as ops, AccreditationBody, CapacityBody, CapacityOverride};
use crate::app::policy::Op;
use crate::app::{AppError, catalog, runs};
use crate::domain::FieldError;
use crate::domain::access::Role;
use crate::state::AppState;

/// Answered bookings the assignments page lists.
const ANSWERED_SHOWN: u64 = 30;
/// Tests named in one cell's tooltip.
const TIP_TESTS: usize = 12;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/lab/assignments", get(assignments_page))
        .route("/lab/assignments/{id}/confirm", post(confirm))
        .route("/lab/assignments/{id}/decline", post(decline))
        .route("/lab/timeline", get(timeline_page))
        .route("/lab/timeline.csv", get(timeline_csv))
        .route("/lab/capacity", get(capacity_page))
        .route("/lab/capacity/{equipment}", post(save_capacity))
        .route("/lab/capacity-overrides", post(add_override))
        .route("/lab/capacity-overrides/{equipment}/{week_start}/delete", post(remove_override))
        .route("/lab/scope", get(scope_page).post(add_accreditation))
        .route("/lab/scope/{test_type}", post(save_accreditation))
        .route("/lab/scope/{test_type}/delete", post(remove_accreditation))
}

/// The lab whose pages these are: a lab coordinator's own.
fn own_lab(page: &Page) -> Result<String, Response> {
    if page.caller.role() != Role::Lab {
        return Err(page.forbidden());
    }
    page.caller.own_lab().map(ToString::to_string).ok_or_else(|| page.forbidden())
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

fn notice(page: &Page, q: &DoneQuery) -> Option<String> {
    q.done
        .as_deref()
        .filter(|d| d.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(|d| page.t(&format!("lab_done_{d}")))
}

fn int(raw: &str) -> Option<i64> {
    raw.trim().replace([' ', '\u{a0}'], "").parse().ok()
}

fn date(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()
}

/// Re-keys the API's field errors to one row's inputs: `hours_per_week` → `L/hours_per_week`.
fn errors_at(page: &Page, prefix: &str, errors: &[FieldError]) -> BTreeMap<String, String> {
    page.field_errors(errors).into_iter().map(|(k, v)| (format!("{prefix}{k}"), v)).collect()
}

// ---- assignments ----

async fn assignments_page(State(state): State<AppState>, page: Page, Query(q): Query<DoneQuery>) -> Response {
    let notice = notice(&page, &q);
    show_assignments(&state, &page, notice, BTreeMap::new(), BTreeMap::new(), StatusCode::OK).await
}

async fn show_assignments(
    state: &AppState,
    page: &Page,
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    typed: BTreeMap<String, String>,
    status: StatusCode,
) -> Response {
    let lab = match own_lab(page).and_then(|lab| page.allow(Op::ReadBookings).map(|()| lab)) {
        Ok(lab) => lab,
        Err(refused) => return refused,
    };
    let loaded = async {
        let catalog = catalog::load(&state.db).await?;
        let (waiting, answered) = bookings::for_lab(&state.db, &page.caller, ANSWERED_SHOWN).await?;
        let published = runs::published_run(&state.db, &page.caller).await?;
        Ok::<_, AppError>((catalog, waiting, answered, published.map(|p| p.id)))
    };
    let (catalog, waiting, answered, published) = match loaded.await {
        Ok(v) => v,
        Err(e) => return page.app_error(e),
    };
    let view = |a: &Assignment| {
        let company = a.company.clone().unwrap_or_default();
        let test_type = a.test_type.clone().unwrap_or_default();
        let test = catalog.test_types.get(&test_type);
        context! {
            id => a.id, request => a.request,
            company_name => catalog.companies.get(&company).map(|c| c.name.clone()), company,
            test_name => catalog.test_type_name(&test_type, page.lang), test_type,
            equipment => test.map(|t| catalog.equipment_name(&t.equipment, page.lang)),
            hours => test.map(|t| t.hours),
            start => a.start_date.to_string(), end => a.end_date.to_string(), cost => grouped(a.cost),
            status => a.status.as_str(), status_text => page.t(&format!("booking_{}", a.status.as_str())),
            reason => a.decline_reason,
            answered_at => a.answered_at.map(|t| t.format("%Y-%m-%d %H:%M").to_string()),
            typed => typed.get(&a.id.to_string()).cloned().unwrap_or_default(),
        }
    };
    let waiting: Vec<minijinja::Value> = waiting.iter().map(view).collect();
    let answered: Vec<minijinja::Value> = answered.iter().map(view).collect();
    page.render_status(
        status,
        "lab_assignments.html",
        context! { lab, lab_name => catalog.lab_name(&lab, page.lang), waiting, answered, notice, errors, published },
    )
}

async fn confirm(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) =
        own_lab(&page).and_then(|_| page.allow(Op::AnswerBooking)).and_then(|()| page.check_csrf(&form.csrf))
    {
        return refused;
    }
    match bookings::answer(&state.db, &page.caller, id, Answer::Confirm).await {
        Ok(_) => Redirect::to("/lab/assignments?done=confirmed").into_response(),
        Err(e) => page.app_error(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct DeclineForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn decline(
    State(state): State<AppState>,
    page: Page,
    Path(id): Path<i64>,
    Form(form): Form<DeclineForm>,
) -> Response {
    if let Err(refused) =
        own_lab(&page).and_then(|_| page.allow(Op::AnswerBooking)).and_then(|()| page.check_csrf(&form.csrf))
    {
        return refused;
    }
    let answered = match (Decline { reason: form.reason.clone() }).answer() {
        Ok(answer) => bookings::answer(&state.db, &page.caller, id, answer).await,
        Err(e) => Err(e),
    };
    match answered {
        Ok(_) => Redirect::to("/lab/assignments?done=declined").into_response(),
        Err(AppError::Validation(errors)) => {
            let errors = errors_at(&page, &format!("{id}/"), &errors);
            let typed = BTreeMap::from([(id.to_string(), form.reason)]);
            show_assignments(&state, &page, None, errors, typed, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => page.app_error(e),
    }
}

// ---- timeline ----

struct Cell {
    used: f64,
    capacity: i64,
    tests: Vec<String>,
}

struct Timeline {
    weeks: Vec<NaiveDate>,
    /// (equipment code, its cells week by week)
    rows: Vec<(String, Vec<Cell>)>,
}

impl Cell {
    fn load(&self) -> Option<f64> {
        (self.capacity > 0).then(|| (self.used / self.capacity as f64 * 100.0).round())
    }
}

/// The lab's proposed and confirmed bookings laid on the published plan's weeks: each test
/// uses its hours evenly over the weeks of its booking (docs/planning-model.md), against the
/// week's capacity (the override of that week, else the base hours).
async fn timeline(state: &AppState, page: &Page, lab: &str) -> Result<Option<(Timeline, Catalog)>, AppError> {
    let Some(run) = runs::published_run(&state.db, &page.caller).await? else {
        return Ok(None);
    };
    let horizon = run.horizon;
    let catalog = catalog::load(&state.db).await?;
    let records = ops::records(&state.db, &page.caller, lab).await?;
    let bases = records.capacities;
    let overrides: BTreeMap<(String, NaiveDate), i64> =
        records.overrides.into_iter().map(|o| ((o.equipment, o.week_start), i64::from(o.hours_per_week))).collect();
    let bookings = bookings::live_of_lab(&state.db, &page.caller).await?;

    let weeks: Vec<NaiveDate> = (0..horizon.weeks).map(|w| horizon.week_start(w)).collect();
    let mut codes: Vec<String> = bases.iter().map(|b| b.equipment.clone()).collect();
    let base: BTreeMap<&str, i64> = bases.iter().map(|b| (b.equipment.as_str(), i64::from(b.hours_per_week))).collect();
    let mut rows: BTreeMap<String, Vec<Cell>> = BTreeMap::new();
    let row = |code: &str| -> Vec<Cell> {
        weeks
            .iter()
            .map(|w| Cell {
                used: 0.0,
                capacity: overrides
                    .get(&(code.to_string(), *w))
                    .copied()
                    .unwrap_or_else(|| base.get(code).copied().unwrap_or(0)),
                tests: Vec::new(),
            })
            .collect()
    };
    for code in &codes {
        rows.insert(code.clone(), row(code));
    }
    for booking in &bookings {
        let Some(test) = booking.test_type.as_ref().and_then(|t| catalog.test_types.get(t)) else {
            continue;
        };
        let first = (booking.start_date - horizon.start).num_days().div_euclid(7);
        let last = (booking.end_date - horizon.start).num_days().div_euclid(7).max(first);
        let per_week = f64::from(test.hours) / (last - first + 1) as f64;
        if !rows.contains_key(&test.equipment) {
            codes.push(test.equipment.clone());
            rows.insert(test.equipment.clone(), row(&test.equipment));
        }
        let cells = rows.get_mut(&test.equipment).expect("inserted above");
        for w in first..=last {
            if let Some(cell) = usize::try_from(w).ok().and_then(|w| cells.get_mut(w)) {
                cell.used += per_week;
                cell.tests.push(format!("{} {}", booking.request, test.code));
            }
        }
    }
    let rows = codes.into_iter().filter_map(|c| rows.remove(&c).map(|cells| (c, cells))).collect();
    Ok(Some((Timeline { weeks, rows }, catalog)))
}

fn one_decimal(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

async fn timeline_page(State(state): State<AppState>, page: Page) -> Response {
    let lab = match own_lab(&page) {
        Ok(lab) => lab,
        Err(refused) => return refused,
    };
    let (timeline, catalog) = match timeline(&state, &page, &lab).await {
        Ok(Some(found)) => found,
        Ok(None) => return page.render("lab_timeline.html", context! { lab, published => false }),
        Err(e) => return page.app_error(e),
    };
    let week_labels: Vec<String> = timeline.weeks.iter().map(|w| w.format("%d.%m").to_string()).collect();
    let equipment: Vec<String> =
        timeline.rows.iter().map(|(code, _)| format!("{code} — {}", catalog.equipment_name(code, page.lang))).collect();
    let hours = page.t("hours");
    let mut data = Vec::new();
    let mut table = Vec::new();
    for (y, (code, cells)) in timeline.rows.iter().enumerate() {
        for (x, cell) in cells.iter().enumerate() {
            let load = cell.load();
            let week = timeline.weeks[x].to_string();
            let mut tip = format!(
                "{} · {}: {} / {} {hours}{}",
                equipment[y],
                week,
                one_decimal(cell.used),
                cell.capacity,
                load.map_or(String::new(), |l| format!(" ({l} %)"))
            );
            for test in cell.tests.iter().take(TIP_TESTS) {
                tip.push('\n');
                tip.push_str(test);
            }
            if cell.tests.len() > TIP_TESTS {
                tip.push_str(&format!("\n… +{}", cell.tests.len() - TIP_TESTS));
            }
            // A week with no capacity but some use shows as overfull; a closed, idle week stays blank.
            let value = match load {
                Some(l) => json!(l),
                None if cell.used > 0.0 => json!(999),
                None => serde_json::Value::Null,
            };
            data.push(json!({ "name": tip, "value": [x, y, value] }));
            if cell.used > 0.0 || cell.capacity == 0 || timeline.rows.is_empty() {
                table.push(context! {
                    code, week, used => one_decimal(cell.used), capacity => cell.capacity,
                    load => load.map(|l| format!("{l} %")), over => load.is_some_and(|l| l > 100.0),
                    tests => cell.tests.clone(),
                });
            }
        }
    }
    let option = json!({
        "tooltip": { "position": "top", "formatter": "{b}", "extraCssText": "white-space: pre-line; max-width: 28rem" },
        "grid": { "left": 10, "right": 10, "top": 10, "bottom": 70, "containLabel": true },
        "xAxis": { "type": "category", "data": week_labels, "name": page.t("week"), "splitArea": { "show": true },
                   "axisLabel": { "rotate": 45 } },
        "yAxis": { "type": "category", "data": equipment, "splitArea": { "show": true } },
        "visualMap": {
            "type": "piecewise", "orient": "horizontal", "left": "center", "bottom": 0,
            "pieces": [
                { "min": 0, "max": 0, "label": "0 %", "color": "#f2f4f7" },
                { "gt": 0, "lte": 50, "label": "1–50 %", "color": "#c6dbef" },
                { "gt": 50, "lte": 80, "label": "51–80 %", "color": "#6baed6" },
                { "gt": 80, "lte": 100, "label": "81–100 %", "color": "#2171b5" },
                { "gt": 100, "label": "> 100 %", "color": "#b34700" }
            ],
        },
        "series": [{
            "type": "heatmap", "data": data,
            "label": { "show": true, "formatter": "{@[2]}", "fontSize": 10 },
            "itemStyle": { "borderColor": "#fff", "borderWidth": 1 },
            "emphasis": { "itemStyle": { "borderColor": "#000", "borderWidth": 2 } },
        }],
    });
    let option = minijinja::Value::from_serialize(&option);
    let height = 120 + 44 * timeline.rows.len();
    page.render(
        "lab_timeline.html",
        context! {
            lab, lab_name => catalog.lab_name(&lab, page.lang), published => true, option, table, height,
            first_week => timeline.weeks.first().map(ToString::to_string),
            last_week => timeline.weeks.last().map(|w| (*w + chrono::Days::new(6)).to_string()),
        },
    )
}

async fn timeline_csv(State(state): State<AppState>, page: Page) -> Response {
    let lab = match own_lab(&page) {
        Ok(lab) => lab,
        Err(refused) => return refused,
    };
    let timeline = match timeline(&state, &page, &lab).await {
        Ok(found) => found,
        Err(e) => return page.app_error(e),
    };
    let header: Vec<String> =
        ["lab", "equipment", "week_start", "used_hours", "capacity_hours", "load_percent", "tests"]
            .map(String::from)
            .to_vec();
    let mut rows = Vec::new();
    if let Some((timeline, _)) = timeline {
        for (code, cells) in &timeline.rows {
            for (week, cell) in timeline.weeks.iter().zip(cells) {
                rows.push(vec![
                    lab.clone(),
                    code.clone(),
                    week.to_string(),
                    one_decimal(cell.used),
                    cell.capacity.to_string(),
                    cell.load().map(|l| l.to_string()).unwrap_or_default(),
                    cell.tests.join(" "),
                ]);
            }
        }
    }
    csv_download(&format!("timeline-{lab}.csv"), &header, &rows)
}

// ---- capacity ----

async fn capacity_page(State(state): State<AppState>, page: Page, Query(q): Query<DoneQuery>) -> Response {
    let notice = notice(&page, &q);
    show_capacity(&state, &page, notice, BTreeMap::new(), BTreeMap::new()).await
}

/// The editor; `typed` holds what the user sent (keyed like the errors) so nothing is lost.
async fn show_capacity(
    state: &AppState,
    page: &Page,
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    typed: BTreeMap<String, String>,
) -> Response {
    let lab = match own_lab(page) {
        Ok(lab) => lab,
        Err(refused) => return refused,
    };
    let loaded = async {
        let catalog = catalog::load(&state.db).await?;
        let records = ops::records(&state.db, &page.caller, &lab).await?;
        Ok::<_, AppError>((catalog, records.capacities, records.overrides))
    };
    let (catalog, bases, overrides) = match loaded.await {
        Ok(v) => v,
        Err(e) => return page.app_error(e),
    };
    let kept = |key: String, stored: String| typed.get(&key).cloned().unwrap_or(stored);
    let rows: Vec<minijinja::Value> = bases
        .iter()
        .map(|b| {
            context! {
                code => b.equipment, name => catalog.equipment_name(&b.equipment, page.lang),
                hours => kept(format!("{}/hours_per_week", b.equipment), b.hours_per_week.to_string()),
                price => kept(format!("{}/price_per_hour", b.equipment), b.price_per_hour.to_string()),
            }
        })
        .collect();
    let overrides: Vec<minijinja::Value> = overrides
        .iter()
        .map(|o| {
            let base = bases.iter().find(|b| b.equipment == o.equipment).map(|b| b.hours_per_week);
            context! {
                code => o.equipment, name => catalog.equipment_name(&o.equipment, page.lang),
                week_start => o.week_start.to_string(), hours => o.hours_per_week, base, closed => o.hours_per_week == 0,
            }
        })
        .collect();
    let new = context! {
        equipment => typed.get("new/equipment").cloned().unwrap_or_default(),
        week_start => typed.get("new/week_start").cloned().unwrap_or_default(),
        hours => typed.get("new/hours_per_week").cloned().unwrap_or_else(|| "0".into()),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page.render_status(
        status,
        "lab_capacity.html",
        context! { lab, lab_name => catalog.lab_name(&lab, page.lang), rows, overrides, new, notice, errors },
    )
}

#[derive(Debug, Deserialize)]
pub struct CapacityForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    hours_per_week: String,
    #[serde(default)]
    price_per_hour: String,
}

async fn save_capacity(
    State(state): State<AppState>,
    page: Page,
    Path(equipment): Path<String>,
    Form(form): Form<CapacityForm>,
) -> Response {
    let lab = match own_lab(&page)
        .and_then(|lab| page.allow(Op::KeepLab).map(|()| lab))
        .and_then(|lab| page.check_csrf(&form.csrf).map(|()| lab))
    {
        Ok(lab) => lab,
        Err(refused) => return refused,
    };
    let prefix = format!("{equipment}/");
    let typed = BTreeMap::from([
        (format!("{prefix}hours_per_week"), form.hours_per_week.clone()),
        (format!("{prefix}price_per_hour"), form.price_per_hour.clone()),
    ]);
    let mut errors = BTreeMap::new();
    let hours = int(&form.hours_per_week);
    let price = int(&form.price_per_hour);
    if hours.is_none() {
        errors.insert(format!("{prefix}hours_per_week"), page.t("field_number"));
    }
    if price.is_none() {
        errors.insert(format!("{prefix}price_per_hour"), page.t("field_number"));
    }
    let (Some(hours_per_week), Some(price_per_hour)) = (hours, price) else {
        return show_capacity(&state, &page, None, errors, typed).await;
    };
    let body = CapacityBody { hours_per_week, price_per_hour };
    match ops::save_capacity(&state.db, &page.caller, &lab, &equipment, body).await {
        Ok(_) => Redirect::to("/lab/capacity?done=capacity_saved").into_response(),
        Err(AppError::Validation(errors)) => {
            show_capacity(&state, &page, None, errors_at(&page, &prefix, &errors), typed).await
        }
        Err(e) => page.app_error(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct OverrideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    equipment: String,
    #[serde(default)]
    week_start: String,
    #[serde(default)]
    hours_per_week: String,
}

async fn add_override(State(state): State<AppState>, page: Page, Form(form): Form<OverrideForm>) -> Response {
    let lab = match own_lab(&page)
        .and_then(|lab| page.allow(Op::KeepLab).map(|()| lab))
        .and_then(|lab| page.check_csrf(&form.csrf).map(|()| lab))
    {
        Ok(lab) => lab,
        Err(refused) => return refused,
    };
    let typed = BTreeMap::from([
        ("new/equipment".to_string(), form.equipment.clone()),
        ("new/week_start".to_string(), form.week_start.clone()),
        ("new/hours_per_week".to_string(), form.hours_per_week.clone()),
    ]);
    let mut errors = BTreeMap::new();
    if form.equipment.trim().is_empty() {
        errors.insert("new/equipment".to_string(), page.t("field_required"));
    }
    let week_start = date(&form.week_start);
    if week_start.is_none() {
        errors.insert("new/week_start".to_string(), page.t("field_date"));
    }
    let hours = int(&form.hours_per_week);
    if hours.is_none() {
        errors.insert("new/hours_per_week".to_string(), page.t("field_number"));
    }
    let (Some(week_start), Some(hours_per_week), true) = (week_start, hours, errors.is_empty()) else {
        return show_capacity(&state, &page, None, errors, typed).await;
    };
    let body = CapacityOverride { equipment: form.equipment.trim().to_string(), week_start, hours_per_week };
    match ops::save_override(&state.db, &page.caller, &lab, body).await {
        Ok(_) => Redirect::to("/lab/capacity?done=override_saved").into_response(),
        Err(AppError::Validation(errors)) => {
            show_capacity(&state, &page, None, errors_at(&page, "new/", &errors), typed).await
        }
        Err(e) => page.app_error(e),
    }
}

async fn remove_override(
    State(state): State<AppState>,
    page: Page,
    Path((equipment, week_start)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let lab = match own_lab(&page)
        .and_then(|lab| page.allow(Op::KeepLab).map(|()| lab))
        .and_then(|lab| page.check_csrf(&form.csrf).map(|()| lab))
    {
        Ok(lab) => lab,
        Err(refused) => return refused,
    };
    match ops::delete_override(&state.db, &page.caller, &lab, &equipment, &week_start).await {
        Ok(_) => Redirect::to("/lab/capacity?done=override_removed").into_response(),
        Err(e) => page.app_error(e),
    }
}

// ---- accreditation scope ----

async fn scope_page(State(state): State<AppState>, page: Page, Query(q): Query<DoneQuery>) -> Response {
    let notice = notice(&page, &q);
    show_scope(&state, &page, notice, BTreeMap::new(), BTreeMap::new()).await
}

async fn show_scope(
    state: &AppState,
    page: &Page,
    notice: Option<String>,
    errors: BTreeMap<String, String>,
    typed: BTreeMap<String, String>,
) -> Response {
    let lab = match own_lab(page) {
        Ok(lab) => lab,
        Err(refused) => return refused,
    };
    let loaded = async {
        let catalog = catalog::load(&state.db).await?;
        let records = ops::records(&state.db, &page.caller, &lab).await?;
        let offered: BTreeSet<String> = records.capacities.into_iter().map(|c| c.equipment).collect();
        Ok::<_, AppError>((catalog, records.accreditations, offered))
    };
    let (catalog, scope, offered) = match loaded.await {
        Ok(v) => v,
        Err(e) => return page.app_error(e),
    };
    let kept = |key: String, stored: String| typed.get(&key).cloned().unwrap_or(stored);
    let today = chrono::Utc::now().date_naive();
    let rows: Vec<minijinja::Value> = scope
        .iter()
        .map(|a| {
            let test = catalog.test_types.get(&a.test_type);
            context! {
                code => a.test_type, name => catalog.test_type_name(&a.test_type, page.lang),
                standard => test.map(|t| t.standard.clone()),
                equipment => test.map(|t| t.equipment.clone()),
                valid_from => kept(format!("{}/valid_from", a.test_type), a.valid_from.to_string()),
                valid_to => kept(format!("{}/valid_to", a.test_type), a.valid_to.map(|d| d.to_string()).unwrap_or_default()),
                expired => a.valid_to.is_some_and(|to| to < today),
            }
        })
        .collect();
    let held: BTreeSet<&str> = scope.iter().map(|a| a.test_type.as_str()).collect();
    // The lab's own equipment first: those are the tests it can run at once.
    let mut choices: Vec<(bool, minijinja::Value)> = catalog
        .test_types
        .values()
        .filter(|t| !held.contains(t.code.as_str()))
        .map(|t| {
            let own = offered.contains(&t.equipment);
            let label = format!(
                "{} — {} ({}, {})",
                t.code,
                catalog.test_type_name(&t.code, page.lang),
                t.standard,
                t.equipment
            );
            (own, context! { code => t.code, label, own })
        })
        .collect();
    choices.sort_by_key(|(own, _)| !*own);
    let choices: Vec<minijinja::Value> = choices.into_iter().map(|(_, v)| v).collect();
    let new = context! {
        test_type => typed.get("new/test_type").cloned().unwrap_or_default(),
        valid_from => typed.get("new/valid_from").cloned().unwrap_or_else(|| today.to_string()),
        valid_to => typed.get("new/valid_to").cloned().unwrap_or_default(),
    };
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    page.render_status(
        status,
        "lab_scope.html",
        context! { lab, lab_name => catalog.lab_name(&lab, page.lang), rows, choices, new, notice, errors },
    )
}

#[derive(Debug, Deserialize)]
pub struct ScopeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    test_type: String,
    #[serde(default)]
    valid_from: String,
    #[serde(default)]
    valid_to: String,
}

/// The dates of a scope form: `valid_from` required, `valid_to` optional.
#[allow(clippy::type_complexity)]
fn scope_dates(
    page: &Page,
    prefix: &str,
    form: &ScopeForm,
    errors: &mut BTreeMap<String, String>,
) -> Option<(NaiveDate, Option<NaiveDate>)> {
    let from = date(&form.valid_from);
    if from.is_none() {
        errors.insert(format!("{prefix}valid_from"), page.t("field_date"));
    }
    let to = match form.valid_to.trim() {
        "" => Some(None),
        raw => date(raw).map(Some),
    };
    if to.is_none() {
        errors.insert(format!("{prefix}valid_to"), page.t("field_date"));
    }
    Some((from?, to?))
}

async fn add_accreditation(State(state): State<AppState>, page: Page, Form(form): Form<ScopeForm>) -> Response {
    let lab = match own_lab(&page)
        .and_then(|lab| page.allow(Op::KeepLab).map(|()| lab))
        .and_then(|lab| page.check_csrf(&form.csrf).map(|()| lab))
    {
        Ok(lab) => lab,
        Err(refused) => return refused,
    };
    let typed = BTreeMap::from([
        ("new/test_type".to_string(), form.test_type.clone()),
        ("new/valid_from".to_string(), form.valid_from.clone()),
        ("new/valid_to".to_string(), form.valid_to.clone()),
    ]);
    let mut errors = BTreeMap::new();
    if form.test_type.trim().is_empty() {
        errors.insert("new/test_type".to_string(), page.t("field_required"));
    }
    let dates = scope_dates(&page, "new/", &form, &mut errors);
    let (Some((valid_from, valid_to)), true) = (dates, errors.is_empty()) else {
        return show_scope(&state, &page, None, errors, typed).await;
    };
    let body = AccreditationBody { valid_from, valid_to };
    match ops::save_accreditation(&state.db, &page.caller, &lab, form.test_type.trim(), body, false).await {
        Ok(_) => Redirect::to("/lab/scope?done=scope_added").into_response(),
        Err(AppError::Validation(errors)) => {
            show_scope(&state, &page, None, errors_at(&page, "new/", &errors), typed).await
        }
        Err(e) => page.app_error(e),
    }
}

async fn save_accreditation(
    State(state): State<AppState>,
    page: Page,
    Path(test_type): Path<String>,
    Form(form): Form<ScopeForm>,
) -> Response {
    let lab = match own_lab(&page)
        .and_then(|lab| page.allow(Op::KeepLab).map(|()| lab))
        .and_then(|lab| page.check_csrf(&form.csrf).map(|()| lab))
    {
        Ok(lab) => lab,
        Err(refused) => return refused,
    };
    let prefix = format!("{test_type}/");
    let typed = BTreeMap::from([
        (format!("{prefix}valid_from"), form.valid_from.clone()),
        (format!("{prefix}valid_to"), form.valid_to.clone()),
    ]);
    let mut errors = BTreeMap::new();
    let Some((valid_from, valid_to)) = scope_dates(&page, &prefix, &form, &mut errors) else {
        return show_scope(&state, &page, None, errors, typed).await;
    };
    let body = AccreditationBody { valid_from, valid_to };
    match ops::save_accreditation(&state.db, &page.caller, &lab, &test_type, body, true).await {
        Ok(_) => Redirect::to("/lab/scope?done=scope_saved").into_response(),
        Err(AppError::Validation(errors)) => {
            show_scope(&state, &page, None, errors_at(&page, &prefix, &errors), typed).await
        }
        Err(e) => page.app_error(e),
    }
}

async fn remove_accreditation(
    State(state): State<AppState>,
    page: Page,
    Path(test_type): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let lab = match own_lab(&page)
        .and_then(|lab| page.allow(Op::KeepLab).map(|()| lab))
        .and_then(|lab| page.check_csrf(&form.csrf).map(|()| lab))
    {
        Ok(lab) => lab,
        Err(refused) => return refused,
    };
    match ops::delete_accreditation(&state.db, &page.caller, &lab, &test_type).await {
        Ok(_) => Redirect::to("/lab/scope?done=scope_removed").into_response(),
        Err(e) => page.app_error(e),
    }
}
