//! Notices by e-mail: each notice that its user wants by e-mail carries its delivery
//! state (pending, sending under a lease, sent, failed), its attempts and when to try
//! again; each user says which kinds of notice go by e-mail.

use sea_orm_migration::prelude::*;

use crate::m20261123_000002_create_registry::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notices {
    Table,
    MailState,
    MailAttempts,
    MailNextAt,
    MailLeaseUntil,
    MailedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    MailKinds,
}

fn columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::new(Notices::MailState).string_len(16).null().to_owned(),
        ColumnDef::new(Notices::MailAttempts).integer().not_null().default(0).to_owned(),
        ColumnDef::new(Notices::MailNextAt).timestamp_with_time_zone().null().to_owned(),
        ColumnDef::new(Notices::MailLeaseUntil).timestamp_with_time_zone().null().to_owned(),
        ColumnDef::new(Notices::MailedAt).timestamp_with_time_zone().null().to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in columns() {
            manager.alter_table(Table::alter().table(Notices::Table).add_column(col).to_owned()).await?;
        }
        // Which kinds of notice the user wants by e-mail, comma-separated; NULL: every kind.
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::MailKinds).text().null())
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_notices_mail_state", Notices::Table, &["mail_state", "mail_next_at"])).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX ix_notices_mail_state").await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::MailKinds).to_owned()).await?;
        for col in
            [Notices::MailState, Notices::MailAttempts, Notices::MailNextAt, Notices::MailLeaseUntil, Notices::MailedAt]
        {
            manager.alter_table(Table::alter().table(Notices::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
