//! The sampling thread: on every tick it reads the source file afresh, parses it, adds each
//! interface's ifindex and operstate from sysfs, and sends the [`Sample`] to the statistics thread.
//!
//! The file is opened anew on every tick rather than kept open and re-read at offset 0: a fresh
//! open costs a few microseconds, and kept descriptors have broken other tools (icewm#806 saw
//! "Illegal seek" on `/proc/net/dev` under 6.12). The read buffer is kept, so a steady-state read
//! allocates nothing.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{select, Receiver, Sender, TrySendError};

use crate::filter::Filter;
use crate::proc_net_dev::{self, ParseError};
use crate::snapshot::{InterfaceSample, OperState, Sample, Snapshot};

/// Reads one source file and one sysfs tree; keeps what it needs between ticks.
pub struct Sampler {
    source: PathBuf,
    sysfs: PathBuf,
    filter: Filter,
    buffer: Vec<u8>,
    /// Whether the previous tick failed, so that only changes of state are logged.
    failing: bool,
    /// The previous tick's skipped lines, so that a persistent bad line is logged once.
    last_skipped: Vec<ParseError>,
}

impl Sampler {
    /// A sampler of `source`, keeping the interfaces `filter` keeps and looking them up under
    /// `sysfs`.
    pub fn new(source: &Path, sysfs: &Path, filter: Filter) -> Self {
        Sampler {
            source: source.to_owned(),
            sysfs: sysfs.to_owned(),
            filter,
            buffer: Vec::with_capacity(4096),
            failing: false,
            last_skipped: Vec::new(),
        }
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
        self.buffer.clear();
        File::open(&self.source)
            .and_then(|mut file| file.read_to_end(&mut self.buffer))
            .map_err(|e| format!("cannot read {}: {e}", self.source.display()))?;
        // Names may hold any byte but '/', ':' and whitespace; JSON needs UTF-8, so bytes that are
        // not valid UTF-8 become U+FFFD. Valid files are borrowed as they are.
        let text = String::from_utf8_lossy(&self.buffer);
        let parsed = proc_net_dev::parse(&text);
        if parsed.interfaces.is_empty() {
            let why = match parsed.skipped.first() {
                Some(first) => format!(", first bad line: {first}"),
                None => String::new(),
            };
            return Err(format!(
                "no interface line in {} ({} bytes{why})",
                self.source.display(),
                self.buffer.len()
            ));
        }
        let interfaces = parsed
            .interfaces
            .into_iter()
            .filter(|iface| self.filter.keeps(&iface.name))
            .map(|iface| InterfaceSample {
                ifindex: read_sysfs(&self.sysfs, &iface.name, "ifindex")
                    .and_then(|text| text.trim_end().parse().ok()),
                oper_state: read_sysfs(&self.sysfs, &iface.name, "operstate")
                    .and_then(|text| OperState::from_sysfs(&text)),
                name: iface.name,
                counters: iface.counters,
            })
            .collect();
        Ok(Snapshot {
            interfaces,
            skipped: parsed.skipped,
        })
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
                    self.last_skipped = snapshot.skipped.clone();
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

/// Reads `<sysfs>/<name>/<attribute>`, or `None` where it is absent or unreadable.
fn read_sysfs(sysfs: &Path, name: &str, attribute: &str) -> Option<String> {
    // U+FFFD stands for bytes that were not UTF-8: that path would not name the interface.
    if name.contains('\u{FFFD}') {
        return None;
    }
    std::fs::read_to_string(sysfs.join(name).join(attribute)).ok()
}

/// The sampling thread's body: a sample on every tick until `shutdown` disconnects.
pub fn run(
    mut sampler: Sampler,
    interval: Duration,
    samples: Sender<Sample>,
    shutdown: Receiver<()>,
) {
    let ticker = crossbeam_channel::tick(interval);
    loop {
        select! {
            recv(ticker) -> _ => match samples.try_send(sampler.sample()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    log::warn!("the statistics thread is behind; a sample was dropped");
                }
                Err(TrySendError::Disconnected(_)) => return,
            },
            recv(shutdown) -> _ => return,
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
    fn reads_counters_and_sysfs_attributes() {
        let dir = temp_dir("ok");
        fs::write(dir.join("dev"), FILE).unwrap();
        fs::create_dir_all(dir.join("sys/eth0")).unwrap();
        fs::write(dir.join("sys/eth0/ifindex"), "2\n").unwrap();
        fs::write(dir.join("sys/eth0/operstate"), "up\n").unwrap();
        let mut sampler = Sampler::new(&dir.join("dev"), &dir.join("sys"), Filter::default());
        let snapshot = sampler.sample().result.unwrap();
        assert_eq!(snapshot.interfaces.len(), 2);
        assert_eq!(snapshot.interfaces[0].ifindex, Some(2));
        assert_eq!(snapshot.interfaces[0].oper_state, Some(OperState::Up));
        assert_eq!(snapshot.interfaces[0].counters.tx_bytes, 9);
        assert_eq!(snapshot.interfaces[1].ifindex, None);
        assert_eq!(snapshot.interfaces[1].oper_state, None);
        fs::remove_dir_all(dir).unwrap();
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
