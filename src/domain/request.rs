//! A test request's own rules: what a valid filing is and which status changes are allowed.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Code, parse_int_in, parse_optional_text};
use crate::http::error::FieldError;

pub const MAX_SAMPLES: i64 = 10_000;
pub const MAX_EXCLUDED_LABS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Submitted,
    Planned,
    Confirmed,
    InTesting,
    Completed,
    Cancelled,
    Unplaceable,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 7] = [
        Self::Submitted,
        Self::Planned,
        Self::Confirmed,
        Self::InTesting,
        Self::Completed,
        Self::Cancelled,
        Self::Unplaceable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Planned => "planned",
            Self::Confirmed => "confirmed",
            Self::InTesting => "in_testing",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Unplaceable => "unplaceable",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw).ok_or_else(|| format!("unknown status '{raw}'"))
    }

    /// Work that has started or ended cannot be called off.
    pub fn can_cancel(self) -> bool {
        matches!(self, Self::Submitted | Self::Planned | Self::Confirmed | Self::Unplaceable)
    }

    /// A confirmed booking is the lab's commitment: changing it means cancelling and filing anew.
    pub fn can_edit(self) -> bool {
        matches!(self, Self::Submitted | Self::Planned | Self::Unplaceable)
    }
}

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
    pub fn parse(raw: RawRequestFields<'_>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut check = |field: &str, result: Result<(), String>| {
            if let Err(message) = result {
                errors.push(FieldError::new(field, message));
            }
        };
        let company = Code::parse(raw.company);
        check("company", company.as_ref().map(|_| ()).map_err(Clone::clone));
        let test_type = Code::parse(raw.test_type);
        check("test_type", test_type.as_ref().map(|_| ()).map_err(Clone::clone));
        let samples = parse_int_in(raw.samples, 1, MAX_SAMPLES);
        check("samples", samples.as_ref().map(|_| ()).map_err(Clone::clone));
        let priority = parse_int_in(raw.priority, 1, 3)
            .map_err(|_| "must be 1 (routine), 2 (certification) or 3 (blocks production)".to_string());
        check("priority", priority.as_ref().map(|_| ()).map_err(Clone::clone));
        if raw.ready_date > raw.due_date {
            check("due_date", Err("must not be before ready_date".into()));
        }
        let mut excluded_labs = Vec::new();
        if raw.excluded_labs.len() > MAX_EXCLUDED_LABS {
            check("excluded_labs", Err(format!("at most {MAX_EXCLUDED_LABS} labs")));
        }
        for (i, lab) in raw.excluded_labs.iter().enumerate() {
            match Code::parse(lab) {
                Ok(code) if excluded_labs.contains(&code) => {
                    check(&format!("excluded_labs[{i}]"), Err(format!("'{code}' is listed twice")))
                }
                Ok(code) => excluded_labs.push(code),
                Err(message) => check(&format!("excluded_labs[{i}]"), Err(message)),
            }
        }
        let external_ref = parse_optional_text(raw.external_ref, 100);
        check("external_ref", external_ref.as_ref().map(|_| ()).map_err(Clone::clone));
        let notes = parse_optional_text(raw.notes, 4000);
        check("notes", notes.as_ref().map(|_| ()).map_err(Clone::clone));

        match (company, test_type, samples, priority, external_ref, notes) {
            (Ok(company), Ok(test_type), Ok(samples), Ok(priority), Ok(external_ref), Ok(notes))
                if errors.is_empty() =>
            {
                Ok(Self {
                    company,
                    test_type,
                    // Both were range-checked above, so the narrowing cannot lose anything.
                    samples: samples as i32,
                    ready_date: raw.ready_date,
                    due_date: raw.due_date,
                    priority: priority as i16,
                    excluded_labs,
                    external_ref,
                    notes,
                })
            }
            _ => Err(errors),
        }
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
    fn only_unstarted_work_can_be_cancelled() {
        assert!(RequestStatus::Planned.can_cancel());
        assert!(!RequestStatus::InTesting.can_cancel());
        assert!(!RequestStatus::Cancelled.can_cancel());
    }
}
