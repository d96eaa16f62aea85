//! Planning runs as jobs in the database: create, claim with a lease, heartbeat,
//! finish with the whole plan in one transaction, cancel.
//!
//! A run is claimed by one worker at a time: the claim is a single UPDATE whose
//! subquery locks the chosen row `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite
//! serializes writers, so there the statement alone is enough). The claim gives the
//! worker a lease; the worker extends it with heartbeats. Every later write of the
//! worker is guarded by `lease_owner = me AND status = 'running'`, so a worker whose
//! lease expired and was taken over can never store its plan over the new owner's.

use std::time::Duration;

use labplan_solver as solver;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionSession, TransactionTrait,
};

use crate::entities::{plan_assignments, plan_bottlenecks, plan_unassigned, planning_runs};
use crate::planning::instance::Horizon;

/// Rows per INSERT, well under both backends' bind-parameter limits.
const BATCH: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Queued, Self::Running, Self::Succeeded, Self::Failed, Self::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn lease_until(lease: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2))
}

pub struct NewRun<'a> {
    pub horizon: Horizon,
    pub time_limit_seconds: f64,
    pub gap: f64,
    pub created_by: Option<&'a str>,
    pub instance: &'a solver::Instance,
}

pub async fn create<C: ConnectionTrait>(db: &C, new: NewRun<'_>) -> Result<planning_runs::Model, DbErr> {
    let instance = serde_json::to_string(new.instance).map_err(|e| DbErr::Custom(format!("instance: {e}")))?;
    planning_runs::ActiveModel {
        status: Set(RunStatus::Queued.as_str().to_string()),
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
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<planning_runs::Model>, DbErr> {
    planning_runs::Entity::find_by_id(id).one(db).await
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
        .col_expr(planning_runs::Column::Status, Expr::value(RunStatus::Running.as_str()))
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
        .filter(planning_runs::Column::Status.eq(RunStatus::Running.as_str()));
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
pub enum Outcome {
    Succeeded(solver::Plan),
    /// Cancelled while running; the plan is kept when the canceller asked for it.
    Cancelled(Option<solver::Plan>),
    Failed(String),
}

/// Ends a claimed run and stores its plan, all in one transaction. Returns false, and
/// changes nothing, when the run is no longer this worker's.
pub async fn finish<C: TransactionTrait>(db: &C, id: i64, owner: &str, outcome: Outcome) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let (status, plan, error) = match outcome {
        Outcome::Succeeded(plan) => (RunStatus::Succeeded, Some(plan), None),
        Outcome::Cancelled(plan) => (RunStatus::Cancelled, plan, None),
        Outcome::Failed(error) => (RunStatus::Failed, None, Some(error)),
    };
    let mut update = planning_runs::Entity::update_many()
        .col_expr(planning_runs::Column::Status, Expr::value(status.as_str()))
        .col_expr(planning_runs::Column::FinishedAt, Expr::value(chrono::Utc::now()))
        .col_expr(planning_runs::Column::LeaseExpiresMs, Expr::value(Option::<i64>::None))
        .col_expr(planning_runs::Column::Phase, Expr::value("done"))
        .col_expr(planning_runs::Column::Error, Expr::value(error))
        .filter(planning_runs::Column::Id.eq(id))
        .filter(planning_runs::Column::LeaseOwner.eq(owner))
        .filter(planning_runs::Column::Status.eq(RunStatus::Running.as_str()));
    if let Some(plan) = &plan {
        let plan_status = match plan.status {
            solver::PlanStatus::Optimal => "optimal",
            solver::PlanStatus::Feasible => "feasible",
            solver::PlanStatus::Error => "error",
        };
        update = update
            .col_expr(planning_runs::Column::PlanStatus, Expr::value(plan_status))
            .col_expr(planning_runs::Column::Objective, Expr::value(plan.objective))
            .col_expr(planning_runs::Column::Bound, Expr::value(plan.bound))
            .col_expr(planning_runs::Column::Gap, Expr::value(plan.gap))
            .col_expr(planning_runs::Column::SolveSeconds, Expr::value(plan.solve_seconds))
            .col_expr(planning_runs::Column::BestObjective, Expr::value(plan.objective))
            .col_expr(planning_runs::Column::BestBound, Expr::value(plan.bound));
    }
    if update.exec(&txn).await?.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    if let Some(plan) = plan {
        store_plan(&txn, id, plan).await?;
    }
    txn.commit().await?;
    Ok(true)
}

fn week(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

async fn store_plan<C: ConnectionTrait>(db: &C, run: i64, plan: solver::Plan) -> Result<(), DbErr> {
    let assignments: Vec<_> = plan
        .assignments
        .into_iter()
        .map(|a| plan_assignments::ActiveModel {
            run: Set(run),
            request: Set(a.request),
            lab: Set(a.lab),
            start_week: Set(week(a.start_week)),
            end_week: Set(week(a.end_week)),
            late_weeks: Set(week(a.late_weeks)),
            cost: Set(a.cost),
        })
        .collect();
    for chunk in assignments.chunks(BATCH) {
        plan_assignments::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    let unassigned: Vec<_> = plan
        .unassigned
        .into_iter()
        .map(|u| plan_unassigned::ActiveModel {
            run: Set(run),
            request: Set(u.request),
            reason: Set(reason_str(u.reason).to_string()),
            detail: Set(u.detail),
        })
        .collect();
    for chunk in unassigned.chunks(BATCH) {
        plan_unassigned::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    let bottlenecks: Vec<_> = plan
        .bottlenecks
        .into_iter()
        .map(|b| plan_bottlenecks::ActiveModel {
            run: Set(run),
            lab: Set(b.lab),
            equipment: Set(b.equipment),
            week: Set(week(b.week)),
            used_hours: Set(b.used_hours),
            capacity_hours: Set(b.capacity_hours),
            shadow_price: Set(b.shadow_price),
        })
        .collect();
    for chunk in bottlenecks.chunks(BATCH) {
        plan_bottlenecks::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    Ok(())
}

pub fn reason_str(reason: solver::Reason) -> &'static str {
    match reason {
        solver::Reason::NoAccreditedLab => "no_accredited_lab",
        solver::Reason::ExcludedByCompany => "excluded_by_company",
        solver::Reason::NoCapacityInWindow => "no_capacity_in_window",
        solver::Reason::Outranked => "outranked",
    }
}

fn parse_reason(raw: &str) -> solver::Reason {
    match raw {
        "no_accredited_lab" => solver::Reason::NoAccreditedLab,
        "excluded_by_company" => solver::Reason::ExcludedByCompany,
        "no_capacity_in_window" => solver::Reason::NoCapacityInWindow,
        // The database's CHECK admits only the four reasons.
        _ => solver::Reason::Outranked,
    }
}

/// The stored plan of a run, in the format of the planning model; None if the run has none.
pub async fn plan<C: ConnectionTrait>(db: &C, run: &planning_runs::Model) -> Result<Option<solver::Plan>, DbErr> {
    let (Some(objective), Some(bound), Some(gap)) = (run.objective, run.bound, run.gap) else {
        return Ok(None);
    };
    let week = |v: i32| u32::try_from(v).unwrap_or(0);
    let assignments = plan_assignments::Entity::find()
        .filter(plan_assignments::Column::Run.eq(run.id))
        .order_by_asc(plan_assignments::Column::Request)
        .all(db)
        .await?
        .into_iter()
        .map(|a| solver::Assignment {
            request: a.request,
            lab: a.lab,
            start_week: week(a.start_week),
            end_week: week(a.end_week),
            late_weeks: week(a.late_weeks),
            cost: a.cost,
        })
        .collect();
    let unassigned = plan_unassigned::Entity::find()
        .filter(plan_unassigned::Column::Run.eq(run.id))
        .order_by_asc(plan_unassigned::Column::Request)
        .all(db)
        .await?
        .into_iter()
        .map(|u| solver::Unassigned { request: u.request, reason: parse_reason(&u.reason), detail: u.detail })
        .collect();
    let bottlenecks = plan_bottlenecks::Entity::find()
        .filter(plan_bottlenecks::Column::Run.eq(run.id))
        .order_by_desc(plan_bottlenecks::Column::ShadowPrice)
        .order_by_asc(plan_bottlenecks::Column::Lab)
        .order_by_asc(plan_bottlenecks::Column::Equipment)
        .order_by_asc(plan_bottlenecks::Column::Week)
        .all(db)
        .await?
        .into_iter()
        .map(|b| solver::Bottleneck {
            lab: b.lab,
            equipment: b.equipment,
            week: week(b.week),
            used_hours: b.used_hours,
            capacity_hours: b.capacity_hours,
            shadow_price: b.shadow_price,
        })
        .collect();
    Ok(Some(solver::Plan {
        format: solver::PLAN_FORMAT.to_string(),
        status: if run.plan_status.as_deref() == Some("optimal") {
            solver::PlanStatus::Optimal
        } else {
            solver::PlanStatus::Feasible
        },
        objective,
        bound,
        gap,
        solve_seconds: run.solve_seconds.unwrap_or(0.0),
        assignments,
        unassigned,
        bottlenecks,
        moved: None,
        moves: Vec::new(),
        deterministic: None,
    }))
}

/// Hands a claimed run back to the queue (the worker is shutting down).
pub async fn release<C: ConnectionTrait>(db: &C, id: i64, owner: &str) -> Result<bool, DbErr> {
    let result = planning_runs::Entity::update_many()
        .col_expr(planning_runs::Column::Status, Expr::value(RunStatus::Queued.as_str()))
        .col_expr(planning_runs::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(planning_runs::Column::LeaseExpiresMs, Expr::value(Option::<i64>::None))
        .filter(planning_runs::Column::Id.eq(id))
        .filter(planning_runs::Column::LeaseOwner.eq(owner))
        .filter(planning_runs::Column::Status.eq(RunStatus::Running.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// What a cancel request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// The run was still queued: it is cancelled now.
    Cancelled,
    /// The run is solving: its worker stops at its next heartbeat.
    Requested,
    /// The run had already ended.
    AlreadyEnded(RunStatus),
    NotFound,
}

pub async fn cancel<C: ConnectionTrait>(db: &C, id: i64, keep_best: bool) -> Result<Cancel, DbErr> {
    let queued = planning_runs::Entity::update_many()
        .col_expr(planning_runs::Column::Status, Expr::value(RunStatus::Cancelled.as_str()))
        .col_expr(planning_runs::Column::CancelRequested, Expr::value(true))
        .col_expr(planning_runs::Column::FinishedAt, Expr::value(chrono::Utc::now()))
        .filter(planning_runs::Column::Id.eq(id))
        .filter(planning_runs::Column::Status.eq(RunStatus::Queued.as_str()))
        .exec(db)
        .await?;
    if queued.rows_affected == 1 {
        return Ok(Cancel::Cancelled);
    }
    let running = planning_runs::Entity::update_many()
        .col_expr(planning_runs::Column::CancelRequested, Expr::value(true))
        .col_expr(planning_runs::Column::KeepBestOnCancel, Expr::value(keep_best))
        .filter(planning_runs::Column::Id.eq(id))
        .filter(planning_runs::Column::Status.eq(RunStatus::Running.as_str()))
        .exec(db)
        .await?;
    if running.rows_affected == 1 {
        return Ok(Cancel::Requested);
    }
    Ok(match find(db, id).await? {
        Some(run) => Cancel::AlreadyEnded(RunStatus::parse(&run.status).unwrap_or(RunStatus::Failed)),
        None => Cancel::NotFound,
    })
}

/// The run whose plan is published, if any.
pub async fn published<C: ConnectionTrait>(db: &C) -> Result<Option<planning_runs::Model>, DbErr> {
    planning_runs::Entity::find()
        .filter(planning_runs::Column::PublishedAt.is_not_null())
        .order_by_desc(planning_runs::Column::PublishedAt)
        .order_by_desc(planning_runs::Column::Id)
        .one(db)
        .await
}
