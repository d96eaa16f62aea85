//! What every request handler shares: the database and the sign-in limiter.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::watch;

use crate::app::signin::{Limiter, TrustedProxies};

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Sign-in tries, per account and address.
    pub limiter: Arc<Limiter>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub proxies: Arc<TrustedProxies>,
    /// Turns true when the server stops: long answers (event streams) end then.
    pub stopping: watch::Receiver<bool>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, proxies: TrustedProxies, stopping: watch::Receiver<bool>) -> Self {
        Self { db, limiter: Arc::default(), proxies: Arc::new(proxies), stopping }
    }

    /// Completes when the server stops.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut stopping = self.stopping.clone();
        async move {
            let _ = stopping.wait_for(|s| *s).await;
        }
    }
}
