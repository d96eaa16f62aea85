//! Pages of what-if scenarios, for planners and the ministry: build one (also from a row
//! of "where new capacity helps most"), and compare scenarios with their baseline side
//! by side — charts with their tables and CSV.

use std::collections::{BTreeMap, BTreeSet};

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::context;
use serde::Deserialize;
use serde_json::json;

use super::lookup::{Catalog, Names};
use super::page::{Page, csv_download, grouped, xlsx_download};
use crate::app::policy::Op;
use crate::app::scenarios::{self as ops, Comparison, NewScenario, Scenario};
use crate::app::{AppError, catalog};
use crate::domain::FieldError;
use crate::domain::paging::PageRequest;
use crate::domain::scenario::{Change, Figures, Group, NewCapacity};
use crate::domain::status::Reason;
use crate::state::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/scenarios", get(list_page).post(create))
        .route("/scenarios/compare", get(compare_page))
        .route("/scenarios/compare.csv", get(compare_csv))
        .route("/scenarios/compare.xlsx", get(compare_xlsx))
        .route("/scenarios/{id}", get(one))
}

/// The scenarios a page lists at most.
const LISTED: u64 = 50;

/// The form as typed, every value kept as text.
#[derive(Debug, Default, Deserialize)]
pub struct ScenarioForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    time_limit_seconds: String,
    use_capacity: Option<String>,
    #[serde(default)]
    cap_lab: String,
    #[serde(default)]
    cap_equipment: String,
    #[serde(default)]
    cap_hours: String,
    #[serde(default)]
    cap_from_week: String,
    #[serde(default)]
    cap_to_week: String,
    use_demand: Option<String>,
    #[serde(default)]
    dem_equipment: String,
    #[serde(default)]
    dem_region: String,
    #[serde(default)]
    dem_factor: String,
    use_close: Option<String>,
    #[serde(default)]
    close_lab: String,
    #[serde(default)]
    close_from_week: String,
    use_new_lab: Option<String>,
    #[serde(default)]
    new_id: String,
    #[serde(default)]
    new_name: String,
    #[serde(default)]
    new_region: String,
    #[serde(default)]
    new_accredited: String,
    #[serde(default)]
    new_capacity: String,
    #[serde(default)]
    new_from_week: String,
    use_weights: Option<String>,
    #[serde(default)]
    w_tardiness_per_week: String,
    #[serde(default)]
    w_transport_per_km: String,
    #[serde(default)]
    w_unassigned: String,
    #[serde(default)]
    w_move_lab: String,
    #[serde(default)]
    w_move_week: String,
}

/// A row of "where new capacity helps most" opens the form with its change filled in.
#[derive(Debug, Default, Deserialize)]
pub struct Prefill {
    lab: Option<String>,
    equipment: Option<String>,
    hours: Option<String>,
}

fn form_view(form: &ScenarioForm) -> minijinja::Value {
    context! {
        name => form.name, time_limit_seconds => form.time_limit_seconds,
        use_capacity => form.use_capacity.is_some(), cap_lab => form.cap_lab, cap_equipment => form.cap_equipment,
        cap_hours => form.cap_hours, cap_from_week => form.cap_from_week, cap_to_week => form.cap_to_week,
        use_demand => form.use_demand.is_some(), dem_equipment => form.dem_equipment, dem_region => form.dem_region,
        dem_factor => form.dem_factor,
        use_close => form.use_close.is_some(), close_lab => form.close_lab, close_from_week => form.close_from_week,
        use_new_lab => form.use_new_lab.is_some(), new_id => form.new_id, new_name => form.new_name,
        new_region => form.new_region, new_accredited => form.new_accredited, new_capacity => form.new_capacity,
        new_from_week => form.new_from_week,
        use_weights => form.use_weights.is_some(), w_tardiness_per_week => form.w_tardiness_per_week,
        w_transport_per_km => form.w_transport_per_km, w_unassigned => form.w_unassigned,
        w_move_lab => form.w_move_lab, w_move_week => form.w_move_week,
    }
}

fn describe(page: &Page, catalog: &Catalog, change: &Change) -> String {
    match change {
        Change::Capacity { lab, equipment, hours_per_week, from_week, .. } => page
            .t("scn_describe_capacity")
            .replace("{hours}", &format!("{hours_per_week:+}"))
            .replace("{equipment}", equipment)
            .replace("{lab}", &format!("{lab} {}", catalog.lab_name(lab, page.lang)))
            .replace("{week}", &from_week.to_string()),
        Change::Demand { equipment, region, factor } => page
            .t("scn_describe_demand")
            .replace("{factor}", &format!("{factor}"))
            .replace("{equipment}", equipment.as_deref().unwrap_or("*"))
            .replace("{region}", &region.as_deref().map(|r| catalog.region_name(r, page.lang)).unwrap_or("*".into())),
        Change::CloseLab { lab, from_week } => {
            page.t("scn_describe_close").replace("{lab}", lab).replace("{week}", &from_week.to_string())
        }
        Change::NewLab { id, region, .. } => page
            .t("scn_describe_new_lab")
            .replace("{lab}", id)
            .replace("{region}", &catalog.region_name(region, page.lang)),
        Change::Weights { .. } => page.t("scn_describe_weights"),
    }
}

async fn list_page(State(state): State<AppState>, page: Page, Query(pre): Query<Prefill>) -> Response {
    let mut form =
        ScenarioForm { time_limit_seconds: ops::DEFAULT_TIME_LIMIT_SECONDS.to_string(), ..Default::default() };
    if let (Some(lab), Some(equipment)) = (pre.lab, pre.equipment) {
        let hours = pre.hours.unwrap_or_else(|| "40".into());
        form.name = format!("+{hours} {equipment} {lab}");
        form.use_capacity = Some("1".into());
        (form.cap_lab, form.cap_equipment, form.cap_hours) = (lab, equipment, hours);
        form.cap_from_week = "0".into();
    }
    show_list(&state, &page, &form, BTreeMap::new(), StatusCode::OK).await
}

async fn show_list(
    state: &AppState,
    page: &Page,
    form: &ScenarioForm,
    errors: BTreeMap<String, String>,
    status: StatusCode,
) -> Response {
    if let Err(refused) = page.allow(Op::ReadScenarios) {
        return refused;
    }
    let loaded = async {
        let list = ops::list(&state.db, &page.caller, PageRequest { page: 1, per_page: LISTED }).await?;
        Ok::<_, AppError>((list, catalog::load(&state.db).await?))
    };
    let (list, catalog) = match loaded.await {
        Ok(v) => v,
        Err(e) => return page.app_error(e),
    };
    let items: Vec<minijinja::Value> = list
        .items
        .iter()
        .map(|s| {
            let changes: Vec<String> = s.changes.iter().map(|c| describe(page, &catalog, c)).collect();
            let changes = if changes.is_empty() { page.t("scn_baseline") } else { changes.join("; ") };
            context! {
                id => s.id, name => s.name, changes, baseline => s.baseline,
                status_text => page.t(&format!("run_status_{}", s.status.as_str())),
                created => s.created_at.format("%Y-%m-%d %H:%M").to_string(),
            }
        })
        .collect();
    let labs: Vec<minijinja::Value> =
        catalog.labs.values().map(|l| context! { id => l.id, name => catalog.lab_name(&l.id, page.lang) }).collect();
    let equipment: Vec<minijinja::Value> = catalog
        .equipment
        .values()
        .map(|e| context! { code => e.code, name => catalog.equipment_name(&e.code, page.lang) })
        .collect();
    let regions: Vec<minijinja::Value> = catalog
        .regions
        .values()
        .map(|r| context! { code => r.code, name => catalog.region_name(&r.code, page.lang) })
        .collect();
    page.render_status(
        status,
        "scenarios.html",
        context! {
            items, labs, equipment, regions, errors, form => form_view(form), may_create => page.may(Op::Scenarios),
        },
    )
}

/// The form's changes; each number is checked here in the page's language, the rules
/// are the operation's. Also where each change's fields are on the form.
fn changes_of(
    page: &Page,
    form: &ScenarioForm,
    errors: &mut BTreeMap<String, String>,
) -> (Vec<Change>, Vec<&'static str>) {
    let mut number = |name: &str, raw: &str, required: bool| -> Option<f64> {
        let raw = raw.trim().replace(',', ".").replace([' ', '\u{a0}'], "");
        if raw.is_empty() {
            if required {
                errors.insert(name.to_string(), page.t("field_required"));
            }
            return None;
        }
        raw.parse::<f64>().ok().filter(|v| v.is_finite()).or_else(|| {
            errors.insert(name.to_string(), page.t("field_number"));
            None
        })
    };
    let week = |v: Option<f64>| v.map(|w| w.max(0.0).round() as u32);
    let mut changes = Vec::new();
    let mut sections = Vec::new();
    if form.use_capacity.is_some() {
        let hours = number("cap_hours", &form.cap_hours, true);
        let from = week(number("cap_from_week", &form.cap_from_week, false)).unwrap_or(0);
        let to = week(number("cap_to_week", &form.cap_to_week, false));
        if let Some(hours_per_week) = hours {
            changes.push(Change::Capacity {
                lab: form.cap_lab.clone(),
                equipment: form.cap_equipment.clone(),
                hours_per_week,
                from_week: from,
                to_week: to,
                price_per_hour: None,
            });
            sections.push("cap");
        }
    }
    if form.use_demand.is_some()
        && let Some(factor) = number("dem_factor", &form.dem_factor, true)
    {
        let pick = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
        changes.push(Change::Demand { equipment: pick(&form.dem_equipment), region: pick(&form.dem_region), factor });
        sections.push("dem");
    }
    if form.use_close.is_some() {
        let from = week(number("close_from_week", &form.close_from_week, false)).unwrap_or(0);
        changes.push(Change::CloseLab { lab: form.close_lab.clone(), from_week: from });
        sections.push("close");
    }
    if form.use_weights.is_some() {
        // Only the weights typed in change; the others keep the registry's.
        let tardiness_per_week = number("w_tardiness_per_week", &form.w_tardiness_per_week, false);
        let transport_per_km = number("w_transport_per_km", &form.w_transport_per_km, false);
        let unassigned = number("w_unassigned", &form.w_unassigned, false);
        let move_lab = number("w_move_lab", &form.w_move_lab, false);
        let move_week = number("w_move_week", &form.w_move_week, false);
        changes.push(Change::Weights { tardiness_per_week, transport_per_km, unassigned, move_lab, move_week });
        sections.push("w");
    }
    if form.use_new_lab.is_some() {
        let from = week(number("new_from_week", &form.new_from_week, false)).unwrap_or(0);
        let accredited: Vec<String> = form
            .new_accredited
            .split([',', ';', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        // "EMC:40:5000, CLIM:168:1200": class, hours a week, price an hour.
        let mut capacity = Vec::new();
        for item in form.new_capacity.split([',', ';']).map(str::trim).filter(|s| !s.is_empty()) {
            let parts: Vec<&str> = item.split(':').map(str::trim).collect();
            match parts.as_slice() {
                [equipment, hours, price] => match (hours.parse::<f64>(), price.parse::<f64>()) {
                    (Ok(hours_per_week), Ok(price_per_hour)) => {
                        capacity.push(NewCapacity { equipment: equipment.to_string(), hours_per_week, price_per_hour })
                    }
                    _ => {
                        errors.insert("new_capacity".into(), page.t("scn_new_lab_capacity_hint"));
                    }
                },
                _ => {
                    errors.insert("new_capacity".into(), page.t("scn_new_lab_capacity_hint"));
                }
            }
        }
        changes.push(Change::NewLab {
            id: form.new_id.trim().to_string(),
            name: form.new_name.trim().to_string(),
            region: form.new_region.clone(),
            accredited,
            capacity,
            from_week: from,
        });
        sections.push("new");
    }
    (changes, sections)
}

/// The operation's field names (`changes[0].hours_per_week`) as the form's (`cap_hours`).
fn form_field(field: &str, sections: &[&str]) -> String {
    let Some(rest) = field.strip_prefix("changes[") else { return field.to_string() };
    let Some((index, inner)) = rest.split_once("].") else { return "changes".into() };
    let Some(section) = index.parse::<usize>().ok().and_then(|i| sections.get(i)) else { return "changes".into() };
    let inner = inner.split(['[', '.']).next().unwrap_or(inner);
    let name = match (*section, inner) {
        ("cap", "hours_per_week") => "cap_hours",
        ("dem", "equipment") => "dem_equipment",
        ("dem", "region") => "dem_region",
        ("new", "id") => "new_id",
        ("new", "name") => "new_name",
        ("new", "region") => "new_region",
        ("new", "accredited") => "new_accredited",
        ("new", "capacity") => "new_capacity",
        (s, field) => return format!("{s}_{field}"),
    };
    name.to_string()
}

async fn create(State(state): State<AppState>, page: Page, Form(form): Form<ScenarioForm>) -> Response {
    if let Err(refused) = page.allow(Op::Scenarios).and_then(|()| page.check_csrf(&form.csrf)) {
        return refused;
    }
    let mut errors = BTreeMap::new();
    let (changes, sections) = changes_of(&page, &form, &mut errors);
    let limit = form.time_limit_seconds.trim().parse::<f64>().ok();
    if !form.time_limit_seconds.trim().is_empty() && limit.is_none() {
        errors.insert("time_limit_seconds".into(), page.t("field_number"));
    }
    if !errors.is_empty() {
        return show_list(&state, &page, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let cmd = NewScenario { name: form.name.clone(), changes, time_limit_seconds: limit };
    match ops::create(&state.db, &page.caller, cmd).await {
        Ok(created) => Redirect::to(&format!("/scenarios/compare?ids={}", created.id)).into_response(),
        Err(AppError::Validation(refused)) => {
            let moved: Vec<FieldError> =
                refused.into_iter().map(|e| FieldError { field: form_field(&e.field, &sections), ..e }).collect();
            let errors = page.field_errors(&moved);
            show_list(&state, &page, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => page.app_error(e),
    }
}

async fn one(Path(id): Path<i64>) -> Redirect {
    Redirect::to(&format!("/scenarios/compare?ids={id}"))
}

/// `?ids=3&ids=4` or `?ids=3,4`.
fn ids_of(query: Option<&str>) -> Vec<i64> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "ids")
        .flat_map(|(_, v)| v.split(',').filter_map(|n| n.trim().parse::<i64>().ok()).collect::<Vec<_>>())
        .collect::<BTreeSet<i64>>()
        .into_iter()
        .collect()
}

/// The most scenarios one comparison shows.
const COMPARED: usize = 6;

/// The baseline and each scenario: (name, figures).
struct Columns {
    names: Vec<String>,
    statuses: Vec<String>,
    figures: Vec<Option<Figures>>,
    comparisons: Vec<Comparison>,
}

async fn columns(state: &AppState, page: &Page, uri: &axum::http::Uri) -> Result<Columns, Response> {
    page.allow(Op::ReadScenarios)?;
    let ids = ids_of(uri.query());
    if ids.is_empty() || ids.len() > COMPARED {
        return Err(page.error(StatusCode::UNPROCESSABLE_ENTITY, page.t("scn_pick_some")));
    }
    let mut comparisons = Vec::new();
    for id in ids {
        comparisons.push(ops::compare(&state.db, &page.caller, id).await.map_err(|e| page.app_error(e))?);
    }
    let status = |s: &Scenario| page.t(&format!("run_status_{}", s.status.as_str()));
    let baseline = &comparisons[0].baseline;
    let mut names = vec![format!("{} ({})", page.t("scn_baseline"), baseline.name)];
    let mut statuses = vec![status(baseline)];
    let mut figures = vec![baseline.result.clone()];
    for c in &comparisons {
        names.push(c.scenario.name.clone());
        statuses.push(status(&c.scenario));
        figures.push(c.scenario.result.clone());
    }
    Ok(Columns { names, statuses, figures, comparisons })
}

/// One figure per group (region, equipment class) for each column: a table, a grouped
/// bar chart and a CSV of the same numbers.
struct Section {
    id: &'static str,
    title: String,
    /// (group, its label)
    groups: Vec<(String, String)>,
    /// values[group][column]; none where a column has no plan yet
    values: Vec<Vec<Option<f64>>>,
    percent: bool,
}

impl Section {
    fn new(
        cols: &Columns,
        id: &'static str,
        title: String,
        groups: Vec<(String, String)>,
        value: impl Fn(&Figures, &str) -> f64,
        percent: bool,
    ) -> Self {
        let values = groups
            .iter()
            .map(|(key, _)| cols.figures.iter().map(|f| f.as_ref().map(|f| value(f, key))).collect())
            .collect();
        Self { id, title, groups, values, percent }
    }

    fn headers(&self, page: &Page, cols: &Columns) -> Vec<String> {
        let mut headers = vec![page.t("scn_group")];
        headers.extend(cols.names.iter().cloned());
        headers
    }

    fn csv_rows(&self) -> Vec<Vec<String>> {
        let raw = |v: f64| if self.percent { format!("{v:.3}") } else { format!("{}", v.round() as i64) };
        self.groups
            .iter()
            .zip(&self.values)
            .map(|((_, label), values)| {
                let mut line = vec![label.clone()];
                line.extend(values.iter().map(|v| v.map_or(String::new(), raw)));
                line
            })
            .collect()
    }

    fn view(&self, page: &Page, cols: &Columns) -> minijinja::Value {
        let show = |v: f64| if self.percent { format!("{:.0} %", v * 100.0) } else { grouped(v) };
        let rows: Vec<Vec<minijinja::Value>> = self
            .groups
            .iter()
            .zip(&self.values)
            .map(|((_, label), values)| {
                let mut row = vec![context! { text => label, num => false }];
                row.extend(values.iter().map(|v| context! { text => v.map_or("—".into(), show), num => true }));
                row
            })
            .collect();
        let categories: Vec<&str> = self.groups.iter().map(|(_, l)| l.as_str()).collect();
        let series: Vec<serde_json::Value> = cols
            .names
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let data: Vec<f64> = self.values.iter().map(|v| v[c].unwrap_or(0.0)).collect();
                json!({ "name": name, "type": "bar", "data": data })
            })
            .collect();
        let chart = json!({
            "tooltip": { "trigger": "axis" }, "legend": { "top": 0 },
            "grid": { "left": 50, "right": 20, "top": 40, "bottom": 10, "containLabel": true },
            "xAxis": { "type": "category", "data": categories, "axisLabel": { "interval": 0, "rotate": 40 } },
            "yAxis": { "type": "value" }, "series": series, "animation": false,
        });
        let ids: Vec<String> = cols.comparisons.iter().map(|c| c.scenario.id.to_string()).collect();
        context! {
            id => self.id, title => self.title, empty => self.groups.is_empty(),
            chart => minijinja::Value::from_serialize(&chart),
            table => context! { headers => self.headers(page, cols), rows },
            csv => format!("/scenarios/compare.csv?ids={}&section={}", ids.join(","), self.id),
            xlsx => format!("/scenarios/compare.xlsx?ids={}&section={}", ids.join(","), self.id),
        }
    }
}

fn sections(page: &Page, catalog: &Catalog, cols: &Columns) -> Vec<Section> {
    let mut regions: BTreeSet<String> = BTreeSet::new();
    let mut classes: BTreeSet<String> = BTreeSet::new();
    for f in cols.figures.iter().flatten() {
        regions.extend(f.by_region.keys().cloned());
        classes.extend(f.by_equipment.keys().cloned());
    }
    let regions: Vec<(String, String)> =
        regions.into_iter().map(|r| (r.clone(), catalog.region_name(&r, page.lang))).collect();
    let classes: Vec<(String, String)> =
        classes.into_iter().map(|e| (e.clone(), format!("{e} — {}", catalog.equipment_name(&e, page.lang)))).collect();
    let unmet = |g: Option<&Group>| g.map_or(0.0, |g| (g.unassigned + g.late) as f64);
    vec![
        Section::new(
            cols,
            "by_region",
            page.t("scn_unmet_late_by_region"),
            regions.clone(),
            |f, k| unmet(f.by_region.get(k)),
            false,
        ),
        Section::new(
            cols,
            "by_equipment",
            page.t("scn_unmet_late_by_equipment"),
            classes.clone(),
            |f, k| unmet(f.by_equipment.get(k)),
            false,
        ),
        Section::new(
            cols,
            "cost_by_region",
            page.t("scn_cost_by_region"),
            regions,
            |f, k| f.by_region.get(k).map_or(0.0, |g| g.cost),
            false,
        ),
        Section::new(
            cols,
            "utilisation",
            page.t("scn_utilisation"),
            classes,
            |f, k| f.by_equipment.get(k).and_then(|g| g.utilisation).unwrap_or(0.0),
            true,
        ),
    ]
}

async fn compare_page(State(state): State<AppState>, page: Page, uri: axum::http::Uri) -> Response {
    let cols = match columns(&state, &page, &uri).await {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    let catalog = match catalog::load(&state.db).await {
        Ok(c) => c,
        Err(e) => return page.app_error(e),
    };
    let cell =
        |f: &Option<Figures>, v: &dyn Fn(&Figures) -> f64| f.as_ref().map_or("—".to_string(), |f| grouped(v(f)));
    let row = |label: String, v: &dyn Fn(&Figures) -> f64| {
        context! { label, values => cols.figures.iter().map(|f| cell(f, v)).collect::<Vec<_>>() }
    };
    let mut summary = vec![
        row(page.t("plan_objective"), &|f| f.objective),
        row(page.t("plan_bound"), &|f| f.bound),
        row(page.t("scn_requests"), &|f| f.requests as f64),
        row(page.t("plan_assigned"), &|f| f.assigned as f64),
        row(page.t("plan_unassigned"), &|f| f.unassigned as f64),
        row(page.t("dash_late"), &|f| f.late as f64),
    ];
    for reason in Reason::ALL {
        let key = reason.as_str();
        summary.push(row(page.t(&format!("reason_{key}")), &|f| *f.unassigned_by_reason.get(key).unwrap_or(&0) as f64));
    }
    let estimates: Vec<minijinja::Value> = cols
        .comparisons
        .iter()
        .filter(|c| c.estimate.is_some())
        .map(|c| {
            context! {
                name => c.scenario.name, estimate => c.estimate.map(grouped), exact => c.saving.map(grouped).unwrap_or("—".into()),
            }
        })
        .collect();
    let columns: Vec<minijinja::Value> =
        cols.names.iter().zip(&cols.statuses).map(|(name, status)| context! { name, status }).collect();
    let pending = cols.figures.iter().any(Option::is_none);
    page.render(
        "scenario_compare.html",
        context! {
            columns, summary, estimates, pending,
            sections => sections(&page, &catalog, &cols).iter().map(|s| s.view(&page, &cols)).collect::<Vec<_>>(),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct CsvQuery {
    section: Option<String>,
}

/// The section a download asks for, with the columns it compares.
async fn wanted_section(
    state: &AppState,
    page: &Page,
    uri: &axum::http::Uri,
    q: CsvQuery,
) -> Result<(Section, Columns, String), Response> {
    let cols = columns(state, page, uri).await?;
    let catalog = catalog::load(&state.db).await.map_err(|e| page.app_error(e))?;
    let wanted = q.section.unwrap_or_default();
    let section =
        sections(page, &catalog, &cols).into_iter().find(|s| s.id == wanted).ok_or_else(|| page.not_found())?;
    Ok((section, cols, wanted))
}

async fn compare_csv(
    State(state): State<AppState>,
    page: Page,
    uri: axum::http::Uri,
    Query(q): Query<CsvQuery>,
) -> Response {
    match wanted_section(&state, &page, &uri, q).await {
        Ok((section, cols, wanted)) => {
            csv_download(&format!("scenarios-{wanted}.csv"), &section.headers(&page, &cols), &section.csv_rows())
        }
        Err(refused) => refused,
    }
}

async fn compare_xlsx(
    State(state): State<AppState>,
    page: Page,
    uri: axum::http::Uri,
    Query(q): Query<CsvQuery>,
) -> Response {
    use crate::sheets::write::Value;
    match wanted_section(&state, &page, &uri, q).await {
        Ok((section, cols, wanted)) => {
            let rows = section
                .groups
                .iter()
                .zip(&section.values)
                .map(|((_, label), values)| {
                    let mut row = vec![Value::Text(label.clone())];
                    row.extend(values.iter().map(|v| v.map_or(Value::Empty, Value::Number)));
                    row
                })
                .collect();
            xlsx_download(&format!("scenarios-{wanted}.xlsx"), &wanted, &section.headers(&page, &cols), rows)
        }
        Err(refused) => refused,
    }
}
