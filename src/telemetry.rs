//! Structured logs with `tracing`; `LABPLAN_LOG` (or `RUST_LOG`) sets the filter, `LABPLAN_LOG_FORMAT=json` the format.

use tracing_subscriber::EnvFilter;

pub fn init() {
    init_with_default("info,sqlx=warn,sea_orm=warn,tower_http=info,highs=error");
}

/// As `init`, with another filter when neither variable is set (tests log warnings only).
pub fn init_with_default(default_filter: &str) {
    let filter =
        std::env::var("LABPLAN_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| default_filter.into());
    // Colours only on a terminal: a log file or collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(EnvFilter::new(filter)).with_writer(std::io::stderr).with_ansi(ansi);
    let result = if std::env::var("LABPLAN_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
