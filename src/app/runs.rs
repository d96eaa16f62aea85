//! Planning runs: started by a planner from the registry, solved by the workers,
//! compared with the published plan, published (the only way bookings come to be).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use labplan_solver as solver;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::policy::Op;
use super::{AppError, AppResult, Work, require};
use crate::db::Db;
use crate::db::instance::{DEFAULT_FREEZE_WEEKS, PlanOptions};
use crate::db::runs::{self as queries, Beat, NewRun, Outcome};
use crate::db::{bookings, plans, requests, run_parts, settings};
use crate::domain::access::Caller;
use crate::domain::diff::{self, Diff, Placement};
use crate::domain::horizon::{DEFAULT_WEEKS, Horizon, MAX_WEEKS};
use crate::domain::paging::{ListResponse, PageRequest};
use crate::domain::status::{PlanStatus, RequestStatus, RunStatus};
use crate::domain::{Errors, Msg, parse_i32_in, parse_int_in, parse_monday};
use crate::entities::{planning_runs, test_requests};

/// A run's default wall-clock limit, and the most a planner may give one.
pub const DEFAULT_TIME_LIMIT_SECONDS: f64 = 60.0;
pub const MAX_TIME_LIMIT_SECONDS: f64 = 3600.0;
/// The gap at which a run stops by default: 1 %.
pub const DEFAULT_GAP: f64 = 0.01;

/// A planning run: its parameters, where it is, and what it found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanningRun {
    pub id: i64,
    pub status: RunStatus,
    pub horizon_start: NaiveDate,
    pub horizon_weeks: i32,
    pub time_limit_seconds: f64,
    pub gap_limit: f64,
    /// Requests in the run's instance
    pub requests: i32,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// How many workers have claimed it (more than 1: retried after a worker died)
    pub attempts: i32,
    /// The worker holding it, while running
    pub worker: Option<String>,
    pub cancel_requested: bool,
    pub progress: RunProgress,
    /// `optimal` or `feasible`, once the run has a plan
    pub plan_status: Option<PlanStatus>,
    pub objective: Option<f64>,
    pub bound: Option<f64>,
    pub gap: Option<f64>,
    pub solve_seconds: Option<f64>,
    pub error: Option<String>,
    pub published: bool,
    pub published_at: Option<DateTime<Utc>>,
    /// Published bookings starting this many weeks from the horizon's start were kept
    pub freeze_weeks: Option<i32>,
    /// The move weights the run used, roubles
    pub move_lab: Option<f64>,
    pub move_week: Option<f64>,
    /// How many published bookings the plan moves or drops
    pub moved: Option<i32>,
    /// Whether the run was asked to be deterministic
    pub deterministic: bool,
    /// Whether its plan is: the same registry and parameters give the same plan on any
    /// machine (false when a step had to stop by the clock)
    pub plan_deterministic: Option<bool>,
    /// Whether its parts may be solved by several `labplan worker` processes at once
    pub spread_parts: bool,
    /// A spread run's parts: who solved each, in how long, with what bound (the run's
    /// bound is what lies outside every part plus theirs)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<RunPart>>,
}

/// One part of a spread run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunPart {
    pub part: i32,
    /// The equipment class whose capacity the part's requests share
    pub equipment: String,
    pub requests: i32,
    /// Candidate bookings: the part's size
    pub columns: i64,
    /// How many times it has been solved (later passes solve again the parts whose gap
    /// is open, and keep the better plan and the higher bound)
    pub pass: i32,
    /// queued, running or done
    pub status: String,
    /// The worker holding it, while running
    pub worker: Option<String>,
    /// How many workers have claimed it (more than 1: retried after a worker died)
    pub attempts: i32,
    /// The seconds its worker was given
    pub time_limit_seconds: Option<f64>,
    pub solved_by: Option<String>,
    pub seconds: Option<f64>,
    pub objective: Option<f64>,
    pub bound: Option<f64>,
}

impl From<crate::db::run_parts::PartRow> for RunPart {
    fn from(p: crate::db::run_parts::PartRow) -> Self {
        let running = p.status == crate::db::run_parts::RUNNING;
        Self {
            part: p.part,
            equipment: p.equipment,
            requests: p.requests,
            columns: p.columns,
            pass: p.pass,
            status: p.status,
            worker: running.then_some(p.lease_owner).flatten(),
            attempts: p.attempts,
            time_limit_seconds: p.time_limit_seconds,
            solved_by: p.solved_by,
            seconds: p.seconds,
            objective: p.objective,
            bound: p.bound,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunProgress {
    /// decompose, heuristic, relaxation, mip, done
    pub phase: Option<String>,
    pub parts_done: Option<i32>,
    pub parts_total: Option<i32>,
    /// Objective of the best plan found so far
    pub best_objective: Option<f64>,
    /// Best proven lower bound so far
    pub best_bound: Option<f64>,
    pub gap: Option<f64>,
}

impl PlanningRun {
    fn new(run: planning_runs::Model, published_id: Option<i64>) -> Self {
        let gap = run.best_objective.zip(run.best_bound).map(|(o, b)| ((o - b) / o.max(1.0)).max(0.0));
        let running = run.status == RunStatus::Running;
        Self {
            id: run.id,
            status: run.status,
            horizon_start: run.horizon_start,
            horizon_weeks: run.horizon_weeks,
            time_limit_seconds: run.time_limit_seconds,
            gap_limit: run.gap_limit,
            requests: run.requests,
            created_by: run.created_by,
            created_at: run.created_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            attempts: run.attempts,
            worker: running.then_some(run.lease_owner).flatten(),
            cancel_requested: run.cancel_requested,
            progress: RunProgress {
                phase: run.phase,
                parts_done: run.parts_done,
                parts_total: run.parts_total,
                best_objective: run.best_objective,
                best_bound: run.best_bound,
                gap,
            },
            plan_status: run.plan_status,
            objective: run.objective,
            bound: run.bound,
            gap: run.gap,
            solve_seconds: run.solve_seconds,
            error: run.error,
            published: published_id == Some(run.id),
            published_at: run.published_at,
            freeze_weeks: run.freeze_weeks,
            move_lab: run.move_lab,
            move_week: run.move_week,
            moved: run.moved,
            deterministic: run.deterministic,
            plan_deterministic: run.plan_deterministic,
            spread_parts: run.spread_parts,
            parts: None,
        }
    }
}

pub fn horizon_of(run: &planning_runs::Model) -> Horizon {
    Horizon { start: run.horizon_start, weeks: u32::try_from(run.horizon_weeks).unwrap_or(0) }
}

async fn published_id<C: ConnectionTrait>(db: &C) -> AppResult<Option<i64>> {
    Ok(queries::published(db).await?.map(|r| r.id))
}

async fn load<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<planning_runs::Model> {
    queries::find(db, id).await?.ok_or_else(|| AppError::not_found("planning run", id))
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    status: Option<&str>,
    page: PageRequest,
) -> AppResult<ListResponse<PlanningRun>> {
    require(caller, Op::ReadRuns)?;
    let status = match status {
        Some(raw) => Some(RunStatus::parse(raw).ok_or_else(|| {
            AppError::field("status", Msg::OneOf("queued, running, succeeded, failed, cancelled".into()))
        })?),
        None => None,
    };
    let published = published_id(db).await?;
    let (rows, total) = queries::list(db, status, page).await?;
    Ok(ListResponse::new(rows.into_iter().map(|r| PlanningRun::new(r, published)).collect(), total, page))
}

pub async fn get<C: ConnectionTrait>(db: &C, caller: &Caller, id: i64) -> AppResult<PlanningRun> {
    require(caller, Op::ReadRuns)?;
    let run = load(db, id).await?;
    let spread = run.spread_parts;
    let mut view = PlanningRun::new(run, published_id(db).await?);
    if spread {
        view.parts = Some(crate::db::run_parts::list(db, id).await?.into_iter().map(RunPart::from).collect());
    }
    Ok(view)
}

/// The registry's default horizon: its stored planning setting, else from this week's
/// Monday (planning goes on week after week; what started already is history).
pub async fn default_horizon<C: ConnectionTrait>(db: &C) -> AppResult<Horizon> {
    let settings = settings::all(db).await?;
    let start = settings
        .get("horizon_start")
        .and_then(|s| s.parse::<NaiveDate>().ok())
        .unwrap_or_else(|| crate::domain::week_monday(Utc::now().date_naive()));
    let weeks = settings.get("horizon_weeks").and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_WEEKS);
    Ok(Horizon { start, weeks })
}

/// Parameters of a new run; every field has a default.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRun {
    /// Monday that starts the horizon; default: the registry's planning horizon, else next Monday
    pub horizon_start: Option<NaiveDate>,
    /// Weeks in the horizon (1–104); default: the registry's, else 26
    #[schema(minimum = 1, maximum = 104)]
    pub horizon_weeks: Option<i64>,
    /// Wall-clock limit of the solve in seconds (1–3600); default 60
    #[schema(minimum = 1, maximum = 3600)]
    pub time_limit_seconds: Option<f64>,
    /// Stop once the proven gap is at most this (0–1); default 0.01
    #[schema(minimum = 0, maximum = 1)]
    pub gap: Option<f64>,
    /// Published bookings that start in the horizon's first this many weeks are kept as
    /// they are (0–26); default: the registry's `freeze_weeks`, else 2
    #[schema(minimum = 0, maximum = 26)]
    pub freeze_weeks: Option<i64>,
    /// Roubles for moving a published booking to another lab or dropping it; default:
    /// the registry's `move_lab`
    #[schema(minimum = 0)]
    pub move_lab: Option<f64>,
    /// Roubles per week a published booking moves within its lab; default: the
    /// registry's `move_week`
    #[schema(minimum = 0)]
    pub move_week: Option<f64>,
    /// The same registry and parameters give the same plan and bound on any machine,
    /// whatever its load (work limits instead of the clock); default false
    #[serde(default)]
    pub deterministic: bool,
    /// Split the run into its independent parts and let every planning worker sharing
    /// the database take parts of it, each with its share of the time limit; the plan's
    /// bound is still exact (the parts share no capacity). Default false: one worker
    /// solves the run on its own threads. Not with `deterministic`
    #[serde(default)]
    pub spread_parts: bool,
}

/// The dearest move weight a run takes, in roubles: far above any test's cost.
pub const MAX_MOVE_WEIGHT: f64 = 1e10;

/// The most weeks of a freeze window: half a year.
pub const MAX_FREEZE_WEEKS: i64 = 26;

/// Reads the registry into an instance and queues it for the workers.
pub async fn start<C: Db>(db: &C, caller: &Caller, cmd: StartRun) -> AppResult<PlanningRun> {
    require(caller, Op::Plan)?;
    let defaults = default_horizon(db).await?;
    let mut e = Errors::default();
    let start = match cmd.horizon_start {
        Some(date) => e.take("horizon_start", parse_monday(date).map(Some)).unwrap_or(date),
        None => defaults.start,
    };
    let weeks = match cmd.horizon_weeks {
        Some(weeks) => e.take("horizon_weeks", parse_i32_in(weeks, 1, MAX_WEEKS as i32)).max(1) as u32,
        None => defaults.weeks,
    };
    let time_limit = cmd.time_limit_seconds.unwrap_or(DEFAULT_TIME_LIMIT_SECONDS);
    e.check(
        "time_limit_seconds",
        time_limit.is_finite() && (1.0..=MAX_TIME_LIMIT_SECONDS).contains(&time_limit),
        Msg::Seconds(1, MAX_TIME_LIMIT_SECONDS as i64),
    );
    let gap = cmd.gap.unwrap_or(DEFAULT_GAP);
    e.check("gap", gap.is_finite() && (0.0..=1.0).contains(&gap), Msg::Fraction);
    let stored = settings::all(db).await?;
    let freeze_weeks = match cmd.freeze_weeks {
        Some(w) => e.take("freeze_weeks", parse_int_in(w, 0, MAX_FREEZE_WEEKS)),
        None => stored.get("freeze_weeks").and_then(|s| s.parse().ok()).unwrap_or(i64::from(DEFAULT_FREEZE_WEEKS)),
    };
    for (field, value) in [("move_lab", cmd.move_lab), ("move_week", cmd.move_week)] {
        if let Some(v) = value {
            e.check(
                field,
                v.is_finite() && (0.0..=MAX_MOVE_WEIGHT).contains(&v),
                Msg::Range(0, MAX_MOVE_WEIGHT as i64),
            );
        }
    }
    // A spread run's passes are decided by the clock, and a part's share of the work is
    // too small for the work limits to end it: such a plan could not be reproduced.
    e.check("spread_parts", !(cmd.spread_parts && cmd.deterministic), Msg::NotWithDeterministic);
    e.finish()?;

    let horizon = Horizon { start, weeks };
    let options = PlanOptions {
        freeze_weeks: u32::try_from(freeze_weeks).unwrap_or(DEFAULT_FREEZE_WEEKS),
        move_lab: cmd.move_lab,
        move_week: cmd.move_week,
    };
    let mut work = Work::begin(db, caller).await?;
    let instance = crate::db::instance::build(work.db(), horizon, options).await?;
    let new = NewRun {
        horizon,
        time_limit_seconds: time_limit,
        gap,
        created_by: caller.actor(),
        instance: &instance,
        freeze_weeks: options.freeze_weeks,
        deterministic: cmd.deterministic,
        scenario: false,
        spread_parts: cmd.spread_parts,
    };
    let run = queries::create(work.db(), new).await?;
    work.audit(
        "start",
        "planning_run",
        run.id.to_string(),
        None,
        Some(json!({
            "horizon_start": start, "horizon_weeks": weeks, "time_limit_seconds": time_limit, "gap": gap,
            "requests": run.requests, "current": instance.current.len(), "pinned": instance.pinned.len(),
            "freeze_weeks": options.freeze_weeks, "move_lab": instance.weights.move_lab,
            "move_week": instance.weights.move_week, "deterministic": cmd.deterministic,
            "spread_parts": cmd.spread_parts,
        })),
    );
    work.commit().await?;
    tracing::info!(run = run.id, requests = run.requests, "planning run queued");
    Ok(PlanningRun::new(run, None))
}

/// Cancels a queued run at once, or asks its worker to stop a running one.
pub async fn cancel<C: Db>(db: &C, caller: &Caller, id: i64, keep_best: bool) -> AppResult<PlanningRun> {
    require(caller, Op::Plan)?;
    let mut work = Work::begin(db, caller).await?;
    let before = load(work.db(), id).await?;
    let action = if queries::cancel_queued(work.db(), id).await? {
        "cancel"
    } else if queries::request_cancel(work.db(), id, keep_best).await? {
        "request_cancel"
    } else {
        return Err(AppError::Conflict(format!("planning run {id} has already ended: {}", before.status.as_str())));
    };
    work.audit(
        action,
        "planning_run",
        id.to_string(),
        Some(json!({"status": before.status})),
        Some(json!({"cancel_requested": true, "keep_best": keep_best})),
    );
    work.commit().await?;
    get(db, caller, id).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub struct PublishReport {
    pub planned: usize,
    /// Bookings the labs had already confirmed, kept as they were
    pub kept_confirmed: usize,
    pub unplaceable: usize,
    /// Planned requests this plan does not cover any more (e.g. ready after its horizon), back to `submitted`
    pub returned_to_pool: usize,
    /// Requests cancelled or changed since the run was started, left as they are
    pub skipped: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Published {
    pub run: PlanningRun,
    pub report: PublishReport,
}

/// Makes the run's plan the published one, atomically: bookings for the labs, and the
/// requests `planned` (or still `confirmed`) with lab and dates, or `unplaceable` with
/// the reason. Two publications never interleave: each takes the publication lock first.
pub async fn publish<C: Db>(db: &C, caller: &Caller, id: i64) -> AppResult<Published> {
    require(caller, Op::Plan)?;
    let mut work = Work::begin(db, caller).await?;
    crate::db::runs::lock_publication(work.db()).await?;
    let run = load(work.db(), id).await?;
    if run.scenario {
        return Err(AppError::Conflict(format!("planning run {id} solves a what-if scenario and cannot be published")));
    }
    if run.objective.is_none() || !matches!(run.status, RunStatus::Succeeded | RunStatus::Cancelled) {
        return Err(AppError::Conflict(format!(
            "planning run {id} is {} and has no plan to publish",
            run.status.as_str()
        )));
    }
    let current = queries::published(work.db()).await?;
    if let Some(current) = &current {
        if current.id == id {
            return Err(AppError::Conflict(format!("planning run {id} is already the published plan")));
        }
        // Confirmations and declines given since would be undone by an older plan.
        if current.published_at.is_some_and(|at| at > run.created_at) {
            return Err(AppError::Conflict(format!(
                "planning run {} was published after run {id} was started; start a new run",
                current.id
            )));
        }
    }
    let now = Utc::now();
    let report = apply_plan(&mut work, &run, current.as_ref(), now).await?;
    queries::mark_published(work.db(), id, current.as_ref().map(|c| c.id), now).await?;
    work.audit(
        "publish",
        "planning_run",
        id.to_string(),
        current.as_ref().map(|c| json!({"published_run": c.id, "objective": c.objective})),
        Some(json!({"published_run": id, "objective": run.objective, "report": report})),
    );
    work.commit().await?;
    tracing::info!(run = id, planned = report.planned, unplaceable = report.unplaceable, "plan published");
    let run = PlanningRun::new(load(db, id).await?, Some(id));
    Ok(Published { run, report })
}

fn request_audit(
    request: &test_requests::Model,
    status: RequestStatus,
    detail: serde_json::Value,
) -> (serde_json::Value, serde_json::Value) {
    let before = json!({
        "status": request.status,
        "planned_lab": request.planned_lab,
        "planned_start": request.planned_start,
        "planned_end": request.planned_end,
        "version": request.version,
    });
    let mut after = json!({"status": status, "version": request.version + 1});
    if let (Some(after), Some(detail)) = (after.as_object_mut(), detail.as_object()) {
        after.extend(detail.clone());
    }
    (before, after)
}

/// Lays the run's plan onto the registry: the old bookings superseded (confirmed ones
/// carried over where the plan keeps them), new ones proposed, every request moved to
/// its new state; locks are taken requests first, then bookings, as every other writer does.
async fn apply_plan(
    work: &mut Work,
    run: &planning_runs::Model,
    current: Option<&planning_runs::Model>,
    now: DateTime<Utc>,
) -> AppResult<PublishReport> {
    let horizon = horizon_of(run);
    let confirmed = match current {
        Some(c) => bookings::confirmed_of_run(work.db(), c.id).await?,
        None => Default::default(),
    };
    let placed = plans::assignments(work.db(), run.id).await?;
    let unplaced = plans::unassigned(work.db(), run.id).await?;
    let ids: Vec<String> =
        placed.iter().map(|a| a.request.clone()).chain(unplaced.iter().map(|u| u.request.clone())).collect();
    let requests = requests::find_many(work.db(), &ids).await?;
    // Requests whose samples a lab has received since the run read them stay where they are.
    let under_way = crate::db::life::under_way(work.db()).await?;

    let mut report = PublishReport::default();
    let mut new_bookings = Vec::with_capacity(placed.len());
    let mut notices = crate::app::notify::PlanNotices::default();
    for a in &placed {
        let Some(request) = requests.get(&a.request).filter(|_| !under_way.contains(&a.request)) else {
            report.skipped += 1;
            continue;
        };
        let start = horizon.week_start(u32::try_from(a.start_week).unwrap_or(0));
        let end = horizon.week_end(u32::try_from(a.end_week).unwrap_or(0));
        let kept = confirmed.get(&a.request).filter(|c| c.lab == a.lab && c.start_date == start);
        let status = if kept.is_some() { RequestStatus::Confirmed } else { RequestStatus::Planned };
        // Only a request still as the run read it is planned: one cancelled, changed or
        // already in testing since keeps its state.
        let moved = requests::transition(
            work.db(),
            &a.request,
            Some(request.version),
            &RequestStatus::PLANNABLE,
            status,
            None,
            Some((&a.lab, start, end)),
        )
        .await?;
        if moved.is_none() {
            report.skipped += 1;
            continue;
        }
        if kept.is_some() {
            report.kept_confirmed += 1;
        } else {
            report.planned += 1;
        }
        new_bookings.push(bookings::new_row(run.id, &a.request, &a.lab, (start, end), a.cost, kept, now));
        notices.placed(request, &a.lab, start, kept.is_some());
        let (before, after) = request_audit(request, status, json!({"lab": a.lab, "start": start, "end": end}));
        work.audit("plan", "test_request", &a.request, Some(before), Some(after));
    }
    for u in &unplaced {
        let Some(request) = requests.get(&u.request).filter(|_| !under_way.contains(&u.request)) else {
            report.skipped += 1;
            continue;
        };
        let reason = format!("{}: {}", u.reason.as_str(), u.detail);
        let moved = requests::transition(
            work.db(),
            &u.request,
            Some(request.version),
            &RequestStatus::PLANNABLE,
            RequestStatus::Unplaceable,
            Some(reason.clone()),
            None,
        )
        .await?;
        if moved.is_none() {
            report.skipped += 1;
            continue;
        }
        report.unplaceable += 1;
        let (before, after) = request_audit(request, RequestStatus::Unplaceable, json!({"reason": reason}));
        work.audit("plan", "test_request", &u.request, Some(before), Some(after));
    }

    // Requests still marked planned by the old plan that this one does not cover go back to the pool.
    let covered: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let stale: Vec<test_requests::Model> = requests::in_states(work.db(), &[RequestStatus::Planned], None)
        .await?
        .into_iter()
        .filter(|r| !covered.contains(r.id.as_str()))
        .collect();
    for request in &stale {
        let moved = requests::transition(
            work.db(),
            &request.id,
            Some(request.version),
            &[RequestStatus::Planned],
            RequestStatus::Submitted,
            None,
            None,
        )
        .await?;
        if moved.is_some() {
            report.returned_to_pool += 1;
            let (before, after) = request_audit(request, RequestStatus::Submitted, json!({}));
            work.audit("plan", "test_request", &request.id, Some(before), Some(after));
        }
    }
    bookings::supersede_live(work.db()).await?;
    bookings::insert_many(work.db(), new_bookings).await?;
    notices.write(work.db(), run.id).await?;
    Ok(report)
}

/// The stored plan of a run, in the planning model's format.
pub async fn plan<C: ConnectionTrait>(db: &C, caller: &Caller, id: i64) -> AppResult<solver::Plan> {
    require(caller, Op::ReadRuns)?;
    let run = load(db, id).await?;
    plans::plan(db, &run)
        .await?
        .ok_or_else(|| AppError::Conflict(format!("planning run {id} is {} and has no plan", run.status.as_str())))
}

/// The published bookings a run's plan moves or drops, each with its penalty and saving.
pub async fn moves<C: ConnectionTrait>(db: &C, caller: &Caller, id: i64) -> AppResult<Vec<solver::Move>> {
    require(caller, Op::ReadRuns)?;
    load(db, id).await?;
    Ok(plans::moves(db, id).await?.into_iter().map(plans::to_move).collect())
}

/// How many requests a run's plan places and leaves out; None before it has a plan.
pub async fn plan_counts<C: ConnectionTrait>(db: &C, caller: &Caller, id: i64) -> AppResult<Option<(u64, u64)>> {
    require(caller, Op::ReadRuns)?;
    let run = load(db, id).await?;
    if run.objective.is_none() {
        return Ok(None);
    }
    Ok(Some(plans::counts(db, id).await?))
}

/// The run's input, as JSON text (`labplan solve --input` reproduces the run).
pub async fn instance<C: ConnectionTrait>(db: &C, caller: &Caller, id: i64) -> AppResult<String> {
    require(caller, Op::ReadRuns)?;
    Ok(load(db, id).await?.instance)
}

async fn placements<C: ConnectionTrait>(db: &C, run: &planning_runs::Model) -> AppResult<BTreeMap<String, Placement>> {
    let horizon = horizon_of(run);
    Ok(plans::assignments(db, run.id)
        .await?
        .into_iter()
        .map(|a| {
            let start_date = horizon.week_start(u32::try_from(a.start_week).unwrap_or(0));
            (a.request, Placement { lab: a.lab, start_date })
        })
        .collect())
}

/// The run's plan against the published one.
pub async fn diff<C: ConnectionTrait>(db: &C, caller: &Caller, id: i64) -> AppResult<Diff> {
    require(caller, Op::ReadRuns)?;
    let run = load(db, id).await?;
    if run.objective.is_none() {
        return Err(AppError::Conflict(format!("planning run {id} is {} and has no plan", run.status.as_str())));
    }
    let proposed = placements(db, &run).await?;
    let (published_run, published_objective, published) = match queries::published(db).await? {
        Some(p) => {
            let placed = placements(db, &p).await?;
            (Some(p.id), p.objective, placed)
        }
        None => (None, None, BTreeMap::new()),
    };
    Ok(diff::compare(id, run.objective, &proposed, published_run, published_objective, &published))
}

/// Runs waiting for a worker.
pub async fn queue_length<C: ConnectionTrait>(db: &C) -> AppResult<u64> {
    Ok(queries::count_in(db, RunStatus::Queued).await?)
}

// ---- the workers' side ----

/// A run a worker holds by lease; every write of the worker goes through it, so none can
/// name another run or owner.
pub struct Claim {
    pub run: planning_runs::Model,
    owner: String,
    lease: Duration,
}

impl Claim {
    /// Claims the oldest queued run (or one whose worker died) for `owner`.
    pub async fn next<C: ConnectionTrait>(db: &C, owner: &str, lease: Duration) -> AppResult<Option<Self>> {
        let claimed = queries::claim(db, owner, lease).await?;
        Ok(claimed.map(|run| Self { run, owner: owner.to_string(), lease }))
    }

    /// Extends the lease and records the progress.
    pub async fn beat<C: ConnectionTrait>(&self, db: &C, progress: Option<&solver::Progress>) -> AppResult<Beat> {
        Ok(queries::heartbeat(db, self.run.id, &self.owner, self.lease, progress).await?)
    }

    /// Ends the run with its plan; false when the run is no longer this worker's.
    pub async fn finish<C: Db>(&self, db: &C, outcome: Outcome) -> AppResult<bool> {
        Ok(queries::finish(db, self.run.id, &self.owner, outcome).await?)
    }

    /// Gives the run back to the queue (the worker is stopping).
    pub async fn hand_back<C: ConnectionTrait>(&self, db: &C) -> AppResult<bool> {
        Ok(queries::release(db, self.run.id, &self.owner).await?)
    }

    /// Whether whoever cancelled the run asked to keep its best plan.
    pub async fn keeps_best_on_cancel<C: ConnectionTrait>(&self, db: &C) -> AppResult<bool> {
        Ok(queries::keeps_best_on_cancel(db, self.run.id).await?)
    }
}

impl Claim {
    /// Writes the parts of a spread run for every worker to take; false, and nothing
    /// written, when the run is no longer this worker's.
    pub async fn write_parts<C: ConnectionTrait>(&self, db: &C, partition: &solver::Partition) -> AppResult<bool> {
        if self.beat(db, None).await? == Beat::Lost {
            return Ok(false);
        }
        run_parts::insert_missing(db, self.run.id, partition).await?;
        Ok(true)
    }

    /// Where the run's parts stand.
    pub async fn parts<C: ConnectionTrait>(&self, db: &C) -> AppResult<run_parts::Tally> {
        Ok(run_parts::tally(db, self.run.id).await?)
    }

    /// Queues the parts whose gap is still open for another pass; how many.
    pub async fn requeue_open_parts<C: ConnectionTrait>(&self, db: &C, pass: i32) -> AppResult<u64> {
        Ok(run_parts::requeue_open(db, self.run.id, pass, self.run.gap_limit).await?)
    }

    /// The plans of the run's finished parts.
    pub async fn part_plans<C: ConnectionTrait>(&self, db: &C) -> AppResult<Vec<solver::PartPlan>> {
        run_parts::results(db, self.run.id)
            .await?
            .iter()
            .map(|json| {
                serde_json::from_str(json).map_err(|e| AppError::Unexpected(anyhow::anyhow!("a stored part plan: {e}")))
            })
            .collect()
    }

    /// Drops the parts' plans once the run's plan is stored.
    pub async fn forget_part_plans<C: ConnectionTrait>(&self, db: &C) -> AppResult<()> {
        Ok(run_parts::forget_results(db, self.run.id).await?)
    }
}

/// A part of a spread run that a worker holds by lease.
pub struct PartClaim {
    pub run: i64,
    pub part: usize,
    pub columns: i64,
    /// 1 for the first solve of every part; later passes solve again the parts whose
    /// gap is still open, with the time the first left
    pub pass: i32,
    weight: f64,
    owner: String,
    lease: Duration,
}

/// What a part's worker needs of its run, without the instance.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct PartRun {
    pub status: RunStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub time_limit_seconds: f64,
    pub gap_limit: f64,
    pub deterministic: bool,
}

/// Seconds since a run was claimed (0 before).
pub fn seconds_since(started_at: Option<DateTime<Utc>>) -> f64 {
    started_at.map_or(0.0, |t| (Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0)
}

/// Seconds of a run's time limit kept for combining its parts and storing the plan.
fn combine_reserve(limit: f64) -> f64 {
    (0.05 * limit).min(3.0)
}

/// A part never gets less: the greedy plan of a part takes a fraction of it.
const MIN_PART_SECONDS: f64 = 0.1;

/// The share of a spread run's time in which every part is solved once, by size; the
/// rest goes to solving again the parts whose gap is still open, by their gaps (the
/// size of a part says little of how hard it is: on region-5000 the part with 4 % of
/// the candidate bookings held 29 % of the gap).
pub const FIRST_PASS_SHARE: f64 = 0.2;

/// A part's solve starts from scratch, so a third pass with what the second left would
/// rarely beat the second: two passes at most.
const MAX_PASSES: i32 = 2;

/// A later pass starts only with this much of the time limit left, and at least a second.
const LATER_PASS_MIN_SHARE: f64 = 0.05;

/// Whether a spread run whose parts are all done should solve its open parts again: its
/// gap above its target, and time left.
pub fn another_pass(run: &planning_runs::Model, outside: f64, tally: &run_parts::Tally) -> bool {
    if tally.total < 2 || tally.pass >= MAX_PASSES {
        return false;
    }
    let objective = outside + tally.objective;
    let gap = (objective - (outside + tally.bound)) / objective.max(1.0);
    let elapsed = seconds_since(run.started_at);
    let left = run.time_limit_seconds - combine_reserve(run.time_limit_seconds) - elapsed;
    gap > run.gap_limit && left >= (LATER_PASS_MIN_SHARE * run.time_limit_seconds).max(1.0)
}

impl PartClaim {
    /// Claims a part of a running spread run (of `run` alone, if given), the smallest first.
    pub async fn next<C: ConnectionTrait>(
        db: &C,
        owner: &str,
        lease: Duration,
        run: Option<i64>,
    ) -> AppResult<Option<Self>> {
        let claimed = run_parts::claim(db, owner, lease, run).await?;
        Ok(claimed.map(|p| Self {
            run: p.run,
            part: usize::try_from(p.part).unwrap_or(0),
            columns: p.columns,
            pass: p.pass,
            weight: p.weight,
            owner: owner.to_string(),
            lease,
        }))
    }

    fn part(&self) -> i32 {
        i32::try_from(self.part).unwrap_or(i32::MAX)
    }

    /// The run's parameters, or None when it no longer runs.
    pub async fn run_state<C: ConnectionTrait>(&self, db: &C) -> AppResult<Option<PartRun>> {
        use sea_orm::{EntityTrait, QuerySelect};
        let run = planning_runs::Entity::find_by_id(self.run)
            .select_only()
            .columns([
                planning_runs::Column::Status,
                planning_runs::Column::StartedAt,
                planning_runs::Column::TimeLimitSeconds,
                planning_runs::Column::GapLimit,
                planning_runs::Column::Deterministic,
            ])
            .into_model::<PartRun>()
            .one(db)
            .await?;
        Ok(run.filter(|r| r.status == RunStatus::Running))
    }

    /// The run's instance, as stored.
    pub async fn instance<C: ConnectionTrait>(&self, db: &C) -> AppResult<String> {
        Ok(load(db, self.run).await?.instance)
    }

    /// The part's share of what is left of its run's time limit, written beside it: the
    /// time left for its pass over the weight of the parts no one holds yet, times the
    /// workers at them, so that parts claimed late get what parts finished early left.
    /// The first pass, by size, has [`FIRST_PASS_SHARE`] of the time when there is more
    /// than one part; the second shares the rest by the parts' gaps.
    pub async fn time_limit<C: ConnectionTrait>(&self, db: &C, run: &PartRun) -> AppResult<f64> {
        let (queued, total, others) = run_parts::outlook(db, self.run, &self.owner).await?;
        let limit = run.time_limit_seconds;
        let weight = self.weight.max(1e-9);
        let elapsed = seconds_since(run.started_at);
        let several = (total - weight).abs() > 1e-9;
        let usable = limit - combine_reserve(limit);
        let end = if self.pass == 1 && several { FIRST_PASS_SHARE * usable } else { usable };
        let left = (end - elapsed).max(0.0);
        let seconds = (left * weight * (others + 1) as f64 / (queued + weight)).min(left).max(MIN_PART_SECONDS);
        run_parts::set_time_limit(db, self.run, self.part(), &self.owner, seconds).await?;
        Ok(seconds)
    }

    /// Extends the lease; says whether the run wants the part to stop.
    pub async fn beat<C: ConnectionTrait>(&self, db: &C) -> AppResult<run_parts::PartBeat> {
        Ok(run_parts::heartbeat(db, self.run, self.part(), &self.owner, self.lease).await?)
    }

    /// Stores the part's plan; false when the part is no longer this worker's.
    pub async fn finish<C: ConnectionTrait>(&self, db: &C, plan: &solver::PartPlan, seconds: f64) -> AppResult<bool> {
        Ok(run_parts::finish(db, self.run, &self.owner, plan, seconds).await?)
    }

    /// The part's plan from its earlier pass, to start this one from.
    pub async fn earlier_plan<C: ConnectionTrait>(&self, db: &C) -> AppResult<Option<solver::PartPlan>> {
        if self.pass < 2 {
            return Ok(None);
        }
        let json = run_parts::result(db, self.run, self.part()).await?;
        Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Marks the part as one that cannot be solved: its run fails with `error`.
    pub async fn fail<C: ConnectionTrait>(&self, db: &C, error: &str) -> AppResult<bool> {
        Ok(run_parts::fail(db, self.run, self.part(), &self.owner, error).await?)
    }

    /// Gives the part back for another worker (this one is stopping).
    pub async fn hand_back<C: ConnectionTrait>(&self, db: &C) -> AppResult<bool> {
        Ok(run_parts::release(db, self.run, self.part(), &self.owner).await?)
    }
}

/// Which run is published, and its horizon: every signed-in user may know it.
#[derive(Debug, Clone, Copy)]
pub struct PublishedRun {
    pub id: i64,
    pub horizon: Horizon,
}

pub async fn published_run<C: ConnectionTrait>(db: &C, _caller: &Caller) -> AppResult<Option<PublishedRun>> {
    Ok(queries::published(db).await?.map(|run| PublishedRun { id: run.id, horizon: horizon_of(&run) }))
}

/// How often a followed run is read again.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// A run's progress as it happens: `("progress", the run as JSON)` whenever it changes,
/// ending with `("end", its status)`. The worker may be another process, so the
/// database is where progress lives, and this follows the run's row.
pub async fn follow(
    db: sea_orm::DatabaseConnection,
    caller: Caller,
    id: i64,
) -> AppResult<impl futures_core::Stream<Item = (&'static str, String)>> {
    get(&db, &caller, id).await?;
    Ok(async_stream::stream! {
        let mut last: Option<String> = None;
        loop {
            let view = match get(&db, &caller, id).await {
                Ok(view) => view,
                Err(AppError::NotFound(_)) => break,
                Err(e) => {
                    tracing::warn!(run = id, error = %e, "a followed run could not be read");
                    tokio::time::sleep(FOLLOW_EVERY * 2).await;
                    continue;
                }
            };
            let ended = view.status.is_terminal();
            let json = serde_json::to_string(&view).unwrap_or_default();
            if last.as_deref() != Some(json.as_str()) {
                yield ("progress", json.clone());
                last = Some(json);
            }
            if ended {
                yield ("end", view.status.as_str().to_string());
                break;
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    })
}
