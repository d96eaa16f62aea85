//! Planning: runs as jobs with a lease, the plans they store, and the bookings of the
//! published plan that labs answer.

use sea_orm_migration::prelude::*;

use crate::m20261123_000001_create_catalog::Equipment;
use crate::m20261123_000002_create_registry::{Labs, TestRequests, fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

const RUN_STATUSES: [&str; 5] = ["queued", "running", "succeeded", "failed", "cancelled"];
const REASONS: [&str; 4] = ["no_accredited_lab", "excluded_by_company", "no_capacity_in_window", "outranked"];
const ASSIGNMENT_STATUSES: [&str; 4] = ["proposed", "confirmed", "declined", "superseded"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PlanningRuns::Table)
                    .col(ColumnDef::new(PlanningRuns::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(PlanningRuns::Status).string_len(16).not_null())
                    .col(ColumnDef::new(PlanningRuns::HorizonStart).date().not_null())
                    .col(ColumnDef::new(PlanningRuns::HorizonWeeks).integer().not_null())
                    .col(ColumnDef::new(PlanningRuns::TimeLimitSeconds).double().not_null())
                    .col(ColumnDef::new(PlanningRuns::GapLimit).double().not_null())
                    .col(ColumnDef::new(PlanningRuns::KeepBestOnCancel).boolean().not_null().default(false))
                    .col(ColumnDef::new(PlanningRuns::CancelRequested).boolean().not_null().default(false))
                    .col(ColumnDef::new(PlanningRuns::CreatedBy).string().null())
                    .col(ColumnDef::new(PlanningRuns::CreatedAt).timestamp_with_time_zone().not_null())
                    // The instance is fixed when the run is created, so the run can be
                    // reproduced offline whatever the registry has become since.
                    .col(ColumnDef::new(PlanningRuns::Instance).text().not_null())
                    .col(ColumnDef::new(PlanningRuns::Requests).integer().not_null())
                    .col(ColumnDef::new(PlanningRuns::Attempts).integer().not_null().default(0))
                    .col(ColumnDef::new(PlanningRuns::LeaseOwner).string().null())
                    // Milliseconds since the epoch: compared in SQL on both backends alike.
                    .col(ColumnDef::new(PlanningRuns::LeaseExpiresMs).big_integer().null())
                    .col(ColumnDef::new(PlanningRuns::StartedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(PlanningRuns::FinishedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(PlanningRuns::Phase).string_len(16).null())
                    .col(ColumnDef::new(PlanningRuns::PartsDone).integer().null())
                    .col(ColumnDef::new(PlanningRuns::PartsTotal).integer().null())
                    .col(ColumnDef::new(PlanningRuns::BestObjective).double().null())
                    .col(ColumnDef::new(PlanningRuns::BestBound).double().null())
                    .col(ColumnDef::new(PlanningRuns::PlanStatus).string_len(16).null())
                    .col(ColumnDef::new(PlanningRuns::Objective).double().null())
                    .col(ColumnDef::new(PlanningRuns::Bound).double().null())
                    .col(ColumnDef::new(PlanningRuns::Gap).double().null())
                    .col(ColumnDef::new(PlanningRuns::SolveSeconds).double().null())
                    .col(ColumnDef::new(PlanningRuns::Error).text().null())
                    .col(ColumnDef::new(PlanningRuns::PublishedAt).timestamp_with_time_zone().null())
                    .check(("ck_planning_runs_status", Expr::col(PlanningRuns::Status).is_in(RUN_STATUSES)))
                    .check(("ck_planning_runs_weeks", Expr::col(PlanningRuns::HorizonWeeks).between(1, 260)))
                    .check(("ck_planning_runs_time_limit", Expr::col(PlanningRuns::TimeLimitSeconds).gt(0)))
                    .check(("ck_planning_runs_gap", Expr::col(PlanningRuns::GapLimit).gte(0)))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_planning_runs_status", PlanningRuns::Table, &["status"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(PlanAssignments::Table)
                    .col(ColumnDef::new(PlanAssignments::Run).big_integer().not_null())
                    .col(ColumnDef::new(PlanAssignments::Request).string_len(32).not_null())
                    .col(ColumnDef::new(PlanAssignments::Lab).string_len(32).not_null())
                    .col(ColumnDef::new(PlanAssignments::StartWeek).integer().not_null())
                    .col(ColumnDef::new(PlanAssignments::EndWeek).integer().not_null())
                    .col(ColumnDef::new(PlanAssignments::LateWeeks).integer().not_null())
                    .col(ColumnDef::new(PlanAssignments::Cost).double().not_null())
                    .primary_key(Index::create().col(PlanAssignments::Run).col(PlanAssignments::Request))
                    .foreign_key(&mut run_fk("fk_plan_assignments_run", PlanAssignments::Table, PlanAssignments::Run))
                    .foreign_key(&mut fk(
                        "fk_plan_assignments_request",
                        (PlanAssignments::Table, PlanAssignments::Request),
                        (TestRequests::Table, TestRequests::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_plan_assignments_lab",
                        (PlanAssignments::Table, PlanAssignments::Lab),
                        (Labs::Table, Labs::Id),
                    ))
                    .check((
                        "ck_plan_assignments_weeks",
                        Expr::col(PlanAssignments::StartWeek)
                            .gte(0)
                            .and(Expr::col(PlanAssignments::EndWeek).gte(Expr::col(PlanAssignments::StartWeek)))
                            .and(Expr::col(PlanAssignments::LateWeeks).gte(0)),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PlanUnassigned::Table)
                    .col(ColumnDef::new(PlanUnassigned::Run).big_integer().not_null())
                    .col(ColumnDef::new(PlanUnassigned::Request).string_len(32).not_null())
                    .col(ColumnDef::new(PlanUnassigned::Reason).string_len(32).not_null())
                    .col(ColumnDef::new(PlanUnassigned::Detail).text().not_null())
                    .primary_key(Index::create().col(PlanUnassigned::Run).col(PlanUnassigned::Request))
                    .foreign_key(&mut run_fk("fk_plan_unassigned_run", PlanUnassigned::Table, PlanUnassigned::Run))
                    .foreign_key(&mut fk(
                        "fk_plan_unassigned_request",
                        (PlanUnassigned::Table, PlanUnassigned::Request),
                        (TestRequests::Table, TestRequests::Id),
                    ))
                    .check(("ck_plan_unassigned_reason", Expr::col(PlanUnassigned::Reason).is_in(REASONS)))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PlanBottlenecks::Table)
                    .col(ColumnDef::new(PlanBottlenecks::Run).big_integer().not_null())
                    .col(ColumnDef::new(PlanBottlenecks::Lab).string_len(32).not_null())
                    .col(ColumnDef::new(PlanBottlenecks::Equipment).string_len(32).not_null())
                    .col(ColumnDef::new(PlanBottlenecks::Week).integer().not_null())
                    .col(ColumnDef::new(PlanBottlenecks::UsedHours).double().not_null())
                    .col(ColumnDef::new(PlanBottlenecks::CapacityHours).double().not_null())
                    .col(ColumnDef::new(PlanBottlenecks::ShadowPrice).double().not_null())
                    .primary_key(
                        Index::create()
                            .col(PlanBottlenecks::Run)
                            .col(PlanBottlenecks::Lab)
                            .col(PlanBottlenecks::Equipment)
                            .col(PlanBottlenecks::Week),
                    )
                    .foreign_key(&mut run_fk("fk_plan_bottlenecks_run", PlanBottlenecks::Table, PlanBottlenecks::Run))
                    .foreign_key(&mut fk(
                        "fk_plan_bottlenecks_lab",
                        (PlanBottlenecks::Table, PlanBottlenecks::Lab),
                        (Labs::Table, Labs::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_plan_bottlenecks_equipment",
                        (PlanBottlenecks::Table, PlanBottlenecks::Equipment),
                        (Equipment::Table, Equipment::Code),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Assignments::Table)
                    .col(ColumnDef::new(Assignments::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Assignments::Run).big_integer().not_null())
                    .col(ColumnDef::new(Assignments::Request).string_len(32).not_null())
                    .col(ColumnDef::new(Assignments::Lab).string_len(32).not_null())
                    .col(ColumnDef::new(Assignments::StartDate).date().not_null())
                    .col(ColumnDef::new(Assignments::EndDate).date().not_null())
                    .col(ColumnDef::new(Assignments::Cost).double().not_null())
                    .col(ColumnDef::new(Assignments::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Assignments::DeclineReason).text().null())
                    .col(ColumnDef::new(Assignments::AnsweredAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Assignments::AnsweredBy).string().null())
                    .col(ColumnDef::new(Assignments::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut run_fk("fk_assignments_run", Assignments::Table, Assignments::Run))
                    .foreign_key(&mut fk(
                        "fk_assignments_request",
                        (Assignments::Table, Assignments::Request),
                        (TestRequests::Table, TestRequests::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_assignments_lab",
                        (Assignments::Table, Assignments::Lab),
                        (Labs::Table, Labs::Id),
                    ))
                    .check(("ck_assignments_status", Expr::col(Assignments::Status).is_in(ASSIGNMENT_STATUSES)))
                    .check((
                        "ck_assignments_dates",
                        Expr::col(Assignments::StartDate).lte(Expr::col(Assignments::EndDate)),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_assignments_run_request")
                    .table(Assignments::Table)
                    .col(Assignments::Run)
                    .col(Assignments::Request)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_assignments_lab_status", Assignments::Table, &["lab", "status"])).await?;
        manager.create_index(index("ix_assignments_request", Assignments::Table, &["request"])).await?;

        // Where the published plan put the request; SQLite cannot add a foreign key to an
        // existing table, and publishing only ever writes labs of the plan it publishes.
        for col in [
            ColumnDef::new(TestRequests::PlannedLab).string_len(32).null().to_owned(),
            ColumnDef::new(TestRequests::PlannedStart).date().null().to_owned(),
            ColumnDef::new(TestRequests::PlannedEnd).date().null().to_owned(),
        ] {
            manager.alter_table(Table::alter().table(TestRequests::Table).add_column(col).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [TestRequests::PlannedLab, TestRequests::PlannedStart, TestRequests::PlannedEnd] {
            manager.alter_table(Table::alter().table(TestRequests::Table).drop_column(col).to_owned()).await?;
        }
        for table in [
            Assignments::Table.into_iden(),
            PlanBottlenecks::Table.into_iden(),
            PlanUnassigned::Table.into_iden(),
            PlanAssignments::Table.into_iden(),
            PlanningRuns::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// A plan's rows go with their run.
fn run_fk(name: &str, table: impl IntoIden, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, col)
        .to(PlanningRuns::Table, PlanningRuns::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[derive(DeriveIden)]
enum PlanningRuns {
    Table,
    Id,
    Status,
    HorizonStart,
    HorizonWeeks,
    TimeLimitSeconds,
    GapLimit,
    KeepBestOnCancel,
    CancelRequested,
    CreatedBy,
    CreatedAt,
    Instance,
    Requests,
    Attempts,
    LeaseOwner,
    LeaseExpiresMs,
    StartedAt,
    FinishedAt,
    Phase,
    PartsDone,
    PartsTotal,
    BestObjective,
    BestBound,
    PlanStatus,
    Objective,
    Bound,
    Gap,
    SolveSeconds,
    Error,
    PublishedAt,
}

#[derive(DeriveIden)]
enum PlanAssignments {
    Table,
    Run,
    Request,
    Lab,
    StartWeek,
    EndWeek,
    LateWeeks,
    Cost,
}

#[derive(DeriveIden)]
enum PlanUnassigned {
    Table,
    Run,
    Request,
    Reason,
    Detail,
}

#[derive(DeriveIden)]
enum PlanBottlenecks {
    Table,
    Run,
    Lab,
    Equipment,
    Week,
    UsedHours,
    CapacityHours,
    ShadowPrice,
}

#[derive(DeriveIden)]
enum Assignments {
    Table,
    Id,
    Run,
    Request,
    Lab,
    StartDate,
    EndDate,
    Cost,
    Status,
    DeclineReason,
    AnsweredAt,
    AnsweredBy,
    CreatedAt,
}
