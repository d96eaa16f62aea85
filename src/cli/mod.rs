//! The `labplan` command line.

pub mod solver_cmds;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

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
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; the password is read from LABPLAN_PASSWORD, else generated and printed once
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, value_enum)]
        role: crate::auth::Role,
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
}

impl WorkerArgs {
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
        Command::Serve { addr, demo, no_worker, worker } => {
            let worker = if no_worker { None } else { Some(worker.config()?) };
            let app = Application::build(&Settings { database_url, addr, demo, worker }).await?;
            tracing::info!(addr = %app.local_addr()?, "labplan is listening");
            app.run_until_stopped().await?;
        }
        Command::Worker { worker } => {
            let config = worker.config()?;
            let db = crate::db::connect(&database_url).await?;
            crate::db::migrate(&db).await?;
            crate::planning::worker::run(db, config, crate::startup::shutdown_signal()).await;
        }
        Command::Users { command } => {
            let db = crate::db::connect(&database_url).await?;
            crate::db::migrate(&db).await?;
            return users_command(&db, command).await;
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
                    crate::demo::parse_instance(&bytes)?
                }
                None => crate::demo::parse_instance(crate::demo::BUNDLED)?,
            };
            let r = crate::demo::load(&db, &instance).await?;
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
    }
    Ok(ExitCode::SUCCESS)
}

async fn users_command(db: &sea_orm::DatabaseConnection, command: UsersCommand) -> anyhow::Result<ExitCode> {
    use crate::auth::users;
    match command {
        UsersCommand::Add { email, role, company, lab } => {
            let (password, generated) = match std::env::var("LABPLAN_PASSWORD") {
                Ok(p) => (p, false),
                Err(_) => (crate::auth::new_secret("").chars().take(20).collect::<String>(), true),
            };
            let new = users::NewUser {
                email: &email,
                password: &password,
                role,
                company: company.as_deref(),
                lab: lab.as_deref(),
            };
            match users::add(db, new).await {
                Ok(user) => {
                    println!("user {} added as {}", user.email, user.role);
                    if generated {
                        println!("password: {password}");
                    }
                }
                Err(users::UserError::Invalid(message)) => {
                    eprintln!("error: {message}");
                    return Ok(ExitCode::FAILURE);
                }
                Err(users::UserError::Db(e)) => return Err(e).context("could not add the user"),
            }
        }
        UsersCommand::Token { email, name } => {
            let Some(user) = users::find_by_email(db, &email).await? else {
                eprintln!("error: no user {email}");
                return Ok(ExitCode::FAILURE);
            };
            match users::create_token(db, &user, &name).await {
                Ok(token) => println!("{token}"),
                Err(users::UserError::Invalid(message)) => {
                    eprintln!("error: {message}");
                    return Ok(ExitCode::FAILURE);
                }
                Err(users::UserError::Db(e)) => return Err(e).context("could not create the token"),
            }
        }
        UsersCommand::Revoke { email, name } => {
            let Some(user) = users::find_by_email(db, &email).await? else {
                eprintln!("error: no user {email}");
                return Ok(ExitCode::FAILURE);
            };
            let n = users::revoke_tokens(db, &user, name.as_deref()).await?;
            println!("{n} token(s) revoked");
        }
        UsersCommand::List => {
            for (user, tokens) in users::list(db).await? {
                let binding = user.company.as_deref().or(user.lab.as_deref()).unwrap_or("-");
                println!("{}\t{}\t{}", user.email, user.role, binding);
                for t in tokens {
                    let state = match (t.revoked_at, t.last_used_at) {
                        (Some(at), _) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
                        (None, Some(at)) => format!("last used {}", at.format("%Y-%m-%d %H:%M")),
                        (None, None) => "never used".to_string(),
                    };
                    println!("\ttoken '{}' created {}, {state}", t.name, t.created_at.format("%Y-%m-%d %H:%M"));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
