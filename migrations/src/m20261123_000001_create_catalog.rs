//! The catalog: regions and the road distances between them, equipment classes, test types.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Regions::Table)
                    .col(ColumnDef::new(Regions::Code).string_len(16).not_null().primary_key())
                    .col(ColumnDef::new(Regions::Name).string().not_null())
                    .col(ColumnDef::new(Regions::NameEn).string().not_null())
                    .col(ColumnDef::new(Regions::Lat).double().not_null())
                    .col(ColumnDef::new(Regions::Lon).double().not_null())
                    .check((
                        "ck_regions_lat_lon",
                        Expr::col(Regions::Lat)
                            .between(-90.0, 90.0)
                            .and(Expr::col(Regions::Lon).between(-180.0, 180.0)),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RegionDistances::Table)
                    .col(ColumnDef::new(RegionDistances::FromRegion).string_len(16).not_null())
                    .col(ColumnDef::new(RegionDistances::ToRegion).string_len(16).not_null())
                    .col(ColumnDef::new(RegionDistances::Km).integer().not_null())
                    .primary_key(Index::create().col(RegionDistances::FromRegion).col(RegionDistances::ToRegion))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_region_distances_from")
                            .from(RegionDistances::Table, RegionDistances::FromRegion)
                            .to(Regions::Table, Regions::Code)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_region_distances_to")
                            .from(RegionDistances::Table, RegionDistances::ToRegion)
                            .to(Regions::Table, Regions::Code)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .check(("ck_region_distances_km", Expr::col(RegionDistances::Km).gte(0)))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Equipment::Table)
                    .col(ColumnDef::new(Equipment::Code).string_len(32).not_null().primary_key())
                    .col(ColumnDef::new(Equipment::Name).string().not_null())
                    .col(ColumnDef::new(Equipment::NameEn).string().not_null())
                    .col(ColumnDef::new(Equipment::MaxHoursPerTestWeek).integer().not_null())
                    .check(("ck_equipment_max_hours", Expr::col(Equipment::MaxHoursPerTestWeek).between(1, 168)))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TestTypes::Table)
                    .col(ColumnDef::new(TestTypes::Code).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(TestTypes::Standard).string().not_null())
                    .col(ColumnDef::new(TestTypes::Name).string().not_null())
                    .col(ColumnDef::new(TestTypes::NameEn).string().not_null())
                    .col(ColumnDef::new(TestTypes::Equipment).string_len(32).not_null())
                    .col(ColumnDef::new(TestTypes::Hours).integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_test_types_equipment")
                            .from(TestTypes::Table, TestTypes::Equipment)
                            .to(Equipment::Table, Equipment::Code)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .check(("ck_test_types_hours", Expr::col(TestTypes::Hours).gt(0)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_test_types_equipment")
                    .table(TestTypes::Table)
                    .col(TestTypes::Equipment)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            TestTypes::Table.into_iden(),
            Equipment::Table.into_iden(),
            RegionDistances::Table.into_iden(),
            Regions::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum Regions {
    Table,
    Code,
    Name,
    NameEn,
    Lat,
    Lon,
}

#[derive(DeriveIden)]
enum RegionDistances {
    Table,
    FromRegion,
    ToRegion,
    Km,
}

#[derive(DeriveIden)]
pub(crate) enum Equipment {
    Table,
    Code,
    Name,
    NameEn,
    MaxHoursPerTestWeek,
}

#[derive(DeriveIden)]
pub(crate) enum TestTypes {
    Table,
    Code,
    Standard,
    Name,
    NameEn,
    Equipment,
    Hours,
}
