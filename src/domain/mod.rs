//! Domain values that can only exist when valid: each has a `parse` that says what is wrong.

pub mod request;

use chrono::{Datelike, NaiveDate, Weekday};

/// A registry code or id such as `L001`, `C0001`, `RU-SAM`, `EMC-R10`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(String);

impl Code {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be empty".into());
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        if !trimmed.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            return Err("may hold only Latin letters, digits, '-', '_' and '.'".into());
        }
        Ok(Self(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A display name (Russian or English): non-blank, bounded.
pub fn parse_name(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().count() > 300 {
        return Err("must be at most 300 characters".into());
    }
    Ok(trimmed.to_string())
}

/// Optional free text; blank becomes none.
pub fn parse_optional_text(raw: Option<&str>, max_chars: usize) -> Result<Option<String>, String> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) if text.chars().count() > max_chars => Err(format!("must be at most {max_chars} characters")),
        Some(text) => Ok(Some(text.to_string())),
    }
}

/// An integer within bounds, reported with the bounds when it is not.
pub fn parse_int_in(value: i64, min: i64, max: i64) -> Result<i64, String> {
    if (min..=max).contains(&value) { Ok(value) } else { Err(format!("must be between {min} and {max}")) }
}

/// The Monday that starts the ISO week `date` falls in.
pub fn week_monday(date: NaiveDate) -> NaiveDate {
    date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()))
}

pub fn parse_monday(date: NaiveDate) -> Result<NaiveDate, String> {
    if date.weekday() == Weekday::Mon { Ok(date) } else { Err(format!("{date} is not a Monday")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_refuse_blank_long_and_odd_characters() {
        assert!(Code::parse("L001").is_ok());
        assert!(Code::parse("RU-SAM").is_ok());
        assert!(Code::parse("  ").is_err());
        assert!(Code::parse("L 001").is_err());
        assert!(Code::parse("Лаб").is_err());
        assert!(Code::parse(&"A".repeat(65)).is_err());
    }

    #[test]
    fn week_monday_maps_any_day_to_its_monday() {
        let sunday = NaiveDate::from_ymd_opt(2027, 1, 10).expect("valid date");
        assert_eq!(week_monday(sunday), NaiveDate::from_ymd_opt(2027, 1, 4).expect("valid date"));
    }
}
