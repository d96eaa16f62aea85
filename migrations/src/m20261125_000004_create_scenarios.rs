//! What-if scenarios: a name, the changes to the registry, and the planning run that
//! solves the changed copy (a run marked as a scenario, which is never published).

use sea_orm_migration::prelude::*;

use crate::m20261123_000002_create_registry::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PlanningRuns {
    Table,
    Id,
    Scenario,
    ScenarioPlan,
}

#[derive(DeriveIden)]
enum Scenarios {
    Table,
    Id,
    Name,
    CreatedBy,
    CreatedAt,
    Changes,
    BaseHash,
    TimeLimitSeconds,
    Run,
    Baseline,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PlanningRuns::Table)
                    .add_column(ColumnDef::new(PlanningRuns::Scenario).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await?;
        // A scenario's plan may name requests and labs the registry does not have (scaled
        // demand, a new lab), so it is kept whole as JSON rather than in the plan tables,
        // whose rows must refer to real requests and labs.
        manager
            .alter_table(
                Table::alter()
                    .table(PlanningRuns::Table)
                    .add_column(ColumnDef::new(PlanningRuns::ScenarioPlan).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Scenarios::Table)
                    .col(ColumnDef::new(Scenarios::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Scenarios::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Scenarios::CreatedBy).string_len(254).null())
                    .col(ColumnDef::new(Scenarios::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Scenarios::Changes).text().not_null())
                    .col(ColumnDef::new(Scenarios::BaseHash).string_len(64).not_null())
                    .col(ColumnDef::new(Scenarios::TimeLimitSeconds).double().not_null())
                    .col(ColumnDef::new(Scenarios::Run).big_integer().not_null())
                    .col(ColumnDef::new(Scenarios::Baseline).big_integer().null())
                    .foreign_key(&mut fk(
                        "fk_scenarios_run",
                        (Scenarios::Table, Scenarios::Run),
                        (PlanningRuns::Table, PlanningRuns::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_scenarios_baseline",
                        (Scenarios::Table, Scenarios::Baseline),
                        (Scenarios::Table, Scenarios::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_scenarios_base_hash", Scenarios::Table, &["base_hash"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Scenarios::Table).to_owned()).await?;
        manager
            .alter_table(Table::alter().table(PlanningRuns::Table).drop_column(PlanningRuns::ScenarioPlan).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(PlanningRuns::Table).drop_column(PlanningRuns::Scenario).to_owned())
            .await?;
        Ok(())
    }
}
