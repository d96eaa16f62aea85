//! Re-planning that keeps its word: what a run was asked (move weights, freeze window,
//! determinism), how many published bookings its plan moves, and each move with its
//! penalty and saving.

use sea_orm_migration::prelude::*;

use crate::m20261123_000002_create_registry::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanningRuns {
    Table,
    Id,
    MoveLab,
    MoveWeek,
    FreezeWeeks,
    Deterministic,
    PlanDeterministic,
    Moved,
}

#[derive(DeriveIden)]
enum PlanMoves {
    Table,
    Run,
    Request,
    FromLab,
    FromWeek,
    ToLab,
    ToWeek,
    Penalty,
    Saving,
    Forced,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            ColumnDef::new(PlanningRuns::MoveLab).double().null().to_owned(),
            ColumnDef::new(PlanningRuns::MoveWeek).double().null().to_owned(),
            ColumnDef::new(PlanningRuns::FreezeWeeks).integer().null().to_owned(),
            ColumnDef::new(PlanningRuns::Deterministic).boolean().not_null().default(false).to_owned(),
            ColumnDef::new(PlanningRuns::PlanDeterministic).boolean().null().to_owned(),
            ColumnDef::new(PlanningRuns::Moved).integer().null().to_owned(),
        ];
        // One column per statement: SQLite adds one at a time.
        for mut column in columns {
            manager.alter_table(Table::alter().table(PlanningRuns::Table).add_column(&mut column).to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(PlanMoves::Table)
                    .col(ColumnDef::new(PlanMoves::Run).big_integer().not_null())
                    .col(ColumnDef::new(PlanMoves::Request).string_len(32).not_null())
                    .col(ColumnDef::new(PlanMoves::FromLab).string_len(32).not_null())
                    .col(ColumnDef::new(PlanMoves::FromWeek).integer().not_null())
                    .col(ColumnDef::new(PlanMoves::ToLab).string_len(32).null())
                    .col(ColumnDef::new(PlanMoves::ToWeek).integer().null())
                    .col(ColumnDef::new(PlanMoves::Penalty).double().not_null())
                    .col(ColumnDef::new(PlanMoves::Saving).double().null())
                    .col(ColumnDef::new(PlanMoves::Forced).text().null())
                    .primary_key(Index::create().col(PlanMoves::Run).col(PlanMoves::Request))
                    .foreign_key(&mut fk(
                        "fk_plan_moves_run",
                        (PlanMoves::Table, PlanMoves::Run),
                        (PlanningRuns::Table, PlanningRuns::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_plan_moves_run", PlanMoves::Table, &["run"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PlanMoves::Table).to_owned()).await?;
        for column in [
            PlanningRuns::Moved,
            PlanningRuns::PlanDeterministic,
            PlanningRuns::Deterministic,
            PlanningRuns::FreezeWeeks,
            PlanningRuns::MoveWeek,
            PlanningRuns::MoveLab,
        ] {
            manager.alter_table(Table::alter().table(PlanningRuns::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
