//! The registry as a planning instance (docs/planning-model.md) for one horizon.
//!
//! Dates become week indices of the horizon (see [`Horizon`]). Bookings a lab has
//! confirmed become `pinned`; a lab that declined a request is not offered it again.
//! A request whose booking is under way (samples received, in testing, completed) is
//! left out: it is never planned again.

use std::collections::{BTreeMap, HashMap, HashSet};

use labplan_solver as solver;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::horizon::Horizon;
use crate::domain::status::{BookingStatus, RequestStatus};
use crate::entities::{
    accreditations, assignments, capacities, capacity_overrides, companies, equipment, labs, region_distances, regions,
    request_excluded_labs, test_requests, test_types,
};

/// Weights when the registry holds none: those of the founding data set.
const DEFAULT_WEIGHTS: solver::Weights = solver::Weights {
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
pub async fn build<C: ConnectionTrait>(db: &C, horizon: Horizon) -> Result<solver::Instance, DbErr> {
    let settings = super::settings::all(db).await?;
    let catalog = catalog(db).await?;
    let (labs, capacity_overrides) = labs(db, horizon).await?;
    let (requests, pinned) = requests(db, horizon).await?;
    Ok(solver::Instance {
        format: solver::INSTANCE_FORMAT.to_string(),
        name: Some(format!("registry {} + {} weeks", horizon.start, horizon.weeks)),
        horizon: solver::Horizon { start: horizon.start.format("%Y-%m-%d").to_string(), weeks: horizon.weeks },
        weights: weights(&settings),
        regions: catalog.regions,
        distances: catalog.distances,
        equipment: catalog.equipment,
        test_types: catalog.test_types,
        labs,
        capacity_overrides,
        companies: catalog.companies,
        requests,
        pinned,
        current: Vec::new(),
    })
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

/// The plannable requests ready within the horizon, and the confirmed bookings pinned.
async fn requests<C: ConnectionTrait>(
    db: &C,
    horizon: Horizon,
) -> Result<(Vec<solver::Request>, Vec<solver::Pinned>), DbErr> {
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
    let mut in_progress = HashSet::new();
    for a in assignments::Entity::find()
        .filter(assignments::Column::Status.is_in([
            BookingStatus::Declined,
            BookingStatus::Confirmed,
            BookingStatus::Withdrawn,
            BookingStatus::Received,
            BookingStatus::InTesting,
            BookingStatus::Completed,
        ]))
        .order_by_asc(assignments::Column::Id)
        .all(db)
        .await?
    {
        if !ids.contains(a.request.as_str()) {
            continue;
        }
        // Samples received, testing or tested: the work is the lab's now, never planned again.
        if BookingStatus::UNDER_WAY.contains(&a.status) {
            in_progress.insert(a.request);
            continue;
        }
        // A lab that withdrew a booking is not offered the request again either.
        if matches!(a.status, BookingStatus::Declined | BookingStatus::Withdrawn) {
            let labs = excluded.entry(a.request).or_default();
            if !labs.contains(&a.lab) {
                labs.push(a.lab);
            }
        } else {
            match horizon.week_of_monday(a.start_date) {
                Some(start_week) => pinned.push(solver::Pinned { request: a.request, lab: a.lab, start_week }),
                // Confirmed work that started before this horizon is under way, not planned.
                None => {
                    in_progress.insert(a.request);
                }
            }
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

    Ok((requests, pinned))
}
