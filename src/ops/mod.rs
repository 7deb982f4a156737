//! Operations: what an unattended show needs around the frame loop, plugged in from the top
//! (the frame core never calls up here; it exposes counters and hooks instead).
//!
//! - [`housekeeping`]: the window's frame hook for `hypna run`, and the janitor's nudges.
//! - [`logfile`]: a size-bounded rotating log file for weeks-long runs.
//! - [`memory`]: a janitor that gives freed heap memory back to the system after switches.
//! - [`health`]: one grep-friendly status line (fps, models, audio, OSC, memory).
//! - [`remote`]: the browser remote and OSCQuery server fed from the show after each frame.
//! - [`paramlog`]: live param changes written to a file and replayed into offline renders.
//!
//! Nothing here reads a clock on its own where a rule depends on time: time comes in as
//! arguments, so every rule is tested with injected times.

pub mod health;
pub mod housekeeping;
pub mod logfile;
pub mod memory;
pub mod paramlog;
pub mod remote;

pub use housekeeping::{Housekeeping, Janitor};
pub use remote::RemoteOps;
