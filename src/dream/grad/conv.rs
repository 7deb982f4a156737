//! Gradient rules of the sliding-window operators: `Conv`, `ConvTranspose`, max and average
//! pooling, written as their adjoint convolutions.

use crate::dream::DreamError;
use crate::dream::onnx::NodeProto;
use crate::dream::proto::{NodeExt, attr_int, attr_ints, attr_str, attr_tensor, dtype, make_f32};

use super::{Diff, unsupported};

impl Diff<'_> {
    /// The number of elements in the spatial axes (2..) of `x`, as a float32 scalar.
    pub(super) fn spatial_count(&mut self, x: &str) -> String {
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

    pub(super) fn conv(
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
        let weights = self
            .g
            .inits
            .get(&wname)
            .and_then(crate::dream::proto::tensor_f32);
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

    pub(super) fn max_pool(&mut self, k: usize, node: &NodeProto, dy: &str) -> String {
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

    pub(super) fn avg_pool(&mut self, node: &NodeProto, dy: &str) -> String {
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
            .floats(&kdims, &vec![1.0; crate::dream::proto::numel(&kdims)]);
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
