//! Local time, without a crate: the system's time zone, from a POSIX `TZ` rule or a TZif file.
//!
//! Where the zone comes from, first found wins (and the API says which):
//!
//! 1. the `TZ` environment variable: a zone name (`Europe/Berlin`, read from
//!    `/usr/share/zoneinfo`), a TZif file's absolute path, or a POSIX rule (`CET-1CEST,M3.5.0,
//!    M10.5.0/3`); a leading `:` is ignored; empty means UTC. A value that is none of these is
//!    logged and UTC is used, as the C library does;
//! 2. `/etc/TZ`, where OpenWrt writes the POSIX rule of the zone set in its UCI `system` config;
//! 3. `/etc/localtime`, a TZif file (Debian, systemd, most distributions);
//! 4. UTC.
//!
//! The zone is read once, at start-up.
//!
//! # POSIX rules (`std offset [dst [offset] [,start[/time],end[/time]]]`, POSIX.1-2017 §8.3)
//!
//! Names are three or more letters, or anything but `>` between `<` and `>` (`<+0330>`). Offsets
//! are `[+-]hh[:mm[:ss]]` *west* of Greenwich: `CET-1` is one hour ahead of UTC. The daylight
//! offset defaults to one hour ahead of standard time. `start` and `end` are `Jn` (day 1 to 365,
//! February 29th never counted), `n` (day 0 to 365, counting it) or `Mm.w.d` (day `d`, 0 =
//! Sunday, of week `w` of month `m`; week 5 is the last), each at a local `time` (default
//! 02:00:00; RFC 8536 allows -167 to 167 hours). A rule with a daylight name and no dates takes
//! the US rules, `M3.2.0,M11.1.0`, as glibc does. When `start` comes after `end` in the year
//! (the southern hemisphere) daylight time spans the new year.
//!
//! # TZif (RFC 8536, versions 1 to 4)
//!
//! A version 1 file is read from its 32-bit block; later versions from their 64-bit block, and
//! times after the last transition follow the POSIX rule in the footer. Leap-second records are
//! skipped (the kernel's clock does not count leap seconds; `right/` zones are not supported).

use std::path::Path;

use crate::stats::calendar::{self, days_from_civil, month_days, weekday, Date};

/// Where the zone in use came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The `TZ` environment variable.
    Env,
    /// OpenWrt's `/etc/TZ`.
    EtcTz,
    /// The TZif file `/etc/localtime`.
    Localtime,
    /// None of them: UTC.
    Default,
}

impl Source {
    /// The name the API gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Env => "TZ",
            Source::EtcTz => "/etc/TZ",
            Source::Localtime => "/etc/localtime",
            Source::Default => "default",
        }
    }
}

/// A time zone: how far local time is from UTC at any moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Tz {
    /// What it is called: the `TZ` value, the rule from `/etc/TZ`, the zone name `/etc/localtime`
    /// links to, or `UTC`.
    pub name: String,
    /// Where it came from.
    pub source: Source,
    rules: Rules,
}

#[derive(Clone, Debug, PartialEq)]
enum Rules {
    Posix(Posix),
    Tzif(Tzif),
}

/// A POSIX `TZ` rule. Offsets are seconds *east* of UTC (the opposite of the string's sign).
#[derive(Clone, Debug, PartialEq)]
pub struct Posix {
    std_offset: i32,
    dst: Option<Dst>,
}

#[derive(Clone, Debug, PartialEq)]
struct Dst {
    offset: i32,
    start: Change,
    end: Change,
}

/// A change of daylight time: a day of the year and a local time of that day.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Change {
    day: DayRule,
    time_secs: i32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DayRule {
    /// `Jn`: 1 to 365, February 29th not counted.
    Julian1(u16),
    /// `n`: 0 to 365, February 29th counted.
    Julian0(u16),
    /// `Mm.w.d`.
    Month { month: u8, week: u8, weekday: u8 },
}

/// A TZif file's transitions and local time types.
#[derive(Clone, Debug, PartialEq)]
struct Tzif {
    /// Transition times (UTC seconds), ascending, each with its type's offset.
    transitions: Vec<(i64, i32)>,
    /// The offset before the first transition (the first type's).
    first_offset: i32,
    /// The footer's rule, for times after the last transition.
    footer: Option<Posix>,
}

impl Tz {
    /// UTC.
    pub fn utc() -> Tz {
        Tz {
            name: "UTC".to_owned(),
            source: Source::Default,
            rules: Rules::Posix(Posix {
                std_offset: 0,
                dst: None,
            }),
        }
    }

    /// The POSIX rule `text`, or why it is not one.
    pub fn posix(text: &str, source: Source) -> Result<Tz, String> {
        Ok(Tz {
            name: text.to_owned(),
            source,
            rules: Rules::Posix(parse_posix(text)?),
        })
    }

    /// The TZif file `bytes`, called `name`, or why it is not one.
    pub fn tzif(bytes: &[u8], name: &str, source: Source) -> Result<Tz, String> {
        Ok(Tz {
            name: name.to_owned(),
            source,
            rules: Rules::Tzif(parse_tzif(bytes)?),
        })
    }

    /// Seconds east of UTC at the UTC time `utc_secs` (seconds since the epoch).
    pub fn offset_at(&self, utc_secs: i64) -> i32 {
        match &self.rules {
            Rules::Posix(posix) => posix.offset_at(utc_secs),
            Rules::Tzif(tzif) => tzif.offset_at(utc_secs),
        }
    }

    /// The local time of `utc_secs`, as seconds since the epoch of local time.
    pub fn local_secs(&self, utc_secs: i64) -> i64 {
        utc_secs + i64::from(self.offset_at(utc_secs))
    }

    /// The local day number (see [`calendar`]) of `utc_secs`.
    pub fn local_day(&self, utc_secs: i64) -> i64 {
        self.local_secs(utc_secs).div_euclid(86_400)
    }

    /// The UTC time of local midnight starting `date`. Where a change skips midnight (a zone
    /// that springs forward at 00:00), the day starts at the first local time that exists; where
    /// midnight happens twice, at the first.
    pub fn midnight_utc(&self, date: Date) -> i64 {
        let local = days_from_civil(date) * 86_400;
        // The offsets in force a day before and a day after: the day starts at the first of the
        // times they give that is local midnight or later.
        let around = [local - 86_400, local + 86_400].map(|t| self.offset_at(t));
        around
            .iter()
            .map(|&offset| local - i64::from(offset))
            .filter(|&utc| self.local_secs(utc) >= local)
            .min()
            .unwrap_or(local - i64::from(self.offset_at(local)))
    }
}

/// The system's zone, by the precedence in the module doc; problems are logged.
pub fn system() -> Tz {
    let env = std::env::var("TZ").ok();
    from_sources(
        env.as_deref(),
        |path| std::fs::read(path).ok(),
        |path| std::fs::read_link(path).ok(),
    )
}

/// The zone from a `TZ` value and the files `read` returns (`link` resolves symbolic links, for
/// the name of `/etc/localtime`'s zone).
pub fn from_sources(
    tz_env: Option<&str>,
    read: impl Fn(&Path) -> Option<Vec<u8>>,
    link: impl Fn(&Path) -> Option<std::path::PathBuf>,
) -> Tz {
    if let Some(value) = tz_env {
        return match from_tz_value(value, &read) {
            Ok(tz) => tz,
            Err(why) => {
                log::warn!("TZ={value:?} is not a time zone ({why}); using UTC");
                Tz {
                    source: Source::Env,
                    ..Tz::utc()
                }
            }
        };
    }
    if let Some(bytes) = read(Path::new("/etc/TZ")) {
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        match Tz::posix(text, Source::EtcTz) {
            Ok(tz) => return tz,
            Err(why) => log::warn!("/etc/TZ holds {text:?}, not a POSIX TZ rule ({why})"),
        }
    }
    if let Some(bytes) = read(Path::new("/etc/localtime")) {
        let name = link(Path::new("/etc/localtime"))
            .and_then(|target| zone_name(&target.to_string_lossy()))
            .unwrap_or_else(|| "/etc/localtime".to_owned());
        match Tz::tzif(&bytes, &name, Source::Localtime) {
            Ok(tz) => return tz,
            Err(why) => log::warn!("/etc/localtime is not a TZif file ({why})"),
        }
    }
    Tz::utc()
}

/// `Europe/Berlin` from `/usr/share/zoneinfo/Europe/Berlin` (or `../usr/share/zoneinfo/...`).
fn zone_name(target: &str) -> Option<String> {
    let (_, name) = target.split_once("zoneinfo/")?;
    Some(name.to_owned())
}

fn from_tz_value(value: &str, read: &impl Fn(&Path) -> Option<Vec<u8>>) -> Result<Tz, String> {
    let text = value.strip_prefix(':').unwrap_or(value);
    if text.is_empty() {
        return Ok(Tz {
            source: Source::Env,
            ..Tz::utc()
        });
    }
    // A file first, as the C library does: `UTC` and `Europe/Berlin` are files, `CET-1CEST` is
    // not. Names that could climb out of the zone directory are not looked up.
    let path = if text.starts_with('/') {
        Some(text.to_owned())
    } else if !text.split('/').any(|part| part == "..") {
        Some(format!("/usr/share/zoneinfo/{text}"))
    } else {
        None
    };
    if let Some(bytes) = path.as_deref().and_then(|p| read(Path::new(p))) {
        let name = zone_name(text).unwrap_or_else(|| text.to_owned());
        return Tz::tzif(&bytes, &name, Source::Env);
    }
    Tz::posix(text, Source::Env)
}

// ---------------------------------------------------------------------------------------------
// POSIX rules

/// Parses a POSIX `TZ` rule.
pub fn parse_posix(text: &str) -> Result<Posix, String> {
    let mut rest = text.as_bytes();
    name(&mut rest).ok_or("expected a zone name of 3 or more letters, or <...>")?;
    let std_offset = -offset(&mut rest, 24).ok_or("expected the offset from UTC, e.g. -1")?;
    if rest.is_empty() {
        return Ok(Posix {
            std_offset,
            dst: None,
        });
    }
    name(&mut rest).ok_or("expected a daylight-time name")?;
    let dst_offset = match rest.first() {
        Some(b',') | None => std_offset + 3600,
        Some(_) => -offset(&mut rest, 24).ok_or("expected the daylight offset")?,
    };
    let (start, end) = if rest.is_empty() {
        // No dates: the US rules, as glibc assumes.
        let us = |month, week| Change {
            day: DayRule::Month {
                month,
                week,
                weekday: 0,
            },
            time_secs: 7200,
        };
        (us(3, 2), us(11, 1))
    } else {
        let mut dated = || eat(&mut rest, b',').then(|| change(&mut rest)).flatten();
        let start = dated().ok_or("expected ,start[/time] (Mm.w.d, Jn or n)")?;
        let end = dated().ok_or("expected ,end[/time] (Mm.w.d, Jn or n)")?;
        (start, end)
    };
    if !rest.is_empty() {
        return Err(format!(
            "unexpected {:?} at the end",
            String::from_utf8_lossy(rest)
        ));
    }
    Ok(Posix {
        std_offset,
        dst: Some(Dst {
            offset: dst_offset,
            start,
            end,
        }),
    })
}

fn eat(rest: &mut &[u8], byte: u8) -> bool {
    let found = rest.first() == Some(&byte);
    if found {
        *rest = &rest[1..];
    }
    found
}

/// A zone name: `<...>` or 3+ letters.
fn name(rest: &mut &[u8]) -> Option<()> {
    let len = if eat(rest, b'<') {
        let close = rest.iter().position(|&b| b == b'>')?;
        let len = close + 1;
        (close >= 3).then_some(len)?
    } else {
        let len = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        (len >= 3).then_some(len)?
    };
    *rest = &rest[len..];
    Some(())
}

/// A number of up to 3 digits.
fn number(rest: &mut &[u8]) -> Option<i32> {
    let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 || len > 3 {
        return None;
    }
    let value = rest[..len]
        .iter()
        .fold(0, |n, &d| n * 10 + i32::from(d - b'0'));
    *rest = &rest[len..];
    Some(value)
}

/// `[+-]hh[:mm[:ss]]` in seconds (signed as written), hours at most `max_hours`.
fn offset(rest: &mut &[u8], max_hours: i32) -> Option<i32> {
    let sign = if eat(rest, b'-') {
        -1
    } else {
        eat(rest, b'+');
        1
    };
    let hours = number(rest)?;
    let mut seconds = hours * 3600;
    for scale in [60, 1] {
        if !eat(rest, b':') {
            break;
        }
        let part = number(rest).filter(|&n| n < 60)?;
        seconds += part * scale;
    }
    (hours <= max_hours).then_some(sign * seconds)
}

/// A date and an optional `/time`.
fn change(rest: &mut &[u8]) -> Option<Change> {
    let day = if eat(rest, b'J') {
        DayRule::Julian1(number(rest).filter(|n| (1..=365).contains(n))? as u16)
    } else if eat(rest, b'M') {
        let month = number(rest).filter(|n| (1..=12).contains(n))? as u8;
        eat(rest, b'.').then_some(())?;
        let week = number(rest).filter(|n| (1..=5).contains(n))? as u8;
        eat(rest, b'.').then_some(())?;
        let weekday = number(rest).filter(|n| (0..=6).contains(n))? as u8;
        DayRule::Month {
            month,
            week,
            weekday,
        }
    } else {
        DayRule::Julian0(number(rest).filter(|n| (0..=365).contains(n))? as u16)
    };
    let time_secs = if eat(rest, b'/') {
        offset(rest, 167)?
    } else {
        7200
    };
    Some(Change { day, time_secs })
}

impl Change {
    /// The local time (seconds since the local epoch) of this change in `year`.
    fn local_secs(self, year: i32) -> i64 {
        let jan1 = days_from_civil(Date {
            year,
            month: 1,
            day: 1,
        });
        let day = match self.day {
            DayRule::Julian1(n) => {
                // February 29th is never counted: from March on, a leap year is one day later.
                let leap_shift = i64::from(calendar::is_leap(year) && n >= 60);
                jan1 + i64::from(n) - 1 + leap_shift
            }
            DayRule::Julian0(n) => jan1 + i64::from(n),
            DayRule::Month {
                month,
                week,
                weekday: wd,
            } => {
                let first = days_from_civil(Date {
                    year,
                    month,
                    day: 1,
                });
                let first_match = first + i64::from((wd + 7 - weekday(first)) % 7);
                let mut day = first_match + 7 * (i64::from(week) - 1);
                let last = first + i64::from(month_days(year, month)) - 1;
                while day > last {
                    day -= 7; // week 5: the last such weekday of the month
                }
                day
            }
        };
        day * 86_400 + i64::from(self.time_secs)
    }
}

impl Posix {
    /// Seconds east of UTC at `utc_secs`.
    pub fn offset_at(&self, utc_secs: i64) -> i32 {
        let Some(dst) = &self.dst else {
            return self.std_offset;
        };
        let year =
            calendar::civil_from_days((utc_secs + i64::from(self.std_offset)).div_euclid(86_400))
                .year;
        // Daylight time starts at a local standard time and ends at a local daylight time.
        let start = dst.start.local_secs(year) - i64::from(self.std_offset);
        let end = dst.end.local_secs(year) - i64::from(dst.offset);
        let in_dst = if start <= end {
            start <= utc_secs && utc_secs < end
        } else {
            utc_secs < end || start <= utc_secs // southern hemisphere: across the new year
        };
        if in_dst {
            dst.offset
        } else {
            self.std_offset
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TZif

/// Reads a TZif file (RFC 8536).
fn parse_tzif(bytes: &[u8]) -> Result<Tzif, String> {
    let header = Header::read(bytes)?;
    if header.version == 0 {
        return header.data(bytes, 4, 44).map(|(tzif, _)| tzif);
    }
    // Version 2+: skip the 32-bit block, read the 64-bit one and the footer.
    let v1_len = header.data_len(4);
    let second = bytes
        .get(44 + v1_len..)
        .ok_or("the version 1 block is cut short")?;
    let header = Header::read(second)?;
    let (mut tzif, end) = header.data(second, 8, 44)?;
    let footer = second.get(end..).unwrap_or_default();
    let footer = footer
        .strip_prefix(b"\n")
        .and_then(|f| f.iter().position(|&b| b == b'\n').map(|n| &f[..n]))
        .ok_or("no footer")?;
    if !footer.is_empty() {
        let text = std::str::from_utf8(footer).map_err(|_| "a footer that is not text")?;
        tzif.footer = Some(parse_posix(text).map_err(|why| format!("footer {text:?}: {why}"))?);
    }
    Ok(tzif)
}

struct Header {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl Header {
    fn read(bytes: &[u8]) -> Result<Header, String> {
        if bytes.get(..4) != Some(b"TZif") {
            return Err("no TZif magic".to_owned());
        }
        let head = bytes.get(..44).ok_or("the header is cut short")?;
        let version = match head[4] {
            0 => 0,
            v @ b'2'..=b'9' => v - b'0',
            v => return Err(format!("unknown version byte {v}")),
        };
        let count = |i: usize| {
            let field: [u8; 4] = head[20 + 4 * i..24 + 4 * i].try_into().unwrap_or_default();
            u32::from_be_bytes(field) as usize
        };
        let header = Header {
            version,
            isutcnt: count(0),
            isstdcnt: count(1),
            leapcnt: count(2),
            timecnt: count(3),
            typecnt: count(4),
            charcnt: count(5),
        };
        if header.typecnt == 0 {
            return Err("no local time type".to_owned());
        }
        // Every count is of things at least a byte long: none can exceed the file, and then no
        // length worked out from them can overflow, even with a 32-bit usize.
        let counts = [
            header.isutcnt,
            header.isstdcnt,
            header.leapcnt,
            header.timecnt,
            header.typecnt,
            header.charcnt,
        ];
        if counts.iter().any(|&count| count > bytes.len()) {
            return Err("counts larger than the file".to_owned());
        }
        Ok(header)
    }

    /// The length of the data block with `time_len`-byte times.
    fn data_len(&self, time_len: usize) -> usize {
        self.timecnt * (time_len + 1)
            + self.typecnt * 6
            + self.charcnt
            + self.leapcnt * (time_len + 4)
            + self.isstdcnt
            + self.isutcnt
    }

    /// The data block at `at` in `bytes`, and where it ends.
    fn data(&self, bytes: &[u8], time_len: usize, at: usize) -> Result<(Tzif, usize), String> {
        let end = at + self.data_len(time_len);
        let block = bytes.get(at..end).ok_or("the data block is cut short")?;
        let (times, rest) = block.split_at(self.timecnt * time_len);
        let (indices, rest) = rest.split_at(self.timecnt);
        let types = &rest[..self.typecnt * 6];
        let offset_of = |index: usize| -> Result<i32, String> {
            let ttinfo = types
                .get(index * 6..index * 6 + 4)
                .ok_or("a transition to a type that does not exist")?;
            let offset = i32::from_be_bytes(ttinfo.try_into().unwrap_or_default());
            // RFC 8536: -89999 to 93599 seconds; anything else is damage.
            if !(-89_999..=93_599).contains(&offset) {
                return Err(format!("an offset of {offset} s"));
            }
            Ok(offset)
        };
        let mut transitions = Vec::with_capacity(self.timecnt);
        for (i, &index) in indices.iter().enumerate() {
            let raw = &times[i * time_len..(i + 1) * time_len];
            let at = match time_len {
                4 => i64::from(i32::from_be_bytes(raw.try_into().unwrap_or_default())),
                _ => i64::from_be_bytes(raw.try_into().unwrap_or_default()),
            };
            if transitions.last().is_some_and(|&(last, _)| at <= last) {
                return Err("transition times out of order".to_owned());
            }
            transitions.push((at, offset_of(usize::from(index))?));
        }
        let tzif = Tzif {
            transitions,
            first_offset: offset_of(0)?,
            footer: None,
        };
        Ok((tzif, end))
    }
}

impl Tzif {
    fn offset_at(&self, utc_secs: i64) -> i32 {
        match self.transitions.last() {
            None => self
                .footer
                .as_ref()
                .map_or(self.first_offset, |f| f.offset_at(utc_secs)),
            Some(&(last, offset)) if utc_secs >= last => self
                .footer
                .as_ref()
                .map_or(offset, |f| f.offset_at(utc_secs)),
            _ => {
                // The last transition at or before the time; before the first, type 0.
                let after = self.transitions.partition_point(|&(at, _)| at <= utc_secs);
                after
                    .checked_sub(1)
                    .map_or(self.first_offset, |i| self.transitions[i].1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::calendar::civil_from_days;
    use rstest::rstest;

    const BERLIN: &[u8] = include_bytes!("../../fixtures/tz/Europe-Berlin");
    const SYDNEY: &[u8] = include_bytes!("../../fixtures/tz/Australia-Sydney");
    const SANTIAGO: &[u8] = include_bytes!("../../fixtures/tz/America-Santiago");

    /// Seconds since the epoch of `YYYY-MM-DD hh:mm:ss` UTC.
    fn utc(text: &str) -> i64 {
        let n = |range: std::ops::Range<usize>| text[range].parse::<i64>().unwrap();
        let date = Date {
            year: n(0..4) as i32,
            month: n(5..7) as u8,
            day: n(8..10) as u8,
        };
        days_from_civil(date) * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
    }

    fn posix(text: &str) -> Tz {
        Tz::posix(text, Source::Env).unwrap()
    }

    const CET: &str = "CET-1CEST,M3.5.0,M10.5.0/3";
    const AEST: &str = "AEST-10AEDT,M10.1.0,M4.1.0/3";

    #[rstest]
    // Central Europe, 2027: summer time from 28 March 02:00 CET to 31 October 03:00 CEST.
    #[case::cet_winter(CET, "2027-01-15 12:00:00", 3600)]
    #[case::cet_last_second_of_winter(CET, "2027-03-28 00:59:59", 3600)]
    #[case::cet_spring_forward(CET, "2027-03-28 01:00:00", 7200)]
    #[case::cet_summer(CET, "2027-07-01 00:00:00", 7200)]
    #[case::cet_last_second_of_summer(CET, "2027-10-31 00:59:59", 7200)]
    #[case::cet_fall_back(CET, "2027-10-31 01:00:00", 3600)]
    #[case::cet_new_year(CET, "2027-12-31 23:30:00", 3600)]
    // Sydney, southern hemisphere: daylight time across the new year, until 4 April 2027 03:00
    // AEDT and again from 3 October 2027 02:00 AEST.
    #[case::aest_january(AEST, "2027-01-01 00:00:00", 39_600)]
    #[case::aest_last_daylight_second(AEST, "2027-04-03 15:59:59", 39_600)]
    #[case::aest_fall_back(AEST, "2027-04-03 16:00:00", 36_000)]
    #[case::aest_winter(AEST, "2027-07-01 00:00:00", 36_000)]
    #[case::aest_last_standard_second(AEST, "2027-10-02 15:59:59", 36_000)]
    #[case::aest_spring_forward(AEST, "2027-10-02 16:00:00", 39_600)]
    #[case::aest_december(AEST, "2027-12-31 23:00:00", 39_600)]
    // US defaults for a rule without dates: 14 March 2027 02:00 EST to 7 November 02:00 EDT.
    #[case::us_default_before("EST5EDT", "2027-03-14 06:59:59", -18_000)]
    #[case::us_default_after("EST5EDT", "2027-03-14 07:00:00", -14_400)]
    #[case::us_default_end("EST5EDT", "2027-11-07 06:00:00", -18_000)]
    // Fixed offsets, quoted names, minutes.
    #[case::utc0("UTC0", "2027-06-01 00:00:00", 0)]
    #[case::india("IST-5:30", "2027-06-01 00:00:00", 19_800)]
    #[case::quoted_iran("<+0330>-3:30", "2027-06-01 00:00:00", 12_600)]
    #[case::quoted_west("<-03>3", "2027-06-01 00:00:00", -10_800)]
    #[case::seconds("XXX-0:0:30", "2027-06-01 00:00:00", 30)]
    // Jn never counts February 29th: J60 is 1 March, in a leap year too (2028).
    #[case::julian1_leap_before("XXX0YYY,J60/0,J300/0", "2028-02-29 23:59:59", 0)]
    #[case::julian1_leap_on("XXX0YYY,J60/0,J300/0", "2028-03-01 00:00:00", 3600)]
    // n counts it: day 59 is 29 February in 2028 and 1 March in 2027.
    #[case::julian0_leap("XXX0YYY,59/0,300/0", "2028-02-29 00:00:00", 3600)]
    #[case::julian0_common("XXX0YYY,59/0,300/0", "2027-02-28 23:59:59", 0)]
    #[case::julian0_common_on("XXX0YYY,59/0,300/0", "2027-03-01 00:00:00", 3600)]
    // Times past 24 h and negative (RFC 8536): Chile's 24:00 on the first Saturday of September.
    #[case::hour_24_before("<-04>4<-03>,M9.1.6/24,M4.1.6/24", "2027-09-05 03:59:59", -14_400)]
    #[case::hour_24_after("<-04>4<-03>,M9.1.6/24,M4.1.6/24", "2027-09-05 04:00:00", -10_800)]
    #[case::negative_time("XXX0YYY,M3.5.0/-1,M10.5.0", "2027-03-27 23:00:00", 3600)]
    #[case::explicit_dst_offset("XXX0YYY-2,M3.5.0,M10.5.0", "2027-07-01 00:00:00", 7200)]
    fn posix_offsets(#[case] rule: &str, #[case] at: &str, #[case] offset: i32) {
        assert_eq!(posix(rule).offset_at(utc(at)), offset, "{rule} at {at}");
    }

    #[rstest]
    #[case::empty("")]
    #[case::no_offset("CET")]
    #[case::short_name("CE-1")]
    #[case::only_start("CET-1CEST,M3.5.0")]
    #[case::month_13("CET-1CEST,M13.5.0,M10.5.0")]
    #[case::week_6("CET-1CEST,M3.6.0,M10.5.0")]
    #[case::weekday_7("CET-1CEST,M3.5.7,M10.5.0")]
    #[case::julian_zero("CET-1CEST,J0,J365")]
    #[case::day_366("CET-1CEST,366,300")]
    #[case::offset_25h("CET-25")]
    #[case::minutes_60("CET-1:60")]
    #[case::time_168h("CET-1CEST,M3.5.0/168,M10.5.0")]
    #[case::trailing("CET-1CEST,M3.5.0,M10.5.0/3x")]
    #[case::unclosed_quote("<+03-3")]
    #[case::short_quote("<+3>-3")]
    fn bad_posix_rules_are_refused(#[case] rule: &str) {
        assert!(parse_posix(rule).is_err(), "{rule:?} was accepted");
    }

    #[rstest]
    #[case::berlin(BERLIN, CET)]
    #[case::sydney(SYDNEY, AEST)]
    #[case::santiago(SANTIAGO, "<-04>4<-03>,M9.1.6/24,M4.1.6/24")]
    fn tzif_files_agree_with_their_rules_hour_by_hour(#[case] file: &[u8], #[case] rule: &str) {
        let tzif = Tz::tzif(file, "zone", Source::Localtime).unwrap();
        let rule = posix(rule);
        // From 2027 to 2040, past the last transition (2037) into the footer's years.
        for hour in (utc("2027-01-01 00:00:00")..utc("2040-01-01 00:00:00")).step_by(3600) {
            assert_eq!(tzif.offset_at(hour), rule.offset_at(hour), "at {hour}");
        }
    }

    #[rstest]
    #[case::berlin_1975(BERLIN, "1975-07-01 00:00:00", 3600)] // no summer time 1950 to 1979
    #[case::berlin_1945(BERLIN, "1945-06-01 00:00:00", 10_800)] // double summer time
    #[case::berlin_1890(BERLIN, "1890-01-01 00:00:00", 3208)] // local mean time
    #[case::sydney_1970(SYDNEY, "1970-01-01 00:00:00", 36_000)]
    fn tzif_history_before_the_rule(#[case] file: &[u8], #[case] at: &str, #[case] offset: i32) {
        let tzif = Tz::tzif(file, "zone", Source::Localtime).unwrap();
        assert_eq!(tzif.offset_at(utc(at)), offset, "{at}");
    }

    #[test]
    fn a_version_1_file_is_read_from_its_32_bit_block() {
        // The same zone as a version 1 file: the 32-bit block alone, version byte 0.
        let header = Header::read(BERLIN).unwrap();
        let mut v1 = BERLIN[..44 + header.data_len(4)].to_vec();
        v1[4] = 0;
        let v1 = Tz::tzif(&v1, "v1", Source::Localtime).unwrap();
        let v2 = Tz::tzif(BERLIN, "v2", Source::Localtime).unwrap();
        for hour in (utc("1901-12-14 00:00:00")..utc("2037-12-31 00:00:00")).step_by(3600 * 7) {
            assert_eq!(v1.offset_at(hour), v2.offset_at(hour), "at {hour}");
        }
    }

    #[test]
    fn every_truncation_and_damage_of_a_tzif_file_is_an_error_or_an_answer_never_a_panic() {
        for len in 0..BERLIN.len() - 1 {
            assert!(
                Tz::tzif(&BERLIN[..len], "cut", Source::Localtime).is_err(),
                "{len}"
            );
        }
        for i in 0..BERLIN.len() {
            let mut damaged = BERLIN.to_vec();
            damaged[i] ^= 0xa5;
            if let Ok(tz) = Tz::tzif(&damaged, "damaged", Source::Localtime) {
                let _ = tz.offset_at(utc("2027-03-28 01:00:00"));
            }
        }
        assert!(Tz::tzif(b"CET-1CEST,M3.5.0,M10.5.0/3", "text", Source::EtcTz).is_err());
        // A count of 2^32 - 1 transitions in a 44-byte header: refused, not multiplied.
        let mut huge = BERLIN[..44].to_vec();
        huge[32..36].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(Tz::tzif(&huge, "huge", Source::Localtime).is_err());
    }

    #[rstest]
    #[case::berlin_spring(CET, (2027, 3, 28), "2027-03-27 23:00:00")]
    #[case::berlin_fall(CET, (2027, 10, 31), "2027-10-30 22:00:00")]
    #[case::berlin_summer(CET, (2027, 8, 1), "2027-07-31 22:00:00")]
    #[case::sydney_new_year(AEST, (2027, 1, 1), "2026-12-31 13:00:00")]
    // Chile springs forward at midnight: 5 September 2027 starts at 01:00 -03.
    #[case::skipped_midnight("<-04>4<-03>,M9.1.6/24,M4.1.6/24", (2027, 9, 5), "2027-09-05 04:00:00")]
    // ... and falls back at midnight to 23:00: the hour before midnight repeats, midnight does not.
    #[case::fall_back_at_midnight("<-04>4<-03>,M9.1.6/24,M4.1.6/24", (2027, 4, 4), "2027-04-04 04:00:00")]
    // A zone that falls back from 01:00 to 00:00: midnight happens twice; the day starts at the first.
    #[case::doubled_midnight("XXX0YYY,M3.5.0/0,M10.5.0/1", (2027, 10, 31), "2027-10-30 23:00:00")]
    fn local_midnights(#[case] rule: &str, #[case] day: (i32, u8, u8), #[case] at: &str) {
        let date = Date {
            year: day.0,
            month: day.1,
            day: day.2,
        };
        let tz = posix(rule);
        assert_eq!(tz.midnight_utc(date), utc(at));
        assert_eq!(civil_from_days(tz.local_day(utc(at))), date);
        assert_eq!(
            civil_from_days(tz.local_day(utc(at) - 1)),
            civil_from_days(days_from_civil(date) - 1)
        );
    }

    fn files(files: Vec<(&'static str, &'static [u8])>) -> impl Fn(&Path) -> Option<Vec<u8>> {
        move |path| {
            files
                .iter()
                .find(|(name, _)| Path::new(name) == path)
                .map(|(_, bytes)| bytes.to_vec())
        }
    }

    const CET_BYTES: &[u8] = CET.as_bytes();
    const CET_LINE: &[u8] = b"CET-1CEST,M3.5.0,M10.5.0/3\n";
    const NONSENSE: &[u8] = b"nonsense\n";

    fn no_link(_: &Path) -> Option<std::path::PathBuf> {
        None
    }

    #[rstest]
    #[case::env_rule_wins(Some(AEST), vec![("/etc/TZ", CET_BYTES)], AEST, Source::Env, 36_000)]
    #[case::env_zone_name(Some("Europe/Berlin"), vec![("/usr/share/zoneinfo/Europe/Berlin", BERLIN)], "Europe/Berlin", Source::Env, 7200)]
    #[case::env_colon_path(Some(":/zones/sydney"), vec![("/zones/sydney", SYDNEY)], "/zones/sydney", Source::Env, 36_000)]
    #[case::env_empty_is_utc(Some(""), vec![("/etc/TZ", CET_BYTES)], "UTC", Source::Env, 0)]
    #[case::env_garbage_is_utc(Some("Not/A_Zone"), vec![("/etc/TZ", CET_BYTES)], "UTC", Source::Env, 0)]
    #[case::env_no_climbing(Some("../../etc/sydney"), vec![("/usr/share/zoneinfo/../../etc/sydney", SYDNEY)], "UTC", Source::Env, 0)]
    #[case::etc_tz(None, vec![("/etc/TZ", CET_LINE), ("/etc/localtime", SYDNEY)], CET, Source::EtcTz, 7200)]
    #[case::bad_etc_tz_then_localtime(None, vec![("/etc/TZ", NONSENSE), ("/etc/localtime", SYDNEY)], "/etc/localtime", Source::Localtime, 36_000)]
    #[case::localtime(None, vec![("/etc/localtime", BERLIN)], "/etc/localtime", Source::Localtime, 7200)]
    #[case::nothing(None, vec![], "UTC", Source::Default, 0)]
    fn zone_sources_in_order(
        #[case] env: Option<&str>,
        #[case] present: Vec<(&'static str, &'static [u8])>,
        #[case] name: &str,
        #[case] source: Source,
        #[case] july_offset: i32,
    ) {
        let tz = from_sources(env, files(present), no_link);
        assert_eq!((tz.name.as_str(), tz.source), (name, source));
        assert_eq!(tz.offset_at(utc("2027-07-01 12:00:00")), july_offset);
    }

    #[test]
    fn localtime_is_named_after_the_zone_it_links_to() {
        let link = |_: &Path| {
            Some(std::path::PathBuf::from(
                "../usr/share/zoneinfo/Europe/Berlin",
            ))
        };
        let tz = from_sources(None, files(vec![("/etc/localtime", BERLIN)]), link);
        assert_eq!(tz.name, "Europe/Berlin");
    }
}
