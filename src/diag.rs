//! Diagnostics that point into an author's file: `path:line:col: message`.
//!
//! Every error an author can cause (scene TOML, WGSL, includes, `--set`, playlists,
//! schedules, settings) ends up as a [`Diagnostic`], so the CLI, the log and the on-screen
//! banner print them the same way. Every TOML file is read through [`from_toml`] (the one
//! mapping of a TOML error to a place) and checked with a [`Collector`] (every problem, not
//! just the first, each at the key that caused it).

use std::fmt;
use std::ops::Range;
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

/// Deserialises TOML `source`, read from `path`; a syntax or type error becomes a located
/// diagnostic (the one TOML-error mapping of hypna).
///
/// # Errors
/// The located TOML error.
pub fn from_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
    source: &str,
) -> Result<T, Diagnostic> {
    toml::from_str(source).map_err(|e| {
        let message = e.message().trim_end().to_string();
        match e.span() {
            Some(span) => Diagnostic::at_offset(path, source, span.start, message),
            None => Diagnostic::file(path, message),
        }
    })
}

/// Collects located problems while a file is checked: every problem, not just the first.
#[derive(Debug)]
pub struct Collector<'a> {
    path: &'a Path,
    source: &'a str,
    errors: Vec<Diagnostic>,
}

impl<'a> Collector<'a> {
    /// Nothing found yet in `source`, the text of `path`.
    #[must_use]
    pub fn new(path: &'a Path, source: &'a str) -> Self {
        Self {
            path,
            source,
            errors: Vec::new(),
        }
    }

    /// The file being checked.
    #[must_use]
    pub fn path(&self) -> &'a Path {
        self.path
    }

    /// The text being checked.
    #[must_use]
    pub fn source(&self) -> &'a str {
        self.source
    }

    /// Records a problem at the start of `span`; the returned diagnostic takes notes.
    pub fn error(&mut self, span: &Range<usize>, message: impl Into<String>) -> &mut Diagnostic {
        let d = Diagnostic::at_offset(self.path, self.source, span.start, message);
        self.push(d)
    }

    /// Records a problem with the whole file (no place in it).
    pub fn file_error(&mut self, message: impl Into<String>) -> &mut Diagnostic {
        let d = Diagnostic::file(self.path, message);
        self.push(d)
    }

    /// Records `diagnostic` as it is.
    pub fn push(&mut self, diagnostic: Diagnostic) -> &mut Diagnostic {
        self.errors.push(diagnostic);
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    /// 1-based line and column of the start of `span`.
    #[must_use]
    pub fn line_col(&self, span: &Range<usize>) -> (u32, u32) {
        line_col(self.source, span.start)
    }

    /// Whether nothing was found so far.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    /// `value` when nothing was found, else everything found.
    ///
    /// # Errors
    /// Every recorded problem.
    pub fn finish<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(Diagnostics(self.errors))
        }
    }
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

    #[test]
    fn toml_errors_are_located_and_collectors_keep_every_problem() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct T {
            #[allow(dead_code)]
            a: u32,
        }
        let path = Path::new("t.toml");
        let e = from_toml::<T>(path, "a = 1\nb = 2\n").unwrap_err();
        assert_eq!((e.line, e.col), (Some(2), Some(1)), "{e}");
        assert!(e.message.contains("unknown field `b`"), "{e}");
        let source = "x = 1\ny = 2\n";
        let mut c = Collector::new(path, source);
        assert!(c.is_clean());
        c.error(&(6..7), "first").notes.push("hint".into());
        c.file_error("second");
        assert_eq!(c.line_col(&(6..7)), (2, 1));
        let all = c.finish(()).unwrap_err();
        assert_eq!(
            all.to_string(),
            "t.toml:2:1: first\n  note: hint\nt.toml: second"
        );
        assert_eq!(Collector::new(path, source).finish(7).unwrap(), 7);
    }
}
