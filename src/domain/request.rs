//! A test request's own rules: what a valid filing is.

use chrono::NaiveDate;

use super::{Code, Errors, Msg, parse_date, parse_int_in, parse_optional_text};

pub const MAX_SAMPLES: i64 = 10_000;
pub const MAX_EXCLUDED_LABS: usize = 200;
pub const MAX_EXTERNAL_REF: usize = 100;
pub const MAX_NOTES: usize = 4000;
pub const MAX_REASON: usize = 1000;

/// The fields a company supplies for a request, after every check but the database look-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFields {
    pub company: Code,
    pub test_type: Code,
    pub samples: i32,
    pub ready_date: NaiveDate,
    pub due_date: NaiveDate,
    pub priority: i16,
    pub excluded_labs: Vec<Code>,
    pub external_ref: Option<String>,
    pub notes: Option<String>,
}

/// Raw values as they arrived; numbers are wide so that out-of-range values get a range message.
#[derive(Debug, Clone, Default)]
pub struct RawRequestFields<'a> {
    pub company: &'a str,
    pub test_type: &'a str,
    pub samples: i64,
    pub ready_date: NaiveDate,
    pub due_date: NaiveDate,
    pub priority: i64,
    pub excluded_labs: &'a [String],
    pub external_ref: Option<&'a str>,
    pub notes: Option<&'a str>,
}

impl RequestFields {
    /// Checks every field and reports all that are wrong at once.
    pub fn parse(raw: RawRequestFields<'_>) -> Result<Self, Vec<super::FieldError>> {
        let mut errors = Errors::default();
        let company = errors.take("company", Code::parse(raw.company));
        let test_type = errors.take("test_type", Code::parse(raw.test_type));
        let samples = errors.take("samples", parse_int_in(raw.samples, 1, MAX_SAMPLES));
        let priority = errors.take("priority", parse_int_in(raw.priority, 1, 3).map_err(|_| Msg::Priority));
        let ready_date = errors.take("ready_date", parse_date(raw.ready_date).map(Some)).unwrap_or(raw.ready_date);
        let due_date = errors.take("due_date", parse_date(raw.due_date).map(Some)).unwrap_or(raw.due_date);
        if raw.ready_date > raw.due_date {
            errors.push("due_date", Msg::DueBeforeReady);
        }
        let mut excluded_labs = Vec::new();
        if raw.excluded_labs.len() > MAX_EXCLUDED_LABS {
            errors.push("excluded_labs", Msg::TooManyLabs(MAX_EXCLUDED_LABS));
        }
        for (i, lab) in raw.excluded_labs.iter().enumerate() {
            match Code::parse(lab) {
                Ok(code) if excluded_labs.contains(&code) => {
                    errors.push(format!("excluded_labs[{i}]"), Msg::ListedTwice(code.into_string()))
                }
                Ok(code) => excluded_labs.push(code),
                Err(message) => errors.push(format!("excluded_labs[{i}]"), message),
            }
        }
        let external_ref = errors.take("external_ref", parse_optional_text(raw.external_ref, MAX_EXTERNAL_REF));
        let notes = errors.take("notes", parse_optional_text(raw.notes, MAX_NOTES));
        errors.finish()?;
        Ok(Self {
            company,
            test_type,
            // Both were range-checked above, so the narrowing cannot lose anything.
            samples: samples as i32,
            ready_date,
            due_date,
            priority: priority as i16,
            excluded_labs,
            external_ref,
            notes,
        })
    }

    /// The excluded labs' codes, sorted as the registry lists them.
    pub fn sorted_excluded(&self) -> Vec<String> {
        let mut codes: Vec<String> = self.excluded_labs.iter().map(ToString::to_string).collect();
        codes.sort();
        codes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn raw<'a>() -> RawRequestFields<'a> {
        RawRequestFields {
            company: "C0001",
            test_type: "EMC-R10",
            samples: 2,
            ready_date: date(2027, 1, 4),
            due_date: date(2027, 3, 5),
            priority: 2,
            ..Default::default()
        }
    }

    #[test]
    fn a_good_filing_parses() {
        let fields = RequestFields::parse(raw()).expect("valid");
        assert_eq!(fields.samples, 2);
        assert_eq!(fields.priority, 2);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let excluded = vec!["L001".to_string(), "L001".to_string(), "bad lab".to_string()];
        let errors = RequestFields::parse(RawRequestFields {
            samples: 0,
            priority: 7,
            ready_date: date(2027, 5, 1),
            excluded_labs: &excluded,
            ..raw()
        })
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["samples", "priority", "due_date", "excluded_labs[1]", "excluded_labs[2]"]);
    }

    #[test]
    fn dates_of_another_century_are_refused() {
        let errors =
            RequestFields::parse(RawRequestFields { ready_date: date(1900, 1, 1), ..raw() }).expect_err("invalid");
        assert_eq!(errors[0].field, "ready_date");
    }
}
