//! The state file: what the statistics thread saves so that a restarted daemon continues where
//! the last one stopped, built for flash.
//!
//! # Format (version 2)
//!
//! ```text
//! "IFSTATSD" (8 bytes) | version (1 byte) | body | FNV-1a 64 of everything before (8 bytes, LE)
//! ```
//!
//! The body is a sequence of unsigned LEB128 varints and length-prefixed byte strings: the boot
//! id, the wall time and the boot-relative time of the save, the interval, then per interface its
//! name, flags, kernel counters, ifindex, operstate, events (resets and wraps; then glitches and
//! renames when either is nonzero, flag 32, so files without them read as before), its ring, and
//! its usage totals. Ring slots are stored oldest first as differences from the previous slot
//! (time and each running total), so an idle interface costs about 10 bytes per sample and a busy
//! one about 25: 4 to 9 KB per interface-hour at the default 10 s interval, against 14 KB in
//! memory (see [`crate::stats::slot_ring`]).
//!
//! The usage totals ([`crate::stats::usage`]) are the wall time counting started (milliseconds
//! since the epoch), then the kept days and the kept months, each a count and, oldest first, the
//! day or month number (the first zigzag-encoded, the others as the step from the one before)
//! with its received and sent bytes: 3 to 11 bytes a day, about 130 to 400 bytes per interface.
//!
//! Version 1 (before the usage totals) is still read: its interfaces start their totals empty.
//!
//! # Time
//!
//! Nothing is stored as an absolute time except the save's own. Every other time is an age: how
//! long before the save it was. On restore the ages are laid out back from "now minus the
//! downtime". The downtime comes from `/proc/uptime` (seconds since boot, which NTP never steps)
//! when the boot id is unchanged, so a router without an RTC whose wall clock jumps by years at
//! its first NTP sync restores its history exactly. After a reboot it comes from the wall clock,
//! the only clock left, clamped at zero, and every interface is treated as reset anyway.
//!
//! # Writes
//!
//! A save writes a temporary file in the same directory, fsyncs it, renames it over the state
//! file and fsyncs the directory: a crash at any moment leaves the old state or the new one.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sample::proc_net_dev::{Counters, COUNTERS};
use crate::sample::snapshot::OperState;
use crate::stats::rates::Events;
use crate::stats::usage::{self, Bytes, Usage, DAYS, MONTHS};

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"IFSTATSD";
/// The format version this build writes.
pub const VERSION: u8 = 2;
/// The oldest format version this build reads: 1 has no usage totals.
pub const OLDEST_VERSION: u8 = 1;

/// Everything saved.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// The kernel's boot id when saved.
    pub boot_id: String,
    /// The wall time of the save.
    pub saved_wall: SystemTime,
    /// Time since boot at the save, from `/proc/uptime`, if it was readable.
    pub saved_uptime: Option<Duration>,
    /// The sampling interval then.
    pub interval: Duration,
    /// Every interface.
    pub interfaces: Vec<SavedInterface>,
}

/// One interface's history.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedInterface {
    /// Its name.
    pub name: String,
    /// Whether the last sample listed it.
    pub present: bool,
    /// The kernel's counters when last seen.
    pub counters: Counters,
    /// Its ifindex when last seen.
    pub ifindex: Option<u32>,
    /// Its operstate when last seen.
    pub oper_state: Option<OperState>,
    /// How long before the save it was last seen.
    pub last_seen_age: Duration,
    /// How long before the save it came up, if it was up.
    pub up_since_age: Option<Duration>,
    /// Whether its uptime is a lower bound.
    pub uptime_is_lower_bound: bool,
    /// Its events.
    pub events: Events,
    /// Its ring, oldest first.
    pub slots: Vec<SavedSlot>,
    /// Its daily and monthly totals; `None` from a version 1 file.
    pub usage: Option<Usage>,
}

/// One ring slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedSlot {
    /// How long before the save the sample was taken.
    pub age: Duration,
    /// The running totals of the deltas.
    pub totals: [u64; COUNTERS],
}

/// Why a state file could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Corrupt {
    /// Shorter than a header and a checksum.
    TooShort,
    /// Not our magic: some other file.
    NotOurs,
    /// Written by another version of the format.
    Version(u8),
    /// The checksum does not match: torn or damaged.
    Checksum,
    /// The body ended early or held an impossible value.
    Malformed(&'static str),
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corrupt::TooShort => write!(f, "too short to be a state file"),
            Corrupt::NotOurs => write!(f, "not an ifstatsd state file"),
            Corrupt::Version(v) => write!(
                f,
                "format version {v}, this build reads {OLDEST_VERSION} to {VERSION}"
            ),
            Corrupt::Checksum => write!(f, "checksum mismatch (torn or damaged)"),
            Corrupt::Malformed(what) => write!(f, "malformed: {what}"),
        }
    }
}

/// FNV-1a, 64 bits: enough to catch a torn or damaged file, and ten lines.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

const FLAG_PRESENT: u8 = 1;
const FLAG_LOWER_BOUND: u8 = 2;
const FLAG_IFINDEX: u8 = 4;
const FLAG_OPER_STATE: u8 = 8;
const FLAG_UP_SINCE: u8 = 16;
/// Glitches and renames follow the wraps (files without them, older ones included, have none).
const FLAG_MORE_EVENTS: u8 = 32;

const OPER_STATES: [OperState; 7] = [
    OperState::Unknown,
    OperState::NotPresent,
    OperState::Down,
    OperState::LowerLayerDown,
    OperState::Testing,
    OperState::Dormant,
    OperState::Up,
];

/// Encodes `state` in the format above.
pub fn encode(state: &State) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + state.interfaces.len() * 64);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    put_bytes(&mut out, state.boot_id.as_bytes());
    put(&mut out, millis_since_epoch(state.saved_wall));
    put(
        &mut out,
        state.saved_uptime.map_or(0, |u| u.as_millis() as u64 + 1),
    );
    put(&mut out, state.interval.as_micros() as u64);
    put(&mut out, state.interfaces.len() as u64);
    for iface in &state.interfaces {
        encode_interface(&mut out, iface);
    }
    let checksum = fnv1a(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

fn encode_interface(out: &mut Vec<u8>, iface: &SavedInterface) {
    put_bytes(out, iface.name.as_bytes());
    let flags = [
        (iface.present, FLAG_PRESENT),
        (iface.uptime_is_lower_bound, FLAG_LOWER_BOUND),
        (iface.ifindex.is_some(), FLAG_IFINDEX),
        (iface.oper_state.is_some(), FLAG_OPER_STATE),
        (iface.up_since_age.is_some(), FLAG_UP_SINCE),
        (
            iface.events.glitches != 0 || iface.events.renames != 0,
            FLAG_MORE_EVENTS,
        ),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .fold(0, |flags, (_, flag)| flags | flag);
    out.push(flags);
    for counter in iface.counters.to_array() {
        put(out, counter);
    }
    if let Some(ifindex) = iface.ifindex {
        put(out, u64::from(ifindex));
    }
    if let Some(state) = iface.oper_state {
        out.push(OPER_STATES.iter().position(|s| *s == state).unwrap_or(0) as u8);
    }
    put(out, iface.events.resets);
    put(out, iface.events.wraps);
    if iface.events.glitches != 0 || iface.events.renames != 0 {
        put(out, iface.events.glitches);
        put(out, iface.events.renames);
    }
    put(out, iface.last_seen_age.as_micros() as u64);
    if let Some(age) = iface.up_since_age {
        put(out, age.as_micros() as u64);
    }
    put(out, iface.slots.len() as u64);
    let mut previous: Option<&SavedSlot> = None;
    for slot in &iface.slots {
        let age_us = slot.age.as_micros() as u64;
        match previous {
            // Oldest first: each slot is younger than the one before.
            Some(prev) => put(out, (prev.age.as_micros() as u64).saturating_sub(age_us)),
            None => put(out, age_us),
        }
        for (i, total) in slot.totals.iter().enumerate() {
            put(out, total.wrapping_sub(previous.map_or(0, |p| p.totals[i])));
        }
        previous = Some(slot);
    }
    let usage = iface.usage.unwrap_or_else(|| Usage::new(UNIX_EPOCH));
    put(out, millis_since_epoch(usage.since));
    let (days, months) = usage.entries();
    put_entries(out, &days);
    put_entries(out, &months);
}

/// A count, then each entry oldest first: its number (zigzag, then steps) and its bytes.
fn put_entries(out: &mut Vec<u8>, entries: &[(i32, Bytes)]) {
    put(out, entries.len() as u64);
    let mut previous = None;
    for &(number, bytes) in entries {
        match previous {
            None => put(out, zigzag(number)),
            Some(before) => put(out, u64::from(number.abs_diff(before))),
        }
        put(out, bytes.rx_bytes);
        put(out, bytes.tx_bytes);
        previous = Some(number);
    }
}

fn zigzag(n: i32) -> u64 {
    u64::from(((n << 1) ^ (n >> 31)) as u32)
}

fn unzigzag(n: u32) -> i32 {
    ((n >> 1) as i32) ^ -((n & 1) as i32)
}

/// Reads what [`put_entries`] wrote: at most `max` entries, numbers strictly increasing.
fn entries(reader: &mut Reader, max: usize) -> Result<Vec<(i32, Bytes)>, Corrupt> {
    let count = reader.count("usage count")?;
    if count > max {
        return Err(Corrupt::Malformed("usage count"));
    }
    let mut list: Vec<(i32, Bytes)> = Vec::with_capacity(count);
    for _ in 0..count {
        let raw = u32::try_from(reader.varint()?).map_err(|_| Corrupt::Malformed("usage day"))?;
        let number = match list.last() {
            None => unzigzag(raw),
            Some(&(before, _)) => i32::try_from(raw)
                .ok()
                .filter(|&step| step > 0)
                .and_then(|step| before.checked_add(step))
                .ok_or(Corrupt::Malformed("usage days out of order"))?,
        };
        let bytes = Bytes {
            rx_bytes: reader.varint()?,
            tx_bytes: reader.varint()?,
        };
        list.push((number, bytes));
    }
    Ok(list)
}

/// Decodes a state file's bytes, checking everything; never panics.
pub fn decode(bytes: &[u8]) -> Result<State, Corrupt> {
    let head = &bytes[..bytes.len().min(MAGIC.len())];
    if !MAGIC.starts_with(head) {
        return Err(Corrupt::NotOurs);
    }
    if bytes.len() < MAGIC.len() + 1 + 8 {
        return Err(Corrupt::TooShort);
    }
    let version = bytes[MAGIC.len()];
    if !(OLDEST_VERSION..=VERSION).contains(&version) {
        return Err(Corrupt::Version(version));
    }
    let (body, checksum) = bytes.split_at(bytes.len() - 8);
    let mut expected = [0; 8];
    expected.copy_from_slice(checksum);
    if fnv1a(body) != u64::from_le_bytes(expected) {
        return Err(Corrupt::Checksum);
    }
    let mut reader = Reader {
        bytes: &body[MAGIC.len() + 1..],
    };
    let boot_id = reader.string("boot id")?;
    let saved_wall = UNIX_EPOCH + Duration::from_millis(reader.varint()?);
    let saved_uptime = match reader.varint()? {
        0 => None,
        millis_plus_one => Some(Duration::from_millis(millis_plus_one - 1)),
    };
    let interval = Duration::from_micros(reader.varint()?);
    let count = reader.count("interface count")?;
    let mut interfaces = Vec::with_capacity(count);
    for _ in 0..count {
        interfaces.push(decode_interface(&mut reader, version)?);
    }
    if !reader.bytes.is_empty() {
        return Err(Corrupt::Malformed("trailing bytes"));
    }
    Ok(State {
        boot_id,
        saved_wall,
        saved_uptime,
        interval,
        interfaces,
    })
}

fn decode_interface(reader: &mut Reader, version: u8) -> Result<SavedInterface, Corrupt> {
    let name = reader.string("interface name")?;
    let flags = reader.byte()?;
    let mut counters = [0; COUNTERS];
    for counter in &mut counters {
        *counter = reader.varint()?;
    }
    let ifindex = if flags & FLAG_IFINDEX != 0 {
        let value = reader.varint()?;
        Some(u32::try_from(value).map_err(|_| Corrupt::Malformed("ifindex"))?)
    } else {
        None
    };
    let oper_state = if flags & FLAG_OPER_STATE != 0 {
        let index = usize::from(reader.byte()?);
        Some(
            *OPER_STATES
                .get(index)
                .ok_or(Corrupt::Malformed("operstate"))?,
        )
    } else {
        None
    };
    let mut events = Events {
        resets: reader.varint()?,
        wraps: reader.varint()?,
        ..Events::default()
    };
    if flags & FLAG_MORE_EVENTS != 0 {
        events.glitches = reader.varint()?;
        events.renames = reader.varint()?;
    }
    let last_seen_age = Duration::from_micros(reader.varint()?);
    let up_since_age = if flags & FLAG_UP_SINCE != 0 {
        Some(Duration::from_micros(reader.varint()?))
    } else {
        None
    };
    let count = reader.count("slot count")?;
    let mut slots: Vec<SavedSlot> = Vec::with_capacity(count);
    for _ in 0..count {
        let step = reader.varint()?;
        let age_us = match slots.last() {
            Some(prev) => (prev.age.as_micros() as u64)
                .checked_sub(step)
                .ok_or(Corrupt::Malformed("slot times"))?,
            None => step,
        };
        let mut totals = [0; COUNTERS];
        for (i, total) in totals.iter_mut().enumerate() {
            *total = reader
                .varint()?
                .wrapping_add(slots.last().map_or(0, |p| p.totals[i]));
        }
        slots.push(SavedSlot {
            age: Duration::from_micros(age_us),
            totals,
        });
    }
    let usage = if version >= 2 {
        let mut usage = Usage::new(usage::from_unix_ms(reader.varint()?));
        for (day, bytes) in entries(reader, DAYS)? {
            usage.restore_day(day, bytes);
        }
        for (month, bytes) in entries(reader, MONTHS)? {
            usage.restore_month(month, bytes);
        }
        Some(usage)
    } else {
        None
    };
    Ok(SavedInterface {
        name,
        present: flags & FLAG_PRESENT != 0,
        counters: Counters::from_array(counters),
        ifindex,
        oper_state,
        last_seen_age,
        up_since_age,
        uptime_is_lower_bound: flags & FLAG_LOWER_BOUND != 0,
        events,
        slots,
        usage,
    })
}

/// Appends `value` as an unsigned LEB128 varint.
pub(crate) fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends `bytes` with their length before them.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn millis_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Reads the body, refusing anything out of bounds.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
}

impl Reader<'_> {
    pub(crate) fn byte(&mut self) -> Result<u8, Corrupt> {
        let (&first, rest) = self
            .bytes
            .split_first()
            .ok_or(Corrupt::Malformed("ends early"))?;
        self.bytes = rest;
        Ok(first)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, Corrupt> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f)
                .checked_shl(shift)
                .filter(|v| v >> shift == u64::from(byte & 0x7f))
                .ok_or(Corrupt::Malformed("varint overflow"))?;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Corrupt::Malformed("varint too long"))
    }

    /// A count of things that each take at least one byte: never more than the bytes left, so
    /// a damaged count cannot make us allocate more than the file's size.
    pub(crate) fn count(&mut self, what: &'static str) -> Result<usize, Corrupt> {
        let count = self.varint()?;
        usize::try_from(count)
            .ok()
            .filter(|&n| n <= self.bytes.len())
            .ok_or(Corrupt::Malformed(what))
    }

    pub(crate) fn string(&mut self, what: &'static str) -> Result<String, Corrupt> {
        let len = self.count(what)?;
        let (text, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        String::from_utf8(text.to_vec()).map_err(|_| Corrupt::Malformed(what))
    }
}

/// What [`load`] found.
#[derive(Debug)]
pub enum Loaded {
    /// No state file yet.
    Missing,
    /// A good state.
    State(State),
    /// An unusable file, moved aside to `kept_as`.
    Corrupt {
        /// Why it is unusable.
        why: Corrupt,
        /// Where it was moved (never deleted).
        kept_as: Option<PathBuf>,
    },
}

/// Reads the state file. An unusable one is renamed to `<path>.corrupt-<unix seconds>` so that
/// nothing is lost and the next save does not overwrite it.
pub fn load(path: &Path) -> io::Result<Loaded> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::Missing),
        Err(e) => return Err(e),
    };
    match decode(&bytes) {
        Ok(state) => Ok(Loaded::State(state)),
        Err(why) => {
            let stamp = millis_since_epoch(SystemTime::now()) / 1000;
            let mut aside = path.as_os_str().to_owned();
            aside.push(format!(".corrupt-{stamp}"));
            let aside = PathBuf::from(aside);
            let kept_as = fs::rename(path, &aside).ok().map(|()| aside);
            Ok(Loaded::Corrupt { why, kept_as })
        }
    }
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written?;
    File::open(dir)?.sync_all()
}

/// The kernel's boot id, trimmed; empty if unreadable.
pub fn read_boot_id(path: &Path) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Time since boot from `/proc/uptime`, which no wall-clock step moves.
pub fn read_uptime() -> Option<Duration> {
    parse_uptime(&fs::read_to_string("/proc/uptime").ok()?)
}

/// The first number of `/proc/uptime`: seconds, with the two decimals the kernel writes
/// (up to nine are read). PURE.
fn parse_uptime(text: &str) -> Option<Duration> {
    let seconds = text.split_whitespace().next()?;
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    if whole.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let nanos = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0, |nanos, digit| nanos * 10 + u32::from(digit - b'0'));
    Some(Duration::new(whole.parse().ok()?, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_read_exactly() {
        let table = [
            ("3445.69 12000.10\n", Some(Duration::from_millis(3_445_690))),
            ("0.05 0.00\n", Some(Duration::from_millis(50))),
            ("17 1\n", Some(Duration::from_secs(17))),
            ("1.123456789123 0", Some(Duration::new(1, 123_456_789))),
            (
                "18446744073709551615.99 0",
                Some(Duration::new(u64::MAX, 990_000_000)),
            ),
            ("18446744073709551616.00 0", None),
            ("", None),
            (".5 0", None),
            ("-1.00 0", None),
            ("1.2.3 0", None),
            ("1e3 0", None),
        ];
        for (text, expected) in table {
            assert_eq!(parse_uptime(text), expected, "{text:?}");
        }
    }

    fn sample_state() -> State {
        let slot = |age_s: u64, rx: u64| SavedSlot {
            age: Duration::from_secs(age_s),
            totals: [rx, rx / 10, 0, 1, 2 * rx, 3, 0, u64::MAX - rx],
        };
        State {
            boot_id: "83d29ca5-3320-47af-87e6-c31f2fff4674".into(),
            saved_wall: UNIX_EPOCH + Duration::from_millis(1_800_000_000_123),
            saved_uptime: Some(Duration::from_millis(3_445_690)),
            interval: Duration::from_secs(10),
            interfaces: vec![
                SavedInterface {
                    name: "eth0".into(),
                    present: true,
                    counters: Counters::from_array([u64::MAX, 1, 2, 3, 4, 5, 6, 7]),
                    ifindex: Some(2),
                    oper_state: Some(OperState::Up),
                    last_seen_age: Duration::from_millis(4_500),
                    up_since_age: Some(Duration::from_secs(3600)),
                    uptime_is_lower_bound: true,
                    events: Events {
                        resets: 1,
                        wraps: 2,
                        glitches: 3,
                        renames: 4,
                    },
                    slots: vec![slot(30, 0), slot(20, 1000), slot(10, 50_000)],
                    usage: Some(sample_usage(false)),
                },
                SavedInterface {
                    name: "wg0".into(),
                    present: false,
                    counters: Counters::default(),
                    ifindex: None,
                    oper_state: None,
                    last_seen_age: Duration::from_secs(600),
                    up_since_age: None,
                    uptime_is_lower_bound: false,
                    events: Events::default(),
                    slots: vec![],
                    usage: Some(sample_usage(true)),
                },
            ],
        }
    }

    /// Days and months at the edges of the ring and of `u64`, and (`before_epoch`) below zero.
    fn sample_usage(before_epoch: bool) -> Usage {
        let mut usage = Usage::new(UNIX_EPOCH + Duration::from_millis(1_797_000_000_456));
        let bytes = |rx_bytes, tx_bytes| Bytes { rx_bytes, tx_bytes };
        let entries = if before_epoch {
            [
                (-30, -2, bytes(5, 6)),
                (-1, -1, bytes(0, 0)),
                (0, 0, bytes(1, 2)),
            ]
        } else {
            [
                (20_800, 683, bytes(u64::MAX, 1)),
                (20_820, 684, bytes(1 << 40, 3 << 30)),
                (20_830, 684, bytes(7, 8)),
            ]
        };
        for (day, month, b) in entries {
            usage.add(day, month, b);
        }
        usage
    }

    #[test]
    fn usage_entries_out_of_sight_are_not_saved() {
        // Day 0 is more than 31 days before day 40: it could never be shown again.
        let mut usage = Usage::new(UNIX_EPOCH);
        usage.add(0, 0, Bytes::default());
        usage.add(40, 1, Bytes::default());
        let (days, months) = usage.entries();
        assert_eq!(days, [(40, Bytes::default())]);
        assert_eq!(months, [(0, Bytes::default()), (1, Bytes::default())]);
    }

    #[test]
    fn round_trips() {
        let state = sample_state();
        assert_eq!(decode(&encode(&state)), Ok(state));
    }

    #[test]
    fn version_1_files_load_with_their_totals_empty() {
        // A version 1 file: the same bytes without the usage totals, version byte 1.
        let mut state = sample_state();
        let mut out = MAGIC.to_vec();
        out.push(1);
        put_bytes(&mut out, state.boot_id.as_bytes());
        put(&mut out, millis_since_epoch(state.saved_wall));
        put(
            &mut out,
            state.saved_uptime.map_or(0, |u| u.as_millis() as u64 + 1),
        );
        put(&mut out, state.interval.as_micros() as u64);
        put(&mut out, state.interfaces.len() as u64);
        for iface in &state.interfaces {
            let mut v2 = Vec::new();
            encode_interface(&mut v2, iface);
            let mut usage = Vec::new();
            let saved = iface.usage.unwrap();
            put(&mut usage, millis_since_epoch(saved.since));
            let (days, months) = saved.entries();
            put_entries(&mut usage, &days);
            put_entries(&mut usage, &months);
            assert!(v2.ends_with(&usage));
            out.extend_from_slice(&v2[..v2.len() - usage.len()]);
        }
        let checksum = fnv1a(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        for iface in &mut state.interfaces {
            iface.usage = None;
        }
        assert_eq!(decode(&out), Ok(state));
    }

    #[test]
    fn usage_totals_cost_a_few_bytes_a_day() {
        let mut usage = Usage::new(UNIX_EPOCH + Duration::from_secs(1_797_000_000));
        for day in 0..31 {
            let bytes = Bytes {
                rx_bytes: 3_000_000_000 + day as u64,
                tx_bytes: 400_000_000,
            };
            usage.add(20_800 + day, 683 + day / 30, bytes);
        }
        let mut out = Vec::new();
        let (days, months) = usage.entries();
        put_entries(&mut out, &days);
        put_entries(&mut out, &months);
        // 3 GB down and 400 MB up a day: 1 + 5 + 5 bytes a day, the first 3 + 5 + 5.
        assert_eq!(days.len(), 31);
        assert!(out.len() < 31 * 11 + 2 * 16 + 4, "{} bytes", out.len());
        let mut reader = Reader { bytes: &out };
        assert_eq!(entries(&mut reader, DAYS), Ok(days));
        assert_eq!(entries(&mut reader, MONTHS), Ok(months));
        // Out of order or too many: refused.
        let mut bad = Vec::new();
        put_entries(&mut bad, &[(5, Bytes::default()), (5, Bytes::default())]);
        assert!(entries(&mut Reader { bytes: &bad }, DAYS).is_err());
        let mut many = Vec::new();
        let list: Vec<_> = (0..13).map(|m| (m, Bytes::default())).collect();
        put_entries(&mut many, &list);
        assert!(entries(&mut Reader { bytes: &many }, MONTHS).is_err());
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused_without_panic() {
        let bytes = encode(&sample_state());
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "truncated to {len}");
        }
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x40;
            assert!(decode(&damaged).is_err(), "byte {i} flipped");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let bytes = encode(&sample_state());
        assert_eq!(decode(b""), Err(Corrupt::TooShort));
        assert_eq!(
            decode(b"{\"json\": \"not ours at all\"}"),
            Err(Corrupt::NotOurs)
        );
        let mut other = bytes.clone();
        other[8] = 3;
        assert_eq!(decode(&other), Err(Corrupt::Version(3)));
        other[8] = 0;
        assert_eq!(decode(&other), Err(Corrupt::Version(0)));
        let mut torn = bytes.clone();
        torn.truncate(bytes.len() - 3);
        assert_eq!(decode(&torn), Err(Corrupt::Checksum));
    }

    #[test]
    fn a_damaged_count_cannot_allocate_more_than_the_file() {
        let mut body = MAGIC.to_vec();
        body.push(VERSION);
        put_bytes(&mut body, b"boot");
        put(&mut body, 0);
        put(&mut body, 0);
        put(&mut body, 10_000_000);
        put(&mut body, u64::MAX); // interfaces
        let checksum = fnv1a(&body);
        body.extend_from_slice(&checksum.to_le_bytes());
        assert_eq!(decode(&body), Err(Corrupt::Malformed("interface count")));
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for value in [
            0,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put(&mut out, value);
            let mut reader = Reader { bytes: &out };
            assert_eq!(reader.varint(), Ok(value));
            assert!(reader.bytes.is_empty());
        }
        let mut reader = Reader { bytes: &[0xff; 11] };
        assert!(reader.varint().is_err());
    }

    #[test]
    fn saves_atomically_and_loads_back() {
        let dir = std::env::temp_dir().join(format!("ifstatsd-state-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state");
        assert!(matches!(load(&path), Ok(Loaded::Missing)));
        let state = sample_state();
        write_atomically(&path, &encode(&state)).unwrap();
        assert!(!dir.join("state.tmp").exists());
        match load(&path) {
            Ok(Loaded::State(loaded)) => assert_eq!(loaded, state),
            other => panic!("{other:?}"),
        }
        fs::write(&path, b"garbage").unwrap();
        match load(&path) {
            Ok(Loaded::Corrupt { why, kept_as }) => {
                assert_eq!(why, Corrupt::NotOurs);
                let kept = kept_as.expect("moved aside");
                assert_eq!(fs::read(kept).unwrap(), b"garbage");
                assert!(!path.exists());
            }
            other => panic!("{other:?}"),
        }
        fs::remove_dir_all(dir).unwrap();
    }
}
