//! The signal thread: SIGTERM or SIGINT stops the sampler, unblocks the request loop, and makes
//! sure the process exits within [`GRACE`] even if the loop is stuck writing to a stalled client.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tiny_http::Server;

/// How long a clean stop may take before the process exits anyway (status 0: it was asked to
/// stop, and it did).
pub const GRACE: Duration = Duration::from_millis(2500);

/// Registers for SIGTERM and SIGINT. Call before starting any thread (signal-hook's advice).
pub fn signals() -> io::Result<Signals> {
    Signals::new([SIGTERM, SIGINT])
}

/// What a signal stops.
pub struct Stoppers {
    /// Set before the request loop is unblocked, so that the loop knows its end is wanted.
    pub stopping: Arc<AtomicBool>,
    /// Dropped to stop the sampler (its `select!` sees the disconnection).
    pub sampler: Sender<()>,
    /// The server whose loop to unblock.
    pub server: Arc<Server>,
    /// Disconnected by `main` once every thread has stopped.
    pub done: Receiver<()>,
}

/// The signal thread's body.
pub fn run(mut signals: Signals, stoppers: Stoppers) {
    let Some(signal) = signals.forever().next() else {
        return;
    };
    log::info!("signal {signal} received; stopping");
    stoppers.stopping.store(true, Ordering::SeqCst);
    drop(stoppers.sampler);
    stoppers.server.unblock();
    if let Err(RecvTimeoutError::Timeout) = stoppers.done.recv_timeout(GRACE) {
        log::warn!("not stopped after {GRACE:?} (a stalled client?); exiting now");
        std::process::exit(0);
    }
}
