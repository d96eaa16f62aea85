//! What-if scenarios: a list of changes applied to a copy of the registry's planning
//! instance (never to the registry), and the figures of a plan that an analyst compares.

use std::collections::{BTreeMap, HashMap, HashSet};

use labplan_solver::{self as solver, Instance, Plan};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Errors, Kind, Msg};

/// The most changes one scenario holds.
pub const MAX_CHANGES: usize = 50;
/// Demand may be scaled down to nothing or up to five times.
pub const MAX_FACTOR: f64 = 5.0;

/// One change to the registry as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// Hours added to (or, negative, taken from) a lab's weekly capacity of an equipment
    /// class, from a week to a week (both 0-based, inclusive; `to_week` absent: to the end).
    /// A lab without that class gets it, at `price_per_hour` (default: the class's median).
    Capacity {
        lab: String,
        equipment: String,
        hours_per_week: f64,
        #[serde(default)]
        from_week: u32,
        #[serde(default)]
        to_week: Option<u32>,
        #[serde(default)]
        price_per_hour: Option<f64>,
    },
    /// A new lab in a region, with its accreditation scope and capacity, open from a week.
    NewLab {
        id: String,
        name: String,
        region: String,
        accredited: Vec<String>,
        capacity: Vec<NewCapacity>,
        #[serde(default)]
        from_week: u32,
    },
    /// A lab that takes no more tests from a week on.
    CloseLab {
        lab: String,
        #[serde(default)]
        from_week: u32,
    },
    /// Demand of an equipment class and/or a region's companies scaled by a factor:
    /// above 1 by copies of existing requests, below 1 by leaving some out, both chosen
    /// in id order so the same scenario always gives the same instance.
    Demand {
        #[serde(default)]
        equipment: Option<String>,
        #[serde(default)]
        region: Option<String>,
        factor: f64,
    },
    /// Other objective weights.
    Weights {
        #[serde(default)]
        tardiness_per_week: Option<f64>,
        #[serde(default)]
        transport_per_km: Option<f64>,
        #[serde(default)]
        unassigned: Option<f64>,
        #[serde(default)]
        move_lab: Option<f64>,
        #[serde(default)]
        move_week: Option<f64>,
    },
}

/// A class a new lab offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCapacity {
    pub equipment: String,
    pub hours_per_week: f64,
    pub price_per_hour: f64,
}

/// The changes applied to a copy of `base`; every bad change is named, and then nothing
/// is applied.
pub fn apply(base: &Instance, changes: &[Change]) -> Result<Instance, Vec<super::FieldError>> {
    let mut e = Errors::default();
    if changes.len() > MAX_CHANGES {
        e.push("changes", Msg::Range(0, MAX_CHANGES as i64));
        return Err(e.into_vec());
    }
    let mut instance = base.clone();
    for (i, change) in changes.iter().enumerate() {
        let field = format!("changes[{i}]");
        apply_one(&mut instance, change, &field, &mut e);
    }
    e.finish()?;
    // What the changes make must still be an instance the planning model takes (a new
    // lab's region needs its road distances, say).
    if let Err(invalid) = instance.check() {
        return Err(vec![super::FieldError::new("changes", Msg::Invalid(invalid.to_string()))]);
    }
    Ok(instance)
}

fn weeks(instance: &Instance, from: u32, to: Option<u32>) -> std::ops::RangeInclusive<u32> {
    let last = instance.horizon.weeks.saturating_sub(1);
    from..=to.unwrap_or(last).min(last)
}

/// The hours of a lab's class in a week: the override, else the base, else none.
pub fn week_hours(instance: &Instance, lab: &str, equipment: &str, week: u32) -> f64 {
    instance
        .capacity_overrides
        .iter()
        .find(|o| o.lab == lab && o.equipment == equipment && o.week == week)
        .map(|o| o.hours_per_week)
        .or_else(|| {
            let lab = instance.labs.iter().find(|l| l.id == lab)?;
            lab.capacity.iter().find(|c| c.equipment == equipment).map(|c| c.hours_per_week)
        })
        .unwrap_or(0.0)
}

fn set_week(instance: &mut Instance, lab: &str, equipment: &str, week: u32, hours: f64) {
    match instance.capacity_overrides.iter_mut().find(|o| o.lab == lab && o.equipment == equipment && o.week == week) {
        Some(o) => o.hours_per_week = hours,
        None => instance.capacity_overrides.push(solver::CapacityOverride {
            lab: lab.to_string(),
            equipment: equipment.to_string(),
            week,
            hours_per_week: hours,
        }),
    }
}

fn median_price(instance: &Instance, equipment: &str) -> f64 {
    let mut prices: Vec<f64> = instance
        .labs
        .iter()
        .flat_map(|l| l.capacity.iter())
        .filter(|c| c.equipment == equipment)
        .map(|c| c.price_per_hour)
        .collect();
    prices.sort_by(f64::total_cmp);
    prices.get(prices.len() / 2).copied().unwrap_or(0.0)
}

fn check_week(instance: &Instance, field: &str, week: u32, e: &mut Errors) -> bool {
    let ok = week < instance.horizon.weeks;
    e.check(field, ok, Msg::Range(0, i64::from(instance.horizon.weeks) - 1));
    ok
}

fn apply_one(instance: &mut Instance, change: &Change, field: &str, e: &mut Errors) {
    let has_lab = |i: &Instance, id: &str| i.labs.iter().any(|l| l.id == id);
    let has_equipment = |i: &Instance, code: &str| i.equipment.iter().any(|q| q.code == code);
    match change {
        Change::Capacity { lab, equipment, hours_per_week, from_week, to_week, price_per_hour } => {
            let mut ok = true;
            if !has_lab(instance, lab) {
                e.push(format!("{field}.lab"), Msg::Unknown(Kind::Lab, lab.clone()));
                ok = false;
            }
            if !has_equipment(instance, equipment) {
                e.push(format!("{field}.equipment"), Msg::Unknown(Kind::Equipment, equipment.clone()));
                ok = false;
            }
            // A hundred machines round the clock is beyond any real lab: a typo, not a plan.
            let in_range = hours_per_week.is_finite() && hours_per_week.abs() <= 168.0 * 100.0;
            e.check(&format!("{field}.hours_per_week"), in_range, Msg::Range(-16800, 16800));
            ok &= in_range;
            ok &= check_week(instance, &format!("{field}.from_week"), *from_week, e);
            if let Some(to) = to_week {
                ok &= check_week(instance, &format!("{field}.to_week"), *to, e);
            }
            if !ok {
                return;
            }
            let price = price_per_hour.unwrap_or_else(|| median_price(instance, equipment));
            if let Some(l) = instance.labs.iter_mut().find(|l| l.id == *lab)
                && !l.capacity.iter().any(|c| c.equipment == *equipment)
            {
                // A new class at this lab: its base is the added hours, closed before `from_week`.
                l.capacity.push(solver::Capacity {
                    equipment: equipment.clone(),
                    hours_per_week: hours_per_week.max(0.0),
                    price_per_hour: price,
                });
                for w in 0..*from_week {
                    set_week(instance, lab, equipment, w, 0.0);
                }
                for w in weeks(instance, *from_week, *to_week) {
                    set_week(instance, lab, equipment, w, hours_per_week.max(0.0));
                }
                let end = to_week.map_or(instance.horizon.weeks, |t| t + 1);
                for w in end..instance.horizon.weeks {
                    set_week(instance, lab, equipment, w, 0.0);
                }
                return;
            }
            for w in weeks(instance, *from_week, *to_week) {
                let hours = (week_hours(instance, lab, equipment, w) + hours_per_week).max(0.0);
                set_week(instance, lab, equipment, w, hours);
            }
        }
        Change::NewLab { id, name, region, accredited, capacity, from_week } => {
            let mut ok = true;
            if super::Code::parse(id).is_err() || has_lab(instance, id) {
                e.push(format!("{field}.id"), if has_lab(instance, id) { Msg::Duplicate } else { Msg::CodeChars });
                ok = false;
            }
            if super::parse_name(name).is_err() {
                e.push(format!("{field}.name"), Msg::Required);
                ok = false;
            }
            if !instance.regions.iter().any(|r| r.code == *region) {
                e.push(format!("{field}.region"), Msg::Unknown(Kind::Region, region.clone()));
                ok = false;
            }
            for (j, t) in accredited.iter().enumerate() {
                if !instance.test_types.iter().any(|x| x.code == *t) {
                    e.push(format!("{field}.accredited[{j}]"), Msg::Unknown(Kind::TestType, t.clone()));
                    ok = false;
                }
            }
            for (j, c) in capacity.iter().enumerate() {
                if !has_equipment(instance, &c.equipment) {
                    e.push(
                        format!("{field}.capacity[{j}].equipment"),
                        Msg::Unknown(Kind::Equipment, c.equipment.clone()),
                    );
                    ok = false;
                }
                let sane = |v: f64| v.is_finite() && v >= 0.0;
                if !sane(c.hours_per_week) || !sane(c.price_per_hour) {
                    e.push(format!("{field}.capacity[{j}]"), Msg::Range(0, 16800));
                    ok = false;
                }
            }
            ok &= check_week(instance, &format!("{field}.from_week"), *from_week, e);
            if !ok {
                return;
            }
            instance.labs.push(solver::Lab {
                id: id.clone(),
                name: name.clone(),
                name_en: name.clone(),
                region: region.clone(),
                accredited: accredited.clone(),
                capacity: capacity
                    .iter()
                    .map(|c| solver::Capacity {
                        equipment: c.equipment.clone(),
                        hours_per_week: c.hours_per_week,
                        price_per_hour: c.price_per_hour,
                    })
                    .collect(),
            });
            for c in capacity {
                for w in 0..*from_week {
                    set_week(instance, id, &c.equipment, w, 0.0);
                }
            }
        }
        Change::CloseLab { lab, from_week } => {
            if !has_lab(instance, lab) {
                e.push(format!("{field}.lab"), Msg::Unknown(Kind::Lab, lab.clone()));
                return;
            }
            if !check_week(instance, &format!("{field}.from_week"), *from_week, e) {
                return;
            }
            let classes: Vec<String> = instance
                .labs
                .iter()
                .find(|l| l.id == *lab)
                .map(|l| l.capacity.iter().map(|c| c.equipment.clone()).collect())
                .unwrap_or_default();
            for equipment in classes {
                for w in weeks(instance, *from_week, None) {
                    set_week(instance, lab, &equipment, w, 0.0);
                }
            }
            // Bookings it held there can no longer be kept.
            let week_of = |p: &solver::Pinned| p.start_week;
            let (kept, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut instance.pinned)
                .into_iter()
                .partition(|p| p.lab != *lab || week_of(p) < *from_week);
            instance.pinned = kept;
            instance.current.retain(|c| c.lab != *lab || c.start_week < *from_week);
            instance.current.extend(gone.into_iter().map(|p| solver::Current {
                request: p.request,
                lab: p.lab,
                start_week: p.start_week,
            }));
        }
        Change::Demand { equipment, region, factor } => {
            let mut ok = true;
            if let Some(eq) = equipment
                && !has_equipment(instance, eq)
            {
                e.push(format!("{field}.equipment"), Msg::Unknown(Kind::Equipment, eq.clone()));
                ok = false;
            }
            if let Some(r) = region
                && !instance.regions.iter().any(|x| x.code == *r)
            {
                e.push(format!("{field}.region"), Msg::Unknown(Kind::Region, r.clone()));
                ok = false;
            }
            if !(factor.is_finite() && (0.0..=MAX_FACTOR).contains(factor)) {
                e.push(format!("{field}.factor"), Msg::Range(0, MAX_FACTOR as i64));
                ok = false;
            }
            if ok {
                scale_demand(instance, equipment.as_deref(), region.as_deref(), *factor, field);
            }
        }
        Change::Weights { tardiness_per_week, transport_per_km, unassigned, move_lab, move_week } => {
            let mut set = |name: &str, value: &Option<f64>, slot: &mut f64| {
                if let Some(v) = value {
                    if v.is_finite() && *v >= 0.0 {
                        *slot = *v;
                    } else {
                        e.push(format!("{field}.{name}"), Msg::Range(0, i64::MAX));
                    }
                }
            };
            let w = &mut instance.weights;
            set("tardiness_per_week", tardiness_per_week, &mut w.tardiness_per_week);
            set("transport_per_km", transport_per_km, &mut w.transport_per_km);
            set("unassigned", unassigned, &mut w.unassigned);
            set("move_lab", move_lab, &mut w.move_lab);
            set("move_week", move_week, &mut w.move_week);
        }
    }
}

/// Scales the matching requests: above 1, copies of them in id order (as many rounds as
/// needed), below 1, every request past the kept share left out — the same choice every
/// time for the same registry.
fn scale_demand(instance: &mut Instance, equipment: Option<&str>, region: Option<&str>, factor: f64, tag: &str) {
    let class: HashMap<&str, &str> =
        instance.test_types.iter().map(|t| (t.code.as_str(), t.equipment.as_str())).collect();
    let region_of: HashMap<&str, &str> =
        instance.companies.iter().map(|c| (c.id.as_str(), c.region.as_str())).collect();
    let matches = |r: &solver::Request| {
        equipment.is_none_or(|eq| class.get(r.test_type.as_str()) == Some(&eq))
            && region.is_none_or(|reg| region_of.get(r.company.as_str()) == Some(&reg))
    };
    let mut chosen: Vec<solver::Request> = instance.requests.iter().filter(|r| matches(r)).cloned().collect();
    chosen.sort_by(|a, b| a.id.cmp(&b.id));
    let n = chosen.len();
    let target = (n as f64 * factor).round() as usize;
    if target >= n {
        let mark = tag.replace(['[', ']', '.'], "");
        for k in 0..target - n {
            let mut copy = chosen[k % n.max(1)].clone();
            copy.id = format!("{}~{mark}~{k}", copy.id);
            instance.requests.push(copy);
        }
    } else {
        // Keep an even spread: the i-th matching request stays when it starts a new share.
        let dropped: HashSet<String> = chosen
            .iter()
            .enumerate()
            .filter(|(i, _)| (i + 1) * target / n == i * target / n)
            .map(|(_, r)| r.id.clone())
            .collect();
        instance.requests.retain(|r| !dropped.contains(&r.id));
        instance.pinned.retain(|p| !dropped.contains(&p.request));
        instance.current.retain(|c| !dropped.contains(&c.request));
    }
}

/// A plan's outcome in the numbers an analyst weighs, overall and by group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Figures {
    pub objective: f64,
    pub bound: f64,
    pub requests: usize,
    pub assigned: usize,
    pub unassigned: usize,
    pub late: usize,
    /// Unplaced requests by reason
    pub unassigned_by_reason: BTreeMap<String, usize>,
    /// By the company's region
    pub by_region: BTreeMap<String, Group>,
    /// By equipment class
    pub by_equipment: BTreeMap<String, Group>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Group {
    pub requests: usize,
    pub assigned: usize,
    pub unassigned: usize,
    pub late: usize,
    /// Roubles of the plan's bookings in the group
    pub cost: f64,
    /// Equipment hours booked against hours offered in the horizon (equipment classes only)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilisation: Option<f64>,
}

pub fn figures(instance: &Instance, plan: &Plan) -> Figures {
    let class: HashMap<&str, (&str, f64)> =
        instance.test_types.iter().map(|t| (t.code.as_str(), (t.equipment.as_str(), t.hours))).collect();
    let region_of: HashMap<&str, &str> =
        instance.companies.iter().map(|c| (c.id.as_str(), c.region.as_str())).collect();
    let mut f = Figures {
        objective: plan.objective,
        bound: plan.bound,
        requests: instance.requests.len(),
        ..Default::default()
    };
    let request: HashMap<&str, &solver::Request> = instance.requests.iter().map(|r| (r.id.as_str(), r)).collect();
    let groups = |r: &solver::Request, f: &mut Figures| -> (String, String) {
        let region = region_of.get(r.company.as_str()).copied().unwrap_or("").to_string();
        let equipment = class.get(r.test_type.as_str()).map_or("", |c| c.0).to_string();
        f.by_region.entry(region.clone()).or_default().requests += 1;
        f.by_equipment.entry(equipment.clone()).or_default().requests += 1;
        (region, equipment)
    };
    let mut booked_hours: HashMap<String, f64> = HashMap::new();
    for a in &plan.assignments {
        let Some(r) = request.get(a.request.as_str()) else { continue };
        let (region, equipment) = groups(r, &mut f);
        f.assigned += 1;
        let late = a.late_weeks > 0;
        f.late += usize::from(late);
        for g in [f.by_region.entry(region).or_default(), f.by_equipment.entry(equipment.clone()).or_default()] {
            g.assigned += 1;
            g.late += usize::from(late);
            g.cost += a.cost;
        }
        *booked_hours.entry(equipment).or_default() += class.get(r.test_type.as_str()).map_or(0.0, |c| c.1);
    }
    for u in &plan.unassigned {
        let Some(r) = request.get(u.request.as_str()) else { continue };
        let (region, equipment) = groups(r, &mut f);
        f.unassigned += 1;
        let reason =
            serde_json::to_value(u.reason).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        *f.unassigned_by_reason.entry(reason).or_default() += 1;
        f.by_region.entry(region).or_default().unassigned += 1;
        f.by_equipment.entry(equipment).or_default().unassigned += 1;
    }
    for (equipment, group) in f.by_equipment.iter_mut() {
        let offered: f64 = instance
            .labs
            .iter()
            .filter(|l| l.capacity.iter().any(|c| c.equipment == *equipment))
            .map(|l| (0..instance.horizon.weeks).map(|w| week_hours(instance, &l.id, equipment, w)).sum::<f64>())
            .sum();
        let booked = booked_hours.get(equipment).copied().unwrap_or(0.0);
        group.utilisation = (offered > 0.0).then(|| booked / offered);
    }
    f
}

/// The first-order estimate of what a scenario's added capacity saves: the baseline
/// plan's shadow price of each added hour, over the weeks it is added. None for changes
/// the estimate does not speak of (demand, new or closed labs, weights).
pub fn estimate(baseline: &Plan, changes: &[Change], weeks: u32) -> Option<f64> {
    let mut total = 0.0;
    for change in changes {
        let Change::Capacity { lab, equipment, hours_per_week, from_week, to_week, .. } = change else {
            return None;
        };
        let last = to_week.unwrap_or(weeks.saturating_sub(1));
        total += baseline
            .bottlenecks
            .iter()
            .filter(|b| b.lab == *lab && b.equipment == *equipment && (*from_week..=last).contains(&b.week))
            .map(|b| b.shadow_price * hours_per_week)
            .sum::<f64>();
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Instance {
        serde_json::from_str(include_str!("../../tests/fixtures/scenario-instance.json")).expect("the fixture parses")
    }

    #[test]
    fn capacity_is_added_over_the_weeks_asked_and_nothing_else_changes() {
        let base = instance();
        let change = Change::Capacity {
            lab: "L002".into(),
            equipment: "EMC".into(),
            hours_per_week: 40.0,
            from_week: 2,
            to_week: Some(3),
            price_per_hour: None,
        };
        let changed = apply(&base, &[change]).expect("valid");
        assert_eq!(week_hours(&changed, "L002", "EMC", 1), 80.0);
        assert_eq!(week_hours(&changed, "L002", "EMC", 2), 120.0);
        assert_eq!(week_hours(&changed, "L002", "EMC", 3), 120.0);
        assert_eq!(week_hours(&changed, "L002", "EMC", 4), 80.0);
        assert_eq!(changed.requests, base.requests);
        assert!(changed.check().is_ok());
    }

    #[test]
    fn demand_scales_by_copies_and_omissions_the_same_way_each_time() {
        let base = instance();
        let up = Change::Demand { equipment: Some("EMC".into()), region: None, factor: 2.0 };
        let once = apply(&base, std::slice::from_ref(&up)).expect("valid");
        let twice = apply(&base, &[up]).expect("valid");
        assert_eq!(once, twice);
        assert_eq!(once.requests.len(), base.requests.len() + 2);
        assert!(once.check().is_ok());
        let down = apply(&base, &[Change::Demand { equipment: None, region: None, factor: 0.0 }]).expect("valid");
        assert!(down.requests.is_empty());
    }

    #[test]
    fn every_bad_change_is_named_and_none_applied() {
        let base = instance();
        let changes = vec![
            Change::CloseLab { lab: "L404".into(), from_week: 0 },
            Change::Demand { equipment: Some("NOPE".into()), region: None, factor: -1.0 },
        ];
        let errors = apply(&base, &changes).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["changes[0].lab", "changes[1].equipment", "changes[1].factor"]);
    }
}
