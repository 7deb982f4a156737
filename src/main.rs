//! The `hypna` command line, and only that: parses arguments, calls the library, prints what
//! it returns (reports print themselves) and errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use hypna::render::blit::Fit;
use hypna::render::context::{Gpu, describe_adapter, list_adapters};
use hypna::render::png::{OnFailure, Pixels, PngWriter};
use hypna::runtime::{AudioMode, MidiMode, OscMode, RenderSettings, RuntimeOptions};

/// hypna: realtime generative art from WGSL shaders and ONNX models.
#[derive(Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Also write the log to this file, rotated by size (installations: see
    /// docs/installation.md).
    #[arg(long, global = true, value_name = "PATH")]
    log_file: Option<PathBuf>,
    /// With --log-file: rotate when the file reaches this many MB.
    #[arg(long, global = true, default_value_t = 10, value_name = "MB")]
    log_max_mb: u64,
    /// With --log-file: rotated files to keep (older ones are deleted).
    #[arg(long, global = true, default_value_t = 5, value_name = "N")]
    log_keep: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Open a window and play a scene (Esc quits).
    Run {
        /// The scene file (.toml).
        scene: PathBuf,
        /// Internal render size, e.g. 1280x720 (default: the scene's size).
        #[arg(long, value_parser = parse_size)]
        size: Option<[u32; 2]>,
        /// Set a param: name=value (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// Quit after this many frames.
        #[arg(long)]
        frames: Option<u64>,
        /// How the output fits the window.
        #[arg(long, value_enum, default_value_t = FitArg::Letterbox)]
        fit: FitArg,
        #[command(flatten)]
        window: WindowArgs,
        #[command(flatten)]
        models: ModelArgs,
        #[command(flatten)]
        osc: OscArgs,
        #[command(flatten)]
        audio: AudioArgs,
        #[command(flatten)]
        remote: RemoteArgs,
        #[command(flatten)]
        encode: EncodeArgs,
    },
    /// Render frames to PNG files or a video with a fixed-step clock (deterministic).
    Render {
        /// The scene file (.toml).
        scene: PathBuf,
        /// Number of frames.
        #[arg(long, default_value_t = 1)]
        frames: u64,
        /// Render size, e.g. 640x360 (default: the scene's size).
        #[arg(long, value_parser = parse_size)]
        size: Option<[u32; 2]>,
        /// Frames per second of the fixed clock.
        #[arg(long, default_value_t = 30.0)]
        fps: f64,
        /// Set a param: name=value (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        sets: Vec<String>,
        /// Output: a folder (created if missing) of `frame_00000.png`, ...; or a video file
        /// (.mp4, .mov, .mkv, .webm) with the --audio-file (or the scene's) as its sound.
        #[arg(long)]
        out: PathBuf,
        /// Replay param changes recorded live with `run --record-params`, at their times.
        #[arg(long, value_name = "FILE")]
        replay_params: Option<PathBuf>,
        /// Write only the last frame (the others are rendered but not saved).
        #[arg(long)]
        last_only: bool,
        #[command(flatten)]
        models: ModelArgs,
        #[command(flatten)]
        osc: OscArgs,
        #[command(flatten)]
        audio: AudioArgs,
        #[command(flatten)]
        encode: EncodeArgs,
    },
    /// Print an ONNX model's inputs and outputs (names, element types, shapes).
    Inspect {
        /// The .onnx file.
        model: PathBuf,
        /// List the candidate dream layers instead (names, shapes, depth; no ONNX Runtime
        /// needed).
        #[arg(long)]
        layers: bool,
        /// With --layers: the image size for the shapes when the model leaves it free.
        #[arg(long, value_parser = parse_size, default_value = "224x224", requires = "layers")]
        size: [u32; 2],
        #[command(flatten)]
        models: ModelArgs,
    },
    /// Compile a dream model (deep dreaming) from an ONNX image classifier (see docs/dream.md).
    Dreamify(Box<DreamifyArgs>),
    /// Validate scenes, their shaders (naga), references and model bindings, without a GPU.
    Check {
        /// Scene files.
        #[arg(required = true)]
        scenes: Vec<PathBuf>,
        /// ONNX Runtime library file or folder (default: searched).
        #[arg(long, value_name = "PATH")]
        ort_lib: Option<PathBuf>,
    },
    /// Fuzz the file formats: mutations of the shipped scenes, shaders, playlists and a
    /// settings file through `check` and a headless load (docs/fuzzing.md). Exit 1 when a
    /// case fails (panic, abort, hang, unbounded memory, unlocated error, check/render mismatch).
    Fuzz {
        /// Stop after this many seconds.
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
        /// Stop after this many cases (also bounded by --seconds).
        #[arg(long, default_value_t = u64::MAX)]
        cases: u64,
        /// Seed of every case (cases are a function of seed and case number).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First case number.
        #[arg(long, default_value_t = 0)]
        first: u64,
        /// Seconds after which a case counts as a hang.
        #[arg(long, default_value_t = 30.0)]
        case_timeout: f64,
        /// Resident memory of a worker, in MiB, above which its case fails.
        #[arg(long, default_value_t = 4096)]
        memory_limit_mib: u64,
        /// The project whose scenes/, shaders/ and models/ are mutated (default: this build's).
        #[arg(long)]
        root: Option<PathBuf>,
        /// Where failing cases are written.
        #[arg(long, default_value = "fuzz-failures")]
        out: PathBuf,
        /// Internal: run cases as a worker process (one per crash).
        #[arg(long, hide = true)]
        worker: bool,
    },
    /// List GPU adapters, the ONNX Runtime found, monitors, audio inputs and cameras (with
    /// their modes).
    Devices {
        /// ONNX Runtime library file or folder to report on (default: searched).
        #[arg(long, value_name = "PATH")]
        ort_lib: Option<PathBuf>,
    },
    /// Benchmarks. Default: hypna's frame time against a bare wgpu loop drawing the same
    /// shader. `--models`: model I/O overhead, feeding gaps and frame times with a model.
    Bench {
        /// The scene (default: scenes/landscape.toml, or scenes/dream.toml with --models).
        #[arg(long)]
        scene: Option<PathBuf>,
        /// Render size.
        #[arg(long, value_parser = parse_size, default_value = "1280x720")]
        size: [u32; 2],
        /// Frames per round and loop (default: 20, or 60 with --models).
        #[arg(long)]
        frames: Option<u32>,
        /// Interleaved rounds.
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        /// Measure a model scene instead (ONNX Runtime limited to --threads).
        #[arg(long)]
        models: bool,
        /// Measure audio analysis instead: cost per hop and capture-to-features latency on
        /// synthetic input (no device or GPU needed).
        #[arg(long, conflicts_with_all = ["models", "osc"])]
        audio: bool,
        /// Score beat tracking instead, on the annotated clips in DIR (NAME.wav + NAME.beats,
        /// as scripts/beat-eval-set.py writes them): the neural tracker, the classic tracker
        /// and `aubio beat`, per clip and on average (no device or GPU needed).
        #[arg(long, value_name = "DIR", conflicts_with_all = ["models", "osc", "audio", "window", "transition"])]
        beats: Option<PathBuf>,
        /// With --beats: write every tracker's beat times to this folder.
        #[arg(long, value_name = "DIR", requires = "beats")]
        beats_dump: Option<PathBuf>,
        /// ONNX Runtime threads for --models, 1..=64.
        #[arg(long, default_value_t = 1, value_parser = parse_threads)]
        threads: usize,
        /// With --models: the classifier whose dream step is measured against its forward
        /// pass and against ONNX Runtime alone (default: the installed EfficientNet-Lite0).
        #[arg(long, value_name = "ONNX", requires = "models")]
        dream_classifier: Option<PathBuf>,
        /// With --models: the dream layers of that measurement.
        #[arg(
            long,
            value_name = "NAMES",
            value_delimiter = ',',
            default_value = "block9,block10",
            requires = "models"
        )]
        dream_layers: Vec<String>,
        /// With --models: dream resolutions measured.
        #[arg(long, value_name = "WxH", value_delimiter = ',', value_parser = parse_size, default_value = "384x216,512x288,768x432", requires = "models")]
        dream_sizes: Vec<[u32; 2]>,
        /// With --models: timed runs of each model per resolution.
        #[arg(long, default_value_t = 10, requires = "models")]
        dream_runs: usize,
        /// With --models: measure the scene's first model at each of these batch sizes
        /// (e.g. `--batch 1,4,16`), with a table of time per run and per sample. Default: the
        /// scene's own `batch`.
        #[arg(long, value_delimiter = ',', requires = "models")]
        batch: Vec<usize>,
        /// Measure OSC instead: ingest rate and loss on loopback, send-to-uniform latency in
        /// frames, and frame time under 5,000 messages/s (default scene: scenes/flow.toml at
        /// 640x360).
        #[arg(long, conflicts_with = "models")]
        osc: bool,
        /// Measure the live window instead: `hypna run`'s frame (acquire, render, present)
        /// against the same scene headless on the same device (needs a display).
        #[arg(long, conflicts_with_all = ["models", "osc", "audio"])]
        window: bool,
        /// Measure a pre-warmed playlist switch instead: every frame around a crossfade from
        /// --scene (default scenes/flow.toml) to --to (default scenes/dream.toml, a model
        /// scene of similar cost).
        #[arg(long, conflicts_with_all = ["models", "osc", "audio", "window"])]
        transition: bool,
        /// Measure media instead: a 1280x720 video source against the same scene with a
        /// still image (frame times and their ratio, in one run; needs ffmpeg).
        #[arg(long, conflicts_with_all = ["models", "osc", "audio", "window", "transition"])]
        media: bool,
        /// With --transition: the scene switched to.
        #[arg(long, value_name = "SCENE")]
        to: Option<PathBuf>,
        /// Measure live recording instead: `hypna run`'s frame with recording on against
        /// off (p99 ratio, dropped frames), in a window (needs a display and ffmpeg).
        #[arg(long, conflicts_with_all = ["models", "osc", "audio", "window", "transition", "media"])]
        record: bool,
        #[command(flatten)]
        encode: EncodeArgs,
    },
}

/// `hypna dreamify`: what to dream and how.
#[derive(clap::Args)]
#[allow(clippy::struct_excessive_bools)] // independent command-line flags
struct DreamifyArgs {
    /// The classifier (.onnx): a float32 NCHW image in, any outputs.
    model: PathBuf,
    /// A value to dream (repeatable); `hypna inspect MODEL --layers` lists candidates.
    #[arg(long = "layer", value_name = "NAME")]
    layers: Vec<String>,
    /// Where to write the dream model.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Objectives, summed (repeatable): layer (input `layer_weights`), channels (input
    /// `channel_weights`), class (input `class_weights`).
    #[arg(long = "objective", value_enum, default_values_t = [ObjectiveArg::Layer])]
    objectives: Vec<ObjectiveArg>,
    /// The layer of the `channels` objective (default: the only --layer).
    #[arg(long, value_name = "NAME")]
    channels_layer: Option<String>,
    /// The logits of the `class` objective (default: the first output, or the input of the
    /// Softmax that makes it).
    #[arg(long, value_name = "NAME")]
    logits: Option<String>,
    /// `image`: the dreamed image; `gradient`: the bare gradient (for shaders and tests).
    #[arg(long, value_enum, default_value_t = OutputArg::Image)]
    output: OutputArg,
    /// Ascent steps per octave in one run.
    #[arg(long, default_value_t = 1)]
    iterations: u32,
    /// Scales the step runs at, each --octave-scale smaller than the last.
    #[arg(long, default_value_t = 1)]
    octaves: u32,
    /// Size ratio between octaves.
    #[arg(long, default_value_t = 1.4)]
    octave_scale: f32,
    /// Radius in pixels of a Gaussian blur of the gradient; adds the input `smooth` (sigma).
    #[arg(long, default_value_t = 0, value_name = "PX")]
    smooth_radius: u32,
    /// Leave out the `jitter` input (whole-pixel rolls).
    #[arg(long)]
    no_jitter: bool,
    /// The classifier's input is image * SCALE (e.g. 255), then --mean and --std.
    #[arg(long, default_value_t = 1.0)]
    scale: f32,
    /// Per-channel mean subtracted after --scale, in the classifier's channel order: R,G,B.
    #[arg(long, value_parser = parse_triple, value_name = "R,G,B")]
    mean: Option<[f32; 3]>,
    /// Per-channel divisor after --mean: R,G,B.
    #[arg(long, value_parser = parse_triple, value_name = "R,G,B")]
    std: Option<[f32; 3]>,
    /// The classifier wants BGR (Caffe models).
    #[arg(long)]
    bgr: bool,
    /// Declare height and width free even if the classifier fixes them (octaves imply it).
    #[arg(long)]
    free_size: bool,
    /// The classifier's image input (default: its first non-constant input).
    #[arg(long, value_name = "NAME")]
    input: Option<String>,
    /// The `class` objective takes the index of one class (input `class`, float32 [1],
    /// rounded) instead of a weight per class: a scene binds it to a param.
    #[arg(long)]
    class_index: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum ObjectiveArg {
    Layer,
    Channels,
    Class,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputArg {
    Image,
    Gradient,
}

fn parse_triple(s: &str) -> Result<[f32; 3], String> {
    let v: Vec<f32> = s
        .split(',')
        .map(|p| p.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("`{s}`: {e}"))?;
    <[f32; 3]>::try_from(v).map_err(|_| format!("`{s}` is not three numbers R,G,B"))
}

fn dreamify(a: &DreamifyArgs) -> Result<()> {
    use hypna::dream::{Mapping, Objective, Options, Output};
    let opts = Options {
        layers: a.layers.clone(),
        objectives: a
            .objectives
            .iter()
            .map(|o| match o {
                ObjectiveArg::Layer => Objective::Layer,
                ObjectiveArg::Channels => Objective::Channels,
                ObjectiveArg::Class => Objective::Class,
            })
            .collect(),
        channels_layer: a.channels_layer.clone(),
        logits: a.logits.clone(),
        output: match a.output {
            OutputArg::Image => Output::Image,
            OutputArg::Gradient => Output::Gradient,
        },
        iterations: a.iterations,
        octaves: a.octaves,
        octave_scale: a.octave_scale,
        smooth_radius: a.smooth_radius,
        jitter: !a.no_jitter,
        mapping: Mapping {
            scale: a.scale,
            mean: a.mean.unwrap_or([0.0; 3]),
            std: a.std.unwrap_or([1.0; 3]),
            bgr: a.bgr,
        },
        free_size: a.free_size,
        input: a.input.clone(),
        class_index: a.class_index,
    };
    let compiled = hypna::dream::compile_file(&a.model, &opts)
        .with_context(|| format!("dreamify {}", a.model.display()))?;
    compiled.write(&a.out)?;
    let nodes = compiled.model.graph.as_ref().map_or(0, |g| g.node.len());
    println!("wrote {} ({nodes} nodes)", a.out.display());
    print!("{}", compiled.summary());
    Ok(())
}

/// ONNX Runtime choices shared by `run`, `render` and `inspect`.
#[derive(clap::Args, Clone, Default)]
struct ModelArgs {
    /// ONNX Runtime library file or folder (default: searched; see docs/models.md).
    #[arg(long, value_name = "PATH")]
    ort_lib: Option<PathBuf>,
    /// Execution provider for every model: cpu, cuda, tensorrt, directml, coreml, rocm, openvino.
    /// Unavailable providers fall back to cpu with a warning.
    #[arg(long)]
    provider: Option<hypna::infer::Ep>,
    /// Threads per model inside ONNX Runtime, 1..=64 (default: the scene's, else 1).
    #[arg(long, value_parser = parse_threads)]
    threads: Option<usize>,
}

/// Video choices of `render --out FILE` and `run --record`/`--stream` (docs/media.md).
#[derive(clap::Args, Clone, Default)]
struct EncodeArgs {
    /// Video codec: h264 (default; av1 for .webm), hevc, av1 or prores.
    #[arg(long, value_parser = parse_codec)]
    codec: Option<hypna::media::codec::Codec>,
    /// An ffmpeg encoder by name, e.g. a hardware one: `h264_nvenc`, `hevc_vaapi`, `h264_qsv`
    /// (`ffmpeg -encoders` lists what this ffmpeg has). Default: the codec's software encoder.
    #[arg(long, value_name = "NAME")]
    encoder: Option<String>,
    /// Constant quality, lower is better (libx264: 0-51, default 18; libx265 default 22;
    /// AV1: 0-63, default 32).
    #[arg(long, conflicts_with = "bitrate")]
    crf: Option<u32>,
    /// Target bitrate instead of constant quality: kbit/s, or with k/M (e.g. 8M).
    #[arg(long, value_parser = parse_bitrate, value_name = "RATE")]
    bitrate: Option<u32>,
}

impl EncodeArgs {
    fn settings(
        &self,
        target: hypna::media::codec::Target,
        fps: f64,
    ) -> hypna::media::codec::EncodeSettings {
        let mut s = hypna::media::codec::EncodeSettings::new(target, [0, 0], fps);
        s.codec = self.codec;
        s.encoder.clone_from(&self.encoder);
        s.crf = self.crf;
        s.bitrate_kbps = self.bitrate;
        s
    }

    fn given(&self) -> bool {
        self.codec.is_some()
            || self.encoder.is_some()
            || self.crf.is_some()
            || self.bitrate.is_some()
    }
}

fn parse_codec(s: &str) -> Result<hypna::media::codec::Codec, String> {
    s.parse()
        .map_err(|e: hypna::media::codec::PlanError| e.to_string())
}

/// `8000`, `8000k` or `8M` as kbit/s.
fn parse_bitrate(s: &str) -> Result<u32, String> {
    let t = s.trim().to_ascii_lowercase();
    let (digits, scale) = match t.strip_suffix('m') {
        Some(d) => (d, 1000.0),
        None => (t.strip_suffix('k').unwrap_or(&t), 1.0),
    };
    match digits.parse::<f64>() {
        Ok(v) if v.is_finite() && v * scale >= 1.0 && v * scale <= 1_000_000.0 =>
        {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok((v * scale).round() as u32)
        }
        _ => Err(format!(
            "`{s}` is not a bitrate from 1k to 1000M (e.g. 8000, 8000k or 8M)"
        )),
    }
}

/// OSC choices of `run` and `render`.
#[derive(clap::Args, Clone, Default)]
struct OscArgs {
    /// A settings file whose `[osc]` table replaces the scene's (e.g. the venue's network
    /// setup). Default: `hypna.toml` in the current folder, when there is one.
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,
    /// Listen for OSC on this address (e.g. 0.0.0.0:9000), overriding the scene's [osc] table.
    /// `run` listens by default (0.0.0.0:9000); `render` only when this is given.
    #[arg(long, value_name = "HOST:PORT")]
    osc: Option<std::net::SocketAddr>,
    /// Do not listen for OSC.
    #[arg(long, conflicts_with = "osc")]
    no_osc: bool,
    /// Do not open MIDI ports (`run` opens every port by default; docs/midi.md).
    #[arg(long)]
    no_midi: bool,
    /// Where the beat globals come from: audio, midi (MIDI clock), link (Ableton Link, with
    /// the `link` feature) or tap. Default: the settings file's `[midi] beat_source`, else
    /// audio (docs/tempo.md).
    #[arg(long, value_name = "SOURCE", value_parser = parse_beat_source)]
    beat_source: Option<hypna::scene::midi::BeatSource>,
}

fn parse_beat_source(s: &str) -> Result<hypna::scene::midi::BeatSource, String> {
    hypna::scene::midi::BeatSource::parse(s).map_err(|e| e.to_string())
}

/// The browser remote and OSCQuery server of `run`.
#[derive(clap::Args, Clone, Default)]
struct RemoteArgs {
    /// Serve OSCQuery and the browser remote on this address (default 127.0.0.1:9080, this
    /// machine only; e.g. 0.0.0.0:9080 for phones on the network, with the token for control).
    #[arg(long, value_name = "HOST:PORT")]
    http: Option<std::net::SocketAddr>,
    /// No HTTP server (no OSCQuery, no browser remote).
    #[arg(long, conflicts_with = "http")]
    no_http: bool,
    /// Do not advertise OSCQuery over mDNS/DNS-SD.
    #[arg(long)]
    no_mdns: bool,
}

impl RemoteArgs {
    /// The remote to run beside the show, from the settings file's `[http]` table and the
    /// flags; `None` when turned off.
    fn remote(&self, osc: &OscArgs) -> Option<hypna::ops::RemoteOps> {
        let settings = osc.settings_file().map(|s| s.http).unwrap_or_default();
        if self.no_http || !settings.enabled {
            return None;
        }
        let mut config = hypna::remote::RemoteConfig::from_settings(&settings);
        if let Some(listen) = self.http {
            config.listen = listen;
        }
        config.mdns = config.mdns && !self.no_mdns;
        Some(hypna::ops::RemoteOps::new(config, settings.allow.is_none()))
    }
}

/// Audio choices of `run` and `render`.
#[derive(clap::Args, Clone, Default)]
struct AudioArgs {
    /// Audio input device: `default`, part of a name, or an index from `hypna devices`
    /// (overrides the scene's [audio] device and file). `run` only.
    #[arg(long, value_name = "NAME|INDEX")]
    audio_device: Option<String>,
    /// A WAV file to analyse instead of a device (overrides the scene's [audio] file): `run`
    /// plays it in real time, `render` reads it exactly (frame N sees the audio up to N/fps).
    #[arg(long, value_name = "FILE", conflicts_with = "audio_device")]
    audio_file: Option<PathBuf>,
    /// No audio input, even if the scene has an [audio] table.
    #[arg(long, conflicts_with_all = ["audio_device", "audio_file"])]
    no_audio: bool,
}

impl AudioArgs {
    /// Live audio for `run`.
    fn live(&self) -> AudioMode {
        if self.no_audio {
            AudioMode::Off
        } else {
            AudioMode::Live {
                device: self.audio_device.clone(),
                file: self.audio_file.clone(),
            }
        }
    }

    /// Offline audio for `render` at `fps`.
    fn offline(&self, fps: f64) -> Result<AudioMode> {
        if self.audio_device.is_some() {
            bail!("render analyses a WAV file (--audio-file), not a live device");
        }
        Ok(if self.no_audio {
            AudioMode::Off
        } else {
            AudioMode::Offline {
                file: self.audio_file.clone(),
                fps,
            }
        })
    }
}

impl OscArgs {
    /// The settings file, if one is given or `hypna.toml` exists. A broken one is reported
    /// and ignored (the show runs with the scene's settings and the defaults).
    fn settings_file(&self) -> Option<hypna::settings::Settings> {
        let path = self
            .settings
            .clone()
            .or_else(|| Some(PathBuf::from("hypna.toml")).filter(|p| p.is_file()))?;
        match hypna::settings::load(&path) {
            Ok(settings) => Some(settings),
            Err(e) => {
                tracing::error!("{e}; using the scene's settings and the defaults");
                None
            }
        }
    }

    /// MIDI for `run` (`on`): the settings' `[midi]` table or the defaults; MIDI learn saves
    /// into the settings file given, else `hypna.toml` here.
    fn midi(&self, settings: Option<&hypna::settings::Settings>, on: bool) -> MidiMode {
        if self.no_midi || !on {
            return MidiMode::Off;
        }
        MidiMode::On {
            config: Box::new(settings.and_then(|s| s.midi.clone()).unwrap_or_default()),
            settings: Some(
                self.settings
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("hypna.toml")),
            ),
        }
    }
}

impl ModelArgs {
    /// `osc_by_default`: whether to listen when neither `--osc` nor `--no-osc` is given.
    fn runtime(
        self,
        size: Option<[u32; 2]>,
        sets: Vec<String>,
        sync_models: bool,
        osc: &OscArgs,
        osc_by_default: bool,
    ) -> RuntimeOptions {
        let settings = osc.settings_file();
        let beat_source = osc
            .beat_source
            .or_else(|| {
                settings
                    .as_ref()
                    .and_then(|s| s.midi.as_ref())
                    .map(|m| m.beat_source)
            })
            .unwrap_or_default();
        let midi = osc.midi(settings.as_ref(), osc_by_default);
        let osc = if osc.no_osc {
            OscMode::Off
        } else if osc.osc.is_some() || osc_by_default || osc.settings.is_some() {
            OscMode::On {
                listen: osc.osc,
                settings: settings.and_then(|s| s.osc).map(Box::new),
            }
        } else {
            OscMode::Off
        };
        RuntimeOptions {
            midi,
            beat_source,
            size,
            sets,
            ort_lib: self.ort_lib,
            provider: self.provider,
            threads: self.threads,
            sync_models,
            osc,
            audio: AudioMode::Off,
        }
    }
}

/// Window options of `hypna run`.
#[derive(clap::Args, Debug, Clone)]
#[allow(clippy::struct_excessive_bools)] // one per command-line switch
struct WindowArgs {
    /// Start in borderless fullscreen (key F toggles).
    #[arg(long)]
    fullscreen: bool,
    /// Open on this monitor: an index or part of its name (`hypna devices` lists them).
    #[arg(long, value_name = "NAME|INDEX")]
    monitor: Option<String>,
    /// Frame pacing: vsync (default), mailbox or immediate.
    #[arg(long, value_enum, default_value_t = PresentArg::Vsync)]
    present: PresentArg,
    /// Restore the window's size, position and fullscreen state from the last run, and
    /// save them at exit (in `$XDG_CONFIG_HOME/hypna/window.toml`).
    #[arg(long)]
    remember_window: bool,
    /// Render at the window's size (feedback is resampled when the window resizes) instead of
    /// the scene's size.
    #[arg(long, conflicts_with = "size")]
    follow_window: bool,
    /// Installation kiosk: no quit keys, no overlay, no cursor; SIGTERM stops cleanly.
    #[arg(long)]
    kiosk: bool,
    /// Show the HUD from the start (key H toggles).
    #[arg(long)]
    hud: bool,
    /// Do not watch the scene's files for changes (key R still reloads).
    #[arg(long)]
    no_watch: bool,
    /// Use a fixed-step clock at this frame rate instead of the wall clock (frame N then shows
    /// the same moment as frame N of `hypna render`).
    #[arg(long, value_name = "FPS")]
    fixed_fps: Option<f64>,
    /// Folder for screenshots taken with S.
    #[arg(long, default_value = ".", value_name = "DIR")]
    screenshot_dir: PathBuf,
    /// Write presented frames (what the window shows) as PNGs into this folder.
    #[arg(long, value_name = "DIR")]
    capture: Option<PathBuf>,
    /// With --capture: every Nth frame.
    #[arg(long, default_value_t = 1, value_name = "N")]
    capture_every: u64,
    /// Record every live param change (OSC, parameter panel) with its time into FILE, for
    /// `hypna render --replay-params FILE`.
    #[arg(long, value_name = "FILE")]
    record_params: Option<PathBuf>,
    /// Record the output (the scene's render, never the overlay) to this video file (.mp4,
    /// .mov, .mkv, .webm) from the start, with the live audio input as sound. V stops and
    /// starts again (into FILE-2, ...); OSC `/hypna/record start|stop` too.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Stream the output with low-latency settings to this URL: srt://host:port,
    /// udp://host:port, rtp://host:port or an rtmp:// URL.
    #[arg(long, value_name = "URL", conflicts_with = "record")]
    stream: Option<String>,
    /// Frame rate of --record, --stream and V-key recordings.
    #[arg(long, default_value_t = 30.0, value_name = "FPS")]
    record_fps: f64,
    /// Record or stream the picture only, without the live audio input.
    #[arg(long)]
    record_no_audio: bool,
    /// Seconds between health lines in the log (0: none).
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    health_every: f64,
    /// Testing: SIGUSR1 destroys the GPU device, to exercise the recovery.
    #[arg(long, hide = true)]
    debug_lose_device_on_usr1: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PresentArg {
    Vsync,
    Mailbox,
    Immediate,
}

#[derive(Clone, Copy, ValueEnum)]
enum FitArg {
    Letterbox,
    Fill,
}

fn parse_size(s: &str) -> Result<[u32; 2], String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{s}` is not WIDTHxHEIGHT (e.g. 1280x720)"))?;
    let side = |v: &str| match v.trim().parse::<u32>() {
        Ok(n) if (1..=16384).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{s}`: each side must be a whole number from 1 to 16384"
        )),
    };
    Ok([side(w)?, side(h)?])
}

fn main() -> ExitCode {
    quiet_vulkan_device_select();
    let cli = Cli::parse();
    if let Err(e) = init_logging(&cli) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--threads`: as `[runtime] threads`, 1 to [`hypna::scene::validate::MAX_THREADS`].
fn parse_threads(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    let max = hypna::scene::validate::MAX_THREADS as usize;
    if (1..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} is not between 1 and {max}"))
    }
}

/// Without a desktop session (`XDG_RUNTIME_DIR` unset or not an absolute path, as under
/// systemd, SSH or in a container), Mesa's implicit Vulkan layer `VK_LAYER_MESA_device_select`
/// tries to reach a Wayland compositor while wgpu lists adapters, and libwayland prints
/// `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` twice, which reads like
/// a failure of hypna. The layer only picks
/// among several GPUs (`MESA_VK_DEVICE_SELECT`), so it is switched off (`NODEVICE_SELECT=1`,
/// the layer's own off switch) when no session is there and nobody asked for a selection.
fn quiet_vulkan_device_select() {
    // libwayland's own test: unset, or not an absolute path ("invalid").
    let no_session =
        std::env::var_os("XDG_RUNTIME_DIR").is_none_or(|d| !std::path::Path::new(&d).is_absolute());
    if no_session
        && std::env::var_os("MESA_VK_DEVICE_SELECT").is_none()
        && std::env::var_os("NODEVICE_SELECT").is_none()
    {
        // SAFETY: first thing in `main`, before any thread is started, so nothing reads the
        // environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("NODEVICE_SELECT", "1");
        }
    }
}

fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Run {
            scene,
            size,
            sets,
            frames,
            fit,
            window,
            models,
            osc,
            audio,
            remote,
            encode,
        } => {
            let fit = match fit {
                FitArg::Letterbox => Fit::Letterbox,
                FitArg::Fill => Fit::Fill,
            };
            let runtime = RuntimeOptions {
                audio: audio.live(),
                ..models.runtime(size, sets, false, &osc, true)
            };
            let housekeeping = hypna::ops::Housekeeping::new(
                window.health_every,
                window.record_params,
                scene.clone(),
            );
            let mut options = hypna::window::RunOptions::new(scene, runtime);
            options.frames = frames;
            options.fit = fit;
            options.fullscreen = window.fullscreen;
            options.monitor = window.monitor;
            options.present = match window.present {
                PresentArg::Vsync => hypna::window::PresentChoice::Vsync,
                PresentArg::Mailbox => hypna::window::PresentChoice::Mailbox,
                PresentArg::Immediate => hypna::window::PresentChoice::Immediate,
            };
            options.remember_window = window.remember_window;
            options.follow_window = window.follow_window;
            options.kiosk = window.kiosk;
            options.hud = window.hud;
            options.watch = !window.no_watch;
            options.fixed_fps = window.fixed_fps;
            options.screenshot_dir = window.screenshot_dir;
            options.capture = window.capture.map(|dir| hypna::window::CaptureOptions {
                dir,
                every: window.capture_every,
            });
            if !(window.record_fps.is_finite() && window.record_fps > 0.0) {
                bail!("--record-fps must be a positive number");
            }
            let target = match (&window.record, &window.stream) {
                (Some(path), _) => {
                    if !hypna::media::codec::Target::is_video_file(path) {
                        bail!(
                            "--record {}: use a video file name (.mp4, .mov, .mkv or .webm)",
                            path.display()
                        );
                    }
                    Some(hypna::media::codec::Target::File(path.clone()))
                }
                (None, Some(url)) => Some(hypna::media::codec::Target::Stream(url.clone())),
                (None, None) => None,
            };
            // Without --record/--stream, the V key records to the screenshot folder.
            let key =
                hypna::window::RecordOptions::key_default(&options.screenshot_dir, &options.scene);
            let start = target.is_some();
            let mut settings =
                encode.settings(target.unwrap_or(key.settings.target), window.record_fps);
            settings.live = true;
            options.record = Some(hypna::window::RecordOptions {
                settings,
                start,
                audio: !window.record_no_audio,
            });
            if window.debug_lose_device_on_usr1 {
                let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                signal_hook::flag::register(
                    signal_hook::consts::SIGUSR1,
                    std::sync::Arc::clone(&flag),
                )?;
                options.lose_device = Some(flag);
            }
            options.stop = Some(hypna::window::stop_on_signals()?);
            options.hangup = Some(hypna::window::reload_on_hangup()?);
            let mut housekeeping = housekeeping;
            if let Some(r) = remote.remote(&osc) {
                housekeeping.set_remote(r);
            }
            hypna::window::run(options, &mut housekeeping)?;
            Ok(())
        }
        Command::Inspect {
            model,
            layers: true,
            size,
            ..
        } => {
            let size = (i64::from(size[0]), i64::from(size[1]));
            print!("{}", hypna::dream::layer_table(&model, Some(size))?);
            Ok(())
        }
        Command::Dreamify(args) => dreamify(&args),
        Command::Inspect { model, models, .. } => {
            hypna::infer::init(&hypna::infer::InitOptions {
                ort_lib: models.ort_lib.clone(),
            })?;
            let options = hypna::infer::SessionOptions {
                ep: models.provider.unwrap_or_default(),
                intra_threads: models.threads.unwrap_or(1),
                ..hypna::infer::SessionOptions::default()
            };
            print!("{}", hypna::infer::inspect(&model, &options)?);
            Ok(())
        }
        Command::Render {
            scene,
            frames,
            size,
            fps,
            sets,
            out,
            replay_params,
            last_only,
            models,
            osc,
            audio,
            encode,
        } => render(
            &scene,
            frames,
            fps,
            &RuntimeOptions {
                audio: audio.offline(fps)?,
                ..models.runtime(size, sets, true, &osc, false)
            },
            &RenderOut {
                out: &out,
                last_only,
                encode: &encode,
            },
            replay_params.as_deref(),
        ),
        Command::Check { scenes, ort_lib } => {
            let report = hypna::show::check::check(&scenes, ort_lib.as_ref());
            for line in &report.lines {
                match line {
                    hypna::show::check::CheckLine::Ok(text) => println!("{text}"),
                    hypna::show::check::CheckLine::Problem(text) => eprintln!("{text}"),
                }
            }
            if report.failed > 0 {
                bail!(
                    "{} of {} files failed the check",
                    report.failed,
                    report.files
                );
            }
            Ok(())
        }
        Command::Fuzz {
            seconds,
            cases,
            seed,
            first,
            case_timeout,
            memory_limit_mib,
            root,
            out,
            worker,
        } => {
            let root = root.unwrap_or_else(|| hypna::fuzz::default_root().to_path_buf());
            if worker {
                hypna::fuzz::run_worker(&root, seed, first, cases)?;
                return Ok(());
            }
            let options = hypna::fuzz::FuzzOptions {
                seed,
                first,
                budget: std::time::Duration::from_secs_f64(seconds.max(0.0)),
                max_cases: cases,
                case_timeout: std::time::Duration::from_secs_f64(case_timeout.max(0.1)),
                memory_limit_bytes: memory_limit_mib.saturating_mul(1 << 20),
                root: root.clone(),
                out,
            };
            let exe =
                std::env::current_exe().context("cannot find this program to start workers")?;
            let report = hypna::fuzz::run(&options, |from| {
                let mut command = std::process::Command::new(&exe);
                command
                    .arg("fuzz")
                    .arg("--worker")
                    .arg("--root")
                    .arg(&root)
                    .arg("--seed")
                    .arg(seed.to_string())
                    .arg("--first")
                    .arg(from.to_string());
                command
            })?;
            print!("{report}");
            if !report.failures.is_empty() {
                bail!(
                    "{} of {} fuzz cases failed",
                    report.failures.len(),
                    report.cases
                );
            }
            Ok(())
        }
        Command::Devices { ort_lib } => {
            let adapters = list_adapters();
            println!("GPU adapters:");
            if adapters.is_empty() {
                println!(
                    "  none found (on Linux without a GPU: apt-get install mesa-vulkan-drivers libvulkan1)"
                );
            }
            for (i, info) in adapters.iter().enumerate() {
                println!("  [{i}] {}", describe_adapter(info));
            }
            match hypna::infer::init(&hypna::infer::InitOptions { ort_lib }) {
                Ok(info) => println!(
                    "ONNX Runtime:\n  {}",
                    info.to_string().replace('\n', "\n  ")
                ),
                Err(e) => println!(
                    "ONNX Runtime: not available (model scenes will not load; shader-only scenes run)\n  {}",
                    e.to_string().replace('\n', "\n  ")
                ),
            }
            println!("Monitors:");
            match hypna::window::list_monitors() {
                Ok(monitors) if monitors.is_empty() => println!("  none found"),
                Ok(monitors) => {
                    for m in monitors {
                        println!("  {m}");
                    }
                }
                Err(e) => println!("  no display: {e}"),
            }
            println!("Audio inputs:");
            match hypna::audio::list_input_devices() {
                Ok(devices) if devices.is_empty() => println!("  none found"),
                Ok(devices) => {
                    for d in devices {
                        println!(
                            "  [{}] {}{} ({}): {}",
                            d.index,
                            d.name,
                            if d.is_default { " (default)" } else { "" },
                            d.id,
                            d.default_config
                                .as_deref()
                                .unwrap_or("default config unavailable")
                        );
                    }
                }
                Err(e) => println!("  cannot list audio inputs: {e}"),
            }
            println!("Cameras ([[media]] camera = index or name):");
            let cameras = hypna::media::list_cameras();
            if cameras.is_empty() {
                println!("  none found");
            }
            for c in &cameras {
                println!("  [{}] {} ({})", c.index, c.name, c.device);
                for mode in hypna::media::camera_modes(c) {
                    println!("      {mode}");
                }
            }
            match hypna::media::process::program() {
                Ok(p) => println!("FFmpeg (media sources):\n  {}", p.display()),
                Err(e) => println!("FFmpeg (media sources): {e}"),
            }
            Ok(())
        }
        Command::Bench {
            scene,
            size,
            frames,
            rounds,
            models,
            threads,
            dream_classifier,
            dream_layers,
            dream_sizes,
            dream_runs,
            batch,
            osc,
            audio,
            beats,
            beats_dump,
            window,
            transition,
            media,
            to,
            record,
            encode,
        } => {
            if let Some(dir) = beats {
                let options = hypna::bench::beats::BeatEvalOptions {
                    dir,
                    aubio: true,
                    dump: beats_dump,
                    config: hypna::audio::AudioConfig::default(),
                };
                let report = hypna::bench::beats::run(&options, |clip| eprintln!("  {clip}"))?;
                println!("bench --beats:\n{report}");
                return Ok(());
            }
            if audio {
                // Both beat trackers, each measured on its own (the neural one only where
                // ONNX Runtime and the installed model are found).
                for tracker in [
                    hypna::audio::TrackerKind::Classic,
                    hypna::audio::TrackerKind::Neural,
                ] {
                    let mut options = hypna::bench::audio::BenchOptions::default();
                    options.config.tracker = Some(tracker);
                    let report = hypna::bench::audio::run(&options)?;
                    println!("bench --audio:\n{report}");
                }
                return Ok(());
            }
            if window {
                let scene = scene.unwrap_or_else(|| PathBuf::from("scenes/landscape.toml"));
                let runtime = RuntimeOptions {
                    size: Some(size),
                    ..RuntimeOptions::default()
                };
                let mut options = hypna::window::RunOptions::new(scene, runtime);
                options.watch = false;
                let report = hypna::bench::window::run(options, frames.unwrap_or(20), rounds)?;
                println!("bench --window:\n{report}");
                return Ok(());
            }
            if record {
                let scene = scene.unwrap_or_else(|| PathBuf::from("scenes/landscape.toml"));
                let runtime = RuntimeOptions {
                    size: Some(size),
                    ..RuntimeOptions::default()
                };
                let mut options = hypna::window::RunOptions::new(scene, runtime);
                options.watch = false;
                options.present = hypna::window::PresentChoice::Immediate;
                let mut settings = encode.settings(
                    hypna::media::codec::Target::File(PathBuf::from("bench.mkv")),
                    30.0,
                );
                settings.live = true;
                let record = hypna::window::RecordOptions {
                    settings,
                    start: false,
                    audio: false,
                };
                let report =
                    hypna::bench::record::run(options, record, frames.unwrap_or(60), rounds)?;
                println!("bench --record:\n{report}");
                return Ok(());
            }
            let gpu = Gpu::new_headless()?;
            if media {
                let options = hypna::bench::media::MediaBenchOptions {
                    size,
                    frames: frames.unwrap_or(30),
                    rounds,
                };
                println!("{}", hypna::bench::media::run(&gpu, &options)?);
                return Ok(());
            }
            if transition {
                let from = scene.unwrap_or_else(|| PathBuf::from("scenes/flow.toml"));
                let to = to.unwrap_or_else(|| PathBuf::from("scenes/dream.toml"));
                let before = frames.unwrap_or(30) as usize;
                let report = hypna::bench::transition::run(&gpu, &from, &to, size, before, 1.0)?;
                println!("bench --transition:\n{report}");
            } else if osc {
                let report =
                    hypna::bench::osc::run(&hypna::bench::osc::OscBenchOptions::default())?;
                println!("bench --osc (loopback ingest):\n{report}");
                let scene = scene.unwrap_or_else(|| PathBuf::from("scenes/flow.toml"));
                let size = if size == [1280, 720] {
                    [640, 360]
                } else {
                    size
                };
                let report = hypna::bench::osc::run_frames(
                    &gpu,
                    &scene,
                    size,
                    frames.unwrap_or(30),
                    rounds.min(3),
                    60,
                )?;
                println!("{report}");
            } else if models {
                let options = hypna::bench::models::ModelBenchOptions {
                    scene: scene.unwrap_or_else(|| PathBuf::from("scenes/dream.toml")),
                    size,
                    frames: frames.unwrap_or(60),
                    rounds,
                    threads,
                    batch: None,
                };
                if batch.is_empty() {
                    println!("{}", hypna::bench::models::run(&gpu, &options)?);
                } else {
                    print!(
                        "{}",
                        hypna::bench::models::run_batches(&gpu, &options, &batch)?
                    );
                }
                let installed = PathBuf::from(".hypna/models/efficientnet-lite0.onnx");
                if dream_classifier.is_none() && !installed.is_file() {
                    println!(
                        "dream step: not measured, {} is not installed (scripts/setup.sh installs it; or --dream-classifier)",
                        installed.display()
                    );
                } else {
                    let options = hypna::bench::dream::DreamBenchOptions {
                        classifier: dream_classifier.unwrap_or(installed),
                        layers: dream_layers,
                        sizes: dream_sizes,
                        runs: dream_runs,
                        threads,
                    };
                    println!("{}", hypna::bench::dream::run(&options)?);
                }
            } else {
                let options = hypna::bench::frame::BenchOptions {
                    scene: scene.unwrap_or_else(|| PathBuf::from("scenes/landscape.toml")),
                    size,
                    frames: frames.unwrap_or(20),
                    rounds,
                };
                println!("{}", hypna::bench::frame::run(&gpu, &options)?);
            }
            Ok(())
        }
    }
}

/// Logs to stderr, and with `--log-file` also to a size-rotated file (no colours there).
fn init_logging(cli: &Cli) -> Result<()> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(
                "info,wgpu_core=warn,wgpu_hal=warn,naga=warn,ort=warn",
            )
        })
    };
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let file = match &cli.log_file {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create log folder {}", dir.display()))?;
            }
            let rotating = hypna::ops::logfile::RotatingFile::new(
                path,
                cli.log_max_mb.max(1) * 1024 * 1024,
                cli.log_keep,
            )
            .with_context(|| format!("cannot open log file {}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(hypna::ops::logfile::SharedRotatingFile::new(rotating)),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(filter())
        .with(stderr)
        .with(file)
        .init();
    Ok(())
}

/// Where `render` writes.
struct RenderOut<'a> {
    out: &'a Path,
    last_only: bool,
    encode: &'a EncodeArgs,
}

/// The progress bar of a render: frames done, rate, time left (drawn only when stderr is a
/// terminal).
fn progress_bar(frames: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(frames);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} frames  {per_sec}  {elapsed_precise} elapsed, {eta} left",
    ) {
        bar.set_style(style);
    }
    bar
}

fn render(
    scene: &Path,
    frames: u64,
    fps: f64,
    options: &RuntimeOptions,
    to: &RenderOut<'_>,
    replay_params: Option<&Path>,
) -> Result<()> {
    use hypna::media::codec::{AudioTrack, Target};
    if !(fps.is_finite() && fps > 0.0) {
        bail!("--fps must be a positive number");
    }
    let out = to.out;
    let video = Target::is_video_file(out);
    if video && to.last_only {
        bail!("--last-only writes one PNG: give --out a folder");
    }
    if !video && to.encode.given() {
        bail!(
            "--codec, --encoder, --crf and --bitrate are for a video: give --out a file name ending in .mp4, .mov, .mkv or .webm"
        );
    }
    let gpu = Gpu::new_headless()?;
    tracing::info!("GPU: {}", gpu.describe());
    let mut janitor = hypna::ops::Janitor::start();
    let (mut show, mut runtime) = hypna::show::Show::open(&gpu, scene, options)?;
    let mut replay = match replay_params {
        Some(path) => {
            let replay = hypna::ops::paramlog::ParamReplay::load(path)?;
            tracing::info!(
                "replaying {} param changes from {}",
                replay.len(),
                path.display()
            );
            Some(replay)
        }
        None => None,
    };
    if show.set_schedule(None).is_some() {
        tracing::info!("offline render: the playlist's schedule is not applied");
    }
    let mut encoder = None;
    let mut writer = None;
    if video {
        let Some((size, _)) = runtime.output_info() else {
            bail!("the scene has no output to encode");
        };
        let mut settings = to.encode.settings(Target::File(out.to_path_buf()), fps);
        settings.size = size;
        #[allow(clippy::cast_precision_loss)]
        let duration_secs = frames as f64 / fps;
        settings.duration_secs = Some(duration_secs);
        if let Some(file) = runtime.offline_audio_file() {
            settings.audio = AudioTrack::File(file.to_path_buf());
        }
        let e = hypna::media::encode::Encoder::start(&settings, 4, None)?;
        tracing::info!(
            "encoding {} with {}{}",
            out.display(),
            e.encoder_name(),
            match &settings.audio {
                AudioTrack::File(f) => format!(", sound from {}", f.display()),
                _ => String::new(),
            }
        );
        encoder = Some(e);
    } else {
        std::fs::create_dir_all(out)
            .with_context(|| format!("cannot create output folder {}", out.display()))?;
        // PNG encoding runs on its own thread; the bounded queue keeps memory flat.
        writer = Some(PngWriter::start(4, OnFailure::Stop)?);
    }
    let start = Instant::now();
    let settings = RenderSettings {
        frames,
        fps,
        ..RenderSettings::default()
    };
    let last = frames.saturating_sub(1);
    let bar = progress_bar(frames);
    let sent = hypna::runtime::render_frames_with(
        &gpu,
        &mut runtime,
        &settings,
        |gpu, runtime, t| {
            janitor.after_frame(runtime, &show);
            show.before_frame(gpu, runtime, t);
            if let Some(replay) = &mut replay {
                for (_, name, value) in replay.due(t.time_secs) {
                    runtime.queue_param(name, *value);
                }
            }
        },
        |image| -> Result<()> {
            bar.inc(1);
            if let Some(encoder) = &encoder {
                return Ok(encoder.send(image.rgba)?);
            }
            if to.last_only && image.frame != last {
                return Ok(());
            }
            let path = hypna::render::png::numbered(out, "frame", image.frame);
            if let Some(writer) = &writer {
                writer.write(image, path, Pixels::Rgba)?;
            }
            Ok(())
        },
    );
    bar.finish_and_clear();
    // The first failed write says more than the `Stopped` that later frames met.
    let written = match (writer, encoder) {
        (Some(writer), _) => writer.finish()?,
        (None, Some(encoder)) => encoder.finish()?.written,
        (None, None) => 0,
    };
    sent?;
    let elapsed_secs = start.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let frames_per_sec = frames as f64 / elapsed_secs.max(1e-9);
    println!(
        "rendered {frames} frames ({written} written) to {} in {elapsed_secs:.2} s ({frames_per_sec:.1} frames/s)",
        out.display()
    );
    let expected = if to.last_only { frames.min(1) } else { frames };
    let gpu_errors = gpu
        .uncaptured_errors
        .load(std::sync::atomic::Ordering::Relaxed);
    if written < expected {
        bail!("wrote {written} of {expected} frames ({gpu_errors} GPU errors, see the log above)");
    }
    if gpu_errors > 0 {
        bail!(
            "the GPU reported {gpu_errors} errors while rendering (see the log above): the frames may be wrong"
        );
    }
    Ok(())
}
