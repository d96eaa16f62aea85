//! The planning horizon: consecutive ISO weeks from a Monday, and how dates map to them.
//!
//! Samples ready on a Monday can be tested that week, ready later in the week means the
//! next one; a request is due in the week that holds its due date.

use chrono::NaiveDate;

/// Weeks a horizon has when nobody says otherwise: half a year.
pub const DEFAULT_WEEKS: u32 = 26;
/// The most weeks a planning run may cover: two years.
pub const MAX_WEEKS: u32 = 104;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon {
    pub start: NaiveDate,
    pub weeks: u32,
}

impl Horizon {
    pub fn week_start(&self, week: u32) -> NaiveDate {
        self.start + chrono::Days::new(7 * u64::from(week))
    }

    /// The Sunday that ends `week`.
    pub fn week_end(&self, week: u32) -> NaiveDate {
        self.week_start(week) + chrono::Days::new(6)
    }

    /// The Sunday that ends the horizon.
    pub fn end(&self) -> NaiveDate {
        self.week_end(self.weeks.saturating_sub(1))
    }

    fn days_from_start(&self, date: NaiveDate) -> i64 {
        (date - self.start).num_days()
    }

    /// The first week in which samples ready on `date` can be tested.
    pub fn release_week(&self, date: NaiveDate) -> u32 {
        let days = self.days_from_start(date).max(0);
        u32::try_from((days + 6) / 7).unwrap_or(u32::MAX)
    }

    /// The week holding `date`; a date before the horizon counts as week 0, which
    /// understates how late the request already is but never makes it look early.
    pub fn due_week(&self, date: NaiveDate) -> u32 {
        let days = self.days_from_start(date).max(0);
        u32::try_from(days / 7).unwrap_or(u32::MAX)
    }

    /// The week holding `date`, if it lies inside the horizon.
    pub fn week_of(&self, date: NaiveDate) -> Option<u32> {
        let days = self.days_from_start(date);
        if days < 0 {
            return None;
        }
        u32::try_from(days / 7).ok().filter(|w| *w < self.weeks)
    }

    /// The week starting on `date`, if it is a Monday inside the horizon.
    pub fn week_of_monday(&self, date: NaiveDate) -> Option<u32> {
        if self.days_from_start(date) % 7 != 0 {
            return None;
        }
        self.week_of(date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn horizon() -> Horizon {
        Horizon { start: NaiveDate::from_ymd_opt(2027, 1, 4).expect("a date"), weeks: 26 }
    }

    #[test]
    fn dates_become_weeks_of_the_horizon() {
        let h = horizon();
        let d = |m, day| NaiveDate::from_ymd_opt(2027, m, day).expect("a date");
        assert_eq!(h.release_week(d(1, 4)), 0);
        assert_eq!(h.release_week(d(1, 5)), 1, "ready on Tuesday: testing starts next week");
        assert_eq!(h.release_week(d(1, 11)), 1);
        assert_eq!(h.release_week(NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date")), 0);
        assert_eq!(h.due_week(d(1, 8)), 0);
        assert_eq!(h.due_week(d(1, 10)), 0, "Sunday ends week 0");
        assert_eq!(h.due_week(d(1, 11)), 1);
        assert_eq!(h.week_of_monday(d(1, 18)), Some(2));
        assert_eq!(h.week_of_monday(d(1, 19)), None);
        assert_eq!(h.week_of(d(1, 19)), Some(2));
        assert_eq!(h.week_end(0), d(1, 10));
    }
}
