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
use super::proto::{
    NodeExt, attr_float, attr_int, attr_ints, attr_str, attr_tensor, dtype, make_f32,
};
use super::shape::{Dim, slice_range};

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

    /// The number of elements in the spatial axes (2..) of `x`, as a float32 scalar.
    fn spatial_count(&mut self, x: &str) -> String {
        if let Some(d) = self.g.dims(x)
            && let Some(n) = d[2..].iter().map(|d| d.known()).product::<Option<i64>>()
        {
            return self.scalar(n as f32);
        }
        let s = self.g.shape_range(x, 2, i64::MAX);
        let p = self
            .g
            .op("ReduceProd", &[&s], vec![attr_int("keepdims", 0)]);
        self.g.op("Cast", &[&p], vec![attr_int("to", 1)])
    }

    fn conv(
        &mut self,
        node: &NodeProto,
        dy: &str,
        want: &[bool],
    ) -> Result<Vec<Option<String>>, DreamError> {
        if want.get(1).copied().unwrap_or(false) {
            return Err(unsupported(
                node,
                "weights computed from the image are not supported",
            ));
        }
        let x = node.input(0);
        let wname = node.input(1).to_string();
        let win = Window::of(node);
        let group = node.int("group", 1);
        let flippable = win.strides.iter().all(|&s| s == 1)
            && win.pads.as_ref().is_some_and(|p| {
                (0..win.kernel.len()).all(|i| {
                    let keff = win.keff(i);
                    p[i] < keff && p[i + win.kernel.len()] < keff
                })
            });
        let weights = self.g.inits.get(&wname).and_then(super::proto::tensor_f32);
        let wdims = self.g.inits.get(&wname).map(|t| t.dims.clone());
        if flippable && let (Some(wv), Some(wd)) = (weights, wdims) {
            // Stride 1: the adjoint is a convolution with the flipped, transposed kernel
            // (ONNX Runtime runs it several times faster than ConvTranspose).
            let flipped = flip_transpose(&wv, &wd, group);
            let mut fd = wd.clone();
            fd[0] = wd[1] * group;
            fd[1] = wd[0] / group.max(1);
            let f = self.g.floats(&fd, &flipped);
            let sp = win.kernel.len();
            let p = win.pads.clone().unwrap_or_default();
            let mut pads = vec![0; 2 * sp];
            for i in 0..sp {
                let keff = win.keff(i);
                pads[i] = keff - 1 - p[i];
                pads[i + sp] = keff - 1 - p[i + sp];
            }
            let dx = self.g.op(
                "Conv",
                &[dy, &f],
                vec![
                    attr_ints("kernel_shape", &win.kernel),
                    attr_ints("strides", &win.strides),
                    attr_ints("dilations", &win.dilations),
                    attr_ints("pads", &pads),
                    attr_int("group", group),
                ],
            );
            return Ok(vec![Some(dx)]);
        }
        let dx = self.window_adjoint(dy, &wname, group, &win, x, &node.output[0]);
        Ok(vec![Some(dx)])
    }

    /// The adjoint of a sliding window with kernel `w` (a convolution, or a pooling window
    /// as a 1-channel convolution): a `ConvTranspose`, sized to `x` exactly.
    #[allow(clippy::too_many_arguments)]
    fn window_adjoint(
        &mut self,
        dy: &str,
        w: &str,
        group: i64,
        win: &Window,
        x: &str,
        y: &str,
    ) -> String {
        let sp = win.kernel.len();
        let base = vec![
            attr_ints("kernel_shape", &win.kernel),
            attr_ints("strides", &win.strides),
            attr_ints("dilations", &win.dilations),
            attr_int("group", group),
        ];
        let xd = self.g.dims(x);
        let yd = self.g.dims(y);
        if let (Some(p), Some(xd), Some(yd)) = (&win.pads, &xd, &yd) {
            let known: Option<Vec<(i64, i64)>> = (0..sp)
                .map(|i| Some((xd[2 + i].known()?, yd[2 + i].known()?)))
                .collect();
            if let Some(known) = known {
                let op: Vec<i64> = (0..sp)
                    .map(|i| {
                        let (xn, yn) = known[i];
                        xn + p[i] + p[i + sp] - win.keff(i) - (yn - 1) * win.strides[i]
                    })
                    .collect();
                if op
                    .iter()
                    .enumerate()
                    .all(|(i, &o)| o >= 0 && o < win.strides[i].max(win.dilations[i]))
                {
                    let mut attrs = base;
                    attrs.push(attr_ints("pads", p));
                    attrs.push(attr_ints("output_padding", &op));
                    return self.g.op("ConvTranspose", &[dy, w], attrs);
                }
            }
        }
        // Sizes known only at run time: the full transposed convolution of `dy` with one more
        // zero row and column (so it reaches past every input pixel a window read, where the
        // last window stopped short of the end), then the input's extent cut out of the
        // padded frame. Padding `dy` is cheaper than padding the result, which is larger.
        let r = 2 + sp;
        let dy_ext = if win.strides.iter().any(|&s| s > 1) {
            let mut pads = vec![0i64; 2 * r];
            for i in 0..sp {
                pads[r + 2 + i] = i64::from(win.strides[i] > 1);
            }
            let p = self.g.ints(&pads);
            self.g
                .op("Pad", &[dy, &p], vec![attr_str("mode", "constant")])
        } else {
            dy.to_string()
        };
        let z = self.g.op("ConvTranspose", &[&dy_ext, w], base);
        let begin = if let Some(p) = &win.pads {
            self.g.ints(&p[..sp])
        } else {
            // auto_pad SAME with a stride: the padding depends on the size.
            let xs = self.g.shape_range(x, 2, i64::MAX);
            let ys = self.g.shape_range(y, 2, i64::MAX);
            let one = self.g.ints(&[1]);
            let s = self.g.ints(&win.strides);
            let keff: Vec<i64> = (0..sp).map(|i| win.keff(i)).collect();
            let k = self.g.ints(&keff);
            let ym1 = self.op("Sub", &[&ys, &one]);
            let t = self.op("Mul", &[&ym1, &s]);
            let t = self.op("Add", &[&t, &k]);
            let t = self.op("Sub", &[&t, &xs]);
            let zero = self.g.ints(&[0]);
            let total = self.op("Max", &[&t, &zero]);
            let two = self.g.ints(&[2]);
            if win.auto == "SAME_LOWER" {
                let t1 = self.op("Add", &[&total, &one]);
                self.op("Div", &[&t1, &two])
            } else {
                self.op("Div", &[&total, &two])
            }
        };
        let xs = self.g.shape_range(x, 2, i64::MAX);
        let end = self.op("Add", &[&begin, &xs]);
        let axes: Vec<i64> = (2..r as i64).collect();
        let axes = self.g.ints(&axes);
        self.op("Slice", &[&z, &begin, &end, &axes])
    }

    fn max_pool(&mut self, k: usize, node: &NodeProto, dy: &str) -> String {
        let x = node.input(0).to_string();
        // The forward MaxPool also returns the flat index of each maximum.
        let idx = if let Some(i) = node.output.get(1).filter(|s| !s.is_empty()) {
            i.clone()
        } else {
            let i = self.g.fresh("argmax");
            self.g.nodes[k].output.push(i.clone());
            let mut info = self.g.shapes.get(&node.output[0]);
            info.elem = dtype::INT64;
            self.g.shapes.set(&i, info);
            i
        };
        let flat = self.g.ints(&[-1]);
        let zeros = self.g.zeros_like(&x);
        let zf = self.op("Reshape", &[&zeros, &flat]);
        let i_f = self.op("Reshape", &[&idx, &flat]);
        let d_f = self.op("Reshape", &[dy, &flat]);
        let s = self.g.op(
            "ScatterElements",
            &[&zf, &i_f, &d_f],
            vec![attr_int("axis", 0), attr_str("reduction", "add")],
        );
        let sh = self.g.shape(&x);
        self.op("Reshape", &[&s, &sh])
    }

    fn avg_pool(&mut self, node: &NodeProto, dy: &str) -> String {
        let x = node.input(0).to_string();
        let y = node.output[0].clone();
        let win = Window::of(node);
        let sp = win.kernel.len();
        let ceil = node.int("ceil_mode", 0) == 1;
        let padded = win.pads.as_ref().is_none_or(|p| p.iter().any(|&v| v != 0));
        let mut kdims = vec![1i64, 1];
        kdims.extend(&win.kernel);
        let ones_k = self
            .g
            .floats(&kdims, &vec![1.0; super::proto::numel(&kdims)]);
        let scaled = if padded || ceil {
            // The divisor of each window, as ONNX Runtime's own pooling of ones gives it.
            let lead = self.g.ints(&[1, 1]);
            let xs = self.g.shape_range(&x, 2, i64::MAX);
            let s1 = self
                .g
                .op("Concat", &[&lead, &xs], vec![attr_int("axis", 0)]);
            let ones = self.g.op(
                "ConstantOfShape",
                &[&s1],
                vec![attr_tensor("value", make_f32("", &[1], &[1.0]))],
            );
            let avg = self.g.op("AveragePool", &[&ones], node.attribute.clone());
            let mut attrs = vec![
                attr_ints("kernel_shape", &win.kernel),
                attr_ints("strides", &win.strides),
            ];
            match &win.pads {
                Some(p) => {
                    let mut p = p.clone();
                    if ceil {
                        for i in 0..sp {
                            p[i + sp] += win.strides[i] - 1;
                        }
                    }
                    attrs.push(attr_ints("pads", &p));
                }
                None => attrs.push(attr_str("auto_pad", &win.auto)),
            }
            let mut count = self.g.op("Conv", &[&ones, &ones_k], attrs);
            if ceil {
                let zeros = self.g.ints(&vec![0; sp]);
                let ys = self.g.shape_range(&y, 2, i64::MAX);
                let axes: Vec<i64> = (2..2 + sp as i64).collect();
                let axes = self.g.ints(&axes);
                count = self.op("Slice", &[&count, &zeros, &ys, &axes]);
            }
            let o = self.scalar(1.0);
            let count = self.op("Max", &[&count, &o]);
            let inv = self.op("Div", &[&avg, &count]);
            self.mul(dy, &inv)
        } else {
            let c = self.scalar(1.0 / win.kernel.iter().product::<i64>() as f32);
            self.mul(dy, &c)
        };
        // Every channel as a batch of 1-channel images, so one ones-kernel serves all.
        let m1 = self.g.ints(&[-1, 1]);
        let ys = self.g.shape_range(&y, 2, i64::MAX);
        let s = self.g.op("Concat", &[&m1, &ys], vec![attr_int("axis", 0)]);
        let r = self.op("Reshape", &[&scaled, &s]);
        let mut win1 = win.clone();
        win1.dilations = vec![1; sp];
        // `x` and `y` give the spatial sizes; their batch and channels do not matter here.
        let z = self.window_adjoint(&r, &ones_k, 1, &win1, &x, &y);
        let sh = self.g.shape(&x);
        self.op("Reshape", &[&z, &sh])
    }

    fn reduce(&mut self, node: &NodeProto, dy: &str) -> Result<String, DreamError> {
        let x = node.input(0).to_string();
        let r = self.rank(node, &x)? as i64;
        let axes = if node.op_type() == "ReduceSum" {
            if node.input(1).is_empty() {
                Some(vec![])
            } else {
                self.g.const_ints(node.input(1))
            }
        } else {
            Some(node.ints("axes").unwrap_or_default())
        };
        let Some(axes) = axes else {
            return Err(unsupported(node, "its axes must be known before running"));
        };
        if axes.is_empty() && node.int("noop_with_empty_axes", 0) == 1 {
            return Ok(dy.to_string());
        }
        let mut axes: Vec<i64> = if axes.is_empty() {
            (0..r).collect()
        } else {
            axes.iter().map(|&a| norm(a, r)).collect()
        };
        axes.sort_unstable();
        let g = if node.int("keepdims", 1) == 1 {
            dy.to_string()
        } else {
            let a = self.g.ints(&axes);
            self.op("Unsqueeze", &[dy, &a])
        };
        let s = self.g.shape(&x);
        let e = self.op("Expand", &[&g, &s]);
        if node.op_type() == "ReduceSum" {
            return Ok(e);
        }
        let dims = self.g.dims(&x).unwrap_or_default();
        let known: Option<i64> = axes
            .iter()
            .map(|&a| dims.get(a as usize).and_then(|d| d.known()))
            .product();
        let count = if let Some(n) = known {
            self.scalar(n as f32)
        } else {
            let a = self.g.ints(&axes);
            let gathered = self.g.op("Gather", &[&s, &a], vec![attr_int("axis", 0)]);
            let p = self
                .g
                .op("ReduceProd", &[&gathered], vec![attr_int("keepdims", 0)]);
            self.g.op("Cast", &[&p], vec![attr_int("to", 1)])
        };
        Ok(self.op("Div", &[&e, &count]))
    }

    /// Flat indices of `x`'s elements, shaped like `x` (for adjoints of index shuffles).
    fn index_map(&mut self, x: &str) -> (String, String) {
        let n = self.op("Size", &[x]);
        let z = self.g.int_scalar(0);
        let o = self.g.int_scalar(1);
        let range = self.op("Range", &[&z, &n, &o]);
        let s = self.g.shape(x);
        (self.op("Reshape", &[&range, &s]), n)
    }

    /// Scatters `dy` (shaped like `idx`) into zeros shaped like `x` at the flat indices `idx`
    /// (negative indices are dropped), adding where indices repeat.
    fn scatter_back(&mut self, x: &str, idx: &str, n: &str, dy: &str) -> String {
        let flat = self.g.ints(&[-1]);
        let one = self.g.ints(&[1]);
        let n1 = self.op("Reshape", &[n, &one]);
        let n_plus = self.op("Add", &[&n1, &one]);
        let zeros = self.g.op(
            "ConstantOfShape",
            &[&n_plus],
            vec![attr_tensor("value", make_f32("", &[1], &[0.0]))],
        );
        let i = self.op("Reshape", &[idx, &flat]);
        let zi = self.g.int_scalar(0);
        let neg = self.op("Less", &[&i, &zi]);
        let i = self.op("Where", &[&neg, n, &i]);
        let d = self.op("Reshape", &[dy, &flat]);
        let s = self.g.op(
            "ScatterElements",
            &[&zeros, &i, &d],
            vec![attr_int("axis", 0), attr_str("reduction", "add")],
        );
        let z0 = self.g.ints(&[0]);
        let cut = self.op("Slice", &[&s, &z0, &n1]);
        let sh = self.g.shape(x);
        self.op("Reshape", &[&cut, &sh])
    }

    fn slice(&mut self, node: &NodeProto, dy: &str) -> Result<String, DreamError> {
        let x = node.input(0).to_string();
        let r = self.rank(node, &x)?;
        let starts = self.g.const_ints(node.input(1));
        let ends = self.g.const_ints(node.input(2));
        let axes = if node.input(3).is_empty() {
            starts.as_ref().map(|s| (0..s.len() as i64).collect())
        } else {
            self.g.const_ints(node.input(3))
        };
        let steps = if node.input(4).is_empty() {
            starts.as_ref().map(|s| vec![1; s.len()])
        } else {
            self.g.const_ints(node.input(4))
        };
        let dims = self.g.dims(&x).unwrap_or_default();
        if let (Some(st), Some(en), Some(ax), Some(sp)) = (&starts, &ends, &axes, &steps)
            && sp.iter().all(|&s| s == 1)
        {
            let mut pads = vec![0i64; 2 * r];
            let mut ok = true;
            for (j, &a) in ax.iter().enumerate() {
                let a = norm(a, r as i64) as usize;
                match dims.get(a).and_then(|d| d.known()) {
                    Some(n) => {
                        let (lo, _, len) = slice_range(n, st[j], en[j], 1);
                        pads[a] = lo;
                        pads[a + r] = n - lo - len;
                    }
                    None => ok = false,
                }
            }
            if ok {
                let p = self.g.ints(&pads);
                return Ok(self
                    .g
                    .op("Pad", &[dy, &p], vec![attr_str("mode", "constant")]));
            }
        }
        let (idx, n) = self.index_map(&x);
        let mut ins: Vec<String> = node.input.clone();
        ins[0] = idx;
        let refs: Vec<&str> = ins.iter().map(String::as_str).collect();
        let picked = self.op("Slice", &refs);
        Ok(self.scatter_back(&x, &picked, &n, dy))
    }

    fn pad(&mut self, node: &NodeProto, dy: &str) -> Result<String, DreamError> {
        let x = node.input(0).to_string();
        let r = self.rank(node, &x)?;
        let mode = node.string("mode", "constant");
        if mode == "constant"
            && let Some(p) = self.g.const_ints(node.input(1))
            && p.len() == 2 * r
        {
            let starts: Vec<i64> = (0..r).map(|i| p[i].max(0)).collect();
            let ends: Vec<i64> = (0..r)
                .map(|i| if p[i + r] > 0 { -p[i + r] } else { i64::MAX })
                .collect();
            let axes: Vec<i64> = (0..r as i64).collect();
            let (s, e, a) = (self.g.ints(&starts), self.g.ints(&ends), self.g.ints(&axes));
            let mut g = self.op("Slice", &[dy, &s, &e, &a]);
            if p.iter().any(|&v| v < 0) {
                let back: Vec<i64> = p.iter().map(|&v| (-v).max(0)).collect();
                let b = self.g.ints(&back);
                g = self
                    .g
                    .op("Pad", &[&g, &b], vec![attr_str("mode", "constant")]);
            }
            return Ok(g);
        }
        let (idx, n) = self.index_map(&x);
        let minus = self.g.int_scalar(-1);
        let padded = self.g.op(
            "Pad",
            &[&idx, node.input(1), &minus],
            vec![attr_str("mode", &mode)],
        );
        Ok(self.scatter_back(&x, &padded, &n, dy))
    }

    fn lrn(&mut self, node: &NodeProto, dy: &str) -> Result<String, DreamError> {
        let x = node.input(0).to_string();
        let y = node.output[0].clone();
        let r = self.rank(node, &x)?;
        let size = node.int("size", 1);
        let alpha = node.float("alpha", 1e-4);
        let beta = node.float("beta", 0.75);
        let bias = node.float("bias", 1.0);
        let lo = (size - 1) / 2;
        let hi = size - 1 - lo;
        // Sums over a window of channels, as a convolution over a channel axis made spatial.
        let one = self.g.ints(&[1]);
        let mut kd = vec![1i64, 1, size];
        kd.extend(std::iter::repeat_n(1, r - 2));
        let ones = self.g.floats(&kd, &vec![1.0; size as usize]);
        let window_sum = |d: &mut Self, v: &str, before: i64, after: i64| -> String {
            let u = d.op("Unsqueeze", &[v, &one]);
            let sp = r - 1;
            let mut pads = vec![0i64; 2 * sp];
            pads[0] = before;
            pads[sp] = after;
            let c = d.g.op(
                "Conv",
                &[&u, &ones],
                vec![
                    attr_ints("kernel_shape", &kd[2..]),
                    attr_ints("pads", &pads),
                ],
            );
            d.op("Squeeze", &[&c, &one])
        };
        let x2 = self.mul(&x, &x);
        let s = window_sum(self, &x2, lo, hi);
        let c = self.scalar(alpha / size as f32);
        let b = self.scalar(bias);
        let s = self.mul(&s, &c);
        let s = self.op("Add", &[&s, &b]);
        // dx = dy * s^-beta - (2 alpha beta / size) * x * S^T(dy * y / s)
        let nb = self.scalar(-beta);
        let sb = self.op("Pow", &[&s, &nb]);
        let t1 = self.mul(dy, &sb);
        let dyy = self.mul(dy, &y);
        let q = self.op("Div", &[&dyy, &s]);
        let st = window_sum(self, &q, hi, lo);
        let k = self.scalar(-2.0 * alpha * beta / size as f32);
        let t2 = self.mul(&st, &x);
        let t2 = self.mul(&t2, &k);
        Ok(self.op("Add", &[&t1, &t2]))
    }

    fn resize(&mut self, node: &NodeProto, dy: &str) -> Result<String, DreamError> {
        let x = node.input(0).to_string();
        let r = self.rank(node, &x)?;
        if r != 4 {
            return Err(unsupported(
                node,
                "only 4-D (NCHW) Resize has a gradient rule",
            ));
        }
        let mode = node.string("mode", "nearest");
        let ctm = node.string("coordinate_transformation_mode", "half_pixel");
        let nm = node.string("nearest_mode", "round_prefer_floor");
        if ctm == "tf_crop_and_resize" {
            return Err(unsupported(node, "tf_crop_and_resize has no gradient rule"));
        }
        let scales = self.g.const_floats(node.input(2));
        if scales.as_ref().is_some_and(|s| {
            s.len() == 4 && (s[0].to_bits() != 1f32.to_bits() || s[1].to_bits() != 1f32.to_bits())
        }) {
            return Err(unsupported(
                node,
                "resizing the batch or channel axis has no gradient rule",
            ));
        }
        // Nearest upsampling by whole factors copies each pixel into a block: the adjoint sums
        // the blocks.
        let blocky = mode == "nearest"
            && ((ctm == "asymmetric" && nm == "floor")
                || (matches!(ctm.as_str(), "half_pixel" | "pytorch_half_pixel")
                    && matches!(nm.as_str(), "round_prefer_floor" | "round_prefer_ceil")));
        if blocky
            && let Some(s) = &scales
            && s.len() == 4
            && s[2] >= 1.0
            && s[3] >= 1.0
            && s[2].fract() == 0.0
            && s[3].fract() == 0.0
        {
            let k = [s[2] as i64, s[3] as i64];
            let ap = self.g.op(
                "AveragePool",
                &[dy],
                vec![attr_ints("kernel_shape", &k), attr_ints("strides", &k)],
            );
            let c = self.scalar((k[0] * k[1]) as f32);
            return Ok(self.mul(&ap, &c));
        }
        // In general, Resize is separable and linear: Y = Mh X Mw^T for every plane. Its
        // matrices come from ONNX Runtime's own Resize applied to one-hot columns, so every
        // mode and coordinate transformation is matched exactly; the adjoint is
        // dX = Mh^T dY Mw.
        let rows_t = self.resize_matrix(node, &x, 2)?; // [H, Ho]
        let cols_t = self.resize_matrix(node, &x, 3)?; // [W, Wo]
        let mw = self
            .g
            .op("Transpose", &[&cols_t], vec![attr_ints("perm", &[1, 0])]);
        let a = self.op("MatMul", &[&rows_t, dy]);
        Ok(self.op("MatMul", &[&a, &mw]))
    }

    /// The transposed interpolation matrix of one axis (2: height, 3: width) of a Resize:
    /// `[in, out]`, by resizing a batch of one-hot vectors along that axis alone.
    fn resize_matrix(
        &mut self,
        node: &NodeProto,
        x: &str,
        axis: usize,
    ) -> Result<String, DreamError> {
        let n = self.g.shape_range(x, axis as i64, axis as i64 + 1); // [n]
        let nn = self.g.op("Concat", &[&n, &n], vec![attr_int("axis", 0)]);
        let z = self.g.op(
            "ConstantOfShape",
            &[&nn],
            vec![attr_tensor("value", make_f32("", &[1], &[0.0]))],
        );
        let eye = self.op("EyeLike", &[&z]);
        // [n, 1, n, 1] (height) or [n, 1, 1, n] (width): batch b holds the one-hot e_b.
        let one = self.g.ints(&[1]);
        let parts: Vec<&str> = if axis == 2 {
            vec![&n, &one, &n, &one]
        } else {
            vec![&n, &one, &one, &n]
        };
        let shape = self.g.op("Concat", &parts, vec![attr_int("axis", 0)]);
        let batch = self.op("Reshape", &[&eye, &shape]);
        let mut inputs = vec![batch, String::new()];
        let scales = node.input(2);
        let sizes = node.input(3);
        if !sizes.is_empty() {
            let ax = self.g.ints(&[axis as i64]);
            let out = self
                .g
                .op("Gather", &[sizes, &ax], vec![attr_int("axis", 0)]);
            let s_parts: Vec<&str> = if axis == 2 {
                vec![&n, &one, &out, &one]
            } else {
                vec![&n, &one, &one, &out]
            };
            let s = self.g.op("Concat", &s_parts, vec![attr_int("axis", 0)]);
            inputs.push(String::new());
            inputs.push(s);
        } else if !scales.is_empty() {
            let f1 = self.g.floats(&[1], &[1.0]);
            let ax = self.g.ints(&[axis as i64]);
            let sc = self
                .g
                .op("Gather", &[scales, &ax], vec![attr_int("axis", 0)]);
            let s_parts: Vec<&str> = if axis == 2 {
                vec![&f1, &f1, &sc, &f1]
            } else {
                vec![&f1, &f1, &f1, &sc]
            };
            let s = self.g.op("Concat", &s_parts, vec![attr_int("axis", 0)]);
            inputs.push(s);
        } else {
            return Err(unsupported(node, "it has neither scales nor sizes"));
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let m = self.g.op("Resize", &refs, node.attribute.clone()); // [n,1,out,1] or [n,1,1,out]
        let flat = self.g.ints(&[0, -1]);
        Ok(self.op("Reshape", &[&m, &flat]))
    }
}

/// The sliding-window attributes of a canonical `Conv`, `ConvTranspose` or pooling node.
#[derive(Debug, Clone)]
struct Window {
    kernel: Vec<i64>,
    strides: Vec<i64>,
    dilations: Vec<i64>,
    /// Explicit pads, or `None` for `auto_pad` SAME (sizes known only when running).
    pads: Option<Vec<i64>>,
    auto: String,
}

impl Window {
    fn of(node: &NodeProto) -> Self {
        let kernel = node.ints("kernel_shape").unwrap_or_default();
        let sp = kernel.len();
        Self {
            strides: node.ints("strides").unwrap_or_else(|| vec![1; sp]),
            dilations: node.ints("dilations").unwrap_or_else(|| vec![1; sp]),
            pads: node.ints("pads"),
            auto: node.string("auto_pad", "NOTSET"),
            kernel,
        }
    }

    fn keff(&self, i: usize) -> i64 {
        (self.kernel[i] - 1) * self.dilations[i] + 1
    }
}

/// The kernel of the adjoint of a stride-1 convolution: `[O, I/g, k..]` becomes
/// `[I, O/g, k..]` with every kernel flipped in space.
fn flip_transpose(w: &[f32], dims: &[i64], group: i64) -> Vec<f32> {
    let o = dims[0] as usize;
    let ig = dims[1] as usize;
    let g = group.max(1) as usize;
    let og = o / g;
    let k: usize = dims[2..].iter().map(|&d| d as usize).product();
    let mut out = vec![0.0; w.len()];
    for gi in 0..g {
        for oo in 0..og {
            for ii in 0..ig {
                let src = ((gi * og + oo) * ig + ii) * k;
                let dst = ((gi * ig + ii) * og + oo) * k;
                for t in 0..k {
                    out[dst + t] = w[src + k - 1 - t];
                }
            }
        }
    }
    out
}
