//! The plans of planning runs: their bookings, unplaced requests and bottlenecks.

use chrono::NaiveDate;
use labplan_solver as solver;
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use crate::domain::status::{PlanStatus, Reason, RequestStatus};
use crate::entities::{plan_assignments, plan_bottlenecks, plan_moves, plan_unassigned, planning_runs, test_requests};

fn week(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Stores a run's plan; called inside the transaction that ends the run.
pub async fn store<C: ConnectionTrait>(db: &C, run: i64, plan: solver::Plan) -> Result<(), DbErr> {
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
    for chunk in assignments.chunks(super::BATCH) {
        plan_assignments::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    let unassigned: Vec<_> = plan
        .unassigned
        .into_iter()
        .map(|u| plan_unassigned::ActiveModel {
            run: Set(run),
            request: Set(u.request),
            reason: Set(Reason::from(u.reason)),
            detail: Set(u.detail),
        })
        .collect();
    for chunk in unassigned.chunks(super::BATCH) {
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
    for chunk in bottlenecks.chunks(super::BATCH) {
        plan_bottlenecks::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    let moves: Vec<_> = plan
        .moves
        .into_iter()
        .map(|m| plan_moves::ActiveModel {
            run: Set(run),
            request: Set(m.request),
            from_lab: Set(m.from.lab),
            from_week: Set(week(m.from.start_week)),
            to_lab: Set(m.to.as_ref().map(|t| t.lab.clone())),
            to_week: Set(m.to.as_ref().map(|t| week(t.start_week))),
            penalty: Set(m.penalty),
            saving: Set(m.saving),
            forced: Set(m.forced),
        })
        .collect();
    for chunk in moves.chunks(super::BATCH) {
        plan_moves::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    Ok(())
}

/// The published bookings a run's plan moves or drops, by request.
pub async fn moves<C: ConnectionTrait>(db: &C, run: i64) -> Result<Vec<plan_moves::Model>, DbErr> {
    plan_moves::Entity::find()
        .filter(plan_moves::Column::Run.eq(run))
        .order_by_asc(plan_moves::Column::Request)
        .all(db)
        .await
}

/// A run's bookings, by request.
pub async fn assignments<C: ConnectionTrait>(db: &C, run: i64) -> Result<Vec<plan_assignments::Model>, DbErr> {
    plan_assignments::Entity::find()
        .filter(plan_assignments::Column::Run.eq(run))
        .order_by_asc(plan_assignments::Column::Request)
        .all(db)
        .await
}

/// A run's unplaced requests, by request.
pub async fn unassigned<C: ConnectionTrait>(db: &C, run: i64) -> Result<Vec<plan_unassigned::Model>, DbErr> {
    plan_unassigned::Entity::find()
        .filter(plan_unassigned::Column::Run.eq(run))
        .order_by_asc(plan_unassigned::Column::Request)
        .all(db)
        .await
}

/// A run's saturated capacities, the dearest first.
pub async fn bottlenecks<C: ConnectionTrait>(db: &C, run: i64) -> Result<Vec<plan_bottlenecks::Model>, DbErr> {
    plan_bottlenecks::Entity::find()
        .filter(plan_bottlenecks::Column::Run.eq(run))
        .order_by_desc(plan_bottlenecks::Column::ShadowPrice)
        .order_by_asc(plan_bottlenecks::Column::Lab)
        .order_by_asc(plan_bottlenecks::Column::Equipment)
        .order_by_asc(plan_bottlenecks::Column::Week)
        .all(db)
        .await
}

/// How many requests a run's plan places and leaves out.
pub async fn counts<C: ConnectionTrait>(db: &C, run: i64) -> Result<(u64, u64), DbErr> {
    let placed = plan_assignments::Entity::find().filter(plan_assignments::Column::Run.eq(run)).count(db).await?;
    let unplaced = plan_unassigned::Entity::find().filter(plan_unassigned::Column::Run.eq(run)).count(db).await?;
    Ok((placed, unplaced))
}

/// A stored move in the planning model's terms.
pub fn to_move(m: plan_moves::Model) -> solver::Move {
    let week = |v: i32| u32::try_from(v).unwrap_or(0);
    solver::Move {
        request: m.request,
        from: solver::Slot { lab: m.from_lab, start_week: week(m.from_week) },
        to: m.to_lab.zip(m.to_week).map(|(lab, w)| solver::Slot { lab, start_week: week(w) }),
        penalty: m.penalty,
        saving: m.saving,
        forced: m.forced,
    }
}

/// The stored plan of a run, in the format of the planning model; None if the run has none.
pub async fn plan<C: ConnectionTrait>(db: &C, run: &planning_runs::Model) -> Result<Option<solver::Plan>, DbErr> {
    let (Some(objective), Some(bound), Some(gap)) = (run.objective, run.bound, run.gap) else {
        return Ok(None);
    };
    if run.scenario {
        return run
            .scenario_plan
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| DbErr::Custom(format!("run {}: stored plan unreadable: {e}", run.id)));
    }
    let week = |v: i32| u32::try_from(v).unwrap_or(0);
    let assignments = assignments(db, run.id)
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
    let unassigned = unassigned(db, run.id)
        .await?
        .into_iter()
        .map(|u| solver::Unassigned { request: u.request, reason: u.reason.into(), detail: u.detail })
        .collect();
    let bottlenecks = bottlenecks(db, run.id)
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
        status: if run.plan_status == Some(PlanStatus::Optimal) {
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
        moved: run.moved.and_then(|m| usize::try_from(m).ok()),
        moves: moves(db, run.id).await?.into_iter().map(to_move).collect(),
        deterministic: run.plan_deterministic,
    }))
}

/// The requests a run's plan places or leaves out that are in `statuses` and ready by
/// `ready_by`: the rows a view of the plan needs, however large the registry.
pub async fn requests_of<C: ConnectionTrait>(
    db: &C,
    run: i64,
    statuses: &[RequestStatus],
    ready_by: NaiveDate,
) -> Result<Vec<test_requests::Model>, DbErr> {
    let placed = Query::select()
        .column(plan_assignments::Column::Request)
        .from(plan_assignments::Entity)
        .and_where(plan_assignments::Column::Run.eq(run))
        .to_owned();
    let left_out = Query::select()
        .column(plan_unassigned::Column::Request)
        .from(plan_unassigned::Entity)
        .and_where(plan_unassigned::Column::Run.eq(run))
        .to_owned();
    test_requests::Entity::find()
        .filter(
            Condition::any()
                .add(test_requests::Column::Id.in_subquery(placed))
                .add(test_requests::Column::Id.in_subquery(left_out)),
        )
        .filter(test_requests::Column::Status.is_in(statuses.iter().copied()))
        .filter(test_requests::Column::ReadyDate.lte(ready_by))
        .all(db)
        .await
}
