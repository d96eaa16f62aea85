//! Counts of requests kept by the database, so the ministry's figures never read every
//! request. Triggers on `test_requests` (and on a company's region) append signed rows
//! to `request_tally_delta`; nothing is updated in place there, so filings never queue
//! behind one counter row. The application folds the delta into `demand_tally` (by the
//! weeks a request is ready and due) and `filing_tally` (by the day it was filed), and
//! reads the tallies and the unfolded delta together, so a figure is exact whether or
//! not the last fold has run.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: &str = "
CREATE TABLE request_tally_delta (
    id {ID},
    region VARCHAR(16) NOT NULL,
    test_type VARCHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL,
    ready_week DATE NOT NULL,
    due_week DATE NOT NULL,
    filed_on DATE NOT NULL,
    n BIGINT NOT NULL
);
CREATE TABLE demand_tally (
    region VARCHAR(16) NOT NULL,
    test_type VARCHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL,
    ready_week DATE NOT NULL,
    due_week DATE NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (region, test_type, status, ready_week, due_week)
);
CREATE TABLE filing_tally (
    region VARCHAR(16) NOT NULL,
    test_type VARCHAR(64) NOT NULL,
    status VARCHAR(16) NOT NULL,
    filed_on DATE NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (region, test_type, status, filed_on)
);
";

/// PostgreSQL: statement-level triggers over the transition tables, so a publish that
/// changes thousands of statuses in one statement appends a handful of grouped rows.
pub(crate) const POSTGRES_TRIGGERS: &str = "
CREATE FUNCTION tally_inserted_requests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_tally_delta (region, test_type, status, ready_week, due_week, filed_on, n)
    SELECT c.region, r.test_type, r.status, date_trunc('week', r.ready_date)::date,
           date_trunc('week', r.due_date)::date, (r.created_at AT TIME ZONE 'UTC')::date, COUNT(*)
    FROM new_rows r JOIN companies c ON c.id = r.company
    GROUP BY 1, 2, 3, 4, 5, 6;
    RETURN NULL;
END $$;
CREATE FUNCTION tally_deleted_requests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_tally_delta (region, test_type, status, ready_week, due_week, filed_on, n)
    SELECT c.region, r.test_type, r.status, date_trunc('week', r.ready_date)::date,
           date_trunc('week', r.due_date)::date, (r.created_at AT TIME ZONE 'UTC')::date, -COUNT(*)
    FROM old_rows r JOIN companies c ON c.id = r.company
    GROUP BY 1, 2, 3, 4, 5, 6;
    RETURN NULL;
END $$;
CREATE FUNCTION tally_updated_requests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_tally_delta (region, test_type, status, ready_week, due_week, filed_on, n)
    SELECT region, test_type, status, ready_week, due_week, filed_on, SUM(n) FROM (
        SELECT oc.region, o.test_type, o.status, date_trunc('week', o.ready_date)::date AS ready_week,
               date_trunc('week', o.due_date)::date AS due_week, (o.created_at AT TIME ZONE 'UTC')::date AS filed_on,
               -1 AS n
        FROM old_rows o JOIN new_rows w ON w.id = o.id JOIN companies oc ON oc.id = o.company
        WHERE (o.company, o.test_type, o.status, o.ready_date, o.due_date)
              IS DISTINCT FROM (w.company, w.test_type, w.status, w.ready_date, w.due_date)
        UNION ALL
        SELECT wc.region, w.test_type, w.status, date_trunc('week', w.ready_date)::date,
               date_trunc('week', w.due_date)::date, (w.created_at AT TIME ZONE 'UTC')::date, 1
        FROM old_rows o JOIN new_rows w ON w.id = o.id JOIN companies wc ON wc.id = w.company
        WHERE (o.company, o.test_type, o.status, o.ready_date, o.due_date)
              IS DISTINCT FROM (w.company, w.test_type, w.status, w.ready_date, w.due_date)
    ) moved
    GROUP BY 1, 2, 3, 4, 5, 6
    HAVING SUM(n) <> 0;
    RETURN NULL;
END $$;
CREATE FUNCTION tally_moved_company() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_tally_delta (region, test_type, status, ready_week, due_week, filed_on, n)
    SELECT region, test_type, status, date_trunc('week', ready_date)::date, date_trunc('week', due_date)::date,
           (created_at AT TIME ZONE 'UTC')::date, sign * COUNT(*)
    FROM test_requests, (VALUES (OLD.region, -1), (NEW.region, 1)) AS side(region, sign)
    WHERE company = NEW.id
    GROUP BY 1, 2, 3, 4, 5, 6, sign;
    RETURN NULL;
END $$;
CREATE TRIGGER test_requests_tally_insert AFTER INSERT ON test_requests
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_inserted_requests();
CREATE TRIGGER test_requests_tally_delete AFTER DELETE ON test_requests
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_deleted_requests();
CREATE TRIGGER test_requests_tally_update AFTER UPDATE ON test_requests
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tally_updated_requests();
CREATE TRIGGER companies_tally_region AFTER UPDATE OF region ON companies
    FOR EACH ROW WHEN (OLD.region IS DISTINCT FROM NEW.region) EXECUTE FUNCTION tally_moved_company();
";

/// SQLite: row triggers; its dates are `YYYY-MM-DD` text, and a week is named by its
/// Monday.
pub(crate) const SQLITE_TRIGGERS: &str = "
CREATE TRIGGER test_requests_tally_insert AFTER INSERT ON test_requests BEGIN
    INSERT INTO request_tally_delta (region, test_type, status, ready_week, due_week, filed_on, n)
    VALUES ((SELECT region FROM companies WHERE id = NEW.company), NEW.test_type, NEW.status,
            date(NEW.ready_date, 'weekday 0', '-6 days'), date(NEW.due_date, 'weekday 0', '-6 days'),
            date(NEW.created_at), 1);
END;
CREATE TRIGGER test_requests_tally_delete AFTER DELETE ON test_requests BEGIN
    INSERT INTO request_tally_delta (region, test_type, status, ready_week, due_week, filed_on, n)
    VALUES ((SELECT region FROM companies WHERE id = OLD.company), OLD.test_type, OLD.status,
            date(OLD.ready_date, 'weekday 0', '-6 days'), date(OLD.due_date, 'weekday 0', '-6 days'),
            date(OLD.created_at), -1);
END;
CREATE TRIGGER test_requests_tally_update AFTER UPDATE ON test_requests
WHEN OLD.company IS NOT NEW.company OR OLD.test_type IS NOT NEW.test_type OR OLD.status IS NOT NEW.status
     OR OLD.ready_date IS NOT NEW.ready_date OR OLD.due_date IS NOT NEW.due_date BEGIN
    INSERT INTO request_tally_delta (region, test_type, status, ready_week, due_week, filed_on, n)
    VALUES ((SELECT region FROM companies WHERE id = OLD.company), OLD.test_type, OLD.status,
            date(OLD.ready_date, 'weekday 0', '-6 days'), date(OLD.due_date, 'weekday 0', '-6 days'),
            date(OLD.created_at), -1),
           ((SELECT region FROM companies WHERE id = NEW.company), NEW.test_type, NEW.status,
            date(NEW.ready_date, 'weekday 0', '-6 days'), date(NEW.due_date, 'weekday 0', '-6 days'),
            date(NEW.created_at), 1);
END;
CREATE TRIGGER companies_tally_region AFTER UPDATE OF region ON companies
WHEN OLD.region IS NOT NEW.region BEGIN
    INSERT INTO request_tally_delta (region, test_type, status, ready_week, due_week, filed_on, n)
    SELECT side.region, test_type, status, date(ready_date, 'weekday 0', '-6 days'),
           date(due_date, 'weekday 0', '-6 days'), date(created_at), side.sign * COUNT(*)
    FROM test_requests, (SELECT OLD.region AS region, -1 AS sign UNION ALL SELECT NEW.region, 1) AS side
    WHERE company = NEW.id
    GROUP BY 1, 2, 3, 4, 5, 6, side.sign;
END;
";

/// Runs a script of SQLite triggers, one statement each: a trigger's body holds
/// semicolons, so the script is cut after each `END;`.
pub(crate) async fn execute_sqlite_triggers(db: &SchemaManagerConnection<'_>, script: &str) -> Result<(), DbErr> {
    for trigger in script.split("END;").filter(|s| !s.trim().is_empty()) {
        db.execute_unprepared(&format!("{trigger}END;")).await?;
    }
    Ok(())
}

/// The requests already filed, counted once, as the triggers would have.
const BACKFILL_POSTGRES: &str = "
INSERT INTO request_tally_delta (region, test_type, status, ready_week, due_week, filed_on, n)
SELECT c.region, r.test_type, r.status, date_trunc('week', r.ready_date)::date, date_trunc('week', r.due_date)::date,
       (r.created_at AT TIME ZONE 'UTC')::date, COUNT(*)
FROM test_requests r JOIN companies c ON c.id = r.company
GROUP BY 1, 2, 3, 4, 5, 6
";
const BACKFILL_SQLITE: &str = "
INSERT INTO request_tally_delta (region, test_type, status, ready_week, due_week, filed_on, n)
SELECT c.region, r.test_type, r.status, date(r.ready_date, 'weekday 0', '-6 days'),
       date(r.due_date, 'weekday 0', '-6 days'), date(r.created_at), COUNT(*)
FROM test_requests r JOIN companies c ON c.id = r.company
GROUP BY 1, 2, 3, 4, 5, 6
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = db.get_database_backend() == DbBackend::Postgres;
        let id = if postgres { "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" } else { "INTEGER PRIMARY KEY" };
        for statement in TABLES.replace("{ID}", id).split(';').filter(|s| !s.trim().is_empty()) {
            db.execute_unprepared(statement).await?;
        }
        if postgres {
            // Each function body holds semicolons: PostgreSQL takes the script whole.
            db.execute_unprepared(POSTGRES_TRIGGERS).await?;
            db.execute_unprepared(BACKFILL_POSTGRES).await?;
        } else {
            execute_sqlite_triggers(db, SQLITE_TRIGGERS).await?;
            db.execute_unprepared(BACKFILL_SQLITE).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for trigger in [
            "test_requests_tally_insert ON test_requests",
            "test_requests_tally_delete ON test_requests",
            "test_requests_tally_update ON test_requests",
            "companies_tally_region ON companies",
        ] {
            let statement = if db.get_database_backend() == DbBackend::Postgres {
                format!("DROP TRIGGER IF EXISTS {trigger}")
            } else {
                format!("DROP TRIGGER IF EXISTS {}", trigger.split(' ').next().unwrap_or_default())
            };
            db.execute_unprepared(&statement).await?;
        }
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "DROP FUNCTION IF EXISTS tally_inserted_requests, tally_deleted_requests, tally_updated_requests, \
                 tally_moved_company",
            )
            .await?;
        }
        for table in ["filing_tally", "demand_tally", "request_tally_delta"] {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}")).await?;
        }
        Ok(())
    }
}
