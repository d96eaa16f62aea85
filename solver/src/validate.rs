//! Independent check of a plan against every rule, recomputing the objective from the
//! assignments alone (never trusting the plan's own figures).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::data::{Data, HOURS_EPS};
use crate::moves::{money_tolerance, moves};
use crate::types::{Instance, Move, PLAN_FORMAT, Plan, PlanStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// The objective recomputed by the rules from the plan's assignments.
    pub objective: f64,
    /// Every broken rule, each naming the ids concerned; empty for a valid plan.
    pub violations: Vec<String>,
}

impl ValidationReport {
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Money agrees when it differs by less than a kopeck per million roubles.
fn money_eq(a: f64, b: f64) -> bool {
    (a - b).abs() <= money_tolerance(a, b)
}

/// The plan moves a current booking only when that pays: each move's saving, by the
/// repair of `moves.rs` (docs/planning-model.md, "Stability"), is at least its penalty;
/// and the plan reports its moves as they are.
fn check_moves(data: &Data, plan: &Plan, placed: &[Option<(usize, u32)>], v: &mut Vec<String>) {
    if data.current.iter().all(Option::is_none) {
        return;
    }
    let (count, moves) = moves(data, placed);
    if plan.moved != Some(count) {
        v.push(format!("the plan reports {:?} moved bookings, it moves or drops {count}", plan.moved));
    }
    for m in &moves {
        let to =
            m.to.as_ref().map_or("nowhere (left out)".to_string(), |t| format!("{} from week {}", t.lab, t.start_week));
        if let Some(saving) = m.saving
            && saving < m.penalty - money_tolerance(saving, m.penalty)
        {
            v.push(format!(
                "request {} moves from {} week {} to {to}: the move costs {:.0} but saves only {saving:.0}",
                m.request, m.from.lab, m.from.start_week, m.penalty
            ));
        }
        let same = |r: &Move| {
            r.from == m.from
                && r.to == m.to
                && money_eq(r.penalty, m.penalty)
                && match (r.saving, m.saving) {
                    (Some(a), Some(b)) => money_eq(a, b),
                    (None, None) => true,
                    _ => false,
                }
        };
        match plan.moves.iter().find(|r| r.request == m.request) {
            Some(r) if same(r) => {}
            Some(r) => v.push(format!("the plan reports the move of {} as {r:?}; the rules give {m:?}", m.request)),
            None => v.push(format!("the plan does not report the move of {}", m.request)),
        }
    }
    for r in &plan.moves {
        if !moves.iter().any(|m| m.request == r.request) {
            v.push(format!("the plan reports a move of {} that it does not make", r.request));
        }
    }
}

pub fn validate(instance: &Instance, plan: &Plan) -> ValidationReport {
    let data = match Data::new(instance) {
        Ok(d) => d,
        Err(e) => {
            return ValidationReport { objective: f64::NAN, violations: vec![e.to_string()] };
        }
    };
    let mut v = Vec::new();
    if plan.format != PLAN_FORMAT {
        v.push(format!("plan format is {:?}, expected {PLAN_FORMAT:?}", plan.format));
    }
    let mut objective = 0.0;
    let mut seen: HashSet<usize> = HashSet::new();
    let mut load: HashMap<(usize, usize, u32), f64> = HashMap::new();
    let mut placed: Vec<Option<(usize, u32)>> = vec![None; instance.requests.len()];
    for a in &plan.assignments {
        let Some(&r) = data.req_index.get(a.request.as_str()) else {
            v.push(format!("assignment of unknown request {}", a.request));
            continue;
        };
        if !seen.insert(r) {
            v.push(format!("request {} is assigned more than once", a.request));
            continue;
        }
        let Some(&l) = data.lab_index.get(a.lab.as_str()) else {
            v.push(format!("request {} is assigned to unknown lab {}", a.request, a.lab));
            continue;
        };
        let fp = match data.rule_check(r, l, a.start_week) {
            Ok(fp) => fp,
            Err(rule) => {
                v.push(format!("request {} at {} from week {}: {rule}", a.request, a.lab, a.start_week));
                match data.footprint(data.reqs[r].test_type, l) {
                    Some(fp) => fp,
                    None => {
                        // No span without capacity: count what the rules can still price.
                        objective += data.booking_cost(r, l, a.start_week, a.end_week);
                        placed[r] = Some((l, a.start_week));
                        continue;
                    }
                }
            }
        };
        let end = a.start_week + fp.span - 1;
        let late = data.late_weeks(r, end);
        if a.end_week != end {
            v.push(format!("request {}: end_week is {}, the rules give {end}", a.request, a.end_week));
        }
        if a.late_weeks != late {
            v.push(format!("request {}: late_weeks is {}, the rules give {late}", a.request, a.late_weeks));
        }
        let cost = data.booking_cost(r, l, a.start_week, end);
        if !money_eq(a.cost, cost) {
            v.push(format!("request {}: cost is {}, the rules give {cost}", a.request, a.cost));
        }
        objective += cost;
        placed[r] = Some((l, a.start_week));
        let e = data.eq_of_type[data.reqs[r].test_type];
        for wk in a.start_week..=end.min(data.weeks.saturating_sub(1)) {
            *load.entry((l, e, wk)).or_insert(0.0) += fp.usage;
        }
    }
    let mut listed: HashSet<usize> = HashSet::new();
    for u in &plan.unassigned {
        let Some(&r) = data.req_index.get(u.request.as_str()) else {
            v.push(format!("unknown request {} listed as unassigned", u.request));
            continue;
        };
        if seen.contains(&r) {
            v.push(format!("request {} is both assigned and listed as unassigned", u.request));
            continue;
        }
        if !listed.insert(r) {
            v.push(format!("request {} is listed as unassigned more than once", u.request));
            continue;
        }
        if u.detail.trim().is_empty() {
            v.push(format!("unassigned request {} has no detail for its reason", u.request));
        }
        objective += data.penalty(r);
    }
    for (r, req) in instance.requests.iter().enumerate() {
        if !seen.contains(&r) && !listed.contains(&r) {
            v.push(format!("request {} is neither assigned nor listed as unassigned", req.id));
            objective += data.penalty(r);
        }
        if let Some((l, s)) = data.pinned[r]
            && placed[r] != Some((l, s))
        {
            v.push(format!(
                "request {} is pinned at {} from week {s} but the plan does not keep it",
                req.id, instance.labs[l].id
            ));
        }
    }
    let rules_hold = v.is_empty();
    let mut over: Vec<_> = load
        .iter()
        .filter_map(|(&(l, e, wk), &used)| {
            let cap = data.cap(l, e, wk);
            (used > cap + HOURS_EPS).then(|| {
                format!(
                    "lab {} {} week {wk}: {used:.2} h used, capacity {cap}",
                    instance.labs[l].id, instance.equipment[e].code
                )
            })
        })
        .collect();
    over.sort();
    v.extend(over);

    if rules_hold && v.is_empty() {
        check_moves(&data, plan, &placed, &mut v);
    }
    if !money_eq(plan.objective, objective) {
        v.push(format!("plan objective is {}, the rules give {objective}", plan.objective));
    }
    if plan.status == PlanStatus::Error {
        v.push("plan status is error".to_string());
    }
    if plan.bound > plan.objective + 1e-6 * plan.objective.abs().max(1.0) {
        v.push(format!("bound {} is above the objective {}", plan.bound, plan.objective));
    }
    let gap = (plan.objective - plan.bound) / plan.objective.max(1.0);
    if (plan.gap - gap).abs() > 1e-6 {
        v.push(format!("gap is {}, (objective − bound)/max(1, objective) is {gap}", plan.gap));
    }
    if plan.status == PlanStatus::Optimal && gap > 1e-6 {
        v.push(format!("status is optimal but the gap is {gap}"));
    }
    for b in &plan.bottlenecks {
        let (Some(&l), Some(&e)) = (data.lab_index.get(b.lab.as_str()), data.eq_index.get(b.equipment.as_str())) else {
            v.push(format!("bottleneck names unknown lab {} or equipment {}", b.lab, b.equipment));
            continue;
        };
        let used = load.get(&(l, e, b.week)).copied().unwrap_or(0.0);
        if (used - b.used_hours).abs() > 1e-3 || (data.cap(l, e, b.week) - b.capacity_hours).abs() > 1e-3 {
            v.push(format!(
                "bottleneck {} {} week {}: reports {} of {} h, the plan uses {used:.2} of {}",
                b.lab,
                b.equipment,
                b.week,
                b.used_hours,
                b.capacity_hours,
                data.cap(l, e, b.week)
            ));
        }
    }
    ValidationReport { objective, violations: v }
}
