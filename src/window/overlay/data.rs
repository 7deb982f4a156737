//! What the app hands the overlay each frame: plain data, borrowed where possible.

use crate::diag::Diagnostic;
use crate::scene::ParamDef;

/// How many frame times [`FrameTimes`] keeps (4 s at 60 Hz).
pub const FRAME_HISTORY: usize = 240;

/// A ring of the last [`FRAME_HISTORY`] frame times in milliseconds. Fixed size, never
/// allocates after construction.
#[derive(Debug, Clone)]
pub struct FrameTimes {
    ms: [f32; FRAME_HISTORY],
    /// Index of the next write.
    head: usize,
    len: usize,
}

impl Default for FrameTimes {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameTimes {
    /// An empty history.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            ms: [0.0; FRAME_HISTORY],
            head: 0,
            len: 0,
        }
    }

    /// Records one frame time; the oldest falls out when full. Non-finite values are stored as 0.
    pub fn push(&mut self, ms: f32) {
        self.ms[self.head] = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
        self.head = (self.head + 1) % FRAME_HISTORY;
        self.len = (self.len + 1).min(FRAME_HISTORY);
    }

    /// How many frames are recorded.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Nothing recorded yet.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Oldest first.
    #[must_use]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = f32> + '_ {
        let start = (self.head + FRAME_HISTORY - self.len) % FRAME_HISTORY;
        (0..self.len).map(move |i| self.ms[(start + i) % FRAME_HISTORY])
    }

    /// The newest frame time.
    #[must_use]
    pub fn last(&self) -> Option<f32> {
        (self.len > 0).then(|| self.ms[(self.head + FRAME_HISTORY - 1) % FRAME_HISTORY])
    }

    /// The longest recorded frame time (0 when empty).
    #[must_use]
    pub fn max(&self) -> f32 {
        self.iter().fold(0.0, f32::max)
    }

    /// The mean frame time (0 when empty).
    #[must_use]
    pub fn mean(&self) -> f32 {
        if self.len == 0 {
            0.0
        } else {
            self.iter().sum::<f32>() / self.len as f32
        }
    }
}

/// One model's line in the HUD.
#[derive(Debug, Clone, Copy)]
pub struct ModelStatus<'a> {
    /// The model's name in the scene.
    pub name: &'a str,
    /// Completed inferences per second.
    pub rate_hz: f32,
    /// Duration of the last run in milliseconds.
    pub latency_ms: f32,
    /// Failed runs so far.
    pub errors: u64,
    /// State in a word or two ("loading", "ready", "failed: …").
    pub state: &'a str,
}

/// The audio line of the HUD.
#[derive(Debug, Clone, Copy)]
pub struct AudioStatus<'a> {
    /// Device name and state ("default (48 kHz)", "reconnecting", "file: take1.wav").
    pub device: &'a str,
    /// Smoothed level in dBFS (the meter shows -60..0).
    pub level_db: f32,
    /// Peak amplitude 0..1 (drawn as a tick on the meter).
    pub peak: f32,
    /// Tempo estimate, when there is one.
    pub bpm: Option<f32>,
    /// A beat happened this frame.
    pub beat: bool,
}

/// The OSC line of the HUD.
#[derive(Debug, Clone, Copy)]
pub struct OscStatus<'a> {
    /// The bound address ("0.0.0.0:9000"), or why there is none.
    pub listen: &'a str,
    /// Messages received per second.
    pub messages_per_sec: f32,
    /// Messages dropped (queue full) plus malformed packets.
    pub dropped: u64,
}

/// The recording line of the HUD (`run --record`, `--stream`, key V, `/hypna/record`).
#[derive(Debug, Clone, Copy)]
pub struct RecordStatus<'a> {
    /// The file or URL written.
    pub target: &'a str,
    /// Seconds since the recording started.
    pub secs: f64,
    /// Frames encoded.
    pub written: u64,
    /// Frames dropped (readback busy, encoder behind or stopped).
    pub dropped: u64,
}

/// The MIDI line of the HUD.
#[derive(Debug, Clone, Copy)]
pub struct MidiHudStatus {
    /// Input ports connected.
    pub inputs: u64,
    /// Feedback ports connected.
    pub outputs: u64,
    /// Messages received so far.
    pub received: u64,
    /// Messages and feedback dropped so far.
    pub dropped: u64,
    /// The beat source's name (`audio`, `midi`, `link`, `tap`).
    pub beat_source: &'static str,
}

/// Everything the overlay shows for one frame. The app fills it each frame; nothing is kept.
#[derive(Debug, Clone, Copy)]
pub struct OverlayData<'a> {
    /// Smoothed frames per second.
    pub fps: f32,
    /// Recent frame times.
    pub frame_times: &'a FrameTimes,
    /// GPU time per pass in milliseconds; empty when timestamps are unavailable.
    pub gpu_passes: &'a [(String, f32)],
    /// One entry per model of the scene.
    pub models: &'a [ModelStatus<'a>],
    /// Audio input, when the scene has one.
    pub audio: Option<AudioStatus<'a>>,
    /// OSC server, when it runs.
    pub osc: Option<OscStatus<'a>>,
    /// The recording, while one runs.
    pub record: Option<RecordStatus<'a>>,
    /// The scene's name.
    pub scene: &'a str,
    /// The internal render size.
    pub internal_size: [u32; 2],
    /// Media sources of the scene and how many are stalled (no fresh picture).
    pub media: (usize, usize),
    /// Current problems (failed reload, shader errors); shown in a red banner whenever
    /// non-empty, even with the HUD off.
    pub errors: &'a [Diagnostic],
    /// The scene's params in declaration order.
    pub params: &'a [ParamDef],
    /// The target value of each param, index-aligned with `params` (a missing entry shows the
    /// default).
    pub targets: &'a [f32],
    /// MIDI ports, when MIDI is on.
    pub midi: Option<MidiHudStatus>,
    /// MIDI learn in the panel: `None` without MIDI (no learn buttons), `Some(None)` while
    /// nothing is learning, `Some(Some(i))` while param `i` waits for a control to move.
    pub midi_learning: Option<Option<usize>>,
}

impl<'a> OverlayData<'a> {
    /// Data with nothing in it but the frame times (for tests and start-up).
    #[must_use]
    pub fn empty(frame_times: &'a FrameTimes) -> Self {
        Self {
            fps: 0.0,
            frame_times,
            gpu_passes: &[],
            models: &[],
            audio: None,
            osc: None,
            record: None,
            scene: "",
            internal_size: [0, 0],
            media: (0, 0),
            errors: &[],
            params: &[],
            targets: &[],
            midi: None,
            midi_learning: None,
        }
    }
}

/// A click on a param's MIDI learn button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnRequest {
    /// Learn for the param at this index (the next CC, note or bend moved binds to it).
    Start(usize),
    /// Stop waiting.
    Cancel,
}

/// A param moved in the panel: apply it like an OSC update (smoothed, echoed as feedback).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamChange {
    /// The param's name.
    pub name: String,
    /// The new target, inside the param's range.
    pub value: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_times_ring_keeps_the_newest() {
        let mut t = FrameTimes::new();
        assert!(t.is_empty());
        assert_eq!(t.last(), None);
        for i in 0..(FRAME_HISTORY + 10) {
            t.push(i as f32);
        }
        assert_eq!(t.len(), FRAME_HISTORY);
        let v: Vec<f32> = t.iter().collect();
        assert_eq!(v.first().copied(), Some(10.0));
        assert_eq!(t.last(), Some((FRAME_HISTORY + 9) as f32));
        assert!((t.max() - (FRAME_HISTORY + 9) as f32).abs() < 1e-3);
        t.push(f32::NAN);
        assert_eq!(t.last(), Some(0.0));
    }
}
