//! `hypna bench --models`: a model scene in live mode (the frame never waits on the model),
//! phases with the model paused and running alternating: inference time, the node's I/O per
//! inference, the gap between runs, and frame times with and without the model.

use std::path::PathBuf;

use super::{BenchError, Stats, percentile, timed_frame};
use crate::clock::Clock;
use crate::render::context::Gpu;
use crate::runtime::{LoadError, Runtime, RuntimeOptions};
use crate::scene::Scene;

/// What the model benchmark measures.
#[derive(Debug, Clone)]
pub struct ModelBenchOptions {
    /// A scene with at least one model (its rate limits are lifted: the model runs flat out).
    pub scene: PathBuf,
    /// Render size.
    pub size: [u32; 2],
    /// Frames per round and phase.
    pub frames: u32,
    /// Rounds (each runs a phase without and one with the model).
    pub rounds: u32,
    /// ONNX Runtime intra-op threads.
    pub threads: usize,
    /// The measured model's batch (`None`: the scene's own `batch`).
    pub batch: Option<usize>,
}

/// Results of the model benchmark.
#[derive(Debug, Clone)]
pub struct ModelBenchReport {
    /// The scene measured.
    pub scene: PathBuf,
    /// Its render size.
    pub size: [u32; 2],
    /// ONNX Runtime intra-op threads.
    pub threads: usize,
    /// Samples per run of the measured model.
    pub batch: usize,
    /// The adapter.
    pub adapter: String,
    /// Inference (worker run) times, ms.
    pub inference: Stats,
    /// Readback collection, conversion and upload per inference, ms (all node-side CPU work
    /// divided by the number of runs).
    pub io_per_inference_ms: f64,
    /// Gaps between the end of one run and the start of the next, ms.
    pub gap: Stats,
    /// Compositor frame times with the model paused, ms.
    pub frames_without: Stats,
    /// Compositor frame times with the model running, ms.
    pub frames_with: Stats,
    /// p99 of the above, ms.
    pub p99_without_ms: f64,
    /// p99 of the above, ms.
    pub p99_with_ms: f64,
}

impl ModelBenchReport {
    /// I/O time as a share of inference time.
    #[must_use]
    pub fn io_share(&self) -> f64 {
        self.io_per_inference_ms / self.inference.mean_ms.max(1e-9)
    }

    /// Mean gap as a share of mean run time.
    #[must_use]
    pub fn gap_share(&self) -> f64 {
        self.gap.mean_ms / self.inference.mean_ms.max(1e-9)
    }

    /// p99 frame time with the model over without.
    #[must_use]
    pub fn p99_ratio(&self) -> f64 {
        self.p99_with_ms / self.p99_without_ms.max(1e-9)
    }
}

impl std::fmt::Display for ModelBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "bench --models: {} at {}x{}, batch {}, ONNX Runtime {} thread(s), on {}",
            self.scene.display(),
            self.size[0],
            self.size[1],
            self.batch,
            self.threads,
            self.adapter
        )?;
        writeln!(
            f,
            "  inference         mean {:8.2} ms  median {:8.2} ms  ({} runs sampled)",
            self.inference.mean_ms, self.inference.median_ms, self.inference.frames
        )?;
        writeln!(
            f,
            "  I/O per inference      {:8.3} ms  = {:5.1}% of inference (goal <= 10%)",
            self.io_per_inference_ms,
            100.0 * self.io_share()
        )?;
        writeln!(
            f,
            "  gap between runs  mean {:8.3} ms  = {:5.1}% of run time (goal <= 5%)",
            self.gap.mean_ms,
            100.0 * self.gap_share()
        )?;
        writeln!(
            f,
            "  frame p99 without model {:8.2} ms, with {:8.2} ms: ratio {:.3} (goal <= 1.5)",
            self.p99_without_ms,
            self.p99_with_ms,
            self.p99_ratio()
        )?;
        write!(
            f,
            "  frame median without    {:8.2} ms, with {:8.2} ms",
            self.frames_without.median_ms, self.frames_with.median_ms
        )
    }
}

/// Runs the model benchmark: the scene in live mode (the frame never waits on the model),
/// alternating phases with the model paused and running.
///
/// # Errors
/// When the scene or its models do not load.
pub fn run(gpu: &Gpu, options: &ModelBenchOptions) -> Result<ModelBenchReport, BenchError> {
    let mut scene = Scene::read(&options.scene).map_err(LoadError::from)?;
    if scene.models.is_empty() {
        return Err(BenchError::Unsupported(format!(
            "{} has no [[model]]",
            options.scene.display()
        )));
    }
    for m in &mut scene.models {
        m.every = 1;
        m.max_rate_hz = None;
    }
    if let (Some(batch), Some(first)) = (options.batch, scene.models.first_mut()) {
        first.batch = batch.clamp(1, crate::scene::MAX_BATCH);
    }
    let batch = scene.models.first().map_or(1, |m| m.batch);
    let runtime_options = RuntimeOptions {
        size: Some(options.size),
        threads: Some(options.threads),
        ..RuntimeOptions::default()
    };
    let mut runtime = Runtime::new(gpu, scene, &runtime_options)?;
    let mut clock = Clock::real();
    let mut frame = |runtime: &mut Runtime| timed_frame(gpu, runtime, &mut clock, "bench.models");
    // Warm up: the first runs allocate inside ONNX Runtime.
    for _ in 0..10 {
        frame(&mut runtime);
    }
    let (mut without, mut with, mut runs, mut gaps) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let io_before = runtime.nodes()[0].io_stats();
    let runs_before = runtime.nodes()[0].counters().runs;
    for _ in 0..options.rounds {
        runtime.set_models_paused(true);
        // Let a run in flight finish before measuring the paused phase.
        while runtime
            .nodes()
            .iter()
            .any(crate::model::node::ModelNode::busy)
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        for _ in 0..options.frames {
            without.push(frame(&mut runtime));
        }
        runtime.set_models_paused(false);
        let mut last_runs = runtime.nodes()[0].counters().runs;
        let mut first_of_phase = true;
        for _ in 0..options.frames {
            with.push(frame(&mut runtime));
            if runtime.nodes()[0].counters().runs > last_runs {
                let stats = runtime.nodes()[0].worker_stats();
                if let Some(r) = stats.last_run {
                    runs.push(r.as_secs_f64() * 1e3);
                }
                // The first run of a phase follows the pause: its gap is not the model's.
                if let (Some(g), false) = (stats.last_gap, first_of_phase) {
                    gaps.push(g.as_secs_f64() * 1e3);
                }
                first_of_phase = false;
                last_runs = stats.runs;
            }
        }
    }
    let io = runtime.nodes()[0].io_stats();
    let total_runs = runtime.nodes()[0]
        .counters()
        .runs
        .saturating_sub(runs_before)
        .max(1);
    let io_ms = (io.input_time + io.upload_time)
        .saturating_sub(io_before.input_time + io_before.upload_time)
        .as_secs_f64()
        * 1e3;
    Ok(ModelBenchReport {
        scene: options.scene.clone(),
        size: options.size,
        threads: options.threads,
        batch,
        adapter: gpu.describe(),
        inference: Stats::of(&runs),
        io_per_inference_ms: io_ms / total_runs as f64,
        gap: Stats::of(&gaps),
        p99_without_ms: percentile(&without, 0.99),
        p99_with_ms: percentile(&with, 0.99),
        frames_without: Stats::of(&without),
        frames_with: Stats::of(&with),
    })
}

/// The model benchmark once per batch size: what a batched generator costs per run and per
/// sample, and whether the frames notice.
///
/// # Errors
/// When the scene or its models do not load at one of the sizes (a model whose batch
/// dimension is fixed takes only that size).
pub fn run_batches(
    gpu: &Gpu,
    options: &ModelBenchOptions,
    batches: &[usize],
) -> Result<BatchReport, BenchError> {
    let mut reports = Vec::new();
    for &batch in batches {
        let options = ModelBenchOptions {
            batch: Some(batch),
            ..options.clone()
        };
        reports.push(run(gpu, &options)?);
    }
    Ok(BatchReport { reports })
}

/// [`run_batches`]' results: each batch size's report, then a table.
#[derive(Debug, Clone)]
pub struct BatchReport {
    /// One report per batch size, in the order asked.
    pub reports: Vec<ModelBenchReport>,
}

impl std::fmt::Display for BatchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for r in &self.reports {
            writeln!(f, "{r}")?;
        }
        writeln!(
            f,
            "  batch  inference ms  per sample ms  I/O share  frame p99 without / with ms  ratio"
        )?;
        for r in &self.reports {
            writeln!(
                f,
                "  {:5}  {:12.2}  {:13.2}  {:8.1}%  {:12.2} / {:8.2}     {:.3}",
                r.batch,
                r.inference.mean_ms,
                r.inference.mean_ms / r.batch.max(1) as f64,
                100.0 * r.io_share(),
                r.p99_without_ms,
                r.p99_with_ms,
                r.p99_ratio()
            )?;
        }
        Ok(())
    }
}
