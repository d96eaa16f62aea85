//! The rest of a booking's life at its lab: samples received, testing started, testing
//! completed with a protocol, or the booking withdrawn. Bookings get the new states (the
//! CHECK on their status), the dates and the protocol's particulars; a booking under
//! way holds its request as a live one does (the unique index of live bookings); the
//! protocol's PDF is kept in a table of its own so that lists of bookings stay light.
//!
//! SQLite cannot change a CHECK constraint in place, so there the table is rebuilt with
//! the same columns and indexes; PostgreSQL replaces the constraint.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261123_000002_create_registry::{Labs, TestRequests, fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

const STATUSES_BEFORE: [&str; 4] = ["proposed", "confirmed", "declined", "superseded"];
const STATUSES: [&str; 8] =
    ["proposed", "confirmed", "declined", "superseded", "received", "in_testing", "completed", "withdrawn"];
const OUTCOMES: [&str; 3] = ["passed", "failed", "not_applicable"];
/// Bookings that hold their request: at most one per request.
const LIVE_INDEX: &str = "CREATE UNIQUE INDEX ux_assignments_live_request ON assignments (request) \
     WHERE status IN ('proposed', 'confirmed', 'received', 'in_testing', 'completed')";
const LIVE_INDEX_BEFORE: &str = "CREATE UNIQUE INDEX ux_assignments_live_request ON assignments (request) \
     WHERE status IN ('proposed', 'confirmed')";

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
    ReceivedOn,
    StartedOn,
    CompletedOn,
    ProtocolNumber,
    Outcome,
    Note,
    WithdrawReason,
}

#[derive(DeriveIden)]
enum PlanningRuns {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Protocols {
    Table,
    Assignment,
    FileName,
    Content,
    Size,
    Sha256,
    UploadedAt,
}

const BASE_COLUMNS: &str =
    "id, run, request, lab, start_date, end_date, cost, status, decline_reason, answered_at, answered_by, created_at";

fn life_columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::new(Assignments::ReceivedOn).date().null().to_owned(),
        ColumnDef::new(Assignments::StartedOn).date().null().to_owned(),
        ColumnDef::new(Assignments::CompletedOn).date().null().to_owned(),
        ColumnDef::new(Assignments::ProtocolNumber).string_len(64).null().to_owned(),
        ColumnDef::new(Assignments::Outcome).string_len(16).null().to_owned(),
        ColumnDef::new(Assignments::Note).text().null().to_owned(),
        ColumnDef::new(Assignments::WithdrawReason).text().null().to_owned(),
    ]
}

/// The assignments table as the planning migration made it, under `name`, with the
/// given statuses allowed and, when `life`, the columns of this migration.
fn assignments_table(name: &str, statuses: &[&str], life: bool) -> TableCreateStatement {
    let table = Alias::new(name);
    let mut create = Table::create();
    create
        .table(table.clone())
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
        .col(ColumnDef::new(Assignments::CreatedAt).timestamp_with_time_zone().not_null());
    if life {
        for col in life_columns() {
            create.col(col);
        }
        create.check(("ck_assignments_outcome", Expr::col(Assignments::Outcome).is_in(OUTCOMES)));
    }
    create
        .foreign_key(
            ForeignKey::create()
                .name("fk_assignments_run")
                .from(table.clone(), Assignments::Run)
                .to(PlanningRuns::Table, PlanningRuns::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .foreign_key(&mut fk(
            "fk_assignments_request",
            (table.clone(), Assignments::Request),
            (TestRequests::Table, TestRequests::Id),
        ))
        .foreign_key(&mut fk("fk_assignments_lab", (table.clone(), Assignments::Lab), (Labs::Table, Labs::Id)))
        .check(("ck_assignments_status", Expr::col(Assignments::Status).is_in(statuses.iter().copied())))
        .check(("ck_assignments_dates", Expr::col(Assignments::StartDate).lte(Expr::col(Assignments::EndDate))))
        .to_owned()
}

/// SQLite: a new table with the new shape, the rows copied, the old one replaced, its
/// indexes made again.
async fn rebuild_on_sqlite(manager: &SchemaManager<'_>, statuses: &[&str], life: bool) -> Result<(), DbErr> {
    let db = manager.get_connection();
    manager.create_table(assignments_table("assignments_next", statuses, life)).await?;
    db.execute_unprepared(&format!(
        "INSERT INTO assignments_next ({BASE_COLUMNS}) SELECT {BASE_COLUMNS} FROM assignments"
    ))
    .await?;
    db.execute_unprepared("DROP TABLE assignments").await?;
    db.execute_unprepared("ALTER TABLE assignments_next RENAME TO assignments").await?;
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
    db.execute_unprepared(if life { LIVE_INDEX } else { LIVE_INDEX_BEFORE }).await?;
    Ok(())
}

fn status_check(statuses: &[&str]) -> String {
    let list: Vec<String> = statuses.iter().map(|s| format!("'{s}'")).collect();
    format!("ALTER TABLE assignments ADD CONSTRAINT ck_assignments_status CHECK (status IN ({}))", list.join(", "))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too: the rebuild happens whole or not at all, on one
    /// connection, so no statement sees the table half replaced.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Sqlite {
            rebuild_on_sqlite(manager, &STATUSES, true).await?;
        } else {
            db.execute_unprepared("ALTER TABLE assignments DROP CONSTRAINT ck_assignments_status").await?;
            db.execute_unprepared(&status_check(&STATUSES)).await?;
            for col in life_columns() {
                manager.alter_table(Table::alter().table(Assignments::Table).add_column(col).to_owned()).await?;
            }
            db.execute_unprepared(
                "ALTER TABLE assignments ADD CONSTRAINT ck_assignments_outcome \
                 CHECK (outcome IN ('passed', 'failed', 'not_applicable'))",
            )
            .await?;
            db.execute_unprepared("DROP INDEX ux_assignments_live_request").await?;
            db.execute_unprepared(LIVE_INDEX).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Protocols::Table)
                    .col(ColumnDef::new(Protocols::Assignment).big_integer().not_null().primary_key())
                    .col(ColumnDef::new(Protocols::FileName).string_len(255).not_null())
                    .col(ColumnDef::new(Protocols::Content).blob().not_null())
                    .col(ColumnDef::new(Protocols::Size).big_integer().not_null())
                    .col(ColumnDef::new(Protocols::Sha256).string_len(64).not_null())
                    .col(ColumnDef::new(Protocols::UploadedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_protocols_assignment")
                            .from(Protocols::Table, Protocols::Assignment)
                            .to(Assignments::Table, Assignments::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        manager.drop_table(Table::drop().table(Protocols::Table).to_owned()).await?;
        // The old states cannot hold the new ones: work under way goes back to confirmed,
        // finished or withdrawn bookings to superseded.
        db.execute_unprepared("UPDATE assignments SET status = 'confirmed' WHERE status IN ('received', 'in_testing')")
            .await?;
        db.execute_unprepared(
            "UPDATE assignments SET status = 'superseded' WHERE status IN ('completed', 'withdrawn')",
        )
        .await?;
        if manager.get_database_backend() == DbBackend::Sqlite {
            rebuild_on_sqlite(manager, &STATUSES_BEFORE, false).await?;
        } else {
            db.execute_unprepared("DROP INDEX ux_assignments_live_request").await?;
            db.execute_unprepared(LIVE_INDEX_BEFORE).await?;
            db.execute_unprepared("ALTER TABLE assignments DROP CONSTRAINT ck_assignments_outcome").await?;
            for col in [
                Assignments::ReceivedOn,
                Assignments::StartedOn,
                Assignments::CompletedOn,
                Assignments::ProtocolNumber,
                Assignments::Outcome,
                Assignments::Note,
                Assignments::WithdrawReason,
            ] {
                manager.alter_table(Table::alter().table(Assignments::Table).drop_column(col).to_owned()).await?;
            }
            db.execute_unprepared("ALTER TABLE assignments DROP CONSTRAINT ck_assignments_status").await?;
            db.execute_unprepared(&status_check(&STATUSES_BEFORE)).await?;
        }
        Ok(())
    }
}
