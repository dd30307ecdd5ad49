//! Socket activation: the listening socket handed over by another process instead of bound by
//! the daemon, by the protocol of `sd_listen_fds(3)`. The passing process puts the sockets at
//! descriptors 3, 4, ..., sets `LISTEN_FDS` to their number and `LISTEN_PID` to the process id
//! that is to take them (a child that inherits the environment must not), and execs the daemon.
//! systemd does so for a `.socket` unit (`contrib/systemd/ifstatsd.socket`), and so does
//! `systemd-socket-activate`, which tests such units by hand.
//!
//! Why: the socket exists before the daemon and outlives it. A connection made while the daemon
//! starts or restarts waits in the socket's backlog and is answered, instead of being refused;
//! and the socket can be bound at boot before anything else runs.
//!
//! ifstatsd takes one TCP listening socket; `LISTEN_FDNAMES` is not needed. Other variables of
//! the environment (a `IFSTATSD_HANDOFF_FD`, say) are not this module's business.
//!
//! The one piece of `unsafe` code here takes ownership of descriptor 3: see
//! [`inherited_listener`].

use std::env;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

/// The first descriptor passed (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

/// The variables of the protocol, removed from the environment once read.
pub const VARIABLES: [&str; 3] = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"];

/// The listening TCP socket passed to this process at descriptor 3, if one was.
///
/// `None` when `LISTEN_PID` is unset or names another process (the variables were inherited
/// from a parent that was passed sockets itself), or `LISTEN_FDS` is unset or 0: the daemon
/// binds `--listen` then. An error, to end the daemon with, when the variables are not numbers,
/// when more than one socket is passed, or when descriptor 3 is not a listening TCP socket (a
/// `ListenDatagram=`, a Unix socket or `Accept=yes` in the `.socket` unit, by mistake).
///
/// The socket is returned close-on-exec (it is not passed on to any child), blocking or not as
/// it came. The variables are removed from the environment whatever the outcome, so that a
/// second call returns `None`: descriptor 3 is taken at most once.
///
/// Call it first thing in `main`, before any thread starts (removing a variable races with
/// threads reading the environment) and before anything opens a file, which could get
/// descriptor 3 if it was not passed.
pub fn inherited_listener() -> io::Result<Option<TcpListener>> {
    let pid = env::var_os("LISTEN_PID");
    let fds = env::var_os("LISTEN_FDS");
    for name in VARIABLES {
        env::remove_var(name);
    }
    if !passed_to_us(pid.as_deref(), fds.as_deref(), std::process::id())? {
        return Ok(None);
    }
    let socket = take_descriptor(LISTEN_FDS_START)?;
    check_listener(&socket, LISTEN_FDS_START)?;
    socket.set_cloexec(true)?;
    Ok(Some(socket.into()))
}

/// Whether one socket was passed to the process `our_pid`, by the values of `LISTEN_PID` and
/// `LISTEN_FDS`; an error if they are not numbers or pass more than one.
fn passed_to_us(pid: Option<&OsStr>, fds: Option<&OsStr>, our_pid: u32) -> io::Result<bool> {
    let Some(pid) = pid else {
        return Ok(false);
    };
    let pid: u32 =
        number(pid).ok_or_else(|| invalid(format!("LISTEN_PID={pid:?} is not a pid")))?;
    if pid != our_pid {
        return Ok(false);
    }
    let Some(fds) = fds else {
        return Ok(false);
    };
    let count: u32 =
        number(fds).ok_or_else(|| invalid(format!("LISTEN_FDS={fds:?} is not a number")))?;
    match count {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(invalid(format!(
            "LISTEN_FDS={count}: ifstatsd takes one listening socket, not {count} \
             (one ListenStream= in the .socket unit)"
        ))),
    }
}

fn number<T: std::str::FromStr>(text: &OsStr) -> Option<T> {
    text.to_str()?.parse().ok()
}

/// Takes ownership of descriptor `fd`, once it is known to be an open socket.
fn take_descriptor(fd: RawFd) -> io::Result<Socket> {
    let link = format!("/proc/self/fd/{fd}");
    let target = fs::read_link(&link).map_err(|e| {
        invalid(format!(
            "LISTEN_FDS=1, but descriptor {fd} is not open ({link}: {e})"
        ))
    })?;
    if !target.to_string_lossy().starts_with("socket:") {
        return Err(invalid(format!(
            "descriptor {fd} is {}, not a socket",
            target.display()
        )));
    }
    // SAFETY: descriptor `fd` is open (it is listed in /proc/self/fd) and is a socket, which
    // needs nothing but `close`. Nothing else in the process owns it: `LISTEN_PID` names this
    // process, so the process that exec'd it put the descriptor there for it, and the variables
    // are gone from the environment, so no later call takes it again. The caller runs before
    // any thread, so the descriptor cannot be closed and reused between the check and here.
    #[allow(unsafe_code)]
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(Socket::from(owned))
}

/// Checks that `socket` (descriptor `fd`) is a listening TCP socket, with an error that says
/// what it is instead and the likely mistake in the `.socket` unit.
fn check_listener(socket: &Socket, fd: RawFd) -> io::Result<()> {
    let domain = socket.domain()?;
    let kind = socket.r#type()?;
    let inet = domain == Domain::IPV4 || domain == Domain::IPV6;
    if !inet || kind != Type::STREAM || socket.protocol()? != Some(Protocol::TCP) {
        return Err(invalid(format!(
            "descriptor {fd} is a socket of {domain:?}, {kind:?}, not TCP: ifstatsd takes \
             ListenStream=ADDRESS:PORT, not a datagram or Unix socket"
        )));
    }
    if !socket.is_listener()? {
        return Err(invalid(format!(
            "descriptor {fd} is a TCP socket that is not listening (one connection, as with \
             Accept=yes): ifstatsd takes the listening socket itself (Accept=no, the default)"
        )));
    }
    Ok(())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::unix::net::UnixListener;

    fn passed(pid: Option<&str>, fds: Option<&str>) -> Result<bool, String> {
        passed_to_us(pid.map(OsStr::new), fds.map(OsStr::new), 4242).map_err(|e| e.to_string())
    }

    #[test]
    fn one_socket_for_this_process_is_taken() {
        assert_eq!(passed(Some("4242"), Some("1")), Ok(true));
    }

    #[test]
    fn sockets_for_another_process_or_none_are_ignored() {
        assert_eq!(passed(None, None), Ok(false));
        assert_eq!(passed(None, Some("1")), Ok(false), "no LISTEN_PID");
        assert_eq!(passed(Some("1"), Some("1")), Ok(false), "another process's");
        assert_eq!(
            passed(Some("4243"), Some("5")),
            Ok(false),
            "another's, any count"
        );
        assert_eq!(passed(Some("4242"), None), Ok(false), "no LISTEN_FDS");
        assert_eq!(passed(Some("4242"), Some("0")), Ok(false));
    }

    #[test]
    fn more_than_one_socket_or_garbage_is_an_error() {
        let two = passed(Some("4242"), Some("2")).unwrap_err();
        assert!(two.contains("LISTEN_FDS=2") && two.contains("one"), "{two}");
        for (pid, fds, culprit) in [
            ("x", "1", "LISTEN_PID"),
            ("", "1", "LISTEN_PID"),
            ("-1", "1", "LISTEN_PID"),
            ("4242", "one", "LISTEN_FDS"),
            ("4242", "-1", "LISTEN_FDS"),
        ] {
            let error = passed(Some(pid), Some(fds)).unwrap_err();
            assert!(error.contains(culprit), "{pid} {fds}: {error}");
        }
    }

    #[test]
    fn a_listening_tcp_socket_passes_the_check() {
        for addr in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(listener) = TcpListener::bind(addr) else {
                eprintln!("{addr}: cannot bind here, not checked");
                continue;
            };
            check_listener(&Socket::from(listener), 3).unwrap();
        }
    }

    #[test]
    fn other_sockets_are_refused_with_what_they_are() {
        let udp = Socket::from(UdpSocket::bind("127.0.0.1:0").unwrap());
        let error = check_listener(&udp, 3).unwrap_err().to_string();
        assert!(error.contains("AF_INET, SOCK_DGRAM"), "{error}");

        let path = std::env::temp_dir().join(format!("ifstatsd-activation-{}", std::process::id()));
        let _ = fs::remove_file(&path);
        let unix = Socket::from(OwnedFd::from(UnixListener::bind(&path).unwrap()));
        let _ = fs::remove_file(&path);
        let error = check_listener(&unix, 3).unwrap_err().to_string();
        assert!(error.contains("AF_UNIX, SOCK_STREAM"), "{error}");

        let bound = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        bound
            .bind(
                &"127.0.0.1:0"
                    .parse::<std::net::SocketAddr>()
                    .unwrap()
                    .into(),
            )
            .unwrap();
        let error = check_listener(&bound, 3).unwrap_err().to_string();
        assert!(error.contains("not listening"), "{error}");
    }
}
