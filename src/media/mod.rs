//! Media sources: still images, video files, image sequences, cameras and network streams,
//! decoded by FFmpeg off the frame thread into latest-frame mailboxes (docs/media.md).
//!
//! - [`process`]: the `ffmpeg` program as a child process over pipes (shared with recording).

pub mod process;

pub use process::{Ffmpeg, ProcessError};
