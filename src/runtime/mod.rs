//! The runtime: the scene on screen (or a crossfade from the last one into it) rendered every
//! frame, with the services that outlive scene changes (OSC, audio).
//!
//! A frame is two calls: [`Runtime::record`] records everything into the frame's encoder
//! (model results taken, events applied, params advanced, the pass chain, model input copies,
//! the mix) and [`Runtime::finish`] runs after the frame's one submit (feeds the models).
//! [`Runtime::frame`] is the whole sequence written once (record, the caller's own commands
//! reading the output, submit, finish): the window, offline renders, the benchmarks and the
//! tests all run it.
//!
//! - [`load`]: loading a scene, in stages: read, prepare, build, warm, then switch or reload.
//! - [`services`]: OSC and audio, and how their events reach the params.
//! - `transition`: crossfades between scenes and the output level; [`isf_transition`]: ISF
//!   transitions between scenes.
//! - [`status`]: frame and model rates, `/hypna/status`, the health snapshot.
//! - [`offline`]: fixed-clock renders read back as RGBA8.
//!
//! Nothing here calls above the runtime: what operations need (param changes, scenes let go
//! for the memory janitor, the health snapshot) is handed up through [`ParamSink`],
//! [`Runtime::released`] and [`Runtime::status`].

mod beat;
pub mod isf_transition;
pub mod load;
pub mod offline;
pub mod services;
pub mod status;
mod transition;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use load::{
    Built, FileStamp, LoadError, Prepared, Reusable, WARM_UP_TIMEOUT, build, check_models,
    load_shaders, prepare, read_and_check, read_and_prepare,
};
pub use offline::{RenderSettings, render_frames, render_frames_with};
pub use services::{AudioMode, MidiMode, OscMode, ParamSink};
pub use status::{ModelRate, Status};

use crate::audio::AudioFeatures;
use crate::clock::FrameTime;
use crate::infer::Ep;
use crate::model::node::ModelNode;
use crate::osc::{CounterSnapshot, SceneRequest};
use crate::params::ParamStore;
use crate::render::blit::Blitter;
use crate::render::chain::{FrameInputs, PassChain};
use crate::render::context::Gpu;
use crate::scene::Scene;
use isf_transition::IsfEffect;
use load::{Instance, carry_over, load_models};
use services::Services;
use status::Rates;
use transition::Transition;

/// Longest an offline render waits for one model run before going on without it.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// How a scene is loaded: overrides from the command line.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Internal size (default: the scene's).
    pub size: Option<[u32; 2]>,
    /// `name=value` assignments applied at start.
    pub sets: Vec<String>,
    /// ONNX Runtime library (default: searched).
    pub ort_lib: Option<PathBuf>,
    /// Execution provider for every model (default: the scene's `[runtime] providers`).
    pub provider: Option<Ep>,
    /// Intra-op threads per model (default: the scene's `[runtime] threads`).
    pub threads: Option<usize>,
    /// Run models in lock-step with frames (offline renders: deterministic).
    pub sync_models: bool,
    /// Whether to listen for OSC. Default: off (tests, benchmarks); `hypna run` turns it on.
    pub osc: OscMode,
    /// Whether and how the runtime analyses audio. Default: off (tests, benchmarks).
    pub audio: AudioMode,
    /// Whether the runtime opens MIDI ports. Default: off (tests, benchmarks); `hypna run`
    /// turns it on.
    pub midi: MidiMode,
    /// Where the beat globals come from (docs/tempo.md). Default: the audio analysis.
    pub beat_source: crate::scene::midi::BeatSource,
}

/// How [`Runtime::frame`] ends after its submit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submit {
    /// Finish at once: the GPU works while the next frame is prepared (the window, renders).
    Go,
    /// Wait for the GPU, then finish: the whole cost of the frame is measured and models get
    /// this frame's input at once (the benchmarks).
    WaitForGpu,
}

/// A loaded scene on the GPU with its live params and model nodes, plus the services that
/// outlive scene changes (OSC, audio).
pub struct Runtime {
    /// The scene on screen: its shaders, params, pass chain and model nodes.
    current: Instance,
    /// How it was loaded (reloads and resizes keep these).
    options: RuntimeOptions,
    /// Resampling copies: feedback carried over, model inputs, transition snapshots.
    blitter: Blitter,
    services: Services,
    transition: Transition,
    rates: Rates,
    /// Per-pass GPU timing asked for (kept across reloads and resizes).
    timing: bool,
    /// Show time when the running scene was switched to: its `globals.time` starts there.
    time_origin: f64,
    /// The last frame's scene time, and its show time (what playlists count in).
    last_time: FrameTime,
    show_time: FrameTime,
    /// The param values of this frame, reused.
    params_scratch: Vec<f32>,
    /// Scenes let go so far (switches, reloads, recoveries): freed memory to give back.
    released: u64,
}

impl Runtime {
    /// Reads the scene at `path` and loads it (see [`load`]).
    ///
    /// # Errors
    /// Scene file, shader, pipeline, model or `--set` problems.
    pub fn load(gpu: &Gpu, path: &Path, options: &RuntimeOptions) -> Result<Self, LoadError> {
        let scene = Scene::read(path)?;
        Self::new(gpu, scene, options)
    }

    /// Prepares and builds `scene`, and starts the services.
    ///
    /// # Errors
    /// Shader, pipeline, model or `--set` problems.
    pub fn new(gpu: &Gpu, scene: Scene, options: &RuntimeOptions) -> Result<Self, LoadError> {
        let prepared = prepare(scene, options, None)?;
        Self::start(gpu, prepared, options)
    }

    /// Builds a prepared scene on the GPU and starts the services.
    ///
    /// # Errors
    /// Pipeline, model worker or `--set` problems.
    pub fn start(
        gpu: &Gpu,
        prepared: Prepared,
        options: &RuntimeOptions,
    ) -> Result<Self, LoadError> {
        let size = options.size.unwrap_or(prepared.scene.size);
        let mut current = Instance::build(gpu, prepared, size, None, None)?;
        for s in &options.sets {
            current.params.assign(s)?;
        }
        let services = Services::start(
            &current.scene,
            &options.osc,
            &options.audio,
            &options.midi,
            options.beat_source,
        )?;
        Ok(Self {
            rates: Rates::new(current.nodes.len()),
            current,
            options: options.clone(),
            blitter: Blitter::new(&gpu.device),
            services,
            transition: Transition::new(&gpu.device),
            timing: false,
            time_origin: 0.0,
            last_time: FrameTime::default(),
            show_time: FrameTime::default(),
            params_scratch: Vec::new(),
            released: 0,
        })
    }

    /// The scene on screen.
    #[must_use]
    pub fn scene(&self) -> &Scene {
        &self.current.scene
    }

    /// The live params.
    #[must_use]
    pub fn params(&self) -> &ParamStore {
        &self.current.params
    }

    /// The live params, to set.
    pub fn params_mut(&mut self) -> &mut ParamStore {
        &mut self.current.params
    }

    /// The options the runtime was loaded with (a reload prepares with the same).
    #[must_use]
    pub fn options(&self) -> &RuntimeOptions {
        &self.options
    }

    /// What a reload may reuse from this runtime (its models and their file stamps).
    #[must_use]
    pub fn reusable(&self) -> Reusable {
        self.current.reusable()
    }

    /// Every file the running scene was built from: the scene, its shaders and includes,
    /// its model files.
    #[must_use]
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let scene = &self.current.scene;
        let mut files = vec![scene.path.clone()];
        for s in &self.current.shaders {
            files.extend(s.files.iter().cloned());
        }
        files.extend(scene.models.iter().map(|m| m.file.clone()));
        // A replaced photo or clip reloads the scene (its source starts again).
        files.extend(
            scene
                .media
                .iter()
                .flat_map(|m| [m.input.file(), m.fallback.as_ref().and_then(|f| f.file())])
                .flatten()
                .map(Path::to_path_buf),
        );
        files.sort();
        files.dedup();
        files
    }

    /// The chain (output texture, sizes, pass times).
    #[must_use]
    pub fn chain(&self) -> &PassChain {
        &self.current.chain
    }

    /// The model nodes, in scene order.
    #[must_use]
    pub fn nodes(&self) -> &[ModelNode] {
        &self.current.nodes
    }

    // ---- the frame ----

    /// The frame sequence, written once: [`Self::record`] into a fresh encoder, `draw` adds
    /// the caller's commands that read the output (a blit to the window, a readback copy),
    /// one submit, then [`Self::finish`] (after waiting for the GPU with
    /// [`Submit::WaitForGpu`]).
    pub fn frame(
        &mut self,
        gpu: &Gpu,
        t: FrameTime,
        label: &str,
        submit: Submit,
        draw: impl FnOnce(&mut wgpu::CommandEncoder, &Self),
    ) {
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        self.record(gpu, &mut encoder, t);
        draw(&mut encoder, self);
        gpu.queue.submit([encoder.finish()]);
        if submit == Submit::WaitForGpu {
            gpu.wait_idle();
        }
        self.finish(gpu);
    }

    /// Records the frame at show time `t` into `encoder`: finished model results are taken,
    /// queued and OSC param changes applied, audio fetched, params advanced by `t.dt_secs`,
    /// then the chain, the model input copies and the mix are recorded.
    pub fn record(&mut self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, t: FrameTime) {
        // Show time goes on; each scene counts its own time from its switch.
        self.show_time = t;
        let t = FrameTime {
            time_secs: t.time_secs - self.time_origin,
            ..t
        };
        let Instance {
            scene,
            params,
            chain,
            nodes,
            media,
            ..
        } = &mut self.current;
        for node in nodes.iter_mut() {
            node.take_result(gpu, chain, params);
        }
        self.rates.frame(t.dt_secs, self.last_time.time_secs, nodes);
        let rates = &self.rates;
        self.services
            .apply_events(params, &scene.params, self.show_time.time_secs, || {
                let mut info = rates.status_info(&scene.name, t.frame, nodes);
                if !media.is_empty() {
                    info.counters
                        .push(("media.stalled".into(), media.stalled() as u64));
                    for s in media.sources() {
                        info.counters.push((
                            format!("media.{}.failures", s.name()),
                            s.counters()
                                .failures
                                .load(std::sync::atomic::Ordering::Relaxed),
                        ));
                    }
                }
                info
            });
        self.services.update_audio(t);
        self.services.modulate(scene, params);
        params.advance(t.dt_secs);
        self.params_scratch.clear();
        self.params_scratch.extend(params.iter().map(|(_, v)| v));
        // Media: each source moves to this frame's time; new frames go to their textures
        // (an offline render waits for the exact frame of its time).
        let exact = self.options.sync_models.then_some(SYNC_TIMEOUT);
        media.frame(
            t.time_secs,
            t.dt_secs,
            &self.params_scratch,
            exact,
            |i, pixels| {
                if let Some(texture) = chain.media_texture(i) {
                    texture.write(&gpu.queue, pixels);
                }
            },
        );
        if !self.transition.dark() {
            let inputs = FrameInputs {
                time_secs: t.time_secs,
                dt_secs: t.dt_secs,
                frame: t.frame,
                params: &self.params_scratch,
                audio: self.services.audio_features(),
            };
            chain.encode(&gpu.queue, encoder, &inputs);
            for node in nodes.iter_mut() {
                node.record_inputs(gpu, encoder, chain, &mut self.blitter, t.frame);
            }
        }
        // Dark (closed hours): nothing rendered; the mix pass outputs black.
        self.transition.record(
            gpu,
            encoder,
            &mut self.blitter,
            chain,
            self.show_time.time_secs,
        );
        self.last_time = t;
    }

    /// Finishes the frame; call right after its `queue.submit`: feeds the models. Never
    /// waits in live mode; in lock-step mode waits for this frame's model runs.
    pub fn finish(&mut self, gpu: &Gpu) {
        let Instance {
            params,
            chain,
            nodes,
            ..
        } = &mut self.current;
        chain.after_submit();
        if nodes.is_empty() {
            return;
        }
        let audio = self.services.audio_source();
        if self.options.sync_models {
            for node in nodes.iter_mut() {
                if !node.sync_frame(gpu, self.last_time, params, audio, SYNC_TIMEOUT) {
                    tracing::warn!(
                        "model `{}` did not answer within {SYNC_TIMEOUT:?}",
                        node.name()
                    );
                }
            }
        } else {
            gpu.poll();
            for node in nodes.iter_mut() {
                node.after_submit(self.last_time, params, audio);
            }
        }
    }

    /// What to show: the mix output during a transition or a fade, else the chain's output.
    #[must_use]
    pub fn output_view(&self) -> Option<&wgpu::TextureView> {
        self.transition.output_view(&self.current.chain)
    }

    /// The texture behind [`Self::output_view`].
    #[must_use]
    pub fn output_texture(&self) -> Option<&wgpu::Texture> {
        self.transition.output_texture(&self.current.chain)
    }

    /// Size and format of [`Self::output_view`].
    #[must_use]
    pub fn output_info(&self) -> Option<([u32; 2], wgpu::TextureFormat)> {
        self.transition.output_info(&self.current.chain)
    }

    /// The show time of the last frame recorded (playlists count in it; the scene's own
    /// time restarts at each switch).
    #[must_use]
    pub fn show_time(&self) -> FrameTime {
        self.show_time
    }

    // ---- scene changes ----

    /// Replaces the running scene with `prepared` in place (a hot reload): feedback buffers
    /// and model outputs carry over into passes and models of the same name (resampled when
    /// sizes change), params keep the values of those that still exist, unchanged models
    /// keep running, OSC routes follow the new params and an edited `[osc]` table restarts
    /// the server. On error the running scene is untouched.
    ///
    /// # Errors
    /// Pipeline or model worker problems.
    pub fn reload(&mut self, gpu: &Gpu, prepared: Prepared) -> Result<(), LoadError> {
        let size = self.options.size.unwrap_or(prepared.scene.size);
        let mut old_nodes: Vec<Option<ModelNode>> = std::mem::take(&mut self.current.nodes)
            .into_iter()
            .map(Some)
            .collect();
        let built = Instance::build(
            gpu,
            prepared,
            size,
            Some((&self.current.chain, &self.current.scene, &mut self.blitter)),
            Some(&mut old_nodes),
        );
        let mut instance = match built {
            Ok(i) => i,
            Err(e) => {
                self.current.nodes = old_nodes.into_iter().flatten().collect();
                return Err(e);
            }
        };
        // Nodes not reused stop here (their workers shut down).
        drop(old_nodes);
        instance.params = self.current.params.carried_over(&instance.scene.params);
        self.make_current(gpu, instance, true);
        Ok(())
    }

    /// Switches to another scene: the current output is snapshotted and crossfaded into
    /// `next` over `fade_secs` of show time (0 = cut). `next` starts with its own param
    /// defaults plus `sets`; its feedback passes start from the snapshot when its scene says
    /// `inherit_feedback`. OSC routes follow the new params. With `effect` (an ISF
    /// transition built for `next`), the effect draws the fade instead of a crossfade.
    pub fn switch(
        &mut self,
        gpu: &Gpu,
        next: Built,
        fade_secs: f32,
        effect: Option<IsfEffect>,
        sets: &[(String, f32)],
    ) {
        let Built(mut instance) = next;
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("runtime.switch"),
            });
        let snapshot =
            self.transition
                .snapshot(gpu, &mut encoder, &mut self.blitter, &self.current.chain);
        if instance.scene.inherit_feedback
            && let Some(from) = &snapshot
        {
            for i in 0..instance.scene.passes.len() {
                if !instance.scene.is_double_buffered(i) {
                    continue;
                }
                for (view, dst_size, format) in instance.chain.pass_views(i) {
                    self.blitter.copy(
                        &gpu.device,
                        &mut encoder,
                        (&from.view, from.size, crate::render::mix::MIX_FORMAT),
                        (view, dst_size, format),
                    );
                }
            }
        }
        gpu.queue.submit([encoder.finish()]);
        for (name, value) in sets {
            if let Err(e) = instance.params.set_now(name, *value) {
                tracing::warn!("playlist set {name}={value}: {e}");
            }
        }
        tracing::info!(
            "switching to {} ({})",
            instance.scene.name,
            match (&effect, fade_secs > 0.0) {
                (_, false) => "cut".to_string(),
                (Some(e), true) => format!("{fade_secs} s ISF transition {}", e.file().display()),
                (None, true) => format!("{fade_secs} s crossfade"),
            }
        );
        self.make_current(gpu, instance, false);
        // The new scene's own time starts now.
        self.time_origin = self.show_time.time_secs;
        self.transition.start(snapshot, fade_secs, effect);
    }

    /// Makes `instance` (with its params) the scene on screen and lets the old one go: GPU
    /// timing kept, the services follow the new scene (with `follow_osc`, a changed `[osc]`
    /// table restarts the OSC server; a playlist switch keeps the server as it is).
    fn make_current(&mut self, gpu: &Gpu, instance: Instance, follow_osc: bool) {
        let audio_changed = instance.scene.audio != self.current.scene.audio;
        self.replace_instance(gpu, instance);
        self.services.follow(
            &self.current.scene,
            &self.options.osc,
            &self.options.audio,
            follow_osc,
            audio_changed,
        );
    }

    /// Puts `instance` on screen (GPU timing re-armed when on) and drops the old one.
    fn replace_instance(&mut self, gpu: &Gpu, instance: Instance) {
        self.current = instance;
        if self.timing {
            self.current.chain.enable_timing(gpu);
        }
        self.rates.restart_models(self.current.nodes.len());
        self.released += 1;
    }

    /// Scenes let go so far (switches, reloads, GPU recoveries): each freed a scene's worth
    /// of memory on this thread and its workers' threads (the memory janitor watches this).
    #[must_use]
    pub fn released(&self) -> u64 {
        self.released
    }

    /// Renders at a new internal size from now on. Feedback buffers and model outputs are
    /// resampled into the new size, not cleared.
    ///
    /// # Errors
    /// When the GPU rejects a pipeline at the new size (the old size stays).
    pub fn resize(&mut self, gpu: &Gpu, size: [u32; 2]) -> Result<(), LoadError> {
        let size = [size[0].max(1), size[1].max(1)];
        if size == self.current.chain.scene_size() {
            return Ok(());
        }
        let current = &self.current;
        let mut chain = PassChain::new(
            gpu,
            &current.scene,
            &current.shaders,
            size,
            &current.model_sizes,
        )?;
        carry_over(
            gpu,
            &mut chain,
            &current.chain,
            &current.scene,
            &current.scene,
            &mut self.blitter,
        );
        self.current.media.upload_last(|i, pixels| {
            if let Some(texture) = chain.media_texture(i) {
                texture.write(&gpu.queue, pixels);
            }
        });
        self.current.chain = chain;
        if self.timing {
            self.current.chain.enable_timing(gpu);
        }
        self.options.size = Some(size);
        Ok(())
    }

    /// Rebuilds every GPU resource on `gpu` (a new device after the old one was lost) from
    /// the running scene as loaded (not re-read from disk): pipelines, targets, model nodes
    /// (models reloaded from their files). Params, OSC and audio carry on; feedback starts
    /// from black (its contents died with the device).
    ///
    /// # Errors
    /// When the new device rejects the scene or a model file cannot be loaded any more (the
    /// caller retries later).
    pub fn recover(&mut self, gpu: &Gpu) -> Result<(), LoadError> {
        let size = self.current.chain.scene_size();
        let models = load_models(&self.current.scene, &self.options, size, None)?;
        let prepared = Prepared {
            scene: self.current.scene.clone(),
            shaders: self.current.shaders.clone(),
            models,
            // The sources run on (their last frames fill the new textures).
            media: std::mem::take(&mut self.current.media),
        };
        let mut instance = match Instance::build(gpu, prepared, size, None, None) {
            Ok(i) => i,
            Err(e) => {
                // The sources went with the failed build: start them again for the next try.
                self.current.media = crate::media::MediaSet::start(
                    &self.current.scene,
                    crate::media::Strictness::Live,
                )
                .unwrap_or_default();
                return Err(e);
            }
        };
        // Params carry on.
        instance.params = self.current.params.clone();
        self.replace_instance(gpu, instance);
        self.blitter = Blitter::new(&gpu.device);
        self.transition.rebuild(&gpu.device);
        tracing::info!(
            "rebuilt `{}` on {}",
            self.current.scene.name,
            gpu.describe()
        );
        Ok(())
    }

    // ---- output level, transitions ----

    /// Output level 0..1, applied from the next frame (the schedule fades through it).
    pub fn set_level(&mut self, level: f32) {
        self.transition.set_level(level);
    }

    /// The output level.
    #[must_use]
    pub fn level(&self) -> f32 {
        self.transition.level()
    }

    /// Whether a transition is running.
    #[must_use]
    pub fn in_transition(&self) -> bool {
        self.transition.fading()
    }

    /// Draws the transition's own passes once (the snapshot copy and the crossfade) into a
    /// small target, so the first switch does not create or compile them on the frame.
    pub fn warm_transitions(&mut self, gpu: &Gpu) {
        self.transition
            .warm(gpu, &mut self.blitter, &self.current.chain);
    }

    // ---- services ----

    /// Queues a param change for the next frame, applied with that frame's OSC events
    /// (smoothed, clamped, echoed to feedback targets and sent to the [`ParamSink`] like an
    /// OSC change): the parameter panel and a replayed param log.
    pub fn queue_param(&mut self, name: &str, value: f32) {
        self.services.queue(name, value);
    }

    /// The OSC configuration the server runs with (its port and allow list), if it runs.
    #[must_use]
    pub fn osc_config(&self) -> Option<&crate::osc::OscConfig> {
        self.services.osc_config()
    }

    /// Routes an OSC packet that arrived another way (binary OSC over the OSCQuery
    /// WebSocket) through the OSC server as a datagram from `from`: same allow list, routes
    /// and clamping; applied next frame. False when no OSC server runs (the packet is dropped).
    pub fn inject_osc(&mut self, packet: &[u8], from: std::net::SocketAddr) -> bool {
        self.services.inject_osc(packet, from)
    }

    /// Sends every param change applied live (OSC, [`Self::queue_param`]) to `sink` from
    /// now on.
    pub fn set_param_sink(&mut self, sink: Option<Box<dyn ParamSink>>) {
        self.services.set_sink(sink);
    }

    /// Asks for another scene (next, previous, by index or name) as an OSC
    /// `/hypna/scene...` message does; a newer request replaces an older one.
    pub fn request_scene(&mut self, request: SceneRequest) {
        self.services.request_scene(request);
    }

    /// The newest scene request from OSC (next, previous, by index or name), taken: the show
    /// acts on it before the next frame.
    pub fn take_scene_request(&mut self) -> Option<SceneRequest> {
        self.services.take_scene_request()
    }

    /// The newest OSC `/hypna/record` request (true: start, false: stop), taken: the window
    /// acts on it.
    pub fn take_record_request(&mut self) -> Option<bool> {
        self.services.take_record_request()
    }

    /// From now on, a copy of the live audio input (mono f32 samples in a ring of `capacity`)
    /// and its sample rate, for a recording's sound; `None` without live audio.
    #[must_use]
    pub fn record_audio(&self, capacity: usize) -> Option<(rtrb::Consumer<f32>, u32)> {
        self.services.record_audio(capacity)
    }

    /// The WAV file an offline render analyses (`--audio-file`, or the scene's `[audio]
    /// file`), which a rendered video carries as its sound.
    #[must_use]
    pub fn offline_audio_file(&self) -> Option<&std::path::Path> {
        self.services.offline_audio_file()
    }

    /// Starts MIDI learn for the param `name` (the next CC, note or pitch bend moved binds
    /// to it and is saved to the settings file), or cancels it with `None`. False without
    /// MIDI or without such a param.
    pub fn midi_learn(&mut self, name: Option<&str>) -> bool {
        self.services.midi_learn(&self.current.scene.params, name)
    }

    /// The param waiting for MIDI learn, if any.
    #[must_use]
    pub fn midi_learning(&self) -> Option<&str> {
        let i = self.services.midi_learning()?;
        self.current.scene.params.get(i).map(|p| p.name.as_str())
    }

    /// MIDI's counters (ports, messages, drops), when MIDI is on.
    #[must_use]
    pub fn midi_status(&self) -> Option<crate::midi::MidiStatus> {
        self.services.midi_status()
    }

    /// Where the beat globals come from.
    #[must_use]
    pub fn beat_source(&self) -> crate::scene::midi::BeatSource {
        self.services.beat_source()
    }

    /// The newest audio features, when audio runs (with the beat fields of the beat source).
    #[must_use]
    pub fn audio_features(&self) -> Option<&AudioFeatures> {
        self.services.audio_features()
    }

    /// A one-line state of the audio input (device, reconnecting, file, off).
    #[must_use]
    pub fn audio_state(&self) -> String {
        self.services.audio_state()
    }

    /// The OSC server's address and counters, when it runs.
    #[must_use]
    pub fn osc_status(&self) -> Option<(std::net::SocketAddr, CounterSnapshot)> {
        self.services.osc_status()
    }

    /// Stops (or resumes) handing new jobs to every model; their last outputs stay on screen.
    pub fn set_models_paused(&mut self, paused: bool) {
        for node in &mut self.current.nodes {
            node.paused = paused;
        }
    }

    // ---- status ----

    /// Measures per-pass GPU time (for the HUD) when the device has timestamp queries;
    /// returns whether it does.
    pub fn enable_timing(&mut self, gpu: &Gpu) -> bool {
        self.timing = true;
        self.current.chain.enable_timing(gpu)
    }

    /// Stops measuring per-pass GPU time (nothing is queried or read back).
    pub fn disable_timing(&mut self) {
        self.timing = false;
        self.current.chain.disable_timing();
    }

    /// Whether per-pass GPU time is being measured.
    #[must_use]
    pub fn timing(&self) -> bool {
        self.timing
    }

    /// Frames per second, smoothed.
    #[must_use]
    pub fn fps(&self) -> f32 {
        self.rates.fps
    }

    /// Inferences per second of each model, sampled about once a second.
    #[must_use]
    pub fn model_rates(&self) -> Vec<f32> {
        self.rates.models()
    }

    /// A snapshot of how the runtime is doing (the health line prints it).
    #[must_use]
    pub fn status(&self) -> Status {
        Status {
            fps: self.rates.fps,
            frame: self.last_time.frame,
            scene: self.current.scene.name.clone(),
            models: self
                .current
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| ModelRate {
                    name: n.name().to_string(),
                    rate_hz: self.rates.model(i),
                    errors: n.counters().errors,
                })
                .collect(),
            audio_state: self.audio_state(),
            audio_level_db: self.audio_features().map(|f| f.level_db),
            osc: self.osc_status(),
            media: self.media_status(),
        }
    }

    /// The scene's media sources, in scene order.
    #[must_use]
    pub fn media_sources(&self) -> &[crate::media::Source] {
        self.current.media.sources()
    }

    /// The scene's media sources and how many of them are stalled (failed, or a camera or
    /// stream without a new frame for a second).
    #[must_use]
    pub fn media_status(&self) -> (usize, usize) {
        let media = &self.current.media;
        (media.sources().len(), media.stalled())
    }
}
