//! PURE: the view as Prometheus metrics, in the text exposition format 0.0.4.
//!
//! # node_exporter's families
//!
//! These families of node_exporter's `netdev` (reading `/proc/net/dev`,
//! `--no-collector.netdev.netlink`), `netclass` and `uname` collectors, with their names, labels,
//! types and units; `tests/prometheus_live.sh` finds them equal to node_exporter 1.5's, value for
//! value (the README lists the netclass families not served):
//! - the 16 counters, `node_network_{receive,transmit}_*_total` (`bytes`, `packets`, `errs`,
//!   `drop`, `fifo`, `frame`/`colls`, `compressed`, `multicast`/`carrier`);
//! - `node_network_info{address,broadcast,duplex,ifalias,operstate}` (always 1), `node_network_up`
//!   (1 when the operstate is `up`, 0 otherwise, `unknown` included, as node_exporter has it),
//!   `node_network_carrier`, `node_network_mtu_bytes` and `node_network_speed_bytes` (Mbit/s
//!   times 125000); `node_uname_info`. Where sysfs refuses to say (carrier and speed while the
//!   link is down; speed when the driver says -1), the series is absent, as it is from
//!   node_exporter, except that node_exporter 1.5 serves a speed of -1 Mbit/s as -125000 unless
//!   given `--collector.netclass.ignore-invalid-speed`.
//!
//! The counters are read at the moment of the scrape (the request loop reads the source again:
//! [`crate::sample::ScrapeReader`]), as node_exporter reads them, so that `rate()` sees each
//! counter at the time Prometheus stamps it; they list the interfaces in the file at the scrape
//! that the statistics know (so `--max-interfaces` bounds them too). The link state is the
//! latest sample's, for the interfaces present in it. A vanished interface's series end rather
//! than freeze.
//!
//! # ifstatsd's own families
//!
//! What only ifstatsd knows has the `ifstatsd_` prefix: the rates as gauges with a `window`
//! label (`current`, `1m`, `5m`, `15m`) and beside them `ifstatsd_rate_covered_seconds` (the
//! seconds each window's rate covers, less than the window while it fills: an alert can require
//! a full one), `ifstatsd_interface_{present,uptime_seconds,up_since_timestamp_seconds,ifindex}`,
//! `ifstatsd_interface_{resets,wraps,glitches,renames}_total`, the share of the link's speed
//! used as `ifstatsd_{receive,transmit}_utilisation_ratio` with the same `window` label (where
//! the speed is known: node_exporter's `node_network_speed_bytes` is the speed itself), the
//! usage totals (`ifstatsd_usage_*`, `ifstatsd_quota_bytes`), and the daemon's own health:
//! `ifstatsd_up`,
//! `ifstatsd_{samples,collection_errors,parse_errors,interfaces_refused}_total`,
//! `ifstatsd_last_sample_age_seconds`, `ifstatsd_sample_interval_seconds`, `ifstatsd_build_info`,
//! and the seamless restarts: `ifstatsd_restarts_total`,
//! `ifstatsd_last_restart_timestamp_seconds{reason}`.
//!
//! A renamed interface's series continue under its new name; the old name's end, as a vanished
//! interface's do after 60 minutes.
//!
//! `rate(node_network_receive_bytes_total[5m])` works as with node_exporter; ifstatsd's own
//! `ifstatsd_receive_bytes_per_second{window="5m"}` is the same figure computed on the router from
//! every sample, not only the scraped ones.

use std::fmt::Write;
use std::time::Instant;

use crate::sample::proc_net_dev::Counters;
use crate::sample::snapshot::OperState;
use crate::sample::uname::Uname;
use crate::stats::usage::Report;
use crate::stats::view::{InterfaceStats, RateView, StatsView};
use crate::VERSION;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Reads a counter.
type CounterOf = fn(&Counters) -> u64;
/// Reads a rate.
type RateOf = fn(&RateView) -> f64;
/// Reads a utilisation, where the link's speed is known.
type UtilisationOf = fn(&RateView) -> Option<f64>;
/// Reads a per-interface figure, where it has one.
type FigureOf = fn(&InterfaceStats) -> Option<f64>;

/// The kernel counters: node_exporter's metric suffix, a description, and the counter.
const COUNTERS: [(&str, &str, CounterOf); 16] = [
    ("receive_bytes", "Bytes received", |c| c.rx_bytes),
    ("receive_packets", "Packets received", |c| c.rx_packets),
    ("receive_errs", "Receive errors", |c| c.rx_errors),
    ("receive_drop", "Received packets dropped", |c| c.rx_dropped),
    ("receive_fifo", "Receive FIFO overruns", |c| c.rx_fifo),
    ("receive_frame", "Receive framing errors", |c| c.rx_frame),
    ("receive_compressed", "Compressed packets received", |c| {
        c.rx_compressed
    }),
    ("receive_multicast", "Multicast packets received", |c| {
        c.rx_multicast
    }),
    ("transmit_bytes", "Bytes sent", |c| c.tx_bytes),
    ("transmit_packets", "Packets sent", |c| c.tx_packets),
    ("transmit_errs", "Transmit errors", |c| c.tx_errors),
    ("transmit_drop", "Packets dropped on transmit", |c| {
        c.tx_dropped
    }),
    ("transmit_fifo", "Transmit FIFO errors", |c| c.tx_fifo),
    ("transmit_colls", "Collisions while sending", |c| c.tx_colls),
    ("transmit_carrier", "Carrier errors while sending", |c| {
        c.tx_carrier
    }),
    ("transmit_compressed", "Compressed packets sent", |c| {
        c.tx_compressed
    }),
];

/// Counters to serve: an index into the view's interfaces, and that interface's counters.
pub type Fresh = [(usize, Counters)];

/// The counters of the latest sample, for every interface present in it: what `/metrics`
/// serves when the source cannot be read at the scrape.
pub fn sampled_counters(view: &StatsView) -> Vec<(usize, Counters)> {
    let present = view.interfaces.iter().enumerate();
    present
        .filter(|(_, iface)| iface.present)
        .map(|(i, iface)| (i, iface.counters))
        .collect()
}

/// The counters read at the scrape (`entries`, in file order), for the interfaces `view`
/// knows, in the view's order; the first of a name listed twice counts, as in the statistics.
pub fn fresh_counters<'a>(
    view: &StatsView,
    entries: impl Iterator<Item = (&'a str, Counters)>,
) -> Vec<(usize, Counters)> {
    let mut fresh: Vec<(usize, Counters)> = Vec::with_capacity(view.interfaces.len());
    for (name, counters) in entries {
        if let Ok(i) = view
            .interfaces
            .binary_search_by(|iface| (*iface.interface).cmp(name))
        {
            fresh.push((i, counters));
        }
    }
    // A stable sort keeps file order among duplicates; then the first of each is kept.
    fresh.sort_by_key(|&(i, _)| i);
    fresh.dedup_by_key(|&mut (i, _)| i);
    fresh
}

/// Appends the 16 `node_network_*_total` counter families for `counters`.
pub fn render_counters(out: &mut String, view: &StatsView, counters: &Fresh) {
    for (suffix, help, value) in COUNTERS {
        let name = format!("node_network_{suffix}_total");
        header(
            out,
            &name,
            &format!("{help}, from /proc/net/dev."),
            "counter",
        );
        for (i, c) in counters {
            if let Some(iface) = view.interfaces.get(*i) {
                sample(out, &name, &[("device", &iface.interface)], value(c));
            }
        }
    }
}

/// Appends `node_uname_info`.
pub fn render_uname(out: &mut String, uname: &Uname) {
    let name = "node_uname_info";
    header(
        out,
        name,
        "Labeled system information as provided by the uname system call.",
        "gauge",
    );
    let labels = [
        ("domainname", uname.domainname.as_str()),
        ("machine", &uname.machine),
        ("nodename", &uname.nodename),
        ("release", &uname.release),
        ("sysname", &uname.sysname),
        ("version", &uname.version),
    ];
    sample(out, name, &labels, 1);
}

/// The rates: metric name stem, and the rate.
const RATES: [(&str, RateOf); 8] = [
    ("receive_bytes", |r| r.rx_bytes_per_sec),
    ("receive_packets", |r| r.rx_packets_per_sec),
    ("receive_errs", |r| r.rx_errors_per_sec),
    ("receive_drop", |r| r.rx_dropped_per_sec),
    ("transmit_bytes", |r| r.tx_bytes_per_sec),
    ("transmit_packets", |r| r.tx_packets_per_sec),
    ("transmit_errs", |r| r.tx_errors_per_sec),
    ("transmit_drop", |r| r.tx_dropped_per_sec),
];

/// Renders every metric of `view` as of `now`, with the sampled counters; `healthy` is
/// `/health`'s verdict.
pub fn render(view: &StatsView, now: Instant, healthy: bool) -> String {
    let mut out = render_interfaces(view);
    render_counters(&mut out, view, &sampled_counters(view));
    render_daemon(&mut out, view, now, healthy);
    out
}

/// The part of [`render`] that depends on the view alone: every per-interface family but the
/// counters.
pub fn render_interfaces(view: &StatsView) -> String {
    let mut out = String::with_capacity(1024 + view.interfaces.len() * 6144);
    let present: Vec<&InterfaceStats> = view.interfaces.iter().filter(|i| i.present).collect();

    render_link_state(&mut out, &present);

    let covered = "ifstatsd_rate_covered_seconds";
    header(
        &mut out,
        covered,
        "The seconds the rate of each window covers: less than the window while it fills (a new \
         interface, or a daemon started without its state file); time an interface was absent \
         counts, with no traffic.",
        "gauge",
    );
    for iface in &view.interfaces {
        for (window, rate) in windows_of(iface) {
            if let Some(rate) = rate {
                let labels = [("device", &*iface.interface), ("window", window)];
                sample(&mut out, covered, &labels, rate.covered_seconds);
            }
        }
    }

    // What stays under an old name after a rename has no data: its series end.
    let listed: Vec<&InterfaceStats> = view
        .interfaces
        .iter()
        .filter(|i| i.renamed_to.is_none())
        .collect();

    for (stem, value) in RATES {
        let name = format!("ifstatsd_{stem}_per_second");
        let help = format!(
            "Rate of node_network_{stem}_total: over the last interval (window=\"current\") or \
             averaged exactly over 1, 5 or 15 minutes."
        );
        header(&mut out, &name, &help, "gauge");
        for iface in &listed {
            for (window, rate) in windows_of(iface) {
                if let Some(rate) = rate {
                    let labels = [("device", &*iface.interface), ("window", window)];
                    sample(&mut out, &name, &labels, value(rate));
                }
            }
        }
    }

    let utilisation: [(&str, &str, UtilisationOf); 2] = [
        ("receive", "received", |r| r.rx_utilisation),
        ("transmit", "sent", |r| r.tx_utilisation),
    ];
    for (stem, verb, value) in utilisation {
        let name = format!("ifstatsd_{stem}_utilisation_ratio");
        let help = format!(
            "Bits {verb} per second as a fraction of the link's speed (--link-speed, else the \
             driver's), by window like ifstatsd_{stem}_bytes_per_second; absent where the speed \
             is unknown."
        );
        header(&mut out, &name, &help, "gauge");
        for iface in &listed {
            for (window, rate) in windows_of(iface) {
                if let Some(ratio) = rate.as_ref().and_then(value) {
                    let labels = [("device", &*iface.interface), ("window", window)];
                    sample(&mut out, &name, &labels, ratio);
                }
            }
        }
    }

    let per_interface: [(&str, &str, &str, FigureOf); 8] = [
        (
            "ifstatsd_interface_present",
            "1 if the latest sample listed the interface, 0 while it is gone (kept 60 minutes).",
            "gauge",
            |i| Some(f64::from(u8::from(i.present))),
        ),
        (
            "ifstatsd_interface_uptime_seconds",
            "Seconds since the interface last came up, was created or was reset; absent while down.",
            "gauge",
            |i| i.uptime_seconds,
        ),
        (
            "ifstatsd_interface_up_since_timestamp_seconds",
            "When the interface last came up, was created or was reset, in seconds since the \
             epoch; absent while down. Survives a restart with the state file.",
            "gauge",
            |i| i.up_since.map(|t| epoch_seconds(t.0)),
        ),
        (
            "ifstatsd_interface_resets_total",
            "Times the interface's counters started again from zero.",
            "counter",
            |i| Some(i.events.resets as f64),
        ),
        (
            "ifstatsd_interface_wraps_total",
            "Counters of the interface seen wrapping at 2^32.",
            "counter",
            |i| Some(i.events.wraps as f64),
        ),
        (
            "ifstatsd_interface_glitches_total",
            "Single lower reads of the interface's counters, ignored (no reset, no rate spike).",
            "counter",
            |i| Some(i.events.glitches as f64),
        ),
        (
            "ifstatsd_interface_renames_total",
            "Times the interface was renamed, keeping its ifindex and history.",
            "counter",
            |i| Some(i.events.renames as f64),
        ),
        (
            "ifstatsd_interface_ifindex",
            "The interface's ifindex; a change is a reset.",
            "gauge",
            |i| i.ifindex.map(f64::from),
        ),
    ];
    for (name, help, kind, value) in per_interface {
        header(&mut out, name, help, kind);
        for iface in &listed {
            if let Some(v) = value(iface) {
                sample(&mut out, name, &[("device", &iface.interface)], v);
            }
        }
    }

    render_usage(&mut out, view);
    out
}

/// The usage totals of every interface, as `/api/v1/interface/{net_id}/usage` shows them.
fn render_usage(out: &mut String, view: &StatsView) {
    let now = view.updated_at.map_or(std::time::UNIX_EPOCH, |t| t.0);
    let reports: Vec<Report> = view
        .interfaces
        .iter()
        .filter(|i| i.renamed_to.is_none()) // its totals went with it to the new name
        .map(|i| i.usage_report(&view.accounting, now))
        .collect();
    type BytesOf = fn(&Report) -> Option<(u64, u64)>;
    let by_direction: [(&str, &str, BytesOf); 3] = [
        (
            "ifstatsd_usage_today_bytes",
            "Bytes counted today (local time), by direction.",
            |r| {
                r.days
                    .first()
                    .filter(|d| d.date == r.today)
                    .map(|d| (d.rx_bytes, d.tx_bytes))
            },
        ),
        (
            "ifstatsd_usage_month_bytes",
            "Bytes counted this calendar month (local time), by direction.",
            |r| r.months.first().map(|m| (m.rx_bytes, m.tx_bytes)),
        ),
        (
            "ifstatsd_usage_cycle_bytes",
            "Bytes counted in the current billing cycle (--billing-day), by direction.",
            |r| Some((r.cycle.rx_bytes, r.cycle.tx_bytes)),
        ),
    ];
    for (name, help, value) in by_direction {
        header(out, name, help, "gauge");
        for report in &reports {
            let (rx, tx) = value(report).unwrap_or_default();
            for (direction, bytes) in [("receive", rx), ("transmit", tx)] {
                let labels = [("device", &*report.interface), ("direction", direction)];
                sample(out, name, &labels, bytes);
            }
        }
    }
    type TotalOf = fn(&Report) -> Option<u64>;
    let totals: [(&str, &str, TotalOf); 2] = [
        (
            "ifstatsd_usage_cycle_projected_bytes",
            "Received plus sent bytes projected to the end of the billing cycle at its average so far.",
            |r| Some(r.cycle.projected_bytes),
        ),
        (
            "ifstatsd_quota_bytes",
            "The quota per billing cycle on received plus sent bytes (--quota); absent without one.",
            |r| r.cycle.quota_bytes,
        ),
    ];
    for (name, help, value) in totals {
        header(out, name, help, "gauge");
        for report in &reports {
            if let Some(bytes) = value(report) {
                sample(out, name, &[("device", &report.interface)], bytes);
            }
        }
    }
}

/// The rates of `iface` by `window` label.
fn windows_of(iface: &InterfaceStats) -> [(&'static str, &Option<RateView>); 4] {
    let rates = &iface.rates;
    [
        ("current", &rates.current),
        ("1m", &rates.avg_1m),
        ("5m", &rates.avg_5m),
        ("15m", &rates.avg_15m),
    ]
}

/// node_exporter's netclass families, for the interfaces of the latest sample.
fn render_link_state(out: &mut String, present: &[&InterfaceStats]) {
    let info = "node_network_info";
    header(
        out,
        info,
        "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        "gauge",
    );
    let mut address = String::new();
    let mut broadcast = String::new();
    for iface in present {
        let Some(link) = &iface.link else { continue };
        address.clear();
        broadcast.clear();
        if let Some(a) = link.address {
            let _ = write!(address, "{a}");
        }
        if let Some(b) = link.broadcast {
            let _ = write!(broadcast, "{b}");
        }
        let labels = [
            ("address", address.as_str()),
            ("broadcast", &broadcast),
            ("device", &iface.interface),
            ("duplex", link.duplex.map_or("", |d| d.as_str())),
            ("ifalias", link.alias.as_deref().unwrap_or("")),
            ("operstate", iface.oper_state.map_or("", oper_state_name)),
        ];
        sample(out, info, &labels, 1);
    }
    let figures: [(&str, &str, FigureOf); 4] = [
        (
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
            |i| Some(f64::from(u8::from(i.oper_state == Some(OperState::Up)))),
        ),
        (
            "node_network_carrier",
            "Network device property: carrier",
            |i| i.link.as_ref()?.carrier.map(|c| f64::from(u8::from(c))),
        ),
        (
            "node_network_mtu_bytes",
            "Network device property: mtu_bytes",
            |i| i.link.as_ref()?.mtu_bytes.map(f64::from),
        ),
        (
            "node_network_speed_bytes",
            "Network device property: speed_bytes (Mbit/s from sysfs, in bytes per second)",
            |i| {
                i.link
                    .as_ref()?
                    .speed_mbps
                    .map(|mbps| f64::from(mbps) * 125_000.0)
            },
        ),
    ];
    for (name, help, value) in figures {
        header(out, name, help, "gauge");
        for iface in present {
            if let Some(v) = value(iface) {
                sample(out, name, &[("device", &iface.interface)], v);
            }
        }
    }
}

/// The operstate as sysfs spells it.
fn oper_state_name(state: OperState) -> &'static str {
    match state {
        OperState::Unknown => "unknown",
        OperState::NotPresent => "notpresent",
        OperState::Down => "down",
        OperState::LowerLayerDown => "lowerlayerdown",
        OperState::Testing => "testing",
        OperState::Dormant => "dormant",
        OperState::Up => "up",
    }
}

fn epoch_seconds(at: std::time::SystemTime) -> f64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The rest of [`render`], appended to `out`: the daemon's own families, which depend on the
/// time of the request.
pub fn render_daemon(out: &mut String, view: &StatsView, now: Instant, healthy: bool) {
    let collection = &view.collection;
    let age = collection
        .last_success
        .map(|(at, _)| now.saturating_duration_since(at).as_secs_f64());
    let daemon: [(&str, &str, &str, Option<f64>); 8] = [
        (
            "ifstatsd_up",
            "1 while /health is ok, 0 while it is degraded.",
            "gauge",
            Some(f64::from(u8::from(healthy))),
        ),
        (
            "ifstatsd_samples_total",
            "Successful samples.",
            "counter",
            Some(collection.samples_total as f64),
        ),
        (
            "ifstatsd_collection_errors_total",
            "Samples whose source could not be read or had no usable line.",
            "counter",
            Some(collection.collection_errors_total as f64),
        ),
        (
            "ifstatsd_parse_errors_total",
            "Malformed lines skipped.",
            "counter",
            Some(collection.parse_errors_total as f64),
        ),
        (
            "ifstatsd_interfaces_refused_total",
            "New interfaces not tracked because --max-interfaces were already tracked.",
            "counter",
            Some(collection.interfaces_refused_total as f64),
        ),
        (
            "ifstatsd_restarts_total",
            "Seamless restarts in a new process image (the PID stays; nothing is lost).",
            "counter",
            Some(collection.restarts.total as f64),
        ),
        (
            "ifstatsd_last_sample_age_seconds",
            "Seconds since the last successful sample.",
            "gauge",
            age,
        ),
        (
            "ifstatsd_sample_interval_seconds",
            "The configured time between samples.",
            "gauge",
            Some(collection.interval.as_secs_f64()),
        ),
    ];
    for (name, help, kind, value) in daemon {
        header(out, name, help, kind);
        if let Some(v) = value {
            sample(out, name, &[], v);
        }
    }
    header(
        out,
        "ifstatsd_last_restart_timestamp_seconds",
        "When the latest seamless restart happened, and why (absent before any).",
        "gauge",
    );
    if let Some((reason, at)) = collection.restarts.last {
        let seconds = epoch_seconds(at);
        let labels = [("reason", reason.as_str())];
        sample(
            out,
            "ifstatsd_last_restart_timestamp_seconds",
            &labels,
            seconds,
        );
    }
    header(
        out,
        "ifstatsd_build_info",
        "The daemon's version, as a label.",
        "gauge",
    );
    sample(out, "ifstatsd_build_info", &[("version", VERSION)], 1.0);
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    push_escaped(out, help, false);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// One sample line. Counters are written as integers, exact even past 2^53.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, text)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(label);
            out.push_str("=\"");
            push_escaped(out, text, true);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Appends `text` with `\` and newlines (and `"` in label values) escaped, as the format
/// requires. Written straight into `out`: a scrape has thousands of labels.
fn push_escaped(out: &mut String, text: &str, quote: bool) {
    let special = |c: char| c == '\\' || c == '\n' || (quote && c == '"');
    if !text.contains(special) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::snapshot::{Duplex, HwAddr, InterfaceSample, LinkInfo, Sample, Snapshot};
    use crate::stats::Stats;
    use rstest::rstest;
    use std::time::{Duration, SystemTime};

    /// One interface of a test sample: name, rx_bytes, operstate, speed, link state.
    type Seen<'a> = (&'a str, u64, Option<OperState>, Option<u32>, LinkInfo);

    /// A view of one sample of these interfaces.
    fn view_of(interfaces: &[Seen<'_>]) -> StatsView {
        let mut stats = Stats::new("/proc/net/dev", Duration::from_secs(10));
        let interfaces = interfaces
            .iter()
            .map(
                |(name, rx_bytes, oper_state, speed_mbps, link)| InterfaceSample {
                    name: (*name).into(),
                    counters: Counters {
                        rx_bytes: *rx_bytes,
                        ..Counters::default()
                    },
                    ifindex: None,
                    oper_state: *oper_state,
                    speed_mbps: *speed_mbps,
                    link: link.clone(),
                },
            )
            .collect();
        stats.apply(Sample {
            taken_at: Instant::now(),
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            result: Ok(Snapshot {
                interfaces,
                ..Snapshot::default()
            }),
        });
        stats.view()
    }

    fn counters(rx_bytes: u64) -> Counters {
        Counters {
            rx_bytes,
            ..Counters::default()
        }
    }

    #[rstest]
    #[case::in_view_order(&[("lo", 1), ("eth0", 2)], &[(0, 2), (1, 1)])]
    #[case::unknown_names_are_left_out(&[("new0", 9), ("lo", 1)], &[(1, 1)])]
    #[case::the_first_of_a_name_listed_twice(&[("lo", 1), ("eth0", 2), ("lo", 3)], &[(0, 2), (1, 1)])]
    #[case::gone_from_the_file(&[("eth0", 5)], &[(0, 5)])]
    #[case::nothing(&[], &[])]
    fn fresh_counters_follow_the_view(
        #[case] read: &[(&str, u64)],
        #[case] expected: &[(usize, u64)],
    ) {
        let none = LinkInfo::default();
        let view = view_of(&[
            ("eth0", 0, None, None, none.clone()),
            ("lo", 0, None, None, none),
        ]);
        let fresh = fresh_counters(&view, read.iter().map(|&(n, rx)| (n, counters(rx))));
        let got: Vec<(usize, u64)> = fresh.iter().map(|(i, c)| (*i, c.rx_bytes)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn link_state_is_served_as_node_exporter_serves_it() {
        let full = LinkInfo {
            mtu_bytes: Some(1500),
            carrier: Some(true),
            duplex: Some(Duplex::Full),
            address: HwAddr::new(&[2, 0, 0, 0, 0, 0xa]),
            broadcast: HwAddr::new(&[0xff; 6]),
            alias: "up\"link\"".into(),
        };
        let down = LinkInfo {
            mtu_bytes: Some(1400),
            carrier: None,
            duplex: None,
            address: HwAddr::new(&[]),
            ..LinkInfo::default()
        };
        let view = view_of(&[
            ("eth0", 0, Some(OperState::Up), Some(1000), full),
            ("lo", 0, Some(OperState::Unknown), None, LinkInfo::default()),
            ("wg0", 0, Some(OperState::Down), None, down),
        ]);
        let text = render_interfaces(&view);
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("node_network_"))
            .collect();
        assert_eq!(
            lines,
            [
                "node_network_info{address=\"02:00:00:00:00:0a\",broadcast=\"ff:ff:ff:ff:ff:ff\",\
                 device=\"eth0\",duplex=\"full\",ifalias=\"up\\\"link\\\"\",operstate=\"up\"} 1",
                "node_network_info{address=\"\",broadcast=\"\",device=\"lo\",duplex=\"\",\
                 ifalias=\"\",operstate=\"unknown\"} 1",
                "node_network_info{address=\"\",broadcast=\"\",device=\"wg0\",duplex=\"\",\
                 ifalias=\"\",operstate=\"down\"} 1",
                "node_network_up{device=\"eth0\"} 1",
                "node_network_up{device=\"lo\"} 0",
                "node_network_up{device=\"wg0\"} 0",
                "node_network_carrier{device=\"eth0\"} 1",
                "node_network_mtu_bytes{device=\"eth0\"} 1500",
                "node_network_mtu_bytes{device=\"wg0\"} 1400",
                "node_network_speed_bytes{device=\"eth0\"} 125000000",
            ]
        );
    }

    #[test]
    fn the_sixteen_counters_have_node_exporters_names() {
        let view = view_of(&[("eth0", 0, None, None, LinkInfo::default())]);
        let mut all = Counters::default();
        let fields = [
            &mut all.rx_bytes,
            &mut all.rx_packets,
            &mut all.rx_errors,
            &mut all.rx_dropped,
            &mut all.rx_fifo,
            &mut all.rx_frame,
            &mut all.rx_compressed,
            &mut all.rx_multicast,
            &mut all.tx_bytes,
            &mut all.tx_packets,
            &mut all.tx_errors,
            &mut all.tx_dropped,
            &mut all.tx_fifo,
            &mut all.tx_colls,
            &mut all.tx_carrier,
            &mut all.tx_compressed,
        ];
        for (k, field) in fields.into_iter().enumerate() {
            *field = k as u64 + 1; // /proc/net/dev's column order
        }
        let mut text = String::new();
        render_counters(&mut text, &view, &[(0, all)]);
        let values: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(String::from)
            .collect();
        let expected: Vec<String> = [
            "receive_bytes",
            "receive_packets",
            "receive_errs",
            "receive_drop",
            "receive_fifo",
            "receive_frame",
            "receive_compressed",
            "receive_multicast",
            "transmit_bytes",
            "transmit_packets",
            "transmit_errs",
            "transmit_drop",
            "transmit_fifo",
            "transmit_colls",
            "transmit_carrier",
            "transmit_compressed",
        ]
        .iter()
        .enumerate()
        .map(|(k, name)| format!("node_network_{name}_total{{device=\"eth0\"}} {}", k + 1))
        .collect();
        assert_eq!(values, expected);
        assert_eq!(text.matches("# TYPE ").count(), 16);
        assert!(text
            .lines()
            .filter(|l| l.starts_with("# TYPE"))
            .all(|l| l.ends_with(" counter")));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        sample(&mut out, "m", &[("device", "a\"b\\c")], 1.5);
        assert_eq!(out, "m{device=\"a\\\"b\\\\c\"} 1.5\n");
        let mut out = String::new();
        header(&mut out, "m", "two\nlines \"quoted\"", "gauge");
        sample(&mut out, "m", &[("device", "x\ny"), ("window", "1m")], 2);
        assert_eq!(
            out,
            "# HELP m two\\nlines \"quoted\"\n# TYPE m gauge\nm{device=\"x\\ny\",window=\"1m\"} 2\n"
        );
    }

    #[test]
    fn numbers_are_written_exactly() {
        let mut out = String::new();
        sample(&mut out, "a", &[], u64::MAX);
        sample(&mut out, "b", &[], 4_046_496_815.0);
        sample(&mut out, "c", &[], 0.125);
        assert_eq!(out, "a 18446744073709551615\nb 4046496815\nc 0.125\n");
    }
}
