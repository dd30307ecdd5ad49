//! The sampler's link table: each interface's ifindex and operstate from rtnetlink, kept current
//! by the kernel's link notifications instead of two sysfs reads per interface per tick.
//!
//! The table opens a `NETLINK_ROUTE` socket subscribed to the link group, dumps every link once
//! (`RTM_GETLINK`), and on every tick drains, without blocking, what the kernel queued since:
//! `RTM_NEWLINK` for a new link, a rename or a change of state (operstate included), and
//! `RTM_DELLINK` for a deleted one. A tick with no change costs one `recv` that finds nothing.
//! When the kernel had to drop notifications (`ENOBUFS`: the socket's buffer filled during a burst
//! of changes), the table is rebuilt from a fresh dump.
//!
//! Each link's MTU, carrier, hardware and broadcast addresses and alias come with the same
//! messages. Speed and duplex do not (only ethtool and sysfs know them): the sampler reads them
//! from sysfs for a link the table marks [`Link::changed`], once when it first appears and again
//! after each message about it (a new speed comes with a carrier change), never on a quiet tick.
//!
//! The operstate is the one sysfs shows: for an interface that is administratively down the
//! kernel reports `down` in both, whatever the driver last said.
//!
//! Only messages of family `AF_UNSPEC` describe links: a bridge also sends `RTM_NEWLINK` and
//! `RTM_DELLINK` of family `AF_BRIDGE` about its ports, and a port leaving a bridge still exists.
//!
//! Decoding ([`decode`]) is pure and never panics; the two socket calls std and socket2 cannot
//! make safely are the crate's other `unsafe` code, each with its SAFETY comment.

#![allow(unsafe_code)] // recv into our buffer and one setsockopt; see the SAFETY comments

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::sample::nlattr::{aligned, attributes, u16_at, u32_at};
use crate::sample::snapshot::{HwAddr, LinkInfo, OperState};

// The rtnetlink ABI (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h): the same numbers on
// every architecture, unlike errno values, which come from libc.
const NLMSG_HEADER_BYTES: usize = 16;
const IFINFOMSG_BYTES: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const AF_UNSPEC: u8 = 0;
const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_IFALIAS: u16 = 20;
const IFLA_CARRIER: u16 = 33;
/// `ifi_flags`: administratively up (`ip link set X up`).
const IFF_UP: u32 = 0x1;
const RTNLGRP_LINK: libc::c_int = 1;

/// A dump's replies come in datagrams of at most 32 KiB (the kernel caps them there), and a
/// notification is one message of about 1.5 KiB. A longer datagram is cut, noticed, and treated
/// as lost notifications.
const DATAGRAM_BYTES: usize = 32 * 1024;

/// How long a dump may wait for the kernel's next reply before it gives up.
const DUMP_TIMEOUT: Duration = Duration::from_secs(1);

/// What the table knows about one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Its ifindex.
    pub ifindex: u32,
    /// Its operstate, where the kernel sent one.
    pub oper_state: Option<OperState>,
    /// Its other attributes; `duplex` is the sampler's to fill, with [`Link::speed_mbps`].
    pub info: LinkInfo,
    /// Its speed, as the sampler last read it from sysfs.
    pub speed_mbps: Option<u32>,
    /// A message about it arrived since the sampler last read its speed and duplex.
    pub changed: bool,
}

/// The attributes of an `RTM_NEWLINK` message besides its name and operstate, borrowed from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attributes<'a> {
    /// `ifi_flags` (`IFF_UP` and the rest).
    pub flags: u32,
    /// `IFLA_MTU`.
    pub mtu: Option<u32>,
    /// `IFLA_CARRIER`.
    pub carrier: Option<u8>,
    /// `IFLA_ADDRESS`.
    pub address: Option<&'a [u8]>,
    /// `IFLA_BROADCAST`.
    pub broadcast: Option<&'a [u8]>,
    /// `IFLA_IFALIAS`, without a trailing NUL.
    pub alias: Option<&'a [u8]>,
}

impl Attributes<'_> {
    /// Writes them into `info`, reusing its alias string; `duplex` is left alone.
    fn fill(&self, info: &mut LinkInfo) {
        info.mtu_bytes = self.mtu;
        // sysfs refuses to show a carrier while the link is administratively down.
        info.carrier = self
            .carrier
            .filter(|_| self.flags & IFF_UP != 0)
            .map(|c| c != 0);
        info.address = self.address.and_then(HwAddr::new);
        info.broadcast = self.broadcast.and_then(HwAddr::new);
        info.alias.clear();
        if let Some(alias) = self.alias {
            info.alias.push_str(&String::from_utf8_lossy(alias));
        }
    }
}

/// One rtnetlink message that matters to the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A link exists with this name and state (`RTM_NEWLINK`, from a dump or a notification).
    Link {
        /// Its ifindex.
        ifindex: u32,
        /// Its name, without the trailing NUL.
        name: &'a [u8],
        /// Its operstate, if the message had a known one.
        oper_state: Option<OperState>,
        /// Its other attributes.
        attributes: Attributes<'a>,
    },
    /// The link of this ifindex was deleted (`RTM_DELLINK`).
    Deleted {
        /// Its ifindex.
        ifindex: u32,
    },
    /// The end of a dump (`NLMSG_DONE`).
    Done,
    /// The kernel refused a request (`NLMSG_ERROR` with a nonzero code): the errno.
    Error(i32),
}

/// The messages of one datagram that matter to the table, in order. Other message types, other
/// families, and messages too short for what they claim are passed over; a length that runs past
/// the datagram ends it.
pub fn decode(datagram: &[u8]) -> impl Iterator<Item = Message<'_>> {
    let mut rest = datagram;
    std::iter::from_fn(move || loop {
        let length = u32_at(rest, 0)? as usize;
        let kind = u16_at(rest, 4)?;
        if length < NLMSG_HEADER_BYTES || length > rest.len() {
            rest = &[];
            return None;
        }
        let body = &rest[NLMSG_HEADER_BYTES..length];
        rest = &rest[aligned(length).min(rest.len())..];
        if let Some(message) = decode_one(kind, body) {
            return Some(message);
        }
    })
}

fn decode_one<'a>(kind: u16, body: &'a [u8]) -> Option<Message<'a>> {
    match kind {
        NLMSG_DONE => Some(Message::Done),
        // An error message's body starts with the negated errno; 0 would be an acknowledgement.
        NLMSG_ERROR => match u32_at(body, 0)? as i32 {
            0 => None,
            negated => Some(Message::Error(negated.saturating_neg())),
        },
        RTM_NEWLINK | RTM_DELLINK => {
            // struct ifinfomsg: family (u8), pad, type (u16), index (i32), flags, change (u32).
            if *body.first()? != AF_UNSPEC {
                return None;
            }
            let ifindex = u32_at(body, 4)?;
            if kind == RTM_DELLINK {
                return Some(Message::Deleted { ifindex });
            }
            let (mut name, mut oper_state) = (None, None);
            let mut found = Attributes {
                flags: u32_at(body, 8)?,
                ..Attributes::default()
            };
            let until_nul = |value: &'a [u8]| value.split(|&b| b == 0).next().unwrap_or(value);
            for (attribute, value) in attributes(body.get(IFINFOMSG_BYTES..)?) {
                match attribute {
                    IFLA_IFNAME => name = Some(until_nul(value)),
                    IFLA_OPERSTATE => oper_state = value.first().and_then(|&v| from_kernel(v)),
                    IFLA_MTU => found.mtu = u32_at(value, 0),
                    IFLA_CARRIER => found.carrier = value.first().copied(),
                    IFLA_ADDRESS => found.address = Some(value),
                    IFLA_BROADCAST => found.broadcast = Some(value),
                    IFLA_IFALIAS => found.alias = Some(until_nul(value)),
                    _ => {}
                }
            }
            Some(Message::Link {
                ifindex,
                name: name?,
                oper_state,
                attributes: found,
            })
        }
        _ => None,
    }
}

/// The kernel's `IF_OPER_*` values (linux/if.h), in RFC 2863 order.
fn from_kernel(value: u8) -> Option<OperState> {
    Some(match value {
        0 => OperState::Unknown,
        1 => OperState::NotPresent,
        2 => OperState::Down,
        3 => OperState::LowerLayerDown,
        4 => OperState::Testing,
        5 => OperState::Dormant,
        6 => OperState::Up,
        _ => return None,
    })
}

/// The links by name, as the messages applied so far describe them.
#[derive(Debug, Default)]
struct Table {
    by_name: HashMap<String, Link>,
    /// Each ifindex's current name, to find a renamed or deleted link's entry.
    name_of: HashMap<u32, String>,
}

impl Table {
    fn apply(&mut self, message: Message<'_>) {
        match message {
            Message::Link {
                ifindex,
                name,
                oper_state,
                attributes,
            } => {
                // The common case, a change of state, updates in place and allocates nothing.
                if let Some(link) = self
                    .name_of
                    .get(&ifindex)
                    .filter(|known| known.as_bytes() == name)
                    .and_then(|known| self.by_name.get_mut(known))
                {
                    link.oper_state = oper_state;
                    attributes.fill(&mut link.info);
                    link.changed = true;
                    return;
                }
                self.forget(ifindex);
                // Names are matched against the parsed file, where bytes that are not UTF-8
                // became U+FFFD the same way.
                let name = String::from_utf8_lossy(name).into_owned();
                let mut link = Link {
                    ifindex,
                    oper_state,
                    info: LinkInfo::default(),
                    speed_mbps: None,
                    changed: true,
                };
                attributes.fill(&mut link.info);
                self.by_name.insert(name.clone(), link);
                self.name_of.insert(ifindex, name);
            }
            Message::Deleted { ifindex } => self.forget(ifindex),
            Message::Done | Message::Error(_) => {}
        }
    }

    /// Drops the entry of `ifindex`, unless its name now belongs to a newer link.
    fn forget(&mut self, ifindex: u32) {
        if let Some(name) = self.name_of.remove(&ifindex) {
            if self
                .by_name
                .get(&name)
                .is_some_and(|l| l.ifindex == ifindex)
            {
                self.by_name.remove(&name);
            }
        }
    }
}

/// The link table and the socket that keeps it current.
pub struct Links {
    socket: Socket,
    datagram: Vec<u8>,
    table: Table,
    /// Whether the table must be rebuilt from a dump before it can be trusted.
    stale: bool,
    sequence: u32,
    /// Counts the table's changes: the same value means the same links (see
    /// [`Links::generation`]).
    generation: u64,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("links", &self.table.by_name.len())
            .field("stale", &self.stale)
            .finish()
    }
}

impl Links {
    /// Opens the socket in this thread's network namespace, subscribes to link changes, and
    /// dumps every link.
    pub fn open() -> io::Result<Links> {
        let socket = Socket::new(
            Domain::from(libc::AF_NETLINK),
            Type::from(libc::SOCK_RAW),
            Some(Protocol::from(libc::NETLINK_ROUTE)),
        )?;
        socket.set_read_timeout(Some(DUMP_TIMEOUT))?;
        subscribe(&socket, RTNLGRP_LINK)?;
        let mut links = Links {
            socket,
            datagram: vec![0; DATAGRAM_BYTES],
            table: Table::default(),
            stale: true,
            sequence: 0,
            generation: 0,
        };
        links.refresh()?;
        Ok(links)
    }

    /// Changes whenever the table may have: a notification applied, a dump, a failure. Links
    /// copied out at one generation are still the table's while it stays the same (a link's
    /// speed, read from sysfs after a change, is read by the first copy after the change).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// What the table knows about `name`, as of the last [`Links::refresh`].
    pub fn get(&self, name: &str) -> Option<&Link> {
        self.table.by_name.get(name)
    }

    /// [`Links::get`], for the sampler to fill in speed and duplex.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Link> {
        self.table.by_name.get_mut(name)
    }

    /// Applies every notification queued since the last call, without blocking; rebuilds the
    /// table from a dump if notifications were lost or a dump is owed. On an error the table is
    /// empty (the caller falls back to sysfs) and the next call dumps again.
    pub fn refresh(&mut self) -> io::Result<()> {
        if !self.stale {
            match self.drain() {
                Ok(()) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    log::debug!("link notifications were lost; dumping the links again");
                }
                Err(e) if e.kind() == io::ErrorKind::InvalidData => log::debug!("{e}"),
                Err(e) => return Err(self.fail(e)),
            }
        }
        self.dump().map_err(|e| self.fail(e))
    }

    fn fail(&mut self, error: io::Error) -> io::Error {
        self.generation += 1;
        self.table = Table::default();
        self.stale = true;
        error
    }

    /// Applies the queued notifications until none is left.
    fn drain(&mut self) -> io::Result<()> {
        loop {
            let length = match self.receive(libc::MSG_DONTWAIT) {
                Ok(length) => length,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            };
            self.generation += 1;
            for message in decode(&self.datagram[..length]) {
                self.table.apply(message);
            }
        }
    }

    /// Rebuilds the table: asks for every link, and applies everything received until the
    /// dump's end, in order, notifications included, so that a change during the dump wins.
    fn dump(&mut self) -> io::Result<()> {
        self.generation += 1;
        self.table = Table::default();
        self.stale = true;
        self.sequence = self.sequence.wrapping_add(1);
        let request = dump_request(self.sequence);
        self.socket.send(&request)?;
        loop {
            let length = self.receive(0)?;
            let mut done = false;
            for message in decode(&self.datagram[..length]) {
                match message {
                    Message::Done => done = true,
                    Message::Error(errno) => return Err(io::Error::from_raw_os_error(errno)),
                    message => self.table.apply(message),
                }
            }
            if done {
                self.stale = false;
                return Ok(());
            }
        }
    }

    /// Receives one datagram into the buffer. A datagram longer than the buffer was cut: an
    /// `InvalidData` error, as if notifications had been lost.
    fn receive(&mut self, flags: libc::c_int) -> io::Result<usize> {
        let buffer = &mut self.datagram;
        // SAFETY: the pointer and length describe `buffer`, initialised memory this function
        // borrows mutably for the duration of the call; recv writes at most that many bytes.
        // MSG_TRUNC only changes the value returned (the datagram's full length).
        let received = unsafe {
            libc::recv(
                std::os::fd::AsRawFd::as_raw_fd(&self.socket),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                flags | libc::MSG_TRUNC,
            )
        };
        let length = usize::try_from(received).map_err(|_| io::Error::last_os_error())?;
        if length > buffer.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a {length}-byte netlink datagram was cut; dumping the links again"),
            ));
        }
        Ok(length)
    }
}

/// Joins the multicast group `group` (`NETLINK_ADD_MEMBERSHIP`), which socket2 cannot do.
fn subscribe(socket: &Socket, group: libc::c_int) -> io::Result<()> {
    // SAFETY: the option value is a pointer to a live c_int and its exact size, as
    // NETLINK_ADD_MEMBERSHIP expects; the descriptor is the socket's own, open while borrowed.
    let result = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(socket),
            libc::SOL_NETLINK,
            libc::NETLINK_ADD_MEMBERSHIP,
            std::ptr::from_ref(&group).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `RTM_GETLINK` with `NLM_F_DUMP`: a netlink header and an empty `struct ifinfomsg`.
fn dump_request(sequence: u32) -> [u8; NLMSG_HEADER_BYTES + IFINFOMSG_BYTES] {
    const LENGTH: usize = NLMSG_HEADER_BYTES + IFINFOMSG_BYTES;
    let mut request = [0u8; LENGTH];
    request[0..4].copy_from_slice(&(LENGTH as u32).to_ne_bytes());
    request[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
    request[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    request[8..12].copy_from_slice(&sequence.to_ne_bytes());
    // The port id (12..16) is 0 (the kernel fills in ours), and so is the ifinfomsg: all links.
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::nlattr::attribute;

    /// A netlink message of `kind` with `body`, padded to 4 bytes.
    fn message(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&((NLMSG_HEADER_BYTES + body.len()) as u32).to_ne_bytes());
        bytes.extend_from_slice(&kind.to_ne_bytes());
        bytes.extend_from_slice(&[0; 10]);
        bytes.extend_from_slice(body);
        bytes.resize(aligned(bytes.len()), 0);
        bytes
    }

    fn link(kind: u16, family: u8, ifindex: u32, name: &str, oper_state: u8) -> Vec<u8> {
        let mut body = vec![family, 0, 0, 0];
        body.extend_from_slice(&ifindex.to_ne_bytes());
        body.extend_from_slice(&IFF_UP.to_ne_bytes());
        body.extend_from_slice(&[0; 4]);
        body.extend(attribute(IFLA_MTU, &1500u32.to_ne_bytes()));
        body.extend(attribute(IFLA_IFNAME, format!("{name}\0").as_bytes()));
        body.extend(attribute(IFLA_OPERSTATE, &[oper_state]));
        body.extend(attribute(23, &[0; 8])); // IFLA_STATS64's neighbour IFLA_NUM_TX_QUEUES: passed over
        message(kind, &body)
    }

    fn table_after(datagram: &[u8]) -> Table {
        let mut table = Table::default();
        decode(datagram).for_each(|m| table.apply(m));
        table
    }

    #[test]
    fn decodes_new_and_deleted_links_and_the_end_of_a_dump() {
        let mut datagram = link(RTM_NEWLINK, AF_UNSPEC, 7, "va", 6);
        datagram.extend(link(RTM_DELLINK, AF_UNSPEC, 7, "va", 2));
        datagram.extend(message(NLMSG_DONE, &[0; 4]));
        let messages: Vec<Message> = decode(&datagram).collect();
        assert_eq!(messages.len(), 3);
        assert!(matches!(
            messages[0],
            Message::Link {
                ifindex: 7,
                name: b"va",
                oper_state: Some(OperState::Up),
                attributes: Attributes {
                    flags: IFF_UP,
                    mtu: Some(1500),
                    carrier: None,
                    address: None,
                    broadcast: None,
                    alias: None,
                }
            }
        ));
        assert_eq!(messages[1], Message::Deleted { ifindex: 7 });
        assert_eq!(messages[2], Message::Done);
    }

    #[test]
    fn bridge_port_messages_are_not_links() {
        let datagram = link(RTM_DELLINK, 7, 7, "va", 6);
        assert_eq!(decode(&datagram).count(), 0);
    }

    #[test]
    fn errors_carry_the_errno_and_acks_are_passed_over() {
        let mut datagram = message(NLMSG_ERROR, &(-(libc::EPERM)).to_ne_bytes());
        datagram.extend(message(NLMSG_ERROR, &0i32.to_ne_bytes()));
        let messages: Vec<Message> = decode(&datagram).collect();
        assert_eq!(messages, [Message::Error(libc::EPERM)]);
    }

    #[test]
    fn malformed_datagrams_end_quietly() {
        let good = link(RTM_NEWLINK, AF_UNSPEC, 2, "eth0", 6);
        for cut in 0..good.len() {
            let _ = decode(&good[..cut]).count();
        }
        let mut lying = good.clone();
        lying[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert_eq!(decode(&lying).count(), 0);
        let mut tiny = good;
        tiny[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(decode(&tiny).count(), 0);
    }

    #[test]
    fn the_table_follows_changes_renames_and_re_creation() {
        let mut datagram = link(RTM_NEWLINK, AF_UNSPEC, 2, "va", 6);
        datagram.extend(link(RTM_NEWLINK, AF_UNSPEC, 3, "vb", 6));
        datagram.extend(link(RTM_NEWLINK, AF_UNSPEC, 2, "va", 2)); // down
        datagram.extend(link(RTM_NEWLINK, AF_UNSPEC, 3, "wan", 6)); // renamed
        let table = table_after(&datagram);
        let get = |name: &str| table.by_name.get(name).cloned();
        assert_eq!(get("va").map(|l| l.oper_state), Some(Some(OperState::Down)));
        assert_eq!(get("vb"), None);
        assert_eq!(get("wan").map(|l| l.ifindex), Some(3));
        assert_eq!(get("wan").map(|l| l.speed_mbps), Some(None), "not read yet");

        // Deleted and created again between two ticks: the new ifindex, whatever the order of
        // the old link's deletion and the new one's creation.
        let mut datagram = link(RTM_NEWLINK, AF_UNSPEC, 2, "vc", 6);
        datagram.extend(link(RTM_NEWLINK, AF_UNSPEC, 9, "vc", 6));
        datagram.extend(link(RTM_DELLINK, AF_UNSPEC, 2, "vc", 2));
        let table = table_after(&datagram);
        assert_eq!(table.by_name.get("vc").map(|l| l.ifindex), Some(9));
        assert_eq!(table.name_of.len(), 1);
    }

    #[test]
    fn the_live_table_knows_loopback() {
        // Any process may open NETLINK_ROUTE and dump links; lo is ifindex 1 in every namespace.
        let mut links = Links::open().expect("a NETLINK_ROUTE socket");
        links.refresh().expect("a refresh");
        let lo = links.get("lo").expect("lo");
        assert_eq!(lo.ifindex, 1);
        assert_eq!(
            lo.info.address.map(|a| a.to_string()).as_deref(),
            Some("00:00:00:00:00:00")
        );
        assert_eq!(lo.info.mtu_bytes.map(|mtu| mtu > 0), Some(true));
        assert!(lo.changed, "new links are read from sysfs once");
        assert_eq!(links.get("no such interface"), None);
    }

    #[test]
    fn link_attributes_are_decoded_and_follow_changes() {
        let mut body = vec![AF_UNSPEC, 0, 0, 0];
        body.extend_from_slice(&4u32.to_ne_bytes());
        body.extend_from_slice(&(IFF_UP | 0x1000).to_ne_bytes());
        body.extend_from_slice(&[0; 4]);
        body.extend(attribute(IFLA_IFNAME, b"wan\0"));
        body.extend(attribute(IFLA_MTU, &1492u32.to_ne_bytes()));
        body.extend(attribute(IFLA_CARRIER, &[1]));
        body.extend(attribute(IFLA_ADDRESS, &[0x02, 0, 0, 0, 0, 0x0a]));
        body.extend(attribute(IFLA_BROADCAST, &[0xff; 6]));
        body.extend(attribute(IFLA_IFALIAS, b"uplink \"fibre\"\0"));
        let mut table = table_after(&message(RTM_NEWLINK, &body));
        let wan = table.by_name.get_mut("wan").unwrap();
        assert_eq!(wan.info.mtu_bytes, Some(1492));
        assert_eq!(wan.info.carrier, Some(true));
        assert_eq!(wan.info.address.unwrap().to_string(), "02:00:00:00:00:0a");
        assert_eq!(wan.info.broadcast.unwrap().to_string(), "ff:ff:ff:ff:ff:ff");
        assert_eq!(wan.info.alias, "uplink \"fibre\"");
        assert!(wan.changed);
        wan.changed = false;
        // Administratively down: no carrier, as sysfs says nothing then; no alias any more.
        let mut down = body[..16].to_vec();
        down[8..12].copy_from_slice(&0u32.to_ne_bytes());
        down.extend(attribute(IFLA_IFNAME, b"wan\0"));
        down.extend(attribute(IFLA_CARRIER, &[0]));
        decode(&message(RTM_NEWLINK, &down)).for_each(|m| table.apply(m));
        let wan = &table.by_name["wan"];
        assert_eq!((wan.info.carrier, wan.info.mtu_bytes), (None, None));
        assert_eq!(wan.info.alias, "");
        assert!(
            wan.changed,
            "a message marks the link for a new look at sysfs"
        );
    }

    #[test]
    fn the_dump_request_is_a_get_link_dump() {
        let request = dump_request(5);
        assert_eq!(u32_at(&request, 0), Some(32));
        assert_eq!(u16_at(&request, 4), Some(RTM_GETLINK));
        assert_eq!(u16_at(&request, 6), Some(0x301));
        assert_eq!(u32_at(&request, 8), Some(5));
    }
}
