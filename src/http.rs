//! The HTTP side: the listener, and the one request loop that answers from the latest view. This
//! is the only module that knows tiny_http.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tiny_http::{Header, Request, Response, Server};

use crate::api::{self, Clock, Reply, ALLOW};
use crate::reaper::{self, Activity};
use crate::routes;
use crate::view::SharedView;

/// How long one write to a client may block before the response is abandoned. tiny_http sets no
/// timeouts; accepted sockets inherit this one from the listener (`SO_SNDTIMEO`).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The listen backlog.
const BACKLOG: i32 = 128;

/// Binds `addr` and starts tiny_http's accept thread on it.
///
/// The listener is built here rather than by tiny_http so that accepted sockets inherit
/// `TCP_NODELAY` (tiny_http writes headers and body separately, and without it every response
/// over about 1 KB waits 44 ms for the client's delayed ACK: `shared/reference/tiny_http.md` §7)
/// and the write timeout.
pub fn bind(addr: SocketAddr) -> io::Result<Server> {
    bind_with(addr, WRITE_TIMEOUT)
}

/// [`bind`] with another write timeout.
pub fn bind_with(addr: SocketAddr, write_timeout: Duration) -> io::Result<Server> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.set_write_timeout(Some(write_timeout))?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    let listener: TcpListener = socket.into();
    Server::from_listener(listener, None).map_err(io::Error::other)
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

/// Largest announced body answered with 413. tiny_http drains an unread body when the request
/// is answered, by allocating all of it at once (`EqualReader::drop`): past this size that
/// allocation itself is the attack (10^12 bytes aborts the process), so the daemon exits instead,
/// loudly, for its supervisor to restart it. See the README's security section.
pub const MAX_DRAINED_BODY: usize = 1 << 20;

/// Requests one connection may send per second; past it the connection is cut. A pipelining
/// flood would otherwise fill tiny_http's unbounded queue (265 MB for 200 000 requests,
/// `shared/reference/tiny_http.md` §3c). A client or benchmark that needs more uses several
/// connections.
pub const MAX_REQUESTS_PER_SECOND: u32 = 2000;

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
    /// Requests per client in the current second.
    rates: HashMap<SocketAddr, (Instant, u32)>,
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
            rates: HashMap::new(),
        }
    }

    /// Answers requests until `stopping` is set and the server is unblocked (`Ok`), or tiny_http's
    /// accept thread dies (`Err`: the daemon cannot serve any more and should exit).
    pub fn serve(&mut self, server: &Server) -> io::Result<()> {
        loop {
            match server.recv() {
                Ok(request) => self.answer(request),
                Err(_) if self.stopping.load(Ordering::SeqCst) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    fn answer(&mut self, request: Request) {
        let now = Instant::now();
        let peer = request.remote_addr().copied();
        if let Some(peer) = peer {
            match self.flooding(peer, now) {
                Flood::No => {}
                // Its requests still queued are dropped unanswered (tiny_http's attempt to
                // write a 500 fails on the shut socket).
                Flood::AlreadyCut => return,
                Flood::Now => {
                    log::warn!("{peer}: over {MAX_REQUESTS_PER_SECOND} requests a second; cut");
                    reaper::shut_peer(self.port, peer, Shutdown::Both);
                    return;
                }
            }
        }
        let unread = unread_body(&request).or_else(|| oversized_head(&request));
        if let (Some(_), Some(peer)) = (&unread, peer) {
            // Above isize::MAX the allocation fails with a panic, which respond()'s
            // catch_unwind survives; in between it would abort the process.
            let allocated = MAX_DRAINED_BODY + 1..=isize::MAX as usize;
            if request
                .body_length()
                .is_some_and(|n| allocated.contains(&n))
            {
                log::error!(
                    "{peer} announced a body of {} bytes, which tiny_http would allocate whole \
                     to discard it; exiting for the supervisor to restart the daemon",
                    request.body_length().unwrap_or_default()
                );
                std::process::exit(1);
            }
            // With the read side shut, tiny_http's drain of the unread body ends at once.
            reaper::shut_peer(self.port, peer, Shutdown::Read);
        }
        let reply = self.reply(&request, now);
        // A method we allow, with a body we did not read: say why the connection ends.
        let reply = match unread {
            Some(refusal) if reply.status != 405 => refusal,
            _ => reply,
        };
        if let Some(peer) = peer {
            self.activity.answered(peer, now);
        }
        let line = format!(
            "{} {:?} {}",
            request.method().as_str().escape_debug(),
            request.url(),
            reply.status
        );
        let response = to_response(reply);
        // tiny_http 0.12 can panic inside respond() on a hostile request (a Content-Length near
        // u64::MAX overflows its body drain); one bad client must not take the daemon down.
        match catch_unwind(AssertUnwindSafe(|| request.respond(response))) {
            Ok(Ok(())) => log::debug!("{line} {:.2}ms", now.elapsed().as_secs_f64() * 1e3),
            Ok(Err(e)) => {
                // A client that does not read: cut it, or each of its queued requests would
                // cost another write timeout.
                log::debug!("{line}: response not sent: {e}; connection cut");
                if let Some(peer) = peer {
                    reaper::shut_peer(self.port, peer, Shutdown::Both);
                }
            }
            Err(_) => log::warn!("{line}: tiny_http panicked while responding; connection dropped"),
        }
    }

    fn reply(&self, request: &Request, now: Instant) -> Reply {
        let route = routes::route(request.method().as_str(), request.url());
        let clock = Clock {
            started: self.started,
            now,
        };
        let view = self.shared.current();
        // Our code cannot panic on any input, by design; if it ever did, this client gets a 500
        // and the loop goes on.
        catch_unwind(AssertUnwindSafe(|| api::handle(&route, &view, clock))).unwrap_or_else(|_| {
            log::error!("a panic while answering {:?}; answered 500", request.url());
            api::error(
                500,
                "internal_error",
                "the request could not be answered".into(),
            )
        })
    }

    /// Counts a request from `peer` against the per-second limit.
    fn flooding(&mut self, peer: SocketAddr, now: Instant) -> Flood {
        if self.rates.len() > 4096 {
            self.rates
                .retain(|_, (since, _)| now.duration_since(*since) < Duration::from_secs(10));
        }
        let (since, count) = self.rates.entry(peer).or_insert((now, 0));
        let age = now.duration_since(*since);
        // A cut connection's queued requests arrive within moments; a later connection from
        // the same address and port is a new one.
        if *count > MAX_REQUESTS_PER_SECOND && age < Duration::from_secs(10) {
            return Flood::AlreadyCut;
        }
        if age >= Duration::from_secs(1) {
            *since = now;
            *count = 0;
        }
        *count += 1;
        if *count > MAX_REQUESTS_PER_SECOND {
            Flood::Now
        } else {
            Flood::No
        }
    }
}

/// What the request rate of one connection says.
enum Flood {
    /// Within the limit.
    No,
    /// Past it with this request: cut the connection.
    Now,
    /// A connection already cut: its queued requests are not answered.
    AlreadyCut,
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

/// The answer to a request whose body tiny_http has not read (more than 1 KiB announced, any
/// `Transfer-Encoding`, or an `Expect`): the API takes none, and reading it could stall the loop.
/// `None` when there is no body, or tiny_http already read it. PURE over the request's head.
fn unread_body(request: &Request) -> Option<Reply> {
    let has = |name: &'static str| request.headers().iter().any(|h| h.field.equiv(name));
    if has("Expect") {
        let message = "requests take no body, so nothing to continue".into();
        return Some(api::error(417, "expectation_failed", message));
    }
    // tiny_http reads bodies of up to 1 KiB itself, before the request reaches us.
    let unread_length = request.body_length().is_some_and(|n| n > 1024);
    if unread_length || has("Transfer-Encoding") {
        let message = "requests take no body".into();
        return Some(api::error(413, "payload_too_large", message));
    }
    None
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
