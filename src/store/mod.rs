//! The state file, beside the flow: its format ([`state`]) and the glue below. It reads and
//! writes the statistics through their own export and restore, and saves only when the statistics
//! thread asks ([`crate::stats::Save`]).
//!
//! Persistence glue: restoring the statistics from the state file at start-up, and the saver the
//! statistics thread calls every save interval and at exit. The format lives in [`crate::store::state`].

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
    /// Whether a periodic save is due.
    fn due(&self) -> bool {
        !self.every.is_zero() && self.last_save.elapsed() >= self.every
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
