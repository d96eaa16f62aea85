//! Building and running the server: connect, migrate, optionally load the demo, bind,
//! serve until a shutdown signal, then drain.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::middleware;
use axum::response::Response;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::trace::TraceLayer;

use crate::app::signin::TrustedProxies;
use crate::http;
use crate::state::AppState;

/// How long a client may take by default to send a request's headers; a half-sent
/// request is dropped after this instead of holding a connection open for ever.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests handled at once by default: a few hundred keep two cores and a 16-connection
/// pool busy without letting waiting times grow without bound.
pub const MAX_IN_FLIGHT: usize = 256;
/// How long in-flight requests may take to finish after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub addr: SocketAddr,
    /// Load the bundled demo data set when the registry is empty.
    pub demo: bool,
    /// The embedded planning worker; None runs the server without one.
    pub worker: Option<crate::planning::worker::WorkerConfig>,
    /// E-mail delivery of notices; None sends none.
    pub mail: Option<crate::planning::mailer::MailConfig>,
    /// Reverse proxies whose `X-Forwarded-For` names the client (for the sign-in limits).
    pub trusted_proxies: TrustedProxies,
    /// How long a client may take to send a request's headers.
    pub header_read_timeout: Duration,
    /// Requests handled at once; more are answered 503 with Retry-After at once.
    pub max_in_flight: usize,
}

impl Settings {
    /// A server on `addr` over the database at `database_url`, without demo or worker.
    pub fn new(database_url: &str, addr: SocketAddr) -> Self {
        Self {
            database_url: database_url.to_string(),
            addr,
            demo: false,
            worker: None,
            mail: None,
            trusted_proxies: TrustedProxies::default(),
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_in_flight: MAX_IN_FLIGHT,
        }
    }
}

pub struct Application {
    listener: TcpListener,
    db: DatabaseConnection,
    settings: Settings,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let db = crate::db::connect(&settings.database_url).await?;
        crate::db::migrate(&db).await?;
        if settings.demo {
            let report = crate::demo::load_bundled_if_empty(&db).await?;
            match report {
                Some(r) => {
                    tracing::info!(requests = r.requests, labs = r.labs, companies = r.companies, "demo data loaded")
                }
                None => tracing::info!("registry not empty; demo data not loaded"),
            }
            crate::demo::print_demo_users(&crate::demo::ensure_demo_users(&db).await?);
        }
        let listener =
            TcpListener::bind(settings.addr).await.with_context(|| format!("could not listen on {}", settings.addr))?;
        http::init_metrics();
        Ok(Self { listener, db, settings: settings.clone() })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener.local_addr().context("the listener has no local address")
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Serves until SIGTERM or Ctrl-C.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal`; then takes no new connection, ends the event streams,
    /// lets in-flight requests finish (up to [`DRAIN_TIMEOUT`]) and stops the worker,
    /// which hands its run back.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let worker = self.settings.worker.clone().map(|config| {
            let mut stop = stop_rx.clone();
            tokio::spawn(crate::planning::worker::run(self.db.clone(), config, async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            }))
        });
        let mailer = self.settings.mail.clone().map(|config| {
            let mut stop = stop_rx.clone();
            tokio::spawn(crate::planning::mailer::run(self.db.clone(), config, async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            }))
        });
        let folder = {
            let mut stop = stop_rx.clone();
            tokio::spawn(crate::db::tallies::keep_folded(self.db.clone(), async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            }))
        };
        let state = AppState::new(self.db, self.settings.trusted_proxies.clone(), stop_rx, self.settings.max_in_flight);
        let timeout = self.settings.header_read_timeout;
        serve(self.listener, router(state), timeout, signal, &stop_tx).await;
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        if let Some(mailer) = mailer {
            let _ = mailer.await;
        }
        let _ = folder.await;
        Ok(())
    }
}

/// Accepts connections until `signal`, then says so on `stopping` (event streams end,
/// the worker hands its run back) and drains them. Each connection gets the peer's
/// address (for `ConnectInfo`) and a limit on how long its headers may take.
async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    signal: impl Future<Output = ()>,
    stopping: &watch::Sender<bool>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(signal);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, usually: wait a moment rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that went away mid-request is its own business.
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    tracing::info!("draining in-flight requests");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still open after the drain timeout were cut");
    }
}

/// The whole site: the API, the pages, health and metrics, with the layers every
/// request passes through.
pub fn router(state: AppState) -> Router {
    http::router(state.clone())
        .merge(crate::web::router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(http::extract::MAX_JSON_BODY))
        .layer(middleware::from_fn(crate::web::security_headers))
        .layer(middleware::from_fn_with_state(state.clone(), http::limit_in_flight))
        .layer(middleware::from_fn(http::track_metrics))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Unknown paths: problem+json for the API, a page in the user's language for a browser.
async fn not_found(req: Request) -> Response {
    let wants_html = req
        .headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && !req.uri().path().starts_with("/api/") {
        return crate::web::not_found_page(&req);
    }
    http::not_found()
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
