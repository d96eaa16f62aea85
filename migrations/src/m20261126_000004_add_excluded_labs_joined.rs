//! A request's excluded labs, joined by commas, in its own row. The request lists read
//! them with every row; a subquery into `request_excluded_labs` per row of a page was
//! half of PostgreSQL's work on a list. `request_excluded_labs` stays the reference (its
//! foreign keys hold the codes to real labs); the column is written by the same
//! statements that write those rows, in the same transaction.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("test_requests"))
                    .add_column(ColumnDef::new(Alias::new("excluded_labs_joined")).text().null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let joined = if db.get_database_backend() == DbBackend::Postgres {
            "string_agg(e.lab, ',' ORDER BY e.lab)"
        } else {
            "group_concat(e.lab, ',')"
        };
        db.execute_unprepared(&format!(
            "UPDATE test_requests SET excluded_labs_joined = \
                 (SELECT {joined} FROM request_excluded_labs e WHERE e.request = test_requests.id) \
             WHERE id IN (SELECT request FROM request_excluded_labs)"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("test_requests"))
                    .drop_column(Alias::new("excluded_labs_joined"))
                    .to_owned(),
            )
            .await
    }
}
