//! Reverse-mode differentiation of a canonical graph in standard ONNX operators.
//!
//! Only values that depend on the image and reach an objective are differentiated. Each
//! operator's rule writes the adjoint as ordinary ONNX nodes (no contrib operators), using
//! the forward values it needs, so the result runs on every execution provider. Sizes are
//! constants where shape inference knows them and `Shape` arithmetic where it does not, so
//! one graph serves every image size.

use std::collections::{HashMap, HashSet};

use super::DreamError;
use super::build::{Graph, norm};
use super::canon::{DIFFERENTIABLE, supported_list};
use super::onnx::NodeProto;
use super::proto::{NodeExt, attr_float, attr_int, attr_ints, dtype};
use super::shape::Dim;

mod conv;
mod tensor;

/// Operators whose output is piecewise constant: no gradient flows through them.
const ZERO_GRADIENT: &[&str] = &["Floor", "Ceil", "Round", "Sign"];

/// Differentiates `seeds` (pairs of a value and the gradient of the objective with respect to
/// it) back to `wrt` through the first `forward_end` nodes of `g`, appending the adjoint
/// nodes; returns the name of the gradient with respect to `wrt`.
pub fn backprop(
    g: &mut Graph,
    forward_end: usize,
    wrt: &str,
    seeds: Vec<(String, String)>,
) -> Result<String, DreamError> {
    // Values that depend on the image through differentiable operators.
    let mut live: HashSet<String> = HashSet::from([wrt.to_string()]);
    let mut blocked: HashMap<String, usize> = HashMap::new();
    for k in 0..forward_end {
        let n = &g.nodes[k];
        let op = n.op_type();
        if !n.input.iter().any(|i| live.contains(i)) || ZERO_GRADIENT.contains(&op) {
            continue;
        }
        for o in &n.output {
            if o.is_empty() || dtype::is_integer(g.shapes.get(o).elem) {
                continue;
            }
            if DIFFERENTIABLE.contains(&op) {
                live.insert(o.clone());
            } else {
                blocked.insert(o.clone(), k);
            }
        }
    }
    // Values the objective depends on.
    let mut needed: HashSet<String> = seeds.iter().map(|(v, _)| v.clone()).collect();
    for k in (0..forward_end).rev() {
        let n = &g.nodes[k];
        if n.output.iter().any(|o| needed.contains(o)) {
            for i in &n.input {
                if let Some(&b) = blocked.get(i) {
                    let bn = &g.nodes[b];
                    return Err(DreamError::Unsupported {
                        node: bn.label(),
                        op: bn.op_type().to_string(),
                        why: "the gradient cannot flow through this operator".into(),
                        supported: supported_list(),
                    });
                }
                if live.contains(i) {
                    needed.insert(i.clone());
                }
            }
        }
    }
    let mut grads: HashMap<String, Vec<String>> = HashMap::new();
    for (v, s) in seeds {
        grads.entry(v).or_default().push(s);
    }
    let mut d = Diff {
        g,
        zero: String::new(),
    };
    d.zero = d.g.float_scalar(0.0);
    for k in (0..forward_end).rev() {
        let node = d.g.nodes[k].clone();
        let want: Vec<bool> = node
            .input
            .iter()
            .map(|i| !i.is_empty() && live.contains(i) && needed.contains(i))
            .collect();
        if !want.iter().any(|&w| w) {
            continue;
        }
        let mut dys = Vec::with_capacity(node.output.len());
        let mut any = false;
        for o in &node.output {
            let dy = grads.remove(o).map(|parts| d.sum(&parts));
            any |= dy.is_some();
            dys.push(dy);
        }
        if !any {
            continue;
        }
        let dxs = d.rule(k, &node, &dys, &want)?;
        for (i, dx) in dxs.into_iter().enumerate() {
            if let Some(dx) = dx
                && want.get(i).copied().unwrap_or(false)
            {
                grads.entry(node.input[i].clone()).or_default().push(dx);
            }
        }
    }
    let parts = grads.remove(wrt).ok_or_else(|| DreamError::Model {
        message: "the objective does not depend on the image".into(),
    })?;
    Ok(d.sum(&parts))
}

struct Diff<'g> {
    g: &'g mut Graph,
    zero: String,
}

fn unsupported(node: &NodeProto, why: &str) -> DreamError {
    DreamError::Unsupported {
        node: node.label(),
        op: node.op_type().to_string(),
        why: why.to_string(),
        supported: supported_list(),
    }
}

impl Diff<'_> {
    fn sum(&mut self, parts: &[String]) -> String {
        if let [one] = parts {
            return one.clone();
        }
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        self.g.op("Sum", &refs, vec![])
    }

    fn op(&mut self, op: &str, inputs: &[&str]) -> String {
        self.g.op(op, inputs, vec![])
    }

    fn mul(&mut self, a: &str, b: &str) -> String {
        self.op("Mul", &[a, b])
    }

    fn scalar(&mut self, v: f32) -> String {
        self.g.float_scalar(v)
    }

    /// `a` where `mask` holds, else 0 (as a product with the mask cast to float, which ONNX
    /// Runtime runs faster than `Where` with a broadcast zero).
    fn masked(&mut self, mask: &str, a: &str) -> String {
        let f = self.g.op(
            "Cast",
            &[mask],
            vec![attr_int("to", i64::from(dtype::FLOAT))],
        );
        self.mul(a, &f)
    }

    fn rank(&self, node: &NodeProto, x: &str) -> Result<usize, DreamError> {
        self.g
            .rank(x)
            .ok_or_else(|| unsupported(node, &format!("the rank of `{x}` cannot be inferred")))
    }

    /// Sums `grad` (shaped like `y`) over the axes along which `x` was broadcast to `y`.
    fn unbroadcast(
        &mut self,
        node: &NodeProto,
        grad: &str,
        x: &str,
        y: &str,
    ) -> Result<String, DreamError> {
        let (xd, yd) = (self.g.dims(x), self.g.dims(y));
        if let (Some(xd), Some(yd)) = (&xd, &yd) {
            if xd == yd {
                return Ok(grad.to_string());
            }
            let off = yd.len().saturating_sub(xd.len());
            let mut axes: Vec<i64> = (0..off as i64).collect();
            let mut ambiguous = false;
            for (i, &a) in xd.iter().enumerate() {
                let b = yd[off + i];
                if a == b {
                    continue;
                }
                match (a, b) {
                    (Dim::N(1), _) => axes.push((off + i) as i64),
                    _ => ambiguous = true,
                }
            }
            if !ambiguous {
                let mut r = grad.to_string();
                if !axes.is_empty() {
                    let a = self.g.ints(&axes);
                    r = self
                        .g
                        .op("ReduceSum", &[grad, &a], vec![attr_int("keepdims", 1)]);
                }
                return Ok(self.g.reshape_like(&r, x));
            }
        }
        // Sizes unknown before running: find the broadcast axes at run time.
        let rx = self.rank(node, x)?;
        let ry = self.rank(node, y)?;
        let sx = self.g.shape(x);
        let sy = self.g.shape(y);
        let padded = if ry > rx {
            let ones = self.g.ints(&vec![1; ry - rx]);
            self.g
                .op("Concat", &[&ones, &sx], vec![attr_int("axis", 0)])
        } else {
            sx.clone()
        };
        let eq = self.op("Equal", &[&padded, &sy]);
        let ne = self.op("Not", &[&eq]);
        let nz = self.op("NonZero", &[&ne]);
        let flat = self.g.ints(&[-1]);
        let axes = self.op("Reshape", &[&nz, &flat]);
        let r = self.g.op(
            "ReduceSum",
            &[grad, &axes],
            vec![attr_int("keepdims", 1), attr_int("noop_with_empty_axes", 1)],
        );
        Ok(self.op("Reshape", &[&r, &sx]))
    }

    #[allow(clippy::too_many_lines)]
    fn rule(
        &mut self,
        k: usize,
        node: &NodeProto,
        dys: &[Option<String>],
        want: &[bool],
    ) -> Result<Vec<Option<String>>, DreamError> {
        let op = node.op_type();
        let x = node.input(0).to_string();
        let y = node.output[0].clone();
        let dy = dys[0].clone();
        let w = |i: usize| want.get(i).copied().unwrap_or(false);
        let Some(dy) = dy.or_else(|| {
            if op == "Split" {
                Some(String::new())
            } else {
                None
            }
        }) else {
            return Ok(vec![]);
        };
        let one = |d: String| Ok(vec![Some(d)]);
        match op {
            "Identity" | "Dropout" => one(dy),
            "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => one(self.g.reshape_like(&dy, &x)),
            "Cast" => {
                let to = self.g.shapes.get(&x).elem;
                one(self
                    .g
                    .op("Cast", &[&dy], vec![attr_int("to", i64::from(to))]))
            }
            "Relu" => {
                // The mask from the output, so the forward input is not kept alive and ONNX
                // Runtime can still fuse Conv and Relu.
                let z = self.zero.clone();
                let m = self.op("Greater", &[&y, &z]);
                one(self.masked(&m, &dy))
            }
            "LeakyRelu" => {
                let z = self.zero.clone();
                let m = self.op("Greater", &[&x, &z]);
                let a = self.scalar(node.float("alpha", 0.01));
                let s = self.mul(&dy, &a);
                one(self.op("Where", &[&m, &dy, &s]))
            }
            "PRelu" => {
                let z = self.zero.clone();
                let slope = node.input(1).to_string();
                let m = self.op("Greater", &[&x, &z]);
                let mut out = vec![None, None];
                if w(0) {
                    let s = self.mul(&dy, &slope);
                    out[0] = Some(self.op("Where", &[&m, &dy, &s]));
                }
                if w(1) {
                    let dx = self.mul(&dy, &x);
                    let g = self.op("Where", &[&m, &z, &dx]);
                    out[1] = Some(self.unbroadcast(node, &g, &slope, &y)?);
                }
                Ok(out)
            }
            "Clip" => {
                let mut mask: Option<String> = None;
                for (i, cmp) in [(1, "Greater"), (2, "Less")] {
                    let b = node.input(i);
                    if b.is_empty() {
                        continue;
                    }
                    // min < y < max exactly when min < x < max: the output serves.
                    let m = self.op(cmp, &[&y, b]);
                    mask = Some(match mask {
                        Some(prev) => self.op("And", &[&prev, &m]),
                        None => m,
                    });
                }
                one(match mask {
                    Some(m) => self.masked(&m, &dy),
                    None => dy,
                })
            }
            "Sigmoid" => {
                let o = self.scalar(1.0);
                let q = self.op("Sub", &[&o, &y]);
                let p = self.mul(&y, &q);
                one(self.mul(&dy, &p))
            }
            "Tanh" => {
                let o = self.scalar(1.0);
                let y2 = self.mul(&y, &y);
                let q = self.op("Sub", &[&o, &y2]);
                one(self.mul(&dy, &q))
            }
            "HardSigmoid" => {
                let z = self.zero.clone();
                let o = self.scalar(1.0);
                let a = self.scalar(node.float("alpha", 0.2));
                let m1 = self.op("Greater", &[&y, &z]);
                let m2 = self.op("Less", &[&y, &o]);
                let m = self.op("And", &[&m1, &m2]);
                let s = self.mul(&dy, &a);
                one(self.masked(&m, &s))
            }
            "HardSwish" => {
                let three = self.scalar(3.0);
                let m3 = self.scalar(-3.0);
                let third = self.scalar(1.0 / 3.0);
                let half = self.scalar(0.5);
                let z = self.zero.clone();
                let t = self.mul(&x, &third);
                let slope = self.op("Add", &[&t, &half]);
                let mid = self.mul(&dy, &slope);
                let hi = self.op("Greater", &[&x, &three]);
                let inner = self.op("Where", &[&hi, &dy, &mid]);
                let lo = self.op("Less", &[&x, &m3]);
                one(self.op("Where", &[&lo, &z, &inner]))
            }
            "Elu" | "Selu" => {
                let z = self.zero.clone();
                let alpha = node.float("alpha", if op == "Elu" { 1.0 } else { 1.673_263_2 });
                let gamma = if op == "Elu" {
                    1.0
                } else {
                    node.float("gamma", 1.050_701)
                };
                let m = self.op("Greater", &[&x, &z]);
                let ag = self.scalar(alpha * gamma);
                let neg_slope = self.op("Add", &[&y, &ag]);
                let neg = self.mul(&dy, &neg_slope);
                let pos = if (gamma - 1.0).abs() > 0.0 {
                    let gm = self.scalar(gamma);
                    self.mul(&dy, &gm)
                } else {
                    dy.clone()
                };
                one(self.op("Where", &[&m, &pos, &neg]))
            }
            "Softplus" => {
                let s = self.op("Sigmoid", &[&x]);
                one(self.mul(&dy, &s))
            }
            "Neg" => one(self.op("Neg", &[&dy])),
            "Exp" => one(self.mul(&dy, &y)),
            "Log" => one(self.op("Div", &[&dy, &x])),
            "Sqrt" => {
                let two = self.scalar(2.0);
                let d = self.mul(&y, &two);
                one(self.op("Div", &[&dy, &d]))
            }
            "Abs" => {
                let s = self.op("Sign", &[&x]);
                one(self.mul(&dy, &s))
            }
            "Reciprocal" => {
                let y2 = self.mul(&y, &y);
                let p = self.mul(&dy, &y2);
                one(self.op("Neg", &[&p]))
            }
            "Erf" => {
                let x2 = self.mul(&x, &x);
                let nx2 = self.op("Neg", &[&x2]);
                let e = self.op("Exp", &[&nx2]);
                let c = self.scalar(std::f32::consts::FRAC_2_SQRT_PI);
                let s = self.mul(&e, &c);
                one(self.mul(&dy, &s))
            }
            "Pow" => {
                let e = node.input(1).to_string();
                let mut out = vec![None, None];
                if w(0) {
                    let o = self.scalar(1.0);
                    let em1 = self.op("Sub", &[&e, &o]);
                    let p = self.op("Pow", &[&x, &em1]);
                    let q = self.mul(&p, &e);
                    let g = self.mul(&dy, &q);
                    out[0] = Some(self.unbroadcast(node, &g, &x, &y)?);
                }
                if w(1) {
                    let l = self.op("Log", &[&x]);
                    let q = self.mul(&y, &l);
                    let g = self.mul(&dy, &q);
                    out[1] = Some(self.unbroadcast(node, &g, &e, &y)?);
                }
                Ok(out)
            }
            "Add" | "Sub" | "Mul" | "Div" => self.arith(node, &dy, want),
            "Sum" | "Mean" => {
                let n = node.input.len();
                let g = if op == "Mean" {
                    let c = self.scalar(1.0 / n as f32);
                    self.mul(&dy, &c)
                } else {
                    dy
                };
                let mut out = Vec::with_capacity(n);
                for (i, inp) in node.input.iter().enumerate() {
                    out.push(if w(i) {
                        Some(self.unbroadcast(node, &g, inp, &y)?)
                    } else {
                        None
                    });
                }
                Ok(out)
            }
            "Max" | "Min" => {
                match node.input.len() {
                    1 => return one(dy),
                    2 => {}
                    _ => return Err(unsupported(node, "only one or two inputs are supported")),
                }
                let b = node.input(1).to_string();
                let cmp = if op == "Max" {
                    "GreaterOrEqual"
                } else {
                    "LessOrEqual"
                };
                let m = self.op(cmp, &[&x, &b]);
                let z = self.zero.clone();
                let mut out = vec![None, None];
                if w(0) {
                    let g = self.op("Where", &[&m, &dy, &z]);
                    out[0] = Some(self.unbroadcast(node, &g, &x, &y)?);
                }
                if w(1) {
                    let g = self.op("Where", &[&m, &z, &dy]);
                    out[1] = Some(self.unbroadcast(node, &g, &b, &y)?);
                }
                Ok(out)
            }
            "Where" => {
                let c = x.clone();
                let z = self.zero.clone();
                let mut out = vec![None, None, None];
                if w(1) {
                    let g = self.op("Where", &[&c, &dy, &z]);
                    out[1] = Some(self.unbroadcast(node, &g, node.input(1), &y)?);
                }
                if w(2) {
                    let g = self.op("Where", &[&c, &z, &dy]);
                    out[2] = Some(self.unbroadcast(node, &g, node.input(2), &y)?);
                }
                Ok(out)
            }
            "Expand" => one(self.unbroadcast(node, &dy, &x, &y)?),
            "Transpose" => {
                let perm = node.ints("perm").unwrap_or_default();
                let mut inv = vec![0i64; perm.len()];
                for (i, &p) in perm.iter().enumerate() {
                    inv[p as usize] = i as i64;
                }
                one(self
                    .g
                    .op("Transpose", &[&dy], vec![attr_ints("perm", &inv)]))
            }
            "Softmax" => {
                let axis = node.int("axis", -1);
                let a = self.g.ints(&[axis]);
                let p = self.mul(&dy, &y);
                let s = self
                    .g
                    .op("ReduceSum", &[&p, &a], vec![attr_int("keepdims", 1)]);
                let d = self.op("Sub", &[&dy, &s]);
                one(self.mul(&y, &d))
            }
            "LogSoftmax" => {
                let axis = node.int("axis", -1);
                let a = self.g.ints(&[axis]);
                let s = self
                    .g
                    .op("ReduceSum", &[&dy, &a], vec![attr_int("keepdims", 1)]);
                let e = self.op("Exp", &[&y]);
                let p = self.mul(&e, &s);
                one(self.op("Sub", &[&dy, &p]))
            }
            "BatchNormalization" => {
                if (1..5).any(w) {
                    return Err(unsupported(node, "its parameters depend on the image"));
                }
                let r = self.rank(node, &x)?;
                let eps = node.float("epsilon", 1e-5);
                let mut shape = vec![-1i64];
                shape.extend(std::iter::repeat_n(1, r.saturating_sub(2)));
                let factor = match (
                    self.g.const_floats(node.input(1)),
                    self.g.const_floats(node.input(4)),
                ) {
                    (Some(s), Some(v)) if s.len() == v.len() => {
                        let f: Vec<f32> = s
                            .iter()
                            .zip(&v)
                            .map(|(&s, &v)| {
                                (f64::from(s) / (f64::from(v) + f64::from(eps)).sqrt()) as f32
                            })
                            .collect();
                        shape[0] = f.len() as i64;
                        self.g.floats(&shape, &f)
                    }
                    _ => {
                        let e = self.scalar(eps);
                        let ve = self.op("Add", &[node.input(4), &e]);
                        let sd = self.op("Sqrt", &[&ve]);
                        let f = self.op("Div", &[node.input(1), &sd]);
                        let s = self.g.ints(&shape);
                        self.op("Reshape", &[&f, &s])
                    }
                };
                one(self.mul(&dy, &factor))
            }
            "Gemm" => self.gemm(node, &dy, want),
            "MatMul" => {
                let b = node.input(1).to_string();
                let (ra, rb) = (self.rank(node, &x)?, self.rank(node, &b)?);
                if ra < 2 || rb < 2 {
                    return Err(unsupported(
                        node,
                        "MatMul of vectors (rank 1) is not supported",
                    ));
                }
                let swap = |r: usize| -> Vec<i64> {
                    let mut p: Vec<i64> = (0..r as i64).collect();
                    p.swap(r - 1, r - 2);
                    p
                };
                let mut out = vec![None, None];
                if w(0) {
                    let bt = self
                        .g
                        .op("Transpose", &[&b], vec![attr_ints("perm", &swap(rb))]);
                    let g = self.op("MatMul", &[&dy, &bt]);
                    out[0] = Some(self.unbroadcast_matmul(node, &g, &x)?);
                }
                if w(1) {
                    let at = self
                        .g
                        .op("Transpose", &[&x], vec![attr_ints("perm", &swap(ra))]);
                    let g = self.op("MatMul", &[&at, &dy]);
                    out[1] = Some(self.unbroadcast_matmul(node, &g, &b)?);
                }
                Ok(out)
            }
            "Concat" => {
                let r = self.rank(node, &x)? as i64;
                let axis = norm(node.int("axis", 0), r);
                let known: Option<Vec<i64>> = node
                    .input
                    .iter()
                    .map(|i| self.g.dims(i).and_then(|d| d.get(axis as usize)?.known()))
                    .collect();
                let split = if let Some(k) = known {
                    self.g.ints(&k)
                } else {
                    let parts: Vec<String> = node
                        .input
                        .clone()
                        .iter()
                        .map(|i| self.g.shape_range(i, axis, axis + 1))
                        .collect();
                    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                    self.g.op("Concat", &refs, vec![attr_int("axis", 0)])
                };
                let outs = self.g.op_n(
                    "Split",
                    &[&dy, &split],
                    node.input.len(),
                    vec![attr_int("axis", axis)],
                );
                Ok(outs.into_iter().map(Some).collect())
            }
            "Split" => {
                let axis = node.int("axis", 0);
                let mut parts = Vec::new();
                for (i, o) in node.output.iter().enumerate() {
                    parts.push(match dys.get(i).cloned().flatten() {
                        Some(d) => d,
                        None => self.g.zeros_like(o),
                    });
                }
                let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                one(self.g.op("Concat", &refs, vec![attr_int("axis", axis)]))
            }
            "Slice" => one(self.slice(node, &dy)?),
            "Pad" => one(self.pad(node, &dy)?),
            "Conv" => self.conv(node, &dy, want),
            "ConvTranspose" => {
                if w(1) {
                    return Err(unsupported(
                        node,
                        "weights computed from the image are not supported",
                    ));
                }
                let attrs: Vec<_> = node
                    .attribute
                    .iter()
                    .filter(|a| a.name() != "output_padding")
                    .cloned()
                    .collect();
                Ok(vec![Some(self.g.op("Conv", &[&dy, node.input(1)], attrs))])
            }
            "MaxPool" => one(self.max_pool(k, node, &dy)),
            "AveragePool" => one(self.avg_pool(node, &dy)),
            "GlobalAveragePool" => {
                let s = self.g.shape(&x);
                let e = self.op("Expand", &[&dy, &s]);
                let hw = self.spatial_count(&x);
                one(self.op("Div", &[&e, &hw]))
            }
            "ReduceMean" | "ReduceSum" => one(self.reduce(node, &dy)?),
            "LRN" => one(self.lrn(node, &dy)?),
            "Resize" => one(self.resize(node, &dy)?),
            _ => Err(unsupported(node, "it has no gradient rule")),
        }
    }

    fn arith(
        &mut self,
        node: &NodeProto,
        dy: &str,
        want: &[bool],
    ) -> Result<Vec<Option<String>>, DreamError> {
        let (a, b, y) = (node.input(0), node.input(1), node.output[0].as_str());
        let w = |i: usize| want.get(i).copied().unwrap_or(false);
        let mut out = vec![None, None];
        match node.op_type() {
            "Add" => {
                if w(0) {
                    out[0] = Some(self.unbroadcast(node, dy, a, y)?);
                }
                if w(1) {
                    out[1] = Some(self.unbroadcast(node, dy, b, y)?);
                }
            }
            "Sub" => {
                if w(0) {
                    out[0] = Some(self.unbroadcast(node, dy, a, y)?);
                }
                if w(1) {
                    let n = self.op("Neg", &[dy]);
                    out[1] = Some(self.unbroadcast(node, &n, b, y)?);
                }
            }
            "Mul" => {
                if w(0) {
                    let g = self.mul(dy, b);
                    out[0] = Some(self.unbroadcast(node, &g, a, y)?);
                }
                if w(1) {
                    let g = self.mul(dy, a);
                    out[1] = Some(self.unbroadcast(node, &g, b, y)?);
                }
            }
            _ => {
                let q = self.op("Div", &[dy, b]);
                if w(0) {
                    out[0] = Some(self.unbroadcast(node, &q, a, y)?);
                }
                if w(1) {
                    let p = self.mul(&q, y);
                    let n = self.op("Neg", &[&p]);
                    out[1] = Some(self.unbroadcast(node, &n, b, y)?);
                }
            }
        }
        Ok(out)
    }

    fn unbroadcast_matmul(
        &mut self,
        node: &NodeProto,
        g: &str,
        x: &str,
    ) -> Result<String, DreamError> {
        let (gd, xd) = (self.g.dims(g), self.g.dims(x));
        match (gd, xd) {
            (Some(gd), Some(xd)) if gd == xd => Ok(g.to_string()),
            (Some(gd), Some(xd)) if gd.len() >= xd.len() => {
                let off = gd.len() - xd.len();
                let mut axes: Vec<i64> = (0..off as i64).collect();
                for (i, d) in xd[..xd.len() - 2].iter().enumerate() {
                    if *d == Dim::N(1) && gd[off + i] != Dim::N(1) {
                        axes.push((off + i) as i64);
                    }
                }
                let r = if axes.is_empty() {
                    g.to_string()
                } else {
                    let a = self.g.ints(&axes);
                    self.g
                        .op("ReduceSum", &[g, &a], vec![attr_int("keepdims", 1)])
                };
                Ok(self.g.reshape_like(&r, x))
            }
            _ => Err(unsupported(
                node,
                "the shapes of its inputs cannot be inferred",
            )),
        }
    }

    fn gemm(
        &mut self,
        node: &NodeProto,
        dy: &str,
        want: &[bool],
    ) -> Result<Vec<Option<String>>, DreamError> {
        let w = |i: usize| want.get(i).copied().unwrap_or(false);
        let (a, b) = (node.input(0).to_string(), node.input(1).to_string());
        let alpha = node.float("alpha", 1.0);
        let beta = node.float("beta", 1.0);
        let ta = node.int("transA", 0);
        let tb = node.int("transB", 0);
        let gemm = |d: &mut Self, p: &str, q: &str, t1: i64, t2: i64| {
            d.g.op(
                "Gemm",
                &[p, q],
                vec![
                    attr_float("alpha", alpha),
                    attr_int("transA", t1),
                    attr_int("transB", t2),
                ],
            )
        };
        let mut out = vec![None, None, None];
        if w(0) {
            out[0] = Some(if ta == 0 {
                gemm(self, dy, &b, 0, 1 - tb)
            } else {
                gemm(self, &b, dy, tb, 1)
            });
        }
        if w(1) {
            out[1] = Some(if tb == 0 {
                gemm(self, &a, dy, 1 - ta, 0)
            } else {
                gemm(self, dy, &a, 1, ta)
            });
        }
        if w(2) {
            let bt = self.scalar(beta);
            let g = self.mul(dy, &bt);
            out[2] = Some(self.unbroadcast(node, &g, node.input(2), &node.output[0])?);
        }
        Ok(out)
    }
}
