//! Linux only: the daemon's HTTP sockets, found from outside tiny_http, which gives no access to
//! them. The reaper, the watchdog and the request loop find a connection here by its port and
//! peer, and shut it down, write to it or peek at it; tiny_http's worker then sees end-of-file
//! and exits, closing its descriptors.
//!
//! The `unsafe` code: [`BorrowedFd::borrow_raw`] on a descriptor number read from
//! `/proc/self/fd`, and `getsockopt(TCP_INFO)`. The descriptor may be closed by tiny_http at any moment; a call on a closed
//! descriptor fails with `EBADF`, and before a `shutdown()` the descriptor's inode is read again,
//! so that a number reused for another socket in between is left alone.

use std::fs;
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use socket2::SockRef;

/// One accepted connection on our port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection {
    /// One of its descriptors.
    pub fd: RawFd,
    /// Its socket's inode: the same for both of tiny_http's descriptors.
    pub inode: u64,
    /// The client's address.
    pub peer: SocketAddr,
}

/// The socket inode `/proc/self/fd/<fd>` names, if it is a socket.
pub fn socket_inode(fd: RawFd) -> Option<u64> {
    let link = fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    let link = link.to_str()?;
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Runs `f` on the socket `fd`, if it is still open.
fn with_socket<T>(fd: RawFd, f: impl FnOnce(SockRef<'_>) -> T) -> T {
    // SAFETY: see the module doc. The descriptor was listed in /proc/self/fd a moment ago; if
    // it has been closed since, the system calls below fail with EBADF, and `shutdown()` is
    // only called after its inode was checked again.
    #[allow(unsafe_code)]
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    f(SockRef::from(&fd))
}

/// The accepted connections on local `port`, one per socket (tiny_http holds two descriptors
/// for each: the socket and a clone).
pub fn connections(port: u16) -> Vec<Connection> {
    let Ok(entries) = fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut found: Vec<Connection> = Vec::new();
    for entry in entries.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Some(inode) = socket_inode(fd) else {
            continue;
        };
        if found.iter().any(|c| c.inode == inode) {
            continue;
        }
        let peer = with_socket(fd, |socket| {
            let ours = socket
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .is_some_and(|a| a.port() == port);
            // The listener has no peer; an accepted connection on our port has one.
            ours.then(|| socket.peer_addr().ok().and_then(|a| a.as_socket()))
                .flatten()
        });
        if let Some(peer) = peer {
            found.push(Connection { fd, inode, peer });
        }
    }
    found
}

/// The listening socket on local `port`: its descriptor and inode.
pub fn listener(port: u16) -> Option<(RawFd, u64)> {
    let entries = fs::read_dir("/proc/self/fd").ok()?;
    entries.flatten().find_map(|entry| {
        let fd: RawFd = entry.file_name().to_str()?.parse().ok()?;
        let inode = socket_inode(fd)?;
        let listening = with_socket(fd, |socket| {
            let ours = socket.local_addr().ok().and_then(|a| a.as_socket());
            ours.is_some_and(|a| a.port() == port) && socket.peer_addr().is_err()
        });
        listening.then_some((fd, inode))
    })
}

/// Whether descriptor `fd` still names the socket `inode`.
pub fn still_open(fd: RawFd, inode: u64) -> bool {
    socket_inode(fd) == Some(inode)
}

/// Shuts down `connection` (`how`: the read side, to make tiny_http's body drain end at once,
/// or both, to end the connection).
pub fn shut(connection: &Connection, how: Shutdown) {
    if socket_inode(connection.fd) == Some(connection.inode) {
        let _ = with_socket(connection.fd, |socket| socket.shutdown(how));
    }
}

/// Shuts down the connection from `peer` on local `port`, if it is still there.
pub fn shut_peer(port: u16, peer: SocketAddr, how: Shutdown) {
    if let Some(connection) = find(port, peer) {
        shut(&connection, how);
    }
}

/// The connection from `peer` on local `port`, if it is still there.
fn find(port: u16, peer: SocketAddr) -> Option<Connection> {
    connections(port).into_iter().find(|c| c.peer == peer)
}

/// Sends `bytes` to the connection from `peer` on local `port`, if it is still there, then shuts
/// it down: an answer the loop writes by hand (see `crate::serve`). The send blocks at most the
/// write timeout the socket inherited.
pub fn answer_and_cut(port: u16, peer: SocketAddr, bytes: &[u8]) {
    let Some(connection) = find(port, peer) else {
        return;
    };
    if socket_inode(connection.fd) == Some(connection.inode) {
        let _ = with_socket(connection.fd, |socket| socket.send(bytes));
        shut(&connection, Shutdown::Both);
    }
}

/// Cuts a pipelining client: throws away what it sent that nobody has read yet, then shuts
/// both sides. Shutting the read side alone would not stop the tiny_http thread from reading
/// what is already received, and a pipelining client's receive buffer holds thousands of
/// requests (a megabyte of them is 25 000), each queued in tiny_http's unbounded request queue,
/// whose capacity then stays grown for good. Once both sides are shut, the kernel answers any
/// further data with a reset. The bytes are discarded before the shutdown, while the descriptor
/// is surely still this connection's: a shutdown can make tiny_http close it at once, and the
/// next connection accepted may get its number.
pub fn cut_pipelining_peer(port: u16, peer: SocketAddr) {
    let Some(connection) = find(port, peer) else {
        return;
    };
    if socket_inode(connection.fd) == Some(connection.inode) {
        with_socket(connection.fd, discard_unread);
        shut(&connection, Shutdown::Both);
    }
}

/// Reads and drops what the client sent that nobody has read, up to [`MAX_DISCARDED_READS`].
fn discard_unread(socket: SockRef<'_>) {
    let mut buffer = [MaybeUninit::<u8>::uninit(); 16 * 1024];
    for _ in 0..MAX_DISCARDED_READS {
        // MSG_TRUNC: on TCP the kernel drops the bytes without copying them.
        match socket.recv_with_flags(&mut buffer, libc::MSG_DONTWAIT | libc::MSG_TRUNC) {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    }
}

/// A bound on [`discard_unread`]'s reads: 64 MiB, past any receive buffer (a client that
/// keeps sending while it is read is cut anyway).
const MAX_DISCARDED_READS: usize = 4096;

/// What a connection's client has sent, from the kernel's TCP state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// It sent at least one byte (`tcpi_bytes_received`, Linux 4.1 and later; before, false).
    pub any: bool,
    /// How long ago it last sent data (`tcpi_last_data_recv`, in milliseconds).
    pub last_ago: Duration,
}

/// What `connection`'s client has sent; nothing, if the kernel cannot say.
pub fn received(connection: &Connection) -> Received {
    // SAFETY: all-zero is a valid `tcp_info` (integers only).
    #[allow(unsafe_code)]
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut length = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let filled = with_socket(connection.fd, |socket| {
        // SAFETY: getsockopt writes at most `length` bytes into `info`, which is that large
        // and lives through the call; a closed descriptor is an error (EBADF), not UB.
        #[allow(unsafe_code)]
        unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                std::ptr::addr_of_mut!(info).cast(),
                &mut length,
            )
        }
    });
    if filled != 0 {
        return Received {
            any: false,
            last_ago: Duration::MAX,
        };
    }
    Received {
        any: info.tcpi_bytes_received > 0,
        last_ago: Duration::from_millis(u64::from(info.tcpi_last_data_recv)),
    }
}

/// Whether the client has sent bytes that no tiny_http thread has read (a peek, which takes
/// nothing away).
pub fn has_unread_bytes(connection: &Connection) -> bool {
    let mut byte = [MaybeUninit::uninit()];
    let peeked = with_socket(connection.fd, |socket| {
        socket.recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT)
    });
    matches!(peeked, Ok(n) if n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    #[test]
    fn a_request_nobody_read_is_seen_without_taking_it() {
        use std::io::Write;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut accepted, _) = listener.accept().unwrap();
        let found = connections(port);
        assert!(!has_unread_bytes(&found[0]), "nothing sent yet");
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        wait_for(|| has_unread_bytes(&found[0]));
        assert!(has_unread_bytes(&found[0]), "peeking took nothing");
        let mut request = [0; 18];
        accepted.read_exact(&mut request).unwrap();
        assert!(!has_unread_bytes(&found[0]), "read by its thread");
    }

    /// Waits up to a second for `condition` (a loopback write takes a moment to arrive).
    fn wait_for(condition: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while !condition() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn finds_accepted_connections_on_the_port_and_shuts_them() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (accepted, peer) = listener.accept().unwrap();
        let _clone = accepted.try_clone().unwrap();
        let found = connections(port);
        assert_eq!(
            found.len(),
            1,
            "one per socket, not per descriptor: {found:?}"
        );
        assert_eq!(found[0].peer, peer);
        shut_peer(port, peer, Shutdown::Both);
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buffer = [0; 1];
        assert_eq!(
            client.read(&mut buffer).unwrap(),
            0,
            "the client sees the end"
        );
        drop(accepted);
    }

    #[test]
    fn the_kernel_says_whether_and_when_a_client_sent_anything() {
        use std::io::Write;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_accepted, _) = listener.accept().unwrap();
        let found = connections(port);
        assert!(!received(&found[0]).any, "nothing sent yet");
        client.write_all(b"GET").unwrap();
        wait_for(|| received(&found[0]).any);
        let now = received(&found[0]);
        assert!(now.any);
        assert!(now.last_ago < Duration::from_secs(1), "{now:?}");
    }
}
