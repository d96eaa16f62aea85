//! The demo: the bundled data set (the industry cluster's 1,300 tests at 102 companies,
//! 40 labs) and one user per role, loaded through the same operations as any import.

use sea_orm::DatabaseConnection;

use crate::app::import::{self, LoadReport};
use crate::app::users::{self, Binding, NewUser};
use crate::domain::access::{Caller, Role};

/// The demo data set.
pub const BUNDLED: &[u8] = include_bytes!("../data/cluster-1300.json");

/// Loads the bundled demo unless the registry already holds labs or requests.
pub async fn load_bundled_if_empty(db: &DatabaseConnection) -> anyhow::Result<Option<LoadReport>> {
    if !import::registry_is_empty(db).await? {
        return Ok(None);
    }
    let instance = import::parse_instance(BUNDLED)?;
    Ok(Some(import::instance(db, &Caller::Operator, &instance).await?))
}

/// One user per role for trying the demo: (e-mail, role, company, lab).
pub const DEMO_USERS: [(&str, Role, Option<&str>, Option<&str>); 5] = [
    ("admin@demo.local", Role::Admin, None, None),
    ("planner@demo.local", Role::Planner, None, None),
    ("ministry@demo.local", Role::Ministry, None, None),
    ("company.c0001@demo.local", Role::Company, Some("C0001"), None),
    ("lab.l001@demo.local", Role::Lab, None, Some("L001")),
];

/// Creates the demo users that do not exist yet, each with a new random password,
/// returned so that the caller prints them once; they are stored only as hashes.
pub async fn ensure_demo_users(db: &DatabaseConnection) -> anyhow::Result<Vec<(String, String)>> {
    let mut created = Vec::new();
    for (email, role, company, lab) in DEMO_USERS {
        match users::find_by_email(db, &Caller::Operator, email).await {
            Ok(_) => continue,
            Err(crate::app::AppError::NotFound(_)) => {}
            Err(e) => anyhow::bail!("demo user {email}: {e}"),
        }
        let password = crate::auth::new_password();
        let binding = Binding { role, company: company.map(str::to_string), lab: lab.map(str::to_string) };
        users::add(db, &Caller::Operator, NewUser { email: email.to_string(), password: password.clone(), binding })
            .await
            .map_err(|e| anyhow::anyhow!("demo user {email}: {}", crate::cli::describe(&e)))?;
        created.push((email.to_string(), password));
    }
    Ok(created)
}

pub fn print_demo_users(created: &[(String, String)]) {
    if created.is_empty() {
        return;
    }
    eprintln!("demo users (passwords are shown this once and stored only as hashes):");
    for (email, password) in created {
        eprintln!("  {email:<28} {password}");
    }
    eprintln!("API token: labplan users token --email EMAIL");
}
