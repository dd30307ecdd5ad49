//! End to end: the real binary samples a source file that this test rewrites as traffic flows at
//! known rates, and the rates it serves over HTTP are checked against the rates written.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

const RX_BYTES_PER_SEC: f64 = 250_000.0;
const RX_PACKETS_PER_SEC: f64 = 200.0;
const TX_BYTES_PER_SEC: f64 = 40_000.0;
/// rx_bytes starts this far below 2^32 and is written modulo 2^32, as a 32-bit kernel's
/// driver counter would be: it wraps about two seconds in.
const RX_START: u64 = (1 << 32) - 500_000;

/// The daemon, killed when the test ends however it ends.
struct Daemon {
    child: Child,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn start(source: &Path, sysfs: &Path) -> Daemon {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_ifstatsd"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--interval", "200ms"])
            .arg("--source")
            .arg(source)
            .arg("--sysfs")
            .arg(sysfs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the daemon starts");
        let daemon = Daemon { child, port };
        daemon.wait_for("/health answers", Duration::from_secs(10), |d| {
            d.get("/health").is_some()
        });
        daemon
    }

    /// GETs `path` and parses the JSON body; `None` if the daemon does not answer.
    fn get(&self, path: &str) -> Option<Value> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).ok()?;
        let text = String::from_utf8(response).ok()?;
        let (_, body) = text.split_once("\r\n\r\n")?;
        serde_json::from_str(body).ok()
    }

    fn eth0(&self) -> Value {
        self.get("/api/v1/interface/eth0/stats").expect("eth0 is served")
    }

    /// Polls `condition` until it holds; fails the test after `deadline`.
    fn wait_for(&self, what: &str, deadline: Duration, condition: impl Fn(&Daemon) -> bool) {
        let until = Instant::now() + deadline;
        while !condition(self) {
            assert!(Instant::now() < until, "timed out waiting until {what}");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The counters the writer puts in the file `seconds` after traffic started.
fn counters_at(seconds: f64) -> [u64; 8] {
    let rx_bytes = (RX_START + (RX_BYTES_PER_SEC * seconds) as u64) % (1 << 32);
    let rx_packets = (RX_PACKETS_PER_SEC * seconds) as u64;
    let tx_bytes = 1_000_000 + (TX_BYTES_PER_SEC * seconds) as u64;
    [rx_bytes, rx_packets, 3, 0, tx_bytes, rx_packets / 2, 0, 7]
}

/// Writes the source file atomically (temporary file and rename), as a kernel file never tears.
fn write_source(path: &Path, eth0: [u64; 8]) {
    let text = format!(
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
         lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n  \
         eth0: {} {} {} {} 0 0 0 0 {} {} {} {} 0 0 0 0\n",
        eth0[0], eth0[1], eth0[2], eth0[3], eth0[4], eth0[5], eth0[6], eth0[7]
    );
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).expect("write the source");
    std::fs::rename(&temp, path).expect("rename the source");
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ifstatsd-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sysfs")).expect("create the temp dir");
    dir
}

fn f(value: &Value) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("{value} is not a number"))
}

#[test]
fn served_rates_match_the_traffic_written() {
    let dir = temp_dir("rates");
    let source = dir.join("net_dev");
    write_source(&source, counters_at(0.0));
    let daemon = Daemon::start(&source, &dir.join("sysfs"));

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
    daemon.wait_for("6 s of traffic was sampled", Duration::from_secs(30), |d| {
        d.eth0()["rates"]["avg_1m"]["covered_seconds"]
            .as_f64()
            .is_some_and(|covered| covered >= 6.0)
    });
    let during = daemon.eth0();
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
    for field in ["rx_errors_per_sec", "rx_dropped_per_sec", "tx_errors_per_sec"] {
        assert_eq!(f(&avg[field]), 0.0, "{field}");
    }
    assert!(during["events"]["wraps"].as_u64().unwrap() >= 1, "rx_bytes wrapped at 2^32");
    assert_eq!(during["events"]["resets"], 0);
    // The rate times the covered seconds is exactly the counted traffic: compare with the
    // counters the daemon served (tx_bytes does not wrap).
    let tx_counted = during["counters"]["tx_bytes"].as_u64().unwrap() - 1_000_000;
    let tx_rate = f(&avg["tx_bytes_per_sec"]);
    assert!((tx_rate * covered - tx_counted as f64).abs() < 1e-6 * tx_counted as f64);

    // Traffic stops: the served counters become the last ones written, and the current rate
    // falls to exactly zero while the averages still remember the traffic.
    daemon.wait_for("the last counters are served", Duration::from_secs(5), |d| {
        d.eth0()["counters"]["rx_bytes"].as_u64() == Some(last[0])
    });
    daemon.wait_for("the current rate falls to zero", Duration::from_secs(5), |d| {
        d.eth0()["rates"]["current"]["rx_bytes_per_sec"].as_f64() == Some(0.0)
    });
    let idle = daemon.eth0();
    let counters: Vec<u64> = [
        "rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "tx_bytes", "tx_packets", "tx_errors",
        "tx_dropped",
    ]
    .iter()
    .map(|name| idle["counters"][name].as_u64().unwrap())
    .collect();
    assert_eq!(counters, last);
    assert!(f(&idle["rates"]["avg_1m"]["rx_bytes_per_sec"]) > 0.0);
    assert_eq!(idle["present"], true);

    let health = daemon.get("/health").expect("health answers");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["collection_errors_total"], 0);
    assert!(health["samples_total"].as_u64().unwrap() >= 30);
    drop(daemon);
    let _ = std::fs::remove_dir_all(dir);
}
