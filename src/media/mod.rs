//! Media through FFmpeg: sources (still images, video files, image sequences, cameras and
//! network streams, decoded off the frame thread into latest-frame mailboxes) and outputs
//! (recording and streaming the show, with sound). docs/media.md.
//!
//! - [`process`]: the `ffmpeg` program as a child process over pipes (sources and outputs).
//! - [`codec`]: what an encode asks for, turned into ffmpeg's arguments (codec, encoder,
//!   container, quality, sound, low latency).
//! - [`encoders`]: the encoders this ffmpeg offers.
//! - [`encode`]: the encoder: frames into ffmpeg's stdin from a thread of its own, behind a
//!   bounded queue (an offline render waits; the live window drops and counts).

pub mod codec;
pub mod encode;
pub mod encoders;
pub mod process;

pub use process::{Ffmpeg, ProcessError};
