//! Socket activation for real: the daemon started by `systemd-socket-activate`, the tool that
//! tests a `.socket` unit by hand. It binds and listens first, waits for the first connection
//! (or datagram), then execs the daemon with the socket at descriptor 3, `LISTEN_FDS=1` and
//! `LISTEN_PID` set to the daemon's pid (exec keeps the pid, so the child of the test becomes
//! the daemon). systemd does the same for `contrib/systemd/ifstatsd.socket`.
//!
//! These need `systemd-socket-activate` (Debian's `systemd` package). Without it a test says why
//! it skipped; under `CI=true` it fails instead.

mod support;

use std::fs::{self, File};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rstest::rstest;
use support::{free_port, read_response, request, request_text, wait_until, TempDir, IO_TIMEOUT};

const BIN: &str = env!("CARGO_BIN_EXE_ifstatsd");
const ACTIVATE: &str = "systemd-socket-activate";
/// How long a start-up, or a run that should end at once, may take.
const DEADLINE: Duration = Duration::from_secs(10);

/// Whether `systemd-socket-activate` runs here; if not, says why `test` is skipped (or fails it
/// under `CI=true`).
fn can_activate(test: &str) -> bool {
    let why = match Command::new(ACTIVATE).arg("--version").output() {
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!("{ACTIVATE} --version failed: {out:?}"),
        Err(e) => format!("cannot run {ACTIVATE}: {e}"),
    };
    let why = format!("{test}: {why} (it is in Debian's systemd package)");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why}; CI=true never skips"
    );
    eprintln!("skipped {why}");
    false
}

/// `systemd-socket-activate` and then the daemon, in one process; killed when dropped.
struct Activated {
    child: Child,
    /// The activator's stderr and then the daemon's.
    stderr: PathBuf,
}

impl Activated {
    /// Runs `systemd-socket-activate <options> -l <each of listen> <command>` and waits until
    /// it listens on all of them. `listen` makes the addresses to use at each attempt: a port
    /// that was free may be taken before the activator binds it, and then it is started again.
    fn start(
        dir: &TempDir,
        options: &[&str],
        listen: impl Fn() -> Vec<String>,
        command: &[&str],
    ) -> (Activated, Vec<String>) {
        for attempt in 0..5 {
            let addrs = listen();
            let stderr = dir.path(&format!("activate-{attempt}.stderr"));
            let mut args: Vec<&str> = options.to_vec();
            for addr in &addrs {
                args.extend(["-l", addr]);
            }
            let child = Command::new(ACTIVATE)
                .args(&args)
                .args(command)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(&stderr).unwrap())
                .spawn()
                .expect("systemd-socket-activate starts");
            let mut activated = Activated { child, stderr };
            let last = format!(" as {}.", 2 + addrs.len());
            let until = Instant::now() + DEADLINE;
            loop {
                if activated.log().contains(&last) {
                    return (activated, addrs);
                }
                if let Some(status) = activated.child.try_wait().unwrap() {
                    let log = activated.log();
                    assert!(
                        log.contains("in use"),
                        "{ACTIVATE} exited ({status}): {log}"
                    );
                    break; // the port was taken meanwhile: another one
                }
                assert!(Instant::now() < until, "not listening: {}", activated.log());
                thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no free port in five attempts");
    }

    /// Everything logged so far.
    fn log(&self) -> String {
        fs::read_to_string(&self.stderr).expect("read the log")
    }

    /// Waits until a line containing `text` is logged.
    fn wait_logged(&mut self, text: &str) {
        let mut exited = None;
        wait_until(&format!("{text:?} is logged"), DEADLINE, || {
            let log = self.log();
            if log.contains(text) {
                return true;
            }
            // Once the process has exited, its log is complete.
            if let Some(status) = exited {
                panic!("{text:?} never logged; exited ({status}): {log}");
            }
            exited = self.child.try_wait().unwrap();
            false
        });
    }

    /// Waits for the exit; fails the test after [`DEADLINE`].
    fn wait_exit(&mut self) -> ExitStatus {
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "still running: {}", self.log());
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Activated {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_tcp() -> Vec<String> {
    vec![format!("127.0.0.1:{}", free_port())]
}

#[test]
fn serves_the_socket_it_is_passed_even_to_a_connection_made_before_it_started() {
    if !can_activate("inherited") {
        return;
    }
    let dir = TempDir::new("activation");
    let (mut activated, addrs) = Activated::start(&dir, &[], free_tcp, &[BIN]);
    let addr: SocketAddr = addrs[0].parse().unwrap();
    assert!(
        !activated.log().contains("Execing"),
        "the daemon started before any connection: {}",
        activated.log()
    );

    // The socket exists and the daemon does not: this connection is made, and its request sent,
    // before the daemon exists. Its arrival is what starts the daemon.
    let mut early = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    early.set_read_timeout(Some(DEADLINE)).unwrap();
    early
        .write_all(request_text("GET", "/health", "Connection: close\r\n", "").as_bytes())
        .unwrap();
    let answer = read_response(&mut BufReader::new(early), false)
        .unwrap_or_else(|e| panic!("no answer to the early request ({e}): {}", activated.log()));
    assert_eq!(answer.status, 200, "{}", activated.log());

    let log = activated.log();
    assert!(log.contains("Execing"), "{log}");
    assert!(
        log.contains(&format!(
            "listening on {addr} (inherited: socket activation)"
        )),
        "{log}"
    );
    assert!(log.contains(&format!("serving http://{addr}/")), "{log}");
    assert_eq!(request(addr, "GET", "/health").unwrap().status, 200);

    // The activator exec'd the daemon: its process is the daemon, and SIGTERM stops it cleanly.
    let pid = activated.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = activated.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", activated.log());
}

#[test]
fn a_socket_for_another_process_is_left_and_listen_is_bound() {
    if !can_activate("another-pid") {
        return;
    }
    let dir = TempDir::new("activation-pid");
    let own = SocketAddr::from(([127, 0, 0, 1], free_port()));
    // The shell is exec'd with LISTEN_PID its own pid; it execs the daemon (the same pid) with
    // LISTEN_PID=1, as a child that inherited its parent's variables would have them, and the
    // listening socket still at descriptor 3.
    let own_listen = own.to_string();
    let command = [
        "sh",
        "-c",
        r#"LISTEN_PID=1 exec "$0" "$@""#,
        BIN,
        "--listen",
        &own_listen,
    ];
    let (mut activated, addrs) = Activated::start(&dir, &[], free_tcp, &command);
    let passed: SocketAddr = addrs[0].parse().unwrap();
    // Connecting starts the daemon; this connection is never answered, nothing accepts it.
    let _trigger = TcpStream::connect_timeout(&passed, IO_TIMEOUT).expect("connect");
    activated.wait_logged(&format!("serving http://{own}/"));
    assert_eq!(request(own, "GET", "/health").unwrap().status, 200);
    let log = activated.log();
    assert!(!log.contains("inherited"), "{log}");
}

/// What the mistaken unit passes, and what starts the daemon.
enum Mistake {
    /// `ListenDatagram=`: a UDP socket, started by a datagram.
    Datagram,
    /// `ListenStream=/path`: a Unix socket.
    Unix,
    /// `Accept=yes`: one accepted connection per daemon instead of the listener.
    Accept,
    /// Two `ListenStream=`.
    TwoSockets,
}

#[rstest]
#[case::datagram(
    Mistake::Datagram,
    "descriptor 3 is a socket of AF_INET, SOCK_DGRAM, not TCP"
)]
#[case::unix(
    Mistake::Unix,
    "descriptor 3 is a socket of AF_UNIX, SOCK_STREAM, not TCP"
)]
#[case::accept(Mistake::Accept, "descriptor 3 is a TCP socket that is not listening")]
#[case::two_sockets(
    Mistake::TwoSockets,
    "LISTEN_FDS=2: ifstatsd takes one listening socket"
)]
fn a_wrong_socket_is_refused_with_one_line_and_status_1(
    #[case] mistake: Mistake,
    #[case] reason: &str,
) {
    if !can_activate("wrong-socket") {
        return;
    }
    let dir = TempDir::new("activation-wrong");
    let unix_path = dir.path("sock");
    let unix_path_text = unix_path.to_str().unwrap().to_owned();
    let free_udp = || {
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        vec![format!("127.0.0.1:{port}")]
    };
    let two_tcp = || [free_tcp(), free_tcp()].concat();
    let (mut activated, addrs) = match mistake {
        Mistake::Datagram => Activated::start(&dir, &["--datagram"], free_udp, &[BIN]),
        Mistake::Unix => Activated::start(&dir, &[], || vec![unix_path_text.clone()], &[BIN]),
        Mistake::Accept => Activated::start(&dir, &["--accept"], free_tcp, &[BIN]),
        Mistake::TwoSockets => Activated::start(&dir, &[], two_tcp, &[BIN]),
    };
    match mistake {
        Mistake::Datagram => {
            let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
            sender.send_to(b"start", &addrs[0]).unwrap();
        }
        Mistake::Unix => drop(UnixStream::connect(&unix_path).expect("connect")),
        Mistake::Accept | Mistake::TwoSockets => {
            let addr: SocketAddr = addrs[0].parse().unwrap();
            drop(TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect"));
        }
    }
    activated.wait_logged(&format!("ifstatsd: socket activation: {reason}"));
    let status = if let Mistake::Accept = mistake {
        // The activator forks a daemon per connection and keeps listening; it logs the exit.
        activated.wait_logged("died with code");
        let log = activated.log();
        let code = log
            .split("died with code ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
        code.expect("an exit code")
    } else {
        activated.wait_exit().code().expect("an exit code")
    };
    let log = activated.log();
    assert_eq!(status, 1, "{log}");
    // The daemon's one line; the others are the activator's.
    let activator = [
        "Listening on ",
        "Communication attempt",
        "Execing ",
        "Connection from ",
    ];
    let daemon: Vec<&str> = log
        .lines()
        .filter(|line| !activator.iter().any(|start| line.starts_with(start)))
        .filter(|line| !line.starts_with("Spawned ") && !line.starts_with("Child "))
        .collect();
    assert_eq!(daemon.len(), 1, "{log}");
}
