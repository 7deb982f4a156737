//! Element types and shapes of every value, with symbolic sizes, and the values of small
//! integer tensors (shape arithmetic) where they can be known before running the graph.
//!
//! A dimension is a number or a symbol. Symbols are interned by how they were derived (a
//! convolution of the same input size with the same offset and stride gives the same symbol),
//! so branches that meet again (a residual `Add`, a `Concat`) are seen to agree, and the
//! gradient needs no run-time broadcasting checks there.

use std::collections::HashMap;

use super::onnx::{NodeProto, TensorProto};
use super::proto::{NodeExt, dtype, numel, tensor_f32, tensor_i64};

/// One dimension: a known size or a symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A size known before running.
    N(i64),
    /// A size known only when the graph runs; equal symbols are equal sizes.
    S(u32),
}

impl Dim {
    /// The size, when known.
    #[must_use]
    pub fn known(self) -> Option<i64> {
        match self {
            Self::N(n) => Some(n),
            Self::S(_) => None,
        }
    }
}

/// What is known of one value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Info {
    /// ONNX element type (0 when unknown).
    pub elem: i32,
    /// Dimensions; `None` when even the rank is unknown.
    pub dims: Option<Vec<Dim>>,
    /// The values of a small integer tensor, when known before running.
    pub ints: Option<Vec<i64>>,
    /// The values of a small float tensor, when it is a constant.
    pub floats: Option<Vec<f32>>,
}

impl Info {
    /// The rank, when known.
    #[must_use]
    pub fn rank(&self) -> Option<usize> {
        self.dims.as_ref().map(Vec::len)
    }

    /// All dimensions, when every one is known.
    #[must_use]
    pub fn known_dims(&self) -> Option<Vec<i64>> {
        self.dims.as_ref()?.iter().map(|d| d.known()).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SymKey {
    Named(String),
    Window(Dim, i64, i64),
}

/// Largest integer tensor whose values are tracked.
const MAX_TRACKED: usize = 4096;

/// Shapes and small values of a graph's tensors, filled node by node.
#[derive(Debug, Default)]
pub struct Shapes {
    infos: HashMap<String, Info>,
    syms: HashMap<SymKey, u32>,
    names: HashMap<u32, String>,
    next: u32,
}

impl Shapes {
    /// What is known of `name` (an empty info for an unknown name).
    #[must_use]
    pub fn get(&self, name: &str) -> Info {
        self.infos.get(name).cloned().unwrap_or_default()
    }

    /// Whether `name` has been seen.
    #[must_use]
    pub fn has(&self, name: &str) -> bool {
        self.infos.contains_key(name)
    }

    /// Records what is known of `name`.
    pub fn set(&mut self, name: &str, info: Info) {
        self.infos.insert(name.to_string(), info);
    }

    /// The symbol for a named dimension (a graph input's `height`).
    pub fn named(&mut self, name: &str) -> Dim {
        let d = self.intern(SymKey::Named(name.to_string()));
        if let Dim::S(s) = d {
            self.names.entry(s).or_insert_with(|| name.to_string());
        }
        d
    }

    /// A new symbol equal to no other.
    pub fn fresh(&mut self) -> Dim {
        self.next += 1;
        Dim::S(self.next)
    }

    fn intern(&mut self, key: SymKey) -> Dim {
        if let Some(&s) = self.syms.get(&key) {
            return Dim::S(s);
        }
        self.next += 1;
        self.syms.insert(key, self.next);
        Dim::S(self.next)
    }

    /// A dimension for messages: a number, the input's name for the size, or `?`.
    #[must_use]
    pub fn show(&self, d: Dim) -> String {
        match d {
            Dim::N(n) => n.to_string(),
            Dim::S(s) => self.names.get(&s).cloned().unwrap_or_else(|| "?".into()),
        }
    }

    /// A shape for messages: `[1, 64, 56, 56]`.
    #[must_use]
    pub fn show_dims(&self, name: &str) -> String {
        match self.get(name).dims {
            Some(d) => format!(
                "[{}]",
                d.iter()
                    .map(|&x| self.show(x))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "[?]".into(),
        }
    }

    /// Registers a constant tensor.
    pub fn add_const(&mut self, t: &TensorProto) {
        let n = numel(&t.dims);
        let ints = if dtype::is_integer(t.data_type()) && n <= MAX_TRACKED {
            tensor_i64(t)
        } else {
            None
        };
        let floats = if t.data_type() == dtype::FLOAT && n <= 64 {
            tensor_f32(t)
        } else {
            None
        };
        self.set(
            t.name(),
            Info {
                elem: t.data_type(),
                dims: Some(t.dims.iter().map(|&d| Dim::N(d)).collect()),
                ints,
                floats,
            },
        );
    }

    /// The output size of a sliding window (convolution or pooling) over `x`: `offset` is
    /// `pads - effective kernel` and the size is `floor((x + offset) / stride) + 1`.
    pub fn window(&mut self, x: Dim, offset: i64, stride: i64) -> Dim {
        match x {
            Dim::N(n) => Dim::N((n + offset).div_euclid(stride.max(1)) + 1),
            Dim::S(_) if offset == -1 && stride == 1 => x,
            Dim::S(_) => self.intern(SymKey::Window(x, offset, stride)),
        }
    }

    /// Multidirectional (numpy) broadcasting of two shapes.
    pub fn broadcast(&mut self, a: &[Dim], b: &[Dim]) -> Vec<Dim> {
        let r = a.len().max(b.len());
        (0..r)
            .map(|i| {
                let da = (i + a.len()).checked_sub(r).map_or(Dim::N(1), |j| a[j]);
                let db = (i + b.len()).checked_sub(r).map_or(Dim::N(1), |j| b[j]);
                match (da, db) {
                    _ if da == db => da,
                    (Dim::N(1), d) | (d, Dim::N(1)) => d,
                    (Dim::N(n), _) | (_, Dim::N(n)) => Dim::N(n),
                    _ => self.fresh(),
                }
            })
            .collect()
    }

    /// Infers the outputs of one canonical (opset 17) node from its inputs.
    pub fn infer(&mut self, node: &NodeProto) {
        let outs = self.infer_outputs(node);
        for (i, out) in node.output.iter().enumerate() {
            if out.is_empty() {
                continue;
            }
            let info = outs.get(i).cloned().unwrap_or_default();
            self.set(out, info);
        }
    }

    fn dims_of(&self, name: &str) -> Option<Vec<Dim>> {
        self.infos.get(name).and_then(|i| i.dims.clone())
    }

    fn ints_of(&self, name: &str) -> Option<Vec<i64>> {
        self.infos.get(name).and_then(|i| i.ints.clone())
    }

    fn elem_of(&self, name: &str) -> i32 {
        self.infos.get(name).map_or(0, |i| i.elem)
    }

    fn infer_outputs(&mut self, node: &NodeProto) -> Vec<Info> {
        let x = node.input(0).to_string();
        let elem = self.elem_of(&x);
        let xd = self.dims_of(&x);
        let same = |s: &Self| Info {
            elem,
            dims: s.dims_of(&x),
            ints: s.ints_of(&x),
            floats: None,
        };
        let dims_only = |elem: i32, dims: Option<Vec<Dim>>| Info {
            elem,
            dims,
            ints: None,
            floats: None,
        };
        match node.op_type() {
            "Relu" | "Sigmoid" | "Tanh" | "HardSigmoid" | "HardSwish" | "LeakyRelu" | "Elu"
            | "Selu" | "Softplus" | "PRelu" | "Clip" | "BatchNormalization" | "LRN" | "Softmax"
            | "LogSoftmax" | "Dropout" | "Neg" | "Exp" | "Log" | "Sqrt" | "Abs" | "Erf"
            | "Reciprocal" | "Floor" | "Ceil" | "Round" | "Sign" => {
                let mut i = same(self);
                if node.op_type() == "Neg" {
                    i.ints = i.ints.map(|v| v.iter().map(|a| -a).collect());
                } else if node.op_type() != "Identity" {
                    i.ints = None;
                }
                vec![i]
            }
            "Identity" | "EyeLike" => vec![same(self)],
            "Cast" => {
                let to = node.int("to", 0) as i32;
                let mut i = same(self);
                i.elem = to;
                if !dtype::is_integer(to) || !dtype::is_integer(elem) {
                    i.ints = None;
                }
                vec![i]
            }
            "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Equal" | "Less" | "Greater"
            | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or" | "Mod" | "Max" | "Min" | "Sum"
            | "Mean" | "Where" => self.infer_elementwise(node),
            "Shape" => {
                let rank = xd.as_ref().map(Vec::len);
                let Some(rank) = rank else {
                    return vec![dims_only(dtype::INT64, None)];
                };
                let r = rank as i64;
                let clampi = |v: i64| {
                    let v = if v < 0 { v + r } else { v };
                    v.clamp(0, r) as usize
                };
                let start = clampi(node.int("start", 0));
                let end = clampi(node.int("end", r)).max(start);
                let d = xd.unwrap_or_default();
                let ints = d[start..end].iter().map(|d| d.known()).collect();
                vec![Info {
                    elem: dtype::INT64,
                    dims: Some(vec![Dim::N((end - start) as i64)]),
                    ints,
                    floats: None,
                }]
            }
            "Size" => {
                let n = xd
                    .as_ref()
                    .and_then(|d| d.iter().map(|d| d.known()).product::<Option<i64>>());
                vec![Info {
                    elem: dtype::INT64,
                    dims: Some(vec![]),
                    ints: n.map(|n| vec![n]),
                    floats: None,
                }]
            }
            "Conv" | "MaxPool" | "AveragePool" => self.infer_window(node),
            "ConvTranspose" => {
                let w = self.dims_of(node.input(1));
                let (Some(xd), Some(w)) = (xd, w) else {
                    return vec![dims_only(elem, None)];
                };
                let sp = xd.len().saturating_sub(2);
                let g = node.int("group", 1);
                let mut out = vec![
                    xd[0],
                    w.get(1).map_or(Dim::N(0), |d| match d {
                        Dim::N(n) => Dim::N(n * g),
                        s @ Dim::S(_) => *s,
                    }),
                ];
                let strides = node.ints("strides").unwrap_or_else(|| vec![1; sp]);
                let dil = node.ints("dilations").unwrap_or_else(|| vec![1; sp]);
                let pads = node.ints("pads").unwrap_or_else(|| vec![0; 2 * sp]);
                let op = node.ints("output_padding").unwrap_or_else(|| vec![0; sp]);
                let ks = node.ints("kernel_shape").unwrap_or_default();
                for i in 0..sp {
                    let k = ks.get(i).copied().unwrap_or(1);
                    let keff = (k - 1) * dil.get(i).copied().unwrap_or(1) + 1;
                    out.push(match xd[2 + i] {
                        Dim::N(n) => Dim::N(
                            (n - 1) * strides.get(i).copied().unwrap_or(1) + keff
                                - pads.get(i).copied().unwrap_or(0)
                                - pads.get(i + sp).copied().unwrap_or(0)
                                + op.get(i).copied().unwrap_or(0),
                        ),
                        Dim::S(_) => self.fresh(),
                    });
                }
                vec![dims_only(elem, Some(out))]
            }
            "GlobalAveragePool" | "GlobalMaxPool" => {
                let dims = xd.map(|d| {
                    d.iter()
                        .enumerate()
                        .map(|(i, &v)| if i < 2 { v } else { Dim::N(1) })
                        .collect()
                });
                vec![dims_only(elem, dims)]
            }
            "ReduceMean" | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" => {
                let Some(xd) = xd else {
                    return vec![dims_only(elem, None)];
                };
                let r = xd.len() as i64;
                let axes = if node.op_type() == "ReduceSum" {
                    if node.input(1).is_empty() {
                        Some(Vec::new())
                    } else {
                        self.ints_of(node.input(1))
                    }
                } else {
                    Some(node.ints("axes").unwrap_or_default())
                };
                let Some(axes) = axes else {
                    return vec![dims_only(elem, None)];
                };
                let axes: Vec<usize> = if axes.is_empty() {
                    if node.int("noop_with_empty_axes", 0) == 1 {
                        return vec![same(self)];
                    }
                    (0..xd.len()).collect()
                } else {
                    axes.iter()
                        .map(|&a| (if a < 0 { a + r } else { a }) as usize)
                        .collect()
                };
                let keep = node.int("keepdims", 1) == 1;
                let mut out = Vec::new();
                for (i, &d) in xd.iter().enumerate() {
                    if axes.contains(&i) {
                        if keep {
                            out.push(Dim::N(1));
                        }
                    } else {
                        out.push(d);
                    }
                }
                let ints = if node.op_type() == "ReduceProd" && axes.len() == xd.len() {
                    self.ints_of(&x).map(|v| vec![v.iter().product()])
                } else {
                    None
                };
                vec![Info {
                    elem,
                    dims: Some(out),
                    ints,
                    floats: None,
                }]
            }
            "Concat" => {
                let all: Option<Vec<Vec<Dim>>> =
                    node.input.iter().map(|i| self.dims_of(i)).collect();
                let Some(all) = all.filter(|a| !a.is_empty()) else {
                    return vec![dims_only(elem, None)];
                };
                let r = all[0].len() as i64;
                let axis = node.int("axis", 0);
                let axis = (if axis < 0 { axis + r } else { axis }) as usize;
                let mut out = all[0].clone();
                if axis < out.len() {
                    let total: Option<i64> = all.iter().map(|d| d.get(axis)?.known()).sum();
                    out[axis] = total.map_or_else(|| self.fresh(), Dim::N);
                }
                let ints: Option<Vec<i64>> = node
                    .input
                    .iter()
                    .map(|i| self.ints_of(i))
                    .collect::<Option<Vec<_>>>()
                    .map(|v| v.concat());
                vec![Info {
                    elem,
                    dims: Some(out),
                    ints: ints.filter(|_| r == 1),
                    floats: None,
                }]
            }
            "Split" => {
                let n = node.output.len();
                let Some(xd) = xd else {
                    return vec![dims_only(elem, None); n];
                };
                let r = xd.len() as i64;
                let axis = node.int("axis", 0);
                let axis = (if axis < 0 { axis + r } else { axis }) as usize;
                let split = if node.input(1).is_empty() {
                    xd.get(axis)
                        .and_then(|d| d.known())
                        .map(|d| vec![d / n as i64; n])
                } else {
                    self.ints_of(node.input(1))
                };
                (0..n)
                    .map(|i| {
                        let mut d = xd.clone();
                        if axis < d.len() {
                            d[axis] = split
                                .as_ref()
                                .and_then(|s| s.get(i))
                                .map_or_else(|| self.fresh(), |&v| Dim::N(v));
                        }
                        dims_only(elem, Some(d))
                    })
                    .collect()
            }
            "Slice" => self.infer_slice(node),
            "Reshape" => {
                let shape = self.ints_of(node.input(1));
                let out = match (&shape, &xd) {
                    (Some(s), xd) => {
                        let xdv = xd.clone().unwrap_or_default();
                        let mut out: Vec<Dim> = s
                            .iter()
                            .enumerate()
                            .map(|(i, &v)| match v {
                                0 if node.int("allowzero", 0) == 0 => {
                                    xdv.get(i).copied().unwrap_or(Dim::N(0))
                                }
                                -1 => Dim::N(-1),
                                v => Dim::N(v),
                            })
                            .collect();
                        if let Some(pos) = out.iter().position(|&d| d == Dim::N(-1)) {
                            let total = xd
                                .as_ref()
                                .and_then(|d| d.iter().map(|d| d.known()).product::<Option<i64>>());
                            let rest: Option<i64> = out
                                .iter()
                                .enumerate()
                                .filter(|&(i, _)| i != pos)
                                .map(|(_, d)| d.known())
                                .product();
                            out[pos] = match (total, rest) {
                                (Some(t), Some(r)) if r > 0 => Dim::N(t / r),
                                _ => self.fresh(),
                            };
                        }
                        Some(out)
                    }
                    (None, _) => self
                        .dims_of(node.input(1))
                        .and_then(|d| d.first().and_then(|d| d.known()))
                        .map(|len| (0..len).map(|_| self.fresh()).collect()),
                };
                vec![Info {
                    elem,
                    dims: out,
                    ints: self.ints_of(&x),
                    floats: None,
                }]
            }
            "Flatten" => {
                let dims = xd.map(|d| {
                    let r = d.len() as i64;
                    let a = node.int("axis", 1);
                    let a = (if a < 0 { a + r } else { a }) as usize;
                    let p = |s: &[Dim]| -> Option<i64> { s.iter().map(|d| d.known()).product() };
                    let lo = p(&d[..a.min(d.len())]);
                    let hi = p(&d[a.min(d.len())..]);
                    vec![
                        lo.map_or_else(|| self.fresh(), Dim::N),
                        hi.map_or_else(|| self.fresh(), Dim::N),
                    ]
                });
                vec![dims_only(elem, dims)]
            }
            "Transpose" => {
                let dims = xd.map(|d| {
                    let perm = node
                        .ints("perm")
                        .unwrap_or_else(|| (0..d.len() as i64).rev().collect());
                    perm.iter()
                        .map(|&p| d.get(p as usize).copied().unwrap_or(Dim::N(0)))
                        .collect()
                });
                vec![dims_only(elem, dims)]
            }
            "Unsqueeze" | "Squeeze" => {
                let axes = if node.input(1).is_empty() {
                    None
                } else {
                    self.ints_of(node.input(1))
                };
                let dims = match (xd, axes) {
                    (Some(d), Some(axes)) if node.op_type() == "Unsqueeze" => {
                        let r = (d.len() + axes.len()) as i64;
                        let axes: Vec<i64> = axes
                            .iter()
                            .map(|&a| if a < 0 { a + r } else { a })
                            .collect();
                        let mut it = d.into_iter();
                        Some(
                            (0..r)
                                .map(|i| {
                                    if axes.contains(&i) {
                                        Dim::N(1)
                                    } else {
                                        it.next().unwrap_or(Dim::N(1))
                                    }
                                })
                                .collect(),
                        )
                    }
                    (Some(d), Some(axes)) => {
                        let r = d.len() as i64;
                        let axes: Vec<i64> = axes
                            .iter()
                            .map(|&a| if a < 0 { a + r } else { a })
                            .collect();
                        Some(
                            d.into_iter()
                                .enumerate()
                                .filter(|(i, _)| !axes.contains(&(*i as i64)))
                                .map(|(_, d)| d)
                                .collect(),
                        )
                    }
                    (Some(d), None) if node.op_type() == "Squeeze" => {
                        if d.iter().all(|d| d.known().is_some()) {
                            Some(d.into_iter().filter(|&d| d != Dim::N(1)).collect())
                        } else {
                            None
                        }
                    }
                    _ => None,
                };
                vec![Info {
                    elem,
                    dims,
                    ints: self.ints_of(&x),
                    floats: None,
                }]
            }
            "Gather" => {
                let idx = node.input(1);
                let (Some(xd), Some(id)) = (xd, self.dims_of(idx)) else {
                    return vec![dims_only(elem, None)];
                };
                let r = xd.len() as i64;
                let axis = node.int("axis", 0);
                let axis = (if axis < 0 { axis + r } else { axis }) as usize;
                let mut out = xd[..axis.min(xd.len())].to_vec();
                out.extend(&id);
                out.extend(xd.get(axis + 1..).unwrap_or(&[]));
                let ints = match (self.ints_of(&x), self.ints_of(idx)) {
                    (Some(v), Some(ix)) if xd.len() == 1 => ix
                        .iter()
                        .map(|&i| {
                            let i = if i < 0 { i + v.len() as i64 } else { i };
                            v.get(usize::try_from(i).ok()?).copied()
                        })
                        .collect(),
                    _ => None,
                };
                vec![Info {
                    elem,
                    dims: Some(out),
                    ints,
                    floats: None,
                }]
            }
            "ConstantOfShape" => {
                let shape = self.ints_of(&x);
                let value = node.attr("value").and_then(|a| a.t.as_ref());
                let out_elem = value.map_or(dtype::FLOAT, TensorProto::data_type);
                let dims = shape
                    .as_ref()
                    .map(|s| s.iter().map(|&d| Dim::N(d)).collect())
                    .or_else(|| {
                        self.dims_of(&x)
                            .and_then(|d| d.first().and_then(|d| d.known()))
                            .map(|len| (0..len).map(|_| self.fresh()).collect())
                    });
                let ints = match (&shape, value.and_then(tensor_i64)) {
                    (Some(s), Some(v)) if numel(s) <= MAX_TRACKED && !v.is_empty() => {
                        Some(vec![v[0]; numel(s)])
                    }
                    _ => None,
                };
                vec![Info {
                    elem: out_elem,
                    dims,
                    ints,
                    floats: None,
                }]
            }
            "Range" => {
                let v: Option<Vec<i64>> = (0..3)
                    .map(|i| self.ints_of(node.input(i)).and_then(|v| v.first().copied()))
                    .collect();
                let ints = v.and_then(|v| {
                    if v[2] == 0 {
                        return None;
                    }
                    let n = ((v[1] - v[0]) as f64 / v[2] as f64).ceil().max(0.0) as usize;
                    (n <= MAX_TRACKED).then(|| (0..n as i64).map(|i| v[0] + i * v[2]).collect())
                });
                let dims =
                    Some(vec![ints.as_ref().map_or_else(
                        || self.fresh(),
                        |v: &Vec<i64>| Dim::N(v.len() as i64),
                    )]);
                vec![Info {
                    elem,
                    dims,
                    ints,
                    floats: None,
                }]
            }
            "Expand" => {
                let shape = self.ints_of(node.input(1));
                let len = self
                    .dims_of(node.input(1))
                    .and_then(|d| d.first().and_then(|d| d.known()));
                let dims = match (xd, shape, len) {
                    (Some(d), Some(s), _) => {
                        let sd: Vec<Dim> = s.iter().map(|&v| Dim::N(v)).collect();
                        Some(self.broadcast(&d, &sd))
                    }
                    (Some(d), None, Some(len)) => {
                        // Sizes unknown: only the rank is.
                        let r = d.len().max(len as usize);
                        Some((0..r).map(|_| self.fresh()).collect())
                    }
                    _ => None,
                };
                vec![dims_only(elem, dims)]
            }
            "Gemm" => {
                let (a, b) = (xd, self.dims_of(node.input(1)));
                let dims = match (a, b) {
                    (Some(a), Some(b)) if a.len() == 2 && b.len() == 2 => {
                        let m = if node.int("transA", 0) == 1 {
                            a[1]
                        } else {
                            a[0]
                        };
                        let n = if node.int("transB", 0) == 1 {
                            b[0]
                        } else {
                            b[1]
                        };
                        Some(vec![m, n])
                    }
                    _ => None,
                };
                vec![dims_only(elem, dims)]
            }
            "MatMul" => {
                let (a, b) = (xd, self.dims_of(node.input(1)));
                let dims = match (a, b) {
                    (Some(a), Some(b)) if a.len() >= 2 && b.len() >= 2 => {
                        let batch = self.broadcast(&a[..a.len() - 2], &b[..b.len() - 2]);
                        let mut out = batch;
                        out.push(a[a.len() - 2]);
                        out.push(b[b.len() - 1]);
                        Some(out)
                    }
                    _ => None,
                };
                vec![dims_only(elem, dims)]
            }
            "Resize" => self.infer_resize(node),
            "Pad" => {
                let pads = self.ints_of(node.input(1));
                let dims = match (xd, pads) {
                    (Some(d), Some(p)) if p.len() == 2 * d.len() => {
                        let r = d.len();
                        Some(
                            d.iter()
                                .enumerate()
                                .map(|(i, &v)| {
                                    let add = p[i] + p[i + r];
                                    match v {
                                        Dim::N(n) => Dim::N(n + add),
                                        s if add == 0 => s,
                                        Dim::S(_) => self.fresh(),
                                    }
                                })
                                .collect(),
                        )
                    }
                    (Some(d), None) => Some(d.iter().map(|_| self.fresh()).collect()),
                    _ => None,
                };
                vec![dims_only(elem, dims)]
            }
            "Not" => vec![dims_only(dtype::BOOL, xd)],
            "NonZero" => vec![dims_only(dtype::INT64, None)],
            _ => vec![dims_only(elem, None); node.output.len().max(1)],
        }
    }

    fn infer_elementwise(&mut self, node: &NodeProto) -> Vec<Info> {
        let op = node.op_type();
        let ins: Vec<&str> = node.input.iter().map(String::as_str).collect();
        let elem = if op == "Where" {
            self.elem_of(ins.get(1).copied().unwrap_or(""))
        } else if matches!(
            op,
            "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or"
        ) {
            dtype::BOOL
        } else {
            self.elem_of(ins[0])
        };
        let all: Option<Vec<Vec<Dim>>> = ins.iter().map(|i| self.dims_of(i)).collect();
        let dims = all.map(|all| {
            let mut acc = all[0].clone();
            for d in &all[1..] {
                acc = self.broadcast(&acc, d);
            }
            acc
        });
        let folded = self.fold_ints(op, &ins, dims.as_deref());
        vec![Info {
            elem,
            dims,
            ints: folded,
            floats: None,
        }]
    }

    fn fold_ints(&self, op: &str, ins: &[&str], dims: Option<&[Dim]>) -> Option<Vec<i64>> {
        if !dtype::is_integer(self.elem_of(ins[0])) || ins.len() != 2 {
            return None;
        }
        let n = dims?.iter().map(|d| d.known()).product::<Option<i64>>()? as usize;
        let a = self.ints_of(ins[0])?;
        let b = self.ints_of(ins[1])?;
        let at = |v: &[i64], i: usize| -> Option<i64> {
            match v.len() {
                1 => Some(v[0]),
                l if l == n => Some(v[i]),
                _ => None,
            }
        };
        (0..n)
            .map(|i| {
                let (x, y) = (at(&a, i)?, at(&b, i)?);
                match op {
                    "Add" => Some(x.wrapping_add(y)),
                    "Sub" => Some(x.wrapping_sub(y)),
                    "Mul" => Some(x.wrapping_mul(y)),
                    "Div" if y != 0 => Some(x / y),
                    "Max" => Some(x.max(y)),
                    "Min" => Some(x.min(y)),
                    "Mod" if y != 0 => Some(x.rem_euclid(y)),
                    _ => None,
                }
            })
            .collect()
    }

    fn infer_window(&mut self, node: &NodeProto) -> Vec<Info> {
        let x = node.input(0);
        let elem = self.elem_of(x);
        let Some(xd) = self.dims_of(x) else {
            return vec![Info::default(); node.output.len()];
        };
        let sp = xd.len().saturating_sub(2);
        let is_conv = node.op_type() == "Conv";
        let kernel = node.ints("kernel_shape").unwrap_or_else(|| {
            self.dims_of(node.input(1))
                .map(|w| w[2..].iter().map(|d| d.known().unwrap_or(1)).collect())
                .unwrap_or_default()
        });
        let strides = node.ints("strides").unwrap_or_else(|| vec![1; sp]);
        let dil = node.ints("dilations").unwrap_or_else(|| vec![1; sp]);
        let pads = node.ints("pads").unwrap_or_else(|| vec![0; 2 * sp]);
        let auto = node.string("auto_pad", "NOTSET");
        let ceil = node.int("ceil_mode", 0) == 1;
        let c = if is_conv {
            self.dims_of(node.input(1))
                .and_then(|w| w.first().copied())
                .unwrap_or_else(|| self.fresh())
        } else {
            xd.get(1).copied().unwrap_or(Dim::N(1))
        };
        let mut out = vec![xd[0], c];
        for i in 0..sp {
            let k = kernel.get(i).copied().unwrap_or(1);
            let s = strides.get(i).copied().unwrap_or(1).max(1);
            let keff = (k - 1) * dil.get(i).copied().unwrap_or(1) + 1;
            let d = xd[2 + i];
            let o = match auto.as_str() {
                "SAME_UPPER" | "SAME_LOWER" => match d {
                    Dim::N(n) => Dim::N((n + s - 1) / s),
                    s_ @ Dim::S(_) if s == 1 => s_,
                    Dim::S(_) => self.window(d, s - 1 - s, s),
                },
                "VALID" => self.window(d, -keff, s),
                _ => {
                    let total =
                        pads.get(i).copied().unwrap_or(0) + pads.get(i + sp).copied().unwrap_or(0);
                    if ceil {
                        let floor = self.window(d, total - keff, s);
                        let ceiled = self.window(d, total - keff + s - 1, s);
                        if floor == ceiled { floor } else { self.fresh() }
                    } else {
                        self.window(d, total - keff, s)
                    }
                }
            };
            out.push(o);
        }
        let info = Info {
            elem,
            dims: Some(out.clone()),
            ints: None,
            floats: None,
        };
        let mut v = vec![info];
        if node.output.len() > 1 {
            v.push(Info {
                elem: dtype::INT64,
                dims: Some(out),
                ints: None,
                floats: None,
            });
        }
        v
    }

    fn infer_slice(&mut self, node: &NodeProto) -> Vec<Info> {
        let x = node.input(0);
        let elem = self.elem_of(x);
        let Some(xd) = self.dims_of(x) else {
            return vec![Info {
                elem,
                ..Info::default()
            }];
        };
        let r = xd.len();
        let starts = self.ints_of(node.input(1));
        let ends = self.ints_of(node.input(2));
        let axes = if node.input(3).is_empty() {
            starts.as_ref().map(|s| (0..s.len() as i64).collect())
        } else {
            self.ints_of(node.input(3))
        };
        let steps = if node.input(4).is_empty() {
            starts.as_ref().map(|s| vec![1; s.len()])
        } else {
            self.ints_of(node.input(4))
        };
        let (Some(starts), Some(ends), Some(axes), Some(steps)) = (starts, ends, axes, steps)
        else {
            let dims = Some((0..r).map(|_| self.fresh()).collect());
            return vec![Info {
                elem,
                dims,
                ints: None,
                floats: None,
            }];
        };
        let mut out = xd.clone();
        let mut ranges = vec![None; r];
        for (j, &a) in axes.iter().enumerate() {
            let a = (if a < 0 { a + r as i64 } else { a }) as usize;
            if a >= r {
                continue;
            }
            match xd[a] {
                Dim::N(n) => {
                    let (s, e, st) = (starts[j], ends[j], steps[j]);
                    let (lo, hi, len) = slice_range(n, s, e, st);
                    out[a] = Dim::N(len);
                    ranges[a] = Some((lo, hi, st));
                }
                Dim::S(_) => out[a] = self.fresh(),
            }
        }
        let ints = match self.ints_of(x) {
            Some(v) if r == 1 => ranges[0].map_or(Some(v.clone()), |(lo, _, st)| {
                let len = out[0].known()?;
                Some(
                    (0..len)
                        .map(|i| v[(lo + i * st) as usize])
                        .collect::<Vec<_>>(),
                )
            }),
            _ => None,
        };
        vec![Info {
            elem,
            dims: Some(out),
            ints,
            floats: None,
        }]
    }

    fn infer_resize(&mut self, node: &NodeProto) -> Vec<Info> {
        let x = node.input(0);
        let elem = self.elem_of(x);
        let Some(xd) = self.dims_of(x) else {
            return vec![Info {
                elem,
                ..Info::default()
            }];
        };
        let sizes = if node.input(3).is_empty() {
            None
        } else {
            self.ints_of(node.input(3))
        };
        let scales = if node.input(2).is_empty() {
            None
        } else {
            self.infos.get(node.input(2)).and_then(|i| i.floats.clone())
        };
        let dims = if let Some(s) = sizes {
            s.iter().map(|&v| Dim::N(v)).collect()
        } else if let Some(sc) = scales {
            xd.iter()
                .zip(sc.iter().chain(std::iter::repeat(&1.0)))
                .map(|(&d, &f)| match d {
                    _ if (f - 1.0).abs() < f32::EPSILON => d,
                    Dim::N(n) => {
                        let v = n as f64 * f64::from(f);
                        if (v - v.round()).abs() < 1e-4 && (v - v.floor()) > 1e-9 {
                            self.fresh()
                        } else {
                            Dim::N(v.floor() as i64)
                        }
                    }
                    Dim::S(_) => self.fresh(),
                })
                .collect()
        } else {
            (0..xd.len()).map(|_| self.fresh()).collect()
        };
        vec![Info {
            elem,
            dims: Some(dims),
            ints: None,
            floats: None,
        }]
    }
}

/// ONNX `Slice` on one axis of size `n`: the first index, the clamped end and the length.
#[must_use]
pub fn slice_range(n: i64, start: i64, end: i64, step: i64) -> (i64, i64, i64) {
    let norm = |v: i64| if v < 0 { v.saturating_add(n) } else { v };
    let (s, e) = (norm(start), norm(end));
    if step > 0 {
        let s = s.clamp(0, n);
        let e = e.clamp(0, n);
        (s, e, ((e - s).max(0) + step - 1) / step)
    } else {
        let s = s.clamp(-1, n - 1);
        let e = e.clamp(-1, n - 1);
        (s, e, ((s - e).max(0) + (-step) - 1) / (-step))
    }
}
