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
pub mod bench;
pub mod config;
pub mod counters;
mod feedback;
mod ingest;
pub mod pattern;
pub mod route;
mod server;
mod socket;
pub mod wire;

pub use config::{FeedbackTarget, IpNet, OscAlias, OscAliases, OscConfig};
pub use counters::{Counter, CounterSnapshot};
pub use feedback::{AudioEcho, StatusInfo};
pub use route::{OscEvent, ParamRoute, RouteTable, SceneRequest};
pub use server::{OscHandle, OscThread, start, start_or_log};
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
