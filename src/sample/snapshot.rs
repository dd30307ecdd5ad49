//! The channel contract between the sampler thread and the statistics thread.
//!
//! Samples wait in a bounded channel ([`hand_off`]) for the statistics thread, which does not
//! wake for each one: a wake-up across threads costs tens of microseconds of CPU, more than
//! folding a small sample in. The statistics thread sleeps on two bells instead: the request
//! loop's [`Doorbell`], rung when a request wants the samples its view lacks, and the sampler's,
//! rung when [`BATCH`] samples (or [`BATCH_READINGS`] interface readings) wait or it hung up; and
//! on its own timer, at the latest every [`MAX_LAG`]. Woken, it drains the channel, and builds a
//! view only if a request wants one. So the samples waiting stay few (and so do the snapshots in
//! flight, which the sampler reuses), and a request never sees less than every sample sent
//! before it (see `crate::stats::run` and `crate::stats::view::SharedView::fresh`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::sample::offload::Offload;
use crate::sample::proc_net_dev::{Counters, ParseError};

/// The operational state of an interface, as `/sys/class/net/<if>/operstate` spells it
/// (RFC 2863 names; see the kernel's `Documentation/networking/operstates.rst`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OperState {
    /// The driver does not report a state (loopback, many tunnels): treated as up.
    Unknown,
    /// A component (usually hardware) is missing.
    NotPresent,
    /// Down.
    Down,
    /// Down because a lower-layer interface is down.
    LowerLayerDown,
    /// In test mode.
    Testing,
    /// Up but waiting for an external event (802.1X, for example).
    Dormant,
    /// Up and able to pass packets.
    Up,
}

impl OperState {
    /// Parses the sysfs text (trailing newline allowed).
    pub fn from_sysfs(text: &str) -> Option<OperState> {
        Some(match text.trim_end() {
            "unknown" => OperState::Unknown,
            "notpresent" => OperState::NotPresent,
            "down" => OperState::Down,
            "lowerlayerdown" => OperState::LowerLayerDown,
            "testing" => OperState::Testing,
            "dormant" => OperState::Dormant,
            "up" => OperState::Up,
            _ => return None,
        })
    }

    /// Whether the interface can pass traffic: `up`, or `unknown` for drivers that never say.
    pub fn is_up(self) -> bool {
        matches!(self, OperState::Up | OperState::Unknown)
    }
}

/// One interface as seen in one sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceSample {
    /// Its name.
    pub name: String,
    /// The kernel's counters.
    pub counters: Counters,
    /// Its ifindex from sysfs, where readable.
    pub ifindex: Option<u32>,
    /// Its operstate from sysfs, where readable.
    pub oper_state: Option<OperState>,
    /// Its link speed in Mbit/s (`<sysfs>/<name>/speed`); `None` when unknown: the driver says
    /// -1, the file is absent, or reading it fails (as it does while the link is down).
    pub speed_mbps: Option<u32>,
    /// Its other link attributes, as node_exporter's netclass collector shows them.
    pub link: LinkInfo,
}

/// The link attributes of an interface, from rtnetlink (or sysfs, see [`crate::sample`]); each
/// `None` or empty where the kernel does not say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkInfo {
    /// The MTU in bytes (`IFLA_MTU`, sysfs `mtu`).
    pub mtu_bytes: Option<u32>,
    /// Whether the link has a carrier (`IFLA_CARRIER`, sysfs `carrier`); `None` while it is
    /// administratively down, where sysfs refuses to say.
    pub carrier: Option<bool>,
    /// The duplex (sysfs `duplex`, read with the speed).
    pub duplex: Option<Duplex>,
    /// The hardware address (`IFLA_ADDRESS`, sysfs `address`).
    pub address: Option<HwAddr>,
    /// The hardware broadcast address (`IFLA_BROADCAST`, sysfs `broadcast`).
    pub broadcast: Option<HwAddr>,
    /// The interface's alias, `ip link set X alias TEXT` (`IFLA_IFALIAS`, sysfs `ifalias`);
    /// empty when none is set.
    pub alias: String,
}

/// A link's duplex, as sysfs spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Duplex {
    /// Both directions at once.
    Full,
    /// One direction at a time.
    Half,
    /// The driver does not know (virtio, for one, says so).
    Unknown,
}

impl Duplex {
    /// Parses the sysfs text; anything but `full`, `half` and `unknown` is `None`.
    pub fn from_sysfs(text: &str) -> Option<Duplex> {
        match text.trim_end() {
            "full" => Some(Duplex::Full),
            "half" => Some(Duplex::Half),
            "unknown" => Some(Duplex::Unknown),
            _ => None,
        }
    }

    /// The sysfs spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Duplex::Full => "full",
            Duplex::Half => "half",
            Duplex::Unknown => "unknown",
        }
    }
}

/// The kernel's `MAX_ADDR_LEN`: the longest hardware address.
pub const MAX_ADDR_BYTES: usize = 32;

/// A hardware address, kept inline (no allocation per sample) and shown as sysfs shows it:
/// lowercase hex bytes joined by `:` (`aa:bb:cc:dd:ee:ff`), empty for a zero-length address.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HwAddr {
    bytes: [u8; MAX_ADDR_BYTES],
    len: u8,
}

impl HwAddr {
    /// The address of these bytes; `None` if longer than [`MAX_ADDR_BYTES`].
    pub fn new(bytes: &[u8]) -> Option<HwAddr> {
        let mut addr = HwAddr {
            bytes: [0; MAX_ADDR_BYTES],
            len: u8::try_from(bytes.len()).ok()?,
        };
        addr.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(addr)
    }

    /// Parses the sysfs text (`aa:bb:...`, trailing newline allowed; empty is a zero-length
    /// address).
    pub fn from_sysfs(text: &str) -> Option<HwAddr> {
        let text = text.trim_end();
        let mut addr = HwAddr {
            bytes: [0; MAX_ADDR_BYTES],
            len: 0,
        };
        if text.is_empty() {
            return Some(addr);
        }
        for (i, part) in text.split(':').enumerate() {
            if i >= MAX_ADDR_BYTES || part.len() != 2 {
                return None;
            }
            addr.bytes[i] = u8::from_str_radix(part, 16).ok()?;
            addr.len += 1;
        }
        Some(addr)
    }

    /// The address's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::fmt::Display for HwAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, byte) in self.as_bytes().iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for HwAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HwAddr({self})")
    }
}

impl serde::Serialize for HwAddr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The outcome of one sampling tick.
#[derive(Clone, Debug)]
pub struct Sample {
    /// When it was taken, for intervals.
    pub taken_at: Instant,
    /// When it was taken, for display.
    pub wall: SystemTime,
    /// The interfaces, or why there are none.
    pub result: Result<Snapshot, String>,
}

/// A successful read of the source.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every interface of the well-formed lines, in file order.
    pub interfaces: Vec<InterfaceSample>,
    /// The malformed lines that were skipped.
    pub skipped: Vec<ParseError>,
    /// What flow offloading the sampler found, when it looked at this tick (every
    /// [`crate::sample::offload::CHECK_EVERY`]); `None` between looks.
    pub offload: Option<Arc<Offload>>,
    /// The generation of the link table every interface's link state was copied from
    /// ([`crate::sample::netlink::Links::generation`]); `None` where any came from sysfs. The
    /// sampler reuses that state when it refills this snapshot while the table is the same.
    pub links_generation: Option<u64>,
}

/// At most this many samples wait for the statistics thread: the sampler rings when they do
/// (160 s at the default interval).
pub const BATCH: usize = 16;

/// ... or when the samples waiting hold this many interface readings (so that at 1000
/// interfaces a sample is folded in at once, and the waiting snapshots stay small).
pub const BATCH_READINGS: usize = 1024;

/// The longest samples wait when neither the sampler nor a request rings. Nothing needs them
/// folded in sooner (a request, a save, a restart and the end all fold them in first): this
/// only bounds how far the rings fall behind, as [`BATCH`] does at short intervals.
pub const MAX_LAG: Duration = Duration::from_secs(180);

/// Room in the channel beyond [`BATCH`]: samples taken while the statistics thread is busy
/// (saving the state file, say) still fit.
pub const CAPACITY: usize = 2 * BATCH;

/// The sampler's end of the hand-off.
#[derive(Debug)]
pub struct Outbox {
    /// `None` once hung up (see `Drop`).
    samples: Option<Sender<Sample>>,
    /// Wakes the statistics thread to fold the waiting samples in.
    ring: Sender<()>,
    sent: Arc<AtomicU32>,
}

/// The statistics thread's end: the samples, and what it sleeps on.
#[derive(Debug)]
pub struct Inbox {
    /// The samples waiting, oldest first.
    pub samples: Receiver<Sample>,
    /// Rung by the sampler: enough samples wait, or it hung up.
    pub rung: Receiver<()>,
    /// Rung by the request loop: a request wants a view of every sample sent.
    pub wanted: Receiver<()>,
}

/// The request loop's end: how many samples were sent, and a bell to ask for a view of them.
#[derive(Clone, Debug)]
pub struct Doorbell {
    want: Sender<()>,
    sent: Arc<AtomicU32>,
}

/// A new hand-off from the sampler to the statistics thread, and a doorbell for the request loop.
pub fn hand_off() -> (Outbox, Inbox, Doorbell) {
    let (samples_tx, samples) = crossbeam_channel::bounded(CAPACITY);
    // One ring each is enough: a second before the thread wakes would tell it nothing more.
    let (ring, rung) = crossbeam_channel::bounded(1);
    let (want, wanted) = crossbeam_channel::bounded(1);
    let sent = Arc::new(AtomicU32::new(0));
    let outbox = Outbox {
        samples: Some(samples_tx),
        ring,
        sent: Arc::clone(&sent),
    };
    let doorbell = Doorbell {
        want,
        sent: Arc::clone(&sent),
    };
    let inbox = Inbox {
        samples,
        rung,
        wanted,
    };
    (outbox, inbox, doorbell)
}

impl Outbox {
    /// Queues `sample`, ringing if enough wait; gives it back if the channel is full (the
    /// statistics thread is behind) or the statistics thread is gone.
    pub fn send(&self, sample: Sample) -> Result<(), TrySendError<Sample>> {
        let Some(samples) = &self.samples else {
            return Err(TrySendError::Disconnected(sample));
        };
        let readings = sample.result.as_ref().map_or(0, |s| s.interfaces.len());
        samples.try_send(sample)?;
        // After the send: whoever reads the new count finds the sample in the channel.
        self.sent.fetch_add(1, Ordering::SeqCst);
        let waiting = samples.len();
        if waiting >= BATCH || waiting * readings >= BATCH_READINGS {
            let _ = self.ring.try_send(());
        }
        Ok(())
    }
}

impl Drop for Outbox {
    /// Hangs up, then rings: the statistics thread wakes to a closed channel and ends.
    fn drop(&mut self) {
        drop(self.samples.take());
        let _ = self.ring.try_send(());
    }
}

impl Doorbell {
    /// Asks the statistics thread for a view of every sample sent, unless already asked.
    pub fn want(&self) {
        let _ = self.want.try_send(());
    }

    /// How many samples the sampler has sent so far (wrapping): a view that has folded in as
    /// many is current.
    pub fn sent(&self) -> u32 {
        self.sent.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::TryRecvError;

    fn sample_of(interfaces: usize) -> Sample {
        let interface = InterfaceSample {
            name: "eth0".into(),
            counters: Counters::default(),
            ifindex: None,
            oper_state: None,
            speed_mbps: None,
            link: LinkInfo::default(),
        };
        Sample {
            taken_at: Instant::now(),
            wall: SystemTime::now(),
            result: Ok(Snapshot {
                interfaces: vec![interface; interfaces],
                ..Snapshot::default()
            }),
        }
    }

    #[rstest::rstest]
    #[case::small_samples_ring_at_a_batch(1, BATCH)]
    #[case::large_ones_at_a_thousand_readings(BATCH_READINGS / 4, 4)]
    #[case::a_thousand_interfaces_at_once(1000, 2)]
    #[case::more_at_once(BATCH_READINGS, 1)]
    fn the_sampler_rings_when_enough_waits(#[case] interfaces: usize, #[case] rings_at: usize) {
        let (outbox, inbox, doorbell) = hand_off();
        for sent in 1..=rings_at {
            assert!(inbox.rung.try_recv().is_err(), "rang before {sent} samples");
            outbox.send(sample_of(interfaces)).unwrap();
        }
        assert!(
            inbox.rung.try_recv().is_ok(),
            "no ring at {rings_at} samples"
        );
        assert_eq!(doorbell.sent(), rings_at as u32);
        assert!(
            inbox.wanted.try_recv().is_err(),
            "the sampler does not ask for views"
        );
    }

    #[test]
    fn a_full_channel_gives_the_sample_back_uncounted_and_a_hang_up_rings() {
        let (outbox, inbox, doorbell) = hand_off();
        for _ in 0..CAPACITY {
            outbox.send(sample_of(1)).unwrap();
        }
        assert!(matches!(
            outbox.send(sample_of(1)),
            Err(TrySendError::Full(_))
        ));
        assert_eq!(doorbell.sent(), CAPACITY as u32);
        let _ = inbox.rung.try_recv();
        drop(outbox);
        assert!(inbox.rung.try_recv().is_ok(), "hanging up rings");
        for _ in 0..CAPACITY {
            assert!(inbox.samples.try_recv().is_ok());
        }
        assert_eq!(
            inbox.samples.try_recv().unwrap_err(),
            TryRecvError::Disconnected
        );
    }

    #[test]
    fn hardware_addresses_read_and_print_as_sysfs_does() {
        for (text, bytes) in [
            ("00:00:00:00:00:00\n", &[0u8; 6][..]),
            (
                "aa:0b:cc:dd:ee:ff",
                &[0xaa, 0x0b, 0xcc, 0xdd, 0xee, 0xff][..],
            ),
            ("\n", &[][..]),
        ] {
            let addr = HwAddr::from_sysfs(text).unwrap();
            assert_eq!(addr.as_bytes(), bytes);
            assert_eq!(addr.to_string(), text.trim_end());
            assert_eq!(HwAddr::new(bytes), Some(addr));
        }
        for bad in ["aa:b", "zz:00", "aa-bb", &["00"; 33].join(":")] {
            assert_eq!(HwAddr::from_sysfs(bad), None, "{bad}");
        }
        assert_eq!(HwAddr::new(&[1; 33]), None);
        assert_eq!(HwAddr::new(&[1; 32]).unwrap().to_string().len(), 32 * 3 - 1);
    }

    #[test]
    fn duplex_reads_as_sysfs_spells_it() {
        assert_eq!(Duplex::from_sysfs("full\n"), Some(Duplex::Full));
        assert_eq!(Duplex::from_sysfs("half"), Some(Duplex::Half));
        assert_eq!(Duplex::from_sysfs("unknown\n"), Some(Duplex::Unknown));
        assert_eq!(Duplex::from_sysfs("fast"), None);
        assert_eq!(Duplex::Half.as_str(), "half");
    }
}
