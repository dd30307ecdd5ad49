//! Stage three, serving: everything a client meets. It owns the listener, the one request loop,
//! the routes and every body the API sends, and the guard around tiny_http (the reaper, its
//! watchdog look, the socket helpers, the loop's activity). It reads the statistics only through
//! the published view, and waits for the statistics thread only for a bounded time.
//!
//! The HTTP side: the listener, and the one request loop that answers from the latest view. This
//! is the only module that knows tiny_http. Views are built when a request wants one: a request
//! that finds samples newer than the latest view (the sampler's count says so) asks the
//! statistics thread for one and waits for it, up to [`VIEW_WAIT`] (then it is served the view
//! there is). About half a millisecond at the median at 100 interfaces (BENCHMARKS.md, issue 12).
//!
//! # Hostile clients
//!
//! tiny_http 0.12, the HTTP library the design requires, sets no timeouts and no limits
//! (`shared/reference/tiny_http.md`). ifstatsd guards it from outside:
//!
//! - **Connections.** A reaper thread finds the daemon's HTTP sockets in `/proc/self/fd` twice a
//!   second while any is open and shuts down those with no request received or answered for
//!   `--idle-timeout` (15 s; this also ends slowloris clients) and, beyond `--max-connections` (64),
//!   among those old enough to have sent a request (0.2 s) and had it answered (1 s), first those
//!   that never sent a byte (the kernel's `TCP_INFO` says), oldest first, then the quietest (since
//!   their last byte or answer); a connection that sent bytes within the last second, a request
//!   on its way, only beyond four times the cap (`to_cut` in `src/serve/reaper.rs` says what each
//!   rule fixed). So a flood of silent connections, or a loop held up by a client that does not
//!   read, does not cost the clients that came meanwhile their requests. While none is open it
//!   sleeps with no timeout: a connection waiting on the listening
//!   socket wakes it (a burst keeps the socket readable), and so does the sampler, which after each
//!   sample looks with one `fstat` whether the descriptor count changed since the reaper fell quiet
//!   (a lone connection accepted meanwhile). An idle daemon wakes for its samples and nothing else.
//!   `src/serve/sockets.rs` and `src/serve/reaper.rs` say why their `unsafe` calls are sound.
//! - **Writes.** A response whose write blocks for `--write-timeout` (300 ms) is abandoned and its
//!   connection cut, so a client that never reads holds the loop for well under a second, and
//!   other clients are still answered within a second.
//! - **Bodies.** The API takes none. A body tiny_http has not read (over 1 KiB, any
//!   `Transfer-Encoding`, any `Expect`) gets 413 (or 417, or 405 for another method) after the
//!   connection's read side is shut, so tiny_http's drain of it ends at once; a `Content-Length`
//!   that is not one number (garbage, or two different values) gets 400. Smaller bodies were
//!   already read by tiny_http and are ignored. Any announced length is answered and the daemon
//!   goes on: 1 MiB + 1, 2^31 - 1, 2^32, 10^12, 2^63 - 1, 2^64 - 1 (the next items say how).
//! - **Heads.** A request target over 8 KiB gets 414, over 100 header lines or 16 KiB of headers
//!   431 (tiny_http itself reads them whole, with no limit; the reaper bounds how long a connection
//!   can keep sending one).
//! - **Pipelining floods.** A connection with over 64 requests waiting at once is cut, and its
//!   waiting requests dropped (tiny_http reads a pipelining client's requests ahead into an unbounded
//!   queue). What it sent and nobody read yet is thrown away before the cut, so tiny_http stops
//!   parsing the flood at once instead of queueing the thousands of requests a receive buffer
//!   holds. A client that waits for each answer never has more than one waiting, however fast it
//!   asks, so a single-connection benchmark is never cut.
//! - **Memory.** On glibc the allocator is set to two arenas with fixed trim and mmap thresholds,
//!   and free memory is handed back once connections end; after any attack in the suite the daemon
//!   is back within 2 MB of its idle memory after a warm-up on every attack it survives (glibc
//!   keeps exited threads' stacks and the heap pages long-lived blocks landed in meanwhile,
//!   tiny_http its request queue's largest capacity; see `tests/attacks.py`). What bounds memory
//!   during a flood is the number of open connections: tiny_http gives each its own thread, and
//!   the reaper cuts those beyond `--max-connections` only at its next look. Measured here
//!   (x86_64, 2026-12-06): 3,000 connections opened in 0.4 s made 2,924 threads and 52 MB of
//!   resident memory (plus the kernel's stack for each thread) before the reaper cut them. And
//!   tiny_http's pool lets an idle thread go only after 5 s without work, waking its idle threads
//!   in turn: a client that then opens 100 connections a second keeps about 450 of them alive, 18
//!   MB and growing slowly. Hence the firewall cap on connections to the port (README, "On a
//!   router"), which bounds all of this.
//! - **Survived in-process.** To discard an unread body, tiny_http allocates all of it at once
//!   (`vec![0; n]` in `EqualReader::drop`) and reads into it; with the read side shut, nothing is
//!   ever written to it. Measured here, such a block costs nothing up to 10^10 bytes (fresh pages
//!   are free until written), but from about 3 * 10^10 bytes the kernel's overcommit heuristic
//!   refused it and the process aborted. So ifstatsd's allocator (`src/memory.rs`) maps every
//!   block of 1 MiB or more itself with `MAP_NORESERVE`, which that heuristic does not refuse: 10^12
//!   bytes are mapped in microseconds and unmapped at once. A length past `isize::MAX` (2^63 and
//!   up) makes tiny_http panic before it allocates, which the loop catches.
//! - **What restarts.** Three things tiny_http 0.12 leaves no way to survive in-process end in a
//!   *seamless restart*: the daemon executes its own binary again in the same process (the PID
//!   stays, so procd and systemd see nothing), the listening socket inherited at descriptor 3 with
//!   `LISTEN_FDS`/`LISTEN_PID` (no connection is refused; the ones waiting in the accept backlog are
//!   served by the new image), and every statistic (counters, rings, events, uptimes, the health
//!   counters) handed over in a memfd, in memory: the state file is neither read nor written for
//!   it (`src/restart.rs`). The three:
//!   - **stuck connections**: an `HTTP/2.0` request line (or the h2 preface) deadlocks the tiny_http
//!     thread of its connection for good, with two descriptors; and a body no mapping can hold
//!     (2^63 - 1 bytes on 64-bit, a few GB on 32-bit) is answered 413 by hand and its request kept,
//!     as tiny_http can neither answer nor drop it without the fatal allocation, which holds its
//!     thread too. 32 such connections restart the daemon; restarts for them come at most once a
//!     minute, and in between more are tolerated, up to 512 (fewer if the descriptor limit is
//!     low: the daemon raises its soft limit to the hard one at start), when it restarts anyway.
//!     Measured here, a stuck thread holds about 22 KB of resident memory (300 of them: 2.7 MB
//!     to 9.2 MB), so 512 hold about 11 MB; the restart that frees 236 of them took 11 ms and left
//!     2.8 MB;
//!   - **a wedged request loop** (one request for over 15 s), found by the watchdog;
//!   - **tiny_http's accept thread gone** (it takes the listening socket with it): the new image
//!     binds `--listen` again.
//!
//!   A restart took 3 to 30 ms here. What it costs a client: a connection tiny_http had
//!   accepted and not answered yet is closed without a response (the old image's sockets are
//!   close-on-exec), so a request in flight at that moment must be retried; a client that connects
//!   meanwhile waits in the backlog and is answered. `/health` (`restarts_total`,
//!   `last_restart_reason`, `last_restart_at`) and `/metrics` (`ifstatsd_restarts_total`,
//!   `ifstatsd_last_restart_timestamp_seconds{reason}`) count them and say why; the log says why
//!   and how many bytes were handed over. No request, and no sequence of requests, ends the process.
//! - **Bursts.** tiny_http's thread pool can leave a connection that arrives in a burst without a
//!   thread until another connection ends, which a busy keep-alive client never does. The reaper
//!   looks at once when a new client is heard from (others may have come with it) and every 100 ms
//!   while a request waits unread; a request unread for 200 ms with nothing of its connection
//!   answered makes it open a connection of its own to the daemon, which makes the pool start a
//!   thread; that thread then takes the waiting connection. Under `wrk -c50` this took the errors
//!   from 9 to 0, and the slowest requests of a 10-connection run from about 1 s to about 0.1 s.
//!   The listen backlog is 1024: at 128, a burst of 500 connections overflowed it every time, and
//!   a client that came with the burst waited a second for its dropped SYN to be sent again.
//! - **Watchdog.** A wedged loop or a dead accept thread restarts the daemon in a new process
//!   image (`src/serve/watchdog.rs`).
//!
//! So bind ifstatsd to the LAN or loopback, never to the WAN, and on a router cap connections to the
//! port in the firewall too, e.g. nftables `tcp dport 9310 ct count over 32 reject`.
//!
//! The default address is loopback only. To reach it from a LAN, listen on the LAN address, never on
//! the WAN side (see above).

pub mod activity;
pub mod api;
pub mod dashboard;
pub mod docs;
pub mod inflate;
pub mod metrics;
pub mod reaper;
pub mod routes;
pub mod sockets;
pub mod watchdog;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tiny_http::{Header, Request, Response, Server};

use crate::memory;
use crate::sample::snapshot::Doorbell;
use crate::sample::{uname, ScrapeReader};
use crate::stats::view::SharedView;
use activity::Activity;
use api::{Clock, Reply, ViewCache, ALLOW};

/// How long one write to a client may block before the response is abandoned. tiny_http sets no
/// timeouts; accepted sockets inherit this one from the listener (`SO_SNDTIMEO`). The one
/// request loop waits for a client that does not read, and every other client waits with it:
/// a response to such a client took two blocked writes before failing (1004 ms at 500 ms), so
/// 300 ms keeps the others' answers within a second. A client that reads at all frees space in
/// its socket's buffer far sooner, and a lost segment is sent again within 200 ms.
pub const WRITE_TIMEOUT: Duration = Duration::from_millis(300);

/// The listen backlog: room for a burst of connections while tiny_http's accept thread starts a
/// thread for each. At 128, a burst of 500 connections from one client overflowed it every time
/// here: the kernel dropped SYNs, and a client that came during the burst waited a whole second
/// for its SYN to be sent again. The kernel caps it at `net.core.somaxconn` (4096 by default
/// since Linux 5.4); a queued connection costs kernel memory only while it waits. The systemd
/// socket unit (`contrib/systemd/ifstatsd.socket`) asks for the same.
const BACKLOG: i32 = 1024;

/// Binds `addr` and starts tiny_http's accept thread on it.
pub fn bind(addr: SocketAddr) -> io::Result<Server> {
    bind_with(addr, WRITE_TIMEOUT)
}

/// [`bind`] with another write timeout.
pub fn bind_with(addr: SocketAddr, write_timeout: Duration) -> io::Result<Server> {
    server_on(listen(addr)?, write_timeout)
}

/// A listening socket on `addr`, for [`server_on`].
///
/// It is bound with `IP_FREEBIND` (`IPV6_FREEBIND`), so `addr` need not be an address of this
/// host yet: at boot a router starts its daemons before netifd has put the LAN address on
/// br-lan, and without it the bind fails ("Address not available") and the daemon exits. The
/// kernel delivers connections to it as soon as the address is added. (A systemd `.socket`
/// unit does the same with `FreeBind=true`.)
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    match addr {
        SocketAddr::V4(_) => socket.set_freebind_v4(true)?,
        SocketAddr::V6(_) => socket.set_freebind_v6(true)?,
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Whether `addr`'s IP address is one of this host's now (or a wildcard): with [`listen`]'s
/// `IP_FREEBIND` a mistyped address no longer fails, so the daemon says when it waits for one.
pub fn is_local_now(addr: SocketAddr) -> bool {
    let probe = SocketAddr::new(addr.ip(), 0);
    Socket::new(
        Domain::for_address(probe),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .and_then(|socket| socket.bind(&probe.into()))
    .is_ok()
}

/// Starts tiny_http's accept thread on `listener`, bound by [`listen`] or inherited (socket
/// activation, `crate::activation`): the options accepted sockets inherit are set here, the one
/// place for both.
///
/// The listener is built outside tiny_http so that accepted sockets inherit `TCP_NODELAY`
/// (tiny_http writes headers and body separately, and without it every response over about
/// 1 KB waits 44 ms for the client's delayed ACK: `shared/reference/tiny_http.md` §7) and the
/// write timeout (`SO_SNDTIMEO`).
pub fn server_on(listener: TcpListener, write_timeout: Duration) -> io::Result<Server> {
    let socket = Socket::from(listener);
    set_inherited_options(&socket, write_timeout)?;
    Server::from_listener(TcpListener::from(socket), None).map_err(io::Error::other)
}

/// Sets on a listening socket what each socket it accepts inherits, and makes `accept` block:
/// tiny_http's accept thread ends at its first error, `EAGAIN` included, and a socket passed by
/// another process may come non-blocking.
fn set_inherited_options(listener: &Socket, write_timeout: Duration) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    listener.set_tcp_nodelay(true)?;
    listener.set_write_timeout(Some(write_timeout))
}

/// The address `server` listens on (useful after binding port 0).
pub fn local_addr(server: &Server) -> Option<SocketAddr> {
    server.server_addr().to_ip()
}

/// Answers requests until `stopping` is set and the server is unblocked (`Ok`), or tiny_http's
/// accept thread dies (`Err`). For tests and embedders: the daemon builds a [`Loop`] itself, to
/// share its activity with the reaper.
pub fn serve(
    server: &Server,
    shared: &SharedView,
    started: Instant,
    stopping: &AtomicBool,
) -> io::Result<()> {
    let port = local_addr(server).map_or(0, |addr| addr.port());
    Loop::new(shared, started, stopping, Activity::default(), port).serve(server)
}

/// Announced bodies over this size are never drained by tiny_http unless their whole length can
/// be mapped: tiny_http discards an unread body by allocating all of it at once
/// (`EqualReader::drop`). [`crate::memory::Allocator`] maps such a block without a reservation
/// (nothing is ever written to it, as the read side is shut first), so that costs nothing up to
/// what the address space holds; past that (2^47 bytes on x86_64, a few GB on 32-bit) the
/// request is answered by hand and parked instead (see `Loop::park`).
pub const MAX_DRAINED_BODY: usize = crate::memory::LARGE_BLOCK;

/// Requests one connection may have waiting at once; past it the connection is cut. A client
/// that waits for each answer never has more than one: only a pipelining client has more, and
/// tiny_http reads such a client's requests ahead into an unbounded queue (265 MB for 200 000
/// requests, `shared/reference/tiny_http.md` §3c).
pub const MAX_PIPELINED: usize = 64;

/// Requests the loop takes from tiny_http's queue ahead of answering them, to see how many each
/// connection has waiting.
const MAX_PENDING: usize = 1024;

/// The longest a request waits for the statistics thread to fold in the samples its view lacks;
/// past it, the latest view is served as it is. Folding in the waiting samples and building a
/// view adds about half a millisecond at the median at 101 interfaces: this bounds only a
/// statistics thread busy saving the state file, or stuck.
pub const VIEW_WAIT: Duration = Duration::from_millis(250);

/// How long the requests of a cut connection are still recognised and dropped unanswered.
const CUT_MEMORY: Duration = Duration::from_secs(10);

/// What the request loop keeps between requests.
pub struct Loop<'a> {
    /// The latest view.
    pub shared: &'a SharedView,
    /// When the daemon started.
    pub started: Instant,
    /// Set when a signal asked the loop to end.
    pub stopping: &'a AtomicBool,
    /// When each client was last answered, for the reaper.
    pub activity: Activity,
    /// Our port, to find a client's socket.
    pub port: u16,
    /// Requests taken from tiny_http and not answered yet, oldest first.
    pending: VecDeque<Request>,
    /// How many of `pending` each connection sent.
    pending_by_peer: HashMap<SocketAddr, usize>,
    /// Connections cut for pipelining too deep, and when.
    cut: HashMap<SocketAddr, Instant>,
    /// Replies made from the current view, for the next requests until it changes.
    cache: ViewCache,
    /// Requests that can be neither answered nor dropped (see [`Loop::park`]), kept for the
    /// life of the process image.
    parked: Vec<Request>,
    /// Where `/metrics` reads its counters at the scrape; without it, the sampled ones.
    scrape: Option<ScrapeReader>,
    /// Asks the statistics thread for a view of the samples the current one lacks; without
    /// it, the latest view is served as it is.
    doorbell: Option<Doorbell>,
}

impl<'a> Loop<'a> {
    /// The loop for a server listening on `port`, sharing `activity` with the reaper.
    pub fn new(
        shared: &'a SharedView,
        started: Instant,
        stopping: &'a AtomicBool,
        activity: Activity,
        port: u16,
    ) -> Self {
        Loop {
            shared,
            started,
            stopping,
            activity,
            port,
            pending: VecDeque::new(),
            pending_by_peer: HashMap::new(),
            cut: HashMap::new(),
            cache: ViewCache::default(),
            parked: Vec::new(),
            scrape: None,
            doorbell: None,
        }
    }

    /// Has each request served from a view of every sample taken before it: when the latest
    /// view lacks some, the request waits for the statistics thread to fold them in, up to
    /// [`VIEW_WAIT`] (then the latest view is served). See [`SharedView::fresh`].
    pub fn with_doorbell(mut self, doorbell: Doorbell) -> Self {
        self.doorbell = Some(doorbell);
        self
    }

    /// Has `/metrics` read its counters from `reader` at each scrape (see
    /// [`metrics`]), with `node_uname_info`.
    pub fn with_scrape_reader(mut self, reader: ScrapeReader) -> Self {
        self.scrape = Some(reader);
        self
    }

    /// Answers requests until `stopping` is set and the server is unblocked (`Ok`), or tiny_http's
    /// accept thread dies (`Err`: the daemon cannot serve any more and should exit).
    pub fn serve(&mut self, server: &Server) -> io::Result<()> {
        loop {
            if self.pending.is_empty() {
                // A flood grew it; what it held goes back to the allocator.
                self.pending.shrink_to(16);
                // `try_recv` swallows the unblock marker, so the flag is checked before blocking.
                if self.stopping.load(Ordering::SeqCst) {
                    return Ok(());
                }
                // Replies kept for the view are dropped after an interval without requests, so
                // that an idle daemon holds none (a `None` is that, or an unblock).
                let request = if self.cache.is_empty() {
                    server.recv().map(Some)
                } else {
                    server.recv_timeout(self.shared.current().collection.interval)
                };
                match request {
                    Ok(Some(request)) => self.take(request),
                    Ok(None) => {
                        self.cache = ViewCache::default();
                        continue;
                    }
                    Err(_) if self.stopping.load(Ordering::SeqCst) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            while self.pending.len() < MAX_PENDING {
                match server.try_recv() {
                    Ok(Some(request)) => self.take(request),
                    Ok(None) => break,
                    Err(_) if self.stopping.load(Ordering::SeqCst) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            if let Some(request) = self.pending.pop_front() {
                if let Some(peer) = request.remote_addr() {
                    self.forget_pending(*peer);
                }
                self.answer(request);
            }
        }
    }

    /// Queues `request` to be answered, or cuts its connection if it has too many waiting.
    fn take(&mut self, request: Request) {
        let Some(peer) = request.remote_addr().copied() else {
            self.pending.push_back(request);
            return;
        };
        let now = Instant::now();
        self.activity.heard(peer, now);
        if self
            .cut
            .get(&peer)
            .is_some_and(|at| now.duration_since(*at) < CUT_MEMORY)
        {
            self.discard_or_park(request);
            return;
        }
        self.pending.push_back(request);
        let waiting = self.pending_by_peer.entry(peer).or_default();
        *waiting += 1;
        if *waiting > MAX_PIPELINED {
            sockets::cut_pipelining_peer(self.port, peer);
            self.cut
                .retain(|_, at| now.duration_since(*at) < CUT_MEMORY);
            self.cut.insert(peer, now);
            self.pending_by_peer.remove(&peer);
            let (theirs, others) = std::mem::take(&mut self.pending)
                .into_iter()
                .partition(|r| r.remote_addr() == Some(&peer));
            self.pending = others;
            log::warn!(
                "{peer}: over {MAX_PIPELINED} pipelined requests waiting; cut, {} dropped",
                theirs.len()
            );
            for request in theirs {
                self.discard_or_park(request);
            }
            self.activity.cut();
        }
    }

    fn forget_pending(&mut self, peer: SocketAddr) {
        if let Some(waiting) = self.pending_by_peer.get_mut(&peer) {
            *waiting -= 1;
            if *waiting == 0 {
                self.pending_by_peer.remove(&peer);
            }
        }
    }

    fn answer(&mut self, request: Request) {
        let now = Instant::now();
        self.activity.begin(now);
        let peer = request.remote_addr().copied();
        let refusal = refused_body(&request).or_else(|| oversized_head(&request));
        if let (Some(_), Some(peer)) = (&refusal, peer) {
            // With the read side shut, tiny_http's drain of the unread body ends at once.
            sockets::shut_peer(self.port, peer, Shutdown::Read);
        }
        let reply = self.reply(&request, now);
        // A method we allow, with a body we did not read: say why the connection ends.
        let reply = match refusal {
            Some(refusal) if reply.status != 405 => refusal,
            _ => reply,
        };
        let line = format!(
            "{} {:?} {}",
            request.method().as_str().escape_debug(),
            request.url(),
            reply.status
        );
        if drain_cannot_be_mapped(&request) {
            self.park(request, Some(reply));
            self.activity.answered(peer, now);
            return;
        }
        let response = to_response(reply);
        // tiny_http 0.12 can panic inside respond() on a hostile request (a Content-Length near
        // u64::MAX overflows its body drain); one bad client must not take the daemon down.
        match catch_unwind(AssertUnwindSafe(|| request.respond(response))) {
            Ok(Ok(())) => log::debug!("{line} {:.2}ms", now.elapsed().as_secs_f64() * 1e3),
            Ok(Err(e)) => {
                // A client that does not read: cut it, or each of its queued requests would
                // cost another write timeout.
                let took_ms = now.elapsed().as_secs_f64() * 1e3;
                log::debug!("{line}: response not sent after {took_ms:.0} ms: {e}; connection cut");
                if let Some(peer) = peer {
                    sockets::shut_peer(self.port, peer, Shutdown::Both);
                }
            }
            Err(_) => log::warn!("{line}: tiny_http panicked while responding; connection dropped"),
        }
        self.activity.answered(peer, now);
    }

    /// Keeps `request` for the life of this process image, after sending `reply` (if any) on
    /// its connection by hand and shutting it: answering or dropping it through tiny_http would
    /// drain its body, whose announced length no mapping can hold, and abort the process. The
    /// tiny_http thread that read it then waits for it for ever, so a parked request counts as
    /// a stuck connection; enough of them make the reaper restart the daemon, which frees them.
    fn park(&mut self, request: Request, reply: Option<Reply>) {
        if let Some(peer) = request.remote_addr().copied() {
            let answer = reply.and_then(|reply| {
                let mut bytes = Vec::new();
                let head_only = request.method().as_str() == "HEAD";
                let version = tiny_http::HTTPVersion(1, 1);
                to_response(reply)
                    .raw_print(&mut bytes, version, request.headers(), head_only, None)
                    .ok()
                    .map(|()| bytes)
            });
            match answer {
                Some(bytes) => sockets::answer_and_cut(self.port, peer, &bytes),
                None => sockets::shut_peer(self.port, peer, Shutdown::Both),
            }
        }
        log::warn!(
            "{} announced a body of {} bytes, which tiny_http would allocate whole to discard \
             it and no mapping can hold; answered by hand, and its request kept ({} so far)",
            request
                .remote_addr()
                .map_or("a client".into(), SocketAddr::to_string),
            request.body_length().unwrap_or(0),
            self.parked.len() + 1
        );
        self.parked.push(request);
        self.activity.set_parked(self.parked.len());
    }

    /// Drops a request of a cut connection unanswered, or parks it if dropping it would drain
    /// a body no mapping can hold.
    fn discard_or_park(&mut self, request: Request) {
        if drain_cannot_be_mapped(&request) {
            self.park(request, None);
        } else {
            discard(request);
        }
    }

    fn reply(&mut self, request: &Request, now: Instant) -> Reply {
        let route = routes::route(request.method().as_str(), request.url());
        let clock = Clock {
            started: self.started,
            now,
        };
        let view = match &self.doorbell {
            Some(doorbell) => self.shared.fresh(doorbell, now + VIEW_WAIT),
            None => self.shared.current(),
        };
        // Our code cannot panic on any input, by design; if it ever did, this client gets a 500
        // and the loop goes on.
        let (cache, scrape) = (&mut self.cache, &mut self.scrape);
        catch_unwind(AssertUnwindSafe(|| match (&route, scrape) {
            (routes::Route::Metrics, Some(reader)) => {
                let counters = match reader.read() {
                    Ok(entries) => {
                        let entries = entries.map(|entry| (entry.name, entry.counters));
                        metrics::fresh_counters(&view, entries)
                    }
                    Err(e) => {
                        log::debug!("/metrics serves the sampled counters: {e}");
                        metrics::sampled_counters(&view)
                    }
                };
                let uname = uname::uname();
                api::metrics_cached(&view, clock, cache, &counters, uname.as_ref())
            }
            _ => api::handle_cached(&route, &view, clock, cache),
        }))
        .unwrap_or_else(|_| {
            self.cache = ViewCache::default();
            log::error!("a panic while answering {:?}; answered 500", request.url());
            api::error(
                500,
                "internal_error",
                "the request could not be answered".into(),
            )
        })
    }
}

/// Drops a request of a cut connection unanswered. Its response writer is taken out first:
/// dropped with it, tiny_http would write a 500 to the shut socket, one failing system call
/// per request, and the connection's thread parses the flood's remaining requests (still in the
/// socket's buffer) faster than that, so they would pile up in its queue.
fn discard(request: Request) {
    // A length past isize::MAX makes the drain panic: caught, as in respond().
    let _ = catch_unwind(AssertUnwindSafe(|| drop(request.into_writer())));
}

/// Whether answering or dropping `request` would make tiny_http allocate an unread body that no
/// mapping can hold (which aborts the process). A length past `isize::MAX` is not one: the
/// allocation then panics before it is tried, and the callers catch that.
fn drain_cannot_be_mapped(request: &Request) -> bool {
    request
        .body_length()
        .is_some_and(|n| n > MAX_DRAINED_BODY && n <= isize::MAX as usize && !memory::can_map(n))
}

/// The longest request target answered (longer: 414). Ours are under 100 bytes.
pub const MAX_URL_BYTES: usize = 8 * 1024;
/// The most header lines answered (more: 431).
pub const MAX_HEADERS: usize = 100;
/// The most header bytes answered (more: 431).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The answer to a request whose target or headers are larger than any client of this API
/// sends (tiny_http reads them whole, with no limit). PURE over the request's head.
fn oversized_head(request: &Request) -> Option<Reply> {
    if request.url().len() > MAX_URL_BYTES {
        let message = format!("the request target is over {MAX_URL_BYTES} bytes");
        return Some(api::error(414, "uri_too_long", message));
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|h| h.field.as_str().as_str().len() + h.value.as_str().len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        let message = format!("over {MAX_HEADERS} header lines or {MAX_HEADER_BYTES} bytes");
        return Some(api::error(431, "request_header_fields_too_large", message));
    }
    None
}

/// The answer to a request with a body, or a claim of one: the API takes none. `None` when
/// there is no body, or tiny_http already read it (it reads up to 1 KiB itself). Otherwise the
/// body is unread, reading it could stall the loop, and the connection ends: 417 for an
/// `Expect`, 400 for a `Content-Length` that is not one number (garbage, or two different
/// values: tiny_http would take the first, or none, and parse the body as the next request),
/// 413 for a longer body or any `Transfer-Encoding`. PURE over the request's head.
fn refused_body(request: &Request) -> Option<Reply> {
    let has = |name: &'static str| request.headers().iter().any(|h| h.field.equiv(name));
    if has("Expect") {
        let message = "requests take no body, so nothing to continue".into();
        return Some(api::error(417, "expectation_failed", message));
    }
    let lengths = request
        .headers()
        .iter()
        .filter(|h| h.field.equiv("Content-Length"))
        .map(|h| h.value.as_str());
    let too_long = match content_length(lengths) {
        Err(why) => return Some(api::error(400, "bad_content_length", why.into())),
        Ok(length) => length.is_some_and(|n| n > 1024),
    };
    if too_long || has("Transfer-Encoding") {
        let message = "requests take no body".into();
        return Some(api::error(413, "payload_too_large", message));
    }
    None
}

/// The body length that `Content-Length` headers announce: `None` without one, saturated at
/// `u64::MAX` for longer numbers (a length is still a length, if absurd); an error for anything
/// but digits, or for different values (RFC 9110 §8.6). PURE.
fn content_length<'a>(values: impl Iterator<Item = &'a str>) -> Result<Option<u64>, &'static str> {
    let mut length = None;
    for value in values {
        let value = value.trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err("Content-Length is not a number");
        }
        let parsed = value.bytes().fold(0u64, |n, digit| {
            n.saturating_mul(10).saturating_add(u64::from(digit - b'0'))
        });
        if length.is_some_and(|first| first != parsed) {
            return Err("two different Content-Length values");
        }
        length = Some(parsed);
    }
    Ok(length)
}

fn to_response(reply: Reply) -> Response<io::Cursor<Vec<u8>>> {
    // Every body is in memory: send its Content-Length, never chunks (tiny_http chunks bodies
    // of 32 KiB and more by default), so that HEAD and clients see the length.
    let length = reply.body.len();
    let mut response = Response::from_data(reply.body)
        .with_status_code(reply.status)
        .with_chunked_threshold(length + 1);
    let mut headers = vec![("Content-Type", reply.content_type)];
    if let Some(cache_control) = reply.cache_control {
        headers.push(("Cache-Control", cache_control));
    }
    if reply.gzipped {
        headers.push(("Content-Encoding", "gzip"));
    }
    if reply.allow {
        headers.push(("Allow", ALLOW));
    }
    for (name, value) in headers {
        if let Ok(header) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    #[test]
    fn a_content_length_is_one_number() {
        let length = |values: &[&str]| content_length(values.iter().copied());
        assert_eq!(length(&[]), Ok(None));
        assert_eq!(length(&["0"]), Ok(Some(0)));
        assert_eq!(length(&[" 1025 "]), Ok(Some(1025)));
        assert_eq!(
            length(&["5", "5"]),
            Ok(Some(5)),
            "the same value twice is one"
        );
        assert_eq!(length(&["18446744073709551615"]), Ok(Some(u64::MAX)));
        assert_eq!(length(&["99999999999999999999999"]), Ok(Some(u64::MAX)));
        assert!(length(&["5", "6"]).is_err());
        assert!(length(&["abc"]).is_err());
        assert!(length(&["-1"]).is_err());
        assert!(length(&["1e3"]).is_err());
        assert!(length(&[""]).is_err());
        assert!(length(&["5, 5"]).is_err());
    }

    #[test]
    fn accepted_sockets_inherit_nodelay_and_the_write_timeout() {
        // As a socket passed by another process may come: non-blocking, no options.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener = Socket::from(listener);
        set_inherited_options(&listener, Duration::from_millis(700)).unwrap();
        assert!(
            !listener.nonblocking().unwrap(),
            "accept would fail with EAGAIN"
        );

        let listener = TcpListener::from(listener);
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let accepted = Socket::from(accepted);
        assert!(accepted.tcp_nodelay().unwrap());
        assert_eq!(
            accepted.write_timeout().unwrap(),
            Some(Duration::from_millis(700))
        );
    }

    #[test]
    fn listen_binds_an_address_this_host_does_not_have_yet() {
        // 192.0.2.1 and 2001:db8::1 are documentation addresses, never configured here.
        for absent in ["192.0.2.1:0", "[2001:db8::1]:0"] {
            let addr: SocketAddr = absent.parse().unwrap();
            assert!(!is_local_now(addr), "{absent} is an address of this host");
            let listener = listen(addr).unwrap_or_else(|e| panic!("{absent}: {e}"));
            assert_eq!(listener.local_addr().unwrap().ip(), addr.ip());
        }
        for present in ["127.0.0.1:0", "0.0.0.0:0"] {
            assert!(is_local_now(present.parse().unwrap()), "{present}");
        }
    }
}
