//! ifstatsd turns `/proc/net/dev` into live per-interface traffic statistics over HTTP.
//!
//! The data flows through three threads, and the modules follow it:
//!
//! ```text
//! proc_net_dev (pure parser)
//!      |
//! sampler thread --Sample over a crossbeam channel--> stats thread (slot_ring, rates)
//!   (netlink: link state) <--the applied Snapshot back--      |
//!                                              publishes an Arc<StatsView>
//!                                                          |
//! HTTP request loop (http) --routes, api--> clones the latest view, answers
//! ```
//!
//! Beside them:
//! - `shutdown`: the signal thread, which stops them all on SIGTERM or SIGINT;
//! - `persist` and `state`: the state file, saved by the stats thread and restored at start-up;
//! - `reaper`, with its `watchdog` look: the thread that guards tiny_http from hostile or stuck
//!   clients, and ends a daemon that cannot serve any more;
//! - `metrics`, `dashboard`, `docs`: the Prometheus text, the dashboard page and Swagger UI,
//!   rendered by `api` from the same view;
//! - `config`, `filter`, `logging`: the command line, the interface globs, the log;
//! - `activation`: the listening socket passed by systemd (socket activation), if any.

#![deny(unsafe_code)] // exceptions, with their reasons: reaper, memory, netlink, activation, restart
#![warn(missing_docs)]

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
