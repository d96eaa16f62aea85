//! The planning worker: claims queued runs, solves them, stores their plans.

pub mod mailer;
pub mod worker;
