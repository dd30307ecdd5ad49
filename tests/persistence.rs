//! `--state-file` with the real binary: a restart continues the statistics, a kill at any moment
//! leaves a loadable state, a reboot resets the counters, and no unusable file stops the daemon.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rstest::rstest;
use serde_json::Value;
use support::{net_dev, s, wait_until, write_atomically, Daemon, TempDir};

/// A test's files: the source, an empty sysfs, the boot id, and the state file's directory.
struct Setup {
    dir: TempDir,
}

impl Setup {
    fn new(test: &str) -> Setup {
        let dir = TempDir::new(test);
        std::fs::create_dir(dir.path("sysfs")).unwrap();
        std::fs::create_dir(dir.path("state")).unwrap();
        std::fs::write(dir.path("boot_id"), "boot-1\n").unwrap();
        let setup = Setup { dir };
        setup.source(0);
        setup
    }

    fn state(&self) -> PathBuf {
        self.dir.path("state/ifstatsd.state")
    }

    /// Writes the source with eth0 at `rx_bytes`.
    fn source(&self, rx_bytes: u64) {
        let eth0 = [rx_bytes, rx_bytes / 100, 0, 0, 1000, 10, 0, 0];
        write_atomically(
            &self.dir.path("net_dev"),
            net_dev(&[("lo", [0; 8]), ("eth0", eth0)]),
        );
    }

    fn start(&self, extra: &[&str]) -> Daemon {
        let (source, sysfs, boot) = (
            self.dir.path("net_dev"),
            self.dir.path("sysfs"),
            self.dir.path("boot_id"),
        );
        let state = self.state();
        let mut args = vec![
            "--interval",
            "100ms",
            "--source",
            s(&source),
            "--sysfs",
            s(&sysfs),
            "--state-file",
            s(&state),
            "--boot-id-file",
            s(&boot),
        ];
        args.extend_from_slice(extra);
        Daemon::start(&args)
    }

    /// The files in the state directory other than the state file: what was moved aside.
    fn kept_aside(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.path("state"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(".corrupt-"))
            .collect()
    }
}

fn eth0(daemon: &Daemon) -> Value {
    daemon.json("/api/v1/interface/eth0/stats")
}

fn stop(mut daemon: Daemon) {
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(3)).success());
}

/// What the 1-minute average says was counted over the window.
fn counted(eth0: &Value) -> f64 {
    let avg = &eth0["rates"]["avg_1m"];
    avg["rx_bytes_per_sec"].as_f64().unwrap() * avg["covered_seconds"].as_f64().unwrap()
}

#[test]
fn a_restart_continues_and_counts_the_downtime_traffic_once() {
    let setup = Setup::new("persist-restart");
    let daemon = setup.start(&[]);
    assert_eq!(daemon.json("/health")["state_file"], s(&setup.state()));
    // 10 steps of 5000 bytes, each seen by the daemon.
    for step in 1..=10u64 {
        setup.source(step * 5000);
        wait_until("the step is sampled", Duration::from_secs(5), || {
            eth0(&daemon)["counters"]["rx_bytes"] == step * 5000
        });
    }
    let before = eth0(&daemon);
    stop(daemon);
    assert!(setup.state().exists(), "saved at exit");

    // Traffic while the daemon is down.
    setup.source(80_000);
    let daemon = setup.start(&[]);
    let after = eth0(&daemon);
    // At once: the history is back, and the 30000 bytes of the downtime are counted once.
    assert_eq!(after["counters"]["rx_bytes"], 80_000);
    assert!(
        (counted(&after) - 80_000.0).abs() < 1e-6,
        "{}",
        after["rates"]["avg_1m"]
    );
    let covered_before = before["rates"]["avg_1m"]["covered_seconds"]
        .as_f64()
        .unwrap();
    let covered_after = after["rates"]["avg_1m"]["covered_seconds"]
        .as_f64()
        .unwrap();
    assert!(covered_after > covered_before, "the history continues");
    let uptime_before = before["uptime_seconds"].as_f64().unwrap();
    assert!(
        after["uptime_seconds"].as_f64().unwrap() > uptime_before,
        "uptime continues"
    );
    assert_eq!(after["uptime_is_lower_bound"], true);
    assert_eq!(after["events"], before["events"]);
    let health = daemon.json("/health");
    assert_eq!(health["state_restore_error"], Value::Null);
    stop(daemon);
}

#[test]
fn the_rate_continues_within_one_percent_across_a_restart() {
    let setup = Setup::new("persist-rate");
    let daemon = setup.start(&[]);
    for step in 1..=20u64 {
        setup.source(step * 1000);
        wait_until("the step is sampled", Duration::from_secs(5), || {
            eth0(&daemon)["counters"]["rx_bytes"] == step * 1000
        });
    }
    let before = eth0(&daemon)["rates"]["avg_1m"]["rx_bytes_per_sec"]
        .as_f64()
        .unwrap();
    stop(daemon);
    let daemon = setup.start(&[]);
    let after = eth0(&daemon)["rates"]["avg_1m"]["rx_bytes_per_sec"]
        .as_f64()
        .unwrap();
    // The window now also spans the restart, with no traffic in it: the average may only fall
    // by the share of the window the restart took, never jump.
    let covered = eth0(&daemon)["rates"]["avg_1m"]["covered_seconds"]
        .as_f64()
        .unwrap();
    assert!(
        after <= before * 1.01 && after > 0.0,
        "{before} -> {after} over {covered} s"
    );
    let expected = 20_000.0 / covered;
    assert!(
        (after / expected - 1.0).abs() < 0.01,
        "{after} vs {expected}"
    );
    stop(daemon);
}

#[test]
fn a_kill_at_any_moment_leaves_a_loadable_state() {
    let setup = Setup::new("persist-kill");
    // Deterministic pseudo-random delays: the run is the same each time, and still spread over
    // the periodic saves, the exit save, and everything between.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |modulo: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % modulo
    };
    for round in 0..12u64 {
        setup.source(round * 1000);
        let mut daemon = setup.start(&["--save-interval", "1s"]);
        let health = daemon.json("/health");
        assert_eq!(
            health["state_restore_error"],
            Value::Null,
            "round {round}: {health}"
        );
        if round % 2 == 0 {
            // Killed at some moment, maybe during a periodic save.
            std::thread::sleep(Duration::from_millis(next(1500)));
        } else {
            // Killed during (or just before, or after) the save at exit.
            daemon.signal("TERM");
            std::thread::sleep(Duration::from_micros(next(8000)));
        }
        daemon.signal("KILL");
        daemon.wait_exit(Duration::from_secs(3));
    }
    let daemon = setup.start(&[]);
    assert_eq!(daemon.json("/health")["state_restore_error"], Value::Null);
    assert!(setup.kept_aside().is_empty(), "{:?}", setup.kept_aside());
}

#[test]
fn a_new_boot_id_resets_every_interface_but_keeps_the_history() {
    let setup = Setup::new("persist-reboot");
    setup.source(50_000);
    let daemon = setup.start(&[]);
    setup.source(60_000);
    wait_until("10000 bytes are counted", Duration::from_secs(5), || {
        eth0(&daemon)["counters"]["rx_bytes"] == 60_000
    });
    stop(daemon);

    std::fs::write(setup.dir.path("boot_id"), "boot-2\n").unwrap();
    setup.source(3000); // counted since the reboot
    let daemon = setup.start(&[]);
    let after = eth0(&daemon);
    assert_eq!(after["events"]["resets"], 1);
    assert_eq!(after["uptime_is_lower_bound"], false);
    assert!(after["uptime_seconds"].as_f64().unwrap() < 1.0);
    // 10000 bytes before the reboot, 3000 since: never the 60000 of the old counter again.
    assert!(
        (counted(&after) - 13_000.0).abs() < 1e-6,
        "{}",
        after["rates"]["avg_1m"]
    );
    stop(daemon);
}

/// The ways a state file can be unusable.
#[derive(Clone, Copy, Debug)]
enum Damage {
    Empty,
    NotOurs,
    OtherVersion,
    Truncated,
    FlippedByte,
}

#[rstest]
#[case::empty(Damage::Empty)]
#[case::not_ours(Damage::NotOurs)]
#[case::other_version(Damage::OtherVersion)]
#[case::truncated(Damage::Truncated)]
#[case::flipped_byte(Damage::FlippedByte)]
fn an_unusable_state_file_is_kept_aside_and_reported(#[case] damage: Damage) {
    let setup = Setup::new(&format!("persist-{damage:?}"));
    stop(setup.start(&[]));
    let mut content = std::fs::read(setup.state()).unwrap();
    match damage {
        Damage::Empty => content.clear(),
        Damage::NotOurs => content = b"{\"rx_bytes\": 12}\n".to_vec(),
        Damage::OtherVersion => content[8] = 7,
        Damage::Truncated => content.truncate(content.len() * 2 / 3),
        Damage::FlippedByte => {
            let middle = content.len() / 2;
            content[middle] ^= 0x10;
        }
    }
    std::fs::write(setup.state(), &content).unwrap();
    let daemon = setup.start(&[]);
    let health = daemon.json("/health");
    assert_eq!(health["status"], "ok");
    let error = health["state_restore_error"]
        .as_str()
        .expect("reported on /health");
    let kept = setup.kept_aside();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(error.contains(s(&kept[0])), "{error}");
    assert_eq!(std::fs::read(&kept[0]).unwrap(), content, "kept as it was");
    stop(daemon);
    // The next start loads the state saved at that exit.
    let daemon = setup.start(&[]);
    assert_eq!(daemon.json("/health")["state_restore_error"], Value::Null);
    stop(daemon);
}

#[test]
fn a_missing_state_file_starts_fresh_quietly() {
    let setup = Setup::new("persist-missing");
    let daemon = setup.start(&[]);
    let health = daemon.json("/health");
    assert_eq!(health["state_restore_error"], Value::Null);
    assert_eq!(health["last_save_at"], Value::Null, "nothing saved yet");
    stop(daemon);
    assert!(setup.state().exists());
}

#[test]
fn a_read_only_directory_is_reported_and_nothing_else_breaks() {
    let setup = Setup::new("persist-readonly");
    let dir = setup.dir.path("state");
    // Root ignores permission bits, so mount the directory read-only where we can.
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "ro,size=64k", "ifstatsd-test", s(&dir)])
        .status()
        .is_ok_and(|status| status.success());
    if !mounted {
        let mut permissions = std::fs::metadata(&dir).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o555);
        std::fs::set_permissions(&dir, permissions).unwrap();
    }
    let daemon = setup.start(&["--save-interval", "1s"]);
    wait_until("a save fails", Duration::from_secs(5), || {
        daemon.json("/health")["last_save_error"].is_string()
    });
    let health = daemon.json("/health");
    assert_eq!(health["status"], "ok", "sampling is not affected");
    assert_eq!(health["last_save_at"], Value::Null);
    assert!(health["last_save_error"]
        .as_str()
        .unwrap()
        .contains(s(&setup.state())));
    assert_eq!(daemon.get("/api/v1/interface/eth0/stats").status, 200);
    stop(daemon);
    if mounted {
        let _ = Command::new("umount").arg(s(&dir)).status();
    }
}
