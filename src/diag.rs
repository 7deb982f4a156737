//! Diagnostics that point into an author's file: `path:line:col: message`.
//!
//! Every error an author can cause (scene TOML, WGSL, includes, `--set`) ends up as a
//! [`Diagnostic`], so the CLI, the log and (later) the on-screen overlay print them the same way.

use std::fmt;
use std::path::{Path, PathBuf};

/// One located problem in an author's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in (as given by the author, not canonicalised).
    pub file: PathBuf,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<u32>,
    /// 1-based column in bytes, when the problem has a place in the file.
    pub col: Option<u32>,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Extra lines (hints, the chain of causes).
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A problem with the whole file (no line or column).
    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            col: None,
            message: message.into(),
            notes: Vec::new(),
        }
    }

    /// A problem at a byte offset of `source`, the text of `file`.
    pub fn at_offset(
        file: impl Into<PathBuf>,
        source: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> Self {
        let (line, col) = line_col(source, offset);
        Self {
            file: file.into(),
            line: Some(line),
            col: Some(col),
            message: message.into(),
            notes: Vec::new(),
        }
    }

    /// A problem at a known line and column.
    pub fn at(file: impl Into<PathBuf>, line: u32, col: u32, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: Some(line),
            col: Some(col),
            message: message.into(),
            notes: Vec::new(),
        }
    }

    /// Adds a note line.
    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.col {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        for note in &self.notes {
            // Continuation lines (a source excerpt and its caret) line up under the first.
            write!(f, "\n  note: {}", note.replace('\n', "\n        "))?;
        }
        Ok(())
    }
}

/// A list of diagnostics printed one per line; the error type of whole-file checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// 1-based line and column (in bytes) of `offset` in `source`; offsets past the end clamp.
#[must_use]
pub fn line_col(source: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(source.len());
    let before = &source.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    (to_u32(line), to_u32(offset - line_start + 1))
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Shows `path` relative to the current directory when it is below it (shorter messages).
#[must_use]
pub fn display_path(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let src = "ab\ncd\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 1), (1, 2));
        assert_eq!(line_col(src, 3), (2, 1));
        assert_eq!(line_col(src, 4), (2, 2));
        assert_eq!(line_col(src, 100), (3, 1));
    }

    #[test]
    fn display_has_file_line_col() {
        let d = Diagnostic::at("a.toml", 3, 7, "bad").with_note("hint");
        assert_eq!(d.to_string(), "a.toml:3:7: bad\n  note: hint");
        assert_eq!(
            Diagnostic::file("a.toml", "gone").to_string(),
            "a.toml: gone"
        );
    }
}
