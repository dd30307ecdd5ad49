//! ifstatsd turns `/proc/net/dev` into live per-interface traffic statistics over HTTP.
//!
//! The data flows through three threads, and the modules follow it:
//!
//! ```text
//! proc_net_dev (pure parser)
//!      |
//! sampler thread --Sample over a crossbeam channel--> stats thread (ring, rates)
//!                                                          |
//!                                              publishes an Arc<StatsView>
//!                                                          |
//! HTTP request loop (http) --routes, api--> clones the latest view, answers
//! ```
//!
//! The signal thread (`shutdown`) stops them all on SIGTERM or SIGINT.

#![deny(unsafe_code)] // one exception, with its reasons: src/reaper.rs
#![warn(missing_docs)]

pub mod api;
pub mod config;
pub mod dashboard;
pub mod docs;
pub mod filter;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod persist;
pub mod proc_net_dev;
pub mod rates;
pub mod reaper;
pub mod ring;
pub mod routes;
pub mod sampler;
pub mod shutdown;
pub mod snapshot;
pub mod state;
pub mod stats;
pub mod view;
pub mod watchdog;
