//! Labs, their accreditation scope, weekly capacity and capacity overrides.

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::fetch_page;
use crate::domain::paging::PageRequest;
use crate::entities::{accreditations, capacities, capacity_overrides, labs};

#[derive(Debug, Default, Clone)]
pub struct LabFilter {
    pub region: Option<String>,
    pub test_type: Option<String>,
    pub equipment: Option<String>,
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &LabFilter,
    page: PageRequest,
) -> Result<(Vec<labs::Model>, u64), DbErr> {
    let mut select = labs::Entity::find().order_by_asc(labs::Column::Id);
    if let Some(region) = &filter.region {
        select = select.filter(labs::Column::Region.eq(region.as_str()));
    }
    if let Some(test_type) = &filter.test_type {
        select = select.filter(
            labs::Column::Id.in_subquery(
                Query::select()
                    .column(accreditations::Column::Lab)
                    .from(accreditations::Entity)
                    .and_where(Expr::col(accreditations::Column::TestType).eq(test_type.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(eq) = &filter.equipment {
        select = select.filter(
            labs::Column::Id.in_subquery(
                Query::select()
                    .column(capacities::Column::Lab)
                    .from(capacities::Entity)
                    .and_where(Expr::col(capacities::Column::Equipment).eq(eq.as_str()))
                    .to_owned(),
            ),
        );
    }
    fetch_page(db, select, page).await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<labs::Model>, DbErr> {
    labs::Entity::find_by_id(id).one(db).await
}

pub async fn delete<C: ConnectionTrait>(db: &C, id: &str) -> Result<u64, DbErr> {
    Ok(labs::Entity::delete_by_id(id).exec(db).await?.rows_affected)
}

// ---- accreditation scope ----

pub async fn accreditations_page<C: ConnectionTrait>(
    db: &C,
    lab: &str,
    page: PageRequest,
) -> Result<(Vec<accreditations::Model>, u64), DbErr> {
    let select = accreditations::Entity::find()
        .filter(accreditations::Column::Lab.eq(lab))
        .order_by_asc(accreditations::Column::TestType);
    fetch_page(db, select, page).await
}

pub async fn accreditation<C: ConnectionTrait>(
    db: &C,
    lab: &str,
    test_type: &str,
) -> Result<Option<accreditations::Model>, DbErr> {
    accreditations::Entity::find_by_id((lab.to_string(), test_type.to_string())).one(db).await
}

pub async fn delete_accreditation<C: ConnectionTrait>(db: &C, lab: &str, test_type: &str) -> Result<u64, DbErr> {
    Ok(accreditations::Entity::delete_by_id((lab.to_string(), test_type.to_string())).exec(db).await?.rows_affected)
}

/// Scope entries valid from `on` or earlier, of every lab.
pub async fn accreditations_from<C: ConnectionTrait>(
    db: &C,
    on: NaiveDate,
) -> Result<Vec<accreditations::Model>, DbErr> {
    accreditations::Entity::find()
        .filter(accreditations::Column::ValidFrom.lte(on))
        .order_by_asc(accreditations::Column::TestType)
        .all(db)
        .await
}

// ---- capacity ----

/// The base capacity of one lab, or of every lab.
pub async fn capacities<C: ConnectionTrait>(db: &C, lab: Option<&str>) -> Result<Vec<capacities::Model>, DbErr> {
    let mut select =
        capacities::Entity::find().order_by_asc(capacities::Column::Lab).order_by_asc(capacities::Column::Equipment);
    if let Some(lab) = lab {
        select = select.filter(capacities::Column::Lab.eq(lab));
    }
    select.all(db).await
}

pub async fn capacity<C: ConnectionTrait>(
    db: &C,
    lab: &str,
    equipment: &str,
) -> Result<Option<capacities::Model>, DbErr> {
    capacities::Entity::find_by_id((lab.to_string(), equipment.to_string())).one(db).await
}

pub async fn delete_capacity<C: ConnectionTrait>(db: &C, lab: &str, equipment: &str) -> Result<u64, DbErr> {
    Ok(capacities::Entity::delete_by_id((lab.to_string(), equipment.to_string())).exec(db).await?.rows_affected)
}

// ---- capacity overrides ----

#[derive(Debug, Default, Clone)]
pub struct OverrideFilter {
    pub lab: Option<String>,
    pub equipment: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

fn overrides_select(filter: &OverrideFilter) -> sea_orm::Select<capacity_overrides::Entity> {
    let mut select = capacity_overrides::Entity::find()
        .order_by_asc(capacity_overrides::Column::WeekStart)
        .order_by_asc(capacity_overrides::Column::Equipment)
        .order_by_asc(capacity_overrides::Column::Lab);
    if let Some(lab) = &filter.lab {
        select = select.filter(capacity_overrides::Column::Lab.eq(lab.as_str()));
    }
    if let Some(eq) = &filter.equipment {
        select = select.filter(capacity_overrides::Column::Equipment.eq(eq.as_str()));
    }
    if let Some(from) = filter.from {
        select = select.filter(capacity_overrides::Column::WeekStart.gte(from));
    }
    if let Some(to) = filter.to {
        select = select.filter(capacity_overrides::Column::WeekStart.lte(to));
    }
    select
}

pub async fn overrides_page<C: ConnectionTrait>(
    db: &C,
    filter: &OverrideFilter,
    page: PageRequest,
) -> Result<(Vec<capacity_overrides::Model>, u64), DbErr> {
    fetch_page(db, overrides_select(filter), page).await
}

pub async fn overrides<C: ConnectionTrait>(
    db: &C,
    filter: &OverrideFilter,
) -> Result<Vec<capacity_overrides::Model>, DbErr> {
    overrides_select(filter).all(db).await
}

pub async fn capacity_override<C: ConnectionTrait>(
    db: &C,
    lab: &str,
    equipment: &str,
    week_start: NaiveDate,
) -> Result<Option<capacity_overrides::Model>, DbErr> {
    capacity_overrides::Entity::find_by_id((lab.to_string(), equipment.to_string(), week_start)).one(db).await
}

pub async fn delete_override<C: ConnectionTrait>(
    db: &C,
    lab: &str,
    equipment: &str,
    week_start: NaiveDate,
) -> Result<u64, DbErr> {
    Ok(capacity_overrides::Entity::delete_by_id((lab.to_string(), equipment.to_string(), week_start))
        .exec(db)
        .await?
        .rows_affected)
}
