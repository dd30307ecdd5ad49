//! The usage totals against time itself: the real daemon runs under libfaketime (Debian's
//! `libfaketime`, installed by `.ci/run`), whose wall clock this test sets, step by step, across a
//! midnight, both daylight saving changes of Central Europe, a month end, a daemon restart with a
//! state file and a reboot, while the source it samples counts bytes this test writes. Every
//! day's and month's totals are then checked to the byte against the bytes written.
//!
//! Only the wall clock is faked (`FAKETIME_DONT_FAKE_MONOTONIC=1`): the daemon's intervals and
//! rates run on the real monotonic clock, as on a router whose wall clock is stepped by NTP. The
//! wall clock is frozen at each step's time (libfaketime's absolute format, read from a file at
//! every call), so that each sample's day is the step's, with no race.
//!
//! Without libfaketime the test says why it skipped; under `CI=true` it fails instead.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use support::{counters_of, net_dev, s, wait_until, write_atomically, Daemon, TempDir};

/// Central Europe, as OpenWrt writes it in /etc/TZ: summer time from the last Sunday of March
/// 02:00 CET to the last Sunday of October 03:00 CEST.
const TZ: &str = "CET-1CEST,M3.5.0,M10.5.0/3";

/// Where Debian's libfaketime is, if it is installed.
fn libfaketime() -> Option<PathBuf> {
    let lib = Path::new("/usr/lib");
    let arch_dirs = std::fs::read_dir(lib).ok()?.flatten().map(|e| e.path());
    [lib.to_path_buf()]
        .into_iter()
        .chain(arch_dirs)
        .map(|dir| dir.join("faketime/libfaketime.so.1"))
        .find(|path| path.exists())
}

/// Seconds since the epoch of `YYYY-MM-DD hh:mm:ss` UTC, worked out here by hand arithmetic
/// (days from the civil date), not by the daemon's calendar code.
fn epoch(utc: &str) -> i64 {
    let n = |range: std::ops::Range<usize>| utc[range].parse::<i64>().unwrap();
    let (year, month, day) = (n(0..4), n(5..7), n(8..10));
    // Days before each month in a common year; 2027 is common.
    const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    assert_eq!(year, 2027, "the table below is for 2027");
    let days = 20_819 + BEFORE[month as usize - 1] + day - 1; // 2027-01-01 is day 20819
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

/// One step: the wall clock (UTC), what local time it is in [`TZ`] (as worked out by hand), and
/// the bytes received and sent in it.
struct Step {
    utc: &'static str,
    local_date: &'static str,
    utc_offset_seconds: i64,
    rx: u64,
    tx: u64,
}

const fn step(
    utc: &'static str,
    local_date: &'static str,
    utc_offset_seconds: i64,
    rx: u64,
    tx: u64,
) -> Step {
    Step {
        utc,
        local_date,
        utc_offset_seconds,
        rx,
        tx,
    }
}

/// rx_bytes starts 1500 below 2^32, as a 32-bit kernel's counter: it wraps at the second step.
const RX_START: u64 = (1 << 32) - 1500;

/// Before the first restart.
const FIRST_RUN: [Step; 6] = [
    step("2027-03-27 22:59:50", "2027-03-27", 3600, 1000, 100), // 23:59:50 CET
    step("2027-03-27 23:00:05", "2027-03-28", 3600, 2000, 200), // past midnight; rx wraps
    step("2027-03-28 00:59:59", "2027-03-28", 3600, 3000, 300), // 01:59:59 CET
    step("2027-03-28 01:00:01", "2027-03-28", 7200, 4000, 400), // 03:00:01 CEST
    step("2027-03-31 21:59:59", "2027-03-31", 7200, 5000, 500), // 23:59:59 CEST
    step("2027-03-31 22:00:01", "2027-04-01", 7200, 6000, 600), // April, still March in UTC
];

/// While the daemon is down, counted at its first sample after the restart.
const DOWNTIME: Step = step("2027-04-01 10:00:00", "2027-04-01", 7200, 7000, 700);

/// After the restart, then the counters start from zero again after a reboot.
const AFTER_RESTART: Step = step("2027-04-01 22:30:00", "2027-04-02", 7200, 8000, 800);
const AFTER_REBOOT: Step = step("2027-04-02 08:00:00", "2027-04-02", 7200, 500, 50);

/// Seven months later: the autumn change (02:30 twice), then the end of October.
const AUTUMN: [Step; 4] = [
    step("2027-10-31 00:30:00", "2027-10-31", 7200, 9000, 900), // 02:30 CEST
    step("2027-10-31 01:30:00", "2027-10-31", 3600, 10_000, 1000), // 02:30 CET
    step("2027-10-31 22:59:59", "2027-10-31", 3600, 11_000, 1100), // 23:59:59 CET
    step("2027-10-31 23:00:01", "2027-11-01", 3600, 12_000, 1200), // November
];

/// The daemon under a faked wall clock, the source it samples, and the clock's file.
struct Rig {
    dir: TempDir,
    lib: PathBuf,
    rx: u64,
    tx: u64,
}

impl Rig {
    fn source(&self) -> PathBuf {
        self.dir.path("net_dev")
    }

    fn set_clock(&self, utc: &str) {
        write_atomically(&self.dir.path("faketime"), format!("{}\n", epoch(utc)));
    }

    fn write_counters(&self) {
        let eth0 = [
            self.rx % (1 << 32),
            self.rx / 97,
            0,
            0,
            self.tx,
            self.tx / 97,
            0,
            0,
        ];
        write_atomically(&self.source(), net_dev(&[("eth0", eth0)]));
    }

    fn start(&self) -> Daemon {
        let clock = self.dir.path("faketime");
        let env = [
            ("LD_PRELOAD", s(&self.lib)),
            ("FAKETIME_TIMESTAMP_FILE", s(&clock)),
            ("FAKETIME_FMT", "%s"),
            ("FAKETIME_NO_CACHE", "1"),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
            ("TZ", TZ),
        ];
        let (source, sysfs) = (self.source(), self.dir.path("sysfs"));
        let (state, boot_id) = (self.dir.path("state"), self.dir.path("boot_id"));
        let args = [
            "--interval",
            "100ms",
            "--source",
            s(&source),
            "--sysfs",
            s(&sysfs),
            "--state-file",
            s(&state),
            "--boot-id-file",
            s(&boot_id),
            "--quota",
            "eth0=1M",
            "--log-level",
            "warn",
        ];
        Daemon::start_with_env(&args, &env)
    }

    /// Sets the clock to the step's time, waits until the daemon has sampled at it, then counts
    /// the step's bytes and waits until it has sampled them: they fall in the step's day.
    fn run(&mut self, daemon: &Daemon, step: &Step) {
        self.set_clock(step.utc);
        let stamp = rfc3339(step.utc);
        wait_until(
            &format!("a sample at {stamp}"),
            Duration::from_secs(10),
            || daemon.json("/api/v1/interface/eth0/stats")["updated_at"] == stamp.as_str(),
        );
        self.rx += step.rx;
        self.tx += step.tx;
        self.write_counters();
        self.wait_for_counters(daemon);
        let usage = daemon.json("/api/v1/interface/eth0/usage");
        assert_eq!(usage["today"], step.local_date, "at {}", step.utc);
        assert_eq!(
            usage["utc_offset_seconds"], step.utc_offset_seconds,
            "at {}",
            step.utc
        );
    }

    fn wait_for_counters(&self, daemon: &Daemon) {
        let rx = self.rx % (1 << 32);
        wait_until("the counters are sampled", Duration::from_secs(10), || {
            let counters = counters_of(&daemon.json("/api/v1/interface/eth0/stats"));
            counters[0] == rx && counters[4] == self.tx
        });
    }
}

/// `2027-03-27T22:59:50.000Z` from `2027-03-27 22:59:50`.
fn rfc3339(utc: &str) -> String {
    format!("{}T{}.000Z", &utc[..10], &utc[11..])
}

/// The expected `days` or `months`: the steps' bytes summed by `key`, newest first.
fn totals(steps: &[&Step], key: fn(&Step) -> String, field: &str) -> Value {
    let mut sums: Vec<(String, u64, u64)> = Vec::new();
    for step in steps {
        let k = key(step);
        match sums.iter_mut().find(|(name, _, _)| *name == k) {
            Some(sum) => {
                sum.1 += step.rx;
                sum.2 += step.tx;
            }
            None => sums.push((k, step.rx, step.tx)),
        }
    }
    sums.sort_by(|a, b| b.0.cmp(&a.0));
    let list: Vec<Value> = sums
        .into_iter()
        .map(|(k, rx, tx)| json!({ field: k, "rx_bytes": rx, "tx_bytes": tx }))
        .collect();
    Value::Array(list)
}

fn by_day(step: &Step) -> String {
    step.local_date.to_owned()
}

fn by_month(step: &Step) -> String {
    step.local_date[..7].to_owned()
}

#[test]
fn totals_by_local_day_and_month_across_midnight_dst_month_end_restart_and_reboot() {
    let Some(lib) = libfaketime() else {
        let why = "libfaketime is not installed (Debian: apt-get install libfaketime)";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{why}; CI=true never skips"
        );
        eprintln!("usage_clock: skipped: {why}");
        return;
    };
    let dir = TempDir::new("usage-clock");
    std::fs::create_dir(dir.path("sysfs")).unwrap();
    std::fs::write(dir.path("boot_id"), "boot-1\n").unwrap();
    let mut rig = Rig {
        dir,
        lib,
        rx: RX_START,
        tx: 1_000_000,
    };
    // The daemon's first sample, at the first step's time, sees the starting counters: nothing
    // is counted for what the interface carried before.
    rig.set_clock(FIRST_RUN[0].utc);
    rig.write_counters();
    let mut daemon = rig.start();
    let since = rfc3339(FIRST_RUN[0].utc);
    for step in &FIRST_RUN {
        rig.run(&daemon, step);
    }
    let usage = daemon.json("/api/v1/interface/eth0/usage");
    let first: Vec<&Step> = FIRST_RUN.iter().collect();
    assert_eq!(usage["days"], totals(&first, by_day, "date"), "{usage}");
    assert_eq!(usage["months"], totals(&first, by_month, "month"));
    assert_eq!(usage["counting_since"], since.as_str());
    assert_eq!(usage["time_zone"], TZ);
    assert_eq!(usage["time_zone_source"], "TZ");
    let stats = daemon.json("/api/v1/interface/eth0/stats");
    assert_eq!(stats["events"]["wraps"], 1, "rx_bytes wrapped at 2^32");

    // A restart on the same boot: the bytes of the downtime are counted once, on the day of the
    // first sample after it.
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(5)).success());
    rig.set_clock(DOWNTIME.utc);
    rig.rx += DOWNTIME.rx;
    rig.tx += DOWNTIME.tx;
    rig.write_counters();
    let mut daemon = rig.start();
    rig.wait_for_counters(&daemon);
    rig.run(&daemon, &AFTER_RESTART);

    // A reboot: the kernel counts from zero; its new bytes are counted, the old are not.
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(5)).success());
    std::fs::write(rig.dir.path("boot_id"), "boot-2\n").unwrap();
    rig.set_clock(AFTER_REBOOT.utc);
    (rig.rx, rig.tx) = (AFTER_REBOOT.rx, AFTER_REBOOT.tx);
    rig.write_counters();
    let daemon = rig.start();
    rig.wait_for_counters(&daemon);
    let usage = daemon.json("/api/v1/interface/eth0/usage");
    let mut steps: Vec<&Step> = FIRST_RUN.iter().collect();
    steps.extend([&DOWNTIME, &AFTER_RESTART, &AFTER_REBOOT]);
    assert_eq!(usage["days"], totals(&steps, by_day, "date"), "{usage}");
    assert_eq!(usage["months"], totals(&steps, by_month, "month"));
    assert_eq!(
        usage["counting_since"],
        since.as_str(),
        "kept across restarts"
    );

    // October: days older than 31 are gone, months stay; 02:30 twice on the 31st.
    for step in &AUTUMN {
        rig.run(&daemon, step);
    }
    steps.extend(&AUTUMN);
    let usage = daemon.json("/api/v1/interface/eth0/usage");
    let autumn: Vec<&Step> = AUTUMN.iter().collect();
    assert_eq!(usage["days"], totals(&autumn, by_day, "date"), "{usage}");
    assert_eq!(usage["months"], totals(&steps, by_month, "month"));
    assert_eq!(usage["utc_offset_seconds"], 3600);

    // The cycle: November so far, one second in: 12 000 + 1 200 bytes against 1 MB, projected
    // over the 30 days of November (1 November 00:00 CET is 2027-10-31 23:00 UTC).
    let total: u64 = 12_000 + 1200;
    let november_ms: u64 = 30 * 86_400 * 1000;
    let counted_ms: u64 = 1000;
    assert_eq!(
        usage["cycle"],
        json!({
            "start": "2027-11-01", "end": "2027-11-30", "billing_day": 1,
            "rx_bytes": 12_000, "tx_bytes": 1200, "total_bytes": total,
            "quota_bytes": 1_000_000, "remaining_bytes": 1_000_000 - total,
            "projected_bytes": total * november_ms / counted_ms,
        })
    );
    // The same figures in /metrics.
    let metrics = String::from_utf8(daemon.get("/metrics").body).unwrap();
    for line in [
        "ifstatsd_usage_today_bytes{device=\"eth0\",direction=\"receive\"} 12000".to_owned(),
        format!(
            "ifstatsd_usage_month_bytes{{device=\"eth0\",direction=\"transmit\"}} {}",
            1200
        ),
        format!(
            "ifstatsd_usage_cycle_projected_bytes{{device=\"eth0\"}} {}",
            total * 2_592_000
        ),
        "ifstatsd_quota_bytes{device=\"eth0\"} 1000000".to_owned(),
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in /metrics"
        );
    }
}
