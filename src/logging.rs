//! Logging: one line per event, to stderr (`LEVEL target: message`) or to the local syslog
//! socket. No timestamps: journald, procd's logd and syslog add their own. A `log::Log` of our
//! own (fern did this at 13 KB of code; this is the part of it the daemon used).

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::config::LogTarget;

/// The local syslog socket (OpenWrt's logd, rsyslog, syslog-ng, journald all listen there).
pub const SYSLOG_SOCKET: &str = "/dev/log";

/// Installs the logger. Fails if the syslog socket cannot be reached, or a logger is installed.
pub fn init(level: LevelFilter, target: LogTarget) -> Result<(), Box<dyn std::error::Error>> {
    let syslog = match target {
        LogTarget::Stderr => None,
        LogTarget::Syslog => Some(
            Syslog::connect(Path::new(SYSLOG_SOCKET))
                .map_err(|e| format!("--log-target syslog: cannot reach {SYSLOG_SOCKET}: {e}"))?,
        ),
    };
    log::set_logger(Box::leak(Box::new(Logger { level, syslog })))
        .map_err(|e| format!("cannot install the logger: {e}"))?;
    log::set_max_level(level);
    Ok(())
}

/// Where the lines go: the syslog socket when there is one, else standard error.
struct Logger {
    level: LevelFilter,
    syslog: Option<Syslog>,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        enabled(self.level, metadata.level(), metadata.target())
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        match &self.syslog {
            Some(syslog) => syslog.send(record),
            // Failures are ignored: a log line that cannot be written is lost. Its reader (a pipe
            // to logd, a stream to journald) can go away while the daemon runs, and reporting
            // that on standard error would fail again (a panic while logging a panic aborts).
            None => {
                let line = format!(
                    "{} {}: {}\n",
                    record.level(),
                    record.target(),
                    record.args()
                );
                let _ = io::stderr().write_all(line.as_bytes());
            }
        }
    }

    fn flush(&self) {}
}

/// Whether a line of `level` from `target` is logged at the `max` level: tiny_http logs every
/// client error at error level, so it is held to warnings; ours are the ones that matter.
pub fn enabled(max: LevelFilter, level: Level, target: &str) -> bool {
    let is_tiny_http = target == "tiny_http" || target.starts_with("tiny_http::");
    let max = if is_tiny_http {
        LevelFilter::Warn.min(max)
    } else {
        max
    };
    level <= max
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

    fn send(&self, record: &Record) {
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
    fn levels_filter_and_tiny_http_is_held_to_warnings() {
        use LevelFilter as F;
        let cases = [
            (F::Info, Level::Info, "ifstatsd", true),
            (F::Info, Level::Debug, "ifstatsd::sample", false),
            (F::Trace, Level::Trace, "ifstatsd", true),
            (F::Off, Level::Error, "ifstatsd", false),
            (F::Info, Level::Error, "tiny_http", true),
            (F::Info, Level::Warn, "tiny_http::client", true),
            (F::Info, Level::Info, "tiny_http", false),
            (F::Trace, Level::Debug, "tiny_http::client", false),
            (F::Error, Level::Warn, "tiny_http", false),
            (F::Info, Level::Info, "tiny_httpx", true),
        ];
        for (max, level, target, want) in cases {
            assert_eq!(enabled(max, level, target), want, "{max} {level} {target}");
        }
    }

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
