//! Loading a `labplan-instance/1` data set into the registry (the bundled demo, or any
//! file): catalog, labs with scope and capacity, companies, requests and planning
//! settings, in one transaction with its audit row.
//!
//! Week indices become dates from `horizon.start`: a request's samples are ready on the
//! Monday of its release week and due on the Friday of its due week. Loading is
//! idempotent: catalog rows are brought up to date, requests that already exist are left
//! as they are.

use anyhow::{Context, bail};
use chrono::NaiveDate;
use labplan_solver::Instance;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseTransaction, Set};
use serde::Serialize;
use serde_json::json;

use super::policy::Op;
use super::{AppError, AppResult, Work, require};
use crate::db::Db;
use crate::db::catalog::upsert;
use crate::db::{requests, sequences, settings};
use crate::domain::access::Caller;
use crate::domain::request::{RawRequestFields, RequestFields};
use crate::entities::{
    accreditations, capacities, capacity_overrides, companies, equipment, labs, region_distances, regions, test_types,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    pub regions: usize,
    pub equipment: usize,
    pub test_types: usize,
    pub labs: usize,
    pub companies: usize,
    pub requests: usize,
}

pub fn parse_instance(bytes: &[u8]) -> anyhow::Result<Instance> {
    let instance: Instance =
        serde_json::from_slice(bytes).context("the data set is not a valid labplan-instance/1 JSON file")?;
    if instance.format != labplan_solver::INSTANCE_FORMAT {
        bail!("unsupported format '{}', expected {}", instance.format, labplan_solver::INSTANCE_FORMAT);
    }
    Ok(instance)
}

/// Hours, prices and distances are whole numbers in the registry.
fn whole(value: f64, what: impl FnOnce() -> String) -> anyhow::Result<i32> {
    if value.fract() != 0.0 || value < 0.0 || value > f64::from(i32::MAX) {
        bail!("{}: {value} is not a whole non-negative number", what());
    }
    Ok(value as i32)
}

/// Loads `instance`: all of it or, on any error, nothing.
pub async fn instance<C: Db>(db: &C, caller: &Caller, instance: &Instance) -> AppResult<LoadReport> {
    require(caller, Op::ManageCatalog)?;
    let start = NaiveDate::parse_from_str(&instance.horizon.start, "%Y-%m-%d").map_err(|_| {
        AppError::Unexpected(anyhow::anyhow!("horizon.start '{}' is not a date", instance.horizon.start))
    })?;
    let mut work = Work::begin(db, caller).await?;
    catalog(work.db(), instance).await?;
    lab_records(work.db(), instance, start).await?;
    company_rows(work.db(), instance).await?;
    request_rows(work.db(), instance, start).await?;
    planning_settings(work.db(), instance).await?;
    let report = LoadReport {
        regions: instance.regions.len(),
        equipment: instance.equipment.len(),
        test_types: instance.test_types.len(),
        labs: instance.labs.len(),
        companies: instance.companies.len(),
        requests: instance.requests.len(),
    };
    work.audit(
        "import",
        "data_set",
        instance.name.clone().unwrap_or_else(|| "unnamed".into()),
        None,
        Some(json!({"report": report, "horizon": instance.horizon.start})),
    );
    work.commit().await?;
    Ok(report)
}

async fn catalog(txn: &DatabaseTransaction, instance: &Instance) -> anyhow::Result<()> {
    upsert(
        txn,
        instance.regions.iter().map(|r| regions::ActiveModel {
            code: Set(r.code.clone()),
            name: Set(r.name.clone()),
            name_en: Set(r.name_en.clone()),
            lat: Set(r.lat),
            lon: Set(r.lon),
        }),
        OnConflict::column(regions::Column::Code)
            .update_columns([
                regions::Column::Name,
                regions::Column::NameEn,
                regions::Column::Lat,
                regions::Column::Lon,
            ])
            .to_owned(),
    )
    .await
    .context("loading regions")?;

    let mut rows = Vec::with_capacity(instance.distances.len());
    for d in &instance.distances {
        rows.push(region_distances::ActiveModel {
            from_region: Set(d.from.clone()),
            to_region: Set(d.to.clone()),
            km: Set(whole(d.km, || format!("distance {}–{}", d.from, d.to))?),
        });
    }
    upsert(
        txn,
        rows,
        OnConflict::columns([region_distances::Column::FromRegion, region_distances::Column::ToRegion])
            .update_column(region_distances::Column::Km)
            .to_owned(),
    )
    .await
    .context("loading distances")?;

    let mut rows = Vec::with_capacity(instance.equipment.len());
    for e in &instance.equipment {
        rows.push(equipment::ActiveModel {
            code: Set(e.code.clone()),
            name: Set(e.name.clone()),
            name_en: Set(e.name_en.clone()),
            max_hours_per_test_week: Set(whole(e.max_hours_per_test_week, || format!("equipment {}", e.code))?),
        });
    }
    upsert(
        txn,
        rows,
        OnConflict::column(equipment::Column::Code)
            .update_columns([
                equipment::Column::Name,
                equipment::Column::NameEn,
                equipment::Column::MaxHoursPerTestWeek,
            ])
            .to_owned(),
    )
    .await
    .context("loading equipment")?;

    let mut rows = Vec::with_capacity(instance.test_types.len());
    for t in &instance.test_types {
        rows.push(test_types::ActiveModel {
            code: Set(t.code.clone()),
            standard: Set(t.standard.clone()),
            name: Set(t.name.clone()),
            name_en: Set(t.name_en.clone()),
            equipment: Set(t.equipment.clone()),
            hours: Set(whole(t.hours, || format!("test type {}", t.code))?),
        });
    }
    upsert(
        txn,
        rows,
        OnConflict::column(test_types::Column::Code)
            .update_columns([
                test_types::Column::Standard,
                test_types::Column::Name,
                test_types::Column::NameEn,
                test_types::Column::Equipment,
                test_types::Column::Hours,
            ])
            .to_owned(),
    )
    .await
    .context("loading test types")?;
    Ok(())
}

/// Labs, their scope (valid from the horizon's start), base capacity and overrides.
async fn lab_records(txn: &DatabaseTransaction, instance: &Instance, start: NaiveDate) -> anyhow::Result<()> {
    let week = |index: u32| start + chrono::Days::new(7 * u64::from(index));
    upsert(
        txn,
        instance.labs.iter().map(|l| labs::ActiveModel {
            id: Set(l.id.clone()),
            name: Set(l.name.clone()),
            name_en: Set(l.name_en.clone()),
            region: Set(l.region.clone()),
            contact: Set(None),
        }),
        OnConflict::column(labs::Column::Id)
            .update_columns([labs::Column::Name, labs::Column::NameEn, labs::Column::Region])
            .to_owned(),
    )
    .await
    .context("loading labs")?;

    let scope = instance.labs.iter().flat_map(|l| {
        l.accredited.iter().map(move |t| accreditations::ActiveModel {
            lab: Set(l.id.clone()),
            test_type: Set(t.clone()),
            valid_from: Set(start),
            valid_to: Set(None),
        })
    });
    upsert(
        txn,
        scope,
        OnConflict::columns([accreditations::Column::Lab, accreditations::Column::TestType]).do_nothing().to_owned(),
    )
    .await
    .context("loading accreditations")?;

    let mut rows = Vec::new();
    for l in &instance.labs {
        for c in &l.capacity {
            rows.push(capacities::ActiveModel {
                lab: Set(l.id.clone()),
                equipment: Set(c.equipment.clone()),
                hours_per_week: Set(whole(c.hours_per_week, || format!("capacity {}/{}", l.id, c.equipment))?),
                price_per_hour: Set(i64::from(whole(c.price_per_hour, || format!("price {}/{}", l.id, c.equipment))?)),
            });
        }
    }
    upsert(
        txn,
        rows,
        OnConflict::columns([capacities::Column::Lab, capacities::Column::Equipment])
            .update_columns([capacities::Column::HoursPerWeek, capacities::Column::PricePerHour])
            .to_owned(),
    )
    .await
    .context("loading capacity")?;

    let mut rows = Vec::with_capacity(instance.capacity_overrides.len());
    for o in &instance.capacity_overrides {
        rows.push(capacity_overrides::ActiveModel {
            lab: Set(o.lab.clone()),
            equipment: Set(o.equipment.clone()),
            week_start: Set(week(o.week)),
            hours_per_week: Set(whole(o.hours_per_week, || format!("override {}/{}/{}", o.lab, o.equipment, o.week))?),
        });
    }
    upsert(
        txn,
        rows,
        OnConflict::columns([
            capacity_overrides::Column::Lab,
            capacity_overrides::Column::Equipment,
            capacity_overrides::Column::WeekStart,
        ])
        .update_column(capacity_overrides::Column::HoursPerWeek)
        .to_owned(),
    )
    .await
    .context("loading capacity overrides")?;
    Ok(())
}

async fn company_rows(txn: &DatabaseTransaction, instance: &Instance) -> anyhow::Result<()> {
    upsert(
        txn,
        instance.companies.iter().map(|c| companies::ActiveModel {
            id: Set(c.id.clone()),
            name: Set(c.name.clone()),
            inn: Set(None),
            region: Set(c.region.clone()),
        }),
        OnConflict::column(companies::Column::Id)
            .update_columns([companies::Column::Name, companies::Column::Region])
            .to_owned(),
    )
    .await
    .context("loading companies")?;
    Ok(())
}

async fn request_rows(txn: &DatabaseTransaction, instance: &Instance, start: NaiveDate) -> anyhow::Result<()> {
    let week = |index: u32| start + chrono::Days::new(7 * u64::from(index));
    let now = chrono::Utc::now();
    let mut max_number = 0;
    let mut rows = Vec::with_capacity(instance.requests.len());
    for r in &instance.requests {
        if let Some(n) = sequences::parse_request_number(&r.id) {
            max_number = max_number.max(n);
        }
        // A data set's requests obey the rules of a filed one.
        let fields = RequestFields::parse(RawRequestFields {
            company: &r.company,
            test_type: &r.test_type,
            samples: i64::from(r.samples),
            ready_date: week(r.release_week),
            due_date: week(r.due_week) + chrono::Days::new(4),
            priority: i64::from(r.priority),
            excluded_labs: &r.excluded_labs,
            external_ref: None,
            notes: None,
        })
        .map_err(|errors| {
            let fields: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
            anyhow::anyhow!("request {}: {}", r.id, fields.join("; "))
        })?;
        rows.push(requests::new_row(r.id.clone(), &fields, now));
    }
    let exclusions = instance
        .requests
        .iter()
        .flat_map(|r| r.excluded_labs.iter().map(move |lab| (r.id.clone(), lab.clone())))
        .collect();
    requests::insert_new_batch(txn, rows, exclusions).await.context("loading requests")?;
    sequences::raise_to(txn, sequences::REQUEST_SEQUENCE, max_number).await?;
    Ok(())
}

async fn planning_settings(txn: &DatabaseTransaction, instance: &Instance) -> anyhow::Result<()> {
    let values = vec![
        ("horizon_start".to_string(), instance.horizon.start.clone()),
        ("horizon_weeks".to_string(), instance.horizon.weeks.to_string()),
        ("tardiness_per_week".to_string(), instance.weights.tardiness_per_week.to_string()),
        ("transport_per_km".to_string(), instance.weights.transport_per_km.to_string()),
        ("unassigned".to_string(), instance.weights.unassigned.to_string()),
        ("max_late_weeks".to_string(), instance.weights.max_late_weeks.to_string()),
    ];
    settings::put(txn, values).await.context("loading planning settings")?;
    Ok(())
}

/// Whether the registry already holds labs or requests.
pub async fn registry_is_empty<C: sea_orm::ConnectionTrait>(db: &C) -> AppResult<bool> {
    Ok(crate::db::labs::list(db, &Default::default(), crate::domain::paging::PageRequest { page: 1, per_page: 1 })
        .await?
        .1
        == 0
        && requests::count(db).await? == 0)
}
