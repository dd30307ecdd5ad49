//! What the request loop tells the reaper and its watchdog look: who was heard from and
//! answered when, whether the loop is on a request and since when, what it cut and parked.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender};

/// What the HTTP loop tells the reaper (and its watchdog look): when each client last had a
/// request received or answered, whether it cut a client since the reaper last looked, and
/// whether it is answering a request right now, since when.
#[derive(Clone, Debug)]
pub struct Activity(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    answered: Mutex<HashMap<SocketAddr, Instant>>,
    /// A request from a connection not heard from before: the reaper looks at once, as
    /// connections that came with it may be stranded (one slot: a look covers them all).
    new_client: (Sender<()>, Receiver<()>),
    cut: AtomicBool,
    /// When the loop began the request it is answering; `None` while it waits for requests.
    /// (A mutex, not a 64-bit atomic: 32-bit MIPS and ARMv5 have none.)
    busy_since: Mutex<Option<Instant>>,
    /// Requests the loop parked (see `crate::serve`): each holds a tiny_http thread for good.
    parked: AtomicUsize,
}

impl Default for Activity {
    fn default() -> Self {
        Activity(Arc::new(Shared {
            answered: Mutex::default(),
            new_client: bounded(1),
            cut: AtomicBool::new(false),
            busy_since: Mutex::new(None),
            parked: AtomicUsize::new(0),
        }))
    }
}

impl Activity {
    /// Notes that the loop begins answering a request at `at`.
    pub fn begin(&self, at: Instant) {
        *self.busy_since() = Some(at);
    }

    /// Notes that a request of `peer` reached the loop at `at`: it is not idle, and not
    /// stranded, even before it is answered.
    pub fn heard(&self, peer: SocketAddr, at: Instant) {
        if self.times().insert(peer, at).is_none() {
            let _ = self.0.new_client.0.try_send(());
        }
    }

    /// Notes that `peer` was just answered (at `at`), and the loop waits for the next request.
    pub fn answered(&self, peer: Option<SocketAddr>, at: Instant) {
        if let Some(peer) = peer {
            self.times().insert(peer, at);
        }
        *self.busy_since() = None;
    }

    /// How long the loop has been answering the request it is on, at `now`; `None` while it
    /// waits for requests.
    pub fn busy_for(&self, now: Instant) -> Option<Duration> {
        let since = (*self.busy_since())?;
        Some(now.saturating_duration_since(since))
    }

    fn busy_since(&self) -> MutexGuard<'_, Option<Instant>> {
        self.0
            .busy_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes that the loop holds `count` parked requests.
    pub fn set_parked(&self, count: usize) {
        self.0.parked.store(count, Ordering::Relaxed);
    }

    /// Notes that the loop cut a client (it freed what that client's requests held).
    pub fn cut(&self) {
        self.0.cut.store(true, Ordering::Relaxed);
    }

    fn times(&self) -> MutexGuard<'_, HashMap<SocketAddr, Instant>> {
        self.0
            .answered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How many requests the loop holds parked.
    pub fn parked(&self) -> usize {
        self.0.parked.load(Ordering::Relaxed)
    }

    /// Fires when the loop hears from a client it had not heard from (one slot).
    pub fn new_clients(&self) -> &Receiver<()> {
        &self.0.new_client.1
    }

    /// When `peer` was last heard from or answered.
    pub fn last(&self, peer: &SocketAddr) -> Option<Instant> {
        self.times().get(peer).copied()
    }

    /// Whether no client was answered or cut since the reaper last forgot the ones gone (a
    /// connection can come and go between two looks).
    pub fn nothing_new(&self) -> bool {
        self.times().is_empty() && !self.0.cut.load(Ordering::Relaxed)
    }

    /// Forgets the clients that are gone; whether any was (or the loop cut one) since the last
    /// call.
    pub fn keep_only(&self, peers: &[SocketAddr]) -> bool {
        let mut answered = self.times();
        let before = answered.len();
        answered.retain(|peer, _| peers.contains(peer));
        let gone = answered.len() < before;
        gone | self.0.cut.swap(false, Ordering::Relaxed)
    }
}
