//! MIDI: controllers, MIDI learn, feedback and MIDI clock (midir; ALSA on Linux, JACK with
//! the `midi-jack` feature), and Ableton Link behind the `link` feature. An input service
//! beside `osc/`: the runtime applies its events each frame (docs/midi.md, docs/tempo.md).
//!
//! ```text
//!  MIDI ports --midir callback: stamp, try_send--> bounded channel (overflow counted)
//!      --> Midi::drain in the frame loop: params, program change, tap, learn, clock
//!  frame loop --Midi::feedback--> bounded channel --> hypna-midi thread --> output ports
//!  hypna-midi thread: port scan every poll_secs (hot-plug), feedback, saving learned bindings
//! ```
//!
//! - [`message`]: MIDI bytes in and out.
//! - [`map`]: bindings, scaling into param ranges, 14-bit pairs, feedback values, learn.
//! - [`clock`]: tempo and position from MIDI clock, as a [`Tempo`] like every beat source.
//! - `ports`: the thread (midir).
//! - [`service`]: the frame's side ([`Midi`]).

pub mod clock;
#[cfg(feature = "link")]
pub mod link;
pub mod map;
pub mod message;
mod ports;
pub mod service;

pub use clock::{MidiClock, Tempo};
pub use message::MidiMessage;
pub use ports::CLIENT;
pub use service::{Midi, MidiAction, MidiStatus};

/// Errors from starting MIDI.
#[derive(Debug, thiserror::Error)]
pub enum MidiError {
    /// The MIDI thread could not be started.
    #[error("MIDI: cannot start the MIDI thread: {0}")]
    Thread(std::io::Error),
}
