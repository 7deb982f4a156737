//! Assembles a dream model: input mapping, the canonical classifier up to the layers, the
//! objectives, the gradient, and the ascent steps (jitter, normalised step, smoothing,
//! clipping) unrolled over iterations and octaves.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::build::Graph;
use super::canon::{self, Model, OPSET};
use super::grad::backprop;
use super::layers::closest_names;
use super::onnx::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto};
use super::proto::{
    DimSpec, attr_int, attr_ints, attr_str, dtype, encode_model, load_model, value_info,
};
use super::shape::{Dim, Info};
use super::{DreamError, Objective, Options, Output};

/// Names of the dream model's inputs and outputs; a classifier value with one of these names
/// is renamed inside the dream graph.
const RESERVED: &[&str] = &[
    "image",
    "step",
    "jitter",
    "smooth",
    "layer_weights",
    "channel_weights",
    "class_weights",
    "class",
    "dreamed",
    "gradient",
    "objective",
];

/// A compiled dream model and a description of its inputs and outputs.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The model.
    pub model: ModelProto,
    /// Each input: name, shape and meaning.
    pub inputs: Vec<(String, Vec<DimSpec>, String)>,
    /// Each output: name, shape and meaning.
    pub outputs: Vec<(String, Vec<DimSpec>, String)>,
}

impl Compiled {
    /// The model as ONNX protobuf bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_model(&self.model)
    }

    /// Writes the model to `path`.
    pub fn write(&self, path: &Path) -> Result<(), DreamError> {
        std::fs::write(path, self.to_bytes()).map_err(|source| DreamError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The inputs and outputs, one per line.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut lines = Vec::new();
        for (title, list) in [("inputs", &self.inputs), ("outputs", &self.outputs)] {
            lines.push(format!("{title}:"));
            for (name, dims, meaning) in list {
                let d: Vec<String> = dims.iter().map(ToString::to_string).collect();
                lines.push(format!("  {name}: float32 [{}]  {meaning}", d.join(", ")));
            }
        }
        lines.join("\n") + "\n"
    }
}

/// Compiles the classifier at `path`.
pub fn compile_file(path: &Path, opts: &Options) -> Result<Compiled, DreamError> {
    compile(load_model(path)?, opts)
}

fn options_error(message: impl Into<String>) -> DreamError {
    DreamError::Options {
        message: message.into(),
    }
}

fn check_options(opts: &Options) -> Result<(), DreamError> {
    if opts.objectives.is_empty() {
        return Err(options_error("no objective: give at least one"));
    }
    let needs_layers = opts
        .objectives
        .iter()
        .any(|o| matches!(o, Objective::Layer | Objective::Channels));
    if opts.objectives.contains(&Objective::Layer) && opts.layers.is_empty() {
        return Err(options_error(
            "the `layer` objective needs at least one --layer (see `hypna inspect <model> --layers`)",
        ));
    }
    if needs_layers && opts.layers.is_empty() && opts.channels_layer.is_none() {
        return Err(options_error("the `channels` objective needs a --layer"));
    }
    if opts.iterations == 0 || opts.iterations > 64 {
        return Err(options_error("--iterations must be 1 to 64"));
    }
    if opts.octaves == 0 || opts.octaves > 8 {
        return Err(options_error("--octaves must be 1 to 8"));
    }
    if opts.octaves > 1 && !(opts.octave_scale.is_finite() && opts.octave_scale > 1.0) {
        return Err(options_error("--octave-scale must be a number above 1"));
    }
    if opts.smooth_radius > 16 {
        return Err(options_error("--smooth-radius must be 0 to 16"));
    }
    if opts.output == Output::Gradient && (opts.iterations > 1 || opts.octaves > 1) {
        return Err(options_error(
            "--iterations and --octaves belong to the dream step; `--output gradient` has neither",
        ));
    }
    let m = &opts.mapping;
    if !m.scale.is_finite()
        || m.scale == 0.0
        || m.mean.iter().any(|v| !v.is_finite())
        || m.std.iter().any(|v| !v.is_finite() || *v == 0.0)
    {
        return Err(options_error(
            "--scale, --mean and --std must be finite, and --scale and --std non-zero",
        ));
    }
    Ok(())
}

/// Finds `name` among the model's values, or the closest names to it.
fn resolve(model: &Model, name: &str) -> Result<String, DreamError> {
    if model.producer.contains_key(name) {
        return Ok(name.to_string());
    }
    Err(DreamError::UnknownLayer {
        name: name.to_string(),
        closest: closest_names(name, &model.values, 5),
    })
}

/// The value the class objective reads: `--logits`, else the first graph output, or the
/// input of the Softmax that produces it.
fn find_logits(model: &Model, opts: &Options) -> Result<String, DreamError> {
    if let Some(l) = &opts.logits {
        return resolve(model, l);
    }
    let graph = model
        .proto
        .graph
        .as_ref()
        .ok_or_else(|| options_error("no graph"))?;
    let out = graph
        .output
        .first()
        .map(|o| o.name().to_string())
        .ok_or_else(|| options_error("the model has no output; name the logits with --logits"))?;
    let mut v = out;
    // Follow Softmax (and shape-only ops around it) back to the logits.
    for _ in 0..4 {
        let Some(&k) = model.producer.get(&v) else {
            break;
        };
        let n = &graph.node[k];
        match n.op_type() {
            "Softmax" | "LogSoftmax" => return Ok(n.input[0].clone()),
            "Identity" | "Reshape" | "Flatten" | "Squeeze" | "Dropout" => v.clone_from(&n.input[0]),
            _ => break,
        }
    }
    resolve(model, graph.output[0].name())
}

/// Compiles a dream model from a classifier.
#[allow(clippy::too_many_lines)]
pub fn compile(proto: ModelProto, opts: &Options) -> Result<Compiled, DreamError> {
    check_options(opts)?;
    let model = Model::new(proto, opts.input.as_deref())?;
    let layers: Vec<String> = opts
        .layers
        .iter()
        .map(|l| resolve(&model, l))
        .collect::<Result<_, _>>()?;
    let use_layer = opts.objectives.contains(&Objective::Layer);
    let channels = if opts.objectives.contains(&Objective::Channels) {
        Some(match (&opts.channels_layer, layers.as_slice()) {
            (Some(c), _) => resolve(&model, c)?,
            (None, [one]) => one.clone(),
            (None, _) => {
                return Err(options_error(
                    "with several --layer, name the layer of the `channels` objective with --channels-layer",
                ));
            }
        })
    } else {
        None
    };
    let logits = if opts.objectives.contains(&Objective::Class) {
        Some(find_logits(&model, opts)?)
    } else {
        None
    };
    let mut wanted: Vec<String> = if use_layer {
        layers.clone()
    } else {
        Vec::new()
    };
    wanted.extend(channels.iter().cloned());
    wanted.extend(logits.iter().cloned());

    // Classifier values named like the dream model's inputs and outputs are renamed.
    let mut rename = HashMap::new();
    for r in RESERVED {
        if model.names.contains(*r) {
            let mut n = format!("classifier/{r}");
            while model.names.contains(&n) {
                n.push('_');
            }
            rename.insert((*r).to_string(), n);
        }
    }
    let map = |n: &str| rename.get(n).cloned().unwrap_or_else(|| n.to_string());
    let mut taken = model.names.clone();
    taken.extend(RESERVED.iter().map(|s| (*s).to_string()));
    taken.extend(rename.values().cloned());
    let mut g = Graph::new("dream/", taken);

    // The image: fixed size only when the classifier fixes it and one scale is dreamed.
    let dynamic = opts.free_size || opts.octaves > 1;
    let mut image_dims = vec![DimSpec::Fixed(1), DimSpec::Fixed(3)];
    for (i, name) in [(2, "height"), (3, "width")] {
        image_dims.push(match &model.image_dims[i] {
            DimSpec::Fixed(n) if !dynamic => DimSpec::Fixed(*n),
            _ => DimSpec::Named(name.into()),
        });
    }
    let dims: Vec<Dim> = image_dims
        .iter()
        .map(|d| match d {
            DimSpec::Fixed(n) => Dim::N(*n),
            DimSpec::Named(s) => g.shapes.named(s),
        })
        .collect();
    g.shapes.set(
        "image",
        Info {
            elem: dtype::FLOAT,
            dims: Some(dims),
            ints: None,
            floats: None,
        },
    );
    // The objective weight inputs, so shapes flow through the objective's nodes.
    for (name, len) in [
        ("layer_weights", Some(layers.len())),
        ("channel_weights", None),
        ("class_weights", None),
        ("class", Some(1)),
    ] {
        let dim = len.map_or_else(|| g.shapes.fresh(), |l| Dim::N(l as i64));
        g.shapes.set(
            name,
            Info {
                elem: dtype::FLOAT,
                dims: Some(vec![dim]),
                ints: None,
                floats: None,
            },
        );
    }
    map_input(&mut g, opts, &map(&model.image));
    canon::canonicalise(&mut g, &model, &wanted, &rename)?;
    let forward_end = g.nodes.len();

    // Objectives: terms of the objective value, and their gradients (the seeds).
    let mut inputs: Vec<(String, Vec<DimSpec>, String)> = Vec::new();
    let mut terms = Vec::new();
    let mut seeds = Vec::new();
    if use_layer {
        let l = layers.len() as i64;
        inputs.push((
            "layer_weights".into(),
            vec![DimSpec::Fixed(l)],
            format!(
                "weight of each layer's energy, in --layer order: {}",
                layers.join(", ")
            ),
        ));
        for (i, layer) in layers.iter().enumerate() {
            let a = map(layer);
            let idx = g.int_scalar(i as i64);
            let w = g.op(
                "Gather",
                &["layer_weights", &idx],
                vec![attr_int("axis", 0)],
            );
            let sq = g.op("Mul", &[&a, &a], vec![]);
            let e = g.op("ReduceMean", &[&sq], vec![attr_int("keepdims", 0)]);
            terms.push(g.op("Mul", &[&w, &e], vec![]));
            let n = g.numel_f(&a);
            let two = g.float_scalar(2.0);
            let w2 = g.op("Mul", &[&w, &two], vec![]);
            let c = g.op("Div", &[&w2, &n], vec![]);
            seeds.push((a.clone(), g.op("Mul", &[&a, &c], vec![])));
        }
    }
    if let Some(layer) = &channels {
        let a = map(layer);
        let (wb, c) = per_channel(&mut g, &a, "channel_weights", layer)?;
        inputs.push((
            "channel_weights".into(),
            vec![DimSpec::Fixed(c)],
            format!("weight of each channel of `{layer}`"),
        ));
        let sq = g.op("Mul", &[&a, &a], vec![]);
        let ws = g.op("Mul", &[&sq, &wb], vec![]);
        terms.push(g.op("ReduceMean", &[&ws], vec![attr_int("keepdims", 0)]));
        let n = g.numel_f(&a);
        let two = g.float_scalar(2.0);
        let c2 = g.op("Div", &[&two, &n], vec![]);
        let aw = g.op("Mul", &[&a, &wb], vec![]);
        seeds.push((a.clone(), g.op("Mul", &[&aw, &c2], vec![])));
    }
    if let Some(z) = &logits {
        let a = map(z);
        let weights = if opts.class_index {
            one_hot(&mut g, &a, z)?
        } else {
            "class_weights".to_string()
        };
        let (wb, k) = per_channel(&mut g, &a, &weights, z)?;
        inputs.push(if opts.class_index {
            (
                "class".into(),
                vec![DimSpec::Fixed(1)],
                format!("index of the class logit (`{z}`) to dream, 0..{k}, rounded"),
            )
        } else {
            (
                "class_weights".into(),
                vec![DimSpec::Fixed(k)],
                format!("weight of each class logit (`{z}`)"),
            )
        });
        // K * mean(z * w) = sum over classes of w_k * (mean logit k over batch and space).
        let kf = g.float_scalar(k as f32);
        let zw = g.op("Mul", &[&a, &wb], vec![]);
        let m = g.op("ReduceMean", &[&zw], vec![attr_int("keepdims", 0)]);
        terms.push(g.op("Mul", &[&m, &kf], vec![]));
        let n = g.numel_f(&a);
        let c = g.op("Div", &[&kf, &n], vec![]);
        let wc = g.op("Mul", &[&wb, &c], vec![]);
        let s = g.shape(&a);
        seeds.push((a.clone(), g.op("Expand", &[&wc, &s], vec![])));
    }
    let total = if terms.len() == 1 {
        terms.remove(0)
    } else {
        let refs: Vec<&str> = terms.iter().map(String::as_str).collect();
        g.op("Sum", &refs, vec![])
    };
    let one = g.ints(&[1]);
    let objective = g.op("Reshape", &[&total, &one], vec![]);
    let gradient = backprop(&mut g, forward_end, "image", seeds)?;

    let mut outputs = Vec::new();
    let mut graph_inputs = vec![("image".to_string(), image_dims.clone(), image_meaning(opts))];
    let (nodes, inits) = if opts.output == Output::Gradient {
        identity(&mut g, &gradient, "gradient");
        identity(&mut g, &objective, "objective");
        outputs.push((
            "gradient".into(),
            image_dims.clone(),
            "gradient of the objective with respect to the image".into(),
        ));
        (std::mem::take(&mut g.nodes), std::mem::take(&mut g.inits))
    } else {
        let mut s = Steps::new(g, gradient, objective, opts);
        let dreamed = s.dream();
        identity(&mut s.out, &dreamed, "dreamed");
        let obj = s.last_objective.clone();
        identity(&mut s.out, &obj, "objective");
        graph_inputs.push((
            "step".into(),
            vec![DimSpec::Fixed(1)],
            "step size: mean change per pixel and step, in 0..1 units".into(),
        ));
        if opts.jitter {
            graph_inputs.push((
                "jitter".into(),
                vec![DimSpec::Fixed(2 * i64::from(opts.iterations))],
                "(dx, dy) whole-pixel roll of each iteration, rounded".into(),
            ));
        }
        if opts.smooth_radius > 0 {
            graph_inputs.push((
                "smooth".into(),
                vec![DimSpec::Fixed(1)],
                "sigma in pixels of the Gaussian blur of the gradient (0: none)".into(),
            ));
        }
        outputs.push((
            "dreamed".into(),
            image_dims.clone(),
            "the image after the ascent steps, in 0..1".into(),
        ));
        (
            std::mem::take(&mut s.out.nodes),
            std::mem::take(&mut s.out.inits),
        )
    };
    outputs.push((
        "objective".into(),
        vec![DimSpec::Fixed(1)],
        "the objective before the last step".into(),
    ));
    graph_inputs.extend(inputs);
    let model_out = assemble(&model, opts, nodes, inits, &graph_inputs, &outputs, &wanted);
    Ok(Compiled {
        model: model_out,
        inputs: graph_inputs,
        outputs,
    })
}

fn image_meaning(opts: &Options) -> String {
    let m = &opts.mapping;
    if *m == super::Mapping::default() {
        return "RGB in 0..1, NCHW".to_string();
    }
    format!(
        "RGB in 0..1, NCHW; the classifier sees ({}image * {} - {:?}) / {:?}",
        if m.bgr { "BGR " } else { "" },
        m.scale,
        m.mean,
        m.std
    )
}

fn identity(g: &mut Graph, from: &str, to: &str) {
    g.push_raw(NodeProto {
        op_type: Some("Identity".into()),
        name: Some(format!("dream/{to}")),
        input: vec![from.to_string()],
        output: vec![to.to_string()],
        ..NodeProto::default()
    });
}

/// A weight vector input reshaped to broadcast over axis 1 of `a`, and its length.
/// The class weights `[K]` of the `class` index input: `max(0, 1 - |k - floor(class + 0.5)|)` for
/// k in 0..K, which is one at the chosen class and zero elsewhere (opset-1 operators only).
fn one_hot(g: &mut Graph, logits: &str, label: &str) -> Result<String, DreamError> {
    let dims = g.dims(logits).unwrap_or_default();
    let Some(k) = dims.get(1).and_then(|d| d.known()) else {
        return Err(DreamError::Model {
            message: format!(
                "`{label}` has shape {}: its axis 1 (classes) must have a known size",
                g.shapes.show_dims(logits)
            ),
        });
    };
    let ks: Vec<f32> = (0..k).map(|i| i as f32).collect();
    let ks = g.floats(&[k], &ks);
    let half = g.float_scalar(0.5);
    let index = g.op("Add", &["class", &half], vec![]);
    let index = g.op("Floor", &[&index], vec![]);
    let d = g.op("Sub", &[&ks, &index], vec![]);
    let d = g.op("Abs", &[&d], vec![]);
    let one = g.float_scalar(1.0);
    let d = g.op("Sub", &[&one, &d], vec![]);
    Ok(g.op("Relu", &[&d], vec![]))
}

fn per_channel(
    g: &mut Graph,
    a: &str,
    input: &str,
    label: &str,
) -> Result<(String, i64), DreamError> {
    let dims = g.dims(a).unwrap_or_default();
    let Some(c) = dims.get(1).and_then(|d| d.known()) else {
        return Err(DreamError::Model {
            message: format!(
                "`{label}` has shape {}: its axis 1 (channels or classes) must have a known size",
                g.shapes.show_dims(a)
            ),
        });
    };
    let mut shape = vec![1i64; dims.len()];
    shape[1] = c;
    let s = g.ints(&shape);
    Ok((g.op("Reshape", &[input, &s], vec![]), c))
}

/// `image` (RGB 0..1) to the classifier's input `target`: channel order, scale, mean, std.
#[allow(clippy::float_cmp)] // exact: an identity mapping adds no node
fn map_input(g: &mut Graph, opts: &Options, target: &str) {
    let m = &opts.mapping;
    let mut x = "image".to_string();
    if m.bgr {
        let parts = g.op_n("Split", &[&x], 3, vec![attr_int("axis", 1)]);
        x = g.op(
            "Concat",
            &[&parts[2], &parts[1], &parts[0]],
            vec![attr_int("axis", 1)],
        );
    }
    let a: Vec<f32> = (0..3).map(|c| m.scale / m.std[c]).collect();
    let b: Vec<f32> = (0..3).map(|c| -m.mean[c] / m.std[c]).collect();
    let mut last = ("Identity", vec![x.clone()]);
    if a.iter().any(|&v| v != 1.0) {
        let w = g.floats(&[1, 3, 1, 1], &a);
        if b.iter().any(|&v| v != 0.0) {
            x = g.op("Mul", &[&x, &w], vec![]);
        } else {
            last = ("Mul", vec![x.clone(), w]);
        }
    }
    if b.iter().any(|&v| v != 0.0) {
        let c = g.floats(&[1, 3, 1, 1], &b);
        last = ("Add", vec![x.clone(), c]);
    }
    g.push(NodeProto {
        op_type: Some(last.0.into()),
        input: last.1,
        output: vec![target.to_string()],
        ..NodeProto::default()
    });
}

/// The unrolled dream: iterations at each octave, each a jittered, normalised ascent step on
/// a copy of the gradient graph.
struct Steps<'o> {
    out: Graph,
    template: Vec<NodeProto>,
    produced: HashSet<String>,
    gradient: String,
    objective: String,
    opts: &'o Options,
    copies: usize,
    sep: String,
    last_objective: String,
}

impl<'o> Steps<'o> {
    fn new(mut g: Graph, gradient: String, objective: String, opts: &'o Options) -> Self {
        let template = std::mem::take(&mut g.nodes);
        let produced: HashSet<String> = template
            .iter()
            .flat_map(|n| n.output.iter().cloned())
            .collect();
        let mut out = Graph::new("step/", g.used_names().clone());
        out.inits = std::mem::take(&mut g.inits);
        let mut sep = "#".to_string();
        while out.used_names().iter().any(|n| n.contains(&sep)) {
            sep.push('#');
        }
        Self {
            out,
            template,
            produced,
            gradient,
            objective,
            opts,
            copies: 0,
            sep,
            last_objective: String::new(),
        }
    }

    /// A copy of the gradient graph reading `image` from `x`: returns (gradient, objective).
    fn gradient_of(&mut self, x: &str) -> (String, String) {
        self.copies += 1;
        let suffix = format!("{}{}", self.sep, self.copies);
        let rn = |n: &str, produced: &HashSet<String>| -> String {
            if n == "image" {
                x.to_string()
            } else if produced.contains(n) {
                format!("{n}{suffix}")
            } else {
                n.to_string()
            }
        };
        for t in &self.template {
            let mut n = t.clone();
            n.name = Some(format!("{}{suffix}", t.name()));
            n.input = t.input.iter().map(|i| rn(i, &self.produced)).collect();
            n.output = t.output.iter().map(|o| rn(o, &self.produced)).collect();
            self.out.push_raw(n);
        }
        (
            rn(&self.gradient, &self.produced),
            rn(&self.objective, &self.produced),
        )
    }

    fn g(&mut self) -> &mut Graph {
        &mut self.out
    }

    /// Rolls `x` by `shift` (an int64 `[1]`) along `axis`, as numpy.roll does.
    fn roll(&mut self, x: &str, shift: &str, axis: i64) -> String {
        let g = &mut self.out;
        let n = g.op(
            "Shape",
            &[x],
            vec![attr_int("start", axis), attr_int("end", axis + 1)],
        );
        let s = g.op("Mod", &[shift, &n], vec![]);
        let cut = g.op("Sub", &[&n, &s], vec![]);
        let zero = g.ints(&[0]);
        let ax = g.ints(&[axis]);
        let tail = g.op("Slice", &[x, &cut, &n, &ax], vec![]);
        let head = g.op("Slice", &[x, &zero, &cut, &ax], vec![]);
        g.op("Concat", &[&tail, &head], vec![attr_int("axis", axis)])
    }

    /// The jitter of iteration `i` along x (`j` = 0) or y (1), as int64 `[1]`.
    fn shift(&mut self, i: u32, j: u32) -> String {
        let g = &mut self.out;
        let idx = g.ints(&[i64::from(2 * i + j)]);
        let v = g.op("Gather", &["jitter", &idx], vec![attr_int("axis", 0)]);
        let r = g.op("Round", &[&v], vec![]);
        g.op("Cast", &[&r], vec![attr_int("to", i64::from(dtype::INT64))])
    }

    /// A separable Gaussian blur of the 3-channel `x` with sigma from the `smooth` input.
    fn blur(&mut self, x: &str) -> String {
        let r = i64::from(self.opts.smooth_radius);
        let g = &mut self.out;
        let taps: Vec<f32> = (-r..=r).map(|t| (t * t) as f32).collect();
        let t2 = g.floats(&[2 * r + 1], &taps);
        let scalar = g.ints(&[]);
        let sigma = g.op("Reshape", &["smooth", &scalar], vec![]);
        let s2 = g.op("Mul", &[&sigma, &sigma], vec![]);
        let two = g.float_scalar(2.0);
        let den = g.op("Mul", &[&s2, &two], vec![]);
        let eps = g.float_scalar(1e-6);
        let den = g.op("Add", &[&den, &eps], vec![]);
        let q = g.op("Div", &[&t2, &den], vec![]);
        let nq = g.op("Neg", &[&q], vec![]);
        let e = g.op("Exp", &[&nq], vec![]);
        let sum = g.op("ReduceSum", &[&e], vec![attr_int("keepdims", 1)]);
        let k = g.op("Div", &[&e, &sum], vec![]);
        let mut y = x.to_string();
        for (shape, pads) in [
            ([3i64, 1, 2 * r + 1, 1], [r, 0, r, 0]),
            ([3, 1, 1, 2 * r + 1], [0, r, 0, r]),
        ] {
            let kshape = g.ints(&[1, 1, shape[2], shape[3]]);
            let kr = g.op("Reshape", &[&k, &kshape], vec![]);
            let full = g.ints(&shape);
            let kw = g.op("Expand", &[&kr, &full], vec![]);
            y = g.op(
                "Conv",
                &[&y, &kw],
                vec![
                    attr_ints("kernel_shape", &shape[2..]),
                    attr_ints("pads", &pads),
                    attr_int("group", 3),
                ],
            );
        }
        y
    }

    /// One ascent step from `x`; returns the new image.
    fn step(&mut self, x: &str, i: u32) -> String {
        let mut xr = x.to_string();
        let shifts = if self.opts.jitter {
            let sx = self.shift(i, 0);
            let sy = self.shift(i, 1);
            xr = self.roll(&xr, &sy, 2);
            xr = self.roll(&xr, &sx, 3);
            Some((sx, sy))
        } else {
            None
        };
        let (mut grad, obj) = self.gradient_of(&xr);
        self.last_objective = obj;
        if self.opts.smooth_radius > 0 {
            grad = self.blur(&grad);
        }
        if let Some((sx, sy)) = shifts {
            let nx = self.g().op("Neg", &[&sx], vec![]);
            let ny = self.g().op("Neg", &[&sy], vec![]);
            grad = self.roll(&grad, &nx, 3);
            grad = self.roll(&grad, &ny, 2);
        }
        let g = &mut self.out;
        let a = g.op("Abs", &[&grad], vec![]);
        let m = g.op("ReduceMean", &[&a], vec![attr_int("keepdims", 0)]);
        let eps = g.float_scalar(1e-8);
        let d = g.op("Add", &[&m, &eps], vec![]);
        let n = g.op("Div", &[&grad, &d], vec![]);
        let u = g.op("Mul", &[&n, "step"], vec![]);
        let y = g.op("Add", &[x, &u], vec![]);
        let lo = g.float_scalar(0.0);
        let hi = g.float_scalar(1.0);
        g.op("Clip", &[&y, &lo, &hi], vec![])
    }

    fn resize_to(&mut self, x: &str, hw: &str) -> String {
        let g = &mut self.out;
        let nc = g.op(
            "Shape",
            &[x],
            vec![attr_int("start", 0), attr_int("end", 2)],
        );
        let sizes = g.op("Concat", &[&nc, hw], vec![attr_int("axis", 0)]);
        g.op(
            "Resize",
            &[x, "", "", &sizes],
            vec![
                attr_str("mode", "linear"),
                attr_str("coordinate_transformation_mode", "half_pixel"),
            ],
        )
    }

    /// Octaves and iterations; returns the dreamed image.
    fn dream(&mut self) -> String {
        let opts = self.opts;
        let octaves = opts.octaves as usize;
        // Each octave's size: the image's size divided by octave_scale^k, at least 1.
        let mut bases = vec!["image".to_string()];
        let mut sizes = vec![String::new()];
        if octaves > 1 {
            let g = &mut self.out;
            let hw = g.op(
                "Shape",
                &["image"],
                vec![attr_int("start", 2), attr_int("end", 4)],
            );
            let hwf = g.op("Cast", &[&hw], vec![attr_int("to", 1)]);
            sizes[0] = hw;
            for k in 1..octaves {
                let g = &mut self.out;
                let f = g.float_scalar(opts.octave_scale.powi(-(k as i32)));
                let s = g.op("Mul", &[&hwf, &f], vec![]);
                let s = g.op("Floor", &[&s], vec![]);
                let s = g.op("Cast", &[&s], vec![attr_int("to", i64::from(dtype::INT64))]);
                let one = g.ints(&[1]);
                let s = g.op("Max", &[&s, &one], vec![]);
                let prev = bases[k - 1].clone();
                let b = self.resize_to(&prev, &s);
                bases.push(b);
                sizes.push(s);
            }
        }
        let mut x = bases[octaves - 1].clone();
        for k in (0..octaves).rev() {
            if k + 1 < octaves {
                // Carry the detail dreamed at the smaller octave up to this one.
                let detail = self.out.op("Sub", &[&x, &bases[k + 1]], vec![]);
                let size = sizes[k].clone();
                let up = self.resize_to(&detail, &size);
                x = self.out.op("Add", &[&bases[k], &up], vec![]);
            }
            for i in 0..opts.iterations {
                x = self.step(&x, i);
            }
        }
        x
    }
}

fn assemble(
    model: &Model,
    opts: &Options,
    nodes: Vec<NodeProto>,
    inits: indexmap::IndexMap<String, super::onnx::TensorProto>,
    inputs: &[(String, Vec<DimSpec>, String)],
    outputs: &[(String, Vec<DimSpec>, String)],
    wanted: &[String],
) -> ModelProto {
    let mut lines = vec!["DeepDream model compiled by `hypna dreamify`.".to_string()];
    for (title, list) in [("inputs", inputs), ("outputs", outputs)] {
        lines.push(format!("{title}:"));
        for (n, d, m) in list {
            let d: Vec<String> = d.iter().map(ToString::to_string).collect();
            lines.push(format!("  {n} float32 [{}]: {m}", d.join(", ")));
        }
    }
    let doc: String = lines.join("\n") + "\n";
    let source = model.proto.graph.as_ref().map_or("", |g| g.name());
    // Constants made along the way that no node reads (ONNX Runtime warns about them).
    let read: HashSet<&str> = nodes
        .iter()
        .flat_map(|n| n.input.iter().map(String::as_str))
        .collect();
    let initializer = inits
        .into_values()
        .filter(|t| read.contains(t.name()))
        .collect();
    let graph = GraphProto {
        name: Some(format!("dream of {source}")),
        node: nodes,
        initializer,
        input: inputs
            .iter()
            .map(|(n, d, _)| value_info(n, dtype::FLOAT, d))
            .collect(),
        output: outputs
            .iter()
            .map(|(n, d, _)| value_info(n, dtype::FLOAT, d))
            .collect(),
        doc_string: Some(doc.clone()),
        ..GraphProto::default()
    };
    let meta = |k: &str, v: String| StringStringEntryProto {
        key: Some(k.into()),
        value: Some(v),
    };
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(OPSET),
        }],
        producer_name: Some("hypna dreamify".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: Some(doc),
        graph: Some(graph),
        metadata_props: vec![
            meta("hypna.dream.layers", wanted.join(",")),
            meta(
                "hypna.dream.objectives",
                opts.objectives
                    .iter()
                    .map(|o| format!("{o:?}").to_lowercase())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            meta("hypna.dream.iterations", opts.iterations.to_string()),
            meta("hypna.dream.octaves", opts.octaves.to_string()),
        ],
        ..ModelProto::default()
    }
}

/// The classifier cut after `values` (which become its outputs), in its own opset: the
/// forward pass a dream step is compared with, in tests and benchmarks.
pub fn truncate(proto: &ModelProto, values: &[String]) -> Result<ModelProto, DreamError> {
    let model = Model::new(proto.clone(), None)?;
    for v in values {
        resolve(&model, v)?;
    }
    let order = model.needed(values)?;
    let src = proto
        .graph
        .as_ref()
        .ok_or_else(|| options_error("no graph"))?;
    let nodes: Vec<NodeProto> = order.iter().map(|&k| src.node[k].clone()).collect();
    let used: HashSet<String> = nodes.iter().flat_map(|n| n.input.iter().cloned()).collect();
    let mut graph = src.clone();
    graph.node = nodes;
    graph.initializer.retain(|t| used.contains(t.name()));
    graph.input.retain(|i| i.name() == model.image);
    graph.output = values
        .iter()
        .map(|v| {
            let mut vi = value_info(v, dtype::FLOAT, &[]);
            if let Some(super::onnx::type_proto::Value::TensorType(t)) =
                vi.r#type.as_mut().and_then(|t| t.value.as_mut())
            {
                t.shape = None;
            }
            vi
        })
        .collect();
    graph.value_info.clear();
    let mut out = proto.clone();
    out.graph = Some(graph);
    Ok(out)
}

/// The two models `hypna bench --models` compares for a classifier: its forward pass up to
/// `layers` (in its own opset), and one dream step on those layers (one iteration and octave,
/// with jitter). Run both with the same threads; their ratio is the dream's cost over a
/// forward pass (about 3 is the cost of a backward pass).
#[derive(Debug, Clone)]
pub struct BenchPair {
    /// The classifier cut after the layers.
    pub forward: ModelProto,
    /// The dream step.
    pub step: Compiled,
}

/// Builds the [`BenchPair`] of a classifier; `free_size` declares the image size free in both.
pub fn bench_pair(
    proto: &ModelProto,
    layers: &[String],
    free_size: bool,
) -> Result<BenchPair, DreamError> {
    let opts = Options {
        layers: layers.to_vec(),
        free_size,
        ..Options::default()
    };
    let step = compile(proto.clone(), &opts)?;
    let mut forward = truncate(proto, layers)?;
    if free_size && let Some(g) = forward.graph.as_mut() {
        let model = Model::new(proto.clone(), None)?;
        if let Some(i) = g.input.iter_mut().find(|i| i.name() == model.image) {
            let mut dims = model.image_dims.clone();
            dims[2] = DimSpec::Named("height".into());
            dims[3] = DimSpec::Named("width".into());
            *i = value_info(&model.image, dtype::FLOAT, &dims);
        }
    }
    Ok(BenchPair { forward, step })
}
