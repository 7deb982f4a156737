//! Helpers of the dream compiler tests: a seeded random source, a small ONNX graph builder,
//! running models through ONNX Runtime, and the finite-difference check of a gradient.
#![allow(
    dead_code,
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::cast_possible_wrap
)]

use std::path::PathBuf;

use hypna::dream::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
};
use hypna::dream::proto::{
    DimSpec, attr_float, attr_int, attr_ints, attr_str, dtype, make_f32, make_i64, numel,
    tensor_i64, value_info,
};
use hypna::dream::{Options, Output, compile, truncate};
use hypna::infer::{Model, SessionOptions, Tensor, TensorRef};

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// ONNX Runtime, or a skip (a failure under `make test`).
pub fn ort(test: &str) -> bool {
    // Inference keeps the cores busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    let found = hypna::infer::init(&hypna::infer::InitOptions::default());
    let why = found
        .as_ref()
        .err()
        .map(ToString::to_string)
        .unwrap_or_default();
    crate::common::prerequisite(
        test,
        &format!("ONNX Runtime ({why})"),
        found.is_ok(),
        "scripts/install-ort.sh installs it",
    )
}

/// One of the nine light models that `scripts/install-ort.sh` takes out of the onnx wheel.
pub fn light(test: &str, name: &str) -> Option<ModelProto> {
    if !ort(test) {
        return None;
    }
    let path = root().join(format!(".hypna/testdata/light_{name}.onnx"));
    if !crate::common::prerequisite(
        test,
        &path.display().to_string(),
        path.is_file(),
        "scripts/install-ort.sh extracts it",
    ) {
        return None;
    }
    Some(hypna::dream::proto::load_model(&path).expect("light model loads"))
}

/// A seeded xorshift generator (no dependency, same numbers everywhere).
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-12);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// `n` values uniform in [lo, hi).
    pub fn fill(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f32> {
        (0..n)
            .map(|_| (lo + (hi - lo) * self.uniform()) as f32)
            .collect()
    }

    /// `n` normal values with standard deviation `sd`.
    pub fn gauss(&mut self, n: usize, sd: f64) -> Vec<f32> {
        (0..n).map(|_| (sd * self.normal()) as f32).collect()
    }
}

/// Replaces every float weight of a model (initializers and `ConstantOfShape` outputs fed by
/// constant shapes, as the light models store them) with seeded random values: He-scaled
/// kernels, positive `BatchNorm` scales and variances, small biases and means, scales near 1.
/// (The light models hold the constant 0.02 everywhere, which makes every channel alike.)
pub fn randomize(model: &mut ModelProto, seed: u64) {
    let mut rng = Rng::new(seed);
    let graph = model.graph.as_mut().expect("graph");
    let shapes: std::collections::HashMap<String, Vec<i64>> = graph
        .initializer
        .iter()
        .filter_map(|t| Some((t.name().to_string(), tensor_i64(t)?)))
        .collect();
    // Role of each float constant, from the first node that reads it.
    let mut role: std::collections::HashMap<String, (String, usize)> =
        std::collections::HashMap::default();
    for n in graph.node.iter().rev() {
        for (i, inp) in n.input.iter().enumerate() {
            // Through a reshape of a constant, the role is that of the reshaped value.
            let r = if matches!(n.op_type(), "Unsqueeze" | "Reshape" | "Identity") && i == 0 {
                role.get(&n.output[0]).cloned()
            } else {
                None
            };
            role.insert(
                inp.clone(),
                r.unwrap_or_else(|| (n.op_type().to_string(), i)),
            );
        }
    }
    let mut weights: Vec<(String, Vec<i64>)> = Vec::new();
    graph.node.retain(|n| {
        if n.op_type() == "ConstantOfShape"
            && let Some(dims) = shapes.get(&n.input[0])
            && n.attribute
                .iter()
                .all(|a| a.t.as_ref().is_none_or(|t| t.data_type() == dtype::FLOAT))
        {
            weights.push((n.output[0].clone(), dims.clone()));
            false
        } else {
            true
        }
    });
    graph.initializer.retain(|t| {
        if t.data_type() == dtype::FLOAT {
            weights.push((t.name().to_string(), t.dims.clone()));
            false
        } else {
            true
        }
    });
    for (name, dims) in weights {
        let n = numel(&dims);
        let (op, idx) = role.get(&name).cloned().unwrap_or_default();
        let fan_in = |d: &[i64]| d[1..].iter().product::<i64>().max(1) as f64;
        let v = match (op.as_str(), idx) {
            ("Conv", 1) => rng.gauss(n, (2.0 / fan_in(&dims)).sqrt()),
            ("Gemm", 1) => rng.gauss(n, (1.0 / dims[dims.len() - 1].max(1) as f64).sqrt()),
            ("BatchNormalization", 1 | 4) | ("Mul", _) => rng.fill(n, 0.5, 1.5),
            // Small offsets (biases, BatchNorm means): large ones would bury the image's
            // signal under constants as the network gets deeper.
            _ => rng.gauss(n, 0.01),
        };
        graph.initializer.push(make_f32(&name, &dims, &v));
    }
}

/// Declares the model's image input free in height and width (for runs at other sizes).
pub fn free_input(model: &mut ModelProto) {
    let graph = model.graph.as_mut().expect("graph");
    let inits: std::collections::HashSet<String> = graph
        .initializer
        .iter()
        .map(|t| t.name().to_string())
        .collect();
    let input = graph
        .input
        .iter_mut()
        .find(|i| !inits.contains(i.name()))
        .expect("an input");
    *input = value_info(
        input.name(),
        dtype::FLOAT,
        &[
            DimSpec::Fixed(1),
            DimSpec::Fixed(3),
            DimSpec::Named("h".into()),
            DimSpec::Named("w".into()),
        ],
    );
}

/// Runs `model` once on the CPU with one thread.
pub fn run(model: &ModelProto, inputs: &[(&str, &Tensor)]) -> Vec<Tensor> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, hypna::dream::proto::encode_model(model)).expect("write model");
    let mut m = Model::load(
        &path,
        &SessionOptions {
            intra_threads: 1,
            ..SessionOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("ONNX Runtime rejects the model: {e}"));
    let views: Vec<(&str, TensorRef<'_>)> = inputs.iter().map(|(n, t)| (*n, t.view())).collect();
    m.run(&views)
        .unwrap_or_else(|e| panic!("run failed: {e}"))
        .into_iter()
        .map(|(_, t)| t)
        .collect()
}

/// A small ONNX graph under construction, for hand-made operator tests.
pub struct Builder {
    /// Nodes in order.
    pub nodes: Vec<NodeProto>,
    /// Constants.
    pub inits: Vec<TensorProto>,
    /// The opset it claims.
    pub opset: i64,
    /// Random weights.
    pub rng: Rng,
    count: usize,
}

impl Builder {
    /// An empty graph of `opset` with seeded weights.
    pub fn new(opset: i64, seed: u64) -> Self {
        Self {
            nodes: Vec::new(),
            inits: Vec::new(),
            opset,
            rng: Rng::new(seed),
            count: 0,
        }
    }

    /// A node with `n` outputs named after its operator.
    pub fn node_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        n: usize,
        attrs: Vec<AttributeProto>,
    ) -> Vec<String> {
        self.count += 1;
        let outs: Vec<String> = (0..n)
            .map(|i| format!("{}{}_{i}", op.to_lowercase(), self.count))
            .collect();
        self.nodes.push(NodeProto {
            name: Some(format!("{op}_{}", self.count)),
            op_type: Some(op.into()),
            input: inputs.iter().map(|s| (*s).to_string()).collect(),
            output: outs.clone(),
            attribute: attrs,
            ..NodeProto::default()
        });
        outs
    }

    /// A node with one output.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        self.node_n(op, inputs, 1, attrs).remove(0)
    }

    fn constant(&mut self, mut t: TensorProto) -> String {
        self.count += 1;
        let name = format!("c{}", self.count);
        t.name = Some(name.clone());
        self.inits.push(t);
        name
    }

    /// Normal random weights with standard deviation `sd`.
    pub fn weight(&mut self, dims: &[i64], sd: f64) -> String {
        let v = self.rng.gauss(numel(dims), sd);
        self.constant(make_f32("", dims, &v))
    }

    /// Uniform random values in [lo, hi).
    pub fn uniform(&mut self, dims: &[i64], lo: f64, hi: f64) -> String {
        let v = self.rng.fill(numel(dims), lo, hi);
        self.constant(make_f32("", dims, &v))
    }

    /// A float constant.
    pub fn floats(&mut self, dims: &[i64], v: &[f32]) -> String {
        self.constant(make_f32("", dims, v))
    }

    /// A 1-D int64 constant.
    pub fn ints(&mut self, v: &[i64]) -> String {
        self.constant(make_i64("", &[v.len() as i64], v))
    }

    /// A convolution with random weights and bias (`k`x`k`, padding `k/2`).
    pub fn conv(&mut self, x: &str, cin: i64, cout: i64, k: i64) -> String {
        let w = self.weight(&[cout, cin, k, k], (2.0 / (cin * k * k) as f64).sqrt());
        let b = self.weight(&[cout], 0.1);
        self.node(
            "Conv",
            &[x, &w, &b],
            vec![
                attr_ints("kernel_shape", &[k, k]),
                attr_ints("pads", &[k / 2; 4]),
            ],
        )
    }

    /// The model: input `x` of `dims`, outputs `outputs`.
    pub fn model(&self, dims: &[DimSpec], outputs: &[&str]) -> ModelProto {
        ModelProto {
            ir_version: Some(if self.opset >= 15 { 8 } else { 6 }),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(self.opset),
            }],
            graph: Some(GraphProto {
                name: Some("test".into()),
                node: self.nodes.clone(),
                initializer: self.inits.clone(),
                input: vec![value_info("x", dtype::FLOAT, dims)],
                output: outputs
                    .iter()
                    .map(|o| value_info(o, dtype::FLOAT, &[]))
                    .collect(),
                ..GraphProto::default()
            }),
            ..ModelProto::default()
        }
    }
}

/// `[1, 3, h, w]`, fixed.
pub fn fixed(h: i64, w: i64) -> Vec<DimSpec> {
    vec![
        DimSpec::Fixed(1),
        DimSpec::Fixed(3),
        DimSpec::Fixed(h),
        DimSpec::Fixed(w),
    ]
}

/// `[1, 3, h, w]`, free height and width.
pub fn free() -> Vec<DimSpec> {
    vec![
        DimSpec::Fixed(1),
        DimSpec::Fixed(3),
        DimSpec::Named("h".into()),
        DimSpec::Named("w".into()),
    ]
}

/// Shorthands for attributes in tests.
pub fn ai(n: &str, v: i64) -> AttributeProto {
    attr_int(n, v)
}
/// An int-list attribute.
pub fn aints(n: &str, v: &[i64]) -> AttributeProto {
    attr_ints(n, v)
}
/// A float attribute.
pub fn af(n: &str, v: f32) -> AttributeProto {
    attr_float(n, v)
}
/// A string attribute.
pub fn astr(n: &str, v: &str) -> AttributeProto {
    attr_str(n, v)
}

/// The outcome of a finite-difference check.
#[derive(Debug)]
pub struct Check {
    /// Largest error over the random directions, relative to |g| |d| / sqrt(n) (the size of
    /// g.d for a random unit d).
    pub random: f64,
    /// Error along the gradient itself, relative to |g|.
    pub along: f64,
    /// Relative difference between the compiled objective and the reference objective.
    pub objective: f64,
}

/// What the reference objective needs: the compiled model's inputs and the mapping.
fn objective_f64(
    opts: &Options,
    wanted: &[String],
    outs: &[Tensor],
    weights: &[(String, Tensor)],
) -> f64 {
    let w =
        |name: &str| -> &Tensor { &weights.iter().find(|(n, _)| n == name).expect("weights").1 };
    let mut total = 0.0;
    let mut k = 0;
    let use_layer = opts.objectives.contains(&hypna::dream::Objective::Layer);
    if use_layer {
        let lw = w("layer_weights");
        for (i, _) in opts.layers.iter().enumerate() {
            let a = &outs[k];
            let e: f64 = a
                .data
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                / a.data.len() as f64;
            total += f64::from(lw.data[i]) * e;
            k += 1;
        }
    }
    if opts.objectives.contains(&hypna::dream::Objective::Channels) {
        let a = &outs[k];
        let cw = w("channel_weights");
        let c = a.shape[1];
        let inner: usize = a.shape[2..].iter().product();
        let mut s = 0.0;
        for (i, &v) in a.data.iter().enumerate() {
            let ch = (i / inner) % c;
            s += f64::from(cw.data[ch]) * f64::from(v) * f64::from(v);
        }
        total += s / a.data.len() as f64;
        k += 1;
    }
    if opts.objectives.contains(&hypna::dream::Objective::Class) {
        let z = &outs[k];
        let cw = w("class_weights");
        let c = z.shape[1];
        let inner: usize = z.shape[2..].iter().product();
        let mut s = 0.0;
        for (i, &v) in z.data.iter().enumerate() {
            s += f64::from(cw.data[(i / inner.max(1)) % c]) * f64::from(v);
        }
        total += s * c as f64 / z.data.len() as f64;
    }
    let _ = wanted;
    total
}

/// Applies the options' input mapping to an RGB 0..1 image, as the classifier sees it.
fn mapped(opts: &Options, x: &Tensor) -> Tensor {
    let m = &opts.mapping;
    let plane: usize = x.shape[2..].iter().product();
    let mut data = vec![0.0; x.data.len()];
    for c in 0..3 {
        let src = if m.bgr { 2 - c } else { c };
        for i in 0..plane {
            let v = x.data[src * plane + i];
            data[c * plane + i] = (v * m.scale - m.mean[c]) / m.std[c];
        }
    }
    Tensor::new(x.shape.clone(), data)
}

/// Compiles `model` to its gradient with `opts` and compares the gradient with central
/// finite differences of the original model's objective (ONNX Runtime, summed in f64) along
/// `directions` random unit directions and along the gradient.
pub fn check_gradient(
    model: &ModelProto,
    opts: &Options,
    h: usize,
    w: usize,
    directions: usize,
    seed: u64,
) -> Check {
    let opts = Options {
        output: Output::Gradient,
        ..opts.clone()
    };
    let compiled = compile(model.clone(), &opts).unwrap_or_else(|e| panic!("compile: {e}"));
    let wanted: Vec<String> = compiled
        .model
        .metadata_props
        .iter()
        .find(|p| p.key() == "hypna.dream.layers")
        .map(|p| p.value().split(',').map(ToString::to_string).collect())
        .unwrap_or_default();
    let mut reference = truncate(model, &wanted).expect("truncate");
    if opts.free_size {
        free_input(&mut reference);
    }
    let mut rng = Rng::new(seed);
    let n = 3 * h * w;
    let x = Tensor::new(vec![1, 3, h, w], rng.fill(n, 0.2, 0.8));
    let weights: Vec<(String, Tensor)> = compiled
        .inputs
        .iter()
        .filter(|(name, _, _)| name != "image")
        .map(|(name, dims, _)| {
            let len = match dims[0] {
                DimSpec::Fixed(l) => l as usize,
                DimSpec::Named(_) => 1,
            };
            (
                name.clone(),
                Tensor::new(vec![len], rng.fill(len, 0.5, 1.5)),
            )
        })
        .collect();
    let mut inputs: Vec<(&str, &Tensor)> = vec![("image", &x)];
    for (name, t) in &weights {
        inputs.push((name, t));
    }
    if let Ok(dir) = std::env::var("HYPNA_DREAM_DUMP") {
        // For investigating a failure by hand: the models and inputs of this check.
        static DUMPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let k = DUMPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = PathBuf::from(dir).join(k.to_string());
        std::fs::create_dir_all(&dir).expect("dump for HYPNA_DREAM_DUMP");
        let enc = hypna::dream::proto::encode_model;
        std::fs::write(dir.join("compiled.onnx"), enc(&compiled.model))
            .expect("dump for HYPNA_DREAM_DUMP");
        std::fs::write(dir.join("reference.onnx"), enc(&reference))
            .expect("dump for HYPNA_DREAM_DUMP");
        let bytes: Vec<u8> = x.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(dir.join("x.f32"), bytes).expect("dump for HYPNA_DREAM_DUMP");
        for (name, t) in &weights {
            let bytes: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(dir.join(format!("{name}.f32")), bytes)
                .expect("dump for HYPNA_DREAM_DUMP");
        }
    }
    let out = run(&compiled.model, &inputs);
    let (g, obj) = (&out[0], f64::from(out[1].data[0]));
    let input = {
        let graph = model.graph.as_ref().expect("graph");
        let inits: std::collections::HashSet<&str> =
            graph.initializer.iter().map(TensorProto::name).collect();
        graph
            .input
            .iter()
            .find(|i| !inits.contains(i.name()))
            .expect("input")
            .name()
            .to_string()
    };
    let f = |x: &Tensor| -> f64 {
        let xm = mapped(&opts, x);
        let outs = run(&reference, &[(&input, &xm)]);
        objective_f64(&opts, &wanted, &outs, &weights)
    };
    let f0 = f(&x);
    let gnorm = g
        .data
        .iter()
        .map(|&v| f64::from(v).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(gnorm.is_finite() && gnorm > 0.0, "gradient norm {gnorm}");
    let mut dirs: Vec<Vec<f64>> = (0..directions)
        .map(|_| {
            let d: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let l = d.iter().map(|v| v * v).sum::<f64>().sqrt();
            d.into_iter().map(|v| v / l).collect()
        })
        .collect();
    dirs.push(g.data.iter().map(|&v| f64::from(v) / gnorm).collect());
    // A step of eps along a unit direction moves each pixel by about eps / sqrt(n): 1e-5 on
    // a 224x224 image, small against the kinks of ReLU and max pooling, large against the
    // float32 rounding of the objective. The rounding noise of a mean over fewer values
    // averages out less (about as 1 / sqrt(n)), so small images take larger steps (up to 1e-4).
    let per_pixel = (0.004 / (n as f64).sqrt()).clamp(1e-5, 1e-4);
    let eps = per_pixel * (n as f64).sqrt();
    let mut random: f64 = 0.0;
    let mut along = f64::INFINITY;
    for (i, d) in dirs.iter().enumerate() {
        // Along the gradient the signal is sqrt(n) times that of a random direction, so
        // rounding noise allows smaller steps, which cross fewer kinks: the best of three
        // steps (a wrong gradient fails at all of them; a trained network's saturated ReLU6
        // units need the small ones).
        let steps: &[f64] = if i < directions {
            &[1.0]
        } else {
            &[1.0, 0.3, 0.1]
        };
        for &scale_eps in steps {
            let eps = eps * scale_eps;
            let shifted = |s: f64| {
                Tensor::new(
                    x.shape.clone(),
                    x.data
                        .iter()
                        .zip(d)
                        .map(|(&v, &dv)| (f64::from(v) + s * dv) as f32)
                        .collect(),
                )
            };
            // The step actually taken, after rounding to float32.
            let (xp, xm) = (shifted(eps), shifted(-eps));
            let fd = (f(&xp) - f(&xm)) / (2.0 * eps);
            // The gradient along the displacement actually taken (after rounding to float32).
            let an: f64 = g
                .data
                .iter()
                .zip(xp.data.iter().zip(&xm.data))
                .map(|(&gv, (&p, &m))| f64::from(gv) * (f64::from(p) - f64::from(m)))
                .sum::<f64>()
                / (2.0 * eps);
            if i < directions {
                let scale = gnorm / (n as f64).sqrt();
                random = random.max((fd - an).abs() / scale);
            } else {
                along = along.min((fd - an).abs() / gnorm);
            }
        }
    }
    Check {
        random,
        along,
        objective: (obj - f0).abs() / f0.abs().max(1e-30),
    }
}
