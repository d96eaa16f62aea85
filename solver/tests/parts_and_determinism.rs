//! The same plan twice, and parts solved apart then combined.

mod common;

use std::time::Duration;

use common::*;
use labplan_solver::generate::{GenParams, generate};
use labplan_solver::*;

/// The plan as JSON without the one figure that depends on the clock.
fn without_time(plan: &Plan) -> String {
    let mut plan = plan.clone();
    plan.solve_seconds = 0.0;
    serde_json::to_string(&plan).expect("serialize")
}

#[test]
fn a_deterministic_solve_gives_the_same_plan_whatever_the_threads() {
    let inst =
        generate(&GenParams { requests: 240, companies: 30, labs: 16, weeks: 20, seed: 7, ..GenParams::default() });
    let options = |threads| SolveOptions {
        time_limit: Duration::from_secs(2),
        gap: 0.0,
        threads,
        deterministic: true,
        ..SolveOptions::default()
    };
    let one = solve(&inst, &options(1)).expect("solve");
    let two = solve(&inst, &options(2)).expect("solve");
    assert_eq!(one.deterministic, Some(true));
    assert!(validate(&inst, &one).is_valid());
    assert_eq!(without_time(&one), without_time(&two));
}

#[test]
fn parts_solved_apart_combine_into_the_optimum_with_the_exact_bound() {
    let mut inst = base();
    inst.requests = vec![
        request("R1", "T-CLIM", 0, 1, 1),
        request("R2", "T-CLIM", 0, 1, 1),
        request("R3", "T-CLIM", 0, 1, 3),
        request("R4", "T-EMC", 0, 1, 2),
        request("R5", "T-EMC", 0, 2, 1),
    ];
    inst.pinned = vec![Pinned { request: "R5".into(), lab: "L1".into(), start_week: 3 }];
    let options = exact_options();
    let partition = partition(&inst, &options).expect("partition");
    assert_eq!(partition.parts.iter().map(|p| p.equipment.as_str()).collect::<Vec<_>>(), ["CLIM", "EMC"]);
    let plans: Vec<PartPlan> =
        partition.parts.iter().map(|p| solve_part(&inst, p.id, &options).expect("part")).collect();
    // Parts travel between workers as JSON.
    let plans: Vec<PartPlan> = serde_json::from_str(&serde_json::to_string(&plans).expect("serialize")).expect("parse");
    let plan = combine(&inst, &partition, &plans, 0.0).expect("combine");
    let report = validate(&inst, &plan);
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    let best = brute_force(&inst);
    assert!((plan.objective - best).abs() < 1e-6, "{} against {best}", plan.objective);
    let sum = partition.outside + plans.iter().map(|p| p.bound).sum::<f64>();
    assert!((plan.bound - sum.min(plan.objective)).abs() < 1e-6);
    assert!(combine(&inst, &partition, &plans[..1], 0.0).is_err(), "a missing part is an error");
}
