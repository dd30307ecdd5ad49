//! PURE: the view as Prometheus metrics, in the text exposition format 0.0.4.
//!
//! The kernel counters use node_exporter's names and its `device` label, so dashboards built for
//! node_exporter (Grafana's "Node Exporter Full", for one) work unchanged. What only ifstatsd
//! knows has its own `ifstatsd_` prefix: the rates by window, uptime, presence, events, and the
//! daemon's own health.
//!
//! Like node_exporter, the `node_network_*` counters list only the interfaces present in the
//! latest sample: a vanished interface's series ends rather than freezing.
//!
//! # The families
//!
//! - The kernel counters use node_exporter's names and `device` label,
//!   `node_network_{receive,transmit}_{bytes,packets,errs,drop}_total`, so dashboards built for
//!   node_exporter (Grafana's "Node Exporter Full", for one) work unchanged. Like node_exporter,
//!   they list the interfaces present in the latest sample.
//! - What only ifstatsd knows has the `ifstatsd_` prefix: the rates as gauges with a `window`
//!   label (`current`, `1m`, `5m`, `15m`), `ifstatsd_interface_{present,uptime_seconds,ifindex}`,
//!   `ifstatsd_interface_{resets,wraps,glitches,renames}_total`, the share of the link's speed
//!   used as `ifstatsd_{receive,transmit}_utilisation_ratio` with the same `window` label (where
//!   the speed is known: node_exporter's `node_network_speed_bytes` is the speed itself), and the
//!   daemon's own health: `ifstatsd_up`,
//!   `ifstatsd_{samples,collection_errors,parse_errors,interfaces_refused}_total`,
//!   `ifstatsd_last_sample_age_seconds`, `ifstatsd_sample_interval_seconds`, `ifstatsd_build_info`,
//!   and the seamless restarts: `ifstatsd_restarts_total`,
//!   `ifstatsd_last_restart_timestamp_seconds{reason}`.
//!
//! A renamed interface's series continue under its new name; the old name's end, as a vanished
//! interface's do after 60 minutes.
//!
//! `rate(node_network_receive_bytes_total[5m])` works as with node_exporter; ifstatsd's own
//! `ifstatsd_receive_bytes_per_second{window="5m"}` is the same figure computed on the router from
//! every sample, not only the scraped ones.

use std::fmt::Write;
use std::time::Instant;

use crate::stats::usage::Report;
use crate::stats::view::{InterfaceStats, RateView, StatsView};
use crate::VERSION;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Reads a counter of an interface.
type CounterOf = fn(&InterfaceStats) -> u64;
/// Reads a rate.
type RateOf = fn(&RateView) -> f64;
/// Reads a utilisation, where the link's speed is known.
type UtilisationOf = fn(&RateView) -> Option<f64>;
/// Reads a per-interface figure, where it has one.
type FigureOf = fn(&InterfaceStats) -> Option<f64>;

/// The kernel counters: node_exporter's metric suffix, a description, and the counter.
const COUNTERS: [(&str, &str, CounterOf); 8] = [
    ("receive_bytes", "Bytes received", |i| i.counters.rx_bytes),
    ("receive_packets", "Packets received", |i| {
        i.counters.rx_packets
    }),
    ("receive_errs", "Receive errors", |i| i.counters.rx_errors),
    ("receive_drop", "Received packets dropped", |i| {
        i.counters.rx_dropped
    }),
    ("transmit_bytes", "Bytes sent", |i| i.counters.tx_bytes),
    ("transmit_packets", "Packets sent", |i| {
        i.counters.tx_packets
    }),
    ("transmit_errs", "Transmit errors", |i| i.counters.tx_errors),
    ("transmit_drop", "Packets dropped on transmit", |i| {
        i.counters.tx_dropped
    }),
];

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

/// Renders every metric of `view` as of `now`; `healthy` is `/health`'s verdict.
pub fn render(view: &StatsView, now: Instant, healthy: bool) -> String {
    let mut out = render_interfaces(view);
    render_daemon(&mut out, view, now, healthy);
    out
}

/// The part of [`render`] that depends on the view alone: every per-interface family.
pub fn render_interfaces(view: &StatsView) -> String {
    let mut out = String::with_capacity(1024 + view.interfaces.len() * 4096);
    let present: Vec<&InterfaceStats> = view.interfaces.iter().filter(|i| i.present).collect();

    for (suffix, help, value) in COUNTERS {
        let name = format!("node_network_{suffix}_total");
        header(
            &mut out,
            &name,
            &format!("{help}, from /proc/net/dev."),
            "counter",
        );
        for iface in &present {
            sample(
                &mut out,
                &name,
                &[("device", &iface.interface)],
                value(iface),
            );
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
            let rates = &iface.rates;
            let windows = [
                ("current", &rates.current),
                ("1m", &rates.avg_1m),
                ("5m", &rates.avg_5m),
                ("15m", &rates.avg_15m),
            ];
            for (window, rate) in windows {
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
            let rates = &iface.rates;
            let windows = [
                ("current", &rates.current),
                ("1m", &rates.avg_1m),
                ("5m", &rates.avg_5m),
                ("15m", &rates.avg_15m),
            ];
            for (window, rate) in windows {
                if let Some(ratio) = rate.as_ref().and_then(value) {
                    let labels = [("device", &*iface.interface), ("window", window)];
                    sample(&mut out, &name, &labels, ratio);
                }
            }
        }
    }

    let per_interface: [(&str, &str, &str, FigureOf); 7] = [
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
        let seconds = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
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
