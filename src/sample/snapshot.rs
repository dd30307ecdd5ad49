//! The channel contract between the sampler thread and the statistics thread.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

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
}

#[cfg(test)]
mod tests {
    use super::*;

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
