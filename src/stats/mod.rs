//! Stage two, statistics: everything that turns samples into rates, counters and history. It
//! owns the rings, the rate arithmetic and the published view; it takes samples from
//! [`crate::sample`] and knows nothing of HTTP. How the statistics are saved is behind [`Save`].
//!
//! The statistics thread: it owns one fixed-size ring per interface, folds every [`Sample`] into
//! them by the policy of [`crate::stats::rates`], and publishes a fresh [`StatsView`] after each one.
//!
//! Interfaces:
//! - A new interface gets a ring of `60 min / interval` intervals, allocated once.
//! - An interface missing from a sample stays, `present: false`, with its last data; after 60
//!   minutes away it is forgotten. Meanwhile its absence counts in its averages as covered time
//!   with no traffic ([`rates::averages`]), so they fall to zero as it fills each window.
//! - One that comes back with a new ifindex, or with counters that went down, was re-created: a
//!   reset. One that comes back with the same ifindex and no counter lower never left; a truncated
//!   or garbled source hid it, and treating it as a reset would count its whole history again as
//!   new traffic. Its delta covers the gap.
//! - An ifindex change between two samples is a reset, whatever the counters say.
//!
//! Uptime restarts when an interface is first seen, is reset, or its operstate comes back up
//! (`up`, or `unknown` for drivers that never report one). While it is down or absent there is
//! none. It is a lower bound for interfaces that were already there at ifstatsd's first sample.

pub mod rates;
pub mod ring;
pub mod slot_ring;
pub mod view;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{never, select, Receiver, Sender};

use crate::restart::{self, Handoff, HealthCounters, Reason, Restarts};
use crate::sample::proc_net_dev::{Counters, COUNTERS, COUNTER_NAMES};
use crate::sample::snapshot::{InterfaceSample, OperState, Sample, Snapshot};
use crate::stats::slot_ring::Cursor;
use crate::stats::view::{
    Collection, InterfaceStats, LinkView, Rates, SharedRing, SharedView, StatsView, Timestamp,
};
use crate::store::state::{SavedInterface, SavedSlot, State};
use rates::{Change, Delta, Events, Gaps};
use slot_ring::{ring_capacity, Slot, HISTORY};

/// The averaging windows: 1, 5 and 15 minutes.
pub const WINDOWS: [Duration; 3] = [
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
];

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
    link: LinkView,
    last_seen: Moment,
    /// When it last came up, was created or reset; `None` while down or absent.
    up_since: Option<Moment>,
    uptime_is_lower_bound: bool,
    events: Events,
    /// The running totals of all deltas, as in the newest slot.
    totals: [u64; COUNTERS],
    /// While it is absent: the spans since it was last seen that the daemon did not observe.
    gaps: Gaps,
    ring: SharedRing,
    /// Where each of [`WINDOWS`] began at the last view, moved forward from there at the next
    /// (see [`rates::averages`]). A cache, in a `Cell` so that a view stays `&self`.
    window_starts: Cell<[Option<Cursor>; WINDOWS.len()]>,
    /// The sample that last updated it, to keep only the first of duplicate lines.
    generation: u64,
    /// Restored from before a reboot: its next sample counts from zero.
    must_reset: bool,
}

impl History {
    fn new(sample: &InterfaceSample, now: Moment, first_sample: bool, capacity: usize) -> Self {
        let ring = SharedRing::with_capacity(capacity);
        ring.with(|ring| {
            ring.push(Slot {
                at_us: now.at_us,
                totals: [0; COUNTERS],
            })
        });
        History {
            present: true,
            counters: sample.counters,
            ifindex: sample.ifindex,
            oper_state: sample.oper_state,
            link: LinkView::default(),
            last_seen: now,
            up_since: is_up(sample.oper_state).then_some(now),
            // Only an interface already up at ifstatsd's first sample was up for longer.
            uptime_is_lower_bound: first_sample && is_up(sample.oper_state),
            events: Events::default(),
            totals: [0; COUNTERS],
            ring,
            gaps: Gaps::default(),
            window_starts: Cell::default(),
            generation: 0,
            must_reset: false,
        }
        .with_link_of(sample)
    }

    fn with_link_of(mut self, sample: &InterfaceSample) -> Self {
        self.set_link(sample);
        self
    }

    /// Takes the link attributes of `sample`; the alias is shared with the views, copied only
    /// when it changes.
    fn set_link(&mut self, sample: &InterfaceSample) {
        let (seen, link) = (&sample.link, &mut self.link);
        link.speed_mbps = sample.speed_mbps;
        link.duplex = seen.duplex;
        link.mtu_bytes = seen.mtu_bytes;
        link.carrier = seen.carrier;
        link.address = seen.address;
        link.broadcast = seen.broadcast;
        if link.alias.as_deref().unwrap_or("") != seen.alias {
            link.alias = (!seen.alias.is_empty()).then(|| Arc::from(seen.alias.as_str()));
        }
    }

    /// Folds in a new sample of this interface; `previous_us` is the time of the sample before.
    fn update(&mut self, name: &str, sample: &InterfaceSample, now: Moment, previous_us: u64) {
        let re_created = matches!((self.ifindex, sample.ifindex), (Some(a), Some(b)) if a != b);
        let delta = if re_created {
            log::info!(
                "{name}: ifindex {:?} -> {:?}, re-created: counting from zero",
                self.ifindex,
                sample.ifindex
            );
            Delta::reset(sample.counters)
        } else if self.must_reset {
            log::info!("{name}: first sample since a reboot: counting from zero");
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
                if !re_created && !self.must_reset {
                    log::info!("{name}: counters went down, a reset: counting from zero");
                }
            }
        }
        if !self.present && delta.change == Change::Reset {
            // Re-created while it was gone: it was absent, with no traffic, until the sample
            // before this one (see `rates::averages`); its new counters fall in the last interval.
            self.ring.with(|ring| {
                if ring.newest().is_some_and(|slot| slot.at_us < previous_us) {
                    ring.push(Slot {
                        at_us: previous_us,
                        totals: self.totals,
                    });
                }
            });
        }
        for (total, d) in self.totals.iter_mut().zip(delta.counters) {
            *total = total.wrapping_add(d);
        }
        let slot = Slot {
            at_us: now.at_us,
            totals: self.totals,
        };
        self.ring.with(|ring| ring.push(slot));
        let up = is_up(sample.oper_state);
        if !up {
            self.up_since = None;
            self.uptime_is_lower_bound = false;
        } else if delta.change == Change::Reset || self.up_since.is_none() {
            self.up_since = Some(now);
            self.uptime_is_lower_bound = false;
        }
        self.present = true;
        self.gaps.clear();
        self.must_reset = false;
        self.counters = sample.counters;
        self.ifindex = sample.ifindex;
        self.oper_state = sample.oper_state;
        self.set_link(sample);
        self.last_seen = now;
    }

    fn view(&self, name: &Arc<str>, now_us: u64, interval: Duration) -> InterfaceStats {
        let up_since = self.up_since.filter(|_| self.present);
        let mut starts = self.window_starts.get();
        let (current, averages) = self.ring.with(|ring| {
            let current = rates::current(ring, now_us, interval).map(Into::into);
            let absence = (!self.present).then_some(&self.gaps);
            let averages = rates::averages(ring, &mut starts, now_us, WINDOWS, interval, absence);
            (current, averages.map(|r| r.map(Into::into)))
        });
        self.window_starts.set(starts);
        let [avg_1m, avg_5m, avg_15m] = averages;
        InterfaceStats {
            interface: Arc::clone(name),
            present: self.present,
            updated_at: Timestamp(self.last_seen.wall),
            uptime_seconds: up_since.map(|since| seconds(now_us.saturating_sub(since.at_us))),
            up_since: up_since.map(|since| Timestamp(since.wall)),
            uptime_is_lower_bound: self.uptime_is_lower_bound && up_since.is_some(),
            sample_interval_seconds: interval.as_secs_f64(),
            ifindex: self.ifindex,
            oper_state: self.oper_state,
            link: self.link.clone(),
            counters: self.counters,
            rates: Rates {
                current,
                avg_1m,
                avg_5m,
                avg_15m,
            },
            events: self.events,
            ring: self.ring.clone(),
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
    /// A monotonic instant and its slot time in microseconds: slot times count from it. Set by
    /// the first sample (time 0), or by a restore (late enough that restored times are positive).
    clock: Option<(Instant, u64)>,
    latest: Option<Moment>,
    generation: u64,
    /// Each interface's history by name, the names shared with every view's entries (not
    /// copied at every sample). Boxed: a `History` is about 700 bytes, and a B-tree node holds
    /// 11 values inline, so unboxed every interface would also pay for its share of a node's
    /// empty places (2 KB each with 4 interfaces).
    interfaces: BTreeMap<Arc<str>, Box<History>>,
    /// At most this many interfaces are tracked.
    max_interfaces: usize,
    /// The new interfaces refused in the latest sample, to count each once while it stays.
    refused: Vec<String>,
    collection: Collection,
}

impl Stats {
    /// Empty statistics for samples of `source` taken every `interval`.
    pub fn new(source: &str, interval: Duration) -> Self {
        Stats {
            interval,
            capacity: ring_capacity(interval),
            clock: None,
            latest: None,
            generation: 0,
            interfaces: BTreeMap::new(),
            max_interfaces: usize::MAX,
            refused: Vec::new(),
            collection: Collection {
                source: source.to_owned(),
                interval,
                last_success: None,
                samples_total: 0,
                collection_errors_total: 0,
                parse_errors_total: 0,
                interfaces_refused_total: 0,
                last_error: None,
                state_file: None,
                last_save_at: None,
                last_save_error: None,
                state_restore_error: None,
                restarts: Restarts::default(),
            },
        }
    }

    /// Folds in one sample, failed or not. Returns its snapshot, for the sampler to reuse.
    pub fn apply(&mut self, sample: Sample) -> Option<Snapshot> {
        match sample.result {
            Ok(snapshot) => {
                self.apply_snapshot(sample.taken_at, sample.wall, &snapshot);
                Some(snapshot)
            }
            Err(error) => {
                self.collection.collection_errors_total += 1;
                self.collection.last_error = Some(error);
                None
            }
        }
    }

    fn apply_snapshot(&mut self, taken_at: Instant, wall: SystemTime, snapshot: &Snapshot) {
        let now = Moment {
            at_us: self.at_us(taken_at),
            wall,
        };
        if self.latest.is_some_and(|latest| now.at_us <= latest.at_us) {
            log::warn!("a sample older than the last one was ignored");
            return;
        }
        let first_sample = self.collection.samples_total == 0;
        self.generation += 1;
        let refused_before = std::mem::take(&mut self.refused);
        let mut refused_now = Vec::new();
        for sample in &snapshot.interfaces {
            self.observe(sample, now, first_sample, &refused_before, &mut refused_now);
        }
        match (refused_before.is_empty(), refused_now.first()) {
            (true, Some(first)) => log::warn!(
                "--max-interfaces {} reached: new interfaces are not tracked ({first} and {} more)",
                self.max_interfaces,
                refused_now.len() - 1
            ),
            (false, None) => log::info!("no interface is refused any more"),
            _ => {}
        }
        self.refused = refused_now;
        // A sample more than one and a half intervals after the last successful one: the time
        // between was not observed (the daemon was down, or samples failed).
        let gap = self
            .latest
            .filter(|latest| now.at_us - latest.at_us > self.interval.as_micros() as u64 * 3 / 2)
            .map(|latest| (latest.at_us, now.at_us));
        self.mark_absent(now, gap);
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

    /// The slot time of `instant`; the first call fixes the clock.
    fn at_us(&mut self, instant: Instant) -> u64 {
        let (origin, origin_us) = *self.clock.get_or_insert((instant, 0));
        origin_us + instant.saturating_duration_since(origin).as_micros() as u64
    }

    fn observe(
        &mut self,
        sample: &InterfaceSample,
        now: Moment,
        first_sample: bool,
        refused_before: &[String],
        refused_now: &mut Vec<String>,
    ) {
        let generation = self.generation;
        let full = self.interfaces.len() >= self.max_interfaces;
        match self.interfaces.get_mut(sample.name.as_str()) {
            Some(history) if history.generation == generation => {
                log::debug!("{}: listed twice; the first line counts", sample.name);
            }
            Some(history) => {
                let previous_us = self.latest.map_or(0, |latest| latest.at_us);
                history.update(&sample.name, sample, now, previous_us);
                history.generation = generation;
            }
            None if full => {
                if !refused_before.contains(&sample.name) {
                    self.collection.interfaces_refused_total += 1;
                }
                refused_now.push(sample.name.clone());
            }
            None => {
                if !first_sample {
                    log::info!("{}: new interface", sample.name);
                }
                let mut history = Box::new(History::new(sample, now, first_sample, self.capacity));
                history.generation = generation;
                self.interfaces
                    .insert(Arc::from(sample.name.as_str()), history);
            }
        }
    }

    /// Marks the interfaces this sample did not list, noting `gap` (time before this sample the
    /// daemon did not observe) for their averages, and forgets those gone for [`HISTORY`].
    fn mark_absent(&mut self, now: Moment, gap: Option<(u64, u64)>) {
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
            if let Some((from_us, to_us)) = gap {
                history.gaps.push(from_us, to_us);
            }
            let keep = now.at_us - history.last_seen.at_us < forget_us;
            if !keep {
                log::info!("{name}: gone for 60 minutes; forgotten");
            }
            keep
        });
    }

    /// Tracks at most `max` interfaces; the next new ones are refused until some are forgotten.
    pub fn set_max_interfaces(&mut self, max: usize) {
        self.max_interfaces = max;
    }

    /// Shows `path` as the state file on `/health`.
    pub fn set_state_file(&mut self, path: &str) {
        self.collection.state_file = Some(path.to_owned());
    }

    /// Records a save's outcome for `/health`.
    pub fn record_save(&mut self, wall: SystemTime, error: Option<String>) {
        if error.is_none() {
            self.collection.last_save_at = Some(wall);
        }
        self.collection.last_save_error = error;
    }

    /// Records why the state file could not be restored, for `/health`.
    pub fn record_restore_error(&mut self, error: String) {
        self.collection.state_restore_error = Some(error);
    }

    /// The history to save, as of `now`. Every time becomes an age before `now`.
    pub fn export(&self, now: Instant, wall: SystemTime, boot_id: &str) -> State {
        let now_us = self.clock.map_or(0, |(origin, origin_us)| {
            origin_us + now.saturating_duration_since(origin).as_micros() as u64
        });
        let age = |at_us: u64| Duration::from_micros(now_us.saturating_sub(at_us));
        let interfaces = self
            .interfaces
            .iter()
            .map(|(name, h)| SavedInterface {
                name: name.to_string(),
                present: h.present,
                counters: h.counters,
                ifindex: h.ifindex,
                oper_state: h.oper_state,
                last_seen_age: age(h.last_seen.at_us),
                up_since_age: h.up_since.map(|since| age(since.at_us)),
                uptime_is_lower_bound: h.uptime_is_lower_bound,
                events: h.events,
                slots: h.ring.with(|ring| {
                    let slot = |slot: Slot| SavedSlot {
                        age: age(slot.at_us),
                        totals: slot.totals,
                    };
                    ring.iter().map(slot).collect()
                }),
            })
            .collect();
        State {
            boot_id: boot_id.to_owned(),
            saved_wall: wall,
            saved_uptime: None,
            interval: self.interval,
            interfaces,
        }
    }

    /// Continues from a saved `state`, before the first sample: the save was `downtime` before
    /// `now`. History older than [`HISTORY`] is dropped. After a reboot (`same_boot` false) every
    /// interface counts from zero at its next sample. Returns how many interfaces were restored.
    pub fn restore(
        &mut self,
        state: State,
        now: Instant,
        wall: SystemTime,
        downtime: Duration,
        same_boot: bool,
    ) -> usize {
        let history_us = HISTORY.as_micros() as u64;
        let downtime_us = downtime.as_micros() as u64;
        let us = |d: Duration| d.as_micros() as u64;
        // Restored times are laid out back from the save; the clock starts late enough that the
        // oldest of them is still positive.
        let oldest_us = state
            .interfaces
            .iter()
            .flat_map(|i| {
                let slots = i.slots.iter().map(|s| us(s.age));
                slots
                    .chain([us(i.last_seen_age)])
                    .chain(i.up_since_age.map(us))
            })
            .max()
            .unwrap_or(0);
        let saved_at_us = oldest_us;
        self.clock = Some((now, saved_at_us + downtime_us));
        let moment = |age: Duration| Moment {
            at_us: saved_at_us - us(age).min(saved_at_us),
            wall: wall
                .checked_sub(downtime + age)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        };
        for saved in state.interfaces {
            if !saved.present && us(saved.last_seen_age) + downtime_us >= history_us {
                continue; // gone for an hour by now: forgotten
            }
            let ring = SharedRing::with_capacity(self.capacity);
            ring.with(|ring| {
                for slot in &saved.slots {
                    if us(slot.age) + downtime_us < history_us {
                        ring.push(Slot {
                            at_us: moment(slot.age).at_us,
                            totals: slot.totals,
                        });
                    }
                }
            });
            let history = History {
                present: saved.present,
                counters: saved.counters,
                ifindex: saved.ifindex,
                oper_state: saved.oper_state,
                link: LinkView::default(),
                last_seen: moment(saved.last_seen_age),
                up_since: saved.up_since_age.map(moment),
                uptime_is_lower_bound: saved.uptime_is_lower_bound,
                events: saved.events,
                totals: saved.slots.last().map_or([0; COUNTERS], |slot| slot.totals),
                ring,
                gaps: Gaps::default(),
                window_starts: Cell::default(),
                generation: 0,
                must_reset: !same_boot,
            };
            self.interfaces
                .insert(Arc::from(saved.name), Box::new(history));
        }
        self.latest = Some(moment(Duration::ZERO));
        self.interfaces.len()
    }

    /// Everything a new process image needs to continue from here, `reason` being why it
    /// replaces this one and `daemon_age` how long the daemon has been running (see
    /// [`crate::restart`]).
    pub fn handoff(&self, reason: Reason, daemon_age: Duration) -> Handoff {
        let (now, handed_at, wall) = (Instant::now(), restart::monotonic_now(), SystemTime::now());
        let c = &self.collection;
        Handoff {
            handed_at,
            daemon_age,
            restarts: Restarts {
                total: c.restarts.total + 1,
                last: Some((reason, wall)),
            },
            health: HealthCounters {
                samples_total: c.samples_total,
                collection_errors_total: c.collection_errors_total,
                parse_errors_total: c.parse_errors_total,
                interfaces_refused_total: c.interfaces_refused_total,
                last_save_at: c.last_save_at,
            },
            interfaces: self.export(now, wall, ""),
        }
    }

    /// Continues from the previous process image's `handoff`, before the first sample, `gap`
    /// after it was made. Returns how many interfaces were taken over.
    pub fn take_over(&mut self, handoff: Handoff, gap: Duration) -> usize {
        let health = handoff.health;
        let c = &mut self.collection;
        c.samples_total = health.samples_total;
        c.collection_errors_total = health.collection_errors_total;
        c.parse_errors_total = health.parse_errors_total;
        c.interfaces_refused_total = health.interfaces_refused_total;
        c.last_save_at = health.last_save_at;
        c.restarts = handoff.restarts;
        let (now, wall) = (Instant::now(), SystemTime::now());
        self.restore(handoff.interfaces, now, wall, gap, true)
    }

    /// What the API shows now.
    pub fn view(&self) -> StatsView {
        let now_us = self.latest.map_or(0, |latest| latest.at_us);
        StatsView {
            updated_at: self.latest.map(|latest| Timestamp(latest.wall)),
            latest_at_us: now_us,
            interfaces: self
                .interfaces
                .iter()
                .map(|(name, history)| history.view(name, now_us, self.interval))
                .collect(),
            collection: self.collection.clone(),
        }
    }
}

/// What saves the statistics when due: the state file's saver (`crate::store::Saver`), kept
/// behind this trait so that the statistics do not depend on how or where they are saved.
pub trait Save {
    /// Whether a periodic save is due.
    fn due(&self) -> bool;
    /// Saves `stats` now, and records the outcome in them (for `/health`).
    fn save(&mut self, stats: &mut Stats);
}

/// A request for the statistics, encoded for the next process image (see [`crate::restart`]).
pub struct HandoffRequest {
    /// Why the image is replaced.
    pub reason: Reason,
    /// How long the daemon has been running.
    pub daemon_age: Duration,
    /// Where to send the encoded [`Handoff`].
    pub reply: Sender<Vec<u8>>,
}

/// The statistics thread's body: folds in samples, gives their snapshots back to the sampler
/// through `spent`, and publishes views until the sampler hangs up, saving the state when due and
/// once more at the end; and answers `handoffs` with everything it has.
pub fn run(
    mut stats: Stats,
    samples: Receiver<Sample>,
    spent: Sender<Snapshot>,
    shared: &SharedView,
    saver: Option<impl Save>,
    handoffs: Receiver<HandoffRequest>,
) {
    let mut saver = saver;
    let mut handoffs = handoffs;
    loop {
        select! {
            recv(samples) -> sample => {
                let Ok(sample) = sample else { break };
                if let Some(snapshot) = stats.apply(sample) {
                    let _ = spent.try_send(snapshot); // a full channel or a gone sampler: dropped
                }
                if let Some(saver) = saver.as_mut().filter(|s| s.due()) {
                    saver.save(&mut stats);
                }
                shared.publish(stats.view());
            }
            recv(handoffs) -> request => match request {
                Ok(request) => {
                    let handoff = stats.handoff(request.reason, request.daemon_age);
                    let _ = request.reply.send(restart::encode(&handoff));
                }
                Err(_) => handoffs = never(),
            },
        }
    }
    if let Some(saver) = saver.as_mut() {
        saver.save(&mut stats);
        shared.publish(stats.view());
    }
}
