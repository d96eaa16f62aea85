//! The counts of requests the database keeps (migration `create_request_tallies`): read
//! without touching `test_requests`, and folded from their insert-only delta. A read
//! adds the unfolded delta to the folded tallies, so it is exact at any moment.

use chrono::{Datelike, Duration, NaiveDate};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, Value};

use crate::domain::status::RequestStatus;

/// Open requests of one region (the company's) and test type.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct DemandCount {
    pub region: String,
    pub test_type: String,
    pub n: i64,
}

/// Requests of one region, test type and status filed on one day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, FromQueryResult)]
pub struct FilingCount {
    pub region: String,
    pub test_type: String,
    pub status: String,
    pub filed_on: NaiveDate,
    pub n: i64,
}

/// The Monday of `date`'s week: the tallies name weeks by it.
pub fn week_of(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// Which open requests count as demand: in `statuses`, ready before `ready_before` (a
/// Monday), and due in the weeks from `due_from` to `due_to` (any day of them).
pub struct DemandFilter<'a> {
    pub statuses: &'a [RequestStatus],
    pub ready_before: NaiveDate,
    pub due_from: Option<NaiveDate>,
    pub due_to: Option<NaiveDate>,
}

pub async fn demand<C: ConnectionTrait>(db: &C, f: &DemandFilter<'_>) -> Result<Vec<DemandCount>, DbErr> {
    let mut values: Vec<Value> = f.statuses.iter().map(|s| s.as_str().into()).collect();
    let statuses = placeholders(1, values.len());
    values.push(week_of(f.ready_before).into());
    let mut sql = format!(
        "SELECT region, test_type, CAST(SUM(n) AS BIGINT) AS n FROM ( \
           SELECT region, test_type, status, ready_week, due_week, n FROM demand_tally \
           UNION ALL SELECT region, test_type, status, ready_week, due_week, n FROM request_tally_delta) t \
         WHERE status IN ({statuses}) AND ready_week < ${}",
        values.len()
    );
    if let Some(from) = f.due_from {
        values.push(week_of(from).into());
        sql.push_str(&format!(" AND due_week >= ${}", values.len()));
    }
    if let Some(to) = f.due_to {
        values.push(week_of(to).into());
        sql.push_str(&format!(" AND due_week <= ${}", values.len()));
    }
    sql.push_str(" GROUP BY region, test_type HAVING SUM(n) <> 0 ORDER BY region, test_type");
    DemandCount::find_by_statement(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).all(db).await
}

/// Requests filed from `from` to `to` (days, both counted), by region, test type,
/// status and day.
pub async fn filings<C: ConnectionTrait>(
    db: &C,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<FilingCount>, DbErr> {
    let mut values: Vec<Value> = Vec::new();
    let mut sql = String::from(
        "SELECT region, test_type, status, filed_on, CAST(SUM(n) AS BIGINT) AS n FROM ( \
           SELECT region, test_type, status, filed_on, n FROM filing_tally \
           UNION ALL SELECT region, test_type, status, filed_on, n FROM request_tally_delta) t WHERE 1 = 1",
    );
    if let Some(from) = from {
        values.push(from.into());
        sql.push_str(&format!(" AND filed_on >= ${}", values.len()));
    }
    if let Some(to) = to {
        values.push(to.into());
        sql.push_str(&format!(" AND filed_on <= ${}", values.len()));
    }
    sql.push_str(
        " GROUP BY region, test_type, status, filed_on HAVING SUM(n) <> 0 ORDER BY region, test_type, status, filed_on",
    );
    FilingCount::find_by_statement(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).all(db).await
}

/// Which requests a tally-kept count is of: a status, test type, equipment class, company
/// region and company, each optional. The tallies keep a company's counts by test type
/// and status only: a count of a company that also names a region or an equipment class
/// is not kept (see [`count_expr`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountOf<'a> {
    pub status: Option<RequestStatus>,
    pub test_type: Option<&'a str>,
    pub equipment: Option<&'a str>,
    pub region: Option<&'a str>,
    pub company: Option<&'a str>,
}

impl CountOf<'_> {
    /// Whether the tallies keep this count.
    pub fn is_kept(&self) -> bool {
        self.company.is_none() || (self.region.is_none() && self.equipment.is_none())
    }
}

/// What `total_tally` and `company_tally` write for "any region", "any test type" or
/// "any status" (no code is `*`).
const ANY: &str = "*";

/// The eight ways a total can be asked for (each of region, test type and status given
/// or not), as rows a fold crosses the delta with.
const TOTAL_GROUPINGS: &str = "(SELECT 0 AS by_region, 0 AS by_test_type, 0 AS by_status \
    UNION ALL SELECT 0, 0, 1 UNION ALL SELECT 0, 1, 0 UNION ALL SELECT 0, 1, 1 UNION ALL SELECT 1, 0, 0 \
    UNION ALL SELECT 1, 0, 1 UNION ALL SELECT 1, 1, 0 UNION ALL SELECT 1, 1, 1) g";

/// The columns of `total_tally` for the delta rows `d` crossed with [`TOTAL_GROUPINGS`].
const TOTAL_KEY: &str = "CASE WHEN g.by_region = 1 THEN d.region ELSE '*' END AS region, \
    CASE WHEN g.by_test_type = 1 THEN d.test_type ELSE '*' END AS test_type, \
    CASE WHEN g.by_status = 1 THEN d.status ELSE '*' END AS status";

/// The four ways a company's count can be asked for (test type and status given or
/// not), as rows a fold crosses the delta with.
const COMPANY_GROUPINGS: &str = "(SELECT 0 AS by_test_type, 0 AS by_status \
    UNION ALL SELECT 0, 1 UNION ALL SELECT 1, 0 UNION ALL SELECT 1, 1) g";

/// The columns of `company_tally` for the delta rows `d` crossed with
/// [`COMPANY_GROUPINGS`]. Delta rows written before the delta named companies (`''`) are
/// left out: the migration that made `company_tally` counted their requests already.
const COMPANY_KEY: &str = "d.company, \
    CASE WHEN g.by_test_type = 1 THEN d.test_type ELSE '*' END AS test_type, \
    CASE WHEN g.by_status = 1 THEN d.status ELSE '*' END AS status";

/// How many requests `of` covers, as a scalar subquery another query can select (a
/// list's total beside its page, in the same statement): one row of `total_tally` (a
/// few with an equipment class, one per test type of it) or of `company_tally`, and the
/// unfolded delta. None when the tallies do not keep such a count
/// ([`CountOf::is_kept`]). Its placeholders are the backend's own (sea-query reads `$n`
/// on PostgreSQL and `?` elsewhere).
pub fn count_expr(of: CountOf<'_>, backend: DbBackend) -> Option<Expr> {
    if !of.is_kept() {
        return None;
    }
    // Conditions name their value `{}`. The tally names what is not asked for by `*`;
    // the delta holds only real codes.
    let mut tally: Vec<(String, Option<Value>)> = Vec::new();
    let mut delta: Vec<(String, Option<Value>)> = vec![("1 = 1".to_string(), None)];
    let status = of.status.map(|s| s.as_str());
    let (table, columns) = match of.company {
        Some(company) => {
            tally.push(("company = {}".to_string(), Some(company.into())));
            delta.push(("company = {}".to_string(), Some(company.into())));
            ("company_tally", vec![("test_type", of.test_type), ("status", status)])
        }
        None => ("total_tally", vec![("region", of.region), ("test_type", of.test_type), ("status", status)]),
    };
    for (column, given) in columns {
        match given {
            Some(code) => {
                tally.push((format!("{column} = {{}}"), Some(code.into())));
                delta.push((format!("{column} = {{}}"), Some(code.into())));
            }
            // Per test type of the class: the class is matched below.
            None if column == "test_type" && of.equipment.is_some() => {
                tally.push((format!("{column} <> '{ANY}'"), None));
            }
            None => tally.push((format!("{column} = '{ANY}'"), None)),
        }
    }
    if let Some(equipment) = of.equipment {
        let of_class = "test_type IN (SELECT code FROM test_types WHERE equipment = {})";
        tally.push((of_class.to_string(), Some(equipment.into())));
        delta.push((of_class.to_string(), Some(equipment.into())));
    }
    // Values in the order their marks stand in the statement (SQLite's `?` are taken in
    // that order).
    let mut values: Vec<Value> = Vec::new();
    let mut render = |conditions: Vec<(String, Option<Value>)>| -> String {
        let rendered: Vec<String> = conditions
            .into_iter()
            .map(|(condition, value)| match value {
                Some(value) => {
                    values.push(value);
                    let mark =
                        if backend == DbBackend::Postgres { format!("${}", values.len()) } else { "?".to_string() };
                    condition.replace("{}", &mark)
                }
                None => condition,
            })
            .collect();
        rendered.join(" AND ")
    };
    let (tally, delta) = (render(tally), render(delta));
    let sql = format!(
        "(SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM ( \
           SELECT n FROM {table} WHERE {tally} \
           UNION ALL SELECT n FROM request_tally_delta WHERE {delta}) t)"
    );
    Some(Expr::cust_with_values(sql, values))
}

/// How many requests `of` covers, without counting their rows; None when the tallies
/// do not keep such a count.
pub async fn count<C: ConnectionTrait>(db: &C, of: CountOf<'_>) -> Result<Option<u64>, DbErr> {
    let backend = db.get_database_backend();
    let Some(expr) = count_expr(of, backend) else {
        return Ok(None);
    };
    let query = Query::select().expr(expr).to_owned();
    let row = db.query_one_raw(backend.build(&query)).await?;
    let n: i64 = match row {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(Some(u64::try_from(n).unwrap_or(0)))
}

/// The same counts as [`filings`] (every day), counted afresh from `test_requests`: what
/// the tallies must always equal.
pub async fn recount<C: ConnectionTrait>(db: &C) -> Result<Vec<FilingCount>, DbErr> {
    let filed_on =
        if super::is_postgres(db) { "(r.created_at AT TIME ZONE 'UTC')::date" } else { "date(r.created_at)" };
    let sql = format!(
        "SELECT c.region, r.test_type, r.status, {filed_on} AS filed_on, CAST(COUNT(*) AS BIGINT) AS n \
         FROM test_requests r JOIN companies c ON c.id = r.company \
         GROUP BY c.region, r.test_type, r.status, {filed_on} ORDER BY 1, 2, 3, 4"
    );
    FilingCount::find_by_statement(Statement::from_string(db.get_database_backend(), sql)).all(db).await
}

/// A row of `total_tally`: requests of a region, test type and status, `*` for any.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, FromQueryResult)]
pub struct TotalCount {
    pub region: String,
    pub test_type: String,
    pub status: String,
    pub n: i64,
}

/// The folded rows of `total_tally`, in key order.
pub async fn folded_totals<C: ConnectionTrait>(db: &C) -> Result<Vec<TotalCount>, DbErr> {
    let sql = "SELECT region, test_type, status, n FROM total_tally";
    sorted_rows(db, sql).await
}

/// The same rows as [`folded_totals`], counted afresh from `test_requests`: what the
/// folded totals must equal when nothing is left to fold.
pub async fn recount_totals<C: ConnectionTrait>(db: &C) -> Result<Vec<TotalCount>, DbErr> {
    let sql = format!(
        "SELECT {TOTAL_KEY}, CAST(COUNT(*) AS BIGINT) AS n \
         FROM (SELECT c.region, r.test_type, r.status FROM test_requests r JOIN companies c ON c.id = r.company) d \
         CROSS JOIN {TOTAL_GROUPINGS} GROUP BY 1, 2, 3"
    );
    sorted_rows(db, sql).await
}

/// A row of `company_tally`: a company's requests of a test type and status, `*` for any.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, FromQueryResult)]
pub struct CompanyCount {
    pub company: String,
    pub test_type: String,
    pub status: String,
    pub n: i64,
}

/// The folded rows of `company_tally`, in key order.
pub async fn folded_company_totals<C: ConnectionTrait>(db: &C) -> Result<Vec<CompanyCount>, DbErr> {
    let sql = "SELECT company, test_type, status, n FROM company_tally";
    sorted_rows(db, sql).await
}

/// The same rows as [`folded_company_totals`], counted afresh from `test_requests`.
pub async fn recount_company_totals<C: ConnectionTrait>(db: &C) -> Result<Vec<CompanyCount>, DbErr> {
    let sql = format!(
        "SELECT {COMPANY_KEY}, CAST(COUNT(*) AS BIGINT) AS n \
         FROM test_requests d CROSS JOIN {COMPANY_GROUPINGS} GROUP BY 1, 2, 3"
    );
    sorted_rows(db, sql).await
}

/// The rows `sql` selects, in key order: folded tallies and recounts compare equal
/// whatever order the database returned them in.
async fn sorted_rows<T: FromQueryResult + Ord, C: ConnectionTrait>(
    db: &C,
    sql: impl Into<String>,
) -> Result<Vec<T>, DbErr> {
    let mut rows = T::find_by_statement(Statement::from_string(db.get_database_backend(), sql)).all(db).await?;
    rows.sort();
    Ok(rows)
}

/// Counts every request afresh into the delta, the tallies emptied first: for a
/// registry whose rows were replaced wholesale (a restore).
pub async fn rebuild<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let (week, filed_on) = if super::is_postgres(db) {
        ("date_trunc('week', {})::date", "(r.created_at AT TIME ZONE 'UTC')::date")
    } else {
        ("date({}, 'weekday 0', '-6 days')", "date(r.created_at)")
    };
    for table in ["request_tally_delta", "demand_tally", "filing_tally", "total_tally", "company_tally"] {
        db.execute_unprepared(&format!("DELETE FROM {table}")).await?;
    }
    db.execute_unprepared(&format!(
        "INSERT INTO request_tally_delta (company, region, test_type, status, ready_week, due_week, filed_on, n) \
         SELECT r.company, c.region, r.test_type, r.status, {}, {}, {filed_on}, COUNT(*) \
         FROM test_requests r JOIN companies c ON c.id = r.company GROUP BY 1, 2, 3, 4, 5, 6, 7",
        week.replace("{}", "r.ready_date"),
        week.replace("{}", "r.due_date"),
    ))
    .await?;
    Ok(())
}

/// Moves the delta into the tallies. Safe beside filings and beside another fold: on
/// PostgreSQL one statement deletes the delta rows it folds (a row another fold took
/// first is skipped), on SQLite the fold holds the one write lock.
pub async fn fold<C: super::Db>(db: &C) -> Result<u64, DbErr> {
    // Nothing to fold is the common case: no write lock is taken for it.
    let pending = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT id FROM request_tally_delta LIMIT 1"))
        .await?;
    if pending.is_none() {
        return Ok(0);
    }
    let txn = super::begin(db).await?;
    let backend = txn.get_database_backend();
    let moved = if super::is_postgres(&txn) {
        txn.execute_unprepared(&format!(
            "WITH moved AS (DELETE FROM request_tally_delta \
                 RETURNING company, region, test_type, status, ready_week, due_week, filed_on, n), \
             demand AS (INSERT INTO demand_tally AS t (region, test_type, status, ready_week, due_week, n) \
                 SELECT region, test_type, status, ready_week, due_week, SUM(n) FROM moved GROUP BY 1, 2, 3, 4, 5 \
                 ON CONFLICT (region, test_type, status, ready_week, due_week) DO UPDATE SET n = t.n + EXCLUDED.n \
                 RETURNING 1), \
             totals AS (INSERT INTO total_tally AS t (region, test_type, status, n) \
                 SELECT {TOTAL_KEY}, SUM(d.n) FROM moved d CROSS JOIN {TOTAL_GROUPINGS} GROUP BY 1, 2, 3 \
                 ON CONFLICT (region, test_type, status) DO UPDATE SET n = t.n + EXCLUDED.n \
                 RETURNING 1), \
             companies AS (INSERT INTO company_tally AS t (company, test_type, status, n) \
                 SELECT {COMPANY_KEY}, SUM(d.n) FROM moved d CROSS JOIN {COMPANY_GROUPINGS} \
                 WHERE d.company <> '' GROUP BY 1, 2, 3 \
                 ON CONFLICT (company, test_type, status) DO UPDATE SET n = t.n + EXCLUDED.n \
                 RETURNING 1) \
             INSERT INTO filing_tally AS t (region, test_type, status, filed_on, n) \
                 SELECT region, test_type, status, filed_on, SUM(n) FROM moved GROUP BY 1, 2, 3, 4 \
                 ON CONFLICT (region, test_type, status, filed_on) DO UPDATE SET n = t.n + EXCLUDED.n",
        ))
        .await?
        .rows_affected()
    } else {
        // `WHERE true` keeps SQLite from reading ON CONFLICT as part of the join.
        txn.execute_unprepared(
            "INSERT INTO demand_tally (region, test_type, status, ready_week, due_week, n) \
             SELECT region, test_type, status, ready_week, due_week, SUM(n) FROM request_tally_delta WHERE true \
             GROUP BY 1, 2, 3, 4, 5 \
             ON CONFLICT (region, test_type, status, ready_week, due_week) DO UPDATE SET n = demand_tally.n + excluded.n",
        )
        .await?;
        txn.execute_unprepared(
            "INSERT INTO filing_tally (region, test_type, status, filed_on, n) \
             SELECT region, test_type, status, filed_on, SUM(n) FROM request_tally_delta WHERE true \
             GROUP BY 1, 2, 3, 4 \
             ON CONFLICT (region, test_type, status, filed_on) DO UPDATE SET n = filing_tally.n + excluded.n",
        )
        .await?;
        txn.execute_unprepared(&format!(
            "INSERT INTO total_tally (region, test_type, status, n) \
             SELECT {TOTAL_KEY}, SUM(d.n) FROM request_tally_delta d CROSS JOIN {TOTAL_GROUPINGS} WHERE true \
             GROUP BY 1, 2, 3 \
             ON CONFLICT (region, test_type, status) DO UPDATE SET n = total_tally.n + excluded.n",
        ))
        .await?;
        txn.execute_unprepared(&format!(
            "INSERT INTO company_tally (company, test_type, status, n) \
             SELECT {COMPANY_KEY}, SUM(d.n) FROM request_tally_delta d CROSS JOIN {COMPANY_GROUPINGS} \
             WHERE d.company <> '' GROUP BY 1, 2, 3 \
             ON CONFLICT (company, test_type, status) DO UPDATE SET n = company_tally.n + excluded.n",
        ))
        .await?;
        txn.execute_raw(Statement::from_string(backend, "DELETE FROM request_tally_delta")).await?.rows_affected()
    };
    if moved > 0 {
        txn.execute_unprepared("DELETE FROM demand_tally WHERE n = 0").await?;
        txn.execute_unprepared("DELETE FROM filing_tally WHERE n = 0").await?;
        txn.execute_unprepared("DELETE FROM total_tally WHERE n = 0").await?;
        txn.execute_unprepared("DELETE FROM company_tally WHERE n = 0").await?;
    }
    txn.commit().await?;
    Ok(moved)
}

/// Pages of the delta below which a quiet server leaves them be: reading a few empty
/// pages costs nothing worth a lock.
const DELTA_PAGES_KEPT: i64 = 8;

/// On PostgreSQL, vacuums the delta after a fold. While filings go on (`moved`), the
/// vacuum frees the folded rows' space for the next ones, so the table keeps to about
/// one fold's rows, and leaves its length alone: cutting it takes a lock that every
/// filing's delta row would wait for. Once a fold finds nothing, the empty pages are cut
/// off, whichever server folded the rows.
async fn vacuum_delta(db: &sea_orm::DatabaseConnection, moved: bool) -> Result<(), DbErr> {
    if !super::is_postgres(db) {
        return Ok(());
    }
    if moved {
        db.execute_unprepared("VACUUM (TRUNCATE false) request_tally_delta").await?;
    } else if delta_pages(db).await? > DELTA_PAGES_KEPT {
        db.execute_unprepared("VACUUM request_tally_delta").await?;
    }
    Ok(())
}

/// The pages the delta takes on disk (PostgreSQL).
pub async fn delta_pages<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT pg_relation_size('request_tally_delta') / current_setting('block_size')::bigint",
        ))
        .await?;
    match row {
        Some(row) => row.try_get_by_index(0),
        None => Ok(0),
    }
}

fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// How often a server folds the delta: often enough that reads add few unfolded rows.
pub const FOLD_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Folds every [`FOLD_EVERY`] until `stop`; a failed fold (the database away) is
/// logged and tried again at the next tick, and no figure is wrong meanwhile.
///
/// On PostgreSQL each fold is followed by a VACUUM of the delta ([`vacuum_delta`]). Every
/// count reads the whole delta, and the rows a fold deletes stay in its pages until a
/// vacuum: after a burst of filings the delta held no rows and 445 pages, and reading
/// them took a fifth of the request list's time. Autovacuum would wait for a minute and
/// a fifth of the table's rows at the least, and may be off; vacuuming a table this
/// small is a few milliseconds.
pub async fn keep_folded(db: sea_orm::DatabaseConnection, stop: impl std::future::Future<Output = ()>) {
    let mut tick = tokio::time::interval(FOLD_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {
                match fold(&db).await {
                    Ok(moved) => {
                        if let Err(e) = vacuum_delta(&db, moved > 0).await {
                            tracing::warn!(error = %e, "could not vacuum the request tally delta");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not fold the request tallies; trying again"),
                }
            }
        }
    }
}
