//! The labplan schema, one migration per change, for SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_catalog;
mod m20261123_000002_create_registry;
mod m20261123_000003_create_audit_log;
mod m20261123_000004_create_planning;
mod m20261123_000005_create_users;
mod m20261125_000001_guard_invariants;
mod m20261125_000002_create_request_id_sequence;
mod m20261125_000003_add_stability;
mod m20261125_000004_create_scenarios;
mod m20261125_000005_booking_life;
mod m20261125_000006_create_notices;
mod m20261125_000007_notice_mail;
mod m20261126_000001_create_request_tallies;
mod m20261126_000002_index_request_lists;
mod m20261126_000003_create_run_parts;
mod m20261126_000004_add_excluded_labs_joined;
mod m20261126_000005_create_total_tally;
mod m20261126_000006_create_company_tally;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_catalog::Migration),
            Box::new(m20261123_000002_create_registry::Migration),
            Box::new(m20261123_000003_create_audit_log::Migration),
            Box::new(m20261123_000004_create_planning::Migration),
            Box::new(m20261123_000005_create_users::Migration),
            Box::new(m20261125_000001_guard_invariants::Migration),
            Box::new(m20261125_000002_create_request_id_sequence::Migration),
            Box::new(m20261125_000003_add_stability::Migration),
            Box::new(m20261125_000004_create_scenarios::Migration),
            Box::new(m20261125_000005_booking_life::Migration),
            Box::new(m20261125_000006_create_notices::Migration),
            Box::new(m20261125_000007_notice_mail::Migration),
            Box::new(m20261126_000001_create_request_tallies::Migration),
            Box::new(m20261126_000002_index_request_lists::Migration),
            Box::new(m20261126_000003_create_run_parts::Migration),
            Box::new(m20261126_000004_add_excluded_labs_joined::Migration),
            Box::new(m20261126_000005_create_total_tally::Migration),
            Box::new(m20261126_000006_create_company_tally::Migration),
        ]
    }
}
