//! Linux only: the guard around tiny_http. It cuts the HTTP connections tiny_http holds (found
//! by [`crate::serve::sockets`]) when they idle too long, exceed `--max-connections`, or wait
//! without a thread; and it restarts the daemon in a new process image (see [`crate::restart`])
//! when the connections tiny_http holds for good, or its watchdog look, call for it.
//!
//! tiny_http 0.12 sets no timeouts and no limits, and gives no access to its sockets: one thread
//! per connection waits for the client for ever (`shared/reference/tiny_http.md` §1, §3).
//! `shutdown()` on a connection's socket makes tiny_http's worker see end-of-file and exit.
//!
//! Its `unsafe` code: `poll` on the listening socket (see [`QuietWatch`]) and
//! `getrlimit`/`setrlimit`.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, Receiver, Sender, TryRecvError};

use crate::restart::{self, Reason};
use crate::serve::activity::Activity;
use crate::serve::sockets;
use crate::serve::watchdog::{self, Verdict};
use crate::stats::HandoffRequest;

/// How often the connections are looked at while any is open: tiny_http can leave a connection
/// that arrives in a burst without a thread until the reaper cuts another
/// (`shared/reference/tiny_http.md` §3a), so the reaper's delay is then an ordinary client's.
pub const SCAN_EVERY: Duration = Duration::from_millis(500);
/// A connection still open this long after it was shut down is stuck for good.
///
/// A thread that is not stuck sees the shutdown at once: reads and writes on a shut socket fail.
pub const STUCK_AFTER: Duration = Duration::from_secs(5);
/// How long a connection's request may wait unread, with none of its requests answered,
/// before the reaper makes tiny_http start a thread for it.
pub const STRANDED_AFTER: Duration = Duration::from_millis(200);
/// How often the connections are looked at while a request waits unread: a stranded client
/// waits about [`STRANDED_AFTER`] plus this, not whole [`SCAN_EVERY`]s.
const RESCAN_UNREAD_EVERY: Duration = Duration::from_millis(100);
/// How long the reaper waits to connect to its own daemon.
const KICK_TIMEOUT: Duration = Duration::from_secs(1);
/// How long after a burst tiny_http's surplus threads have exited (they wait 5 s for work).
const IDLE_THREADS_EXIT: Duration = Duration::from_secs(6);
/// Stuck connections (each a tiny_http thread and two descriptors, for the life of the process
/// image) that restart the daemon, at most once per [`RESTART_GAP`].
pub const MAX_STUCK: usize = 32;
/// How long after a restart another one for stuck connections waits, unless they reach the hard
/// cap ([`Restarter::hard_max_stuck`]): a flood of HTTP/2.0 request lines cannot keep the daemon
/// restarting, only make it tolerate more stuck threads for a while.
pub const RESTART_GAP: Duration = Duration::from_secs(60);
/// The most stuck connections ever tolerated, descriptors permitting (see
/// [`hard_max_stuck`]): about 10 MB of threads.
pub const HARD_MAX_STUCK: usize = 512;
/// How long the statistics thread may take to hand its statistics over.
const HANDOFF_TIMEOUT: Duration = Duration::from_secs(5);

/// The limits the reaper enforces.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A connection with no request answered for this long is cut.
    pub idle_timeout: Duration,
    /// Beyond this many connections, the most idle ones are cut.
    pub max_connections: usize,
}

/// How idle a connection is, for [`to_cut`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Idleness {
    /// Since its last request was received or answered, or since it was first seen: what the
    /// idle timeout counts, so that a client trickling a byte a second is still cut.
    pub idle: Duration,
    /// Since it last did anything: sent a byte, or had a request received or answered.
    pub quiet: Duration,
    /// Since the reaper first saw it.
    pub age: Duration,
    /// It never sent a byte.
    pub silent: bool,
}

/// A connection that sent bytes within this long has a request on its way (see [`to_cut`]): more
/// than a loop held up by two write timeouts makes a queued request wait.
pub const SENT_LATELY: Duration = Duration::from_secs(1);
/// Connections with a request on their way are cut only beyond this many times the cap.
pub const PROTECTED_UP_TO: usize = 4;
/// A connection that sent bytes is not cut for the cap before it is this old: it may not have a
/// tiny_http thread to read its request yet. A flood of 1000 connections came in 100 ms here,
/// and a request that came early in it, quieter than the hundreds after it, was cut before it
/// was answered.
pub const NEW_GRACE: Duration = Duration::from_secs(1);
/// A connection that sent nothing is not cut for the cap before it is this old: a client sends
/// its request within a moment of connecting, and one seen at a look in between counts as
/// silent. Shorter than [`NEW_GRACE`]: a burst of 500 silent connections held for a whole
/// second kept as many threads, and a request that came with it waited over a second for one.
pub const SILENT_GRACE: Duration = Duration::from_millis(200);

/// Which connections to cut. `idle` gives each connection's index and idleness. PURE.
///
/// - Idle past the timeout: always.
/// - Beyond the cap, among the connections older than [`SILENT_GRACE`] (silent) or
///   [`NEW_GRACE`] (the others), first the silent ones (never a byte: the attack of a connection flood),
///   oldest first; then the others, the quietest first; but not one that sent bytes within
///   [`SENT_LATELY`] (a request on its way, whose loss would cost a client its answer) unless
///   the connections are more than [`PROTECTED_UP_TO`] times the cap. Four: under a flood of
///   1000 HTTP/2.0 connections in about a second, every one of them had sent bytes lately, and
///   at twice the cap a request that came early in the flood, quieter than the hundreds that
///   came after it, was cut. Measured before this rule, when the most idle
///   went first: with 200 silent connections and 20 requests among them, up to 7 requests were
///   cut unanswered (their connections had been seen at an earlier look, so they counted as more
///   idle); probes queued behind a loop held 600 ms by a client that does not read were cut; and
///   requests that came just before 200 slowloris connections were cut in their place.
pub fn to_cut(idle: &[(usize, Idleness)], limits: Limits) -> Vec<usize> {
    let cap = limits.max_connections;
    let (mut cut, mut kept): (Vec<_>, Vec<_>) = idle
        .iter()
        .copied()
        .partition(|(_, idleness)| idleness.idle >= limits.idle_timeout);
    let mut excess = kept.len().saturating_sub(cap);
    let over_protected = kept.len().saturating_sub(PROTECTED_UP_TO * cap);
    kept.retain(|(_, i)| i.age >= if i.silent { SILENT_GRACE } else { NEW_GRACE });
    kept.sort_by_key(|&(_, i)| std::cmp::Reverse((i.silent, i.quiet)));
    let mut protected_cut = 0;
    kept.retain(|&(index, idleness)| {
        let protected = !idleness.silent && idleness.quiet < SENT_LATELY;
        if excess == 0 || (protected && protected_cut >= over_protected) {
            return true;
        }
        protected_cut += usize::from(protected);
        excess -= 1;
        cut.push((index, idleness));
        false
    });
    cut.into_iter().map(|(index, _)| index).collect()
}

/// Whether `stuck` connections call for a restart now, `since_restart` after the last one
/// (`None`: this daemon has not restarted). PURE.
pub fn stuck_restart_due(stuck: usize, since_restart: Option<Duration>, hard_max: usize) -> bool {
    stuck >= hard_max || (stuck >= MAX_STUCK && since_restart.is_none_or(|d| d >= RESTART_GAP))
}

/// The hard cap on stuck connections for a process allowed `descriptors` open descriptors: room
/// for two per stuck connection and two per live one (`max_connections`), plus 256 for the rest,
/// and at most [`HARD_MAX_STUCK`]; never below [`MAX_STUCK`]. PURE.
pub fn hard_max_stuck(descriptors: u64, max_connections: usize) -> usize {
    let spare = descriptors.saturating_sub(256 + 2 * max_connections as u64) / 2;
    usize::try_from(spare)
        .unwrap_or(usize::MAX)
        .clamp(MAX_STUCK, HARD_MAX_STUCK)
}

/// Raises this process's limit on open descriptors to the most it may have (a thread blocked in
/// tiny_http for good holds two), and returns the limit then in force.
pub fn raise_descriptor_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the one rlimit given, which lives through
    // both calls.
    #[allow(unsafe_code)]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                ..limit
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    #[allow(clippy::useless_conversion)] // rlim_t is 32 bits on some 32-bit C libraries
    u64::try_from(limit.rlim_cur).unwrap_or(u64::MAX)
}

/// What the reaper needs to restart the daemon in a new process image (see [`crate::restart`]).
pub struct Restarter {
    /// Asks the statistics thread for everything it has.
    pub handoffs: Sender<HandoffRequest>,
    /// When the daemon started, over all its images.
    pub started: Instant,
    /// When the last restart was (`None`: this daemon has not restarted).
    pub last_restart: Option<Instant>,
    /// Stuck connections that restart the daemon even within [`RESTART_GAP`].
    pub hard_max_stuck: usize,
    /// When a restart last failed (its exec, or the handoff): whatever calls for the next one,
    /// it waits [`RESTART_GAP`], rather than encode the statistics and log the same failure at
    /// every look.
    pub last_failure: Option<Instant>,
}

impl Restarter {
    /// Replaces this process image with a new one, handing it the statistics and `listener`
    /// (if it is still open). Returns only if that failed: the daemon goes on as it is, and
    /// tries again no sooner than [`RESTART_GAP`] later.
    fn restart(&mut self, reason: Reason, why: &str, listener: Option<RawFd>) {
        if self
            .last_failure
            .is_some_and(|at| at.elapsed() < RESTART_GAP)
        {
            return;
        }
        let (reply, handed) = bounded(1);
        let request = HandoffRequest {
            reason,
            daemon_age: self.started.elapsed(),
            reply,
        };
        let bytes = match self.handoffs.send(request) {
            Ok(()) => handed.recv_timeout(HANDOFF_TIMEOUT).ok(),
            Err(_) => None,
        };
        self.last_restart = Some(Instant::now());
        let Some(bytes) = bytes else {
            log::error!("cannot restart ({why}): the statistics thread did not hand them over");
            self.last_failure = self.last_restart;
            return;
        };
        log::warn!(
            "restarting in a new process image: {why}; {} bytes of statistics handed over",
            bytes.len()
        );
        log::logger().flush();
        let error = restart::exec(&bytes, listener);
        log::error!("cannot restart ({why}): {error}");
        self.last_failure = self.last_restart;
    }
}

/// The reaper thread's body: every [`SCAN_EVERY`] while a connection is open (every
/// `RESCAN_UNREAD_EVERY` while a request waits unread, and at once when the loop hears from a
/// new client; while none is open, when its [`QuietWatch`] wakes it), cuts what [`to_cut`] says,
/// starts a thread for a stranded request, makes the [`watchdog`] look, and restarts the
/// daemon when it or the stuck connections call for it, until `stop` disconnects.
pub fn run(
    listen: SocketAddr,
    limits: Limits,
    activity: Activity,
    mut restarter: Restarter,
    quiet_watch: QuietWatch,
    stop: Receiver<()>,
) {
    let port = listen.port();
    let listening = sockets::listener(port);
    if listening.is_none() {
        log::warn!("watchdog: the listening socket was not found; only the loop is watched");
    }
    // Connections whose request waits unread, since when: tiny_http gave them no thread.
    let mut unread_since: HashMap<u64, Instant> = HashMap::new();
    // When each socket (by inode) was first seen: the idle time of a connection that never
    // had a request answered (a slowloris, a silent client) counts from there.
    let mut first_seen: HashMap<u64, Instant> = HashMap::new();
    // When each socket was shut down: one still open long after is held by a tiny_http thread
    // that will never let go (an HTTP/2.0 request line deadlocks it, §3g).
    // Such a socket is looked for by descriptor, not among `connections`: once the client has
    // closed its side too, the socket has no peer address any more.
    let mut shut_at: HashMap<u64, (RawFd, Instant)> = HashMap::new();
    // Connections open at the last look, and when to trim the heap once more: tiny_http's
    // surplus threads exit a few seconds after a burst, and what they held is free only then.
    let mut open_before = 0;
    let mut trim_again_at: Option<Instant> = None;
    // While no connection is open and nothing is pending, the process's descriptor count (a
    // new connection adds two) and the loop's activity are all the reaper looks at: one `stat`
    // instead of a scan.
    let mut quiet_descriptors: Option<u64> = None;
    let mut next_look = SCAN_EVERY;
    // The stuck count last logged.
    let mut stuck_reported = 0;
    loop {
        // While quiet, only a connection arriving or a nudge wakes the reaper (see
        // `QuietWatch`): a burst can strand a request before any reaches the loop to say so.
        let arrived = match (quiet_descriptors, listening) {
            (Some(descriptors), Some((fd, _))) => {
                let arrived = quiet_watch.sleep(fd, descriptors);
                if let Err(TryRecvError::Disconnected) = stop.try_recv() {
                    return;
                }
                arrived
            }
            _ => {
                select! {
                    recv(stop) -> _ => return,
                    recv(activity.new_clients()) -> _ => {}
                    default(next_look) => {}
                }
                false
            }
        };
        let listener_fd = listening.map(|(fd, _)| fd);
        match watchdog::look(listening, &activity, Instant::now()) {
            Verdict::Fine => {}
            Verdict::ListenerGone => restarter.restart(
                Reason::ListenerClosed,
                "the listening socket is closed (tiny_http's accept thread died)",
                None,
            ),
            Verdict::Wedged(busy) => restarter.restart(
                Reason::LoopWedged,
                &format!(
                    "the request loop has been answering one request for {} s",
                    busy.as_secs()
                ),
                listener_fd,
            ),
        }
        if !arrived
            && quiet_descriptors.is_some()
            && quiet_descriptors == descriptor_count()
            && activity.nothing_new()
        {
            continue;
        }
        let now = Instant::now();
        let open = sockets::connections(port);
        first_seen.retain(|inode, _| open.iter().any(|c| c.inode == *inode));
        let unread: Vec<bool> = open.iter().map(sockets::has_unread_bytes).collect();
        next_look = if unread.contains(&true) {
            RESCAN_UNREAD_EVERY
        } else {
            SCAN_EVERY
        };
        for (connection, _) in open.iter().zip(&unread).filter(|(_, &unread)| unread) {
            let since = *unread_since.entry(connection.inode).or_insert(now);
            let answered_since = activity
                .last(&connection.peer)
                .is_some_and(|at| at >= since);
            if answered_since {
                unread_since.insert(connection.inode, now);
            } else if now.saturating_duration_since(since) >= STRANDED_AFTER {
                log::debug!(
                    "reaper: {}'s request waits for a tiny_http thread; starting one",
                    connection.peer
                );
                kick_the_pool(listen);
                unread_since.insert(connection.inode, now);
            }
        }
        unread_since.retain(|inode, _| {
            open.iter()
                .zip(&unread)
                .any(|(c, &unread)| unread && c.inode == *inode)
        });
        shut_at.retain(|inode, (fd, _)| sockets::socket_inode(*fd) == Some(*inode));
        let stuck = shut_at
            .values()
            .filter(|(_, at)| now.saturating_duration_since(*at) >= STUCK_AFTER)
            .count();
        let parked = activity.parked();
        let stuck = stuck + parked;
        let since_restart = restarter
            .last_restart
            .map(|at| now.saturating_duration_since(at));
        if stuck_restart_due(stuck, since_restart, restarter.hard_max_stuck) {
            let why = format!(
                "{stuck} connections are held for good by tiny_http threads ({parked} of them \
                 waiting on parked requests, the others deadlocked by an HTTP/2.0 request line)"
            );
            restarter.restart(Reason::StuckConnections, &why, listener_fd);
        } else if stuck >= MAX_STUCK && stuck != stuck_reported {
            log::warn!(
                "reaper: {stuck} stuck connections; the daemon restarted less than {} s ago, so \
                 it restarts again then, or at {} stuck",
                RESTART_GAP.as_secs(),
                restarter.hard_max_stuck
            );
        }
        stuck_reported = stuck;
        let idle: Vec<(usize, Idleness)> = open
            .iter()
            .zip(&unread)
            .enumerate()
            .map(|(i, (c, &unread))| {
                let seen = *first_seen.entry(c.inode).or_insert(now);
                let heard = activity.last(&c.peer);
                let last = heard.map_or(seen, |at| at.max(seen));
                let received = sockets::received(c);
                let idle = now.saturating_duration_since(last);
                let idleness = Idleness {
                    idle,
                    age: now.saturating_duration_since(seen),
                    quiet: if unread {
                        Duration::ZERO
                    } else {
                        idle.min(received.last_ago)
                    },
                    silent: heard.is_none() && !unread && !received.any,
                };
                (i, idleness)
            })
            .collect();
        let cut = to_cut(&idle, limits);
        if !cut.is_empty() {
            log::debug!(
                "reaper: cutting {} of {} connections",
                cut.len(),
                open.len()
            );
        }
        for i in cut {
            sockets::shut(&open[i], Shutdown::Both);
            shut_at.entry(open[i].inode).or_insert((open[i].fd, now));
        }
        let peers: Vec<SocketAddr> = open.iter().map(|c| c.peer).collect();
        // Connections ended: what their requests and threads held is free, now or soon.
        if activity.keep_only(&peers) || open.len() < open_before {
            crate::memory::release_free_memory();
            trim_again_at = Some(now + IDLE_THREADS_EXIT);
        } else if trim_again_at.is_some_and(|at| now >= at) {
            crate::memory::release_free_memory();
            trim_again_at = None;
        }
        open_before = open.len();
        // Not quiet again at once after a connection arrived: tiny_http may not have accepted it
        // yet, and the listener would wake the reaper again at once.
        let quiet = !arrived
            && open.is_empty()
            && shut_at.is_empty()
            && parked == 0
            && trim_again_at.is_none();
        let was_quiet = quiet_descriptors.is_some();
        quiet_descriptors = quiet.then(descriptor_count).flatten();
        if quiet_descriptors.is_some() && !was_quiet {
            log::debug!("reaper: no connection open; quiet until one comes");
        }
    }
}

/// Makes tiny_http start a thread that takes over a connection it left waiting.
///
/// tiny_http's thread pool can queue a new connection's task instead of starting a thread for
/// it when connections arrive back to back (a woken thread still counts as idle;
/// `shared/reference/tiny_http.md` §3a). The task then waits until some thread's connection
/// ends, which a busy keep-alive client never does: under a 50-connection load test a few
/// connections waited until the idle timeout cut them. A connection of our own, closed at
/// once, finds no idle thread, so tiny_http starts one for it; that thread's task ends at once,
/// and it takes the waiting task next.
fn kick_the_pool(listen: SocketAddr) {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let _ = TcpStream::connect_timeout(&SocketAddr::new(ip, listen.port()), KICK_TIMEOUT);
}

/// How the reaper sleeps while no connection is open: without a timeout, so that an idle daemon
/// wakes for its samples and nothing else. Two things wake it:
/// - a connection waiting to be accepted on the listening socket: a burst of connections, the
///   only way to strand a request (more at once than tiny_http's four idle threads), keeps the
///   listener readable while tiny_http's accept thread starts a thread for each. A lone
///   connection may be accepted before the reaper sees it;
/// - a [`Nudge`] from the sampler, which after each sample looks (one `fstat`) whether the
///   process's descriptor count has changed since the reaper fell quiet: a lone connection
///   accepted meanwhile, or the listener closed. So a silent connection gets its first look
///   within one sampling interval, and is cut at the idle timeout after it.
pub struct QuietWatch {
    nudges: UnixStream,
    shared: Arc<Quiet>,
}

#[derive(Debug)]
struct Quiet {
    /// The descriptor count when the reaper fell quiet; 0 while it is not quiet.
    descriptors: AtomicUsize,
    /// The sampler's end of the wake-up pipe.
    wake: UnixStream,
    /// `/proc/self/fd`, kept open: `fstat` of it gives the count without a path lookup (about
    /// half of a `stat` by path, which walks `/proc/self` each time). `None` where it cannot be
    /// opened or, before Linux 6.2, gives no count.
    fd_dir: Option<File>,
}

/// The sampler's side of a [`QuietWatch`].
#[derive(Clone, Debug)]
pub struct Nudge(Arc<Quiet>);

impl QuietWatch {
    /// A watch, and the nudge to give the sampler.
    pub fn new() -> io::Result<(QuietWatch, Nudge)> {
        let (nudges, wake) = UnixStream::pair()?;
        nudges.set_nonblocking(true)?;
        wake.set_nonblocking(true)?;
        // Opened before anything counts descriptors, so that every count includes it.
        let fd_dir = File::open("/proc/self/fd")
            .ok()
            .filter(|dir| dir.metadata().is_ok_and(|m| m.len() > 0));
        let shared = Arc::new(Quiet {
            descriptors: AtomicUsize::new(0),
            wake,
            fd_dir,
        });
        let nudge = Nudge(Arc::clone(&shared));
        Ok((QuietWatch { nudges, shared }, nudge))
    }

    /// Sleeps until a connection waits on the listening socket `listener` (then `true`) or the
    /// sampler nudges (`false`), `descriptors` being the count now.
    fn sleep(&self, listener: RawFd, descriptors: u64) -> bool {
        let count = usize::try_from(descriptors).unwrap_or(usize::MAX).max(1);
        self.shared.descriptors.store(count, Ordering::Relaxed);
        let mut waits = [
            libc::pollfd {
                fd: listener,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.nudges.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `poll` reads and writes the two `pollfd`s given, which live through the call.
        // A listener closed meanwhile makes it return POLLNVAL, and the watchdog's look then
        // sees it gone.
        #[allow(unsafe_code)]
        let ready = unsafe { libc::poll(waits.as_mut_ptr(), 2, -1) };
        self.shared.descriptors.store(0, Ordering::Relaxed);
        let mut drained = [0; 16];
        while matches!((&self.nudges).read(&mut drained), Ok(n) if n > 0) {}
        ready > 0 && waits[0].revents != 0
    }
}

impl Nudge {
    /// Wakes the reaper if it is quiet and the descriptor count changed since it fell quiet.
    /// Costs one atomic load while the reaper is busy, and one `stat` while it is quiet.
    pub fn check(&self) {
        let quiet = self.0.descriptors.load(Ordering::Relaxed);
        if quiet == 0 {
            return;
        }
        let now = match &self.0.fd_dir {
            Some(dir) => dir.metadata().ok().map(|m| m.len()),
            None => descriptor_count(),
        };
        if now.and_then(|n| usize::try_from(n).ok()) != Some(quiet) {
            let _ = (&self.0.wake).write(&[1]);
        }
    }
}

/// How many descriptors the process has open: the size Linux 6.2 and later give
/// `/proc/self/fd`, one `stat` instead of a scan; on older kernels, which say 0, its entries
/// counted (including the one that lists them, every time alike).
fn descriptor_count() -> Option<u64> {
    let size = fs::metadata("/proc/self/fd").ok()?.len();
    if size > 0 {
        return Some(size);
    }
    let entries = fs::read_dir("/proc/self/fd").ok()?.count();
    u64::try_from(entries).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        idle_timeout: Duration::from_secs(10),
        max_connections: 3,
    };

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// A client that sent a request and was answered `s` seconds ago.
    fn answered(s: u64) -> Idleness {
        Idleness {
            idle: secs(s),
            quiet: secs(s),
            age: secs(s),
            silent: false,
        }
    }

    #[test]
    fn cuts_the_idle_then_the_most_idle_beyond_the_cap() {
        assert_eq!(to_cut(&[(0, answered(1)), (1, answered(11))], LIMITS), [1]);
        let five = [
            (0, answered(1)),
            (1, answered(5)),
            (2, answered(2)),
            (3, answered(9)),
            (4, answered(0)),
        ];
        let mut cut = to_cut(&five, LIMITS);
        cut.sort();
        assert_eq!(
            cut,
            [1, 3],
            "the two most idle of five, over a cap of three"
        );
        assert!(to_cut(&[], LIMITS).is_empty());
    }

    #[test]
    fn stuck_connections_restart_at_most_once_a_gap_until_the_hard_cap() {
        let hard = HARD_MAX_STUCK;
        assert!(!stuck_restart_due(MAX_STUCK - 1, None, hard));
        assert!(
            stuck_restart_due(MAX_STUCK, None, hard),
            "the first restart is not held back"
        );
        let soon = Some(RESTART_GAP - Duration::from_secs(1));
        assert!(
            !stuck_restart_due(MAX_STUCK, soon, hard),
            "tolerated within the gap"
        );
        assert!(!stuck_restart_due(hard - 1, soon, hard));
        assert!(
            stuck_restart_due(hard, soon, hard),
            "the hard cap wins over the gap"
        );
        assert!(stuck_restart_due(MAX_STUCK, Some(RESTART_GAP), hard));
    }

    #[test]
    fn the_hard_cap_leaves_descriptors_for_live_connections() {
        // 1024 descriptors (a common soft limit): room for 64 live connections' 128 and 256 more.
        assert_eq!(hard_max_stuck(1024, 64), (1024 - 256 - 128) / 2);
        assert_eq!(hard_max_stuck(524_288, 64), HARD_MAX_STUCK);
        assert_eq!(
            hard_max_stuck(100, 64),
            MAX_STUCK,
            "never below the soft cap"
        );
    }

    #[test]
    fn beyond_the_cap_the_silent_go_first_and_a_request_on_its_way_last() {
        let silent = |s| Idleness {
            idle: secs(s),
            quiet: secs(s),
            age: secs(s),
            silent: true,
        };
        // Seen `s` seconds ago, its last byte `ms` milliseconds ago.
        let sending = |s, ms| Idleness {
            idle: secs(s),
            quiet: Duration::from_millis(ms),
            age: secs(s),
            silent: false,
        };
        // A flood of silent connections, and a client's request seen at an earlier look (so
        // more idle than the flood): the silent ones go, the oldest first.
        let flood = [
            (0, sending(2, 10)),
            (1, silent(1)),
            (2, silent(0)),
            (3, silent(1)),
            (4, silent(0)),
        ];
        let mut cut = to_cut(&flood, LIMITS);
        cut.sort();
        assert_eq!(cut, [1, 3], "two silent, the oldest, over a cap of three");
        // None is cut for the cap before it had a moment to send its request, or, if it sent
        // one, a second to be answered.
        let young: Vec<_> = (0..5).map(|i| (i, silent(0))).collect();
        assert!(to_cut(&young, LIMITS).is_empty());
        let just_sent: Vec<_> = (0..5)
            .map(|i| {
                let idleness = Idleness {
                    age: Duration::from_millis(500),
                    ..sending(0, 10)
                };
                (i, idleness)
            })
            .collect();
        assert!(to_cut(&just_sent, LIMITS).is_empty());
        // Idle clients answered long ago go before requests on their way.
        let mixed = [
            (0, sending(5, 10)),
            (1, answered(4)),
            (2, sending(1, 10)),
            (3, answered(3)),
            (4, sending(0, 10)),
        ];
        let mut cut = to_cut(&mixed, LIMITS);
        cut.sort();
        assert_eq!(cut, [1, 3]);
        // Requests on their way are kept beyond the cap, up to four times the cap; past it the
        // quietest go: a trickle of slow headers before a request that has just come.
        let twelve: Vec<_> = (0..12).map(|i| (i, sending(9, 10))).collect();
        assert!(to_cut(&twelve, LIMITS).is_empty(), "12 is not over 4 x 3");
        let fourteen: Vec<_> = (0..14).map(|i| (i, sending(9, 50 * i as u64))).collect();
        let mut cut = to_cut(&fourteen, LIMITS);
        cut.sort();
        assert_eq!(
            cut,
            [12, 13],
            "the two quietest, down to four times the cap"
        );
    }
}
