//! The statistics thread: it owns one fixed-size ring per interface, folds every [`Sample`] into
//! them by the policy of [`crate::rates`], and publishes a fresh [`StatsView`] after each one.
//!
//! Interfaces:
//! - A new interface gets a ring of `60 min / interval` intervals, allocated once.
//! - An interface missing from a sample stays, `present: false`, with its last data; after 60
//!   minutes away it is forgotten.
//! - One that comes back with a new ifindex, or with counters that went down, was re-created: a
//!   reset. One that comes back with the same ifindex and no counter lower never left; a truncated
//!   or garbled source hid it, and treating it as a reset would count its whole history again as
//!   new traffic. Its delta covers the gap.
//! - An ifindex change between two samples is a reset, whatever the counters say.
//!
//! Uptime restarts when an interface is first seen, is reset, or its operstate comes back up
//! (`up`, or `unknown` for drivers that never report one). While it is down or absent there is
//! none. It is a lower bound for interfaces that were already there at ifstatsd's first sample.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::Receiver;

use crate::proc_net_dev::{Counters, COUNTERS, COUNTER_NAMES};
use crate::rates::{self, Change, Delta, Slot};
use crate::ring::Ring;
use crate::snapshot::{InterfaceSample, OperState, Sample, Snapshot};
use crate::view::{Collection, Events, InterfaceStats, Rates, SharedView, StatsView, Timestamp};

/// How much history each interface keeps, and how long a vanished one is remembered.
pub const HISTORY: Duration = Duration::from_secs(60 * 60);

/// The averaging windows: 1, 5 and 15 minutes.
pub const WINDOWS: [Duration; 3] = [
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
];

/// The number of ring slots for `interval`: one per interval in [`HISTORY`], plus the sample the
/// first interval starts from.
pub fn ring_capacity(interval: Duration) -> usize {
    let interval_us = interval.as_micros().max(1);
    (HISTORY.as_micros().div_ceil(interval_us) + 1) as usize
}

/// A point on both clocks: microseconds since the first sample, and the wall time.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Moment {
    at_us: u64,
    wall: SystemTime,
}

/// Everything kept about one interface.
#[derive(Debug)]
struct History {
    present: bool,
    counters: Counters,
    ifindex: Option<u32>,
    oper_state: Option<OperState>,
    last_seen: Moment,
    /// When it last came up, was created or reset; `None` while down or absent.
    up_since: Option<Moment>,
    uptime_is_lower_bound: bool,
    events: Events,
    /// The running totals of all deltas, as in the newest slot.
    totals: [u64; COUNTERS],
    ring: Ring<Slot>,
    /// The sample that last updated it, to keep only the first of duplicate lines.
    generation: u64,
}

impl History {
    fn new(sample: &InterfaceSample, now: Moment, first_sample: bool, capacity: usize) -> Self {
        let mut ring = Ring::with_capacity(capacity);
        ring.push(Slot {
            at_us: now.at_us,
            totals: [0; COUNTERS],
        });
        History {
            present: true,
            counters: sample.counters,
            ifindex: sample.ifindex,
            oper_state: sample.oper_state,
            last_seen: now,
            up_since: is_up(sample.oper_state).then_some(now),
            uptime_is_lower_bound: first_sample,
            events: Events::default(),
            totals: [0; COUNTERS],
            ring,
            generation: 0,
        }
    }

    /// Folds in a new sample of this interface.
    fn update(&mut self, name: &str, sample: &InterfaceSample, now: Moment) {
        let re_created = matches!((self.ifindex, sample.ifindex), (Some(a), Some(b)) if a != b);
        let delta = if re_created {
            log::info!(
                "{name}: ifindex {:?} -> {:?}, re-created: counting from zero",
                self.ifindex,
                sample.ifindex
            );
            Delta::reset(sample.counters)
        } else {
            rates::delta(self.counters, sample.counters)
        };
        if !self.present {
            log::info!(
                "{name}: back after {:.1} s",
                seconds(now.at_us - self.last_seen.at_us)
            );
        }
        match delta.change {
            Change::Steady => {}
            Change::Wrapped => {
                self.events.wraps += 1;
                let which = (0..COUNTERS)
                    .find(|&i| sample.counters.to_array()[i] < self.counters.to_array()[i]);
                log::info!(
                    "{name}: {} wrapped at 2^32",
                    which.map_or("?", |i| COUNTER_NAMES[i])
                );
            }
            Change::Reset => {
                self.events.resets += 1;
                if !re_created {
                    log::info!("{name}: counters went down, a reset: counting from zero");
                }
            }
        }
        for (total, d) in self.totals.iter_mut().zip(delta.counters) {
            *total = total.wrapping_add(d);
        }
        self.ring.push(Slot {
            at_us: now.at_us,
            totals: self.totals,
        });
        let up = is_up(sample.oper_state);
        if !up {
            self.up_since = None;
            self.uptime_is_lower_bound = false;
        } else if delta.change == Change::Reset || self.up_since.is_none() {
            self.up_since = Some(now);
            self.uptime_is_lower_bound = false;
        }
        self.present = true;
        self.counters = sample.counters;
        self.ifindex = sample.ifindex;
        self.oper_state = sample.oper_state;
        self.last_seen = now;
    }

    fn view(&self, name: &str, now_us: u64, interval: Duration) -> InterfaceStats {
        let up_since = self.up_since.filter(|_| self.present);
        let rate = |window| rates::average(&self.ring, now_us, window, interval).map(Into::into);
        InterfaceStats {
            interface: name.to_owned(),
            present: self.present,
            updated_at: Timestamp(self.last_seen.wall),
            uptime_seconds: up_since.map(|since| seconds(now_us.saturating_sub(since.at_us))),
            up_since: up_since.map(|since| Timestamp(since.wall)),
            uptime_is_lower_bound: self.uptime_is_lower_bound,
            sample_interval_seconds: interval.as_secs_f64(),
            ifindex: self.ifindex,
            oper_state: self.oper_state,
            counters: self.counters,
            rates: Rates {
                current: rates::current(&self.ring, now_us, interval).map(Into::into),
                avg_1m: rate(WINDOWS[0]),
                avg_5m: rate(WINDOWS[1]),
                avg_15m: rate(WINDOWS[2]),
            },
            events: self.events,
        }
    }
}

/// An interface without an operstate (no sysfs) counts as up, like `unknown`.
fn is_up(state: Option<OperState>) -> bool {
    state.is_none_or(OperState::is_up)
}

fn seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

/// The statistics of every interface, and of sampling itself.
#[derive(Debug)]
pub struct Stats {
    interval: Duration,
    capacity: usize,
    /// The monotonic time of the first successful sample: slot times count from it.
    origin: Option<Instant>,
    latest: Option<Moment>,
    generation: u64,
    interfaces: BTreeMap<String, History>,
    collection: Collection,
}

impl Stats {
    /// Empty statistics for samples of `source` taken every `interval`.
    pub fn new(source: &str, interval: Duration) -> Self {
        Stats {
            interval,
            capacity: ring_capacity(interval),
            origin: None,
            latest: None,
            generation: 0,
            interfaces: BTreeMap::new(),
            collection: Collection {
                source: source.to_owned(),
                interval,
                last_success: None,
                samples_total: 0,
                collection_errors_total: 0,
                parse_errors_total: 0,
                last_error: None,
            },
        }
    }

    /// Folds in one sample, failed or not.
    pub fn apply(&mut self, sample: Sample) {
        match sample.result {
            Ok(snapshot) => self.apply_snapshot(sample.taken_at, sample.wall, snapshot),
            Err(error) => {
                self.collection.collection_errors_total += 1;
                self.collection.last_error = Some(error);
            }
        }
    }

    fn apply_snapshot(&mut self, taken_at: Instant, wall: SystemTime, snapshot: Snapshot) {
        let origin = *self.origin.get_or_insert(taken_at);
        let now = Moment {
            at_us: taken_at.saturating_duration_since(origin).as_micros() as u64,
            wall,
        };
        let first_sample = match self.latest {
            Some(latest) if now.at_us <= latest.at_us => {
                log::warn!("a sample older than the last one was ignored");
                return;
            }
            Some(_) => false,
            None => true,
        };
        self.generation += 1;
        for sample in &snapshot.interfaces {
            self.observe(sample, now, first_sample);
        }
        self.mark_absent(now);
        let collection = &mut self.collection;
        collection.samples_total += 1;
        collection.parse_errors_total += snapshot.skipped.len() as u64;
        collection.last_success = Some((taken_at, wall));
        collection.last_error = match snapshot.skipped.as_slice() {
            [] => None,
            [only] => Some(format!("skipped {only}")),
            [first, rest @ ..] => Some(format!("skipped {first} (and {} more)", rest.len())),
        };
        self.latest = Some(now);
    }

    fn observe(&mut self, sample: &InterfaceSample, now: Moment, first_sample: bool) {
        let generation = self.generation;
        match self.interfaces.get_mut(&sample.name) {
            Some(history) if history.generation == generation => {
                log::debug!("{}: listed twice; the first line counts", sample.name);
            }
            Some(history) => {
                history.update(&sample.name, sample, now);
                history.generation = generation;
            }
            None => {
                if !first_sample {
                    log::info!("{}: new interface", sample.name);
                }
                let mut history = History::new(sample, now, first_sample, self.capacity);
                history.generation = generation;
                self.interfaces.insert(sample.name.clone(), history);
            }
        }
    }

    /// Marks the interfaces this sample did not list, and forgets those gone for [`HISTORY`].
    fn mark_absent(&mut self, now: Moment) {
        let generation = self.generation;
        let forget_us = HISTORY.as_micros() as u64;
        self.interfaces.retain(|name, history| {
            if history.generation == generation {
                return true;
            }
            if history.present {
                log::info!("{name}: gone; keeping its last data for 60 minutes");
                history.present = false;
            }
            let keep = now.at_us - history.last_seen.at_us < forget_us;
            if !keep {
                log::info!("{name}: gone for 60 minutes; forgotten");
            }
            keep
        });
    }

    /// What the API shows now.
    pub fn view(&self) -> StatsView {
        let now_us = self.latest.map_or(0, |latest| latest.at_us);
        StatsView {
            updated_at: self.latest.map(|latest| Timestamp(latest.wall)),
            interfaces: self
                .interfaces
                .iter()
                .map(|(name, history)| history.view(name, now_us, self.interval))
                .collect(),
            collection: self.collection.clone(),
        }
    }
}

/// The statistics thread's body: folds in samples and publishes views until the sampler hangs up.
pub fn run(mut stats: Stats, samples: Receiver<Sample>, shared: &SharedView) {
    for sample in samples {
        stats.apply(sample);
        shared.publish(stats.view());
    }
}
