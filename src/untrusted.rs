//! Untrusted text in: every file an author, an operator or a sync tool hands us (scenes,
//! shaders, playlists, settings) is read here, with its size bounded, its kind checked (a
//! directory, FIFO or device is named as such and never opened, so a FIFO cannot block a
//! loader), and its bytes checked as UTF-8 with the place of the first bad byte. The shape
//! guards ([`toml_guard`], [`wgsl_guard`]) bound nesting and expression length before a
//! recursive parser sees the text, so no input can exhaust a thread's stack, whichever thread
//! parses it: `check` on the main thread, the loader and the hot-reload threads alike.

use std::io::Read as _;
use std::path::Path;

use crate::diag::{Diagnostic, line_col};

/// Largest scene, playlist or settings file read, in bytes (a scene with 4,000 params is
/// about 100 KiB).
pub const MAX_TOML_BYTES: u64 = 1 << 20;
/// Largest shader file read, in bytes (each file of an `#include` chain counts on its own).
pub const MAX_SHADER_BYTES: u64 = 1 << 20;
/// Deepest nesting of arrays, inline tables and dotted keys in a TOML file. Scene files
/// need 4.
pub const MAX_TOML_DEPTH: usize = 32;
/// Most operators (binary, unary, `.` member and `[` index) in one WGSL expression, counted
/// from one `;`, `,`, `{` or `}` to the next. naga lowers operator chains recursively; this
/// bound keeps that recursion far inside the smallest stack that parses
/// ([`PARSER_STACK_BYTES`]). Hand-written shaders stay below 100.
pub const MAX_EXPRESSION_OPERATORS: usize = 1000;
/// Deepest nesting of `(` and `[` in WGSL (naga itself stops at 200 with an unlocated
/// internal error).
pub const MAX_WGSL_NESTING: usize = 64;
/// Deepest nesting of `{` in WGSL (the WGSL limit for statements is 127).
pub const MAX_WGSL_BRACES: usize = 127;
/// Stack of every thread that parses or builds a scene (loader, hot reload): the guards
/// above are measured against it (see `tests/untrusted.rs`), and the main thread has more.
pub const PARSER_STACK_BYTES: usize = 8 << 20;

/// Why a file could not be read as text.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Nothing at the path.
    #[error("not found")]
    NotFound,
    /// The path names something that is not a regular file.
    #[error("is a {0}, not a file")]
    NotAFile(&'static str),
    /// Larger than the limit for its kind.
    #[error("is {bytes} bytes, more than the {max} bytes accepted")]
    TooLarge {
        /// Its size.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// Not UTF-8 text.
    #[error("byte 0x{byte:02x} at line {line}, column {col} is not UTF-8 text")]
    NotUtf8 {
        /// The first bad byte.
        byte: u8,
        /// 1-based line.
        line: u32,
        /// 1-based column, in bytes.
        col: u32,
    },
    /// Not an image hypna decodes, or one larger than the limit (see [`read_image`]).
    #[error("{0}")]
    NotAnImage(String),
    /// Reading failed otherwise (permissions, I/O).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl SourceError {
    /// This error as a diagnostic on `path`: at the bad byte for [`Self::NotUtf8`], on the
    /// whole file otherwise. `what` names the file's role ("scene", "shader", ...).
    #[must_use]
    pub fn diagnostic(&self, path: &Path, what: &str) -> Diagnostic {
        match self {
            Self::NotUtf8 { line, col, byte } => Diagnostic::at(
                path,
                *line,
                *col,
                format!("byte 0x{byte:02x} is not UTF-8 text"),
            )
            .with_note(format!(
                "{what} files are UTF-8; re-save the file as UTF-8 in your editor"
            )),
            other => Diagnostic::file(path, format!("cannot read {what}: {other}")),
        }
    }
}

/// What kind of thing is at `path`, when it is not a regular file (following links).
///
/// # Errors
/// [`SourceError::NotFound`], [`SourceError::NotAFile`] or [`SourceError::Io`].
pub fn regular_file(path: &Path) -> Result<u64, SourceError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SourceError::NotFound),
        Err(e) => return Err(SourceError::Io(e)),
    };
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(meta.len());
    }
    Err(SourceError::NotAFile(describe_kind(kind)))
}

#[cfg(unix)]
fn describe_kind(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_dir() {
        "directory"
    } else if kind.is_fifo() {
        "FIFO (named pipe)"
    } else if kind.is_char_device() || kind.is_block_device() {
        "device"
    } else if kind.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn describe_kind(kind: &std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

/// `dir` for messages: `.` for the current folder (a relative file's folder is empty).
#[must_use]
pub fn shown_dir(dir: &Path) -> &Path {
    if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }
}

/// Reads `path` as UTF-8 text of at most `max_bytes` bytes. Only regular files are opened.
///
/// # Errors
/// See [`SourceError`].
pub fn read_text(path: &Path, max_bytes: u64) -> Result<String, SourceError> {
    let bytes = read_bytes(path, max_bytes)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        // Everything before `at` is valid UTF-8, so the line and column are exact.
        let valid = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        let (line, col) = line_col(valid, at);
        SourceError::NotUtf8 {
            byte: bytes.get(at).copied().unwrap_or(0),
            line,
            col,
        }
    })
}

/// Largest image file read ([`read_image`]), in bytes.
pub const MAX_IMAGE_BYTES: u64 = 64 << 20;
/// Largest side of an image read ([`read_image`]), in pixels (the largest texture side).
pub const MAX_IMAGE_SIDE: u32 = 16384;

/// A decoded image: RGBA, 8 bits a channel, top row first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Width and height in pixels.
    pub size: [u32; 2],
    /// `4 * width * height` bytes.
    pub rgba: Vec<u8>,
}

/// Reads and decodes the PNG image at `path`: at most [`MAX_IMAGE_BYTES`] on disk, at most
/// [`MAX_IMAGE_SIDE`] pixels a side and 1 GiB decoded (the decoder stops before allocating
/// more).
///
/// # Errors
/// See [`SourceError`]; a file that does not decode is [`SourceError::NotAnImage`].
pub fn read_image(path: &Path) -> Result<Image, SourceError> {
    let bytes = read_bytes(path, MAX_IMAGE_BYTES)?;
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(SourceError::Io)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| SourceError::NotAnImage(format!("is not an image hypna reads (PNG): {e}")))?
        .to_rgba8();
    Ok(Image {
        size: [decoded.width(), decoded.height()],
        rgba: decoded.into_raw(),
    })
}

/// Reads `path` as bytes, at most `max_bytes` of them. Only regular files are opened.
///
/// # Errors
/// See [`SourceError`].
pub fn read_bytes(path: &Path, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
    let len = regular_file(path)?;
    if len > max_bytes {
        return Err(SourceError::TooLarge {
            bytes: len,
            max: max_bytes,
        });
    }
    let mut bytes = Vec::new();
    // The file may grow between the size check and the read: read one byte past the limit.
    std::fs::File::open(path)?
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(SourceError::TooLarge {
            bytes: bytes.len() as u64,
            max: max_bytes,
        });
    }
    Ok(bytes)
}

/// A TOML array of exactly `N` values. serde's own `[T; N]` stops reading after `N` values,
/// so `size = [1280, 720, 5]` would pass without a word; this one says how many it got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exact<T, const N: usize>(pub [T; N]);

struct ArrayOf(usize);

impl serde::de::Expected for ArrayOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an array of {} values", self.0)
    }
}

impl<'de, T: serde::Deserialize<'de>, const N: usize> serde::Deserialize<'de> for Exact<T, N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let values = Vec::<T>::deserialize(d)?;
        let len = values.len();
        <[T; N]>::try_from(values)
            .map(Self)
            .map_err(|_| serde::de::Error::invalid_length(len, &ArrayOf(N)))
    }
}

/// `deserialize_with` for a `[T; N]` field: exactly `N` values (see [`Exact`]).
///
/// # Errors
/// Not an array of `N` values of `T`.
pub fn exact<'de, D, T, const N: usize>(d: D) -> Result<[T; N], D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Exact<T, N> as serde::Deserialize>::deserialize(d).map(|e| e.0)
}

/// `deserialize_with` for an `Option<[T; N]>` field (with `#[serde(default)]`).
///
/// # Errors
/// Not an array of `N` values of `T`.
pub fn exact_opt<'de, D, T, const N: usize>(d: D) -> Result<Option<[T; N]>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<Exact<T, N>> as serde::Deserialize>::deserialize(d).map(|o| o.map(|e| e.0))
}

/// `deserialize_with` for an `Option<Spanned<[T; N]>>` field (with `#[serde(default)]`).
///
/// # Errors
/// Not an array of `N` values of `T`.
pub fn exact_spanned_opt<'de, D, T, const N: usize>(
    d: D,
) -> Result<Option<toml::Spanned<[T; N]>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<toml::Spanned<Exact<T, N>>> as serde::Deserialize>::deserialize(d).map(|o| {
        o.map(|s| {
            let span = s.span();
            toml::Spanned::new(span, s.into_inner().0)
        })
    })
}

/// Reads the TOML file at `path` (a `what`: "scene", "playlist", ...) and bounds its shape,
/// ready for the TOML parser.
///
/// # Errors
/// [`TomlTextError::Read`] when it cannot be read at all (not found, not a file, too large,
/// I/O), [`TomlTextError::Located`] for a bad byte or too deep a nesting, at its place.
pub fn read_toml(path: &Path, what: &str) -> Result<String, TomlTextError> {
    let text = read_text(path, MAX_TOML_BYTES).map_err(|e| match e {
        SourceError::NotUtf8 { .. } => TomlTextError::Located(e.diagnostic(path, what)),
        other => TomlTextError::Read(other),
    })?;
    toml_guard(&text).map_err(|shape| TomlTextError::Located(shape.diagnostic(path, &text)))?;
    Ok(text)
}

/// Why [`read_toml`] failed.
#[derive(Debug, thiserror::Error)]
pub enum TomlTextError {
    /// The file could not be read.
    #[error(transparent)]
    Read(SourceError),
    /// The text has a problem at a place.
    #[error("{0}")]
    Located(Diagnostic),
}

impl TomlTextError {
    /// As one diagnostic (file-level for [`Self::Read`]).
    #[must_use]
    pub fn into_diagnostic(self, path: &Path, what: &str) -> Diagnostic {
        match self {
            Self::Read(e) => e.diagnostic(path, what),
            Self::Located(d) => d,
        }
    }
}

/// A shape problem found by a guard: its byte offset in the text and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// Byte offset of the token that crossed the limit.
    pub offset: usize,
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it.
    pub note: String,
}

impl ShapeError {
    /// As a diagnostic located in `source`, the text of `path`.
    #[must_use]
    pub fn diagnostic(&self, path: &Path, source: &str) -> Diagnostic {
        Diagnostic::at_offset(path, source, self.offset, self.message.clone())
            .with_note(self.note.clone())
    }
}

/// Bounds the nesting of a TOML text (arrays, inline tables, dotted keys and table headers)
/// before the TOML parser sees it. Strings and comments are skipped.
///
/// # Errors
/// The first place deeper than [`MAX_TOML_DEPTH`].
pub fn toml_guard(text: &str) -> Result<(), ShapeError> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    // Dots in the key part of the current line (before `=`), i.e. dotted-key depth.
    let mut key_dots = 0usize;
    let mut in_key = true;
    let mut i = 0;
    let too_deep = |offset: usize, what: &str| ShapeError {
        offset,
        message: format!("{what} nested more than {MAX_TOML_DEPTH} deep"),
        note: "hypna's files need only a few levels; this looks like a damaged file".into(),
    };
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\'' => {
                i = skip_toml_string(bytes, i);
                continue;
            }
            b'\n' if depth == 0 => {
                key_dots = 0;
                in_key = true;
            }
            b'=' => in_key = false,
            b'.' if in_key => {
                key_dots += 1;
                if key_dots > MAX_TOML_DEPTH {
                    return Err(too_deep(i, "dotted key"));
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_TOML_DEPTH {
                    return Err(too_deep(i, "arrays and tables"));
                }
                if b == b'{' {
                    in_key = true;
                    key_dots = 0;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth > 0 => {
                in_key = true;
                key_dots = 0;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The index just past the TOML string starting at `start` (basic, literal, or their
/// multi-line forms); the end of the text when it is not closed (the parser reports that).
fn skip_toml_string(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let triple = bytes.get(start..start + 3) == Some(&[quote, quote, quote][..]);
    let mut i = start + if triple { 3 } else { 1 };
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' && quote == b'"' {
            i += 2;
            continue;
        }
        if b == quote {
            if !triple {
                return i + 1;
            }
            if bytes.get(i..i + 3) == Some(&[quote, quote, quote][..]) {
                // Up to two more quotes may belong to the content (`""""` ends with one).
                let mut end = i + 3;
                while end < bytes.len() && bytes[end] == quote && end < i + 5 {
                    end += 1;
                }
                return end;
            }
        }
        if b == b'\n' && !triple {
            return i;
        }
        i += 1;
    }
    i
}

/// Bounds the shape of a WGSL text before naga sees it: the operators of one expression
/// ([`MAX_EXPRESSION_OPERATORS`]), `(`/`[` nesting ([`MAX_WGSL_NESTING`]) and `{` nesting
/// ([`MAX_WGSL_BRACES`]). Comments are skipped (block comments nest, as in WGSL). The count
/// is conservative: generic brackets (`vec4<f32>`) count as operators too.
///
/// # Errors
/// The first place past a limit.
pub fn wgsl_guard(text: &str) -> Result<(), ShapeError> {
    let bytes = text.as_bytes();
    let mut operators = 0usize;
    let mut nesting = 0usize;
    let mut braces = 0usize;
    let mut i = 0;
    let long = |offset: usize| ShapeError {
        offset,
        message: format!("expression with more than {MAX_EXPRESSION_OPERATORS} operators"),
        note: "split it into several `let`s (a longer chain could overflow the parser's stack)"
            .into(),
    };
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied().unwrap_or(0);
        match b {
            b'/' if next == b'/' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if next == b'*' => {
                i = skip_block_comment(bytes, i);
                continue;
            }
            b'0'..=b'9' => {
                // A number with its `.`, exponent and suffix is one token.
                i += 1;
                while i < bytes.len() {
                    let c = bytes[i];
                    let exponent_sign = matches!(c, b'+' | b'-')
                        && matches!(bytes[i - 1], b'e' | b'E' | b'p' | b'P')
                        && !bytes[..i].starts_with(b"0x");
                    if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exponent_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                continue;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                continue;
            }
            b';' | b',' => operators = 0,
            b'{' => {
                operators = 0;
                braces += 1;
                if braces > MAX_WGSL_BRACES {
                    return Err(ShapeError {
                        offset: i,
                        message: format!("blocks nested more than {MAX_WGSL_BRACES} deep"),
                        note: "WGSL allows at most 127 nested blocks".into(),
                    });
                }
            }
            b'}' => {
                operators = 0;
                braces = braces.saturating_sub(1);
            }
            b'(' | b'[' => {
                nesting += 1;
                if nesting > MAX_WGSL_NESTING {
                    return Err(ShapeError {
                        offset: i,
                        message: format!(
                            "parentheses and brackets nested more than {MAX_WGSL_NESTING} deep"
                        ),
                        note: "name the inner parts with `let`".into(),
                    });
                }
                if b == b'[' {
                    operators += 1;
                }
            }
            b')' | b']' => nesting = nesting.saturating_sub(1),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^' | b'<' | b'>' | b'!' | b'~'
            | b'.' => {
                operators += 1;
            }
            _ => {}
        }
        if operators > MAX_EXPRESSION_OPERATORS {
            return Err(long(i));
        }
        i += 1;
    }
    Ok(())
}

/// The index just past the (nested) block comment starting at `start`.
fn skip_block_comment(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1).copied().unwrap_or(0)) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn toml_depth_counts_brackets_and_dotted_keys_but_not_strings() {
        assert!(toml_guard("a = [[1], [2]]\n[t]\nb = { c = { d = 1 } }\n").is_ok());
        let deep = format!("a = {}1{}\n", "[".repeat(40), "]".repeat(40));
        let e = toml_guard(&deep).unwrap_err();
        assert_eq!(e.offset, 4 + MAX_TOML_DEPTH);
        let in_string = format!(
            "a = \"{}\"\nb = '''{}'''\n# {}\n",
            "[".repeat(99),
            "{".repeat(99),
            "[".repeat(99)
        );
        assert!(toml_guard(&in_string).is_ok());
        let dotted = format!("{} = 1\n", vec!["k"; 40].join("."));
        assert!(
            toml_guard(&dotted)
                .unwrap_err()
                .message
                .contains("dotted key")
        );
        // Dots in values are not keys.
        assert!(toml_guard(&format!("a = [{}]\n", vec!["1.5"; 99].join(", "))).is_ok());
    }

    #[test]
    fn wgsl_guard_bounds_chains_and_nesting_not_ordinary_code() {
        let ordinary = "fn f(a: vec4<f32>) -> f32 { let b = a.x * 2.0 + a.y - 1e-3; return -b; }\n";
        assert!(wgsl_guard(ordinary).is_ok());
        let chain = format!(
            "const Q = {};\n",
            vec!["1.0"; MAX_EXPRESSION_OPERATORS + 2].join(" + ")
        );
        let e = wgsl_guard(&chain).unwrap_err();
        assert!(e.message.contains("operators"), "{e:?}");
        // The same number of terms split over statements is fine.
        let split: String = (0..3000).fold(String::new(), |mut s, i| {
            writeln!(s, "const Q{i} = 1.0 + 2.0;").unwrap();
            s
        });
        assert!(wgsl_guard(&split).is_ok());
        let members = format!(
            "fn f() {{ let a = b{}; }}\n",
            ".x".repeat(MAX_EXPRESSION_OPERATORS + 1)
        );
        assert!(wgsl_guard(&members).is_err());
        let parens = format!("const Q = {}1{};\n", "(".repeat(80), ")".repeat(80));
        assert!(wgsl_guard(&parens).unwrap_err().message.contains("nested"));
        let comment = format!(
            "/* {} /* nested */ */\n// {}\nconst Q = 1;\n",
            "+".repeat(5000),
            "(".repeat(500)
        );
        assert!(wgsl_guard(&comment).is_ok());
    }

    #[test]
    fn reads_name_what_is_not_a_file_and_where_utf8_breaks() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, b"[scene]\nname = \"caf\xe9\"\n").unwrap();
        let e = read_text(&bad, 1000).unwrap_err();
        assert!(
            matches!(
                e,
                SourceError::NotUtf8 {
                    byte: 0xe9,
                    line: 2,
                    col: 12
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.diagnostic(&bad, "scene")
                .to_string()
                .lines()
                .next()
                .unwrap(),
            format!("{}:2:12: byte 0xe9 is not UTF-8 text", bad.display())
        );
        assert!(matches!(
            read_text(dir.path(), 1000),
            Err(SourceError::NotAFile("directory"))
        ));
        assert!(matches!(
            read_text(&dir.path().join("nothing"), 1000),
            Err(SourceError::NotFound)
        ));
        assert!(matches!(
            read_text(&bad, 4),
            Err(SourceError::TooLarge { max: 4, .. })
        ));
        #[cfg(unix)]
        assert!(matches!(
            read_text(Path::new("/dev/null"), 1000),
            Err(SourceError::NotAFile("device"))
        ));
    }
}
