//! The real binary as a user meets it: flags and exit codes, start-up failures, signals, and a
//! source that changes, vanishes and comes back.

mod support;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rstest::rstest;
use support::{counters_of, net_dev, request, wait_until, write_atomically, Daemon, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_ifstatsd");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

/// A source with `lo` and `eth0`, and an empty sysfs directory.
fn fixture(test: &str, eth0: [u64; 8]) -> TempDir {
    let dir = TempDir::new(test);
    write_atomically(
        &dir.path("net_dev"),
        &net_dev(&[("lo", [0; 8]), ("eth0", eth0)]),
    );
    std::fs::create_dir(dir.path("sysfs")).unwrap();
    dir
}

fn start(dir: &TempDir, interval: &str) -> Daemon {
    let (source, sysfs) = (dir.path("net_dev"), dir.path("sysfs"));
    Daemon::start(&[
        "--interval",
        interval,
        "--source",
        s(&source),
        "--sysfs",
        s(&sysfs),
    ])
}

#[test]
fn help_lists_every_flag() {
    let output = run(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--listen",
        "--source",
        "--sysfs",
        "--interval",
        "--log-level",
        "--help",
        "--version",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(help.contains("127.0.0.1:9310") && help.contains("/proc/net/dev"));
}

#[test]
fn version_prints_the_version() {
    let output = run(&["--version"]);
    assert!(output.status.success());
    let version = String::from_utf8(output.stdout).unwrap();
    assert_eq!(version, format!("ifstatsd {}\n", env!("CARGO_PKG_VERSION")));
}

#[rstest]
#[case::unknown_flag(&["--bogus"], "--bogus")]
#[case::positional(&["eth0"], "eth0")]
#[case::interval_too_short(&["--interval", "50ms"], "--interval")]
#[case::interval_not_a_duration(&["--interval", "abc"], "--interval")]
#[case::listen_not_an_address(&["--listen", "nothing"], "--listen")]
#[case::listen_without_value(&["--listen"], "--listen")]
#[case::log_level(&["--log-level", "loud"], "--log-level")]
fn a_bad_flag_prints_one_line_and_exits_2(#[case] args: &[&str], #[case] culprit: &str) {
    let output = run(args);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(culprit), "{lines:?}");
    assert!(output.stdout.is_empty());
}

#[test]
fn start_up_failures_print_one_line_and_exit_1() {
    let dir = fixture("cli-startup", [0; 8]);
    let sysfs = dir.path("sysfs");
    let missing = dir.path("missing");
    let garbage = dir.path("garbage");
    std::fs::write(&garbage, "not /proc/net/dev\n").unwrap();
    let port = support::free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    for (source, expected) in [
        (s(&missing), "cannot read"),
        (s(&sysfs), "cannot read"), // a directory: unreadable even for root
        (s(&garbage), "no interface line"),
    ] {
        let output = run(&[
            "--listen",
            &listen,
            "--source",
            source,
            "--sysfs",
            s(&sysfs),
        ]);
        assert_eq!(output.status.code(), Some(1), "{source}: {output:?}");
        let lines = stderr_lines(&output);
        assert_eq!(lines.len(), 1, "{source}: {lines:?}");
        assert!(
            lines[0].contains(expected) && lines[0].contains(source),
            "{lines:?}"
        );
    }
}

#[test]
fn a_port_in_use_exits_1_naming_the_address() {
    let dir = fixture("cli-port", [0; 8]);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (source, sysfs) = (dir.path("net_dev"), dir.path("sysfs"));
    let output = run(&[
        "--listen",
        &addr,
        "--source",
        s(&source),
        "--sysfs",
        s(&sysfs),
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let lines = stderr_lines(&output);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(&addr), "{lines:?}");
}

#[rstest]
#[case::sigterm("TERM")]
#[case::sigint("INT")]
fn a_signal_stops_it_cleanly(#[case] signal: &str) {
    let dir = fixture(&format!("cli-{signal}"), [0; 8]);
    let mut daemon = start(&dir, "10s");
    let sent = Instant::now();
    daemon.signal(signal);
    let status = daemon.wait_exit(Duration::from_secs(3));
    assert!(status.success(), "{status}");
    assert!(sent.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_signal_stops_it_within_3_seconds_even_with_stalled_clients() {
    let dir = fixture("cli-stalled", [0; 8]);
    let mut daemon = start(&dir, "10s");
    // A body announced and never sent: tiny_http drains it on the request loop, which blocks.
    let mut stalled = TcpStream::connect(daemon.addr).unwrap();
    write!(
        stalled,
        "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    )
    .unwrap();
    // Half a request line, and a complete request whose answer is never read.
    let mut half = TcpStream::connect(daemon.addr).unwrap();
    write!(half, "GET /hea").unwrap();
    let mut unread = TcpStream::connect(daemon.addr).unwrap();
    write!(unread, "GET /api/v1/interfaces HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    wait_until("the request loop is stuck", Duration::from_secs(5), || {
        let probe = TcpStream::connect(daemon.addr).unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut reader = std::io::BufReader::new(&probe);
        write!(&probe, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        support::read_response(&mut reader, false).is_err()
    });
    let sent = Instant::now();
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(3));
    assert!(status.success(), "{status}");
    assert!(sent.elapsed() < Duration::from_secs(3));
    drop((stalled, half, unread));
}

#[test]
fn serves_the_source_as_it_changes_vanishes_and_comes_back() {
    let eth0 = [1000, 10, 1, 2, 3000, 30, 3, 4];
    let dir = fixture("cli-source", eth0);
    let daemon = start(&dir, "100ms");
    assert_eq!(
        counters_of(&daemon.json("/api/v1/interface/eth0/stats")),
        eth0
    );

    // New counters are served at the next sample.
    let source = dir.path("net_dev");
    write_atomically(
        &source,
        &net_dev(&[("lo", [0; 8]), ("eth0", [5000, 50, 1, 2, 3000, 30, 3, 4])]),
    );
    wait_until(
        "the new counters are served",
        Duration::from_secs(5),
        || daemon.json("/api/v1/interface/eth0/stats")["counters"]["rx_bytes"] == 5000,
    );

    // The source vanishes: the last data stays, errors are counted, health degrades.
    std::fs::remove_file(&source).unwrap();
    wait_until("health turns 503", Duration::from_secs(5), || {
        daemon.get("/health").status == 503
    });
    let health = daemon.json("/health");
    assert_eq!(health["status"], "degraded");
    assert!(health["collection_errors_total"].as_u64().unwrap() >= 3);
    let error = health["last_error"].as_str().unwrap();
    assert!(error.contains(s(&source)), "{error}");
    let stale = daemon.get("/api/v1/interface/eth0/stats");
    assert_eq!(stale.status, 200);
    assert_eq!(stale.json()["counters"]["rx_bytes"], 5000);
    assert_eq!(stale.json()["present"], true);

    // It comes back: health is ok at the first good sample.
    write_atomically(
        &source,
        &net_dev(&[("lo", [0; 8]), ("eth0", [6000, 60, 1, 2, 3000, 30, 3, 4])]),
    );
    wait_until("health is ok again", Duration::from_secs(5), || {
        daemon.get("/health").status == 200
    });
    let health = daemon.json("/health");
    assert_eq!(health["last_error"], serde_json::Value::Null);
    assert_eq!(
        daemon.json("/api/v1/interface/eth0/stats")["counters"]["rx_bytes"],
        6000
    );
    assert!(request(daemon.addr, "GET", "/api/v1/interfaces").is_ok());
}
