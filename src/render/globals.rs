//! Frame globals: one `#[repr(C)]` Pod struct mirrored field for field by the WGSL `Globals`
//! in the prelude (bind group 0, binding 0). A test checks the two layouts agree.

use bytemuck::{Pod, Zeroable};

use crate::audio::AudioFeatures;

/// Number of audio bands the uniform carries (four `vec4`s): the most `[audio] bands` allows.
pub use crate::scene::audio::MAX_BANDS;

/// Per-pass frame globals. One copy per pass per frame (only `resolution` differs), written
/// into one uniform buffer and bound with a dynamic offset.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct Globals {
    /// This pass's output size in pixels.
    pub resolution: [f32; 2],
    /// The scene's internal size in pixels.
    pub scene_resolution: [f32; 2],
    /// Seconds since the scene started (fixed-step in `render`).
    pub time: f32,
    /// Seconds since the previous frame.
    pub dt: f32,
    /// Frame number, from 0.
    pub frame: u32,
    /// Audio RMS level 0..1 (0 without audio input).
    pub audio_level: f32,
    /// Audio peak 0..1.
    pub audio_peak: f32,
    /// Onset pulse 0..1.
    pub onset: f32,
    /// Beat pulse 0..1.
    pub beat: f32,
    /// Tempo estimate in beats per minute.
    pub bpm: f32,
    /// Position within the beat 0..1.
    pub beat_phase: f32,
    /// Confidence of the tempo estimate 0..1.
    pub bpm_confidence: f32,
    /// Spectral centroid, normalised 0..1.
    pub centroid: f32,
    /// Spectral flux.
    pub flux: f32,
    /// Band energies 0..1, four per `vec4` (unused bands 0).
    pub bands: [[f32; 4]; MAX_BANDS / 4],
    /// Downbeat pulse 0..1: 1 on the first beat of a bar, then decays.
    pub downbeat: f32,
    /// Position within the bar 0..1 (0 on the downbeat).
    pub bar_phase: f32,
    /// Beat of the bar: 0 on the downbeat, then 1, 2 .. `beats_per_bar - 1` (a whole number).
    pub beat_in_bar: f32,
    /// Beats per bar: 2, 3 or 4 (a whole number).
    pub beats_per_bar: f32,
    /// Local date and time: year, month (1..=12), day (1..=31), seconds since midnight
    /// (ISF's `DATE`, Shadertoy's `iDate`).
    pub date: [f32; 4],
    /// Index of this pass within its ISF file or Shadertoy description (ISF's `PASSINDEX`);
    /// 0 for WGSL passes.
    pub pass_index: u32,
    /// Padding to WGSL's struct size (a multiple of 16 bytes).
    pub pad: [u32; 3],
}

impl Globals {
    /// Fills the audio fields of the frame globals: `audio_level` = `level`,
    /// `audio_peak` = `peak`, then `onset`, `beat`, `bpm`, `beat_phase`,
    /// `bpm_confidence`, `centroid` (normalised), `flux`, the 16 `bands` (unused ones 0),
    /// `downbeat`, `bar_phase`, `beat_in_bar` and `beats_per_bar` (as floats). Other fields
    /// are left alone.
    pub fn set_audio(&mut self, f: &AudioFeatures) {
        self.audio_level = f.level;
        self.audio_peak = f.peak;
        self.onset = f.onset;
        self.beat = f.beat;
        self.bpm = f.bpm;
        self.beat_phase = f.beat_phase;
        self.bpm_confidence = f.bpm_confidence;
        self.centroid = f.centroid;
        self.flux = f.flux;
        self.downbeat = f.downbeat;
        self.bar_phase = f.bar_phase;
        self.beat_in_bar = f.beat_in_bar as f32;
        self.beats_per_bar = f.beats_per_bar as f32;
        for (i, chunk) in self.bands.iter_mut().enumerate() {
            for (j, v) in chunk.iter_mut().enumerate() {
                *v = f.bands.get(i * 4 + j).copied().unwrap_or(0.0);
            }
        }
    }
}

/// The WGSL mirror of [`Globals`]; keep the two in step (the layout test enforces it).
pub const GLOBALS_WGSL: &str = "\
struct Globals {
    resolution: vec2<f32>,
    scene_resolution: vec2<f32>,
    time: f32,
    dt: f32,
    frame: u32,
    audio_level: f32,
    audio_peak: f32,
    onset: f32,
    beat: f32,
    bpm: f32,
    beat_phase: f32,
    bpm_confidence: f32,
    centroid: f32,
    flux: f32,
    bands: array<vec4<f32>, 4>,
    downbeat: f32,
    bar_phase: f32,
    beat_in_bar: f32,
    beats_per_bar: f32,
    date: vec4<f32>,
    pass_index: u32,
}
";

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values are the point of these tests
mod tests {
    use super::*;

    #[test]
    fn globals_receive_every_audio_field() {
        let mut f = AudioFeatures::silent(48_000, 8);
        f.level = 0.1;
        f.peak = 0.2;
        f.onset = 0.3;
        f.beat = 0.4;
        f.bpm = 128.0;
        f.beat_phase = 0.5;
        f.bpm_confidence = 0.6;
        f.centroid = 0.7;
        f.flux = 0.8;
        f.downbeat = 0.9;
        f.bar_phase = 0.625;
        f.beat_in_bar = 2;
        f.beats_per_bar = 4;
        for (i, b) in f.bands.iter_mut().enumerate().take(8) {
            *b = i as f32 / 10.0;
        }
        let mut g = Globals {
            time: 3.0,
            ..Globals::default()
        };
        g.set_audio(&f);
        assert_eq!(
            [
                g.audio_level,
                g.audio_peak,
                g.onset,
                g.beat,
                g.bpm,
                g.beat_phase,
                g.bpm_confidence,
                g.centroid,
                g.flux
            ],
            [0.1, 0.2, 0.3, 0.4, 128.0, 0.5, 0.6, 0.7, 0.8]
        );
        assert_eq!(g.bands[0], [0.0, 0.1, 0.2, 0.3]);
        assert_eq!(g.bands[1], [0.4, 0.5, 0.6, 0.7]);
        assert_eq!(g.bands[2], [0.0; 4]);
        assert_eq!(
            [g.downbeat, g.bar_phase, g.beat_in_bar, g.beats_per_bar],
            [0.9, 0.625, 2.0, 4.0]
        );
        assert!((g.time - 3.0).abs() < f32::EPSILON, "untouched");
    }

    #[test]
    fn wgsl_layout_matches_rust() {
        let module = naga::front::wgsl::parse_str(GLOBALS_WGSL).expect("globals parse");
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).expect("layout");
        let (handle, ty) = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some("Globals"))
            .expect("Globals");
        let naga::TypeInner::Struct { members, span } = &ty.inner else {
            panic!("not a struct")
        };
        assert_eq!(*span as usize, std::mem::size_of::<Globals>(), "size");
        let _ = handle;
        let rust_offsets = [
            0, 8, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 128, 132, 136, 140, 144, 160,
        ];
        let wgsl_offsets: Vec<u32> = members.iter().map(|m| m.offset).collect();
        assert_eq!(wgsl_offsets, rust_offsets);
        assert_eq!(std::mem::offset_of!(Globals, bands), 64);
        assert_eq!(std::mem::offset_of!(Globals, frame), 24);
        assert_eq!(std::mem::offset_of!(Globals, flux), 60);
        assert_eq!(std::mem::offset_of!(Globals, beats_per_bar), 140);
        assert_eq!(std::mem::offset_of!(Globals, date), 144);
        assert_eq!(std::mem::offset_of!(Globals, pass_index), 160);
    }
}
