//! Plan assembly: assignments with their costs, a reason for every request left out,
//! and the saturated capacities with their shadow prices.

use std::collections::HashMap;

use crate::data::{Data, HOURS_EPS};
use crate::moves::{moves, settle};
use crate::types::{Assignment, Bottleneck, PLAN_FORMAT, Plan, PlanStatus, Reason, Unassigned};

/// Builds the plan from where each request is placed, computing every figure by the
/// rules so that the reported objective is exactly the validated one. A move of a
/// current booking that does not pay is undone first (see `moves.rs`): that never
/// raises the objective, so `bound` stays below it.
pub(crate) fn assemble(
    data: &Data,
    placement: &[Option<(usize, u32)>],
    bound: f64,
    shadow: &HashMap<(usize, usize, u32), f64>,
    seconds: f64,
) -> Plan {
    let inst = data.inst;
    let mut settled = placement.to_vec();
    settle(data, &mut settled);
    let placement = &settled[..];
    let mut objective = 0.0;
    let mut assignments = Vec::new();
    let mut unassigned = Vec::new();
    let mut load: HashMap<(usize, usize, u32), f64> = HashMap::new();
    for (r, req) in inst.requests.iter().enumerate() {
        match placement[r] {
            Some((l, s)) => {
                let t = data.reqs[r].test_type;
                let Some(fp) = data.footprint(t, l) else {
                    continue;
                };
                let end = s + fp.span - 1;
                let cost = data.booking_cost(r, l, s, end);
                objective += cost;
                let e = data.eq_of_type[t];
                for w in s..=end {
                    *load.entry((l, e, w)).or_insert(0.0) += fp.usage;
                }
                assignments.push(Assignment {
                    request: req.id.clone(),
                    lab: inst.labs[l].id.clone(),
                    start_week: s,
                    end_week: end,
                    late_weeks: data.late_weeks(r, end),
                    cost,
                });
            }
            None => objective += data.penalty(r),
        }
    }
    for (r, req) in inst.requests.iter().enumerate() {
        if placement[r].is_none() {
            let (reason, detail) = reason(data, r);
            unassigned.push(Unassigned { request: req.id.clone(), reason, detail });
        }
    }
    let mut bottlenecks: Vec<Bottleneck> = load
        .iter()
        .filter_map(|(&(l, e, w), &used)| {
            let cap = data.cap(l, e, w);
            (cap > 0.0 && used >= cap - HOURS_EPS).then(|| Bottleneck {
                lab: inst.labs[l].id.clone(),
                equipment: inst.equipment[e].code.clone(),
                week: w,
                used_hours: used,
                capacity_hours: cap,
                shadow_price: shadow.get(&(l, e, w)).copied().unwrap_or(0.0),
            })
        })
        .collect();
    bottlenecks.sort_by(|a, b| {
        b.shadow_price
            .total_cmp(&a.shadow_price)
            .then_with(|| (&a.lab, &a.equipment, a.week).cmp(&(&b.lab, &b.equipment, b.week)))
    });
    let bound = bound.min(objective);
    let gap = ((objective - bound) / objective.max(1.0)).max(0.0);
    let status = if gap <= 1e-9 { PlanStatus::Optimal } else { PlanStatus::Feasible };
    let has_current = data.current.iter().any(Option::is_some);
    let (moved, moves) = if has_current { moves(data, placement) } else { (0, Vec::new()) };
    Plan {
        format: PLAN_FORMAT.to_string(),
        status,
        objective,
        bound: if status == PlanStatus::Optimal { objective } else { bound },
        gap: if status == PlanStatus::Optimal { 0.0 } else { gap },
        solve_seconds: seconds,
        assignments,
        unassigned,
        bottlenecks,
        moved: has_current.then_some(moved),
        moves,
        deterministic: None,
    }
}

fn ids(data: &Data, labs: &[usize]) -> String {
    let names: Vec<&str> = labs.iter().take(6).map(|&l| data.inst.labs[l].id.as_str()).collect();
    let more = labs.len().saturating_sub(6);
    if more > 0 { format!("{} and {more} more", names.join(", ")) } else { names.join(", ") }
}

/// Why a request is left out, from the most basic cause to the least.
pub(crate) fn reason(data: &Data, r: usize) -> (Reason, String) {
    let inst = data.inst;
    let req = &data.reqs[r];
    let t = req.test_type;
    let ty = &inst.test_types[t];
    let eq = &inst.equipment[data.eq_of_type[t]].code;
    let offering = &data.type_labs[t];
    if offering.is_empty() {
        let accredited = &data.type_accredited[t];
        let detail = if accredited.is_empty() {
            format!("no lab is accredited for {} ({})", ty.code, ty.standard)
        } else {
            format!(
                "labs accredited for {} ({}) offer no {eq} capacity to the programme",
                ty.code,
                ids(data, accredited)
            )
        };
        return (Reason::NoAccreditedLab, detail);
    }
    let open: Vec<usize> = offering.iter().copied().filter(|l| !req.excluded.contains(l)).collect();
    if open.is_empty() {
        return (
            Reason::ExcludedByCompany,
            format!(
                "every lab accredited for {} with {eq} capacity is excluded by the company: {}",
                ty.code,
                ids(data, offering)
            ),
        );
    }
    let max_late = inst.weights.max_late_weeks;
    let fits_alone = open.iter().any(|&l| {
        let Some(fp) = data.footprint(t, l) else {
            return false;
        };
        let hi = (req.due + max_late + 1).saturating_sub(fp.span).min(data.weeks.saturating_sub(fp.span));
        fp.span <= data.weeks && (req.release..=hi).any(|s| data.rule_check(r, l, s).is_ok())
    });
    if !fits_alone {
        let last = (req.due + max_late).min(data.weeks.saturating_sub(1));
        return (
            Reason::NoCapacityInWindow,
            format!(
                "none of {} accredited labs ({}) can run {} h of {eq} between week {} and week {last} \
                 (release {}, due {}, at most {max_late} weeks late, horizon ends week {})",
                open.len(),
                ids(data, &open),
                ty.hours,
                req.release,
                req.release,
                req.due,
                data.weeks.saturating_sub(1)
            ),
        );
    }
    let cheapest = open.iter().map(|&l| (data.base_cost(r, l), l)).min_by(|a, b| a.0.total_cmp(&b.0));
    let detail = match cheapest {
        Some((c, l)) if c >= data.penalty(r) => format!(
            "every booking costs at least {c:.0} roubles (at {}), more than leaving it out ({:.0})",
            inst.labs[l].id,
            data.penalty(r)
        ),
        _ => format!(
            "{} accredited labs could run it in its window, but their {eq} capacity went to requests \
             that cost more to leave out (priority {}, penalty {:.0} roubles)",
            open.len(),
            req.priority,
            data.penalty(r)
        ),
    };
    (Reason::Outranked, detail)
}
