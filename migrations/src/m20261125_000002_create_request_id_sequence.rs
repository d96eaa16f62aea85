//! On PostgreSQL, request ids come from a database sequence: filings no longer queue
//! behind one counter row held until each transaction commits. (SQLite writes one
//! transaction at a time anyway and keeps the counter row.)

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        db.execute_unprepared("CREATE SEQUENCE test_request_ids").await?;
        // Carries on from the counter row, if ids were handed out already.
        db.execute_unprepared(
            "SELECT setval('test_request_ids', last_value) FROM id_sequences \
             WHERE name = 'test_request' AND last_value > 0",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("DROP SEQUENCE test_request_ids").await?;
        }
        Ok(())
    }
}
