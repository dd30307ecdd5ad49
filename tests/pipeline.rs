//! Pipeline tests: sequences of `/proc/net/dev` texts go through the real parser and the
//! statistics code into the view and the API's JSON, with a clock the test controls. No threads,
//! no sockets, no sleeps.

use std::time::{Duration, Instant, SystemTime};

use ifstatsd::sample::proc_net_dev::{self, Counters};
use ifstatsd::sample::snapshot::{InterfaceSample, LinkInfo, OperState, Sample, Snapshot};
use ifstatsd::serve::api::{self, Clock};
use ifstatsd::serve::routes::route;
use ifstatsd::stats::slot_ring::ring_capacity;
use ifstatsd::stats::view::{InterfaceStats, RateView, StatsView};
use ifstatsd::stats::Stats;
use serde_json::Value;

const INTERVAL: Duration = Duration::from_secs(10);

/// One interface line in the kernel's current format.
fn line(name: &str, c: [u64; 8]) -> String {
    format!(
        "{name:>6}: {:7} {:7} {:4} {:4}    0     0          0         0 {:8} {:7} {:4} {:4}    0     0       0          0\n",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
    )
}

/// A whole `/proc/net/dev` text.
fn file(interfaces: &[(&str, [u64; 8])]) -> String {
    let mut text = String::from(
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n",
    );
    for (name, counters) in interfaces {
        text.push_str(&line(name, *counters));
    }
    text
}

/// Drives a [`Stats`] with a fake clock: `at(seconds, ...)` applies a sample taken that many
/// seconds after the start.
struct Pipeline {
    stats: Stats,
    t0: Instant,
    wall0: SystemTime,
}

impl Pipeline {
    fn new() -> Self {
        Self::with_interval(INTERVAL)
    }

    fn with_interval(interval: Duration) -> Self {
        Pipeline {
            stats: Stats::new("/proc/net/dev", interval),
            t0: Instant::now(),
            wall0: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        }
    }

    fn apply(&mut self, at_s: f64, result: Result<Snapshot, String>) {
        let offset = Duration::from_secs_f64(at_s);
        self.stats.apply(Sample {
            taken_at: self.t0 + offset,
            wall: self.wall0 + offset,
            result,
        });
    }

    /// A sample parsed from `text`, with no sysfs data.
    fn text(&mut self, at_s: f64, text: &str) {
        let parsed = proc_net_dev::parse(text);
        let interfaces = parsed
            .interfaces
            .into_iter()
            .map(|i| InterfaceSample {
                name: i.name,
                counters: i.counters,
                ifindex: None,
                oper_state: None,
                speed_mbps: None,
                link: LinkInfo::default(),
            })
            .collect();
        self.apply(
            at_s,
            Ok(Snapshot {
                interfaces,
                skipped: parsed.skipped,
                offload: None,
                ..Snapshot::default()
            }),
        );
    }

    /// A sample of one interface with sysfs data.
    fn one(&mut self, at_s: f64, name: &str, c: [u64; 8], ifindex: u32, state: OperState) {
        let sample = InterfaceSample {
            name: name.into(),
            counters: Counters::from_array(c),
            ifindex: Some(ifindex),
            oper_state: Some(state),
            speed_mbps: None,
            link: LinkInfo::default(),
        };
        self.apply(
            at_s,
            Ok(Snapshot {
                interfaces: vec![sample],
                ..Snapshot::default()
            }),
        );
    }

    /// A sample of one interface with its link data (`speed_mbps` from sysfs).
    fn link(&mut self, at_s: f64, name: &str, c: [u64; 8], link: Link) {
        let sample = InterfaceSample {
            name: name.into(),
            counters: Counters::from_array(c),
            ifindex: Some(link.ifindex),
            oper_state: Some(if link.up {
                OperState::Up
            } else {
                OperState::Down
            }),
            speed_mbps: link.speed_mbps,
            link: LinkInfo::default(),
        };
        self.apply(
            at_s,
            Ok(Snapshot {
                interfaces: vec![sample],
                ..Snapshot::default()
            }),
        );
    }

    fn view(&self) -> StatsView {
        self.stats.view()
    }

    fn iface(&self, name: &str) -> InterfaceStats {
        self.view()
            .interface(name)
            .cloned()
            .expect("interface is listed")
    }
}

/// What sysfs or rtnetlink says about a link in one sample.
#[derive(Clone, Copy, Debug)]
struct Link {
    ifindex: u32,
    up: bool,
    speed_mbps: Option<u32>,
}

fn rx(rx_bytes: u64, rx_packets: u64) -> [u64; 8] {
    [rx_bytes, rx_packets, 0, 0, 0, 0, 0, 0]
}

fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{actual} != {expected}"
    );
}

fn window(rate: &Option<RateView>) -> &RateView {
    rate.as_ref().expect("rate is not null")
}

#[test]
fn first_sample_has_counters_but_no_rates() {
    let mut p = Pipeline::new();
    p.text(0.0, &file(&[("eth0", [100, 2, 1, 3, 400, 5, 0, 6])]));
    let eth0 = p.iface("eth0");
    assert_eq!(eth0.counters.to_array(), [100, 2, 1, 3, 400, 5, 0, 6]);
    assert_eq!(eth0.rates.current, None);
    assert_eq!(eth0.rates.avg_1m, None);
    assert_eq!(eth0.rates.avg_15m, None);
    assert!(eth0.present);
    assert!(eth0.uptime_is_lower_bound);
    assert_eq!(eth0.uptime_seconds, Some(0.0));
}

#[test]
fn steady_traffic_gives_exact_rates_in_every_window() {
    let mut p = Pipeline::new();
    // 1250 B/s and 10 packets/s received, 500 B/s sent, for 20 minutes.
    for k in 0..=120u64 {
        let c = [k * 12_500, k * 100, 0, k, k * 5000, k * 40, 0, 0];
        p.text(k as f64 * 10.0, &file(&[("eth0", c)]));
    }
    let eth0 = p.iface("eth0");
    let current = window(&eth0.rates.current);
    assert_eq!(current.window_seconds, 10.0);
    assert_close(current.covered_seconds, 10.0);
    assert_close(current.rx_bytes_per_sec, 1250.0);
    assert_close(current.rx_dropped_per_sec, 0.1);
    for (rate, seconds) in [
        (&eth0.rates.avg_1m, 60.0),
        (&eth0.rates.avg_5m, 300.0),
        (&eth0.rates.avg_15m, 900.0),
    ] {
        let rate = window(rate);
        assert_eq!(rate.window_seconds, seconds);
        assert_close(rate.covered_seconds, seconds);
        assert_close(rate.rx_bytes_per_sec, 1250.0);
        assert_close(rate.rx_packets_per_sec, 10.0);
        assert_close(rate.tx_bytes_per_sec, 500.0);
        assert_close(rate.tx_packets_per_sec, 4.0);
        assert_close(rate.rx_errors_per_sec, 0.0);
    }
    assert_close(eth0.uptime_seconds.unwrap(), 1200.0);
}

#[test]
fn partial_windows_use_what_they_have() {
    let mut p = Pipeline::new();
    p.text(0.0, &file(&[("eth0", rx(0, 0))]));
    p.text(10.0, &file(&[("eth0", rx(3000, 3))]));
    p.text(20.0, &file(&[("eth0", rx(4000, 4))]));
    let eth0 = p.iface("eth0");
    for rate in [&eth0.rates.avg_1m, &eth0.rates.avg_5m, &eth0.rates.avg_15m] {
        let rate = window(rate);
        assert_close(rate.covered_seconds, 20.0);
        assert_close(rate.rx_bytes_per_sec, 200.0);
    }
    assert_close(window(&eth0.rates.current).rx_bytes_per_sec, 100.0);
}

#[test]
fn averages_decay_as_the_window_slides_past_a_burst() {
    let mut p = Pipeline::new();
    p.text(0.0, &file(&[("eth0", rx(0, 0))]));
    p.text(10.0, &file(&[("eth0", rx(60_000, 60))]));
    let mut last_1m = f64::INFINITY;
    for k in 2..=6 {
        p.text(k as f64 * 10.0, &file(&[("eth0", rx(60_000, 60))]));
        let eth0 = p.iface("eth0");
        assert_eq!(window(&eth0.rates.current).rx_bytes_per_sec, 0.0);
        let avg = window(&eth0.rates.avg_1m).rx_bytes_per_sec;
        assert!(avg < last_1m, "the 1-minute average did not fall at {k}");
        last_1m = avg;
    }
    assert_close(last_1m, 1000.0);
    // At 70 s the window reaches back to 5 s: the burst (0-10 s) is out.
    p.text(70.0, &file(&[("eth0", rx(60_000, 60))]));
    assert_eq!(window(&p.iface("eth0").rates.avg_1m).rx_bytes_per_sec, 0.0);
    assert_close(window(&p.iface("eth0").rates.avg_1m).covered_seconds, 60.0);
    // The 5-minute window still holds it: 60000 B over 70 s.
    assert_close(
        window(&p.iface("eth0").rates.avg_5m).rx_bytes_per_sec,
        60_000.0 / 70.0,
    );
}

#[test]
fn irregular_intervals_divide_by_the_real_time() {
    let mut p = Pipeline::new();
    p.text(0.0, &file(&[("eth0", rx(0, 0))]));
    p.text(9.5, &file(&[("eth0", rx(950, 1))]));
    p.text(21.0, &file(&[("eth0", rx(2100, 2))]));
    p.text(30.2, &file(&[("eth0", rx(9000, 3))]));
    let eth0 = p.iface("eth0");
    let current = window(&eth0.rates.current);
    assert_close(current.covered_seconds, 9.2);
    assert_close(current.rx_bytes_per_sec, 6900.0 / 9.2);
    let avg = window(&eth0.rates.avg_1m);
    assert_close(avg.covered_seconds, 30.2);
    assert_close(avg.rx_bytes_per_sec, 9000.0 / 30.2);
}

#[test]
fn a_32_bit_wrap_inside_a_window_is_counted_once() {
    let max = u64::from(u32::MAX);
    let mut p = Pipeline::new();
    p.text(0.0, &file(&[("eth0", rx(max - 19_999, 10))]));
    p.text(10.0, &file(&[("eth0", rx(max - 9_999, 20))]));
    // 10000 bytes more: wraps past 2^32 to 0 after 10000, so the counter reads 0.
    p.text(20.0, &file(&[("eth0", rx(0, 30))]));
    p.text(30.0, &file(&[("eth0", rx(10_000, 40))]));
    let eth0 = p.iface("eth0");
    assert_eq!(eth0.events.wraps, 1);
    assert_eq!(eth0.events.resets, 0);
    assert_eq!(eth0.counters.rx_bytes, 10_000);
    let avg = window(&eth0.rates.avg_1m);
    assert_close(avg.rx_bytes_per_sec, 1000.0);
    assert_close(avg.rx_packets_per_sec, 1.0);
    assert!(eth0.uptime_is_lower_bound, "a wrap is not a restart");
}

#[test]
fn a_reset_inside_a_window_counts_from_zero_and_restarts_uptime() {
    let mut p = Pipeline::new();
    p.text(0.0, &file(&[("eth0", rx(1_000_000, 1000))]));
    p.text(10.0, &file(&[("eth0", rx(1_010_000, 1010))]));
    // The driver was reloaded: both counters start again; 4000 bytes since. The lower read is
    // held for an interval (it could be a glitch) and confirmed by the next one.
    p.text(20.0, &file(&[("eth0", rx(4000, 4))]));
    assert_eq!(p.iface("eth0").rates.current, None, "held");
    p.text(30.0, &file(&[("eth0", rx(8000, 8))]));
    let eth0 = p.iface("eth0");
    assert_eq!(eth0.events.resets, 1);
    assert_eq!(eth0.events.wraps, 0);
    assert_eq!(eth0.events.glitches, 0);
    assert_close(window(&eth0.rates.current).rx_bytes_per_sec, 400.0);
    assert_close(window(&eth0.rates.avg_1m).rx_bytes_per_sec, 18_000.0 / 30.0);
    assert!(!eth0.uptime_is_lower_bound);
    assert_eq!(eth0.uptime_seconds, Some(10.0));
    assert_eq!(
        eth0.up_since,
        Some(ifstatsd::stats::view::Timestamp(
            p.wall0 + Duration::from_secs(20)
        )),
        "the reset is dated from the first lower read"
    );
}

#[test]
fn rates_never_go_negative_whatever_the_counters_do() {
    let mut p = Pipeline::new();
    let sequence: [u64; 9] = [5, 3, u64::MAX, 0, 1 << 40, 7, u64::from(u32::MAX), 2, 2];
    for (k, v) in sequence.iter().enumerate() {
        let c = [*v, v / 2, v % 7, *v, v.rotate_left(3), *v, 0, v / 3];
        p.text(k as f64 * 10.0, &file(&[("eth0", c)]));
        let eth0 = p.iface("eth0");
        for rate in [eth0.rates.current, eth0.rates.avg_1m].iter().flatten() {
            for value in [
                rate.rx_bytes_per_sec,
                rate.rx_packets_per_sec,
                rate.rx_errors_per_sec,
                rate.rx_dropped_per_sec,
                rate.tx_bytes_per_sec,
                rate.tx_packets_per_sec,
                rate.tx_errors_per_sec,
                rate.tx_dropped_per_sec,
            ] {
                assert!(value >= 0.0 && value.is_finite(), "{value} at sample {k}");
            }
        }
    }
}

#[test]
fn an_ifindex_change_is_a_reset_even_when_counters_rose() {
    let mut p = Pipeline::new();
    p.one(0.0, "ppp0", rx(500, 5), 7, OperState::Up);
    p.one(10.0, "ppp0", rx(600, 6), 7, OperState::Up);
    // pppd reconnected: a new ppp0 that already passed 2000 bytes.
    p.one(20.0, "ppp0", rx(2000, 20), 9, OperState::Up);
    let ppp0 = p.iface("ppp0");
    assert_eq!(ppp0.events.resets, 1);
    assert_eq!(ppp0.ifindex, Some(9));
    assert_close(window(&ppp0.rates.current).rx_bytes_per_sec, 200.0);
    assert_eq!(ppp0.uptime_seconds, Some(0.0));
}

#[test]
fn link_down_and_up_restarts_uptime_and_keeps_counting() {
    let mut p = Pipeline::new();
    p.one(0.0, "eth0", rx(0, 0), 2, OperState::Up);
    p.one(10.0, "eth0", rx(1000, 10), 2, OperState::Up);
    assert_eq!(p.iface("eth0").uptime_seconds, Some(10.0));
    p.one(20.0, "eth0", rx(1500, 15), 2, OperState::Down);
    let down = p.iface("eth0");
    assert_eq!(down.oper_state, Some(OperState::Down));
    assert_eq!(down.uptime_seconds, None);
    assert_eq!(down.up_since, None);
    p.one(30.0, "eth0", rx(2500, 25), 2, OperState::Up);
    let up = p.iface("eth0");
    assert_eq!(up.uptime_seconds, Some(0.0));
    assert!(!up.uptime_is_lower_bound);
    assert_eq!(up.events.resets, 0);
    assert_eq!(up.counters.rx_bytes, 2500);
    assert_close(window(&up.rates.avg_1m).rx_bytes_per_sec, 2500.0 / 30.0);
    p.one(40.0, "eth0", rx(2500, 25), 2, OperState::Up);
    assert_eq!(p.iface("eth0").uptime_seconds, Some(10.0));
}

#[test]
fn a_vanished_interface_keeps_its_data_then_is_forgotten() {
    let mut p = Pipeline::new();
    p.text(0.0, &file(&[("lo", rx(0, 0)), ("wg0", rx(100, 1))]));
    p.text(10.0, &file(&[("lo", rx(0, 0)), ("wg0", rx(1100, 11))]));
    p.text(20.0, &file(&[("lo", rx(0, 0))]));
    let wg0 = p.iface("wg0");
    assert!(!wg0.present);
    assert_eq!(wg0.counters.rx_bytes, 1100);
    assert_eq!(wg0.rates.current, None);
    assert_eq!(wg0.uptime_seconds, None);
    // Gone for the last 10 s: 1000 bytes over the 20 s the window covers, not over 10.
    assert_close(window(&wg0.rates.avg_1m).rx_bytes_per_sec, 1000.0 / 20.0);
    assert_close(window(&wg0.rates.avg_1m).covered_seconds, 20.0);
    assert_eq!(
        wg0.updated_at,
        ifstatsd::stats::view::Timestamp(p.wall0 + Duration::from_secs(10))
    );
    // Still listed just under an hour later, sampled all along...
    for k in 3..=360 {
        p.text(10.0 * k as f64, &file(&[("lo", rx(0, 0))]));
    }
    p.text(10.0 + 3599.0, &file(&[("lo", rx(0, 0))]));
    assert!(p.view().interface("wg0").is_some());
    // Its absence counts as covered with no traffic: the windows fall to zero, full.
    let gone = p.iface("wg0");
    let gone = window(&gone.rates.avg_15m);
    assert_eq!(gone.rx_bytes_per_sec, 0.0, "its windows emptied");
    assert_eq!(gone.covered_seconds, 900.0);
    // ...and forgotten after an hour away: the API says 404.
    p.text(10.0 + 3600.0, &file(&[("lo", rx(0, 0))]));
    let view = p.view();
    assert!(view.interface("wg0").is_none());
    let reply = api::handle(
        &route("GET", "/api/v1/interface/wg0/stats"),
        &view,
        Clock {
            started: p.t0,
            now: p.t0,
        },
    );
    assert_eq!(reply.status, 404);
}

#[test]
fn an_interface_hidden_by_a_bad_sample_continues_without_a_reset() {
    let mut p = Pipeline::new();
    p.one(0.0, "eth0", rx(1000, 10), 2, OperState::Up);
    p.one(10.0, "eth0", rx(2000, 20), 2, OperState::Up);
    // A truncated source hid eth0 for one sample.
    p.text(20.0, &file(&[("lo", rx(0, 0))]));
    p.one(30.0, "eth0", rx(4000, 40), 2, OperState::Up);
    let eth0 = p.iface("eth0");
    assert!(eth0.present);
    assert_eq!(eth0.events.resets, 0);
    let current = window(&eth0.rates.current);
    assert_close(current.covered_seconds, 20.0);
    assert_close(current.rx_bytes_per_sec, 100.0);
    assert_eq!(eth0.uptime_seconds, Some(30.0), "uptime was not restarted");
}

#[test]
fn an_interface_re_created_while_away_is_a_reset() {
    let mut p = Pipeline::new();
    p.one(0.0, "veth1", rx(5000, 50), 4, OperState::Up);
    p.text(10.0, &file(&[("lo", rx(0, 0))]));
    p.one(20.0, "veth1", rx(9000, 90), 5, OperState::Up);
    let veth1 = p.iface("veth1");
    assert_eq!(veth1.events.resets, 1);
    // It was absent (no traffic) at 10 s: its new counters fall in the last interval.
    assert_close(window(&veth1.rates.current).rx_bytes_per_sec, 9000.0 / 10.0);
    assert_close(window(&veth1.rates.avg_1m).rx_bytes_per_sec, 9000.0 / 20.0);
    assert_close(window(&veth1.rates.avg_1m).covered_seconds, 20.0);
    assert_eq!(veth1.uptime_seconds, Some(0.0));
}

#[test]
fn absence_the_daemon_did_not_observe_is_not_covered() {
    let mut p = Pipeline::new();
    for k in 0..3 {
        let t = 10.0 * k as f64;
        p.text(
            t,
            &file(&[("lo", rx(0, 0)), ("eth0", rx(1000 * k, 10 * k))]),
        );
    }
    p.text(30.0, &file(&[("lo", rx(0, 0))])); // gone, seen gone
    for t in [40.0, 50.0, 60.0, 70.0, 80.0] {
        p.apply(t, Err("cannot read /proc/net/dev: gone".into()));
    }
    p.text(90.0, &file(&[("lo", rx(0, 0))]));
    let eth0 = p.iface("eth0");
    // 2000 bytes over 0-20 s, absent 20-30 s as seen; 30-90 s unobserved, not covered.
    let five = window(&eth0.rates.avg_5m);
    assert_close(five.covered_seconds, 30.0);
    assert_close(five.rx_bytes_per_sec, 2000.0 / 30.0);
    assert_eq!(
        eth0.rates.avg_1m, None,
        "nothing of the last minute was observed"
    );
    // Observed again from 90 s: the next minute fills with absence.
    p.text(100.0, &file(&[("lo", rx(0, 0))]));
    let eth0 = p.iface("eth0");
    assert_close(window(&eth0.rates.avg_1m).covered_seconds, 10.0);
    assert_close(window(&eth0.rates.avg_1m).rx_bytes_per_sec, 0.0);
    assert_close(window(&eth0.rates.avg_5m).covered_seconds, 40.0);
}

#[test]
fn an_interface_back_unchanged_was_never_gone_and_its_delta_spans_the_gap() {
    let mut p = Pipeline::new();
    p.one(0.0, "eth0", rx(0, 0), 2, OperState::Up);
    p.one(10.0, "eth0", rx(1000, 10), 2, OperState::Up);
    // A garbled read hid it for two samples; while hidden, its averages count no traffic.
    p.text(20.0, &file(&[("lo", rx(0, 0))]));
    p.text(30.0, &file(&[("lo", rx(0, 0))]));
    let hidden = p.iface("eth0");
    assert_close(window(&hidden.rates.avg_1m).rx_bytes_per_sec, 1000.0 / 30.0);
    assert_close(window(&hidden.rates.avg_1m).covered_seconds, 30.0);
    // Back, same ifindex, counters higher: 3000 bytes crossed it in the 30 s since 10 s.
    p.one(40.0, "eth0", rx(4000, 40), 2, OperState::Up);
    let back = p.iface("eth0");
    assert_eq!(back.events.resets, 0);
    assert_close(window(&back.rates.avg_1m).rx_bytes_per_sec, 4000.0 / 40.0);
    assert_close(window(&back.rates.avg_1m).covered_seconds, 40.0);
    assert_close(window(&back.rates.current).rx_bytes_per_sec, 3000.0 / 30.0);
}

#[test]
fn a_new_interface_is_not_a_lower_bound() {
    let mut p = Pipeline::new();
    p.text(0.0, &file(&[("lo", rx(0, 0))]));
    p.text(10.0, &file(&[("lo", rx(0, 0)), ("tun0", rx(10, 1))]));
    let tun0 = p.iface("tun0");
    assert!(!tun0.uptime_is_lower_bound);
    assert_eq!(tun0.rates.current, None, "one sample: no interval yet");
    assert!(p.iface("lo").uptime_is_lower_bound);
}

#[test]
fn failed_and_malformed_samples_are_counted_and_reported() {
    let mut p = Pipeline::new();
    p.text(0.0, &file(&[("eth0", rx(0, 0))]));
    p.apply(10.0, Err("cannot read /proc/net/dev: gone".into()));
    let view = p.view();
    assert_eq!(view.collection.collection_errors_total, 1);
    assert_eq!(view.collection.samples_total, 1);
    assert_eq!(
        view.collection.last_error.as_deref(),
        Some("cannot read /proc/net/dev: gone")
    );
    let mut text = file(&[("eth0", rx(1000, 1))]);
    text.push_str("  eth1: 1 2 3\n   bad\n");
    p.text(20.0, &text);
    let view = p.view();
    assert_eq!(view.collection.samples_total, 2);
    assert_eq!(view.collection.parse_errors_total, 2);
    assert_eq!(
        view.collection.last_error.as_deref(),
        Some("skipped line 4: expected 16 counters, found 3 (and 1 more)")
    );
    // The gap left by the failed sample is one 20-second interval.
    assert_close(window(&p.iface("eth0").rates.current).covered_seconds, 20.0);
    p.text(30.0, &file(&[("eth0", rx(1000, 1))]));
    assert_eq!(p.view().collection.last_error, None);
}

#[test]
fn a_name_listed_twice_keeps_the_first_line() {
    let mut p = Pipeline::new();
    p.text(0.0, &file(&[("eth0", rx(10, 1)), ("eth0", rx(99, 9))]));
    p.text(10.0, &file(&[("eth0", rx(20, 2)), ("eth0", rx(5, 1))]));
    let eth0 = p.iface("eth0");
    assert_eq!(eth0.counters.rx_bytes, 20);
    assert_eq!(eth0.events.resets, 0);
    assert_eq!(p.view().interfaces.len(), 1);
}

#[test]
fn a_sample_older_than_the_last_is_ignored() {
    let mut p = Pipeline::new();
    p.text(10.0, &file(&[("eth0", rx(100, 1))]));
    p.text(5.0, &file(&[("eth0", rx(50, 1))]));
    assert_eq!(p.iface("eth0").counters.rx_bytes, 100);
    assert_eq!(p.view().collection.samples_total, 1);
}

#[test]
fn rings_hold_an_hour_and_stop_growing() {
    assert_eq!(ring_capacity(Duration::from_secs(10)), 361);
    assert_eq!(ring_capacity(Duration::from_millis(100)), 36_001);
    assert_eq!(ring_capacity(Duration::from_secs(7)), 516);
    assert_eq!(ring_capacity(Duration::from_secs(15 * 60)), 5);
    // Two hours at 1 s: the 15-minute average is still exact after the ring wrapped twice.
    let mut p = Pipeline::with_interval(Duration::from_secs(1));
    for k in 0..=7200u64 {
        p.text(k as f64, &file(&[("eth0", rx(k * 300, k))]));
    }
    let avg = p.iface("eth0").rates.avg_15m.unwrap();
    assert_close(avg.covered_seconds, 900.0);
    assert_close(avg.rx_bytes_per_sec, 300.0);
}

#[test]
fn the_api_serves_the_view_as_json() {
    let mut p = Pipeline::new();
    p.text(0.0, &file(&[("eth0", rx(0, 0)), ("lo", rx(0, 0))]));
    p.text(10.0, &file(&[("eth0", rx(5000, 5)), ("lo", rx(0, 0))]));
    let view = p.view();
    let clock = Clock {
        started: p.t0,
        now: p.t0 + Duration::from_secs(11),
    };
    let reply = api::handle(&route("GET", "/api/v1/interface/eth0/stats"), &view, clock);
    assert_eq!(reply.status, 200);
    let json: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(json["interface"], "eth0");
    assert_eq!(json["updated_at"], "2027-01-15T08:00:10.000Z");
    assert_eq!(json["counters"]["rx_bytes"], 5000);
    assert_eq!(json["rates"]["current"]["rx_bytes_per_sec"], 500.0);
    assert_eq!(json["rates"]["avg_1m"]["window_seconds"], 60.0);
    assert_eq!(json["oper_state"], Value::Null);

    let list: Value = serde_json::from_slice(
        &api::handle(&route("GET", "/api/v1/interfaces"), &view, clock).body,
    )
    .unwrap();
    let names: Vec<&str> = list["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["interface"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["eth0", "lo"]);

    let health = api::handle(&route("GET", "/health"), &view, clock);
    assert_eq!(health.status, 200);
    let health: Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["samples_total"], 2);
    assert_eq!(health["interfaces"], 2);
    assert_eq!(health["last_sample_age_seconds"], 1.0);
    assert_eq!(health["uptime_seconds"], 11.0);

    // Three intervals without a successful sample: degraded.
    let late = Clock {
        started: p.t0,
        now: p.t0 + Duration::from_secs(41),
    };
    let degraded = api::handle(&route("GET", "/health"), &view, late);
    assert_eq!(degraded.status, 503);
    let degraded: Value = serde_json::from_slice(&degraded.body).unwrap();
    assert_eq!(degraded["status"], "degraded");
}

#[test]
fn past_max_interfaces_new_ones_are_refused_and_counted_once() {
    let mut p = Pipeline::new();
    p.stats.set_max_interfaces(2);
    let four = |k: u64| {
        file(&[
            ("lo", rx(k, k)),
            ("eth0", rx(k, k)),
            ("veth1", rx(k, k)),
            ("veth2", rx(k, k)),
        ])
    };
    p.text(0.0, &four(0));
    p.text(10.0, &four(1));
    let view = p.view();
    let names: Vec<&str> = view.interfaces.iter().map(|i| &*i.interface).collect();
    assert_eq!(
        names,
        ["eth0", "lo"],
        "the first two in the file are tracked"
    );
    assert_eq!(
        view.collection.interfaces_refused_total, 2,
        "each refused once"
    );
    // veth1 goes away and comes back: refused again, counted again.
    p.text(
        20.0,
        &file(&[("lo", rx(2, 2)), ("eth0", rx(2, 2)), ("veth2", rx(2, 2))]),
    );
    p.text(30.0, &four(3));
    assert_eq!(p.view().collection.interfaces_refused_total, 3);
    // A tracked interface gone for an hour is forgotten, which makes room.
    for k in 4..=370u64 {
        p.text(
            k as f64 * 10.0,
            &file(&[("lo", rx(k, k)), ("veth2", rx(k, k))]),
        );
    }
    let view = p.view();
    let names: Vec<&str> = view.interfaces.iter().map(|i| &*i.interface).collect();
    assert_eq!(names, ["lo", "veth2"]);
}

// Issue 17: glitches, implausible wraps, renames and utilisation, from scripted sources.

const MAX32: u64 = u32::MAX as u64;
const UP: Link = Link {
    ifindex: 2,
    up: true,
    speed_mbps: None,
};
const UP_100M: Link = Link {
    speed_mbps: Some(100),
    ..UP
};
const DOWN: Link = Link { up: false, ..UP };
const RE_CREATED: Link = Link { ifindex: 3, ..UP };

/// What a script of reads 10 s apart must end with: the events, the last counters shown, the
/// 1-minute average and the current rate of received bytes.
#[derive(Debug)]
struct Outcome {
    resets: u64,
    wraps: u64,
    glitches: u64,
    rx_bytes: u64,
    avg_1m_rx: f64,
    current_rx: f64,
}

#[rstest::rstest]
// The issue's measurement: a counter at 5x10^8 bytes read once as 0, then as before, on an
// interface moving 1000 B/s. Before: a 4.3 GB phantom wrap and an avg_1m of 390 MB/s.
#[case::issue_counter_read_once_as_zero(
    &[(500_000_000, 1000, UP), (500_010_000, 1010, UP), (0, 1020, UP), (500_030_000, 1030, UP), (500_040_000, 1040, UP)],
    Outcome { resets: 0, wraps: 0, glitches: 1, rx_bytes: 500_040_000, avg_1m_rx: 1000.0, current_rx: 1000.0 })]
#[case::every_counter_read_once_as_zero(
    &[(500_000_000, 1000, UP), (500_010_000, 1010, UP), (0, 0, UP), (500_030_000, 1030, UP)],
    Outcome { resets: 0, wraps: 0, glitches: 1, rx_bytes: 500_030_000, avg_1m_rx: 1000.0, current_rx: 1000.0 })]
#[case::a_lower_read_confirmed_is_a_reset(
    &[(1_000_000, 1000, UP), (1_010_000, 1010, UP), (4000, 4, UP), (8000, 8, UP)],
    Outcome { resets: 1, wraps: 0, glitches: 0, rx_bytes: 8000, avg_1m_rx: 18_000.0 / 30.0, current_rx: 400.0 })]
#[case::a_reset_then_another(
    &[(1000, 10, UP), (2000, 20, UP), (1500, 15, UP), (1200, 12, UP), (1300, 13, UP)],
    Outcome { resets: 2, wraps: 0, glitches: 0, rx_bytes: 1300, avg_1m_rx: 3800.0 / 40.0, current_rx: 10.0 })]
#[case::a_glitch_then_a_wrap_held_and_confirmed(
    &[(MAX32 - 19_999, 10, UP), (5, 0, UP), (MAX32 - 9_999, 20, UP), (0, 30, UP), (10_000, 40, UP)],
    Outcome { resets: 0, wraps: 1, glitches: 1, rx_bytes: 10_000, avg_1m_rx: 30_000.0 / 40.0, current_rx: 1000.0 })]
#[case::re_created_while_a_lower_read_is_held(
    &[(1_000_000, 1000, UP), (1_010_000, 1010, UP), (4000, 4, UP), (8000, 8, RE_CREATED)],
    Outcome { resets: 2, wraps: 0, glitches: 0, rx_bytes: 8000, avg_1m_rx: 22_000.0 / 30.0, current_rx: 800.0 })]
#[case::a_lower_read_on_a_link_going_down_is_a_reset_at_once(
    &[(1_000_000, 1000, UP), (1_010_000, 1010, UP), (4000, 4, DOWN), (8000, 8, UP)],
    Outcome { resets: 1, wraps: 0, glitches: 0, rx_bytes: 8000, avg_1m_rx: 18_000.0 / 30.0, current_rx: 400.0 })]
#[case::a_new_ifindex_is_a_reset_at_once(
    &[(1_000_000, 1000, UP), (1_010_000, 1010, UP), (4000, 4, RE_CREATED), (8000, 8, RE_CREATED)],
    Outcome { resets: 1, wraps: 0, glitches: 0, rx_bytes: 8000, avg_1m_rx: 18_000.0 / 30.0, current_rx: 400.0 })]
// The issue's other measurement: 100 Mbit/s, a byte counter from 4x10^9 to 10. A wrap would be
// 295 MB in 10 s; the link carries at most 187.5 MB with the margin: a reset. Before: counted
// as a wrap, avg_1m 42 MB/s.
#[case::issue_implausible_wrap_at_100_mbit(
    &[(3_999_990_000, 100, UP_100M), (4_000_000_000, 110, UP_100M), (10, 120, UP_100M), (10_010, 130, UP_100M)],
    Outcome { resets: 1, wraps: 0, glitches: 0, rx_bytes: 10_010, avg_1m_rx: 20_010.0 / 30.0, current_rx: 1000.0 })]
#[case::the_same_drop_at_unknown_speed_is_a_wrap(
    &[(3_999_990_000, 100, UP), (4_000_000_000, 110, UP), (10, 120, UP), (10_010, 130, UP)],
    Outcome { resets: 0, wraps: 1, glitches: 0, rx_bytes: 10_010, avg_1m_rx: 294_987_306.0 / 30.0, current_rx: 1000.0 })]
#[case::a_plausible_wrap_at_100_mbit(
    &[((1 << 32) - 150_000_000, 100, UP_100M), ((1 << 32) - 50_000_000, 200, UP_100M), (50_000_000, 300, UP_100M), (150_000_000, 400, UP_100M)],
    Outcome { resets: 0, wraps: 1, glitches: 0, rx_bytes: 150_000_000, avg_1m_rx: 10_000_000.0, current_rx: 10_000_000.0 })]
fn scripted_counters_give_exact_events_and_rates(
    #[case] script: &[(u64, u64, Link)],
    #[case] expected: Outcome,
) {
    let mut p = Pipeline::new();
    for (k, &(bytes, packets, link)) in script.iter().enumerate() {
        p.link(k as f64 * 10.0, "eth0", rx(bytes, packets), link);
    }
    let eth0 = p.iface("eth0");
    let got = (eth0.events.resets, eth0.events.wraps, eth0.events.glitches);
    assert_eq!(
        got,
        (expected.resets, expected.wraps, expected.glitches),
        "resets, wraps, glitches"
    );
    assert_eq!(eth0.events.renames, 0);
    assert_eq!(eth0.counters.rx_bytes, expected.rx_bytes);
    assert_close(
        window(&eth0.rates.avg_1m).rx_bytes_per_sec,
        expected.avg_1m_rx,
    );
    assert_close(
        window(&eth0.rates.current).rx_bytes_per_sec,
        expected.current_rx,
    );
}

#[test]
fn a_held_read_shows_the_last_good_one_and_no_current_rate() {
    let mut p = Pipeline::new();
    p.link(0.0, "eth0", rx(500_000_000, 1000), UP);
    p.link(10.0, "eth0", rx(500_010_000, 1010), UP);
    p.link(20.0, "eth0", rx(0, 1020), UP);
    let held = p.iface("eth0");
    assert!(held.present);
    assert_eq!(
        held.rates.current, None,
        "the held interval has no current rate"
    );
    assert_eq!(held.counters.rx_bytes, 500_010_000, "the last good read");
    assert_close(window(&held.rates.avg_1m).rx_bytes_per_sec, 1000.0);
    assert_eq!(held.events.glitches, 0, "not known yet");
    p.link(30.0, "eth0", rx(500_030_000, 1030), UP);
    let after = p.iface("eth0");
    let current = window(&after.rates.current);
    assert_eq!(
        current.covered_seconds, 20.0,
        "the two intervals around the glitch"
    );
    assert_close(current.rx_bytes_per_sec, 1000.0);
    assert_eq!(after.events.glitches, 1);
}

#[test]
fn a_held_read_of_an_interface_that_vanishes_is_its_last() {
    let mut p = Pipeline::new();
    p.link(0.0, "eth0", rx(1000, 10), UP);
    p.link(10.0, "eth0", rx(2000, 20), UP);
    p.link(20.0, "eth0", rx(500, 5), UP);
    p.link(30.0, "other", rx(1, 1), Link { ifindex: 9, ..UP });
    let eth0 = p.iface("eth0");
    assert!(!eth0.present);
    assert_eq!(eth0.events.resets, 1);
    assert_eq!(eth0.counters.rx_bytes, 500);
}

#[test]
fn a_renamed_interface_keeps_its_history_under_the_new_name() {
    let mut p = Pipeline::new();
    let eth1 = Link {
        ifindex: 5,
        ..UP_100M
    };
    p.link(0.0, "eth1", rx(1000, 10), eth1);
    p.link(10.0, "eth1", rx(2000, 20), eth1);
    // ip link set eth1 name wan: same ifindex, same counters going on.
    p.link(20.0, "wan", rx(3000, 30), eth1);
    let wan = p.iface("wan");
    assert!(wan.present);
    assert_eq!(wan.renamed_from.as_deref(), Some("eth1"));
    assert_eq!(wan.renamed_to, None);
    assert_eq!(wan.events.renames, 1);
    assert_eq!(wan.events.resets, 0);
    assert_eq!(wan.uptime_seconds, Some(20.0), "the uptime follows");
    assert!(wan.uptime_is_lower_bound);
    assert_close(window(&wan.rates.current).rx_bytes_per_sec, 100.0);
    let avg = window(&wan.rates.avg_1m);
    assert_eq!(avg.covered_seconds, 20.0, "the ring follows");
    assert_close(avg.rx_bytes_per_sec, 100.0);
    let old = p.iface("eth1");
    assert!(!old.present);
    assert_eq!(old.renamed_to.as_deref(), Some("wan"));
    assert_eq!(old.rates.avg_1m, None, "no data of its own");
    assert_eq!(old.events.renames, 0);
    assert_eq!(old.link_speed_bits_per_sec, None);

    // And back: the name left behind is taken by the same interface again.
    p.link(30.0, "eth1", rx(4000, 40), eth1);
    let back = p.iface("eth1");
    assert!(back.present);
    assert_eq!(back.renamed_from.as_deref(), Some("wan"));
    assert_eq!(back.renamed_to, None);
    assert_eq!(back.events.renames, 2);
    assert_eq!(window(&back.rates.avg_1m).covered_seconds, 30.0);
    assert_eq!(p.iface("wan").renamed_to.as_deref(), Some("eth1"));
    let metrics = ifstatsd::serve::metrics::render_interfaces(&p.view());
    assert!(
        metrics.contains("ifstatsd_interface_renames_total{device=\"eth1\"} 2\n"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("device=\"wan\""),
        "the old name's series end"
    );

    // A new interface (another ifindex) under a name left behind is new, not renamed.
    p.stats.apply(Sample {
        taken_at: p.t0 + Duration::from_secs(40),
        wall: p.wall0 + Duration::from_secs(40),
        result: Ok(Snapshot {
            interfaces: vec![
                sample_of("eth1", rx(5000, 50), eth1),
                sample_of("wan", rx(7, 1), Link { ifindex: 8, ..UP }),
            ],
            ..Snapshot::default()
        }),
    });
    let wan = p.iface("wan");
    assert!(wan.present);
    assert_eq!((wan.renamed_from, wan.renamed_to), (None, None));
    assert_eq!(wan.events.renames, 0);
    assert_eq!(wan.counters.rx_bytes, 7);

    // An hour later, the rename is forgotten on both sides.
    for k in 1..=361u32 {
        let at = 40.0 + f64::from(k) * 10.0;
        p.link(at, "eth1", rx(5000 + u64::from(k), 50), eth1);
    }
    assert_eq!(p.iface("eth1").renamed_from, None);
    assert_eq!(p.iface("eth1").events.renames, 2);
}

#[test]
fn a_rename_onto_a_name_remembered_from_a_gone_interface_takes_it_over() {
    let mut p = Pipeline::new();
    let ppp = Link { ifindex: 4, ..UP };
    let eth1 = Link { ifindex: 5, ..UP };
    let both = |p: &mut Pipeline,
                at: u64,
                a: (&str, [u64; 8], Link),
                b: Option<(&str, [u64; 8], Link)>| {
        let mut interfaces = vec![sample_of(a.0, a.1, a.2)];
        interfaces.extend(b.map(|b| sample_of(b.0, b.1, b.2)));
        p.stats.apply(Sample {
            taken_at: p.t0 + Duration::from_secs(at),
            wall: p.wall0 + Duration::from_secs(at),
            result: Ok(Snapshot {
                interfaces,
                ..Snapshot::default()
            }),
        });
    };
    both(
        &mut p,
        0,
        ("eth1", rx(1000, 10), eth1),
        Some(("wan", rx(50, 1), ppp)),
    );
    both(
        &mut p,
        10,
        ("eth1", rx(2000, 20), eth1),
        Some(("wan", rx(60, 2), ppp)),
    );
    // The old wan went away; eth1 is renamed wan while the old one is still remembered.
    both(&mut p, 20, ("eth1", rx(3000, 30), eth1), None);
    both(&mut p, 30, ("wan", rx(4000, 40), eth1), None);
    let wan = p.iface("wan");
    assert_eq!(wan.ifindex, Some(5));
    assert_eq!(wan.renamed_from.as_deref(), Some("eth1"));
    assert_eq!((wan.events.renames, wan.events.resets), (1, 0));
    assert_close(window(&wan.rates.avg_1m).rx_bytes_per_sec, 3000.0 / 30.0);
    assert_eq!(p.iface("eth1").renamed_to.as_deref(), Some("wan"));
}

fn sample_of(name: &str, c: [u64; 8], link: Link) -> InterfaceSample {
    InterfaceSample {
        name: name.into(),
        counters: Counters::from_array(c),
        ifindex: Some(link.ifindex),
        oper_state: Some(OperState::Up),
        speed_mbps: link.speed_mbps,
        link: LinkInfo::default(),
    }
}

#[test]
fn utilisation_is_the_rate_over_the_link_speed() {
    let mut p = Pipeline::new();
    p.stats.set_link_speeds(vec![("wan".into(), 20_000_000)]);
    // 1 250 000 B/s received is 10 Mbit/s; 125 000 B/s sent is 1 Mbit/s.
    for k in 0..4u64 {
        let c = [k * 12_500_000, k, 0, 0, k * 1_250_000, k, 0, 0];
        let at = k as f64 * 10.0;
        p.stats.apply(Sample {
            taken_at: p.t0 + Duration::from_secs(k * 10),
            wall: p.wall0 + Duration::from_secs(k * 10),
            result: Ok(Snapshot {
                interfaces: vec![
                    sample_of("eth0", c, UP_100M),
                    sample_of(
                        "wan",
                        c,
                        Link {
                            ifindex: 3,
                            ..UP_100M
                        },
                    ),
                    sample_of("wlan0", c, Link { ifindex: 4, ..UP }),
                ],
                ..Snapshot::default()
            }),
        });
        let _ = at;
    }
    let eth0 = p.iface("eth0");
    assert_eq!(eth0.link_speed_bits_per_sec, Some(100_000_000));
    for rate in [&eth0.rates.current, &eth0.rates.avg_1m] {
        assert_close(window(rate).rx_utilisation.unwrap(), 0.1);
        assert_close(window(rate).tx_utilisation.unwrap(), 0.01);
    }
    let wan = p.iface("wan");
    assert_eq!(
        wan.link_speed_bits_per_sec,
        Some(20_000_000),
        "--link-speed wins"
    );
    assert_close(window(&wan.rates.avg_5m).rx_utilisation.unwrap(), 0.5);
    let wlan0 = p.iface("wlan0");
    assert_eq!(wlan0.link_speed_bits_per_sec, None);
    assert_eq!(window(&wlan0.rates.current).rx_utilisation, None);
    let json = serde_json::to_value(&wlan0).unwrap();
    assert_eq!(json["link_speed_bits_per_sec"], Value::Null);
    assert_eq!(json["rates"]["avg_1m"]["tx_utilisation"], Value::Null);
    assert_eq!(json["renamed_from"], Value::Null);
    assert_eq!(json["events"]["glitches"], 0);

    let metrics = ifstatsd::serve::metrics::render_interfaces(&p.view());
    for line in [
        "ifstatsd_receive_utilisation_ratio{device=\"eth0\",window=\"1m\"} 0.1\n",
        "ifstatsd_transmit_utilisation_ratio{device=\"eth0\",window=\"current\"} 0.01\n",
        "ifstatsd_receive_utilisation_ratio{device=\"wan\",window=\"15m\"} 0.5\n",
        "ifstatsd_interface_glitches_total{device=\"eth0\"} 0\n",
        "ifstatsd_interface_renames_total{device=\"wan\"} 0\n",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
    assert!(!metrics.contains("utilisation_ratio{device=\"wlan0\""));
}

/// The usage totals come from the same deltas as the rates: a counter reset, an interface
/// re-created under its name (new ifindex), and its return after an absence each add only their
/// new traffic, and the day is the UTC day of each sample (the default zone).
#[test]
fn usage_totals_count_resets_and_re_created_interfaces_once() {
    let mut p = Pipeline::new();
    // 2027-01-01 is day 20819: start 20 s before midnight UTC.
    p.wall0 = SystemTime::UNIX_EPOCH + Duration::from_secs(20_819 * 86_400 - 20);
    let c = |rx_bytes: u64, tx_bytes: u64| [rx_bytes, rx_bytes / 10, 0, 0, tx_bytes, 1, 0, 0];
    p.one(0.0, "wan", c(5_000, 700), 4, OperState::Up); // first sight: not counted
    p.one(10.0, "wan", c(6_000, 800), 4, OperState::Up); // 1000 / 100 on 2026-12-31
    p.one(20.0, "wan", c(300, 50), 4, OperState::Up); // reset at midnight: 300 / 50 on 2027-01-01
    p.one(30.0, "wan", c(900, 90), 9, OperState::Up); // re-created: 900 / 90 more
    p.one(40.0, "wan", c(1_000, 100), 9, OperState::Up); // 100 / 10 more
    let wan = p.iface("wan");
    assert_eq!(wan.events.resets, 2);
    let view = p.view();
    let report = wan.usage_report(&view.accounting, view.updated_at.unwrap().0);
    let days: Vec<(&str, u64, u64)> = report
        .days
        .iter()
        .map(|d| (d.date.as_str(), d.rx_bytes, d.tx_bytes))
        .collect();
    assert_eq!(days, [("2027-01-01", 1300, 150), ("2026-12-31", 1000, 100)]);
    let months: Vec<(&str, u64)> = report
        .months
        .iter()
        .map(|m| (m.month.as_str(), m.rx_bytes + m.tx_bytes))
        .collect();
    assert_eq!(months, [("2027-01", 1450), ("2026-12", 1100)]);
    assert_eq!(report.cycle.start, "2027-01-01");
    assert_eq!(report.cycle.total_bytes, 1450);
    // The JSON the route serves is this report.
    let reply = api::handle(
        &route("GET", "/api/v1/interface/wan/usage"),
        &view,
        Clock {
            started: p.t0,
            now: p.t0 + Duration::from_secs(41),
        },
    );
    assert_eq!(reply.status, 200);
    let json: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(json, serde_json::to_value(&report).unwrap());
    assert_eq!(json["time_zone"], "UTC");
    assert_eq!(json["time_zone_source"], "default");
}

/// An interface gone for more than an hour is forgotten, but not its usage totals: `/usage` still
/// answers, the state file keeps them, and they go on when the interface comes back.
#[test]
fn usage_totals_outlive_an_interface_gone_for_an_hour() {
    let mut p = Pipeline::new();
    let c = |rx_bytes: u64| [rx_bytes, rx_bytes / 10, 0, 0, 2 * rx_bytes, 1, 0, 0];
    p.one(0.0, "wwan0", c(1_000), 5, OperState::Up);
    p.one(10.0, "wwan0", c(4_000), 5, OperState::Up); // 3000 in, 6000 out
    let usage = |view: &StatsView| {
        let report = view.usage_report("wwan0").expect("totals kept");
        (report.cycle.rx_bytes, report.cycle.tx_bytes)
    };
    // Gone: another interface's samples go on for an hour and a minute.
    for k in 2..=370 {
        p.one(10.0 * k as f64, "lo", c(0), 1, OperState::Unknown);
    }
    let view = p.view();
    assert!(view.interface("wwan0").is_none(), "forgotten after an hour");
    assert_eq!(usage(&view), (3_000, 6_000));
    let clock = Clock {
        started: p.t0,
        now: p.t0 + Duration::from_secs(3_701),
    };
    let stats = api::handle(&route("GET", "/api/v1/interface/wwan0/stats"), &view, clock);
    assert_eq!(stats.status, 404);
    let served = api::handle(&route("GET", "/api/v1/interface/wwan0/usage"), &view, clock);
    assert_eq!(served.status, 200);
    let unknown = api::handle(&route("GET", "/api/v1/interface/wan9/usage"), &view, clock);
    assert_eq!(unknown.status, 404);

    // Saved and restored: still kept.
    let now = p.t0 + Duration::from_secs(3_701);
    let state = p
        .stats
        .export(now, p.wall0 + Duration::from_secs(3_701), "boot");
    let mut restored = Stats::new("/proc/net/dev", INTERVAL);
    restored.restore(state, now, p.wall0, Duration::ZERO, true);
    assert_eq!(usage(&restored.view()), (3_000, 6_000));
    assert!(restored.view().interface("wwan0").is_none());

    // Back, re-created (a new ifindex, counting from zero): everything it counted since is new.
    p.one(3_710.0, "wwan0", c(100), 6, OperState::Up);
    p.one(3_720.0, "wwan0", c(600), 6, OperState::Up);
    assert_eq!(usage(&p.view()), (3_000 + 600, 6_000 + 1_200));
    assert!(p.view().dormant.is_empty());
}
