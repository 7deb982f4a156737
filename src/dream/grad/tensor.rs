//! Gradient rules of the operators that move or reduce elements: reductions, `Slice`, `Pad`,
//! `LRN` and `Resize` (a resize's adjoint multiplies by each axis's interpolation matrix,
//! transposed).

use crate::dream::DreamError;
use crate::dream::build::norm;
use crate::dream::onnx::NodeProto;
use crate::dream::proto::{NodeExt, attr_int, attr_ints, attr_str, attr_tensor, make_f32};
use crate::dream::shape::slice_range;

use super::{Diff, unsupported};

impl Diff<'_> {
    pub(super) fn reduce(&mut self, node: &NodeProto, dy: &str) -> Result<String, DreamError> {
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

    pub(super) fn slice(&mut self, node: &NodeProto, dy: &str) -> Result<String, DreamError> {
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

    pub(super) fn pad(&mut self, node: &NodeProto, dy: &str) -> Result<String, DreamError> {
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

    pub(super) fn lrn(&mut self, node: &NodeProto, dy: &str) -> Result<String, DreamError> {
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

    pub(super) fn resize(&mut self, node: &NodeProto, dy: &str) -> Result<String, DreamError> {
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
