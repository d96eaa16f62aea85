//! Random small instances: every plan validates; on tiny ones it is the brute-force optimum.

mod common;

use common::*;
use labplan_solver::*;
use proptest::prelude::*;

/// Two climatic test types and one lab per (hours per week, price), in alternating regions.
fn climatic(labcaps: impl Iterator<Item = (f64, f64)>) -> Instance {
    let mut inst = base();
    inst.test_types = vec![test_type("T-A", "CLIM", 150.0), test_type("T-B", "CLIM", 300.0)];
    inst.labs = labcaps
        .enumerate()
        .map(|(i, (hours, price))| {
            lab(
                &format!("L{}", i + 1),
                if i % 2 == 0 { "RU-SAM" } else { "RU-MOW" },
                &["T-A", "T-B"],
                &[("CLIM", hours.round(), price.round())],
            )
        })
        .collect();
    inst
}

fn instance_strategy() -> impl Strategy<Value = Instance> {
    let req = (0usize..2, 0u32..5, 0u32..6, 1u32..4, 1u32..3, any::<bool>());
    (
        prop::collection::vec(req, 1..5),
        prop::collection::vec((1u32..4, 20.0f64..200.0, 50.0f64..150.0), 2),
        prop::option::of((0usize..2, 0u32..6, 0.0f64..100.0)),
    )
        .prop_map(|(reqs, labcaps, over)| {
            let mut inst = climatic(labcaps.iter().map(|&(_, hours, price)| (hours, price)));
            inst.requests = reqs
                .iter()
                .enumerate()
                .map(|(i, &(t, rel, slack, prio, samples, excl))| Request {
                    samples,
                    excluded_labs: if excl && i % 3 == 0 { vec!["L1".into()] } else { vec![] },
                    ..request(&format!("R{i}"), if t == 0 { "T-A" } else { "T-B" }, rel, rel + slack, prio)
                })
                .collect();
            if let Some((l, week, hours)) = over {
                inst.capacity_overrides = vec![CapacityOverride {
                    lab: format!("L{}", l + 1),
                    equipment: "CLIM".into(),
                    week,
                    hours_per_week: hours.round(),
                }];
            }
            inst
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn plans_validate_and_are_optimal(inst in instance_strategy()) {
        prop_assume!(inst.check().is_ok());
        let plan = solve(&inst, &exact_options()).expect("solve");
        let report = validate(&inst, &plan);
        prop_assert!(report.violations.is_empty(), "{:?}", report.violations);
        prop_assert!((report.objective - plan.objective).abs() < 1e-6);
        prop_assert!(plan.bound <= plan.objective + 1e-6);
        let best = brute_force(&inst);
        prop_assert!((plan.objective - best).abs() < 1e-6, "solver {} brute force {}", plan.objective, best);
        prop_assert_eq!(plan.status, PlanStatus::Optimal);
        for u in &plan.unassigned {
            prop_assert!(!u.detail.is_empty());
        }
    }
}

/// Six labs, so that a part limited to one column keeps only four pairings per request.
fn many_labs_strategy() -> impl Strategy<Value = Instance> {
    let req = (0usize..2, 0u32..4, 0u32..4, 1u32..4);
    (prop::collection::vec(req, 1..4), prop::collection::vec((20.0f64..200.0, 50.0f64..150.0), 6)).prop_map(
        |(reqs, labcaps)| {
            let mut inst = climatic(labcaps.into_iter());
            inst.requests = reqs
                .iter()
                .enumerate()
                .map(|(i, &(t, rel, slack, prio))| {
                    request(&format!("R{i}"), if t == 0 { "T-A" } else { "T-B" }, rel, rel + slack, prio)
                })
                .collect();
            inst
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A part too large to keep whole keeps some pairings of each request and a floor
    /// under the others: its plans still validate and its bound is still below the optimum.
    #[test]
    fn truncated_parts_keep_a_proven_bound(inst in many_labs_strategy()) {
        prop_assume!(inst.check().is_ok());
        let options = SolveOptions { max_part_columns: 1, ..exact_options() };
        let plan = solve(&inst, &options).expect("solve");
        let report = validate(&inst, &plan);
        prop_assert!(report.violations.is_empty(), "{:?}", report.violations);
        prop_assert!((report.objective - plan.objective).abs() < 1e-6);
        let best = brute_force(&inst);
        prop_assert!(plan.bound <= best + 1e-6, "bound {} above the optimum {}", plan.bound, best);
        prop_assert!(plan.objective >= best - 1e-6);
    }
}

/// Instances of `inner` (with `labs` labs) with current bookings, some of which may
/// break a rule now, and move weights from none to dear.
fn with_current(inner: impl Strategy<Value = Instance>, labs: usize) -> impl Strategy<Value = Instance> {
    (
        inner,
        prop::collection::vec(prop::option::of((0..labs, 0u32..6)), 5),
        prop::sample::select(vec![0.0, 2000.0, 30_000.0, 400_000.0]),
        prop::sample::select(vec![0.0, 500.0, 8000.0, 90_000.0]),
    )
        .prop_map(|(mut inst, cur, move_lab, move_week)| {
            inst.weights.move_lab = move_lab;
            inst.weights.move_week = move_week;
            inst.current = inst
                .requests
                .iter()
                .zip(cur)
                .filter_map(|(r, c)| c.map(|(l, s)| current(&r.id, &format!("L{}", l + 1), s)))
                .collect();
            inst
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// With current bookings and move weights: the bound is below the brute-force
    /// optimum, the plan is that optimum, it validates (every move pays), and it reports
    /// every move.
    #[test]
    fn replans_move_only_what_pays(inst in with_current(instance_strategy(), 2)) {
        prop_assume!(inst.check().is_ok());
        let plan = solve(&inst, &exact_options()).expect("solve");
        let report = validate(&inst, &plan);
        prop_assert!(report.violations.is_empty(), "{:?}", report.violations);
        let best = brute_force(&inst);
        prop_assert!(plan.bound <= best + 1e-6, "bound {} above the optimum {}", plan.bound, best);
        prop_assert!((plan.objective - best).abs() < 1e-6, "solver {} brute force {}", plan.objective, best);
        let moved = inst.current.iter().filter(|c| {
            !plan.assignments.iter().any(|a| a.request == c.request && a.lab == c.lab && a.start_week == c.start_week)
        }).count();
        prop_assert_eq!(plan.moved, (!inst.current.is_empty()).then_some(moved));
        prop_assert_eq!(plan.moves.len(), moved);
        for m in &plan.moves {
            if let Some(saving) = m.saving {
                prop_assert!(saving >= m.penalty - 1e-6, "{:?}", m);
            }
        }
    }

    /// The same with parts truncated to a few pairings per request: the bound stays
    /// proven and the plan valid.
    #[test]
    fn truncated_replans_keep_a_proven_bound(inst in with_current(many_labs_strategy(), 6)) {
        prop_assume!(inst.check().is_ok());
        let options = SolveOptions { max_part_columns: 1, ..exact_options() };
        let plan = solve(&inst, &options).expect("solve");
        let report = validate(&inst, &plan);
        prop_assert!(report.violations.is_empty(), "{:?}", report.violations);
        let best = brute_force(&inst);
        prop_assert!(plan.bound <= best + 1e-6, "bound {} above the optimum {}", plan.bound, best);
        prop_assert!(plan.objective >= best - 1e-6);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// The methods of parts too large for one LP (subgradient steps on the capacity and
    /// conflict rows, column generation), forced on small instances with current
    /// bookings and truncated parts, and cut short by a tiny time limit: the bound stays
    /// below the brute-force optimum and the plan validates.
    #[test]
    fn large_part_methods_keep_a_proven_bound(inst in with_current(many_labs_strategy(), 6), short in any::<bool>()) {
        prop_assume!(inst.check().is_ok());
        let options = SolveOptions {
            max_lp_columns: 0,
            max_part_columns: if short { 1 } else { PART_COLUMNS },
            time_limit: std::time::Duration::from_millis(if short { 50 } else { 5000 }),
            ..exact_options()
        };
        let plan = solve(&inst, &options).expect("solve");
        let report = validate(&inst, &plan);
        prop_assert!(report.violations.is_empty(), "{:?}", report.violations);
        let best = brute_force(&inst);
        prop_assert!(plan.bound <= best + 1e-6, "bound {} above the optimum {}", plan.bound, best);
        prop_assert!(plan.objective >= best - 1e-6);
    }
}
