//! The ifstatsd daemon: configuration, logging, signals, the first sample, the threads, the loop.

use std::error::Error;
use std::io;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use ifstatsd::config::{self, Command, Config};
use ifstatsd::sample::{self, Sampler, ScrapeReader};
use ifstatsd::serve;
use ifstatsd::serve::activity::Activity;
use ifstatsd::serve::reaper::{self, Limits, QuietWatch, Restarter};
use ifstatsd::shutdown::{self, Stoppers};
use ifstatsd::stats::tz;
use ifstatsd::stats::usage::Accounting;
use ifstatsd::stats::view::SharedView;
use ifstatsd::stats::{self, Stats};
use ifstatsd::store::state;
use ifstatsd::store::{self, Saver};
use ifstatsd::{activation, logging, restart};

/// Large blocks mapped without a reservation: a hostile body length must not abort the process
/// (see `ifstatsd::memory`).
#[global_allocator]
static ALLOCATOR: ifstatsd::memory::Allocator = ifstatsd::memory::Allocator;

fn main() -> ExitCode {
    // First, before any thread or file: it takes descriptor 3 and edits the environment.
    let inherited = activation::inherited_listener();
    ifstatsd::memory::configure();
    match config::parse_args(std::env::args_os().skip(1)) {
        Ok(Command::Run(config)) => match run(*config, inherited) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ifstatsd: {e}");
                ExitCode::from(1)
            }
        },
        Ok(Command::Help) => {
            print!("{}", config::HELP);
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("ifstatsd {}", ifstatsd::VERSION);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ifstatsd: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the daemon, on the listener `inherited` by socket activation if there is one.
fn run(config: Config, inherited: io::Result<Option<TcpListener>>) -> Result<(), Box<dyn Error>> {
    let inherited = inherited.map_err(|e| format!("socket activation: {e}"))?;
    logging::init(config.log_level, config.log_target)?;
    // One log line per panic (tiny_http's, caught in the request loop), not a backtrace on stderr.
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string().replace('\n', " ");
        log::error!("panic: {message}");
    }));
    // What a previous image of this process handed over (before any thread starts).
    let handoff = restart::inherited();
    restart::reserve_descriptors(inherited.is_some())
        .map_err(|e| format!("cannot keep descriptors 3 and 4 for a restart: {e}"))?;
    let signals = shutdown::signals()?;
    let descriptors = reaper::raise_descriptor_limit();
    let mut started = Instant::now();
    let mut last_restart = None;

    // The statistics are taken over from the previous image, or restored from the state file;
    // then the first sample is taken, before anything is served. A source unreadable now is
    // fatal.
    let mut stats = Stats::new(&config.source.display().to_string(), config.interval);
    stats.set_max_interfaces(config.max_interfaces);
    stats.set_link_speeds(config.link_speeds.clone());
    for (name, _) in &config.quotas {
        if !config.filter.keeps(name) {
            log::warn!("--quota {name}: --include/--exclude leave {name} out; it is never counted");
        }
    }
    let tz = tz::system();
    let zone = format!("{} (from {})", tz.name, tz.source.as_str());
    stats.set_accounting(Accounting {
        tz,
        billing_day: config.billing_day,
        quotas: config.quotas.clone(),
    });
    let taken_over = match handoff {
        Some(Ok(handoff)) => {
            let gap = restart::monotonic_now().saturating_sub(handoff.handed_at);
            started = started
                .checked_sub(handoff.daemon_age + gap)
                .unwrap_or(started);
            last_restart = Some(Instant::now());
            let restarts = handoff.restarts.total;
            let interfaces = stats.take_over(handoff, gap);
            log::info!(
                "restarted in a new process image (restart {restarts}): {interfaces} interfaces \
                 taken over after {:.1} ms",
                gap.as_secs_f64() * 1e3
            );
            true
        }
        Some(Err(e)) => {
            log::warn!("{e}; starting from the state file, if any");
            false
        }
        None => false,
    };
    let saver = config.state_file.as_deref().map(|path| {
        let boot_id = state::read_boot_id(&config.boot_id_file);
        stats.set_state_file(&path.display().to_string());
        if !taken_over {
            store::restore(&mut stats, path, &boot_id);
        }
        Saver::new(path, config.save_interval, boot_id)
    });
    let mut sampler = Sampler::new(&config.source, &config.sysfs, config.filter.clone());
    stats.apply(sampler.first_sample()?);
    let shared = Arc::new(SharedView::new(stats.view()));

    let listener = match inherited {
        Some(listener) => {
            let addr = listener.local_addr()?;
            let from = if taken_over {
                "the previous process image"
            } else {
                "socket activation"
            };
            log::info!("listening on {addr} (inherited: {from})");
            listener
        }
        None => {
            let listen = config.listen;
            if !serve::is_local_now(listen) {
                log::info!(
                    "{} is not an address of this host yet: serving once it is",
                    listen.ip()
                );
            }
            serve::listen(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?
        }
    };
    let server = serve::server_on(listener, config.write_timeout)
        .map_err(|e| format!("cannot serve on the listening socket: {e}"))?;
    let server = Arc::new(server);
    let (outbox, inbox, doorbell) = sample::snapshot::hand_off();
    let spent_tx = sampler.recycler();
    let (stop_tx, stop_rx) = crossbeam_channel::bounded(0);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    let stopping = Arc::new(AtomicBool::new(false));
    let (handoff_tx, handoff_rx) = crossbeam_channel::bounded(1);

    let interval = config.interval;
    let reaper_stop = stop_rx.clone();
    let (quiet_watch, nudge) = QuietWatch::new()?;
    let sampler = thread::Builder::new()
        .name("sampler".into())
        .spawn(move || sample::run(sampler, interval, outbox, stop_rx, || nudge.check()))?;
    let stats = thread::Builder::new().name("stats".into()).spawn({
        let shared = Arc::clone(&shared);
        move || stats::run(stats, inbox, spent_tx, &shared, saver, handoff_rx)
    })?;
    let stoppers = Stoppers {
        stopping: Arc::clone(&stopping),
        sampler: stop_tx,
        server: Arc::clone(&server),
        done: done_rx,
    };
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || shutdown::run(signals, stoppers))?;

    let addr = serve::local_addr(&server).unwrap_or(config.listen);
    let activity = Activity::default();
    let limits = Limits {
        idle_timeout: config.idle_timeout,
        max_connections: config.max_connections,
    };
    let restarter = Restarter {
        handoffs: handoff_tx,
        started,
        last_restart,
        hard_max_stuck: reaper::hard_max_stuck(descriptors, config.max_connections),
        last_failure: None,
    };
    thread::Builder::new().name("reaper".into()).spawn({
        let activity = activity.clone();
        move || reaper::run(addr, limits, activity, restarter, quiet_watch, reaper_stop)
    })?;
    log::info!(
        "serving http://{addr}/ every {:?} from {}; days in time zone {zone}",
        interval,
        config.source.display()
    );
    let scrape = ScrapeReader::new(&config.source, config.filter.clone());
    let served = serve::Loop::new(&shared, started, &stopping, activity, addr.port())
        .with_scrape_reader(scrape)
        .with_doorbell(doorbell)
        .serve(&server);
    if let Err(e) = served {
        // The listening socket went with tiny_http's accept thread: the reaper's watchdog sees
        // it closed at its next look and restarts the daemon in a new image, which binds again.
        log::error!("the HTTP server stopped accepting connections: {e}");
        loop {
            thread::park();
        }
    }

    // A signal ended the loop: the sampler is stopping, and the stats thread follows it.
    for (name, thread) in [("sampler", sampler), ("stats", stats)] {
        if thread.join().is_err() {
            log::error!("the {name} thread panicked");
        }
    }
    drop(done_tx);
    log::info!("stopped");
    Ok(())
}
