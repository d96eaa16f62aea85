//! Registry ids such as `R01301`, handed out from a counter row inside the caller's transaction.

use sea_orm::{ConnectionTrait, DbErr, Statement};

pub const REQUEST_SEQUENCE: &str = "test_request";

/// Takes the next value of `name`, creating the counter on first use.
pub async fn next_value<C: ConnectionTrait>(db: &C, name: &str) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    // The UPDATE takes the row (or, on SQLite, the database) write lock first, so two
    // concurrent callers are serialized rather than both reading the same value.
    let bumped = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "UPDATE id_sequences SET last_value = last_value + 1 WHERE name = $1 RETURNING last_value",
            [name.into()],
        ))
        .await?;
    if let Some(row) = bumped {
        return row.try_get_by_index::<i64>(0);
    }
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        "INSERT INTO id_sequences (name, last_value) VALUES ($1, 1)",
        [name.into()],
    ))
    .await?;
    Ok(1)
}

/// Makes sure the counter is at least `value` (after loading rows with their own ids).
pub async fn raise_to<C: ConnectionTrait>(db: &C, name: &str, value: i64) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let updated = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "UPDATE id_sequences SET last_value = CASE WHEN last_value < $1 THEN $1 ELSE last_value END WHERE name = $2",
            [value.into(), name.into()],
        ))
        .await?;
    if updated.rows_affected() == 0 {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO id_sequences (name, last_value) VALUES ($2, $1)",
            [value.into(), name.into()],
        ))
        .await?;
    }
    Ok(())
}

pub fn format_request_id(n: i64) -> String {
    format!("R{n:05}")
}

/// The number in an id like `R00042`, if it has that shape.
pub fn parse_request_number(id: &str) -> Option<i64> {
    id.strip_prefix('R').filter(|digits| digits.chars().all(|c| c.is_ascii_digit())).and_then(|d| d.parse().ok())
}
