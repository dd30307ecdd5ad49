//! ifstatsd turns `/proc/net/dev` into live per-interface traffic statistics over HTTP.
//!
//! The data flows through three threads, and the folders follow it, each stage using only the
//! ones before it (`tests/layout.rs` checks that no two modules import each other):
//!
//! ```text
//! sample/  the sampler thread: reads and parses /proc/net/dev (proc_net_dev, a pure parser),
//!    |     adds link state (netlink), filters interfaces (filter)
//!    |  Sample over a crossbeam channel (snapshot::hand_off), where samples wait: the
//!    |  statistics thread wakes for a batch, not for each; applied Snapshots come back for reuse
//!    v
//! stats/   the statistics thread: one ring per interface (slot_ring, ring), the rate
//!    |     arithmetic (rates), the daily and monthly totals in local time (usage, calendar,
//!    |     tz), and the immutable view it publishes when a request wants one (view)
//!    |  Arc<StatsView>, cloned by the request loop; when samples are newer than it, the loop
//!    |  asks for a view of them and waits up to 250 ms (then serves the one it has)
//!    v
//! serve/   the one request loop on tiny_http: routes, the JSON API (api), Prometheus (metrics),
//!          the dashboard and Swagger UI (dashboard, docs), and the guard around tiny_http
//!          (reaper, watchdog, sockets, activity)
//!
//! store/   the state file: saved by the statistics thread, restored at start-up
//! ```
//!
//! At the top, beside the stages: `config` (the command line), `logging`, `shutdown` (the signal
//! thread), `restart` (the seamless restart in a new process image), `activation` (a listening
//! socket passed by systemd or by the previous image), `memory` (the allocator).

#![deny(unsafe_code)] // exceptions, with their reasons: reaper, memory, netlink, uname, activation, restart
#![warn(missing_docs)]

/// The daemon's version, as `--version`, `/health` and `/metrics` give it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod activation;
pub mod config;
pub mod logging;
pub mod memory;
pub mod restart;
pub mod sample;
pub mod serve;
pub mod shutdown;
pub mod stats;
pub mod store;
