//! What every request handler shares: the database and the sign-in limiter.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::app::signin::Limiter;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Failed sign-ins, per account and address.
    pub limiter: Arc<Limiter>,
}

impl AppState {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db, limiter: Arc::default() }
    }
}
