//! Binding plans: a model's declared inputs and outputs checked against the scene's bindings
//! and resolved to concrete shapes. Pure (no ONNX Runtime, no GPU), so every mismatch case is
//! unit-tested; errors name the model, the input and both shapes.

use std::fmt;

use crate::scene::{InputSource, Layout, ModelDef, OutputTarget};

/// One dimension as a model declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// Free, with a symbolic name (`height`) or none (`?`).
    Free(Option<String>),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(n) => write!(f, "{n}"),
            Self::Free(Some(name)) => write!(f, "{name}"),
            Self::Free(None) => write!(f, "?"),
        }
    }
}

/// A tensor as a model declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// Input or output name.
    pub name: String,
    /// Element type in ONNX terms (`float32`, `int64`, ...).
    pub elem: String,
    /// Declared shape.
    pub dims: Vec<Dim>,
}

impl TensorSpec {
    /// `float32 [1, 3, height, width]`.
    #[must_use]
    pub fn shape_text(&self) -> String {
        format!("{} {}", self.elem, dims_text(&self.dims))
    }
}

fn dims_text(dims: &[Dim]) -> String {
    format!(
        "[{}]",
        dims.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn shape_text(shape: &[usize]) -> String {
    format!(
        "[{}]",
        shape
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A resolved input: its concrete shape and, for images, the pixel size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputPlan {
    /// Index into the model's bindings (`ModelDef::inputs`).
    pub binding: usize,
    /// Concrete tensor shape fed each run.
    pub shape: Vec<usize>,
    /// For texture sources: `[width, height]` read back.
    pub image_size: Option<[u32; 2]>,
    /// For texture sources: channels in the tensor (1, 3 or 4).
    pub channels: usize,
    /// Rows the tensor holds: the model's batch when the input has a batch dimension, else 1.
    /// One row of data is repeated to fill them, except for a latent walk (one walk a row).
    pub rows: usize,
}

/// A resolved output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPlan {
    /// Index into `ModelDef::outputs`.
    pub binding: usize,
    /// For texture targets: the texture size `[width, height]` (the whole atlas) and channel
    /// count.
    pub image: Option<([u32; 2], usize)>,
    /// For texture targets: the size of one sample's tile, `[width, height]`.
    pub tile: [u32; 2],
    /// Samples in the output (the model's batch): tile `i` is at column `i % columns`, row
    /// `i / columns` of the atlas.
    pub tiles: usize,
    /// Columns of the atlas: [`atlas_grid`] of `tiles`.
    pub columns: u32,
}

/// The atlas grid for `tiles` samples: `(columns, rows)`, as square as possible, columns
/// first (`ceil(sqrt(n))` columns): 4 is 2x2, 8 is 3x3 with one empty row part, 16 is 4x4.
#[must_use]
pub fn atlas_grid(tiles: usize) -> (u32, u32) {
    let tiles = tiles.max(1);
    let mut columns = 1usize;
    while columns * columns < tiles {
        columns += 1;
    }
    let rows = tiles.div_ceil(columns);
    (
        u32::try_from(columns).unwrap_or(u32::MAX),
        u32::try_from(rows).unwrap_or(u32::MAX),
    )
}

/// Everything needed to feed a model and use its results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One per model input, in the model's order.
    pub inputs: Vec<InputPlan>,
    /// One per bound output.
    pub outputs: Vec<OutputPlan>,
}

/// Lengths that non-texture sources produce (their vector length).
pub trait SourceLengths {
    /// Length of the audio feature's vector (1 for scalars).
    fn audio_len(&self, feature: crate::scene::AudioFeature) -> usize;
}

/// Default lengths: scalars, and `bands` of the configured band count.
#[derive(Debug, Clone, Copy)]
pub struct AudioLengths {
    /// Band count.
    pub bands: usize,
}

impl SourceLengths for AudioLengths {
    fn audio_len(&self, feature: crate::scene::AudioFeature) -> usize {
        if feature == crate::scene::AudioFeature::Bands {
            self.bands
        } else {
            1
        }
    }
}

/// Checks `model`'s bindings against the model's declared `inputs` and `outputs`.
/// `default_size` is the inference size for free image dimensions when the scene gives none.
///
/// # Errors
/// Every mismatch, each naming the model, the input or output, and both shapes.
pub fn plan(
    model: &ModelDef,
    inputs: &[TensorSpec],
    outputs: &[TensorSpec],
    default_size: [u32; 2],
    lengths: &dyn SourceLengths,
) -> Result<Plan, Vec<String>> {
    let mut errors = Vec::new();
    let name = &model.name;
    let size = model.size.unwrap_or(default_size);
    let batch = model.batch.max(1);
    for b in &model.inputs {
        if !inputs.iter().any(|i| i.name == b.name) {
            let known = inputs
                .iter()
                .map(|i| format!("`{}` {}", i.name, i.shape_text()))
                .collect::<Vec<_>>()
                .join(", ");
            errors.push(format!(
                "model `{name}` has no input `{}`; its inputs: {known}",
                b.name
            ));
        }
    }
    let mut input_plans = Vec::new();
    for spec in inputs {
        let Some(bi) = model.inputs.iter().position(|b| b.name == spec.name) else {
            errors.push(format!(
                "model `{name}` input `{}` ({}) is not bound; add it under [model.inputs]",
                spec.name,
                spec.shape_text()
            ));
            continue;
        };
        let b = &model.inputs[bi];
        if spec.elem != "float32" {
            errors.push(format!(
                "model `{name}` input `{}` expects {}, but hypna feeds float32 tensors",
                spec.name,
                spec.shape_text()
            ));
            continue;
        }
        match &b.source {
            InputSource::Texture(_) => match image_shape(&spec.dims, b.image.layout, size, batch) {
                Ok((shape, channels, px)) => input_plans.push(InputPlan {
                    binding: bi,
                    shape,
                    image_size: Some(px),
                    channels,
                    rows: batch,
                }),
                Err(want) => errors.push(format!(
                    "model `{name}` input `{}` expects {}, but a texture binding gives {want}",
                    spec.name,
                    spec.shape_text()
                )),
            },
            source => {
                let len = match source {
                    InputSource::Params(p) => p.len(),
                    InputSource::Audio(f) => lengths.audio_len(*f),
                    InputSource::Constant(v) => v.len(),
                    InputSource::Latent(l) => l.dim,
                    InputSource::Time | InputSource::Texture(_) => 1,
                };
                match vector_shape(&spec.dims, len, batch) {
                    Some(shape) => {
                        let rows = if shape.len() == 2 { shape[0] } else { 1 };
                        input_plans.push(InputPlan { binding: bi, shape, image_size: None, channels: 0, rows });
                    }
                    None => errors.push(format!(
                        "model `{name}` input `{}` expects {}, but the binding gives float32 {} ({})",
                        spec.name,
                        spec.shape_text(),
                        shape_text(&[len]),
                        describe_source(source)
                    )),
                }
            }
        }
    }
    let mut output_plans = Vec::new();
    for (oi, b) in model.outputs.iter().enumerate() {
        let Some(spec) = outputs.iter().find(|o| o.name == b.name) else {
            let known = outputs
                .iter()
                .map(|o| format!("`{}` {}", o.name, o.shape_text()))
                .collect::<Vec<_>>()
                .join(", ");
            errors.push(format!(
                "model `{name}` has no output `{}`; its outputs: {known}",
                b.name
            ));
            continue;
        };
        match &b.target {
            OutputTarget::Texture(_) => match image_shape(&spec.dims, b.image.layout, size, batch) {
                Ok((_, channels, px)) => {
                    let (columns, rows) = atlas_grid(batch);
                    output_plans.push(OutputPlan {
                        binding: oi,
                        image: Some(([px[0] * columns, px[1] * rows], channels)),
                        tile: px,
                        tiles: batch,
                        columns,
                    });
                }
                Err(want) => errors.push(format!(
                    "model `{name}` output `{}` is {}, which is not an image {want} for a texture",
                    spec.name,
                    spec.shape_text()
                )),
            },
            OutputTarget::Params(_) => output_plans.push(OutputPlan {
                binding: oi,
                image: None,
                tile: [0, 0],
                tiles: 1,
                columns: 1,
            }),
        }
    }
    if errors.is_empty() {
        Ok(Plan {
            inputs: input_plans,
            outputs: output_plans,
        })
    } else {
        Err(errors)
    }
}

fn describe_source(source: &InputSource) -> String {
    match source {
        InputSource::Params(p) => {
            format!("{} param{}", p.len(), if p.len() == 1 { "" } else { "s" })
        }
        InputSource::Audio(f) => {
            let name = crate::scene::AudioFeature::ALL
                .iter()
                .find(|(_, g)| g == f)
                .map_or("?", |(n, _)| *n);
            format!("audio {name}")
        }
        InputSource::Constant(v) => format!("a constant of {}", v.len()),
        InputSource::Latent(l) => format!("a latent of dim {}", l.dim),
        InputSource::Time => "time".into(),
        InputSource::Texture(_) => "a texture".into(),
    }
}

/// Resolves an image tensor `[batch, C, H, W]` (or NHWC); free H/W take `size`, a free C
/// takes 3, a free batch takes `batch`. Returns (shape, channels, [width, height] of one
/// sample) or a description of the expected form.
fn image_shape(
    dims: &[Dim],
    layout: Layout,
    size: [u32; 2],
    batch: usize,
) -> Result<(Vec<usize>, usize, [u32; 2]), String> {
    let expected = match layout {
        Layout::Nchw => format!("[{batch}, 1|3|4, H, W] (nchw)"),
        Layout::Nhwc => format!("[{batch}, H, W, 1|3|4] (nhwc)"),
    };
    if dims.len() != 4 {
        return Err(expected);
    }
    let (batch_dim, channel_dim, height_dim, width_dim) = match layout {
        Layout::Nchw => (&dims[0], &dims[1], &dims[2], &dims[3]),
        Layout::Nhwc => (&dims[0], &dims[3], &dims[1], &dims[2]),
    };
    let fixed = |d: &Dim, free: usize| match d {
        Dim::Fixed(v) => usize::try_from(*v).ok().filter(|v| *v > 0),
        Dim::Free(_) => Some(free),
    };
    let batch = fixed(batch_dim, batch).filter(|b| *b == batch);
    let channels = fixed(channel_dim, 3).filter(|c| matches!(c, 1 | 3 | 4));
    let height = fixed(height_dim, size[1] as usize).filter(|v| *v <= 8192);
    let width = fixed(width_dim, size[0] as usize).filter(|v| *v <= 8192);
    match (batch, channels, height, width) {
        (Some(n), Some(c), Some(h), Some(w)) => {
            let shape = match layout {
                Layout::Nchw => vec![n, c, h, w],
                Layout::Nhwc => vec![n, h, w, c],
            };
            Ok((shape, c, [w as u32, h as u32]))
        }
        _ => Err(expected),
    }
}

/// Resolves a vector input of `len` elements: `[N]`, `[batch, N]` or a scalar `[]` (len 1).
fn vector_shape(dims: &[Dim], len: usize, batch: usize) -> Option<Vec<usize>> {
    let matches = |d: &Dim, v: usize| match d {
        Dim::Fixed(n) => usize::try_from(*n).ok() == Some(v),
        Dim::Free(_) => true,
    };
    match dims {
        [] => (len == 1).then(Vec::new),
        [d] => matches(d, len).then(|| vec![len]),
        [rows, d] => (matches(rows, batch) && matches(d, len)).then(|| vec![batch, len]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::{ImageMapping, InputBinding, Location, OutputBinding, TextureSource};

    fn spec(name: &str, dims: Vec<Dim>) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            elem: "float32".into(),
            dims,
        }
    }

    fn free(n: &str) -> Dim {
        Dim::Free(Some(n.into()))
    }

    fn model(inputs: Vec<(&str, InputSource)>, outputs: Vec<(&str, OutputTarget)>) -> ModelDef {
        ModelDef {
            name: "dream".into(),
            file: "dream.onnx".into(),
            at: Location::default(),
            size: Some([384, 216]),
            size_at: None,
            every: 1,
            max_rate_hz: None,
            deadline: None,
            batch: 1,
            inputs: inputs
                .into_iter()
                .map(|(n, source)| InputBinding {
                    name: n.into(),
                    at: Location::default(),
                    source,
                    image: ImageMapping::default(),
                    softmax: None,
                })
                .collect(),
            outputs: outputs
                .into_iter()
                .map(|(n, target)| OutputBinding {
                    name: n.into(),
                    at: Location::default(),
                    target,
                    image: ImageMapping::default(),
                })
                .collect(),
        }
    }

    fn dream_specs() -> (Vec<TensorSpec>, Vec<TensorSpec>) {
        (
            vec![
                spec(
                    "image",
                    vec![Dim::Fixed(1), Dim::Fixed(3), free("height"), free("width")],
                ),
                spec("weights", vec![Dim::Fixed(32)]),
                spec("step", vec![Dim::Fixed(1)]),
            ],
            vec![
                spec(
                    "dreamed",
                    vec![Dim::Fixed(1), Dim::Fixed(3), free("height"), free("width")],
                ),
                spec("objective", vec![Dim::Fixed(1)]),
            ],
        )
    }

    const AUDIO: AudioLengths = AudioLengths { bands: 8 };

    #[test]
    fn dream_bindings_resolve() {
        let (i, o) = dream_specs();
        let m = model(
            vec![
                ("image", InputSource::Texture(TextureSource::Pass(0))),
                ("weights", InputSource::Constant(vec![1.0; 32])),
                ("step", InputSource::Params(vec![0])),
            ],
            vec![
                ("dreamed", OutputTarget::Texture("dreamed".into())),
                ("objective", OutputTarget::Params(vec![1])),
            ],
        );
        let p = plan(&m, &i, &o, [320, 180], &AUDIO).unwrap();
        assert_eq!(p.inputs[0].shape, vec![1, 3, 216, 384]);
        assert_eq!(p.inputs[0].image_size, Some([384, 216]));
        assert_eq!(p.inputs[1].shape, vec![32]);
        assert_eq!(p.inputs[2].shape, vec![1]);
        assert_eq!(p.outputs[0].image, Some(([384, 216], 3)));
    }

    #[test]
    fn mismatches_name_model_input_and_both_shapes() {
        let (i, o) = dream_specs();
        let m = model(
            vec![
                ("image", InputSource::Params(vec![0])),
                (
                    "weights",
                    InputSource::Audio(crate::scene::AudioFeature::Bands),
                ),
                ("stepp", InputSource::Time),
            ],
            vec![
                ("objective", OutputTarget::Texture("obj".into())),
                ("nothing", OutputTarget::Params(vec![0])),
            ],
        );
        let errors = plan(&m, &i, &o, [320, 180], &AUDIO).unwrap_err();
        let all = errors.join("\n");
        assert!(all.contains("model `dream` has no input `stepp`; its inputs: `image` float32 [1, 3, height, width]"), "{all}");
        assert!(
            all.contains("model `dream` input `step` (float32 [1]) is not bound"),
            "{all}"
        );
        assert!(all.contains("model `dream` input `image` expects float32 [1, 3, height, width], but the binding gives float32 [1] (1 param)"), "{all}");
        assert!(all.contains("model `dream` input `weights` expects float32 [32], but the binding gives float32 [8] (audio bands)"), "{all}");
        assert!(
            all.contains("model `dream` output `objective` is float32 [1], which is not an image"),
            "{all}"
        );
        assert!(
            all.contains("model `dream` has no output `nothing`"),
            "{all}"
        );
    }

    #[test]
    fn element_type_and_fixed_image_sizes() {
        let m = model(
            vec![("x", InputSource::Texture(TextureSource::Pass(0)))],
            vec![],
        );
        let ints = vec![TensorSpec {
            name: "x".into(),
            elem: "int64".into(),
            dims: vec![Dim::Fixed(1)],
        }];
        let e = plan(&m, &ints, &[], [64, 64], &AUDIO).unwrap_err();
        assert!(
            e[0].contains("expects int64 [1], but hypna feeds float32"),
            "{e:?}"
        );
        // Fixed model sizes win over the scene's size.
        let fixed = vec![spec(
            "x",
            vec![
                Dim::Fixed(1),
                Dim::Fixed(3),
                Dim::Fixed(224),
                Dim::Fixed(224),
            ],
        )];
        let p = plan(&m, &fixed, &[], [64, 64], &AUDIO).unwrap();
        assert_eq!(p.inputs[0].image_size, Some([224, 224]));
        // A batch of 2 cannot be fed from one texture.
        let batch = vec![spec(
            "x",
            vec![Dim::Fixed(2), Dim::Fixed(3), Dim::Fixed(8), Dim::Fixed(8)],
        )];
        assert!(plan(&m, &batch, &[], [64, 64], &AUDIO).is_err());
    }

    #[test]
    fn vectors_accept_n_1n_and_scalar() {
        assert_eq!(vector_shape(&[Dim::Fixed(8)], 8, 1), Some(vec![8]));
        assert_eq!(
            vector_shape(&[Dim::Fixed(1), Dim::Free(None)], 8, 1),
            Some(vec![1, 8])
        );
        assert_eq!(vector_shape(&[], 1, 1), Some(vec![]));
        assert_eq!(vector_shape(&[], 2, 1), None);
        assert_eq!(vector_shape(&[Dim::Fixed(4)], 8, 1), None);
        // A batch fills a free first dimension; a fixed one must match it.
        assert_eq!(
            vector_shape(&[Dim::Free(Some("N".into())), Dim::Fixed(100)], 100, 16),
            Some(vec![16, 100])
        );
        assert_eq!(
            vector_shape(&[Dim::Fixed(1), Dim::Fixed(100)], 100, 16),
            None
        );
        assert_eq!(vector_shape(&[Dim::Fixed(8)], 8, 16), Some(vec![8]));
    }

    #[test]
    fn batches_feed_rows_and_outputs_become_atlases() {
        let n = || Dim::Free(Some("N".into()));
        let inputs = vec![
            spec("noise", vec![n(), Dim::Fixed(100)]),
            spec("label", vec![n(), Dim::Fixed(8)]),
        ];
        let outputs = vec![spec(
            "image",
            vec![n(), Dim::Fixed(3), Dim::Fixed(128), Dim::Fixed(128)],
        )];
        let walk = crate::scene::LatentDef {
            dim: 100,
            seed: 0,
            speed: 0.1,
            scale: 1.0,
            motion: None,
            motion_gain: 2.0,
            pulse: None,
            pulse_gain: 0.6,
            speed_param: None,
            path: crate::scene::LatentPath::Keyframes,
            seed_param: None,
            save_param: None,
            recall_param: None,
            fade_secs: 2.0,
        };
        let mut m = model(
            vec![
                ("noise", InputSource::Latent(walk)),
                ("label", InputSource::Constant(vec![0.125; 8])),
            ],
            vec![("image", OutputTarget::Texture("eyes".into()))],
        );
        m.batch = 16;
        let p = plan(&m, &inputs, &outputs, [64, 64], &AUDIO).unwrap();
        assert_eq!(p.inputs[0].shape, vec![16, 100]);
        assert_eq!(p.inputs[0].rows, 16);
        assert_eq!(p.inputs[1].shape, vec![16, 8]);
        assert_eq!(p.outputs[0].image, Some(([512, 512], 3)));
        assert_eq!((p.outputs[0].tiles, p.outputs[0].columns), (16, 4));
        assert_eq!(p.outputs[0].tile, [128, 128]);
        m.batch = 5;
        let p = plan(&m, &inputs, &outputs, [64, 64], &AUDIO).unwrap();
        assert_eq!(
            p.outputs[0].image,
            Some(([384, 256], 3)),
            "5 tiles: 3 columns, 2 rows"
        );
        // A model with a fixed batch of 1 refuses a batch of 4, naming what it would need.
        let one = vec![spec(
            "image",
            vec![
                Dim::Fixed(1),
                Dim::Fixed(3),
                Dim::Fixed(128),
                Dim::Fixed(128),
            ],
        )];
        m.batch = 4;
        let e = plan(&m, &inputs, &one, [64, 64], &AUDIO).unwrap_err();
        assert!(
            e[0].contains("which is not an image [4, 1|3|4, H, W]"),
            "{e:?}"
        );
    }

    #[test]
    fn atlas_grids_are_square_enough() {
        assert_eq!(atlas_grid(1), (1, 1));
        assert_eq!(atlas_grid(4), (2, 2));
        assert_eq!(atlas_grid(8), (3, 3));
        assert_eq!(atlas_grid(16), (4, 4));
        assert_eq!(atlas_grid(17), (5, 4));
    }
}
