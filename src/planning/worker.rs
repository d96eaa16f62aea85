//! The planning worker: claims queued runs, solves them with a heartbeat that keeps
//! its lease and publishes progress, and stores the outcome.
//!
//! Lease and retry: a claim gives the worker the run for `lease`; while the solve
//! goes on, a heartbeat every `lease / 3` extends it and writes the progress. A worker
//! that dies stops beating; once its lease has expired, the next claim by any worker
//! takes the run over (its `attempts` counts the tries). The dead worker's plan was
//! never written: plans are stored only in the transaction that ends the run, and only
//! by the lease holder.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use labplan_solver as solver;
use sea_orm::DatabaseConnection;

use crate::app::runs::Claim;
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
}

/// Works until `shutdown` completes. A run in progress at shutdown is handed back to
/// the queue rather than left to wait for its lease to expire.
pub async fn run(db: DatabaseConnection, config: WorkerConfig, shutdown: impl Future<Output = ()>) {
    tracing::info!(worker = %config.id, lease_s = config.lease.as_secs_f64(), "planning worker started");
    let stop = Arc::new(AtomicBool::new(false));
    let work = async {
        while !stop.load(Ordering::Relaxed) {
            match Claim::next(&db, &config.id, config.lease).await {
                Ok(Some(claim)) => process(&db, &config, claim, &stop).await,
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

async fn process(db: &DatabaseConnection, config: &WorkerConfig, claim: Claim, stop: &AtomicBool) {
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

    let progress: Arc<Mutex<Option<solver::Progress>>> = Arc::new(Mutex::new(None));
    let cancel = Arc::new(AtomicBool::new(false));
    let options = solver::SolveOptions {
        time_limit: Duration::from_secs_f64(run.time_limit_seconds.max(0.1)),
        gap: run.gap_limit,
        threads: config.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
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
                let seconds = (chrono::Utc::now() - started).num_milliseconds() as f64 / 1000.0;
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
