//! Hand-made instances and an independent brute-force optimum for tests.
#![allow(dead_code)]

use labplan_solver::*;

pub fn base() -> Instance {
    Instance {
        format: INSTANCE_FORMAT.into(),
        name: Some("test".into()),
        horizon: Horizon { start: "2027-01-04".into(), weeks: 6 },
        weights: Weights {
            tardiness_per_week: 1000.0,
            transport_per_km: 1.0,
            unassigned: 100_000.0,
            max_late_weeks: 2,
            move_lab: 0.0,
            move_week: 0.0,
        },
        regions: vec![region("RU-SAM"), region("RU-MOW")],
        distances: vec![Distance { from: "RU-SAM".into(), to: "RU-MOW".into(), km: 1000.0 }],
        equipment: vec![
            Equipment {
                code: "CLIM".into(),
                name: String::new(),
                name_en: String::new(),
                max_hours_per_test_week: 168.0,
            },
            Equipment {
                code: "EMC".into(),
                name: String::new(),
                name_en: String::new(),
                max_hours_per_test_week: 40.0,
            },
        ],
        test_types: vec![test_type("T-CLIM", "CLIM", 200.0), test_type("T-EMC", "EMC", 60.0)],
        labs: vec![
            lab("L1", "RU-SAM", &["T-CLIM", "T-EMC"], &[("CLIM", 168.0, 100.0), ("EMC", 40.0, 1000.0)]),
            lab("L2", "RU-MOW", &["T-CLIM"], &[("CLIM", 100.0, 80.0)]),
        ],
        capacity_overrides: vec![],
        companies: vec![Company { id: "C1".into(), name: String::new(), region: "RU-SAM".into() }],
        requests: vec![],
        pinned: vec![],
        current: vec![],
    }
}

pub fn region(code: &str) -> Region {
    Region { code: code.into(), name: String::new(), name_en: String::new(), lat: 0.0, lon: 0.0 }
}

pub fn test_type(code: &str, eq: &str, hours: f64) -> TestType {
    TestType {
        code: code.into(),
        standard: String::new(),
        name: String::new(),
        name_en: String::new(),
        equipment: eq.into(),
        hours,
    }
}

pub fn lab(id: &str, region: &str, acc: &[&str], cap: &[(&str, f64, f64)]) -> Lab {
    Lab {
        id: id.into(),
        name: String::new(),
        name_en: String::new(),
        region: region.into(),
        accredited: acc.iter().map(|s| s.to_string()).collect(),
        capacity: cap
            .iter()
            .map(|&(e, h, p)| Capacity { equipment: e.into(), hours_per_week: h, price_per_hour: p })
            .collect(),
    }
}

pub fn request(id: &str, ty: &str, release: u32, due: u32, priority: u32) -> Request {
    Request {
        id: id.into(),
        company: "C1".into(),
        test_type: ty.into(),
        samples: 1,
        release_week: release,
        due_week: due,
        priority,
        excluded_labs: vec![],
    }
}

/// One booking option of a request in the brute force: (lab index, start, cost, span, usage).
type Opt = (usize, u32, f64, u32, f64);

/// The optimum by enumeration, straight from the specification's rules.
pub fn brute_force(inst: &Instance) -> f64 {
    let w = &inst.weights;
    let km = |a: &str, b: &str| -> f64 {
        if a == b {
            return 0.0;
        }
        inst.distances
            .iter()
            .find(|d| (d.from == a && d.to == b) || (d.from == b && d.to == a))
            .map(|d| d.km)
            .expect("distance")
    };
    let cap_of = |l: usize, e: &str, week: u32| -> f64 {
        let base = inst.labs[l].capacity.iter().find(|c| c.equipment == e).map_or(0.0, |c| c.hours_per_week);
        inst.capacity_overrides
            .iter()
            .find(|o| o.lab == inst.labs[l].id && o.equipment == e && o.week == week)
            .map_or(base, |o| o.hours_per_week)
    };
    let mut options: Vec<Vec<Option<Opt>>> = Vec::new();
    for r in &inst.requests {
        let t = inst.test_types.iter().find(|t| t.code == r.test_type).expect("type");
        let e = inst.equipment.iter().find(|e| e.code == t.equipment).expect("eq");
        let comp = inst.companies.iter().find(|c| c.id == r.company).expect("company");
        let pin = inst.pinned.iter().find(|p| p.request == r.id);
        let current = inst.current.iter().find(|c| c.request == r.id);
        let mut opts: Vec<Option<Opt>> = if pin.is_some() { vec![] } else { vec![None] };
        for (l, lab) in inst.labs.iter().enumerate() {
            if !lab.accredited.contains(&r.test_type) || r.excluded_labs.contains(&lab.id) {
                continue;
            }
            let Some(c) = lab.capacity.iter().find(|c| c.equipment == t.equipment) else {
                continue;
            };
            if c.hours_per_week <= 0.0 {
                continue;
            }
            let rate = e.max_hours_per_test_week.min(c.hours_per_week);
            let span = (t.hours / rate).ceil() as u32;
            let usage = t.hours / f64::from(span);
            for s in r.release_week..inst.horizon.weeks {
                let end = s + span - 1;
                if end >= inst.horizon.weeks {
                    break;
                }
                let late = end.saturating_sub(r.due_week);
                if late > w.max_late_weeks {
                    continue;
                }
                if pin.is_some_and(|p| p.lab != lab.id || p.start_week != s) {
                    continue;
                }
                let moving = match current {
                    Some(c) if c.lab == lab.id => w.move_week * f64::from(s.abs_diff(c.start_week)),
                    Some(_) => w.move_lab,
                    None => 0.0,
                };
                let cost = c.price_per_hour * t.hours
                    + w.transport_per_km * km(&comp.region, &lab.region) * f64::from(r.samples)
                    + w.tardiness_per_week * f64::from(r.priority) * f64::from(late)
                    + moving;
                opts.push(Some((l, s, cost, span, usage)));
            }
        }
        options.push(opts);
    }
    let mut best = f64::INFINITY;
    let mut choice = vec![0usize; options.len()];
    loop {
        let mut load: std::collections::HashMap<(usize, String, u32), f64> = Default::default();
        let mut obj = 0.0;
        for (i, r) in inst.requests.iter().enumerate() {
            match options[i].get(choice[i]).copied().flatten() {
                None => {
                    obj += w.unassigned * f64::from(r.priority);
                    if inst.current.iter().any(|c| c.request == r.id) {
                        obj += w.move_lab;
                    }
                }
                Some((l, s, cost, span, usage)) => {
                    obj += cost;
                    let t = inst.test_types.iter().find(|t| t.code == r.test_type).expect("type");
                    for wk in s..s + span {
                        *load.entry((l, t.equipment.clone(), wk)).or_default() += usage;
                    }
                }
            }
        }
        let fits = load.iter().all(|((l, e, wk), u)| *u <= cap_of(*l, e, *wk) + 1e-6);
        if fits && options.iter().all(|o| !o.is_empty()) {
            best = best.min(obj);
        }
        let mut i = 0;
        loop {
            if i == choice.len() {
                return best;
            }
            choice[i] += 1;
            if choice[i] < options[i].len().max(1) {
                break;
            }
            choice[i] = 0;
            i += 1;
        }
    }
}

pub fn current(request: &str, lab: &str, start_week: u32) -> Current {
    Current { request: request.into(), lab: lab.into(), start_week }
}

pub fn exact_options() -> SolveOptions {
    SolveOptions { time_limit: std::time::Duration::from_secs(30), gap: 0.0, threads: 1, ..Default::default() }
}
