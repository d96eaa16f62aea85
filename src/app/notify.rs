//! Which notices each change writes, and to whom; called by the operations inside
//! their transactions. (A run's end is told to the planners by `db::runs::finish`, in
//! the transaction that stores the plan.)

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::ConnectionTrait;

use super::AppResult;
use crate::db::notices::{Audience, notify};
use crate::entities::{assignments, test_requests};

/// A lab's answer or a step at the lab: the requesting company's users are told.
pub async fn booking_step<C: ConnectionTrait>(
    db: &C,
    kind: &str,
    booking: &assignments::Model,
    company: &str,
) -> AppResult<()> {
    let detail = format!("{} · {} · {} — {}", booking.request, booking.lab, booking.start_date, booking.end_date);
    notify(db, Audience::Company(company), kind, "assignment", &booking.id.to_string(), Some(detail)).await?;
    Ok(())
}

/// What a published plan changes, gathered while it is laid down: each lab is told how
/// many new bookings it has, each company how many of its requests moved to another lab
/// or week. One notice per lab or company and publication, not one per booking.
#[derive(Debug, Default)]
pub struct PlanNotices {
    assigned: BTreeMap<String, usize>,
    moved: BTreeMap<String, usize>,
}

impl PlanNotices {
    pub fn placed(&mut self, request: &test_requests::Model, lab: &str, start: NaiveDate, kept: bool) {
        if !kept {
            *self.assigned.entry(lab.to_string()).or_default() += 1;
        }
        let was = request.planned_lab.as_deref().zip(request.planned_start);
        if was.is_some_and(|(l, s)| l != lab || s != start) {
            *self.moved.entry(request.company.clone()).or_default() += 1;
        }
    }

    pub async fn write<C: ConnectionTrait>(self, db: &C, run: i64) -> AppResult<()> {
        let id = run.to_string();
        for (lab, n) in &self.assigned {
            notify(db, Audience::Lab(lab), "assigned", "planning_run", &id, Some(n.to_string())).await?;
        }
        for (company, n) in &self.moved {
            notify(db, Audience::Company(company), "moved", "planning_run", &id, Some(n.to_string())).await?;
        }
        Ok(())
    }
}
