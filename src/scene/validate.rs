//! Raw scene -> typed [`Scene`]: "parse, don't validate". Every problem is collected (not just
//! the first) and located at the key that caused it.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::{Filter, Format, RawParam, RawPass, RawScale, RawScene, Wrap};
use super::rules::{Ctx, check_identifier, location};
use super::{
    ImageDef, ImagePixels, ParamDef, PassDef, PassInput, RuntimeDef, Scene, TextureSource,
};
use crate::diag::{Collector, Diagnostics};

/// Default internal size when `[scene] size` is absent.
pub const DEFAULT_SIZE: [u32; 2] = [1280, 720];
pub use super::rules::MAX_SIDE_PX;
/// The `inputs` entry of a Shadertoy pass that reads the audio input as a channel (when no
/// pass or texture has that name).
pub const SHADERTOY_AUDIO: &str = "audio";
/// Most ONNX Runtime threads per model (`[runtime] threads`, `--threads`).
pub const MAX_THREADS: u32 = 64;

/// Parses and validates scene TOML `source`, read from `path`.
///
/// # Errors
/// Every problem found, each located in the file.
pub fn parse(source: &str, path: &Path) -> Result<Scene, Diagnostics> {
    parse_with_slots(source, path, &[])
}

/// [`parse`], with images named `slots` that passes can read by name like model textures
/// (each an [`ImagePixels::Slot`] of [`Scene::images`], filled by the scene's owner).
///
/// # Errors
/// Every problem found, each located in the file.
pub fn parse_with_slots(source: &str, path: &Path, slots: &[&str]) -> Result<Scene, Diagnostics> {
    let raw: RawScene = crate::diag::from_toml(path, source).map_err(|d| Diagnostics(vec![d]))?;
    let mut ctx = Collector::new(path, source);
    let scene = validate(&mut ctx, raw, slots);
    ctx.finish(scene)
}

#[allow(clippy::too_many_lines)] // one walk over the scene's tables
fn validate(ctx: &mut Ctx<'_>, raw: RawScene, slots: &[&str]) -> Scene {
    let scene_span = raw.scene.span();
    let meta = raw.scene.into_inner();
    let size_at = meta.size.as_ref().map(|s| location(ctx, &s.span()));
    let size = match meta.size {
        Some(s) => {
            let span = s.span();
            let v = s.into_inner();
            if v.iter().any(|&side| side == 0 || side > MAX_SIDE_PX) {
                ctx.error(
                    &span,
                    format!(
                        "scene size {}x{} must be 1..={MAX_SIDE_PX} on each side",
                        v[0], v[1]
                    ),
                );
            }
            v
        }
        None => DEFAULT_SIZE,
    };

    let mut params: Vec<ParamDef> = Vec::new();
    let params_dir = ctx
        .path()
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .to_path_buf();
    for (name, p) in raw.params {
        let span = name.span();
        let name = name.into_inner();
        check_identifier(ctx, &span, "param", &name);
        let at = location(ctx, &span);
        if let Some(def) = validate_param(ctx, &params_dir, name, at, p) {
            params.push(def);
        }
    }

    if raw.passes.is_empty() {
        ctx.error(&scene_span, "scene has no passes")
            .notes
            .push("add at least one [[pass]] with a name and a shader".into());
    }
    let dir = ctx.path().parent().unwrap_or_else(|| Path::new("."));
    // An ISF pass expands into the passes of its file: plan every pass's names first.
    let mut plans: Vec<Option<super::isf::pass::Plan>> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for pass in &raw.passes {
        let pass = pass.get_ref();
        let name = pass.name.get_ref();
        let given = [
            pass.shader.is_some(),
            pass.isf.is_some(),
            pass.shadertoy.is_some(),
        ];
        let plan = match (given.iter().filter(|g| **g).count(), &pass.isf) {
            (1, Some(isf)) => super::isf::pass::plan(ctx, dir, name, isf),
            (1, None) => None,
            (0, _) => {
                ctx.error(
                    &pass.name.span(),
                    format!("pass `{name}` has no `shader` (WGSL), `isf` (an ISF file) or `shadertoy` (a Shadertoy file)"),
                );
                None
            }
            _ => {
                ctx.error(
                    &pass.name.span(),
                    format!("pass `{name}` has more than one of `shader`, `isf` and `shadertoy`; give one"),
                );
                None
            }
        };
        match &plan {
            Some(p) => names.extend(p.names.iter().cloned()),
            None => names.push(name.clone()),
        }
        plans.push(plan);
    }
    // Model output textures, readable by passes (and models) by name.
    let mut textures: Vec<(String, TextureSource)> = Vec::new();
    for (m, model) in raw.models.iter().enumerate() {
        for (o, (_, out)) in model.get_ref().outputs.iter().enumerate() {
            if let Some(t) = &out.get_ref().texture {
                textures.push((
                    t.clone(),
                    TextureSource::Model {
                        model: m,
                        output: o,
                    },
                ));
            }
        }
    }
    let mut images: Vec<ImageDef> = Vec::new();
    for slot in slots {
        textures.push(((*slot).to_string(), TextureSource::Image(images.len())));
        images.push(ImageDef {
            name: (*slot).to_string(),
            pixels: ImagePixels::Slot,
        });
    }
    // Media textures share the namespace of passes and model textures.
    let mut media = Vec::new();
    for raw_media in raw.media {
        let mut taken: Vec<String> = names.clone();
        taken.extend(textures.iter().map(|(t, _)| t.clone()));
        let def = super::media::validate_media(ctx, dir, &params, &taken, size, raw_media);
        textures.push((def.name.clone(), TextureSource::Media(media.len())));
        media.push(def);
    }
    let mut passes: Vec<PassDef> = Vec::new();
    for (pass, plan) in raw.passes.into_iter().zip(plans) {
        let index = passes.len();
        let is_isf = pass.get_ref().isf.is_some();
        match (plan, is_isf) {
            (Some(plan), true) => {
                let formats: Vec<Format> = passes.iter().map(|p| p.format).collect();
                let known = super::isf::pass::Names {
                    passes: &names,
                    formats: &formats,
                    textures: &textures,
                };
                passes.extend(super::isf::pass::expand(
                    ctx,
                    &known,
                    index,
                    pass.get_ref(),
                    plan,
                    (&mut params, &mut images),
                    size,
                ));
            }
            _ => passes.push(validate_pass(
                ctx, dir, &names, &textures, &params, index, pass,
            )),
        }
    }
    let mut taken: Vec<String> = names.clone();
    let mut models = Vec::new();
    for model in raw.models {
        models.push(super::models::validate_model(
            ctx, dir, &names, &textures, &params, &mut taken, model,
        ));
    }
    let osc = match raw.osc {
        Some(config) => {
            let span = config.span();
            let config = config.into_inner();
            if let Err(e) = config.check() {
                ctx.error(&span, format!("[osc]: {e}"));
            }
            config
        }
        None => super::osc::OscConfig::default(),
    };
    let audio_at = raw.audio.as_ref().map(|a| location(ctx, &a.span()));
    let audio = raw.audio.map(|config| {
        let span = config.span();
        let mut config = config.into_inner();
        if let Err(e) = config.validate() {
            ctx.error(&span, e.to_string());
        }
        config.resolve_relative_to(dir);
        if let Some(file) = &config.file
            && let Err(e) = crate::untrusted::regular_file(file)
        {
            ctx.error(&span, format!("[audio] file `{}` {e}", file.display()))
                .notes
                .push("`file` is a WAV file, relative to the scene file's folder".into());
        }
        config
    });
    let runtime = validate_runtime(ctx, raw.runtime);

    Scene {
        path: ctx.path().to_path_buf(),
        name: meta.name,
        description: meta.description,
        size,
        size_at,
        inherit_feedback: meta.inherit_feedback.unwrap_or(false),
        params,
        passes,
        models,
        media,
        runtime,
        osc,
        audio,
        audio_at,
        images,
    }
}

/// `[runtime]`: known providers, a bounded thread count.
fn validate_runtime(ctx: &mut Ctx<'_>, raw: Option<super::raw::RawRuntime>) -> RuntimeDef {
    let Some(r) = raw else {
        return RuntimeDef::default();
    };
    let mut providers = Vec::new();
    for p in r.providers.unwrap_or_default() {
        let span = p.span();
        let name = p.into_inner();
        if !super::PROVIDER_NAMES
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name.trim()))
        {
            let known = super::PROVIDER_NAMES.join(", ");
            ctx.error(
                &span,
                format!("[runtime] providers: unknown execution provider `{name}`"),
            )
            .notes
            .push(format!("providers: {known}"));
        }
        providers.push(name.trim().to_lowercase());
    }
    if providers.is_empty() {
        providers.push("cpu".to_string());
    }
    let threads = match r.threads {
        Some(t) => {
            let span = t.span();
            let n = t.into_inner();
            if n > MAX_THREADS {
                ctx.error(
                    &span,
                    format!("[runtime] threads: {n} is more than {MAX_THREADS}"),
                )
                .notes
                .push(
                    "threads are per model and per operator; 1 to the number of cores is useful"
                        .into(),
                );
            }
            n.clamp(1, MAX_THREADS)
        }
        None => 1,
    };
    RuntimeDef { providers, threads }
}

fn validate_param(
    ctx: &mut Ctx<'_>,
    dir: &Path,
    name: String,
    at: super::Location,
    p: RawParam,
) -> Option<ParamDef> {
    let default_span = p.default.span();
    let default = p.default.into_inner();
    let (min, max) = match &p.range {
        Some(r) => {
            let [lo, hi] = *r.get_ref();
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                ctx.error(
                    &r.span(),
                    format!("param `{name}`: range [{lo}, {hi}] must be finite with min < max"),
                );
                return None;
            }
            (lo, hi)
        }
        None => (0.0, 1.0),
    };
    if !default.is_finite() || default < min || default > max {
        ctx.error(
            &default_span,
            format!("param `{name}`: default {default} is outside its range [{min}, {max}]"),
        )
        .notes
        .push(if p.range.is_none() {
            "the range defaults to [0, 1]; set `range = [min, max]`".into()
        } else {
            "move the default inside the range or widen the range".into()
        });
    }
    let smooth_secs = match p.smooth {
        Some(s) => {
            let v = *s.get_ref();
            if !v.is_finite() || v < 0.0 {
                ctx.error(
                    &s.span(),
                    format!("param `{name}`: smooth {v} must be a time in seconds >= 0"),
                );
            }
            v.max(0.0)
        }
        None => 0.0,
    };
    let osc = match p.osc {
        Some(aliases) => {
            let span = aliases.span();
            let list = aliases.into_inner().0;
            for alias in &list {
                if let Err(e) = alias.check() {
                    ctx.error(&span, format!("param `{name}`: osc alias: {e}"));
                }
            }
            list
        }
        None => Vec::new(),
    };
    let midi = match p.midi {
        Some(m) => match super::midi::MidiBinding::from_raw(m.get_ref()) {
            Ok(b) => Some(b),
            Err(e) => {
                ctx.error(&m.span(), format!("param `{name}`: {e}"));
                None
            }
        },
        None => None,
    };
    let modulation = match p.audio {
        Some(m) => {
            let span = m.span();
            let m = m.into_inner();
            let feature = super::AudioFeature::parse(&m.feature);
            let gain = m.gain.unwrap_or(1.0);
            let offset = m.offset.unwrap_or(0.0);
            if feature.is_none() {
                let known = super::AudioFeature::ALL
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ");
                ctx.error(
                    &span,
                    format!("param `{name}`: unknown audio feature `{}`", m.feature),
                )
                .notes
                .push(format!("features: {known}"));
            }
            let index = m.index.unwrap_or(0);
            if index >= super::audio::MAX_BANDS || !gain.is_finite() || !offset.is_finite() {
                ctx.error(
                    &span,
                    format!("param `{name}`: audio index must be < 16 and gain, offset finite"),
                );
            }
            feature.map(|feature| super::Modulation {
                feature,
                index,
                gain,
                offset,
            })
        }
        None => None,
    };
    let names = match p.names {
        Some(file) => {
            let span = file.span();
            let path = dir.join(file.get_ref());
            match std::fs::read_to_string(&path) {
                Ok(text) => text.lines().map(|l| l.trim().to_string()).collect(),
                Err(e) => {
                    ctx.error(
                        &span,
                        format!(
                            "param `{name}`: names file `{}` cannot be read: {e}",
                            path.display()
                        ),
                    )
                    .notes
                    .push(format!(
                        "paths are relative to the scene file's folder `{}`",
                        dir.display()
                    ));
                    Vec::new()
                }
            }
        }
        None => Vec::new(),
    };
    Some(ParamDef {
        label: p.label.unwrap_or_else(|| name.clone()),
        name,
        at,
        default,
        min,
        max,
        smooth_secs,
        group: p.group,
        osc,
        midi,
        modulation,
        names,
    })
}

fn validate_pass(
    ctx: &mut Ctx<'_>,
    dir: &Path,
    names: &[String],
    textures: &[(String, TextureSource)],
    params: &[ParamDef],
    index: usize,
    pass: Spanned<RawPass>,
) -> PassDef {
    let pass = pass.into_inner();
    let name_span = pass.name.span();
    let name = pass.name.into_inner();
    check_identifier(ctx, &name_span, "pass", &name);
    if names.iter().take(index).any(|n| *n == name) {
        ctx.error(
            &name_span,
            format!("pass name `{name}` is used twice; pass names must be unique"),
        );
    }

    // Planned already: a pass without `shader` has its error recorded.
    let file = pass.shader.as_ref().or(pass.shadertoy.as_ref());
    let (shader_span, shader) = match file {
        Some(s) => (s.span(), dir.join(s.get_ref())),
        None => (name_span.clone(), PathBuf::new()),
    };
    let shadertoy = pass.shadertoy.as_ref().map(|_| {
        validate_shadertoy(
            ctx,
            dir,
            &name,
            pass.common.as_ref(),
            pass.mouse.as_ref(),
            params,
        )
    });
    if pass.shadertoy.is_none()
        && let Some(key) = pass
            .common
            .as_ref()
            .map(Spanned::span)
            .or_else(|| pass.mouse.as_ref().map(Spanned::span))
    {
        ctx.error(
            &key,
            format!("pass `{name}`: `common` and `mouse` belong to a `shadertoy` pass"),
        );
    }
    if shadertoy.is_some() && pass.inputs.len() > 4 {
        ctx.error(
            &shader_span,
            format!(
                "pass `{name}`: a Shadertoy pass has four channels; `inputs` lists {}",
                pass.inputs.len()
            ),
        );
    }
    if file.is_some() {
        match crate::untrusted::regular_file(&shader) {
            Ok(_) => {}
            Err(crate::untrusted::SourceError::NotFound) => {
                ctx.error(
                    &shader_span,
                    format!(
                        "pass `{name}`: shader file `{}` not found",
                        shader.display()
                    ),
                )
                .notes
                .push(format!(
                    "paths are relative to the scene file's folder `{}`",
                    crate::untrusted::shown_dir(dir).display()
                ));
            }
            Err(e) => {
                ctx.error(
                    &shader_span,
                    format!("pass `{name}`: shader `{}` {e}", shader.display()),
                );
            }
        }
    }

    let mut inputs: Vec<PassInput> = Vec::new();
    for input in pass.inputs {
        let span = input.span();
        let input = input.into_inner();
        if inputs.iter().any(|i| i.name == input) {
            ctx.error(&span, format!("pass `{name}` lists input `{input}` twice"));
            continue;
        }
        match names.iter().position(|n| *n == input) {
            Some(i) if i == index => inputs.push(PassInput {
                name: input,
                source: TextureSource::Pass(i),
                previous_frame: true,
            }),
            Some(i) if i < index => inputs.push(PassInput {
                name: input,
                source: TextureSource::Pass(i),
                previous_frame: false,
            }),
            None if textures.iter().any(|(t, _)| *t == input) => {
                let source = textures.iter().find(|(t, _)| *t == input).map(|(_, s)| *s);
                if let Some(source) = source {
                    inputs.push(PassInput {
                        name: input,
                        source,
                        previous_frame: false,
                    });
                }
            }
            // Shadertoy's music input: the audio input as a channel.
            None if shadertoy.is_some() && input == SHADERTOY_AUDIO => inputs.push(PassInput {
                name: input,
                source: TextureSource::AudioShadertoy,
                previous_frame: false,
            }),
            Some(i) => {
                ctx.error(&span, format!("pass `{name}` reads `{input}`, which is produced later (pass {} of {})", i + 1, names.len()))
                    .notes
                    .push(format!("move `{input}` before `{name}`; a pass reads its own previous frame by listing its own name"));
            }
            None => {
                let known = names
                    .iter()
                    .take(index + 1)
                    .chain(textures.iter().map(|(t, _)| t))
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                ctx.error(
                    &span,
                    format!("pass `{name}` reads `{input}`, which names no pass"),
                )
                .notes
                .push(format!("passes it can read: {known}"));
            }
        }
    }

    let scale = match pass.scale {
        Some(s) => {
            let span = s.span();
            let v = match s.into_inner() {
                RawScale::Uniform(k) => [k, k],
                RawScale::PerAxis(v) => v,
            };
            if v.iter().any(|k| !k.is_finite() || *k <= 0.0 || *k > 16.0) {
                ctx.error(
                    &span,
                    format!("pass `{name}`: scale {v:?} must be > 0 and <= 16"),
                );
            }
            v
        }
        None => [1.0, 1.0],
    };
    let size_at = pass.size.as_ref().map(|s| location(ctx, &s.span()));
    let size = pass.size.map(|s| {
        let span = s.span();
        let v = s.into_inner();
        if v.iter().any(|&side| side == 0 || side > MAX_SIDE_PX) {
            ctx.error(
                &span,
                format!(
                    "pass `{name}`: size {}x{} must be 1..={MAX_SIDE_PX} on each side",
                    v[0], v[1]
                ),
            );
        }
        v
    });
    let filter = pass.filter.unwrap_or(Filter::Linear);
    let format = match pass.format {
        Some(f) => {
            if *f.get_ref() == Format::Rgba32float && filter == Filter::Linear {
                ctx.error(&f.span(), format!("pass `{name}`: format \"rgba32float\" cannot be filtered linearly on every GPU"))
                    .notes
                    .push("add `filter = \"nearest\"` to this pass, or use \"rgba16float\"".into());
            }
            f.into_inner()
        }
        None => Format::Rgba16float,
    };
    PassDef {
        shader_at: location(ctx, &shader_span),
        at: location(ctx, &name_span),
        name,
        shader,
        inputs,
        scale,
        size,
        size_at,
        format,
        filter,
        wrap: pass.wrap.unwrap_or(Wrap::Clamp),
        isf: None,
        shadertoy,
    }
}

/// The Shadertoy keys of a pass: the common file and the mouse params.
fn validate_shadertoy(
    ctx: &mut Ctx<'_>,
    dir: &Path,
    name: &str,
    common: Option<&Spanned<String>>,
    mouse: Option<&Spanned<Vec<String>>>,
    params: &[ParamDef],
) -> super::ShadertoyPassDef {
    let common = common.map(|c| {
        let path = dir.join(c.get_ref());
        if !path.is_file() {
            ctx.error(
                &c.span(),
                format!("pass `{name}`: common file `{}` not found", path.display()),
            );
        }
        path
    });
    let mouse = mouse.and_then(|m| {
        let found: Vec<Option<usize>> = m
            .get_ref()
            .iter()
            .map(|p| params.iter().position(|d| d.name == *p))
            .collect();
        if let [Some(a), Some(b), Some(c), Some(d)] = found.as_slice() {
            Some([*a, *b, *c, *d])
        } else {
            ctx.error(
                &m.span(),
                format!(
                    "pass `{name}`: `mouse` names four params of [params] (x, y, click x, click y)"
                ),
            );
            None
        }
    });
    super::ShadertoyPassDef { common, mouse }
}
