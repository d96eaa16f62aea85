//! Loading a `labplan-instance/1` data set into the registry: the bundled demo, or any file.
//!
//! Week indices become dates from `horizon.start`: a request's samples are ready on the Monday
//! of its release week and due on the Friday of its due week. Loading is idempotent: catalog
//! rows are brought up to date, requests that already exist are left as they are.

use std::collections::HashMap;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use labplan_solver::Instance;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set, TransactionTrait,
};

use crate::db::sequences;
use crate::domain::request::RequestStatus;
use crate::entities::{
    accreditations, capacities, capacity_overrides, companies, equipment, labs, planning_settings, region_distances,
    regions, request_excluded_labs, test_requests, test_types,
};

/// The demo data set: the industry cluster's 1,300 tests at 102 companies, 40 labs.
pub const BUNDLED: &[u8] = include_bytes!("../data/cluster-1300.json");

/// Rows per INSERT, well under SQLite's and PostgreSQL's bind-parameter limits.
const BATCH: usize = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    if instance.format != "labplan-instance/1" {
        bail!("unsupported format '{}', expected labplan-instance/1", instance.format);
    }
    Ok(instance)
}

/// Loads the bundled demo unless the registry already holds labs or requests.
pub async fn load_bundled_if_empty(db: &DatabaseConnection) -> anyhow::Result<Option<LoadReport>> {
    let has_labs = labs::Entity::find().count(db).await? > 0;
    let has_requests = test_requests::Entity::find().count(db).await? > 0;
    if has_labs || has_requests {
        return Ok(None);
    }
    let instance = parse_instance(BUNDLED)?;
    load(db, &instance).await.map(Some)
}

/// Loads `instance` in one transaction: all of it or, on any error, nothing.
pub async fn load(db: &DatabaseConnection, instance: &Instance) -> anyhow::Result<LoadReport> {
    let start = NaiveDate::parse_from_str(&instance.horizon.start, "%Y-%m-%d")
        .with_context(|| format!("horizon.start '{}' is not a date", instance.horizon.start))?;
    let week = |index: u32| start + chrono::Days::new(7 * u64::from(index));
    let txn = db.begin().await.context("could not start a transaction")?;

    upsert(
        &txn,
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

    let mut distances = Vec::with_capacity(instance.distances.len());
    for d in &instance.distances {
        distances.push(region_distances::ActiveModel {
            from_region: Set(d.from.clone()),
            to_region: Set(d.to.clone()),
            km: Set(whole(d.km, || format!("distance {}–{}", d.from, d.to))?),
        });
    }
    upsert(
        &txn,
        distances,
        OnConflict::columns([region_distances::Column::FromRegion, region_distances::Column::ToRegion])
            .update_column(region_distances::Column::Km)
            .to_owned(),
    )
    .await
    .context("loading distances")?;

    let mut rows = Vec::new();
    for e in &instance.equipment {
        rows.push(equipment::ActiveModel {
            code: Set(e.code.clone()),
            name: Set(e.name.clone()),
            name_en: Set(e.name_en.clone()),
            max_hours_per_test_week: Set(whole(e.max_hours_per_test_week, || format!("equipment {}", e.code))?),
        });
    }
    upsert(
        &txn,
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

    let mut rows = Vec::new();
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
        &txn,
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

    upsert(
        &txn,
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

    let accreditation_rows = instance.labs.iter().flat_map(|l| {
        l.accredited.iter().map(move |t| accreditations::ActiveModel {
            lab: Set(l.id.clone()),
            test_type: Set(t.clone()),
            valid_from: Set(start),
            valid_to: Set(None),
        })
    });
    upsert(
        &txn,
        accreditation_rows,
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
        &txn,
        rows,
        OnConflict::columns([capacities::Column::Lab, capacities::Column::Equipment])
            .update_columns([capacities::Column::HoursPerWeek, capacities::Column::PricePerHour])
            .to_owned(),
    )
    .await
    .context("loading capacity")?;

    let mut rows = Vec::new();
    for o in &instance.capacity_overrides {
        rows.push(capacity_overrides::ActiveModel {
            lab: Set(o.lab.clone()),
            equipment: Set(o.equipment.clone()),
            week_start: Set(week(o.week)),
            hours_per_week: Set(whole(o.hours_per_week, || format!("override {}/{}/{}", o.lab, o.equipment, o.week))?),
        });
    }
    upsert(
        &txn,
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

    upsert(
        &txn,
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

    let now = chrono::Utc::now();
    let mut max_number = 0;
    let mut rows = Vec::with_capacity(instance.requests.len());
    for r in &instance.requests {
        if let Some(n) = sequences::parse_request_number(&r.id) {
            max_number = max_number.max(n);
        }
        rows.push(test_requests::ActiveModel {
            id: Set(r.id.clone()),
            company: Set(r.company.clone()),
            test_type: Set(r.test_type.clone()),
            samples: Set(i32::try_from(r.samples).with_context(|| format!("request {}: samples", r.id))?),
            ready_date: Set(week(r.release_week)),
            due_date: Set(week(r.due_week) + chrono::Days::new(4)),
            priority: Set(i16::try_from(r.priority).with_context(|| format!("request {}: priority", r.id))?),
            external_ref: Set(None),
            notes: Set(None),
            status: Set(RequestStatus::Submitted.as_str().to_string()),
            status_reason: Set(None),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            planned_lab: Set(None),
            planned_start: Set(None),
            planned_end: Set(None),
        });
    }
    upsert(&txn, rows, OnConflict::column(test_requests::Column::Id).do_nothing().to_owned())
        .await
        .context("loading requests")?;
    let exclusions = instance.requests.iter().flat_map(|r| {
        r.excluded_labs
            .iter()
            .map(move |lab| request_excluded_labs::ActiveModel { request: Set(r.id.clone()), lab: Set(lab.clone()) })
    });
    upsert(
        &txn,
        exclusions,
        OnConflict::columns([request_excluded_labs::Column::Request, request_excluded_labs::Column::Lab])
            .do_nothing()
            .to_owned(),
    )
    .await
    .context("loading excluded labs")?;
    sequences::raise_to(&txn, sequences::REQUEST_SEQUENCE, max_number).await?;

    let settings: HashMap<&str, String> = HashMap::from([
        ("horizon_start", instance.horizon.start.clone()),
        ("horizon_weeks", instance.horizon.weeks.to_string()),
        ("tardiness_per_week", instance.weights.tardiness_per_week.to_string()),
        ("transport_per_km", instance.weights.transport_per_km.to_string()),
        ("unassigned", instance.weights.unassigned.to_string()),
        ("max_late_weeks", instance.weights.max_late_weeks.to_string()),
    ]);
    upsert(
        &txn,
        settings
            .into_iter()
            .map(|(key, value)| planning_settings::ActiveModel { key: Set(key.to_string()), value: Set(value) }),
        OnConflict::column(planning_settings::Column::Key).update_column(planning_settings::Column::Value).to_owned(),
    )
    .await
    .context("loading planning settings")?;

    txn.commit().await.context("could not commit the data set")?;
    Ok(LoadReport {
        regions: instance.regions.len(),
        equipment: instance.equipment.len(),
        test_types: instance.test_types.len(),
        labs: instance.labs.len(),
        companies: instance.companies.len(),
        requests: instance.requests.len(),
    })
}

/// Hours, prices and distances are whole numbers in the registry.
fn whole(value: f64, what: impl FnOnce() -> String) -> anyhow::Result<i32> {
    if value.fract() != 0.0 || value < 0.0 || value > f64::from(i32::MAX) {
        bail!("{}: {value} is not a whole non-negative number", what());
    }
    Ok(value as i32)
}

async fn upsert<C, A, I>(db: &C, rows: I, on_conflict: OnConflict) -> Result<(), sea_orm::DbErr>
where
    C: ConnectionTrait,
    A: ActiveModelTrait + Clone + Send,
    I: IntoIterator<Item = A>,
{
    let rows: Vec<A> = rows.into_iter().collect();
    for chunk in rows.chunks(BATCH) {
        <A::Entity as EntityTrait>::insert_many(chunk.to_vec())
            .on_conflict(on_conflict.clone())
            .try_insert()
            .exec(db)
            .await?;
    }
    Ok(())
}

/// One user per role for trying the demo: (e-mail, role, company, lab).
pub const DEMO_USERS: [(&str, crate::auth::Role, Option<&str>, Option<&str>); 5] = [
    ("admin@demo.local", crate::auth::Role::Admin, None, None),
    ("planner@demo.local", crate::auth::Role::Planner, None, None),
    ("ministry@demo.local", crate::auth::Role::Ministry, None, None),
    ("company.c0001@demo.local", crate::auth::Role::Company, Some("C0001"), None),
    ("lab.l001@demo.local", crate::auth::Role::Lab, None, Some("L001")),
];

/// Creates the demo users that do not exist yet, each with a new random password,
/// returned so that the caller prints them once; they are stored only as hashes.
pub async fn ensure_demo_users(db: &DatabaseConnection) -> anyhow::Result<Vec<(String, String)>> {
    use crate::auth::users;
    let mut created = Vec::new();
    for (email, role, company, lab) in DEMO_USERS {
        if users::find_by_email(db, email).await?.is_some() {
            continue;
        }
        let password: String = crate::auth::new_secret("").chars().take(20).collect();
        users::add(db, users::NewUser { email, password: &password, role, company, lab })
            .await
            .map_err(|e| anyhow::anyhow!("demo user {email}: {e}"))?;
        created.push((email.to_string(), password));
    }
    Ok(created)
}

pub fn print_demo_users(created: &[(String, String)]) {
    if created.is_empty() {
        return;
    }
    eprintln!("demo users (passwords are shown this once and stored only as hashes):");
    for (email, password) in created {
        eprintln!("  {email:<28} {password}");
    }
    eprintln!("API token: labplan users token --email EMAIL");
}
