//! The request lists' totals, one row per filter. A list shows how many requests match
//! its filter of status, test type and region; summed from `filing_tally`, that count
//! read one row per region, test type, status and day, a table that grows every day.
//! `total_tally` holds each count the lists ask for as one row: every combination of a
//! region, a test type and a status, with `*` standing for "any". The fold keeps it with
//! the other tallies, from the same delta. Servers of an earlier version fold without
//! it: stop the servers of the earlier version before the first one of this version
//! starts.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The counts of what is folded so far; the unfolded delta is folded in later.
const BACKFILL: &str = "
INSERT INTO total_tally (region, test_type, status, n)
SELECT CASE WHEN g.by_region = 1 THEN f.region ELSE '*' END,
       CASE WHEN g.by_test_type = 1 THEN f.test_type ELSE '*' END,
       CASE WHEN g.by_status = 1 THEN f.status ELSE '*' END,
       SUM(f.n)
FROM filing_tally f CROSS JOIN (
    SELECT 0 AS by_region, 0 AS by_test_type, 0 AS by_status UNION ALL SELECT 0, 0, 1
    UNION ALL SELECT 0, 1, 0 UNION ALL SELECT 0, 1, 1 UNION ALL SELECT 1, 0, 0
    UNION ALL SELECT 1, 0, 1 UNION ALL SELECT 1, 1, 0 UNION ALL SELECT 1, 1, 1) g
GROUP BY 1, 2, 3
HAVING SUM(f.n) <> 0
";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE total_tally (
                region VARCHAR(16) NOT NULL,
                test_type VARCHAR(64) NOT NULL,
                status VARCHAR(16) NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (region, test_type, status)
            )",
        )
        .await?;
        db.execute_unprepared(BACKFILL).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP TABLE IF EXISTS total_tally").await?;
        Ok(())
    }
}
