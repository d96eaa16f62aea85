//! Registry ids such as `R01301`. On PostgreSQL they come from a database sequence, so
//! concurrent filings never wait on one another for an id (a rolled-back filing leaves a
//! gap, which ids may have); on SQLite, which writes one transaction at a time anyway,
//! from a counter row inside the caller's transaction.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

pub const REQUEST_SEQUENCE: &str = "test_request";

/// The PostgreSQL sequence behind a counter's name.
fn sequence_of(name: &str) -> Result<&'static str, DbErr> {
    match name {
        REQUEST_SEQUENCE => Ok("test_request_ids"),
        other => Err(DbErr::Custom(format!("no sequence for '{other}'"))),
    }
}

/// Takes the next value of `name`.
pub async fn next_value<C: ConnectionTrait>(db: &C, name: &str) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        let sql = format!("SELECT nextval('{}')", sequence_of(name)?);
        let row = db.query_one_raw(Statement::from_string(backend, sql)).await?;
        return row.ok_or_else(|| DbErr::Custom("nextval returned nothing".into()))?.try_get_by_index::<i64>(0);
    }
    // The UPDATE takes the database's write lock first, so two callers are serialized
    // rather than both reading the same value.
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

/// Makes sure the next value is above `value` (after loading rows with their own ids).
pub async fn raise_to<C: ConnectionTrait>(db: &C, name: &str, value: i64) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        let sequence = sequence_of(name)?;
        let sql = format!("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}");
        let current = db
            .query_one_raw(Statement::from_string(backend, sql))
            .await?
            .map(|row| row.try_get_by_index::<i64>(0))
            .transpose()?
            .unwrap_or(0);
        if value > current {
            let sql = format!("SELECT setval('{sequence}', $1)");
            db.execute_raw(Statement::from_sql_and_values(backend, sql, [value.into()])).await?;
        }
        return Ok(());
    }
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
