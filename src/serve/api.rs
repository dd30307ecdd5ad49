//! PURE: turns a [`Route`] and the latest [`StatsView`] into a [`Reply`]. No sockets here: the
//! HTTP loop hands in the clock, so every answer is tested without a server.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::sample::offload::Offload;
use crate::sample::uname::Uname;
use crate::serve::routes::Route;
use crate::serve::{dashboard, docs, inflate, metrics};
use crate::stats::rates;
use crate::stats::view::{InterfaceStats, StatsView, Timestamp};

/// The OpenAPI document served at `/openapi.yaml`: the source, for the tests (the binary embeds
/// only [`OPENAPI_DEFLATED`]).
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// [`OPENAPI_YAML`] deflated by build.rs (15 KB instead of 73), inflated per request.
pub const OPENAPI_DEFLATED: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/openapi.yaml.deflate"));

/// `/health` is degraded once no sample has succeeded for this many intervals.
pub const DEGRADED_AFTER_INTERVALS: u32 = 3;

/// The methods every route allows.
pub const ALLOW: &str = "GET, HEAD";

/// A response, before it meets the socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// Whether to send `Allow: GET, HEAD`.
    pub allow: bool,
    /// The `Cache-Control`, if any.
    pub cache_control: Option<&'static str>,
    /// Whether the body is gzipped (`Content-Encoding: gzip`).
    pub gzipped: bool,
    /// The body (HEAD sends the headers only).
    pub body: Vec<u8>,
}

impl Reply {
    /// A reply with no extra headers.
    pub fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status,
            content_type,
            allow: false,
            cache_control: None,
            gzipped: false,
            body,
        }
    }

    /// A reply of `asset`; `max_age` for assets that never change within a build.
    fn asset(asset: docs::Asset, cache_control: Option<&'static str>) -> Reply {
        Reply {
            cache_control,
            gzipped: asset.gzipped,
            ..Reply::new(200, asset.content_type, asset.body.to_vec())
        }
    }
}

/// A text embedded deflated, inflated into its reply: the same bytes as the source, `len` of them.
fn embedded(content_type: &'static str, deflated: &[u8], len: usize) -> Reply {
    match inflate::inflate(deflated, len) {
        Ok(body) => Reply::new(200, content_type, body),
        // build.rs made the stream: unreachable, but a request never panics.
        Err(_) => error(
            500,
            "internal_error",
            "cannot inflate an embedded text".into(),
        ),
    }
}

/// The clocks a reply depends on.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// When the daemon started.
    pub started: Instant,
    /// Now.
    pub now: Instant,
}

/// The body of `/api/v1/interfaces`.
#[derive(Serialize)]
pub struct InterfaceList<'a> {
    /// The wall time of the latest successful sample (the daemon serves only after its first).
    pub updated_at: Timestamp,
    /// Every known interface, sorted by name.
    pub interfaces: &'a [InterfaceStats],
}

/// The body of `/api/v1/interface/{net_id}/history`.
#[derive(Serialize)]
pub struct History<'a> {
    /// The interface name.
    pub interface: &'a str,
    /// Whether the latest sample listed it.
    pub present: bool,
    /// The window asked for, in seconds (a number, as every other `_seconds`).
    pub window_seconds: f64,
    /// The configured time between samples.
    pub sample_interval_seconds: f64,
    /// The wall time of the latest successful sample: the window ends there.
    pub updated_at: Timestamp,
    /// One point per interval between two samples inside the window, oldest first.
    pub points: Vec<Point>,
}

/// The rates over one interval between two samples.
#[derive(Serialize)]
pub struct Point {
    /// When the interval started (the older sample).
    pub start: Timestamp,
    /// When it ended (the newer sample).
    pub end: Timestamp,
    /// Its length.
    pub seconds: f64,
    /// Longer than one and a half intervals: samples are missing (sampling failed, the daemon
    /// was down, or the interface was absent), and the rates are averages over the gap.
    pub gap: bool,
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
}

/// The body of `/health`.
#[derive(Serialize)]
pub struct Health<'a> {
    /// `ok`, or `degraded` when no sample has succeeded for three intervals.
    pub status: &'static str,
    /// The daemon's version.
    pub version: &'static str,
    /// Seconds since the daemon started.
    pub uptime_seconds: f64,
    /// The sampled file.
    pub source: &'a str,
    /// The configured time between samples.
    pub sample_interval_seconds: f64,
    /// The wall time of the last successful sample.
    pub last_sample_at: Option<Timestamp>,
    /// Seconds since the last successful sample.
    pub last_sample_age_seconds: Option<f64>,
    /// Successful samples.
    pub samples_total: u64,
    /// Samples whose source could not be read or had no usable line.
    pub collection_errors_total: u64,
    /// Malformed lines skipped, over all samples.
    pub parse_errors_total: u64,
    /// New interfaces not tracked because `--max-interfaces` were already tracked.
    pub interfaces_refused_total: u64,
    /// The problem of the latest sample, if it had one.
    pub last_error: Option<&'a str>,
    /// The number of known interfaces, present or not.
    pub interfaces: usize,
    /// The state file, or null when persistence is off.
    pub state_file: Option<&'a str>,
    /// The wall time of the last successful save.
    pub last_save_at: Option<Timestamp>,
    /// Why the last save failed; null when it succeeded or none was tried.
    pub last_save_error: Option<&'a str>,
    /// Why the state file could not be restored at start-up; null when it could, or was absent.
    pub state_restore_error: Option<&'a str>,
    /// Seamless restarts in a new process image since the daemon started (the PID stays).
    pub restarts_total: u64,
    /// Why the latest restart happened: `stuck_connections`, `loop_wedged` or
    /// `listener_closed`; null before any.
    pub last_restart_reason: Option<&'static str>,
    /// The wall time of the latest restart; null before any.
    pub last_restart_at: Option<Timestamp>,
    /// Flow offloading, which can hide forwarded traffic from the counters; null before the
    /// sampler first looked.
    pub offload: Option<&'a Offload>,
}

/// The body of every error.
#[derive(Serialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize)]
pub struct ErrorDetail {
    /// The HTTP status, repeated.
    pub status: u16,
    /// A stable, machine-readable code.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
}

/// Replies that depend on the view alone (`/api/v1/interfaces`, each interface's stats, and
/// the per-interface part of `/metrics`), made at the first request after a view is published
/// and copied for the later ones until the next (one per `--interval`, 10 s by default): a
/// dashboard, several scrapers or a script polling faster than the interval cost a copy, not a
/// serialization. At most [`MAX_CACHED_BYTES`] are kept; past that, replies are made each time.
#[derive(Debug, Default)]
pub struct ViewCache {
    /// The view the replies were made from (a `Weak`: only its address is compared).
    view: Weak<StatsView>,
    /// A list, not a map: a few routes at most (one per interface), and a map of `Route`s
    /// would add its own code to the binary.
    replies: Vec<(Route, Reply)>,
    /// The part of `/metrics` made by [`metrics::render_interfaces`].
    metrics: Option<String>,
    bytes: usize,
}

/// The most bytes of bodies a [`ViewCache`] keeps.
pub const MAX_CACHED_BYTES: usize = 256 * 1024;

impl ViewCache {
    /// Forgets every reply if `view` is not the one they were made from.
    fn follow(&mut self, view: &Arc<StatsView>) {
        if !Weak::ptr_eq(&self.view, &Arc::downgrade(view)) {
            *self = ViewCache {
                view: Arc::downgrade(view),
                ..ViewCache::default()
            };
        }
    }

    /// Whether it keeps nothing.
    pub fn is_empty(&self) -> bool {
        self.replies.is_empty() && self.metrics.is_none()
    }

    /// Whether `bytes` more fit, counting them if they do.
    fn room_for(&mut self, bytes: usize) -> bool {
        let fits = self.bytes + bytes <= MAX_CACHED_BYTES;
        if fits {
            self.bytes += bytes;
        }
        fits
    }
}

/// [`handle`], with the replies that depend on `view` alone kept in `cache`: the same replies,
/// byte for byte.
pub fn handle_cached(
    route: &Route,
    view: &Arc<StatsView>,
    clock: Clock,
    cache: &mut ViewCache,
) -> Reply {
    cache.follow(view);
    match route {
        Route::Interfaces | Route::InterfaceStats { .. } | Route::InterfaceUsage { .. } => {
            if let Some((_, reply)) = cache.replies.iter().find(|(kept, _)| kept == route) {
                return reply.clone();
            }
            let reply = handle(route, view, clock);
            if cache.room_for(reply.body.len()) {
                cache.replies.push((route.clone(), reply.clone()));
            }
            reply
        }
        Route::Metrics => {
            let sampled = metrics::sampled_counters(view);
            metrics_cached(view, clock, cache, &sampled, None)
        }
        _ => handle(route, view, clock),
    }
}

/// `/metrics`: the families that depend on `view` alone kept in `cache`, then `counters` (read
/// at the scrape by the request loop, or the sampled ones), `uname`'s `node_uname_info` where
/// known, and the daemon's families as of `clock`.
pub fn metrics_cached(
    view: &Arc<StatsView>,
    clock: Clock,
    cache: &mut ViewCache,
    counters: &metrics::Fresh,
    uname: Option<&Uname>,
) -> Reply {
    cache.follow(view);
    let mut text = match &cache.metrics {
        Some(made) => made.clone(),
        None => {
            let made = metrics::render_interfaces(view);
            if cache.room_for(made.len()) {
                cache.metrics = Some(made.clone());
            }
            made
        }
    };
    metrics::render_counters(&mut text, view, counters);
    if let Some(uname) = uname {
        metrics::render_uname(&mut text, uname);
    }
    metrics::render_daemon(&mut text, view, clock.now, is_healthy(view, clock));
    Reply::new(200, metrics::CONTENT_TYPE, text.into_bytes())
}

/// Answers `route` from `view`.
pub fn handle(route: &Route, view: &StatsView, clock: Clock) -> Reply {
    match route {
        Route::InterfaceStats { name } => match view.interface(name) {
            Some(stats) => json(200, stats),
            None => error(
                404,
                "interface_not_found",
                format!("no interface {name:?} has been seen in the last 60 minutes"),
            ),
        },
        Route::InterfaceHistory {
            name,
            window_seconds,
        } => match view.interface(name) {
            Some(stats) => json(200, &history(view, stats, *window_seconds)),
            None => error(
                404,
                "interface_not_found",
                format!("no interface {name:?} has been seen in the last 60 minutes"),
            ),
        },
        Route::InterfaceUsage { name } => match view.usage_report(name) {
            Some(report) => json(200, &report),
            None => error(
                404,
                "interface_not_found",
                format!("no usage of an interface {name:?} is kept"),
            ),
        },
        Route::InvalidWindow => error(
            400,
            "invalid_window",
            "window must be 1m, 5m, 15m or 60m".into(),
        ),
        Route::Dashboard => embedded(
            dashboard::CONTENT_TYPE,
            dashboard::PAGE_DEFLATED,
            dashboard::PAGE.len(),
        ),
        Route::Interfaces => json(
            200,
            &InterfaceList {
                // Never the epoch when served: the first sample succeeds before the daemon
                // listens (see `history` for the same anchor).
                updated_at: view.updated_at.unwrap_or(Timestamp(SystemTime::UNIX_EPOCH)),
                interfaces: &view.interfaces,
            },
        ),
        Route::Health => health(view, clock),
        Route::Metrics => {
            let text = metrics::render(view, clock.now, is_healthy(view, clock));
            Reply::new(200, metrics::CONTENT_TYPE, text.into_bytes())
        }
        Route::OpenApi => embedded("application/yaml", OPENAPI_DEFLATED, OPENAPI_YAML.len()),
        Route::Docs => Reply::asset(docs::page(), None),
        Route::DocsAsset { name } => match docs::asset(name) {
            // The assets change only with the binary: a browser may keep them a day.
            Some(asset) => Reply::asset(asset, Some("max-age=86400")),
            None => error(404, "not_found", "no such route; see /openapi.yaml".into()),
        },
        Route::InvalidName { reason } => error(
            400,
            "invalid_interface_name",
            format!("invalid interface name: {reason}"),
        ),
        Route::MethodNotAllowed => Reply {
            allow: true,
            ..error(
                405,
                "method_not_allowed",
                format!("only {ALLOW} are allowed"),
            )
        },
        Route::NotFound => error(404, "not_found", "no such route; see /openapi.yaml".into()),
    }
}

fn history<'a>(view: &StatsView, stats: &'a InterfaceStats, window_seconds: u32) -> History<'a> {
    let interval = view.collection.interval;
    let window = Duration::from_secs(u64::from(window_seconds));
    // Slot times are placed on the wall clock from the latest sample's (there is one: an
    // interface is known only after a successful sample).
    let anchor = view.updated_at.map_or(SystemTime::UNIX_EPOCH, |t| t.0);
    let wall = |at_us: u64| {
        let back = Duration::from_micros(view.latest_at_us.saturating_sub(at_us));
        Timestamp(anchor.checked_sub(back).unwrap_or(SystemTime::UNIX_EPOCH))
    };
    let gap = interval.mul_f64(1.5);
    let point = |i: rates::Interval| {
        let [rx_bytes, rx_packets, rx_errors, rx_dropped, tx_bytes, tx_packets, tx_errors, tx_dropped] =
            i.rate.per_sec;
        Point {
            start: wall(i.start_us),
            end: wall(i.end_us),
            seconds: i.rate.covered.as_secs_f64(),
            gap: i.rate.covered > gap,
            rx_bytes_per_sec: rx_bytes,
            rx_packets_per_sec: rx_packets,
            rx_errors_per_sec: rx_errors,
            rx_dropped_per_sec: rx_dropped,
            tx_bytes_per_sec: tx_bytes,
            tx_packets_per_sec: tx_packets,
            tx_errors_per_sec: tx_errors,
            tx_dropped_per_sec: tx_dropped,
        }
    };
    // The points are built straight from the ring's walk, under its lock (microseconds).
    let points = stats.ring.with(|ring| {
        rates::intervals(ring, view.latest_at_us, window, interval)
            .map(point)
            .collect()
    });
    History {
        interface: &stats.interface,
        present: stats.present,
        window_seconds: f64::from(window_seconds),
        sample_interval_seconds: interval.as_secs_f64(),
        updated_at: Timestamp(anchor),
        points,
    }
}

/// Whether a sample succeeded within the last [`DEGRADED_AFTER_INTERVALS`] intervals.
fn is_healthy(view: &StatsView, clock: Clock) -> bool {
    let collection = &view.collection;
    let limit = collection.interval * DEGRADED_AFTER_INTERVALS;
    collection
        .last_success
        .is_some_and(|(at, _)| clock.now.saturating_duration_since(at) <= limit)
}

fn health(view: &StatsView, clock: Clock) -> Reply {
    let collection = &view.collection;
    let age = collection
        .last_success
        .map(|(at, _)| clock.now.saturating_duration_since(at));
    let healthy = is_healthy(view, clock);
    let body = Health {
        status: if healthy { "ok" } else { "degraded" },
        version: crate::VERSION,
        uptime_seconds: clock
            .now
            .saturating_duration_since(clock.started)
            .as_secs_f64(),
        source: &collection.source,
        sample_interval_seconds: collection.interval.as_secs_f64(),
        last_sample_at: collection.last_success.map(|(_, wall)| Timestamp(wall)),
        last_sample_age_seconds: age.as_ref().map(Duration::as_secs_f64),
        samples_total: collection.samples_total,
        collection_errors_total: collection.collection_errors_total,
        parse_errors_total: collection.parse_errors_total,
        interfaces_refused_total: collection.interfaces_refused_total,
        last_error: collection.last_error.as_deref(),
        interfaces: view.interfaces.len(),
        state_file: collection.state_file.as_deref(),
        last_save_at: collection.last_save_at.map(Timestamp),
        last_save_error: collection.last_save_error.as_deref(),
        state_restore_error: collection.state_restore_error.as_deref(),
        restarts_total: collection.restarts.total,
        last_restart_reason: collection.restarts.last.map(|(reason, _)| reason.as_str()),
        last_restart_at: collection.restarts.last.map(|(_, at)| Timestamp(at)),
        offload: collection.offload.as_deref(),
    };
    json(if healthy { 200 } else { 503 }, &body)
}

fn json(status: u16, body: &impl Serialize) -> Reply {
    match serde_json::to_vec(body) {
        Ok(body) => Reply {
            cache_control: Some("no-store"),
            ..Reply::new(status, "application/json", body)
        },
        // Our types hold no maps with non-string keys; serialization cannot fail. If it ever
        // did, say so rather than panic.
        Err(e) => error(500, "internal_error", format!("cannot serialize: {e}")),
    }
}

/// An error reply with the JSON body of the API's error schema.
pub fn error(status: u16, code: &'static str, message: String) -> Reply {
    let body = ErrorBody {
        error: ErrorDetail {
            status,
            code,
            message,
        },
    };
    Reply {
        cache_control: Some("no-store"),
        ..Reply::new(
            status,
            "application/json",
            serde_json::to_vec(&body).unwrap_or_default(),
        )
    }
}
