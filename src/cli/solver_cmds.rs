//! `labplan solve`, `labplan validate` and `labplan bench`: the optimizer from the command line.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use labplan_solver::{Instance, Plan, Progress, SolveOptions};

#[derive(Debug, clap::Args)]
pub struct SolveArgs {
    /// Instance file (labplan-instance/1 JSON)
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the plan (labplan-plan/1 JSON)
    #[arg(long)]
    pub output: PathBuf,
    /// Wall-clock limit in seconds; the best valid plan found by then is written
    #[arg(long, default_value_t = 60.0)]
    pub time_limit: f64,
    /// Stop once (objective − bound) / objective is at most this
    #[arg(long, default_value_t = 0.005)]
    pub gap: f64,
    /// Worker threads (default: all cores)
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    #[arg(long)]
    pub instance: PathBuf,
    #[arg(long)]
    pub plan: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Folder of the reference instances (small-200, cluster-1300, region-5000)
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// The instance generator, for the 100,000-request row
    #[arg(long, default_value = "../shared/tools/gen_instance.py")]
    pub generator: PathBuf,
    /// Skip the generated 100,000-request instance
    #[arg(long)]
    pub skip_large: bool,
    /// Time limit of the monolithic reference model, seconds (default: the instance's own limit)
    #[arg(long)]
    pub baseline_time_limit: Option<f64>,
    /// Scale every time limit (e.g. 0.1 for a quick run)
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Also write the table (Markdown) to this file
    #[arg(long)]
    pub output: Option<PathBuf>,
}

fn read_instance(path: &Path) -> anyhow::Result<Instance> {
    let text = std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a labplan-instance/1 document", path.display()))
}

fn progress_printer() -> labplan_solver::ProgressFn {
    let last = Mutex::new(None::<Instant>);
    Arc::new(move |p: &Progress| {
        let Ok(mut last) = last.lock() else { return };
        let now = Instant::now();
        let quiet = last.is_some_and(|t| now.duration_since(t) < Duration::from_millis(500));
        if quiet && !matches!(p.phase, labplan_solver::Phase::Done) {
            return;
        }
        *last = Some(now);
        let objective = if p.objective.is_finite() { format!("{:.0}", p.objective) } else { "-".to_string() };
        eprintln!(
            "[{:>7.2}s] {:<10} parts {:>3}/{:<3} best {objective} bound {:.0} gap {:.3}%",
            p.elapsed.as_secs_f64(),
            format!("{:?}", p.phase).to_lowercase(),
            p.parts_done,
            p.parts_total,
            p.bound,
            p.gap * 100.0
        );
    })
}

pub fn run_solve(args: SolveArgs) -> anyhow::Result<()> {
    let instance = read_instance(&args.input)?;
    let options = SolveOptions {
        time_limit: Duration::from_secs_f64(args.time_limit.max(0.0)),
        gap: args.gap.max(0.0),
        threads: args.threads.unwrap_or_else(|| SolveOptions::default().threads).max(1),
        progress: Some(progress_printer()),
        ..SolveOptions::default()
    };
    let plan = labplan_solver::solve(&instance, &options)?;
    let json = serde_json::to_string_pretty(&plan)?;
    std::fs::write(&args.output, json).with_context(|| format!("could not write {}", args.output.display()))?;
    eprintln!(
        "{}: objective {:.0}, bound {:.0}, gap {:.3}%, {} assigned, {} unassigned, {} bottlenecks, {:.1} s -> {}",
        serde_json::to_value(plan.status)?.as_str().unwrap_or("?"),
        plan.objective,
        plan.bound,
        plan.gap * 100.0,
        plan.assignments.len(),
        plan.unassigned.len(),
        plan.bottlenecks.len(),
        plan.solve_seconds,
        args.output.display()
    );
    Ok(())
}

pub fn run_validate(args: ValidateArgs) -> anyhow::Result<std::process::ExitCode> {
    let instance = read_instance(&args.instance)?;
    let text =
        std::fs::read_to_string(&args.plan).with_context(|| format!("could not read {}", args.plan.display()))?;
    let plan: Plan = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a labplan-plan/1 document", args.plan.display()))?;
    let report = labplan_solver::validate(&instance, &plan);
    println!("objective (recomputed): {:.2}", report.objective);
    println!("objective (reported):   {:.2}", plan.objective);
    if report.violations.is_empty() {
        println!("valid: every rule holds");
        Ok(std::process::ExitCode::SUCCESS)
    } else {
        println!("{} broken rule(s):", report.violations.len());
        for v in &report.violations {
            println!("  - {v}");
        }
        Ok(std::process::ExitCode::from(1))
    }
}

/// Peak resident memory since the last reset, in bytes (Linux; `None` elsewhere).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak so that each run's figure is its own ("5" clears VmHWM).
fn reset_peak_rss() {
    // Without the reset the figure is the process peak so far, which the table says.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn gib(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), |b| format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64))
}

fn secs(t: Option<f64>) -> String {
    t.map_or("—".into(), |t| format!("{t:.2} s"))
}

fn money(x: f64) -> String {
    if x.is_finite() { format!("{:.1} M", x / 1e6) } else { "—".into() }
}

struct Row {
    name: String,
    requests: usize,
    limit: f64,
    first: Option<f64>,
    to_1pct: Option<f64>,
    plan: Option<Plan>,
    seconds: f64,
    memory: Option<u64>,
    mono: String,
    greedy: String,
}

/// The spec refuses an instance whose pinned bookings break a rule. For a benchmark of
/// the optimizer, such bookings are dropped (and said so) rather than losing the row.
fn without_broken_pins(name: &str, mut instance: Instance, notes: &mut Vec<String>) -> anyhow::Result<Instance> {
    let Err(err) = instance.check() else {
        return Ok(instance);
    };
    let mut drop = std::collections::HashSet::new();
    for p in &err.problems {
        match p {
            labplan_solver::InstanceProblem::PinnedBreaksRule { request, .. } => {
                drop.insert(request.clone());
            }
            labplan_solver::InstanceProblem::PinnedOverCapacity { requests, .. } => {
                drop.extend(requests.iter().cloned());
            }
            _ => anyhow::bail!("{name}: {err}"),
        }
    }
    let first = err.problems.first().map(|p| p.to_string()).unwrap_or_default();
    notes.push(format!(
        "{name}: `labplan solve` refuses the instance as the spec requires ({} problem(s), e.g. \"{first}\"); \
         the row is for the instance without the {} offending pinned booking(s).",
        err.problems.len(),
        drop.len()
    ));
    instance.pinned.retain(|p| !drop.contains(&p.request));
    instance.check().map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    Ok(instance)
}

fn bench_one(name: &str, instance: &Instance, limit: f64, baseline_limit: f64) -> anyhow::Result<Row> {
    eprintln!("== {name}: {} requests, time limit {limit:.0} s", instance.requests.len());
    let first = Arc::new(Mutex::new(None::<f64>));
    let to_1pct = Arc::new(Mutex::new(None::<f64>));
    let printer = progress_printer();
    let (f, g) = (first.clone(), to_1pct.clone());
    let options = SolveOptions {
        time_limit: Duration::from_secs_f64(limit),
        gap: 1e-4,
        progress: Some(Arc::new(move |p: &Progress| {
            let t = p.elapsed.as_secs_f64();
            if p.objective.is_finite() {
                if let Ok(mut f) = f.lock() {
                    f.get_or_insert(t);
                }
                if p.gap <= 0.01
                    && let Ok(mut g) = g.lock()
                {
                    g.get_or_insert(t);
                }
            }
            printer(p);
        })),
        ..SolveOptions::default()
    };
    reset_peak_rss();
    let started = Instant::now();
    let plan = labplan_solver::solve(instance, &options)?;
    let seconds = started.elapsed().as_secs_f64();
    let memory = peak_rss();
    let report = labplan_solver::validate(instance, &plan);
    anyhow::ensure!(
        report.is_valid(),
        "{name}: the plan breaks rules: {:?}",
        &report.violations[..report.violations.len().min(5)]
    );
    let ratio = |obj: f64| {
        if plan.objective > 0.0 { format!("{:.3}×", obj / plan.objective) } else { "—".into() }
    };

    let greedy = labplan_solver::baseline::greedy_edd(instance)?;
    anyhow::ensure!(labplan_solver::validate(instance, &greedy).is_valid(), "{name}: greedy plan invalid");
    let greedy = format!("{} ({}) in {:.2} s", money(greedy.objective), ratio(greedy.objective), greedy.solve_seconds);

    let columns = labplan_solver::baseline::count_columns(instance)?;
    let mono = if columns > 4_000_000 {
        format!("not built: {columns} columns")
    } else {
        eprintln!("   monolithic HiGHS model, {columns} columns, {baseline_limit:.0} s");
        reset_peak_rss();
        let run = labplan_solver::baseline::monolithic(instance, Duration::from_secs_f64(baseline_limit))?;
        let mem = peak_rss();
        match run.plan {
            Some(p) => {
                anyhow::ensure!(labplan_solver::validate(instance, &p).is_valid(), "{name}: monolithic plan invalid");
                format!(
                    "{} ({}), bound {}, gap {:.1} %, {:.0} s, {}",
                    money(p.objective),
                    ratio(p.objective),
                    money(p.bound),
                    p.gap * 100.0,
                    run.seconds,
                    gib(mem)
                )
            }
            None => format!("no plan in {:.0} s ({columns} columns)", run.seconds),
        }
    };
    let first = first.lock().ok().and_then(|f| *f);
    let to_1pct = to_1pct.lock().ok().and_then(|f| *f);
    Ok(Row {
        name: name.to_string(),
        requests: instance.requests.len(),
        limit,
        first,
        to_1pct,
        plan: Some(plan),
        seconds,
        memory,
        mono,
        greedy,
    })
}

pub fn run_bench(args: BenchArgs) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (name, limit) in [("small-200", 30.0), ("cluster-1300", 60.0), ("region-5000", 120.0)] {
        let path = args.data.join(format!("{name}.json"));
        if !path.exists() {
            notes.push(format!("{name}: skipped, {} not found", path.display()));
            eprintln!("{}", notes.last().map_or("", |s| s.as_str()));
            continue;
        }
        let instance = without_broken_pins(name, read_instance(&path)?, &mut notes)?;
        let limit = limit * args.time_scale;
        rows.push(bench_one(name, &instance, limit, args.baseline_time_limit.unwrap_or(limit) * args.time_scale)?);
    }
    if args.skip_large {
        notes.push("generated 100,000 requests: skipped (--skip-large)".into());
    } else if !args.generator.exists() {
        notes.push(format!("generated 100,000 requests: skipped, no generator at {}", args.generator.display()));
        eprintln!("{}", notes.last().map_or("", |s| s.as_str()));
    } else {
        let dir = std::env::temp_dir().join(format!("labplan-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("gen-100000.json");
        eprintln!("== generating 100,000 requests into {}", path.display());
        let out = std::process::Command::new("python3")
            .arg(&args.generator)
            .args(["--requests", "100000", "--companies", "8000", "--labs", "2000", "--weeks", "52"])
            .output()
            .context("could not run python3")?;
        if out.status.success() {
            std::fs::write(&path, &out.stdout)?;
            let instance = without_broken_pins("generated-100000", read_instance(&path)?, &mut notes)?;
            let limit = 600.0 * args.time_scale;
            let row = bench_one(
                "generated-100000",
                &instance,
                limit,
                args.baseline_time_limit.unwrap_or(120.0) * args.time_scale,
            );
            let _ = std::fs::remove_dir_all(&dir);
            match row {
                Ok(row) => rows.push(row),
                Err(e) => notes.push(format!("generated 100,000 requests: failed: {e:#}")),
            }
        } else {
            notes.push(format!(
                "generated 100,000 requests: skipped, the generator failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    let mut t = String::new();
    t.push_str("| instance | requests | limit | first valid plan | to 1 % gap | objective | bound | gap | time | peak memory | monolithic HiGHS (objective, ratio to ours, bound, gap, time, memory) | greedy EDD (objective, ratio) |\n");
    t.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    for r in &rows {
        let (obj, bound, gap) = r.plan.as_ref().map_or(("—".into(), "—".into(), "—".into()), |p| {
            (money(p.objective), money(p.bound), format!("{:.2} %", p.gap * 100.0))
        });
        t.push_str(&format!(
            "| {} | {} | {:.0} s | {} | {} | {} | {} | {} | {:.1} s | {} | {} | {} |\n",
            r.name,
            r.requests,
            r.limit,
            secs(r.first),
            secs(r.to_1pct),
            obj,
            bound,
            gap,
            r.seconds,
            gib(r.memory),
            r.mono,
            r.greedy
        ));
    }
    for n in &notes {
        t.push_str(&format!("\n{n}\n"));
    }
    println!("{t}");
    if let Some(out) = &args.output {
        std::fs::write(out, &t).with_context(|| format!("could not write {}", out.display()))?;
    }
    Ok(())
}
