//! The watchdog's look: it notices the two ways the daemon can stop serving without the request
//! loop being told, so that the reaper restarts it (seamlessly, see [`crate::restart`]) rather
//! than leaving a daemon that answers nothing:
//! - tiny_http's accept thread is gone. It panics when it cannot start a thread for a
//!   connection (`shared/reference/tiny_http.md` §3i), and the listening socket, which it owns,
//!   closes with it; the loop then waits for ever. Seen here: the listener's descriptor no longer
//!   names its socket.
//! - The request loop is wedged: it has been answering one request for over [`WEDGED_AFTER`].
//!   Writes give up after the write timeout and bodies are never read, so only something
//!   unforeseen, or a write timeout set far above its default, can do this.
//!
//! The reaper thread looks at each of its own looks (see [`crate::serve::reaper::run`]): a thread of its
//! own, waking every few seconds, cost more CPU than the look itself, and more than the sampler.
//! Each look costs one `readlink` and one lock of an uncontended mutex.

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use crate::serve::activity::Activity;
use crate::serve::sockets;

/// How long the loop may take over one request before it counts as wedged.
pub const WEDGED_AFTER: Duration = Duration::from_secs(15);

/// What the watchdog found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Serving.
    Fine,
    /// The listening socket is closed: tiny_http's accept thread has died.
    ListenerGone,
    /// The loop has been answering one request for this long.
    Wedged(Duration),
}

/// The verdict from one look: whether the listener is still open, and how long the loop has
/// been on its current request (`None` while it waits for one). PURE.
pub fn verdict(listener_open: bool, busy_for: Option<Duration>) -> Verdict {
    match busy_for {
        _ if !listener_open => Verdict::ListenerGone,
        Some(busy) if busy > WEDGED_AFTER => Verdict::Wedged(busy),
        _ => Verdict::Fine,
    }
}

/// Looks at the listener `(fd, inode)` (see [`sockets::listener`]; `None` if it was not found)
/// and at the loop's `activity` at `now`.
pub fn look(listener: Option<(RawFd, u64)>, activity: &Activity, now: Instant) -> Verdict {
    let open = listener.is_none_or(|(fd, inode)| sockets::still_open(fd, inode));
    verdict(open, activity.busy_for(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn the_verdict_needs_the_listener_and_a_loop_that_moves_on() {
        assert_eq!(verdict(true, None), Verdict::Fine);
        assert_eq!(verdict(true, Some(WEDGED_AFTER)), Verdict::Fine);
        let long = WEDGED_AFTER + Duration::from_millis(1);
        assert_eq!(verdict(true, Some(long)), Verdict::Wedged(long));
        assert_eq!(verdict(false, None), Verdict::ListenerGone);
        assert_eq!(verdict(false, Some(long)), Verdict::ListenerGone);
    }

    #[test]
    fn a_closed_listener_is_seen() {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let (fd, inode) = sockets::listener(port).expect("the listener is found");
        assert!(sockets::still_open(fd, inode));
        drop(socket);
        assert!(!sockets::still_open(fd, inode));
    }

    #[test]
    fn the_loop_is_busy_between_begin_and_answered() {
        let activity = Activity::default();
        let start = Instant::now();
        assert_eq!(activity.busy_for(start), None);
        activity.begin(start);
        let later = start + Duration::from_secs(20);
        assert_eq!(activity.busy_for(later), Some(Duration::from_secs(20)));
        activity.answered(None, later);
        assert_eq!(activity.busy_for(later), None);
    }
}
