//! Which beat tracker runs, behind one interface for the analyser: `[audio] tracker =
//! "neural"` (BeatNet, see [`super::beatnet`]) or `"classic"` (autocorrelation of the spectral
//! flux, see `beat.rs`). Without the key the neural tracker runs where ONNX Runtime and the
//! installed model are found, the classic one otherwise. Both feed one [`BeatClock`], so taps,
//! resyncs, pulses and the bar work the same way whichever is chosen.

use super::beat::BeatTracker;
use super::beat_clock::{BeatClock, BeatStep, Target};
use super::beatnet::{self, ActivationModel, NeuralTracker};
use crate::scene::audio::{AudioConfig, TrackerKind};

/// The installed BeatNet model hypna uses (1 of the 3 the package ships; see docs/audio.md).
pub(crate) const NEURAL_MODEL: u8 = 1;

enum Engine {
    Classic(Box<BeatTracker>),
    Neural(Box<NeuralTracker>),
}

/// The chosen tracker and the beat clock.
pub(crate) struct Tracker {
    engine: Engine,
    clock: BeatClock,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

/// Loads the installed neural model, or says why not.
fn load_neural(sample_rate_hz: u32, bpm_range: [f32; 2]) -> Result<NeuralTracker, String> {
    let path = beatnet::installed_model(NEURAL_MODEL).map_err(|e| e.to_string())?;
    let model = ActivationModel::load(&path).map_err(|e| e.to_string())?;
    Ok(NeuralTracker::new(model, sample_rate_hz, bpm_range))
}

impl Tracker {
    /// The tracker `config.tracker` asks for (or the default), for a stream at
    /// `sample_rate_hz` analysed every `hop_secs`. A neural tracker that cannot start falls
    /// back to the classic one: silently by default, with a warning when asked for by name.
    pub(crate) fn new(config: &AudioConfig, sample_rate_hz: u32, hop_secs: f64) -> Self {
        let classic =
            || Engine::Classic(Box::new(BeatTracker::new(1.0 / hop_secs, config.bpm_range)));
        let engine = match config.tracker {
            Some(TrackerKind::Classic) => classic(),
            wanted => match load_neural(sample_rate_hz, config.bpm_range) {
                Ok(n) => Engine::Neural(Box::new(n)),
                Err(why) => {
                    if wanted == Some(TrackerKind::Neural) {
                        tracing::warn!(
                            "[audio] tracker = \"neural\" cannot start: {why}; using the classic tracker"
                        );
                    } else {
                        tracing::info!(
                            "beat tracking: classic (the neural tracker is not available: {why})"
                        );
                    }
                    classic()
                }
            },
        };
        Self {
            engine,
            clock: BeatClock::new(config.bpm_range, config.beat_min_confidence),
        }
    }

    /// The tracker running.
    pub(crate) fn kind(&self) -> TrackerKind {
        match self.engine {
            Engine::Classic(_) => TrackerKind::Classic,
            Engine::Neural(_) => TrackerKind::Neural,
        }
    }

    /// Tells the classic tracker how many hops the flux peak lags an onset.
    pub(crate) fn set_odf_delay(&mut self, hops: f64) {
        if let Engine::Classic(c) = &mut self.engine {
            c.set_odf_delay(hops);
        }
    }

    /// One analysis hop: its new samples, its flux and bass flux, whether the input is not
    /// silent, and the stream time at its end.
    pub(crate) fn step(
        &mut self,
        hop: &[f32],
        flux: [f32; 2],
        active: bool,
        now_secs: f64,
    ) -> BeatStep {
        match &mut self.engine {
            Engine::Classic(c) => {
                if let Some(t) = c.step(flux[0], flux[1], active, now_secs) {
                    self.clock.correct(&t);
                }
            }
            Engine::Neural(n) => {
                let clock = &mut self.clock;
                n.push(hop, |at, e| {
                    // The beat phase is corrected at a rate that grows with how sure the
                    // decoder is; nothing changes before the first tempo lock, nor in silence
                    // (the clock runs on and its confidence fades, as with the classic one).
                    if !e.locked || !active {
                        return;
                    }
                    let confidence = (e.tempo_mass * e.beat_concentration) as f32;
                    clock.correct(&Target {
                        at_secs: at,
                        bpm: e.bpm,
                        phase: e.beat_phase,
                        gain: 0.25 * e.beat_concentration,
                        bar: (e.bar_concentration > 0.3).then_some((e.meter, e.bar_position)),
                        confidence,
                    });
                });
            }
        }
        self.clock.advance(now_secs, active)
    }

    /// A tap at stream time `at_secs`.
    pub(crate) fn tap(&mut self, at_secs: f64) {
        self.clock.tap(at_secs);
    }

    /// A downbeat at stream time `at_secs`.
    pub(crate) fn resync(&mut self, at_secs: f64) {
        self.clock.resync(at_secs);
    }

    /// Drops a tapped tempo.
    pub(crate) fn clear_tap(&mut self) {
        self.clock.clear_tap();
    }
}
