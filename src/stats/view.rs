//! What the API shows: the immutable view the statistics thread publishes when a request wants
//! one, and the hand-off that lets the HTTP loop take it, waiting for the statistics thread only
//! up to a deadline.
//!
//! The serialized structs are the schema: `openapi.yaml`'s property names are these field names,
//! and `tests/openapi.rs` fails when the two differ.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

pub use crate::stats::calendar::Timestamp;

use crate::restart::Restarts;
use crate::sample::offload::Offload;
use crate::sample::proc_net_dev::Counters;
use crate::sample::snapshot::Doorbell;
use crate::sample::snapshot::{Duplex, HwAddr, OperState};
use crate::stats::rates::{Events, Rate};
use crate::stats::slot_ring::SlotRing;
use crate::stats::usage::{Accounting, Report, Usage};

/// One interface, as `/api/v1/interface/{net_id}/stats` returns it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InterfaceStats {
    /// The interface name.
    pub interface: Arc<str>,
    /// Whether the latest sample listed it.
    pub present: bool,
    /// The name it had before it was renamed, for 60 minutes after the rename; otherwise null.
    pub renamed_from: Option<Arc<str>>,
    /// Under a name it no longer has: the name it was renamed to (its history went there).
    pub renamed_to: Option<Arc<str>>,
    /// The wall time of the sample that last saw it.
    pub updated_at: Timestamp,
    /// Seconds since it last came up, was created or was reset, as of the latest sample; null
    /// while it is down or absent.
    pub uptime_seconds: Option<f64>,
    /// When it last came up, was created or was reset; null while it is down or absent.
    pub up_since: Option<Timestamp>,
    /// Whether it was already up when ifstatsd first saw it, so the uptime is at least this.
    pub uptime_is_lower_bound: bool,
    /// The configured time between samples.
    pub sample_interval_seconds: f64,
    /// Its ifindex from sysfs; null where sysfs has none.
    pub ifindex: Option<u32>,
    /// Its operstate from sysfs; null where sysfs has none.
    pub oper_state: Option<OperState>,
    /// Its capacity in bit/s: `--link-speed`, else the driver's speed; null where unknown.
    pub link_speed_bits_per_sec: Option<u64>,
    /// Its link attributes at the last sample that saw it; null while it is absent.
    pub link: Option<LinkView>,
    /// The kernel's counters at the last sample that saw it.
    pub counters: Counters,
    /// The current rate and the 1, 5 and 15-minute averages.
    pub rates: Rates,
    /// What ifstatsd noticed about the counters.
    pub events: Events,
    /// Its samples, for `/history`.
    #[serde(skip)]
    pub ring: SharedRing,
    /// Its daily and monthly totals, for `/usage`.
    #[serde(skip)]
    pub usage: SharedUsage,
}

impl InterfaceStats {
    /// What `/usage` shows of it, as of `now`, by `accounting`.
    pub fn usage_report(&self, accounting: &Accounting, now: SystemTime) -> Report {
        self.usage
            .with(|usage| accounting.report(&self.interface, usage, now))
    }
}

/// An interface's link attributes, as node_exporter's netclass collector reads them; each null
/// where the kernel does not say.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LinkView {
    /// The link speed in Mbit/s; null when unknown (the driver says -1, or the link is down).
    pub speed_mbps: Option<u32>,
    /// `full`, `half` or `unknown`, as sysfs says; null where sysfs does not say.
    pub duplex: Option<Duplex>,
    /// The MTU in bytes.
    pub mtu_bytes: Option<u32>,
    /// Whether it has a carrier; null while it is administratively down.
    pub carrier: Option<bool>,
    /// The hardware address, `aa:bb:cc:dd:ee:ff` (empty for links without one).
    pub address: Option<HwAddr>,
    /// The hardware broadcast address.
    pub broadcast: Option<HwAddr>,
    /// The alias set with `ip link set ... alias`; null when none.
    pub alias: Option<Arc<str>>,
}

/// The rates of one interface; each is null until it has an interval to cover.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rates {
    /// The last interval, if the interface was in the latest sample.
    pub current: Option<RateView>,
    /// The last minute.
    pub avg_1m: Option<RateView>,
    /// The last five minutes.
    pub avg_5m: Option<RateView>,
    /// The last fifteen minutes.
    pub avg_15m: Option<RateView>,
}

/// Per-second rates over a window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RateView {
    /// The window's length (for `current`, the configured interval).
    pub window_seconds: f64,
    /// The seconds the samples inside the window cover; less than the window until it is full.
    pub covered_seconds: f64,
    /// Bytes received per second.
    pub rx_bytes_per_sec: f64,
    /// Packets received per second.
    pub rx_packets_per_sec: f64,
    /// Receive errors per second.
    pub rx_errors_per_sec: f64,
    /// Received packets dropped per second.
    pub rx_dropped_per_sec: f64,
    /// Bytes sent per second.
    pub tx_bytes_per_sec: f64,
    /// Packets sent per second.
    pub tx_packets_per_sec: f64,
    /// Transmit errors per second.
    pub tx_errors_per_sec: f64,
    /// Packets dropped on transmit per second.
    pub tx_dropped_per_sec: f64,
    /// The received bits per second as a fraction of the link's speed; null where it is unknown.
    pub rx_utilisation: Option<f64>,
    /// The sent bits per second as a fraction of the link's speed; null where it is unknown.
    pub tx_utilisation: Option<f64>,
}

impl RateView {
    /// The view of `rate` on a link of `link_bits_per_sec`, where known.
    pub fn new(rate: Rate, link_bits_per_sec: Option<u64>) -> Self {
        let utilisation =
            |bytes_per_sec: f64| link_bits_per_sec.map(|bits| bytes_per_sec * 8.0 / bits as f64);
        let mut view = RateView::from(rate);
        view.rx_utilisation = utilisation(view.rx_bytes_per_sec);
        view.tx_utilisation = utilisation(view.tx_bytes_per_sec);
        view
    }
}

impl From<Rate> for RateView {
    /// The view of `rate` on a link of unknown speed.
    fn from(rate: Rate) -> Self {
        let [rx_bytes, rx_packets, rx_errors, rx_dropped, tx_bytes, tx_packets, tx_errors, tx_dropped] =
            rate.per_sec;
        RateView {
            window_seconds: rate.window.as_secs_f64(),
            covered_seconds: rate.covered.as_secs_f64(),
            rx_bytes_per_sec: rx_bytes,
            rx_packets_per_sec: rx_packets,
            rx_errors_per_sec: rx_errors,
            rx_dropped_per_sec: rx_dropped,
            tx_bytes_per_sec: tx_bytes,
            tx_packets_per_sec: tx_packets,
            tx_errors_per_sec: tx_errors,
            tx_dropped_per_sec: tx_dropped,
            rx_utilisation: None,
            tx_utilisation: None,
        }
    }
}

/// The state of sampling, for `/health`.
#[derive(Clone, Debug, PartialEq)]
pub struct Collection {
    /// The source file.
    pub source: String,
    /// The configured interval.
    pub interval: Duration,
    /// The last successful sample, on both clocks.
    pub last_success: Option<(Instant, SystemTime)>,
    /// Successful samples.
    pub samples_total: u64,
    /// Ticks whose source could not be read or had no usable line.
    pub collection_errors_total: u64,
    /// Malformed lines skipped, over all samples.
    pub parse_errors_total: u64,
    /// New interfaces not tracked because `--max-interfaces` were already tracked.
    pub interfaces_refused_total: u64,
    /// The problem of the latest sample, if it had one.
    pub last_error: Option<String>,
    /// The state file, if persistence is on.
    pub state_file: Option<String>,
    /// The wall time of the last successful save.
    pub last_save_at: Option<SystemTime>,
    /// Why the last save failed, if it did.
    pub last_save_error: Option<String>,
    /// Why the state file could not be restored at start-up, if it could not.
    pub state_restore_error: Option<String>,
    /// The seamless restarts so far (see [`crate::restart`]).
    pub restarts: Restarts,
    /// What the sampler last found about flow offloading.
    pub offload: Option<Arc<Offload>>,
}

/// Everything the API serves, as of one sample.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsView {
    /// The wall time of the latest successful sample.
    pub updated_at: Option<Timestamp>,
    /// The slot time of the latest successful sample, to place ring slots on the wall clock.
    pub latest_at_us: u64,
    /// Every known interface, sorted by name.
    pub interfaces: Vec<InterfaceStats>,
    /// The state of sampling.
    pub collection: Collection,
    /// The time zone, billing day and quotas the totals are shown with.
    pub accounting: Arc<Accounting>,
    /// The usage totals of interfaces forgotten after an hour away, by name.
    pub dormant: Arc<Vec<(Arc<str>, SharedUsage)>>,
}

impl StatsView {
    /// What `/usage` shows of the interface called `name`, known or forgotten, as of the latest
    /// sample.
    pub fn usage_report(&self, name: &str) -> Option<Report> {
        let now = self.updated_at.map_or(SystemTime::UNIX_EPOCH, |t| t.0);
        if let Some(stats) = self.interface(name) {
            return Some(stats.usage_report(&self.accounting, now));
        }
        let (name, usage) = self.dormant.iter().find(|(kept, _)| &**kept == name)?;
        Some(usage.with(|usage| self.accounting.report(name, usage, now)))
    }

    /// The interface called `name`.
    pub fn interface(&self, name: &str) -> Option<&InterfaceStats> {
        self.interfaces
            .binary_search_by(|iface| (*iface.interface).cmp(name))
            .ok()
            .map(|i| &self.interfaces[i])
    }
}

/// One interface's ring, shared by the statistics thread (which pushes a slot per sample) and
/// the HTTP loop (which reads a window of it for `/history`). Each holds the lock only for a push
/// or one window's walk: microseconds.
#[derive(Clone, Debug)]
pub struct SharedRing(Arc<Mutex<SlotRing>>);

impl SharedRing {
    /// A ring of `capacity` slots.
    pub fn with_capacity(capacity: usize) -> Self {
        SharedRing(Arc::new(Mutex::new(SlotRing::with_capacity(capacity))))
    }

    /// Runs `f` on the ring.
    pub fn with<T>(&self, f: impl FnOnce(&mut SlotRing) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// One interface's usage totals, shared like its ring: the statistics thread adds to them at each
/// sample, and the HTTP loop reads them for `/usage` and `/metrics`. Shared rather than copied
/// into every view: a kilobyte per interface per sample.
#[derive(Clone, Debug)]
pub struct SharedUsage(Arc<Mutex<Usage>>);

impl SharedUsage {
    /// Shares `usage`.
    pub fn new(usage: Usage) -> Self {
        SharedUsage(Arc::new(Mutex::new(usage)))
    }

    /// Runs `f` on the totals.
    pub fn with<T>(&self, f: impl FnOnce(&mut Usage) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl PartialEq for SharedUsage {
    /// The same totals, not equal ones.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl PartialEq for SharedRing {
    /// The same ring, not an equal one.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The latest [`StatsView`], swapped whole by the statistics thread and cloned (as an `Arc`) by
/// the HTTP loop. The lock is held only for the swap or the clone. Beside it, how many samples
/// from the sampler it has folded in (wrapping, as [`Doorbell::sent`] counts them), so that the
/// request loop knows whether it is current, and can wait, up to a deadline, for one that is.
#[derive(Debug)]
pub struct SharedView {
    latest: Mutex<(Arc<StatsView>, u32)>,
    published: Condvar,
}

impl SharedView {
    /// Starts with `view`, of no sample from the sampler yet.
    pub fn new(view: StatsView) -> Self {
        SharedView {
            latest: Mutex::new((Arc::new(view), 0)),
            published: Condvar::new(),
        }
    }

    /// Replaces the view with `view`, which has folded in `samples` samples from the sampler.
    pub fn publish(&self, view: StatsView, samples: u32) {
        let view = Arc::new(view);
        // A panic elsewhere cannot leave an Arc half-written: the old or the new one is there.
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        let (old, _) = std::mem::replace(&mut *latest, (view, samples));
        drop(latest);
        self.published.notify_all();
        drop(old); // freed outside the lock
    }

    /// The latest view.
    pub fn current(&self) -> Arc<StatsView> {
        Arc::clone(&self.latest.lock().unwrap_or_else(PoisonError::into_inner).0)
    }

    /// How many samples from the sampler the latest view has folded in (wrapping).
    pub fn samples(&self) -> u32 {
        self.latest.lock().unwrap_or_else(PoisonError::into_inner).1
    }

    /// A view of every sample sent so far: the latest if it is one; else, after asking the
    /// statistics thread through `doorbell`, the first one published that is, or the latest at
    /// `deadline` if none is by then (the statistics thread is busy or stuck).
    pub fn fresh(&self, doorbell: &Doorbell, deadline: Instant) -> Arc<StatsView> {
        let sent = doorbell.sent();
        // Wrapping: current when it has folded in `sent` or more.
        let current = |samples: u32| (samples.wrapping_sub(sent) as i32) >= 0;
        let mut latest = self.latest.lock().unwrap_or_else(PoisonError::into_inner);
        if !current(latest.1) {
            doorbell.want();
            while !current(latest.1) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                latest = self
                    .published
                    .wait_timeout(latest, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        Arc::clone(&latest.0)
    }
}
