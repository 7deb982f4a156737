//! Shader loading: the generated prelude, `#include` expansion, naga validation, and errors
//! mapped back to the author's `file:line:col` (never to the generated source).
//!
//! No GPU is needed here, so `hypna check` and the tests validate every WGSL file anywhere.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::fullscreen::{VERTEX_OUTPUT_WGSL, VERTEX_STAGE_WGSL};
use super::globals::GLOBALS_WGSL;
use crate::diag::{Diagnostic, Diagnostics};
use crate::scene::{Format, PassDef, Scene};

/// Deepest `#include` nesting.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Largest shader with its prelude and includes, in bytes.
pub const MAX_COMPOSED_BYTES: usize = 4 << 20;

/// Name used in diagnostics for lines the engine generated.
pub const PRELUDE_NAME: &str = "<hypna prelude>";
pub use super::fullscreen::VERTEX_ENTRY;

/// A validated pass shader: prelude + expanded author source, parsed and checked by naga.
#[derive(Debug, Clone)]
pub struct PassShader {
    /// The full composed WGSL.
    pub source: String,
    /// naga's IR of `source`, validated.
    pub module: naga::Module,
    /// The author's `@fragment` entry point.
    pub fragment_entry: String,
    /// Every file read (the pass shader and its includes), for hot reload.
    pub files: Vec<PathBuf>,
}

/// Where each line of the composed source came from.
#[derive(Debug, Default)]
struct LineMap {
    /// `origins[i]` is line `i + 1` of the composed source: (file index or None for prelude, line).
    origins: Vec<(Option<usize>, u32)>,
    files: Vec<PathBuf>,
}

impl LineMap {
    /// The author's file and line of a span of the composed source. A span at the very end
    /// (an unclosed brace) maps to the last line.
    fn origin(&self, composed: &str, span: naga::Span) -> Option<(PathBuf, u32, u32)> {
        if !span.is_defined() {
            return None;
        }
        let loc = span.location(composed);
        let idx = loc.line_number.saturating_sub(1) as usize;
        let (file, line) = self.origins.get(idx).or_else(|| self.origins.last())?;
        let path = file.map_or_else(|| PathBuf::from(PRELUDE_NAME), |f| self.files[f].clone());
        let col = if idx < self.origins.len() {
            loc.line_position
        } else {
            // Past the end: just after the last character of the last line.
            let last = composed
                .trim_end_matches('\n')
                .rsplit('\n')
                .next()
                .unwrap_or("");
            u32::try_from(last.len() + 1).unwrap_or(1)
        };
        Some((path, *line, col))
    }

    /// One diagnostic from naga's message and labelled spans: located at the first span that
    /// has a place (undefined spans are skipped), the others as notes, plus the source line
    /// with a caret under the problem.
    fn diagnose(
        &self,
        composed: &str,
        file: &Path,
        message: String,
        labels: &[(naga::Span, String)],
    ) -> Diagnostic {
        // naga labels some spans with its own IR names ("naga::ir::Expression [5]"): useless
        // to an author, so only the place is kept.
        let readable = |label: &String| {
            // naga's constant evaluator labels its span "see msg": nothing to add.
            if label.starts_with("naga::") || label == "see msg" {
                String::new()
            } else {
                label.clone()
            }
        };
        let mut located = labels.iter().filter_map(|(span, label)| {
            Some((*span, readable(label), self.origin(composed, *span)?))
        });
        let Some((span, label, (path, line, col))) = located.next() else {
            // No span at all (some entry-point errors): point at the author's `@fragment`.
            let fragment = composed_fragment_site(composed, self);
            let mut d = match fragment {
                Some((path, line, col)) => Diagnostic::at(path, line, col, message),
                None => Diagnostic::file(file, message),
            };
            d.notes.extend(
                labels
                    .iter()
                    .map(|(_, l)| readable(l))
                    .filter(|l| !l.is_empty()),
            );
            return d;
        };
        let redundant = label.split_whitespace().all(|w| message.contains(w));
        let message = if label.is_empty() || redundant {
            message
        } else {
            format!("{message}: {label}")
        };
        let mut d = Diagnostic::at(path, line, col, message);
        if let Some(excerpt) = excerpt(composed, span) {
            d.notes.push(excerpt);
        }
        for (_, label, (path, line, col)) in located.filter(|(_, l, _)| !l.is_empty()) {
            d.notes
                .push(format!("{}:{line}:{col}: {label}", path.display()));
        }
        d
    }
}

/// True when the entry point returns a `vec4<f32>` bound to `@location(0)`.
fn writes_vec4_at_location_0(module: &naga::Module, ep: &naga::EntryPoint) -> bool {
    let Some(result) = &ep.function.result else {
        return false;
    };
    let is_location_0 = matches!(
        result.binding,
        Some(naga::Binding::Location { location: 0, .. })
    );
    let is_vec4_f32 = matches!(
        module.types[result.ty].inner,
        naga::TypeInner::Vector {
            size: naga::VectorSize::Quad,
            scalar: naga::Scalar {
                kind: naga::ScalarKind::Float,
                width: 4
            }
        }
    );
    is_location_0 && is_vec4_f32
}

/// Where the author's `@fragment` attribute stands.
fn composed_fragment_site(composed: &str, map: &LineMap) -> Option<(PathBuf, u32, u32)> {
    let i = composed.rfind("@fragment")?;
    map.origin(
        composed,
        naga::Span::new(u32::try_from(i).ok()?, u32::try_from(i + 9).ok()?),
    )
}

/// naga's validator prints some types in Rust debug form; rewrite the common ones in WGSL.
fn readable_validation_error(
    module: &naga::Module,
    error: &naga::valid::ValidationError,
) -> Option<String> {
    use naga::common::wgsl::TypeContext;
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(c) = cause {
        if let Some(naga::valid::ExpressionError::InvalidBinaryOperandTypes {
            op,
            lhs_type,
            rhs_type,
            ..
        }) = c.downcast_ref::<naga::valid::ExpressionError>()
        {
            let ctx = module.to_ctx();
            let (mut lhs, mut rhs) = (String::new(), String::new());
            ctx.write_type_inner(lhs_type, &mut lhs).ok()?;
            ctx.write_type_inner(rhs_type, &mut rhs).ok()?;
            return Some(format!(
                "operator `{}` cannot combine `{lhs}` and `{rhs}`",
                operator_str(*op)
            ));
        }
        cause = c.source();
    }
    None
}

fn operator_str(op: naga::BinaryOperator) -> &'static str {
    use naga::BinaryOperator as B;
    match op {
        B::Add => "+",
        B::Subtract => "-",
        B::Multiply => "*",
        B::Divide => "/",
        B::Modulo => "%",
        B::Equal => "==",
        B::NotEqual => "!=",
        B::Less => "<",
        B::LessEqual => "<=",
        B::Greater => ">",
        B::GreaterEqual => ">=",
        B::And => "&",
        B::ExclusiveOr => "^",
        B::InclusiveOr => "|",
        B::LogicalAnd => "&&",
        B::LogicalOr => "||",
        B::ShiftLeft => "<<",
        B::ShiftRight => ">>",
    }
}

/// The source line a span starts on, with a caret line under the span (tabs kept so the
/// caret lines up).
fn excerpt(composed: &str, span: naga::Span) -> Option<String> {
    let range = span.to_range()?;
    let start = range.start.min(composed.len());
    let line_start = composed[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = composed[start..]
        .find('\n')
        .map_or(composed.len(), |i| start + i);
    let text = &composed[line_start..line_end];
    if text.trim().is_empty() {
        return None;
    }
    let pad: String = composed[line_start..start]
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let width = range.end.min(line_end).saturating_sub(start).max(1);
    Some(format!("{text}\n{pad}{}", "^".repeat(width)))
}

/// Where `#include "x"` looks after the including file's own folder.
#[must_use]
pub fn library_roots(scene_path: &Path) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    // Absolute first, so the result does not depend on how the path was typed.
    let absolute = std::path::absolute(scene_path).unwrap_or_else(|_| scene_path.to_path_buf());
    let dir = absolute.parent().unwrap_or_else(|| Path::new("."));
    for ancestor in dir.ancestors().take(4) {
        let candidate = ancestor.join("shaders");
        if candidate.is_dir() {
            roots.push(candidate);
        }
    }
    if let Some(paths) = std::env::var_os("HYPNA_SHADER_PATH") {
        roots.extend(std::env::split_paths(&paths));
    }
    roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders"));
    roots
}

/// Generates the WGSL prelude for `pass` of `scene`: globals, params, inputs, vertex stage.
#[must_use]
pub fn prelude(scene: &Scene, pass: &PassDef) -> String {
    let mut s = String::from("// hypna prelude (generated; see docs/shaders.md)\n");
    s.push_str(GLOBALS_WGSL);
    s.push_str("struct Params {\n");
    if scene.params.is_empty() {
        s.push_str("    hypna_unused: f32,\n");
    }
    for p in &scene.params {
        s.push_str("    ");
        s.push_str(&p.name);
        s.push_str(": f32,\n");
    }
    s.push_str("}\n");
    s.push_str(VERTEX_OUTPUT_WGSL);
    s.push_str(
        "@group(0) @binding(0) var<uniform> globals: Globals;\n\
         @group(0) @binding(1) var<uniform> params: Params;\n\
         @group(0) @binding(2) var hypna_audio: texture_2d<f32>;\n",
    );
    for (i, input) in pass.inputs.iter().enumerate() {
        for (binding, kind, ty) in [
            (2 * i, "tex", "texture_2d<f32>"),
            (2 * i + 1, "samp", "sampler"),
        ] {
            s.push_str("@group(1) @binding(");
            s.push_str(&binding.to_string());
            s.push_str(") var ");
            s.push_str(kind);
            s.push('_');
            s.push_str(&input.name);
            s.push_str(": ");
            s.push_str(ty);
            s.push_str(";\n");
        }
    }
    s.push_str(VERTEX_STAGE_WGSL);
    s.push_str(
        "fn audio_band(i: u32) -> f32 {\n    let j = min(i, 15u);\n    return globals.bands[j / 4u][j % 4u];\n}\n\
         fn hypna_audio_row(x: f32, row: u32) -> f32 {\n    \
         let p = clamp(x, 0.0, 1.0) * 511.0;\n    \
         let i = u32(floor(p));\n    \
         let a = textureLoad(hypna_audio, vec2<u32>(i, row), 0).r;\n    \
         let b = textureLoad(hypna_audio, vec2<u32>(min(i + 1u, 511u), row), 0).r;\n    \
         return mix(a, b, p - f32(i));\n}\n\
         fn audio_spectrum(x: f32) -> f32 {\n    return hypna_audio_row(x, 0u);\n}\n\
         fn audio_waveform(x: f32) -> f32 {\n    return hypna_audio_row(x, 1u);\n}\n"
    );
    s
}

/// Loads, expands and validates the shader of `pass`.
///
/// # Errors
/// Every problem located in the author's file: a missing file, a missing or cyclic include,
/// WGSL syntax and type errors, a missing or ambiguous `@fragment` entry point.
pub fn load_pass_shader(scene: &Scene, pass: &PassDef) -> Result<PassShader, Diagnostics> {
    let roots = library_roots(&scene.path);
    let prelude = prelude(scene, pass);
    compose_and_validate(&prelude, &pass.shader, &roots).map_err(|mut errors| {
        // A mistyped `params.<name>` is the commonest author slip: say what exists.
        for d in &mut errors.0 {
            let on_params = d
                .notes
                .first()
                .is_some_and(|excerpt| excerpt.contains("params."));
            if d.message.starts_with("invalid field accessor") && on_params {
                let names: Vec<&str> = scene.params.iter().map(|p| p.name.as_str()).collect();
                d.notes.push(if names.is_empty() {
                    "this scene declares no params".to_string()
                } else {
                    format!("params in this scene: {}", names.join(", "))
                });
            }
        }
        errors
    })
}

/// Composes `prelude` + the expanded `file` and validates the result.
///
/// # Errors
/// See [`load_pass_shader`].
pub fn compose_and_validate(
    prelude: &str,
    file: &Path,
    roots: &[PathBuf],
) -> Result<PassShader, Diagnostics> {
    let mut map = LineMap::default();
    let mut source = String::new();
    for (i, line) in prelude.lines().enumerate() {
        source.push_str(line);
        source.push('\n');
        map.origins
            .push((None, u32::try_from(i + 1).unwrap_or(u32::MAX)));
    }
    let prelude_len = source.len();
    let mut expander = Expander {
        roots,
        stack: Vec::new(),
        seen: HashSet::new(),
        map: &mut map,
        out: &mut source,
    };
    expander
        .expand(file, None)
        .map_err(|d| Diagnostics(vec![d]))?;

    if source[prelude_len..].trim().is_empty() {
        return Err(Diagnostics(vec![
            Diagnostic::at(file, 1, 1, "the shader is empty").with_note(
                "write `@fragment fn main(in: VertexOutput) -> @location(0) vec4<f32> { ... }`",
            ),
        ]));
    }
    // Bounded before naga sees it: naga lowers expressions recursively (habit 23). The
    // composed text is checked, so an expression cut across includes counts whole.
    if let Err(shape) = crate::untrusted::wgsl_guard(&source) {
        let end = u32::try_from(shape.offset + 1).unwrap_or(u32::MAX);
        let span = naga::Span::new(end.saturating_sub(1), end);
        let mut d = match map.origin(&source, span) {
            Some((path, line, col)) => Diagnostic::at(path, line, col, shape.message),
            None => Diagnostic::file(file, shape.message),
        };
        d.notes.push(shape.note);
        return Err(Diagnostics(vec![d]));
    }

    let module = naga::front::wgsl::parse_str(&source).map_err(|e| {
        let labels: Vec<(naga::Span, String)> =
            e.labels().map(|(s, l)| (s, l.to_string())).collect();
        let mut d = map.diagnose(&source, file, e.message().to_string(), &labels);
        d.notes.extend(e.notes().map(str::to_string));
        Diagnostics(vec![d])
    })?;

    let mut validator = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    );
    if let Err(e) = validator.validate(&module) {
        let mut message = e.as_inner().to_string();
        let causes = std::iter::successors(std::error::Error::source(e.as_inner()), |c| c.source());
        for cause in causes {
            message = format!("{message}: {cause}");
        }
        if let Some(readable) = readable_validation_error(&module, e.as_inner()) {
            message = readable;
        }
        let labels: Vec<(naga::Span, String)> = e.spans().cloned().collect();
        return Err(Diagnostics(vec![
            map.diagnose(&source, file, message, &labels),
        ]));
    }

    let fragments: Vec<&naga::EntryPoint> = module
        .entry_points
        .iter()
        .filter(|ep| ep.stage == naga::ShaderStage::Fragment)
        .collect();
    let fragment_entry = match fragments.as_slice() {
        [one] => {
            if !writes_vec4_at_location_0(&module, one) {
                let at = composed_fragment_site(&source, &map);
                let message = format!(
                    "@fragment `{}` must return `@location(0) vec4<f32>` (the pass's colour)",
                    one.name
                );
                let d = match at {
                    Some((path, line, col)) => Diagnostic::at(path, line, col, message),
                    None => Diagnostic::file(file, message),
                };
                return Err(Diagnostics(vec![d]));
            }
            one.name.clone()
        }
        [] => {
            return Err(Diagnostics(vec![
                Diagnostic::at(file, 1, 1, "no @fragment entry point").with_note(
                    "write `@fragment fn main(in: VertexOutput) -> @location(0) vec4<f32> { ... }`",
                ),
            ]));
        }
        many => {
            let names = many
                .iter()
                .map(|ep| format!("`{}`", ep.name))
                .collect::<Vec<_>>()
                .join(", ");
            let message = format!("more than one @fragment entry point: {names}");
            // At the last one (the first is the one an author meant to keep, usually).
            let d = match composed_fragment_site(&source, &map) {
                Some((path, line, col)) => Diagnostic::at(path, line, col, message),
                None => Diagnostic::at(file, 1, 1, message),
            };
            return Err(Diagnostics(vec![d]));
        }
    };
    Ok(PassShader {
        source,
        module,
        fragment_entry,
        files: map.files,
    })
}

struct Expander<'a> {
    roots: &'a [PathBuf],
    /// Canonical paths of the files being expanded, outermost first (cycle detection).
    stack: Vec<PathBuf>,
    /// Canonical paths already included once (later includes of them are skipped).
    seen: HashSet<PathBuf>,
    map: &'a mut LineMap,
    out: &'a mut String,
}

/// Where an include directive stands: (file, line, col) for errors.
type Site = (PathBuf, u32, u32);

impl Expander<'_> {
    fn expand(&mut self, file: &Path, site: Option<&Site>) -> Result<(), Diagnostic> {
        let at_site = |message: String| match site {
            Some((f, l, c)) => Diagnostic::at(f, *l, *c, message),
            None => Diagnostic::file(file, message),
        };
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(at_site(format!(
                "includes nested more than {MAX_INCLUDE_DEPTH} deep at `{}`",
                file.display()
            )));
        }
        let text =
            crate::untrusted::read_text(file, crate::untrusted::MAX_SHADER_BYTES).map_err(|e| {
                match (site, &e) {
                    // A bad byte is located in the included file itself.
                    (_, crate::untrusted::SourceError::NotUtf8 { .. }) | (None, _) => {
                        e.diagnostic(file, "shader")
                    }
                    (Some(_), _) => at_site(format!(
                        "cannot read included file `{}`: {e}",
                        file.display()
                    )),
                }
            })?;
        if self.out.len() + text.len() > MAX_COMPOSED_BYTES {
            return Err(at_site(format!(
                "the shader with its includes is more than {} MiB",
                MAX_COMPOSED_BYTES >> 20
            )));
        }
        let canonical = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
        if self.stack.contains(&canonical) {
            let (f, l, c) = site.cloned().unwrap_or_else(|| (file.to_path_buf(), 1, 1));
            let mut chain: Vec<String> =
                self.stack.iter().map(|p| p.display().to_string()).collect();
            chain.push(canonical.display().to_string());
            return Err(Diagnostic::at(
                f,
                l,
                c,
                format!(
                    "include cycle: `{}` is already being included",
                    file.display()
                ),
            )
            .with_note(format!("chain: {}", chain.join(" -> "))));
        }
        if !self.seen.insert(canonical.clone()) {
            return Ok(());
        }
        self.stack.push(canonical);
        let file_index = self.map.files.len();
        self.map.files.push(file.to_path_buf());
        for (i, line) in text.lines().enumerate() {
            let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let trimmed = line.trim_start();
            if let Some(rest) = trimmed.strip_prefix("#include") {
                let col = u32::try_from(line.len() - trimmed.len() + 1).unwrap_or(1);
                let site = (file.to_path_buf(), line_no, col);
                let target = parse_include(rest).ok_or_else(|| {
                    Diagnostic::at(file, line_no, col, "malformed include")
                        .with_note("write `#include \"lib/noise.wgsl\"`")
                })?;
                let resolved = self.resolve(file, &target).map_err(|why| {
                    let tried = why
                        .tried
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    let mut d = Diagnostic::at(
                        file,
                        line_no,
                        col,
                        format!("included file `{target}` not found"),
                    )
                    .with_note(format!("looked in: {tried}"));
                    if let Some(library) = &why.library {
                        d.notes.push(format!(
                            "`{}` is the library for this include, and it has no such file",
                            library.display()
                        ));
                    }
                    if let Some(copy) = &why.elsewhere {
                        d.notes.push(format!(
                            "a copy exists at `{}`; put one into the library above, or remove that library folder to use it",
                            copy.display()
                        ));
                    }
                    d
                })?;
                self.expand(&resolved, Some(&site))?;
                // Keep one line per source line so columns and later lines stay mapped.
                self.out.push('\n');
                self.map.origins.push((Some(file_index), line_no));
            } else {
                self.out.push_str(line);
                self.out.push('\n');
                self.map.origins.push((Some(file_index), line_no));
            }
        }
        self.stack.pop();
        Ok(())
    }

    /// The file `#include "target"` names, from `from`: the including file's own folder,
    /// then the library roots in order. For a target in a folder (`lib/noise.wgsl`), the
    /// first root that has that folder is the library: a file missing there is an error even
    /// when another root has a copy (a file deleted from a project's own `shaders/lib` must
    /// not silently come from somewhere else).
    fn resolve(&self, from: &Path, target: &str) -> Result<PathBuf, Unresolved> {
        let mut tried = Vec::new();
        let own_dir = from.parent().unwrap_or_else(|| Path::new("."));
        let candidate = own_dir.join(target);
        // Anything there (a directory, a FIFO) is named as such when it is read.
        if candidate.exists() {
            return Ok(candidate);
        }
        tried.push(candidate);
        let in_folder = Path::new(target)
            .parent()
            .is_some_and(|p| !p.as_os_str().is_empty());
        for (i, root) in self.roots.iter().enumerate() {
            let candidate = root.join(target);
            if candidate.exists() {
                return Ok(candidate);
            }
            if !tried.contains(&candidate) {
                tried.push(candidate.clone());
            }
            if in_folder && candidate.parent().is_some_and(Path::is_dir) {
                let elsewhere = self.roots[i + 1..]
                    .iter()
                    .map(|r| r.join(target))
                    .find(|c| c.is_file());
                return Err(Unresolved {
                    tried,
                    library: candidate.parent().map(Path::to_path_buf),
                    elsewhere,
                });
            }
        }
        Err(Unresolved {
            tried,
            library: None,
            elsewhere: None,
        })
    }
}

/// Why an include was not found.
struct Unresolved {
    /// Every path looked at.
    tried: Vec<PathBuf>,
    /// The library folder that decided (it exists but lacks the file).
    library: Option<PathBuf>,
    /// A copy in a later root, not used.
    elsewhere: Option<PathBuf>,
}

/// `  "path"  ` -> `path`.
fn parse_include(rest: &str) -> Option<String> {
    let rest = rest.trim().strip_prefix('"')?;
    let (inner, after) = rest.split_once('"')?;
    // Only a line comment may follow the quoted path.
    let after = after.trim();
    (!inner.is_empty() && (after.is_empty() || after.starts_with("//"))).then(|| inner.to_string())
}

/// The `wgpu` texture format for a scene format.
#[must_use]
pub fn texture_format(format: Format) -> wgpu::TextureFormat {
    match format {
        Format::Rgba8unorm => wgpu::TextureFormat::Rgba8Unorm,
        Format::Rgba16float => wgpu::TextureFormat::Rgba16Float,
        Format::Rgba32float => wgpu::TextureFormat::Rgba32Float,
    }
}

#[cfg(test)]
mod prelude_doc {
    use super::*;

    /// `docs/shaders.md` shows the prelude of its example "exactly": it must stay so.
    #[test]
    fn the_prelude_is_the_one_the_shader_docs_show() {
        let docs =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/shaders.md"))
                .unwrap();
        let start = docs
            .find("```wgsl\n// hypna prelude")
            .expect("the prelude block in docs/shaders.md")
            + "```wgsl\n".len();
        let shown = &docs[start..start + docs[start..].find("```").unwrap()];
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ink.wgsl"), "").unwrap();
        let scene = Scene::parse(
            "[scene]\nname = \"ink\"\n\n[params.speed]\ndefault = 0.5\n\n[params.decay]\n\
             default = 0.5\n\n[[pass]]\nname = \"ink\"\nshader = \"ink.wgsl\"\n\
             inputs = [\"ink\"]\n",
            &dir.path().join("ink.toml"),
        )
        .unwrap();
        assert_eq!(prelude(&scene, &scene.passes[0]), shown);
    }
}
