//! The planning service: the registry as a planning instance, runs as jobs, the worker
//! that solves them, and the comparison of a plan with the published one.

pub mod diff;
pub mod instance;
pub mod worker;
