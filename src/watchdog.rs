//! The watchdog thread: every few seconds it asks the daemon's own `/health` over TCP, as a
//! client would. If the request loop is wedged (a client tiny_http cannot be protected from, see
//! `shared/reference/tiny_http.md` §3) or tiny_http's accept thread died silently, the probes go
//! unanswered; after [`FAILURES`] in a row the daemon exits with status 1, loudly, so that its
//! supervisor (procd, systemd) restarts it rather than leaving a daemon that answers nothing.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crossbeam_channel::{select, Receiver};

/// The time between probes.
pub const PROBE_EVERY: Duration = Duration::from_secs(5);
/// How long a probe may wait for the status line.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Unanswered probes in a row before the daemon exits.
pub const FAILURES: u32 = 3;

/// The address to probe: the listen address, or loopback when listening on every address.
pub fn probe_addr(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// The watchdog thread's body: probes `addr` until `stop` disconnects.
pub fn run(addr: SocketAddr, stop: Receiver<()>) {
    let mut failures = 0;
    loop {
        select! {
            recv(stop) -> _ => return,
            default(PROBE_EVERY) => {}
        }
        match probe(addr, PROBE_TIMEOUT) {
            Ok(()) => {
                if failures > 0 {
                    log::info!("watchdog: the daemon answers again");
                }
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                log::warn!("watchdog: /health unanswered ({e}), {failures} of {FAILURES}");
                if failures >= FAILURES {
                    log::error!(
                        "watchdog: no answer for {} s: the request loop is wedged or the listener \
                         is gone; exiting so that the supervisor restarts the daemon",
                        (PROBE_EVERY + PROBE_TIMEOUT).as_secs() * u64::from(FAILURES)
                    );
                    std::process::exit(1);
                }
            }
        }
    }
}

/// One probe: a status line from `/health` within `timeout`.
fn probe(addr: SocketAddr, timeout: Duration) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: watchdog\r\nConnection: close\r\n\r\n")?;
    let mut head = [0; 12];
    stream.read_exact(&mut head)?;
    if head.starts_with(b"HTTP/1.1 ") {
        Ok(())
    } else {
        Err(io::Error::other("not an HTTP response"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn probes_loopback_when_listening_everywhere() {
        let any: SocketAddr = "0.0.0.0:9310".parse().unwrap();
        assert_eq!(probe_addr(any).to_string(), "127.0.0.1:9310");
        let any6: SocketAddr = "[::]:9310".parse().unwrap();
        assert_eq!(probe_addr(any6).to_string(), "[::1]:9310");
        let lan: SocketAddr = "192.0.2.1:80".parse().unwrap();
        assert_eq!(probe_addr(lan), lan);
    }

    #[test]
    fn a_silent_server_fails_the_probe_and_an_answering_one_passes() {
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        // Accepted by the kernel's backlog, never answered: the read times out.
        let timeout = Duration::from_millis(200);
        let started = std::time::Instant::now();
        assert!(probe(addr, timeout).is_err());
        assert!(started.elapsed() >= timeout, "it waited for the answer");

        let answering = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = answering.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = answering.accept().unwrap();
            let mut request = [0; 64];
            let _ = stream.read(&mut request).unwrap();
            stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\n\r\n")
                .unwrap();
        });
        assert!(
            probe(addr, PROBE_TIMEOUT).is_ok(),
            "any status is an answer"
        );
        server.join().unwrap();
    }
}
