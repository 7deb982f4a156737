//! Canonicalisation: the nodes a dream needs, rewritten from any opset from 9 on into the
//! forms of opset 17 (attribute forms of Slice, Pad, Clip, Split, Unsqueeze, Squeeze and
//! `ReduceSum` become inputs; Upsample and Resize-10 become Resize-13; the axes inputs of opset
//! 18 become attributes; Constant nodes become initializers; Dropout becomes Identity; old
//! Softmax's 2-D coercion is spelled out; `auto_pad` becomes explicit pads where sizes are
//! known), so the gradient rules and the output graph deal with one form of each operator.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::dream::DreamError;
use crate::dream::build::Graph;
use crate::dream::onnx::{ModelProto, TensorProto};
use crate::dream::proto::{DimSpec, NodeExt, declared, dtype};

mod node;
use node::canonical_node;

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
                g.shapes.set(o, crate::dream::shape::Info::default());
            }
        }
    }
    Ok(())
}
