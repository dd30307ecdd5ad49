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
    /// Its link speed in Mbit/s from sysfs `speed`; `None` where unknown (absent, -1 or an error:
    /// virtual links, Wi-Fi, many DSA ports, a link that is down).
    pub speed_mbps: Option<u32>,
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
