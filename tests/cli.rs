//! The real binary as a user meets it: flags and exit codes, start-up failures, signals (also with
//! stalled clients and a stuck request loop), and a source that changes, vanishes and comes back.
//!
//! Every child is killed when its guard drops, so a failed assertion never leaves a daemon
//! running; every wait is a poll with a deadline.

mod support;

use std::fs::{self, File};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ifstatsd::serve::reaper::SCAN_EVERY;
use rstest::rstest;
use serde_json::{json, Value};
use support::{
    closed_within, counters_of, free_port, net_dev, request, s, try_fetch, wait_until,
    write_atomically, Response, TempDir, IO_TIMEOUT,
};

const BIN: &str = env!("CARGO_BIN_EXE_ifstatsd");
/// How long a run that should end at once may take before it is killed and the test fails.
const RUN_DEADLINE: Duration = Duration::from_secs(10);
/// SIGTERM and SIGINT must end the process within this, whatever the clients do.
const STOP_DEADLINE: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------------------------------------
// Files.

const LO: [u64; 8] = [5000, 50, 0, 0, 5000, 50, 0, 0];
/// rx bytes wider than the kernel's 7-digit field, and tx bytes over 2^32.
const ETH0: [u64; 8] = [123_456_789_012, 98_765, 3, 4, 5_555_555_555, 43_210, 1, 2];

/// A directory with `net_dev` (lo and eth0 with the counters above) and an empty `sysfs`.
fn fixture(test: &str) -> TempDir {
    let dir = TempDir::new(test);
    write_atomically(
        &dir.path("net_dev"),
        net_dev(&[("lo", LO), ("eth0", ETH0)]).as_bytes(),
    );
    fs::create_dir(dir.path("sysfs")).expect("create sysfs");
    dir
}

// ---------------------------------------------------------------------------------------------
// Processes.

/// A child process, killed and reaped when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Polls `child` until it exits; `None` after `deadline`.
fn wait_exit(child: &mut Child, deadline: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + deadline;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= until {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// What a finished run left.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    /// Asserts the run printed exactly one line, on stderr, and exited with `code`; returns it.
    fn one_error_line(&self, code: i32) -> &str {
        assert_eq!(self.status.code(), Some(code), "{self:?}");
        assert_eq!(self.stdout, "", "{self:?}");
        assert_eq!(self.stderr.lines().count(), 1, "{self:?}");
        assert!(self.stderr.ends_with('\n'), "{self:?}");
        let line = self.stderr.trim_end();
        assert!(line.starts_with("ifstatsd: "), "{line}");
        line
    }
}

/// Runs the binary to its end, its output going to files in `dir`; a run still going after
/// [`RUN_DEADLINE`] is killed and fails the test.
fn run(dir: &TempDir, args: &[&str]) -> Finished {
    let (out, err) = (dir.path("run.stdout"), dir.path("run.stderr"));
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .spawn()
        .expect("the binary starts");
    let mut child = Guard(child);
    let status = wait_exit(&mut child.0, RUN_DEADLINE)
        .unwrap_or_else(|| panic!("ifstatsd {args:?} still running after {RUN_DEADLINE:?}"));
    let read = |path| fs::read_to_string(path).expect("read the output");
    Finished {
        status,
        stdout: read(&out),
        stderr: read(&err),
    }
}

/// The daemon, serving; killed when dropped.
struct Daemon {
    child: Guard,
    addr: SocketAddr,
    stderr: PathBuf,
}

impl Daemon {
    /// Starts `ifstatsd --listen 127.0.0.1:<free port> --source <source> --sysfs <sysfs> <args>`
    /// and waits until it answers `/health` with 200 for this source. Another process may take
    /// the free port first; then the daemon exits 1 and is started again on another.
    fn start(dir: &TempDir, source: &Path, sysfs: &Path, args: &[&str]) -> Daemon {
        for attempt in 0..5 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let stderr = dir.path(&format!("daemon-{attempt}.stderr"));
            let child = Command::new(BIN)
                .args(["--listen", &addr.to_string(), "--source", s(source)])
                .args(["--sysfs", s(sysfs)])
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(&stderr).unwrap())
                .spawn()
                .expect("the daemon starts");
            let mut daemon = Daemon {
                child: Guard(child),
                addr,
                stderr,
            };
            let until = Instant::now() + RUN_DEADLINE;
            loop {
                if let Some(status) = daemon.child.0.try_wait().unwrap() {
                    let stderr = daemon.stderr();
                    assert!(
                        status.code() == Some(1) && stderr.contains("cannot listen on"),
                        "the daemon exited at start-up with {status}: {stderr}"
                    );
                    break; // the port was taken meanwhile: another one
                }
                if let Ok(health) = request(addr, "GET", "/health") {
                    if health.status == 200 && health.json()["source"] == s(source) {
                        return daemon;
                    }
                }
                assert!(
                    Instant::now() < until,
                    "no /health 200 within {RUN_DEADLINE:?}"
                );
                thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no free port in five attempts");
    }

    fn get(&self, target: &str) -> Response {
        support::get(self.addr, target)
    }

    fn json(&self, target: &str) -> Value {
        let reply = self.get(target);
        assert_eq!(
            reply.status,
            200,
            "{target}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()
    }

    /// The JSON body, whatever the status (for `/health`, which may be 503).
    fn json_any(&self, target: &str) -> Value {
        self.get(target).json()
    }

    /// Sends `signal` (TERM, INT) with kill(1).
    fn signal(&self, signal: &str) {
        let pid = self.child.0.id().to_string();
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(&pid)
            .status();
        assert!(
            status.expect("kill runs").success(),
            "kill -{signal} {pid} failed"
        );
    }

    /// Waits for the exit; fails the test after `deadline`.
    fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        wait_exit(&mut self.child.0, deadline)
            .unwrap_or_else(|| panic!("still running {deadline:?} after the signal"))
    }

    /// Everything the daemon logged so far.
    fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).expect("read the daemon's stderr")
    }
}

// ---------------------------------------------------------------------------------------------
// Flags.

#[rstest]
#[case::long("--help")]
#[case::short("-h")]
#[case::after_other_flags("--interval=1s --help")]
fn help_lists_every_flag_and_exits_0(#[case] args: &str) {
    let dir = TempDir::new("help");
    let done = run(&dir, &args.split(' ').collect::<Vec<_>>());
    assert!(done.status.success(), "{done:?}");
    assert_eq!(done.stderr, "");
    // Every option the parser knows, present or future, and the two without a value.
    let options = ifstatsd::config::OPTIONS.iter().map(|o| format!("--{o}"));
    let flags: Vec<String> = options
        .chain(["--help".into(), "--version".into()])
        .collect();
    assert!(flags.len() >= 9, "{flags:?}");
    for flag in flags {
        let listed = done.stdout.contains(&format!(" {flag} "));
        assert!(listed, "--help lacks {flag}:\n{}", done.stdout);
    }
    assert!(done.stdout.starts_with("ifstatsd"), "{}", done.stdout);
}

#[rstest]
#[case::long("--version")]
#[case::short("-V")]
fn version_prints_the_version_and_exits_0(#[case] flag: &str) {
    let dir = TempDir::new("version");
    let done = run(&dir, &[flag]);
    assert!(done.status.success(), "{done:?}");
    assert_eq!(
        done.stdout,
        format!("ifstatsd {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(done.stderr, "");
}

/// Each mistake prints one line naming the culprit and exits 2. (A missing `--source` and port 0
/// come first, so that a mistake wrongly accepted fails fast instead of serving.)
#[rstest]
#[case::unknown_flag(&["--bogus"], "--bogus")]
#[case::unknown_short_flag(&["-x"], "-x")]
#[case::positional(&["eth0"], "eth0")]
#[case::interval_too_short(&["--interval", "50ms"], "--interval")]
#[case::interval_too_long(&["--interval", "16m"], "--interval")]
#[case::interval_not_a_duration(&["--interval", "abc"], "--interval")]
#[case::interval_without_value(&["--interval"], "--interval")]
#[case::listen_not_an_address(&["--listen", "nothing"], "--listen")]
#[case::listen_without_port(&["--listen", "127.0.0.1"], "--listen")]
#[case::listen_without_value(&["--listen"], "--listen")]
#[case::log_level(&["--log-level", "loud"], "--log-level")]
#[case::save_interval(&["--save-interval", "often"], "--save-interval")]
#[case::state_file_without_value(&["--state-file"], "--state-file")]
#[case::link_speed_unit(&["--link-speed", "wan=100Mbit"], "unknown unit \"Mbit\"")]
#[case::link_speed_zero(&["--link-speed", "wan=0"], "must be above zero")]
#[case::link_speed_without_name(&["--link-speed", "100M"], "expected NAME=RATE")]
#[case::link_speed_twice(&["--link-speed", "wan=1G", "--link-speed", "wan=2G"], "wan is given twice")]
#[case::billing_day_29(&["--billing-day", "29"], "--billing-day")]
#[case::quota_bad_unit(&["--quota", "wan=5Gb"], "--quota")]
#[case::quota_no_size(&["--quota", "wan"], "--quota")]
#[case::quota_twice(&["--quota", "wan=1G", "--quota", "wan=2G"], "second quota for wan")]
fn a_bad_flag_or_value_prints_one_line_and_exits_2(#[case] args: &[&str], #[case] culprit: &str) {
    let dir = TempDir::new("usage");
    let missing = dir.path("missing");
    let mut all = vec!["--source", s(&missing), "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let done = run(&dir, &all);
    let line = done.one_error_line(2);
    assert!(line.contains(culprit), "{line:?} does not name {culprit}");
    assert!(line.ends_with("(try --help)"), "{line}");
}

// ---------------------------------------------------------------------------------------------
// Start-up failures.

/// What `--source` names.
enum Source {
    Missing,
    Directory,
    File(&'static str),
}

#[rstest]
#[case::missing(Source::Missing, "cannot read")]
#[case::a_directory(Source::Directory, "cannot read")]
#[case::empty(Source::File(""), "no interface line")]
#[case::headers_only(
    Source::File("Inter-| Receive | Transmit\n face |bytes packets|bytes packets\n"),
    "no interface line"
)]
#[case::garbage(Source::File("not /proc/net/dev\n"), "no interface line")]
#[case::every_line_bad(
    Source::File("eth0: 1 2 3\nlo: x 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"),
    "no interface line"
)]
fn an_unusable_source_prints_one_line_and_exits_1(#[case] what: Source, #[case] reason: &str) {
    let dir = TempDir::new("source");
    let source = dir.path("net_dev");
    match what {
        Source::Missing => {}
        Source::Directory => fs::create_dir(&source).unwrap(),
        Source::File(text) => write_atomically(&source, text.as_bytes()),
    }
    let done = run(&dir, &["--listen", "127.0.0.1:0", "--source", s(&source)]);
    let line = done.one_error_line(1);
    assert!(line.contains(reason) && line.contains(s(&source)), "{line}");
}

#[test]
fn a_port_in_use_prints_one_line_naming_the_address_and_exits_1() {
    let dir = fixture("port-in-use");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (source, sysfs) = (dir.path("net_dev"), dir.path("sysfs"));
    let done = run(
        &dir,
        &[
            "--listen",
            &addr,
            "--source",
            s(&source),
            "--sysfs",
            s(&sysfs),
        ],
    );
    let line = done.one_error_line(1);
    assert!(line.contains(&format!("cannot listen on {addr}")), "{line}");
}

// ---------------------------------------------------------------------------------------------
// Serving.

#[test]
fn include_exclude_and_max_interfaces_choose_what_is_served() {
    let dir = fixture("filters");
    let names = ["lo", "eth0", "eth0.2", "wlan0", "veth1", "veth2", "veth10"];
    let interfaces: Vec<(&str, [u64; 8])> = names.iter().map(|n| (*n, LO)).collect();
    write_atomically(&dir.path("net_dev"), net_dev(&interfaces));
    let args = [
        "--include",
        "eth*",
        "--include",
        "veth?",
        "--exclude",
        "eth0.*",
        "--max-interfaces",
        "2",
    ];
    let daemon = Daemon::start(&dir, &dir.path("net_dev"), &dir.path("sysfs"), &args);
    let list = daemon.json("/api/v1/interfaces");
    let served: Vec<&str> = list["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["interface"].as_str().unwrap())
        .collect();
    // Kept by the globs: eth0, veth1, veth2; the limit of 2 refuses veth2.
    assert_eq!(served, ["eth0", "veth1"]);
    assert_eq!(daemon.json("/health")["interfaces_refused_total"], 1);
    let stats = daemon.get("/api/v1/interface/lo/stats");
    assert_eq!(stats.status, 404, "lo is not included");
    assert!(
        daemon.stderr().contains("--max-interfaces 2 reached"),
        "{}",
        daemon.stderr()
    );
}

#[test]
fn serves_the_fixture_exactly_with_sysfs_details() {
    let dir = fixture("exact");
    let sysfs = dir.path("sysfs");
    fs::create_dir(sysfs.join("eth0")).unwrap();
    fs::write(sysfs.join("eth0/ifindex"), "2\n").unwrap();
    fs::write(sysfs.join("eth0/operstate"), "up\n").unwrap();
    let daemon = Daemon::start(&dir, &dir.path("net_dev"), &sysfs, &["--interval", "10s"]);

    let eth0 = daemon.json("/api/v1/interface/eth0/stats");
    assert_eq!(counters_of(&eth0), ETH0);
    assert_eq!(eth0["interface"], "eth0");
    assert_eq!(eth0["present"], true);
    assert_eq!(eth0["ifindex"], 2);
    assert_eq!(eth0["oper_state"], "up");
    assert_eq!(eth0["sample_interval_seconds"], 10.0);
    // One sample so far: no interval, so no rates.
    let no_rates = json!({"current": null, "avg_1m": null, "avg_5m": null, "avg_15m": null});
    assert_eq!(eth0["rates"], no_rates);

    let lo = daemon.json("/api/v1/interface/lo/stats");
    assert_eq!(counters_of(&lo), LO);
    assert_eq!(lo["ifindex"], Value::Null);
    assert_eq!(lo["oper_state"], Value::Null);

    let list = daemon.json("/api/v1/interfaces");
    assert_eq!(list["interfaces"], json!([eth0, lo]));
    let health = daemon.json("/health");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["samples_total"], 1);
    assert_eq!(health["interfaces"], 2);
    assert_eq!(health["last_sample_at"], list["updated_at"]);
    assert_eq!(daemon.get("/api/v1/interface/nope0/stats").status, 404);
}

/// `--log-level` decides what reaches stderr.
#[rstest]
#[case::error("error", false, false)]
#[case::info("info", true, false)]
#[case::debug("debug", true, true)]
fn the_log_level_is_applied(#[case] level: &str, #[case] info: bool, #[case] debug: bool) {
    let dir = fixture(&format!("log-{level}"));
    let args = ["--log-level", level];
    let daemon = Daemon::start(&dir, &dir.path("net_dev"), &dir.path("sysfs"), &args);
    assert_eq!(daemon.get("/api/v1/interfaces").status, 200);
    let logged = |what: &str| daemon.stderr().contains(what);
    let serving = format!("INFO ifstatsd: serving http://{}/", daemon.addr);
    // The access line is logged after the response is sent: poll for it.
    if debug {
        wait_until("the request is logged", IO_TIMEOUT, || {
            logged("DEBUG ifstatsd::serve: GET \"/api/v1/interfaces\" 200")
        });
    }
    assert_eq!(logged(&serving), info, "{}", daemon.stderr());
    assert_eq!(logged("DEBUG "), debug, "{}", daemon.stderr());
    if !info {
        assert_eq!(daemon.stderr(), "");
    }
}

#[test]
fn follows_the_source_as_it_changes_vanishes_and_comes_back() {
    let dir = fixture("changes");
    let source = dir.path("net_dev");
    let args = ["--interval", "100ms"];
    let daemon = Daemon::start(&dir, &source, &dir.path("sysfs"), &args);
    let stats = |name: &str| daemon.json(&format!("/api/v1/interface/{name}/stats"));
    assert_eq!(counters_of(&stats("eth0")), ETH0);

    // Bigger counters are served within a few intervals.
    let bigger = [123_456_799_012, 98_775, 3, 4, 5_555_565_555, 43_220, 1, 2];
    write_atomically(&source, net_dev(&[("lo", LO), ("eth0", bigger)]).as_bytes());
    wait_until(
        "the new counters are served",
        Duration::from_secs(5),
        || counters_of(&stats("eth0")) == bigger,
    );
    // 10 000 B more arrived within the last minute, all of it inside the 1-minute window.
    let avg_1m = &stats("eth0")["rates"]["avg_1m"];
    assert!(
        avg_1m["rx_bytes_per_sec"].as_f64().unwrap() > 0.0,
        "{avg_1m}"
    );
    assert_eq!(counters_of(&stats("lo")), LO);

    // The source vanishes: the last data stays, failures are counted and named, and health turns
    // 503 once the last success is over three intervals old (0.3 s; allow for a slow machine).
    fs::remove_file(&source).unwrap();
    let mut health = Value::Null;
    wait_until("health is degraded", Duration::from_secs(3), || {
        let reply = daemon.get("/health");
        health = reply.json();
        // Whatever the moment, the status agrees with the age it reports.
        let age = health["last_sample_age_seconds"].as_f64().unwrap();
        assert_eq!(reply.status == 503, age > 0.3, "{}: {health}", reply.status);
        reply.status == 503
    });
    assert_eq!(health["status"], "degraded");
    let errors = health["collection_errors_total"].as_u64().unwrap();
    assert!(errors > 0, "{health}");
    let last_error = health["last_error"].as_str().unwrap();
    assert!(
        last_error.starts_with(&format!("cannot read {}", s(&source))),
        "{last_error}"
    );
    let samples = health["samples_total"].as_u64().unwrap();
    wait_until(
        "two more failures are counted",
        Duration::from_secs(5),
        || {
            daemon.json_any("/health")["collection_errors_total"]
                .as_u64()
                .unwrap()
                >= errors + 2
        },
    );
    assert_eq!(daemon.json_any("/health")["samples_total"], samples);
    let eth0 = stats("eth0");
    assert_eq!(counters_of(&eth0), bigger);
    assert_eq!(eth0["present"], true);
    let list = daemon.json("/api/v1/interfaces");
    assert_eq!(list["updated_at"], health["last_sample_at"]);

    // It comes back: health is ok again, the error is cleared, and the new counters are served.
    let restored = [123_456_899_012, 98_875, 3, 4, 5_555_665_555, 43_320, 1, 2];
    write_atomically(
        &source,
        net_dev(&[("lo", LO), ("eth0", restored)]).as_bytes(),
    );
    wait_until("health is ok again", Duration::from_secs(5), || {
        daemon.get("/health").status == 200
    });
    let health = daemon.json("/health");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["last_error"], Value::Null);
    assert!(health["collection_errors_total"].as_u64().unwrap() >= errors + 2);
    assert!(health["samples_total"].as_u64().unwrap() > samples);
    assert_eq!(counters_of(&stats("eth0")), restored);
}

/// The kernel allows any byte but `/`, `:`, whitespace and NUL in a name of up to 15 bytes. A
/// byte that is not UTF-8 is served as U+FFFD, and asked for as `%FF`.
#[rstest]
#[case::short("wl\u{FFFD}an", b"wl\xffan", "wl%FFan")]
#[case::fifteen_bytes("abcdefghijklmn\u{FFFD}", b"abcdefghijklmn\xff", "abcdefghijklmn%FF")]
fn a_name_with_a_byte_that_is_not_utf8_is_served(
    #[case] shown: &str,
    #[case] raw: &[u8],
    #[case] encoded: &str,
) {
    let dir = fixture(&format!("non-utf8-{}", raw.len()));
    let mut text = net_dev(&[("lo", LO)]).into_bytes();
    text.extend_from_slice(raw);
    text.extend_from_slice(b": 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n");
    write_atomically(&dir.path("net_dev"), &text);
    let daemon = Daemon::start(&dir, &dir.path("net_dev"), &dir.path("sysfs"), &[]);
    let health = daemon.json("/health");
    assert_eq!(health["parse_errors_total"], 0, "{health}");
    let names: Vec<Value> = daemon.json("/api/v1/interfaces")["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["interface"].clone())
        .collect();
    let mut expected = ["lo", shown];
    expected.sort_unstable();
    assert_eq!(names, expected);
    let iface = daemon.json(&format!("/api/v1/interface/{encoded}/stats"));
    assert_eq!(counters_of(&iface), [1, 2, 0, 0, 3, 4, 0, 0]);
}

// ---------------------------------------------------------------------------------------------
// Signals.

#[rstest]
#[case::sigterm("TERM", 15)]
#[case::sigint("INT", 2)]
fn a_signal_stops_it_cleanly_with_status_0(#[case] signal: &str, #[case] number: i32) {
    let dir = fixture(&format!("signal-{signal}"));
    let mut daemon = Daemon::start(&dir, &dir.path("net_dev"), &dir.path("sysfs"), &[]);
    // A kept-alive idle connection does not hold the exit up.
    let idle = TcpStream::connect_timeout(&daemon.addr, IO_TIMEOUT).unwrap();
    daemon.signal(signal);
    let status = daemon.wait_exit(STOP_DEADLINE);
    assert_eq!(status.code(), Some(0), "{status}");
    // The clean way: every thread stopped, not the grace period's forced exit.
    let log = daemon.stderr();
    assert!(
        log.contains(&format!("signal {number} received; stopping")),
        "{log}"
    );
    assert!(log.contains("INFO ifstatsd: stopped"), "{log}");
    assert!(!log.contains("exiting now"), "{log}");
    drop(idle);
}

/// Clients that never finish a request, or never read their answer, hold worker threads only: the
/// request loop is free, and the stop is the clean one.
#[test]
fn a_signal_stops_it_despite_stalled_clients() {
    let dir = fixture("stalled-clients");
    let mut daemon = Daemon::start(&dir, &dir.path("net_dev"), &dir.path("sysfs"), &[]);
    let connect = || TcpStream::connect_timeout(&daemon.addr, IO_TIMEOUT).unwrap();
    let silent = connect();
    let mut half_line = connect();
    half_line.write_all(b"GET /hea").unwrap();
    let mut no_blank_line = connect();
    no_blank_line
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut unread = connect();
    unread
        .write_all(b"GET /openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Its answer has arrived (peek reads nothing away): the loop has been through that request.
    unread
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    wait_until("the unread answer arrives", IO_TIMEOUT, || {
        unread.peek(&mut [0; 16]).is_ok_and(|n| n > 0)
    });
    assert_eq!(daemon.get("/health").status, 200);

    daemon.signal("TERM");
    let status = daemon.wait_exit(STOP_DEADLINE);
    assert_eq!(status.code(), Some(0), "{status}");
    let log = daemon.stderr();
    assert!(
        log.contains("INFO ifstatsd: stopped") && !log.contains("exiting now"),
        "{log}"
    );
    drop((silent, half_line, no_blank_line, unread));
}

/// A daemon serving 4000 interfaces (a response of about 7.6 MB) with one-hour write and idle
/// timeouts, and a client with a tiny receive buffer that asks for the list and never reads: the
/// request loop blocks in its write. The write timeout and the reaper normally end this within
/// seconds; here they are set to an hour, to stand for any way the loop could wedge.
fn wedged_daemon(test: &str) -> (TempDir, Daemon, socket2::Socket) {
    let dir = fixture(test);
    let names: Vec<String> = (0..4000).map(|i| format!("v{i}")).collect();
    let interfaces: Vec<(&str, [u64; 8])> = names.iter().map(|n| (n.as_str(), LO)).collect();
    write_atomically(&dir.path("net_dev"), net_dev(&interfaces).as_bytes());
    let args = [
        "--max-interfaces",
        "5000",
        "--write-timeout",
        "1h",
        "--idle-timeout",
        "1h",
        "--interval",
        "100ms",
    ];
    let daemon = Daemon::start(&dir, &dir.path("net_dev"), &dir.path("sysfs"), &args);
    // With rates (from the second sample on) each interface is about 1.9 KB of JSON: 7.6 MB,
    // more than the kernel's largest loopback send buffer (4 MB).
    wait_until("the rates are there", Duration::from_secs(10), || {
        daemon.json_any("/health")["samples_total"].as_u64() >= Some(2)
    });
    let reader = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    reader.set_recv_buffer_size(4096).unwrap();
    reader.connect(&daemon.addr.into()).unwrap();
    let request = b"GET /api/v1/interfaces HTTP/1.1\r\nHost: x\r\n\r\n";
    reader.send(request).unwrap();
    wait_until("the request loop is stuck", Duration::from_secs(10), || {
        try_fetch(daemon.addr, "GET", "/health", Duration::from_millis(300)).is_err()
    });
    (dir, daemon, reader)
}

/// The same wedge without a signal: once the loop has been on one request for over 15 s, the
/// watchdog (the reaper's look, every 0.5 s here) restarts the daemon in a new process image:
/// the same process, which serves again, with its statistics.
#[test]
fn the_watchdog_restarts_a_wedged_daemon_in_a_new_image() {
    let (_dir, mut daemon, _reader) = wedged_daemon("watchdog");
    let mut health = serde_json::Value::Null;
    wait_until("a restart", Duration::from_secs(60), || {
        assert!(
            daemon.child.0.try_wait().unwrap().is_none(),
            "the process exited"
        );
        health = match try_fetch(daemon.addr, "GET", "/health", Duration::from_millis(500)) {
            Ok(response) => response.json(),
            Err(_) => return false,
        };
        true
    });
    assert_eq!(health["restarts_total"], 1, "{health}");
    assert_eq!(health["last_restart_reason"], "loop_wedged", "{health}");
    assert_eq!(
        health["interfaces"], 4000,
        "every interface taken over: {health}"
    );
    let log = daemon.stderr();
    assert!(
        log.contains("the request loop has been answering one request for"),
        "{log}"
    );
    assert!(
        log.contains("restarted in a new process image (restart 1)"),
        "{log}"
    );
}

/// A wedged request loop (here, blocked writing to a client that does not read): the stop cannot
/// be clean, and the grace period must end the process.
#[test]
fn a_signal_stops_it_within_3_seconds_when_the_request_loop_is_stuck() {
    let (_dir, mut daemon, _reader) = wedged_daemon("stuck-loop");
    let mut half_line = TcpStream::connect_timeout(&daemon.addr, IO_TIMEOUT).unwrap();
    half_line.write_all(b"GET /api/v1/inter").unwrap();

    let sent = Instant::now();
    daemon.signal("TERM");
    let status = daemon.wait_exit(STOP_DEADLINE);
    assert_eq!(status.code(), Some(0), "{status}");
    let log = daemon.stderr();
    assert!(
        log.contains("exiting now"),
        "the loop was not stuck after all: {log}"
    );
    assert!(!log.contains("INFO ifstatsd: stopped"), "{log}");
    assert!(sent.elapsed() < STOP_DEADLINE);
    drop(half_line);
}

/// While no connection is open the reaper sleeps until a connection waits on the listener or the
/// sampler sees the descriptor count change (after each sample). Silent connections that come to
/// a quiet daemon, with no request from anyone, are still cut: at the idle timeout after the
/// first sample that sees them.
#[test]
fn silent_connections_to_a_quiet_daemon_are_cut_without_any_request() {
    let dir = fixture("quiet");
    let args = [
        "--idle-timeout",
        "1s",
        "--interval",
        "1s",
        "--log-level",
        "debug",
    ];
    let daemon = Daemon::start(&dir, &dir.path("net_dev"), &dir.path("sysfs"), &args);
    // Daemon::start's requests keep the reaper looking often for a few seconds after their
    // connections end (while tiny_http's surplus threads exit).
    wait_until("the reaper is quiet", Duration::from_secs(15), || {
        daemon.stderr().contains("reaper: no connection open")
    });
    let silent: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect_timeout(&daemon.addr, IO_TIMEOUT).unwrap())
        .collect();
    let started = Instant::now();
    // One interval until a sample sees them, the idle timeout, two scans, and slack.
    let deadline =
        Duration::from_secs(1) + Duration::from_secs(1) + 2 * SCAN_EVERY + Duration::from_secs(2);
    for (i, stream) in silent.iter().enumerate() {
        let left = deadline.saturating_sub(started.elapsed());
        assert!(
            closed_within(stream, left),
            "silent connection {i} still open after {:?}",
            started.elapsed()
        );
    }
    let answer = try_fetch(
        daemon.addr,
        "GET",
        "/api/v1/interface/lo/stats",
        Duration::from_secs(1),
    );
    assert_eq!(answer.expect("answered within a second").status, 200);
}

/// A log reader that goes away (a pipe to logd, a stream to journald restarted) must not stop
/// the daemon: log lines are then lost, not fatal. (A logger that reports a failed write on
/// standard error fails again there and panics; a panic while logging one aborts.) Then each caught
/// tiny_http panic still gets one log line, not three.
#[test]
fn a_log_reader_that_goes_away_does_not_stop_the_daemon() {
    use std::io::{BufRead, BufReader};
    let dir = fixture("log-reader");
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut child = Guard(
        Command::new(BIN)
            .args(["--listen", &addr.to_string()])
            .args([
                "--source",
                s(&dir.path("net_dev")),
                "--sysfs",
                s(&dir.path("sysfs")),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the daemon starts"),
    );
    // The log's reader: it passes lines on until the first one after the daemon says it
    // serves, then goes away, closing its end of the pipe.
    let log = BufReader::new(child.0.stderr.take().unwrap());
    let (lines, received) = std::sync::mpsc::channel();
    let reader = thread::spawn(move || {
        let mut serving = false;
        for line in log.lines().map_while(Result::ok) {
            let last = serving;
            serving |= line.contains("serving http://");
            let _ = lines.send(line);
            if last {
                return;
            }
        }
    });
    let next_line = || {
        received
            .recv_timeout(RUN_DEADLINE)
            .expect("a log line within the deadline")
    };
    while !next_line().contains("serving http://") {}
    // A caught tiny_http panic (a body length past isize::MAX) logs one line for the panic.
    let panic = "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n";
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(panic.as_bytes()).unwrap();
    let line = next_line();
    assert!(
        line.starts_with("ERROR ifstatsd: panic: ") && line.contains("capacity overflow"),
        "{line}"
    );
    reader.join().unwrap(); // the reader goes away
    for _ in 0..3 {
        let mut client = TcpStream::connect(addr).unwrap();
        client.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        client.write_all(panic.as_bytes()).unwrap();
        let response = support::read_response(&mut BufReader::new(client), false);
        assert_eq!(response.expect("an answer").status, 413);
    }
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the daemon is still running"
    );
    let health = request(addr, "GET", "/health").expect("still serving");
    assert_eq!(health.status, 200);
}
