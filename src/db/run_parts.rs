//! A spread run's parts as jobs: written by the run's owner, claimed by any worker with a
//! lease, finished with the part's plan, read back by the owner to combine.
//!
//! A claim is a guarded UPDATE (queued, or running with an expired lease), so two
//! workers that pick the same part cannot both get it, on either backend; every later
//! write of the holder is guarded by `lease_owner = me AND status = 'running'`.

use std::time::Duration;

use labplan_solver as solver;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    Set,
};

use super::runs::{lease_until, now_ms};
use crate::domain::status::RunStatus;
use crate::entities::{planning_runs, run_parts};

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";
/// The part could not be solved (its `result` says why): its run fails.
pub const FAILED: &str = "failed";

/// Writes the parts of a run not written yet: a run taken over from a worker that died
/// keeps the parts already solved (the partition of an instance is always the same).
pub async fn insert_missing<C: ConnectionTrait>(db: &C, run: i64, partition: &solver::Partition) -> Result<(), DbErr> {
    for chunk in partition.parts.chunks(super::BATCH / 8) {
        let rows = chunk.iter().map(|p| run_parts::ActiveModel {
            run: Set(run),
            part: Set(i32::try_from(p.id).unwrap_or(i32::MAX)),
            equipment: Set(p.equipment.clone()),
            requests: Set(i32::try_from(p.requests).unwrap_or(i32::MAX)),
            columns: Set(i64::try_from(p.columns).unwrap_or(i64::MAX)),
            pass: Set(1),
            // The first pass shares the time by size: nothing else is known yet.
            weight: Set(p.columns.max(1) as f64),
            status: Set(QUEUED.to_string()),
            attempts: Set(0),
            ..Default::default()
        });
        run_parts::Entity::insert_many(rows)
            .on_conflict(OnConflict::columns([run_parts::Column::Run, run_parts::Column::Part]).do_nothing().to_owned())
            .try_insert()
            .exec(db)
            .await?;
    }
    Ok(())
}

/// A part as the run's page shows it: everything but its plan.
#[derive(Debug, Clone, FromQueryResult)]
pub struct PartRow {
    pub part: i32,
    pub equipment: String,
    pub requests: i32,
    pub columns: i64,
    pub pass: i32,
    pub status: String,
    pub lease_owner: Option<String>,
    pub attempts: i32,
    pub time_limit_seconds: Option<f64>,
    pub solved_by: Option<String>,
    pub seconds: Option<f64>,
    pub objective: Option<f64>,
    pub bound: Option<f64>,
}

pub async fn list<C: ConnectionTrait>(db: &C, run: i64) -> Result<Vec<PartRow>, DbErr> {
    use run_parts::Column as P;
    run_parts::Entity::find()
        .select_only()
        .columns([
            P::Part,
            P::Equipment,
            P::Requests,
            P::Columns,
            P::Pass,
            P::Status,
            P::LeaseOwner,
            P::Attempts,
            P::TimeLimitSeconds,
            P::SolvedBy,
            P::Seconds,
            P::Objective,
            P::Bound,
        ])
        .filter(P::Run.eq(run))
        .order_by_asc(P::Part)
        .into_model::<PartRow>()
        .all(db)
        .await
}

/// The plans of a run's finished parts, as stored.
pub async fn results<C: ConnectionTrait>(db: &C, run: i64) -> Result<Vec<String>, DbErr> {
    let rows: Vec<Option<String>> = run_parts::Entity::find()
        .select_only()
        .column(run_parts::Column::Result)
        .filter(run_parts::Column::Run.eq(run))
        .filter(run_parts::Column::Status.eq(DONE))
        .order_by_asc(run_parts::Column::Part)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().flatten().collect())
}

/// Claimable parts read at once to choose from: more than any run has.
const CANDIDATES: u64 = 2_000;

/// A part's stored plan, as JSON.
pub async fn result<C: ConnectionTrait>(db: &C, run: i64, part: i32) -> Result<Option<String>, DbErr> {
    let json: Option<Option<String>> = run_parts::Entity::find()
        .select_only()
        .column(run_parts::Column::Result)
        .filter(run_parts::Column::Run.eq(run))
        .filter(run_parts::Column::Part.eq(part))
        .into_tuple()
        .one(db)
        .await?;
    Ok(json.flatten())
}

/// Parts that a worker may claim now: queued, or held by a worker whose lease expired.
fn claimable(now: i64) -> Condition {
    Condition::any()
        .add(run_parts::Column::Status.eq(QUEUED))
        .add(Condition::all().add(run_parts::Column::Status.eq(RUNNING)).add(run_parts::Column::LeaseExpiresMs.lt(now)))
}

/// Claims a part of a running spread run (of `run` only, if given). The first pass takes
/// the smallest first: small parts often close within their share of the time, and
/// what they leave goes to the larger parts claimed after them. Later passes take the
/// widest gap first, so that it gets its share while the time is there.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    lease: Duration,
    run: Option<i64>,
) -> Result<Option<run_parts::Model>, DbErr> {
    let now = now_ms();
    let running_runs = sea_orm::sea_query::Query::select()
        .column(planning_runs::Column::Id)
        .from(planning_runs::Entity)
        .and_where(Expr::col(planning_runs::Column::Status).eq(RunStatus::Running.as_str()))
        .and_where(Expr::col(planning_runs::Column::SpreadParts).eq(true))
        .to_owned();
    let mut candidates = run_parts::Entity::find()
        .select_only()
        .column(run_parts::Column::Run)
        .column(run_parts::Column::Part)
        .column(run_parts::Column::Pass)
        .column(run_parts::Column::Weight)
        .filter(claimable(now))
        .filter(run_parts::Column::Run.in_subquery(running_runs));
    if let Some(run) = run {
        candidates = candidates.filter(run_parts::Column::Run.eq(run));
    }
    let mut candidates: Vec<(i64, i32, i32, f64)> = candidates
        .order_by_asc(run_parts::Column::Run)
        .order_by_asc(run_parts::Column::Part)
        .limit(CANDIDATES)
        .into_tuple()
        .all(db)
        .await?;
    let first = candidates.first().map(|c| c.0);
    candidates.retain(|c| Some(c.0) == first);
    candidates.sort_by(|a, b| {
        let key = |c: &(i64, i32, i32, f64)| if c.2 == 1 { c.3 } else { -c.3 };
        key(a).total_cmp(&key(b)).then(a.1.cmp(&b.1))
    });
    for (run, part, _, _) in candidates.into_iter().take(8) {
        let claimed = run_parts::Entity::update_many()
            .col_expr(run_parts::Column::Status, Expr::value(RUNNING))
            .col_expr(run_parts::Column::LeaseOwner, Expr::value(owner))
            .col_expr(run_parts::Column::LeaseExpiresMs, Expr::value(lease_until(lease)))
            .col_expr(run_parts::Column::Attempts, Expr::col(run_parts::Column::Attempts).add(1))
            .filter(run_parts::Column::Run.eq(run))
            .filter(run_parts::Column::Part.eq(part))
            .filter(claimable(now))
            .exec_with_returning(db)
            .await?;
        if let Some(model) = claimed.into_iter().next() {
            return Ok(Some(model));
        }
    }
    Ok(None)
}

/// What is left of a run's parts when one is claimed: the weight of the parts no one
/// holds yet, the weight of all, and how many workers hold one now besides `owner`.
pub async fn outlook<C: ConnectionTrait>(db: &C, run: i64, owner: &str) -> Result<(f64, f64, usize), DbErr> {
    let rows: Vec<(String, f64, Option<String>, Option<i64>)> = run_parts::Entity::find()
        .select_only()
        .column(run_parts::Column::Status)
        .column(run_parts::Column::Weight)
        .column(run_parts::Column::LeaseOwner)
        .column(run_parts::Column::LeaseExpiresMs)
        .filter(run_parts::Column::Run.eq(run))
        .into_tuple()
        .all(db)
        .await?;
    let now = now_ms();
    let queued = rows.iter().filter(|r| r.0 == QUEUED).map(|r| r.1).sum();
    let total = rows.iter().map(|r| r.1).sum();
    let mut others: Vec<&str> = rows
        .iter()
        .filter(|r| r.0 == RUNNING && r.3.is_some_and(|t| t >= now))
        .filter_map(|r| r.2.as_deref())
        .filter(|o| *o != owner)
        .collect();
    others.sort_unstable();
    others.dedup();
    Ok((queued, total, others.len()))
}

pub async fn set_time_limit<C: ConnectionTrait>(
    db: &C,
    run: i64,
    part: i32,
    owner: &str,
    seconds: f64,
) -> Result<(), DbErr> {
    held(run_parts::Entity::update_many(), run, part, owner)
        .col_expr(run_parts::Column::TimeLimitSeconds, Expr::value(seconds))
        .exec(db)
        .await?;
    Ok(())
}

fn held(
    update: sea_orm::UpdateMany<run_parts::Entity>,
    run: i64,
    part: i32,
    owner: &str,
) -> sea_orm::UpdateMany<run_parts::Entity> {
    update
        .filter(run_parts::Column::Run.eq(run))
        .filter(run_parts::Column::Part.eq(part))
        .filter(run_parts::Column::LeaseOwner.eq(owner))
        .filter(run_parts::Column::Status.eq(RUNNING))
}

/// What a part's holder learns from a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartBeat {
    /// Still this worker's; `stop` when its run has ended or is being cancelled.
    Held { stop: bool },
    /// Another worker took the part over after this one's lease expired.
    Lost,
}

pub async fn heartbeat<C: ConnectionTrait>(
    db: &C,
    run: i64,
    part: i32,
    owner: &str,
    lease: Duration,
) -> Result<PartBeat, DbErr> {
    let extended = held(run_parts::Entity::update_many(), run, part, owner)
        .col_expr(run_parts::Column::LeaseExpiresMs, Expr::value(lease_until(lease)))
        .exec(db)
        .await?;
    if extended.rows_affected == 0 {
        return Ok(PartBeat::Lost);
    }
    let state: Option<(RunStatus, bool)> = planning_runs::Entity::find_by_id(run)
        .select_only()
        .column(planning_runs::Column::Status)
        .column(planning_runs::Column::CancelRequested)
        .into_tuple()
        .one(db)
        .await?;
    let stop = !matches!(state, Some((RunStatus::Running, false)));
    Ok(PartBeat::Held { stop })
}

/// Stores a part's plan; false, and nothing changed, when the part is no longer this
/// worker's. A part solved again (a later pass) keeps the better of its plans and the
/// higher of its bounds: both bounds are proven for the same part, so the higher is too.
pub async fn finish<C: ConnectionTrait>(
    db: &C,
    run: i64,
    owner: &str,
    plan: &solver::PartPlan,
    seconds: f64,
) -> Result<bool, DbErr> {
    let part = i32::try_from(plan.part).unwrap_or(i32::MAX);
    let earlier: Option<(Option<String>, Option<f64>)> = run_parts::Entity::find()
        .select_only()
        .column(run_parts::Column::Result)
        .column(run_parts::Column::Seconds)
        .filter(run_parts::Column::Run.eq(run))
        .filter(run_parts::Column::Part.eq(part))
        .filter(run_parts::Column::LeaseOwner.eq(owner))
        .into_tuple()
        .one(db)
        .await?;
    let (earlier, seconds_before) = earlier.unwrap_or((None, None));
    let earlier: Option<solver::PartPlan> = earlier.and_then(|json| serde_json::from_str(&json).ok());
    let mut kept = match earlier {
        Some(before) if before.objective <= plan.objective => before,
        _ => plan.clone(),
    };
    kept.bound = kept.bound.max(plan.bound).min(kept.objective);
    let json = serde_json::to_string(&kept).map_err(|e| DbErr::Custom(format!("part plan: {e}")))?;
    let done = held(run_parts::Entity::update_many(), run, part, owner)
        .col_expr(run_parts::Column::Status, Expr::value(DONE))
        .col_expr(run_parts::Column::LeaseExpiresMs, Expr::value(Option::<i64>::None))
        .col_expr(run_parts::Column::SolvedBy, Expr::value(owner))
        .col_expr(run_parts::Column::Seconds, Expr::value(seconds_before.unwrap_or(0.0) + seconds))
        .col_expr(run_parts::Column::Objective, Expr::value(kept.objective))
        .col_expr(run_parts::Column::Bound, Expr::value(kept.bound))
        .col_expr(run_parts::Column::Result, Expr::value(json))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Gives a part back (its worker is stopping).
pub async fn release<C: ConnectionTrait>(db: &C, run: i64, part: i32, owner: &str) -> Result<bool, DbErr> {
    let released = held(run_parts::Entity::update_many(), run, part, owner)
        .col_expr(run_parts::Column::Status, Expr::value(QUEUED))
        .col_expr(run_parts::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(run_parts::Column::LeaseExpiresMs, Expr::value(Option::<i64>::None))
        .exec(db)
        .await?;
    Ok(released.rows_affected == 1)
}

/// Marks a part as one that cannot be solved, with why.
pub async fn fail<C: ConnectionTrait>(db: &C, run: i64, part: i32, owner: &str, error: &str) -> Result<bool, DbErr> {
    let failed = held(run_parts::Entity::update_many(), run, part, owner)
        .col_expr(run_parts::Column::Status, Expr::value(FAILED))
        .col_expr(run_parts::Column::LeaseExpiresMs, Expr::value(Option::<i64>::None))
        .col_expr(run_parts::Column::Result, Expr::value(error))
        .exec(db)
        .await?;
    Ok(failed.rows_affected == 1)
}

/// Where a run's parts stand.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    pub done: usize,
    pub total: usize,
    /// The parts' objectives and bounds, summed over those done
    pub objective: f64,
    pub bound: f64,
    /// The pass the parts are in: the highest of any
    pub pass: i32,
    /// Why a part could not be solved, if one could not
    pub failure: Option<String>,
}

pub async fn tally<C: ConnectionTrait>(db: &C, run: i64) -> Result<Tally, DbErr> {
    let rows: Vec<(String, Option<f64>, Option<f64>, i32)> = run_parts::Entity::find()
        .select_only()
        .column(run_parts::Column::Status)
        .column(run_parts::Column::Objective)
        .column(run_parts::Column::Bound)
        .column(run_parts::Column::Pass)
        .filter(run_parts::Column::Run.eq(run))
        .into_tuple()
        .all(db)
        .await?;
    let failure = if rows.iter().any(|r| r.0 == FAILED) {
        run_parts::Entity::find()
            .select_only()
            .column(run_parts::Column::Result)
            .filter(run_parts::Column::Run.eq(run))
            .filter(run_parts::Column::Status.eq(FAILED))
            .into_tuple::<Option<String>>()
            .one(db)
            .await?
            .flatten()
            .or_else(|| Some("a part could not be solved".to_string()))
    } else {
        None
    };
    let done: Vec<_> = rows.iter().filter(|r| r.0 == DONE).collect();
    Ok(Tally {
        done: done.len(),
        total: rows.len(),
        objective: done.iter().filter_map(|r| r.1).sum(),
        bound: done.iter().filter_map(|r| r.2).sum(),
        pass: rows.iter().map(|r| r.3).max().unwrap_or(1),
        failure,
    })
}

/// An absolute gap, in roubles, under which a part counts as closed whatever its size.
const PART_GAP_FLOOR: f64 = 1e-3;

/// Queues again, for pass `pass`, every done part whose gap is wider than `closed` of its
/// objective, weighted by that gap: the time left goes where the gap is. Returns how many.
pub async fn requeue_open<C: ConnectionTrait>(db: &C, run: i64, pass: i32, closed: f64) -> Result<u64, DbErr> {
    let gap = Expr::col(run_parts::Column::Objective).sub(Expr::col(run_parts::Column::Bound));
    let requeued = run_parts::Entity::update_many()
        .col_expr(run_parts::Column::Status, Expr::value(QUEUED))
        .col_expr(run_parts::Column::Pass, Expr::value(pass))
        .col_expr(run_parts::Column::Attempts, Expr::value(0))
        .col_expr(run_parts::Column::Weight, gap.clone())
        .col_expr(run_parts::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .filter(run_parts::Column::Run.eq(run))
        .filter(run_parts::Column::Status.eq(DONE))
        // Objectives are sums of costs and penalties, never negative.
        .filter(gap.clone().gt(Expr::col(run_parts::Column::Objective).mul(closed)))
        .filter(gap.gt(PART_GAP_FLOOR))
        .exec(db)
        .await?;
    Ok(requeued.rows_affected)
}

/// Drops the parts' plans once the run's plan is stored: it holds all of them.
pub async fn forget_results<C: ConnectionTrait>(db: &C, run: i64) -> Result<(), DbErr> {
    run_parts::Entity::update_many()
        .col_expr(run_parts::Column::Result, Expr::value(Option::<String>::None))
        .filter(run_parts::Column::Run.eq(run))
        .exec(db)
        .await?;
    Ok(())
}
