//! The catalog the registry refers to: regions, equipment classes, test types. Everyone
//! reads it; the administrator keeps it, every change audited.

use sea_orm::{ConnectionTrait, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::policy::Op;
use super::records::{self, Mode};
use super::{AppError, AppResult, Work, require, snapshot};
use crate::db::Db;
use crate::db::catalog as queries;
use crate::domain::paging::{ListResponse, PageRequest};
use crate::domain::{Code, Errors, Kind, Msg, parse_i32_in, parse_name, parse_region_code};
use crate::entities::{equipment, regions, test_types};

const REGION: records::Kind = records::Kind { entity: "region", name: "region" };
const EQUIPMENT: records::Kind = records::Kind { entity: "equipment", name: "equipment" };
const TEST_TYPE: records::Kind = records::Kind { entity: "test_type", name: "test type" };

// ---- regions ----

/// A region (ISO 3166-2 code) with its centre's coordinates.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// ISO 3166-2 code, e.g. `RU-SAM`
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionBody {
    pub name: String,
    pub name_en: String,
    pub lat: f64,
    pub lon: f64,
}

impl From<regions::Model> for Region {
    fn from(m: regions::Model) -> Self {
        Self { code: m.code, name: m.name, name_en: m.name_en, lat: m.lat, lon: m.lon }
    }
}

fn region_row(code: &str, body: &RegionBody) -> AppResult<regions::ActiveModel> {
    let mut e = Errors::default();
    let code = e.take("code", parse_region_code(code));
    let name = e.take("name", parse_name(&body.name));
    let name_en = e.take("name_en", parse_name(&body.name_en));
    e.check("lat", (-90.0..=90.0).contains(&body.lat), Msg::Range(-90, 90));
    e.check("lon", (-180.0..=180.0).contains(&body.lon), Msg::Range(-180, 180));
    e.finish()?;
    Ok(regions::ActiveModel {
        code: Set(code),
        name: Set(name),
        name_en: Set(name_en),
        lat: Set(body.lat),
        lon: Set(body.lon),
    })
}

pub async fn list_regions<C: ConnectionTrait>(db: &C, page: PageRequest) -> AppResult<ListResponse<Region>> {
    let (rows, total) = queries::regions_page(db, page).await?;
    Ok(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page))
}

pub async fn get_region<C: ConnectionTrait>(db: &C, code: &str) -> AppResult<Region> {
    Ok(queries::region(db, code).await?.ok_or_else(|| AppError::not_found("region", code))?.into())
}

/// Creates the region, or with `replace` changes the existing one of that code.
pub async fn save_region<C: Db>(
    db: &C,
    caller: &crate::domain::access::Caller,
    code: &str,
    body: RegionBody,
    replace: bool,
) -> AppResult<Region> {
    require(caller, Op::ManageCatalog)?;
    let row = region_row(code, &body)?;
    let mut work = Work::begin(db, caller).await?;
    let code = code.trim();
    let before = queries::region(work.db(), code).await?.map(Region::from);
    let saved = records::save(&mut work, REGION, code, before, row, Mode::create_or_replace(replace)).await?;
    work.commit().await?;
    Ok(saved)
}

pub async fn delete_region<C: Db>(db: &C, caller: &crate::domain::access::Caller, code: &str) -> AppResult<()> {
    require(caller, Op::ManageCatalog)?;
    let mut work = Work::begin(db, caller).await?;
    let before = queries::region(work.db(), code).await?.ok_or_else(|| AppError::not_found("region", code))?;
    queries::delete_region(work.db(), code).await?;
    work.audit("delete", "region", code, snapshot(&Region::from(before)), None);
    work.commit().await
}

// ---- equipment ----

/// An equipment class, e.g. climatic chamber or EMC chamber.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Equipment {
    pub code: String,
    pub name: String,
    pub name_en: String,
    /// The most hours one test may use it in one week (168 around the clock, 40 attended)
    pub max_hours_per_test_week: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EquipmentBody {
    pub name: String,
    pub name_en: String,
    pub max_hours_per_test_week: i64,
}

impl From<equipment::Model> for Equipment {
    fn from(m: equipment::Model) -> Self {
        Self {
            code: m.code,
            name: m.name,
            name_en: m.name_en,
            max_hours_per_test_week: i64::from(m.max_hours_per_test_week),
        }
    }
}

fn equipment_row(code: &str, body: &EquipmentBody) -> AppResult<equipment::ActiveModel> {
    let mut e = Errors::default();
    let code = e.take("code", Code::parse(code)).into_string();
    let name = e.take("name", parse_name(&body.name));
    let name_en = e.take("name_en", parse_name(&body.name_en));
    let max = e.take("max_hours_per_test_week", parse_i32_in(body.max_hours_per_test_week, 1, 168));
    e.finish()?;
    Ok(equipment::ActiveModel {
        code: Set(code),
        name: Set(name),
        name_en: Set(name_en),
        max_hours_per_test_week: Set(max),
    })
}

pub async fn list_equipment<C: ConnectionTrait>(db: &C, page: PageRequest) -> AppResult<ListResponse<Equipment>> {
    let (rows, total) = queries::equipment_page(db, page).await?;
    Ok(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page))
}

pub async fn get_equipment<C: ConnectionTrait>(db: &C, code: &str) -> AppResult<Equipment> {
    Ok(queries::equipment(db, code).await?.ok_or_else(|| AppError::not_found("equipment", code))?.into())
}

pub async fn save_equipment<C: Db>(
    db: &C,
    caller: &crate::domain::access::Caller,
    code: &str,
    body: EquipmentBody,
    replace: bool,
) -> AppResult<Equipment> {
    require(caller, Op::ManageCatalog)?;
    let row = equipment_row(code, &body)?;
    let mut work = Work::begin(db, caller).await?;
    let code = code.trim();
    let before = queries::equipment(work.db(), code).await?.map(Equipment::from);
    let saved = records::save(&mut work, EQUIPMENT, code, before, row, Mode::create_or_replace(replace)).await?;
    work.commit().await?;
    Ok(saved)
}

pub async fn delete_equipment<C: Db>(db: &C, caller: &crate::domain::access::Caller, code: &str) -> AppResult<()> {
    require(caller, Op::ManageCatalog)?;
    let mut work = Work::begin(db, caller).await?;
    let before = queries::equipment(work.db(), code).await?.ok_or_else(|| AppError::not_found("equipment", code))?;
    queries::delete_equipment(work.db(), code).await?;
    work.audit("delete", "equipment", code, snapshot(&Equipment::from(before)), None);
    work.commit().await
}

// ---- test types ----

/// A kind of test: the standard it follows, the equipment it needs and for how long.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestType {
    pub code: String,
    /// The standard, e.g. `UNECE R10`
    pub standard: String,
    pub name: String,
    pub name_en: String,
    /// Equipment class code
    pub equipment: String,
    /// Equipment hours one test needs
    pub hours: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestTypeBody {
    pub standard: String,
    pub name: String,
    pub name_en: String,
    pub equipment: String,
    pub hours: i64,
}

impl From<test_types::Model> for TestType {
    fn from(m: test_types::Model) -> Self {
        Self {
            code: m.code,
            standard: m.standard,
            name: m.name,
            name_en: m.name_en,
            equipment: m.equipment,
            hours: i64::from(m.hours),
        }
    }
}

async fn test_type_row<C: ConnectionTrait>(
    db: &C,
    code: &str,
    body: &TestTypeBody,
) -> AppResult<test_types::ActiveModel> {
    let mut e = Errors::default();
    let code = e.take("code", Code::parse(code)).into_string();
    let standard = e.take("standard", parse_name(&body.standard));
    let name = e.take("name", parse_name(&body.name));
    let name_en = e.take("name_en", parse_name(&body.name_en));
    let hours = e.take("hours", parse_i32_in(body.hours, 1, 10_000));
    let equipment_code = e.take("equipment", Code::parse(&body.equipment)).into_string();
    if !equipment_code.is_empty() && queries::equipment(db, &equipment_code).await?.is_none() {
        e.push("equipment", Msg::Unknown(Kind::Equipment, equipment_code.clone()));
    }
    e.finish()?;
    Ok(test_types::ActiveModel {
        code: Set(code),
        standard: Set(standard),
        name: Set(name),
        name_en: Set(name_en),
        equipment: Set(equipment_code),
        hours: Set(hours),
    })
}

pub async fn list_test_types<C: ConnectionTrait>(
    db: &C,
    equipment: Option<&str>,
    page: PageRequest,
) -> AppResult<ListResponse<TestType>> {
    let (rows, total) = queries::test_types_page(db, equipment, page).await?;
    Ok(ListResponse::new(rows.into_iter().map(Into::into).collect(), total, page))
}

pub async fn get_test_type<C: ConnectionTrait>(db: &C, code: &str) -> AppResult<TestType> {
    Ok(queries::test_type(db, code).await?.ok_or_else(|| AppError::not_found("test type", code))?.into())
}

pub async fn save_test_type<C: Db>(
    db: &C,
    caller: &crate::domain::access::Caller,
    code: &str,
    body: TestTypeBody,
    replace: bool,
) -> AppResult<TestType> {
    require(caller, Op::ManageCatalog)?;
    let mut work = Work::begin(db, caller).await?;
    let row = test_type_row(work.db(), code, &body).await?;
    let code = code.trim();
    let before = queries::test_type(work.db(), code).await?.map(TestType::from);
    let saved = records::save(&mut work, TEST_TYPE, code, before, row, Mode::create_or_replace(replace)).await?;
    work.commit().await?;
    Ok(saved)
}

pub async fn delete_test_type<C: Db>(db: &C, caller: &crate::domain::access::Caller, code: &str) -> AppResult<()> {
    require(caller, Op::ManageCatalog)?;
    let mut work = Work::begin(db, caller).await?;
    let before = queries::test_type(work.db(), code).await?.ok_or_else(|| AppError::not_found("test type", code))?;
    queries::delete_test_type(work.db(), code).await?;
    work.audit("delete", "test_type", code, snapshot(&TestType::from(before)), None);
    work.commit().await
}

/// The whole catalog with labs and companies, for pages that name things.
pub async fn load<C: ConnectionTrait>(db: &C) -> AppResult<queries::Catalog> {
    Ok(queries::Catalog::load(db).await?)
}
