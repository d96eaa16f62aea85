//! Collects field errors so that one answer names every bad field, not just the first.

use chrono::NaiveDate;

use super::error::{ApiError, FieldError};
use crate::domain::{Code, parse_monday, parse_name, parse_optional_text};

#[derive(Debug, Default)]
pub struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    pub fn check(&mut self, field: &str, ok: bool, message: &str) {
        if !ok {
            self.push(FieldError::new(field, message));
        }
    }

    fn take<T: Default>(&mut self, field: &str, result: Result<T, String>) -> T {
        result.unwrap_or_else(|message| {
            self.push(FieldError::new(field, message));
            T::default()
        })
    }

    pub fn code(&mut self, field: &str, raw: &str) -> String {
        self.take(field, Code::parse(raw).map(Code::into_string))
    }

    /// ISO 3166-2: a two-letter country, a hyphen, one to three letters or digits.
    pub fn region_code(&mut self, field: &str, raw: &str) -> String {
        let raw = raw.trim();
        let ok = raw.len() <= 6
            && raw.split_once('-').is_some_and(|(country, sub)| {
                country.len() == 2
                    && country.chars().all(|c| c.is_ascii_uppercase())
                    && (1..=3).contains(&sub.len())
                    && sub.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            });
        self.take(field, if ok { Ok(raw.to_string()) } else { Err("must be an ISO 3166-2 code such as RU-SAM".into()) })
    }

    pub fn name(&mut self, field: &str, raw: &str) -> String {
        self.take(field, parse_name(raw))
    }

    pub fn optional_text(&mut self, field: &str, raw: Option<&str>, max_chars: usize) -> Option<String> {
        self.take(field, parse_optional_text(raw, max_chars))
    }

    pub fn int(&mut self, field: &str, value: i64, min: i64, max: i64) -> i32 {
        self.take(field, crate::domain::parse_int_in(value, min, max).map(|v| i32::try_from(v).unwrap_or(i32::MAX)))
    }

    pub fn big_int(&mut self, field: &str, value: i64, min: i64, max: i64) -> i64 {
        self.take(field, crate::domain::parse_int_in(value, min, max))
    }

    pub fn monday(&mut self, field: &str, date: NaiveDate) -> NaiveDate {
        match parse_monday(date) {
            Ok(d) => d,
            Err(message) => {
                self.push(FieldError::new(field, message));
                date
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(self.errors)) }
    }
}
