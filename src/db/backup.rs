//! Backup and restore of the embedded SQLite database while it is in use. PostgreSQL has
//! its own tools (pg_dump, base backups), and these refuse it with that advice.

use std::path::Path;

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

pub const POSTGRES_ADVICE: &str = "this database is PostgreSQL: back it up with pg_dump (or base backups with \
     pg_basebackup and WAL archiving) and restore with pg_restore; labplan backup and restore are for the \
     embedded SQLite file";

fn sqlite_only(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() != DbBackend::Sqlite {
        bail!(POSTGRES_ADVICE);
    }
    Ok(())
}

/// A path as an SQL string literal.
fn literal(path: &Path) -> anyhow::Result<String> {
    let text = path.to_str().context("the file name is not valid UTF-8")?;
    Ok(format!("'{}'", text.replace('\'', "''")))
}

/// Writes a consistent copy of the live database to `to` (which must not exist): SQLite's
/// `VACUUM INTO` reads one snapshot, so writes may go on meanwhile.
pub async fn backup(db: &DatabaseConnection, to: &Path) -> anyhow::Result<()> {
    sqlite_only(db)?;
    if to.exists() {
        bail!("{} exists already; choose a new file name", to.display());
    }
    db.execute_unprepared(&format!("VACUUM INTO {}", literal(to)?))
        .await
        .with_context(|| format!("could not write the backup to {}", to.display()))?;
    Ok(())
}

/// Tables holding data, not SQLite's own nor the record of migrations.
async fn data_tables(db: &DatabaseConnection, schema: &str) -> anyhow::Result<Vec<String>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!(
                "SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 AND name <> 'seaql_migrations' ORDER BY name"
            ),
        ))
        .await?;
    rows.iter().map(|r| r.try_get_by_index::<String>(0).map_err(Into::into)).collect()
}

/// A copy of the backup to work on, removed when dropped.
struct Staged(std::path::PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// Replaces every row of the live database at `url` by the backup's, in one transaction
/// (readers see the old registry or the new one, never a mix), while servers may go on
/// using it. The backup is brought to the binary's schema first, on a copy: the file
/// itself is not changed.
pub async fn restore(url: &str, from: &Path) -> anyhow::Result<u64> {
    if !url.starts_with("sqlite:") {
        bail!(POSTGRES_ADVICE);
    }
    if !from.is_file() {
        bail!("{} is not a file", from.display());
    }
    let tag: u64 = rand::random();
    let staged = Staged(std::env::temp_dir().join(format!("labplan-restore-{tag:016x}.db")));
    std::fs::copy(from, &staged.0).with_context(|| format!("could not read {}", from.display()))?;
    {
        let db = super::connect(&format!("sqlite://{}?mode=rw", staged.0.display()))
            .await
            .context("the file is not a SQLite database")?;
        let tables = data_tables(&db, "main").await.context("the file is not a SQLite database")?;
        if !tables.iter().any(|t| t == "test_requests") {
            bail!("{} is not a labplan database", from.display());
        }
        super::migrate(&db).await.context("the backup could not be brought to this version's schema")?;
        db.close().await?;
    }
    // One connection: the pragma, the attachment and the transaction belong to it.
    let mut options = sea_orm::ConnectOptions::new(url.to_string());
    options.max_connections(1).min_connections(1).sqlx_logging(false);
    let db = sea_orm::Database::connect(options).await.context("could not open the live database")?;
    super::migrate(&db).await?;
    let copy = &staged.0;
    let tables = data_tables(&db, "main").await?;
    // Foreign keys are checked once, at the end, over the whole new content.
    db.execute_unprepared("PRAGMA foreign_keys = OFF").await?;
    db.execute_unprepared(&format!("ATTACH DATABASE {} AS backup", literal(copy)?)).await?;
    let copied = copy_tables(&db, &tables).await;
    db.execute_unprepared("DETACH DATABASE backup").await?;
    db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    db.close().await?;
    copied
}

async fn copy_tables(db: &DatabaseConnection, tables: &[String]) -> anyhow::Result<u64> {
    db.execute_unprepared("BEGIN IMMEDIATE").await?;
    let mut rows = 0;
    let result: anyhow::Result<()> = async {
        for table in tables {
            db.execute_unprepared(&format!("DELETE FROM main.\"{table}\"")).await?;
            let insert = format!("INSERT INTO main.\"{table}\" SELECT * FROM backup.\"{table}\"");
            rows += db.execute_unprepared(&insert).await?.rows_affected();
        }
        // The triggers counted the deletes and inserts on top of the copied tallies.
        super::tallies::rebuild(db).await?;
        let broken = db.query_all_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA foreign_key_check")).await?;
        if !broken.is_empty() {
            bail!("the backup's rows break {} foreign keys; nothing was restored", broken.len());
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            db.execute_unprepared("COMMIT").await?;
            Ok(rows)
        }
        Err(e) => {
            db.execute_unprepared("ROLLBACK").await?;
            Err(e)
        }
    }
}
