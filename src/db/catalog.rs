//! The catalog: regions and their distances, equipment classes, test types; and the
//! whole registry's reference rows at once, for pages that name things.

use std::collections::BTreeMap;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::fetch_page;
use crate::domain::paging::PageRequest;
use crate::entities::{companies, equipment, labs, region_distances, regions, test_types};

pub async fn regions_page<C: ConnectionTrait>(db: &C, page: PageRequest) -> Result<(Vec<regions::Model>, u64), DbErr> {
    fetch_page(db, regions::Entity::find().order_by_asc(regions::Column::Code), page).await
}

pub async fn region<C: ConnectionTrait>(db: &C, code: &str) -> Result<Option<regions::Model>, DbErr> {
    regions::Entity::find_by_id(code).one(db).await
}

pub async fn equipment_page<C: ConnectionTrait>(
    db: &C,
    page: PageRequest,
) -> Result<(Vec<equipment::Model>, u64), DbErr> {
    fetch_page(db, equipment::Entity::find().order_by_asc(equipment::Column::Code), page).await
}

pub async fn equipment<C: ConnectionTrait>(db: &C, code: &str) -> Result<Option<equipment::Model>, DbErr> {
    equipment::Entity::find_by_id(code).one(db).await
}

pub async fn test_types_page<C: ConnectionTrait>(
    db: &C,
    equipment: Option<&str>,
    page: PageRequest,
) -> Result<(Vec<test_types::Model>, u64), DbErr> {
    let mut select = test_types::Entity::find().order_by_asc(test_types::Column::Code);
    if let Some(eq) = equipment {
        select = select.filter(test_types::Column::Equipment.eq(eq));
    }
    fetch_page(db, select, page).await
}

pub async fn test_type<C: ConnectionTrait>(db: &C, code: &str) -> Result<Option<test_types::Model>, DbErr> {
    test_types::Entity::find_by_id(code).one(db).await
}

pub async fn delete_region<C: ConnectionTrait>(db: &C, code: &str) -> Result<u64, DbErr> {
    Ok(regions::Entity::delete_by_id(code).exec(db).await?.rows_affected)
}

pub async fn delete_equipment<C: ConnectionTrait>(db: &C, code: &str) -> Result<u64, DbErr> {
    Ok(equipment::Entity::delete_by_id(code).exec(db).await?.rows_affected)
}

pub async fn delete_test_type<C: ConnectionTrait>(db: &C, code: &str) -> Result<u64, DbErr> {
    Ok(test_types::Entity::delete_by_id(code).exec(db).await?.rows_affected)
}

pub async fn distances<C: ConnectionTrait>(db: &C) -> Result<Vec<region_distances::Model>, DbErr> {
    region_distances::Entity::find().all(db).await
}

/// The registry's reference rows, each by its code.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    pub test_types: BTreeMap<String, test_types::Model>,
    pub equipment: BTreeMap<String, equipment::Model>,
    pub labs: BTreeMap<String, labs::Model>,
    pub regions: BTreeMap<String, regions::Model>,
    pub companies: BTreeMap<String, companies::Model>,
}

impl Catalog {
    pub async fn load<C: ConnectionTrait>(db: &C) -> Result<Self, DbErr> {
        Ok(Self {
            test_types: test_types::Entity::find().all(db).await?.into_iter().map(|m| (m.code.clone(), m)).collect(),
            equipment: equipment::Entity::find().all(db).await?.into_iter().map(|m| (m.code.clone(), m)).collect(),
            labs: labs::Entity::find().all(db).await?.into_iter().map(|m| (m.id.clone(), m)).collect(),
            regions: regions::Entity::find().all(db).await?.into_iter().map(|m| (m.code.clone(), m)).collect(),
            companies: companies::Entity::find().all(db).await?.into_iter().map(|m| (m.id.clone(), m)).collect(),
        })
    }

    /// Weeks a test of this type takes at best: its hours at the most one test may use the
    /// equipment in a week (a lab with fewer base hours takes longer).
    pub fn typical_weeks(&self, code: &str) -> Option<u64> {
        let test = self.test_types.get(code)?;
        let rate = self.equipment.get(&test.equipment)?.max_hours_per_test_week.max(1);
        let (hours, rate) = (u64::try_from(test.hours).ok()?, u64::try_from(rate).ok()?);
        Some(hours.div_ceil(rate))
    }
}

/// Rows of a data set: inserted, or brought up to date where the key exists.
pub async fn upsert<C, A, I>(db: &C, rows: I, on_conflict: OnConflict) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    A: ActiveModelTrait + Clone + Send,
    I: IntoIterator<Item = A>,
{
    let rows: Vec<A> = rows.into_iter().collect();
    for chunk in rows.chunks(super::BATCH) {
        <A::Entity as EntityTrait>::insert_many(chunk.to_vec())
            .on_conflict(on_conflict.clone())
            .try_insert()
            .exec(db)
            .await?;
    }
    Ok(())
}
