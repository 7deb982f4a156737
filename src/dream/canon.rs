//! Canonicalisation: the nodes a dream needs, rewritten from any opset from 9 on into the
//! forms of opset 17 (attribute forms of Slice, Pad, Clip, Split, Unsqueeze, Squeeze and
//! `ReduceSum` become inputs; Upsample and Resize-10 become Resize-13; the axes inputs of opset
//! 18 become attributes; Constant nodes become initializers; Dropout becomes Identity; old
//! Softmax's 2-D coercion is spelled out; `auto_pad` becomes explicit pads where sizes are
//! known), so the gradient rules and the output graph deal with one form of each operator.

use std::collections::{HashMap, HashSet, VecDeque};

use super::DreamError;
use super::build::{Graph, attrs_without, norm};
use super::onnx::{ModelProto, NodeProto, TensorProto};
use super::proto::{
    DimSpec, NodeExt, attr_int, attr_ints, attr_str, declared, dtype, make_f32, make_i64,
};
use super::shape::Dim;

/// The opset of every graph hypna writes.
pub const OPSET: i64 = 17;
/// The oldest opset read.
pub const MIN_OPSET: i64 = 9;
/// The newest opset read.
pub const MAX_OPSET: i64 = 23;

/// Operators that can carry a gradient from the image to an objective.
pub const DIFFERENTIABLE: &[&str] = &[
    "Abs",
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Clip",
    "Concat",
    "Conv",
    "ConvTranspose",
    "Div",
    "Dropout",
    "Elu",
    "Erf",
    "Exp",
    "Expand",
    "Flatten",
    "Gemm",
    "GlobalAveragePool",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "LRN",
    "LeakyRelu",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "MaxPool",
    "Mean",
    "Min",
    "Mul",
    "Neg",
    "PRelu",
    "Pad",
    "Pow",
    "Reciprocal",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Resize",
    "Selu",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Softplus",
    "Split",
    "Sqrt",
    "Squeeze",
    "Sub",
    "Sum",
    "Tanh",
    "Transpose",
    "Unsqueeze",
    "Upsample",
    "Where",
];

/// Operators kept for shape arithmetic and constants; they carry no gradient.
pub const SHAPE_ONLY: &[&str] = &[
    "And",
    "Ceil",
    "Constant",
    "ConstantOfShape",
    "Equal",
    "EyeLike",
    "Floor",
    "Gather",
    "Greater",
    "GreaterOrEqual",
    "Less",
    "LessOrEqual",
    "Mod",
    "NonZero",
    "Not",
    "Or",
    "Range",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "Round",
    "Shape",
    "Sign",
    "Size",
];

/// The attributes each operator may have (any opset read); an unknown one is an error, so a
/// change of meaning in a later opset is never silently ignored.
fn known_attrs(op: &str) -> Option<&'static [&'static str]> {
    Some(match op {
        "Conv" => &[
            "auto_pad",
            "dilations",
            "group",
            "kernel_shape",
            "pads",
            "strides",
        ],
        "ConvTranspose" => &[
            "auto_pad",
            "dilations",
            "group",
            "kernel_shape",
            "output_padding",
            "output_shape",
            "pads",
            "strides",
        ],
        "MaxPool" => &[
            "auto_pad",
            "ceil_mode",
            "dilations",
            "kernel_shape",
            "pads",
            "storage_order",
            "strides",
        ],
        "AveragePool" => &[
            "auto_pad",
            "ceil_mode",
            "count_include_pad",
            "dilations",
            "kernel_shape",
            "pads",
            "strides",
        ],
        "BatchNormalization" => &["epsilon", "momentum", "training_mode", "spatial"],
        "Clip" => &["min", "max"],
        "LeakyRelu" | "Elu" => &["alpha"],
        "Selu" => &["alpha", "gamma"],
        "HardSigmoid" => &["alpha", "beta"],
        "LRN" => &["alpha", "beta", "bias", "size"],
        "Softmax" | "LogSoftmax" | "Concat" | "Flatten" | "Gather" => &["axis"],
        "Split" => &["axis", "split", "num_outputs"],
        "Slice" => &["starts", "ends", "axes"],
        "Pad" => &["mode", "pads", "value"],
        "Upsample" => &["mode", "scales"],
        "Resize" => &[
            "antialias",
            "axes",
            "coordinate_transformation_mode",
            "cubic_coeff_a",
            "exclude_outside",
            "extrapolation_value",
            "keep_aspect_ratio_policy",
            "mode",
            "nearest_mode",
        ],
        "Reshape" => &["allowzero"],
        "Transpose" => &["perm"],
        "Squeeze" | "Unsqueeze" => &["axes"],
        "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" => {
            &["axes", "keepdims", "noop_with_empty_axes"]
        }
        "Gemm" => &["alpha", "beta", "transA", "transB"],
        "Dropout" => &["ratio", "seed", "is_test"],
        "Cast" => &["to", "saturate"],
        "Shape" => &["start", "end"],
        "ConstantOfShape" => &["value"],
        "Constant" => &[
            "value",
            "value_float",
            "value_floats",
            "value_int",
            "value_ints",
        ],
        "EyeLike" => &["dtype", "k"],
        "Mod" => &["fmod"],
        "Relu" | "Sigmoid" | "Tanh" | "HardSwish" | "PRelu" | "Add" | "Sub" | "Mul" | "Div"
        | "Sum" | "Mean" | "Max" | "Min" | "Neg" | "Exp" | "Log" | "Sqrt" | "Abs" | "Erf"
        | "Reciprocal" | "Pow" | "Softplus" | "GlobalAveragePool" | "MatMul" | "Identity"
        | "Expand" | "Where" | "Size" | "Range" | "Equal" | "Greater" | "Less"
        | "GreaterOrEqual" | "LessOrEqual" | "Not" | "And" | "Or" | "Floor" | "Ceil" | "Round"
        | "NonZero" | "Sign" => &[],
        _ => return None,
    })
}

/// The full list of operators read, for error messages.
#[must_use]
pub fn supported_list() -> String {
    let mut all: Vec<&str> = DIFFERENTIABLE.iter().chain(SHAPE_ONLY).copied().collect();
    all.sort_unstable();
    all.join(", ")
}

/// What the compiler knows of a model before canonicalisation.
#[derive(Debug)]
pub struct Model {
    /// The source model.
    pub proto: ModelProto,
    /// The default-domain opset.
    pub opset: i64,
    /// The image input's name.
    pub image: String,
    /// Its declared element type and dimensions.
    pub image_elem: i32,
    /// Its declared dimensions.
    pub image_dims: Vec<DimSpec>,
    /// Every value name in the graph (inputs, initializers, node outputs).
    pub names: HashSet<String>,
    /// Node index producing each value.
    pub producer: HashMap<String, usize>,
    /// Values computed from the image, in graph order: the candidate layers.
    pub values: Vec<String>,
}

impl Model {
    /// Reads what the compiler needs to know; `input` names the image input (default: the
    /// first graph input that is not an initializer).
    pub fn new(proto: ModelProto, input: Option<&str>) -> Result<Self, DreamError> {
        let graph = proto.graph.as_ref().ok_or_else(|| DreamError::Model {
            message: "the file has no graph".into(),
        })?;
        let opset = proto
            .opset_import
            .iter()
            .find(|o| o.domain().is_empty() || o.domain() == "ai.onnx")
            .map_or(1, super::onnx::OperatorSetIdProto::version);
        if !(MIN_OPSET..=MAX_OPSET).contains(&opset) {
            return Err(DreamError::Opset {
                version: opset,
                min: MIN_OPSET,
                max: MAX_OPSET,
            });
        }
        let inits: HashSet<&str> = graph.initializer.iter().map(TensorProto::name).collect();
        let candidates: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !inits.contains(i.name()))
            .collect();
        let vi = match input {
            Some(name) => candidates
                .iter()
                .find(|i| i.name() == name)
                .copied()
                .ok_or_else(|| DreamError::Model {
                    message: format!(
                        "the model has no input `{name}`; its inputs: {}",
                        names_list(candidates.iter().map(|i| i.name()))
                    ),
                })?,
            None => candidates
                .first()
                .copied()
                .ok_or_else(|| DreamError::Model {
                    message: "the model has no input (every graph input is an initializer)".into(),
                })?,
        };
        let (elem, dims) = declared(vi);
        let dims = dims.ok_or_else(|| DreamError::Model {
            message: format!("input `{}` has no declared shape", vi.name()),
        })?;
        if elem != dtype::FLOAT || dims.len() != 4 {
            return Err(DreamError::Model {
                message: format!(
                    "input `{}` is {} [{}]; the dream compiler needs a float32 NCHW image [N, 3, H, W]",
                    vi.name(),
                    dtype::name(elem),
                    dims.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        if let DimSpec::Fixed(c) = dims[1]
            && c != 3
        {
            return Err(DreamError::Model {
                message: format!(
                    "input `{}` has {c} channels; the dream compiler needs an RGB (or BGR) image with 3",
                    vi.name()
                ),
            });
        }
        let mut names = HashSet::new();
        let mut producer = HashMap::new();
        let mut values = Vec::new();
        for i in &graph.input {
            names.insert(i.name().to_string());
        }
        for t in &graph.initializer {
            names.insert(t.name().to_string());
        }
        // Values computed from the image are the candidate layers (and what a misspelt
        // layer is compared with).
        let mut from_image: HashSet<&str> = HashSet::from([vi.name()]);
        for (k, n) in graph.node.iter().enumerate() {
            let live = n.input.iter().any(|i| from_image.contains(i.as_str()));
            for o in &n.output {
                if o.is_empty() {
                    continue;
                }
                names.insert(o.clone());
                producer.insert(o.clone(), k);
                if live {
                    from_image.insert(o);
                    values.push(o.clone());
                }
            }
        }
        Ok(Self {
            image: vi.name().to_string(),
            image_elem: elem,
            image_dims: dims,
            opset,
            names,
            producer,
            values,
            proto,
        })
    }

    /// The nodes needed to compute `wanted`, in topological order.
    pub fn needed(&self, wanted: &[String]) -> Result<Vec<usize>, DreamError> {
        let graph = self.proto.graph.as_ref().map_or(&[][..], |g| &g.node[..]);
        let mut need = HashSet::new();
        let mut queue: VecDeque<&str> = wanted.iter().map(String::as_str).collect();
        while let Some(v) = queue.pop_front() {
            if let Some(&k) = self.producer.get(v)
                && need.insert(k)
            {
                for i in &graph[k].input {
                    if !i.is_empty() {
                        queue.push_back(i);
                    }
                }
            }
        }
        // Kahn's algorithm over the needed nodes, stable in file order.
        let mut order: Vec<usize> = need.into_iter().collect();
        order.sort_unstable();
        let mut produced: HashSet<&str> = HashSet::new();
        let mut done = vec![false; order.len()];
        let mut out = Vec::with_capacity(order.len());
        loop {
            let mut progress = false;
            for (j, &k) in order.iter().enumerate() {
                if done[j] {
                    continue;
                }
                let ready = graph[k].input.iter().all(|i| {
                    i.is_empty() || !self.producer.contains_key(i) || produced.contains(i.as_str())
                });
                if ready {
                    done[j] = true;
                    progress = true;
                    out.push(k);
                    for o in &graph[k].output {
                        produced.insert(o);
                    }
                }
            }
            if !progress {
                break;
            }
        }
        if out.len() != order.len() {
            return Err(DreamError::Model {
                message: "the graph has a cycle".into(),
            });
        }
        Ok(out)
    }
}

/// A comma-separated list of backquoted names.
pub fn names_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rewrites the nodes that compute `wanted` into `g`, in canonical form. `g` must already
/// know the image input's shape. `rename` maps model value names to the names used in `g`.
pub fn canonicalise<S: std::hash::BuildHasher>(
    g: &mut Graph,
    model: &Model,
    wanted: &[String],
    rename: &HashMap<String, String, S>,
) -> Result<(), DreamError> {
    canonicalise_with(g, model, wanted, rename, None)
}

/// As [`canonicalise`], but with `problems` given a node that cannot be rewritten is noted
/// there (its outputs get unknown shapes) instead of stopping: for listing layers.
pub fn canonicalise_with<S: std::hash::BuildHasher>(
    g: &mut Graph,
    model: &Model,
    wanted: &[String],
    rename: &HashMap<String, String, S>,
    mut problems: Option<&mut Vec<DreamError>>,
) -> Result<(), DreamError> {
    let graph = model
        .proto
        .graph
        .as_ref()
        .ok_or_else(|| DreamError::Model {
            message: "the file has no graph".into(),
        })?;
    let order = model.needed(wanted)?;
    let inits: HashMap<&str, &TensorProto> =
        graph.initializer.iter().map(|t| (t.name(), t)).collect();
    let mut consumed: HashSet<&str> = wanted.iter().map(String::as_str).collect();
    for &k in &order {
        for i in &graph.node[k].input {
            consumed.insert(i);
        }
    }
    let map = |n: &str| rename.get(n).cloned().unwrap_or_else(|| n.to_string());
    // Initializers the needed nodes read.
    for &k in &order {
        for i in &graph.node[k].input {
            if let Some(t) = inits.get(i.as_str())
                && !g.inits.contains_key(&map(i))
            {
                let mut t = (*t).clone();
                t.name = Some(map(i));
                g.add_init(t);
            }
        }
    }
    for &k in &order {
        let src = &graph.node[k];
        let mut node = src.clone();
        node.input = src
            .input
            .iter()
            .map(|i| if i.is_empty() { String::new() } else { map(i) })
            .collect();
        node.output = src
            .output
            .iter()
            .map(|o| if o.is_empty() { String::new() } else { map(o) })
            .collect();
        if node.name().is_empty() {
            node.name = None;
        }
        for i in &node.input {
            if !i.is_empty() && !g.shapes.has(i) && problems.is_none() {
                return Err(DreamError::Model {
                    message: format!(
                        "node `{}` ({}) reads `{i}`, which is neither computed, an initializer nor the image input",
                        src.label(),
                        src.op_type()
                    ),
                });
            }
        }
        let unused_extra: Vec<bool> = src
            .output
            .iter()
            .map(|o| o.is_empty() || !consumed.contains(o.as_str()))
            .collect();
        let outputs = node.output.clone();
        if let Err(e) = canonical_node(g, model.opset, node, src, &unused_extra) {
            let Some(p) = problems.as_deref_mut() else {
                return Err(e);
            };
            p.push(e);
            for o in outputs.iter().filter(|o| !o.is_empty()) {
                g.shapes.set(o, super::shape::Info::default());
            }
        }
    }
    Ok(())
}

fn unsupported(src: &NodeProto, why: &str) -> DreamError {
    DreamError::Unsupported {
        node: src.label(),
        op: src.op_type().to_string(),
        why: why.to_string(),
        supported: supported_list(),
    }
}

#[allow(clippy::too_many_lines)]
fn canonical_node(
    g: &mut Graph,
    opset: i64,
    mut node: NodeProto,
    src: &NodeProto,
    unused: &[bool],
) -> Result<(), DreamError> {
    let op = src.op_type().to_string();
    if !(src.domain().is_empty() || src.domain() == "ai.onnx") {
        return Err(unsupported(
            src,
            &format!(
                "operators of domain `{}` are not standard ONNX",
                src.domain()
            ),
        ));
    }
    let Some(known) = known_attrs(&op) else {
        return Err(unsupported(src, "this operator is not supported"));
    };
    for a in &src.attribute {
        if !known.contains(&a.name()) {
            return Err(unsupported(
                src,
                &format!("its attribute `{}` is not understood", a.name()),
            ));
        }
        if a.ref_attr_name.is_some() {
            return Err(unsupported(
                src,
                "attributes referring to a function's attributes",
            ));
        }
    }
    let only_first = |src: &NodeProto, unused: &[bool]| -> Result<(), DreamError> {
        if unused.iter().skip(1).all(|&u| u) {
            Ok(())
        } else {
            Err(unsupported(
                src,
                "only its first output (inference mode) is supported, but another one is used",
            ))
        }
    };
    let rank_of = |g: &Graph, x: &str| -> Result<usize, DreamError> {
        g.rank(x).ok_or_else(|| {
            unsupported(
                src,
                &format!("the rank of its input `{x}` cannot be inferred"),
            )
        })
    };
    match op.as_str() {
        "Constant" => {
            let out = node.output[0].clone();
            let t = if let Some(t) = src.attr("value").and_then(|a| a.t.clone()) {
                t
            } else if let Some(a) = src.attr("value_float").and_then(|a| a.f) {
                make_f32("", &[], &[a])
            } else if let Some(a) = src.floats("value_floats") {
                make_f32("", &[a.len() as i64], &a)
            } else if let Some(a) = src.attr("value_int").and_then(|a| a.i) {
                make_i64("", &[], &[a])
            } else if let Some(a) = src.ints("value_ints") {
                make_i64("", &[a.len() as i64], &a)
            } else {
                return Err(unsupported(
                    src,
                    "only tensor, float and int constants are supported",
                ));
            };
            let mut t = t;
            t.name = Some(out);
            g.add_init(t);
            return Ok(());
        }
        "Dropout" => {
            only_first(src, unused)?;
            if !node.input(2).is_empty() {
                match g.const_ints(node.input(2)) {
                    Some(v) if v.iter().all(|&b| b == 0) => {}
                    _ => return Err(unsupported(src, "training mode is not supported")),
                }
            }
            node.op_type = Some("Identity".into());
            node.input.truncate(1);
            node.output.truncate(1);
            node.attribute.clear();
        }
        "BatchNormalization" => {
            only_first(src, unused)?;
            if src.int("training_mode", 0) != 0 {
                return Err(unsupported(src, "training mode is not supported"));
            }
            if src.int("spatial", 1) != 1 {
                return Err(unsupported(src, "spatial=0 is not supported"));
            }
            node.output.truncate(1);
            node.attribute = vec![super::proto::attr_float(
                "epsilon",
                src.float("epsilon", 1e-5),
            )];
        }
        "Clip" if opset < 11 => {
            let mut inputs = vec![node.input[0].clone()];
            for (k, default) in [("min", f32::MIN), ("max", f32::MAX)] {
                let v = src.float(k, default);
                inputs.push(if src.attr(k).is_some() {
                    g.float_scalar(v)
                } else {
                    String::new()
                });
            }
            while inputs.last().is_some_and(String::is_empty) {
                inputs.pop();
            }
            node.input = inputs;
            node.attribute.clear();
        }
        "Slice" if opset < 10 => {
            let starts = src.ints("starts").unwrap_or_default();
            let ends = src.ints("ends").unwrap_or_default();
            let mut inputs = vec![node.input[0].clone(), g.ints(&starts), g.ints(&ends)];
            if let Some(axes) = src.ints("axes") {
                inputs.push(g.ints(&axes));
            }
            node.input = inputs;
            node.attribute.clear();
        }
        "Pad" => {
            let x = node.input[0].clone();
            let r = rank_of(g, &x)?;
            let mode = src.string("mode", "constant");
            if !matches!(mode.as_str(), "constant" | "reflect" | "edge") {
                return Err(unsupported(src, &format!("mode `{mode}` is not supported")));
            }
            let (pads, value) = if opset < 11 {
                let p = src.ints("pads").unwrap_or_default();
                let v = src.float("value", 0.0);
                (
                    g.ints(&p),
                    if v == 0.0 {
                        String::new()
                    } else {
                        g.float_scalar(v)
                    },
                )
            } else {
                let mut pads = node.input(1).to_string();
                if !node.input(3).is_empty() {
                    let (Some(axes), Some(p)) = (g.const_ints(node.input(3)), g.const_ints(&pads))
                    else {
                        return Err(unsupported(src, "its `axes` and `pads` must be constants"));
                    };
                    let mut full = vec![0; 2 * r];
                    for (j, &a) in axes.iter().enumerate() {
                        let a = norm(a, r as i64) as usize;
                        full[a] = p[j];
                        full[a + r] = p[j + axes.len()];
                    }
                    pads = g.ints(&full);
                }
                (pads, node.input(2).to_string())
            };
            let mut inputs = vec![x, pads];
            if !value.is_empty() {
                inputs.push(value);
            }
            node.input = inputs;
            node.attribute = vec![attr_str("mode", &mode)];
        }
        "Split" => {
            let x = node.input[0].clone();
            let r = rank_of(g, &x)? as i64;
            let axis = norm(src.int("axis", 0), r);
            let n = node.output.len() as i64;
            let mut split = if opset < 13 {
                src.ints("split").map(|s| g.ints(&s))
            } else {
                Some(node.input(1).to_string()).filter(|s| !s.is_empty())
            };
            if split.is_none()
                && src.attr("num_outputs").is_some()
                && let Some(d) = g.dims(&x).and_then(|d| d[axis as usize].known())
                && d % n != 0
            {
                let chunk = (d + n - 1) / n;
                let sizes: Vec<i64> = (0..n).map(|i| chunk.min(d - i * chunk).max(0)).collect();
                split = Some(g.ints(&sizes));
            }
            node.input = vec![x];
            if let Some(s) = split {
                node.input.push(s);
            }
            node.attribute = vec![attr_int("axis", axis)];
        }
        "Unsqueeze" | "Squeeze" if opset < 13 => {
            if let Some(axes) = src.ints("axes") {
                let a = g.ints(&axes);
                node.input = vec![node.input[0].clone(), a];
            }
            node.attribute.clear();
        }
        "ReduceSum" if opset < 13 => {
            if let Some(axes) = src.ints("axes") {
                let a = g.ints(&axes);
                node.input = vec![node.input[0].clone(), a];
            }
            node.attribute = attrs_without(src, &["axes"]);
        }
        "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd" if opset >= 18 => {
            let mut attrs = attrs_without(src, &["noop_with_empty_axes"]);
            if !node.input(1).is_empty() {
                let Some(axes) = g.const_ints(node.input(1)) else {
                    return Err(unsupported(src, "its `axes` must be a constant"));
                };
                if !axes.is_empty() {
                    attrs.push(attr_ints("axes", &axes));
                } else if src.int("noop_with_empty_axes", 0) == 1 {
                    node.op_type = Some("Identity".into());
                    attrs.clear();
                }
            } else if src.int("noop_with_empty_axes", 0) == 1 {
                node.op_type = Some("Identity".into());
                attrs.clear();
            }
            node.input.truncate(1);
            node.attribute = attrs;
        }
        "Upsample" => {
            let mode = src.string("mode", "nearest");
            let scales = if opset < 9 {
                let s = src.floats("scales").unwrap_or_default();
                g.floats(&[s.len() as i64], &s)
            } else {
                node.input(1).to_string()
            };
            node.op_type = Some("Resize".into());
            node.input = vec![node.input[0].clone(), String::new(), scales];
            node.attribute = resize_attrs_old(&mode);
        }
        "Resize" => {
            canonical_resize(g, opset, &mut node, src)?;
        }
        "Softmax" | "LogSoftmax" => {
            let x = node.input[0].clone();
            let r = rank_of(g, &x)? as i64;
            let axis = norm(src.int("axis", if opset < 13 { 1 } else { -1 }), r);
            if opset < 13 && axis != r - 1 {
                // Old Softmax normalises over all axes from `axis` on: flatten, softmax, reshape.
                let flat = g.op("Flatten", &[&x], vec![attr_int("axis", axis)]);
                let s = g.op(&op, &[&flat], vec![attr_int("axis", 1)]);
                let shape = g.shape(&x);
                node.op_type = Some("Reshape".into());
                node.input = vec![s, shape];
                node.attribute.clear();
            } else {
                node.attribute = vec![attr_int("axis", axis)];
            }
        }
        "Conv" | "MaxPool" | "AveragePool" => {
            if op == "MaxPool" {
                only_first(src, unused)?;
                node.output.truncate(1);
            }
            canonical_window(g, &mut node, src)?;
        }
        "ConvTranspose" => canonical_conv_transpose(g, &mut node, src)?,
        "Cast" => {
            node.attribute = vec![attr_int("to", src.int("to", 1))];
        }
        "Concat" | "Flatten" | "Gather" => {
            let x = node.input[0].clone();
            let default = i64::from(op == "Flatten");
            let r = rank_of(g, &x)? as i64;
            let r = if op == "Flatten" { r } else { r.max(1) };
            let a = src.int("axis", default);
            node.attribute = vec![attr_int("axis", if a < 0 { a + r } else { a })];
        }
        "Transpose" => {
            let r = rank_of(g, node.input(0))? as i64;
            let perm = src.ints("perm").unwrap_or_else(|| (0..r).rev().collect());
            node.attribute = vec![attr_ints("perm", &perm)];
        }
        "Mod" if opset < 10 => {
            return Err(unsupported(src, "Mod needs opset 10"));
        }
        _ => {}
    }
    g.push(node);
    Ok(())
}

/// Resize attributes that give the meaning of Upsample and Resize-10.
fn resize_attrs_old(mode: &str) -> Vec<super::onnx::AttributeProto> {
    let linear = matches!(mode, "linear" | "bilinear" | "trilinear");
    let mut a = vec![
        attr_str("mode", if linear { "linear" } else { "nearest" }),
        attr_str("coordinate_transformation_mode", "asymmetric"),
    ];
    if !linear {
        a.push(attr_str("nearest_mode", "floor"));
    }
    a
}

fn canonical_resize(
    g: &mut Graph,
    opset: i64,
    node: &mut NodeProto,
    src: &NodeProto,
) -> Result<(), DreamError> {
    let x = node.input[0].clone();
    if opset < 11 {
        let mode = src.string("mode", "nearest");
        node.input = vec![x, String::new(), node.input(1).to_string()];
        node.attribute = resize_attrs_old(&mode);
        return Ok(());
    }
    if src.int("antialias", 0) != 0 {
        return Err(unsupported(
            src,
            "antialiased Resize (opset 18) cannot be written in opset 17",
        ));
    }
    if src.string("keep_aspect_ratio_policy", "stretch") != "stretch" {
        return Err(unsupported(
            src,
            "only keep_aspect_ratio_policy `stretch` is supported",
        ));
    }
    let ctm = src.string("coordinate_transformation_mode", "half_pixel");
    if !matches!(
        ctm.as_str(),
        "half_pixel"
            | "pytorch_half_pixel"
            | "align_corners"
            | "asymmetric"
            | "tf_half_pixel_for_nn"
    ) {
        return Err(unsupported(
            src,
            &format!("coordinate_transformation_mode `{ctm}` is not supported"),
        ));
    }
    let empty = |g: &Graph, n: &str| {
        n.is_empty()
            || g.inits
                .get(n)
                .is_some_and(|t| super::proto::numel(&t.dims) == 0)
    };
    let mut scales = node.input(2).to_string();
    let mut sizes = node.input(3).to_string();
    if empty(g, &scales) {
        scales = String::new();
    }
    if empty(g, &sizes) {
        sizes = String::new();
    }
    if let Some(axes) = src.ints("axes") {
        let r = g
            .rank(&x)
            .ok_or_else(|| unsupported(src, "its input's rank is unknown"))?;
        if !scales.is_empty() {
            let Some(s) = g.const_floats(&scales) else {
                return Err(unsupported(
                    src,
                    "with `axes`, its scales must be constants",
                ));
            };
            let mut full = vec![1.0f32; r];
            for (j, &a) in axes.iter().enumerate() {
                full[norm(a, r as i64) as usize] = s[j];
            }
            scales = g.floats(&[r as i64], &full);
        }
        if !sizes.is_empty() {
            let Some(s) = g.const_ints(&sizes) else {
                return Err(unsupported(src, "with `axes`, its sizes must be constants"));
            };
            let Some(d) = g.shapes.get(&x).known_dims() else {
                return Err(unsupported(
                    src,
                    "with `axes` and `sizes`, the input size must be known",
                ));
            };
            let mut full = d;
            for (j, &a) in axes.iter().enumerate() {
                full[norm(a, r as i64) as usize] = s[j];
            }
            sizes = g.ints(&full);
        }
    }
    node.input = vec![x, String::new(), scales, sizes];
    while node.input.last().is_some_and(String::is_empty) {
        node.input.pop();
    }
    node.attribute = attrs_without(src, &["antialias", "axes", "keep_aspect_ratio_policy"]);
    Ok(())
}

/// Conv and pooling: explicit kernel, strides, dilations and pads; `auto_pad` SAME stays only
/// when the input size is unknown and a stride is above 1 (the pads then depend on the size).
fn canonical_window(
    g: &mut Graph,
    node: &mut NodeProto,
    src: &NodeProto,
) -> Result<(), DreamError> {
    let op = src.op_type();
    let x = node.input(0).to_string();
    let xd = g
        .dims(&x)
        .ok_or_else(|| unsupported(src, &format!("the rank of `{x}` cannot be inferred")))?;
    let sp = xd.len().saturating_sub(2);
    let kernel = match src.ints("kernel_shape") {
        Some(k) => k,
        None if op == "Conv" => g
            .dims(node.input(1))
            .and_then(|w| w[2..].iter().map(|d| d.known()).collect::<Option<Vec<_>>>())
            .ok_or_else(|| unsupported(src, "its kernel size cannot be known"))?,
        None => return Err(unsupported(src, "it has no kernel_shape")),
    };
    if kernel.len() != sp {
        return Err(unsupported(src, "its kernel rank does not match its input"));
    }
    let strides = src.ints("strides").unwrap_or_else(|| vec![1; sp]);
    let dil = src.ints("dilations").unwrap_or_else(|| vec![1; sp]);
    if op == "AveragePool" && dil.iter().any(|&d| d != 1) {
        return Err(unsupported(
            src,
            "dilated AveragePool (opset 19) is not supported",
        ));
    }
    let mut pads = src.ints("pads").unwrap_or_else(|| vec![0; 2 * sp]);
    let auto = src.string("auto_pad", "NOTSET");
    let mut keep_auto = false;
    match auto.as_str() {
        "NOTSET" => {}
        "VALID" => pads = vec![0; 2 * sp],
        "SAME_UPPER" | "SAME_LOWER" => {
            if dil.iter().any(|&d| d != 1) {
                // ONNX Runtime rejects it for Conv and sizes pooling differently from the
                // specification; explicit pads say what is meant.
                return Err(unsupported(
                    src,
                    "auto_pad SAME with dilations is ambiguous; write explicit pads",
                ));
            }
            for i in 0..sp {
                let keff = (kernel[i] - 1) * dil[i] + 1;
                let s = strides[i];
                let total = match xd[2 + i] {
                    Dim::N(n) => (((n + s - 1) / s - 1) * s + keff - n).max(0),
                    Dim::S(_) if s == 1 => keff - 1,
                    Dim::S(_) => {
                        keep_auto = true;
                        0
                    }
                };
                let small = total / 2;
                let (b, e) = if auto == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                };
                pads[i] = b;
                pads[i + sp] = e;
            }
        }
        other => {
            return Err(unsupported(
                src,
                &format!("auto_pad `{other}` is not supported"),
            ));
        }
    }
    let mut attrs = vec![
        attr_ints("kernel_shape", &kernel),
        attr_ints("strides", &strides),
    ];
    if keep_auto {
        attrs.push(attr_str("auto_pad", &auto));
    } else {
        attrs.push(attr_ints("pads", &pads));
    }
    match op {
        "Conv" => {
            attrs.push(attr_ints("dilations", &dil));
            attrs.push(attr_int("group", src.int("group", 1)));
        }
        "MaxPool" => {
            attrs.push(attr_ints("dilations", &dil));
            attrs.push(attr_int("ceil_mode", src.int("ceil_mode", 0)));
        }
        _ => {
            attrs.push(attr_int("ceil_mode", src.int("ceil_mode", 0)));
            attrs.push(attr_int(
                "count_include_pad",
                src.int("count_include_pad", 0),
            ));
        }
    }
    node.attribute = attrs;
    Ok(())
}

fn canonical_conv_transpose(
    g: &mut Graph,
    node: &mut NodeProto,
    src: &NodeProto,
) -> Result<(), DreamError> {
    let x = node.input(0).to_string();
    let xd = g
        .dims(&x)
        .ok_or_else(|| unsupported(src, &format!("the rank of `{x}` cannot be inferred")))?;
    let sp = xd.len().saturating_sub(2);
    let kernel = match src.ints("kernel_shape") {
        Some(k) => k,
        None => g
            .dims(node.input(1))
            .and_then(|w| w[2..].iter().map(|d| d.known()).collect::<Option<Vec<_>>>())
            .ok_or_else(|| unsupported(src, "its kernel size cannot be known"))?,
    };
    let strides = src.ints("strides").unwrap_or_else(|| vec![1; sp]);
    let dil = src.ints("dilations").unwrap_or_else(|| vec![1; sp]);
    let mut pads = src.ints("pads").unwrap_or_else(|| vec![0; 2 * sp]);
    let mut out_pad = src.ints("output_padding").unwrap_or_else(|| vec![0; sp]);
    let auto = src.string("auto_pad", "NOTSET");
    let out_shape = src.ints("output_shape");
    if out_shape.is_some() || auto.starts_with("SAME") {
        for i in 0..sp {
            let Some(n) = xd[2 + i].known() else {
                return Err(unsupported(
                    src,
                    "output_shape or auto_pad SAME needs a known input size",
                ));
            };
            let keff = (kernel[i] - 1) * dil[i] + 1;
            let target = match &out_shape {
                Some(o) => o[o.len() - sp + i],
                None => n * strides[i],
            };
            let total = strides[i] * (n - 1) + out_pad[i] + keff - target;
            let (b, e) = if auto == "SAME_LOWER" {
                (total - total / 2, total / 2)
            } else {
                (total / 2, total - total / 2)
            };
            if total < 0 {
                out_pad[i] -= total;
                pads[i] = 0;
                pads[i + sp] = 0;
            } else {
                pads[i] = b;
                pads[i + sp] = e;
            }
        }
    } else if auto == "VALID" {
        pads = vec![0; 2 * sp];
    }
    node.attribute = vec![
        attr_ints("kernel_shape", &kernel),
        attr_ints("strides", &strides),
        attr_ints("dilations", &dil),
        attr_ints("pads", &pads),
        attr_ints("output_padding", &out_pad),
        attr_int("group", src.int("group", 1)),
    ];
    Ok(())
}
