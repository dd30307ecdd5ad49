//! How long one whole sample takes against the floor of reading the source file, and what it
//! allocates. Run it in the network namespace to measure (it reads that namespace's file):
//!
//! ```text
//! cargo bench --bench sampling -- [--iterations K] [--source PATH]
//! ip netns exec NS $CARGO_TARGET_DIR/release/deps/sampling-<hash> [--iterations K] [--source PATH]
//! ```
//!
//! `--iterations` defaults to 2000 (after K/10, at least 50, warm-up iterations); `--source` to
//! `/proc/net/dev`. Each iteration runs, interleaved so that drift hits all three alike:
//! - `floor_open_read`: open the source, read it to the end into a reused buffer, close it;
//! - `floor_pread`: read it to the end with `pread` at offset 0 from a descriptor kept open;
//! - `sample`: the daemon's whole tick: `Sampler::sample` (read, parse, link state), then what the
//!   stats thread does with it: `Stats::apply` (ring update), the snapshot given back to the
//!   sampler for reuse, and `SharedView::publish(view)`. Not the hand-off between the two threads
//!   (a crossbeam send; the statistics thread wakes once per batch of samples, not per sample),
//!   which `stats::run` adds; and the daemon builds a view only when a request wants one, not at
//!   every tick as this does (the view's cost is what a request after a sample pays). Each sample
//!   is stamped one interval (10 s) after the last, as the daemon's ticker spaces them, so that
//!   the rate windows hold as many slots as in steady state.
//!
//! Output: one JSON object on one line of stdout, with these keys (times in nanoseconds of wall
//! time per iteration):
//! - `interfaces`: interfaces in the last sample; `iterations`: K;
//! - `floor_open_read_ns_median`, `floor_open_read_ns_p90`, `floor_pread_ns_median`,
//!   `floor_pread_ns_p90`, `sample_ns_median`, `sample_ns_p90`;
//! - `ratio`: `sample_ns_median / floor_open_read_ns_median` (the goal is at most 1.25);
//! - `read_parse_ns_median`, `read_parse_ns_p90`: the `Sampler::sample` part of `sample` alone;
//! - `allocs_per_sample_read_parse`: heap allocations per `Sampler::sample` call, mean over the
//!   measured iterations (the goal is 0); `allocs_per_sample_total`: the same for the whole tick;
//! - `live_bytes_growth`: live heap bytes after sample K minus after sample min(1000, K/2) (the
//!   goal is 0: nothing grows with the number of samples);
//! - `ring_bytes_per_interface`: live heap bytes `Stats` holds per interface once every ring is
//!   allocated, measured by the counting allocator around the first `Stats::apply`;
//! - `view_bytes_per_interface`: live heap bytes of one published view, per interface;
//! - `fresh_interfaces_ns_median`, `fresh_stats_ns_median`, `fresh_metrics_ns_median`: one
//!   reply made afresh by `api::handle` (no cache) from the last view: `/api/v1/interfaces`,
//!   `/api/v1/interface/lo/stats` and `/metrics`, CPU of the reply alone (no socket), median of
//!   K/10 (at least 20) calls each. The daemon makes these once per view and copies them for the
//!   next requests until the next sample (`api::ViewCache`); a scraper that asks once per
//!   interval or less often pays this every time.
//!
//! Keys are only ever added, never renamed: a harness runs this in namespaces of 4, 100 and 1000
//! veth interfaces and reads them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
#[allow(clippy::disallowed_types)]
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use ifstatsd::sample::filter::Filter;
use ifstatsd::sample::snapshot::{Sample, Snapshot};
use ifstatsd::sample::Sampler;
use ifstatsd::sample::DEFAULT_SYSFS;
use ifstatsd::serve::api::{self, Clock};
use ifstatsd::serve::routes;
use ifstatsd::stats::view::SharedView;
use ifstatsd::stats::Stats;

/// The system allocator, counting allocations and live bytes.
struct Counting;

// 64-bit atomics are kept out of the daemon (clippy.toml: 32-bit MIPS has none); this benchmark
// runs on the build host only.
#[allow(clippy::disallowed_types)]
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
#[allow(clippy::disallowed_types)]
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s contract;
// the counters are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        LIVE_BYTES.fetch_add(layout.size() as i64, Relaxed);
        // SAFETY: the caller's contract for `alloc` is the same as `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        LIVE_BYTES.fetch_add(layout.size() as i64, Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Relaxed);
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Relaxed);
        // SAFETY: as for `dealloc`, and `new_size` is the caller's valid size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.load(Relaxed)
}

fn live_bytes() -> i64 {
    LIVE_BYTES.load(Relaxed)
}

struct Args {
    iterations: usize,
    source: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        iterations: 2000,
        source: PathBuf::from("/proc/net/dev"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--iterations" => {
                let value = it.next().ok_or("--iterations needs a value")?;
                args.iterations = value
                    .parse()
                    .ok()
                    .filter(|&k| k > 0)
                    .ok_or(format!("--iterations {value}: not a positive integer"))?;
            }
            "--source" => args.source = it.next().ok_or("--source needs a path")?.into(),
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// The floor: open, read to the end into `buffer`, close.
fn open_read(source: &Path, buffer: &mut Vec<u8>) -> usize {
    buffer.clear();
    let mut file = File::open(source).expect("open the source");
    file.read_to_end(buffer).expect("read the source")
}

/// The second floor: `pread` from offset 0 to the end on a kept descriptor.
fn pread(file: &File, buffer: &mut Vec<u8>) -> usize {
    let mut filled = 0;
    loop {
        if filled == buffer.len() {
            buffer.resize(buffer.len() * 2, 0); // only while warming up
        }
        match file.read_at(&mut buffer[filled..], filled as u64) {
            Ok(0) => return filled,
            Ok(n) => filled += n,
            Err(e) => panic!("pread the source: {e}"),
        }
    }
}

/// The daemon's whole tick: the sampler's, then the stats thread's.
/// The daemon's clock as its ticker drives it: one interval further on every tick, so that the
/// rings hold what they hold in steady state (six slots in the 1-minute window at 10 s, not a
/// whole ring of samples microseconds apart).
struct TickClock {
    start: Instant,
    interval: Duration,
    ticks: u32,
}

impl TickClock {
    fn next(&mut self) -> Instant {
        self.ticks += 1;
        self.start + self.interval * self.ticks
    }
}

fn tick(
    sampler: &mut Sampler,
    spent: &Sender<Snapshot>,
    stats: &mut Stats,
    shared: &SharedView,
    clock: &mut TickClock,
) -> (usize, u64, u64) {
    let before = allocations();
    let start = Instant::now();
    let mut sample: Sample = sampler.sample();
    let read_parse_ns = elapsed_ns(start);
    sample.taken_at = clock.next();
    let read_parse_allocations = allocations() - before;
    let interfaces = sample.result.as_ref().map_or(0, |s| s.interfaces.len());
    if let Some(snapshot) = stats.apply(sample) {
        let _ = spent.try_send(snapshot);
    }
    shared.publish(stats.view(), 0);
    (interfaces, read_parse_allocations, read_parse_ns)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn elapsed_ns(start: Instant) -> u64 {
    start.elapsed().as_nanos() as u64
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("sampling: {e}");
        std::process::exit(2);
    });
    let source = &args.source;
    let interval = Duration::from_secs(10);
    let mut sampler = Sampler::new(source, Path::new(DEFAULT_SYSFS), Filter::default());
    let spent = sampler.recycler();
    let mut stats = Stats::new(&source.display().to_string(), interval);
    stats.set_max_interfaces(usize::MAX);

    // The statistics' own memory: around the first apply, which allocates every ring. The sample
    // applied is a copy whose heap size is measured as it is made, as `apply` frees it.
    let mut clock = TickClock {
        start: Instant::now(),
        interval,
        ticks: 0,
    };
    let mut first = sampler.sample();
    first.taken_at = clock.next();
    let before_copy = live_bytes();
    let copy = first.clone();
    let sample_bytes = live_bytes() - before_copy;
    let before_apply = live_bytes();
    stats.apply(copy);
    let stats_bytes = live_bytes() - before_apply + sample_bytes;
    drop(first);
    let before_view = live_bytes();
    let view = stats.view();
    let view_bytes = live_bytes() - before_view;
    let shared = SharedView::new(view);

    let mut open_buffer = Vec::with_capacity(1 << 16);
    let kept = File::open(source).expect("open the source");
    let mut pread_buffer = vec![0u8; 1 << 16];
    let warm_up = (args.iterations / 10).max(50);
    for _ in 0..warm_up {
        open_read(source, &mut open_buffer);
        pread(&kept, &mut pread_buffer);
        tick(&mut sampler, &spent, &mut stats, &shared, &mut clock);
    }

    let k = args.iterations;
    let growth_from = 1000.min(k / 2);
    let (mut open_ns, mut pread_ns, mut sample_ns) = (vec![0; k], vec![0; k], vec![0; k]);
    let mut read_parse_ns = vec![0; k];
    let (mut read_parse_allocations, mut total_allocations) = (0, 0);
    let (mut interfaces, mut live_at_growth_from) = (0, live_bytes());
    for i in 0..k {
        let start = Instant::now();
        open_read(source, &mut open_buffer);
        open_ns[i] = elapsed_ns(start);

        let start = Instant::now();
        pread(&kept, &mut pread_buffer);
        pread_ns[i] = elapsed_ns(start);

        let before = allocations();
        let start = Instant::now();
        let (n, allocs, read_parse) = tick(&mut sampler, &spent, &mut stats, &shared, &mut clock);
        sample_ns[i] = elapsed_ns(start);
        read_parse_ns[i] = read_parse;
        total_allocations += allocations() - before;
        read_parse_allocations += allocs;
        interfaces = n;
        if i + 1 == growth_from {
            live_at_growth_from = live_bytes();
        }
    }
    let live_bytes_growth = live_bytes() - live_at_growth_from;

    let view = shared.current();
    let clock = Clock {
        started: clock.start,
        now: Instant::now(),
    };
    let fresh_ns = |target: &str| {
        let route = routes::route("GET", target);
        let mut times: Vec<u64> = (0..(k / 10).max(20))
            .map(|_| {
                let start = Instant::now();
                let reply = api::handle(&route, &view, clock);
                let took = elapsed_ns(start);
                assert_eq!(reply.status, 200, "{target}");
                took
            })
            .collect();
        times.sort_unstable();
        percentile(&times, 0.5)
    };
    let fresh = [
        fresh_ns("/api/v1/interfaces"),
        fresh_ns("/api/v1/interface/lo/stats"),
        fresh_ns("/metrics"),
    ];

    for times in [
        &mut open_ns,
        &mut pread_ns,
        &mut sample_ns,
        &mut read_parse_ns,
    ] {
        times.sort_unstable();
    }
    let (open_median, sample_median) = (percentile(&open_ns, 0.5), percentile(&sample_ns, 0.5));
    let per_interface = |bytes: i64| bytes as f64 / interfaces.max(1) as f64;
    println!(
        "{{\"interfaces\":{interfaces},\"iterations\":{k},\
         \"floor_open_read_ns_median\":{open_median},\"floor_open_read_ns_p90\":{},\
         \"floor_pread_ns_median\":{},\"floor_pread_ns_p90\":{},\
         \"sample_ns_median\":{sample_median},\"sample_ns_p90\":{},\"ratio\":{:.3},\
         \"read_parse_ns_median\":{},\"read_parse_ns_p90\":{},\
         \"allocs_per_sample_read_parse\":{:.2},\"allocs_per_sample_total\":{:.2},\
         \"live_bytes_growth\":{live_bytes_growth},\"ring_bytes_per_interface\":{:.0},\
         \"view_bytes_per_interface\":{:.0},\"fresh_interfaces_ns_median\":{},\
         \"fresh_stats_ns_median\":{},\"fresh_metrics_ns_median\":{}}}",
        percentile(&open_ns, 0.9),
        percentile(&pread_ns, 0.5),
        percentile(&pread_ns, 0.9),
        percentile(&sample_ns, 0.9),
        sample_median as f64 / open_median.max(1) as f64,
        percentile(&read_parse_ns, 0.5),
        percentile(&read_parse_ns, 0.9),
        read_parse_allocations as f64 / k as f64,
        total_allocations as f64 / k as f64,
        per_interface(stats_bytes),
        per_interface(view_bytes),
        fresh[0],
        fresh[1],
        fresh[2],
    );
}
