//! Planning runs as jobs in the database: create, claim with a lease, heartbeat,
//! finish with the whole plan in one transaction, cancel, publish.
//!
//! A run is claimed by one worker at a time: the claim is a single UPDATE whose
//! subquery locks the chosen row `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite
//! serializes writers, so there the statement alone is enough). The claim gives the
//! worker a lease; the worker extends it with heartbeats. Every later write of the
//! worker is guarded by `lease_owner = me AND status = 'running'`, so a worker whose
//! lease expired and was taken over can never store its plan over the new owner's.

use std::collections::HashMap;
use std::time::Duration;

use labplan_solver as solver;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::fetch_page;
use crate::db::Db;
use crate::domain::horizon::Horizon;
use crate::domain::paging::PageRequest;
use crate::domain::status::{PlanStatus, RunStatus};
use crate::entities::planning_runs;

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The moment, in ms since the epoch, a lease of `lease` taken now expires.
pub fn lease_until(lease: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2))
}

pub struct NewRun<'a> {
    pub horizon: Horizon,
    pub time_limit_seconds: f64,
    pub gap: f64,
    pub created_by: Option<&'a str>,
    pub instance: &'a solver::Instance,
    pub freeze_weeks: u32,
    pub deterministic: bool,
    /// A what-if scenario's run: solved like any other, never listed with the runs nor published
    pub scenario: bool,
    /// Its parts may be solved by several workers at once
    pub spread_parts: bool,
}

pub async fn create<C: ConnectionTrait>(db: &C, new: NewRun<'_>) -> Result<planning_runs::Model, DbErr> {
    let instance = serde_json::to_string(new.instance).map_err(|e| DbErr::Custom(format!("instance: {e}")))?;
    planning_runs::ActiveModel {
        status: Set(RunStatus::Queued),
        horizon_start: Set(new.horizon.start),
        horizon_weeks: Set(i32::try_from(new.horizon.weeks).unwrap_or(i32::MAX)),
        time_limit_seconds: Set(new.time_limit_seconds),
        gap_limit: Set(new.gap),
        keep_best_on_cancel: Set(false),
        cancel_requested: Set(false),
        created_by: Set(new.created_by.map(str::to_string)),
        created_at: Set(chrono::Utc::now()),
        instance: Set(instance),
        requests: Set(i32::try_from(new.instance.requests.len()).unwrap_or(i32::MAX)),
        attempts: Set(0),
        move_lab: Set(Some(new.instance.weights.move_lab)),
        move_week: Set(Some(new.instance.weights.move_week)),
        freeze_weeks: Set(Some(i32::try_from(new.freeze_weeks).unwrap_or(i32::MAX))),
        deterministic: Set(new.deterministic),
        scenario: Set(new.scenario),
        spread_parts: Set(new.spread_parts),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<planning_runs::Model>, DbErr> {
    planning_runs::Entity::find_by_id(id).one(db).await
}

/// The status of each of these runs, in one query and without their instances.
pub async fn statuses<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<HashMap<i64, RunStatus>, DbErr> {
    let rows: Vec<(i64, RunStatus)> = planning_runs::Entity::find()
        .select_only()
        .column(planning_runs::Column::Id)
        .column(planning_runs::Column::Status)
        .filter(planning_runs::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Runs, the newest first, of one status if given.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    status: Option<RunStatus>,
    page: PageRequest,
) -> Result<(Vec<planning_runs::Model>, u64), DbErr> {
    let mut select = planning_runs::Entity::find()
        .filter(planning_runs::Column::Scenario.eq(false))
        .order_by_desc(planning_runs::Column::Id);
    if let Some(status) = status {
        select = select.filter(planning_runs::Column::Status.eq(status));
    }
    fetch_page(db, select, page).await
}

pub async fn count_in<C: ConnectionTrait>(db: &C, status: RunStatus) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    planning_runs::Entity::find().filter(planning_runs::Column::Status.eq(status)).count(db).await
}

/// Claims the oldest queued run, or a running one whose worker's lease has expired.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    lease: Duration,
) -> Result<Option<planning_runs::Model>, DbErr> {
    let now = now_ms();
    let candidate = Query::select()
        .column(planning_runs::Column::Id)
        .from(planning_runs::Entity)
        .cond_where(
            Expr::col(planning_runs::Column::Status).eq(RunStatus::Queued.as_str()).or(Expr::col(
                planning_runs::Column::Status,
            )
            .eq(RunStatus::Running.as_str())
            .and(Expr::col(planning_runs::Column::LeaseExpiresMs).lt(now))),
        )
        .order_by(planning_runs::Column::Id, sea_orm::Order::Asc)
        .limit(1)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .to_owned();
    let claimed = planning_runs::Entity::update_many()
        .col_expr(planning_runs::Column::Status, Expr::value(RunStatus::Running))
        .col_expr(planning_runs::Column::LeaseOwner, Expr::value(owner))
        .col_expr(planning_runs::Column::LeaseExpiresMs, Expr::value(lease_until(lease)))
        .col_expr(planning_runs::Column::Attempts, Expr::col(planning_runs::Column::Attempts).add(1))
        .col_expr(planning_runs::Column::StartedAt, Expr::value(chrono::Utc::now()))
        .col_expr(planning_runs::Column::Phase, Expr::value(Option::<String>::None))
        .col_expr(planning_runs::Column::PartsDone, Expr::value(Option::<i32>::None))
        .col_expr(planning_runs::Column::PartsTotal, Expr::value(Option::<i32>::None))
        .col_expr(planning_runs::Column::BestObjective, Expr::value(Option::<f64>::None))
        .col_expr(planning_runs::Column::BestBound, Expr::value(Option::<f64>::None))
        .filter(planning_runs::Column::Id.in_subquery(candidate))
        .exec_with_returning(db)
        .await?;
    Ok(claimed.into_iter().next())
}

/// What the worker learns from a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// The lease is extended; `cancel` is true when someone asked to cancel the run.
    Held { cancel: bool },
    /// The run is no longer this worker's: its lease expired and another worker took it.
    Lost,
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

pub async fn heartbeat<C: ConnectionTrait>(
    db: &C,
    id: i64,
    owner: &str,
    lease: Duration,
    progress: Option<&solver::Progress>,
) -> Result<Beat, DbErr> {
    let mut update = planning_runs::Entity::update_many()
        .col_expr(planning_runs::Column::LeaseExpiresMs, Expr::value(lease_until(lease)))
        .filter(planning_runs::Column::Id.eq(id))
        .filter(planning_runs::Column::LeaseOwner.eq(owner))
        .filter(planning_runs::Column::Status.eq(RunStatus::Running));
    if let Some(p) = progress {
        let phase = serde_json::to_value(p.phase).ok().and_then(|v| v.as_str().map(str::to_string));
        update = update
            .col_expr(planning_runs::Column::Phase, Expr::value(phase))
            .col_expr(planning_runs::Column::PartsDone, Expr::value(i32::try_from(p.parts_done).ok()))
            .col_expr(planning_runs::Column::PartsTotal, Expr::value(i32::try_from(p.parts_total).ok()))
            .col_expr(planning_runs::Column::BestObjective, Expr::value(finite(p.objective)))
            .col_expr(planning_runs::Column::BestBound, Expr::value(finite(p.bound)));
    }
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(Beat::Lost);
    }
    let cancel = planning_runs::Entity::find_by_id(id)
        .select_only()
        .column(planning_runs::Column::CancelRequested)
        .into_tuple::<bool>()
        .one(db)
        .await?
        .unwrap_or(false);
    Ok(Beat::Held { cancel })
}

/// How a claimed run ends.
#[derive(Debug, Clone)]
pub enum Outcome {
    Succeeded(solver::Plan),
    /// Cancelled while running; the plan is kept when the canceller asked for it.
    Cancelled(Option<solver::Plan>),
    Failed(String),
}

/// Ends a claimed run and stores its plan, all in one transaction. Returns false, and
/// changes nothing, when the run is no longer this worker's.
pub async fn finish<C: Db>(db: &C, id: i64, owner: &str, outcome: Outcome) -> Result<bool, DbErr> {
    let txn = super::begin(db).await?;
    let (status, plan, error) = match outcome {
        Outcome::Succeeded(plan) => (RunStatus::Succeeded, Some(plan), None),
        Outcome::Cancelled(plan) => (RunStatus::Cancelled, plan, None),
        Outcome::Failed(error) => (RunStatus::Failed, None, Some(error)),
    };
    let error_text = error.clone();
    let mut update = planning_runs::Entity::update_many()
        .col_expr(planning_runs::Column::Status, Expr::value(status))
        .col_expr(planning_runs::Column::FinishedAt, Expr::value(chrono::Utc::now()))
        .col_expr(planning_runs::Column::LeaseExpiresMs, Expr::value(Option::<i64>::None))
        .col_expr(planning_runs::Column::Phase, Expr::value("done"))
        .col_expr(planning_runs::Column::Error, Expr::value(error))
        .filter(planning_runs::Column::Id.eq(id))
        .filter(planning_runs::Column::LeaseOwner.eq(owner))
        .filter(planning_runs::Column::Status.eq(RunStatus::Running));
    let scenario: bool = planning_runs::Entity::find_by_id(id)
        .select_only()
        .column(planning_runs::Column::Scenario)
        .into_tuple()
        .one(&txn)
        .await?
        .unwrap_or(false);
    if let Some(plan) = &plan {
        if scenario {
            let json = serde_json::to_string(plan).map_err(|e| DbErr::Custom(format!("plan: {e}")))?;
            update = update.col_expr(planning_runs::Column::ScenarioPlan, Expr::value(json));
        }
        let plan_status = match plan.status {
            solver::PlanStatus::Optimal => PlanStatus::Optimal,
            // A plan with an error status never reaches here: the solve failed instead.
            solver::PlanStatus::Feasible | solver::PlanStatus::Error => PlanStatus::Feasible,
        };
        update = update
            .col_expr(planning_runs::Column::PlanStatus, Expr::value(plan_status))
            .col_expr(planning_runs::Column::Objective, Expr::value(plan.objective))
            .col_expr(planning_runs::Column::Bound, Expr::value(plan.bound))
            .col_expr(planning_runs::Column::Gap, Expr::value(plan.gap))
            .col_expr(planning_runs::Column::SolveSeconds, Expr::value(plan.solve_seconds))
            .col_expr(planning_runs::Column::BestObjective, Expr::value(plan.objective))
            .col_expr(planning_runs::Column::BestBound, Expr::value(plan.bound))
            .col_expr(planning_runs::Column::Moved, Expr::value(plan.moved.and_then(|m| i32::try_from(m).ok())))
            .col_expr(planning_runs::Column::PlanDeterministic, Expr::value(plan.deterministic));
    }
    if update.exec(&txn).await?.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    if let Some(plan) = plan
        && !scenario
    {
        super::plans::store(&txn, id, plan).await?;
    }
    if status != RunStatus::Cancelled {
        let kind = if status == RunStatus::Failed { "run_failed" } else { "run_finished" };
        let detail = error_text.map(|e| e.chars().take(500).collect());
        super::notices::notify(
            &txn,
            super::notices::Audience::Role(crate::domain::access::Role::Planner),
            kind,
            "planning_run",
            &id.to_string(),
            detail,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// Hands a claimed run back to the queue (the worker is shutting down).
pub async fn release<C: ConnectionTrait>(db: &C, id: i64, owner: &str) -> Result<bool, DbErr> {
    let result = planning_runs::Entity::update_many()
        .col_expr(planning_runs::Column::Status, Expr::value(RunStatus::Queued))
        .col_expr(planning_runs::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(planning_runs::Column::LeaseExpiresMs, Expr::value(Option::<i64>::None))
        .filter(planning_runs::Column::Id.eq(id))
        .filter(planning_runs::Column::LeaseOwner.eq(owner))
        .filter(planning_runs::Column::Status.eq(RunStatus::Running))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Cancels a queued run at once; true if it was queued.
pub async fn cancel_queued<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, DbErr> {
    let queued = planning_runs::Entity::update_many()
        .col_expr(planning_runs::Column::Status, Expr::value(RunStatus::Cancelled))
        .col_expr(planning_runs::Column::CancelRequested, Expr::value(true))
        .col_expr(planning_runs::Column::FinishedAt, Expr::value(chrono::Utc::now()))
        .filter(planning_runs::Column::Id.eq(id))
        .filter(planning_runs::Column::Status.eq(RunStatus::Queued))
        .exec(db)
        .await?;
    Ok(queued.rows_affected == 1)
}

/// Asks the worker of a running run to stop; true if it was running.
pub async fn request_cancel<C: ConnectionTrait>(db: &C, id: i64, keep_best: bool) -> Result<bool, DbErr> {
    let running = planning_runs::Entity::update_many()
        .col_expr(planning_runs::Column::CancelRequested, Expr::value(true))
        .col_expr(planning_runs::Column::KeepBestOnCancel, Expr::value(keep_best))
        .filter(planning_runs::Column::Id.eq(id))
        .filter(planning_runs::Column::Status.eq(RunStatus::Running))
        .exec(db)
        .await?;
    Ok(running.rows_affected == 1)
}

/// The run whose plan is published, if any.
pub async fn published<C: ConnectionTrait>(db: &C) -> Result<Option<planning_runs::Model>, DbErr> {
    planning_runs::Entity::find().filter(planning_runs::Column::IsPublished.eq(true)).one(db).await
}

/// Makes `id` the published run at `now` in place of `previous`. The database holds one
/// published run at most (a unique index), so two publications that got this far at
/// once cannot both commit.
pub async fn mark_published<C: ConnectionTrait>(
    db: &C,
    id: i64,
    previous: Option<i64>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    if let Some(previous) = previous {
        planning_runs::Entity::update_many()
            .col_expr(planning_runs::Column::IsPublished, Expr::value(false))
            .filter(planning_runs::Column::Id.eq(previous))
            .exec(db)
            .await?;
    }
    planning_runs::Entity::update_many()
        .col_expr(planning_runs::Column::PublishedAt, Expr::value(now))
        .col_expr(planning_runs::Column::IsPublished, Expr::value(true))
        .filter(planning_runs::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Whether the run asked to keep its best plan when cancelled.
pub async fn keeps_best_on_cancel<C: ConnectionTrait>(db: &C, id: i64) -> Result<bool, DbErr> {
    Ok(find(db, id).await?.is_some_and(|r| r.keep_best_on_cancel))
}

/// A fixed key for PostgreSQL's transaction-scoped advisory lock that publications take.
const PUBLICATION_LOCK: i64 = 0x6c61_6270_6c61_6e01;

/// Serializes publications: the second waits until the first has committed, then sees
/// what it published. SQLite's write transactions are serialized already.
pub async fn lock_publication<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    if super::is_postgres(db) {
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [PUBLICATION_LOCK.into()],
        ))
        .await?;
    }
    Ok(())
}
