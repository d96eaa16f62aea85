//! What-if scenarios and the runs that solve them.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};

use super::fetch_page;
use crate::domain::paging::PageRequest;
use crate::entities::{planning_runs, scenarios};

pub struct NewScenario<'a> {
    pub name: &'a str,
    pub created_by: Option<&'a str>,
    pub changes: String,
    pub base_hash: &'a str,
    pub time_limit_seconds: f64,
    pub run: i64,
    pub baseline: Option<i64>,
}

pub async fn insert<C: ConnectionTrait>(db: &C, new: NewScenario<'_>) -> Result<scenarios::Model, DbErr> {
    scenarios::ActiveModel {
        name: Set(new.name.to_string()),
        created_by: Set(new.created_by.map(str::to_string)),
        created_at: Set(chrono::Utc::now()),
        changes: Set(new.changes),
        base_hash: Set(new.base_hash.to_string()),
        time_limit_seconds: Set(new.time_limit_seconds),
        run: Set(new.run),
        baseline: Set(new.baseline),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<scenarios::Model>, DbErr> {
    scenarios::Entity::find_by_id(id).one(db).await
}

/// Scenarios, the newest first.
pub async fn list<C: ConnectionTrait>(db: &C, page: PageRequest) -> Result<(Vec<scenarios::Model>, u64), DbErr> {
    fetch_page(db, scenarios::Entity::find().order_by_desc(scenarios::Column::Id), page).await
}

/// A baseline (no changes) of the same registry state and time limit whose run has not
/// failed, to compare against instead of solving the registry again.
pub async fn reusable_baseline<C: ConnectionTrait>(
    db: &C,
    base_hash: &str,
    time_limit_seconds: f64,
) -> Result<Option<scenarios::Model>, DbErr> {
    let candidates = scenarios::Entity::find()
        .filter(scenarios::Column::BaseHash.eq(base_hash))
        .filter(scenarios::Column::Changes.eq("[]"))
        .filter(scenarios::Column::TimeLimitSeconds.eq(time_limit_seconds))
        .order_by_desc(scenarios::Column::Id)
        .all(db)
        .await?;
    for candidate in candidates {
        let run = planning_runs::Entity::find_by_id(candidate.run).one(db).await?;
        if run.is_some_and(|r| r.status != crate::domain::status::RunStatus::Failed) {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}
