//! Instants on the ledger's time line: UTC, microsecond precision, years 0000 to 9999.
//!
//! The wire form is RFC 3339 with an offset; the stored form is microseconds since the Unix
//! epoch. Parsing and formatting are written here rather than taken from a date crate: the
//! grammar is small, import parses millions of these, and the civil-date arithmetic
//! (Hinnant's days-from-civil) is exact and easy to test.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// 0000-01-01T00:00:00Z
const MIN_MICROS: i64 = -62_167_219_200 * MICROS_PER_SECOND;
/// 9999-12-31T23:59:59.999999Z
const MAX_MICROS: i64 = 253_402_300_800 * MICROS_PER_SECOND - 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time {text:?}: {why} (expected RFC 3339 such as 2013-03-29T00:00:00Z or 2013-03-29T08:00:00+08:00)"
)]
pub struct TimeError {
    text: String,
    why: &'static str,
}

impl Timestamp {
    pub const MIN: Timestamp = Timestamp(MIN_MICROS);
    pub const MAX: Timestamp = Timestamp(MAX_MICROS);
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    /// The instant `micros` after the Unix epoch, if it lies in years 0000..=9999.
    pub fn from_unix_micros(micros: i64) -> Option<Timestamp> {
        (MIN_MICROS..=MAX_MICROS).contains(&micros).then_some(Timestamp(micros))
    }

    pub fn unix_micros(self) -> i64 {
        self.0
    }

    /// The system clock, truncated to microseconds.
    pub fn now() -> Timestamp {
        let micros = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_micros()).unwrap_or(MAX_MICROS),
            Err(before) => -i64::try_from(before.duration().as_micros()).unwrap_or(-MIN_MICROS),
        };
        Timestamp(micros.clamp(MIN_MICROS, MAX_MICROS))
    }

    /// This instant moved by `micros`, saturating at the ends of the representable range.
    pub fn saturating_add_micros(self, micros: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(micros).clamp(MIN_MICROS, MAX_MICROS))
    }

    /// Parses RFC 3339 (`date-time` of section 5.6): a full date, `T`, a full time with an
    /// optional fraction of up to nine digits, and `Z` or a numeric offset. Fractions finer
    /// than a microsecond must be zero: the ledger never silently rounds a submitted time.
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimeError> {
        let fail = |why| TimeError { text: text.to_owned(), why };
        let b = text.as_bytes();
        if b.len() < 20 {
            return Err(fail("too short"));
        }
        let digits = |from: usize, len: usize| -> Result<i64, TimeError> {
            let mut value = 0i64;
            for &c in &b[from..from + len] {
                if !c.is_ascii_digit() {
                    return Err(fail("expected a digit"));
                }
                value = value * 10 + i64::from(c - b'0');
            }
            Ok(value)
        };
        let expect = |at: usize, what: &[u8], why| -> Result<(), TimeError> {
            if what.contains(&b[at]) { Ok(()) } else { Err(fail(why)) }
        };
        let year = digits(0, 4)?;
        expect(4, b"-", "expected '-' after the year")?;
        let month = digits(5, 2)?;
        expect(7, b"-", "expected '-' after the month")?;
        let day = digits(8, 2)?;
        expect(10, b"Tt", "expected 'T' between date and time")?;
        let hour = digits(11, 2)?;
        expect(13, b":", "expected ':' after the hour")?;
        let minute = digits(14, 2)?;
        expect(16, b":", "expected ':' after the minute")?;
        let second = digits(17, 2)?;
        if !(1..=12).contains(&month) {
            return Err(fail("month out of range"));
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err(fail("day out of range for the month"));
        }
        if hour > 23 || minute > 59 {
            return Err(fail("hour or minute out of range"));
        }
        if second > 59 {
            return Err(fail("second out of range (leap seconds are not representable)"));
        }
        let mut at = 19;
        let mut micros = 0i64;
        if b[at] == b'.' {
            at += 1;
            let start = at;
            while at < b.len() && b[at].is_ascii_digit() {
                at += 1;
            }
            let fraction = &b[start..at];
            if fraction.is_empty() || fraction.len() > 9 {
                return Err(fail("the fraction of a second must have 1 to 9 digits"));
            }
            for (i, &c) in fraction.iter().enumerate() {
                let digit = i64::from(c - b'0');
                if i < 6 {
                    micros += digit * 10i64.pow(5 - i as u32);
                } else if digit != 0 {
                    return Err(fail("finer than a microsecond"));
                }
            }
        }
        let offset_seconds = match b.get(at) {
            Some(b'Z' | b'z') if at + 1 == b.len() => 0,
            Some(&sign @ (b'+' | b'-')) if at + 6 == b.len() => {
                let off_hour = digits(at + 1, 2)?;
                expect(at + 3, b":", "expected ':' in the offset")?;
                let off_minute = digits(at + 4, 2)?;
                if off_hour > 23 || off_minute > 59 {
                    return Err(fail("offset out of range"));
                }
                let magnitude = off_hour * 3600 + off_minute * 60;
                if sign == b'+' { magnitude } else { -magnitude }
            }
            _ => return Err(fail("expected 'Z' or an offset such as +08:00 at the end")),
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset_seconds;
        Timestamp::from_unix_micros(seconds * MICROS_PER_SECOND + micros)
            .ok_or_else(|| fail("outside years 0000 to 9999 once converted to UTC"))
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always with six fraction digits, so the text form of an
    /// instant is unique.
    pub fn write_rfc3339(self, out: &mut impl fmt::Write) -> fmt::Result {
        let bytes = self.rfc3339_bytes();
        out.write_str(std::str::from_utf8(&bytes).expect("ASCII digits and separators"))
    }

    /// The text of `write_rfc3339`, built without the formatting machinery: every export
    /// line and API answer writes two of these per record.
    pub fn rfc3339_bytes(self) -> [u8; 27] {
        let days = self.0.div_euclid(MICROS_PER_SECOND * SECONDS_PER_DAY);
        let micros_of_day = self.0.rem_euclid(MICROS_PER_SECOND * SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let second_of_day = micros_of_day / MICROS_PER_SECOND;
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        let mut digits = |at: usize, width: usize, mut value: i64| {
            for i in (at..at + width).rev() {
                out[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        // Years are 0000 to 9999: `from_unix_micros` refuses any instant outside them.
        digits(0, 4, year);
        digits(5, 2, month);
        digits(8, 2, day);
        digits(11, 2, second_of_day / 3600);
        digits(14, 2, second_of_day / 60 % 60);
        digits(17, 2, second_of_day % 60);
        digits(20, 6, micros_of_day % MICROS_PER_SECOND);
        out
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-compatible
/// low-level date algorithms").
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_rfc3339(f)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_rfc3339(f)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Timestamp::parse_rfc3339(text)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time string")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// RFC 3339 `date-time` as `parse_rfc3339` reads it, as a regular expression: days checked
/// against their month (29 February only in leap years), no leap second, a fraction of 1 to 9
/// digits of which those past the sixth are zero, and `Z` or an offset within ±23:59.
const RFC3339_PATTERN: &str = concat!(
    "^(?:",
    "[0-9]{4}-(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])",
    "|[0-9]{4}-(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)",
    "|[0-9]{4}-02-(?:0[1-9]|1[0-9]|2[0-8])",
    "|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29",
    ")[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,6}0{0,3})?",
    "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$",
);

impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        concat!(module_path!(), "::Timestamp").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "pattern": RFC3339_PATTERN,
            "description": "An instant, RFC 3339 with an offset (2013-03-29T00:00:00Z, \
                2013-03-29T08:00:00+08:00), stored as UTC with microsecond precision. A fraction of \
                a second may have up to 9 digits, but those past the sixth must be zero: the ledger \
                never rounds a time. No leap seconds. The instant must lie in the years 0000 to \
                9999 once converted to UTC.",
        })
    }
}

impl bincode::Encode for Timestamp {
    fn encode<E: bincode::enc::Encoder>(&self, encoder: &mut E) -> Result<(), bincode::error::EncodeError> {
        self.0.encode(encoder)
    }
}

impl<C> bincode::Decode<C> for Timestamp {
    fn decode<D: bincode::de::Decoder<Context = C>>(
        decoder: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        let micros = i64::decode(decoder)?;
        Timestamp::from_unix_micros(micros).ok_or_else(|| {
            bincode::error::DecodeError::OtherString(format!(
                "time {micros} us is outside years 0000 to 9999"
            ))
        })
    }
}
bincode::impl_borrow_decode!(Timestamp);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> i64 {
        Timestamp::parse_rfc3339(text).unwrap().unix_micros()
    }

    #[test]
    fn known_instants() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), 0);
        assert_eq!(parse("2000-03-01T00:00:00Z"), 951_868_800_000_000);
        assert_eq!(parse("2000-02-29T23:59:59.999999Z"), 951_868_799_999_999);
        assert_eq!(parse("2013-03-29T08:00:00+08:00"), parse("2013-03-29T00:00:00Z"));
        assert_eq!(parse("2013-03-28T19:30:00-04:30"), parse("2013-03-29T00:00:00Z"));
        assert_eq!(parse("1969-12-31T23:59:59.5Z"), -500_000);
        assert_eq!(parse("2026-11-25T07:00:00.123456000z"), parse("2026-11-25T07:00:00.123456Z"));
    }

    #[test]
    fn display_is_canonical() {
        let t = Timestamp::parse_rfc3339("2013-03-29T08:00:00.5+08:00").unwrap();
        assert_eq!(t.to_string(), "2013-03-29T00:00:00.500000Z");
        assert_eq!(Timestamp::MIN.to_string(), "0000-01-01T00:00:00.000000Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999999Z");
    }

    #[test]
    fn refusals_say_why() {
        for (text, why) in [
            ("2013-02-29T00:00:00Z", "day out of range"),
            ("2013-03-29 00:00:00Z", "expected 'T'"),
            ("2013-03-29T00:00:00", "too short"),
            ("2013-03-29T00:00:00.Z", "1 to 9 digits"),
            ("2013-03-29T00:00:60Z", "leap seconds"),
            ("2013-03-29T00:00:00.0000001Z", "finer than a microsecond"),
            ("2013-03-29T00:00:00+0800", "expected 'Z' or an offset"),
            ("2013-13-29T00:00:00Z", "month out of range"),
            ("0000-01-01T00:00:00+00:01", "outside years"),
            ("２013-03-29T00:00:00Z", "digit"),
        ] {
            let err = Timestamp::parse_rfc3339(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    proptest! {
        #[test]
        fn text_round_trip(micros in MIN_MICROS..=MAX_MICROS) {
            let t = Timestamp(micros);
            prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_string()).unwrap(), t);
        }

        #[test]
        fn civil_round_trip(days in -800_000i64..3_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
            prop_assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
        }
    }
}
