//! Persistence: connecting, migrating, and the hand-written queries beside the generated entities.

pub mod assignments;
pub mod audit;
pub mod requests;
pub mod runs;
pub mod sequences;

use anyhow::Context;
use labplan_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait, FromQueryResult, PaginatorTrait,
    Select,
};

use crate::http::pagination::Page;

/// The embedded default: a SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://labplan.db?mode=rwc";

pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url.to_string());
    options.sqlx_logging(false);
    if url.starts_with("sqlite:") {
        // SQLite allows one writer; a few connections let reads go on beside it
        // (WAL journal), and writers wait on the busy timeout instead of failing.
        options.max_connections(4).min_connections(1).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(std::time::Duration::from_secs(15))
        });
    } else {
        options.max_connections(16).min_connections(1);
    }
    Database::connect(options).await.with_context(|| format!("could not connect to the database at {}", redact(url)))
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("could not apply the database migrations")
}

/// True when every migration the binary knows has been applied.
pub async fn is_ready(db: &DatabaseConnection) -> bool {
    if db.execute_unprepared("SELECT 1").await.is_err() {
        return false;
    }
    matches!(Migrator::get_pending_migrations(db).await, Ok(pending) if pending.is_empty())
}

/// Hides the password of a `postgres://user:password@host/db` URL in messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// One page of `select` and the total number of rows it matches.
pub async fn fetch_page<E, C>(db: &C, select: Select<E>, page: Page) -> Result<(Vec<E::Model>, u64), DbErr>
where
    C: ConnectionTrait,
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
{
    let paginator = select.paginate(db, page.per_page);
    let total = paginator.num_items().await?;
    let items = paginator.fetch_page(page.page - 1).await?;
    Ok((items, total))
}
