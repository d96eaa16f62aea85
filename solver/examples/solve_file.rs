//! Solves an instance file and validates the plan: `solve_file INSTANCE.json [SECONDS]`.

use std::sync::Arc;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or_else(|| anyhow::anyhow!("usage: solve_file INSTANCE.json [SECONDS]"))?;
    let secs: f64 = args.next().map_or(Ok(60.0), |s| s.parse())?;
    let inst: labplan_solver::Instance = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let opts = labplan_solver::SolveOptions {
        time_limit: Duration::from_secs_f64(secs),
        progress: Some(Arc::new(|p: &labplan_solver::Progress| {
            eprintln!(
                "{:>7.2}s {:?} {}/{} obj {:.0} bound {:.0} gap {:.4}",
                p.elapsed.as_secs_f64(),
                p.phase,
                p.parts_done,
                p.parts_total,
                p.objective,
                p.bound,
                p.gap
            )
        })),
        ..Default::default()
    };
    let plan = labplan_solver::solve(&inst, &opts)?;
    let rep = labplan_solver::validate(&inst, &plan);
    println!(
        "status {:?} obj {:.0} bound {:.0} gap {:.4} secs {:.2} assigned {} unassigned {} bottlenecks {} violations {}",
        plan.status,
        plan.objective,
        plan.bound,
        plan.gap,
        plan.solve_seconds,
        plan.assignments.len(),
        plan.unassigned.len(),
        plan.bottlenecks.len(),
        rep.violations.len()
    );
    for v in rep.violations.iter().take(10) {
        println!("  {v}");
    }
    Ok(())
}
