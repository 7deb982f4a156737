//! OSC input and feedback: a UDP server (rosc) that turns messages from controllers into
//! events for the frame loop, and sends replies and feedback back.
//!
//! ```text
//!  UDP socket --hypna-osc-rx thread: allow list, size, check, decode, bundles, routing-->
//!      bounded ring (rtrb; overflow counted) --> OscHandle::drain(now) in the frame loop
//!  frame loop --OscHandle::feedback / reply_*--> bounded channel --> hypna-osc-tx thread --> UDP
//! ```
//!
//! Neither thread ever waits on the frame loop and the frame loop never waits on them. What
//! is dropped is counted ([`Counter`]) and reported in `/hypna/status`; the first problem of
//! each kind is logged, then a summary at most every 10 s. The address space, argument types
//! and replies are documented in `docs/osc.md`.
//!
//! Wiring: build a [`RouteTable`] from the scene's params, [`start_or_log`] once, call
//! [`OscHandle::drain`] every frame and apply the events in order, answer `Query` and
//! `Status` events with [`OscHandle::reply_params`] and [`OscHandle::reply_status`], call
//! [`OscHandle::feedback`] with the param values each frame, and [`OscHandle::set_routes`]
//! after a scene (re)load.

mod backlog;
pub mod counters;
mod feedback;
mod ingest;
pub mod pattern;
pub mod route;
mod server;
mod shared;
mod socket;
pub mod wire;

pub use crate::scene::osc::{
    FeedbackTarget, IpNet, OscAlias, OscAliases, OscConfig, OscConfigError,
};
pub use counters::{Counter, CounterSnapshot};
pub use feedback::{AudioEcho, StatusInfo};
pub use route::{OscEvent, ParamRoute, RouteTable, SceneRequest};
pub use server::{OscHandle, OscThread, RX_THREAD, start, start_or_log};
pub use wire::{ntp_delta, ntp_from_system_time, system_time_from_ntp};

use std::net::SocketAddr;

/// Errors from starting the OSC server or building its routes.
#[derive(Debug, thiserror::Error)]
pub enum OscError {
    /// The listen address could not be bound (port in use, no permission, no such interface).
    #[error("OSC: cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A setting is out of range.
    #[error("OSC settings: {0}")]
    Config(String),
    /// A param cannot be routed (bad name, range or alias).
    #[error("OSC route for param `{param}`: {reason}")]
    Route {
        /// The param.
        param: String,
        /// What is wrong.
        reason: String,
    },
    /// A thread could not be spawned.
    #[error("cannot start the {0} thread: {1}")]
    Thread(&'static str, #[source] std::io::Error),
    /// A socket operation of the benchmark failed.
    #[error("OSC benchmark: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks, decodes and routes `messages` packets in-process, round-robin from `packets`, as
/// the socket thread does (no socket, no ring), and returns how many events came out: the
/// decode rate `hypna bench --osc` times.
#[must_use]
pub fn route_in_process(routes: &RouteTable, packets: &[Vec<u8>], messages: usize) -> u64 {
    let counters = counters::OscCounters::default();
    let mut ingest = ingest::Ingest::new(&counters, 60.0);
    let arrival = ingest::Arrival {
        from: SocketAddr::from(([127, 0, 0, 1], 1)),
        at: std::time::Instant::now(),
        wall: std::time::SystemTime::now(),
    };
    let mut events = 0u64;
    for i in 0..messages {
        let p = packets
            .get(i % packets.len().max(1))
            .map_or(&[][..], Vec::as_slice);
        ingest.packet(p, arrival, routes, &mut |_| events += 1);
    }
    events
}

impl From<OscConfigError> for OscError {
    fn from(e: OscConfigError) -> Self {
        Self::Config(e.0)
    }
}
