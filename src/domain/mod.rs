//! Domain values that can only exist when valid: each has a `parse` that says what is
//! wrong. Nothing here knows of the database, HTTP or pages.

pub mod access;
pub mod diff;
pub mod horizon;
pub mod ids;
pub mod inn;
pub mod json_time;
pub mod message;
pub mod paging;
pub mod request;
pub mod scenario;
pub mod status;

use chrono::{Datelike, NaiveDate, Weekday};

pub use self::message::{Errors, FieldError, Kind, Msg};

/// A registry code or id such as `L001`, `C0001`, `RU-SAM`, `EMC-R10`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Code(String);

impl Code {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, Msg> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Msg::Required);
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(Msg::TooLong(Self::MAX_LEN));
        }
        if !trimmed.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            return Err(Msg::CodeChars);
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

/// The longest display name.
pub const MAX_NAME: usize = 300;

/// Text people type may hold line breaks and tabs, but no other control character: a NUL
/// is refused by PostgreSQL and others hide text from the reader.
fn has_control(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// A display name (Russian or English): non-blank, bounded, one line.
pub fn parse_name(raw: &str) -> Result<String, Msg> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Msg::Required);
    }
    if trimmed.chars().count() > MAX_NAME {
        return Err(Msg::TooLong(MAX_NAME));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Msg::ControlChars);
    }
    Ok(trimmed.to_string())
}

/// Optional free text; blank becomes none.
pub fn parse_optional_text(raw: Option<&str>, max_chars: usize) -> Result<Option<String>, Msg> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) if text.chars().count() > max_chars => Err(Msg::TooLong(max_chars)),
        Some(text) if has_control(text) => Err(Msg::ControlChars),
        Some(text) => Ok(Some(text.to_string())),
    }
}

/// Required free text (a reason): non-blank, bounded.
pub fn parse_text(raw: &str, max_chars: usize) -> Result<String, Msg> {
    parse_optional_text(Some(raw), max_chars)?.ok_or(Msg::Required)
}

/// An integer within bounds, reported with the bounds when it is not.
pub fn parse_int_in(value: i64, min: i64, max: i64) -> Result<i64, Msg> {
    if (min..=max).contains(&value) { Ok(value) } else { Err(Msg::Range(min, max)) }
}

/// [`parse_int_in`] narrowed to `i32`, for columns of that width.
pub fn parse_i32_in(value: i64, min: i32, max: i32) -> Result<i32, Msg> {
    parse_int_in(value, i64::from(min), i64::from(max)).map(|v| i32::try_from(v).unwrap_or(max))
}

/// Dates the registry plans with: a year 0 or 1900 is a typing error, not a plan.
pub fn parse_date(date: NaiveDate) -> Result<NaiveDate, Msg> {
    if (2000..=2199).contains(&date.year()) { Ok(date) } else { Err(Msg::DateRange) }
}

/// The Monday that starts the ISO week `date` falls in.
pub fn week_monday(date: NaiveDate) -> NaiveDate {
    date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()))
}

pub fn parse_monday(date: NaiveDate) -> Result<NaiveDate, Msg> {
    let date = parse_date(date)?;
    if date.weekday() == Weekday::Mon { Ok(date) } else { Err(Msg::NotMonday(date)) }
}

/// ISO 3166-2: a two-letter country, a hyphen, one to three letters or digits.
pub fn parse_region_code(raw: &str) -> Result<String, Msg> {
    let raw = raw.trim();
    let ok = raw.len() <= 6
        && raw.split_once('-').is_some_and(|(country, sub)| {
            country.len() == 2
                && country.chars().all(|c| c.is_ascii_uppercase())
                && (1..=3).contains(&sub.len())
                && sub.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        });
    if ok { Ok(raw.to_string()) } else { Err(Msg::RegionCode) }
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

    #[test]
    fn text_refuses_control_characters_and_dates_far_off() {
        assert_eq!(parse_optional_text(Some("a\0b"), 100), Err(Msg::ControlChars));
        assert_eq!(parse_optional_text(Some("line\nline"), 100), Ok(Some("line\nline".into())));
        assert_eq!(parse_name("a\nb"), Err(Msg::ControlChars));
        let old = NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date");
        assert_eq!(parse_date(old), Err(Msg::DateRange));
        assert!(parse_date(NaiveDate::from_ymd_opt(2027, 1, 1).expect("valid date")).is_ok());
    }
}
