//! The numbers against real kernel interfaces: each test makes its own network namespace with
//! veth pairs, runs the real daemon inside it, pushes a known number of bytes through, causes
//! faults, and compares what is served with what was sent and what the kernel counts. Two more
//! start the daemon on an address its namespace does not have yet, and add it.
//!
//! These need root and iproute2. Without them a test says why it skipped; under `CI=true` it
//! fails instead. Namespaces are named `ifsd-<pid>-<test>` and deleted even when a test fails.
//! IPv6 is off inside them, so nothing but the test's own frames crosses the links (but for the
//! test that listens on an IPv6 address).

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ifstatsd::sample::proc_net_dev::COUNTER_NAMES;
use serde_json::Value;
use support::{counters_of, wait_until};

/// Samples in these tests are 200 ms apart.
const INTERVAL_MS: u64 = 200;
/// Where the daemon listens in its namespace, unless a test says otherwise.
const LOOPBACK: &str = "127.0.0.1:9310";
const SEND_FRAMES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/send_frames.py");

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"))
}

fn must(program: &str, args: &[&str]) -> String {
    let output = run(program, args);
    assert!(output.status.success(), "{program} {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// A network namespace of this test run, deleted (with its interfaces) when dropped.
struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace with loopback up and IPv6 off, or returns `None` after saying why
    /// the test is skipped. Under `CI=true` it never skips.
    fn create(test: &str) -> Option<Netns> {
        let name = format!("ifsd-{}-{test}", std::process::id());
        let reason = match Command::new("ip").args(["netns", "add", &name]).output() {
            Ok(out) if out.status.success() => None,
            Ok(out) => Some(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
            Err(e) => Some(format!("cannot run ip: {e}")),
        };
        if let Some(reason) = reason {
            let why = format!(
                "{test}: cannot create a network namespace ({reason}); needs root and iproute2"
            );
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{why}; CI=true never skips"
            );
            eprintln!("skipped {why}");
            return None;
        }
        let ns = Netns { name };
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        ns.ip(&["link", "set", "lo", "up"]);
        Some(ns)
    }

    /// Runs `ip -n <ns> <args>`.
    fn ip(&self, args: &[&str]) {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        must("ip", &full);
    }

    /// Runs a command inside the namespace and returns its standard output.
    fn exec(&self, args: &[&str]) -> String {
        let mut full = vec!["netns", "exec", self.name.as_str()];
        full.extend_from_slice(args);
        must("ip", &full)
    }

    /// Runs `ip -n <ns> -batch` over `commands`, one per line.
    fn batch(&self, commands: &str) {
        let file = std::env::temp_dir().join(format!("{}.batch", self.name));
        std::fs::write(&file, commands).expect("write the batch file");
        self.ip(&["-batch", path(&file)]);
        let _ = std::fs::remove_file(&file);
    }

    /// A veth pair `a` <-> `b`, both up, and waits until both are operationally up.
    fn veth(&self, a: &str, b: &str) {
        self.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
        self.ip(&["link", "set", a, "up"]);
        self.ip(&["link", "set", b, "up"]);
        for name in [a, b] {
            wait_until(&format!("{name} is up"), Duration::from_secs(5), || {
                self.sysfs(name, "operstate") == "up"
            });
        }
    }

    fn sysfs(&self, iface: &str, attribute: &str) -> String {
        self.exec(&["cat", &format!("/sys/class/net/{iface}/{attribute}")])
            .trim()
            .to_owned()
    }

    /// The kernel's own counters of `iface` (`statistics/<name>` has the API's counter names),
    /// as `/proc/net/dev` sums them.
    fn kernel_counters(&self, iface: &str) -> [u64; 8] {
        let read = |name: &str| -> u64 {
            self.sysfs(iface, &format!("statistics/{name}"))
                .parse()
                .expect("a counter")
        };
        let mut counters = COUNTER_NAMES.map(read);
        counters[3] += read("rx_missed_errors"); // "drop" in /proc/net/dev includes it
        counters
    }

    /// Sends `count` frames of `size` bytes from `from` to `to`'s MAC address in `bursts`
    /// bursts `gap_ms` apart; returns the frames the kernel accepted.
    fn send_frames(
        &self,
        from: &str,
        to: &str,
        count: u32,
        size: u32,
        bursts: u32,
        gap_ms: u32,
    ) -> u32 {
        let mac = self.sysfs(to, "address");
        let args = [count, size, bursts, gap_ms].map(|n| n.to_string());
        let mut full = vec!["python3", SEND_FRAMES, from, mac.as_str()];
        full.extend(args.iter().map(String::as_str));
        self.exec(&full).trim().parse().expect("a count")
    }

    /// Starts the daemon inside the namespace, with `extra` flags, and waits until it answers.
    fn daemon(&self, interval_ms: u64, extra: &[&str]) -> NsDaemon {
        let daemon = self.spawn_daemon(LOOPBACK, interval_ms, extra);
        wait_until(
            "the daemon answers in the namespace",
            Duration::from_secs(10),
            || daemon.try_json("/health").is_some(),
        );
        daemon
    }

    /// Starts the daemon inside the namespace on `listen`, with `extra` flags.
    fn spawn_daemon(&self, listen: &str, interval_ms: u64, extra: &[&str]) -> NsDaemon {
        let interval = format!("{interval_ms}ms");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, env!("CARGO_BIN_EXE_ifstatsd")])
            .args([
                "--listen",
                listen,
                "--interval",
                &interval,
                "--log-level",
                "debug",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the daemon starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        thread::spawn({
            let log = Arc::clone(&log);
            move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            }
        });
        NsDaemon {
            ns: self.name.clone(),
            listen: listen.to_owned(),
            child,
            log,
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}

/// The daemon in a namespace, queried with curl from inside it; killed when dropped.
struct NsDaemon {
    ns: String,
    /// The `--listen` address, `127.0.0.1:9310` or `[2001:db8::1]:9310`.
    listen: String,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl NsDaemon {
    /// What curl, run in the namespace with `options`, prints for a GET of `path`.
    fn curl(&self, path: &str, options: &[&str]) -> Vec<u8> {
        let url = format!("http://{}{path}", self.listen);
        // -g: brackets in the URL are an IPv6 address, not a glob.
        let mut args = vec!["netns", "exec", &self.ns, "curl", "-sg", "--max-time", "5"];
        args.extend_from_slice(options);
        args.push(&url);
        run("ip", &args).stdout
    }

    fn try_json(&self, path: &str) -> Option<Value> {
        serde_json::from_slice(&self.curl(path, &[])).ok()
    }

    /// The HTTP status of a GET of `path`; `None` if nothing answered.
    fn status(&self, path: &str) -> Option<u16> {
        let options = ["-o", "/dev/null", "-w", "%{http_code}"];
        // curl prints 000 when nothing answered.
        let status = String::from_utf8_lossy(&self.curl(path, &options))
            .parse()
            .ok();
        status.filter(|&code| code != 0)
    }

    /// Whether a line the daemon logged contains `text`.
    fn logged(&self, text: &str) -> bool {
        self.log
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains(text))
    }

    fn json(&self, path: &str) -> Value {
        self.try_json(path)
            .unwrap_or_else(|| panic!("no JSON from {path}"))
    }

    fn iface(&self, name: &str) -> Value {
        self.json(&format!("/api/v1/interface/{name}/stats"))
    }

    fn samples(&self) -> u64 {
        self.json("/health")["samples_total"]
            .as_u64()
            .expect("samples_total")
    }

    /// Waits until `n` more samples have been taken.
    fn wait_samples(&self, n: u64) {
        let target = self.samples() + n;
        wait_until(
            &format!("{n} more samples"),
            Duration::from_secs(10),
            || self.samples() >= target,
        );
    }

    /// The durations in microseconds the daemon logged for samples of `interfaces` interfaces.
    fn sample_durations_us(&self, interfaces: usize) -> Vec<u64> {
        let prefix = format!("sample: {interfaces} interfaces in ");
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| line.split_once(&prefix))
            .filter_map(|(_, rest)| rest.trim_end_matches(" µs").parse().ok())
            .collect()
    }

    fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "the daemon exited ({status}): {:?}",
                self.log.lock().unwrap()
            );
        }
        let log = self.log.lock().unwrap();
        assert!(
            !log.iter().any(|l| l.contains("panicked")),
            "a panic: {log:?}"
        );
    }
}

impl Drop for NsDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn f(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

/// What a rate implies was counted over its window: rate times covered seconds.
fn implied(rate: &Value, field: &str) -> f64 {
    f(&rate[field]) * f(&rate["covered_seconds"])
}

fn assert_within_1_percent(what: &str, actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= 0.01 * expected,
        "{what}: {actual} is not within 1% of {expected}"
    );
}

#[test]
fn counters_and_rates_match_real_traffic() {
    let Some(ns) = Netns::create("traffic") else {
        return;
    };
    ns.veth("va", "vb");
    let daemon = ns.daemon(INTERVAL_MS, &[]);
    daemon.wait_samples(2);

    // 3000 frames of 1000 bytes, headers included, from vb to va in 15 bursts over 2.8 s.
    const FRAMES: u32 = 3000;
    const BYTES: u32 = 1000;
    assert_eq!(ns.send_frames("vb", "va", FRAMES, BYTES, 15, 200), FRAMES);

    // Once traffic stops, both ends serve exactly the kernel's counters.
    for iface in ["va", "vb"] {
        let kernel = ns.kernel_counters(iface);
        wait_until(
            &format!("{iface} serves the kernel's counters"),
            Duration::from_secs(5),
            || counters_of(&daemon.iface(iface)) == kernel,
        );
    }
    let va_kernel = ns.kernel_counters("va");
    assert_eq!(va_kernel[0], u64::from(FRAMES * BYTES), "va rx_bytes");
    assert_eq!(va_kernel[1], u64::from(FRAMES), "va rx_packets");
    assert_eq!(
        va_kernel[3],
        u64::from(FRAMES),
        "va rx_dropped: no handler for 0x88B5"
    );

    // Rate times covered seconds gives back what was sent, within 1%.
    let va = daemon.iface("va");
    let vb = daemon.iface("vb");
    let (sent_bytes, sent_frames) = (f64::from(FRAMES * BYTES), f64::from(FRAMES));
    for window in ["avg_1m", "avg_5m", "avg_15m"] {
        let (rx, tx) = (&va["rates"][window], &vb["rates"][window]);
        assert_within_1_percent(window, implied(rx, "rx_bytes_per_sec"), sent_bytes);
        assert_within_1_percent(window, implied(rx, "rx_packets_per_sec"), sent_frames);
        assert_within_1_percent(window, implied(rx, "rx_dropped_per_sec"), sent_frames);
        assert_within_1_percent(window, implied(tx, "tx_bytes_per_sec"), sent_bytes);
        assert_within_1_percent(window, implied(tx, "tx_packets_per_sec"), sent_frames);
        assert_eq!(
            f(&rx["tx_bytes_per_sec"]),
            0.0,
            "nothing went the other way"
        );
    }

    // Traffic has stopped: the current rate is zero, and the averages decay as time passes.
    wait_until(
        "the current rate falls to zero",
        Duration::from_secs(5),
        || daemon.iface("va")["rates"]["current"]["rx_bytes_per_sec"].as_f64() == Some(0.0),
    );
    let before = f(&daemon.iface("va")["rates"]["avg_1m"]["rx_bytes_per_sec"]);
    daemon.wait_samples(3);
    let after = f(&daemon.iface("va")["rates"]["avg_1m"]["rx_bytes_per_sec"]);
    assert!(
        0.0 < after && after < before,
        "avg_1m went from {before} to {after}"
    );
}

#[test]
fn drops_to_a_veth_whose_peer_is_down_are_served() {
    let Some(ns) = Netns::create("drops") else {
        return;
    };
    ns.veth("va", "vb");
    ns.ip(&["link", "set", "vb", "down"]);
    let daemon = ns.daemon(INTERVAL_MS, &[]);
    assert_eq!(ns.send_frames("va", "vb", 40, 200, 4, 100), 40);
    let kernel = ns.kernel_counters("va");
    assert_eq!(kernel[7], 40, "the kernel counted 40 tx drops on va");
    wait_until("va's drops are served", Duration::from_secs(5), || {
        counters_of(&daemon.iface("va")) == kernel
    });
    let va = daemon.iface("va");
    assert_eq!(va["oper_state"], "lowerlayerdown");
    assert_eq!(va["uptime_seconds"], Value::Null, "not up");
    assert_within_1_percent(
        "tx drops over the minute",
        implied(&va["rates"]["avg_1m"], "tx_dropped_per_sec"),
        40.0,
    );
    assert_eq!(daemon.iface("vb")["oper_state"], "down");
}

#[test]
fn deleted_created_and_re_created_interfaces() {
    let Some(ns) = Netns::create("churn") else {
        return;
    };
    ns.veth("va", "vb");
    let mut daemon = ns.daemon(INTERVAL_MS, &[]);

    // Created while the daemon runs: listed at the next sample, uptime exact, not a bound.
    ns.veth("vc", "vd");
    wait_until("vc appears", Duration::from_secs(5), || {
        daemon
            .try_json("/api/v1/interface/vc/stats")
            .is_some_and(|v| v["present"] == true)
    });
    let vc = daemon.iface("vc");
    assert_eq!(vc["uptime_is_lower_bound"], false);
    let first_ifindex = vc["ifindex"].as_u64().expect("an ifindex");

    assert_eq!(ns.send_frames("vd", "vc", 500, 1000, 5, 100), 500);
    let kernel = ns.kernel_counters("vc");
    wait_until("vc's traffic is served", Duration::from_secs(5), || {
        counters_of(&daemon.iface("vc")) == kernel
    });

    // Deleted: still served, absent, with its last data.
    ns.ip(&["link", "del", "vc"]);
    wait_until("vc is absent", Duration::from_secs(5), || {
        daemon.iface("vc")["present"] == false
    });
    let gone = daemon.iface("vc");
    assert_eq!(counters_of(&gone), kernel);
    assert_eq!(gone["rates"]["current"], Value::Null);
    assert_eq!(gone["uptime_seconds"], Value::Null);
    // No link while absent: the kernel has none to report (the last ifindex is kept inside, to
    // tell a return from a re-creation).
    assert_eq!(gone["ifindex"], Value::Null);
    assert_eq!(gone["oper_state"], Value::Null);

    // Created again under the same name: a new ifindex, so a reset.
    ns.veth("vc", "vd");
    wait_until("vc is back", Duration::from_secs(5), || {
        daemon.iface("vc")["present"] == true
    });
    assert_eq!(ns.send_frames("vd", "vc", 100, 1000, 2, 100), 100);
    let kernel = ns.kernel_counters("vc");
    wait_until(
        "the new vc's counters are served",
        Duration::from_secs(5),
        || counters_of(&daemon.iface("vc")) == kernel,
    );
    let back = daemon.iface("vc");
    assert_ne!(back["ifindex"].as_u64(), Some(first_ifindex));
    assert_eq!(back["events"]["resets"], 1);
    assert_eq!(back["uptime_is_lower_bound"], false);
    assert!(f(&back["uptime_seconds"]) < 10.0, "uptime restarted");
    // The averages count both lives exactly once: 500 + 100 frames, never more, never negative.
    for window in ["avg_1m", "avg_5m", "avg_15m"] {
        let rate = &back["rates"][window];
        assert_within_1_percent(window, implied(rate, "rx_bytes_per_sec"), 600_000.0);
        assert!(f(&rate["rx_packets_per_sec"]) >= 0.0);
    }

    // Deleted and created again at once, likely between two samples: either way, a reset.
    let ifindex = back["ifindex"].as_u64();
    ns.batch("link del vc\nlink add vc type veth peer name vd\nlink set vc up\nlink set vd up\n");
    wait_until("the third vc is served", Duration::from_secs(5), || {
        let vc = daemon.iface("vc");
        vc["present"] == true && vc["ifindex"].as_u64() != ifindex
    });
    let third = daemon.iface("vc");
    assert_eq!(third["events"]["resets"], 2);
    assert_eq!(counters_of(&third), ns.kernel_counters("vc"));
    daemon.assert_alive();
}

/// Issue 17: `ip link set X name Y` keeps the ifindex, and the history follows the new name,
/// both where the link table comes from rtnetlink (the defaults) and where it comes from sysfs
/// (another `--source`: this namespace's own file under another path). The veth's speed is real
/// (sysfs `speed` of a veth is 10000 Mbit/s), and `--link-speed` takes over under the new name.
#[test]
fn a_renamed_interface_keeps_its_history() {
    for (mode, extra) in [
        ("rtnetlink", &[][..]),
        ("sysfs", &["--source", "/proc/self/net/dev"][..]),
    ] {
        let Some(ns) = Netns::create(&format!("17rename-{mode}")) else {
            return;
        };
        ns.veth("i17a", "i17b");
        let mut args = vec!["--link-speed", "i17wan=1M"];
        args.extend_from_slice(extra);
        let mut daemon = ns.daemon(INTERVAL_MS, &args);
        assert_eq!(ns.send_frames("i17b", "i17a", 300, 1000, 3, 100), 300);
        let kernel = ns.kernel_counters("i17a");
        wait_until("i17a's traffic is served", Duration::from_secs(5), || {
            counters_of(&daemon.iface("i17a")) == kernel
        });
        let before = daemon.iface("i17a");
        let ifindex = before["ifindex"].as_u64().expect("an ifindex");
        assert_eq!(ns.sysfs("i17a", "speed"), "10000", "{mode}: a veth's speed");
        assert_eq!(
            before["link_speed_bits_per_sec"], 10_000_000_000u64,
            "{mode}"
        );
        let avg = &before["rates"]["avg_1m"];
        let utilisation = f(&avg["rx_bytes_per_sec"]) * 8.0 / 1e10;
        assert_within_1_percent("rx_utilisation", f(&avg["rx_utilisation"]), utilisation);

        // A link must be down to be renamed.
        ns.batch("link set i17a down\nlink set i17a name i17wan\nlink set i17wan up\n");
        wait_until("i17wan is up", Duration::from_secs(5), || {
            ns.sysfs("i17wan", "operstate") == "up"
        });
        assert_eq!(ns.send_frames("i17b", "i17wan", 200, 1000, 2, 100), 200);
        let kernel = ns.kernel_counters("i17wan");
        wait_until("i17wan's traffic is served", Duration::from_secs(5), || {
            daemon
                .try_json("/api/v1/interface/i17wan/stats")
                .is_some_and(|wan| counters_of(&wan) == kernel)
        });
        let wan = daemon.iface("i17wan");
        assert_eq!(wan["ifindex"].as_u64(), Some(ifindex), "{mode}");
        assert_eq!(wan["renamed_from"], "i17a", "{mode}");
        assert_eq!(wan["renamed_to"], Value::Null);
        assert_eq!(wan["events"]["renames"], 1, "{mode}");
        assert_eq!(
            wan["events"]["resets"], 0,
            "{mode}: a rename is not a reset"
        );
        assert_eq!(
            wan["link_speed_bits_per_sec"], 1_000_000,
            "{mode}: --link-speed"
        );
        // The history followed: the averages hold both names' traffic, exactly once.
        for window in ["avg_1m", "avg_5m", "avg_15m"] {
            let rate = &wan["rates"][window];
            assert_within_1_percent(window, implied(rate, "rx_bytes_per_sec"), 500_000.0);
            let expected = f(&rate["rx_bytes_per_sec"]) * 8.0 / 1e6;
            assert_within_1_percent("utilisation", f(&rate["rx_utilisation"]), expected);
        }
        let old = daemon.iface("i17a");
        assert_eq!(old["present"], false, "{mode}");
        assert_eq!(old["renamed_to"], "i17wan", "{mode}");
        assert_eq!(old["rates"]["avg_1m"], Value::Null);
        let names: Vec<Value> = daemon.json("/api/v1/interfaces")["interfaces"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|i| i["interface"].clone())
            .collect();
        assert!(names.contains(&"i17a".into()) && names.contains(&"i17wan".into()));
        let metrics = String::from_utf8(daemon.curl("/metrics", &[])).expect("UTF-8");
        assert!(
            metrics.contains("ifstatsd_interface_renames_total{device=\"i17wan\"} 1\n"),
            "{mode}: {metrics}"
        );
        assert!(daemon.logged("i17a: renamed i17wan"), "{mode}");
        daemon.assert_alive();
    }
}

/// Issue 17: OpenWrt's flow offloading setting is found and reported. The daemon runs in a
/// private mount namespace whose `/etc` is a tmpfs holding only `config/firewall`, a fixture with
/// `flow_offloading` and `flow_offloading_hw` on. This kernel cannot create a flowtable, so the
/// nftables dump really runs and finds none.
#[test]
fn an_openwrt_offload_configuration_is_reported_on_health() {
    let Some(ns) = Netns::create("17offload") else {
        return;
    };
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/openwrt/firewall-fw4-hw-offload"
    );
    let script = format!(
        "mount -t tmpfs none /etc && mkdir /etc/config && cp {fixture} /etc/config/firewall \
         && exec {} --listen {LOOPBACK} --interval {INTERVAL_MS}ms --log-level debug",
        env!("CARGO_BIN_EXE_ifstatsd")
    );
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "unshare",
            "--mount",
            "--propagation",
            "private",
        ])
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the daemon starts");
    let log = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().expect("piped stderr");
    thread::spawn({
        let log = Arc::clone(&log);
        move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        }
    });
    let mut daemon = NsDaemon {
        ns: ns.name.clone(),
        listen: LOOPBACK.to_owned(),
        child,
        log,
    };
    wait_until("the daemon answers", Duration::from_secs(10), || {
        daemon.try_json("/health").is_some()
    });
    let offload = &daemon.json("/health")["offload"];
    assert_eq!(offload["active"], true, "{offload}");
    assert_eq!(offload["openwrt_flow_offloading"], "hardware", "{offload}");
    assert_eq!(offload["flowtables"], serde_json::json!([]), "{offload}");
    assert_eq!(offload["interfaces"], serde_json::json!([]), "{offload}");
    assert_eq!(
        offload["flowtables_error"],
        Value::Null,
        "this kernel answers the nftables dump: {offload}"
    );
    assert!(
        daemon.logged("flow offloading on every forwarding interface"),
        "logged once as a warning"
    );
    daemon.assert_alive();
}

#[test]
fn a_link_down_and_up_restarts_uptime_and_keeps_counters() {
    let Some(ns) = Netns::create("updown") else {
        return;
    };
    ns.veth("va", "vb");
    let daemon = ns.daemon(INTERVAL_MS, &[]);
    assert_eq!(ns.send_frames("vb", "va", 200, 500, 2, 100), 200);
    daemon.wait_samples(2);
    let before = daemon.iface("va");
    assert_eq!(before["uptime_is_lower_bound"], true);

    ns.ip(&["link", "set", "va", "down"]);
    wait_until("va is served down", Duration::from_secs(5), || {
        daemon.iface("va")["oper_state"] == "down"
    });
    assert_eq!(daemon.iface("va")["uptime_seconds"], Value::Null);
    ns.ip(&["link", "set", "va", "up"]);
    wait_until("va is served up", Duration::from_secs(5), || {
        daemon.iface("va")["oper_state"] == "up"
    });
    let after = daemon.iface("va");
    assert_eq!(after["uptime_is_lower_bound"], false, "uptime restarted");
    assert!(f(&after["uptime_seconds"]) < f(&before["uptime_seconds"]) + 5.0);
    assert_eq!(after["events"]["resets"], 0, "a link flap is not a reset");
    assert_eq!(counters_of(&after)[0], 100_000, "no counter lost");
    assert_eq!(counters_of(&after), ns.kernel_counters("va"));
}

#[test]
fn link_state_follows_the_kernel_through_changes() {
    let Some(ns) = Netns::create("link") else {
        return;
    };
    ns.veth("va", "vb");
    let daemon = ns.daemon(INTERVAL_MS, &[]);
    daemon.wait_samples(2);
    // What sysfs says of va, in the API's terms (node_exporter reads the same files).
    let sysfs_link = || {
        let read = |attribute: &str| {
            let path = format!("/sys/class/net/va/{attribute}");
            let out = run("ip", &["netns", "exec", &ns.name, "cat", &path]);
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        };
        let number = |a: &str| {
            read(a)
                .and_then(|t| t.parse::<i64>().ok())
                .filter(|&n| n >= 0)
        };
        serde_json::json!({
            "speed_mbps": number("speed"),
            "duplex": read("duplex"),
            "mtu_bytes": number("mtu"),
            "carrier": number("carrier").map(|c| c == 1),
            "address": read("address"),
            "broadcast": read("broadcast"),
            "alias": read("ifalias").filter(|a| !a.is_empty()),
        })
    };
    let served_as_sysfs = |what: &str| {
        wait_until(what, Duration::from_secs(5), || {
            daemon.iface("va")["link"] == sysfs_link()
        });
        daemon.iface("va")["link"].clone()
    };
    let up = served_as_sysfs("va's link state as sysfs has it");
    assert_eq!(up["speed_mbps"], 10_000, "{up}");
    assert_eq!(
        (&up["duplex"], &up["carrier"]),
        (&"full".into(), &true.into())
    );

    // Changes come with rtnetlink notifications: MTU and alias at once, speed re-read after.
    ns.ip(&["link", "set", "va", "mtu", "1400", "alias", "uplink to vb"]);
    let changed = served_as_sysfs("va's new MTU and alias");
    assert_eq!(
        (&changed["mtu_bytes"], &changed["alias"]),
        (&1400.into(), &"uplink to vb".into())
    );
    // ... and every sample after says so: the sampler reuses a snapshot's link state while the
    // link table is unchanged, and each snapshot filled before the change is filled anew.
    let (after, deadline) = (daemon.samples(), Instant::now() + Duration::from_secs(30));
    while daemon.samples() < after + 40 {
        assert!(Instant::now() < deadline, "40 samples took over 30 s");
        assert_eq!(daemon.iface("va")["link"], changed);
    }

    // Down: no carrier, speed or duplex (sysfs refuses them); up again: all back.
    ns.ip(&["link", "set", "va", "down"]);
    let down = served_as_sysfs("va's link state while down");
    assert_eq!(
        (&down["carrier"], &down["speed_mbps"]),
        (&Value::Null, &Value::Null)
    );
    ns.ip(&["link", "set", "va", "up"]);
    wait_until("va up again", Duration::from_secs(5), || {
        ns.sysfs("va", "operstate") == "up"
    });
    let again = served_as_sysfs("va's link state once up again");
    assert_eq!(again["speed_mbps"], 10_000, "{again}");
}

#[test]
fn a_thousand_interfaces_are_all_served() {
    let Some(ns) = Netns::create("thousand") else {
        return;
    };
    const PAIRS: usize = 500;
    let batch: String = (0..PAIRS)
        .map(|i| format!("link add p{i}a type veth peer name p{i}b\n"))
        .collect();
    ns.batch(&batch);

    let interfaces = 2 * PAIRS + 1; // and lo
    let daemon = ns.daemon(1000, &["--max-interfaces", "2000"]);
    wait_until("every interface is listed", Duration::from_secs(10), || {
        daemon.json("/api/v1/interfaces")["interfaces"]
            .as_array()
            .map(Vec::len)
            == Some(interfaces)
    });
    daemon.wait_samples(3);
    let list = daemon.json("/api/v1/interfaces");
    let served: BTreeSet<String> = list["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["present"] == true && i["ifindex"].is_u64())
        .map(|i| i["interface"].as_str().unwrap().to_owned())
        .collect();
    let kernel: BTreeSet<String> = ns
        .exec(&["ls", "/sys/class/net"])
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(served, kernel);
    assert_eq!(daemon.iface("p499b")["oper_state"], "down");

    let mut durations = daemon.sample_durations_us(interfaces);
    assert!(durations.len() >= 3, "the debug log has sample durations");
    durations.sort_unstable();
    let median = durations[durations.len() / 2];
    eprintln!(
        "figure: a sample of {interfaces} interfaces (read, parse, sysfs) took a median of {median} µs \
         over {} samples ({:.2}% of the 1 s interval; debug build)",
        durations.len(),
        median as f64 / 10_000.0
    );
}

/// At boot a router starts its daemons before netifd has put the LAN address on br-lan. The
/// daemon started on `listen`, an address the namespace does not have yet, must serve on it
/// once `add_address` adds it to the interface lan0.
fn serves_an_address_added_after_it_started(ns: &Netns, listen: &str, add_address: &[&str]) {
    let mut daemon = ns.spawn_daemon(listen, 1000, &[]);
    let serving = format!("serving http://{listen}/");
    wait_until("the daemon serves", Duration::from_secs(10), || {
        daemon.assert_alive();
        daemon.logged(&serving)
    });
    let ip = listen.rsplit_once(':').unwrap().0.trim_matches(['[', ']']);
    assert!(
        daemon.logged(&format!("{ip} is not an address of this host yet")),
        "{:?}",
        daemon.log.lock().unwrap()
    );
    ns.ip(add_address);
    wait_until(
        &format!("/health answers 200 on {listen}"),
        Duration::from_secs(5),
        || daemon.status("/health") == Some(200),
    );
    daemon.assert_alive();
}

#[test]
fn serves_an_ipv4_address_added_after_it_started() {
    let Some(ns) = Netns::create("freebind4") else {
        return;
    };
    ns.veth("lan0", "peer0");
    serves_an_address_added_after_it_started(
        &ns,
        "192.0.2.1:9310",
        &["addr", "add", "192.0.2.1/24", "dev", "lan0"],
    );
}

#[test]
fn serves_an_ipv6_address_added_after_it_started() {
    let Some(ns) = Netns::create("freebind6") else {
        return;
    };
    ns.veth("lan0", "peer0");
    for scope in ["all", "default", "lo", "lan0"] {
        ns.exec(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{scope}.disable_ipv6=0"),
        ]);
    }
    // nodad: usable at once, not tentative for a second while duplicate detection runs.
    serves_an_address_added_after_it_started(
        &ns,
        "[2001:db8::1]:9310",
        &[
            "-6",
            "addr",
            "add",
            "2001:db8::1/64",
            "dev",
            "lan0",
            "nodad",
        ],
    );
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}
