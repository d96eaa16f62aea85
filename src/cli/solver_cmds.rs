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
    /// The same plan for the same instance and options on any machine: steps stop by
    /// work, not by the clock (the time limit sets the work; see docs/planning-model.md)
    #[arg(long)]
    pub deterministic: bool,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Where to write the instance (labplan-instance/1 JSON)
    #[arg(long)]
    pub output: PathBuf,
    #[arg(long, default_value_t = 1300)]
    pub requests: usize,
    #[arg(long, default_value_t = 102)]
    pub companies: usize,
    #[arg(long, default_value_t = 40)]
    pub labs: usize,
    #[arg(long, default_value_t = 26)]
    pub weeks: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Demand as a share of capacity per equipment class
    #[arg(long, default_value_t = 0.9)]
    pub load: f64,
    /// Share of requests with a confirmed booking
    #[arg(long, default_value_t = 0.03)]
    pub pinned: f64,
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
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/data"))]
    pub data: PathBuf,
    /// What to run, comma-separated, of: small-200, cluster-1300, cluster-1300-deterministic,
    /// region-5000, generated-20000, generated-100000, stability, reference
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "small-200,cluster-1300,cluster-1300-deterministic,region-5000,generated-20000,generated-100000,stability"
    )]
    pub only: Vec<String>,
    /// Skip the generated 100,000-request instance
    #[arg(long)]
    pub skip_large: bool,
    /// Time limit of the monolithic reference model, seconds (default: the instance's own limit)
    #[arg(long)]
    pub baseline_time_limit: Option<f64>,
    /// Seconds HiGHS gets per equipment class in the `reference` comparison
    #[arg(long, default_value_t = 300.0)]
    pub reference_seconds: f64,
    /// Scale every time limit (e.g. 0.1 for a quick run)
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Also write the tables (Markdown) to this file
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Write the scaling picture (SVG) here
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Move weights the stability scenario tries beside none, as MOVE_LAB:MOVE_WEEK
    /// roubles (default: the registry's defaults)
    #[arg(long, value_delimiter = ',')]
    pub move_weights: Vec<String>,
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
        deterministic: args.deterministic,
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

pub fn run_generate(args: GenerateArgs) -> anyhow::Result<()> {
    let params = labplan_solver::generate::GenParams {
        requests: args.requests,
        companies: args.companies,
        labs: args.labs,
        weeks: args.weeks,
        seed: args.seed,
        load: args.load,
        pinned: args.pinned,
    };
    let instance = labplan_solver::generate::generate(&params);
    let json = serde_json::to_string_pretty(&instance)?;
    std::fs::write(&args.output, json).with_context(|| format!("could not write {}", args.output.display()))?;
    eprintln!("{} requests, {} labs -> {}", instance.requests.len(), instance.labs.len(), args.output.display());
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
    plan: Plan,
    seconds: f64,
    memory: Option<u64>,
    mono: String,
    greedy: Plan,
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

/// One optimizer run with the time of its first valid plan and of its 1 % gap.
struct Measured {
    plan: Plan,
    first: Option<f64>,
    to_1pct: Option<f64>,
    seconds: f64,
    memory: Option<u64>,
}

fn measure(name: &str, instance: &Instance, limit: f64, deterministic: bool) -> anyhow::Result<Measured> {
    let first = Arc::new(Mutex::new(None::<f64>));
    let to_1pct = Arc::new(Mutex::new(None::<f64>));
    let printer = progress_printer();
    let (f, g) = (first.clone(), to_1pct.clone());
    let options = SolveOptions {
        time_limit: Duration::from_secs_f64(limit),
        gap: 1e-4,
        deterministic,
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
    let first = first.lock().ok().and_then(|f| *f);
    let to_1pct = to_1pct.lock().ok().and_then(|f| *f);
    Ok(Measured { plan, first, to_1pct, seconds, memory })
}

fn ratio(ours: f64, other: f64) -> String {
    if ours > 0.0 { format!("{:.3}×", other / ours) } else { "—".into() }
}

fn bench_one(
    name: &str,
    instance: &Instance,
    limit: f64,
    baseline_limit: f64,
    deterministic: bool,
) -> anyhow::Result<Row> {
    eprintln!("== {name}: {} requests, time limit {limit:.0} s", instance.requests.len());
    let m = measure(name, instance, limit, deterministic)?;
    let greedy = labplan_solver::baseline::greedy_edd(instance)?;
    anyhow::ensure!(labplan_solver::validate(instance, &greedy).is_valid(), "{name}: greedy plan invalid");
    let columns = labplan_solver::baseline::count_columns(instance)?;
    let mono = if deterministic || baseline_limit <= 0.0 {
        "—".to_string()
    } else if columns > 4_000_000 {
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
                    ratio(m.plan.objective, p.objective),
                    money(p.bound),
                    p.gap * 100.0,
                    run.seconds,
                    gib(mem)
                )
            }
            None => format!("no plan in {:.0} s ({columns} columns)", run.seconds),
        }
    };
    Ok(Row {
        name: name.to_string(),
        requests: instance.requests.len(),
        limit,
        first: m.first,
        to_1pct: m.to_1pct,
        plan: m.plan,
        seconds: m.seconds,
        memory: m.memory,
        mono,
        greedy,
    })
}

/// The generated instances of the bench: `requests` requests, companies and labs in the
/// proportions of the 100,000-request one (8,000 companies, 2,000 labs), 52 weeks.
fn generated(requests: usize) -> Instance {
    labplan_solver::generate::generate(&labplan_solver::generate::GenParams {
        requests,
        companies: (requests * 2 / 25).max(30),
        labs: (requests / 50).max(20),
        weeks: 52,
        seed: 1,
        ..Default::default()
    })
}

fn main_table(rows: &[Row]) -> String {
    let mut t = String::new();
    t.push_str("| instance | requests | limit | first valid plan | to 1 % gap | objective | bound | gap | time | peak memory | monolithic HiGHS (objective, ratio to ours, bound, gap, time, memory) | greedy EDD (objective, ratio) |\n");
    t.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    for r in rows {
        let p = &r.plan;
        t.push_str(&format!(
            "| {} | {} | {:.0} s | {} | {} | {} | {} | {:.2} % | {:.1} s | {} | {} | {} ({}) in {:.2} s |\n",
            r.name,
            r.requests,
            r.limit,
            secs(r.first),
            secs(r.to_1pct),
            money(p.objective),
            money(p.bound),
            p.gap * 100.0,
            r.seconds,
            gib(r.memory),
            r.mono,
            money(r.greedy.objective),
            ratio(p.objective, r.greedy.objective),
            r.greedy.solve_seconds
        ));
    }
    t
}

/// How cost grows with size: the rows of the 1,300 to 100,000-request instances.
fn scaling_rows(rows: &[Row]) -> Vec<&Row> {
    let mut v: Vec<&Row> = rows.iter().filter(|r| r.requests >= 1000 && !r.name.contains("deterministic")).collect();
    v.sort_by_key(|r| r.requests);
    v
}

fn scaling_table(rows: &[&Row]) -> String {
    let mut t = String::from(
        "| requests | instance | limit | time to first plan | gap at the limit | peak memory | greedy EDD: time, objective over ours, its gap to our bound |\n|---:|---|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let greedy_gap = (r.greedy.objective - r.plan.bound) / r.greedy.objective.max(1.0);
        t.push_str(&format!(
            "| {} | {} | {:.0} s | {} | {:.2} % | {} | {:.2} s, {}, {:.1} % |\n",
            r.requests,
            r.name,
            r.limit,
            secs(r.first),
            r.plan.gap * 100.0,
            gib(r.memory),
            r.greedy.solve_seconds,
            ratio(r.plan.objective, r.greedy.objective),
            greedy_gap * 100.0
        ));
    }
    t
}

/// Three panels against the number of requests (log scale): time to the first plan,
/// gap at the limit (ours, and the greedy plan's against our bound), peak memory.
fn scaling_svg(rows: &[&Row]) -> String {
    let (w, h, pad) = (300.0, 220.0, 45.0);
    let xs: Vec<f64> = rows.iter().map(|r| (r.requests as f64).log10()).collect();
    let (x0, x1) = (xs.first().copied().unwrap_or(3.0) - 0.1, xs.last().copied().unwrap_or(5.0) + 0.1);
    type Series = (&'static str, &'static str, Vec<f64>);
    let panels: Vec<(&str, Vec<Series>)> = vec![
        (
            "time to first plan (s)",
            vec![
                ("optimizer", "#1f77b4", rows.iter().map(|r| r.first.unwrap_or(f64::NAN)).collect()),
                ("greedy EDD", "#ff7f0e", rows.iter().map(|r| r.greedy.solve_seconds).collect()),
            ],
        ),
        (
            "gap at the limit (%)",
            vec![
                ("optimizer", "#1f77b4", rows.iter().map(|r| r.plan.gap * 100.0).collect()),
                (
                    "greedy EDD vs our bound",
                    "#ff7f0e",
                    rows.iter()
                        .map(|r| (r.greedy.objective - r.plan.bound) / r.greedy.objective.max(1.0) * 100.0)
                        .collect(),
                ),
            ],
        ),
        (
            "peak memory (GiB)",
            vec![(
                "optimizer",
                "#1f77b4",
                rows.iter().map(|r| r.memory.map_or(f64::NAN, |b| b as f64 / (1u64 << 30) as f64)).collect(),
            )],
        ),
    ];
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
        3.0 * w,
        h + 30.0
    );
    for (k, (title, series)) in panels.iter().enumerate() {
        let ox = k as f64 * w;
        let ymax =
            series.iter().flat_map(|s| s.2.iter().copied()).filter(|v| v.is_finite()).fold(0.0f64, f64::max) * 1.1;
        let ymax = if ymax > 0.0 { ymax } else { 1.0 };
        let px = |x: f64| ox + pad + (x - x0) / (x1 - x0) * (w - pad - 10.0);
        let py = |y: f64| h - pad + 10.0 - y / ymax * (h - pad - 10.0);
        svg.push_str(&format!("<text x=\"{}\" y=\"14\" font-weight=\"bold\">{title}</text>\n", ox + pad));
        svg.push_str(&format!(
            "<line x1=\"{a}\" y1=\"{b}\" x2=\"{c}\" y2=\"{b}\" stroke=\"black\"/><line x1=\"{a}\" y1=\"{b}\" x2=\"{a}\" y2=\"20\" stroke=\"black\"/>\n",
            a = px(x0),
            b = py(0.0),
            c = px(x1)
        ));
        for i in 0..=4 {
            let y = ymax * f64::from(i) / 4.0;
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
                px(x0) - 4.0,
                py(y) + 4.0,
                short(y)
            ));
        }
        for (r, &x) in rows.iter().zip(&xs) {
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                px(x),
                py(0.0) + 14.0,
                r.requests
            ));
        }
        for (j, (label, color, ys)) in series.iter().enumerate() {
            let pts: Vec<String> = xs
                .iter()
                .zip(ys)
                .filter(|(_, y)| y.is_finite())
                .map(|(&x, &y)| format!("{:.1},{:.1}", px(x), py(y)))
                .collect();
            svg.push_str(&format!(
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n",
                pts.join(" ")
            ));
            for p in &pts {
                let (cx, cy) = p.split_once(',').unwrap_or(("0", "0"));
                svg.push_str(&format!("<circle cx=\"{cx}\" cy=\"{cy}\" r=\"3\" fill=\"{color}\"/>\n"));
            }
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" fill=\"{color}\">{label}</text>\n",
                ox + pad + 8.0,
                32.0 + 13.0 * j as f64
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">requests (log scale)</text>\n",
            ox + w / 2.0,
            h + 22.0
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

fn short(y: f64) -> String {
    if y >= 100.0 {
        format!("{y:.0}")
    } else if y >= 10.0 {
        format!("{y:.1}")
    } else {
        format!("{y:.2}")
    }
}

/// Re-planning that keeps its word, on cluster-1300: solve, take the plan as the current
/// bookings, add 5 % new requests (copies of every twentieth request, new ids), and solve
/// again with and without move weights.
fn stability(data_dir: &Path, limit: f64, weights: &[(f64, f64)]) -> anyhow::Result<String> {
    let base = read_instance(&data_dir.join("cluster-1300.json"))?;
    eprintln!("== stability: cluster-1300, {limit:.0} s per solve");
    let first = measure("stability base", &base, limit, false)?.plan;
    let mut next = base.clone();
    next.current = first
        .assignments
        .iter()
        .filter(|a| !base.pinned.iter().any(|p| p.request == a.request))
        .map(|a| labplan_solver::Current { request: a.request.clone(), lab: a.lab.clone(), start_week: a.start_week })
        .collect();
    let new: Vec<labplan_solver::Request> = base
        .requests
        .iter()
        .step_by(20)
        .map(|r| labplan_solver::Request { id: format!("{}-N", r.id), ..r.clone() })
        .collect();
    let added = new.len();
    next.requests.extend(new);
    let current = next.current.len();
    let mut t = format!(
        "cluster-1300 solved ({:.0} s), its {current} bookings taken as current, {added} new requests added (copies of every 20th request), solved again for {limit:.0} s:\n\n\
         | move weights (move_lab, move_week) | bookings moved | of which dropped | moved share | objective without move terms | difference to no move weights | move penalties paid |\n|---|---:|---:|---:|---:|---:|---:|\n",
        limit
    );
    let mut free_objective = None;
    for &(move_lab, move_week) in std::iter::once(&(0.0, 0.0)).chain(weights) {
        let mut inst = next.clone();
        inst.weights.move_lab = move_lab;
        inst.weights.move_week = move_week;
        let plan = measure("stability re-plan", &inst, limit, false)?.plan;
        let moved = plan.moved.unwrap_or(0);
        let dropped = plan.moves.iter().filter(|m| m.to.is_none()).count();
        let penalties: f64 = plan.moves.iter().map(|m| m.penalty).sum();
        let plain = plan.objective - penalties;
        let diff = free_objective.map_or("—".to_string(), |f: f64| {
            format!("{:+.2} M ({:+.2} %)", (plain - f) / 1e6, (plain - f) / f * 100.0)
        });
        free_objective.get_or_insert(plain);
        t.push_str(&format!(
            "| {:.0} / {:.0} | {moved} | {dropped} | {:.2} % | {} | {diff} | {} |\n",
            move_lab,
            move_week,
            moved as f64 / current.max(1) as f64 * 100.0,
            money(plain),
            money(penalties)
        ));
    }
    Ok(t)
}

/// The registry's default move weights (docs/planning-model.md).
const DEFAULT_MOVE_LAB: f64 = 1_500_000.0;
const DEFAULT_MOVE_WEEK: f64 = 200_000.0;

/// The optimizer in 60 s against HiGHS on each equipment class apart with
/// `per_class` seconds each, on generated instances of 500–2,000 requests.
fn reference(per_class: f64, scale: f64) -> anyhow::Result<String> {
    let mut t = format!(
        "| generated instance | requests | optimizer, {:.0} s: objective, bound, gap | HiGHS per class, {per_class:.0} s each: objective, bound, time | ours / HiGHS |\n|---|---:|---|---|---:|\n",
        60.0 * scale
    );
    for (requests, seed, load) in [(500, 11, 0.8), (1200, 12, 0.95), (2000, 13, 1.1)] {
        let inst = labplan_solver::generate::generate(&labplan_solver::generate::GenParams {
            requests,
            companies: (requests / 12).max(20),
            labs: (requests / 32).max(16),
            weeks: 26,
            seed,
            load,
            ..Default::default()
        });
        let name = format!("{requests} requests, seed {seed}, load {load}");
        eprintln!("== reference: {name}");
        let ours = measure(&name, &inst, 60.0 * scale, false)?.plan;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let run = labplan_solver::baseline::per_class(&inst, Duration::from_secs_f64(per_class), threads)?;
        let (theirs, verdict) = match &run.plan {
            Some(p) => {
                anyhow::ensure!(labplan_solver::validate(&inst, p).is_valid(), "{name}: reference plan invalid");
                (
                    format!("{}, {}, {:.0} s", money(p.objective), money(p.bound), run.seconds),
                    format!("{:.4}", ours.objective / p.objective),
                )
            }
            None => (format!("no plan for some class in {:.0} s", run.seconds), "—".into()),
        };
        t.push_str(&format!(
            "| seed {seed}, load {load} | {requests} | {}, {}, {:.2} % | {theirs} | {verdict} |\n",
            money(ours.objective),
            money(ours.bound),
            ours.gap * 100.0
        ));
    }
    Ok(t)
}

pub fn run_bench(args: BenchArgs) -> anyhow::Result<()> {
    let wants = |name: &str| args.only.iter().any(|o| o == name);
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let scale = args.time_scale;
    for (name, limit) in [("small-200", 30.0), ("cluster-1300", 60.0), ("region-5000", 120.0)] {
        let path = args.data.join(format!("{name}.json"));
        let det = name == "cluster-1300" && wants("cluster-1300-deterministic");
        if !wants(name) && !det {
            continue;
        }
        if !path.exists() {
            notes.push(format!("{name}: skipped, {} not found", path.display()));
            eprintln!("{}", notes.last().map_or("", |s| s.as_str()));
            continue;
        }
        let instance = without_broken_pins(name, read_instance(&path)?, &mut notes)?;
        let limit = limit * scale;
        let baseline = args.baseline_time_limit.unwrap_or(limit / scale) * scale;
        if wants(name) {
            rows.push(bench_one(name, &instance, limit, baseline, false)?);
        }
        if det {
            rows.push(bench_one(&format!("{name} (deterministic)"), &instance, limit, 0.0, true)?);
        }
    }
    for (requests, limit) in [(20_000, 300.0), (100_000, 600.0)] {
        let name = format!("generated-{requests}");
        if !wants(&name) || (args.skip_large && requests > 20_000) {
            continue;
        }
        eprintln!("== generating {requests} requests");
        let instance = without_broken_pins(&name, generated(requests), &mut notes)?;
        let baseline = args.baseline_time_limit.unwrap_or(120.0) * scale;
        match bench_one(&name, &instance, limit * scale, baseline, false) {
            Ok(row) => rows.push(row),
            Err(e) => notes.push(format!("{name}: failed: {e:#}")),
        }
    }
    let mut t = main_table(&rows);
    for n in &notes {
        t.push_str(&format!("\n{n}\n"));
    }
    let scaling = scaling_rows(&rows);
    if scaling.len() > 1 {
        t.push_str("\nHow cost grows with size:\n\n");
        t.push_str(&scaling_table(&scaling));
        if let Some(svg) = &args.svg {
            std::fs::write(svg, scaling_svg(&scaling)).with_context(|| format!("could not write {}", svg.display()))?;
        }
    }
    if wants("stability") {
        t.push_str("\nStability:\n\n");
        let mut weights = Vec::new();
        for w in &args.move_weights {
            let (a, b) = w.split_once(':').context("--move-weights takes MOVE_LAB:MOVE_WEEK")?;
            weights.push((a.trim().parse()?, b.trim().parse()?));
        }
        if weights.is_empty() {
            weights.push((DEFAULT_MOVE_LAB, DEFAULT_MOVE_WEEK));
        }
        t.push_str(&stability(&args.data, 60.0 * scale, &weights)?);
    }
    if wants("reference") {
        t.push_str("\nAgainst HiGHS per equipment class:\n\n");
        t.push_str(&reference(args.reference_seconds * scale, scale)?);
    }
    println!("{t}");
    if let Some(out) = &args.output {
        std::fs::write(out, &t).with_context(|| format!("could not write {}", out.display()))?;
    }
    Ok(())
}
