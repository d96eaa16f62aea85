//! A company's requests counted like the rest. A company user's list, and any list
//! filtered by company, showed a total counted row by row: at a million requests that
//! count, not the page, was most of such a list's time. The delta now names each row's
//! company, and `company_tally` holds, per company, the count by test type and status,
//! with `*` standing for "any". The fold keeps it from the same delta.
//!
//! Delta rows written before this migration name no company (`''`); the backfill counts
//! every request already filed, so such rows are left out of the company counts, both
//! when read and when folded. Servers of an earlier version fold without the new table:
//! stop them before the first server of this version starts.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::m20261126_000001_create_request_tallies as earlier;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The earlier functions, now writing the request's company too; their triggers stay.
const POSTGRES_FUNCTIONS: &str = "
CREATE OR REPLACE FUNCTION tally_inserted_requests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_tally_delta (company, region, test_type, status, ready_week, due_week, filed_on, n)
    SELECT r.company, c.region, r.test_type, r.status, date_trunc('week', r.ready_date)::date,
           date_trunc('week', r.due_date)::date, (r.created_at AT TIME ZONE 'UTC')::date, COUNT(*)
    FROM new_rows r JOIN companies c ON c.id = r.company
    GROUP BY 1, 2, 3, 4, 5, 6, 7;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION tally_deleted_requests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_tally_delta (company, region, test_type, status, ready_week, due_week, filed_on, n)
    SELECT r.company, c.region, r.test_type, r.status, date_trunc('week', r.ready_date)::date,
           date_trunc('week', r.due_date)::date, (r.created_at AT TIME ZONE 'UTC')::date, -COUNT(*)
    FROM old_rows r JOIN companies c ON c.id = r.company
    GROUP BY 1, 2, 3, 4, 5, 6, 7;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION tally_updated_requests() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_tally_delta (company, region, test_type, status, ready_week, due_week, filed_on, n)
    SELECT company, region, test_type, status, ready_week, due_week, filed_on, SUM(n) FROM (
        SELECT o.company, oc.region, o.test_type, o.status, date_trunc('week', o.ready_date)::date AS ready_week,
               date_trunc('week', o.due_date)::date AS due_week, (o.created_at AT TIME ZONE 'UTC')::date AS filed_on,
               -1 AS n
        FROM old_rows o JOIN new_rows w ON w.id = o.id JOIN companies oc ON oc.id = o.company
        WHERE (o.company, o.test_type, o.status, o.ready_date, o.due_date)
              IS DISTINCT FROM (w.company, w.test_type, w.status, w.ready_date, w.due_date)
        UNION ALL
        SELECT w.company, wc.region, w.test_type, w.status, date_trunc('week', w.ready_date)::date,
               date_trunc('week', w.due_date)::date, (w.created_at AT TIME ZONE 'UTC')::date, 1
        FROM old_rows o JOIN new_rows w ON w.id = o.id JOIN companies wc ON wc.id = w.company
        WHERE (o.company, o.test_type, o.status, o.ready_date, o.due_date)
              IS DISTINCT FROM (w.company, w.test_type, w.status, w.ready_date, w.due_date)
    ) moved
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    HAVING SUM(n) <> 0;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION tally_moved_company() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO request_tally_delta (company, region, test_type, status, ready_week, due_week, filed_on, n)
    SELECT company, region, test_type, status, date_trunc('week', ready_date)::date,
           date_trunc('week', due_date)::date, (created_at AT TIME ZONE 'UTC')::date, sign * COUNT(*)
    FROM test_requests, (VALUES (OLD.region, -1), (NEW.region, 1)) AS side(region, sign)
    WHERE company = NEW.id
    GROUP BY 1, 2, 3, 4, 5, 6, 7, sign;
    RETURN NULL;
END $$;
";

/// The earlier triggers, now writing the request's company too.
const SQLITE_TRIGGERS: &str = "
CREATE TRIGGER test_requests_tally_insert AFTER INSERT ON test_requests BEGIN
    INSERT INTO request_tally_delta (company, region, test_type, status, ready_week, due_week, filed_on, n)
    VALUES (NEW.company, (SELECT region FROM companies WHERE id = NEW.company), NEW.test_type, NEW.status,
            date(NEW.ready_date, 'weekday 0', '-6 days'), date(NEW.due_date, 'weekday 0', '-6 days'),
            date(NEW.created_at), 1);
END;
CREATE TRIGGER test_requests_tally_delete AFTER DELETE ON test_requests BEGIN
    INSERT INTO request_tally_delta (company, region, test_type, status, ready_week, due_week, filed_on, n)
    VALUES (OLD.company, (SELECT region FROM companies WHERE id = OLD.company), OLD.test_type, OLD.status,
            date(OLD.ready_date, 'weekday 0', '-6 days'), date(OLD.due_date, 'weekday 0', '-6 days'),
            date(OLD.created_at), -1);
END;
CREATE TRIGGER test_requests_tally_update AFTER UPDATE ON test_requests
WHEN OLD.company IS NOT NEW.company OR OLD.test_type IS NOT NEW.test_type OR OLD.status IS NOT NEW.status
     OR OLD.ready_date IS NOT NEW.ready_date OR OLD.due_date IS NOT NEW.due_date BEGIN
    INSERT INTO request_tally_delta (company, region, test_type, status, ready_week, due_week, filed_on, n)
    VALUES (OLD.company, (SELECT region FROM companies WHERE id = OLD.company), OLD.test_type, OLD.status,
            date(OLD.ready_date, 'weekday 0', '-6 days'), date(OLD.due_date, 'weekday 0', '-6 days'),
            date(OLD.created_at), -1),
           (NEW.company, (SELECT region FROM companies WHERE id = NEW.company), NEW.test_type, NEW.status,
            date(NEW.ready_date, 'weekday 0', '-6 days'), date(NEW.due_date, 'weekday 0', '-6 days'),
            date(NEW.created_at), 1);
END;
CREATE TRIGGER companies_tally_region AFTER UPDATE OF region ON companies
WHEN OLD.region IS NOT NEW.region BEGIN
    INSERT INTO request_tally_delta (company, region, test_type, status, ready_week, due_week, filed_on, n)
    SELECT company, side.region, test_type, status, date(ready_date, 'weekday 0', '-6 days'),
           date(due_date, 'weekday 0', '-6 days'), date(created_at), side.sign * COUNT(*)
    FROM test_requests, (SELECT OLD.region AS region, -1 AS sign UNION ALL SELECT NEW.region, 1) AS side
    WHERE company = NEW.id
    GROUP BY 1, 2, 3, 4, 5, 6, 7, side.sign;
END;
";

const SQLITE_TRIGGER_NAMES: [&str; 4] = [
    "test_requests_tally_insert",
    "test_requests_tally_delete",
    "test_requests_tally_update",
    "companies_tally_region",
];

/// Every request filed so far, by company, test type and status, each also as `*`.
const BACKFILL: &str = "
INSERT INTO company_tally (company, test_type, status, n)
SELECT r.company,
       CASE WHEN g.by_test_type = 1 THEN r.test_type ELSE '*' END,
       CASE WHEN g.by_status = 1 THEN r.status ELSE '*' END,
       COUNT(*)
FROM test_requests r CROSS JOIN (
    SELECT 0 AS by_test_type, 0 AS by_status UNION ALL SELECT 0, 1 UNION ALL SELECT 1, 0 UNION ALL SELECT 1, 1) g
GROUP BY 1, 2, 3
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction on SQLite too: its triggers are dropped and made again, and a
    /// registry must never be left between the two.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE request_tally_delta ADD COLUMN company VARCHAR(32) NOT NULL DEFAULT ''")
            .await?;
        db.execute_unprepared(
            "CREATE TABLE company_tally (
                company VARCHAR(32) NOT NULL,
                test_type VARCHAR(64) NOT NULL,
                status VARCHAR(16) NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (company, test_type, status)
            )",
        )
        .await?;
        if db.get_database_backend() == DbBackend::Postgres {
            // Each function body holds semicolons: PostgreSQL takes the script whole.
            db.execute_unprepared(POSTGRES_FUNCTIONS).await?;
        } else {
            for name in SQLITE_TRIGGER_NAMES {
                db.execute_unprepared(&format!("DROP TRIGGER {name}")).await?;
            }
            earlier::execute_sqlite_triggers(db, SQLITE_TRIGGERS).await?;
        }
        db.execute_unprepared(BACKFILL).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // The earlier migration's triggers and functions, as it made them.
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "DROP TRIGGER IF EXISTS test_requests_tally_insert ON test_requests; \
                 DROP TRIGGER IF EXISTS test_requests_tally_delete ON test_requests; \
                 DROP TRIGGER IF EXISTS test_requests_tally_update ON test_requests; \
                 DROP TRIGGER IF EXISTS companies_tally_region ON companies; \
                 DROP FUNCTION IF EXISTS tally_inserted_requests, tally_deleted_requests, tally_updated_requests, \
                 tally_moved_company",
            )
            .await?;
            db.execute_unprepared(earlier::POSTGRES_TRIGGERS).await?;
        } else {
            for name in SQLITE_TRIGGER_NAMES {
                db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {name}")).await?;
            }
            earlier::execute_sqlite_triggers(db, earlier::SQLITE_TRIGGERS).await?;
        }
        db.execute_unprepared("DROP TABLE IF EXISTS company_tally").await?;
        db.execute_unprepared("ALTER TABLE request_tally_delta DROP COLUMN company").await?;
        Ok(())
    }
}
