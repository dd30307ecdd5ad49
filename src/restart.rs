//! The seamless restart: what tiny_http 0.12 leaves no way to survive in-process ends with the
//! daemon executing its own binary again, in the same process, with nothing lost.
//!
//! Three things cannot be mended from outside tiny_http: threads deadlocked for good by an
//! HTTP/2.0 request line (each holds a thread and two descriptors), requests parked because their
//! announced body cannot be mapped (see `crate::serve`), and a request loop that has stopped
//! moving. A process image that has collected enough of them is replaced:
//!
//! 1. the statistics thread encodes everything it has ([`Handoff`]: counters, rings, events,
//!    uptimes, the health counters and the restart record) into a memfd, in memory: the state
//!    file, if any, is neither read nor written for this;
//! 2. the process `exec`s `/proc/self/exe` with the same arguments. The listening socket stays
//!    open across the `exec`, at descriptor 3, announced with systemd's socket-activation
//!    protocol (`LISTEN_FDS=1`, `LISTEN_PID` = our own pid, which `exec` keeps): no connection is
//!    refused, and the ones waiting in the accept backlog are served by the new image. The memfd
//!    follows at the descriptor named by [`HANDOFF_FD_VAR`];
//! 3. the new image takes both before it starts any thread, restores the statistics exactly
//!    (the time between the two images is measured on the monotonic clock, which `exec` does not
//!    reset), and samples on.
//!
//! What a restart costs a client: a connection tiny_http had accepted and not yet answered is
//! closed (the old image's sockets are close-on-exec); a client that connects meanwhile waits a
//! few milliseconds in the backlog. The PID stays the same, so a supervisor sees nothing.

use std::ffi::{CString, NulError, OsString};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::store::state::{self, put, put_bytes, Corrupt, Reader, State};

/// The environment variable that names the memfd holding the [`Handoff`].
pub const HANDOFF_FD_VAR: &str = "IFSTATSD_HANDOFF_FD";

/// The first descriptor of systemd's socket-activation protocol: the listener's at a handoff.
const LISTEN_FDS_START: RawFd = 3;
/// The memfd's descriptor at a handoff.
const HANDOFF_FD: RawFd = LISTEN_FDS_START + 1;

/// Why a process image was replaced. The names are the `reason` of `/health` and `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Connections held for good by tiny_http threads: deadlocked by an HTTP/2.0 request line,
    /// or waiting on a request parked because its body could not be mapped.
    StuckConnections,
    /// The request loop had been answering one request for too long.
    LoopWedged,
    /// The listening socket was closed: tiny_http's accept thread died.
    ListenerClosed,
}

const REASONS: [Reason; 3] = [
    Reason::StuckConnections,
    Reason::LoopWedged,
    Reason::ListenerClosed,
];

impl Reason {
    /// The reason's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::StuckConnections => "stuck_connections",
            Reason::LoopWedged => "loop_wedged",
            Reason::ListenerClosed => "listener_closed",
        }
    }
}

/// The seamless restarts so far, for `/health` and `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restarts {
    /// How many there were since the daemon started.
    pub total: u64,
    /// The latest: why, and when on the wall clock.
    pub last: Option<(Reason, SystemTime)>,
}

/// The health counters that outlive a process image (the rest of `/health` is configuration,
/// or about the latest sample, which the new image takes again at once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HealthCounters {
    /// Successful samples.
    pub samples_total: u64,
    /// Samples whose source could not be read or had no usable line.
    pub collection_errors_total: u64,
    /// Malformed lines skipped.
    pub parse_errors_total: u64,
    /// New interfaces refused by `--max-interfaces`.
    pub interfaces_refused_total: u64,
    /// The wall time of the last successful save of the state file.
    pub last_save_at: Option<SystemTime>,
}

/// Everything one process image hands to the next.
#[derive(Clone, Debug, PartialEq)]
pub struct Handoff {
    /// The monotonic clock at the handoff (see [`monotonic_now`]).
    pub handed_at: Duration,
    /// How long the daemon had been running, over all its images.
    pub daemon_age: Duration,
    /// The restart record, this restart included.
    pub restarts: Restarts,
    /// The health counters.
    pub health: HealthCounters,
    /// Every interface, in the state file's form (every time an age before `handed_at`).
    pub interfaces: State,
}

/// The handoff's first bytes, and its format version.
const MAGIC: &[u8; 16] = b"IFSTATSD-HANDOFF";
const VERSION: u8 = 1;

/// Encodes `handoff`: the magic, the version, varints, then the interfaces as a state file.
pub fn encode(handoff: &Handoff) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    put(&mut out, handoff.handed_at.as_nanos() as u64);
    put(&mut out, handoff.daemon_age.as_micros() as u64);
    put(&mut out, handoff.restarts.total);
    match handoff.restarts.last {
        Some((reason, at)) => {
            let index = REASONS.iter().position(|r| *r == reason).unwrap_or(0);
            put(&mut out, index as u64 + 1);
            put(&mut out, micros_since_epoch(at));
        }
        None => put(&mut out, 0),
    }
    let health = &handoff.health;
    for counter in [
        health.samples_total,
        health.collection_errors_total,
        health.parse_errors_total,
        health.interfaces_refused_total,
        health
            .last_save_at
            .map_or(0, |at| micros_since_epoch(at) + 1),
    ] {
        put(&mut out, counter);
    }
    put_bytes(&mut out, &state::encode(&handoff.interfaces));
    out
}

/// Decodes what [`encode`] wrote; never panics.
pub fn decode(bytes: &[u8]) -> Result<Handoff, Corrupt> {
    let body = bytes.strip_prefix(MAGIC).ok_or(Corrupt::NotOurs)?;
    let (&version, body) = body.split_first().ok_or(Corrupt::TooShort)?;
    if version != VERSION {
        return Err(Corrupt::Version(version));
    }
    let mut reader = Reader { bytes: body };
    let handed_at = Duration::from_nanos(reader.varint()?);
    let daemon_age = Duration::from_micros(reader.varint()?);
    let total = reader.varint()?;
    let last = match reader.varint()? {
        0 => None,
        index => {
            let reason = usize::try_from(index - 1)
                .ok()
                .and_then(|i| REASONS.get(i))
                .ok_or(Corrupt::Malformed("restart reason"))?;
            Some((
                *reason,
                UNIX_EPOCH + Duration::from_micros(reader.varint()?),
            ))
        }
    };
    let health = HealthCounters {
        samples_total: reader.varint()?,
        collection_errors_total: reader.varint()?,
        parse_errors_total: reader.varint()?,
        interfaces_refused_total: reader.varint()?,
        last_save_at: match reader.varint()? {
            0 => None,
            micros => Some(UNIX_EPOCH + Duration::from_micros(micros - 1)),
        },
    };
    let length = reader.count("interfaces")?;
    let interfaces = state::decode(&reader.bytes[..length])?;
    if reader.bytes.len() != length {
        return Err(Corrupt::Malformed("trailing bytes"));
    }
    Ok(Handoff {
        handed_at,
        daemon_age,
        restarts: Restarts { total, last },
        health,
        interfaces,
    })
}

fn micros_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The monotonic clock (`CLOCK_MONOTONIC`, the one `Instant` reads), as a duration since its
/// origin: unlike an `Instant`, it can be written down and read back by the next image.
pub fn monotonic_now() -> Duration {
    // Zeroed, not a struct literal: with musl's 64-bit time_t on 32-bit targets
    // (RUST_LIBC_UNSTABLE_MUSL_V1_2_3, contrib/CROSS.md) the struct has a private padding field.
    let mut now = std::mem::MaybeUninit::<libc::timespec>::zeroed();
    // SAFETY: clock_gettime writes the one timespec given, which lives through the call; all-zero
    // bytes are a valid timespec, so it is initialised whatever the call does.
    #[allow(unsafe_code)]
    let now = unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, now.as_mut_ptr());
        now.assume_init()
    };
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// Replaces this process image with a new one of the same binary and arguments, handing it
/// `handoff` and the listening socket `listener` (if it is still open; otherwise the new image
/// binds `--listen` itself). Returns only if that failed, with why. (`execve` directly: std's
/// `Command` would add its whole process-spawning machinery to the binary, about 50 KB.)
pub fn exec(handoff: &[u8], listener: Option<RawFd>) -> io::Error {
    let memfd = match memfd_with(handoff) {
        Ok(memfd) => memfd,
        Err(e) => return e,
    };
    // The environment as it is, less what an earlier handoff or systemd set, plus this one's.
    let handed: [&str; 4] = ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", HANDOFF_FD_VAR];
    let mut environment: Vec<OsString> = std::env::vars_os()
        .filter(|(name, _)| !handed.iter().any(|h| name == h))
        .map(|(mut pair, value)| {
            pair.push("=");
            pair.push(value);
            pair
        })
        .collect();
    environment.push(format!("{HANDOFF_FD_VAR}={HANDOFF_FD}").into());
    if listener.is_some() {
        environment.push("LISTEN_FDS=1".into());
        environment.push(format!("LISTEN_PID={}", std::process::id()).into());
    }
    let (Ok(arguments), Ok(environment)) = (
        c_strings(std::env::args_os()),
        c_strings(environment.into_iter()),
    ) else {
        return io::Error::other("an argument or an environment variable holds a NUL byte");
    };
    if let Err(e) = place(listener, memfd.as_raw_fd(), HANDOFF_FD) {
        return e;
    }
    let argv = null_terminated(&arguments);
    let envp = null_terminated(&environment);
    // SAFETY: both arrays are NULL-terminated lists of pointers to NUL-terminated strings, all
    // alive through the call (`arguments`, `environment`); execve returns only on failure.
    #[allow(unsafe_code)]
    unsafe {
        libc::execve(c"/proc/self/exe".as_ptr(), argv.as_ptr(), envp.as_ptr());
    }
    io::Error::last_os_error()
}

/// `items` as C strings; an error if one holds a NUL byte.
fn c_strings(items: impl Iterator<Item = OsString>) -> Result<Vec<CString>, NulError> {
    items.map(|item| CString::new(item.into_vec())).collect()
}

/// Pointers to `strings`, then a null pointer: an `argv` or `envp`.
fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Puts the listener (if any) at descriptor 3 and the memfd at `handoff_fd`, both inherited by
/// the next image. Each is first copied above 9, close-on-exec, so that placing one cannot
/// overwrite the other; `dup2` then makes the copies that are not close-on-exec. Descriptors 3
/// and 4 are this image's own (see [`reserve_descriptors`]), so no other thread is using what
/// `dup2` replaces.
fn place(listener: Option<RawFd>, memfd: RawFd, handoff_fd: RawFd) -> io::Result<()> {
    let listener = listener.map(copy_above_9).transpose()?;
    let memfd = copy_above_9(memfd)?;
    if let Some(listener) = &listener {
        put_at(listener.as_raw_fd(), LISTEN_FDS_START)?;
    }
    put_at(memfd.as_raw_fd(), handoff_fd)
    // The copies above 9 close here: placed, they are no longer needed, and a failed exec must
    // not leave them open.
}

/// A close-on-exec copy of `fd`, numbered 10 or more.
fn copy_above_9(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl on a descriptor number; an invalid one is an error, not UB.
    #[allow(unsafe_code)]
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `copy` is a new descriptor, owned by nothing else.
    #[allow(unsafe_code)]
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

/// Makes descriptor `to` name what `from` names (not close-on-exec).
fn put_at(from: RawFd, to: RawFd) -> io::Result<()> {
    // SAFETY: dup2 onto a descriptor this image keeps for the purpose (see
    // `reserve_descriptors`); whatever it named is closed, used by no other thread.
    #[allow(unsafe_code)]
    let placed = unsafe { libc::dup2(from, to) };
    if placed < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Keeps descriptors 3 and 4 for the next handoff, holding `/dev/null` (close-on-exec) where
/// nothing of ours is: 3 unless the listener was inherited there, and 4, the previous
/// handoff's, read and closed by now. Otherwise another part of the daemon (signal-hook's
/// pipe, a connection) could get one of them, and lose it to `place` while still in use.
/// Whatever a parent left open at 3 or 4 without saying so is closed. Call first in `main`,
/// after [`inherited`] and the inherited listener are taken, before any thread starts.
pub fn reserve_descriptors(listener_at_3: bool) -> io::Result<()> {
    // Opened, it may itself get 3 or 4: what it names is placed from a copy above them.
    let opened = File::open("/dev/null")?;
    let null = copy_above_9(opened.as_raw_fd())?;
    drop(opened);
    for fd in [LISTEN_FDS_START, HANDOFF_FD] {
        if fd == LISTEN_FDS_START && listener_at_3 {
            continue;
        }
        put_at(null.as_raw_fd(), fd)?;
        // SAFETY: fcntl sets a flag on the descriptor just placed, which is ours.
        #[allow(unsafe_code)]
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    Ok(())
}

/// A memfd holding `bytes`, read from the start by the next image.
fn memfd_with(bytes: &[u8]) -> io::Result<File> {
    // SAFETY: memfd_create takes a NUL-terminated name and flags, and returns a new descriptor
    // that nothing else owns, or -1.
    #[allow(unsafe_code)]
    let fd = unsafe { libc::memfd_create(c"ifstatsd-handoff".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    #[allow(unsafe_code)]
    let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(bytes)?;
    Ok(file)
}

/// The handoff of the image that executed this one, if it did: read from the memfd named by
/// [`HANDOFF_FD_VAR`], which is then closed, and the variable removed. Call first in `main`,
/// before any thread starts.
pub fn inherited() -> Option<Result<Handoff, String>> {
    let value = std::env::var_os(HANDOFF_FD_VAR)?;
    std::env::remove_var(HANDOFF_FD_VAR);
    let fd: RawFd = match value.to_str().and_then(|v| v.parse().ok()) {
        Some(fd) if fd >= LISTEN_FDS_START => fd,
        _ => {
            return Some(Err(format!(
                "{HANDOFF_FD_VAR}={value:?} is not a descriptor"
            )))
        }
    };
    // Only a memfd of ours is taken, never a descriptor someone else meant.
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap_or_default();
    if !link
        .to_string_lossy()
        .starts_with("/memfd:ifstatsd-handoff")
    {
        return Some(Err(format!(
            "{HANDOFF_FD_VAR}={fd} does not name a handoff ({})",
            link.display()
        )));
    }
    // SAFETY: descriptor `fd` is the handoff memfd the previous image placed there for us (just
    // checked), owned by nothing else in this image.
    #[allow(unsafe_code)]
    let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut bytes = Vec::new();
    let read = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut bytes));
    Some(match read {
        Ok(_) => decode(&bytes).map_err(|e| format!("the handoff is unusable: {e}")),
        Err(e) => Err(format!("cannot read the handoff: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::proc_net_dev::Counters;
    use crate::stats::rates::Events;
    use crate::store::state::{SavedInterface, SavedSlot};

    fn handoff() -> Handoff {
        let slot = |age_s, bytes| SavedSlot {
            age: Duration::from_secs(age_s),
            totals: [bytes; crate::sample::proc_net_dev::COUNTERS],
        };
        Handoff {
            handed_at: Duration::new(12_345, 678_901_234),
            daemon_age: Duration::from_micros(3_600_000_123),
            restarts: Restarts {
                total: 3,
                last: Some((
                    Reason::LoopWedged,
                    UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456),
                )),
            },
            health: HealthCounters {
                samples_total: 360,
                collection_errors_total: 2,
                parse_errors_total: 1,
                interfaces_refused_total: 0,
                last_save_at: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            },
            interfaces: State {
                boot_id: "b".into(),
                saved_wall: UNIX_EPOCH + Duration::from_millis(1_700_000_000_500),
                saved_uptime: Some(Duration::from_millis(99)),
                interval: Duration::from_secs(10),
                interfaces: vec![SavedInterface {
                    name: "eth0".into(),
                    present: true,
                    counters: Counters::from_array([7; crate::sample::proc_net_dev::COUNTERS]),
                    ifindex: Some(2),
                    oper_state: None,
                    last_seen_age: Duration::from_micros(5),
                    up_since_age: Some(Duration::from_secs(100)),
                    uptime_is_lower_bound: false,
                    events: Events {
                        resets: 1,
                        wraps: 2,
                        glitches: 3,
                        renames: 4,
                    },
                    slots: vec![slot(20, 10), slot(10, 30)],
                    usage: Some(crate::stats::usage::Usage::new(std::time::UNIX_EPOCH)),
                }],
            },
        }
    }

    #[test]
    fn a_handoff_comes_back_as_it_was() {
        let original = handoff();
        assert_eq!(decode(&encode(&original)), Ok(original.clone()));
        let first = Handoff {
            restarts: Restarts::default(),
            health: HealthCounters::default(),
            ..original
        };
        assert_eq!(decode(&encode(&first)), Ok(first));
    }

    #[test]
    fn a_damaged_handoff_is_an_error_never_a_panic() {
        let bytes = encode(&handoff());
        for end in 0..bytes.len() {
            assert!(decode(&bytes[..end]).is_err(), "cut at {end}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        assert_eq!(decode(b"IFSTATSD-HANDOFF\x02"), Err(Corrupt::Version(2)));
        assert_eq!(decode(b"something else"), Err(Corrupt::NotOurs));
    }

    #[test]
    fn the_monotonic_clock_moves_with_instant() {
        let (start, instant) = (monotonic_now(), std::time::Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        let by_clock = monotonic_now() - start;
        let by_instant = instant.elapsed();
        assert!(by_clock >= Duration::from_millis(20));
        assert!(by_clock.abs_diff(by_instant) < Duration::from_millis(5));
    }
}
