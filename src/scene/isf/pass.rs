//! An ISF file as part of a scene: `[[pass]] isf = "file.fs"` expands into one scene pass per
//! entry of the file's PASSES (the last one carries the `[[pass]]` name; the others are named
//! `<name>.<TARGET>`), and its non-image INPUTS become scene params. A bare `.fs` file is a
//! scene of its own ([`bare_scene_toml`]).
//!
//! The mapping (docs/isf.md has the table): `float` is a param with the input's range,
//! `long` a param over its values' range (the shader gets the value rounded), `bool` and
//! `event` a 0..1 param (true above 0.5), `point2D` two params `<name>_x`, `<name>_y` (pixels,
//! the render size when the file gives no range), `color` four params `<name>_r` .. `<name>_a`;
//! `image` inputs read the pass or texture `images` names (else the pass before), `audio` and
//! `audioFFT` inputs hypna's audio input.
//! A param the scene declares itself under that name is used as it is (its range, smoothing,
//! OSC and audio settings), and two ISF passes with an input of the same name share it.
//! Defaults are clamped into their ranges.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::header::{self, InputKind, IsfHeader};
use crate::diag::Diagnostic;
use crate::scene::raw::{Filter, Format, RawPass, Wrap};
use crate::scene::rules::{Ctx, location};
use crate::scene::{ImageDef, ImagePixels, Location, ParamDef, PassDef, PassInput, TextureSource};

/// What a scene pass made from an ISF file knows of it.
#[derive(Debug, Clone, PartialEq)]
pub struct IsfPassDef {
    /// The file's header.
    pub header: IsfHeader,
    /// This pass's index in the file's PASSES (ISF's `PASSINDEX`).
    pub pass_index: u32,
    /// The `.vs` file beside the `.fs`, if there is one.
    pub vertex: Option<PathBuf>,
    /// For each non-image input, by name: the indices of the params holding its value (one;
    /// two for `point2D`; four for `color`).
    pub inputs: Vec<(String, Vec<usize>)>,
}

/// An ISF `[[pass]]` read ahead of validation: the file, its header and the names of the
/// passes it expands into.
#[derive(Debug)]
pub(in crate::scene) struct Plan {
    /// The `.fs` file.
    pub file: PathBuf,
    /// Its header.
    pub header: IsfHeader,
    /// One name per pass of the file, in order.
    pub names: Vec<String>,
}

/// How many passes the file renders (an ISF file without PASSES renders one).
fn pass_count(header: &IsfHeader) -> usize {
    header.passes.len().max(1)
}

/// Reads the ISF file `isf` of the pass named `name` (relative to `dir`) and plans its passes.
/// Problems (a missing file, a bad header) are recorded; `None` then.
pub(in crate::scene) fn plan(
    ctx: &mut Ctx<'_>,
    dir: &Path,
    name: &str,
    isf: &Spanned<String>,
) -> Option<Plan> {
    let file = dir.join(isf.get_ref());
    let source = match crate::untrusted::read_text(&file, header::MAX_FILE_BYTES as u64) {
        Ok(s) => s,
        Err(e) => {
            ctx.error(
                &isf.span(),
                format!(
                    "pass `{name}`: cannot read ISF file `{}`: {e}",
                    file.display()
                ),
            )
            .notes
            .push(format!(
                "paths are relative to the scene file's folder `{}`",
                dir.display()
            ));
            return None;
        }
    };
    let header = match header::parse(&source, &file) {
        Ok(h) => h,
        Err(errors) => {
            for d in errors {
                ctx.push(d);
            }
            return None;
        }
    };
    let count = pass_count(&header);
    let names = (0..count)
        .map(|k| {
            if k + 1 == count {
                name.to_string()
            } else {
                match header.passes.get(k).and_then(|p| p.target.as_deref()) {
                    Some(target) => format!("{name}.{target}"),
                    None => format!("{name}.pass{k}"),
                }
            }
        })
        .collect();
    Some(Plan {
        file,
        header,
        names,
    })
}

/// One param of an input: name, label, default, range.
struct Component {
    name: String,
    label: String,
    default: f32,
    min: f32,
    max: f32,
}

fn component(name: String, label: String, default: f32, min: f32, max: f32) -> Component {
    let (min, max) = if min.is_finite() && max.is_finite() && min < max {
        (min, max)
    } else if min.is_finite() {
        (min, min + 1.0)
    } else {
        (0.0, 1.0)
    };
    let default = if default.is_finite() { default } else { min };
    Component {
        name,
        label,
        default: default.clamp(min, max),
        min,
        max,
    }
}

/// The params an input is held in (none for images).
#[allow(clippy::cast_precision_loss)] // render sizes and menu values are small
fn components(input: &header::Input, scene_size: [u32; 2]) -> Vec<Component> {
    let name = if crate::scene::is_identifier(&input.name) {
        input.name.clone()
    } else {
        format!("isf_{}", input.name)
    };
    let label = input.label.clone().unwrap_or_else(|| input.name.clone());
    match &input.kind {
        InputKind::Image | InputKind::Audio { .. } | InputKind::AudioFft { .. } => Vec::new(),
        InputKind::Event => vec![component(name, label, 0.0, 0.0, 1.0)],
        InputKind::Bool { default } => vec![component(
            name,
            label,
            if *default { 1.0 } else { 0.0 },
            0.0,
            1.0,
        )],
        InputKind::Long {
            default, values, ..
        } => {
            let lo = values.iter().copied().min().unwrap_or(*default);
            let hi = values.iter().copied().max().unwrap_or(*default);
            vec![component(
                name,
                label,
                *default as f32,
                lo as f32,
                hi as f32,
            )]
        }
        InputKind::Float {
            default, min, max, ..
        } => vec![component(name, label, *default, *min, *max)],
        InputKind::Point2D { default, min, max } => (0..2)
            .map(|k| {
                let lo = min.map_or(0.0, |m| m[k]).min(default[k]);
                let hi = max.map_or(scene_size[k] as f32, |m| m[k]).max(default[k]);
                component(
                    format!("{name}_{}", ["x", "y"][k]),
                    format!("{label} {}", ["x", "y"][k]),
                    default[k],
                    lo,
                    hi,
                )
            })
            .collect(),
        InputKind::Color { default, min, max } => (0..4)
            .map(|k| {
                let channel = ["r", "g", "b", "a"][k];
                component(
                    format!("{name}_{channel}"),
                    format!("{label} {channel}"),
                    default[k],
                    min[k],
                    max[k],
                )
            })
            .collect(),
    }
}

/// The index of the param `c` names: the scene's own (or another ISF pass's) when one has
/// the name, else a new one.
fn param_for(params: &mut Vec<ParamDef>, c: Component, group: &str, at: Location) -> usize {
    if let Some(i) = params.iter().position(|p| p.name == c.name) {
        return i;
    }
    params.push(ParamDef {
        name: c.name,
        at,
        default: c.default,
        min: c.min,
        max: c.max,
        smooth_secs: 0.0,
        label: c.label,
        group: Some(group.to_string()),
        osc: Vec::new(),
        midi: None,
        modulation: None,
        names: Vec::new(),
    });
    params.len() - 1
}

/// Where the scene's passes and textures stand, for resolving image bindings.
pub(in crate::scene) struct Names<'a> {
    /// Every pass name after expansion, in order.
    pub passes: &'a [String],
    /// Pass formats by expanded index, where already known (earlier passes).
    pub formats: &'a [Format],
    /// Model output textures by name.
    pub textures: &'a [(String, TextureSource)],
}

fn at_in_file(file: &Path, at: (u32, u32), message: String) -> Diagnostic {
    Diagnostic::at(file, at.0, at.1, message)
}

/// Expands the ISF `[[pass]]` `raw` (planned as `plan`, its first pass at expanded index
/// `first`) into its passes, adding the params of its inputs to `params` and its
/// `IMPORTED` images to `images`.
#[allow(clippy::too_many_lines)] // one walk over the file's passes, images and inputs
pub(in crate::scene) fn expand(
    ctx: &mut Ctx<'_>,
    names: &Names<'_>,
    first: usize,
    raw: &RawPass,
    plan: Plan,
    (params, images): (&mut Vec<ParamDef>, &mut Vec<ImageDef>),
    scene_size: [u32; 2],
) -> Vec<PassDef> {
    let name = raw.name.get_ref().clone();
    let isf_span = &raw.isf.as_ref().map(Spanned::span).unwrap_or_default();
    let Plan {
        file,
        header,
        names: own,
    } = plan;
    for (key, span) in [
        ("scale", raw.scale.as_ref().map(Spanned::span)),
        ("size", raw.size.as_ref().map(Spanned::span)),
        ("format", raw.format.as_ref().map(Spanned::span)),
        ("common", raw.common.as_ref().map(Spanned::span)),
        ("mouse", raw.mouse.as_ref().map(Spanned::span)),
    ] {
        if let Some(span) = span {
            ctx.error(
                &span,
                format!("pass `{name}`: `{key}` does not apply to an `isf` pass"),
            )
            .notes
            .push(
                "the ISF file's PASSES give its sizes (WIDTH, HEIGHT) and formats (FLOAT)".into(),
            );
        }
    }
    if raw.filter.is_some() || raw.wrap.is_some() || !raw.inputs.is_empty() {
        ctx.error(
            isf_span,
            format!("pass `{name}`: `filter`, `wrap` and `inputs` do not apply to an `isf` pass"),
        )
        .notes
        .push("bind its image inputs with `images = { inputImage = \"pass\" }`".into());
    }

    // Inputs to params, located at the pass's `isf = ...`.
    let group = name.clone();
    let input_at = location(ctx, isf_span);
    let mut inputs = Vec::new();
    for input in &header.inputs {
        let comps = components(input, scene_size);
        if comps.is_empty() {
            continue;
        }
        let indices: Vec<usize> = comps
            .into_iter()
            .map(|c| param_for(params, c, &group, input_at))
            .collect();
        inputs.push((input.name.clone(), indices));
    }

    // Image inputs to textures.
    let previous = first.checked_sub(1);
    let mut bound: Vec<Option<(TextureSource, bool)>> = Vec::new();
    for input in header.inputs.iter().filter(|i| i.kind.is_image()) {
        if !matches!(input.kind, InputKind::Image) {
            // `audio` and `audioFFT` read hypna's audio input.
            let spectrum = matches!(input.kind, InputKind::AudioFft { .. });
            bound.push(Some((TextureSource::Audio { spectrum }, false)));
            continue;
        }
        let chosen = raw
            .images
            .iter()
            .find(|(k, _)| k.get_ref() == &input.name)
            .map(|(_, v)| (v.get_ref().clone(), v.span()));
        let source = match chosen {
            Some((texture, span)) => {
                match names.passes.iter().position(|n| *n == texture) {
                    Some(p) if p < first => Some(TextureSource::Pass(p)),
                    Some(p) if p < first + own.len() => {
                        ctx.error(&span, format!("pass `{name}`: image `{}` reads `{texture}`, a pass of this ISF file", input.name));
                        None
                    }
                    Some(_) => {
                        ctx.error(&span, format!("pass `{name}`: image `{}` reads `{texture}`, which is produced later", input.name))
                            .notes
                            .push(format!("move `{texture}` before `{name}`"));
                        None
                    }
                    None => {
                        if let Some((_, s)) = names.textures.iter().find(|(t, _)| *t == texture) {
                            Some(*s)
                        } else {
                            let known = names.passes[..first]
                                .iter()
                                .chain(names.textures.iter().map(|(t, _)| t))
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ");
                            ctx.error(&span, format!("pass `{name}`: image `{}` reads `{texture}`, which names no pass or model texture", input.name))
                                .notes
                                .push(format!("textures it can read: {known}"));
                            None
                        }
                    }
                }
            }
            None => {
                if let Some(p) = previous {
                    Some(TextureSource::Pass(p))
                } else {
                    ctx.error(
                        isf_span,
                        format!(
                            "pass `{name}`: image input `{}` of `{}` reads nothing",
                            input.name,
                            file.display()
                        ),
                    )
                    .notes
                    .push(format!(
                        "put a pass before `{name}` (unbound images read the pass before), or bind it: `images = {{ {} = \"pass\" }}`",
                        input.name
                    ));
                    None
                }
            }
        };
        if let Some(TextureSource::Pass(p)) = source
            && names.formats.get(p) == Some(&Format::Rgba32float)
        {
            ctx.error(
                isf_span,
                format!(
                    "pass `{name}`: image `{}` reads `{}`, an \"rgba32float\" pass ISF cannot filter",
                    input.name, names.passes[p]
                ),
            )
            .notes
            .push("give that pass format = \"rgba16float\"".into());
        }
        bound.push(source.map(|s| (s, false)));
    }
    for (key, _) in &raw.images {
        let is_image = header
            .inputs
            .iter()
            .any(|i| i.name == *key.get_ref() && i.kind.is_image());
        if !is_image {
            ctx.error(
                &key.span(),
                format!(
                    "pass `{name}`: `{}` is not an image input of `{}`",
                    key.get_ref(),
                    file.display()
                ),
            );
        }
    }
    // IMPORTED images: decoded now, from files beside the ISF file.
    let mut imported = Vec::new();
    for import in &header.imported {
        let path = file
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(&import.path);
        match crate::untrusted::read_image(&path) {
            Ok(image) => {
                imported.push((import.name.clone(), TextureSource::Image(images.len())));
                images.push(ImageDef {
                    name: import.name.clone(),
                    pixels: ImagePixels::File {
                        path,
                        image: std::sync::Arc::new(image),
                    },
                });
            }
            Err(e) => {
                let mut d = at_in_file(
                    &file,
                    import.at,
                    format!("IMPORTED image `{}`: `{}` {e}", import.name, path.display()),
                );
                d.notes.push(format!(
                    "`PATH` is relative to the ISF file's folder `{}`",
                    crate::untrusted::shown_dir(file.parent().unwrap_or_else(|| Path::new("")))
                        .display()
                ));
                ctx.push(d);
            }
        }
    }

    // Sizes: `$WIDTH`, `$HEIGHT` and the inputs' defaults.
    let lookup = |var: &str| -> Option<f64> {
        match var {
            "WIDTH" => Some(f64::from(scene_size[0])),
            "HEIGHT" => Some(f64::from(scene_size[1])),
            _ => {
                let (_, indices) = inputs.iter().find(|(n, _)| n == var)?;
                let p: &ParamDef = params.get(*indices.first()?)?;
                Some(f64::from(p.default))
            }
        }
    };
    let vertex = Some(file.with_extension("vs")).filter(|p| p.is_file());
    let shader_at = location(ctx, isf_span);
    let mut out = Vec::new();
    for (k, own_name) in own.iter().enumerate() {
        let spec = header.passes.get(k);
        let index = first + k;
        let mut pass_inputs = Vec::new();
        let mut images = bound.iter();
        for image in header.image_names() {
            let source = if let Some(t) = header
                .passes
                .iter()
                .position(|p| p.target.as_deref() == Some(image))
            {
                // A target this pass or a later one writes is last frame's.
                let j = first + t;
                Some((TextureSource::Pass(j), j >= index))
            } else if header.imported.iter().any(|i| i.name == image) {
                imported
                    .iter()
                    .find(|(n, _)| n == image)
                    .map(|(_, source)| (*source, false))
            } else {
                images.next().copied().flatten()
            };
            if let Some((source, previous_frame)) = source {
                pass_inputs.push(PassInput {
                    name: image.to_string(),
                    source,
                    previous_frame,
                });
            }
        }
        let mut size = None;
        if let Some(spec) = spec
            && (spec.width.is_some() || spec.height.is_some())
        {
            let mut measure = |expr: Option<&super::expr::Expr>, axis: usize| -> u32 {
                let Some(expr) = expr else {
                    return scene_size[axis];
                };
                match expr.eval(&lookup) {
                    // Rounded, at least one pixel, at most the largest texture side.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Ok(v) => (v.round().clamp(1.0, 16384.0)) as u32,
                    Err(e) => {
                        ctx.push(at_in_file(
                            &file,
                            spec.at,
                            format!("{} of pass {k}: {}", ["WIDTH", "HEIGHT"][axis], e.message),
                        ));
                        scene_size[axis]
                    }
                }
            };
            size = Some([
                measure(spec.width.as_ref(), 0),
                measure(spec.height.as_ref(), 1),
            ]);
        }
        out.push(PassDef {
            name: own_name.clone(),
            at: location(ctx, &raw.name.span()),
            size_at: size.is_some().then_some(shader_at),
            shader: file.clone(),
            shader_at,
            inputs: pass_inputs,
            scale: [1.0, 1.0],
            size,
            format: if spec.is_some_and(|s| s.float) {
                Format::Rgba16float
            } else {
                Format::Rgba8unorm
            },
            filter: Filter::Linear,
            wrap: Wrap::Clamp,
            isf: Some(IsfPassDef {
                header: header.clone(),
                pass_index: u32::try_from(k).unwrap_or(u32::MAX),
                vertex: vertex.clone(),
                inputs: inputs.clone(),
            }),
            shadertoy: None,
        });
    }
    out
}

/// The scene a bare ISF file plays as (`hypna run Some.fs`): the file's name, the default
/// size, and before the ISF pass the test cards its image inputs read (a transition gets two,
/// `startImage` from the first and `endImage` from the second). A file without a readable
/// header gets no test card; the scene built from it reports the header's problems.
#[must_use]
pub fn bare_scene_toml(fs: &Path, source: &str) -> String {
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let stem = fs
        .file_stem()
        .map_or_else(|| "isf".to_string(), |s| s.to_string_lossy().into_owned());
    let file = fs
        .file_name()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let header = header::parse(source, fs).ok();
    let images: Vec<&str> = header
        .as_ref()
        .map(|h| {
            h.inputs
                .iter()
                .filter(|i| matches!(i.kind, InputKind::Image))
                .map(|i| i.name.as_str())
                .collect()
        })
        .unwrap_or_default();
    let cards = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders/testcard");
    let mut toml = format!("[scene]\nname = {}\n", quote(&stem));
    let transition = header.as_ref().is_some_and(IsfHeader::is_transition);
    let card_count = if images.is_empty() {
        0
    } else if transition {
        2
    } else {
        1
    };
    for card in ["a", "b"].iter().take(card_count) {
        let shader = cards.join(format!("{card}.wgsl"));
        // Writing into a String cannot fail.
        write!(
            toml,
            "\n[[pass]]\nname = \"card_{card}\"\nshader = {}\n",
            quote(&shader.to_string_lossy())
        )
        .unwrap_or_default();
    }
    write!(toml, "\n[[pass]]\nname = \"isf\"\nisf = {}\n", quote(&file)).unwrap_or_default();
    if transition {
        toml.push_str("images = { startImage = \"card_a\", endImage = \"card_b\" }\n");
    }
    toml
}

/// The scene an ISF transition plays as between two scenes of a playlist (see
/// `Scene::read_transition`): one `isf` pass at `size` whose `startImage` and `endImage`
/// read the slots of those names.
#[must_use]
pub fn transition_scene_toml(fs: &Path, size: [u32; 2]) -> String {
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let stem = fs.file_stem().map_or_else(
        || "transition".to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let file = fs
        .file_name()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    format!(
        "[scene]\nname = {}\nsize = [{}, {}]\n\n[[pass]]\nname = \"transition\"\nisf = {}\n\
         images = {{ startImage = \"startImage\", endImage = \"endImage\" }}\n",
        quote(&stem),
        size[0],
        size[1],
        quote(&file)
    )
}
