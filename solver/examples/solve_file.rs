//! Solve one instance file and check the plan, without the web crate: a fast loop for
//! working on the optimizer (the `labplan` binary takes minutes to relink).
//!
//! `cargo run --release -p labplan-solver --example solve_file -- INSTANCE.json SECONDS [GAP] [PLAN.json]`

use std::sync::Arc;
use std::time::Duration;

use labplan_solver::{Instance, Progress, SolveOptions, solve, validate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Where the gap lies, part by part: LABPLAN_LOG=labplan_solver=debug.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LABPLAN_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(secs)) = (args.get(1), args.get(2)) else {
        return Err("usage: solve_file INSTANCE.json SECONDS [GAP] [PLAN.json]".into());
    };
    let secs: f64 = secs.parse()?;
    let gap: f64 = args.get(3).map(|g| g.parse()).transpose()?.unwrap_or(1e-4);
    let inst: Instance = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let options = SolveOptions {
        time_limit: Duration::from_secs_f64(secs),
        gap,
        progress: Some(Arc::new(|p: &Progress| {
            eprintln!(
                "[{:>7.2}s] {:?} {}/{} obj {:.0} bound {:.0} gap {:.3}%",
                p.elapsed.as_secs_f64(),
                p.phase,
                p.parts_done,
                p.parts_total,
                p.objective,
                p.bound,
                p.gap * 100.0
            )
        })),
        ..SolveOptions::default()
    };
    let plan = solve(&inst, &options)?;
    let report = validate(&inst, &plan);
    println!(
        "objective {:.0} bound {:.0} gap {:.3}% time {:.1}s assigned {} unassigned {} bottlenecks {} violations {}",
        plan.objective,
        plan.bound,
        plan.gap * 100.0,
        plan.solve_seconds,
        plan.assignments.len(),
        plan.unassigned.len(),
        plan.bottlenecks.len(),
        report.violations.len()
    );
    for v in report.violations.iter().take(5) {
        println!("  violation: {v}");
    }
    if let Some(out) = args.get(4) {
        std::fs::write(out, serde_json::to_string_pretty(&plan)?)?;
    }
    Ok(())
}
