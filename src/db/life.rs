//! A booking's life at its lab after confirmation: each step one conditional update of
//! the booking (it must still be in the state before), and the protocol's PDF.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set, Statement};

use crate::domain::status::BookingStatus;
use crate::entities::{assignments, protocols};

/// Moves booking `id` from `from` to `to`, setting `columns` with it; None when the
/// booking was not in `from` (any more), and then nothing changed.
pub async fn step<C: ConnectionTrait>(
    db: &C,
    id: i64,
    from: &[BookingStatus],
    to: BookingStatus,
    columns: Vec<(assignments::Column, SimpleExpr)>,
) -> Result<Option<assignments::Model>, DbErr> {
    let mut update = assignments::Entity::update_many().col_expr(assignments::Column::Status, Expr::value(to));
    for (column, value) in columns {
        update = update.col_expr(column, value);
    }
    let updated = update
        .filter(assignments::Column::Id.eq(id))
        .filter(assignments::Column::Status.is_in(from.iter().copied()))
        .exec_with_returning(db)
        .await?;
    Ok(updated.into_iter().next())
}

/// Requests whose booking is under way (received, in testing or completed).
pub async fn under_way<C: ConnectionTrait>(db: &C) -> Result<std::collections::HashSet<String>, DbErr> {
    Ok(assignments::Entity::find()
        .select_only()
        .column(assignments::Column::Request)
        .filter(assignments::Column::Status.is_in(BookingStatus::UNDER_WAY))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

pub async fn insert_protocol<C: ConnectionTrait>(
    db: &C,
    assignment: i64,
    file_name: &str,
    content: Vec<u8>,
    sha256: String,
) -> Result<(), DbErr> {
    let size = i64::try_from(content.len()).unwrap_or(i64::MAX);
    protocols::Entity::insert(protocols::ActiveModel {
        assignment: Set(assignment),
        file_name: Set(file_name.to_string()),
        content: Set(content),
        size: Set(size),
        sha256: Set(sha256),
        uploaded_at: Set(chrono::Utc::now()),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// The protocol's particulars without its content.
pub async fn protocol_info<C: ConnectionTrait>(
    db: &C,
    assignment: i64,
) -> Result<Option<(String, i64, String)>, DbErr> {
    protocols::Entity::find_by_id(assignment)
        .select_only()
        .column(protocols::Column::FileName)
        .column(protocols::Column::Size)
        .column(protocols::Column::Sha256)
        .into_tuple::<(String, i64, String)>()
        .one(db)
        .await
}

/// The protocols' file name, size and digest of many bookings, by booking.
pub async fn protocol_infos<C: ConnectionTrait>(
    db: &C,
    assignments: &[i64],
) -> Result<HashMap<i64, (String, i64, String)>, DbErr> {
    let mut found = HashMap::new();
    for chunk in assignments.chunks(super::BATCH) {
        let rows: Vec<(i64, String, i64, String)> = protocols::Entity::find()
            .select_only()
            .column(protocols::Column::Assignment)
            .column(protocols::Column::FileName)
            .column(protocols::Column::Size)
            .column(protocols::Column::Sha256)
            .filter(protocols::Column::Assignment.is_in(chunk.to_vec()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows.into_iter().map(|(id, name, size, sha)| (id, (name, size, sha))));
    }
    Ok(found)
}

/// `len` bytes of a protocol's content from `offset` (counted from 0): a download reads
/// the file a part at a time instead of holding it whole.
pub async fn protocol_chunk<C: ConnectionTrait>(
    db: &C,
    assignment: i64,
    offset: i64,
    len: i64,
) -> Result<Vec<u8>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT substr(content, CAST($2 AS INTEGER), CAST($3 AS INTEGER)) FROM protocols WHERE assignment = $1",
            [assignment.into(), (offset + 1).into(), len.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("protocol of assignment {assignment}")))?;
    row.try_get_by_index::<Vec<u8>>(0)
}
