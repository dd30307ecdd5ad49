//! What a Prometheus scrape costs now that `/metrics` reads the counters at the scrape (issue 13):
//! run it in a network namespace with the interfaces to measure (it reads that namespace's file).
//!
//! ```text
//! cargo bench --bench scrape -- [--iterations K]
//! ip netns exec NS $CARGO_TARGET_DIR/release/deps/scrape-<hash> [--iterations K]
//! ```
//!
//! After two samples of `/proc/net/dev` (rtnetlink link state, as the daemon takes them), each
//! iteration times, interleaved:
//! - `fresh`: what the request loop adds to a scrape: `ScrapeReader::read` (open, read, parse,
//!   filter), `metrics::fresh_counters`, `metrics::render_counters` (16 families) and `uname`;
//! - `reply`: the whole `/metrics` reply as the loop makes it with a warm `ViewCache`: the cached
//!   view families copied, then the part above and the daemon's families (no socket);
//! - `sampled`: the same reply with the sampled counters instead (no read at the scrape);
//! - `floor`: opening and reading the source into a kept buffer, nothing else.
//!
//! Times are the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time, so that other
//! processes on a busy machine do not count. Output: one JSON line, medians and 90th percentiles
//! in microseconds, and the interface count.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ifstatsd::sample::filter::Filter;
use ifstatsd::sample::{uname, Sampler, ScrapeReader, DEFAULT_SOURCE, DEFAULT_SYSFS};
use ifstatsd::serve::api::{self, Clock, ViewCache};
use ifstatsd::serve::metrics;
use ifstatsd::stats::Stats;

/// This thread's CPU time so far.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, writable timespec; the clock id is a constant Linux knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut iterations = 2000usize;
    while let Some(arg) = args.next() {
        if arg == "--iterations" {
            iterations = args
                .next()
                .and_then(|k| k.parse().ok())
                .expect("--iterations K");
        }
    }
    let source = Path::new(DEFAULT_SOURCE);
    let mut sampler = Sampler::new(source, Path::new(DEFAULT_SYSFS), Filter::default());
    let mut stats = Stats::new(DEFAULT_SOURCE, Duration::from_secs(10));
    let t0 = Instant::now();
    for k in 0..2u32 {
        let mut sample = sampler.sample();
        sample.taken_at = t0 + Duration::from_secs(10) * k;
        stats.apply(sample);
    }
    let view = Arc::new(stats.view());
    let mut reader = ScrapeReader::new(source, Filter::default());
    let mut cache = ViewCache::default();
    let clock = Clock {
        started: t0,
        now: Instant::now(),
    };
    let (mut fresh, mut reply, mut sampled) = (Vec::new(), Vec::new(), Vec::new());
    let (mut floor, mut buffer) = (Vec::new(), vec![0u8; 1 << 16]);
    for k in 0..iterations + iterations / 10 {
        let start = cpu_now();
        let counters = {
            let entries = reader.read().expect("the source");
            metrics::fresh_counters(&view, entries.map(|e| (e.name, e.counters)))
        };
        let mut text = String::with_capacity(64 * 1024);
        metrics::render_counters(&mut text, &view, &counters);
        let names = uname::uname();
        std::hint::black_box((&text, &names));
        let fresh_took = cpu_now() - start;

        let start = cpu_now();
        let counters = {
            let entries = reader.read().expect("the source");
            metrics::fresh_counters(&view, entries.map(|e| (e.name, e.counters)))
        };
        let names = uname::uname();
        let made = api::metrics_cached(&view, clock, &mut cache, &counters, names.as_ref());
        std::hint::black_box(&made);
        let reply_took = cpu_now() - start;

        let start = cpu_now();
        let counters = metrics::sampled_counters(&view);
        let made = api::metrics_cached(&view, clock, &mut cache, &counters, None);
        std::hint::black_box(&made);
        let sampled_took = cpu_now() - start;
        let start = cpu_now();
        let mut file = std::fs::File::open(source).expect("the source");
        while std::io::Read::read(&mut file, &mut buffer).expect("a read") > 0 {}
        let floor_took = cpu_now() - start;
        if k >= iterations / 10 {
            floor.push(floor_took);
            fresh.push(fresh_took);
            reply.push(reply_took);
            sampled.push(sampled_took);
        }
    }
    let us = |v: &mut Vec<Duration>, q: f64| {
        v.sort();
        v[((v.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6
    };
    println!(
        "{{\"interfaces\": {}, \"iterations\": {iterations}, \"fresh_us_median\": {:.1}, \
         \"fresh_us_p90\": {:.1}, \"reply_us_median\": {:.1}, \"reply_us_p90\": {:.1}, \
         \"sampled_reply_us_median\": {:.1}, \"sampled_reply_us_p90\": {:.1}, \
         \"floor_read_us_median\": {:.1}}}",
        view.interfaces.len(),
        us(&mut fresh, 0.5),
        us(&mut fresh, 0.9),
        us(&mut reply, 0.5),
        us(&mut reply, 0.9),
        us(&mut sampled, 0.5),
        us(&mut sampled, 0.9),
        us(&mut floor, 0.5),
    );
}
