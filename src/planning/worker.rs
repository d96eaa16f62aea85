//! The planning worker: claims queued runs, solves them with a heartbeat that keeps
//! its lease and publishes progress, and stores the outcome.
//!
//! Lease and retry: a claim gives the worker the run for `lease`; while the solve
//! goes on, a heartbeat every `lease / 3` extends it and writes the progress. A worker
//! that dies stops beating; once its lease has expired, the next claim by any worker
//! takes the run over (its `attempts` counts the tries). The dead worker's plan was
//! never written: plans are stored only in the transaction that ends the run, and only
//! by the lease holder.
//!
//! A spread run (`spread_parts`) is split by its owner into the instance's independent
//! parts, written as jobs of their own (`run_parts`); every worker takes parts of it,
//! each under its own lease, before new runs. A part whose worker died is taken again
//! once its lease has expired; a run whose owner died is taken over by another worker,
//! which keeps the parts already solved.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use labplan_solver as solver;
use sea_orm::DatabaseConnection;

use crate::app::runs::{Claim, PartClaim, another_pass, seconds_since};
use crate::db::run_parts::{PartBeat, Tally};
use crate::db::runs::{Beat, Outcome};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long a claim holds without a heartbeat.
    pub lease: Duration,
    /// How often to look for work when there is none.
    pub poll: Duration,
    /// Solver threads; None: all cores.
    pub threads: Option<usize>,
    /// This worker's name in `lease_owner`: host, process and a random tag.
    pub id: String,
}

impl WorkerConfig {
    pub fn new(lease: Duration, threads: Option<usize>) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".to_string());
        let tag: u32 = rand::random();
        Self {
            lease,
            poll: Duration::from_millis(500),
            threads,
            id: format!("{host}:{}:{tag:08x}", std::process::id()),
        }
    }

    fn heartbeat(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(200))
    }

    fn solver_threads(&self) -> usize {
        self.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// Works until `shutdown` completes. A run in progress at shutdown is handed back to
/// the queue rather than left to wait for its lease to expire.
pub async fn run(db: DatabaseConnection, config: WorkerConfig, shutdown: impl Future<Output = ()>) {
    tracing::info!(worker = %config.id, lease_s = config.lease.as_secs_f64(), "planning worker started");
    let stop = Arc::new(AtomicBool::new(false));
    let work = async {
        let mut instances = Instances::default();
        while !stop.load(Ordering::Relaxed) {
            // Parts of spread runs first: their runs are under way, against the clock.
            match PartClaim::next(&db, &config.id, config.lease, None).await {
                Ok(Some(part)) => {
                    solve_one_part(&db, &config, &mut instances, part, &stop, None).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not claim a part of a planning run"),
            }
            match Claim::next(&db, &config.id, config.lease).await {
                Ok(Some(claim)) => process(&db, &config, claim, &stop, &mut instances).await,
                Ok(None) => tokio::time::sleep(config.poll).await,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim a planning run");
                    tokio::time::sleep(config.poll * 4).await;
                }
            }
        }
    };
    tokio::pin!(work);
    tokio::select! {
        () = &mut work => {}
        () = shutdown => {
            stop.store(true, Ordering::Relaxed);
            // Let the run in progress hand itself back.
            let _ = tokio::time::timeout(Duration::from_secs(10), work).await;
        }
    }
    tracing::info!(worker = %config.id, "planning worker stopped");
}

async fn process(
    db: &DatabaseConnection,
    config: &WorkerConfig,
    claim: Claim,
    stop: &AtomicBool,
    instances: &mut Instances,
) {
    let run = &claim.run;
    let id = run.id;
    tracing::info!(run = id, attempt = run.attempts, requests = run.requests, "planning run claimed");
    metrics::counter!("labplan_planning_runs_claimed_total").increment(1);

    if run.cancel_requested {
        store(db, &claim, Outcome::Cancelled(None)).await;
        return;
    }
    let instance: solver::Instance = match serde_json::from_str(&run.instance) {
        Ok(instance) => instance,
        Err(e) => {
            store(db, &claim, Outcome::Failed(format!("the stored instance is unreadable: {e}"))).await;
            return;
        }
    };

    if run.spread_parts {
        let instance = Arc::new(instance);
        instances.keep(id, instance.clone());
        spread(db, config, &claim, instance, stop, instances).await;
        return;
    }

    let progress: Arc<Mutex<Option<solver::Progress>>> = Arc::new(Mutex::new(None));
    let cancel = Arc::new(AtomicBool::new(false));
    let options = solver::SolveOptions {
        time_limit: Duration::from_secs_f64(run.time_limit_seconds.max(0.1)),
        gap: run.gap_limit,
        threads: config.solver_threads(),
        progress: Some({
            let progress = progress.clone();
            Arc::new(move |p: &solver::Progress| {
                if let Ok(mut slot) = progress.lock() {
                    *slot = Some(p.clone());
                }
            })
        }),
        cancel: Some(cancel.clone()),
        deterministic: run.deterministic,
        ..solver::SolveOptions::default()
    };
    let solving = tokio::task::spawn_blocking(move || {
        let plan = solver::solve(&instance, &options)?;
        Ok::<_, solver::SolveError>((plan, instance))
    });
    tokio::pin!(solving);

    let mut ticker = tokio::time::interval(config.heartbeat());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cancelled = false;
    let mut lost = false;
    let mut handed_back = false;
    let result = loop {
        tokio::select! {
            result = &mut solving => break result,
            _ = ticker.tick() => {
                if stop.load(Ordering::Relaxed) && !handed_back {
                    handed_back = true;
                    cancel.store(true, Ordering::Relaxed);
                }
                let snapshot = progress.lock().ok().and_then(|p| p.clone());
                match claim.beat(db, snapshot.as_ref()).await {
                    Ok(Beat::Held { cancel: true }) if !cancelled => {
                        tracing::info!(run = id, "cancel requested; stopping the solve");
                        cancelled = true;
                        cancel.store(true, Ordering::Relaxed);
                    }
                    Ok(Beat::Held { .. }) => {}
                    Ok(Beat::Lost) if !lost => {
                        tracing::warn!(run = id, "lease lost to another worker; abandoning the solve");
                        lost = true;
                        cancel.store(true, Ordering::Relaxed);
                    }
                    Ok(Beat::Lost) => {}
                    // The lease outlives a few missed beats; the next one may get through.
                    Err(e) => tracing::warn!(run = id, error = %e, "heartbeat failed"),
                }
            }
        }
    };
    if lost {
        return;
    }
    if handed_back && !cancelled {
        match claim.hand_back(db).await {
            Ok(_) => tracing::info!(run = id, "shutting down: run handed back to the queue"),
            Err(e) => {
                tracing::warn!(run = id, error = %e, "could not hand the run back; it is retried when its lease expires")
            }
        }
        return;
    }
    let outcome = match result {
        Ok(Ok((plan, instance))) => {
            // Nothing is stored that breaks the planning model's rules.
            let report = solver::validate(&instance, &plan);
            if !report.is_valid() {
                Outcome::Failed(format!("the solver's plan broke the rules: {}", report.violations.join("; ")))
            } else if cancelled {
                let keep = claim.keeps_best_on_cancel(db).await.unwrap_or(false);
                Outcome::Cancelled(keep.then_some(plan))
            } else {
                Outcome::Succeeded(plan)
            }
        }
        Ok(Err(e)) if cancelled => {
            tracing::info!(run = id, error = %e, "cancelled run ended with an error");
            Outcome::Cancelled(None)
        }
        Ok(Err(e)) => Outcome::Failed(e.to_string()),
        Err(e) => Outcome::Failed(format!("the solver stopped unexpectedly: {e}")),
    };
    store(db, &claim, outcome).await;
}

async fn store(db: &DatabaseConnection, claim: &Claim, outcome: Outcome) {
    let id = claim.run.id;
    let status = match &outcome {
        Outcome::Succeeded(_) => "succeeded",
        Outcome::Cancelled(_) => "cancelled",
        Outcome::Failed(_) => "failed",
    };
    let gap = match &outcome {
        Outcome::Succeeded(plan) | Outcome::Cancelled(Some(plan)) => Some(plan.gap),
        _ => None,
    };
    if let Outcome::Failed(error) = &outcome {
        tracing::warn!(run = id, %error, "planning run failed");
    }
    // A plan is minutes of solving: when the database is away at the end, keep it and
    // store it once the database is back, rather than lose it and solve again.
    let started = std::time::Instant::now();
    let mut wait = STORE_RETRY_FIRST;
    loop {
        match claim.finish(db, outcome.clone()).await {
            Ok(true) => {
                metrics::counter!("labplan_planning_runs_finished_total", "status" => status).increment(1);
                let started = claim.run.started_at.unwrap_or(claim.run.created_at);
                let seconds = seconds_since(Some(started));
                metrics::histogram!("labplan_planning_run_duration_seconds").record(seconds);
                if let Some(gap) = gap {
                    metrics::gauge!("labplan_planning_run_gap").set(gap);
                }
                tracing::info!(run = id, status, "planning run finished");
            }
            Ok(false) => {
                tracing::warn!(run = id, "lease lost before the plan was stored; another worker owns the run")
            }
            Err(e) if started.elapsed() < STORE_RETRY_FOR => {
                tracing::warn!(run = id, error = %e, retry_in_s = wait.as_secs_f64(), "could not store the outcome yet");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(STORE_RETRY_MAX_WAIT);
                continue;
            }
            Err(e) => {
                tracing::error!(run = id, error = %e, "could not store the planning run's outcome; it will be solved again")
            }
        }
        return;
    }
}

/// Waits between tries to store an outcome: doubling from the first to the longest, for
/// as long as a database restart can take; past it the run's lease lets another try.
const STORE_RETRY_FIRST: Duration = Duration::from_millis(500);
const STORE_RETRY_MAX_WAIT: Duration = Duration::from_secs(10);
const STORE_RETRY_FOR: Duration = Duration::from_secs(15 * 60);

/// The instance of the last run this worker took parts of: a run's parts come one after
/// another, and the instance of 100,000 requests takes a second to read.
#[derive(Default)]
struct Instances(Option<(i64, Arc<solver::Instance>)>);

impl Instances {
    fn keep(&mut self, run: i64, instance: Arc<solver::Instance>) {
        self.0 = Some((run, instance));
    }

    /// The part's instance; Err(None) when the database could not be read (the part is
    /// for another try), Err(Some(why)) when the instance itself is unusable.
    async fn of(&mut self, db: &DatabaseConnection, part: &PartClaim) -> Result<Arc<solver::Instance>, Option<String>> {
        if let Some((run, instance)) = &self.0
            && *run == part.run
        {
            return Ok(instance.clone());
        }
        let json = part.instance(db).await.map_err(|e| {
            tracing::warn!(run = part.run, error = %e, "could not read the run's instance");
            None
        })?;
        let instance = tokio::task::spawn_blocking(move || serde_json::from_str::<solver::Instance>(&json))
            .await
            .map_err(|e| Some(e.to_string()))?
            .map_err(|e| Some(format!("the stored instance is unreadable: {e}")))?;
        let instance = Arc::new(instance);
        self.keep(part.run, instance.clone());
        Ok(instance)
    }
}

/// How a part's solve ended for the worker that held it.
enum PartEnd {
    /// Its plan is stored (or the run no longer wants it).
    Done,
    /// The part cannot be solved: the run fails with this.
    Failed(String),
    /// The run is no longer this worker's (the owner's lease was lost).
    RunLost,
}

/// Solves one claimed part and stores its plan. `owner`: the run's claim when this worker
/// owns the run, whose lease the same heartbeat keeps and whose cancel it watches.
async fn solve_one_part(
    db: &DatabaseConnection,
    config: &WorkerConfig,
    instances: &mut Instances,
    part: PartClaim,
    stop: &AtomicBool,
    owner: Option<(&Claim, &AtomicBool)>,
) -> PartEnd {
    let (run, part_no) = (part.run, part.part);
    let state = match part.run_state(db).await {
        Ok(Some(state)) => state,
        Ok(None) => {
            let _ = part.hand_back(db).await;
            return PartEnd::Done;
        }
        Err(e) => {
            tracing::warn!(run, part = part_no, error = %e, "could not read the part's run");
            let _ = part.hand_back(db).await;
            return PartEnd::Done;
        }
    };
    let instance = match instances.of(db, &part).await {
        Ok(instance) => instance,
        Err(Some(e)) => return failed(db, &part, e).await,
        Err(None) => {
            let _ = part.hand_back(db).await;
            return PartEnd::Done;
        }
    };
    let seconds = match part.time_limit(db, &state).await {
        Ok(seconds) => seconds,
        Err(e) => {
            tracing::warn!(run, part = part_no, error = %e, "could not share out the run's time");
            let _ = part.hand_back(db).await;
            return PartEnd::Done;
        }
    };
    tracing::info!(
        run,
        part = part_no,
        pass = part.pass,
        columns = part.columns,
        seconds,
        "part of a planning run claimed"
    );
    let cancel = Arc::new(AtomicBool::new(owner.is_some_and(|(_, cancelling)| cancelling.load(Ordering::Relaxed))));
    let options = solver::SolveOptions {
        time_limit: Duration::from_secs_f64(seconds),
        gap: state.gap_limit,
        threads: config.solver_threads(),
        cancel: Some(cancel.clone()),
        deterministic: state.deterministic,
        ..solver::SolveOptions::default()
    };
    // A later pass goes on from the part's plan so far instead of from nothing.
    let earlier = part.earlier_plan(db).await.unwrap_or_else(|e| {
        tracing::warn!(run, part = part_no, error = %e, "could not read the part's earlier plan");
        None
    });
    let began = std::time::Instant::now();
    let solving = {
        let instance = instance.clone();
        tokio::task::spawn_blocking(move || solver::solve_part_from(&instance, part_no, &options, earlier.as_ref()))
    };
    tokio::pin!(solving);
    let mut ticker = tokio::time::interval(config.heartbeat());
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut lost, mut run_lost, mut stopping) = (false, false, false);
    let result = loop {
        tokio::select! {
            result = &mut solving => break result,
            _ = ticker.tick() => {
                if stop.load(Ordering::Relaxed) && !stopping {
                    stopping = true;
                    cancel.store(true, Ordering::Relaxed);
                }
                match part.beat(db).await {
                    Ok(PartBeat::Held { stop: true }) => cancel.store(true, Ordering::Relaxed),
                    Ok(PartBeat::Held { stop: false }) => {}
                    Ok(PartBeat::Lost) => {
                        lost = true;
                        cancel.store(true, Ordering::Relaxed);
                    }
                    Err(e) => tracing::warn!(run, part = part_no, error = %e, "part heartbeat failed"),
                }
                if let Some((claim, cancelling)) = owner {
                    match claim.beat(db, None).await {
                        Ok(Beat::Held { cancel: true }) => {
                            cancelling.store(true, Ordering::Relaxed);
                            cancel.store(true, Ordering::Relaxed);
                        }
                        Ok(Beat::Held { cancel: false }) => {}
                        Ok(Beat::Lost) => {
                            run_lost = true;
                            cancel.store(true, Ordering::Relaxed);
                        }
                        Err(e) => tracing::warn!(run, error = %e, "heartbeat failed"),
                    }
                }
            }
        }
    };
    if lost {
        tracing::warn!(run, part = part_no, "part lost to another worker; abandoning it");
        return if run_lost { PartEnd::RunLost } else { PartEnd::Done };
    }
    if stopping && owner.is_none() {
        // Shutting down: the part goes back for another worker, now.
        let _ = part.hand_back(db).await;
        tracing::info!(run, part = part_no, "shutting down: part handed back");
        return PartEnd::Done;
    }
    let outcome = match result {
        Ok(Ok(plan)) => match part.finish(db, &plan, began.elapsed().as_secs_f64()).await {
            Ok(true) => {
                metrics::counter!("labplan_planning_parts_solved_total").increment(1);
                tracing::info!(
                    run,
                    part = part_no,
                    objective = plan.objective,
                    bound = plan.bound,
                    seconds = began.elapsed().as_secs_f64(),
                    "part of a planning run solved"
                );
                PartEnd::Done
            }
            Ok(false) => PartEnd::Done,
            Err(e) => {
                tracing::warn!(run, part = part_no, error = %e, "could not store the part's plan");
                let _ = part.hand_back(db).await;
                PartEnd::Done
            }
        },
        Ok(Err(e)) => failed(db, &part, format!("part {part_no}: {e}")).await,
        Err(e) => failed(db, &part, format!("part {part_no}: the solver stopped unexpectedly: {e}")).await,
    };
    if run_lost { PartEnd::RunLost } else { outcome }
}

/// A part that cannot be solved: marked so, for its run's owner to fail the run, rather
/// than handed back to fail again.
async fn failed(db: &DatabaseConnection, part: &PartClaim, error: String) -> PartEnd {
    tracing::warn!(run = part.run, part = part.part, %error, "part of a planning run failed");
    if let Err(e) = part.fail(db, &error).await {
        tracing::warn!(run = part.run, part = part.part, error = %e, "could not mark the part failed");
    }
    PartEnd::Failed(error)
}

/// Owns a spread run: writes its parts, takes parts like any worker until none is left
/// to take, waits for the others' and combines them. The bound is exact: the parts share
/// no capacity, so the run's bound is what lies outside every part plus theirs.
async fn spread(
    db: &DatabaseConnection,
    config: &WorkerConfig,
    claim: &Claim,
    instance: Arc<solver::Instance>,
    stop: &AtomicBool,
    instances: &mut Instances,
) {
    let id = claim.run.id;
    let partition = {
        let instance = instance.clone();
        tokio::task::spawn_blocking(move || solver::partition(&instance, &solver::SolveOptions::default())).await
    };
    let partition = match partition {
        Ok(Ok(partition)) => partition,
        Ok(Err(e)) => return store(db, claim, Outcome::Failed(e.to_string())).await,
        Err(e) => return store(db, claim, Outcome::Failed(format!("the solver stopped unexpectedly: {e}"))).await,
    };
    match claim.write_parts(db, &partition).await {
        Ok(true) => {}
        Ok(false) => return tracing::warn!(run = id, "lease lost before the parts were written"),
        Err(e) => return store(db, claim, Outcome::Failed(format!("could not write the run's parts: {e}"))).await,
    }
    tracing::info!(run = id, parts = partition.parts.len(), "planning run spread over its parts");
    let cancelling = AtomicBool::new(false);
    let mut last_beat = std::time::Instant::now();
    loop {
        // Cancelled without keeping the best plan: the parts' plans are not wanted.
        if cancelling.load(Ordering::Relaxed) && !claim.keeps_best_on_cancel(db).await.unwrap_or(false) {
            return store(db, claim, Outcome::Cancelled(None)).await;
        }
        if stop.load(Ordering::Relaxed) {
            if let Err(e) = claim.hand_back(db).await {
                tracing::warn!(run = id, error = %e, "could not hand the run back; it is retried when its lease expires");
            }
            return;
        }
        match PartClaim::next(db, &config.id, config.lease, Some(id)).await {
            Ok(Some(part)) => {
                match solve_one_part(db, config, instances, part, stop, Some((claim, &cancelling))).await {
                    PartEnd::Done => {}
                    PartEnd::Failed(error) => return store(db, claim, Outcome::Failed(error)).await,
                    PartEnd::RunLost => {
                        return tracing::warn!(run = id, "lease lost to another worker; abandoning the run");
                    }
                }
                last_beat = std::time::Instant::now();
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(run = id, error = %e, "could not claim a part"),
        }
        let (done, total) = match claim.parts(db).await {
            Ok(Tally { failure: Some(error), .. }) => return store(db, claim, Outcome::Failed(error)).await,
            Ok(tally)
                if tally.done == tally.total
                    && !cancelling.load(Ordering::Relaxed)
                    && another_pass(&claim.run, partition.outside, &tally) =>
            {
                match claim.requeue_open_parts(db, tally.pass + 1).await {
                    Ok(0) => (tally.done, tally.total),
                    Ok(n) => {
                        tracing::info!(run = id, pass = tally.pass + 1, parts = n, "solving the open parts again");
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(run = id, error = %e, "could not queue the open parts again");
                        (tally.done, tally.total)
                    }
                }
            }
            Ok(tally) => (tally.done, tally.total),
            Err(e) => {
                tracing::warn!(run = id, error = %e, "could not count the parts done");
                (0, usize::MAX)
            }
        };
        if done == total {
            break;
        }
        if last_beat.elapsed() >= config.heartbeat() {
            last_beat = std::time::Instant::now();
            let progress = solver::Progress {
                phase: solver::Phase::Mip,
                parts_done: done,
                parts_total: total,
                objective: f64::INFINITY,
                bound: f64::NEG_INFINITY,
                gap: 1.0,
                elapsed: Duration::ZERO,
            };
            match claim.beat(db, Some(&progress)).await {
                Ok(Beat::Held { cancel: true }) if !cancelling.swap(true, Ordering::Relaxed) => {
                    tracing::info!(run = id, "cancel requested; the parts' workers stop");
                }
                Ok(Beat::Held { .. }) => {}
                Ok(Beat::Lost) => return tracing::warn!(run = id, "lease lost to another worker; abandoning the run"),
                Err(e) => tracing::warn!(run = id, error = %e, "heartbeat failed"),
            }
        }
        tokio::time::sleep(PART_POLL).await;
    }
    let plans = match claim.part_plans(db).await {
        Ok(plans) => plans,
        Err(e) => return store(db, claim, Outcome::Failed(format!("could not read the parts' plans: {e}"))).await,
    };
    let seconds = seconds_since(claim.run.started_at);
    let combined = tokio::task::spawn_blocking(move || {
        let plan = solver::combine(&instance, &partition, &plans, seconds)?;
        let report = solver::validate(&instance, &plan);
        Ok::<_, solver::SolveError>((plan, report))
    })
    .await;
    let cancelled = cancelling.load(Ordering::Relaxed);
    let outcome = match combined {
        Ok(Ok((_, report))) if !report.is_valid() => {
            Outcome::Failed(format!("the combined plan broke the rules: {}", report.violations.join("; ")))
        }
        Ok(Ok((plan, _))) if cancelled => Outcome::Cancelled(Some(plan)),
        Ok(Ok((plan, _))) => Outcome::Succeeded(plan),
        Ok(Err(e)) => Outcome::Failed(e.to_string()),
        Err(e) => Outcome::Failed(format!("the solver stopped unexpectedly: {e}")),
    };
    store(db, claim, outcome).await;
    if let Err(e) = claim.forget_part_plans(db).await {
        tracing::warn!(run = id, error = %e, "could not drop the parts' plans");
    }
}

/// How often the owner of a spread run looks whether the other workers' parts are done.
const PART_POLL: Duration = Duration::from_millis(200);
