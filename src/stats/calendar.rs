//! PURE: civil dates (the proleptic Gregorian calendar), the day and month numbers the usage
//! totals are kept by, and the billing cycle.
//!
//! A day is numbered by the days since 1970-01-01 (negative before), a month by `year * 12 +
//! month - 1`: both count up by one, so "the last 31 days" and "the last 12 months" are ranges.
//! The conversions are Howard Hinnant's `days_from_civil` and `civil_from_days` (exact over the
//! whole `i32` year range, no tables).
//!
//! A billing cycle starts on day `N` (1 to 28, so that every month has it) of a month, at local
//! midnight, and ends at the next month's day `N`: from the 15th, 2027-01-15 to 2027-02-14
//! inclusive.

use std::fmt;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

/// The first and last billing day: every month has a 28th.
pub const BILLING_DAYS: std::ops::RangeInclusive<u8> = 1..=28;

/// A date in the proleptic Gregorian calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// The year.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u8,
    /// The day of the month, 1 to 31.
    pub day: u8,
}

impl fmt::Display for Date {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Whether `year` has a February 29th.
pub fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The days in `month` (1 to 12) of `year`.
pub fn month_days(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The day number (days since 1970-01-01) of `date`.
pub fn days_from_civil(date: Date) -> i64 {
    let y = i64::from(date.year) - i64::from(date.month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // 0..=399
    let m = i64::from(date.month);
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(date.day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // 0..=146096
    era * 146_097 + doe - 719_468
}

/// The date of day number `days`.
pub fn civil_from_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Date {
        year: year.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
        month,
        day,
    }
}

/// The day of the week of day number `days`: 0 is Sunday (1970-01-01 was a Thursday, 4).
pub fn weekday(days: i64) -> u8 {
    (days + 4).rem_euclid(7) as u8
}

/// The month number of `date`: `year * 12 + month - 1`.
pub fn month_number(date: Date) -> i64 {
    i64::from(date.year) * 12 + i64::from(date.month) - 1
}

/// The year and month (1 to 12) of a month number.
pub fn month_of(number: i64) -> (i32, u8) {
    (
        number.div_euclid(12) as i32,
        (number.rem_euclid(12) + 1) as u8,
    )
}

/// `YYYY-MM` of a month number.
pub fn month_text(number: i64) -> String {
    let (year, month) = month_of(number);
    format!("{year:04}-{month:02}")
}

/// The billing cycle that contains `today` when cycles start on `billing_day` (1 to 28): its
/// first day, and the first day of the next cycle.
pub fn cycle(today: Date, billing_day: u8) -> (Date, Date) {
    let this_month = month_number(today);
    let start_month = if today.day >= billing_day {
        this_month
    } else {
        this_month - 1
    };
    let on = |number: i64| {
        let (year, month) = month_of(number);
        Date {
            year,
            month,
            day: billing_day,
        }
    };
    (on(start_month), on(start_month + 1))
}

/// A wall-clock time, serialized as RFC 3339 UTC with milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp(pub SystemTime);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // humantime panics outside 1970..=9999; Linux clocks never go there, but a bad clock
        // must give an error, not a panic.
        let seconds = self
            .0
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs());
        match seconds {
            Ok(s) if s < MAX_RFC3339_SECONDS => {
                serializer.collect_str(&humantime::format_rfc3339_millis(self.0))
            }
            _ => Err(serde::ser::Error::custom("time outside 1970..=9999")),
        }
    }
}

/// 10000-01-01T00:00:00Z, the first second RFC 3339's four-digit year cannot show.
const MAX_RFC3339_SECONDS: u64 = 253_402_300_800;

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::time::Duration;

    #[test]
    fn timestamps_outside_rfc3339_are_errors_not_panics() {
        let at = |s: u64| {
            serde_json::to_string(&Timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs(s)))
        };
        assert_eq!(at(1_800_000_000).unwrap(), "\"2027-01-15T08:00:00.000Z\"");
        assert_eq!(
            at(MAX_RFC3339_SECONDS - 1).unwrap(),
            "\"9999-12-31T23:59:59.000Z\""
        );
        assert!(at(MAX_RFC3339_SECONDS).is_err());
        let before = Timestamp(SystemTime::UNIX_EPOCH - Duration::from_secs(1));
        assert!(serde_json::to_string(&before).is_err());
    }

    fn date(year: i32, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[rstest]
    #[case::epoch(date(1970, 1, 1), 0)]
    #[case::day_before_epoch(date(1969, 12, 31), -1)]
    #[case::leap_day_2000(date(2000, 2, 29), 11_016)]
    #[case::after_leap_day_2000(date(2000, 3, 1), 11_017)]
    #[case::not_leap_2100(date(2100, 3, 1), 47_541)]
    #[case::y2038(date(2038, 1, 19), 24_855)]
    #[case::leap_day_2028(date(2028, 2, 29), 21_243)]
    #[case::new_year_2027(date(2027, 1, 1), 20_819)]
    #[case::year_zero(date(0, 3, 1), -719_468)]
    fn day_numbers(#[case] civil: Date, #[case] days: i64) {
        assert_eq!(days_from_civil(civil), days);
        assert_eq!(civil_from_days(days), civil);
    }

    #[test]
    fn every_day_of_four_centuries_round_trips_in_order() {
        let mut expected = date(1900, 1, 1);
        for days in days_from_civil(expected)..days_from_civil(date(2300, 1, 1)) {
            assert_eq!(civil_from_days(days), expected, "day {days}");
            assert_eq!(days_from_civil(expected), days);
            // The next day by hand: month ends, year ends, leap days.
            expected = if expected.day < month_days(expected.year, expected.month) {
                Date {
                    day: expected.day + 1,
                    ..expected
                }
            } else if expected.month < 12 {
                date(expected.year, expected.month + 1, 1)
            } else {
                date(expected.year + 1, 1, 1)
            };
        }
    }

    #[rstest]
    #[case::leap_2024(2024, 2, 29)]
    #[case::common_2027(2027, 2, 28)]
    #[case::century_2100(2100, 2, 28)]
    #[case::four_centuries_2000(2000, 2, 29)]
    #[case::april(2027, 4, 30)]
    #[case::december(2027, 12, 31)]
    fn month_lengths(#[case] year: i32, #[case] month: u8, #[case] days: u8) {
        assert_eq!(month_days(year, month), days);
    }

    #[rstest]
    #[case::epoch_thursday(0, 4)]
    #[case::sunday_2027_03_28(days_from_civil(date(2027, 3, 28)), 0)]
    #[case::before_epoch_wednesday(-1, 3)]
    fn weekdays(#[case] days: i64, #[case] expected: u8) {
        assert_eq!(weekday(days), expected);
    }

    #[rstest]
    #[case::first_of_month(date(2027, 3, 1), 1, date(2027, 3, 1), date(2027, 4, 1))]
    #[case::last_of_month(date(2027, 3, 31), 1, date(2027, 3, 1), date(2027, 4, 1))]
    #[case::on_billing_day(date(2027, 3, 15), 15, date(2027, 3, 15), date(2027, 4, 15))]
    #[case::day_before(date(2027, 3, 14), 15, date(2027, 2, 15), date(2027, 3, 15))]
    #[case::across_new_year(date(2027, 1, 3), 28, date(2026, 12, 28), date(2027, 1, 28))]
    #[case::december_cycle(date(2026, 12, 30), 28, date(2026, 12, 28), date(2027, 1, 28))]
    #[case::leap_february(date(2028, 2, 29), 28, date(2028, 2, 28), date(2028, 3, 28))]
    fn billing_cycles(
        #[case] today: Date,
        #[case] billing_day: u8,
        #[case] start: Date,
        #[case] next: Date,
    ) {
        assert_eq!(cycle(today, billing_day), (start, next));
    }

    #[test]
    fn month_numbers_and_text() {
        assert_eq!(month_number(date(2027, 1, 9)), 2027 * 12);
        assert_eq!(month_of(2027 * 12 - 1), (2026, 12));
        assert_eq!(month_text(2027 * 12 + 2), "2027-03");
        assert_eq!(date(2027, 3, 5).to_string(), "2027-03-05");
    }
}
