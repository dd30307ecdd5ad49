//! PURE: how much was used. Received and sent bytes per local calendar day (the last 31) and
//! month (the last 12) of each interface, and the billing cycle with its quota and projection.
//!
//! # What is counted, and when
//!
//! The totals are fed by the same deltas as the rates ([`crate::stats::rates::delta`]): 32-bit
//! wraps, resets, re-created interfaces and the first sample after a reboot count their new
//! traffic; the delta across a daemon restart on the same boot (taken against the saved counters)
//! counts once. The counters an interface already had when ifstatsd first saw it are not
//! counted: nobody knows when they were.
//!
//! **A day is the traffic counted in the samples that fell in it**, by the local wall clock at
//! each sample. The interval between two samples is not split: one that spans midnight (at most
//! one `--interval`, 10 s by default) counts wholly in the day of the sample that ends it, and so
//! does the traffic of a downtime, counted at the first sample after it. A month is the sum of
//! its days, counted the same way; a billing cycle is the sum of the days from its first to
//! today (a cycle is at most 31 days, so the days cover it).
//!
//! An interface forgotten after an hour away keeps its totals aside (they are still served and
//! saved); when it comes back it was re-created, so its counters at that first sample are new
//! traffic, and the totals go on.
//!
//! A day or a month gets an entry at the first sample that falls in it, even with no traffic, so
//! the days listed are the days counted; a day the daemon was down, or the interface absent, is
//! not listed. Traffic is counted by the wall clock as it is: on a router without a real-time
//! clock, the samples before its first NTP sync count on the day its clock then shows (OpenWrt
//! starts it from its newest file time). If the wall clock steps back by more than the days kept (a router without an RTC
//! before its first NTP sync), traffic counted on a day older than every kept day is dropped
//! from the days (and from the months likewise), not added to another day.
//!
//! # Memory
//!
//! Each interface keeps two fixed arrays, indexed by day number modulo 31 and month number
//! modulo 12 ([`crate::stats::calendar`]): 43 entries of 24 bytes and the start time, about
//! 1.05 KB, allocated once with the interface's history. No allocation per sample.
//!
//! # The billing cycle
//!
//! `--billing-day N` (1 to 28) starts a cycle at local midnight of day `N` of every month.
//! `projected_bytes` extrapolates the cycle's average rate so far to its end: `total * (end -
//! from) / (now - from)`, `from` being the cycle's start or, if later, when counting started.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::stats::calendar::{self, civil_from_days, month_number, Date, Timestamp};
use crate::stats::tz::Tz;

/// The days kept.
pub const DAYS: usize = 31;
/// The months kept.
pub const MONTHS: usize = 12;

/// Received and sent bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bytes {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

impl Bytes {
    fn add(&mut self, other: Bytes) {
        self.rx_bytes = self.rx_bytes.saturating_add(other.rx_bytes);
        self.tx_bytes = self.tx_bytes.saturating_add(other.tx_bytes);
    }

    /// Received plus sent.
    pub fn total(self) -> u64 {
        self.rx_bytes.saturating_add(self.tx_bytes)
    }
}

/// One day's or month's bytes, by its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    /// The day or month number; [`EMPTY`] for a place never used.
    number: i32,
    bytes: Bytes,
}

/// The number of an unused entry: older than any day or month.
const EMPTY: i32 = i32::MIN;

const EMPTY_ENTRY: Entry = Entry {
    number: EMPTY,
    bytes: Bytes {
        rx_bytes: 0,
        tx_bytes: 0,
    },
};

/// Days or months by number, with their bytes, oldest first.
pub type Entries = Vec<(i32, Bytes)>;

/// One interface's days and months.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    days: [Entry; DAYS],
    months: [Entry; MONTHS],
    /// When counting started: the first sample of the interface, or the oldest restored count.
    pub since: SystemTime,
}

impl Usage {
    /// Nothing counted yet, from `since`.
    pub fn new(since: SystemTime) -> Usage {
        Usage {
            days: [EMPTY_ENTRY; DAYS],
            months: [EMPTY_ENTRY; MONTHS],
            since,
        }
    }

    /// Counts `bytes` in local day `day` and month `month`; false where either was older than
    /// everything kept (see the module doc).
    pub fn add(&mut self, day: i32, month: i32, bytes: Bytes) -> bool {
        let kept_day = add_to(&mut self.days, day, bytes);
        add_to(&mut self.months, month, bytes) && kept_day
    }

    /// The bytes of day `day`, if it was counted and is kept.
    pub fn day(&self, day: i32) -> Option<Bytes> {
        find(&self.days, day)
    }

    /// The bytes of month `month`, if it was counted and is kept.
    pub fn month(&self, month: i32) -> Option<Bytes> {
        find(&self.months, month)
    }

    /// The counted days among the [`DAYS`] up to `today`, newest first.
    pub fn days_to(&self, today: i32) -> impl Iterator<Item = (i32, Bytes)> + '_ {
        back_from(today, DAYS).filter_map(|day| self.day(day).map(|b| (day, b)))
    }

    /// The counted months among the [`MONTHS`] up to `month`, newest first.
    pub fn months_to(&self, month: i32) -> impl Iterator<Item = (i32, Bytes)> + '_ {
        back_from(month, MONTHS).filter_map(|m| self.month(m).map(|b| (m, b)))
    }

    /// The kept days and months that can still be shown (those up to [`DAYS`] and [`MONTHS`]
    /// back from the newest), oldest first, for the state file. (Walked back from the newest
    /// rather than sorted: no sort code in the binary for 43 entries.)
    pub fn entries(&self) -> (Entries, Entries) {
        let list = |entries: &[Entry]| {
            let newest = entries.iter().map(|e| e.number).max().unwrap_or(EMPTY);
            let mut list: Entries = back_from(newest, entries.len())
                .filter(|&number| number != EMPTY)
                .filter_map(|number| find(entries, number).map(|bytes| (number, bytes)))
                .collect();
            list.reverse();
            list
        };
        (list(&self.days), list(&self.months))
    }

    /// Sets day `day` (from the state file).
    pub fn restore_day(&mut self, day: i32, bytes: Bytes) {
        add_to(&mut self.days, day, bytes);
    }

    /// Sets month `month` (from the state file).
    pub fn restore_month(&mut self, month: i32, bytes: Bytes) {
        add_to(&mut self.months, month, bytes);
    }
}

fn place(entries: &[Entry], number: i32) -> usize {
    number.rem_euclid(entries.len() as i32) as usize
}

fn add_to(entries: &mut [Entry], number: i32, bytes: Bytes) -> bool {
    let entry = &mut entries[place(entries, number)];
    if entry.number < number {
        // A newer day takes the place of the one a ring's length before it.
        *entry = Entry {
            number,
            bytes: Bytes::default(),
        };
    }
    if entry.number != number {
        return false; // a newer day holds the place: this one is older than every kept day
    }
    entry.bytes.add(bytes);
    true
}

fn find(entries: &[Entry], number: i32) -> Option<Bytes> {
    let entry = entries[place(entries, number)];
    (entry.number == number && number != EMPTY).then_some(entry.bytes)
}

fn back_from(newest: i32, count: usize) -> impl Iterator<Item = i32> {
    (0..count as i32).map(move |back| newest.saturating_sub(back))
}

/// How the totals are kept and shown: the time zone, the billing day, the quotas.
#[derive(Clone, Debug, PartialEq)]
pub struct Accounting {
    /// The local time zone.
    pub tz: Tz,
    /// The day of the month each billing cycle starts, 1 to 28.
    pub billing_day: u8,
    /// The quotas by interface name, in bytes of received plus sent traffic per cycle.
    pub quotas: Vec<(String, u64)>,
}

impl Default for Accounting {
    /// UTC, cycles from the 1st, no quota.
    fn default() -> Self {
        Accounting {
            tz: Tz::utc(),
            billing_day: 1,
            quotas: Vec::new(),
        }
    }
}

impl Accounting {
    /// The quota of interface `name`, if it has one.
    pub fn quota(&self, name: &str) -> Option<u64> {
        self.quotas
            .iter()
            .find(|(quota_name, _)| quota_name == name)
            .map(|&(_, bytes)| bytes)
    }

    /// The local day and month numbers of `wall`.
    pub fn local(&self, wall: SystemTime) -> (i32, i32) {
        let day = self.tz.local_day(unix_secs(wall));
        let day = day.clamp(i64::from(EMPTY) + 1, i64::from(i32::MAX));
        let month = month_number(civil_from_days(day));
        (
            day as i32,
            month.clamp(i64::from(EMPTY) + 1, i64::from(i32::MAX)) as i32,
        )
    }

    /// What `/api/v1/interface/{net_id}/usage` shows of `usage`, as of `now`.
    pub fn report(&self, name: &Arc<str>, usage: &Usage, now: SystemTime) -> Report {
        let now_secs = unix_secs(now);
        let (today, this_month) = self.local(now);
        let today_date = civil_from_days(i64::from(today));
        let (start, next) = calendar::cycle(today_date, self.billing_day);
        let start_day = calendar::days_from_civil(start) as i32;
        let cycle_bytes = (start_day..=today).fold(Bytes::default(), |mut sum, day| {
            sum.add(usage.day(day).unwrap_or_default());
            sum
        });
        let total = cycle_bytes.total();
        let from_ms = (self.tz.midnight_utc(start) * 1000).max(unix_ms(usage.since));
        let end_ms = self.tz.midnight_utc(next) * 1000;
        let now_ms = unix_ms(now);
        let quota = self.quota(name);
        let days = usage.days_to(today).map(|(day, bytes)| DayBytes {
            date: civil_from_days(i64::from(day)).to_string(),
            rx_bytes: bytes.rx_bytes,
            tx_bytes: bytes.tx_bytes,
        });
        let months = usage
            .months_to(this_month)
            .map(|(month, bytes)| MonthBytes {
                month: calendar::month_text(i64::from(month)),
                rx_bytes: bytes.rx_bytes,
                tx_bytes: bytes.tx_bytes,
            });
        Report {
            interface: Arc::clone(name),
            updated_at: Timestamp(now),
            time_zone: self.tz.name.clone(),
            time_zone_source: self.tz.source.as_str(),
            utc_offset_seconds: self.tz.offset_at(now_secs),
            counting_since: Timestamp(usage.since),
            today: today_date.to_string(),
            days: days.collect(),
            months: months.collect(),
            cycle: Cycle {
                start: start.to_string(),
                end: last_day_before(next).to_string(),
                billing_day: self.billing_day,
                rx_bytes: cycle_bytes.rx_bytes,
                tx_bytes: cycle_bytes.tx_bytes,
                total_bytes: total,
                quota_bytes: quota,
                remaining_bytes: quota.map(|quota| quota.saturating_sub(total)),
                projected_bytes: projection(total, from_ms, now_ms, end_ms),
            },
        }
    }
}

/// `total` counted from `from_ms` to `now_ms`, extrapolated at the same average to `end_ms`.
pub fn projection(total: u64, from_ms: i64, now_ms: i64, end_ms: i64) -> u64 {
    let (Ok(counted), Ok(to_end)) = (
        u128::try_from(now_ms - from_ms),
        u128::try_from(end_ms - from_ms),
    ) else {
        return total;
    };
    if counted == 0 || to_end <= counted {
        return total;
    }
    u64::try_from(u128::from(total) * to_end / counted).unwrap_or(u64::MAX)
}

fn last_day_before(date: Date) -> Date {
    civil_from_days(calendar::days_from_civil(date) - 1)
}

fn unix_secs(wall: SystemTime) -> i64 {
    unix_ms(wall).div_euclid(1000)
}

fn unix_ms(wall: SystemTime) -> i64 {
    match wall.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The wall time `ms` milliseconds after the epoch (for the state file).
pub fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH)
}

/// The body of `/api/v1/interface/{net_id}/usage`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The interface name.
    pub interface: Arc<str>,
    /// The wall time of the latest sample: the totals are as of then.
    pub updated_at: Timestamp,
    /// The zone the days are counted in: a `TZ` value, a POSIX rule, a zone name, or `UTC`.
    pub time_zone: String,
    /// Where the zone came from: `TZ`, `/etc/TZ`, `/etc/localtime` or `default` (UTC).
    pub time_zone_source: &'static str,
    /// Seconds east of UTC now, in that zone.
    pub utc_offset_seconds: i32,
    /// When counting started: the daemon's first sample of the interface, or, with a state
    /// file, the first sample saved in it.
    pub counting_since: Timestamp,
    /// The local date of the latest sample, `YYYY-MM-DD`.
    pub today: String,
    /// The counted days among the last 31, newest first.
    pub days: Vec<DayBytes>,
    /// The counted months among the last 12, newest first.
    pub months: Vec<MonthBytes>,
    /// The billing cycle that contains today.
    pub cycle: Cycle,
}

/// One day's bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DayBytes {
    /// The local date, `YYYY-MM-DD`.
    pub date: String,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// One month's bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MonthBytes {
    /// The local month, `YYYY-MM`.
    pub month: String,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// The billing cycle.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cycle {
    /// Its first day, `YYYY-MM-DD`, from local midnight.
    pub start: String,
    /// Its last day, `YYYY-MM-DD`, to local midnight after it.
    pub end: String,
    /// The day of the month cycles start (`--billing-day`).
    pub billing_day: u8,
    /// Bytes received in it so far.
    pub rx_bytes: u64,
    /// Bytes sent in it so far.
    pub tx_bytes: u64,
    /// Received plus sent.
    pub total_bytes: u64,
    /// The quota (`--quota`), on received plus sent; null without one.
    pub quota_bytes: Option<u64>,
    /// The quota minus the total, 0 once it is used up; null without a quota.
    pub remaining_bytes: Option<u64>,
    /// The total at the end of the cycle if the average so far goes on.
    pub projected_bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::calendar::days_from_civil;
    use crate::stats::tz::Source;
    use rstest::rstest;

    fn bytes(rx_bytes: u64, tx_bytes: u64) -> Bytes {
        Bytes { rx_bytes, tx_bytes }
    }

    fn day(year: i32, month: u8, d: u8) -> i32 {
        days_from_civil(Date {
            year,
            month,
            day: d,
        }) as i32
    }

    /// The wall time of local `YYYY-MM-DD hh:mm:ss` in `tz`.
    fn wall(tz: &Tz, text: &str) -> SystemTime {
        let n = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
        let local = days_from_civil(Date {
            year: n(0..4) as i32,
            month: n(5..7) as u8,
            day: n(8..10) as u8,
        }) * 86_400
            + n(11..13) * 3600
            + n(14..16) * 60
            + n(17..19);
        let utc = local - i64::from(tz.offset_at(local - i64::from(tz.offset_at(local))));
        UNIX_EPOCH + Duration::from_secs(utc as u64)
    }

    #[test]
    fn days_and_months_add_up_and_old_ones_give_way() {
        let mut usage = Usage::new(UNIX_EPOCH);
        let first = day(2027, 1, 30);
        assert!(usage.add(first, 2027 * 12, bytes(1, 2)));
        assert!(usage.add(first, 2027 * 12, bytes(10, 20)));
        assert!(usage.add(first + 2, 2027 * 12 + 1, bytes(100, 200)));
        assert_eq!(usage.day(first), Some(bytes(11, 22)));
        assert_eq!(usage.day(first + 1), None, "no sample fell on the 31st");
        assert_eq!(usage.month(2027 * 12), Some(bytes(11, 22)));
        assert_eq!(usage.month(2027 * 12 + 1), Some(bytes(100, 200)));
        // 31 days later the first day's place is taken; the first day is gone.
        assert!(usage.add(first + 31, 2027 * 12 + 2, bytes(0, 0)));
        assert_eq!(usage.day(first), None);
        assert_eq!(usage.day(first + 31), Some(bytes(0, 0)));
        // A day older than the one in its place is not counted by day (the clock went back).
        assert!(!usage.add(first, 2027 * 12 + 2, bytes(5, 5)));
        assert_eq!(usage.day(first + 31), Some(bytes(0, 0)));
        let listed: Vec<i32> = usage.days_to(first + 31).map(|(d, _)| d).collect();
        assert_eq!(
            listed,
            [first + 31, first + 2],
            "newest first, counted days only"
        );
        let months: Vec<i32> = usage.months_to(2027 * 12 + 2).map(|(m, _)| m).collect();
        assert_eq!(months, [2027 * 12 + 2, 2027 * 12 + 1, 2027 * 12]);
        assert_eq!(usage.month(2027 * 12 + 2), Some(bytes(5, 5)));
    }

    #[test]
    fn an_interface_s_totals_take_about_a_kilobyte() {
        // 43 entries of a day number and two u64s, and the start time (the module doc's figure).
        assert!(std::mem::size_of::<Usage>() <= 43 * 24 + 16);
    }

    #[test]
    fn totals_saturate_rather_than_wrap() {
        let mut usage = Usage::new(UNIX_EPOCH);
        usage.add(0, 0, bytes(u64::MAX - 1, 0));
        usage.add(0, 0, bytes(5, u64::MAX));
        assert_eq!(usage.day(0), Some(bytes(u64::MAX, u64::MAX)));
        assert_eq!(bytes(u64::MAX, 1).total(), u64::MAX);
    }

    #[rstest]
    #[case::half_way(100, 0, 50, 100, 200)]
    #[case::at_start(100, 0, 0, 100, 100)]
    #[case::at_end(100, 0, 100, 100, 100)]
    #[case::past_end(100, 0, 150, 100, 100)]
    #[case::clock_before_start(100, 10, 5, 100, 100)]
    #[case::a_third(30, 0, 1, 3, 90)]
    #[case::huge(u64::MAX / 2, 0, 1, 4, u64::MAX)]
    fn projections(
        #[case] total: u64,
        #[case] from: i64,
        #[case] now: i64,
        #[case] end: i64,
        #[case] projected: u64,
    ) {
        assert_eq!(projection(total, from, now, end), projected);
    }

    #[rstest]
    // Cycles from the 15th in Berlin: the 14th is in the previous cycle, the 15th starts one.
    #[case::before_billing_day("2027-03-14 23:59:00", "2027-02-15", "2027-03-14", 3 + 14)]
    #[case::on_billing_day("2027-03-15 00:00:30", "2027-03-15", "2027-04-14", 15)]
    #[case::month_end("2027-03-31 12:00:00", "2027-03-15", "2027-04-14", 15 + 31)]
    fn cycles_sum_their_days(
        #[case] now: &str,
        #[case] start: &str,
        #[case] end: &str,
        #[case] rx_bytes: u64,
    ) {
        let tz = Tz::posix("CET-1CEST,M3.5.0,M10.5.0/3", Source::Env).unwrap();
        let accounting = Accounting {
            tz: tz.clone(),
            billing_day: 15,
            quotas: vec![("wan".into(), 100)],
        };
        let mut usage = Usage::new(wall(&tz, "2027-02-20 00:00:00"));
        // One byte received on each of 13, 14, 15 and 31 March (the 14th by two samples).
        for (date, rx) in [
            ("2027-03-13 10:00:00", 3),
            ("2027-03-14 00:00:01", 7),
            ("2027-03-14 23:59:00", 7),
            ("2027-03-15 00:00:10", 15),
            ("2027-03-31 11:00:00", 31),
        ] {
            if wall(&tz, date) <= wall(&tz, now) {
                let (d, m) = accounting.local(wall(&tz, date));
                usage.add(d, m, bytes(rx, 1));
            }
        }
        let name: Arc<str> = Arc::from("wan");
        let report = accounting.report(&name, &usage, wall(&tz, now));
        assert_eq!(
            (report.cycle.start.as_str(), report.cycle.end.as_str()),
            (start, end)
        );
        assert_eq!(report.cycle.rx_bytes, rx_bytes);
        let total = report.cycle.total_bytes;
        assert_eq!(
            report.cycle.remaining_bytes,
            Some(100u64.saturating_sub(total))
        );
        assert_eq!(report.cycle.quota_bytes, Some(100));
        assert!(report.cycle.projected_bytes >= total);
        assert_eq!(report.days[0].date, &now[..10]);
        assert_eq!(report.time_zone_source, "TZ");
        let other = accounting.report(&Arc::from("lan"), &usage, wall(&tz, now));
        assert_eq!(
            (other.cycle.quota_bytes, other.cycle.remaining_bytes),
            (None, None)
        );
    }

    #[test]
    fn the_projection_counts_from_when_counting_started() {
        // UTC, cycles from the 1st; counting started on the 11th at midnight and 10 GB came in
        // ten days: the ten days left of April add 10 GB at that pace, not 20 GB (the average
        // over the whole month so far) or 0.
        let accounting = Accounting::default();
        let tz = Tz::utc();
        let mut usage = Usage::new(wall(&tz, "2027-04-11 00:00:00"));
        for d in 11..=20 {
            let (local_day, month) = accounting.local(wall(&tz, &format!("2027-04-{d} 12:00:00")));
            usage.add(local_day, month, bytes(1_000_000_000, 0));
        }
        let report =
            accounting.report(&Arc::from("eth0"), &usage, wall(&tz, "2027-04-21 00:00:00"));
        assert_eq!(report.cycle.total_bytes, 10_000_000_000);
        assert_eq!(report.cycle.projected_bytes, 20_000_000_000);
        assert_eq!(report.months[0].month, "2027-04");
        assert_eq!(report.days.len(), 10);
        assert_eq!(report.days[0].date, "2027-04-20");
    }

    #[test]
    fn local_days_follow_the_zone_across_midnight_and_dst() {
        let tz = Tz::posix("CET-1CEST,M3.5.0,M10.5.0/3", Source::EtcTz).unwrap();
        let accounting = Accounting {
            tz: tz.clone(),
            ..Accounting::default()
        };
        for (text, expected) in [
            ("2027-03-27 23:59:59", day(2027, 3, 27)),
            ("2027-03-28 00:00:00", day(2027, 3, 28)),
            ("2027-03-28 03:30:00", day(2027, 3, 28)), // after the spring change
            ("2027-10-31 23:59:59", day(2027, 10, 31)),
            ("2027-11-01 00:00:00", day(2027, 11, 1)),
        ] {
            assert_eq!(accounting.local(wall(&tz, text)).0, expected, "{text}");
        }
        // 23:30 UTC on 31 January is 00:30 on 1 February in Berlin: a new month.
        let at = UNIX_EPOCH + Duration::from_secs((day(2027, 1, 31) as u64) * 86_400 + 84_600);
        assert_eq!(accounting.local(at), (day(2027, 2, 1), 2027 * 12 + 1));
    }
}
