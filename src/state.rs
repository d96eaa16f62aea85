//! What every request handler shares: the database and the sign-in limiter.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbBackend};
use tokio::sync::{Semaphore, watch};

use crate::app::signin::{Limiter, TrustedProxies};
use crate::app::users::KnownTokens;
use crate::db::filings::{self, FilingQueue};

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Sign-in tries, per account and address.
    pub limiter: Arc<Limiter>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub proxies: Arc<TrustedProxies>,
    /// Turns true when the server stops: long answers (event streams) end then.
    pub stopping: watch::Receiver<bool>,
    /// Requests that may be in flight at once; past it the server answers 503 at once.
    pub in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    /// Bearer tokens read lately, for the routes whose statements check the token themselves.
    pub tokens: Arc<KnownTokens>,
    /// On PostgreSQL, where filings through the API are written, several to a statement.
    pub filings: Option<FilingQueue>,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        proxies: TrustedProxies,
        stopping: watch::Receiver<bool>,
        max_in_flight: usize,
    ) -> Self {
        let filings = (db.get_database_backend() == DbBackend::Postgres)
            .then(|| FilingQueue::start(db.clone(), filings::WRITERS, filings::MAX_BATCH));
        Self {
            db,
            limiter: Arc::default(),
            proxies: Arc::new(proxies),
            stopping,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            tokens: Arc::default(),
            filings,
        }
    }

    /// The in-flight limit this state was made with.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Completes when the server stops.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut stopping = self.stopping.clone();
        async move {
            let _ = stopping.wait_for(|s| *s).await;
        }
    }
}
