//! What the ministry's figures are made of: the open demand (counted by the database as
//! requests change, see `db::tallies`), the capacity, and the published plan, read once
//! per view. No view reads every request.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use chrono::NaiveDate;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::policy::Op;
use super::{AppResult, require};
use crate::db::catalog::Catalog;
use crate::db::tallies::{self, DemandCount, DemandFilter, week_of};
use crate::db::{plans, runs};
use crate::domain::access::Caller;
use crate::domain::horizon::Horizon;
use crate::domain::status::{Reason, RequestStatus};
use crate::entities::{capacities, plan_assignments, plan_bottlenecks, plan_unassigned, planning_runs, test_requests};

/// Requests still to be tested and figured on the dashboard.
const OPEN: [RequestStatus; 4] =
    [RequestStatus::Submitted, RequestStatus::Planned, RequestStatus::Confirmed, RequestStatus::Unplaceable];

pub struct Data {
    pub catalog: Catalog,
    pub horizon: Horizon,
    pub run: Option<planning_runs::Model>,
    /// Open requests ready within the horizon, by the company's region and test type:
    /// counted by the database as they change, never by reading the requests.
    pub demand: Vec<DemandCount>,
    /// The published plan's open requests, by id: only these are read row by row.
    pub planned: HashMap<String, test_requests::Model>,
    pub capacities: Vec<capacities::Model>,
    /// (lab, equipment, week) → that week's hours instead of the base ones.
    pub overrides: HashMap<(String, String, u32), f64>,
    pub assigned: Vec<plan_assignments::Model>,
    pub unassigned: Vec<plan_unassigned::Model>,
    pub bottlenecks: Vec<plan_bottlenecks::Model>,
    /// The horizon's weeks the figures count (all of them unless a period is asked for).
    pub weeks: Range<u32>,
}

pub async fn load<C: ConnectionTrait>(db: &C, caller: &Caller) -> AppResult<Data> {
    load_due(db, caller, None, None).await
}

/// The figures' data, the demand narrowed to requests due in the weeks from `due_from`
/// to `due_to`.
async fn load_due<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    due_from: Option<NaiveDate>,
    due_to: Option<NaiveDate>,
) -> AppResult<Data> {
    require(caller, Op::ReadDashboard)?;
    let catalog = Catalog::load(db).await?;
    let run = runs::published(db).await?;
    let horizon = match &run {
        Some(run) => super::runs::horizon_of(run),
        None => super::runs::default_horizon(db).await?,
    };
    let end = horizon.end();
    let filter = DemandFilter { statuses: &OPEN, ready_before: end + chrono::Days::new(1), due_from, due_to };
    let demand = tallies::demand(db, &filter).await?;
    let (capacities, overrides) = super::labs::all_capacity(db, horizon.start, end).await?;
    let overrides = overrides
        .into_iter()
        .filter_map(|o| {
            let week = u32::try_from((o.week_start - horizon.start).num_days() / 7).ok()?;
            Some(((o.lab, o.equipment, week), f64::from(o.hours_per_week)))
        })
        .collect();
    let (assigned, unassigned, bottlenecks, planned) = match &run {
        Some(run) => (
            plans::assignments(db, run.id).await?,
            plans::unassigned(db, run.id).await?,
            plans::bottlenecks(db, run.id).await?,
            plans::requests_of(db, run.id, &OPEN, end).await?,
        ),
        None => Default::default(),
    };
    let planned = planned
        .into_iter()
        .filter(|r| due_from.is_none_or(|d| week_of(r.due_date) >= week_of(d)))
        .filter(|r| due_to.is_none_or(|d| week_of(r.due_date) <= week_of(d)))
        .map(|r| (r.id.clone(), r))
        .collect();
    let weeks = 0..horizon.weeks;
    Ok(Data { catalog, horizon, run, demand, planned, capacities, overrides, assigned, unassigned, bottlenecks, weeks })
}

impl Data {
    pub fn week_capacity(&self, c: &capacities::Model, week: u32) -> f64 {
        self.overrides
            .get(&(c.lab.clone(), c.equipment.clone(), week))
            .copied()
            .unwrap_or_else(|| f64::from(c.hours_per_week))
    }

    /// A capacity row's hours over the weeks counted.
    pub fn capacity_in_horizon(&self, c: &capacities::Model) -> f64 {
        self.weeks.clone().map(|w| self.week_capacity(c, w)).sum()
    }

    pub fn hours_of(&self, test_type: &str) -> f64 {
        self.catalog.test_types.get(test_type).map_or(0.0, |t| f64::from(t.hours))
    }

    /// Test hours one demand count needs.
    pub fn demand_hours(&self, d: &DemandCount) -> f64 {
        d.n as f64 * self.hours_of(&d.test_type)
    }

    /// How many open requests the demand counts.
    pub fn requests(&self) -> u64 {
        self.demand.iter().map(|d| u64::try_from(d.n).unwrap_or(0)).sum()
    }

    pub fn equipment_of(&self, test_type: &str) -> Option<&str> {
        self.catalog.test_types.get(test_type).map(|t| t.equipment.as_str())
    }

    pub fn company_region(&self, company: &str) -> Option<&str> {
        self.catalog.companies.get(company).map(|c| c.region.as_str())
    }

    fn lab_region(&self, lab: &str) -> Option<&str> {
        self.catalog.labs.get(lab).map(|l| l.region.as_str())
    }

    /// The figures of one region (its companies' demand, its labs' capacity), one
    /// equipment class, one test type (and its equipment class's capacity) and one period
    /// (the weeks it covers; the requests due in it).
    fn filtered(mut self, q: &FigureQuery) -> Data {
        let equipment =
            q.equipment.clone().or_else(|| q.test_type.as_ref().and_then(|t| self.equipment_of(t).map(str::to_string)));
        let first = q.from.map_or(0, |d| {
            self.horizon.week_of(d).unwrap_or(if d < self.horizon.start { 0 } else { self.horizon.weeks })
        });
        let last = q.to.map_or(self.horizon.weeks, |d| {
            self.horizon.week_of(d).map_or(if d < self.horizon.start { 0 } else { self.horizon.weeks }, |w| w + 1)
        });
        self.weeks = first..last.max(first);
        let wanted = |data: &Data, test_type: &str, company_region: Option<&str>| {
            q.test_type.as_ref().is_none_or(|t| t == test_type)
                && equipment.as_ref().is_none_or(|e| data.equipment_of(test_type) == Some(e.as_str()))
                && q.region.as_ref().is_none_or(|g| company_region == Some(g.as_str()))
        };
        let demand = std::mem::take(&mut self.demand);
        self.demand = demand.into_iter().filter(|d| wanted(&self, &d.test_type, Some(&d.region))).collect();
        let planned = std::mem::take(&mut self.planned);
        self.planned =
            planned.into_iter().filter(|(_, r)| wanted(&self, &r.test_type, self.company_region(&r.company))).collect();
        let planned = &self.planned;
        self.assigned.retain(|a| planned.contains_key(&a.request));
        self.unassigned.retain(|u| planned.contains_key(&u.request));
        let in_scope = |data: &Data, lab: &str, eq: &str| {
            equipment.as_ref().is_none_or(|e| e == eq)
                && q.region.as_ref().is_none_or(|g| data.lab_region(lab) == Some(g.as_str()))
        };
        let capacities = std::mem::take(&mut self.capacities);
        self.capacities = capacities.into_iter().filter(|c| in_scope(&self, &c.lab, &c.equipment)).collect();
        let bottlenecks = std::mem::take(&mut self.bottlenecks);
        let weeks = self.weeks.clone();
        self.bottlenecks = bottlenecks
            .into_iter()
            .filter(|b| in_scope(&self, &b.lab, &b.equipment))
            .filter(|b| u32::try_from(b.week).is_ok_and(|w| weeks.contains(&w)))
            .collect();
        self
    }
}

/// Extra weekly hours the "where capacity helps" estimate adds.
pub const EXTRA_HOURS: f64 = 40.0;
/// How many lab × equipment pairs the ranking keeps.
pub const TOP: usize = 15;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FigureQuery {
    /// Region: of the requesting companies for demand, of the labs for capacity
    pub region: Option<String>,
    /// Equipment class
    pub equipment: Option<String>,
    /// Test type (capacity: its equipment class)
    pub test_type: Option<String>,
    /// First day of the period: the weeks of the published plan's horizon from it, the
    /// requests due in its week or later
    pub from: Option<NaiveDate>,
    /// Last day of the period: the requests due in its week or earlier
    pub to: Option<NaiveDate>,
    /// json (default), csv or xlsx
    pub format: Option<String>,
}

/// Loads the figures' data for `q`, refusing unknown codes and a reversed period.
pub async fn load_filtered<C: ConnectionTrait>(db: &C, caller: &Caller, q: &FigureQuery) -> AppResult<Data> {
    let data = load_due(db, caller, q.from, q.to).await?;
    super::progress::check_filters(&data.catalog, &q.region, &q.equipment, &q.test_type, q.from, q.to)?;
    Ok(data.filtered(q))
}

/// Demand against capacity for one key (an equipment class or a region).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DemandRow {
    /// Equipment class or region code
    pub key: String,
    /// Test hours the open requests need
    pub demand_hours: f64,
    /// Equipment hours the labs offer in the weeks counted
    pub capacity_hours: f64,
    /// Demand in percent of capacity; none without capacity
    pub ratio_percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Demand {
    pub by_equipment: Vec<DemandRow>,
    /// Demand by the companies' region against capacity by the labs' region
    pub by_region: Vec<DemandRow>,
}

/// `part` in percent of `whole`; none when there is no whole.
pub fn percent_of(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| part / whole * 100.0)
}

fn against(codes: Vec<String>, demand: &BTreeMap<&str, f64>, capacity: &BTreeMap<&str, f64>) -> Vec<DemandRow> {
    codes
        .into_iter()
        .map(|key| {
            let d = demand.get(key.as_str()).copied().unwrap_or(0.0);
            let c = capacity.get(key.as_str()).copied().unwrap_or(0.0);
            DemandRow { ratio_percent: percent_of(d, c), key, demand_hours: d, capacity_hours: c }
        })
        .collect()
}

pub fn demand_by_equipment(data: &Data) -> Vec<DemandRow> {
    let mut demand: BTreeMap<&str, f64> = BTreeMap::new();
    for d in &data.demand {
        if let Some(eq) = data.equipment_of(&d.test_type) {
            *demand.entry(eq).or_default() += data.demand_hours(d);
        }
    }
    let mut capacity: BTreeMap<&str, f64> = BTreeMap::new();
    for c in &data.capacities {
        *capacity.entry(c.equipment.as_str()).or_default() += data.capacity_in_horizon(c);
    }
    against(data.catalog.equipment.keys().cloned().collect(), &demand, &capacity)
}

pub fn demand_by_region(data: &Data) -> Vec<DemandRow> {
    let mut demand: BTreeMap<&str, f64> = BTreeMap::new();
    for d in &data.demand {
        *demand.entry(d.region.as_str()).or_default() += data.demand_hours(d);
    }
    let mut capacity: BTreeMap<&str, f64> = BTreeMap::new();
    for c in &data.capacities {
        if let Some(region) = data.lab_region(&c.lab) {
            *capacity.entry(region).or_default() += data.capacity_in_horizon(c);
        }
    }
    against(data.catalog.regions.keys().cloned().collect(), &demand, &capacity)
}

/// One lab's hours of one equipment class: offered, and booked by the published plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CapacityRow {
    pub lab: String,
    pub region: String,
    pub equipment: String,
    pub capacity_hours: f64,
    /// Hours of the published plan's bookings of this class at this lab
    pub planned_hours: f64,
    /// Planned in percent of capacity; none without capacity
    pub utilisation_percent: Option<f64>,
}

pub fn capacity(data: &Data) -> Vec<CapacityRow> {
    let mut planned: HashMap<(&str, &str), f64> = HashMap::new();
    for a in &data.assigned {
        let Some(r) = data.planned.get(&a.request) else { continue };
        let started = u32::try_from(a.start_week).is_ok_and(|w| data.weeks.contains(&w));
        if let (Some(eq), true) = (data.equipment_of(&r.test_type), started) {
            *planned.entry((a.lab.as_str(), eq)).or_default() += data.hours_of(&r.test_type);
        }
    }
    data.capacities
        .iter()
        .map(|c| {
            let capacity_hours = data.capacity_in_horizon(c);
            let planned_hours = planned.get(&(c.lab.as_str(), c.equipment.as_str())).copied().unwrap_or(0.0);
            CapacityRow {
                lab: c.lab.clone(),
                region: data.lab_region(&c.lab).unwrap_or_default().to_string(),
                equipment: c.equipment.clone(),
                capacity_hours,
                planned_hours,
                utilisation_percent: percent_of(planned_hours, capacity_hours),
            }
        })
        .collect()
}

/// Requests the published plan leaves out, by reason, and those it places late, for one
/// group (a region or a test type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnmetRow {
    /// Region or test type code
    pub key: String,
    pub no_accredited_lab: u64,
    pub excluded_by_company: u64,
    pub no_capacity_in_window: u64,
    pub outranked: u64,
    pub late: u64,
    pub total: u64,
}

impl UnmetRow {
    /// The counts in the order of `Reason::ALL`, then late.
    pub fn counts(&self) -> [u64; 5] {
        [self.no_accredited_lab, self.excluded_by_company, self.no_capacity_in_window, self.outranked, self.late]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Unmet {
    pub by_region: Vec<UnmetRow>,
    pub by_test_type: Vec<UnmetRow>,
}

/// Groups with any unmet or late request, most first.
pub fn unmet_by(data: &Data, by_region: bool) -> Vec<UnmetRow> {
    let mut counts: BTreeMap<String, [u64; 5]> = BTreeMap::new();
    let group_of = |request: &str| -> Option<String> {
        let r = data.planned.get(request)?;
        if by_region { data.company_region(&r.company).map(str::to_string) } else { Some(r.test_type.clone()) }
    };
    for u in &data.unassigned {
        let Some(group) = group_of(&u.request) else { continue };
        let at = Reason::ALL.iter().position(|r| *r == u.reason).unwrap_or(Reason::ALL.len() - 1);
        counts.entry(group).or_default()[at] += 1;
    }
    for a in data.assigned.iter().filter(|a| a.late_weeks > 0) {
        let Some(group) = group_of(&a.request) else { continue };
        counts.entry(group).or_default()[4] += 1;
    }
    let mut rows: Vec<UnmetRow> = counts
        .into_iter()
        .map(|(key, c)| UnmetRow {
            key,
            no_accredited_lab: c[0],
            excluded_by_company: c[1],
            no_capacity_in_window: c[2],
            outranked: c[3],
            late: c[4],
            total: c.iter().sum(),
        })
        .collect();
    rows.sort_by(|a, b| b.total.cmp(&a.total).then(a.key.cmp(&b.key)));
    rows
}

/// A lab × equipment pair whose capacity binds in the published plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BottleneckRow {
    pub lab: String,
    pub equipment: String,
    /// Weeks in which its capacity binds (positive shadow price)
    pub binding_weeks: u32,
    /// Σ of its shadow prices over those weeks, roubles per hour
    pub shadow_price_sum: f64,
    /// First-order saving of 40 more hours in each of those weeks
    pub saving_of_40_hours: f64,
}

/// The pairs whose capacity binds hardest, hardest first (at most [`TOP`]).
pub fn bottlenecks(data: &Data) -> Vec<BottleneckRow> {
    let mut pairs: BTreeMap<(&str, &str), (f64, u32)> = BTreeMap::new();
    for b in data.bottlenecks.iter().filter(|b| b.shadow_price > 0.0) {
        let e = pairs.entry((b.lab.as_str(), b.equipment.as_str())).or_default();
        e.0 += b.shadow_price;
        e.1 += 1;
    }
    let mut top: Vec<_> = pairs.into_iter().collect();
    top.sort_by(|a, b| b.1.0.total_cmp(&a.1.0).then(a.0.cmp(&b.0)));
    top.truncate(TOP);
    top.into_iter()
        .map(|((lab, eq), (sum, weeks))| BottleneckRow {
            lab: lab.to_string(),
            equipment: eq.to_string(),
            binding_weeks: weeks,
            shadow_price_sum: sum,
            saving_of_40_hours: EXTRA_HOURS * sum,
        })
        .collect()
}
