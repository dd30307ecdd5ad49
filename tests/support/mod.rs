//! Helpers shared by the integration tests: a raw HTTP/1.1 client, the daemon as a child
//! process, deadline-bounded waits, temporary directories and source files.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one connect, read or write may take before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client.

/// One response as read off the wire.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the header `name` (lower case); fails the test if it is repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(n, _)| n == name);
        let first = values.next().map(|(_, v)| v.as_str());
        assert!(
            values.next().is_none(),
            "{name} sent twice: {:?}",
            self.headers
        );
        first
    }

    pub fn content_length(&self) -> usize {
        let value = self.header("content-length");
        let value = value.unwrap_or_else(|| panic!("no Content-Length: {:?}", self.headers));
        value.parse().expect("a numeric Content-Length")
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// The bytes of a request, sent in one write as real clients do (several small writes would stall
/// on the client's own Nagle algorithm and hide the server's behaviour).
pub fn request_text(method: &str, target: &str, extra_headers: &str, body: &str) -> String {
    let length = if body.is_empty() {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra_headers}{length}\r\n{body}")
}

/// Reads one response; `head` means it answers a HEAD request and has no body.
pub fn read_response(reader: &mut impl BufRead, head: bool) -> io::Result<Response> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let (version, status) = (parts.next(), parts.next().and_then(|s| s.parse().ok()));
    let (Some("HTTP/1.1"), Some(status)) = (version, status) else {
        return Err(io::Error::other(format!("bad status line {line:?}")));
    };
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line
            .strip_suffix("\r\n")
            .ok_or_else(|| io::Error::other(format!("header line without CRLF: {line:?}")))?;
        if header.is_empty() {
            break;
        }
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| io::Error::other(format!("bad header {header:?}")))?;
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if response.header("transfer-encoding").is_some() {
        return Err(io::Error::other(format!(
            "a chunked response (bodies of 32 KiB and more are): {:?}",
            response.headers
        )));
    }
    if !head {
        response.body.resize(response.content_length(), 0);
        reader.read_exact(&mut response.body)?;
    }
    Ok(response)
}

/// One connection, kept alive across requests.
pub struct Client {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Client { stream, reader }
    }

    pub fn send(&mut self, raw: &str) {
        self.stream
            .write_all(raw.as_bytes())
            .expect("send a request");
    }

    pub fn receive(&mut self, head: bool) -> Response {
        read_response(&mut self.reader, head).unwrap_or_else(|e| panic!("no response: {e}"))
    }

    pub fn request(&mut self, method: &str, target: &str) -> Response {
        self.send(&request_text(method, target, "", ""));
        self.receive(method == "HEAD")
    }

    /// Asserts that the server closes the connection with nothing more to read.
    pub fn assert_closed(mut self) {
        let mut rest = Vec::new();
        self.reader
            .read_to_end(&mut rest)
            .expect("the server closes the connection");
        assert!(
            rest.is_empty(),
            "bytes after the response: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
}

/// One request on its own connection (`Connection: close`); asserts that nothing follows the
/// response, so that a body after a HEAD response, or a wrong Content-Length, fails.
pub fn fetch(addr: SocketAddr, method: &str, target: &str) -> Response {
    let mut client = Client::connect(addr);
    client.send(&request_text(method, target, "Connection: close\r\n", ""));
    let response = client.receive(method == "HEAD");
    client.assert_closed();
    response
}

/// One request on its own connection, for when failing to answer is a possible outcome: an
/// error instead of a failed test, after `timeout` at most per connect or read.
pub fn try_fetch(
    addr: SocketAddr,
    method: &str,
    target: &str,
    timeout: Duration,
) -> io::Result<Response> {
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    let mut writer = stream.try_clone()?;
    writer.write_all(request_text(method, target, "Connection: close\r\n", "").as_bytes())?;
    read_response(&mut BufReader::new(stream), method == "HEAD")
}

/// [`try_fetch`] with the usual timeout.
pub fn request(addr: SocketAddr, method: &str, target: &str) -> io::Result<Response> {
    try_fetch(addr, method, target, IO_TIMEOUT)
}

/// A GET that must be answered.
pub fn get(addr: SocketAddr, target: &str) -> Response {
    fetch(addr, "GET", target)
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

/// Whether the server has closed `stream` within `deadline`: reads end, or the connection was
/// reset (a server that closes with unread requests in its buffer resets it).
pub fn closed_within(mut stream: &TcpStream, deadline: Duration) -> bool {
    stream.set_read_timeout(Some(deadline)).unwrap();
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
    }
}

/// A fresh directory for one test, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        // Cases of one rstest table share a test name.
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let name = format!("ifstatsd-{test}-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

/// A temporary path as the `&str` a command line takes.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `/proc/net/dev` text as the kernel prints it (`dev_seq_printf_stats()`), for interfaces with
/// [rx bytes, packets, errs, drop, tx bytes, packets, errs, drop]. The columns ifstatsd ignores
/// (fifo, frame, compressed, multicast, colls, carrier) hold 91 to 98, so that a column mix-up
/// shows.
pub fn net_dev(interfaces: &[(&str, [u64; 8])]) -> String {
    let mut text = String::from(
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n",
    );
    for (name, c) in interfaces {
        text += &format!(
            "{name:>6}: {:7} {:7} {:4} {:4} {:4} {:5} {:10} {:9} {:8} {:7} {:4} {:4} {:4} {:5} {:7} {:10}\n",
            c[0], c[1], c[2], c[3], 91, 92, 93, 94, c[4], c[5], c[6], c[7], 95, 96, 97, 98
        );
    }
    text
}

/// Replaces `path` atomically (a temporary file and a rename), as a kernel file never tears.
pub fn write_atomically(path: &Path, text: impl AsRef<[u8]>) {
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
        Daemon::start_with_env(args, &[])
    }

    /// [`Daemon::start`] with these environment variables set.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_ifstatsd"))
            .envs(env.iter().copied())
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
    ifstatsd::sample::proc_net_dev::COUNTER_NAMES.map(|name| {
        interface["counters"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("no counter {name} in {interface}"))
    })
}
