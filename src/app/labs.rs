//! Labs and what they offer: accreditation scope, weekly capacity, closed or reduced
//! weeks. The administrator keeps the labs; a lab coordinator keeps its own lab's scope
//! and capacity.

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, Set};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::policy::Op;
use super::records::{self, Mode};
use super::{AppError, AppResult, Work, require, snapshot};
use crate::db::Db;
use crate::db::labs::{LabFilter, OverrideFilter};
use crate::db::{catalog, labs as queries};
use crate::domain::access::Caller;
use crate::domain::paging::{ListResponse, PageRequest};
use crate::domain::{
    Code, Errors, Kind, Msg, parse_date, parse_i32_in, parse_int_in, parse_monday, parse_name, parse_optional_text,
    parse_region_code,
};
use crate::entities::{accreditations, capacities, capacity_overrides, labs};

const LAB: records::Kind = records::Kind { entity: "lab", name: "lab" };
const ACCREDITATION: records::Kind = records::Kind { entity: "accreditation", name: "accreditation" };
const CAPACITY: records::Kind = records::Kind { entity: "capacity", name: "capacity" };
const CAPACITY_OVERRIDE: records::Kind = records::Kind { entity: "capacity_override", name: "capacity override" };

/// A week has 168 hours; a lab may run several units of one class side by side.
pub const MAX_HOURS_PER_WEEK: i32 = 168 * 100;
/// The dearest hour the registry takes, in roubles.
pub const MAX_PRICE_PER_HOUR: i64 = 100_000_000;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// Registry id, e.g. `L001`
    pub id: String,
    pub name: String,
    pub name_en: String,
    /// Region code
    pub region: String,
    /// Phone or e-mail of the coordinator
    pub contact: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabBody {
    pub name: String,
    pub name_en: String,
    pub region: String,
    pub contact: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabQuery {
    /// Only labs of this region
    pub region: Option<String>,
    /// Only labs accredited for this test type
    pub test_type: Option<String>,
    /// Only labs offering capacity on this equipment class
    pub equipment: Option<String>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

impl From<labs::Model> for Lab {
    fn from(m: labs::Model) -> Self {
        Self { id: m.id, name: m.name, name_en: m.name_en, region: m.region, contact: m.contact }
    }
}

async fn lab_row<C: ConnectionTrait>(db: &C, id: &str, body: &LabBody) -> AppResult<labs::ActiveModel> {
    let mut e = Errors::default();
    let id = e.take("id", Code::parse(id)).into_string();
    let name = e.take("name", parse_name(&body.name));
    let name_en = e.take("name_en", parse_name(&body.name_en));
    let contact = e.take("contact", parse_optional_text(body.contact.as_deref(), 300));
    let region = e.take("region", parse_region_code(&body.region));
    if !region.is_empty() && catalog::region(db, &region).await?.is_none() {
        e.push("region", Msg::Unknown(Kind::Region, region.clone()));
    }
    e.finish()?;
    Ok(labs::ActiveModel {
        id: Set(id),
        name: Set(name),
        name_en: Set(name_en),
        region: Set(region),
        contact: Set(contact),
    })
}

pub(super) async fn find_lab<C: ConnectionTrait>(db: &C, id: &str) -> AppResult<labs::Model> {
    queries::find(db, id).await?.ok_or_else(|| AppError::not_found("lab", id))
}

/// A lab user changes its own lab only; the admin changes any.
pub(super) fn keeps(caller: &Caller, lab: &str) -> AppResult<()> {
    require(caller, Op::KeepLab)?;
    if caller.keeps_lab(lab) {
        return Ok(());
    }
    let own = caller.own_lab().map(ToString::to_string).unwrap_or_default();
    Err(AppError::Forbidden(format!("a lab user may change only lab '{own}'")))
}

pub async fn list<C: ConnectionTrait>(db: &C, query: &LabQuery) -> AppResult<ListResponse<Lab>> {
    let page = PageRequest::parse(query.page, query.per_page)?;
    let filter = LabFilter {
        region: query.region.clone(),
        test_type: query.test_type.clone(),
        equipment: query.equipment.clone(),
    };
    let (rows, total) = queries::list(db, &filter, page).await?;
    Ok(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page))
}

pub async fn get<C: ConnectionTrait>(db: &C, id: &str) -> AppResult<Lab> {
    Ok(find_lab(db, id).await?.into())
}

/// Creates the lab, or with `replace` changes the existing one of that id.
pub async fn save<C: Db>(db: &C, caller: &Caller, id: &str, body: LabBody, replace: bool) -> AppResult<Lab> {
    require(caller, Op::ManageCatalog)?;
    let mut work = Work::begin(db, caller).await?;
    let row = lab_row(work.db(), id, &body).await?;
    let id = id.trim();
    let before = queries::find(work.db(), id).await?.map(Lab::from);
    let saved = records::save(&mut work, LAB, id, before, row, Mode::create_or_replace(replace)).await?;
    work.commit().await?;
    Ok(saved)
}

pub async fn delete<C: Db>(db: &C, caller: &Caller, id: &str) -> AppResult<()> {
    require(caller, Op::ManageCatalog)?;
    let mut work = Work::begin(db, caller).await?;
    let before = find_lab(work.db(), id).await?;
    queries::delete(work.db(), id).await?;
    work.audit("delete", "lab", id, snapshot(&Lab::from(before)), None);
    work.commit().await
}

// ---- accreditation scope ----

/// A test type in the lab's accreditation scope, valid from a date and, if set, until one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Accreditation {
    pub test_type: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccreditationBody {
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccreditation {
    pub test_type: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

impl From<accreditations::Model> for Accreditation {
    fn from(m: accreditations::Model) -> Self {
        Self { test_type: m.test_type, valid_from: m.valid_from, valid_to: m.valid_to }
    }
}

pub async fn accreditations<C: ConnectionTrait>(
    db: &C,
    lab: &str,
    page: PageRequest,
) -> AppResult<ListResponse<Accreditation>> {
    find_lab(db, lab).await?;
    let (rows, total) = queries::accreditations_page(db, lab, page).await?;
    Ok(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page))
}

/// Adds a test type to the lab's scope (`replace` false; it must not be there yet) or
/// changes its dates (`replace` true).
pub async fn save_accreditation<C: Db>(
    db: &C,
    caller: &Caller,
    lab: &str,
    test_type: &str,
    body: AccreditationBody,
    replace: bool,
) -> AppResult<Accreditation> {
    keeps(caller, lab)?;
    let mut work = Work::begin(db, caller).await?;
    find_lab(work.db(), lab).await?;
    let test_type = test_type.trim();
    let before = queries::accreditation(work.db(), lab, test_type).await?;
    if before.is_some() && !replace {
        return Err(AppError::Conflict(format!(
            "lab '{lab}' is already accredited for '{test_type}'; PUT it to change the dates"
        )));
    }
    let saved = save_accreditation_in(&mut work, lab, test_type, &body, before.map(Accreditation::from)).await?;
    work.commit().await?;
    Ok(saved)
}

/// [`save_accreditation`]'s step inside a larger piece of work (a lab's workbook), for a
/// lab the caller keeps; `before` is the entry the scope holds now.
pub async fn save_accreditation_in(
    work: &mut Work,
    lab: &str,
    test_type: &str,
    body: &AccreditationBody,
    before: Option<Accreditation>,
) -> AppResult<Accreditation> {
    let mut e = Errors::default();
    if catalog::test_type(work.db(), test_type).await?.is_none() {
        e.push("test_type", Msg::Unknown(Kind::TestType, test_type.to_string()));
    }
    e.take("valid_from", parse_date(body.valid_from).map(Some));
    if let Some(to) = body.valid_to
        && e.take("valid_to", parse_date(to).map(Some)).is_some()
    {
        e.check("valid_to", to >= body.valid_from, Msg::ValidToBeforeFrom);
    }
    e.finish()?;
    let row = accreditations::ActiveModel {
        lab: Set(lab.to_string()),
        test_type: Set(test_type.to_string()),
        valid_from: Set(body.valid_from),
        valid_to: Set(body.valid_to),
    };
    records::save(work, ACCREDITATION, &format!("{lab}/{test_type}"), before, row, Mode::Upsert).await
}

pub async fn delete_accreditation<C: Db>(db: &C, caller: &Caller, lab: &str, test_type: &str) -> AppResult<()> {
    keeps(caller, lab)?;
    let mut work = Work::begin(db, caller).await?;
    let before = queries::accreditation(work.db(), lab, test_type)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("lab '{lab}' has no accreditation for '{test_type}'")))?;
    queries::delete_accreditation(work.db(), lab, test_type).await?;
    work.audit("delete", "accreditation", format!("{lab}/{test_type}"), snapshot(&Accreditation::from(before)), None);
    work.commit().await
}

// ---- capacity ----

/// Equipment hours a lab offers to the programme each week, and their price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Capacity {
    pub equipment: String,
    pub hours_per_week: i32,
    /// Roubles per equipment hour
    pub price_per_hour: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityBody {
    pub hours_per_week: i64,
    pub price_per_hour: i64,
}

impl From<capacities::Model> for Capacity {
    fn from(m: capacities::Model) -> Self {
        Self { equipment: m.equipment, hours_per_week: m.hours_per_week, price_per_hour: m.price_per_hour }
    }
}

pub async fn capacity<C: ConnectionTrait>(db: &C, lab: &str) -> AppResult<Vec<Capacity>> {
    find_lab(db, lab).await?;
    Ok(queries::capacities(db, Some(lab)).await?.into_iter().map(Into::into).collect())
}

pub async fn save_capacity<C: Db>(
    db: &C,
    caller: &Caller,
    lab: &str,
    equipment: &str,
    body: CapacityBody,
) -> AppResult<Capacity> {
    keeps(caller, lab)?;
    let mut work = Work::begin(db, caller).await?;
    find_lab(work.db(), lab).await?;
    let before = queries::capacity(work.db(), lab, equipment).await?.map(Capacity::from);
    let saved = save_capacity_in(&mut work, lab, equipment, &body, before).await?;
    work.commit().await?;
    Ok(saved)
}

/// [`save_capacity`]'s step inside a larger piece of work (a lab's workbook), for a lab
/// the caller keeps; `before` is what the lab offers on the class now.
pub async fn save_capacity_in(
    work: &mut Work,
    lab: &str,
    equipment: &str,
    body: &CapacityBody,
    before: Option<Capacity>,
) -> AppResult<Capacity> {
    let mut e = Errors::default();
    if catalog::equipment(work.db(), equipment).await?.is_none() {
        e.push("equipment", Msg::Unknown(Kind::Equipment, equipment.to_string()));
    }
    let hours = e.take("hours_per_week", parse_i32_in(body.hours_per_week, 0, MAX_HOURS_PER_WEEK));
    let price = e.take("price_per_hour", parse_int_in(body.price_per_hour, 0, MAX_PRICE_PER_HOUR));
    e.finish()?;
    let row = capacities::ActiveModel {
        lab: Set(lab.to_string()),
        equipment: Set(equipment.to_string()),
        hours_per_week: Set(hours),
        price_per_hour: Set(price),
    };
    records::save(work, CAPACITY, &format!("{lab}/{equipment}"), before, row, Mode::Upsert).await
}

pub async fn delete_capacity<C: Db>(db: &C, caller: &Caller, lab: &str, equipment: &str) -> AppResult<()> {
    keeps(caller, lab)?;
    let mut work = Work::begin(db, caller).await?;
    let before = queries::capacity(work.db(), lab, equipment)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("lab '{lab}' offers no capacity on '{equipment}'")))?;
    queries::delete_capacity(work.db(), lab, equipment).await?;
    work.audit("delete", "capacity", format!("{lab}/{equipment}"), snapshot(&Capacity::from(before)), None);
    work.commit().await
}

// ---- capacity overrides ----

/// One week's capacity instead of the base one: holidays, maintenance; 0 means closed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityOverride {
    pub equipment: String,
    /// The Monday of the week
    pub week_start: NaiveDate,
    pub hours_per_week: i64,
}

impl From<capacity_overrides::Model> for CapacityOverride {
    fn from(m: capacity_overrides::Model) -> Self {
        Self { equipment: m.equipment, week_start: m.week_start, hours_per_week: i64::from(m.hours_per_week) }
    }
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverrideQuery {
    pub equipment: Option<String>,
    /// Weeks starting on or after this date
    pub from: Option<NaiveDate>,
    /// Weeks starting on or before this date
    pub to: Option<NaiveDate>,
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<i64>,
}

pub async fn overrides<C: ConnectionTrait>(
    db: &C,
    lab: &str,
    query: &OverrideQuery,
) -> AppResult<ListResponse<CapacityOverride>> {
    let page = PageRequest::parse(query.page, query.per_page)?;
    find_lab(db, lab).await?;
    let filter = OverrideFilter {
        lab: Some(lab.to_string()),
        equipment: query.equipment.clone(),
        from: query.from,
        to: query.to,
    };
    let (rows, total) = queries::overrides_page(db, &filter, page).await?;
    Ok(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page))
}

pub async fn save_override<C: Db>(
    db: &C,
    caller: &Caller,
    lab: &str,
    body: CapacityOverride,
) -> AppResult<CapacityOverride> {
    keeps(caller, lab)?;
    let mut work = Work::begin(db, caller).await?;
    find_lab(work.db(), lab).await?;
    let mut e = Errors::default();
    let week_start = e.take("week_start", parse_monday(body.week_start).map(Some)).unwrap_or(body.week_start);
    let hours = e.take("hours_per_week", parse_i32_in(body.hours_per_week, 0, MAX_HOURS_PER_WEEK));
    let equipment = body.equipment.trim().to_string();
    if queries::capacity(work.db(), lab, &equipment).await?.is_none() {
        e.push("equipment", Msg::NoCapacity(lab.to_string(), equipment.clone()));
    }
    e.finish()?;
    let before = queries::capacity_override(work.db(), lab, &equipment, week_start).await?;
    let row = capacity_overrides::ActiveModel {
        lab: Set(lab.to_string()),
        equipment: Set(equipment.clone()),
        week_start: Set(week_start),
        hours_per_week: Set(hours),
    };
    let before = before.map(CapacityOverride::from);
    let key = format!("{lab}/{equipment}/{week_start}");
    let saved = records::save(&mut work, CAPACITY_OVERRIDE, &key, before, row, Mode::Upsert).await?;
    work.commit().await?;
    Ok(saved)
}

pub async fn delete_override<C: Db>(
    db: &C,
    caller: &Caller,
    lab: &str,
    equipment: &str,
    week_start: &str,
) -> AppResult<()> {
    keeps(caller, lab)?;
    let week_start: NaiveDate = week_start.parse().map_err(|_| AppError::field("week_start", Msg::Date))?;
    let mut work = Work::begin(db, caller).await?;
    let before = queries::capacity_override(work.db(), lab, equipment, week_start).await?.ok_or_else(|| {
        AppError::NotFound(format!("no override for lab '{lab}', '{equipment}', week of {week_start}"))
    })?;
    queries::delete_override(work.db(), lab, equipment, week_start).await?;
    work.audit(
        "delete",
        "capacity_override",
        format!("{lab}/{equipment}/{week_start}"),
        snapshot(&CapacityOverride::from(before)),
        None,
    );
    work.commit().await
}

/// A lab's own scope, capacity and overrides at once, for its coordinator's pages.
pub struct LabRecords {
    pub lab: Lab,
    pub accreditations: Vec<accreditations::Model>,
    pub capacities: Vec<capacities::Model>,
    pub overrides: Vec<capacity_overrides::Model>,
}

pub async fn records<C: ConnectionTrait>(db: &C, caller: &Caller, lab: &str) -> AppResult<LabRecords> {
    keeps(caller, lab)?;
    let found = find_lab(db, lab).await?;
    let (accreditations, _) = queries::accreditations_page(db, lab, PageRequest::ALL).await?;
    let capacities = queries::capacities(db, Some(lab)).await?;
    let overrides =
        queries::overrides(db, &OverrideFilter { lab: Some(lab.to_string()), ..Default::default() }).await?;
    Ok(LabRecords { lab: found.into(), accreditations, capacities, overrides })
}

/// Base capacities and overrides of every lab, for whole-registry figures.
pub async fn all_capacity<C: ConnectionTrait>(
    db: &C,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<(Vec<capacities::Model>, Vec<capacity_overrides::Model>)> {
    let capacities = queries::capacities(db, None).await?;
    let overrides =
        queries::overrides(db, &OverrideFilter { from: Some(from), to: Some(to), ..Default::default() }).await?;
    Ok((capacities, overrides))
}
