//! GLSL shaders (ISF 2.0 and Shadertoy) compiled to validated naga modules, with every error
//! located in the author's file.
//!
//! Each format has a wrapper generator ([`isf`], [`shadertoy`]) producing Vulkan-flavoured
//! GLSL 450 ([`Composed`]: the text plus where each line came from); [`compile`] turns that
//! into a validated [`naga::Module`] for wgpu through one of two compilers:
//!
//! - [`Compiler::Naga`], the default: naga's own GLSL front end, in process. Measured on the
//!   321 files of the ISF reference collection it accepts more of them than glslang does
//!   (316 against 307 parse and validate), in about 2 ms a file instead of a child process,
//!   and it takes Shadertoy's `sampler2D` function parameters, which Vulkan GLSL forbids.
//! - [`Compiler::Glslang`]: Khronos' reference compiler (`glslangValidator`, Debian's
//!   `glslang-tools`, run as a child process) to SPIR-V, then naga's SPIR-V front end.
//!   `HYPNA_GLSL_COMPILER=glslang` selects it; it accepts some files naga rejects (functions
//!   that end without `return`, global initialisers reading inputs) and rejects others.
//!
//! The measurement is `cargo run --example isf_corpus -- <ISF-Files/ISF> --list`
//! (docs/isf.md has the figures and the failures of each path).

pub mod isf;
pub mod scan;
pub mod shadertoy;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::diag::Diagnostic;

/// Name used in diagnostics for lines the engine generated.
pub const WRAPPER_NAME: &str = "<hypna GLSL wrapper>";

/// Errors of this module that are not about the author's source.
#[derive(Debug, thiserror::Error)]
pub enum GlslError {
    /// `glslangValidator` could not be run.
    #[error(
        "cannot run `{program}` ({source}); install Debian's `glslang-tools` (scripts/setup.sh test does), or leave HYPNA_GLSL_COMPILER unset for naga"
    )]
    Tool {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// A temporary file for the compiler could not be written or read.
    #[error("glslang temporary file `{}`: {source}", path.display())]
    TempFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The shader stage being compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A vertex shader (ISF `.vs`).
    Vertex,
    /// A fragment shader.
    Fragment,
}

impl Stage {
    fn naga(self) -> naga::ShaderStage {
        match self {
            Self::Vertex => naga::ShaderStage::Vertex,
            Self::Fragment => naga::ShaderStage::Fragment,
        }
    }

    fn glslang(self) -> &'static str {
        match self {
            Self::Vertex => "vert",
            Self::Fragment => "frag",
        }
    }
}

/// Which GLSL compiler turns the wrapped source into a naga module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiler {
    /// glslang to SPIR-V, then naga's SPIR-V front end.
    Glslang,
    /// naga's GLSL front end.
    Naga,
}

impl Compiler {
    /// The compiler to use: `HYPNA_GLSL_COMPILER` (`naga` or `glslang`), else naga.
    #[must_use]
    pub fn from_env() -> Self {
        match std::env::var("HYPNA_GLSL_COMPILER").as_deref() {
            Ok("glslang") => Self::Glslang,
            _ => Self::Naga,
        }
    }

    /// Its name, as `HYPNA_GLSL_COMPILER` spells it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Glslang => "glslang",
            Self::Naga => "naga",
        }
    }
}

/// Where a line of a composed source came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The wrapper generated it.
    Generated,
    /// Line `line` (1-based) of `files[file]`, with text inserted at these places.
    User {
        /// Index into [`Composed::files`].
        file: usize,
        /// 1-based line in that file.
        line: u32,
        /// `(column, length)` of each insertion on the line.
        inserts: scan::LineInserts,
    },
}

/// A generated GLSL source and where each of its lines came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Composed {
    /// The full GLSL text.
    pub text: String,
    /// `lines[i]` is the origin of line `i + 1` of `text`.
    pub lines: Vec<Origin>,
    /// The author's files, in the order `Origin::User::file` indexes them.
    pub files: Vec<PathBuf>,
}

impl Composed {
    /// A diagnostic at 1-based `line`, `col` of the composed text, moved to the author's file.
    #[must_use]
    pub fn locate(&self, line: u32, col: Option<u32>, message: String) -> Diagnostic {
        let fallback = || {
            self.files
                .last()
                .cloned()
                .unwrap_or_else(|| PathBuf::from(WRAPPER_NAME))
        };
        if let Some(Origin::User {
            file,
            line,
            inserts,
        }) = self.lines.get(line.saturating_sub(1) as usize)
        {
            let path = self.files.get(*file).cloned().unwrap_or_else(fallback);
            let col = col.map_or(1, |c| scan::original_col(inserts, c));
            return Diagnostic::at(path, *line, col, message);
        }
        // An error in generated code is usually caused by the author (a name clash with a
        // built-in, a missing `main`): say where in the wrapper, for the curious.
        let text = self
            .text
            .lines()
            .nth(line.saturating_sub(1) as usize)
            .unwrap_or("")
            .trim();
        Diagnostic::file(fallback(), message)
            .with_note(format!("in the generated wrapper, line {line}: `{text}`"))
    }

    /// The author's source line for a diagnostic's excerpt, with a caret at `col`.
    fn excerpt(&self, line: u32, col: u32) -> Option<String> {
        let text = self.text.lines().nth(line.saturating_sub(1) as usize)?;
        if text.trim().is_empty() {
            return None;
        }
        let pad: String = text
            .chars()
            .take(col.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        Some(format!("{text}\n{pad}^"))
    }
}

/// Compiles `source` for `stage` with `compiler` and validates the result.
///
/// # Errors
/// The first problem, located in the author's file (`Err(Ok(..))`), or a tool failure
/// (`Err(Err(..))`: glslang missing, temporary files).
pub fn compile(
    source: &Composed,
    stage: Stage,
    compiler: Compiler,
) -> Result<naga::Module, Result<Diagnostic, GlslError>> {
    let module = front(source, stage, compiler)?;
    validate(source, &module, compiler).map_err(Ok)?;
    Ok(module)
}

/// Parses `source` into a naga module with `compiler`, without validating it.
///
/// # Errors
/// As [`compile`].
pub fn front(
    source: &Composed,
    stage: Stage,
    compiler: Compiler,
) -> Result<naga::Module, Result<Diagnostic, GlslError>> {
    match compiler {
        Compiler::Naga => naga_front(source, stage).map_err(Ok),
        Compiler::Glslang => glslang_front(source, stage),
    }
}

/// Validates `module` (made from `source` by `compiler`) like wgpu will.
///
/// # Errors
/// The validation error, located where naga's spans allow (only modules from naga's GLSL
/// front end have spans into `source`; SPIR-V spans are offsets into the binary).
pub fn validate(
    source: &Composed,
    module: &naga::Module,
    compiler: Compiler,
) -> Result<naga::valid::ModuleInfo, Diagnostic> {
    let mut validator = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    );
    validator.validate(module).map_err(|e| {
        let mut message = e.as_inner().to_string();
        let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e.as_inner());
        while let Some(c) = cause {
            write!(message, ": {c}").unwrap_or_default();
            cause = c.source();
        }
        let place = e
            .spans()
            .filter(|_| compiler == Compiler::Naga)
            .find(|(span, _)| span.to_range().is_some_and(|r| r.end <= source.text.len()))
            .map(|(span, _)| span.location(&source.text));
        match place {
            Some(loc) => with_excerpt(
                source,
                loc.line_number,
                loc.line_position,
                source.locate(loc.line_number, Some(loc.line_position), message),
            ),
            None => Diagnostic::file(
                source
                    .files
                    .last()
                    .cloned()
                    .unwrap_or_else(|| PathBuf::from(WRAPPER_NAME)),
                message,
            ),
        }
    })
}

fn with_excerpt(source: &Composed, line: u32, col: u32, mut d: Diagnostic) -> Diagnostic {
    if d.line.is_some()
        && let Some(x) = source.excerpt(line, col)
    {
        d.notes.push(x);
    }
    d
}

fn naga_front(source: &Composed, stage: Stage) -> Result<naga::Module, Diagnostic> {
    let mut frontend = naga::front::glsl::Frontend::default();
    frontend
        .parse(
            &naga::front::glsl::Options::from(stage.naga()),
            &source.text,
        )
        .map_err(|errors| {
            let Some(first) = errors.errors.first() else {
                return Diagnostic::file(
                    source.files.last().cloned().unwrap_or_default(),
                    "naga's GLSL front end failed without a message",
                );
            };
            let message = first.kind.to_string();
            if first
                .meta
                .to_range()
                .is_some_and(|r| r.end <= source.text.len())
            {
                let loc = first.meta.location(&source.text);
                let d = source.locate(loc.line_number, Some(loc.line_position), message);
                with_excerpt(source, loc.line_number, loc.line_position, d)
            } else {
                Diagnostic::file(source.files.last().cloned().unwrap_or_default(), message)
            }
        })
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The glslang executable: `HYPNA_GLSLANG` or `glslangValidator` on the `PATH`.
fn glslang_program() -> String {
    std::env::var("HYPNA_GLSLANG").unwrap_or_else(|_| "glslangValidator".to_string())
}

fn glslang_front(
    source: &Composed,
    stage: Stage,
) -> Result<naga::Module, Result<Diagnostic, GlslError>> {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let base = std::env::temp_dir().join(format!("hypna-glsl-{}-{n}", std::process::id()));
    let input = base.with_extension(stage.glslang());
    let output = base.with_extension("spv");
    let temp_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Err(GlslError::TempFile { path, source })
    };
    std::fs::write(&input, &source.text).map_err(temp_error(&input))?;
    let program = glslang_program();
    let run = Command::new(&program)
        .args([
            "-V",
            "--target-env",
            "vulkan1.0",
            "--quiet",
            "-S",
            stage.glslang(),
            "-o",
        ])
        .arg(&output)
        .arg(&input)
        .output();
    remove_temp(&input);
    let run = run.map_err(|source| Err(GlslError::Tool { program, source }))?;
    if !run.status.success() {
        remove_temp(&output);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        return Err(Ok(glslang_error(source, &text)));
    }
    let bytes = std::fs::read(&output).map_err(|e| temp_error(&output)(e))?;
    remove_temp(&output);
    let options = naga::front::spv::Options {
        // The wrappers already speak wgpu's clip space (y up), like naga's GLSL front end.
        adjust_coordinate_space: false,
        strict_capabilities: false,
        block_ctx_dump_prefix: None,
    };
    naga::front::spv::parse_u8_slice(&bytes, &options).map_err(|e| {
        Ok(Diagnostic::file(
            source.files.last().cloned().unwrap_or_default(),
            format!("naga cannot read glslang's SPIR-V: {e}"),
        ))
    })
}

/// The first `ERROR: <file>:<line>: '<token>' : <message>` of glslang's output, located.
fn glslang_error(source: &Composed, output: &str) -> Diagnostic {
    let fallback = || {
        Diagnostic::file(
            source.files.last().cloned().unwrap_or_default(),
            format!("glslang: {}", output.trim()),
        )
    };
    let Some(line) = output.lines().find_map(|l| l.strip_prefix("ERROR: ")) else {
        return fallback();
    };
    // `<file>:<line>: rest`; the file is our temporary path (it has no `: ` in it).
    let mut parts = line.splitn(3, ':');
    let (Some(_file), Some(number), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return fallback();
    };
    let Ok(number) = number.trim().parse::<u32>() else {
        return fallback();
    };
    let rest = rest.trim();
    // `'token' : message` -> "message: `token`", with the token's column on the line.
    let (token, message) = match rest.strip_prefix('\'').and_then(|r| r.split_once("' :")) {
        Some((token, message)) => (token.trim(), message.trim()),
        None => ("", rest),
    };
    let message = if token.is_empty() {
        message.to_string()
    } else {
        format!("{message}: `{token}`")
    };
    let text = source
        .text
        .lines()
        .nth(number.saturating_sub(1) as usize)
        .unwrap_or("");
    let col = (!token.is_empty())
        .then(|| find_word(text, token))
        .flatten()
        .map(|i| u32::try_from(i + 1).unwrap_or(1));
    let d = source.locate(number, col, message);
    match col {
        Some(c) => with_excerpt(source, number, c, d),
        None => d,
    }
}

/// Byte index of `word` in `line` as a whole word (not inside a longer name).
fn find_word(line: &str, word: &str) -> Option<usize> {
    let is_name = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = line.as_bytes();
    let mut from = 0;
    while let Some(i) = line[from..].find(word).map(|i| i + from) {
        let before = i.checked_sub(1).map(|j| b[j]);
        let after = b.get(i + word.len()).copied();
        let whole = !word.bytes().next().is_some_and(is_name)
            || (!before.is_some_and(is_name) && !after.is_some_and(is_name));
        if whole {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// Removes a temporary file of the glslang path; one left behind (already gone, or a
/// read-only temp folder) is only logged.
fn remove_temp(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::debug!("cannot remove {}: {e}", path.display());
    }
}
