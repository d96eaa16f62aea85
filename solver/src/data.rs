//! The instance checked and indexed: codes resolved to positions, spans, weekly usage,
//! weekly capacities and assignment costs computed once by the rules of the model.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate, Weekday};

use crate::error::{InstanceError, InstanceProblem};
use crate::types::{INSTANCE_FORMAT, Instance};

/// Slack for comparing sums of fractional weekly hours against capacities.
pub(crate) const HOURS_EPS: f64 = 1e-6;

#[derive(Debug, Clone)]
pub(crate) struct Offer {
    pub price: f64,
    /// Hours one test may use per week here: min(equipment limit, base capacity).
    pub rate: f64,
    /// Capacity of each horizon week (override, else base).
    pub cap: Vec<f64>,
}

#[derive(Debug, Clone)]
pub(crate) struct LabData {
    pub region: usize,
    /// Indexed by equipment; `None` when the lab offers no capacity of that class.
    pub offers: Vec<Option<Offer>>,
    pub accredited: HashSet<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct ReqData {
    pub region: usize,
    pub test_type: usize,
    pub samples: f64,
    pub release: u32,
    pub due: u32,
    pub priority: f64,
    pub excluded: Vec<usize>,
}

/// A (test type, lab) pairing: how long the test runs there and what it uses per week.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Footprint {
    pub span: u32,
    pub usage: f64,
}

#[derive(Debug)]
pub(crate) struct Data<'a> {
    pub inst: &'a Instance,
    pub weeks: u32,
    pub eq_of_type: Vec<usize>,
    pub hours_of_type: Vec<f64>,
    pub labs: Vec<LabData>,
    /// Labs accredited for each test type that offer capacity of its equipment.
    pub type_labs: Vec<Vec<usize>>,
    /// Labs accredited for each test type, offering capacity or not.
    pub type_accredited: Vec<Vec<usize>>,
    pub dist: Vec<Vec<Option<f64>>>,
    pub reqs: Vec<ReqData>,
    /// The confirmed booking of each request, if any: (lab, start week).
    pub pinned: Vec<Option<(usize, u32)>>,
    /// The current (published, unconfirmed) booking of each request, if any.
    pub current: Vec<Option<(usize, u32)>>,
    pub lab_index: HashMap<&'a str, usize>,
    pub req_index: HashMap<&'a str, usize>,
    pub eq_index: HashMap<&'a str, usize>,
}

/// The ids of the instance resolved to positions.
struct Indexes<'a> {
    region: HashMap<&'a str, usize>,
    eq: HashMap<&'a str, usize>,
    test_type: HashMap<&'a str, usize>,
    lab: HashMap<&'a str, usize>,
    company: HashMap<&'a str, usize>,
    request: HashMap<&'a str, usize>,
}

impl<'a> Indexes<'a> {
    fn new(inst: &'a Instance, problems: &mut Vec<InstanceProblem>) -> Self {
        Indexes {
            region: index_of(&inst.regions, |r| r.code.as_str(), "region", problems),
            eq: index_of(&inst.equipment, |e| e.code.as_str(), "equipment", problems),
            test_type: index_of(&inst.test_types, |t| t.code.as_str(), "test type", problems),
            lab: index_of(&inst.labs, |l| l.id.as_str(), "lab", problems),
            company: index_of(&inst.companies, |c| c.id.as_str(), "company", problems),
            request: index_of(&inst.requests, |r| r.id.as_str(), "request", problems),
        }
    }
}

/// Format, horizon and weights.
fn check_header(inst: &Instance, problems: &mut Vec<InstanceProblem>) {
    if inst.format != INSTANCE_FORMAT {
        problems.push(InstanceProblem::Format(inst.format.clone()));
    }
    match NaiveDate::parse_from_str(&inst.horizon.start, "%Y-%m-%d") {
        Ok(d) if d.weekday() != Weekday::Mon => problems.push(InstanceProblem::HorizonNotMonday {
            start: inst.horizon.start.clone(),
            weekday: d.weekday().to_string(),
        }),
        Ok(_) => {}
        Err(_) => problems.push(InstanceProblem::BadDate(inst.horizon.start.clone())),
    }
    if inst.horizon.weeks == 0 {
        problems.push(InstanceProblem::EmptyHorizon);
    }
    let w = &inst.weights;
    for (name, v) in [
        ("tardiness_per_week", w.tardiness_per_week),
        ("transport_per_km", w.transport_per_km),
        ("unassigned", w.unassigned),
        ("move_lab", w.move_lab),
        ("move_week", w.move_week),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            problems.push(InstanceProblem::Negative { what: format!("weights.{name}"), value: v });
        }
    }
}

/// The symmetric distance matrix between regions; `None` where no distance is given.
fn distances(
    inst: &Instance,
    region_index: &HashMap<&str, usize>,
    problems: &mut Vec<InstanceProblem>,
) -> Vec<Vec<Option<f64>>> {
    let nreg = inst.regions.len();
    let mut dist = vec![vec![None; nreg]; nreg];
    for (i, row) in dist.iter_mut().enumerate() {
        row[i] = Some(0.0);
    }
    for d in &inst.distances {
        let ends = (region_index.get(d.from.as_str()), region_index.get(d.to.as_str()));
        for code in [&d.from, &d.to] {
            if !region_index.contains_key(code.as_str()) {
                problems.push(InstanceProblem::unknown("region", code, format!("distance {}–{}", d.from, d.to)));
            }
        }
        if !(d.km.is_finite() && d.km >= 0.0) {
            problems.push(InstanceProblem::Negative { what: format!("distance {}–{}", d.from, d.to), value: d.km });
        }
        if let (Some(&a), Some(&b)) = ends {
            dist[a][b] = Some(d.km);
            dist[b][a] = Some(d.km);
        }
    }
    dist
}

/// The equipment class and hours of each test type (`usize::MAX` for an unknown class).
fn test_types(
    inst: &Instance,
    eq_index: &HashMap<&str, usize>,
    problems: &mut Vec<InstanceProblem>,
) -> (Vec<usize>, Vec<f64>) {
    for e in &inst.equipment {
        if !(e.max_hours_per_test_week.is_finite() && e.max_hours_per_test_week > 0.0) {
            problems.push(InstanceProblem::Negative {
                what: format!("equipment {} max_hours_per_test_week", e.code),
                value: e.max_hours_per_test_week,
            });
        }
    }
    let mut eq_of_type = Vec::with_capacity(inst.test_types.len());
    let mut hours_of_type = Vec::with_capacity(inst.test_types.len());
    for t in &inst.test_types {
        match eq_index.get(t.equipment.as_str()) {
            Some(&e) => eq_of_type.push(e),
            None => {
                problems.push(InstanceProblem::unknown("equipment", &t.equipment, format!("test type {}", t.code)));
                eq_of_type.push(usize::MAX);
            }
        }
        if !(t.hours.is_finite() && t.hours > 0.0) {
            problems.push(InstanceProblem::Negative { what: format!("test type {} hours", t.code), value: t.hours });
        }
        hours_of_type.push(t.hours);
    }
    (eq_of_type, hours_of_type)
}

/// Each lab's region, offers (base capacity every week) and accreditation.
fn labs(inst: &Instance, idx: &Indexes, problems: &mut Vec<InstanceProblem>) -> Vec<LabData> {
    let weeks = inst.horizon.weeks;
    let neq = inst.equipment.len();
    let mut labs = Vec::with_capacity(inst.labs.len());
    for l in &inst.labs {
        let region = idx.region.get(l.region.as_str()).copied().unwrap_or_else(|| {
            problems.push(InstanceProblem::unknown("region", &l.region, format!("lab {}", l.id)));
            usize::MAX
        });
        let mut offers: Vec<Option<Offer>> = vec![None; neq];
        for c in &l.capacity {
            let Some(&e) = idx.eq.get(c.equipment.as_str()) else {
                problems.push(InstanceProblem::unknown("equipment", &c.equipment, format!("lab {} capacity", l.id)));
                continue;
            };
            for (what, v) in [("hours_per_week", c.hours_per_week), ("price_per_hour", c.price_per_hour)] {
                if !(v.is_finite() && v >= 0.0) {
                    problems.push(InstanceProblem::Negative {
                        what: format!("lab {} {} {what}", l.id, c.equipment),
                        value: v,
                    });
                }
            }
            if offers[e].is_some() {
                problems.push(InstanceProblem::Duplicate { kind: "capacity", id: format!("{} {}", l.id, c.equipment) });
            }
            // A class offered at zero base hours has no rate, so no test can run there.
            if c.hours_per_week > 0.0 {
                let max = inst.equipment[e].max_hours_per_test_week;
                offers[e] = Some(Offer {
                    price: c.price_per_hour,
                    rate: max.min(c.hours_per_week),
                    cap: vec![c.hours_per_week; weeks as usize],
                });
            }
        }
        let mut accredited = HashSet::new();
        for code in &l.accredited {
            match idx.test_type.get(code.as_str()) {
                Some(&t) => {
                    accredited.insert(t);
                }
                None => {
                    problems.push(InstanceProblem::unknown("test type", code, format!("lab {} accreditation", l.id)))
                }
            }
        }
        labs.push(LabData { region, offers, accredited });
    }
    labs
}

/// Puts each capacity override in its week.
fn apply_overrides(inst: &Instance, idx: &Indexes, labs: &mut [LabData], problems: &mut Vec<InstanceProblem>) {
    for o in &inst.capacity_overrides {
        let what = format!("capacity override {} {} week {}", o.lab, o.equipment, o.week);
        if !(o.hours_per_week.is_finite() && o.hours_per_week >= 0.0) {
            problems.push(InstanceProblem::Negative { what: what.clone(), value: o.hours_per_week });
        }
        let (Some(&l), Some(&e)) = (idx.lab.get(o.lab.as_str()), idx.eq.get(o.equipment.as_str())) else {
            if !idx.lab.contains_key(o.lab.as_str()) {
                problems.push(InstanceProblem::unknown("lab", &o.lab, what.clone()));
            }
            if !idx.eq.contains_key(o.equipment.as_str()) {
                problems.push(InstanceProblem::unknown("equipment", &o.equipment, what));
            }
            continue;
        };
        // Overrides past the horizon concern a later run; the lab may also have
        // closed a class it offers no base capacity for, which changes nothing.
        if let Some(offer) = labs[l].offers[e].as_mut()
            && let Some(c) = offer.cap.get_mut(o.week as usize)
        {
            *c = o.hours_per_week.max(0.0);
        }
    }
}

/// For each test type, the labs accredited for it that offer capacity of its class,
/// and all the labs accredited for it; both in lab order.
fn type_labs(ntypes: usize, labs: &[LabData], eq_of_type: &[usize]) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let mut offering = vec![Vec::new(); ntypes];
    let mut accredited = vec![Vec::new(); ntypes];
    for (li, lab) in labs.iter().enumerate() {
        let mut acc: Vec<usize> = lab.accredited.iter().copied().collect();
        acc.sort_unstable();
        for t in acc {
            accredited[t].push(li);
            if eq_of_type[t] != usize::MAX && lab.offers[eq_of_type[t]].is_some() {
                offering[t].push(li);
            }
        }
    }
    (offering, accredited)
}

/// Each request resolved; a distance must exist between its company and every lab
/// that could take it.
fn requests(
    inst: &Instance,
    idx: &Indexes,
    labs: &[LabData],
    type_labs: &[Vec<usize>],
    dist: &[Vec<Option<f64>>],
    problems: &mut Vec<InstanceProblem>,
) -> Vec<ReqData> {
    let mut company_region = Vec::with_capacity(inst.companies.len());
    for c in &inst.companies {
        company_region.push(idx.region.get(c.region.as_str()).copied().unwrap_or_else(|| {
            problems.push(InstanceProblem::unknown("region", &c.region, format!("company {}", c.id)));
            usize::MAX
        }));
    }
    let mut reqs = Vec::with_capacity(inst.requests.len());
    let mut missing_dist = HashSet::new();
    for r in &inst.requests {
        let region = match idx.company.get(r.company.as_str()) {
            Some(&c) => company_region[c],
            None => {
                problems.push(InstanceProblem::unknown("company", &r.company, format!("request {}", r.id)));
                usize::MAX
            }
        };
        let test_type = idx.test_type.get(r.test_type.as_str()).copied().unwrap_or_else(|| {
            problems.push(InstanceProblem::unknown("test type", &r.test_type, format!("request {}", r.id)));
            usize::MAX
        });
        if r.samples < 1 {
            problems.push(InstanceProblem::Invalid(format!("request {}: samples must be at least 1", r.id)));
        }
        if !(1..=3).contains(&r.priority) {
            problems
                .push(InstanceProblem::Invalid(format!("request {}: priority {} is not 1, 2 or 3", r.id, r.priority)));
        }
        let mut excluded = Vec::new();
        for l in &r.excluded_labs {
            match idx.lab.get(l.as_str()) {
                Some(&li) => excluded.push(li),
                None => problems.push(InstanceProblem::unknown("lab", l, format!("request {} excluded_labs", r.id))),
            }
        }
        if region != usize::MAX && test_type != usize::MAX {
            for &l in &type_labs[test_type] {
                let lr = labs[l].region;
                if lr != usize::MAX && dist[region][lr].is_none() && missing_dist.insert((region, lr)) {
                    problems.push(InstanceProblem::MissingDistance {
                        from: inst.regions[region].code.clone(),
                        to: inst.regions[lr].code.clone(),
                        request: r.id.clone(),
                    });
                }
            }
        }
        reqs.push(ReqData {
            region,
            test_type,
            samples: f64::from(r.samples),
            release: r.release_week,
            due: r.due_week,
            priority: f64::from(r.priority),
            excluded,
        });
    }
    reqs
}

impl<'a> Data<'a> {
    /// Resolves and checks everything the rules need; collects every problem found
    /// rather than stopping at the first, so one error names all offending ids.
    pub fn new(inst: &'a Instance) -> Result<Self, InstanceError> {
        let mut problems = Vec::new();
        check_header(inst, &mut problems);
        let idx = Indexes::new(inst, &mut problems);
        let dist = distances(inst, &idx.region, &mut problems);
        let (eq_of_type, hours_of_type) = test_types(inst, &idx.eq, &mut problems);
        let mut labs = labs(inst, &idx, &mut problems);
        apply_overrides(inst, &idx, &mut labs, &mut problems);
        let (type_labs, type_accredited) = type_labs(inst.test_types.len(), &labs, &eq_of_type);
        let reqs = requests(inst, &idx, &labs, &type_labs, &dist, &mut problems);
        if !problems.is_empty() {
            return Err(InstanceError { problems });
        }
        let mut data = Data {
            inst,
            weeks: inst.horizon.weeks,
            eq_of_type,
            hours_of_type,
            labs,
            type_labs,
            type_accredited,
            dist,
            reqs,
            pinned: vec![None; inst.requests.len()],
            current: vec![None; inst.requests.len()],
            lab_index: idx.lab,
            req_index: idx.request,
            eq_index: idx.eq,
        };
        data.check_pinned(&mut problems);
        data.check_current(&mut problems);
        if problems.is_empty() { Ok(data) } else { Err(InstanceError { problems }) }
    }

    /// A pinned booking is kept as is, so one that breaks a rule makes every plan
    /// invalid: refuse the instance and say which booking and which rule.
    fn check_pinned(&mut self, problems: &mut Vec<InstanceProblem>) {
        let inst = self.inst;
        let neq = inst.equipment.len();
        let mut load: HashMap<(usize, usize, u32), (f64, Vec<&str>)> = HashMap::new();
        for p in &inst.pinned {
            let broken = |rule: String| InstanceProblem::PinnedBreaksRule {
                request: p.request.clone(),
                lab: p.lab.clone(),
                start_week: p.start_week,
                rule,
            };
            let Some(&r) = self.req_index.get(p.request.as_str()) else {
                problems.push(InstanceProblem::unknown("request", &p.request, "pinned".to_string()));
                continue;
            };
            let Some(&l) = self.lab_index.get(p.lab.as_str()) else {
                problems.push(InstanceProblem::unknown("lab", &p.lab, format!("pinned booking of {}", p.request)));
                continue;
            };
            if self.pinned[r].is_some() {
                problems.push(broken("the request is pinned more than once".into()));
                continue;
            }
            match self.rule_check(r, l, p.start_week) {
                Ok(fp) => {
                    self.pinned[r] = Some((l, p.start_week));
                    let e = self.eq_of_type[self.reqs[r].test_type];
                    debug_assert!(e < neq);
                    for wk in p.start_week..p.start_week + fp.span {
                        let entry = load.entry((l, e, wk)).or_insert((0.0, Vec::new()));
                        entry.0 += fp.usage;
                        entry.1.push(p.request.as_str());
                    }
                }
                Err(rule) => problems.push(broken(rule)),
            }
        }
        let mut over: Vec<_> = load
            .into_iter()
            .filter_map(|((l, e, wk), (used, reqs))| {
                let cap = self.cap(l, e, wk);
                (used > cap + HOURS_EPS).then(|| InstanceProblem::PinnedOverCapacity {
                    lab: inst.labs[l].id.clone(),
                    equipment: inst.equipment[e].code.clone(),
                    week: wk,
                    used,
                    capacity: cap,
                    requests: reqs.iter().map(|s| s.to_string()).collect(),
                })
            })
            .collect();
        over.sort_by_key(|p| p.to_string());
        problems.extend(over);
    }

    /// A current booking must name a known request and lab, once, and not a pinned
    /// request. One that breaks a rule is no error: the request must move, paying its
    /// penalty.
    fn check_current(&mut self, problems: &mut Vec<InstanceProblem>) {
        for c in &self.inst.current {
            let Some(&r) = self.req_index.get(c.request.as_str()) else {
                problems.push(InstanceProblem::unknown("request", &c.request, "current".to_string()));
                continue;
            };
            let Some(&l) = self.lab_index.get(c.lab.as_str()) else {
                problems.push(InstanceProblem::unknown("lab", &c.lab, format!("current booking of {}", c.request)));
                continue;
            };
            if self.inst.pinned.iter().any(|p| p.request == c.request) {
                problems.push(InstanceProblem::PinnedAndCurrent { request: c.request.clone() });
            } else if self.current[r].is_some() {
                problems.push(InstanceProblem::CurrentTwice { request: c.request.clone() });
            } else {
                self.current[r] = Some((l, c.start_week));
            }
        }
    }

    /// Checks one assignment against every rule that concerns it alone (all but
    /// capacity shared with others) and names the first rule broken.
    pub fn rule_check(&self, r: usize, l: usize, start: u32) -> Result<Footprint, String> {
        let req = &self.reqs[r];
        let inst = self.inst;
        let t = req.test_type;
        let lab = &self.labs[l];
        let lab_id = &inst.labs[l].id;
        let type_code = &inst.test_types[t].code;
        if !lab.accredited.contains(&t) {
            return Err(format!("lab {lab_id} is not accredited for {type_code}"));
        }
        if req.excluded.contains(&l) {
            return Err(format!("lab {lab_id} is in the request's excluded_labs"));
        }
        let e = self.eq_of_type[t];
        let Some(fp) = self.footprint(t, l) else {
            return Err(format!("lab {lab_id} offers no capacity for equipment {}", inst.equipment[e].code));
        };
        if start < req.release {
            return Err(format!("start week {start} is before release week {}", req.release));
        }
        let end = start + fp.span - 1;
        if end >= self.weeks {
            return Err(format!("end week {end} is past the horizon (last week {})", self.weeks - 1));
        }
        let late = end.saturating_sub(req.due);
        if late > inst.weights.max_late_weeks {
            return Err(format!("{late} weeks late, more than max_late_weeks {}", inst.weights.max_late_weeks));
        }
        for wk in start..=end {
            let cap = self.cap(l, e, wk);
            if fp.usage > cap + HOURS_EPS {
                return Err(format!(
                    "needs {:.2} h of {} in week {wk} at lab {lab_id}, which has {cap}",
                    fp.usage, inst.equipment[e].code
                ));
            }
        }
        Ok(fp)
    }

    pub fn footprint(&self, t: usize, l: usize) -> Option<Footprint> {
        let offer = self.labs[l].offers[self.eq_of_type[t]].as_ref()?;
        let hours = self.hours_of_type[t];
        // The small slack keeps an exact multiple (e.g. 336 h at 168 h/week) from
        // rounding up to an extra week through floating-point noise.
        let span = ((hours / offer.rate) - 1e-9).ceil().max(1.0) as u32;
        Some(Footprint { span, usage: hours / f64::from(span) })
    }

    pub fn cap(&self, l: usize, e: usize, wk: u32) -> f64 {
        self.labs[l].offers[e].as_ref().and_then(|o| o.cap.get(wk as usize).copied()).unwrap_or(0.0)
    }

    /// The cost of placing request r at lab l when it is on time.
    pub fn base_cost(&self, r: usize, l: usize) -> f64 {
        let req = &self.reqs[r];
        let t = req.test_type;
        let offer_price = self.labs[l].offers[self.eq_of_type[t]].as_ref().map_or(0.0, |o| o.price);
        let km = self.dist[req.region][self.labs[l].region].unwrap_or(0.0);
        offer_price * self.hours_of_type[t] + self.inst.weights.transport_per_km * km * req.samples
    }

    pub fn late_weeks(&self, r: usize, end: u32) -> u32 {
        end.saturating_sub(self.reqs[r].due)
    }

    pub fn tardiness(&self, r: usize, end: u32) -> f64 {
        self.inst.weights.tardiness_per_week * self.reqs[r].priority * f64::from(self.late_weeks(r, end))
    }

    /// The objective term of leaving request r out: its penalty, and the move penalty
    /// when that drops a current booking.
    pub fn penalty(&self, r: usize) -> f64 {
        self.inst.weights.unassigned * self.reqs[r].priority + self.lab_move(r, usize::MAX)
    }

    /// The move term of request r at lab l that does not depend on the week:
    /// `move_lab` when r has a current booking at another lab (or l is none).
    pub fn lab_move(&self, r: usize, l: usize) -> f64 {
        match self.current[r] {
            Some((l0, _)) if l0 != l => self.inst.weights.move_lab,
            _ => 0.0,
        }
    }

    /// The move term of booking request r at lab l from week s.
    pub fn move_cost(&self, r: usize, l: usize, s: u32) -> f64 {
        match self.current[r] {
            Some((l0, s0)) if l0 == l => self.inst.weights.move_week * f64::from(s.abs_diff(s0)),
            Some(_) => self.inst.weights.move_lab,
            None => 0.0,
        }
    }

    /// The objective term of booking request r at lab l from week s to week `end`.
    pub fn booking_cost(&self, r: usize, l: usize, s: u32, end: u32) -> f64 {
        self.base_cost(r, l) + self.tardiness(r, end) + self.move_cost(r, l, s)
    }
}

fn index_of<'a, T>(
    items: &'a [T],
    key: impl Fn(&'a T) -> &'a str,
    kind: &'static str,
    problems: &mut Vec<InstanceProblem>,
) -> HashMap<&'a str, usize> {
    let mut map = HashMap::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        if map.insert(key(it), i).is_some() {
            problems.push(InstanceProblem::Duplicate { kind, id: key(it).to_string() });
        }
    }
    map
}
