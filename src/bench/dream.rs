//! The dream compiler's speed, part of `hypna bench --models`: for an ONNX classifier and its
//! dream layers ([`crate::dream::bench_pair`]), at each dream resolution, the forward pass up
//! to the layers against one compiled dream step (the step should cost at most 3 forwards),
//! and hypna's run of the step ([`crate::infer::Model::run`], what a model node's worker
//! calls) against ONNX Runtime running the same file directly with the same options
//! ([`crate::infer::RawSession`]; goal at most 1.10x). Runs alternate between the three,
//! so machine noise hits each alike.

use std::fmt;
use std::path::PathBuf;

use super::{BenchError, percentile};
use crate::infer::{Model, RawSession, SessionOptions, Tensor};

/// What the dream benchmark measures.
#[derive(Debug, Clone)]
pub struct DreamBenchOptions {
    /// The classifier (default in `hypna bench`: the installed EfficientNet-Lite0).
    pub classifier: PathBuf,
    /// The dreamed layers.
    pub layers: Vec<String>,
    /// Dream resolutions, width x height.
    pub sizes: Vec<[u32; 2]>,
    /// Timed runs of each model per size (after one untimed run each).
    pub runs: usize,
    /// ONNX Runtime intra-op threads.
    pub threads: usize,
}

/// One resolution's medians.
#[derive(Debug, Clone, Copy)]
pub struct DreamBenchRow {
    /// Width x height.
    pub size: [u32; 2],
    /// The classifier up to the layers, median ms.
    pub forward_ms: f64,
    /// One dream step through hypna's model, median ms.
    pub step_ms: f64,
    /// The same step file through ONNX Runtime alone, median ms.
    pub raw_step_ms: f64,
}

impl DreamBenchRow {
    /// Step time over forward time (goal <= 3).
    #[must_use]
    pub fn step_over_forward(&self) -> f64 {
        self.step_ms / self.forward_ms.max(1e-9)
    }

    /// hypna's step time over ONNX Runtime's alone (goal <= 1.10).
    #[must_use]
    pub fn hypna_over_raw(&self) -> f64 {
        self.step_ms / self.raw_step_ms.max(1e-9)
    }
}

/// The dream benchmark's results.
#[derive(Debug, Clone)]
pub struct DreamBenchReport {
    /// The classifier.
    pub classifier: PathBuf,
    /// Its dreamed layers.
    pub layers: Vec<String>,
    /// ONNX Runtime intra-op threads.
    pub threads: usize,
    /// Timed runs per model and size.
    pub runs: usize,
    /// One row per size, in the order asked.
    pub rows: Vec<DreamBenchRow>,
}

impl fmt::Display for DreamBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "dream step: {} layers {}, ONNX Runtime {} thread(s), median of {} runs",
            self.classifier.display(),
            self.layers.join(","),
            self.threads,
            self.runs
        )?;
        writeln!(
            f,
            "  {:>9}  {:>10}  {:>8}  {:>12}  {:>12}  {:>11}",
            "size", "forward", "step", "step/forward", "ORT alone", "hypna/ORT"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "  {:>9}  {:>7.1} ms  {:>5.1} ms  {:>12.2}  {:>9.1} ms  {:>11.3}",
                format!("{}x{}", r.size[0], r.size[1]),
                r.forward_ms,
                r.step_ms,
                r.step_over_forward(),
                r.raw_step_ms,
                r.hypna_over_raw()
            )?;
        }
        write!(
            f,
            "  goals: step/forward <= 3 (a backward pass costs about two forwards), hypna/ORT <= 1.10"
        )
    }
}

/// Files written for the benchmark, removed when dropped.
struct TempModels(Vec<PathBuf>);

impl Drop for TempModels {
    fn drop(&mut self) {
        for p in &self.0 {
            if let Err(e) = std::fs::remove_file(p) {
                tracing::debug!("cannot remove {}: {e}", p.display());
            }
        }
    }
}

fn write_temp(
    temps: &mut TempModels,
    name: &str,
    model: &crate::dream::onnx::ModelProto,
) -> Result<PathBuf, BenchError> {
    let path = std::env::temp_dir().join(format!("hypna-bench-{}-{name}.onnx", std::process::id()));
    std::fs::write(&path, crate::dream::proto::encode_model(model))
        .map_err(|e| BenchError::Setup(format!("cannot write {}: {e}", path.display())))?;
    temps.0.push(path.clone());
    Ok(path)
}

/// A smooth test image in 0..1 (the same every run).
fn image(w: usize, h: usize) -> Tensor {
    let mut data = Vec::with_capacity(3 * w * h);
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                let v = ((x as f32 * 0.07 + c as f32).sin() * (y as f32 * 0.05).cos()) * 0.4 + 0.5;
                data.push(v);
            }
        }
    }
    Tensor::new(vec![1, 3, h, w], data)
}

/// Measures the forward pass, hypna's dream step and ONNX Runtime's dream step at each size.
///
/// # Errors
/// [`BenchError::Setup`] when the classifier cannot be read or compiled, a model cannot be
/// loaded or run, or a temporary file cannot be written.
pub fn run(options: &DreamBenchOptions) -> Result<DreamBenchReport, BenchError> {
    let setup = |e: &dyn fmt::Display| BenchError::Setup(e.to_string());
    let proto = crate::dream::proto::load_model(&options.classifier).map_err(|e| setup(&e))?;
    let pair = crate::dream::bench_pair(&proto, &options.layers, true).map_err(|e| setup(&e))?;
    let mut temps = TempModels(Vec::new());
    let forward_path = write_temp(&mut temps, "forward", &pair.forward)?;
    let step_path = write_temp(&mut temps, "step", &pair.step.model)?;
    let session = SessionOptions {
        intra_threads: options.threads,
        inter_threads: 1,
        ..SessionOptions::default()
    };
    let mut forward = Model::load(&forward_path, &session).map_err(|e| setup(&e))?;
    let mut step = Model::load(&step_path, &session).map_err(|e| setup(&e))?;
    let mut raw = RawSession::load(&step_path, &session).map_err(|e| setup(&e))?;
    let image_name = forward
        .info()
        .inputs
        .first()
        .map(|i| i.name.clone())
        .ok_or_else(|| BenchError::Setup("the forward model has no input".into()))?;
    let layer_weights = Tensor::new(vec![options.layers.len()], vec![1.0; options.layers.len()]);
    let step_size = Tensor::new(vec![1], vec![0.01]);
    let jitter = Tensor::new(vec![2], vec![3.0, -2.0]);
    let mut rows = Vec::new();
    for &size in &options.sizes {
        let x = image(size[0] as usize, size[1] as usize);
        let step_inputs = [
            ("image", x.view()),
            ("step", step_size.view()),
            ("jitter", jitter.view()),
            ("layer_weights", layer_weights.view()),
        ];
        let forward_inputs = [(image_name.as_str(), x.view())];
        let (mut f_ms, mut s_ms, mut r_ms) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..=options.runs {
            let f = time_ms(|| forward.run(&forward_inputs)).map_err(|e| setup(&e))?;
            let s = time_ms(|| step.run(&step_inputs)).map_err(|e| setup(&e))?;
            let r = raw.time_run(&step_inputs).map_err(|e| setup(&e))?;
            if i > 0 {
                f_ms.push(f);
                s_ms.push(s);
                r_ms.push(r);
            }
        }
        rows.push(DreamBenchRow {
            size,
            forward_ms: percentile(&f_ms, 0.5),
            step_ms: percentile(&s_ms, 0.5),
            raw_step_ms: percentile(&r_ms, 0.5),
        });
    }
    Ok(DreamBenchReport {
        classifier: options.classifier.clone(),
        layers: options.layers.clone(),
        threads: options.threads,
        runs: options.runs,
        rows,
    })
}

/// The time of one call in ms.
fn time_ms<T, E>(f: impl FnOnce() -> Result<T, E>) -> Result<f64, E> {
    let start = std::time::Instant::now();
    let out = f()?;
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    drop(out);
    Ok(ms)
}
