//! A model as a scene node, driven by the frame loop without ever waiting on it (live), or
//! in lock-step (offline renders, so frame N sees exactly the results of frame N - 1).
//!
//! Per frame: take the newest finished result and upload it (image outputs into the chain's
//! model textures, vector outputs into params); after the chain is recorded, resample each
//! texture input into an RGBA f32 target at the model's size and copy it into a staging ring;
//! once a copy is mapped (frames later), convert it and hand the job to the worker, whose
//! latest-wins mailbox keeps the model fed with the freshest input.
//!
//! Never dark: while the worker is failing, backing off or restarting (a hung run, a dead
//! thread, a model file gone; see [`crate::infer::worker`]) the node skips preparing jobs and
//! its textures and params keep the last good output. Nothing here waits or logs per frame.

use std::time::{Duration, Instant};

use crate::clock::FrameTime;
use crate::infer::{
    Job, Model, Tensor, Worker, WorkerCounters, WorkerPolicy, WorkerState, WorkerStats,
};
use crate::model::convert::{pixels_to_tensor, tensor_to_rgba16};
use crate::model::latent::{LatentControls, LatentWalk};
use crate::model::plan::Plan;
use crate::params::ParamStore;
use crate::render::blit::Blitter;
use crate::render::chain::PassChain;
use crate::render::context::Gpu;
use crate::render::readback::Readback;
use crate::scene::{AudioFeature, InputSource, ModelDef, OutputTarget, TextureSource};

/// Format texture inputs are resampled into before read-back: exact floats.
const INPUT_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba32Float;
/// Staging buffers per texture input.
const READBACK_DEPTH: usize = 3;

/// Audio feature values as the node sees them (zeros until audio input runs).
pub trait AudioSource {
    /// Writes the feature's values into `out` (cleared first).
    fn feature(&self, feature: AudioFeature, out: &mut Vec<f32>);
}

/// Silence: every feature is zero (`bands` has `bands` zeros).
#[derive(Debug, Clone, Copy)]
pub struct Silence {
    /// Band count.
    pub bands: usize,
}

impl AudioSource for crate::audio::AudioFeatures {
    fn feature(&self, feature: AudioFeature, out: &mut Vec<f32>) {
        out.clear();
        match feature {
            AudioFeature::Bands => out.extend_from_slice(self.active_bands()),
            AudioFeature::Level => out.push(self.level),
            AudioFeature::Peak => out.push(self.peak),
            AudioFeature::Onset => out.push(self.onset),
            AudioFeature::Beat => out.push(self.beat),
            AudioFeature::Bpm => out.push(self.bpm),
            AudioFeature::BeatPhase => out.push(self.beat_phase),
            AudioFeature::Downbeat => out.push(self.downbeat),
            AudioFeature::BarPhase => out.push(self.bar_phase),
            AudioFeature::BeatInBar => out.push(self.beat_in_bar as f32),
            AudioFeature::Centroid => out.push(self.centroid),
            AudioFeature::Flux => out.push(self.flux),
        }
    }
}

impl AudioSource for Silence {
    fn feature(&self, feature: AudioFeature, out: &mut Vec<f32>) {
        out.clear();
        out.resize(
            if feature == AudioFeature::Bands {
                self.bands
            } else {
                1
            },
            0.0,
        );
    }
}

struct ImageInput {
    /// Index into `plan.inputs`.
    input: usize,
    source: TextureSource,
    size: [u32; 2],
    target: wgpu::Texture,
    view: wgpu::TextureView,
    readback: Readback,
    /// The newest mapped pixels (RGBA f32) not yet handed to the worker.
    latest: Option<Vec<f32>>,
}

/// Timing of the work the node does around each inference (for `hypna bench`).
#[derive(Debug, Clone, Copy, Default)]
pub struct IoStats {
    /// Jobs handed to the worker.
    pub jobs: u64,
    /// Results uploaded.
    pub results: u64,
    /// CPU time spent collecting read-backs and converting them to tensors.
    pub input_time: Duration,
    /// CPU time spent converting results and uploading them.
    pub upload_time: Duration,
}

/// A running model node.
pub struct ModelNode {
    /// Index of the model in the scene.
    pub index: usize,
    def: ModelDef,
    plan: Plan,
    worker: Worker,
    images: Vec<ImageInput>,
    latents: Vec<(usize, LatentWalk)>,
    frames_since_job: u32,
    last_job_secs: Option<f64>,
    scratch: Vec<f32>,
    texels: Vec<u16>,
    io: IoStats,
    /// Results arrived so far (the first one replaces the textures' initial transparent black).
    pub results: u64,
    /// While true no jobs are handed to the worker (results still apply).
    pub paused: bool,
}

impl ModelNode {
    /// Wraps a loaded `model` whose bindings `plan` resolved, with its textures in `chain`.
    ///
    /// # Errors
    /// When the worker thread cannot start.
    pub fn new(
        gpu: &Gpu,
        index: usize,
        def: &ModelDef,
        plan: Plan,
        model: Model,
    ) -> Result<Self, crate::infer::InferError> {
        let device = &gpu.device;
        let mut images = Vec::new();
        let mut latents = Vec::new();
        for (i, input) in plan.inputs.iter().enumerate() {
            let binding = &def.inputs[input.binding];
            match &binding.source {
                InputSource::Texture(source) => {
                    let size = input.image_size.unwrap_or([1, 1]);
                    let target = crate::render::texture_2d(
                        device,
                        &format!("{}.{}.input", def.name, binding.name),
                        size,
                        INPUT_FORMAT,
                        wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
                    );
                    let view = target.create_view(&wgpu::TextureViewDescriptor::default());
                    let readback = Readback::with_pixel_size(device, size, 16, READBACK_DEPTH);
                    images.push(ImageInput {
                        input: i,
                        source: *source,
                        size,
                        target,
                        view,
                        readback,
                        latest: None,
                    });
                }
                InputSource::Latent(l) => {
                    latents.push((i, LatentWalk::with_rows(l, input.rows)));
                }
                _ => {}
            }
        }
        let policy = WorkerPolicy {
            deadline: def.deadline,
            ..WorkerPolicy::default()
        };
        let worker = Worker::from_model_with(model, &def.name, policy)?;
        Ok(Self {
            index,
            def: def.clone(),
            plan,
            worker,
            images,
            latents,
            frames_since_job: u32::MAX,
            last_job_secs: None,
            scratch: Vec::new(),
            texels: Vec::new(),
            io: IoStats::default(),
            results: 0,
            paused: false,
        })
    }

    /// Sizes of the output textures this node writes: (output binding, pixels).
    pub fn output_image_sizes(&self) -> impl Iterator<Item = (usize, [u32; 2])> + '_ {
        self.plan
            .outputs
            .iter()
            .filter_map(|o| o.image.map(|(px, _)| (o.binding, px)))
    }

    /// The model's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// Runs, errors and the last run time, from the worker's atomics: what the frame reads
    /// every frame (no lock, no copy of the stats).
    #[must_use]
    pub fn counters(&self) -> WorkerCounters {
        self.worker.counters()
    }

    /// Worker statistics (runs, run time, gaps, errors).
    #[must_use]
    pub fn worker_stats(&self) -> WorkerStats {
        self.worker.stats()
    }

    /// Where the worker is: ready, failing, backing off, restarting...
    #[must_use]
    pub fn worker_state(&self) -> WorkerState {
        self.worker.state()
    }

    /// Time spent around inference.
    #[must_use]
    pub fn io_stats(&self) -> IoStats {
        self.io
    }

    /// True while the worker runs or has a job waiting.
    #[must_use]
    pub fn busy(&self) -> bool {
        self.worker.is_busy()
    }

    /// Uploads the newest finished result, if any: image outputs into `chain`'s model
    /// textures, vector outputs into `params`. Returns true when a result was applied.
    pub fn take_result(&mut self, gpu: &Gpu, chain: &PassChain, params: &mut ParamStore) -> bool {
        let Some(output) = self.worker.try_result() else {
            return false;
        };
        let start = Instant::now();
        for (oi, out) in self.plan.outputs.iter().enumerate() {
            let binding = &self.def.outputs[out.binding];
            let Some(tensor) = output.get(&binding.name) else {
                continue;
            };
            match (&binding.target, out.image) {
                (OutputTarget::Texture(_), Some((_, channels))) => {
                    let Some(target) = chain.model_texture((self.index, out.binding)) else {
                        continue;
                    };
                    // One tile per sample of the batch (one tile, the whole texture, without).
                    let tile = out.tile;
                    let per_tile = (tile[0] * tile[1]) as usize * channels;
                    for (i, sample) in tensor
                        .data
                        .chunks_exact(per_tile.max(1))
                        .take(out.tiles)
                        .enumerate()
                    {
                        if !tensor_to_rgba16(
                            sample,
                            tile,
                            channels,
                            &binding.image,
                            &mut self.texels,
                        ) {
                            continue;
                        }
                        #[allow(clippy::cast_possible_truncation)]
                        let i = i as u32;
                        let mut copy = target.texture.as_image_copy();
                        copy.origin = wgpu::Origin3d {
                            x: (i % out.columns) * tile[0],
                            y: (i / out.columns) * tile[1],
                            z: 0,
                        };
                        gpu.queue.write_texture(
                            copy,
                            bytemuck::cast_slice(&self.texels),
                            wgpu::TexelCopyBufferLayout {
                                offset: 0,
                                bytes_per_row: Some(tile[0] * 8),
                                rows_per_image: None,
                            },
                            wgpu::Extent3d {
                                width: tile[0],
                                height: tile[1],
                                depth_or_array_layers: 1,
                            },
                        );
                    }
                }
                (OutputTarget::Params(indices), _) => {
                    for (&pi, &v) in indices.iter().zip(&tensor.data) {
                        // Clamped by the store; NaN is refused there and ignored here.
                        params.set_at(pi, v);
                    }
                }
                _ => {}
            }
            let _ = oi;
        }
        self.io.upload_time += start.elapsed();
        self.io.results += 1;
        self.results += 1;
        true
    }

    /// Records, after the chain, the resampling of every texture input into its staging
    /// ring (skipped for inputs whose ring is full).
    pub fn record_inputs(
        &mut self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        chain: &PassChain,
        blitter: &mut Blitter,
        frame: u64,
    ) {
        for image in &mut self.images {
            if !image.readback.has_free_slot() {
                continue;
            }
            let src = match image.source {
                TextureSource::Pass(i) => chain
                    .pass_output(i)
                    .map(|(_, view, size, format)| (view, size, format)),
                TextureSource::Model { model, output } => chain
                    .model_texture((model, output))
                    .map(|t| (t.view(), t.size, crate::render::chain::MODEL_TEXTURE_FORMAT)),
                // Only ISF image inputs read the audio image; model bindings never name it.
                TextureSource::Audio { .. } | TextureSource::AudioShadertoy => None,
                TextureSource::Image(i) => chain
                    .image(i)
                    .map(|image| (&image.view, image.size, image.format)),
            };
            let Some(src) = src else { continue };
            blitter.copy(
                &gpu.device,
                encoder,
                src,
                (&image.view, image.size, INPUT_FORMAT),
            );
            image.readback.copy(encoder, &image.target, frame);
        }
    }

    /// Call after the frame's submit: starts mappings, collects mapped inputs and, when the
    /// rate allows and every image input has fresh pixels, hands a job to the worker.
    pub fn after_submit(&mut self, t: FrameTime, params: &ParamStore, audio: &dyn AudioSource) {
        for image in &mut self.images {
            image.readback.after_submit();
        }
        self.advance_latents(t, params, audio);
        self.frames_since_job = self.frames_since_job.saturating_add(1);
        let start = Instant::now();
        for image in &mut self.images {
            if let Some(newest) = image.readback.collect().pop() {
                image.latest = Some(bytemuck::pod_collect_to_vec(&newest.rgba));
            }
        }
        let due_frames = self.frames_since_job >= self.def.every;
        let due_rate = match (self.def.max_rate_hz, self.last_job_secs) {
            (Some(hz), Some(last)) => t.time_secs - last >= 1.0 / f64::from(hz) - 1e-9,
            _ => true,
        };
        let fresh = self.images.iter().all(|i| i.latest.is_some());
        // A bypassed worker would refuse the job: skip the conversion, keep the pixels.
        if due_frames && due_rate && fresh && !self.paused && self.worker.accepting() {
            let job = self.build_job(t, params, audio);
            self.worker.submit(job);
            self.io.jobs += 1;
            self.frames_since_job = 0;
            self.last_job_secs = Some(t.time_secs);
        }
        self.io.input_time += start.elapsed();
    }

    /// Pre-warm before a scene switch: runs the model once on zeroed images, default params,
    /// silence and time 0, waiting at most `timeout`, so the first real run is not the slow
    /// first one (allocation, kernel selection). The result stays in the worker for the next
    /// [`Self::take_result`]. Returns whether the run finished in time.
    pub fn warm_up(&mut self, params: &ParamStore, bands: usize, timeout: Duration) -> bool {
        let silence = Silence { bands };
        for image in &mut self.images {
            image.latest = Some(vec![0.0; (image.size[0] * image.size[1] * 4) as usize]);
        }
        let stats = self.worker.stats();
        let (runs, errors) = (stats.runs, stats.error_total());
        let job = self.build_job(FrameTime::default(), params, &silence);
        self.worker.submit(job);
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let stats = self.worker.stats();
            if stats.runs > runs || stats.error_total() > errors {
                return stats.runs > runs;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    /// Offline lock-step: waits for the GPU copies of this frame, submits the job and waits
    /// for its result (bounded by `timeout`), so the next frame shows it. Returns false when
    /// the model did not answer in time (the previous output stays).
    pub fn sync_frame(
        &mut self,
        gpu: &Gpu,
        t: FrameTime,
        params: &ParamStore,
        audio: &dyn AudioSource,
        timeout: Duration,
    ) -> bool {
        for image in &mut self.images {
            image.readback.after_submit();
        }
        gpu.wait_idle();
        let submitted_before = self.io.jobs;
        self.after_submit(t, params, audio);
        if self.io.jobs == submitted_before {
            return true;
        }
        let deadline = Instant::now() + timeout;
        while self.worker.is_busy() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        !self.worker.is_busy()
    }

    fn advance_latents(&mut self, t: FrameTime, params: &ParamStore, audio: &dyn AudioSource) {
        let mut values = Vec::new();
        for (i, walk) in &mut self.latents {
            let binding = &self.def.inputs[self.plan.inputs[*i].binding];
            let InputSource::Latent(def) = &binding.source else {
                continue;
            };
            let mut read = |f: Option<AudioFeature>| {
                f.map_or(0.0, |f| {
                    audio.feature(f, &mut values);
                    values.iter().copied().fold(0.0, f32::max)
                })
            };
            let motion = read(def.motion);
            let pulse = read(def.pulse);
            let read_param = |p: Option<usize>| p.and_then(|p| params.value_at(p));
            let controls = LatentControls {
                speed: read_param(def.speed_param).unwrap_or(1.0),
                seed: read_param(def.seed_param),
                save: read_param(def.save_param),
                recall: read_param(def.recall_param),
            };
            walk.advance_with(t.dt_secs, motion, pulse, controls);
        }
    }

    fn build_job(&mut self, t: FrameTime, params: &ParamStore, audio: &dyn AudioSource) -> Job {
        let mut job = Job::new();
        for (i, input) in self.plan.inputs.iter().enumerate() {
            let binding = &self.def.inputs[input.binding];
            let data: Vec<f32> = match &binding.source {
                InputSource::Texture(_) => {
                    let Some(image) = self.images.iter_mut().find(|im| im.input == i) else {
                        continue;
                    };
                    let Some(pixels) = image.latest.take() else {
                        continue;
                    };
                    pixels_to_tensor(
                        &pixels,
                        image.size,
                        input.channels,
                        &binding.image,
                        &mut self.scratch,
                    );
                    std::mem::take(&mut self.scratch)
                }
                InputSource::Params(indices) => indices
                    .iter()
                    .map(|&p| params.value_at(p).unwrap_or(0.0))
                    .collect(),
                InputSource::Audio(f) => {
                    let mut v = Vec::new();
                    audio.feature(*f, &mut v);
                    v
                }
                InputSource::Constant(v) => v.clone(),
                #[allow(clippy::cast_possible_truncation)]
                InputSource::Time => vec![t.time_secs as f32],
                InputSource::Latent(_) => self
                    .latents
                    .iter()
                    .find(|(li, _)| *li == i)
                    .map(|(_, w)| w.value().to_vec())
                    .unwrap_or_default(),
            };
            let mut data = data;
            if let Some(sharpness) = binding.softmax {
                let row = input.shape.last().copied().unwrap_or(1).max(1);
                for chunk in data.chunks_mut(row) {
                    softmax(chunk, sharpness);
                }
            }
            let expected: usize = input.shape.iter().product();
            // One row for every sample of a batch: repeat what the source gave.
            if !data.is_empty() && data.len() < expected && expected.is_multiple_of(data.len()) {
                let row = data.len();
                data.reserve(expected - row);
                for _ in 1..expected / row {
                    data.extend_from_within(..row);
                }
            }
            data.resize(expected, 0.0);
            job = job.with(binding.name.clone(), Tensor::new(input.shape.clone(), data));
        }
        job
    }
}

/// `softmax(sharpness * v)` in place: weights that sum to 1 (NaN entries count as 0).
fn softmax(v: &mut [f32], sharpness: f32) {
    let max = v
        .iter()
        .map(|x| if x.is_finite() { x * sharpness } else { 0.0 })
        .fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        let scaled = if x.is_finite() { *x * sharpness } else { 0.0 };
        *x = (scaled - max).exp();
        sum += *x;
    }
    if sum > 0.0 {
        for x in v.iter_mut() {
            *x /= sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::softmax;

    #[test]
    fn softmax_sums_to_one_and_sharpens() {
        let mut soft = [0.2, 0.8, 0.0];
        softmax(&mut soft, 1.0);
        assert!((soft.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let mut sharp = [0.2, 0.8, 0.0];
        softmax(&mut sharp, 20.0);
        assert!(sharp[1] > 0.99 && sharp[1] > soft[1]);
        let mut bad = [f32::NAN, 1.0];
        softmax(&mut bad, 1.0);
        assert!(bad.iter().all(|x| x.is_finite()));
    }
}
