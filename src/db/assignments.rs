//! The published plan: publishing a run's plan onto the requests, and the labs'
//! answers to the bookings it gives them.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};
use serde_json::json;

use super::audit::{self, AuditEntry};
use super::runs::{self, RunStatus};
use crate::auth::Caller;
use crate::domain::request::RequestStatus;
use crate::entities::{assignments, plan_assignments, plan_unassigned, planning_runs, test_requests};
use crate::planning::instance::Horizon;

#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub fn horizon_of(run: &planning_runs::Model) -> Horizon {
    Horizon { start: run.horizon_start, weeks: u32::try_from(run.horizon_weeks).unwrap_or(0) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct PublishReport {
    pub planned: usize,
    /// Bookings the labs had already confirmed, kept as they were
    pub kept_confirmed: usize,
    pub unplaceable: usize,
    /// Planned requests this plan does not cover any more (e.g. ready after its horizon), back to `submitted`
    pub returned_to_pool: usize,
    /// Requests cancelled since the run was started, left as they are
    pub skipped: usize,
}

/// Makes the run's plan the published one, atomically: bookings for the labs, and the
/// requests `planned` (or still `confirmed`) with lab and dates, or `unplaceable` with
/// the reason.
pub async fn publish<C: TransactionTrait>(
    db: &C,
    run_id: i64,
    actor: Option<&str>,
) -> Result<PublishReport, AnswerError> {
    let txn = db.begin().await?;
    let run = runs::find(&txn, run_id).await?.ok_or_else(|| AnswerError::NotFound(format!("planning run {run_id}")))?;
    let status = RunStatus::parse(&run.status).unwrap_or(RunStatus::Failed);
    if run.objective.is_none() || !matches!(status, RunStatus::Succeeded | RunStatus::Cancelled) {
        return Err(AnswerError::Conflict(format!(
            "planning run {run_id} is {} and has no plan to publish",
            run.status
        )));
    }
    let current = runs::published(&txn).await?;
    if let Some(current) = &current {
        if current.id == run_id {
            return Err(AnswerError::Conflict(format!("planning run {run_id} is already the published plan")));
        }
        // Confirmations and declines given since would be undone by an older plan.
        if current.published_at.is_some_and(|at| at > run.created_at) {
            return Err(AnswerError::Conflict(format!(
                "planning run {} was published after run {run_id} was started; start a new run",
                current.id
            )));
        }
    }
    let horizon = horizon_of(&run);
    let now = chrono::Utc::now();

    // Bookings of the plan being replaced: confirmed ones carry over if the new plan keeps them.
    let mut confirmed: HashMap<String, assignments::Model> = HashMap::new();
    if let Some(current) = &current {
        for a in assignments::Entity::find()
            .filter(assignments::Column::Run.eq(current.id))
            .filter(assignments::Column::Status.eq("confirmed"))
            .all(&txn)
            .await?
        {
            confirmed.insert(a.request.clone(), a);
        }
        assignments::Entity::update_many()
            .col_expr(assignments::Column::Status, Expr::value("superseded"))
            .filter(assignments::Column::Run.eq(current.id))
            .filter(assignments::Column::Status.is_in(["proposed", "confirmed"]))
            .exec(&txn)
            .await?;
    }

    let placed = plan_assignments::Entity::find()
        .filter(plan_assignments::Column::Run.eq(run_id))
        .order_by_asc(plan_assignments::Column::Request)
        .all(&txn)
        .await?;
    let unplaced = plan_unassigned::Entity::find()
        .filter(plan_unassigned::Column::Run.eq(run_id))
        .order_by_asc(plan_unassigned::Column::Request)
        .all(&txn)
        .await?;
    let mut requests: HashMap<String, test_requests::Model> = HashMap::new();
    let ids: Vec<&str> =
        placed.iter().map(|a| a.request.as_str()).chain(unplaced.iter().map(|u| u.request.as_str())).collect();
    for chunk in ids.chunks(500) {
        for r in test_requests::Entity::find().filter(test_requests::Column::Id.is_in(chunk.to_vec())).all(&txn).await?
        {
            requests.insert(r.id.clone(), r);
        }
    }
    let plannable = |r: &test_requests::Model| {
        RequestStatus::parse(&r.status).is_ok_and(|s| crate::planning::instance::PLANNABLE.contains(&s))
    };

    let mut report = PublishReport::default();
    let mut audit_rows = Vec::new();
    let mut new_bookings = Vec::with_capacity(placed.len());
    for a in &placed {
        let Some(request) = requests.get(&a.request).filter(|r| plannable(r)) else {
            report.skipped += 1;
            continue;
        };
        let start = horizon.week_start(u32::try_from(a.start_week).unwrap_or(0));
        let end = horizon.week_end(u32::try_from(a.end_week).unwrap_or(0));
        let kept = confirmed.get(&a.request).filter(|c| c.lab == a.lab && c.start_date == start);
        let status = if kept.is_some() { RequestStatus::Confirmed } else { RequestStatus::Planned };
        if kept.is_some() {
            report.kept_confirmed += 1;
        } else {
            report.planned += 1;
        }
        new_bookings.push(assignments::ActiveModel {
            run: Set(run_id),
            request: Set(a.request.clone()),
            lab: Set(a.lab.clone()),
            start_date: Set(start),
            end_date: Set(end),
            cost: Set(a.cost),
            status: Set(if kept.is_some() { "confirmed" } else { "proposed" }.to_string()),
            decline_reason: Set(None),
            answered_at: Set(kept.and_then(|k| k.answered_at)),
            answered_by: Set(kept.and_then(|k| k.answered_by.clone())),
            created_at: Set(now),
            ..Default::default()
        });
        set_request(&txn, request, status, None, Some((&a.lab, start, end)), now).await?;
        audit_rows.push(request_audit(request, status, json!({"lab": a.lab, "start": start, "end": end})));
    }
    for u in &unplaced {
        let Some(request) = requests.get(&u.request).filter(|r| plannable(r)) else {
            report.skipped += 1;
            continue;
        };
        report.unplaceable += 1;
        let reason = format!("{}: {}", u.reason, u.detail);
        set_request(&txn, request, RequestStatus::Unplaceable, Some(reason.clone()), None, now).await?;
        audit_rows.push(request_audit(request, RequestStatus::Unplaceable, json!({"reason": reason})));
    }
    for chunk in new_bookings.chunks(500) {
        assignments::Entity::insert_many(chunk.to_vec()).exec(&txn).await?;
    }

    // Requests still marked planned by the old plan that this one does not cover go back to the pool.
    let covered: std::collections::HashSet<&str> = ids.iter().copied().collect();
    let stale: Vec<test_requests::Model> = test_requests::Entity::find()
        .filter(test_requests::Column::Status.eq(RequestStatus::Planned.as_str()))
        .all(&txn)
        .await?
        .into_iter()
        .filter(|r| !covered.contains(r.id.as_str()))
        .collect();
    for request in &stale {
        report.returned_to_pool += 1;
        set_request(&txn, request, RequestStatus::Submitted, None, None, now).await?;
        audit_rows.push(request_audit(request, RequestStatus::Submitted, json!({})));
    }

    planning_runs::Entity::update_many()
        .col_expr(planning_runs::Column::PublishedAt, Expr::value(now))
        .filter(planning_runs::Column::Id.eq(run_id))
        .exec(&txn)
        .await?;
    let audit_rows = audit_rows.into_iter().map(|(id, before, after)| (id, Some(before), Some(after))).collect();
    audit::record_many(&txn, actor, "plan", "test_request", audit_rows).await?;
    audit::record(
        &txn,
        AuditEntry { actor, action: "publish", entity: "planning_run", entity_id: &run_id.to_string() },
        current.map(|c| json!({"published_run": c.id, "objective": c.objective})),
        Some(json!({"published_run": run_id, "objective": run.objective, "report": report})),
    )
    .await?;
    txn.commit().await?;
    Ok(report)
}

fn request_audit(
    request: &test_requests::Model,
    status: RequestStatus,
    detail: serde_json::Value,
) -> (String, serde_json::Value, serde_json::Value) {
    let before = json!({
        "status": request.status,
        "planned_lab": request.planned_lab,
        "planned_start": request.planned_start,
        "planned_end": request.planned_end,
        "version": request.version,
    });
    let mut after = json!({"status": status.as_str(), "version": request.version + 1});
    if let (Some(after), Some(detail)) = (after.as_object_mut(), detail.as_object()) {
        after.extend(detail.clone());
    }
    (request.id.clone(), before, after)
}

async fn set_request<C: ConnectionTrait>(
    db: &C,
    request: &test_requests::Model,
    status: RequestStatus,
    reason: Option<String>,
    placement: Option<(&str, NaiveDate, NaiveDate)>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    test_requests::Entity::update_many()
        .col_expr(test_requests::Column::Status, Expr::value(status.as_str()))
        .col_expr(test_requests::Column::StatusReason, Expr::value(reason))
        .col_expr(test_requests::Column::PlannedLab, Expr::value(placement.map(|p| p.0.to_string())))
        .col_expr(test_requests::Column::PlannedStart, Expr::value(placement.map(|p| p.1)))
        .col_expr(test_requests::Column::PlannedEnd, Expr::value(placement.map(|p| p.2)))
        .col_expr(test_requests::Column::Version, Expr::col(test_requests::Column::Version).add(1))
        .col_expr(test_requests::Column::UpdatedAt, Expr::value(now))
        .filter(test_requests::Column::Id.eq(request.id.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// A lab's answer to a booking of the published plan.
pub enum Answer<'a> {
    Confirm,
    Decline { reason: &'a str },
}

/// Bookings a caller may see: a lab its own, a company its requests' ones, oversight all.
pub fn visible_to(caller: &Caller) -> Condition {
    let mut cond = Condition::all();
    if let Some(lab) = caller.own_lab() {
        cond = cond.add(assignments::Column::Lab.eq(lab));
    }
    if let Some(company) = caller.own_company() {
        cond = cond.add(
            assignments::Column::Request.in_subquery(
                Query::select()
                    .column(test_requests::Column::Id)
                    .from(test_requests::Entity)
                    .and_where(test_requests::Column::Company.eq(company))
                    .to_owned(),
            ),
        );
    }
    cond
}

/// A lab answers its own bookings only; another lab's booking is not found.
pub async fn answer<C: TransactionTrait>(
    db: &C,
    caller: &Caller,
    id: i64,
    answer: Answer<'_>,
) -> Result<assignments::Model, AnswerError> {
    let actor = caller.actor();
    let txn = db.begin().await?;
    let booking = assignments::Entity::find_by_id(id)
        .filter(visible_to(caller))
        .one(&txn)
        .await?
        .ok_or_else(|| AnswerError::NotFound(format!("assignment {id}")))?;
    if booking.status != "proposed" {
        return Err(AnswerError::Conflict(format!("assignment {id} is {} and cannot be answered", booking.status)));
    }
    let request = test_requests::Entity::find_by_id(booking.request.as_str())
        .one(&txn)
        .await?
        .ok_or_else(|| AnswerError::NotFound(format!("request {}", booking.request)))?;
    if request.status != RequestStatus::Planned.as_str() {
        return Err(AnswerError::Conflict(format!(
            "request {} is {} and its booking cannot be answered",
            request.id, request.status
        )));
    }
    let now = chrono::Utc::now();
    let mut active: assignments::ActiveModel = booking.clone().into();
    active.answered_at = Set(Some(now));
    active.answered_by = Set(actor.map(str::to_string));
    let (action, request_status, reason) = match answer {
        Answer::Confirm => {
            active.status = Set("confirmed".to_string());
            ("confirm", RequestStatus::Confirmed, None)
        }
        Answer::Decline { reason } => {
            active.status = Set("declined".to_string());
            active.decline_reason = Set(Some(reason.to_string()));
            ("decline", RequestStatus::Submitted, Some(format!("declined by {}: {reason}", booking.lab)))
        }
    };
    let updated = active.update(&txn).await?;
    let placement = matches!(request_status, RequestStatus::Confirmed).then_some((
        booking.lab.as_str(),
        booking.start_date,
        booking.end_date,
    ));
    set_request(&txn, &request, request_status, reason, placement, now).await?;
    audit::record(
        &txn,
        AuditEntry { actor, action, entity: "assignment", entity_id: &id.to_string() },
        audit::snapshot(&booking),
        audit::snapshot(&updated),
    )
    .await?;
    let (rid, before, after) = request_audit(&request, request_status, json!({}));
    audit::record(
        &txn,
        AuditEntry { actor, action, entity: "test_request", entity_id: &rid },
        Some(before),
        Some(after),
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}
