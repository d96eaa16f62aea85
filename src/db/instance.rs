//! The registry as a planning instance (docs/planning-model.md) for one horizon.
//!
//! Dates become week indices of the horizon (see [`Horizon`]). Bookings a lab has
//! confirmed become `pinned`; a lab that declined a request is not offered it again.
//! The published plan's other bookings become `current` (a plan may move them, paying
//! the move weights), except those that start inside the freeze window: those are
//! pinned like confirmed ones, unless they no longer fit (then they are current and must
//! move). Confirmed work that started before the horizon, and any booking whose samples
//! the lab has received, is under way: history, not planned again, its hours held.

use std::collections::{BTreeMap, HashMap, HashSet};

use labplan_solver as solver;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::horizon::Horizon;
use crate::domain::status::{BookingStatus, RequestStatus};
use crate::entities::{
    accreditations, assignments, capacities, capacity_overrides, companies, equipment, labs, region_distances, regions,
    request_excluded_labs, test_requests, test_types,
};

/// What a run asks of the instance beyond the registry: the freeze window and, if given,
/// move weights other than the registry's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PlanOptions {
    /// Published bookings starting in the horizon's first this many weeks are kept as
    /// they are.
    pub freeze_weeks: u32,
    pub move_lab: Option<f64>,
    pub move_week: Option<f64>,
}

/// The freeze window when the registry sets none: two weeks, the time a lab needs to
/// prepare for a test (samples on their way, staff and equipment booked).
pub const DEFAULT_FREEZE_WEEKS: u32 = 2;

/// Weights when the registry holds none: those of the founding data set; the move
/// weights are docs/planning-model.md's registry defaults.
pub const DEFAULT_WEIGHTS: solver::Weights = solver::Weights {
    tardiness_per_week: 150_000.0,
    transport_per_km: 40.0,
    unassigned: 3_000_000.0,
    max_late_weeks: 8,
    move_lab: 1_500_000.0,
    move_week: 200_000.0,
};

fn weights(settings: &HashMap<String, String>) -> solver::Weights {
    let number = |key: &str, default: f64| settings.get(key).and_then(|v| v.parse::<f64>().ok()).unwrap_or(default);
    solver::Weights {
        tardiness_per_week: number("tardiness_per_week", DEFAULT_WEIGHTS.tardiness_per_week),
        transport_per_km: number("transport_per_km", DEFAULT_WEIGHTS.transport_per_km),
        unassigned: number("unassigned", DEFAULT_WEIGHTS.unassigned),
        max_late_weeks: settings
            .get("max_late_weeks")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_WEIGHTS.max_late_weeks),
        move_lab: number("move_lab", DEFAULT_WEIGHTS.move_lab),
        move_week: number("move_week", DEFAULT_WEIGHTS.move_week),
    }
}

/// Reads the registry into an instance for `horizon`.
pub async fn build<C: ConnectionTrait>(
    db: &C,
    horizon: Horizon,
    options: PlanOptions,
) -> Result<solver::Instance, DbErr> {
    let settings = super::settings::all(db).await?;
    let catalog = catalog(db).await?;
    let (labs, capacity_overrides) = labs(db, horizon).await?;
    let (requests, pinned, current, under_way) = requests(db, horizon, options.freeze_weeks).await?;
    let mut weights = weights(&settings);
    weights.move_lab = options.move_lab.unwrap_or(weights.move_lab);
    weights.move_week = options.move_week.unwrap_or(weights.move_week);
    let mut instance = solver::Instance {
        format: solver::INSTANCE_FORMAT.to_string(),
        name: Some(format!("registry {} + {} weeks", horizon.start, horizon.weeks)),
        horizon: solver::Horizon { start: horizon.start.format("%Y-%m-%d").to_string(), weeks: horizon.weeks },
        weights,
        regions: catalog.regions,
        distances: catalog.distances,
        equipment: catalog.equipment,
        test_types: catalog.test_types,
        labs,
        capacity_overrides,
        companies: catalog.companies,
        requests,
        pinned: pinned.iter().map(|p| p.booking.clone()).collect(),
        current,
    };
    hold_capacity_under_way(&mut instance, horizon, &under_way);
    unfreeze_what_no_longer_fits(&mut instance, &pinned);
    Ok(instance)
}

/// Confirmed work that started before the horizon and is still running.
struct UnderWay {
    lab: String,
    test_type: String,
    start: chrono::NaiveDate,
    end: chrono::NaiveDate,
}

/// Work under way is history, not planned again, but it still uses its equipment in the
/// horizon's first weeks: those hours come off the weeks' capacity (as overrides), so
/// the plan does not promise them twice. A test uses its hours evenly over the weeks it
/// was booked for, as the planning model has it.
fn hold_capacity_under_way(instance: &mut solver::Instance, horizon: Horizon, under_way: &[UnderWay]) {
    let mut used: BTreeMap<(String, String, u32), f64> = BTreeMap::new();
    for w in under_way {
        let Some(test_type) = instance.test_types.iter().find(|t| t.code == w.test_type) else { continue };
        let span = ((w.end - w.start).num_days() / 7 + 1).max(1);
        let per_week = test_type.hours / span as f64;
        let mut week_start = w.start;
        while week_start <= w.end {
            if let Some(week) = horizon.week_of(week_start) {
                *used.entry((w.lab.clone(), test_type.equipment.clone(), week)).or_default() += per_week;
            }
            week_start += chrono::TimeDelta::days(7);
        }
    }
    for ((lab, equipment, week), hours) in used {
        let existing =
            instance.capacity_overrides.iter_mut().find(|o| o.lab == lab && o.equipment == equipment && o.week == week);
        match existing {
            Some(o) => o.hours_per_week = (o.hours_per_week - hours).max(0.0),
            None => {
                let base = instance
                    .labs
                    .iter()
                    .find(|l| l.id == lab)
                    .and_then(|l| l.capacity.iter().find(|c| c.equipment == equipment))
                    .map(|c| c.hours_per_week);
                if let Some(base) = base {
                    let hours_per_week = (base - hours).max(0.0);
                    instance.capacity_overrides.push(solver::CapacityOverride { lab, equipment, week, hours_per_week });
                }
            }
        }
    }
}

/// A pinned booking and whether it is only frozen (a published booking the lab has not
/// confirmed), which may give way when it no longer fits.
struct Pin {
    booking: solver::Pinned,
    frozen: bool,
}

/// A frozen booking that breaks a rule now (its lab closed the week, its accreditation
/// lapsed) cannot be kept: it becomes current, so the plan moves it and says why, where
/// pinning it would fail the whole run. Confirmed bookings stay pinned: those the lab
/// has promised, and a run that cannot keep them must say so.
fn unfreeze_what_no_longer_fits(instance: &mut solver::Instance, pins: &[Pin]) {
    let Err(error) = instance.check() else { return };
    let frozen: HashSet<&str> = pins.iter().filter(|p| p.frozen).map(|p| p.booking.request.as_str()).collect();
    let mut unfrozen: HashSet<String> = HashSet::new();
    for problem in error.problems {
        match problem {
            solver::InstanceProblem::PinnedBreaksRule { request, .. } if frozen.contains(request.as_str()) => {
                unfrozen.insert(request);
            }
            solver::InstanceProblem::PinnedOverCapacity { requests, .. } => {
                unfrozen.extend(requests.into_iter().filter(|r| frozen.contains(r.as_str())));
            }
            _ => {}
        }
    }
    let (keep, moved): (Vec<_>, Vec<_>) =
        std::mem::take(&mut instance.pinned).into_iter().partition(|p| !unfrozen.contains(&p.request));
    instance.pinned = keep;
    instance.current.extend(moved.into_iter().map(|p| solver::Current {
        request: p.request,
        lab: p.lab,
        start_week: p.start_week,
    }));
}

struct CatalogPart {
    regions: Vec<solver::Region>,
    distances: Vec<solver::Distance>,
    equipment: Vec<solver::Equipment>,
    test_types: Vec<solver::TestType>,
    companies: Vec<solver::Company>,
}

async fn catalog<C: ConnectionTrait>(db: &C) -> Result<CatalogPart, DbErr> {
    let regions: Vec<solver::Region> = regions::Entity::find()
        .order_by_asc(regions::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(|r| solver::Region { code: r.code, name: r.name, name_en: r.name_en, lat: r.lat, lon: r.lon })
        .collect();
    let distances = region_distances::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|d| solver::Distance { from: d.from_region, to: d.to_region, km: f64::from(d.km) })
        .collect();
    let equipment = equipment::Entity::find()
        .order_by_asc(equipment::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(|e| solver::Equipment {
            code: e.code,
            name: e.name,
            name_en: e.name_en,
            max_hours_per_test_week: f64::from(e.max_hours_per_test_week),
        })
        .collect();
    let test_types = test_types::Entity::find()
        .order_by_asc(test_types::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(|t| solver::TestType {
            code: t.code,
            standard: t.standard,
            name: t.name,
            name_en: t.name_en,
            equipment: t.equipment,
            hours: f64::from(t.hours),
        })
        .collect();
    let companies = companies::Entity::find()
        .order_by_asc(companies::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|c| solver::Company { id: c.id, name: c.name, region: c.region })
        .collect();
    Ok(CatalogPart { regions, distances, equipment, test_types, companies })
}

/// Labs with the scope that covers the whole horizon and their capacity, and the
/// horizon's capacity overrides.
async fn labs<C: ConnectionTrait>(
    db: &C,
    horizon: Horizon,
) -> Result<(Vec<solver::Lab>, Vec<solver::CapacityOverride>), DbErr> {
    let horizon_end = horizon.end();
    // The model has no accreditation by week, so a scope entry counts only if it
    // covers the whole horizon: a plan must never place a test after the lab's
    // accreditation for it has lapsed.
    let mut accredited: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in accreditations::Entity::find()
        .filter(accreditations::Column::ValidFrom.lte(horizon.start))
        .order_by_asc(accreditations::Column::TestType)
        .all(db)
        .await?
    {
        if a.valid_to.is_none_or(|to| to >= horizon_end) {
            accredited.entry(a.lab).or_default().push(a.test_type);
        }
    }
    let mut capacity: BTreeMap<String, Vec<solver::Capacity>> = BTreeMap::new();
    for c in capacities::Entity::find().order_by_asc(capacities::Column::Equipment).all(db).await? {
        capacity.entry(c.lab).or_default().push(solver::Capacity {
            equipment: c.equipment,
            hours_per_week: f64::from(c.hours_per_week),
            // Prices are whole roubles; no price comes near 2^53.
            price_per_hour: c.price_per_hour as f64,
        });
    }
    let labs = labs::Entity::find()
        .order_by_asc(labs::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|l| solver::Lab {
            accredited: accredited.remove(&l.id).unwrap_or_default(),
            capacity: capacity.remove(&l.id).unwrap_or_default(),
            id: l.id,
            name: l.name,
            name_en: l.name_en,
            region: l.region,
        })
        .collect();
    let capacity_overrides = capacity_overrides::Entity::find()
        .filter(capacity_overrides::Column::WeekStart.between(horizon.start, horizon_end))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|o| {
            horizon.week_of_monday(o.week_start).map(|week| solver::CapacityOverride {
                lab: o.lab,
                equipment: o.equipment,
                week,
                hours_per_week: f64::from(o.hours_per_week),
            })
        })
        .collect();
    Ok((labs, capacity_overrides))
}

/// The plannable requests ready within the horizon, the bookings pinned and current, and
/// the confirmed work under way.
async fn requests<C: ConnectionTrait>(
    db: &C,
    horizon: Horizon,
    freeze_weeks: u32,
) -> Result<(Vec<solver::Request>, Vec<Pin>, Vec<solver::Current>, Vec<UnderWay>), DbErr> {
    let horizon_end = horizon.end();
    let rows = test_requests::Entity::find()
        .filter(test_requests::Column::Status.is_in(RequestStatus::PLANNABLE))
        .filter(test_requests::Column::ReadyDate.lte(horizon_end))
        .order_by_asc(test_requests::Column::Id)
        .all(db)
        .await?;
    let ids: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();

    let mut excluded: HashMap<String, Vec<String>> = HashMap::new();
    for e in request_excluded_labs::Entity::find().all(db).await? {
        if ids.contains(e.request.as_str()) {
            excluded.entry(e.request).or_default().push(e.lab);
        }
    }
    // A lab that declined a request is not offered it again.
    let mut pinned = Vec::new();
    let mut current = Vec::new();
    let mut in_progress = HashSet::new();
    let mut running = Vec::new();
    for a in assignments::Entity::find()
        .filter(assignments::Column::Status.is_in([
            BookingStatus::Declined,
            BookingStatus::Confirmed,
            BookingStatus::Proposed,
            BookingStatus::Withdrawn,
            BookingStatus::Received,
            BookingStatus::InTesting,
            BookingStatus::Completed,
        ]))
        .order_by_asc(assignments::Column::Id)
        .all(db)
        .await?
    {
        // Work running into the horizon holds its hours: confirmed work that started
        // before it, and any booking whose samples the lab has (received, in testing).
        let started_before = a.status == BookingStatus::Confirmed && a.start_date < horizon.start;
        let at_the_lab = matches!(a.status, BookingStatus::Received | BookingStatus::InTesting);
        if (started_before || at_the_lab) && a.end_date >= horizon.start {
            running.push((a.request.clone(), a.lab.clone(), a.start_date, a.end_date));
        }
        if !ids.contains(a.request.as_str()) {
            continue;
        }
        // Samples received, testing or tested: the work is the lab's now, never planned again.
        if BookingStatus::UNDER_WAY.contains(&a.status) {
            in_progress.insert(a.request);
            continue;
        }
        match (a.status, horizon.week_of_monday(a.start_date)) {
            // A lab that declined or withdrew a request is not offered it again.
            (BookingStatus::Declined | BookingStatus::Withdrawn, _) => {
                let labs = excluded.entry(a.request).or_default();
                if !labs.contains(&a.lab) {
                    labs.push(a.lab);
                }
            }
            (BookingStatus::Confirmed, Some(start_week)) => pinned
                .push(Pin { booking: solver::Pinned { request: a.request, lab: a.lab, start_week }, frozen: false }),
            // Confirmed work that started before this horizon is under way, not planned.
            (BookingStatus::Confirmed, None) => {
                in_progress.insert(a.request);
            }
            (_, Some(start_week)) if start_week < freeze_weeks => pinned
                .push(Pin { booking: solver::Pinned { request: a.request, lab: a.lab, start_week }, frozen: true }),
            (_, Some(start_week)) => current.push(solver::Current { request: a.request, lab: a.lab, start_week }),
            // A proposed booking outside the horizon is no promise to keep here.
            (_, None) => {}
        }
    }

    let mut requests = Vec::with_capacity(rows.len());
    for r in rows {
        if in_progress.contains(&r.id) {
            continue;
        }
        let mut excluded_labs = excluded.remove(&r.id).unwrap_or_default();
        excluded_labs.sort();
        requests.push(solver::Request {
            company: r.company,
            test_type: r.test_type,
            samples: u32::try_from(r.samples).unwrap_or(1),
            release_week: horizon.release_week(r.ready_date),
            due_week: horizon.due_week(r.due_date),
            priority: u32::try_from(r.priority).unwrap_or(1),
            excluded_labs,
            id: r.id,
        });
    }

    let mut test_type: HashMap<String, String> = HashMap::new();
    // In slices: a statement takes a bounded number of parameters.
    for slice in running.chunks(1000) {
        let found = test_requests::Entity::find()
            .filter(test_requests::Column::Id.is_in(slice.iter().map(|(request, ..)| request.clone())))
            .all(db)
            .await?;
        test_type.extend(found.into_iter().map(|r| (r.id, r.test_type)));
    }
    let under_way = running
        .into_iter()
        .filter_map(|(request, lab, start, end)| {
            Some(UnderWay { lab, test_type: test_type.get(&request)?.clone(), start, end })
        })
        .collect();
    Ok((requests, pinned, current, under_way))
}
