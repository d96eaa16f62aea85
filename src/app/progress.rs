//! Progress of the demand (filings counted by the database, see `db::tallies`; only the
//! bookings that hold requests are read row by row): requests by status now, and by month of what happened to
//! them (filed, testing completed), with the bookings that are late: their planned end
//! has passed and the test is not completed. Filterable by the company's region, the
//! equipment class, the test type and a period of filing dates.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::life::{is_late, today};
use super::policy::Op;
use super::{AppError, AppResult, require};
use crate::db::catalog::Catalog;
use crate::db::{bookings, requests, tallies};
use crate::domain::access::Caller;
use crate::domain::status::{BookingStatus, RequestStatus};
use crate::domain::{FieldError, Msg};

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProgressQuery {
    /// Region of the requesting company
    pub region: Option<String>,
    /// Equipment class of the test type
    pub equipment: Option<String>,
    pub test_type: Option<String>,
    /// Requests filed on or after this date
    pub from: Option<NaiveDate>,
    /// Requests filed on or before this date
    pub to: Option<NaiveDate>,
    /// json (default), csv or xlsx
    pub format: Option<String>,
}

/// Requests by what has happened to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Counts {
    /// All requests filed
    pub filed: u64,
    pub submitted: u64,
    pub planned: u64,
    pub confirmed: u64,
    pub in_testing: u64,
    pub completed: u64,
    pub cancelled: u64,
    pub unplaceable: u64,
    /// Requests whose booking's planned end has passed without completion
    pub late: u64,
}

/// One month: requests filed in it, tests completed in it, and, of the bookings planned
/// to end in it, those late now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Month {
    /// YYYY-MM
    pub month: String,
    pub filed: u64,
    pub completed: u64,
    /// Completed in the company's own region
    pub completed_at_home: u64,
    pub late: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    /// The day the figures are of (lateness is counted against it)
    pub as_of: NaiveDate,
    pub totals: Counts,
    pub months: Vec<Month>,
}

fn month_of(date: NaiveDate) -> String {
    date.format("%Y-%m").to_string()
}

/// Unknown filter codes, or a period that ends before it starts, are a 422 naming the
/// filter.
pub fn check_filters(
    catalog: &Catalog,
    region: &Option<String>,
    equipment: &Option<String>,
    test_type: &Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> AppResult<()> {
    let mut errors = Vec::new();
    if region.as_ref().is_some_and(|r| !catalog.regions.contains_key(r)) {
        errors.push(FieldError::new("region", Msg::Invalid("no such region".into())));
    }
    if equipment.as_ref().is_some_and(|e| !catalog.equipment.contains_key(e)) {
        errors.push(FieldError::new("equipment", Msg::Invalid("no such equipment class".into())));
    }
    if test_type.as_ref().is_some_and(|t| !catalog.test_types.contains_key(t)) {
        errors.push(FieldError::new("test_type", Msg::Invalid("no such test type".into())));
    }
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        errors.push(FieldError::new("to", Msg::DateRange));
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// The figures; unknown filter codes are a 422 naming the filter.
pub async fn progress<C: ConnectionTrait>(db: &C, caller: &Caller, q: &ProgressQuery) -> AppResult<Progress> {
    require(caller, Op::ReadDashboard)?;
    let catalog = Catalog::load(db).await?;
    check_filters(&catalog, &q.region, &q.equipment, &q.test_type, q.from, q.to)?;
    let region_of = |company: &str| catalog.companies.get(company).map(|c| c.region.as_str());
    let wanted = |test_type: &str, region: Option<&str>| {
        q.test_type.as_ref().is_none_or(|t| t == test_type)
            && q.equipment.as_ref().is_none_or(|e| catalog.test_types.get(test_type).is_some_and(|t| &t.equipment == e))
            && q.region.as_ref().is_none_or(|g| region == Some(g.as_str()))
    };
    // Filings are counted by the database as requests change: no view reads them all.
    let filings = tallies::filings(db, q.from, q.to).await?;
    // The booking that holds each request now (live or under way), with its request.
    let holding: Vec<BookingStatus> = BookingStatus::LIVE.into_iter().chain(BookingStatus::UNDER_WAY).collect();
    let bookings = bookings::in_states(db, &holding).await?;
    let ids: Vec<String> = bookings.iter().map(|b| b.request.clone()).collect();
    let requests = requests::find_many(db, &ids).await?;

    let today = today();
    let mut totals = Counts::default();
    let mut months: BTreeMap<String, Month> = BTreeMap::new();
    fn month(months: &mut BTreeMap<String, Month>, date: NaiveDate) -> &mut Month {
        let key = month_of(date);
        months.entry(key.clone()).or_insert_with(|| Month { month: key, ..Default::default() })
    }
    for f in filings.iter().filter(|f| wanted(&f.test_type, Some(&f.region))) {
        let n = u64::try_from(f.n).unwrap_or(0);
        totals.filed += n;
        month(&mut months, f.filed_on).filed += n;
        let count = match RequestStatus::parse(&f.status) {
            Some(RequestStatus::Submitted) => &mut totals.submitted,
            Some(RequestStatus::Planned) => &mut totals.planned,
            Some(RequestStatus::Confirmed) => &mut totals.confirmed,
            Some(RequestStatus::InTesting) => &mut totals.in_testing,
            Some(RequestStatus::Completed) => &mut totals.completed,
            Some(RequestStatus::Cancelled) => &mut totals.cancelled,
            Some(RequestStatus::Unplaceable) => &mut totals.unplaceable,
            None => {
                return Err(AppError::Unexpected(anyhow::anyhow!(
                    "unknown request status {:?} in the tallies",
                    f.status
                )));
            }
        };
        *count += n;
    }
    for booking in &bookings {
        let Some(r) = requests.get(&booking.request) else { continue };
        let filed = r.created_at.date_naive();
        if !wanted(&r.test_type, region_of(&r.company))
            || q.from.is_some_and(|from| filed < from)
            || q.to.is_some_and(|to| filed > to)
        {
            continue;
        }
        if let Some(done) = booking.completed_on.filter(|_| booking.status == BookingStatus::Completed) {
            let at_home = catalog.labs.get(&booking.lab).map(|l| l.region.as_str()) == region_of(&r.company);
            let m = month(&mut months, done);
            m.completed += 1;
            if at_home {
                m.completed_at_home += 1;
            }
        }
        if is_late(booking.status, booking.end_date, today) {
            totals.late += 1;
            month(&mut months, booking.end_date).late += 1;
        }
    }
    Ok(Progress { as_of: today, totals, months: months.into_values().collect() })
}

impl Progress {
    /// The months as CSV rows under [`Progress::CSV_HEADER`], then one row of totals.
    pub const CSV_HEADER: [&'static str; 5] = ["month", "filed", "completed", "completed_at_home", "late"];

    pub fn csv_rows(&self) -> Vec<Vec<String>> {
        self.months
            .iter()
            .map(|m| {
                vec![
                    m.month.clone(),
                    m.filed.to_string(),
                    m.completed.to_string(),
                    m.completed_at_home.to_string(),
                    m.late.to_string(),
                ]
            })
            .collect()
    }
}
