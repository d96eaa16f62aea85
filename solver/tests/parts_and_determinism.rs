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

/// A part solved again from its earlier plan never ends worse than it, even with almost
/// no time; a start that is not a plan of the part (another part's, or one that does not
/// fit its capacity) is ignored rather than trusted.
#[test]
fn a_part_solved_again_from_its_plan_is_never_worse() {
    let inst =
        generate(&GenParams { requests: 300, companies: 30, labs: 16, weeks: 20, seed: 11, ..GenParams::default() });
    let options = |seconds: f64| SolveOptions {
        time_limit: Duration::from_secs_f64(seconds),
        gap: 0.0,
        threads: 1,
        ..SolveOptions::default()
    };
    let partition = partition(&inst, &options(1.0)).expect("partition");
    let largest = partition.parts.iter().max_by_key(|p| p.columns).expect("a part").id;
    let first = solve_part(&inst, largest, &options(1.0)).expect("part");
    let again = solve_part_from(&inst, largest, &options(0.1), Some(&first)).expect("part again");
    assert!(again.objective <= first.objective + 1e-6, "{} after {}", again.objective, first.objective);
    let plan_of = |p: &PartPlan| {
        let others: Vec<PartPlan> = partition
            .parts
            .iter()
            .filter(|q| q.id != p.part)
            .map(|q| solve_part(&inst, q.id, &options(0.1)).expect("part"))
            .chain(std::iter::once(p.clone()))
            .collect();
        combine(&inst, &partition, &others, 0.0).expect("combine")
    };
    assert!(validate(&inst, &plan_of(&again)).is_valid());

    // Every booking moved to one lab and week is no plan of the part (a lab a request
    // cannot use, or more hours than the week has): ignored.
    let mut crowded = first.clone();
    if let Some(b) = crowded.bookings.first().cloned() {
        for booking in &mut crowded.bookings {
            booking.lab = b.lab.clone();
            booking.start_week = b.start_week;
        }
    }
    let from_crowded = solve_part_from(&inst, largest, &options(0.1), Some(&crowded)).expect("part");
    assert!(validate(&inst, &plan_of(&from_crowded)).is_valid());
    // Another part's plan is not a start for this one.
    let other = partition.parts.iter().find(|p| p.id != largest).map(|p| p.id);
    if let Some(other) = other {
        let from_other = solve_part_from(&inst, other, &options(0.1), Some(&first)).expect("part");
        assert_eq!(from_other.part, other);
        assert!(validate(&inst, &plan_of(&from_other)).is_valid());
    }
}
