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
                skipped: vec![],
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
    // The driver was reloaded: both counters start again; 4000 bytes since.
    p.text(20.0, &file(&[("eth0", rx(4000, 4))]));
    let eth0 = p.iface("eth0");
    assert_eq!(eth0.events.resets, 1);
    assert_eq!(eth0.events.wraps, 0);
    assert_close(window(&eth0.rates.current).rx_bytes_per_sec, 400.0);
    assert_close(window(&eth0.rates.avg_1m).rx_bytes_per_sec, 14_000.0 / 20.0);
    assert!(!eth0.uptime_is_lower_bound);
    assert_eq!(eth0.uptime_seconds, Some(0.0));
    assert_eq!(
        eth0.up_since,
        Some(ifstatsd::stats::view::Timestamp(
            p.wall0 + Duration::from_secs(20)
        ))
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
