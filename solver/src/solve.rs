//! The solve: decompose, a greedy plan for every part at once, LP bounds and duals,
//! then the MILP of each part that still has a gap, in parallel, with the time limit
//! shared by how much each part's gap weighs in the whole.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::bound::{Lagrangian, lagrangian, reduced_cost, select_columns, start_costs, subgradient};
use crate::budget::Stop;
use crate::data::{Data, HOURS_EPS};
use crate::error::SolveError;
use crate::explain::assemble;
use crate::heuristic::{Order, greedy, greedy_keeping, greedy_plain, improve, load_of, round_lp};
use crate::milp::{Limit, PartModel};
use crate::model::{Col, Mult, Part, Sel};
use crate::part::{Decomposition, decompose, decompose_part};
use crate::types::{Instance, Pinned, Plan};

/// Columns kept per part at most (memory); beyond, each request keeps some of its
/// pairings (see `part.rs`). At 1.5 million the generated 100,000-request instance kept
/// about 20 labs per request, all near its company; 8 million (about 4 bytes a column)
/// keeps the Lagrangian's floors close to those of the whole part.
pub const PART_COLUMNS: usize = 8_000_000;
/// Columns of a part's LP relaxation at most; larger parts get the subgradient
/// Lagrangian and column generation instead (region-5000's climatic part, 150,000
/// columns, did not finish its LP in 100 s on two cores).
pub const LP_COLUMNS: usize = 40_000;
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

/// How long past its time limit a solve may run before the caller takes its best plan
/// so far: every phase stops at the deadline by itself, but a HiGHS call can overrun it
/// by a second or two (building a model of millions of columns).
const GRACE_SECONDS: f64 = 2.0;
const GRACE_SHARE: f64 = 0.05;

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
    /// The same instance and options give the same plan and bound on any machine,
    /// whatever its load or the number of threads: every step stops by an amount of work
    /// instead of the clock (iteration and node limits in HiGHS), calibrated so that the
    /// solve takes about `time_limit` on the reference machine (2 cores). The clock only
    /// stops a step past [`DETERMINISTIC_SAFETY`] times the limit, and the plan then
    /// says it is not deterministic; so does a cancelled solve.
    pub deterministic: bool,
    /// Columns of a part's LP relaxation at most ([`LP_COLUMNS`]); a larger part gets
    /// subgradient steps and column generation instead. Lowered only to test that path
    /// on small instances.
    pub max_lp_columns: usize,
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
            deterministic: false,
            max_lp_columns: LP_COLUMNS,
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
            .field("deterministic", &self.deterministic)
            .field("max_lp_columns", &self.max_lp_columns)
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
    let grace = Duration::from_secs_f64(GRACE_SECONDS + GRACE_SHARE * options.time_limit.as_secs_f64());
    let cancelled = || options.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed));
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(res) => return res,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(SolveError::Solver("the solver thread stopped without a result".into()));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        // A deterministic solve stops its steps by work; the clock only as a safety.
        let limit =
            if options.deterministic { options.time_limit.mul_f64(DETERMINISTIC_SAFETY) } else { options.time_limit };
        let late = started.elapsed() > limit + grace;
        if (cancelled() || late) && shared.lock().map(|s| s.as_ref().is_some_and(|s| s.have_plan)).unwrap_or(false) {
            stop.store(true, Ordering::Relaxed);
            let data = Data::new(&inst)?;
            let guard = shared.lock().map_err(|_| SolveError::Solver("solver state poisoned".into()))?;
            let Some(s) = guard.as_ref() else { continue };
            let (_, bound) = s.totals();
            let mut plan = assemble(&data, &s.placement, bound, &s.shadow, started.elapsed().as_secs_f64());
            plan.deterministic = options.deterministic.then_some(false);
            return Ok(plan);
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

#[derive(Clone)]
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

/// Shares of the time limit, counted from the start of the solve, at which each phase
/// ends at the latest. The local search gets a slice of its own because on parts of
/// tens of thousands of requests it would otherwise eat the whole limit; the
/// relaxations end by half the limit so that the MILPs, which close most of the gap,
/// always get time; the priced heuristics may run a little into the MILPs' share.
const LOCAL_SEARCH_END: f64 = 0.15;
const RELAXATION_END: f64 = 0.5;
const PRICED_HEURISTICS_EXTRA: f64 = 0.05;
/// Of a large part's share of the relaxation phase, the part given to subgradient
/// steps before column generation: they reach much of the LP bound fast and their
/// reduced costs pick the first restricted LP's columns; column generation, whose
/// interior-point rounds are fast enough, should have most of the time.
const SUBGRADIENT_SHARE: f64 = 0.2;
/// The least share of what is left of the relaxation phase that a large part gets, so
/// that none ends without duals (they are its shadow prices).
const LARGE_PART_MIN_SHARE: f64 = 0.02;
/// The most of a worker's remaining time one part's MILP takes at once (in a round, or
/// a run of the queue), so that a part whose model stalls leaves time to the others and
/// to its own next MILP.
const MIP_ROUND_SHARE: f64 = 0.6;
/// Below this many seconds left, no MILP is started: building one takes about that.
const MIP_MIN_SECONDS: f64 = 0.2;
/// Relative gap under which a part counts as closed.
const PART_CLOSED: f64 = 1e-6;

/// A deterministic solve stops its steps by work, counted so that one second of the
/// reference machine's worker does about this many units: columns scanned by the
/// heuristics and the Lagrangian.
const WORK_PER_SECOND: f64 = 2.0e7;
/// Workers of the reference machine, over which a deterministic solve's work is
/// counted whatever the threads it is given.
const REFERENCE_WORKERS: f64 = 2.0;
/// Branch-and-bound nodes per second of a part's MILP on the reference machine.
const MIP_NODES_PER_SECOND: f64 = 10.0;
/// Simplex iterations of one LP at most, in a deterministic solve: the small parts'
/// LPs take a few thousand.
const LP_ITERATIONS: i32 = 2_000_000;
/// Seconds of one column-generation round on the reference machine (a pricing pass and
/// an interior-point LP), to turn a share of a deterministic solve into rounds.
const COLGEN_ROUND_SECONDS: f64 = 2.0;
/// The clock stops a deterministic solve's steps only past this many times its limit.
pub const DETERMINISTIC_SAFETY: f64 = 4.0;

/// One solve: the instance decomposed, and what every step shares.
struct Run<'a> {
    data: &'a Data<'a>,
    parts: &'a [Part],
    options: &'a SolveOptions,
    shared: &'a Mutex<Option<Shared>>,
    stop: &'a AtomicBool,
    started: Instant,
    deadline: Instant,
    /// What lies outside every part: pinned bookings and requests no booking fits.
    constant: f64,
    /// Deterministic: the moment past which the clock stops a step, and whether it did.
    safety: Instant,
    cut: AtomicBool,
    /// A plan of each part to start from, where one is known (an earlier solve of it).
    starts: &'a [Option<Sel>],
}

impl Run<'_> {
    fn det(&self) -> bool {
        self.options.deterministic
    }

    /// How a step ends: at `share` of the time limit, or, deterministic, after the work
    /// of `seconds` on the reference machine.
    fn stop(&self, share: f64, seconds: f64) -> Stop<'_> {
        if self.det() {
            Stop::after_work((seconds.max(0.0) * WORK_PER_SECOND) as u64, self.safety, &self.cut)
        } else {
            Stop::at(self.at_share(share))
        }
    }

    /// Reference seconds of a phase of `share` of the limit for a part holding `weight`
    /// of the phase's total weight (deterministic budgets).
    fn part_seconds(&self, share: f64, weight: f64, total: f64) -> f64 {
        share * self.limit() * REFERENCE_WORKERS * weight / total.max(1e-9)
    }

    fn total_columns(&self) -> f64 {
        self.parts.iter().map(|p| p.num_cols() as f64).sum()
    }

    /// An LP's limit within `stop`: its seconds by time, an iteration limit by work.
    fn lp_limit<'s>(&self, seconds: f64, stop: &'s Stop<'s>) -> Limit<'s> {
        if self.det() {
            Limit { seconds: stop.seconds_left(), work: Some(LP_ITERATIONS), stop: Some(stop) }
        } else {
            Limit::seconds(seconds)
        }
    }

    fn limit(&self) -> f64 {
        self.options.time_limit.as_secs_f64()
    }

    /// The moment `share` of the time limit has passed, never past the deadline.
    fn at_share(&self, share: f64) -> Instant {
        self.deadline.min(self.started + Duration::from_secs_f64(share * self.limit()))
    }

    fn cancelled(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.options.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed))
    }

    fn workers(&self) -> usize {
        self.options.threads.max(1)
    }

    fn report(&self, phase: Phase, done: usize) {
        if let Some(cb) = &self.options.progress
            && let Ok(g) = self.shared.lock()
            && let Some(s) = g.as_ref()
        {
            let (obj, bound) = s.totals();
            cb(&Progress {
                phase,
                parts_done: done,
                parts_total: self.parts.len(),
                objective: if s.have_plan { obj } else { f64::INFINITY },
                bound,
                gap: gap_of(obj, bound),
                elapsed: self.started.elapsed(),
            });
        }
    }

    /// Makes part `i`'s plan and bound the best known, for the caller to take at once.
    fn publish(&self, i: usize, st: &PartState) {
        let part = &self.parts[i];
        if let Ok(mut g) = self.shared.lock()
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
    }

    fn target_met(&self, states: &[PartState]) -> bool {
        let obj = self.constant + states.iter().map(|s| s.obj).sum::<f64>();
        let bound = self.constant + states.iter().map(|s| s.bound.min(s.obj)).sum::<f64>();
        gap_of(obj, bound) <= self.options.gap
    }

    /// Step 1: a valid plan for every part, fast: the one-pass greedy only, published part
    /// by part, so that even an instance of 100,000 requests has a plan within seconds.
    fn first_plans(&self) -> Vec<PartState> {
        let states = self
            .parts
            .par_iter()
            .enumerate()
            .map(|(i, part)| {
                // Two one-pass orders: by priority, and by due week alone, which on the
                // generated 100,000-request instance gives a plan half as costly (requests
                // due early take the early weeks instead of being pushed late by the
                // priority-3 requests booked first).
                // With current bookings, each order also once with them kept first.
                let keeping = (0..part.reqs.len()).any(|r| part.home_col(r).is_some());
                let start = self.starts.get(i).cloned().flatten();
                let (obj, sel) = [Order::PriorityDue, Order::Edd]
                    .into_iter()
                    .flat_map(|order| {
                        let plain = greedy_plain(part, order, None);
                        let kept = keeping.then(|| greedy_keeping(part, order));
                        std::iter::once(plain).chain(kept)
                    })
                    .chain(start)
                    .map(|sel| (part.objective(&sel), sel))
                    .min_by(|a, b| a.0.total_cmp(&b.0))
                    .unwrap_or_else(|| (part.penalty.iter().sum(), vec![None; part.reqs.len()]));
                let zero = Mult::zero(part);
                let lag = lagrangian(part, &zero);
                let st = PartState { sel, obj, bound: lag.value, lag: Some((zero, lag)) };
                self.publish(i, &st);
                st
            })
            .collect();
        if let Ok(mut g) = self.shared.lock()
            && let Some(s) = g.as_mut()
        {
            s.have_plan = true;
        }
        tracing::info!(
            seconds = self.started.elapsed().as_secs_f64(),
            parts = self.parts.len(),
            "greedy plan of every part"
        );
        self.report(Phase::Heuristic, 0);
        states
    }

    /// The local search and a third greedy order, within their slice of the limit.
    fn local_search(&self, states: &mut [PartState]) {
        let total = self.total_columns();
        states.par_iter_mut().enumerate().for_each(|(i, st)| {
            let part = &self.parts[i];
            if self.cancelled() {
                return;
            }
            let seconds = self.part_seconds(LOCAL_SEARCH_END, part.num_cols() as f64, total);
            let stop = self.stop(LOCAL_SEARCH_END, seconds);
            let mut sel = st.sel.clone();
            let mut load = load_of(part, &sel);
            improve(part, &mut sel, &mut load, &stop);
            let mut best = (part.objective(&sel), sel);
            if !stop.done() {
                let sel = greedy(part, Order::PriorityHours, None, &stop);
                let obj = part.objective(&sel);
                if obj < best.0 {
                    best = (obj, sel);
                }
            }
            if best.0 < st.obj {
                (st.obj, st.sel) = best;
                self.publish(i, st);
            }
        });
        tracing::info!(seconds = self.started.elapsed().as_secs_f64(), "local search of every part");
        self.report(Phase::Heuristic, 0);
    }

    /// Step 2, bounds and duals: the LP relaxation of parts small enough for one, the
    /// subgradient Lagrangian and column generation of the others; both give the
    /// shadow prices and a priced greedy.
    ///
    /// Parts small enough for one LP go first, largest gap first: their LPs take
    /// seconds and give their bound, duals and rounding at once. Then the large ones,
    /// which share what is left of the phase by their gap after the greedy:
    /// region-5000's universal-testing part is as large as its climatic one but has a
    /// hundredth of its gap, and time spent on it is time the climatic part's bound does
    /// not get.
    fn relaxations(&self, states: &[PartState]) -> Vec<(usize, Option<Relaxed>)> {
        let end = self.at_share(RELAXATION_END);
        let large = |i: usize| self.parts[i].num_cols() > self.options.max_lp_columns;
        let mut order: Vec<usize> = (0..self.parts.len()).collect();
        order.sort_by(|&a, &b| large(a).cmp(&large(b)).then(part_gap(&states[b]).total_cmp(&part_gap(&states[a]))));
        let large_gap = (0..self.parts.len()).filter(|&i| large(i)).map(|i| part_gap(&states[i])).sum::<f64>();
        let pending_gap = Mutex::new(large_gap);
        let relaxed = in_order(&order, self.workers(), |i| {
            if self.cancelled() || (!self.det() && Instant::now() >= end) {
                return (i, None);
            }
            if large(i) {
                (i, Some(self.relax_large(i, &states[i], &pending_gap, large_gap, end)))
            } else {
                (i, self.relax_small(i, end))
            }
        });
        tracing::info!(seconds = self.started.elapsed().as_secs_f64(), "relaxations");
        relaxed
    }

    /// A part too large for one LP: subgradient steps, then column generation from
    /// them, within the part's share of what is left of the phase: its gap against the
    /// gaps of the large parts not yet started, over all workers, and no more than one
    /// worker's whole rest of the phase. Deterministic, its share is its gap against
    /// every large part's, of the whole phase.
    fn relax_large(&self, i: usize, st: &PartState, pending_gap: &Mutex<f64>, large_gap: f64, end: Instant) -> Relaxed {
        let part = &self.parts[i];
        let gap = part_gap(st);
        let phase = RELAXATION_END - LOCAL_SEARCH_END;
        let (warm_stop, cg_stop, rounds) = if self.det() {
            let seconds = self
                .part_seconds(phase, gap, large_gap)
                .clamp(LARGE_PART_MIN_SHARE * phase * self.limit(), phase * self.limit());
            let rounds = ((1.0 - SUBGRADIENT_SHARE) * seconds / COLGEN_ROUND_SECONDS).ceil().max(2.0) as usize;
            (self.stop(0.0, SUBGRADIENT_SHARE * seconds), self.stop(0.0, f64::INFINITY), rounds)
        } else {
            let left = end.saturating_duration_since(Instant::now()).as_secs_f64();
            let fraction = match pending_gap.lock() {
                Ok(mut pending) => {
                    let f = gap / pending.max(1e-9);
                    *pending = (*pending - gap).max(0.0);
                    f
                }
                Err(_) => 1.0,
            };
            let share = (left * self.workers() as f64 * fraction).clamp(LARGE_PART_MIN_SHARE * left, left);
            let until = end.min(Instant::now() + Duration::from_secs_f64(share));
            let now = Instant::now();
            let warm_until = now + until.saturating_duration_since(now).mul_f64(SUBGRADIENT_SHARE);
            (Stop::at(warm_until), Stop::at(until), usize::MAX)
        };
        // Column generation prices the conflict rows of a part it sees whole; a
        // truncated part, whose bound rests on the subgradient's, gets them there too
        // (a loaded check of region-5000, whose parts are whole, lost bound with them).
        let truncated = part.floor.iter().any(|f| f.is_finite());
        let warm = subgradient(part, &Mult::zero(part), st.obj, truncated, &warm_stop).0;
        let pi = warm.pi.clone();
        let fallback = Relaxed { mult: warm.clone(), cols: Vec::new(), x: Vec::new(), plain: Some(pi) };
        colgen(part, &warm, &st.sel, &cg_stop, rounds, self.det()).unwrap_or(fallback)
    }

    /// A part small enough for one LP over all its columns.
    fn relax_small(&self, i: usize, end: Instant) -> Option<Relaxed> {
        let part = &self.parts[i];
        let stop = self.stop(RELAXATION_END, f64::INFINITY);
        let left = end.saturating_duration_since(Instant::now()).as_secs_f64();
        let model = PartModel::new(part, part.all_columns());
        let lp_started = Instant::now();
        let lp = model.solve_lp(self.lp_limit(left * 0.5, &stop));
        // Shadow prices come from the relaxation of the rules as stated; the
        // conflict rows would take part of the price onto themselves. That LP is
        // the same size, so it gets about the time the first took.
        let took = lp_started.elapsed().as_secs_f64();
        let left = end.saturating_duration_since(Instant::now()).as_secs_f64();
        let plain = model.without_conflicts();
        let shadow = plain.solve_lp(self.lp_limit((2.0 * took).max(1.0).min(left * 0.5), &stop)).map(|lp| lp.mult.pi);
        lp.map(|lp| Relaxed { mult: lp.mult, cols: plain.cols, x: lp.x, plain: shadow })
    }

    /// The greedy priced by each relaxation's duals and the rounding of its LP; the
    /// relaxation's Lagrangian bound.
    fn priced_heuristics(&self, relaxed: Vec<(usize, Option<Relaxed>)>, states: &mut [PartState]) {
        let total = self.total_columns();
        let improved: Vec<(usize, Option<PartState>)> = relaxed
            .into_par_iter()
            .map(|(i, res)| {
                let Some(Relaxed { mult, cols, x, plain }) = res else {
                    return (i, None);
                };
                let part = &self.parts[i];
                if let Some(shadow) = plain {
                    record_shadow(self.shared, part, &shadow);
                }
                let lag = lagrangian(part, &mult);
                let st = &states[i];
                let mut best = (st.obj, st.sel.clone());
                // The heuristics of this phase may run to the MILP's share, not past it.
                let seconds = self.part_seconds(PRICED_HEURISTICS_EXTRA, part.num_cols() as f64, total);
                let until = self.stop(RELAXATION_END + PRICED_HEURISTICS_EXTRA, seconds);
                let mut cands = vec![greedy(part, Order::PriorityDue, Some(&mult.pi), &until)];
                if !cols.is_empty() {
                    cands.push(round_lp(part, &cols, &x, &mult.pi, &until));
                }
                for sel in cands {
                    let obj = part.objective(&sel);
                    if obj < best.0 {
                        best = (obj, sel);
                    }
                }
                let (obj, sel) = best;
                let bound = st.bound.max(lag.value);
                let ns = PartState { sel, obj, bound, lag: Some((mult, lag)) };
                self.publish(i, &ns);
                (i, Some(ns))
            })
            .collect();
        for (i, st) in improved {
            if let Some(st) = st {
                states[i] = st;
            }
        }
        tracing::info!(seconds = self.started.elapsed().as_secs_f64(), "priced heuristics");
        self.report(Phase::Relaxation, 0);
    }

    /// Step 3 of a deterministic solve: MILPs, hardest gaps first, in
    /// [`DETERMINISTIC_MIP_ROUNDS`] rounds or until the target gap. By the clock, the
    /// MILPs run as a queue instead ([`Run::mip_queue`]).
    fn mip_rounds(&self, states: &mut [PartState]) {
        let mut round = 0;
        while !self.cancelled() && !self.target_met(states) && round < DETERMINISTIC_MIP_ROUNDS {
            round += 1;
            let mut open: Vec<usize> = (0..self.parts.len()).filter(|&i| part_open(&states[i])).collect();
            if open.is_empty() {
                break;
            }
            open.sort_by(|&a, &b| part_gap(&states[b]).total_cmp(&part_gap(&states[a])).then(a.cmp(&b)));
            let results = self.mip_round(round, &open, states);
            let mut progressed = false;
            for (i, res) in results {
                if let Some(ns) = res {
                    progressed |= ns.obj < states[i].obj - 1e-6 || ns.bound > states[i].bound + 1e-6;
                    states[i] = ns;
                }
            }
            if !progressed && mip_columns(round) >= MIP_COLS {
                break;
            }
        }
    }

    /// Step 3 by the clock: the MILPs of the open parts. A free worker takes, of the
    /// parts no other worker holds, one with the fewest MILPs so far and of these the
    /// widest gap; no round waits for its slowest part. Its slice is its share of the
    /// open gap, as in [`Run::mip_round`], but at least twice its last slice when that
    /// one ran out of time: HiGHS cannot continue a tree, and a part that needs one long
    /// MILP (cluster-1300's climatic and EMC parts, 10–25 s each) otherwise got a short
    /// one each round, restarted from nothing, and never found its optimum. Its columns
    /// grow only when its last MILP finished or the columns left out held its bound down.
    fn mip_queue(&self, states: &mut [PartState]) {
        let board = Mutex::new((states.to_vec(), vec![MipSlot::default(); states.len()]));
        let freed = std::sync::Condvar::new();
        rayon::scope(|scope| {
            for _ in 0..self.workers() {
                scope.spawn(|_| {
                    loop {
                        let Ok(mut guard) = board.lock() else { return };
                        let (st, slot, i, slice, abs_gap) = loop {
                            let (states, slots) = &mut *guard;
                            let left = self.deadline.saturating_duration_since(Instant::now()).as_secs_f64();
                            if self.cancelled() || self.target_met(states) || left < MIP_MIN_SECONDS {
                                freed.notify_all();
                                return;
                            }
                            let open = |i: usize| !slots[i].done && part_open(&states[i]);
                            let pick = (0..states.len()).filter(|&i| open(i) && !slots[i].running).max_by(|&a, &b| {
                                slots[b]
                                    .runs
                                    .cmp(&slots[a].runs)
                                    .then(part_gap(&states[a]).total_cmp(&part_gap(&states[b])))
                                    .then(b.cmp(&a))
                            });
                            let Some(i) = pick else {
                                if !(0..states.len()).any(|i| slots[i].running) {
                                    freed.notify_all();
                                    return;
                                }
                                guard = match freed.wait_timeout(guard, Duration::from_millis(100)) {
                                    Ok((g, _)) => g,
                                    Err(_) => return,
                                };
                                continue;
                            };
                            let gap_sum: f64 =
                                (0..states.len()).filter(|&j| open(j)).map(|j| part_gap(&states[j])).sum();
                            let total_obj = self.constant + states.iter().map(|s| s.obj).sum::<f64>();
                            let weight = part_gap(&states[i]) / gap_sum.max(1e-9);
                            let slot = slots[i];
                            let share = (weight * self.workers() as f64).min(MIP_ROUND_SHARE);
                            let slice = (left * share).max(left.min(1.0)).max(2.0 * slot.last).min(left);
                            let abs_gap = (self.options.gap * total_obj * weight).max(1e-6);
                            slots[i].running = true;
                            break (states[i].clone(), slot, i, slice, abs_gap);
                        };
                        drop(guard);
                        let stop = Stop::at(self.deadline);
                        let columns = mip_columns(slot.level + 1);
                        let res = mip_part(
                            &self.parts[i],
                            &st,
                            Limit::seconds(slice),
                            abs_gap,
                            slot.runs as i32 + 1,
                            columns,
                            &stop,
                        );
                        let Ok(mut guard) = board.lock() else { return };
                        let (states, slots) = &mut *guard;
                        let slot = &mut slots[i];
                        slot.running = false;
                        slot.runs += 1;
                        slot.last = slice;
                        match res {
                            Some((ns, wants_columns)) => {
                                let progressed = ns.obj < st.obj - 1e-6 || ns.bound > st.bound + 1e-6;
                                slot.done = !progressed && wants_columns && columns >= MIP_COLS;
                                if wants_columns {
                                    slot.level += 1;
                                    slot.last = 0.0;
                                }
                                self.publish(i, &ns);
                                states[i] = ns;
                                // Parts that have had a MILP, as a round counted its parts done.
                                self.report(Phase::Mip, slots.iter().filter(|s| s.runs > 0).count());
                            }
                            // No MILP (too little time left to build it, or no answer from
                            // HiGHS): nothing more for it.
                            None => slot.done = true,
                        }
                        freed.notify_all();
                    }
                });
            }
        });
        if let Ok((finished, _)) = board.into_inner() {
            states.clone_from_slice(&finished);
        }
    }

    /// One deterministic round: each open part's MILP over the columns of least reduced
    /// cost, with a node limit from its share of the open gap in the round's part of the
    /// MILP phase.
    fn mip_round(&self, round: u32, open: &[usize], states: &[PartState]) -> Vec<(usize, Option<PartState>)> {
        let total_obj = self.constant + states.iter().map(|s| s.obj).sum::<f64>();
        let gap_sum: f64 = open.iter().map(|&i| part_gap(&states[i])).sum();
        let done = std::sync::atomic::AtomicUsize::new(0);
        in_order(open, self.workers(), |i| {
            let st = &states[i];
            // A part is done when its own gap is within its share of the target.
            let abs_gap = (self.options.gap * total_obj * part_gap(st) / gap_sum.max(1e-9)).max(1e-6);
            let part = &self.parts[i];
            let phase = (1.0 - RELAXATION_END) / f64::from(DETERMINISTIC_MIP_ROUNDS);
            let seconds = self.part_seconds(phase, part_gap(st), gap_sum).min(MIP_ROUND_SHARE * phase * self.limit());
            let improve_stop = self.stop(0.0, seconds * PRICED_HEURISTICS_EXTRA);
            let nodes = (seconds * MIP_NODES_PER_SECOND).clamp(10.0, 1e6) as i32;
            let limit = Limit { seconds: improve_stop.seconds_left(), work: Some(nodes), stop: Some(&improve_stop) };
            let columns = MIP_COLS_FIRST << (round - 1);
            let res = mip_part(part, st, limit, abs_gap, round as i32, columns, &improve_stop).map(|(ns, _)| ns);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(ns) = &res {
                self.publish(i, ns);
                self.report(Phase::Mip, n);
            }
            (i, res)
        })
    }

    /// Where the remaining gap lies, part by part (LABPLAN_LOG=labplan_solver=debug).
    fn log_parts(&self, states: &[PartState]) {
        for (part, st) in self.parts.iter().zip(states) {
            tracing::debug!(
                equipment = %self.data.inst.equipment[part.eq].code,
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
    }

    fn plan(&self) -> Result<Plan, SolveError> {
        let guard = self.shared.lock().map_err(|_| SolveError::Solver("solver state poisoned".into()))?;
        let s = guard.as_ref().ok_or_else(|| SolveError::Solver("no state".into()))?;
        let (_, bound) = s.totals();
        let mut plan = assemble(self.data, &s.placement, bound, &s.shadow, self.started.elapsed().as_secs_f64());
        plan.deterministic = self.kept_deterministic();
        Ok(plan)
    }

    /// Whether a deterministic solve kept to it; `None` when it was not asked.
    fn kept_deterministic(&self) -> Option<bool> {
        self.det().then(|| !self.cut.load(Ordering::Relaxed) && !self.cancelled())
    }
}

/// A part's place in the MILP queue ([`Run::mip_queue`]).
#[derive(Debug, Clone, Copy, Default)]
struct MipSlot {
    /// A worker holds it now.
    running: bool,
    /// MILPs it had.
    runs: u32,
    /// Seconds given to its last MILP, if it ran out of time.
    last: f64,
    /// Its MILPs' columns: [`mip_columns`] of this plus one.
    level: u32,
    /// Nothing more to try: its largest model gave nothing, or no time was left to build one.
    done: bool,
}

/// Rounds of MILPs of a deterministic solve. Its MILPs grow twice, not four times, from
/// round to round, and stop at 12,000 columns: a node limit does not bound the root's
/// work, which grows with the columns (on cluster-1300 with a 60 s limit, a third
/// round of 24,000 columns took the solve from 92 s to 150 s, for 0.193 % → 0.188 %).
const DETERMINISTIC_MIP_ROUNDS: u32 = 2;

/// Columns of round `round`'s MILPs (from 1): [`MIP_COLS_FIRST`], four times more each
/// round, at most [`MIP_COLS`].
fn mip_columns(round: u32) -> usize {
    (MIP_COLS_FIRST << (2 * (round.saturating_sub(1))).min(20)).min(MIP_COLS)
}

/// Whether a part still has a gap worth a MILP.
fn part_open(st: &PartState) -> bool {
    part_gap(st) > PART_CLOSED * st.obj.max(1.0)
}

fn part_gap(st: &PartState) -> f64 {
    (st.obj - st.bound).max(0.0)
}

/// The objective of what lies outside every part (pinned bookings, requests no
/// booking fits), and the placement of the pinned requests.
fn outside(data: &Data, forced_out: &[usize]) -> (f64, Vec<Option<(usize, u32)>>) {
    let mut constant: f64 = forced_out.iter().map(|&r| data.penalty(r)).sum();
    let mut placement: Vec<Option<(usize, u32)>> = vec![None; data.inst.requests.len()];
    for (r, pin) in data.pinned.iter().enumerate() {
        if let Some((l, s)) = *pin {
            placement[r] = Some((l, s));
            let span = data.footprint(data.reqs[r].test_type, l).map_or(1, |f| f.span);
            constant += data.booking_cost(r, l, s, s + span - 1);
        }
    }
    (constant, placement)
}

/// Runs every step on `parts`, sharing their best plans and bounds through `shared`
/// (which it initialises with `placement` and `constant`).
#[allow(clippy::too_many_arguments)]
fn run_parts<T>(
    data: &Data,
    parts: &[Part],
    starts: &[Option<Sel>],
    placement: Vec<Option<(usize, u32)>>,
    constant: f64,
    options: &SolveOptions,
    shared: &Mutex<Option<Shared>>,
    stop: &AtomicBool,
    started: Instant,
    finish: impl FnOnce(&Run, &[PartState]) -> T,
) -> T {
    if let Ok(mut g) = shared.lock() {
        *g = Some(Shared {
            placement,
            part_obj: parts.iter().map(|p| p.penalty.iter().sum()).collect(),
            part_bound: vec![0.0; parts.len()],
            constant,
            shadow: HashMap::new(),
            have_plan: false,
        });
    }
    let run = Run {
        data,
        parts,
        options,
        shared,
        stop,
        started,
        deadline: started + options.time_limit,
        constant,
        safety: started + options.time_limit.mul_f64(DETERMINISTIC_SAFETY) + Duration::from_secs_f64(GRACE_SECONDS),
        cut: AtomicBool::new(false),
        starts,
    };
    run.report(Phase::Decompose, 0);
    let mut states = run.first_plans();
    run.local_search(&mut states);
    let relaxed = run.relaxations(&states);
    run.priced_heuristics(relaxed, &mut states);
    if run.det() {
        run.mip_rounds(&mut states);
    } else {
        run.mip_queue(&mut states);
    }
    run.report(Phase::Done, parts.len());
    run.log_parts(&states);
    finish(&run, &states)
}

fn run_in_pool(
    inst: &Instance,
    options: &SolveOptions,
    shared: &Mutex<Option<Shared>>,
    stop: &AtomicBool,
    started: Instant,
) -> Result<Plan, SolveError> {
    let data = Data::new(inst)?;
    let Decomposition { parts, forced_out, .. } = decompose(&data, options.max_part_columns);
    let (constant, placement) = outside(&data, &forced_out);
    run_parts(&data, &parts, &[], placement, constant, options, shared, stop, started, |run, _| run.plan())
}

/// How an instance splits into parts that can be solved apart, on different machines,
/// and combined into one plan with the exact total bound.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Partition {
    /// The parts, numbered as [`solve_part`] takes them.
    pub parts: Vec<PartSummary>,
    /// The objective of what lies outside every part: pinned bookings, and requests no
    /// booking fits (left out in every plan).
    pub outside: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartSummary {
    pub id: usize,
    pub equipment: String,
    pub requests: usize,
    pub labs: usize,
    /// Candidate bookings: a measure of the part's work, to share time between parts.
    pub columns: usize,
}

/// The plan and bound of one part.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartPlan {
    pub part: usize,
    /// The part's bookings; its requests not listed are left out.
    pub bookings: Vec<Pinned>,
    /// The part's objective: its bookings' costs and its left-out requests' penalties.
    pub objective: f64,
    /// A proven lower bound on the part's objective.
    pub bound: f64,
    /// What one more hour would save, per (lab, equipment, week) of the part, where positive.
    pub shadow_prices: Vec<ShadowPrice>,
    /// As [`Plan::deterministic`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deterministic: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShadowPrice {
    pub lab: String,
    pub equipment: String,
    pub week: u32,
    pub price: f64,
}

/// The parts of an instance (deterministic: the same instance and `max_part_columns`
/// always give the same parts, in the same order).
pub fn partition(instance: &Instance, options: &SolveOptions) -> Result<Partition, SolveError> {
    let data = Data::new(instance)?;
    let Decomposition { parts, forced_out } = decompose(&data, options.max_part_columns);
    let (outside, _) = outside(&data, &forced_out);
    let parts = parts
        .iter()
        .enumerate()
        .map(|(id, p)| PartSummary {
            id,
            equipment: instance.equipment[p.eq].code.clone(),
            requests: p.reqs.len(),
            labs: p.labs.len(),
            columns: p.num_cols(),
        })
        .collect();
    Ok(Partition { parts, outside })
}

/// Solves one part of [`partition`] within `options` (its time limit is the part's
/// own), on `options.threads` threads of this process.
pub fn solve_part(instance: &Instance, part: usize, options: &SolveOptions) -> Result<PartPlan, SolveError> {
    solve_part_from(instance, part, options, None)
}

/// As [`solve_part`], starting from an earlier plan of the part: its plan is never
/// worse than `start`'s. A start that does not fit the part (another instance's) is
/// ignored.
pub fn solve_part_from(
    instance: &Instance,
    part: usize,
    options: &SolveOptions,
    start: Option<&PartPlan>,
) -> Result<PartPlan, SolveError> {
    let started = Instant::now();
    let data = Data::new(instance)?;
    let Some(p) = decompose_part(&data, options.max_part_columns, part) else {
        return Err(SolveError::Solver(format!("the instance has no part {part}")));
    };
    let starts = [start.filter(|s| s.part == part).and_then(|s| sel_of(&data, &p, s))];
    let parts = [p];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.max(1))
        .build()
        .map_err(|e| SolveError::Solver(e.to_string()))?;
    let shared = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let placement = vec![None; instance.requests.len()];
    pool.install(|| {
        run_parts(&data, &parts, &starts, placement, 0.0, options, &shared, &stop, started, |run, states| {
            let (p, st) = (&parts[0], &states[0]);
            let bookings = st
                .sel
                .iter()
                .enumerate()
                .filter_map(|(r, sel)| {
                    let (k, start) = (*sel)?;
                    let lab = p.labs[p.pairs[r][k].lab as usize];
                    Some(Pinned {
                        request: instance.requests[p.reqs[r]].id.clone(),
                        lab: instance.labs[lab].id.clone(),
                        start_week: start,
                    })
                })
                .collect();
            let mut shadow_prices: Vec<ShadowPrice> = shared
                .lock()
                .ok()
                .and_then(|g| g.as_ref().map(|s| s.shadow.clone()))
                .unwrap_or_default()
                .into_iter()
                .map(|((l, e, week), price)| ShadowPrice {
                    lab: instance.labs[l].id.clone(),
                    equipment: instance.equipment[e].code.clone(),
                    week,
                    price,
                })
                .collect();
            shadow_prices.sort_by(|a, b| (&a.lab, &a.equipment, a.week).cmp(&(&b.lab, &b.equipment, b.week)));
            Ok(PartPlan {
                part,
                bookings,
                objective: st.obj,
                bound: st.bound.min(st.obj),
                shadow_prices,
                deterministic: run.kept_deterministic(),
            })
        })
    })
}

/// A part plan's bookings as a selection of the part, if every booking is one of the
/// part's candidates and together they fit its capacity.
fn sel_of(data: &Data, part: &Part, plan: &PartPlan) -> Option<Sel> {
    let local: HashMap<usize, usize> = part.reqs.iter().enumerate().map(|(i, &r)| (r, i)).collect();
    let mut sel: Sel = vec![None; part.reqs.len()];
    for b in &plan.bookings {
        let i = *local.get(data.req_index.get(b.request.as_str())?)?;
        let lab = *data.lab_index.get(b.lab.as_str())?;
        let k = part.pairs[i].iter().position(|pair| part.labs[pair.lab as usize] == lab)?;
        part.pairs[i][k].starts.binary_search(&b.start_week).ok()?;
        sel[i] = Some((k, b.start_week));
    }
    let load = load_of(part, &sel);
    let w = part.weeks as usize;
    load.iter().enumerate().all(|(row, &u)| u <= part.cap[row / w][row % w] + HOURS_EPS).then_some(sel)
}

/// The plan of the whole instance from a plan of each of its parts: its bound is
/// exactly `partition.outside` plus the parts' bounds, as parts share no capacity.
pub fn combine(
    instance: &Instance,
    partition: &Partition,
    parts: &[PartPlan],
    seconds: f64,
) -> Result<Plan, SolveError> {
    let data = Data::new(instance)?;
    let mut seen = vec![false; partition.parts.len()];
    for p in parts {
        match seen.get_mut(p.part) {
            Some(s) if !*s => *s = true,
            _ => return Err(SolveError::Solver(format!("part {} is unknown or given twice", p.part))),
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(SolveError::Solver(format!("no plan for part {missing}")));
    }
    let (_, mut placement) = outside(&data, &[]);
    let mut shadow = HashMap::new();
    for p in parts {
        for b in &p.bookings {
            let (Some(&r), Some(&l)) = (data.req_index.get(b.request.as_str()), data.lab_index.get(b.lab.as_str()))
            else {
                return Err(SolveError::Solver(format!("part {} books unknown {} or {}", p.part, b.request, b.lab)));
            };
            placement[r] = Some((l, b.start_week));
        }
        for sp in &p.shadow_prices {
            if let (Some(&l), Some(&e)) =
                (data.lab_index.get(sp.lab.as_str()), data.eq_index.get(sp.equipment.as_str()))
            {
                shadow.insert((l, e, sp.week), sp.price);
            }
        }
    }
    let bound = partition.outside + parts.iter().map(|p| p.bound).sum::<f64>();
    let mut plan = assemble(&data, &placement, bound, &shadow, seconds);
    if parts.iter().any(|p| p.deterministic.is_some()) {
        plan.deterministic = Some(parts.iter().all(|p| p.deterministic == Some(true)));
    }
    Ok(plan)
}

/// The part's MILP over the columns of least reduced cost, from its incumbent, within
/// `limit`; the local search over all columns after it within `stop`.
fn mip_part(
    part: &Part,
    st: &PartState,
    limit: Limit,
    abs_gap: f64,
    seed: i32,
    max_cols: usize,
    stop: &Stop,
) -> Option<(PartState, bool)> {
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
    let delta = (st.obj - lag.value).max(0.0) * (1.0 + 1e-9) + 1e-6;
    let (cols, excluded_min) = select_columns(part, mult, lag, delta, max_cols, &must);
    let model = PartModel::new(part, cols);
    // Choosing the columns and building the model take seconds on a part of millions of
    // columns (the 100,000-request solve ended 11 s past its limit): the MILP gets what
    // is left of its slice after them, never past the deadline. A work limit needs no
    // such care: it is the same whatever the clock says.
    let limit = if limit.work.is_some() {
        limit
    } else {
        let seconds = (limit.seconds - begun.elapsed().as_secs_f64()).min(stop.seconds_left());
        if seconds < 0.1 {
            return None;
        }
        Limit::seconds(seconds)
    };
    let res = model.solve_mip(Some(&st.sel), limit, abs_gap, seed)?;
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
            improve(part, &mut ns, &mut load, stop);
        }
        let nobj = part.objective(&ns);
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
    // More columns are what the bound needs when the columns left out, not the MILP,
    // hold it down; more time is what it needs when the MILP stopped short.
    let wants_columns = res.finished || lag.value + excluded_min < res.bound;
    Some((PartState { sel, obj, bound, lag: st.lag.clone() }, wants_columns))
}

/// The LP relaxation of a part too large for one, by column generation: the LP over a
/// restricted set of columns (the incumbent's and each request's cheapest under `start`),
/// priced over every column of the part, the columns that would improve it added, until
/// none would, `stop`, or `max_rounds` rounds (a deterministic solve's budget).
///
/// Any duals give a valid bound through the Lagrangian over all columns (`bound.rs`),
/// so each round's bound counts even if the loop stops early; when no column prices
/// out, that bound equals the full LP's. The restricted LPs are a few times smaller
/// than the part, which is what keeps region-5000's large parts within their share.
fn colgen(part: &Part, start: &Mult, incumbent: &Sel, stop: &Stop, max_rounds: usize, det: bool) -> Option<Relaxed> {
    // By work, each LP gets an iteration limit and the clock only as a safety.
    let lp_limit = |seconds: f64| {
        if det {
            Limit { seconds: stop.seconds_left(), work: Some(LP_ITERATIONS), stop: Some(stop) }
        } else {
            Limit::seconds(seconds)
        }
    };
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
    for round in 0..max_rounds {
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
        let left = stop.seconds_left();
        if stop.done() || (!det && left < 0.2) {
            break;
        }
        let model = PartModel::new(part, cols.clone()).interior_point();
        let Some(lp) = model.solve_lp(lp_limit(left)) else { break };
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
    let left = stop.seconds_left();
    let plain = PartModel::new(part, cols.clone())
        .without_conflicts()
        .interior_point()
        .solve_lp(lp_limit(left.max(1.0)))
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
