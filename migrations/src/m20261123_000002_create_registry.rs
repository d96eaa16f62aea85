//! The registry: labs with their accreditation scope and capacity, companies, and test requests.

use sea_orm_migration::prelude::*;

use crate::m20261123_000001_create_catalog::{Equipment, Regions, TestTypes};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Request states of the API contract; the database refuses any other value.
const REQUEST_STATUSES: [&str; 7] =
    ["submitted", "planned", "confirmed", "in_testing", "completed", "cancelled", "unplaceable"];

pub(crate) fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(name).from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Restrict).to_owned()
}

pub(crate) fn index(name: &str, table: impl IntoIden, cols: &[&str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    stmt.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Labs::Table)
                    .col(ColumnDef::new(Labs::Id).string_len(32).not_null().primary_key())
                    .col(ColumnDef::new(Labs::Name).string().not_null())
                    .col(ColumnDef::new(Labs::NameEn).string().not_null())
                    .col(ColumnDef::new(Labs::Region).string_len(16).not_null())
                    .col(ColumnDef::new(Labs::Contact).string().null())
                    .foreign_key(&mut fk(
                        "fk_labs_region",
                        (Labs::Table, Labs::Region),
                        (Regions::Table, Regions::Code),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Accreditations::Table)
                    .col(ColumnDef::new(Accreditations::Lab).string_len(32).not_null())
                    .col(ColumnDef::new(Accreditations::TestType).string_len(64).not_null())
                    .col(ColumnDef::new(Accreditations::ValidFrom).date().not_null())
                    .col(ColumnDef::new(Accreditations::ValidTo).date().null())
                    .primary_key(Index::create().col(Accreditations::Lab).col(Accreditations::TestType))
                    .foreign_key(
                        &mut fk(
                            "fk_accreditations_lab",
                            (Accreditations::Table, Accreditations::Lab),
                            (Labs::Table, Labs::Id),
                        )
                        .on_delete(ForeignKeyAction::Cascade)
                        .to_owned(),
                    )
                    .foreign_key(&mut fk(
                        "fk_accreditations_test_type",
                        (Accreditations::Table, Accreditations::TestType),
                        (TestTypes::Table, TestTypes::Code),
                    ))
                    .check((
                        "ck_accreditations_validity",
                        Expr::col(Accreditations::ValidTo)
                            .is_null()
                            .or(Expr::col(Accreditations::ValidTo).gte(Expr::col(Accreditations::ValidFrom))),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Capacities::Table)
                    .col(ColumnDef::new(Capacities::Lab).string_len(32).not_null())
                    .col(ColumnDef::new(Capacities::Equipment).string_len(32).not_null())
                    .col(ColumnDef::new(Capacities::HoursPerWeek).integer().not_null())
                    .col(ColumnDef::new(Capacities::PricePerHour).big_integer().not_null())
                    .primary_key(Index::create().col(Capacities::Lab).col(Capacities::Equipment))
                    .foreign_key(
                        &mut fk("fk_capacities_lab", (Capacities::Table, Capacities::Lab), (Labs::Table, Labs::Id))
                            .on_delete(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .foreign_key(&mut fk(
                        "fk_capacities_equipment",
                        (Capacities::Table, Capacities::Equipment),
                        (Equipment::Table, Equipment::Code),
                    ))
                    .check(("ck_capacities_hours", Expr::col(Capacities::HoursPerWeek).between(0, 168 * 100)))
                    .check(("ck_capacities_price", Expr::col(Capacities::PricePerHour).gte(0)))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CapacityOverrides::Table)
                    .col(ColumnDef::new(CapacityOverrides::Lab).string_len(32).not_null())
                    .col(ColumnDef::new(CapacityOverrides::Equipment).string_len(32).not_null())
                    .col(ColumnDef::new(CapacityOverrides::WeekStart).date().not_null())
                    .col(ColumnDef::new(CapacityOverrides::HoursPerWeek).integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(CapacityOverrides::Lab)
                            .col(CapacityOverrides::Equipment)
                            .col(CapacityOverrides::WeekStart),
                    )
                    .foreign_key(
                        &mut fk(
                            "fk_capacity_overrides_capacity",
                            (CapacityOverrides::Table, CapacityOverrides::Lab),
                            (Labs::Table, Labs::Id),
                        )
                        .on_delete(ForeignKeyAction::Cascade)
                        .to_owned(),
                    )
                    .foreign_key(&mut fk(
                        "fk_capacity_overrides_equipment",
                        (CapacityOverrides::Table, CapacityOverrides::Equipment),
                        (Equipment::Table, Equipment::Code),
                    ))
                    .check((
                        "ck_capacity_overrides_hours",
                        Expr::col(CapacityOverrides::HoursPerWeek).between(0, 168 * 100),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Companies::Table)
                    .col(ColumnDef::new(Companies::Id).string_len(32).not_null().primary_key())
                    .col(ColumnDef::new(Companies::Name).string().not_null())
                    .col(ColumnDef::new(Companies::Inn).string_len(12).null().unique_key())
                    .col(ColumnDef::new(Companies::Region).string_len(16).not_null())
                    .foreign_key(&mut fk(
                        "fk_companies_region",
                        (Companies::Table, Companies::Region),
                        (Regions::Table, Regions::Code),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TestRequests::Table)
                    .col(ColumnDef::new(TestRequests::Id).string_len(32).not_null().primary_key())
                    .col(ColumnDef::new(TestRequests::Company).string_len(32).not_null())
                    .col(ColumnDef::new(TestRequests::TestType).string_len(64).not_null())
                    .col(ColumnDef::new(TestRequests::Samples).integer().not_null())
                    .col(ColumnDef::new(TestRequests::ReadyDate).date().not_null())
                    .col(ColumnDef::new(TestRequests::DueDate).date().not_null())
                    .col(ColumnDef::new(TestRequests::Priority).small_integer().not_null())
                    .col(ColumnDef::new(TestRequests::ExternalRef).string().null())
                    .col(ColumnDef::new(TestRequests::Notes).text().null())
                    .col(ColumnDef::new(TestRequests::Status).string_len(16).not_null())
                    .col(ColumnDef::new(TestRequests::StatusReason).text().null())
                    .col(ColumnDef::new(TestRequests::Version).integer().not_null())
                    .col(ColumnDef::new(TestRequests::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(TestRequests::UpdatedAt).timestamp_with_time_zone().not_null())
                    .foreign_key(&mut fk(
                        "fk_test_requests_company",
                        (TestRequests::Table, TestRequests::Company),
                        (Companies::Table, Companies::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_test_requests_test_type",
                        (TestRequests::Table, TestRequests::TestType),
                        (TestTypes::Table, TestTypes::Code),
                    ))
                    .check(("ck_test_requests_samples", Expr::col(TestRequests::Samples).between(1, 10_000)))
                    .check(("ck_test_requests_priority", Expr::col(TestRequests::Priority).between(1, 3)))
                    .check((
                        "ck_test_requests_dates",
                        Expr::col(TestRequests::ReadyDate).lte(Expr::col(TestRequests::DueDate)),
                    ))
                    .check(("ck_test_requests_status", Expr::col(TestRequests::Status).is_in(REQUEST_STATUSES)))
                    .check(("ck_test_requests_version", Expr::col(TestRequests::Version).gte(1)))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_test_requests_company", "company"),
            ("ix_test_requests_status", "status"),
            ("ix_test_requests_test_type", "test_type"),
            ("ix_test_requests_due_date", "due_date"),
        ] {
            manager.create_index(index(name, TestRequests::Table, &[col])).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ux_test_requests_company_external_ref")
                    .table(TestRequests::Table)
                    .col(TestRequests::Company)
                    .col(TestRequests::ExternalRef)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RequestExcludedLabs::Table)
                    .col(ColumnDef::new(RequestExcludedLabs::Request).string_len(32).not_null())
                    .col(ColumnDef::new(RequestExcludedLabs::Lab).string_len(32).not_null())
                    .primary_key(Index::create().col(RequestExcludedLabs::Request).col(RequestExcludedLabs::Lab))
                    .foreign_key(
                        &mut fk(
                            "fk_request_excluded_labs_request",
                            (RequestExcludedLabs::Table, RequestExcludedLabs::Request),
                            (TestRequests::Table, TestRequests::Id),
                        )
                        .on_delete(ForeignKeyAction::Cascade)
                        .to_owned(),
                    )
                    .foreign_key(&mut fk(
                        "fk_request_excluded_labs_lab",
                        (RequestExcludedLabs::Table, RequestExcludedLabs::Lab),
                        (Labs::Table, Labs::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, table, cols) in [
            ("ix_labs_region", Labs::Table.into_iden(), vec!["region"]),
            ("ix_companies_region", Companies::Table.into_iden(), vec!["region"]),
            ("ix_accreditations_test_type", Accreditations::Table.into_iden(), vec!["test_type"]),
            ("ix_capacities_equipment", Capacities::Table.into_iden(), vec!["equipment"]),
            ("ix_request_excluded_labs_lab", RequestExcludedLabs::Table.into_iden(), vec!["lab"]),
        ] {
            manager.create_index(index(name, table, &cols)).await?;
        }

        // Ids such as R01301 are handed out from a counter row, so two concurrent
        // filings never compute the same next id.
        manager
            .create_table(
                Table::create()
                    .table(IdSequences::Table)
                    .col(ColumnDef::new(IdSequences::Name).string_len(32).not_null().primary_key())
                    .col(ColumnDef::new(IdSequences::LastValue).big_integer().not_null())
                    .check(("ck_id_sequences_last_value", Expr::col(IdSequences::LastValue).gte(0)))
                    .to_owned(),
            )
            .await?;

        // Planning weights of the objective (roubles); one row per key.
        manager
            .create_table(
                Table::create()
                    .table(PlanningSettings::Table)
                    .col(ColumnDef::new(PlanningSettings::Key).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(PlanningSettings::Value).string().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PlanningSettings::Table.into_iden(),
            IdSequences::Table.into_iden(),
            RequestExcludedLabs::Table.into_iden(),
            TestRequests::Table.into_iden(),
            Companies::Table.into_iden(),
            CapacityOverrides::Table.into_iden(),
            Capacities::Table.into_iden(),
            Accreditations::Table.into_iden(),
            Labs::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum Labs {
    Table,
    Id,
    Name,
    NameEn,
    Region,
    Contact,
}

#[derive(DeriveIden)]
enum Accreditations {
    Table,
    Lab,
    TestType,
    ValidFrom,
    ValidTo,
}

#[derive(DeriveIden)]
enum Capacities {
    Table,
    Lab,
    Equipment,
    HoursPerWeek,
    PricePerHour,
}

#[derive(DeriveIden)]
enum CapacityOverrides {
    Table,
    Lab,
    Equipment,
    WeekStart,
    HoursPerWeek,
}

#[derive(DeriveIden)]
pub(crate) enum Companies {
    Table,
    Id,
    Name,
    Inn,
    Region,
}

#[derive(DeriveIden)]
pub(crate) enum TestRequests {
    Table,
    Id,
    Company,
    TestType,
    Samples,
    ReadyDate,
    DueDate,
    Priority,
    ExternalRef,
    Notes,
    Status,
    StatusReason,
    Version,
    CreatedAt,
    UpdatedAt,
    PlannedLab,
    PlannedStart,
    PlannedEnd,
}

#[derive(DeriveIden)]
enum RequestExcludedLabs {
    Table,
    Request,
    Lab,
}

#[derive(DeriveIden)]
enum IdSequences {
    Table,
    Name,
    LastValue,
}

#[derive(DeriveIden)]
enum PlanningSettings {
    Table,
    Key,
    Value,
}
