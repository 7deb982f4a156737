//! Media through FFmpeg. Sources: still images, video files, image sequences, cameras and
//! network streams, decoded off the frame thread into latest-frame mailboxes (docs/media.md).
//! An input service beside `audio/`: the runtime starts a [`MediaSet`] with a scene, and each
//! frame hands its newest frames to the textures `render/` owns. Outputs: the show recorded
//! or streamed with sound.
//!
//! - [`process`]: the `ffmpeg` program as a child process over pipes (sources and outputs).
//! - [`input`]: what `ffmpeg` reads for each kind of source, the `fit` filters, cameras.
//! - [`source`]: one source's decoding thread and mailbox.
//! - [`codec`]: what an encode asks for, turned into ffmpeg's arguments (codec, encoder,
//!   container, quality, sound, low latency).
//! - [`encoders`]: the encoders this ffmpeg offers.
//! - [`encode`]: the encoder: frames into ffmpeg's stdin from a thread of its own, behind a
//!   bounded queue (an offline render waits; the live window drops and counts).

pub mod codec;
pub mod encode;
pub mod encoders;
pub mod input;
pub mod process;
pub mod source;

use std::time::Duration;

pub use input::{Camera, InputArgs, camera_modes, fit_filter, list_cameras};
pub use process::{Ffmpeg, KillSwitch, ProcessError};
pub use source::{Source, SourceState};

use crate::diag::{Diagnostic, Diagnostics};
use crate::scene::{MediaDef, Scene};

/// Longest a load waits for a source's first frame before calling it failed.
pub const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(20);

/// Errors from starting a scene's media.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Sources that failed, located at their `[[media]]` tables.
    #[error("{0}")]
    Sources(Diagnostics),
    /// FFmpeg itself.
    #[error(transparent)]
    Process(#[from] ProcessError),
}

impl MediaError {
    /// The located problems.
    #[must_use]
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Sources(d) => d.0.clone(),
            Self::Process(_) => Vec::new(),
        }
    }
}

/// How strictly a scene's media start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// `check` and `render`: every source must give a first frame, cameras included.
    Strict,
    /// `run`: files must decode (a bad file fails the load, the last good scene plays on);
    /// a missing camera or stream is logged and retried while the scene shows its other
    /// layers.
    Live,
}

/// A scene's media sources, in scene order.
#[derive(Debug, Default)]
pub struct MediaSet {
    sources: Vec<Source>,
    defs: Vec<MediaDef>,
}

impl MediaSet {
    /// Starts every `[[media]]` source of `scene` and waits for the first frame of each (of
    /// live sources only when `Strict`).
    ///
    /// # Errors
    /// [`MediaError::Sources`] naming each failed source at its scene line, with FFmpeg's
    /// reason; [`MediaError::Process`] when there is no `ffmpeg`.
    pub fn start(scene: &Scene, strictness: Strictness) -> Result<Self, MediaError> {
        if scene.media.is_empty() {
            return Ok(Self::default());
        }
        process::program()?;
        let mut sources = Vec::new();
        let mut defs = Vec::new();
        let mut problems = Vec::new();
        for def in &scene.media {
            let def = effective(def);
            match Source::start(&def) {
                Ok(s) => sources.push(s),
                Err(e) => problems.push(located(scene, &def, &format!("cannot start: {e}"))),
            }
            defs.push(def);
        }
        if problems.is_empty() {
            // Started side by side; waited for in turn.
            for (def, source) in defs.iter().zip(&sources) {
                if strictness == Strictness::Live && def.input.is_live() {
                    continue;
                }
                if let Err(e) = source.wait_first(FIRST_FRAME_TIMEOUT) {
                    problems.push(located(scene, def, &e));
                }
            }
        }
        if !problems.is_empty() {
            return Err(MediaError::Sources(Diagnostics(problems)));
        }
        for (def, source) in defs.iter().zip(&sources) {
            if def.input.is_live() && !matches!(source.state(), SourceState::Running) {
                tracing::warn!(
                    "media `{}`: {} is not there yet; retrying while the scene plays",
                    def.name,
                    def.input.describe()
                );
            }
        }
        Ok(Self { sources, defs })
    }

    /// True when the scene has no media.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The sources, in scene order.
    #[must_use]
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// One frame: every source moves to scene time `time_secs` and `upload` gets each new
    /// frame (source index, RGBA8 pixels). With `exact` (offline renders), file sources are
    /// waited for until they hold the frame of this time (at most `timeout` each).
    pub fn frame(
        &mut self,
        time_secs: f64,
        dt_secs: f32,
        params: &[f32],
        exact: Option<Duration>,
        mut upload: impl FnMut(usize, &[u8]),
    ) {
        for (i, (source, def)) in self.sources.iter_mut().zip(&self.defs).enumerate() {
            source.advance(def, time_secs, dt_secs, params);
            if let Some(pixels) = source.take(exact.is_some(), exact.unwrap_or_default()) {
                upload(i, pixels);
            }
        }
    }

    /// Hands `upload` the frame each source last gave (for textures made anew: a resize, a
    /// rebuilt device).
    pub fn upload_last(&self, mut upload: impl FnMut(usize, &[u8])) {
        for (i, source) in self.sources.iter().enumerate() {
            if let Some(pixels) = source.last_frame() {
                upload(i, pixels);
            }
        }
    }

    /// Sources without a fresh picture now (failed, or live and silent).
    #[must_use]
    pub fn stalled(&self) -> usize {
        self.sources.iter().filter(|s| s.stalled()).count()
    }
}

/// `def`, or its fallback file when it is a camera that is not there.
fn effective(def: &MediaDef) -> MediaDef {
    let missing =
        matches!(def.input, crate::scene::MediaInput::Camera(_)) && input::live_args(def).is_err();
    match def.with_fallback() {
        Some(fallback) if missing => {
            tracing::info!(
                "media `{}`: {} is not there; showing its fallback {}",
                def.name,
                def.input.describe(),
                fallback.input.describe()
            );
            fallback
        }
        _ => def.clone(),
    }
}

/// A problem of media source `def`, located at its source key in the scene file.
fn located(scene: &Scene, def: &MediaDef, message: &str) -> Diagnostic {
    Diagnostic::at(
        &scene.path,
        def.input_at.line,
        def.input_at.col,
        format!("media `{}`: {}: {message}", def.name, def.input.describe()),
    )
}
