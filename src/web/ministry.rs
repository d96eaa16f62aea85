//! The ministry's dashboard: demand against capacity by equipment class and region,
//! unmet and late demand with reasons, the bottleneck heatmap and where new capacity
//! would help most. Read-only; every chart is also a table and a CSV download.
//!
//! Each section is built once as a [`Table`] (the page's table, the CSV) and a chart
//! option made from the same numbers, so the three never disagree.

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

use super::lookup::Names;
use super::page::{Page, csv_download, grouped, xlsx_download};
use crate::app::dashboard::{self, Data};
use crate::app::policy::Op;
use crate::domain::status::Reason;
use crate::entities::capacities;
use crate::state::AppState;

const REASONS: [Reason; 4] = Reason::ALL;

/// The downloads: (file name, section).
const CSVS: &[&str] =
    &["demand-equipment", "demand-region", "unmet-region", "unmet-test-type", "heatmap", "capacity-helps"];

pub fn router() -> axum::Router<AppState> {
    let mut router = axum::Router::new()
        .route("/dashboard", get(dashboard))
        .route(
            "/dashboard/progress.csv",
            get(|s: State<AppState>, p: Page, q: Query<DashQuery>| progress_file(s, p, q, false)),
        )
        .route(
            "/dashboard/progress.xlsx",
            get(|s: State<AppState>, p: Page, q: Query<DashQuery>| progress_file(s, p, q, true)),
        );
    for name in CSVS {
        router = router.route(
            &format!("/dashboard/{name}.csv"),
            get(move |state: State<AppState>, page: Page, q: Query<DashQuery>| csv(state, page, q, name)),
        );
        router = router.route(
            &format!("/dashboard/{name}.xlsx"),
            get(move |state: State<AppState>, page: Page, q: Query<DashQuery>| xlsx(state, page, q, name)),
        );
    }
    router
}

#[derive(Debug, Default, Deserialize)]
pub struct DashQuery {
    equipment: Option<String>,
    /// The progress section's region (its companies'); none for all
    region: Option<String>,
}

impl DashQuery {
    /// The progress figures this page shows: of one region, or of all when the region is
    /// none or unknown.
    fn progress(&self, catalog: &crate::db::catalog::Catalog) -> crate::app::progress::ProgressQuery {
        let region = self.region.clone().filter(|r| catalog.regions.contains_key(r));
        crate::app::progress::ProgressQuery { region, ..Default::default() }
    }
}

/// One cell: what the page shows and what the CSV holds (numbers without grouping).
#[derive(Debug, Clone)]
struct Cell {
    text: String,
    raw: String,
    num: bool,
}

fn text(s: impl Into<String>) -> Cell {
    let s = s.into();
    Cell { text: s.clone(), raw: s, num: false }
}

fn number(v: f64) -> Cell {
    Cell { text: grouped(v), raw: format!("{}", v.round() as i64), num: true }
}

fn percent(v: Option<f64>) -> Cell {
    match v {
        Some(v) => Cell { text: format!("{v:.0} %"), raw: format!("{v:.1}"), num: true },
        None => Cell { text: "—".into(), raw: String::new(), num: true },
    }
}

/// A table of the page; the first column names the row.
struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    fn view(&self) -> minijinja::Value {
        let rows: Vec<Vec<minijinja::Value>> =
            self.rows.iter().map(|r| r.iter().map(|c| context! { text => c.text, num => c.num }).collect()).collect();
        context! { headers => self.headers, rows }
    }

    fn csv_rows(&self) -> Vec<Vec<String>> {
        self.rows.iter().map(|r| r.iter().map(|c| c.raw.clone()).collect()).collect()
    }

    /// The CSV's cells for a workbook: numbers as numbers.
    fn xlsx_rows(&self) -> Vec<Vec<crate::sheets::write::Value>> {
        use crate::sheets::write::Value;
        let cell = |c: &Cell| match c.raw.parse::<f64>() {
            Ok(n) if c.num => Value::Number(n),
            _ if c.raw.is_empty() => Value::Empty,
            _ => Value::Text(c.raw.clone()),
        };
        self.rows.iter().map(|r| r.iter().map(cell).collect()).collect()
    }
}

fn week_label(data: &Data, week: u32) -> String {
    data.horizon.week_start(week).format("%d.%m").to_string()
}

fn bar_option(categories: &[String], series: Vec<Value>, stacked: bool, horizontal: bool) -> Value {
    let category = json!({ "type": "category", "data": categories, "axisLabel": { "interval": 0, "rotate": if horizontal { 0 } else { 40 } } });
    let value = json!({ "type": "value" });
    let series: Vec<Value> = series
        .into_iter()
        .map(|mut s| {
            s["type"] = json!("bar");
            if stacked {
                s["stack"] = json!("total");
            }
            s
        })
        .collect();
    let series_count = series.len();
    let (x, y) = if horizontal { (value, category) } else { (category, value) };
    json!({
        "tooltip": { "trigger": "axis", "axisPointer": { "type": "shadow" } },
        "legend": { "top": 0 },
        "grid": { "left": if horizontal { 10 } else { 50 }, "right": 20, "top": if series_count > 2 { 80 } else { 40 }, "bottom": 10, "containLabel": true },
        "xAxis": x, "yAxis": y, "series": series,
        "color": ["#16324f", "#e0a030", "#b34700", "#5b8db8", "#7a9e3a", "#8e5ea2", "#c8ccd2"],
        "animation": false,
    })
}

struct Section {
    table: Table,
    chart: Value,
}

/// Demand against capacity by equipment class.
fn demand_by_equipment(page: &Page, data: &Data) -> Section {
    let rows = dashboard::demand_by_equipment(data);
    let labels =
        rows.iter().map(|r| format!("{} — {}", r.key, data.catalog.equipment_name(&r.key, page.lang))).collect();
    let axis: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
    against_capacity(page, "dash_equipment", &rows, labels, &axis)
}

/// Demand by the company's region against capacity by the lab's region.
fn demand_by_region(page: &Page, data: &Data) -> Section {
    let rows = dashboard::demand_by_region(data);
    let names: Vec<String> = rows.iter().map(|r| data.catalog.region_name(&r.key, page.lang)).collect();
    against_capacity(page, "dash_region", &rows, names.clone(), &names)
}

/// The table (label, demand, capacity, ratio) and bar chart of demand against capacity,
/// one row per figure; `labels` name the table's rows and `axis` the chart's.
fn against_capacity(
    page: &Page,
    first_header: &str,
    figures: &[dashboard::DemandRow],
    labels: Vec<String>,
    axis: &[String],
) -> Section {
    let (d, c): (Vec<f64>, Vec<f64>) = figures.iter().map(|f| (f.demand_hours, f.capacity_hours)).unzip();
    let rows = labels
        .into_iter()
        .zip(figures)
        .map(|(label, f)| vec![text(label), number(f.demand_hours), number(f.capacity_hours), percent(f.ratio_percent)])
        .collect();
    let table = Table {
        headers: vec![
            page.t(first_header),
            page.t("dash_demand_hours"),
            page.t("dash_capacity_hours"),
            page.t("dash_ratio"),
        ],
        rows,
    };
    let round = |v: &[f64]| v.iter().map(|x| x.round()).collect::<Vec<_>>();
    let chart = bar_option(
        axis,
        vec![
            json!({ "name": page.t("dash_demand_hours"), "data": round(&d) }),
            json!({ "name": page.t("dash_capacity_hours"), "data": round(&c) }),
        ],
        false,
        false,
    );
    Section { table, chart }
}

/// Unplaced requests by reason and late ones, grouped by `key` (region or test type).
fn unmet_by(page: &Page, data: &Data, by_region: bool) -> Section {
    let figures = dashboard::unmet_by(data, by_region);
    let name = |g: &str| {
        if by_region {
            data.catalog.region_name(g, page.lang)
        } else {
            format!("{g} — {}", data.catalog.test_type_name(g, page.lang))
        }
    };
    let groups: Vec<(&String, [u64; 5])> = figures.iter().map(|f| (&f.key, f.counts())).collect();
    let mut headers = vec![page.t(if by_region { "dash_region" } else { "dash_test_type" })];
    headers.extend(REASONS.iter().map(|r| page.t(&format!("reason_{}", r.as_str()))));
    headers.push(page.t("dash_late"));
    headers.push(page.t("dash_total"));
    let rows = groups
        .iter()
        .map(|(g, c)| {
            let mut row = vec![text(name(g))];
            row.extend(c.iter().map(|n| number(*n as f64)));
            row.push(number(c.iter().sum::<u64>() as f64));
            row
        })
        .collect();
    let categories: Vec<String> = groups.iter().map(|(g, _)| if by_region { name(g) } else { (*g).clone() }).collect();
    let series = (0..5)
        .map(|i| json!({ "name": headers[i + 1], "data": groups.iter().map(|(_, c)| c[i]).collect::<Vec<_>>() }))
        .collect();
    Section { table: Table { headers, rows }, chart: bar_option(&categories, series, true, false) }
}

/// The equipment class the heatmap shows by default: the one with the most binding weeks.
fn busiest_equipment(data: &Data) -> Option<String> {
    let mut binding: BTreeMap<&str, usize> = BTreeMap::new();
    for b in &data.bottlenecks {
        *binding.entry(b.equipment.as_str()).or_default() += 1;
    }
    binding.into_iter().max_by_key(|(_, n)| *n).map(|(e, _)| e.to_string())
}

/// Load of each lab offering `equipment`, week by week, in percent of that week's capacity.
fn heatmap(page: &Page, data: &Data, equipment: &str) -> Section {
    let weeks = data.horizon.weeks;
    let mut labs: Vec<&capacities::Model> = data.capacities.iter().filter(|c| c.equipment == equipment).collect();
    labs.sort_by(|a, b| a.lab.cmp(&b.lab));
    let offering: HashSet<&str> = labs.iter().map(|c| c.lab.as_str()).collect();
    let mut used: HashMap<(&str, u32), f64> = HashMap::new();
    for a in &data.assigned {
        let Some(test_type) = data.planned.get(&a.request).map(|r| r.test_type.as_str()) else { continue };
        if data.equipment_of(test_type) != Some(equipment) {
            continue;
        }
        let Some(hours) = data.catalog.test_types.get(test_type).map(|t| f64::from(t.hours)) else { continue };
        if !offering.contains(a.lab.as_str()) {
            continue;
        }
        // The plan stores each booking's weeks; by the planning model a test spreads its
        // hours evenly over them.
        let per_week = hours / f64::from((a.end_week - a.start_week + 1).max(1));
        for w in a.start_week.max(0)..=a.end_week {
            *used.entry((a.lab.as_str(), w as u32)).or_default() += per_week;
        }
    }
    let week_labels: Vec<String> = (0..weeks).map(|w| week_label(data, w)).collect();
    let mut points = Vec::new();
    let mut rows = Vec::new();
    for (y, c) in labs.iter().enumerate() {
        let mut row = vec![text(format!("{} — {}", c.lab, data.catalog.lab_name(&c.lab, page.lang)))];
        for w in 0..weeks {
            let cap = data.week_capacity(c, w);
            let hours = used.get(&(c.lab.as_str(), w)).copied().unwrap_or(0.0);
            let load = dashboard::percent_of(hours, cap);
            row.push(percent(load));
            points.push(json!([w, y, load.map(|v| (v * 10.0).round() / 10.0)]));
        }
        rows.push(row);
    }
    let mut headers = vec![page.t("dash_lab")];
    headers.extend(week_labels.iter().cloned());
    let lab_labels: Vec<String> = labs.iter().map(|c| c.lab.clone()).collect();
    let chart = json!({
        "tooltip": { "position": "top" },
        "grid": { "left": 60, "right": 20, "top": 10, "bottom": 90 },
        "xAxis": { "type": "category", "data": week_labels, "splitArea": { "show": true }, "name": page.t("dash_week_of") , "nameLocation": "middle", "nameGap": 28 },
        "yAxis": { "type": "category", "data": lab_labels, "splitArea": { "show": true }, "inverse": true },
        "visualMap": { "min": 0, "max": 100, "calculable": true, "orient": "horizontal", "left": "center", "bottom": 0,
            "inRange": { "color": ["#f2f6fa", "#9ecae1", "#f5b041", "#b03a2e"] } },
        "series": [{ "name": page.t("dash_load"), "type": "heatmap", "data": points, "emphasis": { "itemStyle": { "borderColor": "#000", "borderWidth": 1 } } }],
        "animation": false,
    });
    Section { table: Table { headers, rows }, chart }
}

/// Σ shadow price over the weeks where a pair binds, and the first-order saving of 40
/// more hours in each of those weeks.
fn capacity_helps(page: &Page, data: &Data) -> Section {
    let top = dashboard::bottlenecks(data);
    let headers = vec![
        page.t("dash_lab"),
        page.t("dash_equipment"),
        page.t("dash_binding_weeks"),
        page.t("dash_shadow_sum"),
        page.t("dash_saving_40"),
    ];
    let rows = top
        .iter()
        .map(|b| {
            vec![
                text(format!("{} — {}", b.lab, data.catalog.lab_name(&b.lab, page.lang))),
                text(format!("{} — {}", b.equipment, data.catalog.equipment_name(&b.equipment, page.lang))),
                number(f64::from(b.binding_weeks)),
                number(b.shadow_price_sum),
                number(b.saving_of_40_hours),
            ]
        })
        .collect();
    let categories: Vec<String> = top.iter().rev().map(|b| format!("{} · {}", b.lab, b.equipment)).collect();
    let values: Vec<f64> = top.iter().rev().map(|b| b.saving_of_40_hours.round()).collect();
    let chart = bar_option(&categories, vec![json!({ "name": page.t("dash_saving_40"), "data": values })], false, true);
    Section { table: Table { headers, rows }, chart }
}

fn section(data: &Data, page: &Page, name: &str, equipment: &str) -> Section {
    match name {
        "demand-equipment" => demand_by_equipment(page, data),
        "demand-region" => demand_by_region(page, data),
        "unmet-region" => unmet_by(page, data, true),
        "unmet-test-type" => unmet_by(page, data, false),
        "heatmap" => heatmap(page, data, equipment),
        _ => capacity_helps(page, data),
    }
}

fn chosen_equipment(data: &Data, q: &DashQuery) -> String {
    q.equipment
        .clone()
        .filter(|e| data.catalog.equipment.contains_key(e))
        .or_else(|| busiest_equipment(data))
        .or_else(|| data.catalog.equipment.keys().next().cloned())
        .unwrap_or_default()
}

async fn dashboard(State(state): State<AppState>, page: Page, Query(q): Query<DashQuery>) -> Response {
    if let Err(refused) = page.allow(Op::ReadDashboard) {
        return refused;
    }
    let data = match dashboard::load(&state.db, &page.caller).await {
        Ok(d) => d,
        Err(e) => return page.app_error(e),
    };
    let equipment = chosen_equipment(&data, &q);
    let sections: Vec<minijinja::Value> = CSVS
        .iter()
        .map(|name| {
            let s = section(&data, &page, name, &equipment);
            let mut href = format!("/dashboard/{name}.csv");
            if *name == "heatmap" {
                href.push_str(&format!("?equipment={equipment}"));
            }
            let id = name.replace('-', "_");
            let xlsx = href.replacen(".csv", ".xlsx", 1);
            context! {
                name, id, table => s.table.view(), chart => minijinja::Value::from_serialize(&s.chart), csv => href, xlsx, empty => s.table.rows.is_empty(),
            }
        })
        .collect();
    let sections: BTreeMap<String, minijinja::Value> = CSVS.iter().map(|n| n.replace('-', "_")).zip(sections).collect();
    let equipment_choices: Vec<minijinja::Value> = data
        .catalog
        .equipment
        .keys()
        .map(|code| {
            context! { code, name => data.catalog.equipment_name(code, page.lang), selected => *code == equipment }
        })
        .collect();
    let demand: f64 = data.demand.iter().map(|d| data.demand_hours(d)).sum();
    let capacity: f64 = data.capacities.iter().map(|c| data.capacity_in_horizon(c)).sum();
    let late = data.assigned.iter().filter(|a| a.late_weeks > 0).count();
    let kpis = context! {
        requests => data.requests(), demand => grouped(demand), capacity => grouped(capacity),
        unmet => data.unassigned.len(), late, placed => data.assigned.len(),
    };
    let progress_query = q.progress(&data.catalog);
    let region_choices: Vec<minijinja::Value> = data
        .catalog
        .regions
        .keys()
        .map(|code| {
            let selected = progress_query.region.as_deref() == Some(code.as_str());
            context! { code, name => data.catalog.region_name(code, page.lang), selected }
        })
        .collect();
    let progress = match crate::app::progress::progress(&state.db, &page.caller, &progress_query).await {
        Ok(p) => progress_view(&page, &p, progress_query.region.as_deref()),
        Err(e) => return page.app_error(e),
    };
    let late = match crate::app::life::late_bookings(&state.db, &page.caller, crate::app::life::LATE_LIST).await {
        Ok(rows) => rows
            .into_iter()
            .map(|b| {
                context! {
                    id => b.id, request => b.request, lab_name => data.catalog.lab_name(&b.lab, page.lang), lab => b.lab,
                    end_date => b.end_date.to_string(), days_late => b.days_late,
                    status => page.t(&format!("booking_{}", b.status.as_str())),
                }
            })
            .collect::<Vec<_>>(),
        Err(e) => return page.app_error(e),
    };
    let horizon = context! {
        start => data.horizon.start.to_string(), weeks => data.horizon.weeks,
        end => data.horizon.week_end(data.horizon.weeks.saturating_sub(1)).to_string(),
    };
    // Each ranked pair opens a scenario with its added hours, to solve exactly what the
    // shadow price only estimates.
    let try_in_scenario: Vec<minijinja::Value> = if page.may(Op::Scenarios) {
        dashboard::bottlenecks(&data)
            .iter()
            .map(|b| {
                let (lab, eq) = (&b.lab, &b.equipment);
                context! {
                    lab, equipment => eq, text => format!("{lab} · {eq}"),
                    href => format!("/scenarios?lab={lab}&equipment={eq}&hours={}", dashboard::EXTRA_HOURS),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    page.render(
        "dashboard.html",
        context! {
            s => sections, kpis, horizon, run => data.run.as_ref().map(|r| r.id), try_in_scenario,
            published_at => data.run.as_ref().and_then(|r| r.published_at).map(|t| t.format("%Y-%m-%d %H:%M").to_string()),
            equipment, equipment_name => data.catalog.equipment_name(&equipment, page.lang), equipment_choices,
            progress, region_choices, late,
        },
    )
}

async fn csv(State(state): State<AppState>, page: Page, Query(q): Query<DashQuery>, name: &'static str) -> Response {
    if let Err(refused) = page.allow(Op::ReadDashboard) {
        return refused;
    }
    let data = match dashboard::load(&state.db, &page.caller).await {
        Ok(d) => d,
        Err(e) => return page.app_error(e),
    };
    let equipment = chosen_equipment(&data, &q);
    let table = section(&data, &page, name, &equipment).table;
    let file = if name == "heatmap" { format!("{name}-{equipment}.csv") } else { format!("{name}.csv") };
    csv_download(&file, &table.headers, &table.csv_rows())
}

// ---- progress: the same figures as GET /api/v1/dashboard/progress ----

fn progress_table(page: &Page, p: &crate::app::progress::Progress) -> Table {
    let headers = ["month", "filed", "completed", "completed_at_home", "late"]
        .iter()
        .map(|k| page.t(&format!("progress_{k}")))
        .collect();
    let rows = p
        .months
        .iter()
        .map(|m| {
            vec![
                text(m.month.clone()),
                number(m.filed as f64),
                number(m.completed as f64),
                number(m.completed_at_home as f64),
                number(m.late as f64),
            ]
        })
        .collect();
    Table { headers, rows }
}

/// The progress section: the totals by status, and by month the need (filed) against
/// the tests completed, at home and anywhere, and the late ones, as a chart and a table.
fn progress_view(page: &Page, p: &crate::app::progress::Progress, region: Option<&str>) -> minijinja::Value {
    let table = progress_table(page, p);
    let months: Vec<String> = p.months.iter().map(|m| m.month.clone()).collect();
    let series = |key: &str, values: Vec<u64>| json!({ "name": page.t(&format!("progress_{key}")), "data": values });
    let chart = bar_option(
        &months,
        vec![
            series("filed", p.months.iter().map(|m| m.filed).collect()),
            series("completed", p.months.iter().map(|m| m.completed).collect()),
            series("completed_at_home", p.months.iter().map(|m| m.completed_at_home).collect()),
            series("late", p.months.iter().map(|m| m.late).collect()),
        ],
        false,
        false,
    );
    let query = region.map(|r| format!("?region={r}")).unwrap_or_default();
    let sec = context! {
        name => "progress", id => "progress", table => table.view(), chart => minijinja::Value::from_serialize(&chart),
        csv => format!("/dashboard/progress.csv{query}"), xlsx => format!("/dashboard/progress.xlsx{query}"),
        empty => table.rows.is_empty(),
    };
    context! { sec, totals => minijinja::Value::from_serialize(&p.totals), as_of => p.as_of.to_string() }
}

async fn progress_file(State(state): State<AppState>, page: Page, Query(q): Query<DashQuery>, xlsx: bool) -> Response {
    if let Err(refused) = page.allow(Op::ReadDashboard) {
        return refused;
    }
    let catalog = match crate::app::catalog::load(&state.db).await {
        Ok(c) => c,
        Err(e) => return page.app_error(e),
    };
    match crate::app::progress::progress(&state.db, &page.caller, &q.progress(&catalog)).await {
        Ok(p) => {
            let table = progress_table(&page, &p);
            if xlsx {
                xlsx_download("progress.xlsx", "progress", &table.headers, table.xlsx_rows())
            } else {
                csv_download("progress.csv", &table.headers, &table.csv_rows())
            }
        }
        Err(e) => page.app_error(e),
    }
}

/// The same table as the CSV, as a workbook.
async fn xlsx(State(state): State<AppState>, page: Page, Query(q): Query<DashQuery>, name: &'static str) -> Response {
    if let Err(refused) = page.allow(Op::ReadDashboard) {
        return refused;
    }
    let data = match dashboard::load(&state.db, &page.caller).await {
        Ok(d) => d,
        Err(e) => return page.app_error(e),
    };
    let equipment = chosen_equipment(&data, &q);
    let table = section(&data, &page, name, &equipment).table;
    let rows = table.xlsx_rows();
    let file = if name == "heatmap" { format!("{name}-{equipment}.xlsx") } else { format!("{name}.xlsx") };
    xlsx_download(&file, name, &table.headers, rows)
}
