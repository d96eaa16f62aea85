//! Queries on test requests and their excluded labs.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::fetch_page;
use crate::auth::Caller;
use crate::domain::request::{RequestFields, RequestStatus};
use crate::entities::{companies, labs, request_excluded_labs, test_requests, test_types};
use crate::http::error::FieldError;
use crate::http::pagination::Page;

/// A request with the labs its company will not use.
#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub row: test_requests::Model,
    pub excluded_labs: Vec<String>,
}

#[derive(Debug, Default, Clone)]
pub struct RequestFilter {
    pub company: Option<String>,
    pub status: Option<RequestStatus>,
    pub test_type: Option<String>,
    pub equipment: Option<String>,
    pub region: Option<String>,
}

/// The references a filing names must exist; each missing one is reported against its field.
pub async fn check_references<C: ConnectionTrait>(db: &C, fields: &RequestFields) -> Result<Vec<FieldError>, DbErr> {
    let mut errors = Vec::new();
    if companies::Entity::find_by_id(fields.company.as_str()).one(db).await?.is_none() {
        errors.push(FieldError::new("company", format!("unknown company '{}'", fields.company)));
    }
    if test_types::Entity::find_by_id(fields.test_type.as_str()).one(db).await?.is_none() {
        errors.push(FieldError::new("test_type", format!("unknown test type '{}'", fields.test_type)));
    }
    if !fields.excluded_labs.is_empty() {
        let known: Vec<String> = labs::Entity::find()
            .select_only()
            .column(labs::Column::Id)
            .filter(labs::Column::Id.is_in(fields.excluded_labs.iter().map(|c| c.as_str())))
            .into_tuple()
            .all(db)
            .await?;
        for (i, lab) in fields.excluded_labs.iter().enumerate() {
            if !known.iter().any(|k| k == lab.as_str()) {
                errors.push(FieldError::new(format!("excluded_labs[{i}]"), format!("unknown lab '{lab}'")));
            }
        }
    }
    Ok(errors)
}

pub async fn find<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<StoredRequest>, DbErr> {
    let Some(row) = test_requests::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let mut excluded = excluded_labs_of(db, std::slice::from_ref(&row.id)).await?;
    Ok(Some(StoredRequest { excluded_labs: excluded.remove(&row.id).unwrap_or_default(), row }))
}

/// A request as its caller may see it: a company user's lookups of another company's
/// request find nothing, exactly like an unknown id.
pub async fn find_visible<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    id: &str,
) -> Result<Option<StoredRequest>, DbErr> {
    Ok(find(db, id).await?.filter(|r| caller.sees_company(&r.row.company)))
}

/// Lists requests visible to `caller` that match `filter`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    filter: &RequestFilter,
    page: Page,
) -> Result<(Vec<StoredRequest>, u64), DbErr> {
    let mut select = test_requests::Entity::find().order_by_asc(test_requests::Column::Id);
    if let Some(own) = caller.own_company() {
        select = select.filter(test_requests::Column::Company.eq(own));
    }
    if let Some(company) = &filter.company {
        select = select.filter(test_requests::Column::Company.eq(company.as_str()));
    }
    if let Some(status) = filter.status {
        select = select.filter(test_requests::Column::Status.eq(status.as_str()));
    }
    if let Some(test_type) = &filter.test_type {
        select = select.filter(test_requests::Column::TestType.eq(test_type.as_str()));
    }
    if let Some(equipment) = &filter.equipment {
        select = select.filter(
            test_requests::Column::TestType.in_subquery(
                Query::select()
                    .column(test_types::Column::Code)
                    .from(test_types::Entity)
                    .and_where(Expr::col(test_types::Column::Equipment).eq(equipment.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(region) = &filter.region {
        select = select.filter(
            test_requests::Column::Company.in_subquery(
                Query::select()
                    .column(companies::Column::Id)
                    .from(companies::Entity)
                    .and_where(Expr::col(companies::Column::Region).eq(region.as_str()))
                    .to_owned(),
            ),
        );
    }
    let (rows, total) = fetch_page(db, select, page).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut excluded = excluded_labs_of(db, &ids).await?;
    let items = rows
        .into_iter()
        .map(|row| StoredRequest { excluded_labs: excluded.remove(&row.id).unwrap_or_default(), row })
        .collect();
    Ok((items, total))
}

/// Excluded labs of many requests in one query.
async fn excluded_labs_of<C: ConnectionTrait>(db: &C, ids: &[String]) -> Result<HashMap<String, Vec<String>>, DbErr> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(map);
    }
    let rows = request_excluded_labs::Entity::find()
        .filter(request_excluded_labs::Column::Request.is_in(ids.iter().map(String::as_str)))
        .order_by_asc(request_excluded_labs::Column::Lab)
        .all(db)
        .await?;
    for row in rows {
        map.entry(row.request).or_default().push(row.lab);
    }
    Ok(map)
}

pub async fn insert<C: ConnectionTrait>(db: &C, id: String, fields: &RequestFields) -> Result<StoredRequest, DbErr> {
    let now = chrono::Utc::now();
    let row = test_requests::ActiveModel {
        id: Set(id),
        company: Set(fields.company.to_string()),
        test_type: Set(fields.test_type.to_string()),
        samples: Set(fields.samples),
        ready_date: Set(fields.ready_date),
        due_date: Set(fields.due_date),
        priority: Set(fields.priority),
        external_ref: Set(fields.external_ref.clone()),
        notes: Set(fields.notes.clone()),
        status: Set(RequestStatus::Submitted.as_str().to_string()),
        status_reason: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        planned_lab: Set(None),
        planned_start: Set(None),
        planned_end: Set(None),
    }
    .insert(db)
    .await?;
    replace_excluded_labs(db, &row.id, fields).await?;
    Ok(StoredRequest { excluded_labs: sorted_codes(fields), row })
}

/// Writes new field values if the stored version is still `expected_version`; `None` when it
/// is not (someone else changed the request first).
pub async fn update_if_version<C: ConnectionTrait>(
    db: &C,
    id: &str,
    expected_version: i32,
    fields: &RequestFields,
    status: RequestStatus,
    status_reason: Option<String>,
) -> Result<Option<StoredRequest>, DbErr> {
    let result = test_requests::Entity::update_many()
        .col_expr(test_requests::Column::TestType, Expr::value(fields.test_type.to_string()))
        .col_expr(test_requests::Column::Samples, Expr::value(fields.samples))
        .col_expr(test_requests::Column::ReadyDate, Expr::value(fields.ready_date))
        .col_expr(test_requests::Column::DueDate, Expr::value(fields.due_date))
        .col_expr(test_requests::Column::Priority, Expr::value(fields.priority))
        .col_expr(test_requests::Column::ExternalRef, Expr::value(fields.external_ref.clone()))
        .col_expr(test_requests::Column::Notes, Expr::value(fields.notes.clone()))
        .col_expr(test_requests::Column::Status, Expr::value(status.as_str()))
        .col_expr(test_requests::Column::StatusReason, Expr::value(status_reason))
        .col_expr(test_requests::Column::Version, Expr::value(expected_version + 1))
        .col_expr(test_requests::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .col_expr(test_requests::Column::PlannedLab, Expr::value(Option::<String>::None))
        .col_expr(test_requests::Column::PlannedStart, Expr::value(Option::<chrono::NaiveDate>::None))
        .col_expr(test_requests::Column::PlannedEnd, Expr::value(Option::<chrono::NaiveDate>::None))
        .filter(test_requests::Column::Id.eq(id))
        .filter(test_requests::Column::Version.eq(expected_version))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Ok(None);
    }
    replace_excluded_labs(db, id, fields).await?;
    find(db, id).await
}

/// Moves a request to `status` (a cancel) if it is still at `expected_version`; None if it
/// has changed since. The published plan's placement no longer applies to it.
pub async fn set_status_if_version<C: ConnectionTrait>(
    db: &C,
    id: &str,
    expected_version: i32,
    status: RequestStatus,
    status_reason: Option<String>,
) -> Result<Option<StoredRequest>, DbErr> {
    let result = test_requests::Entity::update_many()
        .col_expr(test_requests::Column::Status, Expr::value(status.as_str()))
        .col_expr(test_requests::Column::StatusReason, Expr::value(status_reason))
        .col_expr(test_requests::Column::Version, Expr::value(expected_version + 1))
        .col_expr(test_requests::Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .col_expr(test_requests::Column::PlannedLab, Expr::value(Option::<String>::None))
        .col_expr(test_requests::Column::PlannedStart, Expr::value(Option::<chrono::NaiveDate>::None))
        .col_expr(test_requests::Column::PlannedEnd, Expr::value(Option::<chrono::NaiveDate>::None))
        .filter(test_requests::Column::Id.eq(id))
        .filter(test_requests::Column::Version.eq(expected_version))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Ok(None);
    }
    find(db, id).await
}

async fn replace_excluded_labs<C: ConnectionTrait>(db: &C, id: &str, fields: &RequestFields) -> Result<(), DbErr> {
    request_excluded_labs::Entity::delete_many().filter(request_excluded_labs::Column::Request.eq(id)).exec(db).await?;
    if fields.excluded_labs.is_empty() {
        return Ok(());
    }
    request_excluded_labs::Entity::insert_many(
        fields
            .excluded_labs
            .iter()
            .map(|lab| request_excluded_labs::ActiveModel { request: Set(id.to_string()), lab: Set(lab.to_string()) }),
    )
    .exec(db)
    .await?;
    Ok(())
}

fn sorted_codes(fields: &RequestFields) -> Vec<String> {
    let mut codes: Vec<String> = fields.excluded_labs.iter().map(ToString::to_string).collect();
    codes.sort();
    codes
}
