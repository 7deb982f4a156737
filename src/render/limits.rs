//! What a scene asks of the GPU, checked against a device's limits before anything is
//! created: when a scene loads (against the device in use: a located error, and the last good
//! scene keeps playing) and in `hypna check` (against [`portable`], the limits hypna asks
//! every device for). A limit the scene crosses would otherwise surface as a GPU validation
//! error on every frame and a black picture.
//!
//! Checked: the params uniform (`max_uniform_buffer_binding_size`), each pass's inputs
//! (textures and samplers per shader stage, bindings per group), every texture side
//! (`max_texture_dimension_2d`: scene size, passes, model images), and every buffer a frame
//! may read back (`max_buffer_size`: the output image for renders and screenshots, each model
//! image input).

use crate::diag::{Diagnostic, Diagnostics};
use crate::scene::{Location, Scene};

/// Bytes per pixel of a model image input as it is read back (RGBA `f32`).
pub const MODEL_INPUT_BYTES_PER_PX: u32 = 16;
/// Bytes per pixel of the output as it is read back (RGBA8).
pub const OUTPUT_BYTES_PER_PX: u32 = 4;

/// The limits hypna requests from every device (WebGPU's downlevel defaults, textures as
/// large as the scene format allows), which `hypna check` assumes: a scene within them loads
/// on any device hypna runs on, as far as limits go.
#[must_use]
pub fn portable() -> wgpu::Limits {
    wgpu::Limits {
        max_texture_dimension_2d: crate::scene::validate::MAX_SIDE_PX,
        ..wgpu::Limits::downlevel_defaults()
    }
}

/// Where the scene's size came from, for error locations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeSource {
    /// `[scene] size` (or its default).
    Scene,
    /// `--size` on the command line.
    CommandLine,
}

/// An image a model node reads or writes.
#[derive(Debug, Clone)]
pub struct ModelImage {
    /// Index into `scene.models`.
    pub model: usize,
    /// The binding's name (input or output).
    pub binding: String,
    /// Its size in pixels.
    pub size: [u32; 2],
    /// True for an input (read back from the GPU every run).
    pub input: bool,
}

/// Bytes of one read-back image of `size` at `bytes_per_px`, rows padded as wgpu requires.
#[must_use]
pub fn readback_bytes(size: [u32; 2], bytes_per_px: u32) -> u64 {
    let row = u64::from(size[0]) * u64::from(bytes_per_px);
    let align = u64::from(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
    row.div_ceil(align) * align * u64::from(size[1])
}

/// Bytes of the `Params` uniform block for `count` params (`f32` each, at least one, the
/// struct rounded up to 16 bytes as WGSL's uniform layout does).
#[must_use]
pub fn params_bytes(count: usize) -> u64 {
    (count.max(1) as u64 * 4).div_ceil(16) * 16
}

/// GPU memory of `scene`'s pass textures at `size` (feedback passes own two), in bytes: an
/// estimate of what loading it allocates, before models.
#[must_use]
pub fn texture_bytes(scene: &Scene, size: [u32; 2]) -> u64 {
    scene
        .passes
        .iter()
        .map(|p| {
            let [w, h] = p.output_size(size);
            let texel: u64 = match p.format {
                crate::scene::Format::Rgba8unorm => 4,
                crate::scene::Format::Rgba16float => 8,
                crate::scene::Format::Rgba32float => 16,
            };
            let copies = if p.is_feedback() { 2 } else { 1 };
            u64::from(w) * u64::from(h) * texel * copies
        })
        .sum()
}

/// Every limit `scene` at `size` (and its model images) crosses on a device with `limits`.
///
/// # Errors
/// Every crossing, located at the key responsible (the scene size, the pass, the param, the
/// model), or on the file for `--size`.
pub fn check(
    scene: &Scene,
    size: [u32; 2],
    source: SizeSource,
    models: &[ModelImage],
    limits: &wgpu::Limits,
) -> Result<(), Diagnostics> {
    let mut errors = Vec::new();
    let at = |loc: Option<Location>, message: String| self::at(scene, loc, message);
    let size_at = match source {
        SizeSource::Scene => scene.size_at,
        SizeSource::CommandLine => None,
    };
    let size_name = match source {
        SizeSource::Scene => "the scene size",
        SizeSource::CommandLine => "--size",
    };
    let max_side = limits.max_texture_dimension_2d;

    // The params uniform.
    let max_uniform = limits.max_uniform_buffer_binding_size;
    let bytes = params_bytes(scene.params.len());
    if bytes > max_uniform {
        let fits = (max_uniform / 4) as usize;
        let first_over = scene.params.get(fits).map(|p| p.at);
        errors.push(
            at(
                first_over,
                format!(
                    "{} params need a {bytes}-byte uniform block; this GPU allows {max_uniform} bytes (at most {fits} params)",
                    scene.params.len()
                ),
            )
            .with_note("group values into fewer params, or compute them in the shader"),
        );
    }

    // The scene size is the output's and the window's render size.
    if size.iter().any(|&s| s > max_side) {
        errors.push(at(
            size_at,
            format!(
                "{size_name} {}x{} is larger than this GPU's largest texture ({max_side} pixels a side)",
                size[0], size[1]
            ),
        ));
    }

    for pass in &scene.passes {
        let out = pass.output_size(size);
        if out.iter().any(|&s| s > max_side) {
            let (loc, from) = match pass.size_at {
                Some(l) => (Some(l), "its size"),
                None => (size_at.or(Some(pass.at)), size_name),
            };
            errors.push(at(
                loc,
                format!(
                    "pass `{}`: its output {}x{} (from {from}) is larger than this GPU's largest texture ({max_side} pixels a side)",
                    pass.name, out[0], out[1]
                ),
            ));
        }
        // Each input is a texture and a sampler; the prelude adds the audio texture.
        let n = pass.inputs.len() as u32;
        let textures = n + 1;
        if textures > limits.max_sampled_textures_per_shader_stage
            || n > limits.max_samplers_per_shader_stage
            || 2 * n > limits.max_bindings_per_bind_group
        {
            let most = (limits
                .max_sampled_textures_per_shader_stage
                .saturating_sub(1))
            .min(limits.max_samplers_per_shader_stage)
            .min(limits.max_bindings_per_bind_group / 2);
            errors.push(at(
                Some(pass.at),
                format!(
                    "pass `{}` reads {n} inputs; this GPU allows at most {most} per pass",
                    pass.name
                ),
            ));
        }
    }

    // The output is read back for renders and screenshots.
    if let Some(last) = scene.passes.last() {
        let out = last.output_size(size);
        let bytes = readback_bytes(out, OUTPUT_BYTES_PER_PX);
        if bytes > limits.max_buffer_size && out.iter().all(|&s| s <= max_side) {
            let loc = last.size_at.or(size_at);
            errors.push(
                at(
                    loc,
                    format!(
                        "the output image {}x{} is {} MiB; this GPU's largest buffer is {} MiB, so it cannot be read back (renders, screenshots)",
                        out[0],
                        out[1],
                        bytes >> 20,
                        limits.max_buffer_size >> 20
                    ),
                )
                .with_note(format!("choose a smaller size ({size_name})")),
            );
        }
    }

    errors.extend(model_image_errors(scene, models, limits));

    if errors.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(errors))
    }
}

/// Every limit the model images `models` cross on a device with `limits` (each located at
/// its model).
///
/// # Errors
/// Every crossing: a side larger than the largest texture, an input whose read-back buffer
/// is larger than the largest buffer.
pub fn check_model_images(
    scene: &Scene,
    models: &[ModelImage],
    limits: &wgpu::Limits,
) -> Result<(), Diagnostics> {
    let errors = model_image_errors(scene, models, limits);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(errors))
    }
}

fn model_image_errors(
    scene: &Scene,
    models: &[ModelImage],
    limits: &wgpu::Limits,
) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let max_side = limits.max_texture_dimension_2d;
    for image in models {
        let Some(model) = scene.models.get(image.model) else {
            continue;
        };
        // At the model's `size` when that set this size, else at the binding, else the model.
        let binding_at = if image.input {
            model
                .inputs
                .iter()
                .find(|b| b.name == image.binding)
                .map(|b| b.at)
        } else {
            model
                .outputs
                .iter()
                .find(|b| b.name == image.binding)
                .map(|b| b.at)
        };
        let size_at = model.size_at.filter(|_| model.size == Some(image.size));
        let loc = size_at.or(binding_at).or(Some(model.at));
        let [w, h] = image.size;
        let role = if image.input { "input" } else { "output" };
        if w > max_side || h > max_side {
            errors.push(at(
                scene,
                loc,
                format!(
                    "model `{}`: image {role} `{}` is {w}x{h}, larger than this GPU's largest texture ({max_side} pixels a side)",
                    model.name, image.binding
                ),
            ));
        } else if image.input {
            let bytes = readback_bytes(image.size, MODEL_INPUT_BYTES_PER_PX);
            if bytes > limits.max_buffer_size {
                errors.push(
                    at(
                        scene,
                        loc,
                        format!(
                            "model `{}`: image input `{}` at {w}x{h} is read back as {} MiB; this GPU's largest buffer is {} MiB",
                            model.name,
                            image.binding,
                            bytes >> 20,
                            limits.max_buffer_size >> 20
                        ),
                    )
                    .with_note("set a smaller `size` for the model"),
                );
            }
        }
    }

    errors
}

/// A diagnostic in `scene`'s file, at `loc` when known.
fn at(scene: &Scene, loc: Option<Location>, message: String) -> Diagnostic {
    match loc {
        Some(l) => Diagnostic::at(&scene.path, l.line, l.col, message),
        None => Diagnostic::file(&scene.path, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    fn scene(text: &str) -> (tempfile::TempDir, Scene) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wgsl"), "").unwrap();
        let path = dir.path().join("s.toml");
        let scene = Scene::parse(text, &path).unwrap();
        (dir, scene)
    }

    #[test]
    fn too_many_params_are_located_at_the_first_that_does_not_fit() {
        let mut text = String::from("[scene]\nname = \"x\"\n");
        for i in 0..5000 {
            write!(text, "[params.p{i}]\ndefault = 0.5\n").unwrap();
        }
        text.push_str("[[pass]]\nname = \"a\"\nshader = \"a.wgsl\"\n");
        let (_dir, s) = scene(&text);
        let e = check(&s, s.size, SizeSource::Scene, &[], &portable()).unwrap_err();
        let d = &e.0[0];
        // 16384 bytes hold 4096 params: p4096 is declared on line 3 + 2 * 4096.
        assert_eq!((d.line, d.col), (Some(3 + 2 * 4096), Some(9)), "{e}");
        assert!(d.message.contains("at most 4096 params"), "{e}");
    }

    #[test]
    fn sizes_and_readbacks_are_checked_against_the_device() {
        let (_dir, s) = scene(
            "[scene]\nname = \"x\"\nsize = [10000, 7000]\n[[pass]]\nname = \"a\"\nshader = \"a.wgsl\"\n",
        );
        let e = check(&s, s.size, SizeSource::Scene, &[], &portable()).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e}");
        assert_eq!((e.0[0].line, e.0[0].col), (Some(3), Some(8)), "{e}");
        assert!(e.0[0].message.contains("268 MiB"), "{e}");
        // --size is reported without a place in the file.
        let e = check(
            &s,
            [16384, 16384],
            SizeSource::CommandLine,
            &[],
            &portable(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("--size"), "{e}");
        assert_eq!(e.0[0].line, None);
        // A device with a smaller texture limit.
        let small = wgpu::Limits {
            max_texture_dimension_2d: 4096,
            ..portable()
        };
        let e = check(&s, [1280, 720], SizeSource::Scene, &[], &small);
        assert!(e.is_ok());
        let e = check(&s, s.size, SizeSource::Scene, &[], &small).unwrap_err();
        assert!(e.to_string().contains("largest texture (4096"), "{e}");
    }

    #[test]
    fn inputs_per_pass_are_bounded() {
        let mut text = String::from("[scene]\nname = \"x\"\n");
        let names: Vec<String> = (0..17).map(|i| format!("p{i}")).collect();
        for n in &names {
            write!(text, "[[pass]]\nname = \"{n}\"\nshader = \"a.wgsl\"\n").unwrap();
        }
        let list = names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ");
        write!(
            text,
            "[[pass]]\nname = \"out\"\nshader = \"a.wgsl\"\ninputs = [{list}]\n"
        )
        .unwrap();
        let (_dir, s) = scene(&text);
        let e = check(&s, [64, 64], SizeSource::Scene, &[], &portable()).unwrap_err();
        assert!(
            e.to_string()
                .contains("pass `out` reads 17 inputs; this GPU allows at most 15"),
            "{e}"
        );
    }
}
