//! The request lists filter by company, status or test type and page in id order. An
//! index of the filter column alone makes a deep page scan every row of that value;
//! with the id beside it, the page is read in order. The single-column indexes are
//! prefixes of the new ones and go.

use sea_orm_migration::prelude::*;

use crate::m20261123_000002_create_registry::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

const LISTED_BY: [(&str, &str, &str); 3] = [
    ("ix_test_requests_company", "ix_test_requests_company_id", "company"),
    ("ix_test_requests_status", "ix_test_requests_status_id", "status"),
    ("ix_test_requests_test_type", "ix_test_requests_test_type_id", "test_type"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (old, new, col) in LISTED_BY {
            manager.create_index(index(new, Alias::new("test_requests"), &[col, "id"])).await?;
            manager.drop_index(Index::drop().name(old).table(Alias::new("test_requests")).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (old, new, col) in LISTED_BY {
            manager.create_index(index(old, Alias::new("test_requests"), &[col])).await?;
            manager.drop_index(Index::drop().name(new).table(Alias::new("test_requests")).to_owned()).await?;
        }
        Ok(())
    }
}
