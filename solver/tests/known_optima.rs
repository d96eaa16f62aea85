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

/// R1 holds the only EMC chamber in weeks 0–1; R2, priority 3, arrives due in week 1.
/// Shifting R1 two weeks costs 2 × move_week; keeping it makes R2 two weeks late
/// (2 × 3 × 1000 = 6000).
fn emc_replan(move_week: f64) -> Instance {
    let mut inst = base();
    inst.weights.move_week = move_week;
    inst.weights.move_lab = 50_000.0;
    inst.requests = vec![request("R1", "T-EMC", 0, 5, 1), request("R2", "T-EMC", 0, 1, 3)];
    inst.current = vec![current("R1", "L1", 0)];
    inst
}

#[test]
fn a_booking_moves_when_the_saving_pays_for_it() {
    let inst = emc_replan(1000.0);
    let plan = solve_checked(&inst);
    assert!((plan.objective - brute_force(&inst)).abs() < 1e-6);
    // R1 two weeks later (2000), R2 on time: 60,000 + 2,000 + 60,000.
    assert!((plan.objective - 122_000.0).abs() < 1e-6, "{}", plan.objective);
    assert_eq!(plan.moved, Some(1));
    let m = &plan.moves[0];
    assert_eq!((m.request.as_str(), m.from.lab.as_str(), m.from.start_week), ("R1", "L1", 0));
    assert_eq!(m.to.as_ref().map(|t| t.start_week), Some(2));
    assert!((m.penalty - 2000.0).abs() < 1e-6);
    // Keeping R1 makes R2 two weeks late: 6000 more before the penalty.
    assert!((m.saving.unwrap_or(0.0) - 6000.0).abs() < 1e-6, "{m:?}");
    let r1 = plan.assignments.iter().find(|a| a.request == "R1").expect("R1");
    assert!((r1.cost - 62_000.0).abs() < 1e-6, "the cost includes the move term");
}

#[test]
fn a_booking_stays_when_the_saving_does_not_pay() {
    let inst = emc_replan(5000.0);
    let plan = solve_checked(&inst);
    assert!((plan.objective - brute_force(&inst)).abs() < 1e-6);
    assert!((plan.objective - 126_000.0).abs() < 1e-6, "{}", plan.objective);
    assert_eq!(plan.moved, Some(0));
    assert!(plan.moves.is_empty());
    let r1 = plan.assignments.iter().find(|a| a.request == "R1").expect("R1");
    assert_eq!((r1.lab.as_str(), r1.start_week), ("L1", 0));
}

/// CLIM at L1 costs 20,000, at L2 17,000 (1000 km): moving pays when move_lab < 3000.
#[test]
fn a_booking_moves_to_a_cheaper_lab_only_when_the_saving_pays() {
    for (move_lab, lab) in [(2000.0, "L2"), (5000.0, "L1")] {
        let mut inst = base();
        inst.weights.move_lab = move_lab;
        inst.requests = vec![request("R1", "T-CLIM", 0, 5, 1)];
        inst.current = vec![current("R1", "L1", 1)];
        let plan = solve_checked(&inst);
        assert!((plan.objective - brute_force(&inst)).abs() < 1e-6);
        assert_eq!(plan.assignments[0].lab, lab, "move_lab {move_lab}");
        assert_eq!(plan.moved, Some(usize::from(lab == "L2")));
    }
}

#[test]
fn a_current_booking_that_breaks_a_rule_must_move() {
    let mut inst = emc_replan(1_000_000.0);
    // L1 closes its EMC chamber in week 0: R1's booking cannot stay, whatever it costs.
    inst.capacity_overrides =
        vec![CapacityOverride { lab: "L1".into(), equipment: "EMC".into(), week: 0, hours_per_week: 0.0 }];
    inst.check().expect("a broken current booking is no error");
    let plan = solve_checked(&inst);
    assert!((plan.objective - brute_force(&inst)).abs() < 1e-6);
    assert_eq!(plan.moved, Some(1));
    let m = &plan.moves[0];
    assert!(m.saving.is_none());
    assert!(m.forced.as_deref().is_some_and(|f| f.contains("week 0")), "{m:?}");
}

#[test]
fn current_bookings_are_checked() {
    let mut inst = emc_replan(0.0);
    inst.current = vec![current("R9", "L1", 0), current("R1", "L7", 0)];
    let msg = inst.check().expect_err("invalid").to_string();
    assert!(msg.contains("R9") && msg.contains("L7"), "{msg}");

    let mut inst = emc_replan(0.0);
    inst.pinned = vec![Pinned { request: "R1".into(), lab: "L1".into(), start_week: 0 }];
    let msg = inst.check().expect_err("invalid").to_string();
    assert!(msg.contains("R1") && msg.contains("pinned and current"), "{msg}");

    let mut inst = emc_replan(0.0);
    inst.current.push(current("R1", "L1", 2));
    let msg = inst.check().expect_err("invalid").to_string();
    assert!(msg.contains("more than one current booking"), "{msg}");
}

#[test]
fn validate_rejects_a_move_that_does_not_pay() {
    let mut inst = base();
    inst.weights.move_lab = 5000.0;
    inst.requests = vec![request("R1", "T-CLIM", 0, 5, 1)];
    inst.current = vec![current("R1", "L2", 0)];
    let mut plan = solve_checked(&inst);
    assert_eq!(plan.moved, Some(0));
    // Move R1 from L2 (17,000) to L1 (20,000 + 5,000 for the move), figures consistent.
    plan.assignments = vec![Assignment {
        request: "R1".into(),
        lab: "L1".into(),
        start_week: 0,
        end_week: 1,
        late_weeks: 0,
        cost: 25_000.0,
    }];
    plan.objective = 25_000.0;
    plan.bound = 17_000.0;
    plan.gap = 8000.0 / 25_000.0;
    plan.status = PlanStatus::Feasible;
    let report = validate(&inst, &plan);
    let all = report.violations.join("\n");
    assert!(all.contains("saves only"), "{all}");
    assert!(all.contains("moved"), "{all}");
    assert!((report.objective - 25_000.0).abs() < 1e-6);
}

#[test]
fn plans_without_current_bookings_keep_their_format() {
    let mut inst = base();
    inst.requests = vec![request("R1", "T-CLIM", 0, 5, 1)];
    let plan = solve_checked(&inst);
    let text = serde_json::to_string(&plan).expect("serialize");
    assert!(!text.contains("moved") && !text.contains("moves") && !text.contains("deterministic"), "{text}");
    let inst_text = serde_json::to_string(&inst).expect("serialize");
    assert!(!inst_text.contains("current") && !inst_text.contains("move_"), "{inst_text}");
}
