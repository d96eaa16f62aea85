//! Notices: what happened that a user should know (a booking assigned, moved, declined,
//! confirmed, its samples received, its test completed, a run finished or failed),
//! one row per recipient, written in the transaction of the change that causes it.

use sea_orm_migration::prelude::*;

use crate::m20261123_000002_create_registry::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

const KINDS: [&str; 9] =
    ["assigned", "moved", "declined", "confirmed", "received", "completed", "withdrawn", "run_finished", "run_failed"];

#[derive(DeriveIden)]
enum Notices {
    Table,
    Id,
    UserId,
    Kind,
    Entity,
    EntityId,
    Detail,
    CreatedAt,
    ReadAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Notices::Table)
                    .col(ColumnDef::new(Notices::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Notices::UserId).big_integer().not_null())
                    .col(ColumnDef::new(Notices::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(Notices::Entity).string_len(32).not_null())
                    .col(ColumnDef::new(Notices::EntityId).string_len(64).not_null())
                    .col(ColumnDef::new(Notices::Detail).text().null())
                    .col(ColumnDef::new(Notices::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Notices::ReadAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_notices_user")
                            .from(Notices::Table, Notices::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .check(("ck_notices_kind", Expr::col(Notices::Kind).is_in(KINDS)))
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_notices_user_read", Notices::Table, &["user_id", "read_at"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Notices::Table).to_owned()).await?;
        Ok(())
    }
}
