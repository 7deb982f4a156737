//! Installation mode: what an unattended show needs beyond a single scene.
//!
//! - [`playlist`]: a playlist file (TOML) naming scenes, durations and transitions, and the
//!   [`playlist::Cursor`] that walks it on injected time.
//! - [`schedule`]: opening hours on civil local time, with fades at opening and closing.
//! - [`logfile`]: a size-bounded rotating log file for weeks-long runs.
//! - [`health`]: one grep-friendly status line (fps, models, audio, OSC, memory).
//! - [`memory`]: a janitor that gives freed heap memory back to the system after switches.
//!
//! Nothing here reads a clock on its own: time comes in as arguments, so every rule is tested
//! with injected times and the frame loop decides what "now" is.

pub mod health;
pub mod logfile;
pub mod memory;
pub mod playlist;
pub mod schedule;

use std::ops::Range;
use std::path::Path;

use crate::diag::Diagnostic;

/// Collects located errors while a file is checked (every problem, not just the first).
pub(crate) struct Ctx<'a> {
    pub(crate) path: &'a Path,
    pub(crate) source: &'a str,
    pub(crate) errors: Vec<Diagnostic>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(path: &'a Path, source: &'a str) -> Self {
        Self {
            path,
            source,
            errors: Vec::new(),
        }
    }

    /// Records a problem at the start of `span`.
    pub(crate) fn error(&mut self, span: &Range<usize>, message: impl Into<String>) {
        self.errors.push(Diagnostic::at_offset(
            self.path,
            self.source,
            span.start,
            message,
        ));
    }

    /// Records a problem at the start of `span` with a hint.
    pub(crate) fn error_note(
        &mut self,
        span: &Range<usize>,
        message: impl Into<String>,
        note: impl Into<String>,
    ) {
        self.errors.push(
            Diagnostic::at_offset(self.path, self.source, span.start, message).with_note(note),
        );
    }
}

/// Turns a TOML syntax or type error into a located diagnostic.
pub(crate) fn toml_error(path: &Path, source: &str, e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim_end().to_string();
    match e.span() {
        Some(span) => Diagnostic::at_offset(path, source, span.start, message),
        None => Diagnostic::file(path, message),
    }
}
