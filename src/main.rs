use std::process::ExitCode;

use clap::Parser;

// A page of requests is a few hundred small strings made and dropped; mimalloc hands them
// out and takes them back for about half of what the system allocator costs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    labplan::telemetry::init();
    match labplan::cli::run(labplan::cli::Cli::parse()).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
