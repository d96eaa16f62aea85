//! Users with one role each, API tokens (stored only as hashes), and web sessions.

use sea_orm_migration::prelude::*;

use crate::m20261123_000002_create_registry::{Companies, Labs, fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

const ROLES: [&str; 5] = ["company", "lab", "planner", "ministry", "admin"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(Users::Email).string_len(254).not_null().unique_key())
                    .col(ColumnDef::new(Users::PasswordHash).string().not_null())
                    .col(ColumnDef::new(Users::Role).string_len(16).not_null())
                    .col(ColumnDef::new(Users::Company).string_len(32).null())
                    .col(ColumnDef::new(Users::Lab).string_len(32).null())
                    .col(ColumnDef::new(Users::CreatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk(
                        "fk_users_company",
                        (Users::Table, Users::Company),
                        (Companies::Table, Companies::Id),
                    ))
                    .foreign_key(&mut fk("fk_users_lab", (Users::Table, Users::Lab), (Labs::Table, Labs::Id)))
                    .check(("ck_users_role", Expr::col(Users::Role).is_in(ROLES)))
                    // A company user belongs to exactly one company, a lab user to one lab, nobody else to either.
                    .check((
                        "ck_users_binding",
                        Expr::col(Users::Role)
                            .eq("company")
                            .and(Expr::col(Users::Company).is_not_null())
                            .and(Expr::col(Users::Lab).is_null())
                            .or(Expr::col(Users::Role)
                                .eq("lab")
                                .and(Expr::col(Users::Lab).is_not_null())
                                .and(Expr::col(Users::Company).is_null()))
                            .or(Expr::col(Users::Role)
                                .is_in(["planner", "ministry", "admin"])
                                .and(Expr::col(Users::Company).is_null())
                                .and(Expr::col(Users::Lab).is_null())),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(ColumnDef::new(ApiTokens::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(ApiTokens::User).big_integer().not_null())
                    .col(ColumnDef::new(ApiTokens::Name).string_len(100).not_null())
                    // SHA-256 of the token: the token itself is shown once and kept nowhere.
                    .col(ColumnDef::new(ApiTokens::TokenHash).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(ApiTokens::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ApiTokens::LastUsedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(ApiTokens::RevokedAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        &mut fk("fk_api_tokens_user", (ApiTokens::Table, ApiTokens::User), (Users::Table, Users::Id))
                            .on_delete(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_api_tokens_user", ApiTokens::Table, &["user"])).await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    // SHA-256 of the cookie's value.
                    .col(ColumnDef::new(Sessions::Id).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(Sessions::User).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::CsrfToken).string_len(64).not_null())
                    .col(ColumnDef::new(Sessions::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Sessions::ExpiresAt).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        &mut fk("fk_sessions_user", (Sessions::Table, Sessions::User), (Users::Table, Users::Id))
                            .on_delete(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        manager.create_index(index("ix_sessions_user", Sessions::Table, &["user"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [Sessions::Table.into_iden(), ApiTokens::Table.into_iden(), Users::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    Role,
    Company,
    Lab,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    User,
    Name,
    TokenHash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    User,
    CsrfToken,
    CreatedAt,
    ExpiresAt,
}
