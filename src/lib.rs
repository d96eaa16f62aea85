//! labplan: a testing-demand registry and lab capacity scheduler.
//!
//! Layers depend one way: `domain` (valid values) ← `db` (every query) ← `app` (one
//! operation per thing a user can do) ← `http`, `web`, `cli`, `planning` (adapters that
//! only translate). `auth` holds the secrets' arithmetic; `startup` wires the adapters.

pub mod app;
pub mod auth;
pub mod cli;
pub mod db;
pub mod demo;
pub mod domain;
pub mod entities;
pub mod http;
pub mod planning;
pub mod sheets;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
