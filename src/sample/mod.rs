//! Stage one, sampling: everything that turns the kernel's files into a [`Sample`]. It owns the
//! parser, the link table, the interface filters and the sampler thread, and knows nothing of
//! rates, HTTP or the state file; its only way out is the channel to the statistics thread.
//!
//! The sampling thread: on every tick it reads the source file afresh, parses it, adds each
//! interface's ifindex and operstate, and sends the [`Sample`] to the statistics thread.
//!
//! The file is opened anew on every tick rather than kept open and re-read at offset 0: a fresh
//! open costs a few microseconds, and kept descriptors have broken other tools (icewm#806 saw
//! "Illegal seek" on `/proc/net/dev` under 6.12).
//!
//! A steady-state tick allocates nothing: the read buffer is kept, the parser borrows names from
//! it, and the statistics thread gives each [`Snapshot`] back once applied ([`Sampler::recycler`]),
//! so the next tick refills the same vector and name strings.
//!
//! Where ifindex, operstate and the other link attributes ([`LinkInfo`], speed) come from:
//! - From rtnetlink ([`crate::sample::netlink`]) when the source is this namespace's `/proc/net/dev` and
//!   `--sysfs` is `/sys/class/net`, the defaults: a table kept current by the kernel's link
//!   notifications, drained once per tick, instead of two sysfs reads per interface (about 10 µs
//!   each time, 10 ms a tick at 1000 interfaces). Speed and duplex, which rtnetlink does not
//!   carry, are read from sysfs only for a link the table saw appear or change since the last
//!   tick. A name the table does not know (an interface created an instant before the read, or
//!   rtnetlink failing) is looked up in sysfs.
//! - From `<sysfs>/<name>/{ifindex,operstate,mtu,carrier,address,broadcast,ifalias,speed,duplex}`,
//!   read on every tick, otherwise: a fixture tree given with `--sysfs`, or another source, which
//!   may be another namespace's file.
//!
//! Every [`offload::CHECK_EVERY`] the sampler also looks at flow offloading ([`offload`]), which
//! can hide forwarded traffic from the counters, and sends what it found with that tick's
//! snapshot.

pub mod filter;
pub mod netlink;
pub mod nlattr;
pub mod offload;
pub mod proc_net_dev;
pub mod snapshot;
pub mod uname;

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::sample::filter::Filter;
use crate::sample::netlink::Links;
use crate::sample::offload::Offload;
use crate::sample::snapshot::{
    Duplex, HwAddr, InterfaceSample, LinkInfo, OperState, Outbox, Sample, Snapshot,
};
use proc_net_dev::{Entry, ParseError, MAX_NAME_BYTES};

/// The default `--source`: the kernel's own file.
pub const DEFAULT_SOURCE: &str = "/proc/net/dev";
/// The default `--sysfs`, where the kernel lists interfaces.
pub const DEFAULT_SYSFS: &str = "/sys/class/net";

/// How many applied snapshots may wait for the sampler to reuse them; more are dropped.
const SPENT_SNAPSHOTS: usize = snapshot::CAPACITY + 2;

/// Reads one source file and each interface's link state; keeps what it needs between ticks.
pub struct Sampler {
    source: PathBuf,
    links: LinkSource,
    filter: Filter,
    /// The source file as last read, in its first bytes (see [`read_whole`]).
    buffer: Vec<u8>,
    /// Snapshots the statistics thread has applied and given back, for their storage.
    spent: (Sender<Snapshot>, Receiver<Snapshot>),
    /// Whether the previous tick failed, so that only changes of state are logged.
    failing: bool,
    /// The previous tick's skipped lines, so that a persistent bad line is logged once.
    last_skipped: Vec<ParseError>,
    /// When to look at flow offloading next, and what the last look found (to log changes).
    offload: (Instant, Option<Arc<Offload>>),
}

/// Where each interface's ifindex and operstate come from (see the module doc).
enum LinkSource {
    Sysfs(PathBuf),
    Netlink {
        links: Links,
        sysfs: PathBuf,
        /// Whether the last refresh failed, so that only changes of state are logged.
        failing: bool,
    },
}

impl LinkSource {
    fn new(source: &Path, sysfs: &Path) -> Self {
        if source != Path::new(DEFAULT_SOURCE) || sysfs != Path::new(DEFAULT_SYSFS) {
            return LinkSource::Sysfs(sysfs.to_owned());
        }
        match Links::open() {
            Ok(links) => {
                log::debug!("ifindex and operstate from rtnetlink link notifications");
                LinkSource::Netlink {
                    links,
                    sysfs: sysfs.to_owned(),
                    failing: false,
                }
            }
            Err(e) => {
                log::warn!(
                    "rtnetlink is unavailable ({e}): reading ifindex and operstate from {} \
                     on every tick",
                    sysfs.display()
                );
                LinkSource::Sysfs(sysfs.to_owned())
            }
        }
    }

    /// Catches up with the link changes since the last tick.
    fn refresh(&mut self) {
        let LinkSource::Netlink { links, failing, .. } = self else {
            return;
        };
        match links.refresh() {
            Ok(()) if *failing => {
                log::info!("rtnetlink recovered");
                *failing = false;
            }
            Ok(()) => {}
            Err(e) if !*failing => {
                log::warn!("rtnetlink failed ({e}): reading sysfs until it recovers");
                *failing = true;
            }
            Err(e) => log::debug!("rtnetlink still failing: {e}"),
        }
    }

    /// The generation of the link table ([`Links::generation`]); `None` for sysfs, read afresh.
    fn generation(&self) -> Option<u64> {
        match self {
            LinkSource::Netlink { links, .. } => Some(links.generation()),
            LinkSource::Sysfs(_) => None,
        }
    }

    /// Fills in the link state of `slot`, the interface `slot.name`; false where it came from
    /// sysfs.
    fn fill(&mut self, slot: &mut InterfaceSample) -> bool {
        match self {
            LinkSource::Netlink { links, sysfs, .. } => match links.get_mut(&slot.name) {
                Some(link) => {
                    if link.changed {
                        let (speed_mbps, duplex) = read_sysfs_speed(sysfs, &slot.name);
                        link.speed_mbps = speed_mbps;
                        link.info.duplex = duplex;
                        link.changed = false;
                    }
                    slot.ifindex = Some(link.ifindex);
                    slot.oper_state = link.oper_state;
                    slot.speed_mbps = link.speed_mbps;
                    slot.link.clone_from(&link.info);
                    true
                }
                None => {
                    read_sysfs_link(sysfs, slot);
                    false
                }
            },
            LinkSource::Sysfs(sysfs) => {
                read_sysfs_link(sysfs, slot);
                false
            }
        }
    }
}

impl Sampler {
    /// A sampler of `source`, keeping the interfaces `filter` keeps, with their link state from
    /// rtnetlink or `sysfs` (see the module doc).
    pub fn new(source: &Path, sysfs: &Path, filter: Filter) -> Self {
        Sampler {
            source: source.to_owned(),
            links: LinkSource::new(source, sysfs),
            filter,
            buffer: Vec::new(),
            spent: crossbeam_channel::bounded(SPENT_SNAPSHOTS),
            failing: false,
            last_skipped: Vec::new(),
            offload: (Instant::now(), None),
        }
    }

    /// Where the statistics thread gives each snapshot back once applied, for the next tick to
    /// reuse its storage. Snapshots never given back are simply not reused.
    pub fn recycler(&self) -> Sender<Snapshot> {
        self.spent.0.clone()
    }

    /// Takes one sample now, and logs what changed since the last one.
    pub fn sample(&mut self) -> Sample {
        let (sample, took) = self.take();
        self.log_outcome(&sample.result, took);
        sample
    }

    /// The start-up sample. A failure is returned for the caller to report (the daemon does not
    /// start without a first sample), not logged.
    pub fn first_sample(&mut self) -> Result<Sample, String> {
        let (sample, took) = self.take();
        if let Err(error) = &sample.result {
            return Err(error.clone());
        }
        self.log_outcome(&sample.result, took);
        Ok(sample)
    }

    fn take(&mut self) -> (Sample, Duration) {
        let taken_at = Instant::now();
        let wall = SystemTime::now();
        let result = self.read_snapshot();
        let sample = Sample {
            taken_at,
            wall,
            result,
        };
        (sample, taken_at.elapsed())
    }

    fn read_snapshot(&mut self) -> Result<Snapshot, String> {
        let read = File::open(&self.source)
            .and_then(|file| read_whole(file, &mut self.buffer))
            .map_err(|e| format!("cannot read {}: {e}", self.source.display()))?;
        // After the read, so that every interface in the file was created before the link
        // notifications drained here.
        self.links.refresh();
        // Names may hold any byte but '/', ':' and whitespace; JSON needs UTF-8, so bytes that are
        // not valid UTF-8 become U+FFFD. Valid files are borrowed as they are.
        let text = lossy_text(&self.buffer[..read]);
        let mut snapshot = self.spent.1.try_recv().unwrap_or_default();
        snapshot.skipped.clear();
        // A reused snapshot filled from the link table as it is now already holds the link state
        // of each interface still at the same place: the lookups by name are skipped, which were
        // most of a tick's own work (a hash and a cold table entry per interface).
        let generation = self.links.generation();
        let links_current = generation.is_some() && snapshot.links_generation == generation;
        let mut all_from_table = true;
        let (mut kept, mut well_formed) = (0, 0);
        for entry in proc_net_dev::entries(&text) {
            match entry {
                Ok(entry) => {
                    well_formed += 1;
                    if self.filter.keeps(entry.name) {
                        let (slot, same_name) = refill(&mut snapshot.interfaces, kept, entry);
                        if !(links_current && same_name) {
                            all_from_table &= self.links.fill(slot);
                        }
                        kept += 1;
                    }
                }
                Err(error) => snapshot.skipped.push(error),
            }
        }
        snapshot.interfaces.truncate(kept);
        snapshot.links_generation = generation.filter(|_| all_from_table);
        snapshot.offload = self.look_at_offload();
        if well_formed == 0 {
            let why = match snapshot.skipped.first() {
                Some(first) => format!(", first bad line: {first}"),
                None => String::new(),
            };
            let error = format!(
                "no interface line in {} ({} bytes{why})",
                self.source.display(),
                read
            );
            let _ = self.spent.0.try_send(snapshot); // for the next tick
            return Err(error);
        }
        Ok(snapshot)
    }

    /// Flow offloading, if it is time to look again (see [`offload`]); logs a change.
    fn look_at_offload(&mut self) -> Option<Arc<Offload>> {
        let now = Instant::now();
        if now < self.offload.0 {
            return None;
        }
        let found = offload::check();
        if self.offload.1.as_deref() != Some(&found) {
            let line = found.describe();
            match &found.flowtables_error {
                _ if found.active => log::warn!("{line}"),
                Some(error) => log::debug!("{line} ({error})"),
                None => log::debug!("{line}"),
            }
        }
        let found = Arc::new(found);
        self.offload = (now + offload::CHECK_EVERY, Some(Arc::clone(&found)));
        Some(found)
    }

    fn log_outcome(&mut self, result: &Result<Snapshot, String>, took: Duration) {
        match result {
            Ok(snapshot) => {
                log::debug!(
                    "sample: {} interfaces in {} µs",
                    snapshot.interfaces.len(),
                    took.as_micros()
                );
                if self.failing {
                    log::info!("sampling recovered: {}", self.source.display());
                    self.failing = false;
                }
                if snapshot.skipped != self.last_skipped {
                    for error in &snapshot.skipped {
                        log::warn!("{}: skipped {error}", self.source.display());
                    }
                    self.last_skipped.clone_from(&snapshot.skipped);
                }
            }
            Err(error) if !self.failing => {
                log::warn!("sampling failed: {error}; serving the last good data");
                self.failing = true;
            }
            Err(error) => log::debug!("sampling still failing: {error}"),
        }
    }
}

/// Writes `entry` into `interfaces[index]`, reusing that slot's strings, or appends it; the
/// slot, for its link state to be filled in, and whether it already held that interface.
fn refill<'a>(
    interfaces: &'a mut Vec<InterfaceSample>,
    index: usize,
    entry: Entry<'_>,
) -> (&'a mut InterfaceSample, bool) {
    if index == interfaces.len() {
        // Room for any name the kernel allows, so that a later tick never grows it.
        interfaces.push(InterfaceSample {
            name: String::with_capacity(MAX_NAME_BYTES),
            counters: entry.counters,
            ifindex: None,
            oper_state: None,
            speed_mbps: None,
            link: LinkInfo::default(),
        });
    }
    let slot = &mut interfaces[index];
    let same_name = slot.name == entry.name;
    if !same_name {
        slot.name.clear();
        slot.name.push_str(entry.name);
    }
    slot.counters = entry.counters;
    (slot, same_name)
}

/// Fills in the link state of `slot` from `<sysfs>/<slot.name>/`, each attribute `None` where
/// absent or unreadable.
fn read_sysfs_link(sysfs: &Path, slot: &mut InterfaceSample) {
    let name = slot.name.as_str();
    let number = |attribute| read_sysfs(sysfs, name, attribute).and_then(|t| parse_u32(&t));
    slot.ifindex = number("ifindex");
    slot.oper_state = read_sysfs(sysfs, name, "operstate").and_then(|t| OperState::from_sysfs(&t));
    let (speed_mbps, duplex) = read_sysfs_speed(sysfs, name);
    slot.speed_mbps = speed_mbps;
    let link = &mut slot.link;
    link.duplex = duplex;
    link.mtu_bytes = number("mtu");
    link.carrier = number("carrier").map(|carrier| carrier != 0);
    let address =
        |attribute| read_sysfs(sysfs, name, attribute).and_then(|t| HwAddr::from_sysfs(&t));
    link.address = address("address");
    link.broadcast = address("broadcast");
    link.alias.clear();
    if let Some(alias) = read_sysfs(sysfs, name, "ifalias") {
        link.alias
            .push_str(alias.strip_suffix('\n').unwrap_or(&alias));
    }
}

/// The speed in Mbit/s and the duplex of `name` under `sysfs`: the speed `None` where it is
/// unknown (-1, as drivers without one say), absent or unreadable (sysfs refuses while the link
/// is down).
fn read_sysfs_speed(sysfs: &Path, name: &str) -> (Option<u32>, Option<Duplex>) {
    (
        read_sysfs(sysfs, name, "speed").and_then(|text| parse_speed(&text)),
        read_sysfs(sysfs, name, "duplex").and_then(|text| Duplex::from_sysfs(&text)),
    )
}

/// A sysfs number: decimal, a trailing newline allowed. Negative ones (-1 for an unknown speed)
/// are `None`.
fn parse_u32(text: &str) -> Option<u32> {
    text.trim_end().parse().ok()
}

/// Parses sysfs `speed` (Mbit/s). Unknown is -1 today (`SPEED_UNKNOWN`); older kernels printed
/// it unsigned as 4294967295, and old drivers reported 65535 (ethtool's 16-bit unknown) or 0.
/// Reading it fails with EINVAL for links that are down and for most virtual ones.
pub fn parse_speed(text: &str) -> Option<u32> {
    match text.trim().parse::<u32>() {
        Ok(0 | 65535 | u32::MAX) | Err(_) => None,
        Ok(mbps) => Some(mbps),
    }
}

/// Reads `<sysfs>/<name>/<attribute>`, or `None` where it is absent or unreadable.
fn read_sysfs(sysfs: &Path, name: &str, attribute: &str) -> Option<String> {
    // U+FFFD stands for bytes that were not UTF-8: that path would not name the interface.
    if name.contains('\u{FFFD}') {
        return None;
    }
    std::fs::read_to_string(sysfs.join(name).join(attribute)).ok()
}

/// The source read again at the moment of a Prometheus scrape, by the request loop, so that the
/// counters `/metrics` serves are as of the scrape, not of the last sample (up to one
/// `--interval` old, which skews `rate()` by up to an interval over its range). It keeps the
/// same interfaces as the sampler ([`Filter`]) and reuses its buffers; it reads nothing else
/// (no link state: that comes from the sampled view).
#[derive(Debug)]
pub struct ScrapeReader {
    source: PathBuf,
    filter: Filter,
    buffer: Vec<u8>,
    text: String,
}

impl ScrapeReader {
    /// A reader of `source`, keeping what `filter` keeps.
    pub fn new(source: &Path, filter: Filter) -> Self {
        ScrapeReader {
            source: source.to_owned(),
            filter,
            buffer: Vec::new(),
            text: String::new(),
        }
    }

    /// Reads and parses the source now: its well-formed, kept lines, in file order.
    pub fn read(&mut self) -> io::Result<impl Iterator<Item = Entry<'_>>> {
        let read = File::open(&self.source).and_then(|file| read_whole(file, &mut self.buffer))?;
        self.text.clear();
        self.text.push_str(&lossy_text(&self.buffer[..read]));
        let filter = &self.filter;
        Ok(proc_net_dev::entries(&self.text)
            .filter_map(Result::ok)
            .filter(move |entry| filter.keeps(entry.name)))
    }
}

/// `bytes` as text, borrowed when it is UTF-8 (as it always is but for odd interface names), with
/// U+FFFD for each invalid sequence otherwise. `String::from_utf8_lossy` alone gives the same, but
/// checks valid text a byte at a time; `str::from_utf8` checks ASCII a word at a time.
fn lossy_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Reads `file` from its start to its end into `buffer`; how many bytes it read. The buffer is
/// all initialized, zeroed only when it grows, and kept from one tick to the next. Not
/// `File::read_to_end`: it asks `fstat` and `lseek` for a size hint first, two system calls a
/// tick that a procfs file answers with 0.
fn read_whole(mut file: File, buffer: &mut Vec<u8>) -> io::Result<usize> {
    let mut filled = 0;
    loop {
        if filled == buffer.len() {
            buffer.resize((2 * buffer.len()).max(4096), 0);
        }
        match file.read(&mut buffer[filled..]) {
            Ok(0) => return Ok(filled),
            Ok(read) => filled += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The sampling thread's body: a sample every `interval`, on a fixed grid from the start (a late
/// wake-up delays no later sample), each followed by `after_each` (the HTTP guard's look at the
/// descriptor count, see [`crate::serve::reaper::Nudge`]), until `shutdown` disconnects.
pub fn run(
    mut sampler: Sampler,
    interval: Duration,
    samples: Outbox,
    shutdown: Receiver<()>,
    mut after_each: impl FnMut(),
) {
    let mut next = Instant::now() + interval;
    loop {
        match shutdown.recv_deadline(next) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        match samples.send(sampler.sample()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                log::warn!("the statistics thread is behind; a sample was dropped");
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
        after_each();
        next += interval;
        let now = Instant::now();
        if next <= now {
            // A whole interval missed (a suspended process): the grid starts again, rather than
            // samples being taken back to back to catch up.
            next = now + interval;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ifstatsd-sampler-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    const FILE: &str = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n\
        eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n    lo: 5 6 0 0 0 0 0 0 5 6 0 0 0 0 0 0\n";

    #[test]
    fn read_whole_reads_files_larger_than_its_buffer_and_forgets_the_last_one() {
        let dir = temp_dir("whole");
        let path = dir.join("big");
        let big: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&path, &big).unwrap();
        let mut buffer = Vec::new();
        let read = read_whole(File::open(&path).unwrap(), &mut buffer).unwrap();
        assert_eq!(buffer[..read], big);
        let grown = buffer.len();
        fs::write(&path, b"short").unwrap();
        let read = read_whole(File::open(&path).unwrap(), &mut buffer).unwrap();
        assert_eq!(buffer[..read], *b"short");
        assert_eq!(buffer.len(), grown, "the buffer is kept, not zeroed again");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reads_counters_and_sysfs_attributes() {
        let dir = temp_dir("ok");
        fs::write(dir.join("dev"), FILE).unwrap();
        fs::create_dir_all(dir.join("sys/eth0")).unwrap();
        fs::write(dir.join("sys/eth0/ifindex"), "2\n").unwrap();
        fs::write(dir.join("sys/eth0/operstate"), "up\n").unwrap();
        for (attribute, text) in [
            ("mtu", "1500\n"),
            ("carrier", "1\n"),
            ("address", "02:00:00:00:00:0a\n"),
            ("broadcast", "ff:ff:ff:ff:ff:ff\n"),
            ("ifalias", "uplink\n"),
            ("speed", "1000\n"),
            ("duplex", "full\n"),
        ] {
            fs::write(dir.join("sys/eth0").join(attribute), text).unwrap();
        }
        fs::create_dir_all(dir.join("sys/lo")).unwrap();
        fs::write(dir.join("sys/lo/speed"), "-1\n").unwrap();
        fs::write(dir.join("sys/lo/duplex"), "bad\n").unwrap();
        fs::write(dir.join("sys/lo/address"), "\n").unwrap();
        let mut sampler = Sampler::new(&dir.join("dev"), &dir.join("sys"), Filter::default());
        let snapshot = sampler.sample().result.unwrap();
        assert_eq!(snapshot.interfaces.len(), 2);
        let eth0 = &snapshot.interfaces[0];
        assert_eq!(eth0.ifindex, Some(2));
        assert_eq!(eth0.oper_state, Some(OperState::Up));
        assert_eq!(eth0.counters.tx_bytes, 9);
        assert_eq!(eth0.speed_mbps, Some(1000));
        assert_eq!(eth0.link.mtu_bytes, Some(1500));
        assert_eq!(eth0.link.carrier, Some(true));
        assert_eq!(eth0.link.duplex, Some(Duplex::Full));
        assert_eq!(eth0.link.address.unwrap().to_string(), "02:00:00:00:00:0a");
        assert_eq!(
            eth0.link.broadcast.unwrap().to_string(),
            "ff:ff:ff:ff:ff:ff"
        );
        assert_eq!(eth0.link.alias, "uplink");
        let lo = &snapshot.interfaces[1];
        assert_eq!(lo.ifindex, None);
        assert_eq!(lo.oper_state, None);
        assert_eq!(
            (lo.speed_mbps, lo.link.duplex),
            (None, None),
            "-1 and unknown"
        );
        assert_eq!(lo.link.address.unwrap().to_string(), "");
        assert_eq!((lo.link.mtu_bytes, lo.link.carrier), (None, None));
        fs::remove_dir_all(dir).unwrap();
    }

    #[rstest::rstest]
    #[case::gigabit("1000\n", Some(1000))]
    #[case::ten_gigabit_veth("10000\n", Some(10_000))]
    #[case::ten_megabit("10", Some(10))]
    #[case::unknown_signed("-1\n", None)]
    #[case::unknown_unsigned_old_kernels("4294967295\n", None)]
    #[case::unknown_16_bit_old_drivers("65535\n", None)]
    #[case::zero("0\n", None)]
    #[case::empty("", None)]
    #[case::garbage("fast\n", None)]
    fn speeds_from_sysfs(#[case] text: &str, #[case] mbps: Option<u32>) {
        assert_eq!(parse_speed(text), mbps);
    }

    #[test]
    fn a_missing_file_or_one_without_interfaces_fails_and_recovers() {
        let dir = temp_dir("fail");
        let source = dir.join("dev");
        let mut sampler = Sampler::new(&source, &dir, Filter::default());
        let missing = sampler.sample().result.unwrap_err();
        assert!(missing.contains("cannot read"), "{missing}");
        fs::write(&source, "garbage\n").unwrap();
        let empty = sampler.sample().result.unwrap_err();
        assert!(empty.contains("no interface line"), "{empty}");
        assert!(empty.contains("line 1"), "{empty}");
        fs::write(&source, FILE).unwrap();
        assert!(sampler.sample().result.is_ok());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_filter_drops_interfaces_before_sysfs_is_read() {
        let dir = temp_dir("filter");
        fs::write(dir.join("dev"), FILE).unwrap();
        let filter = Filter {
            include: vec![],
            exclude: vec!["e*".into()],
        };
        let mut sampler = Sampler::new(&dir.join("dev"), &dir, filter);
        let snapshot = sampler.sample().result.unwrap();
        let names: Vec<&str> = snapshot
            .interfaces
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(names, ["lo"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_snapshot_given_back_is_refilled_whatever_changed() {
        let dir = temp_dir("recycle");
        fs::write(dir.join("dev"), FILE).unwrap();
        let mut sampler = Sampler::new(&dir.join("dev"), &dir, Filter::default());
        let recycler = sampler.recycler();
        let first = sampler.sample().result.unwrap();
        let storage = first.interfaces.as_ptr();
        recycler.send(first).unwrap();
        fs::write(
            dir.join("dev"),
            "bad line\nbridge-lan0: 1 1 0 0 0 0 0 0 2 2 0 0 0 0 0 0\n",
        )
        .unwrap();
        let second = sampler.sample().result.unwrap();
        assert_eq!(second.interfaces.as_ptr(), storage, "the same vector");
        assert_eq!(second.interfaces.len(), 1);
        assert_eq!(second.interfaces[0].name, "bridge-lan0");
        assert_eq!(second.interfaces[0].counters.tx_bytes, 2);
        assert_eq!(second.skipped.len(), 1);
        recycler.send(second).unwrap();
        fs::write(dir.join("dev"), FILE).unwrap();
        let third = sampler.sample().result.unwrap();
        let names: Vec<&str> = third.interfaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["eth0", "lo"]);
        assert_eq!(third.skipped, []);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_full_channel_of_snapshots_given_back_at_once_is_all_reused() {
        let dir = temp_dir("pool");
        fs::write(dir.join("dev"), FILE).unwrap();
        let mut sampler = Sampler::new(&dir.join("dev"), &dir, Filter::default());
        let recycler = sampler.recycler();
        // As many as the hand-off holds, folded in and given back together.
        let first: Vec<Snapshot> = (0..snapshot::CAPACITY)
            .map(|_| sampler.sample().result.unwrap())
            .collect();
        let storage: Vec<_> = first.iter().map(|s| s.interfaces.as_ptr()).collect();
        for snapshot in first {
            recycler.try_send(snapshot).expect("room for every one");
        }
        for _ in 0..snapshot::CAPACITY {
            let again = sampler.sample().result.unwrap();
            assert!(
                storage.contains(&again.interfaces.as_ptr()),
                "allocated anew"
            );
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_scrape_reader_reads_the_source_afresh_and_filters_it() {
        let dir = temp_dir("scrape");
        fs::write(dir.join("dev"), FILE).unwrap();
        let filter = Filter {
            include: vec![],
            exclude: vec!["lo".into()],
        };
        let mut reader = ScrapeReader::new(&dir.join("dev"), filter);
        let first: Vec<(String, u64)> = reader
            .read()
            .unwrap()
            .map(|e| (e.name.to_owned(), e.counters.tx_bytes))
            .collect();
        assert_eq!(first, [("eth0".to_owned(), 9)]);
        fs::write(dir.join("dev"), FILE.replace(" 9 10 11", " 99 10 11")).unwrap();
        let second: Vec<u64> = reader
            .read()
            .unwrap()
            .map(|e| e.counters.tx_bytes)
            .collect();
        assert_eq!(second, [99], "read at each call, not kept");
        fs::remove_file(dir.join("dev")).unwrap();
        assert!(reader.read().is_err());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn invalid_utf8_in_a_name_is_replaced_not_fatal() {
        let dir = temp_dir("utf8");
        let mut file = FILE.as_bytes().to_vec();
        file.extend_from_slice(b"w\xfflan: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n");
        fs::write(dir.join("dev"), file).unwrap();
        let mut sampler = Sampler::new(&dir.join("dev"), &dir, Filter::default());
        let snapshot = sampler.sample().result.unwrap();
        assert_eq!(snapshot.interfaces[2].name, "w\u{FFFD}lan");
        assert_eq!(snapshot.interfaces[2].ifindex, None);
        fs::remove_dir_all(dir).unwrap();
    }
}
