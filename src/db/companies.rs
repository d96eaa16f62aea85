//! Companies that file requests.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::fetch_page;
use crate::domain::access::Caller;
use crate::domain::paging::PageRequest;
use crate::entities::companies;

/// Companies the caller may see (a company user its own) of a region, if given.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    region: Option<&str>,
    page: PageRequest,
) -> Result<(Vec<companies::Model>, u64), DbErr> {
    let mut select = companies::Entity::find().order_by_asc(companies::Column::Id);
    if let Some(own) = caller.own_company() {
        select = select.filter(companies::Column::Id.eq(own.as_str()));
    }
    if let Some(region) = region {
        select = select.filter(companies::Column::Region.eq(region));
    }
    fetch_page(db, select, page).await
}

pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<companies::Model>, DbErr> {
    companies::Entity::find_by_id(id).one(db).await
}

pub async fn find_by_inn<C: ConnectionTrait>(db: &C, inn: &str) -> Result<Vec<companies::Model>, DbErr> {
    companies::Entity::find().filter(companies::Column::Inn.eq(inn)).all(db).await
}
