//! Table mappings in sea-orm-codegen's layout, one file per table of the migrations;
//! status and role columns are the domain's enums, so an unknown value read back is an
//! error. Hand-written queries live beside them in `crate::db`.

pub mod accreditations;
pub mod api_tokens;
pub mod assignments;
pub mod audit_log;
pub mod capacities;
pub mod capacity_overrides;
pub mod companies;
pub mod equipment;
pub mod id_sequences;
pub mod labs;
pub mod notices;
pub mod plan_assignments;
pub mod plan_bottlenecks;
pub mod plan_moves;
pub mod plan_unassigned;
pub mod planning_runs;
pub mod planning_settings;
pub mod protocols;
pub mod region_distances;
pub mod regions;
pub mod request_excluded_labs;
pub mod run_parts;
pub mod scenarios;
pub mod sessions;
pub mod test_requests;
pub mod test_types;
pub mod users;
