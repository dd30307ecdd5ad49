//! End to end: the real binary samples a source file that this test rewrites as traffic flows at
//! known rates, and the rates it serves over HTTP are checked against the rates written.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{counters_of, net_dev, s, wait_until, write_atomically, Daemon, TempDir};

const RX_BYTES_PER_SEC: f64 = 250_000.0;
const RX_PACKETS_PER_SEC: f64 = 200.0;
const TX_BYTES_PER_SEC: f64 = 40_000.0;
/// rx_bytes starts this far below 2^32 and is written modulo 2^32, as a 32-bit kernel's
/// driver counter would be: it wraps about two seconds in.
const RX_START: u64 = (1 << 32) - 500_000;

/// The counters the writer puts in the file `seconds` after traffic started.
fn counters_at(seconds: f64) -> [u64; 8] {
    let rx_bytes = (RX_START + (RX_BYTES_PER_SEC * seconds) as u64) % (1 << 32);
    let rx_packets = (RX_PACKETS_PER_SEC * seconds) as u64;
    let tx_bytes = 1_000_000 + (TX_BYTES_PER_SEC * seconds) as u64;
    [rx_bytes, rx_packets, 3, 0, tx_bytes, rx_packets / 2, 0, 7]
}

fn write_source(path: &std::path::Path, eth0: [u64; 8]) {
    write_atomically(path, net_dev(&[("lo", [0; 8]), ("eth0", eth0)]));
}

fn f(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

#[test]
fn served_rates_match_the_traffic_written() {
    let dir = TempDir::new("e2e-rates");
    let source = dir.path("net_dev");
    write_source(&source, counters_at(0.0));
    let sysfs = dir.path("sysfs");
    std::fs::create_dir(&sysfs).unwrap();
    let args = [
        "--interval",
        "200ms",
        "--source",
        s(&source),
        "--sysfs",
        s(&sysfs),
    ];
    let daemon = Daemon::start(&args);
    let eth0 = || daemon.json("/api/v1/interface/eth0/stats");

    // Traffic flows: the file follows the counters' clock every 5 ms, for 6 seconds.
    let writing = Arc::new(AtomicBool::new(true));
    let writer = thread::spawn({
        let (source, writing) = (source.clone(), Arc::clone(&writing));
        move || {
            let start = Instant::now();
            let mut last = counters_at(0.0);
            while writing.load(Ordering::SeqCst) {
                last = counters_at(start.elapsed().as_secs_f64());
                write_source(&source, last);
                thread::sleep(Duration::from_millis(5));
            }
            last
        }
    });
    wait_until(
        "6 s of traffic was sampled",
        Duration::from_secs(30),
        || {
            eth0()["rates"]["avg_1m"]["covered_seconds"]
                .as_f64()
                .is_some_and(|covered| covered >= 6.0)
        },
    );
    let during = eth0();
    writing.store(false, Ordering::SeqCst);
    let last = writer.join().expect("the writer finished");

    let avg = &during["rates"]["avg_1m"];
    let covered = f(&avg["covered_seconds"]);
    // Each sample saw the file at most a few milliseconds stale: 2% is ample over 6 s.
    for (field, written) in [
        ("rx_bytes_per_sec", RX_BYTES_PER_SEC),
        ("rx_packets_per_sec", RX_PACKETS_PER_SEC),
        ("tx_bytes_per_sec", TX_BYTES_PER_SEC),
        ("tx_packets_per_sec", RX_PACKETS_PER_SEC / 2.0),
    ] {
        let served = f(&avg[field]);
        assert!(
            (served / written - 1.0).abs() < 0.02,
            "avg_1m {field}: served {served}, written {written}"
        );
    }
    for field in [
        "rx_errors_per_sec",
        "rx_dropped_per_sec",
        "tx_errors_per_sec",
    ] {
        assert_eq!(f(&avg[field]), 0.0, "{field}");
    }
    assert!(
        during["events"]["wraps"].as_u64().unwrap() >= 1,
        "rx_bytes wrapped at 2^32"
    );
    assert_eq!(during["events"]["resets"], 0);
    // The rate times the covered seconds is exactly the counted traffic: compare with the
    // counters the daemon served (tx_bytes does not wrap).
    let tx_counted = during["counters"]["tx_bytes"].as_u64().unwrap() - 1_000_000;
    let tx_rate = f(&avg["tx_bytes_per_sec"]);
    assert!((tx_rate * covered - tx_counted as f64).abs() < 1e-6 * tx_counted as f64);

    // Traffic stops: the served counters become the last ones written, and the current rate
    // falls to exactly zero while the averages still remember the traffic.
    wait_until(
        "the last counters are served",
        Duration::from_secs(5),
        || eth0()["counters"]["rx_bytes"].as_u64() == Some(last[0]),
    );
    wait_until(
        "the current rate falls to zero",
        Duration::from_secs(5),
        || eth0()["rates"]["current"]["rx_bytes_per_sec"].as_f64() == Some(0.0),
    );
    let idle = eth0();
    assert_eq!(counters_of(&idle), last);
    assert!(f(&idle["rates"]["avg_1m"]["rx_bytes_per_sec"]) > 0.0);
    assert_eq!(idle["present"], true);

    let health = daemon.json("/health");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["collection_errors_total"], 0);
    assert!(health["samples_total"].as_u64().unwrap() >= 30);
}
