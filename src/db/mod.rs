//! Persistence: connecting, migrating, and every query, beside the generated entities.
//! Nothing here knows of HTTP or pages; access rules are applied by the callers, except
//! where a query is narrowed to what a [`Caller`](crate::domain::access::Caller) may see.

pub mod audit;
pub mod backup;
pub mod bookings;
pub mod catalog;
pub mod companies;
pub mod filings;
pub mod instance;
pub mod labs;
pub mod life;
pub mod notices;
pub mod plans;
pub mod requests;
pub mod run_parts;
pub mod runs;
pub mod scenarios;
pub mod sequences;
pub mod settings;
pub mod tallies;
pub mod users;

use anyhow::Context;
use labplan_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, DbBackend, DbErr, EntityTrait, FromQueryResult, IntoActiveModel, PaginatorTrait, Select,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::domain::paging::PageRequest;

/// The embedded default: a SQLite file in the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://labplan.db?mode=rwc";
/// How long a request waits for a database connection.
const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a pooled connection may sit unused before it is checked before use.
const IDLE_BEFORE_PING: std::time::Duration = std::time::Duration::from_secs(5);
/// Rows per multi-row INSERT, well under SQLite's and PostgreSQL's bind-parameter limits.
pub const BATCH: usize = 400;

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
    // When the database is away, a request fails soon with 503 instead of queueing for
    // the pool's default half minute.
    options.acquire_timeout(ACQUIRE_TIMEOUT).connect_timeout(ACQUIRE_TIMEOUT);
    // By default every checkout pings its connection first: a round trip more for each
    // statement, a third of a busy server's work with the database. A connection in
    // steady use needs no ping; one that sat idle (where a restart, a proxy or a firewall
    // may have cut it) still gets one. A connection cut while in use fails its statement
    // (503) and is dropped when it is handed back.
    options.test_before_acquire_if_idle_for(IDLE_BEFORE_PING);
    Database::connect(options).await.with_context(|| format!("could not connect to the database at {}", redact(url)))
}

/// Errors that say the database is away (the pool gave no connection, or the server is
/// gone) rather than that the statement was wrong.
pub fn is_unavailable(err: &DbErr) -> bool {
    if matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) {
        return true;
    }
    let text = err.to_string();
    [
        "PoolTimedOut",
        "pool timed out",
        "Connection refused",
        "connection closed",
        "broken pipe",
        "terminating connection",
    ]
    .iter()
    .any(|s| text.contains(s))
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

/// The connection pool at this moment.
pub struct PoolStats {
    pub size: u32,
    pub idle: usize,
}

pub fn pool_stats(db: &DatabaseConnection) -> Option<PoolStats> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            Some(PoolStats { size: pool.size(), idle: pool.num_idle() })
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            Some(PoolStats { size: pool.size(), idle: pool.num_idle() })
        }
        _ => None,
    }
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

/// A connection or a transaction: what an operation runs on. A transaction's writes
/// nest in savepoints, so an operation can be one step of a larger one.
pub trait Db: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction> {}

impl<T: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>> Db for T {}

/// A transaction that will write. On SQLite it takes the write lock at BEGIN
/// (IMMEDIATE), so two writers queue on the busy timeout instead of one of them failing
/// with "database is locked" when its read turns into a write.
pub async fn begin<C: Db>(db: &C) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

pub fn is_postgres<C: ConnectionTrait>(db: &C) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// Inserts a row, or updates the row of the same key when `exists`.
pub async fn save<C, A>(db: &C, row: A, exists: bool) -> Result<<A::Entity as EntityTrait>::Model, DbErr>
where
    C: ConnectionTrait,
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    if exists { row.update(db).await } else { row.insert(db).await }
}

/// One page of `select` and the total number of rows it matches.
pub async fn fetch_page<E, C>(db: &C, select: Select<E>, page: PageRequest) -> Result<(Vec<E::Model>, u64), DbErr>
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
