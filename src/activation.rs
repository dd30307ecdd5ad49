//! The listening socket handed over by systemd's socket-activation protocol (`LISTEN_FDS`,
//! `LISTEN_PID`; descriptors from 3): by systemd for a socket unit, or by the daemon itself
//! across a seamless restart (see [`crate::restart`]).

use std::io;
use std::net::TcpListener;
use std::os::fd::{FromRawFd, RawFd};

/// The first descriptor the protocol passes.
pub const LISTEN_FDS_START: RawFd = 3;

/// The listening socket passed to this process, if one was: `LISTEN_PID` names this process
/// and `LISTEN_FDS` is 1. The variables are removed either way. Call first in `main`, before
/// any thread starts.
pub fn inherited_listener() -> io::Result<Option<TcpListener>> {
    let pid = std::env::var("LISTEN_PID").ok();
    let count = std::env::var("LISTEN_FDS").ok();
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(name);
    }
    let ours = pid.and_then(|pid| pid.parse::<u32>().ok()) == Some(std::process::id());
    match count {
        Some(count) if ours => {
            if count != "1" {
                return Err(io::Error::other(format!(
                    "LISTEN_FDS={count}: exactly one listening socket is served"
                )));
            }
            // SAFETY: the protocol hands descriptor 3 to this process (LISTEN_PID says so),
            // and nothing in this image has taken it yet.
            #[allow(unsafe_code)]
            let listener = unsafe { TcpListener::from_raw_fd(LISTEN_FDS_START) };
            listener.local_addr()?;
            Ok(Some(listener))
        }
        _ => Ok(None),
    }
}
