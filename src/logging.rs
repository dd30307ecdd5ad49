//! Logging through fern: one line per event, to stderr (`LEVEL target: message`) or to the local
//! syslog socket. No timestamps: journald, procd's logd and syslog add their own.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use log::{Level, LevelFilter};

use crate::config::LogTarget;

/// The local syslog socket (OpenWrt's logd, rsyslog, syslog-ng, journald all listen there).
pub const SYSLOG_SOCKET: &str = "/dev/log";

/// Installs the logger. Fails if the syslog socket cannot be reached, or a logger is installed.
pub fn init(level: LevelFilter, target: LogTarget) -> Result<(), Box<dyn std::error::Error>> {
    let dispatch = fern::Dispatch::new()
        .level(level)
        // tiny_http logs every client error at error level; ours are the ones that matter.
        .level_for("tiny_http", LevelFilter::Warn.min(level));
    let dispatch = match target {
        LogTarget::Stderr => dispatch
            .format(|out, message, record| {
                out.finish(format_args!(
                    "{} {}: {}",
                    record.level(),
                    record.target(),
                    message
                ))
            })
            .chain(fern::Output::writer(Box::new(Stderr), "\n")),
        LogTarget::Syslog => {
            let syslog = Syslog::connect(Path::new(SYSLOG_SOCKET))
                .map_err(|e| format!("--log-target syslog: cannot reach {SYSLOG_SOCKET}: {e}"))?;
            dispatch.chain(fern::Output::call(move |record| syslog.send(record)))
        }
    };
    dispatch.apply()?;
    Ok(())
}

/// Standard error, whose failures are ignored: a log line that cannot be written is lost. Its
/// reader (a pipe to logd, a stream to journald) can go away while the daemon runs; fern would
/// then report the error on standard error, fail again, and panic, and a panic while logging a
/// panic aborts the process.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A connected datagram socket to a syslog daemon.
pub struct Syslog {
    socket: UnixDatagram,
    pid: u32,
}

impl Syslog {
    /// Connects to the syslog socket at `path`.
    pub fn connect(path: &Path) -> io::Result<Syslog> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        Ok(Syslog {
            socket,
            pid: std::process::id(),
        })
    }

    fn send(&self, record: &log::Record) {
        let line = syslog_line(
            self.pid,
            record.level(),
            record.target(),
            &record.args().to_string(),
        );
        // A full or restarting syslog daemon must not stop the daemon: the line is lost.
        let _ = self.socket.send(line.as_bytes());
    }
}

/// One message in the BSD syslog format without a timestamp, which logd and syslog daemons
/// accept and stamp themselves: `<PRI>ifstatsd[PID]: target: message`, facility daemon.
pub fn syslog_line(pid: u32, level: Level, target: &str, message: &str) -> String {
    const DAEMON: u8 = 3;
    let severity = match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    };
    format!(
        "<{}>ifstatsd[{pid}]: {target}: {message}",
        DAEMON * 8 + severity
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_facility_daemon_and_the_severity() {
        assert_eq!(
            syslog_line(42, Level::Warn, "ifstatsd::sample", "sampling failed"),
            "<28>ifstatsd[42]: ifstatsd::sample: sampling failed"
        );
        assert!(syslog_line(1, Level::Error, "t", "m").starts_with("<27>"));
        assert!(syslog_line(1, Level::Info, "t", "m").starts_with("<30>"));
        assert!(syslog_line(1, Level::Debug, "t", "m").starts_with("<31>"));
    }

    #[test]
    fn messages_reach_a_syslog_socket() {
        let path = std::env::temp_dir().join(format!("ifstatsd-syslog-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let daemon = UnixDatagram::bind(&path).unwrap();
        let syslog = Syslog::connect(&path).unwrap();
        syslog.send(
            &log::Record::builder()
                .level(Level::Info)
                .target("ifstatsd")
                .args(format_args!("serving"))
                .build(),
        );
        let mut buffer = [0; 256];
        let n = daemon.recv(&mut buffer).unwrap();
        let expected = format!("<30>ifstatsd[{}]: ifstatsd: serving", std::process::id());
        assert_eq!(std::str::from_utf8(&buffer[..n]).unwrap(), expected);
        std::fs::remove_file(path).unwrap();
        assert!(Syslog::connect(Path::new("/nonexistent/log")).is_err());
    }
}
