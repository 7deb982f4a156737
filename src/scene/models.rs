//! Validation of `[[model]]` tables: names, files, rates, and every input and output binding
//! resolved to a typed source or target. Checks against the model's own metadata (input names,
//! ranks, sizes, element types) need ONNX Runtime and happen when the model loads.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::raw::{RawBinding, RawConstant, RawLatent, RawModel, RawOutput};
use super::rules::{Ctx, check_identifier, location};
use super::{
    AudioFeature, ImageMapping, InputBinding, InputSource, LatentDef, LatentPath, Layout, ModelDef,
    OutputBinding, OutputTarget, ParamDef, TextureSource,
};

/// The largest `batch`: 256 samples a run (a 16x16 atlas).
pub const MAX_BATCH: usize = 256;

/// The longest `deadline_ms`: an hour (a run that long is a batch job, not a show).
const MAX_DEADLINE_MS: u64 = 3_600_000;

/// Validates one model. `taken` holds names already used by passes and earlier models and
/// their textures; this model's names are added.
pub(super) fn validate_model(
    ctx: &mut Ctx<'_>,
    dir: &Path,
    passes: &[String],
    textures: &[(String, TextureSource)],
    params: &[ParamDef],
    taken: &mut Vec<String>,
    model: Spanned<RawModel>,
) -> ModelDef {
    let model_span = model.span();
    let model = model.into_inner();
    let name_span = model.name.span();
    let name = model.name.into_inner();
    check_identifier(ctx, &name_span, "model", &name);
    if taken.contains(&name) {
        ctx.error(
            &name_span,
            format!("model name `{name}` is already used by a pass or model"),
        );
    }
    taken.push(name.clone());

    let file_span = model.file.span();
    let file = dir.join(model.file.get_ref());
    if let Err(e) = crate::untrusted::regular_file(&file) {
        let d = ctx.error(
            &file_span,
            format!("model `{name}`: file `{}` {e}", file.display()),
        );
        if matches!(e, crate::untrusted::SourceError::NotFound) {
            d.notes.push(format!(
                "paths are relative to the scene file's folder `{}`",
                crate::untrusted::shown_dir(dir).display()
            ));
        }
    }
    let size = model.size.map(|s| {
        let span = s.span();
        let v = s.into_inner();
        if v.iter().any(|&side| side == 0 || side > 8192) {
            ctx.error(
                &span,
                format!(
                    "model `{name}`: size {}x{} must be 1..=8192 on each side",
                    v[0], v[1]
                ),
            );
        }
        v
    });
    let every = model.every.map_or(1, |e| {
        let v = *e.get_ref();
        if v == 0 {
            ctx.error(
                &e.span(),
                format!("model `{name}`: every must be at least 1 (frames)"),
            );
        }
        v.max(1)
    });
    let max_rate_hz = model.max_rate_hz.map(|r| {
        let v = *r.get_ref();
        if !v.is_finite() || v <= 0.0 {
            ctx.error(
                &r.span(),
                format!("model `{name}`: max_rate_hz {v} must be a positive number"),
            );
        }
        v
    });
    let deadline = model.deadline_ms.map(|d| {
        let v = *d.get_ref();
        if !(1..=MAX_DEADLINE_MS).contains(&v) {
            ctx.error(
                &d.span(),
                format!(
                    "model `{name}`: deadline_ms {v} must be 1..={MAX_DEADLINE_MS} (milliseconds)"
                ),
            )
            .notes
            .push("leave it out for the automatic deadline (ten times the median run, at least 2000 ms)".into());
        }
        Duration::from_millis(v.clamp(1, MAX_DEADLINE_MS))
    });
    let batch = model.batch.map_or(1, |b| {
        let v = *b.get_ref();
        if !(1..=MAX_BATCH).contains(&v) {
            ctx.error(
                &b.span(),
                format!("model `{name}`: batch {v} must be 1..={MAX_BATCH} (samples per run)"),
            );
        }
        v.clamp(1, MAX_BATCH)
    });

    let mut inputs = Vec::new();
    for (input_name, binding) in model.inputs {
        let at = location(ctx, &input_name.span());
        let span = binding.span();
        let input_name = input_name.into_inner();
        let what = format!("model `{name}` input `{input_name}`");
        if let Some((source, image, softmax)) = validate_binding(
            ctx,
            &what,
            span,
            passes,
            textures,
            params,
            binding.into_inner(),
        ) {
            inputs.push(InputBinding {
                name: input_name,
                at,
                source,
                image,
                softmax,
            });
        }
    }

    let mut outputs = Vec::new();
    for (output_name, out) in model.outputs {
        let at = location(ctx, &output_name.span());
        let span = out.span();
        let output_name = output_name.into_inner();
        let what = format!("model `{name}` output `{output_name}`");
        if let Some((target, image)) =
            validate_output(ctx, &what, span, params, taken, out.into_inner())
        {
            outputs.push(OutputBinding {
                name: output_name,
                at,
                target,
                image,
            });
        }
    }

    ModelDef {
        name,
        file,
        at: location(ctx, &model_span),
        size,
        every,
        max_rate_hz,
        deadline,
        batch,
        inputs,
        outputs,
    }
}

fn find_params(
    ctx: &mut Ctx<'_>,
    what: &str,
    span: &Range<usize>,
    params: &[ParamDef],
    names: &[String],
) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for n in names {
        if let Some(i) = params.iter().position(|p| p.name == *n) {
            out.push(i);
        } else {
            let known = params
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            ctx.error(span, format!("{what}: unknown param `{n}`"))
                .notes
                .push(if known.is_empty() {
                    "this scene declares no params".into()
                } else {
                    format!("params in this scene: {known}")
                });
            return None;
        }
    }
    Some(out)
}

fn audio_feature(
    ctx: &mut Ctx<'_>,
    what: &str,
    span: &Range<usize>,
    name: &str,
) -> Option<AudioFeature> {
    let f = AudioFeature::parse(name);
    if f.is_none() {
        let known = AudioFeature::ALL
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ");
        ctx.error(span, format!("{what}: unknown audio feature `{name}`"))
            .notes
            .push(format!("features: {known}"));
    }
    f
}

fn image_mapping(
    ctx: &mut Ctx<'_>,
    what: &str,
    span: &Range<usize>,
    layout: Option<&str>,
    range: Option<[f32; 2]>,
    mean: Option<[f32; 3]>,
    std: Option<[f32; 3]>,
) -> ImageMapping {
    let mut m = ImageMapping::default();
    match layout {
        None | Some("nchw") => {}
        Some("nhwc") => m.layout = Layout::Nhwc,
        Some(other) => {
            ctx.error(
                span,
                format!("{what}: layout `{other}` is not \"nchw\" or \"nhwc\""),
            );
        }
    }
    if let Some([lo, hi]) = range {
        if !(lo.is_finite() && hi.is_finite() && (hi - lo).abs() > f32::EPSILON) {
            ctx.error(
                span,
                format!("{what}: range [{lo}, {hi}] must be two different finite numbers"),
            );
        }
        m.range = [lo, hi];
    }
    if let Some(mean) = mean {
        m.mean = mean;
    }
    if let Some(std) = std {
        if std.iter().any(|s| !s.is_finite() || *s == 0.0) {
            ctx.error(
                span,
                format!("{what}: std {std:?} must be finite and non-zero"),
            );
        }
        m.std = std;
    }
    m
}

#[allow(clippy::too_many_arguments)]
fn validate_binding(
    ctx: &mut Ctx<'_>,
    what: &str,
    span: Range<usize>,
    passes: &[String],
    textures: &[(String, TextureSource)],
    params: &[ParamDef],
    b: RawBinding,
) -> Option<(InputSource, ImageMapping, Option<f32>)> {
    let given: Vec<&str> = [
        ("texture", b.texture.is_some()),
        ("param", b.param.is_some()),
        ("params", b.params.is_some()),
        ("audio", b.audio.is_some()),
        ("constant", b.constant.is_some()),
        ("time", b.time.is_some()),
        ("latent", b.latent.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(k, _)| *k)
    .collect();
    if given.len() != 1 {
        let msg = if given.is_empty() {
            format!("{what} has no source")
        } else {
            format!(
                "{what} has {} sources ({}); give exactly one",
                given.len(),
                given.join(", ")
            )
        };
        ctx.error(&span, msg)
            .notes
            .push("sources: texture, param, params, audio, constant, time, latent".into());
        return None;
    }
    let image_keys = b.layout.is_some() || b.range.is_some() || b.mean.is_some() || b.std.is_some();
    if image_keys && b.texture.is_none() {
        ctx.error(
            &span,
            format!("{what}: layout, range, mean and std apply only to texture sources"),
        );
    }
    let image = image_mapping(
        ctx,
        what,
        &span,
        b.layout.as_deref(),
        b.range,
        b.mean,
        b.std,
    );
    if let Some(t) = b.softmax {
        if b.texture.is_some() {
            ctx.error(
                &span,
                format!("{what}: softmax applies only to vector sources, not textures"),
            );
        } else if !t.is_finite() || t <= 0.0 {
            ctx.error(
                &span,
                format!("{what}: softmax {t} must be a positive number (the sharpness)"),
            );
        }
    }
    let softmax = b.softmax;
    let source = if let Some(t) = b.texture {
        if let Some(i) = passes.iter().position(|p| *p == t) {
            InputSource::Texture(TextureSource::Pass(i))
        } else if let Some((_, s)) = textures.iter().find(|(n, _)| *n == t) {
            InputSource::Texture(*s)
        } else {
            let known = passes
                .iter()
                .chain(textures.iter().map(|(n, _)| n))
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            ctx.error(
                &span,
                format!("{what}: texture `{t}` names no pass, model output or media"),
            )
            .notes
            .push(format!("textures: {known}"));
            return None;
        }
    } else if let Some(p) = b.param {
        InputSource::Params(find_params(ctx, what, &span, params, &[p])?)
    } else if let Some(ps) = b.params {
        if ps.is_empty() {
            ctx.error(&span, format!("{what}: params is empty"));
            return None;
        }
        InputSource::Params(find_params(ctx, what, &span, params, &ps)?)
    } else if let Some(a) = b.audio {
        InputSource::Audio(audio_feature(ctx, what, &span, &a)?)
    } else if let Some(c) = b.constant {
        let v = match c {
            RawConstant::Scalar(x) => vec![x],
            RawConstant::Vector(v) => v,
        };
        if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
            ctx.error(
                &span,
                format!("{what}: constant must be finite numbers, at least one"),
            );
            return None;
        }
        InputSource::Constant(v)
    } else if let Some(t) = b.time {
        if !t {
            ctx.error(
                &span,
                format!("{what}: `time = false` binds nothing; remove it or bind another source"),
            );
            return None;
        }
        InputSource::Time
    } else {
        let l = b.latent?;
        InputSource::Latent(validate_latent(ctx, what, &span, params, &l)?)
    };
    Some((source, image, softmax))
}

fn validate_latent(
    ctx: &mut Ctx<'_>,
    what: &str,
    span: &Range<usize>,
    params: &[ParamDef],
    l: &RawLatent,
) -> Option<LatentDef> {
    if l.dim == 0 || l.dim > 4096 {
        ctx.error(
            span,
            format!("{what}: latent dim {} must be 1..=4096", l.dim),
        );
        return None;
    }
    let num = |ctx: &mut Ctx<'_>, key: &str, v: Option<f32>, default: f32| {
        let v = v.unwrap_or(default);
        if !v.is_finite() || v < 0.0 {
            ctx.error(
                span,
                format!("{what}: latent {key} {v} must be a number >= 0"),
            );
        }
        v
    };
    let speed = num(ctx, "speed", l.speed, 0.05);
    let scale = num(ctx, "scale", l.scale, 1.0);
    let motion_gain = num(ctx, "motion_gain", l.motion_gain, 2.0);
    let pulse_gain = num(ctx, "pulse_gain", l.pulse_gain, 0.6);
    let motion = match &l.motion {
        Some(m) => Some(audio_feature(ctx, what, span, m)?),
        None => None,
    };
    let pulse = match &l.pulse {
        Some(p) => Some(audio_feature(ctx, what, span, p)?),
        None => None,
    };
    let param = |ctx: &mut Ctx<'_>, p: &Option<String>| match p {
        Some(p) => find_params(ctx, what, span, params, std::slice::from_ref(p))
            .and_then(|v| v.first().copied())
            .map(Some),
        None => Some(None),
    };
    let speed_param = param(ctx, &l.speed_param)?;
    let reseed_param = param(ctx, &l.seed_param)?;
    let save_param = param(ctx, &l.save_param)?;
    let recall_param = param(ctx, &l.recall_param)?;
    let fade_secs = num(ctx, "fade_secs", l.fade_secs, 2.0);
    let path = match l.path.as_deref() {
        None | Some("waves") => LatentPath::Waves,
        Some("keyframes") => LatentPath::Keyframes,
        Some(other) => {
            ctx.error(
                span,
                format!("{what}: latent path `{other}` is not \"waves\" or \"keyframes\""),
            );
            LatentPath::Waves
        }
    };
    Some(LatentDef {
        dim: l.dim,
        seed: l.seed.unwrap_or(0),
        speed,
        scale,
        motion,
        motion_gain,
        pulse,
        pulse_gain,
        speed_param,
        path,
        seed_param: reseed_param,
        save_param,
        recall_param,
        fade_secs,
    })
}

fn validate_output(
    ctx: &mut Ctx<'_>,
    what: &str,
    span: Range<usize>,
    params: &[ParamDef],
    taken: &mut Vec<String>,
    o: RawOutput,
) -> Option<(OutputTarget, ImageMapping)> {
    let count = usize::from(o.texture.is_some())
        + usize::from(o.param.is_some())
        + usize::from(o.params.is_some());
    if count != 1 {
        ctx.error(
            &span,
            format!("{what} needs exactly one target: texture, param or params"),
        );
        return None;
    }
    if (o.layout.is_some() || o.range.is_some()) && o.texture.is_none() {
        ctx.error(
            &span,
            format!("{what}: layout and range apply only to texture targets"),
        );
    }
    let image = image_mapping(ctx, what, &span, o.layout.as_deref(), o.range, None, None);
    let target = if let Some(t) = o.texture {
        check_identifier(ctx, &span, "texture", &t);
        if taken.contains(&t) {
            ctx.error(
                &span,
                format!("{what}: texture name `{t}` is already used by a pass, model or texture"),
            );
            return None;
        }
        taken.push(t.clone());
        OutputTarget::Texture(t)
    } else if let Some(p) = o.param {
        OutputTarget::Params(find_params(ctx, what, &span, params, &[p])?)
    } else {
        let ps = o.params.unwrap_or_default();
        if ps.is_empty() {
            ctx.error(&span, format!("{what}: params is empty"));
            return None;
        }
        OutputTarget::Params(find_params(ctx, what, &span, params, &ps)?)
    };
    Some((target, image))
}
