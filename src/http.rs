//! The HTTP side: the listener, and the one request loop that answers from the latest view. This
//! is the only module that knows tiny_http.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tiny_http::{Header, Request, Response, Server};

use crate::api::{self, Clock, Reply, ALLOW};
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
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
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
/// accept thread dies (`Err`: the daemon cannot serve any more and should exit).
pub fn serve(
    server: &Server,
    shared: &SharedView,
    started: Instant,
    stopping: &AtomicBool,
) -> io::Result<()> {
    loop {
        match server.recv() {
            Ok(request) => answer(request, shared, started),
            Err(_) if stopping.load(Ordering::SeqCst) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

fn answer(request: Request, shared: &SharedView, started: Instant) {
    let now = Instant::now();
    let route = routes::route(request.method().as_str(), request.url());
    let clock = Clock { started, now };
    let view = shared.current();
    // Our code cannot panic on any input, by design; if it ever did, this client gets a 500 and
    // the loop goes on.
    let reply = catch_unwind(AssertUnwindSafe(|| api::handle(&route, &view, clock)))
        .unwrap_or_else(|_| {
            log::error!("a panic while answering {:?}; answered 500", request.url());
            api::error(
                500,
                "internal_error",
                "the request could not be answered".into(),
            )
        });
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
        Ok(Err(e)) => log::debug!("{line}: response not sent: {e}"),
        Err(_) => log::warn!("{line}: tiny_http panicked while responding; connection dropped"),
    }
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
