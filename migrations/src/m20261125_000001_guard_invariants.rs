//! Invariants the database itself keeps, whatever the timing of two writers: one
//! published plan at a time and one live booking per request. Users can be disabled and
//! API tokens can expire.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    DisabledAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum PlanningRuns {
    Table,
    IsPublished,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::DisabledAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApiTokens::Table)
                    .add_column(ColumnDef::new(ApiTokens::ExpiresAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PlanningRuns::Table)
                    .add_column(ColumnDef::new(PlanningRuns::IsPublished).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // The plan published last is the published one; bookings of any other run that are
        // still live are left over from a race and are superseded.
        db.execute_unprepared(
            "UPDATE planning_runs SET is_published = TRUE WHERE id = (SELECT id FROM planning_runs \
             WHERE published_at IS NOT NULL ORDER BY published_at DESC, id DESC LIMIT 1)",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE assignments SET status = 'superseded' WHERE status IN ('proposed', 'confirmed') \
             AND run NOT IN (SELECT id FROM planning_runs WHERE is_published)",
        )
        .await?;
        // Partial unique indexes, the same text on SQLite and PostgreSQL.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_planning_runs_published ON planning_runs (is_published) WHERE is_published",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_assignments_live_request ON assignments (request) \
             WHERE status IN ('proposed', 'confirmed')",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX ux_assignments_live_request").await?;
        db.execute_unprepared("DROP INDEX ux_planning_runs_published").await?;
        manager
            .alter_table(Table::alter().table(PlanningRuns::Table).drop_column(PlanningRuns::IsPublished).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(ApiTokens::Table).drop_column(ApiTokens::ExpiresAt).to_owned())
            .await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::DisabledAt).to_owned()).await?;
        Ok(())
    }
}
