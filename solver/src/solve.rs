//! The solve: decompose, a greedy plan for every part at once, LP bounds and duals,
//! then the MILP of each part that still has a gap, in parallel, with the time limit
//! shared by how much each part's gap weighs in the whole.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::bound::{Lagrangian, Mult, all_columns, lagrangian, reduced_cost, select_columns, start_costs, subgradient};
use crate::data::{Data, HOURS_EPS};
use crate::error::SolveError;
use crate::explain::assemble;
use crate::heuristic::{Order, Sel, greedy, greedy_plain, improve, load_of, objective, round_lp};
use crate::milp::{Col, PartModel};
use crate::part::{Decomposition, Part, decompose};
use crate::types::{Instance, Plan};

/// Columns kept per part at most (memory); beyond, each request keeps some of its
/// pairings (see `part.rs`). At 1.5 million the generated 100,000-request instance kept
/// about 20 labs per request, all near its company; 8 million (about 4 bytes a column)
/// keeps the Lagrangian's floors close to those of the whole part.
pub const PART_COLUMNS: usize = 8_000_000;
/// Columns of a part's LP relaxation at most; larger parts get the subgradient
/// Lagrangian and column generation instead (region-5000's climatic part, 150,000
/// columns, did not finish its LP in 100 s on two cores).
const LP_COLS: usize = 40_000;
/// Columns per request in the first restricted LP, and added per round after.
const COLGEN_FIRST: usize = 6;
const COLGEN_NEXT: usize = 8;
/// Weight of the best duals so far in column generation's pricing point.
const SMOOTHING: f64 = 0.5;
/// Columns of a part's MILP at most; beyond, the smallest reduced costs are kept.
const MIP_COLS: usize = 120_000;
/// Columns of a part's first MILP; each later round takes four times more. A small
/// model of the smallest reduced costs finds good plans fast where the full one
/// stalls; the reduced-cost limit makes a later one exact once the incumbent is good.
const MIP_COLS_FIRST: usize = 6_000;

pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

#[derive(Clone)]
pub struct SolveOptions {
    pub time_limit: Duration,
    /// Stop once (objective − bound)/max(1, objective) is at most this.
    pub gap: f64,
    pub threads: usize,
    pub progress: Option<ProgressFn>,
    /// Set to true to stop: the solve returns its best valid plan so far, promptly.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Columns a part keeps at most ([`PART_COLUMNS`]); a part with more keeps only some
    /// pairings of each request, with a floor under the cost of the others so that the
    /// bound stays proven. Lowered only to test that path on small instances.
    pub max_part_columns: usize,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            time_limit: Duration::from_secs(60),
            gap: 0.005,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            progress: None,
            cancel: None,
            max_part_columns: PART_COLUMNS,
        }
    }
}

impl std::fmt::Debug for SolveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SolveOptions")
            .field("time_limit", &self.time_limit)
            .field("gap", &self.gap)
            .field("threads", &self.threads)
            .field("progress", &self.progress.is_some())
            .field("cancel", &self.cancel.is_some())
            .field("max_part_columns", &self.max_part_columns)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Decompose,
    Heuristic,
    Relaxation,
    Mip,
    Done,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Progress {
    pub phase: Phase,
    pub parts_done: usize,
    pub parts_total: usize,
    /// Objective of the best valid plan so far (infinite before the first).
    pub objective: f64,
    pub bound: f64,
    pub gap: f64,
    pub elapsed: Duration,
}

/// The best known of each part, shared with the caller so that a cancelled or
/// overrunning solve can still hand back a valid plan at once.
struct Shared {
    placement: Vec<Option<(usize, u32)>>,
    part_obj: Vec<f64>,
    part_bound: Vec<f64>,
    constant: f64,
    shadow: HashMap<(usize, usize, u32), f64>,
    have_plan: bool,
}

impl Shared {
    fn totals(&self) -> (f64, f64) {
        let obj = self.constant + self.part_obj.iter().sum::<f64>();
        let bound = self.constant + self.part_bound.iter().sum::<f64>();
        (obj, bound.min(obj))
    }
}

fn gap_of(obj: f64, bound: f64) -> f64 {
    ((obj - bound) / obj.max(1.0)).max(0.0)
}

/// Solves an instance: always a valid plan (status `optimal` or `feasible`), unless the
/// instance itself is invalid.
pub fn solve(instance: &Instance, options: &SolveOptions) -> Result<Plan, SolveError> {
    let started = Instant::now();
    // Check first, so that an invalid instance fails before any thread starts.
    Data::new(instance)?;
    let inst = Arc::new(instance.clone());
    let shared: Arc<Mutex<Option<Shared>>> = Arc::new(Mutex::new(None));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    {
        let (inst, shared, stop, options) = (inst.clone(), shared.clone(), stop.clone(), options.clone());
        std::thread::spawn(move || {
            let res = run(&inst, &options, &shared, &stop, started);
            // The caller may have returned already; nothing is waiting then.
            let _ = tx.send(res);
        });
    }
    let grace = Duration::from_secs_f64(2.0 + 0.05 * options.time_limit.as_secs_f64());
    let cancelled = || options.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed));
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(res) => return res,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(SolveError::Solver("the solver thread stopped without a result".into()));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let late = started.elapsed() > options.time_limit + grace;
        if (cancelled() || late) && shared.lock().map(|s| s.as_ref().is_some_and(|s| s.have_plan)).unwrap_or(false) {
            stop.store(true, Ordering::Relaxed);
            let data = Data::new(&inst)?;
            let guard = shared.lock().map_err(|_| SolveError::Solver("solver state poisoned".into()))?;
            let Some(s) = guard.as_ref() else { continue };
            let (_, bound) = s.totals();
            return Ok(assemble(&data, &s.placement, bound, &s.shadow, started.elapsed().as_secs_f64()));
        }
    }
}

/// A part's relaxation with conflict rows: its duals (π, ρ), its columns and their
/// values; and the duals of the relaxation without them (shadow prices).
struct Relaxed {
    mult: Mult,
    cols: Vec<Col>,
    x: Vec<f64>,
    plain: Option<Vec<f64>>,
}

struct PartState {
    sel: Sel,
    obj: f64,
    bound: f64,
    lag: Option<(Mult, Lagrangian)>,
}

fn run(
    inst: &Instance,
    options: &SolveOptions,
    shared: &Mutex<Option<Shared>>,
    stop: &AtomicBool,
    started: Instant,
) -> Result<Plan, SolveError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.max(1))
        .build()
        .map_err(|e| SolveError::Solver(e.to_string()))?;
    pool.install(|| run_in_pool(inst, options, shared, stop, started))
}

fn run_in_pool(
    inst: &Instance,
    options: &SolveOptions,
    shared: &Mutex<Option<Shared>>,
    stop: &AtomicBool,
    started: Instant,
) -> Result<Plan, SolveError> {
    let data = Data::new(inst)?;
    let deadline = started + options.time_limit;
    let cancelled =
        || stop.load(Ordering::Relaxed) || options.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed));
    let Decomposition { parts, forced_out, .. } = decompose(&data, options.max_part_columns);
    let nparts = parts.len();
    let mut constant: f64 = forced_out.iter().map(|&r| data.penalty(r)).sum();
    let mut placement: Vec<Option<(usize, u32)>> = vec![None; inst.requests.len()];
    for (r, pin) in data.pinned.iter().enumerate() {
        if let Some((l, s)) = *pin {
            placement[r] = Some((l, s));
            let span = data.footprint(data.reqs[r].test_type, l).map_or(1, |f| f.span);
            constant += data.base_cost(r, l) + data.tardiness(r, s + span - 1);
        }
    }
    let report = |phase: Phase, done: usize| {
        if let Some(cb) = &options.progress
            && let Ok(g) = shared.lock()
            && let Some(s) = g.as_ref()
        {
            let (obj, bound) = s.totals();
            cb(&Progress {
                phase,
                parts_done: done,
                parts_total: nparts,
                objective: if s.have_plan { obj } else { f64::INFINITY },
                bound,
                gap: gap_of(obj, bound),
                elapsed: started.elapsed(),
            });
        }
    };
    if let Ok(mut g) = shared.lock() {
        *g = Some(Shared {
            placement,
            part_obj: parts.iter().map(|p| p.penalty.iter().sum()).collect(),
            part_bound: vec![0.0; nparts],
            constant,
            shadow: HashMap::new(),
            have_plan: false,
        });
    }
    report(Phase::Decompose, 0);

    let publish = |i: usize, part: &Part, st: &PartState| {
        if let Ok(mut g) = shared.lock()
            && let Some(s) = g.as_mut()
        {
            for (r, sel) in st.sel.iter().enumerate() {
                s.placement[part.reqs[r]] = sel.map(|(p, start)| {
                    let pair = &part.pairs[r][p];
                    (part.labs[pair.lab as usize], start)
                });
            }
            s.part_obj[i] = st.obj;
            s.part_bound[i] = st.bound.min(st.obj);
        }
    };

    // 1. A valid plan for every part, fast: the one-pass greedy only, published part by
    // part, so that even an instance of 100,000 requests has a plan within seconds.
    let mut states: Vec<PartState> = parts
        .par_iter()
        .enumerate()
        .map(|(i, part)| {
            // Two one-pass orders: by priority, and by due week alone, which on the
            // generated 100,000-request instance gives a plan half as costly (requests
            // due early take the early weeks instead of being pushed late by the
            // priority-3 requests booked first).
            let (obj, sel) = [Order::PriorityDue, Order::Edd]
                .into_iter()
                .map(|order| {
                    let sel = greedy_plain(part, order, None);
                    (objective(part, &sel), sel)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .unwrap_or_else(|| (part.penalty.iter().sum(), vec![None; part.reqs.len()]));
            let zero = Mult::zero(part);
            let lag = lagrangian(part, &zero);
            let st = PartState { sel, obj, bound: lag.value, lag: Some((zero, lag)) };
            publish(i, part, &st);
            st
        })
        .collect();
    if let Ok(mut g) = shared.lock()
        && let Some(s) = g.as_mut()
    {
        s.have_plan = true;
    }
    tracing::info!(seconds = started.elapsed().as_secs_f64(), parts = nparts, "greedy plan of every part");
    report(Phase::Heuristic, 0);

    // Then the local search and a second greedy order, within a slice of the limit: on
    // parts of tens of thousands of requests they would otherwise eat the whole of it.
    let limit = options.time_limit.as_secs_f64();
    let heuristic_end = deadline.min(started + Duration::from_secs_f64(0.15 * limit));
    states.par_iter_mut().enumerate().for_each(|(i, st)| {
        let part = &parts[i];
        if cancelled() {
            return;
        }
        let mut sel = st.sel.clone();
        let mut load = load_of(part, &sel);
        improve(part, &mut sel, &mut load, Some(heuristic_end));
        let mut best = (objective(part, &sel), sel);
        if Instant::now() < heuristic_end {
            let sel = greedy(part, Order::PriorityHours, None, Some(heuristic_end));
            let obj = objective(part, &sel);
            if obj < best.0 {
                best = (obj, sel);
            }
        }
        if best.0 < st.obj {
            (st.obj, st.sel) = best;
            publish(i, part, st);
        }
    });
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "local search of every part");
    report(Phase::Heuristic, 0);

    let target_met = |states: &[PartState]| {
        let obj = constant + states.iter().map(|s| s.obj).sum::<f64>();
        let bound = constant + states.iter().map(|s| s.bound.min(s.obj)).sum::<f64>();
        gap_of(obj, bound) <= options.gap
    };

    // 2. Bounds and duals: the LP relaxation of parts small enough for one, the
    // subgradient Lagrangian and column generation of the others; both give the shadow
    // prices and a priced greedy. The phase ends by half the limit at the latest, so that the MILPs, which
    // close most of the gap, always get time.
    let part_gap = |st: &PartState| (st.obj - st.bound).max(0.0);
    let relax_end = deadline.min(started + Duration::from_secs_f64(0.5 * limit));
    // Parts small enough for one LP first, largest gap first: their LPs take seconds
    // and give their bound, duals and rounding at once. Then the large ones, which share
    // what is left of the phase by their gap after the greedy: region-5000's
    // universal-testing part is as large as its climatic one but has a hundredth of its
    // gap, and time spent on it is time the climatic part's bound does not get.
    let large = |i: usize| parts[i].num_cols() > LP_COLS;
    let mut order: Vec<usize> = (0..nparts).collect();
    order.sort_by(|&a, &b| large(a).cmp(&large(b)).then(part_gap(&states[b]).total_cmp(&part_gap(&states[a]))));
    let pending_gap = Mutex::new((0..nparts).filter(|&i| large(i)).map(|i| part_gap(&states[i])).sum::<f64>());
    let workers = options.threads.max(1) as f64;
    let relaxed: Vec<(usize, Option<Relaxed>)> = in_order(&order, options.threads, |i| {
        let part = &parts[i];
        if cancelled() || Instant::now() >= relax_end {
            return (i, None);
        }
        let left = relax_end.saturating_duration_since(Instant::now()).as_secs_f64();
        if part.num_cols() > LP_COLS {
            // Its share of what is left, by its gap against the gaps of the large
            // parts not yet started, over all workers; no part more than one worker's
            // whole rest of the phase, and none so little that it gets no duals (they
            // are its shadow prices).
            let gap = part_gap(&states[i]);
            let fraction = match pending_gap.lock() {
                Ok(mut pending) => {
                    let f = gap / pending.max(1e-9);
                    *pending = (*pending - gap).max(0.0);
                    f
                }
                Err(_) => 1.0,
            };
            let share = (left * workers * fraction).clamp(0.02 * left, left);
            let until = relax_end.min(Instant::now() + Duration::from_secs_f64(share));
            let st = &states[i];
            let zero = Mult::zero(part);
            // Subgradient steps first, for a fifth of the share: each costs one pass
            // over the columns, they reach much of the LP bound fast, and their
            // reduced costs pick the first restricted LP's columns. Column generation
            // then closes in on the LP bound with the cuts, from that bound upwards;
            // with the interior-point method its rounds are fast enough that it, not
            // the subgradient, should have most of the time.
            let now = Instant::now();
            let fifth = now + until.saturating_duration_since(now) / 5;
            let warm = subgradient(part, &zero, st.obj, fifth).0;
            let pi = warm.pi.clone();
            let fallback = Relaxed { mult: warm.clone(), cols: Vec::new(), x: Vec::new(), plain: Some(pi) };
            return (i, Some(colgen(part, &warm, &st.sel, until).unwrap_or(fallback)));
        }
        let model = PartModel::new(part, all_columns(part));
        let lp_started = Instant::now();
        let lp = model.solve_lp(left * 0.5);
        // Shadow prices come from the relaxation of the rules as stated; the
        // conflict rows would take part of the price onto themselves. That LP is
        // the same size, so it gets about the time the first took.
        let took = lp_started.elapsed().as_secs_f64();
        let left = relax_end.saturating_duration_since(Instant::now()).as_secs_f64();
        let plain = model.without_conflicts();
        let shadow = plain.solve_lp((2.0 * took).max(1.0).min(left * 0.5)).map(|lp| lp.mult.pi);
        (i, lp.map(|lp| Relaxed { mult: lp.mult, cols: plain.cols, x: lp.x, plain: shadow }))
    });
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "relaxations");
    let improved: Vec<(usize, Option<PartState>)> = relaxed
        .into_par_iter()
        .map(|(i, res)| {
            let Some(Relaxed { mult, cols, x, plain }) = res else {
                return (i, None);
            };
            if let Some(shadow) = plain {
                record_shadow(shared, &parts[i], &shadow);
            }
            let part = &parts[i];
            let lag = lagrangian(part, &mult);
            let st = &states[i];
            let mut best = (st.obj, st.sel.clone());
            // The heuristics of this phase may run to the MILP's share, not past it.
            let until = Some(deadline.min(relax_end + Duration::from_secs_f64(0.05 * limit)));
            let mut cands = vec![greedy(part, Order::PriorityDue, Some(&mult.pi), until)];
            if !cols.is_empty() {
                cands.push(round_lp(part, &cols, &x, &mult.pi, until));
            }
            for sel in cands {
                let obj = objective(part, &sel);
                if obj < best.0 {
                    best = (obj, sel);
                }
            }
            let (obj, sel) = best;
            let bound = st.bound.max(lag.value);
            let ns = PartState { sel, obj, bound, lag: Some((mult, lag)) };
            publish(i, part, &ns);
            (i, Some(ns))
        })
        .collect();
    for (i, st) in improved {
        if let Some(st) = st {
            states[i] = st;
        }
    }
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "priced heuristics");
    report(Phase::Relaxation, 0);

    // 3. MILPs, hardest gaps first, in rounds until the target gap or the deadline.
    let mut round = 0;
    while !cancelled() && !target_met(&states) && Instant::now() + Duration::from_millis(200) < deadline {
        round += 1;
        let total_obj = constant + states.iter().map(|s| s.obj).sum::<f64>();
        let mut open: Vec<usize> =
            (0..nparts).filter(|&i| part_gap(&states[i]) > 1e-6 * states[i].obj.max(1.0)).collect();
        if open.is_empty() {
            break;
        }
        open.sort_by(|&a, &b| part_gap(&states[b]).total_cmp(&part_gap(&states[a])));
        let gap_sum: f64 = open.iter().map(|&i| part_gap(&states[i])).sum();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<(usize, Option<PartState>)> = in_order(&open, options.threads, |i| {
            let st = &states[i];
            let left = deadline.saturating_duration_since(Instant::now()).as_secs_f64();
            if cancelled() || left < 0.2 {
                return (i, None);
            }
            // No part takes more than 60 % of a worker in one round, so that a part
            // whose model stalls leaves time to the next rounds and to the others.
            let share = (part_gap(st) / gap_sum.max(1e-9) * workers).min(0.6);
            let slice = (left * share).max(left.min(1.0));
            let part = &parts[i];
            // A part is done when its own gap is within its share of the target.
            let abs_gap = options.gap * total_obj * part_gap(st) / gap_sum.max(1e-9);
            let budget = (MIP_COLS_FIRST << (2 * (round - 1)).min(20)).min(MIP_COLS);
            let res = mip_part(part, st, slice, abs_gap.max(1e-6), round, budget, deadline);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(ns) = &res {
                publish(i, part, ns);
                report(Phase::Mip, n);
            }
            (i, res)
        });
        let mut progressed = false;
        for (i, res) in results {
            if let Some(ns) = res {
                progressed |= ns.obj < states[i].obj - 1e-6 || ns.bound > states[i].bound + 1e-6;
                states[i] = ns;
            }
        }
        if !progressed && (MIP_COLS_FIRST << (2 * (round - 1)).min(20)) >= MIP_COLS {
            break;
        }
    }
    report(Phase::Done, nparts);
    // Where the remaining gap lies, part by part (LABPLAN_LOG=labplan_solver=debug).
    for (i, st) in states.iter().enumerate() {
        let part = &parts[i];
        tracing::debug!(
            equipment = %inst.equipment[part.eq].code,
            requests = part.reqs.len(),
            labs = part.labs.len(),
            columns = part.num_cols(),
            cuts = part.cuts.inst.len(),
            objective = st.obj,
            bound = st.bound,
            gap = part_gap(st),
            "part at the end"
        );
    }
    let guard = shared.lock().map_err(|_| SolveError::Solver("solver state poisoned".into()))?;
    let s = guard.as_ref().ok_or_else(|| SolveError::Solver("no state".into()))?;
    let (_, bound) = s.totals();
    Ok(assemble(&data, &s.placement, bound, &s.shadow, started.elapsed().as_secs_f64()))
}

fn mip_part(
    part: &Part,
    st: &PartState,
    time_limit: f64,
    abs_gap: f64,
    seed: i32,
    max_cols: usize,
    deadline: Instant,
) -> Option<PartState> {
    let begun = Instant::now();
    let (mult, lag) = st.lag.as_ref()?;
    let must: Vec<Col> = st
        .sel
        .iter()
        .enumerate()
        .filter_map(|(r, s)| s.map(|(p, start)| Col { r: r as u32, p: p as u32, s: start }))
        .collect();
    // Columns that cannot be in a plan better than the incumbent are left out; the
    // margin keeps rounding in the reduced costs from dropping a column at the limit.
    let limit = (st.obj - lag.value).max(0.0) * (1.0 + 1e-9) + 1e-6;
    let (cols, excluded_min) = select_columns(part, mult, lag, limit, max_cols, &must);
    let model = PartModel::new(part, cols);
    // Choosing the columns and building the model take seconds on a part of millions of
    // columns (the 100,000-request solve ended 11 s past its limit): the MILP gets what
    // is left of its slice after them, never past the deadline.
    let time_limit = (time_limit - begun.elapsed().as_secs_f64())
        .min(deadline.saturating_duration_since(Instant::now()).as_secs_f64());
    if time_limit < 0.1 {
        return None;
    }
    let res = model.solve_mip(Some(&st.sel), time_limit, abs_gap, seed)?;
    let mut sel = st.sel.clone();
    let mut obj = st.obj;
    if let Some(mut ns) = res.sel {
        let mut load = load_of(part, &ns);
        let fits = load.iter().enumerate().all(|(row, &u)| {
            let w = part.weeks as usize;
            u <= part.cap[row / w][row % w] + HOURS_EPS
        });
        // The MILP saw only some columns, and may have stopped short of its own optimum:
        // the local search over all of them often still finds a step.
        if fits {
            improve(part, &mut ns, &mut load, Some(deadline));
        }
        let nobj = objective(part, &ns);
        if fits && nobj < obj {
            sel = ns;
            obj = nobj;
        }
    }
    let proven = res.bound.min(lag.value + excluded_min);
    tracing::debug!(
        eq = part.eq,
        requests = part.reqs.len(),
        labs = part.labs.len(),
        columns = part.num_cols(),
        model_columns = model.cols.len(),
        start = st.obj,
        found = obj,
        lagrangian = lag.value,
        mip_bound = res.bound,
        excluded_min,
        "part MILP"
    );
    let mut bound = st.bound.max(proven);
    if obj - bound <= 1e-7 * obj.abs().max(1.0) {
        bound = obj;
    }
    Some(PartState { sel, obj, bound, lag: st.lag.clone() })
}

/// The LP relaxation of a part too large for one, by column generation: the LP over a
/// restricted set of columns (the incumbent's and each request's cheapest under `start`),
/// priced over every column of the part, the columns that would improve it added, until
/// none would or `until`.
///
/// Any duals give a valid bound through the Lagrangian over all columns (`bound.rs`),
/// so each round's bound counts even if the loop stops early; when no column prices
/// out, that bound equals the full LP's. The restricted LPs are a few times smaller
/// than the part, which is what keeps region-5000's large parts within their share.
fn colgen(part: &Part, start: &Mult, incumbent: &Sel, until: Instant) -> Option<Relaxed> {
    let n = part.reqs.len();
    let mut in_set: std::collections::HashSet<Col> = std::collections::HashSet::new();
    let mut cols: Vec<Col> = Vec::new();
    for (r, s) in incumbent.iter().enumerate() {
        if let Some((p, st)) = *s {
            let c = Col { r: r as u32, p: p as u32, s: st };
            if in_set.insert(c) {
                cols.push(c);
            }
        }
    }
    let mut m_set = vec![f64::INFINITY; n];
    let mut mult = start.clone();
    // The start's own bound: a round whose duals give less is not kept.
    let mut best: Option<(f64, Mult, Vec<Col>, Vec<f64>)> =
        Some((lagrangian(part, start).value, start.clone(), Vec::new(), Vec::new()));
    let mut per_request = COLGEN_FIRST;
    let mut lp_mult: Option<Mult> = None;
    for round in 0.. {
        // Price every column: those below the request's best in the set (or below
        // leaving it out) would improve the restricted LP; add the cheapest few.
        let new: Vec<Vec<Col>> = (0..n)
            .into_par_iter()
            .map(|r| {
                let limit = m_set[r].min(part.penalty[r]).min(part.floor[r]);
                let mut found: Vec<(f64, Col)> = Vec::new();
                let (mut prefix, mut costs) = (Vec::new(), Vec::new());
                for (p, pair) in part.pairs[r].iter().enumerate() {
                    if pair.cost >= limit {
                        continue;
                    }
                    start_costs(part, &mult, r, p, &mut prefix, &mut costs);
                    for (&s, &rc) in pair.starts.iter().zip(&costs) {
                        let c = Col { r: r as u32, p: p as u32, s };
                        if rc < limit - 1e-7 * limit.abs().max(1.0) && !in_set.contains(&c) {
                            found.push((rc, c));
                        }
                    }
                }
                if found.len() > per_request {
                    found.select_nth_unstable_by(per_request, |a, b| a.0.total_cmp(&b.0));
                    found.truncate(per_request);
                }
                found.into_iter().map(|x| x.1).collect()
            })
            .collect();
        let added: usize = new.iter().map(Vec::len).sum();
        tracing::debug!(round, columns = cols.len(), added, "column generation");
        if added == 0 && round > 0 {
            // Nothing prices out at the smoothed duals: the LP's own duals decide
            // (a smoothed point can miss a column that the LP's duals would take).
            let Some(exact) = lp_mult.take() else { break };
            m_set = set_minima(part, &exact, &cols);
            mult = exact;
            continue;
        }
        for c in new.into_iter().flatten() {
            if in_set.insert(c) {
                cols.push(c);
            }
        }
        per_request = COLGEN_NEXT;
        let left = until.saturating_duration_since(Instant::now()).as_secs_f64();
        if left < 0.2 {
            break;
        }
        let model = PartModel::new(part, cols.clone()).interior_point();
        let Some(lp) = model.solve_lp(left) else { break };
        let lag = lagrangian(part, &lp.mult);
        if best.as_ref().is_none_or(|b| lag.value > b.0) {
            best = Some((lag.value, lp.mult.clone(), cols.clone(), lp.x.clone()));
        }
        // Wentges smoothing: price at a point between the best duals so far and the
        // LP's. The restricted LP's duals swing from round to round and keep pulling in
        // columns that the next round no longer wants; region-5000's climatic part was
        // still adding a hundred columns a round when its time ran out. Any duals give a
        // valid bound, so the smoothed point's bound counts too.
        let smooth = match &best {
            Some((_, center, ..)) => center.mix(&lp.mult, SMOOTHING),
            None => lp.mult.clone(),
        };
        let lag = lagrangian(part, &smooth);
        if best.as_ref().is_none_or(|b| lag.value > b.0) {
            best = Some((lag.value, smooth.clone(), cols.clone(), lp.x.clone()));
        }
        m_set = set_minima(part, &smooth, &cols);
        mult = smooth;
        lp_mult = Some(lp.mult);
    }
    let (_, mult, cols, x) = best?;
    // Shadow prices from the restricted relaxation of the rules as stated.
    let left = until.saturating_duration_since(Instant::now()).as_secs_f64();
    let plain = PartModel::new(part, cols.clone())
        .without_conflicts()
        .interior_point()
        .solve_lp(left.max(1.0))
        .map(|lp| lp.mult.pi);
    Some(Relaxed { plain: plain.or_else(|| Some(mult.pi.clone())), mult, cols, x })
}

/// `f` of every part in `order`, the parts taken strictly in that order by `workers`
/// workers, so that the parts put first start first; the results come as they finish. A
/// parallel iterator splits its input in halves instead: with two workers, the first
/// and second parts of the order ran one after the other on the same worker, and the
/// second found its phase over when it started.
fn in_order<T: Send>(order: &[usize], workers: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out = Mutex::new(Vec::with_capacity(order.len()));
    rayon::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|_| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let res = f(i);
                    if let Ok(mut out) = out.lock() {
                        out.push(res);
                    }
                }
            });
        }
    });
    out.into_inner().unwrap_or_default()
}

/// The least reduced cost under `mult` of each request's columns in `cols`.
fn set_minima(part: &Part, mult: &Mult, cols: &[Col]) -> Vec<f64> {
    let mut m = vec![f64::INFINITY; part.reqs.len()];
    for c in cols {
        let r = c.r as usize;
        m[r] = m[r].min(reduced_cost(part, mult, r, c.p as usize, c.s));
    }
    m
}

fn record_shadow(shared: &Mutex<Option<Shared>>, part: &Part, pi: &[f64]) {
    let Ok(mut g) = shared.lock() else { return };
    let Some(s) = g.as_mut() else { return };
    let w = part.weeks as usize;
    for (row, &v) in pi.iter().enumerate() {
        if v > 0.0 {
            s.shadow.insert((part.labs[row / w], part.eq, (row % w) as u32), v);
        }
    }
}
