//! PURE: the counter policy (what a change between two samples means) and the window arithmetic.
//!
//! # Deltas: wraps, resets and everything else
//!
//! Between two samples of one interface, each counter's delta is `now - prev`, unless a counter
//! decreased. Then, in this order:
//!
//! 1. **Reset** when the bytes and packets counters of one direction decrease together, or when a
//!    counter of each direction decreases at once (manubulon-snmp#62: "both overflowed in the same
//!    run" is a reboot). The interface counted from zero again, so every delta is the current value.
//! 2. **Wrap** when exactly one counter decreased, its previous and current values both fit in 32
//!    bits, and the interface kept counting: for bytes and packets the other one of the pair rose;
//!    for errors and drops some other counter rose. 32-bit kernels copy drivers' `unsigned long`
//!    counters into the 64-bit fields (`netdev_stats_to_stats64()`), so these wrap at 2^32. The
//!    delta is `2^32 - prev + now` (the `+ now` part is the count since the wrap; vnStat and netdata
//!    drop the implied `+ 1`, see `shared/reference/peers.md` §12).
//!    With a known link speed ([`Capacity`]) the wrap must also be plausible: the traffic it implies
//!    must fit what the link can carry in the interval, with a margin, or it is a reset.
//! 3. **Reset** for any other decrease.
//!
//! # Plausible wraps
//!
//! A wrap of a 32-bit byte counter implies `2^32 - prev + now` bytes, up to 4.3 GB: a counter that
//! drops from 4x10^9 to 10 on a 100 Mbit/s link "wrapped" only if 295 MB passed in the interval,
//! 24 s of line rate in a 10 s interval. Such a wrap is a reset. The bound is the link's rate
//! (`--link-speed`, or the driver's speed, whichever is higher: the counters count what the port
//! carries, which a shaper below the port's speed does not bound) over the interval plus 2 s, times
//! 1.25:
//! - 2 s: many drivers refresh their hardware counters from a periodic timer, once a second or two
//!   (DSA switches, USB adapters), so the counters read at two samples can be up to that stale,
//!   and one interval's delta can hold up to 2 s more traffic than the interval's length;
//! - 1.25: the timestamps of the samples are taken before the file is read, and the scheduler can
//!   delay a read by a fraction of an interval; a quarter is generous at any interval.
//!
//! Packets, errors and drops are bounded by the most minimum-size frames the link carries: 64
//! bytes plus 20 of preamble and inter-frame gap, 84 bytes on the wire each. A wrap that fits is
//! still taken as a wrap: only impossible ones are refused, never a wrap that is merely large.
//!
//! The statistics thread also treats as a reset an ifindex change seen in sysfs (the interface was
//! deleted and created again under the same name) and an interface that disappeared and came back.
//! Deltas are unsigned: they never go negative, and a delta is never more than the traffic the
//! kernel's counters account for.
//!
//! # Windows
//!
//! The ring of each interface ([`SlotRing`]) holds [`Slot`]s: the sample's monotonic time and the
//! running totals of its deltas since ifstatsd first saw the interface. The sum of the deltas of
//! the intervals inside a window is then the difference of two totals, and the seconds they cover
//! the difference of two times. The ring keeps its slots in a compact layout (see
//! [`crate::stats::slot_ring`]) and rebuilds them exactly, walking back from the newest, so a window
//! costs a walk over its own slots (at most 361 at the default interval), with no allocation.
//! This is exact window arithmetic over the samples, not an exponential average.
//!
//! An interval is inside a window of `W` seconds when it started no earlier than `W + I/2` before
//! the newest sample, `I` being the configured interval. The half interval absorbs scheduling
//! jitter: with a 10 s interval a 60 s window holds six intervals (about 60 s), not five. A window
//! that is not yet full uses what it has and says so in `covered_seconds`; with no interval inside it
//! the rate is `None`, except for an interface absent from the latest sample, whose observed
//! absence counts as covered with no traffic ([`averages`]).

use std::time::Duration;

use serde::Serialize;

use crate::sample::proc_net_dev::{Counters, COUNTERS};
use crate::stats::slot_ring::{Cursor, Slot, SlotRing};

/// 2^32, the modulus of a 32-bit counter.
const WRAP_32: u64 = 1 << 32;

/// Counter indices of [`Counters::to_array`] that belong to received traffic.
const RX: std::ops::Range<usize> = 0..4;
/// Counter indices that belong to sent traffic.
const TX: std::ops::Range<usize> = 4..8;
/// The (bytes, packets) index pair of each direction.
const BYTES_PACKETS: [(usize, usize); 2] = [(0, 1), (4, 5)];

/// What happened between two samples of an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Every counter stayed or rose.
    Steady,
    /// One counter wrapped at 2^32.
    Wrapped,
    /// The interface started counting from zero again.
    Reset,
}

/// The traffic between two samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delta {
    /// The traffic counted in between, in [`Counters::to_array`] order.
    pub counters: [u64; COUNTERS],
    /// How it was worked out.
    pub change: Change,
}

impl Delta {
    /// The delta of a reset: everything counted since the interface started again.
    pub fn reset(now: Counters) -> Delta {
        Delta {
            counters: now.to_array(),
            change: Change::Reset,
        }
    }

    /// The delta when no counter went down ([`went_down`] is false): each counter's difference.
    /// The common case, without the policy's arithmetic.
    pub fn steady(prev: Counters, now: Counters) -> Delta {
        let (p, n) = (prev.to_array(), now.to_array());
        let mut counters = [0; COUNTERS];
        for i in 0..COUNTERS {
            counters[i] = n[i].wrapping_sub(p[i]);
        }
        Delta {
            counters,
            change: Change::Steady,
        }
    }
}

/// Whether a tracked counter of `now` is lower than in `prev`.
pub fn went_down(prev: Counters, now: Counters) -> bool {
    let (p, n) = (prev.to_array(), now.to_array());
    (0..COUNTERS).any(|i| n[i] < p[i])
}

/// The most one direction of a link can carry in one interval, with the margin of the module doc:
/// what makes a wrap plausible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    /// Bytes.
    pub bytes: u64,
    /// Packets (and so errors and drops): minimum-size frames.
    pub packets: u64,
}

/// Seconds added to an interval for drivers' stale counters (see the module doc).
const STALE_COUNTERS: Duration = Duration::from_secs(2);
/// The factor over the link's rate for scheduling delays (see the module doc).
const MARGIN: f64 = 1.25;
/// A minimum-size Ethernet frame on the wire: 64 bytes, 8 of preamble, 12 of inter-frame gap.
const MIN_FRAME_WIRE_BYTES: f64 = 84.0;

impl Capacity {
    /// What a link of `bits_per_sec` carries in `elapsed`, with the margin.
    pub fn of(bits_per_sec: u64, elapsed: Duration) -> Capacity {
        // In f64 (exact for the speeds and times of the tests, within 2^-52 otherwise): u64
        // would overflow at 10 Tbit/s over an hour, and u128 division costs code on 32-bit
        // targets. The casts saturate.
        let bytes = bits_per_sec as f64 / 8.0
            * elapsed.saturating_add(STALE_COUNTERS).as_secs_f64()
            * MARGIN;
        Capacity {
            bytes: bytes.floor() as u64,
            packets: (bytes / MIN_FRAME_WIRE_BYTES).floor() as u64,
        }
    }

    /// Whether counter `i` (in [`Counters::to_array`] order) can have counted `count` in it.
    fn fits(&self, i: usize, count: u64) -> bool {
        let bound = if BYTES_PACKETS.iter().any(|&(bytes, _)| bytes == i) {
            self.bytes
        } else {
            self.packets
        };
        count <= bound
    }
}

/// The traffic between two samples of the same interface, by the policy in the module doc, when
/// the link's capacity is unknown.
pub fn delta(prev: Counters, now: Counters) -> Delta {
    delta_within(prev, now, None)
}

/// The traffic between two samples of the same interface, by the policy in the module doc: a
/// wrap must fit `capacity`, where it is known.
pub fn delta_within(prev: Counters, now: Counters, capacity: Option<Capacity>) -> Delta {
    let (p, n) = (prev.to_array(), now.to_array());
    let decreased: [bool; COUNTERS] = std::array::from_fn(|i| n[i] < p[i]);
    let rose = |i: usize| n[i] > p[i];
    let pair_decreased = BYTES_PACKETS
        .iter()
        .any(|&(bytes, packets)| decreased[bytes] && decreased[packets]);
    let both_directions = decreased[RX].contains(&true) && decreased[TX].contains(&true);
    let mut down = (0..COUNTERS).filter(|&i| decreased[i]);
    let change = match (down.next(), down.next()) {
        (None, _) => Change::Steady,
        _ if pair_decreased || both_directions => Change::Reset,
        (Some(i), None)
            if p[i] < WRAP_32
                && n[i] < WRAP_32
                && kept_counting(i, &rose)
                && capacity.is_none_or(|c| c.fits(i, WRAP_32 - p[i] + n[i])) =>
        {
            Change::Wrapped
        }
        _ => Change::Reset,
    };
    if change == Change::Reset {
        return Delta::reset(now);
    }
    let mut counters = [0; COUNTERS];
    for i in 0..COUNTERS {
        counters[i] = if n[i] >= p[i] {
            n[i] - p[i]
        } else {
            WRAP_32 - p[i] + n[i]
        };
    }
    Delta { counters, change }
}

/// Whether the interface kept counting while counter `i` went down: the partner of a bytes or
/// packets counter rose, or for an error or drop counter, some other counter rose.
fn kept_counting(i: usize, rose: &impl Fn(usize) -> bool) -> bool {
    match BYTES_PACKETS.iter().find(|&&(b, k)| i == b || i == k) {
        Some(&(b, k)) => rose(if i == b { k } else { b }),
        None => (0..COUNTERS).any(|j| j != i && rose(j)),
    }
}

/// Counts of what ifstatsd noticed about an interface's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Events {
    /// Times it started counting from zero again (or was re-created, or came back).
    pub resets: u64,
    /// Counters seen wrapping at 2^32.
    pub wraps: u64,
    /// Single reads lower than the samples around them, ignored (see [`crate::stats`]).
    pub glitches: u64,
    /// Times it was renamed, keeping its ifindex and its history.
    pub renames: u64,
}

/// The average rate over a window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// The window's nominal length.
    pub window: Duration,
    /// The time the intervals inside it cover.
    pub covered: Duration,
    /// Per-second rates in [`Counters::to_array`] order.
    pub per_sec: [f64; COUNTERS],
}

/// The rate between two slots, `older` before `newer`; `None` if no time passed.
pub fn rate_between(older: &Slot, newer: &Slot, window: Duration) -> Option<Rate> {
    rate_observed(older, newer, window, 0)
}

/// [`rate_between`], over the time between the slots less `unobserved_us` of it.
fn rate_observed(older: &Slot, newer: &Slot, window: Duration, unobserved_us: u64) -> Option<Rate> {
    let covered_us = newer
        .at_us
        .checked_sub(older.at_us)
        .map(|us| us.saturating_sub(unobserved_us))
        .filter(|&us| us > 0)?;
    let seconds = covered_us as f64 / 1e6;
    let mut per_sec = [0.0; COUNTERS];
    for (i, rate) in per_sec.iter_mut().enumerate() {
        *rate = newer.totals[i].wrapping_sub(older.totals[i]) as f64 / seconds;
    }
    Some(Rate {
        window,
        covered: Duration::from_micros(covered_us),
        per_sec,
    })
}

/// The rate of the newest interval of `ring`, if it ends at `now_us` (the interface was in the
/// latest sample).
pub fn current(ring: &SlotRing, now_us: u64, interval: Duration) -> Option<Rate> {
    let mut newest_first = ring.iter_newest_first();
    let newest = newest_first.next().filter(|slot| slot.at_us == now_us)?;
    let previous = newest_first.next()?;
    rate_between(&previous, &newest, interval)
}

/// The average rate over the intervals of `ring` inside the window of length `window` that ends
/// at `now_us`, by the rule in the module doc.
pub fn average(ring: &SlotRing, now_us: u64, window: Duration, interval: Duration) -> Option<Rate> {
    let [rate] = averages(ring, &mut [None], now_us, [window], interval, None);
    rate
}

/// [`average`] over several windows at once. `starts` holds where each window began the last
/// time, for the same ring and windows (`None` at first): the windows only move forward, so each
/// start steps over the few slots that left its window since then, instead of walking back
/// from the newest slot across the whole window at every sample.
///
/// `absence` is `None` for an interface the latest sample (at `now_us`) listed. For one it did
/// not list, it holds the spans since the interface's newest slot that the daemon did not
/// observe (its own downtime, failed samples: [`Gaps`]); the rest of the time since that slot
/// counts as covered, with no traffic (nothing crossed an interface that did not exist), as if
/// a slot at `now_us` repeated the newest one's totals. Its averages fall to zero as its
/// absence fills each window; a window it was observed absent for entirely is 0 over the whole
/// window. (One that comes back with no counter lower was never gone: its next slot's delta
/// spans the gap instead; one that comes back re-created gets a slot of unchanged totals at the
/// sample before, so the absence stays zero traffic.)
pub fn averages<const N: usize>(
    ring: &SlotRing,
    starts: &mut [Option<Cursor>; N],
    now_us: u64,
    windows: [Duration; N],
    interval: Duration,
    absence: Option<&Gaps>,
) -> [Option<Rate>; N] {
    let Some(mut newest) = ring.newest() else {
        return [None; N];
    };
    let absent = absence.filter(|_| newest.at_us < now_us);
    if absent.is_some() {
        newest.at_us = now_us;
    }
    let mut rates = [None; N];
    for ((rate, start), window) in rates.iter_mut().zip(starts).zip(windows) {
        let oldest_inside = ring.seek(start, window_start_us(now_us, window, interval));
        *rate = match (oldest_inside, absent) {
            (Some(oldest), None) => rate_between(&oldest, &newest, window),
            (Some(oldest), Some(gaps)) => {
                let unobserved_us = gaps.inside(oldest.at_us, now_us);
                rate_observed(&oldest, &newest, window, unobserved_us)
            }
            (None, Some(gaps)) => {
                let window_us = u64::try_from(window.as_micros()).unwrap_or(u64::MAX);
                let from_us = now_us.saturating_sub(window_us);
                let covered_us = (now_us - from_us).saturating_sub(gaps.inside(from_us, now_us));
                (covered_us > 0).then(|| Rate {
                    window,
                    covered: Duration::from_micros(covered_us),
                    per_sec: [0.0; COUNTERS],
                })
            }
            (None, None) => None,
        };
    }
    rates
}

/// The spans of time, since an interface was last seen, that the daemon did not observe: a
/// sample came more than one and a half intervals after the one before (the daemon was down, or
/// samples failed). At most [`Gaps::MAX`] are kept; past that the newest absorbs the next,
/// which counts the time between them as unobserved too (never as traffic-free time it did not
/// see). Allocates only when a gap happens.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gaps(Vec<(u64, u64)>);

impl Gaps {
    /// The most spans kept.
    pub const MAX: usize = 8;

    /// Adds the span from `from_us` to `to_us`, later than every span so far.
    pub fn push(&mut self, from_us: u64, to_us: u64) {
        let full = self.0.len() >= Self::MAX;
        match self.0.last_mut() {
            Some(last) if full => last.1 = to_us,
            _ => self.0.push((from_us, to_us)),
        }
    }

    /// Forgets every span (the interface is back).
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The microseconds of the spans inside `from_us..to_us`.
    pub fn inside(&self, from_us: u64, to_us: u64) -> u64 {
        self.0
            .iter()
            .map(|&(a, b)| b.min(to_us).saturating_sub(a.max(from_us)))
            .sum()
    }
}

/// The earliest time an interval inside the window may start: `window + interval / 2` before
/// `now_us` (the rule in the module doc).
fn window_start_us(now_us: u64, window: Duration, interval: Duration) -> u64 {
    // Saturating: a window reaching back further than u64 microseconds holds everything.
    let reach_us =
        u64::try_from(window.saturating_add(interval / 2).as_micros()).unwrap_or(u64::MAX);
    now_us.saturating_sub(reach_us)
}

/// The age order of the oldest slot inside the window, by the rule in the module doc: the
/// intervals inside start no earlier than `window + interval / 2` before `now_us`. Slot times
/// never decrease (the statistics thread ignores a sample older than the last one), so the slots
/// inside are the newest ones: they are counted back from the newest.
fn first_inside(ring: &SlotRing, now_us: u64, window: Duration, interval: Duration) -> usize {
    let threshold = window_start_us(now_us, window, interval);
    let inside = ring
        .iter_newest_first()
        .take_while(|slot| slot.at_us >= threshold)
        .count();
    ring.len().saturating_sub(inside)
}

/// One interval between two samples, for a chart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The older sample's slot time.
    pub start_us: u64,
    /// The newer sample's slot time.
    pub end_us: u64,
    /// The rates over it.
    pub rate: Rate,
}

/// The intervals of `ring` inside the window of length `window` ending at `now_us` (by the rule
/// of [`average`]), oldest first: one per pair of consecutive samples. An iterator, so that the
/// caller builds its own list without another.
pub fn intervals(
    ring: &SlotRing,
    now_us: u64,
    window: Duration,
    interval: Duration,
) -> impl Iterator<Item = Interval> + '_ {
    let mut slots = ring.iter_from(first_inside(ring, now_us, window, interval));
    let mut older = slots.next();
    slots.filter_map(move |newer| {
        let start = older.replace(newer)?;
        let rate = rate_between(&start, &newer, interval)?;
        Some(Interval {
            start_us: start.at_us,
            end_us: newer.at_us,
            rate,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    fn c(a: [u64; COUNTERS]) -> Counters {
        Counters::from_array(a)
    }

    const MAX32: u64 = u32::MAX as u64;

    #[rstest]
    #[case::steady([10, 1, 0, 0, 20, 2, 0, 0], [15, 2, 0, 0, 20, 2, 0, 0], [5, 1, 0, 0, 0, 0, 0, 0], Change::Steady)]
    #[case::unchanged([7, 7, 7, 7, 7, 7, 7, 7], [7, 7, 7, 7, 7, 7, 7, 7], [0; 8], Change::Steady)]
    #[case::rx_bytes_wrap([MAX32 - 9, 5, 0, 0, 0, 0, 0, 0], [20, 6, 0, 0, 0, 0, 0, 0], [30, 1, 0, 0, 0, 0, 0, 0], Change::Wrapped)]
    #[case::wrap_to_zero([MAX32, 5, 0, 0, 0, 0, 0, 0], [0, 6, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0, 0], Change::Wrapped)]
    #[case::tx_packets_wrap([0, 0, 0, 0, 100, MAX32, 0, 0], [0, 0, 0, 0, 200, 3, 0, 0], [0, 0, 0, 0, 100, 4, 0, 0], Change::Wrapped)]
    #[case::rx_dropped_wrap([50, 5, 0, MAX32 - 1, 0, 0, 0, 0], [60, 6, 0, 1, 0, 0, 0, 0], [10, 1, 0, 3, 0, 0, 0, 0], Change::Wrapped)]
    #[case::wrap_needs_the_partner_rising([MAX32, 5, 0, 0, 9, 9, 0, 0], [3, 5, 0, 0, 10, 10, 0, 0], [3, 5, 0, 0, 10, 10, 0, 0], Change::Reset)]
    #[case::error_wrap_needs_traffic([1, 1, MAX32, 0, 1, 1, 0, 0], [1, 1, 2, 0, 1, 1, 0, 0], [1, 1, 2, 0, 1, 1, 0, 0], Change::Reset)]
    #[case::pair_down_is_reset([1000, 10, 0, 0, 50, 5, 0, 0], [100, 1, 0, 0, 60, 6, 0, 0], [100, 1, 0, 0, 60, 6, 0, 0], Change::Reset)]
    #[case::both_directions_is_reset([MAX32, 10, 0, 0, MAX32, 10, 0, 0], [5, 11, 0, 0, 5, 11, 0, 0], [5, 11, 0, 0, 5, 11, 0, 0], Change::Reset)]
    #[case::sixty_four_bit_decrease_is_reset([1 << 40, 10, 0, 0, 0, 0, 0, 0], [5, 11, 0, 0, 0, 0, 0, 0], [5, 11, 0, 0, 0, 0, 0, 0], Change::Reset)]
    #[case::two_rx_counters_down_is_reset([100, 10, 5, 0, 0, 0, 0, 0], [50, 11, 1, 0, 0, 0, 0, 0], [50, 11, 1, 0, 0, 0, 0, 0], Change::Reset)]
    #[case::all_zero_again([5, 5, 5, 5, 5, 5, 5, 5], [0; 8], [0; 8], Change::Reset)]
    #[case::u64_max_steady([u64::MAX - 1, 0, 0, 0, 0, 0, 0, 0], [u64::MAX, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0], Change::Steady)]
    fn deltas_follow_the_policy(
        #[case] prev: [u64; COUNTERS],
        #[case] now: [u64; COUNTERS],
        #[case] expected: [u64; COUNTERS],
        #[case] change: Change,
    ) {
        assert_eq!(
            delta(c(prev), c(now)),
            Delta {
                counters: expected,
                change
            }
        );
    }

    const HUNDRED_MBIT: u64 = 100_000_000;

    #[rstest]
    // 12.5 MB/s x (10 s + 2 s) x 1.25 = 187.5 MB; a minimum frame is 84 bytes on the wire.
    #[case::hundred_mbit_ten_s(HUNDRED_MBIT, 10_000, 187_500_000, 2_232_142)]
    #[case::gigabit_one_s(1_000_000_000, 1_000, 468_750_000, 5_580_357)]
    #[case::zero_elapsed(HUNDRED_MBIT, 0, 31_250_000, 372_023)]
    #[case::huge(u64::MAX, 3_600_000, u64::MAX, u64::MAX)]
    fn capacities_carry_the_margin(
        #[case] bits_per_sec: u64,
        #[case] elapsed_ms: u64,
        #[case] bytes: u64,
        #[case] packets: u64,
    ) {
        let capacity = Capacity::of(bits_per_sec, Duration::from_millis(elapsed_ms));
        assert_eq!(capacity, Capacity { bytes, packets });
    }

    /// The case: 100 Mbit/s, 10 s, a byte counter from 4x10^9 to 10 would be a wrap of
    /// 294 967 306 bytes, 1.6 times what the link can carry with the margin.
    #[rstest]
    #[case::implausible_bytes_wrap(Some(HUNDRED_MBIT), [4_000_000_000, 10, 0, 0, 0, 0, 0, 0], [10, 11, 0, 0, 0, 0, 0, 0], [10, 11, 0, 0, 0, 0, 0, 0], Change::Reset)]
    #[case::unknown_speed_keeps_the_wrap(None, [4_000_000_000, 10, 0, 0, 0, 0, 0, 0], [10, 11, 0, 0, 0, 0, 0, 0], [294_967_306, 1, 0, 0, 0, 0, 0, 0], Change::Wrapped)]
    #[case::plausible_bytes_wrap(Some(HUNDRED_MBIT), [MAX32 - 99_999_999, 10, 0, 0, 0, 0, 0, 0], [50_000_000, 11, 0, 0, 0, 0, 0, 0], [150_000_000, 1, 0, 0, 0, 0, 0, 0], Change::Wrapped)]
    #[case::bytes_wrap_at_the_bound(Some(HUNDRED_MBIT), [MAX32 - 187_499_999, 10, 0, 0, 0, 0, 0, 0], [0, 11, 0, 0, 0, 0, 0, 0], [187_500_000, 1, 0, 0, 0, 0, 0, 0], Change::Wrapped)]
    #[case::bytes_wrap_past_the_bound(Some(HUNDRED_MBIT), [MAX32 - 187_499_999, 10, 0, 0, 0, 0, 0, 0], [1, 11, 0, 0, 0, 0, 0, 0], [1, 11, 0, 0, 0, 0, 0, 0], Change::Reset)]
    #[case::implausible_packets_wrap(Some(HUNDRED_MBIT), [5000, MAX32 - 10, 0, 0, 0, 0, 0, 0], [6000, 3_000_000, 0, 0, 0, 0, 0, 0], [6000, 3_000_000, 0, 0, 0, 0, 0, 0], Change::Reset)]
    #[case::plausible_packets_wrap(Some(HUNDRED_MBIT), [5000, MAX32 - 10, 0, 0, 0, 0, 0, 0], [6000, 1_000_000, 0, 0, 0, 0, 0, 0], [1000, 1_000_011, 0, 0, 0, 0, 0, 0], Change::Wrapped)]
    #[case::implausible_drops_wrap(Some(HUNDRED_MBIT), [5000, 5, 0, 0, 9, 9, 0, MAX32], [6000, 6, 0, 0, 9, 9, 0, 2_232_142], [6000, 6, 0, 0, 9, 9, 0, 2_232_142], Change::Reset)]
    #[case::steady_is_never_refused(Some(1), [0; 8], [1 << 40, 0, 0, 0, 0, 0, 0, 0], [1 << 40, 0, 0, 0, 0, 0, 0, 0], Change::Steady)]
    fn wraps_must_fit_the_link(
        #[case] bits_per_sec: Option<u64>,
        #[case] prev: [u64; COUNTERS],
        #[case] now: [u64; COUNTERS],
        #[case] expected: [u64; COUNTERS],
        #[case] change: Change,
    ) {
        let capacity = bits_per_sec.map(|bits| Capacity::of(bits, TEN_S));
        assert_eq!(
            delta_within(c(prev), c(now), capacity),
            Delta {
                counters: expected,
                change
            }
        );
    }

    fn ring_of(points: &[(u64, u64)], capacity: usize) -> SlotRing {
        let mut ring = SlotRing::with_capacity(capacity);
        for &(at_s, rx_bytes) in points {
            let mut totals = [0; COUNTERS];
            totals[0] = rx_bytes;
            totals[4] = 2 * rx_bytes;
            ring.push(Slot {
                at_us: at_s * 1_000_000,
                totals,
            });
        }
        ring
    }

    const TEN_S: Duration = Duration::from_secs(10);
    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn current_is_the_last_interval() {
        let ring = ring_of(&[(0, 0), (10, 1000), (20, 3000)], 10);
        let rate = current(&ring, 20_000_000, TEN_S).unwrap();
        assert_eq!(rate.per_sec[0], 200.0);
        assert_eq!(rate.per_sec[4], 400.0);
        assert_eq!(rate.covered, TEN_S);
        assert_eq!(rate.window, TEN_S);
    }

    #[test]
    fn current_is_none_with_one_sample_or_when_absent_from_the_latest() {
        assert_eq!(current(&ring_of(&[(0, 0)], 10), 0, TEN_S), None);
        let ring = ring_of(&[(0, 0), (10, 1000)], 10);
        assert_eq!(current(&ring, 20_000_000, TEN_S), None);
    }

    #[test]
    fn a_full_window_holds_exactly_its_intervals() {
        // 10 samples 10 s apart; rx rises 100 B/s for the first 40 s, then 1000 B/s.
        let points: Vec<(u64, u64)> = (0..=10)
            .map(|k| {
                (
                    k * 10,
                    if k <= 4 {
                        k * 1000
                    } else {
                        4000 + (k - 4) * 10_000
                    },
                )
            })
            .collect();
        let ring = ring_of(&points, 100);
        let rate = average(&ring, 100_000_000, MINUTE, TEN_S).unwrap();
        assert_eq!(rate.covered, MINUTE);
        assert_eq!(rate.per_sec[0], 1000.0);
        let five = average(&ring, 100_000_000, Duration::from_secs(300), TEN_S).unwrap();
        assert_eq!(five.covered, Duration::from_secs(100));
        assert_eq!(five.per_sec[0], 64_000.0 / 100.0);
    }

    #[test]
    fn a_partial_window_says_how_much_it_covers() {
        let ring = ring_of(&[(0, 0), (10, 500), (20, 1500)], 100);
        let rate = average(&ring, 20_000_000, MINUTE, TEN_S).unwrap();
        assert_eq!(rate.covered, Duration::from_secs(20));
        assert_eq!(rate.per_sec[0], 75.0);
        assert_eq!(rate.window, MINUTE);
    }

    #[test]
    fn no_interval_no_rate() {
        assert_eq!(average(&ring_of(&[(0, 0)], 10), 0, MINUTE, TEN_S), None);
        assert_eq!(average(&SlotRing::with_capacity(3), 0, MINUTE, TEN_S), None);
    }

    #[test]
    fn irregular_intervals_and_jitter() {
        // Late ticks: 0, 10.4, 19.9, 31, 40, 50.2, 60.3 seconds (in ms resolution).
        let mut ring = SlotRing::with_capacity(100);
        let times_ms = [0u64, 10_400, 19_900, 31_000, 40_000, 50_200, 60_300];
        for (k, at) in times_ms.iter().enumerate() {
            let mut totals = [0; COUNTERS];
            totals[1] = k as u64 * 7;
            ring.push(Slot {
                at_us: at * 1000,
                totals,
            });
        }
        // Start threshold is 60.3 - 65 < 0, so the window reaches the first sample.
        let rate = average(&ring, 60_300_000, MINUTE, TEN_S).unwrap();
        assert_eq!(rate.covered, Duration::from_millis(60_300));
        assert_eq!(rate.per_sec[1], 42.0 / 60.3);
    }

    #[test]
    fn a_vanished_interface_decays_out_of_its_windows() {
        let ring = ring_of(&[(0, 0), (10, 1000), (20, 2000)], 100);
        // The latest sample is 50 s after the interface was last seen: the window reaches back
        // to 5 s, so only the interval from 10 s to 20 s is inside it.
        let rate = average(&ring, 70_000_000, MINUTE, TEN_S).unwrap();
        assert_eq!(rate.covered, TEN_S);
        assert_eq!(rate.per_sec[0], 100.0);
        assert_eq!(average(&ring, 100_000_000, MINUTE, TEN_S), None);
    }

    /// An interface seen at 0, 10 and 20 s (100 B/s), then absent, the daemon not observing
    /// during `gaps_s`; the latest sample at `now_s`.
    #[rstest]
    #[case::just_gone(30, &[], [Some((30, 2000.0 / 30.0)), Some((30, 2000.0 / 30.0))])]
    #[case::gone_40s(60, &[], [Some((60, 2000.0 / 60.0)), Some((60, 2000.0 / 60.0))])]
    #[case::gone_50s(70, &[], [Some((60, 1000.0 / 60.0)), Some((70, 2000.0 / 70.0))])]
    #[case::gone_longer_than_a_minute(90, &[], [Some((60, 0.0)), Some((90, 2000.0 / 90.0))])]
    #[case::gone_longer_than_5_minutes(400, &[], [Some((60, 0.0)), Some((300, 0.0))])]
    #[case::daemon_down_while_gone(70, &[(30, 60)], [Some((30, 1000.0 / 30.0)), Some((40, 2000.0 / 40.0))])]
    #[case::down_from_the_last_sample(70, &[(20, 60)], [Some((20, 1000.0 / 20.0)), Some((30, 2000.0 / 30.0))])]
    #[case::down_for_most_of_the_minute(100, &[(20, 95)], [Some((5, 0.0)), Some((25, 2000.0 / 25.0))])]
    #[case::two_gaps(100, &[(30, 40), (50, 60)], [Some((50, 0.0)), Some((80, 2000.0 / 80.0))])]
    fn an_absent_interface_counts_as_covered_with_no_traffic_where_observed(
        #[case] now_s: u64,
        #[case] gaps_s: &[(u64, u64)],
        #[case] expected: [Option<(u64, f64)>; 2],
    ) {
        let ring = ring_of(&[(0, 0), (10, 1000), (20, 2000)], 100);
        let windows = [MINUTE, Duration::from_secs(300)];
        let mut gaps = Gaps::default();
        for &(from, to) in gaps_s {
            gaps.push(from * 1_000_000, to * 1_000_000);
        }
        let now_us = now_s * 1_000_000;
        let rates = averages(&ring, &mut [None; 2], now_us, windows, TEN_S, Some(&gaps));
        let got = rates.map(|r| r.map(|r| (r.covered.as_secs(), r.per_sec[0])));
        assert_eq!(got, expected);
        // Present, the same ring and time would be the old behaviour: the absence left out.
        if now_s == 70 && gaps_s.is_empty() {
            let present = averages(&ring, &mut [None; 2], now_us, windows, TEN_S, None);
            assert_eq!(present[0].map(|r| r.per_sec[0]), Some(100.0));
        }
    }

    #[test]
    fn gaps_past_the_most_kept_merge_into_the_newest() {
        let mut gaps = Gaps::default();
        for k in 0..Gaps::MAX as u64 + 2 {
            gaps.push(10 * k, 10 * k + 5);
        }
        assert_eq!(gaps.0.len(), Gaps::MAX);
        // The last kept one absorbed the two after it, and the time between them.
        assert_eq!(gaps.0.last(), Some(&(70, 95)));
        assert_eq!(gaps.inside(0, 100), 7 * 5 + 25);
        assert_eq!(gaps.inside(72, 80), 8);
        gaps.clear();
        assert_eq!(gaps.inside(0, 100), 0);
    }

    #[test]
    fn intervals_are_the_window_sample_by_sample() {
        let ring = ring_of(
            &[(0, 0), (10, 1000), (20, 1000), (50, 4000), (60, 4500)],
            100,
        );
        let all: Vec<Interval> = intervals(&ring, 60_000_000, MINUTE, TEN_S).collect();
        let spans: Vec<(u64, u64)> = all
            .iter()
            .map(|i| (i.start_us / 1_000_000, i.end_us / 1_000_000))
            .collect();
        assert_eq!(spans, [(0, 10), (10, 20), (20, 50), (50, 60)]);
        let per_sec: Vec<f64> = all.iter().map(|i| i.rate.per_sec[0]).collect();
        assert_eq!(per_sec, [100.0, 0.0, 100.0, 50.0]);
        // The sum of rate times seconds is the window's traffic, as for average().
        let counted: f64 = all
            .iter()
            .map(|i| i.rate.per_sec[0] * i.rate.covered.as_secs_f64())
            .sum();
        assert_eq!(counted, 4500.0);
        let last_20s = intervals(&ring, 60_000_000, Duration::from_secs(20), TEN_S);
        assert_eq!(
            last_20s.count(),
            1,
            "the 20-50 interval starts before the window"
        );
        assert_eq!(
            intervals(&SlotRing::with_capacity(2), 0, MINUTE, TEN_S).count(),
            0
        );
    }

    #[test]
    fn totals_that_overflow_still_subtract() {
        let older = Slot {
            at_us: 0,
            totals: [u64::MAX - 4; COUNTERS],
        };
        let newer = Slot {
            at_us: 1_000_000,
            totals: [5; COUNTERS],
        };
        let rate = rate_between(&older, &newer, TEN_S).unwrap();
        assert_eq!(rate.per_sec, [10.0; COUNTERS]);
    }

    /// The window arithmetic as it was over a plain vector of full slots (binary search,
    /// random access): what the compact ring must answer, number for number.
    mod over_a_vec {
        use super::super::*;

        fn first_inside(
            slots: &[Slot],
            now_us: u64,
            window: Duration,
            interval: Duration,
        ) -> usize {
            let reach_us = (window + interval / 2).as_micros() as u64;
            let threshold = now_us.saturating_sub(reach_us);
            slots.partition_point(|slot| slot.at_us < threshold)
        }

        pub fn current(slots: &[Slot], now_us: u64, interval: Duration) -> Option<Rate> {
            let newest = slots.last().filter(|slot| slot.at_us == now_us)?;
            let previous = slots.get(slots.len().checked_sub(2)?)?;
            rate_between(previous, newest, interval)
        }

        pub fn average(
            slots: &[Slot],
            now_us: u64,
            window: Duration,
            interval: Duration,
        ) -> Option<Rate> {
            let oldest = slots.get(first_inside(slots, now_us, window, interval))?;
            rate_between(oldest, slots.last()?, window)
        }

        pub fn intervals(
            slots: &[Slot],
            now_us: u64,
            window: Duration,
            interval: Duration,
        ) -> Vec<Interval> {
            let first = first_inside(slots, now_us, window, interval);
            slots[first..]
                .windows(2)
                .filter_map(|pair| {
                    let rate = rate_between(&pair[0], &pair[1], interval)?;
                    Some(Interval {
                        start_us: pair[0].at_us,
                        end_us: pair[1].at_us,
                        rate,
                    })
                })
                .collect()
        }
    }

    /// A delta as the statistics thread can produce: mostly traffic, sometimes at a packed
    /// field's edge, sometimes a reset's whole counter or a wrap's.
    fn any_delta() -> impl Strategy<Value = u64> {
        prop_oneof![
            8 => 0..1_000_000u64,
            1 => ((1u64 << 32) - 2)..((1 << 32) + 2),
            1 => ((1u64 << 48) - 2)..((1 << 48) + 2),
            2 => any::<u64>(),
        ]
    }

    /// Time steps of a `interval_us` ring: jittered ticks, gaps from absences, outages and
    /// restores, and zero (a restored ring can hold two slots at one time).
    fn time_step_us(interval_us: u64) -> impl Strategy<Value = u64> {
        prop_oneof![
            8 => (interval_us / 2)..(interval_us * 3 / 2),
            1 => Just(0u64),
            1 => 0..(3 * 3_600_000_000u64),
            1 => (u64::from(u32::MAX) - 2)..(u64::from(u32::MAX) + 2),
        ]
    }

    /// An interval, its ring's slots (times only rise, as the statistics thread makes them), and
    /// how far past the newest slot the latest sample is (0: the interface was in it).
    fn history() -> impl Strategy<Value = (Duration, Vec<Slot>, u64)> {
        let interval_us = prop_oneof![
            Just(10_000_000u64),
            Just(1_000_000),
            100_000..900_000_000u64
        ];
        interval_us.prop_flat_map(|interval_us| {
            let steps = proptest::collection::vec(
                (
                    time_step_us(interval_us),
                    proptest::array::uniform8(any_delta()),
                ),
                1..400,
            );
            let lag_us = prop_oneof![3 => Just(0u64), 1 => 0..4_000_000_000u64];
            (Just(Duration::from_micros(interval_us)), steps, lag_us).prop_map(
                |(interval, steps, lag_us)| {
                    let mut now = Slot {
                        at_us: 5_000_000,
                        totals: [0; COUNTERS],
                    };
                    let slots = steps
                        .into_iter()
                        .map(|(step_us, deltas)| {
                            now.at_us += step_us;
                            for (total, delta) in now.totals.iter_mut().zip(deltas) {
                                *total = total.wrapping_add(delta);
                            }
                            now
                        })
                        .collect();
                    (interval, slots, lag_us)
                },
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn the_compact_ring_answers_exactly_as_a_vec_of_full_slots((interval, all, lag_us) in history()) {
            let capacity = crate::stats::slot_ring::ring_capacity(interval);
            let mut ring = SlotRing::with_capacity(capacity);
            for &slot in &all {
                ring.push(slot);
            }
            let kept = &all[all.len().saturating_sub(capacity)..];
            let now_us = kept.last().map_or(0, |slot| slot.at_us) + lag_us;
            prop_assert_eq!(current(&ring, now_us, interval), over_a_vec::current(kept, now_us, interval));
            for window_s in [60, 300, 900, 3600, 7200] {
                let window = Duration::from_secs(window_s);
                prop_assert_eq!(
                    average(&ring, now_us, window, interval),
                    over_a_vec::average(kept, now_us, window, interval)
                );
                prop_assert_eq!(
                    intervals(&ring, now_us, window, interval).collect::<Vec<_>>(),
                    over_a_vec::intervals(kept, now_us, window, interval)
                );
            }
            // Window starts moved forward sample by sample give what a search from the newest
            // gives, at every sample.
            let windows = [60, 300, 900, 3600, 7200].map(Duration::from_secs);
            let mut moving = SlotRing::with_capacity(capacity);
            let mut starts = [None; 5];
            for (k, &slot) in all.iter().enumerate() {
                moving.push(slot);
                let kept = &all[(k + 1).saturating_sub(capacity)..=k];
                let now_us = slot.at_us + lag_us * (k % 2) as u64;
                prop_assert_eq!(
                    averages(&moving, &mut starts, now_us, windows, interval, None),
                    windows.map(|window| over_a_vec::average(kept, now_us, window, interval))
                );
            }
            // The window sums themselves, not only the rates made of them.
            prop_assert_eq!(ring.iter().collect::<Vec<_>>(), kept);
        }
    }
}
