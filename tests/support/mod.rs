//! Helpers shared by the integration tests: a raw HTTP/1.1 client, the daemon as a child
//! process, deadline-bounded waits, temporary directories and source files.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any single read from the daemon may take before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Reads one response from `reader`; `head` is true for a response to HEAD (no body).
pub fn read_response(reader: &mut impl BufRead, head: bool) -> std::io::Result<Response> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed
            .split_once(':')
            .ok_or_else(|| std::io::Error::other(format!("bad header {trimmed:?}")))?;
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if !head {
        let length: usize = response
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| std::io::Error::other("no Content-Length"))?;
        response.body.resize(length, 0);
        reader.read_exact(&mut response.body)?;
    }
    Ok(response)
}

/// Sends one request on a new connection and reads the answer.
pub fn request(addr: SocketAddr, method: &str, target: &str) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, READ_TIMEOUT)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )?;
    read_response(&mut BufReader::new(stream), method == "HEAD")
}

/// GET that must succeed.
pub fn get(addr: SocketAddr, target: &str) -> Response {
    request(addr, "GET", target).unwrap_or_else(|e| panic!("GET {target}: {e}"))
}

/// Polls `condition` every 20 ms until it holds; fails the test after `deadline`.
pub fn wait_until(what: &str, deadline: Duration, mut condition: impl FnMut() -> bool) {
    let until = Instant::now() + deadline;
    while !condition() {
        assert!(
            Instant::now() < until,
            "timed out after {deadline:?} waiting until {what}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh directory for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ifstatsd-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `/proc/net/dev` text in the kernel's format for `(name, [rx bytes, packets, errs, drop,
/// tx bytes, packets, errs, drop])` pairs.
pub fn net_dev(interfaces: &[(&str, [u64; 8])]) -> String {
    let mut text = String::from(
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n",
    );
    for (name, c) in interfaces {
        text.push_str(&format!(
            "{name:>6}: {:7} {:7} {:4} {:4}    0     0          0         0 {:8} {:7} {:4} {:4}    0     0       0          0\n",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
        ));
    }
    text
}

/// Replaces `path` atomically (a temporary file and a rename), as a kernel file never tears.
pub fn write_atomically(path: &Path, text: &str) {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).expect("write the temporary file");
    std::fs::rename(&temp, path).expect("rename it into place");
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The real binary, running; killed when dropped, however the test ends.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Daemon {
    /// Starts `ifstatsd --listen 127.0.0.1:<free port> <args>` and waits until `/health` answers.
    pub fn start(args: &[&str]) -> Daemon {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ifstatsd"))
            .arg("--listen")
            .arg(addr.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the daemon starts");
        let mut daemon = Daemon { child, addr };
        wait_until(
            "the daemon answers /health",
            Duration::from_secs(10),
            || {
                if let Ok(Some(status)) = daemon.child.try_wait() {
                    panic!("the daemon exited at start-up: {status}");
                }
                request(addr, "GET", "/health").is_ok()
            },
        );
        daemon
    }

    pub fn get(&self, target: &str) -> Response {
        get(self.addr, target)
    }

    pub fn json(&self, target: &str) -> Value {
        self.get(target).json()
    }

    /// Sends `signal` (TERM, INT, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{signal} failed");
    }

    /// Waits for the exit, failing the test after `deadline`.
    pub fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < until,
                "the daemon did not exit within {deadline:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The eight counters of an interface object, in kernel order.
pub fn counters_of(interface: &Value) -> [u64; 8] {
    let names = [
        "rx_bytes",
        "rx_packets",
        "rx_errors",
        "rx_dropped",
        "tx_bytes",
        "tx_packets",
        "tx_errors",
        "tx_dropped",
    ];
    names.map(|name| {
        interface["counters"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("no counter {name} in {interface}"))
    })
}
