//! What-if scenarios: the registry as it is plus a list of changes, solved by the
//! planning workers like a run, against a baseline of the same registry without them.
//! A scenario never touches the registry or the published plan: its runs are marked as
//! scenarios, which are never published.

use chrono::{DateTime, Utc};
use labplan_solver as solver;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::policy::Op;
use super::{AppError, AppResult, Work, require};
use crate::db::instance::{DEFAULT_FREEZE_WEEKS, PlanOptions};
use crate::db::{Db, plans, runs, scenarios as queries};
use crate::domain::access::Caller;
use crate::domain::horizon::Horizon;
use crate::domain::paging::{ListResponse, PageRequest};
use crate::domain::scenario::{self, Change, Figures};
use crate::domain::status::RunStatus;
use crate::domain::{Errors, Msg, parse_name};
use crate::entities::{planning_runs, scenarios};

/// A scenario's solve is shorter by default than a run: an analyst waits for it.
pub const DEFAULT_TIME_LIMIT_SECONDS: f64 = 60.0;
pub const MAX_TIME_LIMIT_SECONDS: f64 = 600.0;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewScenario {
    pub name: String,
    /// What differs from the registry as it is; none makes a baseline
    #[serde(default)]
    pub changes: Vec<Change>,
    /// Wall-clock limit of the solve in seconds (1–600); default 60
    #[schema(minimum = 1, maximum = 600)]
    pub time_limit_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Scenario {
    pub id: i64,
    pub name: String,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub changes: Vec<Change>,
    pub time_limit_seconds: f64,
    /// The planning run that solves it (a scenario run, never published)
    pub run: i64,
    /// Where its solve is: queued, running, succeeded, failed or cancelled
    pub status: RunStatus,
    /// The scenario without changes it is compared against; none for a baseline itself
    pub baseline: Option<i64>,
    /// The plan's figures, once solved
    pub result: Option<Figures>,
}

/// A scenario side by side with its baseline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Comparison {
    pub baseline: Scenario,
    pub scenario: Scenario,
    /// What the plan costs less with the changes (baseline objective − scenario
    /// objective), once both are solved
    pub saving: Option<f64>,
    /// The first-order estimate of that saving from the baseline's shadow prices, for
    /// capacity changes (none for other kinds)
    pub estimate: Option<f64>,
}

fn hash_of(instance: &solver::Instance) -> String {
    let json = serde_json::to_vec(instance).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// A scenario with its run's status and, once solved, its figures.
async fn view<C: ConnectionTrait>(db: &C, row: scenarios::Model) -> AppResult<Scenario> {
    let run = runs::find(db, row.run).await?.ok_or_else(|| AppError::not_found("planning run", row.run))?;
    let result = figures(db, &run).await?;
    shape(row, run.status, result)
}

fn shape(row: scenarios::Model, status: RunStatus, result: Option<Figures>) -> AppResult<Scenario> {
    let changes: Vec<Change> = serde_json::from_str(&row.changes)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("scenario {}: stored changes unreadable: {e}", row.id)))?;
    Ok(Scenario {
        id: row.id,
        name: row.name,
        created_by: row.created_by,
        created_at: row.created_at,
        changes,
        time_limit_seconds: row.time_limit_seconds,
        run: row.run,
        status,
        baseline: row.baseline,
        result,
    })
}

/// The figures of a run's plan over its own instance; none before it has a plan.
async fn figures<C: ConnectionTrait>(db: &C, run: &planning_runs::Model) -> AppResult<Option<Figures>> {
    let Some(plan) = plans::plan(db, run).await? else { return Ok(None) };
    let instance: solver::Instance = serde_json::from_str(&run.instance)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("run {}: stored instance unreadable: {e}", run.id)))?;
    Ok(Some(scenario::figures(&instance, &plan)))
}

async fn load<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<scenarios::Model> {
    queries::find(db, id).await?.ok_or_else(|| AppError::not_found("scenario", id))
}

pub async fn list<C: ConnectionTrait>(db: &C, caller: &Caller, page: PageRequest) -> AppResult<ListResponse<Scenario>> {
    require(caller, Op::ReadScenarios)?;
    let (rows, total) = queries::list(db, page).await?;
    // One query for the page's statuses: a run row carries its whole instance.
    let ids: Vec<i64> = rows.iter().map(|r| r.run).collect();
    let statuses = runs::statuses(db, &ids).await?;
    let items = rows
        .into_iter()
        .map(|row| {
            let status = statuses.get(&row.run).copied().ok_or_else(|| AppError::not_found("planning run", row.run))?;
            shape(row, status, None)
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(ListResponse::new(items, total, page))
}

pub async fn get<C: ConnectionTrait>(db: &C, caller: &Caller, id: i64) -> AppResult<Scenario> {
    require(caller, Op::ReadScenarios)?;
    view(db, load(db, id).await?).await
}

/// The changed instance the scenario solves (`labplan solve --input` reproduces it).
pub async fn instance<C: ConnectionTrait>(db: &C, caller: &Caller, id: i64) -> AppResult<String> {
    require(caller, Op::ReadScenarios)?;
    let row = load(db, id).await?;
    Ok(runs::find(db, row.run).await?.ok_or_else(|| AppError::not_found("planning run", row.run))?.instance)
}

pub async fn compare<C: ConnectionTrait>(db: &C, caller: &Caller, id: i64) -> AppResult<Comparison> {
    require(caller, Op::ReadScenarios)?;
    let row = load(db, id).await?;
    let baseline_id = row.baseline.unwrap_or(row.id);
    let baseline_row = load(db, baseline_id).await?;
    let baseline_run = runs::find(db, baseline_row.run).await?;
    let scenario = view(db, row).await?;
    let baseline = view(db, baseline_row).await?;
    let saving = baseline.result.as_ref().zip(scenario.result.as_ref()).map(|(b, s)| b.objective - s.objective);
    let estimate = match baseline_run {
        Some(run) => match plans::plan(db, &run).await? {
            Some(plan) => {
                let weeks = u32::try_from(run.horizon_weeks).unwrap_or(0);
                scenario::estimate(&plan, &scenario.changes, weeks)
            }
            None => None,
        },
        None => None,
    };
    Ok(Comparison { baseline, scenario, saving, estimate })
}

/// Builds the registry's instance, applies the changes to a copy and queues its solve,
/// with a baseline of the unchanged registry unless one of the same state is at hand.
pub async fn create<C: Db>(db: &C, caller: &Caller, cmd: NewScenario) -> AppResult<Scenario> {
    require(caller, Op::Scenarios)?;
    let mut e = Errors::default();
    let name = e.take("name", parse_name(&cmd.name));
    let time_limit = cmd.time_limit_seconds.unwrap_or(DEFAULT_TIME_LIMIT_SECONDS);
    e.check(
        "time_limit_seconds",
        time_limit.is_finite() && (1.0..=MAX_TIME_LIMIT_SECONDS).contains(&time_limit),
        Msg::Seconds(1, MAX_TIME_LIMIT_SECONDS as i64),
    );
    e.finish()?;
    let horizon = super::runs::default_horizon(db).await?;
    let options = PlanOptions { freeze_weeks: DEFAULT_FREEZE_WEEKS, move_lab: None, move_week: None };

    let mut work = Work::begin(db, caller).await?;
    let base = crate::db::instance::build(work.db(), horizon, options).await?;
    let changed = scenario::apply(&base, &cmd.changes)?;
    let base_hash = hash_of(&base);
    fn queue<'a>(
        instance: &'a solver::Instance,
        horizon: Horizon,
        seconds: f64,
        by: Option<&'a str>,
    ) -> runs::NewRun<'a> {
        runs::NewRun {
            horizon,
            time_limit_seconds: seconds,
            gap: super::runs::DEFAULT_GAP,
            created_by: by,
            instance,
            freeze_weeks: DEFAULT_FREEZE_WEEKS,
            deterministic: false,
            scenario: true,
            spread_parts: false,
        }
    }
    let baseline = if cmd.changes.is_empty() {
        None
    } else {
        match queries::reusable_baseline(work.db(), &base_hash, time_limit).await? {
            Some(existing) => Some(existing.id),
            None => {
                let run = runs::create(work.db(), queue(&base, horizon, time_limit, caller.actor())).await?;
                let new = queries::NewScenario {
                    name: &format!("{name} — baseline"),
                    created_by: caller.actor(),
                    changes: "[]".into(),
                    base_hash: &base_hash,
                    time_limit_seconds: time_limit,
                    run: run.id,
                    baseline: None,
                };
                let row = queries::insert(work.db(), new).await?;
                work.audit(
                    "create",
                    "scenario",
                    row.id.to_string(),
                    None,
                    Some(json!({"name": row.name, "changes": []})),
                );
                Some(row.id)
            }
        }
    };
    let run = runs::create(work.db(), queue(&changed, horizon, time_limit, caller.actor())).await?;
    let changes = serde_json::to_string(&cmd.changes)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("changes could not be written: {e}")))?;
    let new = queries::NewScenario {
        name: &name,
        created_by: caller.actor(),
        changes,
        base_hash: &base_hash,
        time_limit_seconds: time_limit,
        run: run.id,
        baseline,
    };
    let row = queries::insert(work.db(), new).await?;
    work.audit(
        "create",
        "scenario",
        row.id.to_string(),
        None,
        Some(json!({"name": row.name, "changes": cmd.changes, "baseline": baseline, "run": run.id})),
    );
    work.commit().await?;
    shape(row, run.status, None)
}
