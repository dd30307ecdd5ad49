//! The state file, beside the flow: its format ([`state`]) and the glue below. It reads and
//! writes the statistics through their own export and restore, and saves only when the statistics
//! thread asks ([`crate::stats::Save`]).
//!
//! Persistence glue: restoring the statistics from the state file at start-up, and the saver the
//! statistics thread calls every save interval and at exit. The format lives in [`crate::store::state`].
//!
//! # What survives a restart, and the rules
//!
//! With `--state-file /var/lib/ifstatsd/state` (off by default), the daemon saves its statistics at
//! SIGTERM/SIGINT and every `--save-interval` (15 minutes by default; `0` saves only at exit), and
//! restores them at start-up. After `systemctl restart` or procd's respawn:
//!
//! - the 1/5/15-minute averages are served at once from the restored history;
//! - the daily, monthly and billing-cycle totals go on (also after a reboot);
//! - uptime, `uptime_is_lower_bound` and `events` continue;
//! - the first delta after the restart is taken against the saved counters, so the traffic that
//!   passed while the daemon was down is counted once: not lost, not doubled.
//!
//! Rules:
//!
//! - **Reboots.** The file records the kernel's boot id (`--boot-id-file`, for tests). After a
//!   reboot the history is restored, but every interface is treated as reset: its counters count
//!   from zero again at its first sample. An ifindex change is a reset as always.
//! - **Age.** History older than 60 minutes, downtime included, is dropped on restore.
//! - **Clocks.** Every time in the file is an age before the save, and the downtime is measured with
//!   `/proc/uptime` (time since boot, which NTP never steps) when the boot is the same. A router
//!   without an RTC whose wall clock jumps at its first NTP sync keeps its history intact.
//! - **Atomic writes.** A temporary file in the same directory, fsync, rename, fsync of the
//!   directory: a crash or a power cut at any moment leaves the old state or the new one.
//! - **Unusable files.** A state file that is empty, truncated, damaged, of another format version,
//!   or not ours is logged once, kept aside as `<file>.corrupt-<unix seconds>` (never deleted), and
//!   reported in `/health` as `state_restore_error`; the daemon starts fresh. A missing file is
//!   simply a first start. A failing save (a read-only directory, a full disk) is logged once,
//!   shown as `last_save_error`, and retried at the next save; sampling goes on.
//! - **Flash.** The file is binary and compact: about 13 bytes per sample for an idle interface and
//!   25 for a busy one, 5 to 9 KB per interface-hour. At the defaults, 16 interfaces write about
//!   12 MB a day (see [BENCHMARKS.md](BENCHMARKS.md)); `--save-interval 1h` makes that 3 MB. Put the
//!   file on flash only if you need the history across reboots; under `/tmp` it survives daemon
//!   restarts at no flash cost.
//!
//! `/health` shows `state_file`, `last_save_at`, `last_save_error` and `state_restore_error`.
//!
//! The format (version 2, `src/store/state.rs`): the magic `IFSTATSD`, a version byte, then LEB128 varints
//! and length-prefixed strings: the boot id, the save's wall time and time since boot, the interval,
//! and per interface its name, flags, counters, ifindex, operstate, events, last-seen and up-since
//! ages, its ring, oldest first, as differences from the previous slot, and its daily and monthly
//! usage totals; then an FNV-1a 64-bit checksum of everything before it. Version 1 files (no
//! totals) still load, their totals starting empty.

pub mod state;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::stats::{Save, Stats};
use state::Loaded;

/// Restores `stats` from `path` if it holds a usable state. Never fails: a missing file starts
/// fresh; an unusable one is moved aside, logged once, and reported on `/health`.
pub fn restore(stats: &mut Stats, path: &Path, boot_id: &str) {
    let shown = path.display();
    match state::load(path) {
        Ok(Loaded::Missing) => log::info!("no state file at {shown} yet; starting fresh"),
        Ok(Loaded::State(saved)) => {
            let same_boot = !boot_id.is_empty() && saved.boot_id == boot_id;
            let downtime = downtime(saved.saved_wall, saved.saved_uptime, same_boot);
            let restored = stats.restore(
                saved,
                Instant::now(),
                SystemTime::now(),
                downtime,
                same_boot,
            );
            let reboot = if same_boot {
                ""
            } else {
                " (after a reboot: counting from zero)"
            };
            log::info!(
                "restored {restored} interfaces from {shown}, saved {:.1} s ago{reboot}",
                downtime.as_secs_f64()
            );
        }
        Ok(Loaded::Corrupt { why, kept_as }) => {
            let kept = match &kept_as {
                Some(aside) => format!("kept as {}", aside.display()),
                None => "could not be moved aside".to_owned(),
            };
            let message = format!("state file {shown} is unusable ({why}); {kept}; started fresh");
            log::warn!("{message}");
            stats.record_restore_error(message);
        }
        Err(e) => {
            let message = format!("cannot read state file {shown}: {e}; started fresh");
            log::warn!("{message}");
            stats.record_restore_error(message);
        }
    }
}

/// How long the daemon was down: by the boot-relative clock when the boot is the same (immune
/// to wall-clock steps), else by the wall clock, clamped at zero.
fn downtime(saved_wall: SystemTime, saved_uptime: Option<Duration>, same_boot: bool) -> Duration {
    match (same_boot, saved_uptime, state::read_uptime()) {
        (true, Some(then), Some(now)) => now.saturating_sub(then),
        _ => SystemTime::now()
            .duration_since(saved_wall)
            .unwrap_or(Duration::ZERO),
    }
}

/// Saves the statistics to the state file when due.
pub struct Saver {
    path: PathBuf,
    /// Zero: only at exit.
    every: Duration,
    boot_id: String,
    last_save: Instant,
    failing: bool,
}

impl Saver {
    /// A saver to `path` every `every` (zero: only at exit), recording `boot_id`.
    pub fn new(path: &Path, every: Duration, boot_id: String) -> Self {
        Saver {
            path: path.to_owned(),
            every,
            boot_id,
            last_save: Instant::now(),
            failing: false,
        }
    }
}

impl Save for Saver {
    /// When the next periodic save is due: never with `--save-interval 0`.
    fn due_at(&self) -> Option<Instant> {
        (!self.every.is_zero()).then(|| self.last_save + self.every)
    }

    /// Saves now, records the outcome in `stats` (for `/health`), and logs changes of state.
    fn save(&mut self, stats: &mut Stats) {
        let started = Instant::now();
        let wall = SystemTime::now();
        let mut saved = stats.export(started, wall, &self.boot_id);
        saved.saved_uptime = state::read_uptime();
        let bytes = state::encode(&saved);
        let result = state::write_atomically(&self.path, &bytes)
            .map_err(|e| format!("cannot save {}: {e}", self.path.display()));
        self.last_save = started;
        match &result {
            Ok(()) => {
                log::debug!(
                    "saved {} bytes to {} in {} µs",
                    bytes.len(),
                    self.path.display(),
                    started.elapsed().as_micros()
                );
                if self.failing {
                    log::info!("saving works again: {}", self.path.display());
                }
            }
            Err(error) if !self.failing => log::warn!("{error}; will retry"),
            Err(error) => log::debug!("{error}"),
        }
        self.failing = result.is_err();
        stats.record_save(wall, result.err());
    }
}
