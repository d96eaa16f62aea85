//! When a step of the solve stops: at a moment (the default), or after an amount of
//! work that is the same on every machine (a deterministic solve).
//!
//! A deterministic step still has a moment, far past its expected end, as a safety: a
//! step stopped by it marks the solve as no longer deterministic.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Instant;

#[derive(Debug)]
pub(crate) struct Stop<'a> {
    /// The moment the step ends (by time), or the safety moment (by work).
    deadline: Instant,
    /// Work units left, for a step that stops by work.
    work: Option<AtomicI64>,
    /// Set when a step that stops by work was cut by its safety moment.
    cut: Option<&'a AtomicBool>,
}

impl<'a> Stop<'a> {
    pub fn at(deadline: Instant) -> Self {
        Stop { deadline, work: None, cut: None }
    }

    pub fn after_work(units: u64, safety: Instant, cut: &'a AtomicBool) -> Self {
        Stop { deadline: safety, work: Some(AtomicI64::new(i64::try_from(units).unwrap_or(i64::MAX))), cut: Some(cut) }
    }

    /// Counts `units` of work done; true when the step must stop.
    pub fn spend(&self, units: u64) -> bool {
        if let Some(w) = &self.work {
            let units = i64::try_from(units).unwrap_or(i64::MAX);
            if w.fetch_sub(units, Ordering::Relaxed) - units < 0 {
                return true;
            }
        }
        if Instant::now() >= self.deadline {
            if let Some(cut) = self.cut {
                cut.store(true, Ordering::Relaxed);
            }
            return true;
        }
        false
    }

    pub fn done(&self) -> bool {
        self.spend(0)
    }

    /// Seconds to the step's moment: its end by time, its safety by work.
    pub fn seconds_left(&self) -> f64 {
        self.deadline.saturating_duration_since(Instant::now()).as_secs_f64()
    }

    /// Records that a call given this step's moment as its time limit reached it.
    pub fn note_time_limit(&self) {
        if let Some(cut) = self.cut {
            cut.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_out_and_only_the_safety_marks_a_cut() {
        let cut = AtomicBool::new(false);
        let far = Instant::now() + std::time::Duration::from_secs(3600);
        let stop = Stop::after_work(10, far, &cut);
        assert!(!stop.spend(6));
        assert!(stop.spend(6));
        assert!(!cut.load(Ordering::Relaxed));
        let past = Stop::after_work(10, Instant::now(), &cut);
        assert!(past.done());
        assert!(cut.load(Ordering::Relaxed));
    }
}
