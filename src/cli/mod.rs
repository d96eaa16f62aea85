//! The `labplan` command line.

pub mod solver_cmds;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::app::signin::TrustedProxies;
use crate::app::users::{self, Binding, NewUser};
use crate::app::{AppError, import};
use crate::domain::access::Caller;
use crate::startup::{Application, Settings};

#[derive(Debug, Parser)]
#[command(name = "labplan", version, about = "Testing-demand registry and lab capacity scheduler")]
pub struct Cli {
    /// Database URL: sqlite://FILE?mode=rwc or postgres://USER@HOST/DB.
    /// Default: a SQLite file labplan.db in the working directory.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (JSON API, health and metrics)
    Serve {
        /// Address to listen on
        #[arg(long, env = "LABPLAN_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Load the bundled demo data set if the registry is empty
        #[arg(long)]
        demo: bool,
        /// Do not run the embedded planning worker (run `labplan worker` elsewhere)
        #[arg(long)]
        no_worker: bool,
        /// Reverse proxies whose X-Forwarded-For names the client, comma-separated
        /// addresses or networks (e.g. 127.0.0.1,10.0.0.0/8); others' is ignored
        #[arg(long, env = "LABPLAN_TRUSTED_PROXIES", default_value = "", value_parser = TrustedProxies::parse)]
        trusted_proxies: TrustedProxies,
        /// Requests handled at once; more are answered 503 with Retry-After at once
        #[arg(long, env = "LABPLAN_MAX_IN_FLIGHT", default_value_t = crate::startup::MAX_IN_FLIGHT)]
        max_in_flight: usize,
        #[command(flatten)]
        worker: WorkerArgs,
    },
    /// Run a planning worker alone: claim queued planning runs and solve them
    Worker {
        #[command(flatten)]
        worker: WorkerArgs,
    },
    /// Apply pending database migrations and exit
    Migrate,
    /// Write a consistent copy of the embedded SQLite database to FILE while it is in use
    /// (PostgreSQL: use pg_dump)
    Backup {
        /// The copy to write; it must not exist yet
        file: PathBuf,
    },
    /// Replace the registry in the embedded SQLite database by FILE's (a `labplan backup`),
    /// in one transaction (PostgreSQL: use pg_restore)
    Restore {
        /// A file written by `labplan backup`
        file: PathBuf,
    },
    /// Load a labplan-instance/1 data set into the registry (idempotent)
    Demo {
        /// The data set; default: the bundled cluster-1300 demo
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Users and API tokens
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Solve a planning instance file and write the plan
    Solve(solver_cmds::SolveArgs),
    /// Check a plan against its instance: every rule, and the objective recomputed
    Validate(solver_cmds::ValidateArgs),
    /// Benchmark the optimizer on the reference instances
    Bench(solver_cmds::BenchArgs),
    /// Generate a synthetic planning instance
    Generate(solver_cmds::GenerateArgs),
    /// Import a spreadsheet into the registry
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Test requests from an XLSX or CSV survey: all rows or, on any error, none
    Requests {
        /// The survey file (.xlsx, or .csv in UTF-8 or Windows-1251)
        file: PathBuf,
        /// Check every row and report; write nothing
        #[arg(long)]
        dry_run: bool,
        /// Act as this user (their role and company apply, the audit names them);
        /// default: the command-line operator
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
        /// Add companies of unknown INNs from the name and region columns
        #[arg(long)]
        create_companies: bool,
    },
    /// A lab's accreditation scope and weekly capacity from its workbook (two sheets)
    Lab {
        /// The lab's id, e.g. L001
        lab: String,
        /// The workbook (.xlsx) with the sheets «Область аккредитации» and «Мощности»
        file: PathBuf,
        /// Check every row and report; write nothing
        #[arg(long)]
        dry_run: bool,
        /// Act as this user (a lab coordinator imports only their own lab);
        /// default: the command-line operator
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; the password is read from LABPLAN_PASSWORD, else generated and printed once
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, value_enum)]
        role: crate::domain::access::Role,
        /// The company of a company user
        #[arg(long)]
        company: Option<String>,
        /// The lab of a lab user
        #[arg(long)]
        lab: Option<String>,
    },
    /// Print a new API token for a user (shown once; only its hash is kept)
    Token {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until the token expires
        #[arg(long, default_value_t = crate::app::users::DEFAULT_TOKEN_DAYS, conflicts_with = "no_expiry")]
        days: u32,
        /// A token that never expires (for a service account whose token is rotated by hand)
        #[arg(long)]
        no_expiry: bool,
    },
    /// Disable a user: their sessions end and their tokens stop working at once
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled user again (their unrevoked, unexpired tokens work again)
    Enable {
        #[arg(long)]
        email: String,
    },
    /// Revoke a user's API tokens (those of one name, or all)
    Revoke {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List users with their tokens
    List,
}

#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// Seconds a claimed planning run stays with its worker without a heartbeat;
    /// a run whose worker died is taken over after this long
    #[arg(long, env = "LABPLAN_LEASE_SECONDS", default_value_t = 30.0)]
    pub lease_seconds: f64,
    /// Solver threads per run (default: all cores)
    #[arg(long, env = "LABPLAN_SOLVER_THREADS")]
    pub solver_threads: Option<usize>,
    /// SMTP server that notices are e-mailed through; without it none are e-mailed
    #[arg(long, env = "LABPLAN_SMTP_HOST")]
    pub smtp_host: Option<String>,
    #[arg(long, env = "LABPLAN_SMTP_PORT", default_value_t = 25)]
    pub smtp_port: u16,
    /// The notices' sender
    #[arg(long, env = "LABPLAN_SMTP_FROM", default_value = "labplan <labplan@localhost>")]
    pub smtp_from: String,
    #[arg(long, env = "LABPLAN_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// The SMTP password (from the environment, so that it stays out of `ps`)
    #[arg(long, env = "LABPLAN_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,
}

impl WorkerArgs {
    fn mail(&self) -> Option<crate::planning::mailer::MailConfig> {
        let host = self.smtp_host.as_deref().filter(|h| !h.trim().is_empty())?;
        let mut config = crate::planning::mailer::MailConfig::new(host, self.smtp_port, &self.smtp_from);
        config.username.clone_from(&self.smtp_username);
        config.password.clone_from(&self.smtp_password);
        Some(config)
    }

    fn config(&self) -> anyhow::Result<crate::planning::worker::WorkerConfig> {
        if !(self.lease_seconds.is_finite() && (1.0..=3600.0).contains(&self.lease_seconds)) {
            anyhow::bail!("--lease-seconds must be between 1 and 3600");
        }
        Ok(crate::planning::worker::WorkerConfig::new(
            std::time::Duration::from_secs_f64(self.lease_seconds),
            self.solver_threads,
        ))
    }
}

impl Cli {
    fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| crate::db::DEFAULT_DATABASE_URL.to_string())
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let database_url = cli.database_url();
    match cli.command {
        Command::Serve { addr, demo, no_worker, trusted_proxies, max_in_flight, worker } => {
            let mail = if no_worker { None } else { worker.mail() };
            let worker = if no_worker { None } else { Some(worker.config()?) };
            if max_in_flight == 0 {
                anyhow::bail!("--max-in-flight must be at least 1");
            }
            let settings =
                Settings { demo, worker, mail, trusted_proxies, max_in_flight, ..Settings::new(&database_url, addr) };
            let app = Application::build(&settings).await?;
            tracing::info!(addr = %app.local_addr()?, "labplan is listening");
            app.run_until_stopped().await?;
        }
        Command::Worker { worker } => {
            let config = worker.config()?;
            let db = crate::db::connect(&database_url).await?;
            crate::db::migrate(&db).await?;
            match worker.mail() {
                Some(mail) => {
                    let mailer = crate::planning::mailer::run(db.clone(), mail, crate::startup::shutdown_signal());
                    let planner = crate::planning::worker::run(db, config, crate::startup::shutdown_signal());
                    tokio::join!(mailer, planner);
                }
                None => crate::planning::worker::run(db, config, crate::startup::shutdown_signal()).await,
            }
        }
        Command::Users { command } => {
            let db = crate::db::connect(&database_url).await?;
            crate::db::migrate(&db).await?;
            return users_command(&db, command).await;
        }
        Command::Backup { file } => {
            let db = crate::db::connect(&database_url).await?;
            crate::db::backup::backup(&db, &file).await?;
            eprintln!("backup written to {}", file.display());
        }
        Command::Restore { file } => {
            let rows = crate::db::backup::restore(&database_url, &file).await?;
            eprintln!("restored {rows} rows from {}", file.display());
        }
        Command::Migrate => {
            let db = crate::db::connect(&database_url).await?;
            crate::db::migrate(&db).await?;
            eprintln!("migrations applied to {}", crate::db::redact(&database_url));
        }
        Command::Demo { data } => {
            let db = crate::db::connect(&database_url).await?;
            crate::db::migrate(&db).await?;
            let instance = match &data {
                Some(path) => {
                    let bytes = std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
                    import::parse_instance(&bytes)?
                }
                None => import::parse_instance(crate::demo::BUNDLED)?,
            };
            let r = import::instance(&db, &Caller::Operator, &instance)
                .await
                .map_err(|e| anyhow::anyhow!("the data set was not loaded: {}", describe(&e)))?;
            eprintln!(
                "loaded {} regions, {} equipment classes, {} test types, {} labs, {} companies, {} requests",
                r.regions, r.equipment, r.test_types, r.labs, r.companies, r.requests
            );
            if data.is_none() {
                crate::demo::print_demo_users(&crate::demo::ensure_demo_users(&db).await?);
            }
        }
        Command::Solve(args) => {
            tokio::task::spawn_blocking(move || solver_cmds::run_solve(args))
                .await
                .context("the solver panicked")??;
        }
        Command::Validate(args) => {
            return tokio::task::spawn_blocking(move || solver_cmds::run_validate(args))
                .await
                .context("the validator panicked")?;
        }
        Command::Bench(args) => {
            tokio::task::spawn_blocking(move || solver_cmds::run_bench(args))
                .await
                .context("the benchmark panicked")??;
        }
        Command::Generate(args) => solver_cmds::run_generate(args)?,
        Command::Import { command } => {
            let db = crate::db::connect(&database_url).await?;
            crate::db::migrate(&db).await?;
            return import_command(&db, command).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An operation's refusal as one line for the terminal.
pub fn describe(error: &AppError) -> String {
    match error {
        AppError::Validation(errors) => {
            errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

/// The user of an e-mail, or a message and a failing exit.
async fn user_by_email(db: &sea_orm::DatabaseConnection, email: &str) -> anyhow::Result<Result<i64, ExitCode>> {
    match users::find_by_email(db, &Caller::Operator, email).await {
        Ok(user) => Ok(Ok(user.id)),
        Err(AppError::NotFound(_)) => {
            eprintln!("error: no user {email}");
            Ok(Err(ExitCode::FAILURE))
        }
        Err(e) => Err(anyhow::anyhow!("could not look the user up: {e}")),
    }
}

/// Refused input is a message and a failing exit; a failure of the database is an error.
fn refused(error: AppError) -> anyhow::Result<ExitCode> {
    match error {
        AppError::Validation(_) | AppError::Conflict(_) | AppError::NotFound(_) | AppError::Forbidden(_) => {
            eprintln!("error: {}", describe(&error));
            Ok(ExitCode::FAILURE)
        }
        other => Err(anyhow::anyhow!("{other}")),
    }
}

async fn set_disabled(db: &sea_orm::DatabaseConnection, email: &str, disable: bool) -> anyhow::Result<ExitCode> {
    let user = match user_by_email(db, email).await? {
        Ok(id) => id,
        Err(code) => return Ok(code),
    };
    match users::set_disabled(db, &Caller::Operator, user, disable).await {
        Ok(user) if disable => println!("user {} disabled; their sessions ended and their tokens stopped", user.email),
        Ok(user) => println!("user {} enabled", user.email),
        Err(e) => return refused(e),
    }
    Ok(ExitCode::SUCCESS)
}

async fn users_command(db: &sea_orm::DatabaseConnection, command: UsersCommand) -> anyhow::Result<ExitCode> {
    let operator = Caller::Operator;
    match command {
        UsersCommand::Add { email, role, company, lab } => {
            let (password, generated) = match std::env::var("LABPLAN_PASSWORD") {
                Ok(p) => (p, false),
                Err(_) => (crate::auth::new_password(), true),
            };
            let new = NewUser { email, password: password.clone(), binding: Binding { role, company, lab } };
            match users::add(db, &operator, new).await {
                Ok(user) => {
                    println!("user {} added as {}", user.email, user.role.as_str());
                    if generated {
                        println!("password: {password}");
                    }
                }
                Err(e) => return refused(e),
            }
        }
        UsersCommand::Token { email, name, days, no_expiry } => {
            let user = match user_by_email(db, &email).await? {
                Ok(id) => id,
                Err(code) => return Ok(code),
            };
            match users::create_token(db, &operator, user, &name, (!no_expiry).then_some(days)).await {
                Ok(token) => println!("{token}"),
                Err(e) => return refused(e),
            }
        }
        UsersCommand::Revoke { email, name } => {
            let user = match user_by_email(db, &email).await? {
                Ok(id) => id,
                Err(code) => return Ok(code),
            };
            match users::revoke_tokens(db, &operator, user, name.as_deref()).await {
                Ok(n) => println!("{n} token(s) revoked"),
                Err(e) => return refused(e),
            }
        }
        UsersCommand::Disable { email } => return set_disabled(db, &email, true).await,
        UsersCommand::Enable { email } => return set_disabled(db, &email, false).await,
        UsersCommand::List => {
            let list = users::list(db, &operator).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            for (user, tokens) in list {
                let binding = user.company.as_deref().or(user.lab.as_deref()).unwrap_or("-");
                let disabled = if user.disabled_at.is_some() { "\tdisabled" } else { "" };
                println!("{}\t{}\t{}{disabled}", user.email, user.role.as_str(), binding);
                for t in tokens {
                    let state = match (t.revoked_at, t.last_used_at) {
                        (Some(at), _) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
                        (None, Some(at)) => format!("last used {}", at.format("%Y-%m-%d %H:%M")),
                        (None, None) => "never used".to_string(),
                    };
                    let expires =
                        t.expires_at.map(|at| format!(", expires {}", at.format("%Y-%m-%d"))).unwrap_or_default();
                    println!(
                        "\ttoken '{}' created {}, {state}{expires}",
                        t.name,
                        t.created_at.format("%Y-%m-%d %H:%M")
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The caller a command acts as: the operator, or a user by e-mail (never a disabled one).
async fn acting_as(
    db: &sea_orm::DatabaseConnection,
    as_user: Option<&str>,
) -> anyhow::Result<Result<Caller, ExitCode>> {
    let Some(email) = as_user else { return Ok(Ok(Caller::Operator)) };
    let user = match users::find_by_email(db, &Caller::Operator, email).await {
        Ok(user) => user,
        Err(e) => return refused(e).map(Err),
    };
    if user.disabled_at.is_some() {
        eprintln!("error: the user {email} is disabled");
        return Ok(Err(ExitCode::FAILURE));
    }
    let id = crate::domain::ids::UserId(user.id);
    Ok(Caller::of_user(id, &user.email, user.role, user.company.as_deref(), user.lab.as_deref()).ok_or_else(|| {
        eprintln!("error: the user {email} has a role binding that does not fit the role");
        ExitCode::FAILURE
    }))
}

fn print_row_errors(errors: &[crate::app::spreadsheets::RowError], ignored: &[String]) {
    for e in errors {
        let sheet = if e.sheet.is_empty() { String::new() } else { format!("{}, ", e.sheet) };
        let column = if e.column.is_empty() { String::new() } else { format!(", {}", e.column) };
        eprintln!("{sheet}row {}{column}: {}", e.row, e.message);
    }
    if !ignored.is_empty() {
        eprintln!("ignored columns: {}", ignored.join(", "));
    }
    if !errors.is_empty() {
        eprintln!("error: {} error(s); nothing was imported", errors.len());
    }
}

/// `labplan import …`: the same operations as the API's, as the operator or as a user.
async fn import_command(db: &sea_orm::DatabaseConnection, command: ImportCommand) -> anyhow::Result<ExitCode> {
    let (file, dry_run, as_user, create_companies, lab) = match command {
        ImportCommand::Requests { file, dry_run, as_user, create_companies } => {
            (file, dry_run, as_user, create_companies, None)
        }
        ImportCommand::Lab { lab, file, dry_run, as_user } => (file, dry_run, as_user, false, Some(lab)),
    };
    let caller = match acting_as(db, as_user.as_deref()).await? {
        Ok(caller) => caller,
        Err(code) => return Ok(code),
    };
    let bytes = std::fs::read(&file).with_context(|| format!("could not read {}", file.display()))?;
    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let options =
        crate::app::spreadsheets::ImportOptions { dry_run, create_companies, file_name, lang: crate::sheets::Lang::En };
    let verb = if dry_run { "would import" } else { "imported" };
    if let Some(lab) = lab {
        let report = match crate::app::lab_sheets::import_lab(db, &caller, &lab, &bytes, &options).await {
            Ok(report) => report,
            Err(e) => return refused(e),
        };
        print_row_errors(&report.errors, &report.ignored_columns);
        if report.refused() {
            return Ok(ExitCode::FAILURE);
        }
        let (a, c) = (report.scope, report.capacity);
        println!(
            "{verb} for lab {lab}: scope {} created, {} updated, {} unchanged; \
             capacity {} created, {} updated, {} unchanged",
            a.created, a.updated, a.unchanged, c.created, c.updated, c.unchanged
        );
        for (what, kept) in [("test types", &report.scope_not_in_file), ("equipment", &report.capacity_not_in_file)] {
            if !kept.is_empty() {
                println!("kept, not in the file: {what} {}", kept.join(", "));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = match crate::app::spreadsheets::import_requests(db, &caller, &bytes, &options).await {
        Ok(report) => report,
        Err(e) => return refused(e),
    };
    print_row_errors(&report.errors, &report.ignored_columns);
    if report.refused() {
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "{verb}: {} created, {} updated, {} unchanged, {} companies added",
        report.created, report.updated, report.unchanged, report.companies_created
    );
    Ok(ExitCode::SUCCESS)
}
