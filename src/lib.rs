//! labplan: a testing-demand registry and lab capacity scheduler.

pub mod auth;
pub mod cli;
pub mod db;
pub mod demo;
pub mod domain;
pub mod entities;
pub mod http;
pub mod planning;
pub mod startup;
pub mod telemetry;
pub mod web;
