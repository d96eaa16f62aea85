//! Tiny hand-made instances whose optimum is known, and instance checks.

mod common;

use common::*;
use labplan_solver::*;

fn solve_checked(inst: &Instance) -> Plan {
    let plan = solve(inst, &exact_options()).expect("solve");
    let report = validate(inst, &plan);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert!((report.objective - plan.objective).abs() < 1e-6);
    plan
}

#[test]
fn cheapest_lab_on_time() {
    let mut inst = base();
    // CLIM 200 h: at L1 200×100 = 20 000 + 0 km; at L2 200×80 + 1000 km = 17 000.
    inst.requests = vec![request("R1", "T-CLIM", 0, 5, 1)];
    let plan = solve_checked(&inst);
    assert_eq!(plan.status, PlanStatus::Optimal);
    assert_eq!(plan.assignments.len(), 1);
    assert_eq!(plan.assignments[0].lab, "L2");
    assert_eq!(plan.assignments[0].late_weeks, 0);
    assert!((plan.objective - 17_000.0).abs() < 1e-6);
    assert_eq!(plan.bound, plan.objective);
}

#[test]
fn capacity_forces_second_lab_and_lateness() {
    let mut inst = base();
    // L1 fits one 200 h CLIM test at a time (2 weeks of 100 h); L2 runs it at 100 h/week
    // over 2 weeks too. Three requests due week 1, released week 0.
    inst.requests =
        vec![request("R1", "T-CLIM", 0, 1, 1), request("R2", "T-CLIM", 0, 1, 1), request("R3", "T-CLIM", 0, 1, 3)];
    let plan = solve_checked(&inst);
    assert_eq!(plan.status, PlanStatus::Optimal);
    assert!((plan.objective - brute_force(&inst)).abs() < 1e-6);
    assert!(plan.unassigned.is_empty());
}

#[test]
fn unassigned_reasons() {
    let mut inst = base();
    inst.test_types.push(test_type("T-NONE", "CLIM", 10.0));
    inst.requests = vec![
        request("R-NOLAB", "T-NONE", 0, 5, 1),
        Request { excluded_labs: vec!["L1".into()], ..request("R-EXCL", "T-EMC", 0, 5, 1) },
        request("R-WINDOW", "T-CLIM", 5, 5, 1),
        request("R-EMC1", "T-EMC", 0, 1, 3),
        request("R-EMC2", "T-EMC", 0, 1, 1),
    ];
    // EMC at L1: 30 h/week, the 60 h test runs 2 weeks at 30 h; due 1, one week late at most.
    inst.labs[0].capacity[1].hours_per_week = 30.0;
    inst.capacity_overrides = vec![
        CapacityOverride { lab: "L1".into(), equipment: "EMC".into(), week: 4, hours_per_week: 0.0 },
        CapacityOverride { lab: "L1".into(), equipment: "EMC".into(), week: 5, hours_per_week: 0.0 },
    ];
    inst.weights.max_late_weeks = 1;
    let plan = solve_checked(&inst);
    assert!((plan.objective - brute_force(&inst)).abs() < 1e-6);
    let reason = |id: &str| plan.unassigned.iter().find(|u| u.request == id).map(|u| u.reason);
    assert_eq!(reason("R-NOLAB"), Some(Reason::NoAccreditedLab));
    assert_eq!(reason("R-EXCL"), Some(Reason::ExcludedByCompany));
    assert_eq!(reason("R-WINDOW"), Some(Reason::NoCapacityInWindow));
    assert_eq!(reason("R-EMC2"), Some(Reason::Outranked));
    assert!(plan.unassigned.iter().all(|u| !u.detail.is_empty()));
    // The EMC chamber is full in weeks 0–1 and one more hour there would save a request.
    let b = plan.bottlenecks.iter().find(|b| b.lab == "L1" && b.equipment == "EMC").expect("bottleneck");
    assert!(b.shadow_price > 0.0, "{b:?}");
}

#[test]
fn pinned_booking_is_kept() {
    let mut inst = base();
    inst.requests = vec![request("R1", "T-CLIM", 0, 5, 1)];
    inst.pinned = vec![Pinned { request: "R1".into(), lab: "L2".into(), start_week: 3 }];
    let plan = solve_checked(&inst);
    assert_eq!(plan.assignments[0].lab, "L2");
    assert_eq!(plan.assignments[0].start_week, 3);
}

#[test]
fn pinned_booking_breaking_a_rule_is_refused_by_name() {
    let mut inst = base();
    inst.requests = vec![request("R1", "T-EMC", 2, 5, 1)];
    // L2 is not accredited for T-EMC.
    inst.pinned = vec![Pinned { request: "R1".into(), lab: "L2".into(), start_week: 2 }];
    let err = solve(&inst, &exact_options()).expect_err("must refuse");
    let msg = err.to_string();
    assert!(msg.contains("R1") && msg.contains("L2") && msg.contains("accredited"), "{msg}");

    // Before release.
    inst.pinned = vec![Pinned { request: "R1".into(), lab: "L1".into(), start_week: 1 }];
    let msg = inst.check().expect_err("must refuse").to_string();
    assert!(msg.contains("R1") && msg.contains("release"), "{msg}");
}

#[test]
fn pinned_bookings_over_capacity_are_refused() {
    let mut inst = base();
    inst.requests = vec![request("R1", "T-EMC", 0, 5, 1), request("R2", "T-EMC", 0, 5, 1)];
    inst.pinned = vec![
        Pinned { request: "R1".into(), lab: "L1".into(), start_week: 0 },
        Pinned { request: "R2".into(), lab: "L1".into(), start_week: 1 },
    ];
    let msg = inst.check().expect_err("must refuse").to_string();
    assert!(msg.contains("R1") && msg.contains("R2") && msg.contains("week 1"), "{msg}");
}

#[test]
fn instance_errors_name_the_offenders() {
    let mut inst = base();
    inst.horizon.start = "2027-01-05".into();
    inst.test_types[1].hours = -3.0;
    inst.requests =
        vec![request("R1", "T-NOPE", 0, 5, 1), Request { company: "C9".into(), ..request("R2", "T-EMC", 0, 5, 1) }];
    let err = inst.check().expect_err("invalid");
    let msg = err.to_string();
    for needle in ["Monday", "T-EMC hours", "T-NOPE", "R1", "C9", "R2"] {
        assert!(msg.contains(needle), "missing {needle}: {msg}");
    }
}

#[test]
fn validate_reports_broken_rules() {
    let mut inst = base();
    inst.requests = vec![request("R1", "T-EMC", 0, 5, 1), request("R2", "T-EMC", 0, 5, 1)];
    let mut plan = solve_checked(&inst);
    // Put both EMC tests in the same weeks of the one chamber and misstate the objective.
    plan.assignments = vec![
        Assignment {
            request: "R1".into(),
            lab: "L1".into(),
            start_week: 0,
            end_week: 1,
            late_weeks: 0,
            cost: 60_000.0,
        },
        Assignment {
            request: "R2".into(),
            lab: "L2".into(),
            start_week: 0,
            end_week: 1,
            late_weeks: 0,
            cost: 60_000.0,
        },
    ];
    plan.unassigned.clear();
    plan.objective = 1.0;
    let report = validate(&inst, &plan);
    let all = report.violations.join("\n");
    assert!(all.contains("R2") && all.contains("not accredited"), "{all}");
    assert!(all.contains("objective"), "{all}");
    // R2 counts by the rules even where it breaks them: no EMC price at L2, 1000 km.
    assert!((report.objective - 61_000.0).abs() < 1e-6);
}

#[test]
fn formats_round_trip() {
    let mut inst = base();
    inst.requests = vec![request("R1", "T-CLIM", 0, 5, 1)];
    let text = serde_json::to_string(&inst).expect("serialize");
    let back: Instance = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, inst);
    let plan = solve_checked(&inst);
    let text = serde_json::to_string(&plan).expect("serialize");
    assert!(text.contains("\"format\":\"labplan-plan/1\"") && text.contains("\"status\":\"optimal\""));
}
