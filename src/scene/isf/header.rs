//! The ISF header: the `/*{ JSON }*/` comment that opens every ISF file (ISF 2.0: `ISFVSN`,
//! `DESCRIPTION`, `CREDIT`, `CATEGORIES`, `INPUTS`, `PASSES`, `IMPORTED`; and v1's
//! `PERSISTENT_BUFFERS`). Parsed into typed values; every problem is a [`Diagnostic`] located
//! in the author's file.
//!
//! The JSON is read as a loose [`serde_json::Value`] first, because files in the wild write
//! numbers as strings, booleans as numbers and so on; each field is then converted with the
//! same leniency as the reference hosts, and anything that cannot mean what it says is an error.

use std::path::Path;

use serde_json::{Map, Value};

use super::expr::Expr;
use crate::diag::Diagnostic;

/// Largest ISF file accepted, in bytes (the largest in the reference collection is 30 KiB).
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// A parsed ISF header.
#[derive(Debug, Clone, PartialEq)]
pub struct IsfHeader {
    /// `ISFVSN` (e.g. `"2"`); `None` for ISF 1.0 files.
    pub version: Option<String>,
    /// `DESCRIPTION`.
    pub description: Option<String>,
    /// `CREDIT`.
    pub credit: Option<String>,
    /// `CATEGORIES`.
    pub categories: Vec<String>,
    /// `INPUTS`, in file order.
    pub inputs: Vec<Input>,
    /// `PASSES`; one implicit pass (no target) when the file has none.
    pub passes: Vec<PassSpec>,
    /// `IMPORTED` images, in file order.
    pub imported: Vec<Imported>,
    /// Byte offset just after the closing `*/` of the header.
    pub body_start: usize,
}

/// One entry of `INPUTS`.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// `NAME`: also the GLSL identifier the shader uses.
    pub name: String,
    /// `LABEL`, for UIs.
    pub label: Option<String>,
    /// `TYPE` with its values.
    pub kind: InputKind,
    /// Where the input's `NAME` stands in the file (1-based line, column).
    pub at: (u32, u32),
}

/// The input types of ISF 2.0 with their `DEFAULT`/`MIN`/`MAX`/`IDENTITY`/`VALUES`/`LABELS`.
#[derive(Debug, Clone, PartialEq)]
pub enum InputKind {
    /// A momentary button: `true` for one frame when fired.
    Event,
    /// A toggle.
    Bool {
        /// `DEFAULT` (false when absent).
        default: bool,
    },
    /// A pop-up menu of integer `VALUES` with `LABELS`, or an integer range `MIN..=MAX`.
    Long {
        /// `DEFAULT` (the first value, or `MIN`, when absent).
        default: i32,
        /// `VALUES`: the integers the menu offers (from `MIN..=MAX` when absent).
        values: Vec<i32>,
        /// `LABELS`, one per value (the values as text when absent).
        labels: Vec<String>,
    },
    /// A number.
    Float {
        /// `DEFAULT` (the middle of the range when absent).
        default: f32,
        /// `MIN` (0 when absent).
        min: f32,
        /// `MAX` (1 when absent).
        max: f32,
        /// `IDENTITY`: the value that leaves an image unchanged, if given.
        identity: Option<f32>,
    },
    /// A 2D point, in pixels of the render size unless `MIN`/`MAX` say otherwise.
    Point2D {
        /// `DEFAULT` (`[0, 0]` when absent).
        default: [f32; 2],
        /// `MIN`, if given.
        min: Option<[f32; 2]>,
        /// `MAX`, if given.
        max: Option<[f32; 2]>,
    },
    /// An RGBA colour, 0..1 per channel.
    Color {
        /// `DEFAULT` (opaque black when absent... white in some hosts; black here).
        default: [f32; 4],
        /// `MIN` (0 per channel when absent).
        min: [f32; 4],
        /// `MAX` (1 per channel when absent).
        max: [f32; 4],
    },
    /// An image the host provides (`inputImage` for filters; `startImage`/`endImage` for
    /// transitions).
    Image,
    /// The audio waveform as an image, one row per channel; `MAX` asks for a sample count.
    Audio {
        /// `MAX`: samples wanted, if given.
        samples: Option<u32>,
    },
    /// The audio spectrum as an image, one row per channel; `MAX` asks for a bin count.
    AudioFft {
        /// `MAX`: bins wanted, if given.
        bins: Option<u32>,
    },
}

impl InputKind {
    /// The `TYPE` string of this kind.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Bool { .. } => "bool",
            Self::Long { .. } => "long",
            Self::Float { .. } => "float",
            Self::Point2D { .. } => "point2D",
            Self::Color { .. } => "color",
            Self::Image => "image",
            Self::Audio { .. } => "audio",
            Self::AudioFft { .. } => "audioFFT",
        }
    }

    /// True for the kinds the shader reads as an image (`IMG_PIXEL` and friends).
    #[must_use]
    pub fn is_image(&self) -> bool {
        matches!(
            self,
            Self::Image | Self::Audio { .. } | Self::AudioFft { .. }
        )
    }
}

/// One entry of `PASSES`.
#[derive(Debug, Clone, PartialEq)]
pub struct PassSpec {
    /// `TARGET`: the buffer name later passes (and the next frame, if persistent) read.
    pub target: Option<String>,
    /// `PERSISTENT`: the buffer keeps its contents across frames.
    pub persistent: bool,
    /// `FLOAT`: the buffer stores floats (32-bit per channel in the reference hosts).
    pub float: bool,
    /// `WIDTH` expression (the render width when absent).
    pub width: Option<Expr>,
    /// `HEIGHT` expression (the render height when absent).
    pub height: Option<Expr>,
    /// Where the pass's dictionary (its `TARGET`, else the `PASSES` key) stands.
    pub at: (u32, u32),
}

/// One entry of `IMPORTED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The image's name in the shader.
    pub name: String,
    /// `PATH`, relative to the ISF file.
    pub path: String,
    /// Where the entry stands in the file.
    pub at: (u32, u32),
}

impl IsfHeader {
    /// True when the file follows the ISF transition convention: image inputs `startImage`
    /// and `endImage` and a float input `progress`.
    #[must_use]
    pub fn is_transition(&self) -> bool {
        let has = |name: &str, image: bool| {
            self.inputs.iter().any(|i| {
                i.name == name
                    && if image {
                        matches!(i.kind, InputKind::Image)
                    } else {
                        matches!(i.kind, InputKind::Float { .. })
                    }
            })
        };
        has("startImage", true) && has("endImage", true) && has("progress", false)
    }

    /// True when the file follows the ISF filter convention (an image input `inputImage`).
    #[must_use]
    pub fn is_filter(&self) -> bool {
        self.inputs
            .iter()
            .any(|i| i.name == "inputImage" && matches!(i.kind, InputKind::Image))
    }

    /// Every image name the shader can read: image/audio inputs, pass targets, imports.
    pub fn image_names(&self) -> impl Iterator<Item = &str> {
        self.inputs
            .iter()
            .filter(|i| i.kind.is_image())
            .map(|i| i.name.as_str())
            .chain(self.passes.iter().filter_map(|p| p.target.as_deref()))
            .chain(self.imported.iter().map(|i| i.name.as_str()))
    }
}

/// Parses the header of the ISF file `source` (read from `path`, for messages).
///
/// # Errors
/// Every problem found, each located in the file: no header comment, JSON syntax, wrong
/// types, unknown input types, duplicate names, names that are not GLSL identifiers, bad
/// size expressions.
pub fn parse(source: &str, path: &Path) -> Result<IsfHeader, Vec<Diagnostic>> {
    if source.len() > MAX_FILE_BYTES {
        return Err(vec![Diagnostic::file(
            path,
            format!(
                "ISF file is {} bytes; at most {MAX_FILE_BYTES} are accepted",
                source.len()
            ),
        )]);
    }
    let trimmed = source.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let open = source.len() - trimmed.len();
    if !trimmed.starts_with("/*") {
        return Err(vec![
            Diagnostic::at_offset(
                path,
                source,
                open,
                "an ISF file starts with a `/*{ ... }*/` comment holding its JSON header",
            )
            .with_note("see docs/isf.md; a plain GLSL file is not an ISF file"),
        ]);
    }
    let json_start = open + 2;
    let Some(close) = source[json_start..].find("*/") else {
        return Err(vec![Diagnostic::at_offset(
            path,
            source,
            open,
            "the header comment `/*` is never closed with `*/`",
        )]);
    };
    let json_end = json_start + close;
    let json = &source[json_start..json_end];
    let value: Value = serde_json::from_str(json).map_err(|e| {
        let offset = json_start + offset_of(json, e.line(), e.column());
        vec![Diagnostic::at_offset(
            path,
            source,
            offset,
            format!("ISF header: {}", strip_position(&e.to_string())),
        )]
    })?;
    let mut cx = Cx {
        path,
        source,
        json_start,
        json,
        errors: Vec::new(),
    };
    let header = cx.header(&value, json_end + 2);
    if cx.errors.is_empty() {
        Ok(header)
    } else {
        Err(cx.errors)
    }
}

/// `serde_json`'s messages end with " at line L column C", which we say better ourselves.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

/// Byte offset of 1-based `line`, `column` (`serde_json` counts columns in bytes).
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return offset + column.saturating_sub(1).min(l.len());
        }
        offset += l.len();
    }
    text.len()
}

struct Cx<'a> {
    path: &'a Path,
    source: &'a str,
    json_start: usize,
    json: &'a str,
    errors: Vec<Diagnostic>,
}

impl Cx<'_> {
    /// Offset in the file of the first occurrence of `"needle"` at or after `from` (an offset
    /// into the JSON), or of the JSON's start. `serde_json` keeps no spans, so errors about a
    /// value are placed at the first spot the value's text appears.
    fn find(&self, needle: &str, from: usize) -> usize {
        let quoted = format!("\"{needle}\"");
        let from = from.min(self.json.len());
        self.json[from..]
            .find(&quoted)
            .map_or(self.json_start, |i| self.json_start + from + i)
    }

    fn line_col(&self, offset: usize) -> (u32, u32) {
        crate::diag::line_col(self.source, offset)
    }

    fn error(&mut self, offset: usize, message: impl Into<String>) -> &mut Diagnostic {
        self.errors.push(Diagnostic::at_offset(
            self.path,
            self.source,
            offset,
            message,
        ));
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    fn header(&mut self, value: &Value, body_start: usize) -> IsfHeader {
        let empty = Map::new();
        let top = if let Value::Object(m) = value {
            m
        } else {
            self.error(
                self.json_start,
                "the ISF header must be a JSON object `{ ... }`",
            );
            &empty
        };
        let text = |key: &str| top.get(key).and_then(value_text);
        let mut header = IsfHeader {
            version: text("ISFVSN"),
            description: text("DESCRIPTION"),
            credit: text("CREDIT"),
            categories: match top.get("CATEGORIES") {
                Some(Value::Array(a)) => a.iter().filter_map(value_text).collect(),
                Some(v) => value_text(v).into_iter().collect(),
                None => Vec::new(),
            },
            inputs: Vec::new(),
            passes: Vec::new(),
            imported: Vec::new(),
            body_start,
        };
        match top.get("INPUTS") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                let mut cursor = self.find("INPUTS", 0) - self.json_start;
                for item in list {
                    if let Some(input) = self.input(item, &mut cursor) {
                        if header.inputs.iter().any(|i| i.name == input.name) {
                            let at = self.find(&input.name, cursor);
                            self.error(at, format!("input `{}` is declared twice", input.name));
                        } else {
                            header.inputs.push(input);
                        }
                    }
                }
            }
            Some(_) => {
                let at = self.find("INPUTS", 0);
                self.error(at, "`INPUTS` must be an array of input objects");
            }
        }
        let persistent_v1 = Self::persistent_buffers(top);
        match top.get("PASSES") {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                let mut cursor = self.find("PASSES", 0) - self.json_start;
                for item in list {
                    if let Some(pass) = self.pass(item, &mut cursor, &persistent_v1) {
                        header.passes.push(pass);
                    }
                }
            }
            Some(_) => {
                let at = self.find("PASSES", 0);
                self.error(at, "`PASSES` must be an array of pass objects");
            }
        }
        if header.passes.is_empty() {
            let at = self.line_col(self.json_start);
            header.passes.push(PassSpec {
                target: None,
                persistent: false,
                float: false,
                width: None,
                height: None,
                at,
            });
        }
        match top.get("IMPORTED") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, item) in map {
                    let at = self.find(name, 0);
                    let path = match item {
                        Value::Object(m) => m.get("PATH").and_then(value_text),
                        v => value_text(v),
                    };
                    match path {
                        Some(path) => header.imported.push(Imported {
                            name: name.clone(),
                            path,
                            at: self.line_col(at),
                        }),
                        None => {
                            self.error(at, format!("imported image `{name}` has no `PATH`"));
                        }
                    }
                }
            }
            // ISF 1 allowed an array of { "NAME": ..., "PATH": ... }.
            Some(Value::Array(list)) => {
                for item in list {
                    let name = item.get("NAME").and_then(value_text);
                    let path = item.get("PATH").and_then(value_text);
                    if let (Some(name), Some(path)) = (name, path) {
                        let at = self.find(&name, 0);
                        header.imported.push(Imported {
                            name,
                            path,
                            at: self.line_col(at),
                        });
                    } else {
                        let at = self.find("IMPORTED", 0);
                        self.error(at, "each `IMPORTED` entry needs a `NAME` and a `PATH`");
                    }
                }
            }
            Some(_) => {
                let at = self.find("IMPORTED", 0);
                self.error(
                    at,
                    "`IMPORTED` must be an object of { \"PATH\": ... } entries",
                );
            }
        }
        self.check_names(&header);
        header
    }

    /// ISF 1's top-level `PERSISTENT_BUFFERS` (an array of names or an object keyed by name).
    fn persistent_buffers(top: &Map<String, Value>) -> Vec<String> {
        match top.get("PERSISTENT_BUFFERS") {
            Some(Value::Array(a)) => a.iter().filter_map(value_text).collect(),
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            Some(v) => value_text(v).into_iter().collect(),
            None => Vec::new(),
        }
    }

    fn input(&mut self, item: &Value, cursor: &mut usize) -> Option<Input> {
        let Value::Object(m) = item else {
            let at = self.json_start + *cursor;
            self.error(at, "each entry of `INPUTS` must be an object");
            return None;
        };
        let Some(name) = m.get("NAME").and_then(value_text) else {
            let at = self.json_start + *cursor;
            self.error(at, "an input has no `NAME`");
            return None;
        };
        let offset = self.find(&name, *cursor);
        *cursor = offset - self.json_start + name.len();
        let at = self.line_col(offset);
        let Some(type_name) = m.get("TYPE").and_then(value_text) else {
            self.error(offset, format!("input `{name}` has no `TYPE`"));
            return None;
        };
        let num = |key: &str| m.get(key).and_then(value_f64);
        let kind = match type_name.as_str() {
            "event" => InputKind::Event,
            "bool" => InputKind::Bool {
                default: m.get("DEFAULT").and_then(value_bool).unwrap_or(false),
            },
            "long" => {
                let values: Vec<i32> = match m.get("VALUES") {
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(value_f64)
                        .map(|v| v.round() as i32)
                        .collect(),
                    _ => Vec::new(),
                };
                let values = if values.is_empty() {
                    let lo = num("MIN").unwrap_or(0.0).round() as i32;
                    let hi = num("MAX").unwrap_or(f64::from(lo)).round() as i32;
                    if hi < lo || hi - lo > 4096 {
                        self.error(
                            offset,
                            format!(
                                "input `{name}`: a long without VALUES needs MIN <= MAX (at most 4096 apart), not {lo}..{hi}"
                            ),
                        );
                        return None;
                    }
                    (lo..=hi).collect()
                } else {
                    values
                };
                let labels: Vec<String> = match m.get("LABELS") {
                    Some(Value::Array(a)) => a.iter().filter_map(value_text).collect(),
                    _ => Vec::new(),
                };
                let labels = if labels.len() == values.len() {
                    labels
                } else {
                    values.iter().map(ToString::to_string).collect()
                };
                let default = num("DEFAULT").map_or(values[0], |v| v.round() as i32);
                InputKind::Long {
                    default,
                    values,
                    labels,
                }
            }
            "float" => {
                let lo = num("MIN").unwrap_or(0.0) as f32;
                let hi = num("MAX").unwrap_or(1.0) as f32;
                // Hosts accept a MIN above the MAX (one file of the reference collection has
                // one): the range is the same either way round.
                let (min, max) = (lo.min(hi), lo.max(hi));
                if !(min.is_finite() && max.is_finite()) {
                    self.error(
                        offset,
                        format!("input `{name}`: MIN and MAX must be finite"),
                    );
                    return None;
                }
                InputKind::Float {
                    default: num("DEFAULT").map_or(0.5 * (min + max), |v| v as f32),
                    min,
                    max,
                    identity: num("IDENTITY").map(|v| v as f32),
                }
            }
            "point2D" => InputKind::Point2D {
                default: m.get("DEFAULT").and_then(vec_n::<2>).unwrap_or([0.0; 2]),
                min: m.get("MIN").and_then(vec_n::<2>),
                max: m.get("MAX").and_then(vec_n::<2>),
            },
            "color" => InputKind::Color {
                default: m
                    .get("DEFAULT")
                    .and_then(vec_n::<4>)
                    .unwrap_or([0.0, 0.0, 0.0, 1.0]),
                min: m.get("MIN").and_then(vec_n::<4>).unwrap_or([0.0; 4]),
                max: m.get("MAX").and_then(vec_n::<4>).unwrap_or([1.0; 4]),
            },
            "image" => InputKind::Image,
            "audio" => InputKind::Audio {
                samples: num("MAX").map(|v| v.clamp(1.0, 16384.0) as u32),
            },
            "audioFFT" => InputKind::AudioFft {
                bins: num("MAX").map(|v| v.clamp(1.0, 16384.0) as u32),
            },
            other => {
                let at = self.find(other, *cursor);
                self.error(at, format!("input `{name}` has unknown TYPE `{other}`"))
                    .notes
                    .push(
                        "types: event, bool, long, float, point2D, color, image, audio, audioFFT"
                            .into(),
                    );
                return None;
            }
        };
        Some(Input {
            name,
            label: m.get("LABEL").and_then(value_text),
            kind,
            at,
        })
    }

    fn pass(
        &mut self,
        item: &Value,
        cursor: &mut usize,
        persistent_v1: &[String],
    ) -> Option<PassSpec> {
        let Value::Object(m) = item else {
            let at = self.json_start + *cursor;
            self.error(at, "each entry of `PASSES` must be an object");
            return None;
        };
        let target = m
            .get("TARGET")
            .and_then(value_text)
            .filter(|t| !t.is_empty());
        let offset = match &target {
            Some(t) => self.find(t, *cursor),
            None => self.find("PASSES", 0),
        };
        if target.is_some() {
            *cursor = offset - self.json_start + 1;
        }
        let mut size = |key: &str| -> Option<Expr> {
            let v = m.get(key)?;
            let text = value_text(v)?;
            match Expr::parse(&text) {
                Ok(e) => Some(e),
                Err(e) => {
                    let at = self.find(&text, offset - self.json_start);
                    // Point inside the string at the offending character.
                    self.error(at + 1 + e.at, format!("pass {key} `{text}`: {}", e.message));
                    None
                }
            }
        };
        let width = size("WIDTH");
        let height = size("HEIGHT");
        let persistent = m.get("PERSISTENT").and_then(value_bool).unwrap_or(false)
            || target.as_ref().is_some_and(|t| persistent_v1.contains(t));
        Some(PassSpec {
            persistent,
            float: m.get("FLOAT").and_then(value_bool).unwrap_or(false),
            width,
            height,
            at: self.line_col(offset),
            target,
        })
    }

    /// Names become GLSL identifiers; they must be ones, and unique across inputs, targets
    /// and imports.
    fn check_names(&mut self, header: &IsfHeader) {
        let mut seen: Vec<&str> = Vec::new();
        let names = header
            .inputs
            .iter()
            .map(|i| (i.name.as_str(), i.at))
            .chain(
                header
                    .passes
                    .iter()
                    .filter_map(|p| Some((p.target.as_deref()?, p.at))),
            )
            .chain(header.imported.iter().map(|i| (i.name.as_str(), i.at)));
        let mut problems = Vec::new();
        for (name, at) in names {
            if !is_glsl_identifier(name) {
                problems.push((at, format!("`{name}` is not a GLSL identifier")));
            } else if name.starts_with("isf_")
                || name.starts_with("hypna_")
                || name.starts_with("gl_")
            {
                problems.push((
                    at,
                    format!("`{name}`: names starting with `isf_`, `hypna_` or `gl_` are reserved"),
                ));
            } else if seen.contains(&name) {
                // A persistent target may repeat across passes (several passes write it).
                let repeated_target = header
                    .passes
                    .iter()
                    .filter(|p| p.target.as_deref() == Some(name))
                    .count()
                    > 1
                    && !header.inputs.iter().any(|i| i.name == name)
                    && !header.imported.iter().any(|i| i.name == name);
                if !repeated_target {
                    problems.push((at, format!("the name `{name}` is used twice")));
                }
            }
            seen.push(name);
        }
        for ((line, col), message) in problems {
            self.errors
                .push(Diagnostic::at(self.path, line, col, message));
        }
    }
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`.
#[must_use]
pub fn is_glsl_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

fn value_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|x| x != 0.0),
        Value::String(s) => match s.trim() {
            "true" | "TRUE" | "YES" | "yes" | "1" => Some(true),
            "false" | "FALSE" | "NO" | "no" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// `[a, b, ...]` as exactly `N` finite floats (a shorter colour gets alpha 1).
fn vec_n<const N: usize>(v: &Value) -> Option<[f32; N]> {
    let Value::Array(a) = v else { return None };
    let mut out = [0.0f32; N];
    if N == 4 {
        out[3] = 1.0;
    }
    let values: Vec<f64> = a.iter().filter_map(value_f64).collect();
    if values.len() != a.len() || values.len() > N || (values.len() < N && N != 4) {
        return None;
    }
    if N == 4 && values.len() < 3 {
        return None;
    }
    for (o, v) in out.iter_mut().zip(values) {
        *o = v as f32;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> Result<IsfHeader, Vec<Diagnostic>> {
        parse(text, Path::new("t.fs"))
    }

    #[test]
    fn every_input_type() {
        let h = header(
            r#"/*{
  "ISFVSN": "2", "DESCRIPTION": "all", "CATEGORIES": ["Test"],
  "INPUTS": [
    {"NAME": "inputImage", "TYPE": "image"},
    {"NAME": "fire", "TYPE": "event"},
    {"NAME": "on", "TYPE": "bool", "DEFAULT": 1},
    {"NAME": "mode", "TYPE": "long", "VALUES": [0, 2, 5], "LABELS": ["a", "b", "c"], "DEFAULT": 2},
    {"NAME": "steps", "TYPE": "long", "MIN": 1, "MAX": 3},
    {"NAME": "amount", "TYPE": "float", "MIN": -1, "MAX": 3, "DEFAULT": "0.5", "LABEL": "Amount"},
    {"NAME": "centre", "TYPE": "point2D", "DEFAULT": [0.5, 0.25]},
    {"NAME": "tint", "TYPE": "color", "DEFAULT": [1, 0.5, 0]},
    {"NAME": "wave", "TYPE": "audio", "MAX": 256},
    {"NAME": "fft", "TYPE": "audioFFT"}
  ],
  "PASSES": [{"TARGET": "half", "WIDTH": "$WIDTH/2", "HEIGHT": "floor($HEIGHT/2.0)", "FLOAT": true},
             {"TARGET": "acc", "PERSISTENT": 1}, {}],
  "IMPORTED": {"noise": {"PATH": "noise.png"}}
}*/
void main() {}
"#,
        )
        .unwrap();
        assert_eq!(h.version.as_deref(), Some("2"));
        assert_eq!(h.inputs.len(), 10);
        assert_eq!(h.inputs[0].kind, InputKind::Image);
        assert_eq!(h.inputs[0].at, (4, 14), "at the quoted name");
        assert_eq!(h.inputs[2].kind, InputKind::Bool { default: true });
        assert_eq!(
            h.inputs[3].kind,
            InputKind::Long {
                default: 2,
                values: vec![0, 2, 5],
                labels: vec!["a".into(), "b".into(), "c".into()]
            }
        );
        let InputKind::Long {
            values,
            labels,
            default,
        } = &h.inputs[4].kind
        else {
            panic!()
        };
        assert_eq!((values.as_slice(), *default), (&[1, 2, 3][..], 1));
        assert_eq!(labels, &["1", "2", "3"]);
        assert_eq!(
            h.inputs[5].kind,
            InputKind::Float {
                default: 0.5,
                min: -1.0,
                max: 3.0,
                identity: None
            }
        );
        assert_eq!(h.inputs[5].label.as_deref(), Some("Amount"));
        assert_eq!(
            h.inputs[7].kind,
            InputKind::Color {
                default: [1.0, 0.5, 0.0, 1.0],
                min: [0.0; 4],
                max: [1.0; 4]
            }
        );
        assert_eq!(h.inputs[8].kind, InputKind::Audio { samples: Some(256) });
        assert_eq!(h.passes.len(), 3);
        assert!(h.passes[0].float && !h.passes[0].persistent);
        assert!(h.passes[1].persistent);
        assert_eq!(h.passes[2].target, None);
        assert_eq!(h.imported[0].path, "noise.png");
        let names: Vec<&str> = h.image_names().collect();
        assert_eq!(names, ["inputImage", "wave", "fft", "half", "acc", "noise"]);
        assert!(h.is_filter() && !h.is_transition());
        assert!(h.body_start < h.body_start + 1);
    }

    #[test]
    fn no_passes_means_one_implicit_pass() {
        let h = header("/*{\"INPUTS\": []}*/\nvoid main(){}").unwrap();
        assert_eq!(h.passes.len(), 1);
        assert_eq!(h.passes[0].target, None);
        assert_eq!(
            &"/*{\"INPUTS\": []}*/\nvoid main(){}"[h.body_start..],
            "\nvoid main(){}"
        );
    }

    #[test]
    fn errors_are_located_in_the_file() {
        let e = header("\n\nvoid main() {}").unwrap_err();
        assert_eq!((e[0].line, e[0].col), (Some(3), Some(1)));
        assert!(e[0].message.contains("starts with"), "{}", e[0]);

        let e = header("/*{\n  \"INPUTS\": [\n    {\"NAME\": \"a\" \"TYPE\": \"float\"}\n]}*/")
            .unwrap_err();
        assert_eq!((e[0].line, e[0].col), (Some(3), Some(18)), "{}", e[0]);
        assert!(
            e[0].message.starts_with("ISF header: expected `,`"),
            "{}",
            e[0]
        );

        let e = header(
            "/*{\n\"INPUTS\": [\n {\"NAME\": \"a\", \"TYPE\": \"float\"},\n {\"NAME\": \"b\", \"TYPE\": \"vec3\"}]}*/",
        )
        .unwrap_err();
        assert_eq!(
            e[0].to_string().lines().next().unwrap(),
            "t.fs:4:24: input `b` has unknown TYPE `vec3`"
        );

        let e = header(
            "/*{\"INPUTS\": [{\"NAME\": \"my value\", \"TYPE\": \"float\"}, {\"NAME\": \"x\", \"TYPE\": \"bool\"}, {\"NAME\": \"x\", \"TYPE\": \"bool\"}]}*/",
        )
        .unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].message.contains("declared twice") || e[1].message.contains("declared twice"));
        assert!(
            e.iter()
                .any(|d| d.message.contains("not a GLSL identifier"))
        );

        let e =
            header("/*{\"PASSES\": [{\"TARGET\": \"t\", \"WIDTH\": \"$WIDTH/\"}]}*/").unwrap_err();
        assert!(e[0].message.contains("pass WIDTH `$WIDTH/`"), "{}", e[0]);
        assert_eq!(e[0].col, Some(48), "at the end of the expression: {}", e[0]);

        let e = header("/*{\"INPUTS\": [] ").unwrap_err();
        assert!(e[0].message.contains("never closed"));
    }

    #[test]
    fn transitions_are_recognised() {
        let h = header(
            r#"/*{"INPUTS": [{"NAME": "startImage", "TYPE": "image"}, {"NAME": "endImage", "TYPE": "image"}, {"NAME": "progress", "TYPE": "float"}]}*/"#,
        )
        .unwrap();
        assert!(h.is_transition());
    }

    #[test]
    fn oversized_files_are_refused_before_parsing() {
        let big = format!("/*{{}}*/{}", " ".repeat(MAX_FILE_BYTES));
        assert!(header(&big).unwrap_err()[0].message.contains("at most"));
    }
}
