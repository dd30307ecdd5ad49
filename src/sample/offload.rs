//! Flow offloading: whether forwarded traffic may bypass the counters the sampler reads.
//!
//! With nftables flowtables (OpenWrt's `flow_offloading` under fw4, or any `flowtable` of a
//! ruleset) the kernel forwards the packets of established flows from the ingress hook of the
//! flowtable's devices straight to the egress device. With hardware offload (`flags offload`,
//! OpenWrt's `flow_offloading_hw`) the switch or SoC forwards them without the CPU. Some drivers
//! then count that traffic on neither interface, so `/proc/net/dev` undercounts it.
//!
//! Two cheap signals, no external command:
//! - the flowtables of the daemon's network namespace, from one `NFT_MSG_GETFLOWTABLE` dump over
//!   `NETLINK_NETFILTER` ([`list_flowtables`]; the reply is parsed by [`decode`], a pure function);
//! - OpenWrt's `/etc/config/firewall` (`option flow_offloading` and `flow_offloading_hw` in the
//!   `defaults` section), which under fw3 (iptables, OpenWrt 21.02 and older) is the only one:
//!   fw3 offloads with the `FLOWOFFLOAD` target, not a flowtable, and names no interface.
//!
//! Listing flowtables needs `CAP_NET_ADMIN` (nfnetlink checks it for every request, reads
//! included); without it the answer is `EPERM`, shown as `flowtables_error`, and the OpenWrt file
//! is still read.
//!
//! The sampler looks every [`CHECK_EVERY`], not every tick: a ruleset changes when the firewall
//! is reloaded, and the dump costs a socket and a few system calls.

use std::io::{self, Read};
use std::time::Duration;

use serde::Serialize;
use socket2::{Domain, Protocol, Socket, Type};

use crate::sample::nlattr::{aligned, attributes, u16_at, u32_at};

/// How often the sampler looks again.
pub const CHECK_EVERY: Duration = Duration::from_secs(60);
/// OpenWrt's firewall configuration.
pub const OPENWRT_FIREWALL: &str = "/etc/config/firewall";

// linux/netlink.h, linux/netfilter/nfnetlink.h, linux/netfilter/nf_tables.h.
const NLMSG_HEADER_BYTES: usize = 16;
const NFGENMSG_BYTES: usize = 4;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NETLINK_NETFILTER: libc::c_int = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWFLOWTABLE: u16 = 22;
const NFT_MSG_GETFLOWTABLE: u16 = 23;
const NFTA_FLOWTABLE_TABLE: u16 = 1;
const NFTA_FLOWTABLE_NAME: u16 = 2;
const NFTA_FLOWTABLE_HOOK: u16 = 3;
const NFTA_FLOWTABLE_FLAGS: u16 = 7;
const NFTA_FLOWTABLE_HOOK_DEVS: u16 = 3;
const NFTA_DEVICE_NAME: u16 = 1;
const NFT_FLOWTABLE_HW_OFFLOAD: u32 = 0x1;

/// A dump's replies come in datagrams of at most 32 KiB.
const DATAGRAM_BYTES: usize = 32 * 1024;
/// How long the dump may wait for the kernel's next reply.
const DUMP_TIMEOUT: Duration = Duration::from_secs(1);

/// What the sampler found about flow offloading, for `/health` and the dashboard.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Offload {
    /// Whether forwarded traffic may bypass the counters: a flowtable exists, or OpenWrt's
    /// firewall configuration turns flow offloading on.
    pub active: bool,
    /// The interfaces the flowtables cover, sorted, each once.
    pub interfaces: Vec<String>,
    /// The nftables flowtables of the daemon's network namespace.
    pub flowtables: Vec<Flowtable>,
    /// OpenWrt's `/etc/config/firewall`: `off`, `software` or `hardware`; null without that file.
    pub openwrt_flow_offloading: Option<&'static str>,
    /// Why the flowtables could not be listed (nftables missing from the kernel, for one).
    pub flowtables_error: Option<String>,
}

impl Offload {
    /// What `flowtables` (or why they could not be listed) and OpenWrt's setting mean together.
    pub fn new(flowtables: io::Result<Vec<Flowtable>>, openwrt: Option<&'static str>) -> Self {
        let (flowtables, flowtables_error) = match flowtables {
            Ok(flowtables) => (flowtables, None),
            Err(e) => (Vec::new(), Some(format!("nftables: {e}"))),
        };
        // Sorted by insertion: a few names, and no sort routine in the binary for them.
        let mut interfaces: Vec<String> = Vec::new();
        for name in flowtables.iter().flat_map(|f| &f.interfaces) {
            if let Err(at) = interfaces.binary_search(name) {
                interfaces.insert(at, name.clone());
            }
        }
        Offload {
            active: !flowtables.is_empty() || openwrt.is_some_and(|mode| mode != "off"),
            interfaces,
            flowtables,
            openwrt_flow_offloading: openwrt,
            flowtables_error,
        }
    }

    /// One line for the log.
    pub fn describe(&self) -> String {
        if !self.active {
            return "no flow offloading".to_owned();
        }
        let tables: Vec<String> = self
            .flowtables
            .iter()
            .map(|f| {
                let hw = if f.hardware { ", hardware" } else { "" };
                format!("{} {} {}{hw}", f.family, f.table, f.name)
            })
            .collect();
        let on = if self.interfaces.is_empty() {
            "every forwarding interface".to_owned()
        } else {
            self.interfaces.join(", ")
        };
        let openwrt = self
            .openwrt_flow_offloading
            .map_or(String::new(), |m| format!("; OpenWrt flow_offloading {m}"));
        format!(
            "flow offloading on {on} (flowtables: {}{openwrt}): forwarded traffic may bypass \
             their counters",
            if tables.is_empty() {
                "none".to_owned()
            } else {
                tables.join(", ")
            }
        )
    }
}

/// One nftables flowtable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Flowtable {
    /// The family of its table: `inet`, `ip`, `ip6`, `netdev`, `bridge`, `arp` or `unknown`.
    pub family: &'static str,
    /// Its table's name.
    pub table: String,
    /// Its name.
    pub name: String,
    /// Whether it offloads to hardware (`flags offload`).
    pub hardware: bool,
    /// The devices it covers.
    pub interfaces: Vec<String>,
}

/// The flowtables in one datagram of a `NFT_MSG_GETFLOWTABLE` dump, appended to `out`. Returns
/// whether the dump ended (`NLMSG_DONE`), or the errno of an `NLMSG_ERROR`. Malformed messages
/// are passed over; a length that runs past the datagram ends it. Never panics.
pub fn decode(datagram: &[u8], out: &mut Vec<Flowtable>) -> Result<bool, i32> {
    let mut rest = datagram;
    while let (Some(length), Some(kind)) = (u32_at(rest, 0), u16_at(rest, 4)) {
        let length = length as usize;
        if length < NLMSG_HEADER_BYTES || length > rest.len() {
            break;
        }
        let body = &rest[NLMSG_HEADER_BYTES..length];
        rest = &rest[aligned(length).min(rest.len())..];
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => match u32_at(body, 0).map(|v| v as i32) {
                Some(0) | None => {}
                Some(negated) => return Err(negated.saturating_neg()),
            },
            _ if kind == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWFLOWTABLE => {
                if let Some(flowtable) = decode_flowtable(body) {
                    out.push(flowtable);
                }
            }
            _ => {}
        }
    }
    Ok(false)
}

/// One `NFT_MSG_NEWFLOWTABLE` body: a `struct nfgenmsg` and the flowtable's attributes.
fn decode_flowtable(body: &[u8]) -> Option<Flowtable> {
    let mut flowtable = Flowtable {
        family: family_name(*body.first()?),
        ..Flowtable::default()
    };
    for (kind, value) in attributes(body.get(NFGENMSG_BYTES..)?) {
        match kind {
            NFTA_FLOWTABLE_TABLE => flowtable.table = string(value),
            NFTA_FLOWTABLE_NAME => flowtable.name = string(value),
            NFTA_FLOWTABLE_FLAGS => {
                // Big-endian, as every nf_tables integer.
                let flags = value
                    .get(..4)
                    .map_or(0, |b| u32::from_be_bytes(b.try_into().unwrap_or_default()));
                flowtable.hardware = flags & NFT_FLOWTABLE_HW_OFFLOAD != 0;
            }
            NFTA_FLOWTABLE_HOOK => {
                for (kind, devices) in attributes(value) {
                    if kind == NFTA_FLOWTABLE_HOOK_DEVS {
                        let names = attributes(devices).filter(|(k, _)| *k == NFTA_DEVICE_NAME);
                        flowtable
                            .interfaces
                            .extend(names.map(|(_, name)| string(name)));
                    }
                }
            }
            _ => {}
        }
    }
    Some(flowtable)
}

/// A netlink string attribute: up to its NUL, lossily UTF-8.
fn string(value: &[u8]) -> String {
    let text = value.split(|&b| b == 0).next().unwrap_or(value);
    String::from_utf8_lossy(text).into_owned()
}

/// The `NFPROTO_*` names nft uses (linux/netfilter.h).
fn family_name(family: u8) -> &'static str {
    match family {
        1 => "inet",
        2 => "ip",
        3 => "arp",
        5 => "netdev",
        7 => "bridge",
        10 => "ip6",
        _ => "unknown",
    }
}

/// `NFT_MSG_GETFLOWTABLE` with `NLM_F_DUMP`, every family: a netlink header and a `nfgenmsg`.
pub fn dump_request(sequence: u32) -> [u8; NLMSG_HEADER_BYTES + NFGENMSG_BYTES] {
    const LENGTH: usize = NLMSG_HEADER_BYTES + NFGENMSG_BYTES;
    let mut request = [0u8; LENGTH];
    request[0..4].copy_from_slice(&(LENGTH as u32).to_ne_bytes());
    let kind = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETFLOWTABLE;
    request[4..6].copy_from_slice(&kind.to_ne_bytes());
    request[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    request[8..12].copy_from_slice(&sequence.to_ne_bytes());
    // The port id is 0 (the kernel's), and so is the nfgenmsg: NFPROTO_UNSPEC (every family),
    // NFNETLINK_V0, resource id 0.
    request
}

/// The flowtables of this thread's network namespace, from the kernel.
pub fn list_flowtables() -> io::Result<Vec<Flowtable>> {
    let socket = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::from(libc::SOCK_RAW),
        Some(Protocol::from(NETLINK_NETFILTER)),
    )?;
    socket.set_read_timeout(Some(DUMP_TIMEOUT))?;
    socket.send(&dump_request(1))?;
    let mut datagram = vec![0; DATAGRAM_BYTES];
    let mut flowtables = Vec::new();
    loop {
        let length = (&socket).read(&mut datagram)?;
        match decode(&datagram[..length], &mut flowtables) {
            Ok(true) => return Ok(flowtables),
            Ok(false) if length == 0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the dump ended early",
                ))
            }
            Ok(false) => {}
            Err(errno) => return Err(io::Error::from_raw_os_error(errno)),
        }
    }
}

/// OpenWrt's flow offloading setting in the text of `/etc/config/firewall`: `hardware` when
/// `flow_offloading` and `flow_offloading_hw` are both on in the `defaults` section (OpenWrt
/// needs the first for the second), `software` with the first alone, `off` otherwise. UCI
/// booleans: `1`, `on`, `true`, `yes` or `enabled`; values may be quoted.
pub fn openwrt_flow_offloading(text: &str) -> &'static str {
    let (mut in_defaults, mut software, mut hardware) = (false, false, false);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("config") => in_defaults = words.next().map(unquote) == Some("defaults"),
            Some("option") if in_defaults => {
                let (name, value) = (words.next().map(unquote), words.next().map(unquote));
                let on =
                    value.is_some_and(|v| matches!(v, "1" | "on" | "true" | "yes" | "enabled"));
                match name {
                    Some("flow_offloading") => software = on,
                    Some("flow_offloading_hw") => hardware = on,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    match (software, hardware) {
        (true, true) => "hardware",
        (true, false) => "software",
        _ => "off",
    }
}

fn unquote(word: &str) -> &str {
    word.trim_matches(|c| c == '\'' || c == '"')
}

/// Looks now: the flowtables, and OpenWrt's configuration if the file exists.
pub fn check() -> Offload {
    let openwrt = std::fs::read_to_string(OPENWRT_FIREWALL)
        .ok()
        .map(|text| openwrt_flow_offloading(&text));
    Offload::new(list_flowtables(), openwrt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::nlattr::attribute;

    /// A nested attribute: `NLA_F_NESTED` set, as the kernel sends them.
    fn nested(kind: u16, value: &[u8]) -> Vec<u8> {
        attribute(kind | 0x8000, value)
    }

    fn message(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&((NLMSG_HEADER_BYTES + body.len()) as u32).to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&0x2u16.to_ne_bytes()); // NLM_F_MULTI
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(body);
        bytes.resize(aligned(bytes.len()), 0);
        bytes
    }

    /// What `nf_tables_fill_flowtable_info()` sends for `flowtable <family> <table> <name> {
    /// hook ingress priority 0; devices = { ... }; flags }`: table, name, handle, use, flags,
    /// then the hook with its number, priority and devices.
    fn flowtable(family: u8, table: &str, name: &str, flags: u32, devices: &[&str]) -> Vec<u8> {
        let mut body = vec![family, 0, 0, 0];
        body.extend(attribute(
            NFTA_FLOWTABLE_TABLE,
            format!("{table}\0").as_bytes(),
        ));
        body.extend(attribute(
            NFTA_FLOWTABLE_NAME,
            format!("{name}\0").as_bytes(),
        ));
        body.extend(attribute(5, &7u64.to_be_bytes())); // NFTA_FLOWTABLE_HANDLE
        body.extend(attribute(4, &1u32.to_be_bytes())); // NFTA_FLOWTABLE_USE
        body.extend(attribute(NFTA_FLOWTABLE_FLAGS, &flags.to_be_bytes()));
        let mut devs = Vec::new();
        for device in devices {
            devs.extend(attribute(
                NFTA_DEVICE_NAME,
                format!("{device}\0").as_bytes(),
            ));
        }
        let mut hook = attribute(1, &0u32.to_be_bytes()); // NFTA_FLOWTABLE_HOOK_NUM: ingress
        hook.extend(attribute(2, &0u32.to_be_bytes())); // NFTA_FLOWTABLE_HOOK_PRIORITY
        hook.extend(nested(NFTA_FLOWTABLE_HOOK_DEVS, &devs));
        body.extend(nested(NFTA_FLOWTABLE_HOOK, &hook));
        message((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWFLOWTABLE, &body)
    }

    fn done() -> Vec<u8> {
        message(NLMSG_DONE, &0i32.to_ne_bytes())
    }

    #[test]
    fn decodes_openwrt_fw4_and_hardware_flowtables() {
        // fw4's software flowtable, and a hardware one of another table in the same datagram.
        let mut datagram = flowtable(1, "fw4", "ft", 0, &["br-lan", "wan"]);
        datagram.extend(flowtable(
            5,
            "offload",
            "hw",
            0x1 | 0x2,
            &["lan1", "lan2", "wan"],
        ));
        let mut out = Vec::new();
        assert_eq!(decode(&datagram, &mut out), Ok(false), "no end yet");
        assert_eq!(
            out,
            [
                Flowtable {
                    family: "inet",
                    table: "fw4".into(),
                    name: "ft".into(),
                    hardware: false,
                    interfaces: vec!["br-lan".into(), "wan".into()],
                },
                Flowtable {
                    family: "netdev",
                    table: "offload".into(),
                    name: "hw".into(),
                    hardware: true,
                    interfaces: vec!["lan1".into(), "lan2".into(), "wan".into()],
                },
            ]
        );
        assert_eq!(decode(&done(), &mut out), Ok(true));
        let offload = Offload::new(Ok(out), None);
        assert!(offload.active);
        assert_eq!(offload.interfaces, ["br-lan", "lan1", "lan2", "wan"]);
        let line = offload.describe();
        assert!(line.contains("br-lan, lan1, lan2, wan"), "{line}");
        assert!(line.contains("netdev offload hw, hardware"), "{line}");
    }

    #[test]
    fn an_empty_dump_is_no_offload_and_errors_carry_the_errno() {
        let mut out = Vec::new();
        assert_eq!(decode(&done(), &mut out), Ok(true));
        assert_eq!(out, []);
        let error = message(NLMSG_ERROR, &(-libc::EPROTONOSUPPORT).to_ne_bytes());
        assert_eq!(decode(&error, &mut out), Err(libc::EPROTONOSUPPORT));
        let ack = message(NLMSG_ERROR, &0i32.to_ne_bytes());
        assert_eq!(decode(&ack, &mut out), Ok(false));
        let offload = Offload::new(
            Err(io::Error::from_raw_os_error(libc::EPROTONOSUPPORT)),
            None,
        );
        assert!(!offload.active);
        assert!(offload.flowtables_error.unwrap().starts_with("nftables: "));
    }

    #[test]
    fn other_messages_and_malformed_datagrams_are_passed_over() {
        let good = flowtable(2, "t", "f", 0, &["eth0"]);
        let mut out = Vec::new();
        for cut in 0..good.len() {
            let _ = decode(&good[..cut], &mut out);
        }
        assert!(out.len() <= 1, "only a complete message can count");
        let mut other = message(NFNL_SUBSYS_NFTABLES << 8, &[1, 0, 0, 0]); // NFT_MSG_NEWTABLE
        other.extend(good.clone());
        out.clear();
        assert_eq!(decode(&other, &mut out), Ok(false));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].family, "ip");
        let mut lying = good;
        lying[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        out.clear();
        assert_eq!(decode(&lying, &mut out), Ok(false));
        assert_eq!(out, []);
    }

    #[test]
    fn the_request_is_a_flowtable_dump_of_every_family() {
        let request = dump_request(9);
        assert_eq!(u32_at(&request, 0), Some(20));
        assert_eq!(u16_at(&request, 4), Some(0x0a17));
        assert_eq!(u16_at(&request, 6), Some(0x301));
        assert_eq!(u32_at(&request, 8), Some(9));
        assert_eq!(request[16..], [0, 0, 0, 0]);
    }

    #[test]
    fn this_kernel_answers_the_dump() {
        // The kernel this runs on cannot create a flowtable (no nf_flow_table), but it answers a
        // dump: with the flowtables of this namespace (none), or an error naming why not.
        match list_flowtables() {
            Ok(flowtables) => assert_eq!(flowtables, []),
            Err(e) => assert!(e.raw_os_error().is_some(), "{e}"),
        }
    }

    #[rstest::rstest]
    #[case::fw4_software(
        "config defaults\n\toption input 'REJECT'\n\toption flow_offloading '1'\n",
        "software"
    )]
    #[case::fw4_hardware(
        "config defaults\n\toption flow_offloading '1'\n\toption flow_offloading_hw '1'\n",
        "hardware"
    )]
    #[case::hardware_needs_software("config defaults\n\toption flow_offloading_hw '1'\n", "off")]
    #[case::unquoted_and_words(
        "config defaults\n  option flow_offloading on\n  option flow_offloading_hw \"true\"\n",
        "hardware"
    )]
    #[case::explicitly_off("config defaults\n\toption flow_offloading '0'\n", "off")]
    #[case::absent("config defaults\n\toption syn_flood '1'\n", "off")]
    #[case::only_in_defaults(
        "config zone\n\toption flow_offloading '1'\n\nconfig defaults\n\toption input 'ACCEPT'\n",
        "off"
    )]
    #[case::named_defaults_section(
        "config defaults 'main'\n\toption flow_offloading 'yes'\n",
        "software"
    )]
    #[case::comments("# option flow_offloading '1'\nconfig defaults\n", "off")]
    #[case::empty("", "off")]
    fn openwrt_firewall_configurations(#[case] text: &str, #[case] mode: &str) {
        assert_eq!(openwrt_flow_offloading(text), mode);
    }

    #[test]
    fn openwrt_software_offloading_alone_is_active_on_every_forwarding_interface() {
        let offload = Offload::new(Ok(vec![]), Some("software"));
        assert!(offload.active);
        assert_eq!(offload.interfaces, Vec::<String>::new());
        assert!(offload.describe().contains("every forwarding interface"));
        assert!(!Offload::new(Ok(vec![]), Some("off")).active);
    }
}
