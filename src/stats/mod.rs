//! Stage two, statistics: everything that turns samples into rates, counters and history. It
//! owns the rings, the rate arithmetic and the published view; it takes samples from
//! [`crate::sample`] and knows nothing of HTTP. How the statistics are saved is behind [`Save`].
//!
//! The statistics thread: it owns one fixed-size ring per interface, folds every [`Sample`] into
//! them by the policy of [`crate::stats::rates`], and publishes a fresh [`StatsView`] when a
//! request wants one ([`run`]). It does not wake for each sample: samples wait in the hand-off
//! ([`crate::sample::snapshot`]) until the sampler rings at a batch, a request wants a view of
//! them, a save is due, or [`MAX_LAG`] passed. A request's view has folded in every sample sent
//! before it ([`SharedView::fresh`]).
//!
//! Interfaces:
//! - A new interface gets a ring of `60 min / interval` intervals, allocated once.
//! - An interface missing from a sample stays, `present: false`, with its last data; after 60
//!   minutes away it is forgotten, but for its usage totals ([`usage`]), kept aside (at most
//!   `--max-interfaces` of them) until it comes back. Meanwhile its absence counts in its
//!   averages as covered time with no traffic ([`rates::averages`]), so they fall to zero as
//!   it fills each window.
//! - One that comes back with a new ifindex, or with counters that went down, was re-created: a
//!   reset. One that comes back with the same ifindex and no counter lower never left; a truncated
//!   or garbled source hid it, and treating it as a reset would count its whole history again as
//!   new traffic. Its delta covers the gap.
//! - An ifindex change between two samples is a reset, whatever the counters say.
//! - While it is absent its link fields (ifindex, operstate) are null in the view, as its uptime
//!   is: the kernel reports no link for it. Its counters are its last ones.
//! - A new name with the ifindex of a known interface that is not in the sample (under its old
//!   name) is that interface renamed (`ip link set eth1 name wan`, udev, netifd): its rings,
//!   totals, events and uptime move to the new name, which says `renamed_from` for 60 minutes; the
//!   old name stays for those 60 minutes, `present: false`, with `renamed_to` and no data of its
//!   own. rtnetlink's link table and sysfs both give the new name the same ifindex, so this rule
//!   serves every source. Not after a reboot (an ifindex restored from before it means nothing).
//!
//! # One bad read is not a reset
//!
//! Some drivers report a counter lower (or zero) for a single sample, then the old sequence
//! again. When a counter goes down while the ifindex is unchanged and the link stayed up (in the
//! previous sample and this one), the interface's update is held for one interval:
//! - if the next sample continues the old sequence (no counter below the last good read), the odd
//!   read was a glitch: `events.glitches` counts it, and the next interval's delta is taken from
//!   the good samples on both sides of it, so there is no reset and no rate spike;
//! - otherwise the lower read stands: it is folded in at its own time (a reset, or a wrap if one
//!   counter wrapped plausibly), and the next sample after it as usual.
//!
//! The cost: for the interval of the held read the interface's `current` rate is null (the read
//! is not trusted yet), and after a glitch the next `current` covers two intervals. The window
//! averages lose nothing: the held interval is counted once it is resolved. A real reset or wrap
//! is counted one interval late. An interface that vanishes while a read is held has it folded in.
//!
//! Uptime restarts when an interface is first seen, is reset, or its operstate comes back up
//! (`up`, or `unknown` for drivers that never report one). While it is down or absent there is
//! none. It is a lower bound for interfaces that were already there at ifstatsd's first sample.

pub mod by_name;
pub mod calendar;
pub mod rates;
pub mod ring;
pub mod slot_ring;
pub mod tz;
pub mod usage;
pub mod view;

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{never, select, Receiver, Sender, TryRecvError};

use crate::restart::{self, Handoff, HealthCounters, Reason, Restarts};
use crate::sample::proc_net_dev::{Counters, COUNTERS, COUNTER_NAMES};
use crate::sample::snapshot::{Inbox, InterfaceSample, OperState, Sample, Snapshot, MAX_LAG};
use crate::stats::slot_ring::Cursor;
use crate::stats::view::{
    Collection, InterfaceStats, LinkView, RateView, Rates, SharedRing, SharedUsage, SharedView,
    StatsView, Timestamp,
};
use crate::store::state::{SavedInterface, SavedSlot, State};
use by_name::ByName;
use rates::{Capacity, Change, Delta, Events, Gaps};
use slot_ring::{ring_capacity, Slot, HISTORY};
use usage::{Accounting, Bytes, Usage};

/// A local day and month, as numbers from the epoch (see [`usage`]): where a sample's traffic
/// is counted.
type LocalDay = (i32, i32);

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

/// What one sample says about an interface: [`InterfaceSample`] without its name, to hold a read
/// for an interval without a copy of the name.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Reading {
    counters: Counters,
    ifindex: Option<u32>,
    oper_state: Option<OperState>,
    speed_mbps: Option<u32>,
}

impl From<&InterfaceSample> for Reading {
    fn from(sample: &InterfaceSample) -> Self {
        Reading {
            counters: sample.counters,
            ifindex: sample.ifindex,
            oper_state: sample.oper_state,
            speed_mbps: sample.speed_mbps,
        }
    }
}

/// Whether two ifindexes are of different links: both known and different.
fn re_created(before: Option<u32>, now: Option<u32>) -> bool {
    matches!((before, now), (Some(a), Some(b)) if a != b)
}

/// The capacity in bit/s shown and used for utilisation: `--link-speed`, else the driver's.
fn link_bits_per_sec(configured: Option<u64>, speed_mbps: Option<u32>) -> Option<u64> {
    configured.or(speed_mbps.map(|mbps| u64::from(mbps) * 1_000_000))
}

/// The `--link-speed` of `name`, if one was given.
fn configured_speed(link_speeds: &[(String, u64)], name: &str) -> Option<u64> {
    link_speeds
        .iter()
        .find(|(known, _)| known == name)
        .map(|&(_, bits)| bits)
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
    /// Its link speed in Mbit/s at the last sample, where the driver knows it.
    speed_mbps: Option<u32>,
    /// A read with a counter lower than the last one, when it was taken, and its local day and
    /// month: held for an interval to tell a glitch from a reset (see the module doc). Boxed, as
    /// rare: 8 bytes per interface instead of 120.
    held: Option<Box<(Reading, Moment, LocalDay)>>,
    /// The name it had before its last rename, and when (boxed, as rare).
    renamed_from: Option<Box<(Arc<str>, Moment)>>,
    /// Set on what is left under an old name after a rename: the new name.
    renamed_to: Option<Arc<str>>,
    /// The daily and monthly totals of received and sent bytes.
    usage: SharedUsage,
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
            speed_mbps: sample.speed_mbps,
            held: None,
            renamed_from: None,
            renamed_to: None,
            usage: SharedUsage::new(Usage::new(now.wall)),
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

    /// What stays under the old name of this interface when it is renamed `new_name` at `now`:
    /// no data of its own, remembered for [`HISTORY`] from now.
    fn left_behind(&self, new_name: Arc<str>, now: Moment) -> Self {
        History {
            present: false,
            counters: self.counters,
            ifindex: None,
            oper_state: None,
            last_seen: now,
            up_since: None,
            uptime_is_lower_bound: false,
            events: Events::default(),
            totals: [0; COUNTERS],
            ring: SharedRing::with_capacity(1),
            window_starts: Cell::default(),
            generation: 0,
            must_reset: false,
            speed_mbps: None,
            held: None,
            renamed_from: None,
            renamed_to: Some(new_name),
            link: LinkView::default(),
            gaps: Gaps::default(),
            // The totals went with the interface to its new name.
            usage: SharedUsage::new(Usage::new(now.wall)),
        }
    }

    /// Folds in a new sample of this interface, taken at `now` on local day and month `local`,
    /// holding a lower read for an interval (see the module doc). `configured` is its
    /// `--link-speed`.
    fn update(
        &mut self,
        name: &str,
        sample: &InterfaceSample,
        (now, local): (Moment, LocalDay),
        configured: Option<u64>,
        previous_us: u64,
    ) {
        // The link's attributes are what the kernel says now, whatever the counters do.
        self.set_link(sample);
        let reading = Reading::from(sample);
        if let Some((held, at, held_local)) = self.held.take().map(|held| *held) {
            if self.continues(&reading) {
                self.events.glitches += 1;
                log::info!("{name}: one read lower than the samples around it: a glitch, ignored");
            } else {
                // Confirmed lower, or a new link under this name (whose own reset follows): the
                // held read was a reset, and the traffic it counted since is real.
                // A held read was taken while present: no absence precedes it (`previous_us` unused).
                self.fold(name, held, (at, held_local), configured, 0);
            }
        }
        if self.holds(&reading) {
            log::debug!("{name}: a counter went down; holding this read for one interval");
            self.held = Some(Box::new((reading, now, local)));
            return;
        }
        self.fold(name, reading, (now, local), configured, previous_us);
    }

    /// Whether `reading` continues the sequence of the last good read: the same link, no
    /// counter lower.
    fn continues(&self, reading: &Reading) -> bool {
        !re_created(self.ifindex, reading.ifindex) && !self.went_down(reading)
    }

    /// Whether a counter of `reading` is lower than the last good read's.
    fn went_down(&self, reading: &Reading) -> bool {
        rates::went_down(self.counters, reading.counters)
    }

    /// Whether `reading` must be held: a counter went down while the ifindex stayed and the link
    /// stayed up.
    fn holds(&self, reading: &Reading) -> bool {
        self.present
            && !self.must_reset
            && !re_created(self.ifindex, reading.ifindex)
            && is_up(self.oper_state)
            && is_up(reading.oper_state)
            && self.went_down(reading)
    }

    /// Folds `reading`, taken at `now` on local day and month `local`, into the history: the
    /// delta since the last good read. `previous_us` is the time of the sample before.
    fn fold(
        &mut self,
        name: &str,
        sample: Reading,
        (now, local): (Moment, LocalDay),
        configured: Option<u64>,
        previous_us: u64,
    ) {
        let re_created = re_created(self.ifindex, sample.ifindex);
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
        } else if !rates::went_down(self.counters, sample.counters) {
            // No counter went down: no wrap or reset to weigh against the link's capacity.
            Delta::steady(self.counters, sample.counters)
        } else {
            // The highest speed known bounds a wrap: a shaper below the port does not bound
            // what the port's counters count (see `rates`).
            let bits = [
                configured,
                link_bits_per_sec(None, self.speed_mbps),
                link_bits_per_sec(None, sample.speed_mbps),
            ]
            .into_iter()
            .flatten()
            .max();
            let elapsed = Duration::from_micros(now.at_us.saturating_sub(self.last_seen.at_us));
            let capacity = bits.map(|bits| Capacity::of(bits, elapsed));
            let delta = rates::delta_within(self.counters, sample.counters, capacity);
            if delta.change == Change::Reset
                && rates::delta(self.counters, sample.counters).change == Change::Wrapped
            {
                log::info!(
                    "{name}: a counter went down by more than a wrap could explain at {} bit/s \
                     in {:.1} s: a reset",
                    bits.unwrap_or(0),
                    elapsed.as_secs_f64()
                );
            }
            delta
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
        for (total, d) in self.totals.iter_mut().zip(&delta.counters) {
            *total = total.wrapping_add(*d);
        }
        let bytes = Bytes {
            rx_bytes: delta.counters[0],
            tx_bytes: delta.counters[4],
        };
        if !self.usage.with(|usage| usage.add(local.0, local.1, bytes)) {
            log::debug!("{name}: the wall clock is before every day kept; not counted by day");
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
        // A read that could not say (the interface was renamed between the read of the file and
        // the lookup of its link) keeps the known ifindex, for the rename to be recognised.
        self.ifindex = sample.ifindex.or(self.ifindex);
        self.oper_state = sample.oper_state;
        self.speed_mbps = sample.speed_mbps;
        self.last_seen = now;
    }

    fn view(
        &self,
        name: &Arc<str>,
        now_us: u64,
        interval: Duration,
        configured: Option<u64>,
    ) -> InterfaceStats {
        let up_since = self.up_since.filter(|_| self.present);
        // Like the other link fields, the speed is null while the interface is absent (renamed
        // away included), and so is every utilisation.
        let link_bits = link_bits_per_sec(configured, self.speed_mbps).filter(|_| self.present);
        let mut starts = self.window_starts.get();
        let (current, averages) = self.ring.with(|ring| {
            let view = |rate| RateView::new(rate, link_bits);
            let current = rates::current(ring, now_us, interval).map(view);
            let absence = (!self.present).then_some(&self.gaps);
            let averages = rates::averages(ring, &mut starts, now_us, WINDOWS, interval, absence);
            (current, averages.map(|r| r.map(view)))
        });
        let recent = |at: &Moment| now_us.saturating_sub(at.at_us) < HISTORY.as_micros() as u64;
        self.window_starts.set(starts);
        let [avg_1m, avg_5m, avg_15m] = averages;
        InterfaceStats {
            interface: Arc::clone(name),
            present: self.present,
            renamed_from: self
                .renamed_from
                .as_ref()
                .filter(|renamed| recent(&renamed.1))
                .map(|renamed| Arc::clone(&renamed.0)),
            renamed_to: self.renamed_to.clone(),
            updated_at: Timestamp(self.last_seen.wall),
            uptime_seconds: up_since.map(|since| seconds(now_us.saturating_sub(since.at_us))),
            up_since: up_since.map(|since| Timestamp(since.wall)),
            uptime_is_lower_bound: self.uptime_is_lower_bound && up_since.is_some(),
            sample_interval_seconds: interval.as_secs_f64(),
            // The link is what the kernel says now: an absent interface has none to report. The
            // last-known ifindex stays in `self` to tell a return from a re-creation.
            ifindex: self.ifindex.filter(|_| self.present),
            oper_state: self.oper_state.filter(|_| self.present),
            link_speed_bits_per_sec: link_bits,
            link: self.present.then(|| self.link.clone()),
            counters: self.counters,
            rates: Rates {
                current,
                avg_1m,
                avg_5m,
                avg_15m,
            },
            events: self.events,
            ring: self.ring.clone(),
            usage: self.usage.clone(),
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
    /// copied at every sample). Boxed: a `History` is about 700 bytes, and an insertion moves
    /// every entry after it.
    interfaces: ByName<Box<History>>,
    /// Where the interface at each place of the latest sample was found in `interfaces`: the
    /// next sample's hints ([`ByName::find`]).
    found_at: Vec<usize>,
    /// At most this many interfaces are tracked.
    max_interfaces: usize,
    /// The new interfaces refused in the latest sample, to count each once while it stays.
    refused: Vec<String>,
    /// `--link-speed`: capacities in bit/s by interface name.
    link_speeds: Vec<(String, u64)>,
    collection: Collection,
    /// The time zone the totals are counted in, and how they are shown.
    accounting: Arc<Accounting>,
    /// The usage totals of interfaces forgotten after an hour away, by name, oldest first (at
    /// most `max_interfaces`): taken back if the interface returns, served by `/usage` and saved
    /// meanwhile. Shared with the views, and copied only when it changes.
    dormant: Arc<Vec<(Arc<str>, SharedUsage)>>,
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
            interfaces: ByName::default(),
            found_at: Vec::new(),
            max_interfaces: usize::MAX,
            refused: Vec::new(),
            link_speeds: Vec::new(),
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
                offload: None,
            },
            accounting: Arc::new(Accounting::default()),
            dormant: Arc::default(),
        }
    }

    /// Counts the daily and monthly totals in `accounting`'s time zone, and shows them with its
    /// billing day and quotas (UTC, the 1st and none until set).
    pub fn set_accounting(&mut self, accounting: Accounting) {
        self.accounting = Arc::new(accounting);
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
        let local = self.accounting.local(wall);
        self.generation += 1;
        let refused_before = std::mem::take(&mut self.refused);
        let mut refused_now = Vec::new();
        self.found_at
            .resize(snapshot.interfaces.len(), by_name::NO_HINT);
        for (place, sample) in snapshot.interfaces.iter().enumerate() {
            let seen = (now, local, first_sample);
            self.observe(place, sample, seen, &refused_before, &mut refused_now);
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
        if let Some(offload) = &snapshot.offload {
            collection.offload = Some(Arc::clone(offload));
        }
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

    /// Folds in one interface of a sample `seen` at a moment, on a local (day, month), and
    /// whether it is the first sample.
    fn observe(
        &mut self,
        place: usize,
        sample: &InterfaceSample,
        seen: (Moment, LocalDay, bool),
        refused_before: &[String],
        refused_now: &mut Vec<String>,
    ) {
        let (now, local, first_sample) = seen;
        let generation = self.generation;
        let name = sample.name.as_str();
        let configured = configured_speed(&self.link_speeds, name);
        // The time of the sample before this one (see `History::fold`).
        let previous_us = self.latest.map_or(0, |latest| latest.at_us);
        let found = self.interfaces.find(name, self.found_at[place]).ok();
        if let Some(index) = found {
            self.found_at[place] = index;
        }
        let known = found.and_then(|index| self.interfaces.at_mut(index));
        let left_behind = known.as_ref().is_some_and(|h| h.renamed_to.is_some());
        match known {
            Some(history) if history.generation == generation => {
                log::debug!("{name}: listed twice; the first line counts");
                return;
            }
            Some(history) if !left_behind && !re_created(history.ifindex, sample.ifindex) => {
                history.update(name, sample, (now, local), configured, previous_us);
                history.generation = generation;
                return;
            }
            // New, a name renamed away that is in use again, or another link under a known
            // name: renamed from elsewhere, or a new interface.
            _ => {}
        }
        if let Some(old) = self.renamed_from(sample.ifindex) {
            self.rename(&old, sample, (now, local), configured);
            return;
        }
        if let Some(history) = self
            .interfaces
            .get_mut(name)
            .filter(|history| history.renamed_to.is_none())
        {
            // Deleted and created again under the same name: a reset (see `fold`).
            history.update(name, sample, (now, local), configured, previous_us);
            history.generation = generation;
            return;
        }
        if self.interfaces.len() >= self.max_interfaces && !left_behind {
            if !refused_before.contains(&sample.name) {
                self.collection.interfaces_refused_total += 1;
            }
            refused_now.push(sample.name.clone());
            return;
        }
        if !first_sample {
            log::info!("{name}: new interface");
        }
        let mut history = Box::new(History::new(sample, now, first_sample, self.capacity));
        history.generation = generation;
        if let Some(i) = self.dormant.iter().position(|(n, _)| &**n == name) {
            // Back after more than an hour, so re-created: its totals go on, and count what its
            // counters counted since, like any re-created interface's.
            history.usage = Arc::make_mut(&mut self.dormant).remove(i).1;
            let bytes = Bytes {
                rx_bytes: sample.counters.rx_bytes,
                tx_bytes: sample.counters.tx_bytes,
            };
            history
                .usage
                .with(|usage| usage.add(local.0, local.1, bytes));
            log::info!("{name}: back after more than an hour; its usage totals go on");
        }
        self.interfaces.insert(Arc::from(name), history);
    }

    /// The name of the interface a new name with `ifindex` was renamed from, if one: a known
    /// interface with that ifindex, not in this sample under its own name, not restored from
    /// before a reboot.
    fn renamed_from(&self, ifindex: Option<u32>) -> Option<Arc<str>> {
        let ifindex = ifindex?;
        self.interfaces
            .iter()
            .find(|(_, h)| {
                h.ifindex == Some(ifindex)
                    && h.generation != self.generation
                    && h.renamed_to.is_none()
                    && !h.must_reset
            })
            .map(|(name, _)| Arc::clone(name))
    }

    /// Moves the history of `old` to `sample`'s name, leaves `renamed_to` under `old`, and folds
    /// `sample` in.
    fn rename(
        &mut self,
        old: &Arc<str>,
        sample: &InterfaceSample,
        (now, local): (Moment, LocalDay),
        configured: Option<u64>,
    ) {
        let Some(mut history) = self.interfaces.remove(old) else {
            return;
        };
        let new: Arc<str> = Arc::from(sample.name.as_str());
        log::info!(
            "{old}: renamed {new} (ifindex {}); its history follows it",
            sample.ifindex.unwrap_or(0)
        );
        let left_behind = history.left_behind(Arc::clone(&new), now);
        history.events.renames += 1;
        history.renamed_from = Some(Box::new((Arc::clone(old), now)));
        let previous_us = self.latest.map_or(0, |latest| latest.at_us);
        history.update(&new, sample, (now, local), configured, previous_us);
        history.generation = self.generation;
        self.interfaces
            .insert(Arc::clone(old), Box::new(left_behind));
        // A name remembered from an interface gone earlier is taken over.
        self.interfaces.insert(new, history);
    }

    /// Marks the interfaces this sample did not list, noting `gap` (time before this sample the
    /// daemon did not observe) for their averages, and forgets those gone for [`HISTORY`].
    fn mark_absent(&mut self, now: Moment, gap: Option<(u64, u64)>) {
        let generation = self.generation;
        let forget_us = HISTORY.as_micros() as u64;
        let link_speeds = &self.link_speeds;
        let mut forgotten = Vec::new();
        self.interfaces.retain(|name, history| {
            if history.generation == generation {
                return true;
            }
            if let Some((held, at, local)) = history.held.take().map(|held| *held) {
                // Gone while a lower read was held: that read was its last.
                history.fold(
                    name,
                    held,
                    (at, local),
                    configured_speed(link_speeds, name),
                    0,
                );
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
                log::info!("{name}: gone for 60 minutes; forgotten but for its usage totals");
                forgotten.push((Arc::clone(name), history.usage.clone()));
            }
            keep
        });
        self.keep_dormant(forgotten);
    }

    /// Keeps the usage totals of forgotten interfaces, replacing older ones of the same name;
    /// past `max_interfaces` of them, the longest forgotten go.
    fn keep_dormant(&mut self, forgotten: Vec<(Arc<str>, SharedUsage)>) {
        if forgotten.is_empty() {
            return;
        }
        let dormant = Arc::make_mut(&mut self.dormant);
        for (name, usage) in forgotten {
            dormant.retain(|(kept, _)| *kept != name);
            dormant.push((name, usage));
        }
        let excess = dormant.len().saturating_sub(self.max_interfaces);
        dormant.drain(..excess);
    }

    /// Takes `link_speeds` (`--link-speed`: bit/s by interface name) as the interfaces'
    /// capacities.
    pub fn set_link_speeds(&mut self, link_speeds: Vec<(String, u64)>) {
        self.link_speeds = link_speeds;
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
            // What stays under an old name after a rename has no data of its own.
            .filter(|(_, h)| h.renamed_to.is_none())
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
                usage: Some(h.usage.with(|usage| *usage)),
                slots: h.ring.with(|ring| {
                    let slot = |slot: Slot| SavedSlot {
                        age: age(slot.at_us),
                        totals: slot.totals,
                    };
                    ring.iter().map(slot).collect()
                }),
            })
            .chain(
                self.dormant
                    .iter()
                    .map(|(name, usage)| dormant_saved(name, usage)),
            )
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
        let mut forgotten = Vec::new();
        for saved in state.interfaces {
            if !saved.present && us(saved.last_seen_age) + downtime_us >= history_us {
                // Gone for an hour by now: forgotten, but for its usage totals.
                if let Some(usage) = saved.usage {
                    forgotten.push((Arc::from(saved.name), SharedUsage::new(usage)));
                }
                continue;
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
                speed_mbps: None,
                held: None,
                renamed_from: None,
                renamed_to: None,
                // A state file older than the totals starts them now.
                usage: SharedUsage::new(saved.usage.unwrap_or_else(|| Usage::new(wall))),
            };
            self.interfaces
                .insert(Arc::from(saved.name), Box::new(history));
        }
        self.keep_dormant(forgotten);
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
                .map(|(name, history)| {
                    let configured = configured_speed(&self.link_speeds, name);
                    history.view(name, now_us, self.interval, configured)
                })
                .collect(),
            collection: self.collection.clone(),
            accounting: Arc::clone(&self.accounting),
            dormant: Arc::clone(&self.dormant),
        }
    }
}

/// A forgotten interface's usage totals as the state file keeps them: an interface gone for
/// [`HISTORY`], with no ring, which a restore forgets again but for its totals.
fn dormant_saved(name: &str, usage: &SharedUsage) -> SavedInterface {
    SavedInterface {
        name: name.to_owned(),
        present: false,
        counters: Counters::default(),
        ifindex: None,
        oper_state: None,
        last_seen_age: HISTORY,
        up_since_age: None,
        uptime_is_lower_bound: false,
        events: Events::default(),
        slots: Vec::new(),
        usage: Some(usage.with(|usage| *usage)),
    }
}

/// What saves the statistics when due: the state file's saver (`crate::store::Saver`), kept
/// behind this trait so that the statistics do not depend on how or where they are saved.
pub trait Save {
    /// When the next periodic save is due, if one is planned.
    fn due_at(&self) -> Option<Instant>;
    /// Whether a periodic save is due.
    fn due(&self) -> bool {
        self.due_at().is_some_and(|due| due <= Instant::now())
    }
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

/// The statistics thread's body. It sleeps until the sampler rings (enough samples wait, or it
/// hung up), a request wants a view, a hand-off is asked for, a save is due, or [`MAX_LAG`]
/// passed; then it folds in every waiting sample, gives their snapshots back to the sampler
/// through `spent`, saves the state when due, and publishes a view if a request wants one. It
/// ends when the sampler hangs up, saving the state once more.
pub fn run(
    mut stats: Stats,
    inbox: Inbox,
    spent: Sender<Snapshot>,
    shared: &SharedView,
    saver: Option<impl Save>,
    handoffs: Receiver<HandoffRequest>,
) {
    let mut saver = saver;
    let (mut handoffs, mut wanted) = (handoffs, inbox.wanted.clone());
    // The samples taken from the inbox (wrapping), as the sampler counts them sent.
    let mut folded = 0u32;
    let mut published = folded;
    loop {
        let now = Instant::now();
        let wake_at = saver
            .as_ref()
            .and_then(|s| s.due_at())
            .map_or(now + MAX_LAG, |due| due.min(now + MAX_LAG));
        let (mut want, mut handoff) = (false, None);
        select! {
            recv(inbox.rung) -> _ => {}
            recv(wanted) -> ring => match ring {
                Ok(()) => want = true,
                Err(_) => wanted = never(), // no request loop any more
            },
            recv(handoffs) -> request => match request {
                Ok(request) => handoff = Some(request),
                Err(_) => handoffs = never(),
            },
            default(wake_at.saturating_duration_since(now)) => {}
        }
        let open = loop {
            match inbox.samples.try_recv() {
                Ok(sample) => {
                    folded = folded.wrapping_add(1);
                    if let Some(snapshot) = stats.apply(sample) {
                        let _ = spent.try_send(snapshot); // a full channel or a gone sampler: dropped
                    }
                }
                Err(TryRecvError::Empty) => break true,
                Err(TryRecvError::Disconnected) => break false,
            }
        };
        if let Some(saver) = saver.as_mut().filter(|s| s.due()) {
            saver.save(&mut stats);
        }
        if let Some(request) = handoff {
            let handoff = stats.handoff(request.reason, request.daemon_age);
            let _ = request.reply.send(restart::encode(&handoff));
        }
        if !open {
            break;
        }
        if want && published != folded {
            shared.publish(stats.view(), folded);
            published = folded;
        }
    }
    if let Some(saver) = saver.as_mut() {
        saver.save(&mut stats);
    }
    shared.publish(stats.view(), folded);
}
