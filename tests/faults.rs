//! Faults in the source file, caused by the test while the real daemon runs: it keeps serving its
//! last good data, `/health` turns 503 after three intervals and back to 200 at the first good
//! sample, and nothing panics or exits.

mod support;

use std::path::Path;
use std::time::Duration;

use rstest::rstest;
use serde_json::Value;
use support::{counters_of, net_dev, s, wait_until, write_atomically, Daemon, TempDir};

const INTERVAL: f64 = 0.1;

fn good(rx_bytes: u64) -> String {
    net_dev(&[
        ("lo", [0; 8]),
        ("eth0", [rx_bytes, rx_bytes / 100, 0, 0, 500, 5, 0, 0]),
        ("wlan0", [7000, 70, 0, 0, 8000, 80, 0, 0]),
    ])
}

fn start(dir: &TempDir) -> Daemon {
    let (source, sysfs) = (dir.path("net_dev"), dir.path("sysfs"));
    std::fs::create_dir_all(&sysfs).unwrap();
    Daemon::start(&[
        "--interval",
        "100ms",
        "--source",
        s(&source),
        "--sysfs",
        s(&sysfs),
    ])
}

/// How a test breaks the source.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Vanished,
    Unreadable,
    TruncatedMidLine,
    Garbage,
    Empty,
}

fn break_source(source: &Path, fault: Fault) {
    match fault {
        Fault::Vanished => std::fs::remove_file(source).unwrap(),
        Fault::Unreadable => {
            // A directory cannot be read as a file, even by root.
            std::fs::remove_file(source).unwrap();
            std::fs::create_dir(source).unwrap();
        }
        Fault::TruncatedMidLine => {
            let text = good(2000);
            let cut = text.find("    lo:").unwrap() + 20;
            write_atomically(source, &text[..cut]);
        }
        Fault::Garbage => write_atomically(source, "\u{0}\u{1}garbage\n<html>oops</html>\n"),
        Fault::Empty => write_atomically(source, ""),
    }
}

fn repair(source: &Path, rx_bytes: u64) {
    if source.is_dir() {
        std::fs::remove_dir(source).unwrap();
    }
    write_atomically(source, good(rx_bytes));
}

#[rstest]
#[case::vanished(Fault::Vanished)]
#[case::unreadable(Fault::Unreadable)]
#[case::truncated_mid_line(Fault::TruncatedMidLine)]
#[case::garbage(Fault::Garbage)]
#[case::empty(Fault::Empty)]
fn a_broken_source_keeps_the_last_good_data_and_degrades_health(#[case] fault: Fault) {
    let dir = TempDir::new(&format!("faults-{fault:?}"));
    let source = dir.path("net_dev");
    write_atomically(&source, good(1000));
    let mut daemon = start(&dir);
    write_atomically(&source, good(2000));
    wait_until(
        "the last good data is served",
        Duration::from_secs(5),
        || daemon.json("/api/v1/interface/eth0/stats")["counters"]["rx_bytes"] == 2000,
    );
    let last_good = daemon.json("/api/v1/interface/eth0/stats");

    break_source(&source, fault);
    wait_until("health turns 503", Duration::from_secs(5), || {
        daemon.get("/health").status == 503
    });
    let health = daemon.json("/health");
    assert_eq!(health["status"], "degraded");
    let age = health["last_sample_age_seconds"].as_f64().unwrap();
    assert!(
        age > 3.0 * INTERVAL,
        "degraded after {age} s, before three intervals"
    );
    assert!(health["last_error"].as_str().is_some_and(|e| !e.is_empty()));
    wait_until(
        "every failed tick is counted",
        Duration::from_secs(5),
        || daemon.json("/health")["collection_errors_total"].as_u64() >= Some(3),
    );
    let served = daemon.json("/api/v1/interface/eth0/stats");
    assert_eq!(served["counters"], last_good["counters"]);
    assert_eq!(served["updated_at"], last_good["updated_at"]);
    assert_eq!(served["present"], true);

    repair(&source, 3000);
    wait_until("health is 200 again", Duration::from_secs(5), || {
        daemon.get("/health").status == 200
    });
    let eth0 = daemon.json("/api/v1/interface/eth0/stats");
    assert_eq!(eth0["counters"]["rx_bytes"], 3000);
    assert_eq!(eth0["events"]["resets"], 0, "a fault is not a reset");
    // The gap is one longer interval, not a hole and not a spike: over the minute, exactly the
    // 2000 bytes between the first and the last good sample were counted.
    let avg = &eth0["rates"]["avg_1m"];
    let counted =
        avg["rx_bytes_per_sec"].as_f64().unwrap() * avg["covered_seconds"].as_f64().unwrap();
    assert!((counted - 2000.0).abs() < 1e-6, "{avg}");
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the daemon exited"
    );
}

#[test]
fn a_file_cut_after_some_interfaces_hides_them_without_a_reset() {
    let dir = TempDir::new("faults-partial");
    let source = dir.path("net_dev");
    write_atomically(&source, good(1000));
    let mut daemon = start(&dir);
    // Cut after the eth0 line: wlan0 is missing, and the file is otherwise good.
    let text = good(2000);
    let cut = text.find("wlan0").unwrap();
    write_atomically(&source, &text[..cut]);
    wait_until("wlan0 is absent", Duration::from_secs(5), || {
        daemon.json("/api/v1/interface/wlan0/stats")["present"] == false
    });
    assert_eq!(
        daemon.get("/health").status,
        200,
        "a partial file is a good sample"
    );
    let hidden = daemon.json("/api/v1/interface/wlan0/stats");
    assert_eq!(counters_of(&hidden), [7000, 70, 0, 0, 8000, 80, 0, 0]);

    write_atomically(&source, good(2000));
    wait_until("wlan0 is back", Duration::from_secs(5), || {
        daemon.json("/api/v1/interface/wlan0/stats")["present"] == true
    });
    let back = daemon.json("/api/v1/interface/wlan0/stats");
    assert_eq!(back["events"]["resets"], 0, "it never left");
    let avg = &back["rates"]["avg_1m"];
    assert_eq!(
        avg["rx_bytes_per_sec"], 0.0,
        "its whole history was not counted again"
    );
    assert!(back["uptime_seconds"].as_f64().is_some());
    assert!(daemon.child.try_wait().unwrap().is_none());
    assert_eq!(daemon.json("/health")["last_error"], Value::Null);
}

#[test]
fn a_32_bit_wrap_in_the_source_is_a_wrap_and_the_averages_stay_right() {
    let dir = TempDir::new("faults-wrap");
    let source = dir.path("net_dev");
    let max = u64::from(u32::MAX);
    let line = |rx: u64, packets: u64| net_dev(&[("eth0", [rx, packets, 0, 0, 0, 0, 0, 0])]);
    write_atomically(&source, line(max - 4999, 10));
    let daemon = start(&dir);
    // 4999 bytes up to 2^32 - 1, then 3001 more through the wrap: the counter reads 3000.
    write_atomically(&source, line(max, 15));
    wait_until(
        "the counter before the wrap",
        Duration::from_secs(5),
        || daemon.json("/api/v1/interface/eth0/stats")["counters"]["rx_bytes"] == max,
    );
    write_atomically(&source, line(3000, 20));
    wait_until("the counter after the wrap", Duration::from_secs(5), || {
        daemon.json("/api/v1/interface/eth0/stats")["counters"]["rx_bytes"] == 3000
    });
    let eth0 = daemon.json("/api/v1/interface/eth0/stats");
    assert_eq!(eth0["events"]["wraps"], 1);
    assert_eq!(eth0["events"]["resets"], 0);
    let avg = &eth0["rates"]["avg_1m"];
    let counted =
        avg["rx_bytes_per_sec"].as_f64().unwrap() * avg["covered_seconds"].as_f64().unwrap();
    assert!(
        (counted - 8000.0).abs() < 1e-6,
        "counted {counted} bytes, sent 8000"
    );
}
