//! The HTTP floor for `make bench`: a bare tiny_http 0.12 server with the same listener as
//! ifstatsd's (`src/http.rs`: TCP_NODELAY, a 300 ms SO_SNDTIMEO, backlog 1024, built with socket2), one
//! request loop, and one fixed body for every request. What ifstatsd costs per request beyond
//! this is the cost of its own code: routing, the view, JSON, the guards.
//!
//! ```text
//! floor_http --listen 127.0.0.1:PORT --body-bytes N
//! ```
//!
//! The body is `N` bytes of JSON-looking text with `Content-Type: application/json`, so that the
//! bytes on the wire match the ifstatsd response it is compared with. It runs until killed.

use std::net::{SocketAddr, TcpListener};
use std::process::exit;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tiny_http::{Header, Response, Server, StatusCode};

/// The same values as `src/http.rs`, repeated rather than imported: the floor must not depend on
/// the code it is the floor of.
const WRITE_TIMEOUT: Duration = Duration::from_millis(300);
const BACKLOG: i32 = 1024;

fn main() {
    let (addr, body_bytes) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("floor_http: {message}");
            eprintln!("usage: floor_http --listen ADDR:PORT --body-bytes N");
            exit(2);
        }
    };
    let server = match bind(addr) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("floor_http: cannot listen on {addr}: {e}");
            exit(1);
        }
    };
    let body = fixed_body(body_bytes);
    let content_type: Header = "Content-Type: application/json"
        .parse()
        .expect("a valid header");
    for request in server.incoming_requests() {
        // A borrowed body: the floor allocates nothing per request that tiny_http does not.
        let response = Response::new(
            StatusCode(200),
            vec![content_type.clone()],
            body.as_slice(),
            Some(body.len()),
            None,
        );
        // A client that went away is not the floor's problem; the next request is.
        let _ = request.respond(response);
    }
}

/// `--listen ADDR:PORT --body-bytes N`, both required.
fn parse_args() -> Result<(SocketAddr, usize), String> {
    let mut listen = None;
    let mut body_bytes = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = Some(value.parse().map_err(|e| format!("--listen: {e}"))?),
            "--body-bytes" => {
                body_bytes = Some(value.parse().map_err(|e| format!("--body-bytes: {e}"))?)
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok((
        listen.ok_or("--listen is required")?,
        body_bytes.ok_or("--body-bytes is required")?,
    ))
}

/// The listener exactly as ifstatsd builds it.
fn bind(addr: SocketAddr) -> std::io::Result<Server> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.set_write_timeout(Some(WRITE_TIMEOUT))?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    let listener: TcpListener = socket.into();
    Server::from_listener(listener, None).map_err(std::io::Error::other)
}

/// `n` bytes: `{"pad":"xxx...x"}` cut or padded to length (a plain run of `x` below 10 bytes).
fn fixed_body(n: usize) -> Vec<u8> {
    const OPEN: &[u8] = b"{\"pad\":\"";
    const CLOSE: &[u8] = b"\"}";
    if n < OPEN.len() + CLOSE.len() {
        return vec![b'x'; n];
    }
    let mut body = OPEN.to_vec();
    body.resize(n - CLOSE.len(), b'x');
    body.extend_from_slice(CLOSE);
    body
}
