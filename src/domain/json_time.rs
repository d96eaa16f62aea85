//! Dates and times written into JSON exactly as chrono writes them, without going through
//! `Display`: a page of fifty requests holds three hundred of them, and the formatting
//! machinery was a tenth of the server's work on a busy list. Anything outside the years
//! 0–9999, or a leap second, is left to chrono.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde::{Serialize, Serializer};

/// `YYYY-MM-DD` into `out`; false when the year does not have four digits.
fn write_date(out: &mut Vec<u8>, date: NaiveDate) -> bool {
    let Ok(year) = u32::try_from(date.year()) else { return false };
    if year > 9999 {
        return false;
    }
    push_digits(out, year, 4);
    out.push(b'-');
    push_digits(out, date.month(), 2);
    out.push(b'-');
    push_digits(out, date.day(), 2);
    true
}

fn push_digits(out: &mut Vec<u8>, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        out.push(b'0' + digit as u8);
    }
}

fn text(bytes: &[u8]) -> &str {
    // Only ASCII digits and separators were written.
    std::str::from_utf8(bytes).unwrap_or_default()
}

pub fn date<S: Serializer>(date: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
    let mut out = Vec::with_capacity(10);
    if write_date(&mut out, *date) { serializer.serialize_str(text(&out)) } else { date.serialize(serializer) }
}

pub fn optional_date<S: Serializer>(value: &Option<NaiveDate>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => date(value, serializer),
        None => serializer.serialize_none(),
    }
}

/// RFC 3339 in UTC with a `Z`, and as many fractional digits (none, 3, 6 or 9) as the
/// time needs: chrono's own `Serialize`.
pub fn date_time<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let naive = at.naive_utc();
    let nanos = naive.nanosecond();
    let mut out = Vec::with_capacity(30);
    if nanos >= 1_000_000_000 || !write_date(&mut out, naive.date()) {
        return at.serialize(serializer);
    }
    out.push(b'T');
    push_digits(&mut out, naive.hour(), 2);
    out.push(b':');
    push_digits(&mut out, naive.minute(), 2);
    out.push(b':');
    push_digits(&mut out, naive.second(), 2);
    if nanos != 0 {
        out.push(b'.');
        if nanos.is_multiple_of(1_000_000) {
            push_digits(&mut out, nanos / 1_000_000, 3);
        } else if nanos.is_multiple_of(1_000) {
            push_digits(&mut out, nanos / 1_000, 6);
        } else {
            push_digits(&mut out, nanos, 9);
        }
    }
    out.push(b'Z');
    serializer.serialize_str(text(&out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::{DateTime, NaiveDate, TimeZone, Utc};
    use serde::Serialize;

    #[derive(Serialize)]
    struct Ours {
        #[serde(serialize_with = "super::date")]
        date: NaiveDate,
        #[serde(serialize_with = "super::optional_date")]
        maybe: Option<NaiveDate>,
        #[serde(serialize_with = "super::date_time")]
        at: DateTime<Utc>,
    }

    #[derive(Serialize)]
    struct Chronos {
        date: NaiveDate,
        maybe: Option<NaiveDate>,
        at: DateTime<Utc>,
    }

    #[test]
    fn written_exactly_as_chrono_writes_them() {
        let mut seen = 0;
        for (y, m, d) in
            [(2026, 11, 26), (1, 1, 1), (999, 12, 31), (9999, 12, 31), (10000, 1, 1), (-5, 3, 4), (0, 1, 1)]
        {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            for nanos in [0, 5_000_000, 123_000_000, 123_456_000, 123_456_789, 1, 999_999_999, 1_500_000_000] {
                let Some(naive) = date.and_hms_nano_opt(23, 59, 59, nanos) else { continue };
                let at = Utc.from_utc_datetime(&naive);
                for maybe in [None, Some(date)] {
                    let ours = serde_json::to_string(&Ours { date, maybe, at }).unwrap();
                    let theirs = serde_json::to_string(&Chronos { date, maybe, at }).unwrap();
                    assert_eq!(ours, theirs);
                    seen += 1;
                }
            }
        }
        assert!(seen > 100);
    }
}
