//! The services a runtime keeps across scene changes: the OSC server, MIDI, the audio input
//! and the beat source (`beat`), and how their events reach the frame. Each frame the queued param changes (parameter panel,
//! replayed param log) and then the OSC events are applied in order, so the latest value of a
//! param wins; queries and status requests are answered, and the targets are echoed to
//! feedback controllers.
//!
//! What the frame hands up (a scene request from OSC, every applied param change for a
//! [`ParamSink`]) goes through plain data and a trait the caller implements: this module
//! imports nothing above the runtime.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use crate::audio::{
    AudioConfig, AudioEngine, AudioError, AudioFeatures, CaptureStatus, DeviceSelector,
    FeaturesReader, OfflineAudio,
};
use crate::clock::FrameTime;
use crate::midi::{Midi, MidiAction, MidiStatus};
use crate::model::node::{AudioSource, Silence};
use crate::osc::{
    CounterSnapshot, OscConfig, OscEvent, OscHandle, ParamRoute, RouteTable, SceneRequest,
    StatusInfo,
};
use crate::params::ParamStore;
use crate::scene::midi::{BeatSource, MidiConfig};
use crate::scene::{ParamDef, Scene};

use super::beat::Beats;

/// Whether and where audio comes from.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum AudioMode {
    /// No audio: every audio global is 0 and models see silence.
    #[default]
    Off,
    /// Live analysis (`hypna run`), configured by the scene's `[audio]` table with the command
    /// line's `device` / `file` on top. Without either, and without an `[audio]` table,
    /// nothing is captured.
    Live {
        /// Input device selector (`default`, a name substring or an index); replaces the
        /// scene's device and file.
        device: Option<String>,
        /// A WAV file played in real time instead of a device.
        file: Option<PathBuf>,
    },
    /// Exact analysis of a WAV file for an offline render: frame N sees the audio up to
    /// `N / fps` seconds. Uses `file`, else the scene's `[audio] file`; without either,
    /// no audio.
    Offline {
        /// The WAV file (overrides the scene's).
        file: Option<PathBuf>,
        /// The render's frame rate.
        fps: f64,
    },
}

/// Whether and where the runtime listens for OSC.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum OscMode {
    /// No OSC server.
    #[default]
    Off,
    /// Listen, configured by (later wins) the scene's `[osc]` table, then `settings` (the
    /// settings file's `[osc]` table), then `listen` (the command line).
    On {
        /// Address to listen on instead of the configured one.
        listen: Option<SocketAddr>,
        /// A whole `[osc]` table replacing the scene's (from a settings file).
        settings: Option<Box<OscConfig>>,
    },
}

/// Whether the runtime opens MIDI ports.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum MidiMode {
    /// No MIDI.
    #[default]
    Off,
    /// Open the ports `config` names (the settings file's `[midi]` table or its defaults);
    /// MIDI learn saves into `settings` when given.
    On {
        /// The `[midi]` settings.
        config: Box<MidiConfig>,
        /// The settings file learned bindings are saved to.
        settings: Option<PathBuf>,
    },
}

/// Where applied param changes go (the param log of `run --record-params`): called on the
/// frame thread for every change made live (OSC, the parameter panel), so it must not wait.
pub trait ParamSink {
    /// `param` was set to `value` (clamped into its range) at show time `secs`.
    fn changed(&self, secs: f64, param: &str, value: f32);
}

/// Where a runtime's audio features come from.
enum AudioInput {
    Live {
        engine: AudioEngine,
        reader: FeaturesReader,
    },
    Offline {
        audio: Box<OfflineAudio>,
        fps: f64,
    },
}

/// Audio state of a runtime: the input and this frame's features.
struct Audio {
    input: AudioInput,
    current: Box<AudioFeatures>,
}

impl Audio {
    /// Starts audio as `mode` asks. Live failures are logged (the show goes on silent);
    /// offline failures are errors.
    fn start(scene: &Scene, mode: &AudioMode) -> Result<Option<Self>, AudioError> {
        let bands = scene.audio_bands();
        match mode {
            AudioMode::Off => Ok(None),
            AudioMode::Live { device, file } => {
                if scene.audio.is_none() && device.is_none() && file.is_none() {
                    return Ok(None);
                }
                let mut config: AudioConfig = scene.audio.clone().unwrap_or_default();
                if let Some(d) = device {
                    config.device = DeviceSelector::parse(d);
                    config.file = None;
                }
                if let Some(f) = file {
                    config.file = Some(f.clone());
                }
                match AudioEngine::start(&config) {
                    Ok(engine) => {
                        let reader = engine.reader();
                        Ok(Some(Self {
                            input: AudioInput::Live { engine, reader },
                            current: Box::new(AudioFeatures::silent(0, bands)),
                        }))
                    }
                    Err(e) => {
                        tracing::error!("audio: {e}; running without audio");
                        Ok(None)
                    }
                }
            }
            AudioMode::Offline { file, fps } => {
                let config: AudioConfig = scene.audio.clone().unwrap_or_default();
                let Some(path) = file.clone().or_else(|| config.file.clone()) else {
                    return Ok(None);
                };
                let audio = OfflineAudio::open(&path, &config)?;
                Ok(Some(Self {
                    input: AudioInput::Offline {
                        audio: Box::new(audio),
                        fps: *fps,
                    },
                    current: Box::new(AudioFeatures::silent(0, bands)),
                }))
            }
        }
    }

    /// Fetches the features for frame `t`.
    fn update(&mut self, t: FrameTime) {
        match &mut self.input {
            AudioInput::Live { reader, .. } => (*self.current).clone_from(reader.latest()),
            AudioInput::Offline { audio, fps } => {
                (*self.current).clone_from(audio.features_at_frame(t.frame, *fps));
            }
        }
    }
}

/// Live OSC state of a runtime.
struct Osc {
    handle: OscHandle,
    /// Reused every frame (no allocation when nothing arrives).
    events: Vec<OscEvent>,
    warned_tap: bool,
}

/// OSC and audio, the queued param changes and what the frame hands up.
pub(super) struct Services {
    osc: Option<Osc>,
    /// The effective OSC configuration the server was started with.
    osc_config: Option<OscConfig>,
    audio: Option<Audio>,
    /// What models see while there is no audio (the scene's band count of zeros).
    silence: Silence,
    /// Param changes queued for the next frame (parameter panel, replayed param log).
    queued: Vec<(String, f32)>,
    /// The newest scene switch request (from OSC), for whoever manages scenes.
    scene_request: Option<SceneRequest>,
    /// The newest record start (true) or stop (false) request (from OSC), for the window.
    record_request: Option<bool>,
    /// Where applied param changes go, if anywhere.
    sink: Option<Box<dyn ParamSink>>,
    /// Reused for audio feature values (modulation).
    feature_scratch: Vec<f32>,
    /// MIDI ports, when on.
    midi: Option<Midi>,
    /// This frame's MIDI actions, reused.
    midi_actions: Vec<MidiAction>,
    /// The beat source and its state.
    beats: Beats,
    /// The features while there is no audio but another beat source speaks (silence plus
    /// the beat fields).
    beat_only: Box<AudioFeatures>,
    /// An Ableton Link session, when the beat source is Link or hypna leads its tempo (the
    /// `link` feature), with when the tempo was last published.
    #[cfg(feature = "link")]
    link: Option<(crate::midi::link::Link, Option<Instant>)>,
    /// Publish the audio tracker's tempo to Link.
    link_lead: bool,
}

impl Services {
    /// Starts what `mode`s of `options` ask for, configured by `scene`.
    pub(super) fn start(
        scene: &Scene,
        osc: &OscMode,
        audio: &AudioMode,
        midi: &MidiMode,
        beat_source: BeatSource,
    ) -> Result<Self, AudioError> {
        let osc_config = match osc {
            OscMode::Off => None,
            OscMode::On { .. } => Some(effective_osc(scene, osc)),
        };
        let osc = osc_config.as_ref().and_then(|c| start_osc(c, scene));
        let link_lead = match midi {
            MidiMode::On { config, .. } => config.link_lead,
            MidiMode::Off => false,
        };
        let midi = match midi {
            MidiMode::On { config, settings } if config.enabled => {
                match Midi::start((**config).clone(), settings.clone(), &scene.params) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        tracing::error!("{e}; running without MIDI");
                        None
                    }
                }
            }
            _ => None,
        };
        if beat_source == BeatSource::Midi && midi.is_none() {
            tracing::warn!("beat source `midi` without MIDI input: the audio tracker's beat stays");
        }
        if (beat_source == BeatSource::Link || link_lead) && !cfg!(feature = "link") {
            tracing::warn!(
                "Ableton Link needs a build with `--features link` (GPL, docs/tempo.md); the audio tracker's beat stays"
            );
        }
        let decay = scene
            .audio
            .as_ref()
            .map_or(0.15, |a| a.smoothing.beat_decay_secs);
        Ok(Self {
            midi,
            midi_actions: Vec::new(),
            beats: Beats::new(beat_source, decay),
            beat_only: Box::new(AudioFeatures::silent(0, scene.audio_bands())),
            #[cfg(feature = "link")]
            link: start_link(beat_source, link_lead),
            link_lead,
            osc,
            osc_config,
            audio: Audio::start(scene, audio)?,
            silence: Silence {
                bands: scene.audio_bands(),
            },
            queued: Vec::new(),
            scene_request: None,
            record_request: None,
            sink: None,
            feature_scratch: Vec::new(),
        })
    }

    /// Follows a new scene on screen: OSC routes follow its params (with `follow_osc`, a
    /// changed `[osc]` table restarts the server), live audio restarts when `audio_changed`.
    pub(super) fn follow(
        &mut self,
        scene: &Scene,
        osc_mode: &OscMode,
        audio_mode: &AudioMode,
        follow_osc: bool,
        audio_changed: bool,
    ) {
        self.silence = Silence {
            bands: scene.audio_bands(),
        };
        if let Some(midi) = &mut self.midi {
            midi.follow(&scene.params);
        }
        if let Some(old) = &self.osc_config {
            let config = effective_osc(scene, osc_mode);
            if config == *old || !follow_osc {
                if let (Some(osc), Ok(routes)) = (self.osc.as_mut(), routes_for(scene)) {
                    osc.handle.set_routes(routes);
                }
            } else {
                tracing::info!("[osc] changed: restarting the OSC server");
                self.osc = None;
                self.osc = start_osc(&config, scene);
                self.osc_config = Some(config);
            }
        }
        if audio_changed && matches!(audio_mode, AudioMode::Live { .. }) {
            tracing::info!("[audio] changed: restarting audio input");
            self.audio = None;
            self.audio = Audio::start(scene, audio_mode).unwrap_or(None);
        }
    }

    /// Queues a param change for the next frame.
    pub(super) fn queue(&mut self, name: &str, value: f32) {
        self.queued.push((name.to_string(), value));
    }

    /// The OSC configuration in effect, while the server runs.
    pub(super) fn osc_config(&self) -> Option<&OscConfig> {
        self.osc.as_ref().and(self.osc_config.as_ref())
    }

    /// Hands an OSC packet to the OSC server's routing (see `Runtime::inject_osc`).
    pub(super) fn inject_osc(&mut self, packet: &[u8], from: SocketAddr) -> bool {
        match self.osc.as_mut() {
            Some(osc) => {
                osc.handle.inject(packet, from);
                true
            }
            None => false,
        }
    }

    /// Sends every applied param change to `sink` from now on.
    pub(super) fn set_sink(&mut self, sink: Option<Box<dyn ParamSink>>) {
        self.sink = sink;
    }

    /// Replaces the pending scene request.
    pub(super) fn request_scene(&mut self, request: SceneRequest) {
        self.scene_request = Some(request);
    }

    /// The newest scene request from OSC, taken.
    pub(super) fn take_scene_request(&mut self) -> Option<SceneRequest> {
        self.scene_request.take()
    }

    /// The newest record request from OSC (true: start, false: stop), taken.
    pub(super) fn take_record_request(&mut self) -> Option<bool> {
        self.record_request.take()
    }

    /// A copy of the live audio input's samples for a recording (see
    /// [`crate::audio::AudioEngine::record_samples`]); `None` without live audio.
    pub(super) fn record_audio(&self, capacity: usize) -> Option<(rtrb::Consumer<f32>, u32)> {
        match &self.audio {
            Some(Audio {
                input: AudioInput::Live { engine, .. },
                ..
            }) => engine.record_samples(capacity),
            _ => None,
        }
    }

    /// The WAV file an offline render analyses, if any.
    pub(super) fn offline_audio_file(&self) -> Option<&std::path::Path> {
        match &self.audio {
            Some(Audio {
                input: AudioInput::Offline { audio, .. },
                ..
            }) => Some(audio.path()),
            _ => None,
        }
    }

    /// Applies the queued changes, then the OSC events that arrived since the last frame (in
    /// order: the latest value of a param wins), answers queries (`status` builds the status
    /// reply, only when one is asked for), and echoes param targets to feedback controllers.
    pub(super) fn apply_events(
        &mut self,
        params: &mut ParamStore,
        defs: &[ParamDef],
        show_secs: f64,
        status: impl Fn() -> StatusInfo,
    ) {
        for (name, value) in self.queued.drain(..) {
            match params.set(&name, value) {
                Ok(v) => {
                    if let Some(sink) = &self.sink {
                        sink.changed(show_secs, &name, v);
                    }
                }
                Err(e) => tracing::debug!("queued param change dropped: {e}"),
            }
        }
        self.apply_midi(params, defs, show_secs);
        let Some(osc) = self.osc.as_mut() else { return };
        osc.events.clear();
        osc.events.extend(osc.handle.drain(Instant::now()));
        for event in &osc.events {
            match event {
                OscEvent::SetParam { name, value } => {
                    // The route table is built from this scene's params, so names exist;
                    // NaN and infinity were refused by the server.
                    if let (Ok(v), Some(sink)) = (params.set(name, *value), &self.sink) {
                        sink.changed(show_secs, name, v);
                    }
                }
                OscEvent::Query { reply_to } => {
                    osc.handle.reply_params(*reply_to, params.iter());
                }
                OscEvent::Status { reply_to } => {
                    osc.handle.reply_status(*reply_to, &status());
                }
                OscEvent::Scene(request) => {
                    // The show (playlist) acts on it before the next frame and logs the
                    // switch (rate-limited): a spammed `next` must not flood the log.
                    tracing::debug!("OSC scene request: {request:?}");
                    self.scene_request = Some(request.clone());
                }
                OscEvent::Record(start) => {
                    tracing::debug!("OSC record request: {start}");
                    self.record_request = Some(*start);
                }
                OscEvent::Tap if self.beats.source == BeatSource::Tap => {
                    self.beats.tap.tap(show_secs);
                }
                OscEvent::Tap | OscEvent::Resync => {
                    if let Some(Audio {
                        input: AudioInput::Live { engine, .. },
                        ..
                    }) = &self.audio
                    {
                        if matches!(event, OscEvent::Tap) {
                            engine.tap();
                        } else {
                            engine.resync();
                        }
                    } else if !osc.warned_tap {
                        tracing::info!(
                            "OSC tap/resync received: it drives the beat tracker only with live audio input"
                        );
                        osc.warned_tap = true;
                    }
                }
            }
        }
        osc.handle.feedback(params.targets());
    }

    /// The MIDI messages of this frame: param values (sent to the sink like OSC's), program
    /// changes (a scene request), taps, learned bindings; then feedback for what changed.
    fn apply_midi(&mut self, params: &mut ParamStore, defs: &[ParamDef], show_secs: f64) {
        let Some(midi) = self.midi.as_mut() else {
            return;
        };
        let mut actions = std::mem::take(&mut self.midi_actions);
        actions.clear();
        midi.drain(defs, |a| actions.push(a));
        for action in actions.drain(..) {
            match action {
                MidiAction::Param { param, value } => {
                    if let (Some(v), Some(sink), Some(name)) = (
                        params.set_at(param, value),
                        &self.sink,
                        params.name_of(param),
                    ) {
                        sink.changed(show_secs, name, v);
                    }
                }
                MidiAction::Program(n) => {
                    tracing::debug!("MIDI program change {n}");
                    self.scene_request = Some(SceneRequest::Index(usize::from(n)));
                }
                MidiAction::Tap => self.tap(show_secs),
                MidiAction::Learned {
                    param,
                    port,
                    binding,
                } => {
                    let name = defs.get(param).map_or("?", |d| d.name.as_str());
                    tracing::info!("MIDI learn: `{name}` = \"{binding}\" on \"{port}\"");
                }
            }
        }
        self.midi_actions = actions;
        if let Some(midi) = self.midi.as_mut() {
            midi.feedback(params.targets().map(|(_, v)| v), defs);
        }
    }

    /// A tap from MIDI: the tap tempo's, or the audio tracker's.
    fn tap(&mut self, show_secs: f64) {
        if self.beats.source == BeatSource::Tap {
            self.beats.tap.tap(show_secs);
        } else if let Some(Audio {
            input: AudioInput::Live { engine, .. },
            ..
        }) = &self.audio
        {
            engine.tap();
        }
    }

    /// Fetches this frame's audio features (nothing without audio), then the beat fields
    /// from the beat source when it is not the audio tracker and has something to say.
    pub(super) fn update_audio(&mut self, t: FrameTime) {
        if let Some(audio) = &mut self.audio {
            audio.update(t);
        }
        let now = Instant::now();
        let tempo = match self.beats.source {
            BeatSource::Audio => None,
            BeatSource::Midi => self.midi.as_ref().and_then(|m| m.tempo(now)),
            BeatSource::Tap => self.beats.tap.tempo(t.time_secs),
            #[cfg(feature = "link")]
            BeatSource::Link => self.link.as_mut().and_then(|(l, _)| l.tempo(now)),
            #[cfg(not(feature = "link"))]
            BeatSource::Link => None,
        };
        self.beats.active = tempo.is_some();
        if self.link_lead && self.beats.source == BeatSource::Audio {
            self.lead_link(now);
        }
        if let Some(tempo) = tempo {
            let features = match &mut self.audio {
                Some(a) => &mut *a.current,
                None => &mut *self.beat_only,
            };
            self.beats.write(tempo, t.time_secs, features);
        }
    }

    /// Publishes the audio tracker's tempo to the Link session (at most once a second, when
    /// the tracker is confident and the tempo moved by more than 0.5 BPM).
    #[cfg(feature = "link")]
    fn lead_link(&mut self, now: Instant) {
        let (Some((link, last)), Some(audio)) = (self.link.as_mut(), self.audio.as_ref()) else {
            return;
        };
        let f = &audio.current;
        if f.bpm_confidence < 0.5 || last.is_some_and(|t| now.duration_since(t).as_secs() < 1) {
            return;
        }
        let bpm = f64::from(f.bpm);
        if link.tempo(now).is_none_or(|t| (t.bpm - bpm).abs() > 0.5) {
            link.set_tempo(bpm);
            *last = Some(now);
        }
    }

    #[cfg(not(feature = "link"))]
    #[allow(clippy::unused_self)] // the same call as with the feature
    fn lead_link(&mut self, _now: Instant) {}

    /// Starts or cancels MIDI learn for the param named `name` (false without MIDI or such
    /// a param).
    pub(super) fn midi_learn(&mut self, defs: &[ParamDef], name: Option<&str>) -> bool {
        let Some(midi) = self.midi.as_mut() else {
            return false;
        };
        match name {
            None => {
                midi.learn(None);
                true
            }
            Some(name) => match defs.iter().position(|d| d.name == name) {
                Some(i) => {
                    midi.learn(Some(i));
                    true
                }
                None => false,
            },
        }
    }

    /// The param waiting for MIDI learn, as its index.
    pub(super) fn midi_learning(&self) -> Option<usize> {
        self.midi.as_ref().and_then(Midi::learning)
    }

    /// MIDI's counters, when MIDI is on.
    pub(super) fn midi_status(&self) -> Option<MidiStatus> {
        self.midi.as_ref().map(Midi::status)
    }

    /// The beat source in use.
    pub(super) fn beat_source(&self) -> BeatSource {
        self.beats.source
    }

    /// Params that follow an audio feature get `offset + gain * feature` on top of their
    /// smoothed value (the feature is 0 while audio is off).
    pub(super) fn modulate(&mut self, scene: &Scene, params: &mut ParamStore) {
        for (i, def) in scene.params.iter().enumerate() {
            let Some(m) = def.modulation else { continue };
            let feature = match &self.audio {
                Some(a) => {
                    a.current.feature(m.feature, &mut self.feature_scratch);
                    self.feature_scratch.get(m.index).copied().unwrap_or(0.0)
                }
                None => 0.0,
            };
            params.set_modulation(i, m.offset + m.gain * feature);
        }
    }

    /// What models hear this frame: the features, or silence (with the external beat's
    /// fields when a beat source other than audio speaks).
    pub(super) fn audio_source(&self) -> &dyn AudioSource {
        match (&self.audio, self.beats.active) {
            (Some(a), _) => &*a.current,
            (None, true) => &*self.beat_only,
            (None, false) => &self.silence,
        }
    }

    /// The newest audio features, when audio runs (or only the beat fields, when another
    /// beat source speaks without audio).
    pub(super) fn audio_features(&self) -> Option<&AudioFeatures> {
        match (&self.audio, self.beats.active) {
            (Some(a), _) => Some(&*a.current),
            (None, true) => Some(&*self.beat_only),
            (None, false) => None,
        }
    }

    /// A one-line state of the audio input (device, reconnecting, file, off).
    pub(super) fn audio_state(&self) -> String {
        match &self.audio {
            None => "off".to_string(),
            Some(Audio {
                input: AudioInput::Offline { .. },
                ..
            }) => "file (offline)".to_string(),
            Some(Audio {
                input: AudioInput::Live { engine, .. },
                ..
            }) => match engine.status() {
                CaptureStatus::Starting => "starting".to_string(),
                CaptureStatus::Connected { name, .. } => format!("ok {name}"),
                CaptureStatus::Reconnecting {
                    attempts, reason, ..
                } => {
                    format!("reconnecting (attempt {attempts}: {reason})")
                }
                CaptureStatus::File { path, .. } => {
                    format!("file {}", path.display())
                }
                CaptureStatus::Stopped => "stopped".to_string(),
            },
        }
    }

    /// The OSC server's address and counters, when it runs.
    pub(super) fn osc_status(&self) -> Option<(SocketAddr, CounterSnapshot)> {
        self.osc
            .as_ref()
            .map(|o| (o.handle.local_addr(), o.handle.counters()))
    }
}

/// Joins Ableton Link when the beat source is Link or hypna leads the session's tempo.
#[cfg(feature = "link")]
fn start_link(
    source: BeatSource,
    lead: bool,
) -> Option<(crate::midi::link::Link, Option<Instant>)> {
    (source == BeatSource::Link || lead).then(|| {
        tracing::info!("Ableton Link: joined the session");
        (crate::midi::link::Link::join(120.0), None)
    })
}

/// The OSC configuration in effect for `scene` under `mode`.
fn effective_osc(scene: &Scene, mode: &OscMode) -> OscConfig {
    match mode {
        OscMode::Off => scene.osc.clone(),
        OscMode::On { listen, settings } => {
            let mut config = settings
                .as_deref()
                .cloned()
                .unwrap_or_else(|| scene.osc.clone());
            if let Some(listen) = listen {
                config.listen = *listen;
            }
            config
        }
    }
}

fn routes_for(scene: &Scene) -> Result<RouteTable, crate::osc::OscError> {
    RouteTable::new(
        scene
            .params
            .iter()
            .map(|p| ParamRoute::from_def(p, p.osc.clone())),
    )
}

/// Starts the OSC server for `scene`; problems are logged and the show runs without OSC.
fn start_osc(config: &OscConfig, scene: &Scene) -> Option<Osc> {
    match routes_for(scene) {
        Ok(routes) => crate::osc::start_or_log(config, routes).map(|handle| Osc {
            handle,
            events: Vec::new(),
            warned_tap: false,
        }),
        Err(e) => {
            tracing::error!("OSC routes: {e}; running without OSC");
            None
        }
    }
}
