//! A run's parts as jobs of their own, so that several `labplan worker` processes can
//! solve one run together: the run's owner splits it, any worker claims a part with a
//! lease, and the owner combines the parts' plans and bounds once all are done.

use sea_orm_migration::prelude::*;

use crate::m20261123_000002_create_registry::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanningRuns {
    Table,
    Id,
    SpreadParts,
}

#[derive(DeriveIden)]
enum RunParts {
    Table,
    Run,
    Part,
    Equipment,
    Requests,
    Columns,
    Pass,
    Weight,
    Status,
    LeaseOwner,
    LeaseExpiresMs,
    Attempts,
    TimeLimitSeconds,
    SolvedBy,
    Seconds,
    Objective,
    Bound,
    Result,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PlanningRuns::Table)
                    .add_column(ColumnDef::new(PlanningRuns::SpreadParts).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RunParts::Table)
                    .col(ColumnDef::new(RunParts::Run).big_integer().not_null())
                    .col(ColumnDef::new(RunParts::Part).integer().not_null())
                    .col(ColumnDef::new(RunParts::Equipment).string_len(32).not_null())
                    .col(ColumnDef::new(RunParts::Requests).integer().not_null())
                    .col(ColumnDef::new(RunParts::Columns).big_integer().not_null())
                    .col(ColumnDef::new(RunParts::Pass).integer().not_null().default(1))
                    .col(ColumnDef::new(RunParts::Weight).double().not_null())
                    .col(ColumnDef::new(RunParts::Status).string_len(16).not_null())
                    .col(ColumnDef::new(RunParts::LeaseOwner).string_len(200).null())
                    .col(ColumnDef::new(RunParts::LeaseExpiresMs).big_integer().null())
                    .col(ColumnDef::new(RunParts::Attempts).integer().not_null().default(0))
                    .col(ColumnDef::new(RunParts::TimeLimitSeconds).double().null())
                    .col(ColumnDef::new(RunParts::SolvedBy).string_len(200).null())
                    .col(ColumnDef::new(RunParts::Seconds).double().null())
                    .col(ColumnDef::new(RunParts::Objective).double().null())
                    .col(ColumnDef::new(RunParts::Bound).double().null())
                    .col(ColumnDef::new(RunParts::Result).text().null())
                    .primary_key(Index::create().col(RunParts::Run).col(RunParts::Part))
                    .foreign_key(&mut fk(
                        "fk_run_parts_run",
                        (RunParts::Table, RunParts::Run),
                        (PlanningRuns::Table, PlanningRuns::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // Idle workers look for parts to claim by status.
        manager.create_index(index("ix_run_parts_status", RunParts::Table, &["status", "run"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(RunParts::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(PlanningRuns::Table).drop_column(PlanningRuns::SpreadParts).to_owned())
            .await?;
        Ok(())
    }
}
