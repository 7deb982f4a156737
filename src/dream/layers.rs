//! Candidate layers of a classifier (`hypna inspect model.onnx --layers`) and the closest
//! names for a layer that does not exist.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::DreamError;
use super::build::Graph;
use super::canon::{self, Model};
use super::onnx::ModelProto;
use super::proto::{DimSpec, dtype, load_model};
use super::shape::{Dim, Info};

/// One candidate layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// The value's name (what `--layer` takes).
    pub name: String,
    /// Position of the producing node in the graph (0-based).
    pub node: usize,
    /// Convolutions and matrix products on the longest path from the image.
    pub depth: usize,
    /// The operators that produced it, the main one first (`Conv+Relu`).
    pub ops: String,
    /// Its shape, for the size the listing was made at.
    pub shape: String,
    /// Its channels (axis 1), when known.
    pub channels: Option<i64>,
    /// Image height over its height (`8` for 1/8), when known.
    pub stride: Option<i64>,
}

/// Operators that only transform a value in place: a listing shows the value after them.
const FOLLOWERS: &[&str] = &[
    "Relu",
    "Clip",
    "BatchNormalization",
    "LeakyRelu",
    "PRelu",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Elu",
    "Selu",
    "Tanh",
    "Dropout",
    "Identity",
];

/// The candidate layers of a model: float feature maps (rank 4) computed from the image, and
/// the logits; shapes for an image of `size` = (width, height) where the model leaves it
/// free (default 224x224).
pub fn layers(
    proto: &ModelProto,
    size: Option<(i64, i64)>,
) -> Result<(Vec<LayerInfo>, String), DreamError> {
    let model = Model::new(proto.clone(), None)?;
    let graph = proto.graph.as_ref().ok_or_else(|| DreamError::Model {
        message: "the file has no graph".into(),
    })?;
    let mut g = Graph::new("inspect/", model.names.clone());
    let (w, h) = size.unwrap_or((224, 224));
    let dims: Vec<Dim> = model
        .image_dims
        .iter()
        .enumerate()
        .map(|(i, d)| match d {
            DimSpec::Fixed(n) => Dim::N(*n),
            DimSpec::Named(_) => Dim::N(match i {
                0 => 1,
                1 => 3,
                2 => h,
                _ => w,
            }),
        })
        .collect();
    let image_h = dims[2].known();
    g.shapes.set(
        &model.image,
        Info {
            elem: dtype::FLOAT,
            dims: Some(dims.clone()),
            ints: None,
            floats: None,
        },
    );
    let outputs: Vec<String> = graph.output.iter().map(|o| o.name().to_string()).collect();
    let mut problems = Vec::new();
    canon::canonicalise_with(
        &mut g,
        &model,
        &outputs,
        &HashMap::new(),
        Some(&mut problems),
    )?;

    // Which values depend on the image, their depth, and who reads them.
    let mut depth: HashMap<&str, usize> = HashMap::from([(model.image.as_str(), 0)]);
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, n) in graph.node.iter().enumerate() {
        for i in &n.input {
            consumers.entry(i.as_str()).or_default().push(k);
        }
        let d = n
            .input
            .iter()
            .filter_map(|i| depth.get(i.as_str()))
            .max()
            .copied();
        if let Some(d) = d {
            let add = usize::from(matches!(
                n.op_type(),
                "Conv" | "ConvTranspose" | "Gemm" | "MatMul"
            ));
            for o in &n.output {
                depth.insert(o, d + add);
            }
        }
    }
    let outs: HashSet<&str> = outputs.iter().map(String::as_str).collect();
    let mut list = Vec::new();
    for (k, n) in graph.node.iter().enumerate() {
        let Some(o) = n.output.first() else { continue };
        let Some(&d) = depth.get(o.as_str()) else {
            continue;
        };
        let info = g.shapes.get(o);
        let rank = info.rank();
        if info.elem != dtype::FLOAT && info.elem != 0 {
            continue;
        }
        if FOLLOWERS.contains(&n.op_type()) {
            continue;
        }
        // Follow in-place operators to the value a dream would use.
        let mut name = o.clone();
        let mut ops = n.op_type().to_string();
        let mut node = k;
        loop {
            if outs.contains(name.as_str()) {
                break;
            }
            let c = consumers.get(name.as_str()).map_or(&[][..], Vec::as_slice);
            match c {
                [one] if FOLLOWERS.contains(&graph.node[*one].op_type()) => {
                    let next = &graph.node[*one];
                    ops.push('+');
                    ops.push_str(next.op_type());
                    name.clone_from(&next.output[0]);
                    node = *one;
                }
                _ => break,
            }
        }
        let info = g.shapes.get(&name);
        if rank.is_some_and(|r| r != 4) && !outs.contains(name.as_str()) {
            continue;
        }
        let dims = info.dims.clone().unwrap_or_default();
        list.push(LayerInfo {
            shape: g.shapes.show_dims(&name),
            channels: dims.get(1).and_then(|d| d.known()),
            stride: match (image_h, dims.get(2).and_then(|d| d.known())) {
                (Some(ih), Some(lh)) if lh > 0 && dims.len() == 4 => Some((ih + lh / 2) / lh),
                _ => None,
            },
            name,
            node,
            depth: d,
            ops,
        });
    }
    let notes: String = problems
        .iter()
        .map(|p| format!("  note: {p}\n"))
        .collect::<Vec<_>>()
        .concat();
    Ok((list, notes))
}

/// The `hypna inspect --layers` report for the model at `path`.
pub fn layer_table(path: &Path, size: Option<(i64, i64)>) -> Result<String, DreamError> {
    let proto = load_model(path)?;
    let model = Model::new(proto.clone(), None)?;
    let (list, notes) = layers(&proto, size)?;
    let graph = proto.graph.as_ref().map_or(0, |g| g.node.len());
    let mut lines = Vec::new();
    let dims: Vec<String> = model.image_dims.iter().map(ToString::to_string).collect();
    lines.push(format!(
        "{}: {graph} nodes, opset {}, image input `{}` float32 [{}]",
        path.display(),
        model.opset,
        model.image,
        dims.join(", ")
    ));
    let (w, h) = size.unwrap_or((224, 224));
    let free = model.image_dims[2..]
        .iter()
        .any(|d| matches!(d, DimSpec::Named(_)));
    lines.push(format!("candidate layers ({}; depth: convolutions from the image; stride: image height / layer height):",
        if free {
            format!("shapes for a {w}x{h} image")
        } else {
            "shapes at the model's fixed size".to_string()
        }
    ));
    let width = list.iter().map(|l| l.name.len()).max().unwrap_or(4).max(4);
    lines.push(format!(
        "  {:>5} {:>5} {:>6} {:>8}  {:<w$}  {:<22} op",
        "node",
        "depth",
        "stride",
        "channels",
        "name",
        "shape",
        w = width
    ));
    for l in &list {
        lines.push(format!(
            "  {:>5} {:>5} {:>6} {:>8}  {:<w$}  {:<22} {}",
            l.node,
            l.depth,
            l.stride.map_or_else(|| "?".into(), |v| v.to_string()),
            l.channels.map_or_else(|| "?".into(), |v| v.to_string()),
            l.name,
            l.shape,
            l.ops,
            w = width
        ));
    }
    let table: String = lines.join("\n") + "\n";
    Ok(table + &notes)
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Up to `n` names from `names` closest to `name` (edit distance, case-insensitive; names
/// that contain it first).
#[must_use]
pub fn closest_names(name: &str, names: &[String], n: usize) -> Vec<String> {
    let q = name.to_lowercase();
    let mut scored: Vec<(usize, usize, &String)> = names
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let l = v.to_lowercase();
            let d = if l.contains(&q) || q.contains(&l) {
                distance(&q, &l).min(1)
            } else {
                distance(&q, &l)
            };
            (d, i, v)
        })
        .collect();
    scored.sort();
    let mut seen = HashSet::new();
    scored
        .into_iter()
        .filter(|(_, _, v)| seen.insert(v.as_str()))
        .take(n)
        .map(|(_, _, v)| v.clone())
        .collect()
}
