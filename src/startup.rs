//! Building and running the server: connect, migrate, optionally load the demo, bind, serve.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware;
use axum::response::Response;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::http;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub addr: SocketAddr,
    /// Load the bundled demo data set when the registry is empty.
    pub demo: bool,
    /// The embedded planning worker; None runs the server without one.
    pub worker: Option<crate::planning::worker::WorkerConfig>,
}

pub struct Application {
    listener: TcpListener,
    db: DatabaseConnection,
    worker: Option<crate::planning::worker::WorkerConfig>,
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
        Ok(Self { listener, db, worker: settings.worker.clone() })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.listener.local_addr().context("the listener has no local address")
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let worker = self.worker.map(|config| {
            let mut stop = stop_rx.clone();
            tokio::spawn(crate::planning::worker::run(self.db.clone(), config, async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            }))
        });
        let app = router(AppState::new(self.db));
        let served = axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown_signal())
            .await;
        let _ = stop_tx.send(true);
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        served.context("the server failed")
    }
}

/// The whole site: the API, the pages, health and metrics, with the layers every
/// request passes through.
pub fn router(state: AppState) -> Router {
    http::router(state.clone())
        .merge(crate::web::router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(http::extract::MAX_JSON_BODY))
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
