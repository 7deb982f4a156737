//! Frame globals: one `#[repr(C)]` Pod struct mirrored field for field by the WGSL `Globals`
//! in the prelude (bind group 0, binding 0). A test checks the two layouts agree.

use bytemuck::{Pod, Zeroable};

/// Number of audio bands the uniform carries (four `vec4`s).
pub const MAX_BANDS: usize = 16;

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
    /// Audio RMS level 0..1 (reserved: 0 until audio input lands).
    pub audio_level: f32,
    /// Audio peak 0..1 (reserved).
    pub audio_peak: f32,
    /// Onset pulse 0..1 (reserved).
    pub onset: f32,
    /// Beat pulse 0..1 (reserved).
    pub beat: f32,
    /// Tempo estimate in beats per minute (reserved).
    pub bpm: f32,
    /// Position within the beat 0..1 (reserved).
    pub beat_phase: f32,
    /// Confidence of the tempo estimate 0..1 (reserved).
    pub bpm_confidence: f32,
    /// Spectral centroid, normalised 0..1 (reserved).
    pub centroid: f32,
    /// Spectral flux (reserved).
    pub flux: f32,
    /// Band energies 0..1, four per `vec4` (reserved).
    pub bands: [[f32; 4]; MAX_BANDS / 4],
    /// Downbeat pulse 0..1: 1 on the first beat of a bar, then decays.
    pub downbeat: f32,
    /// Position within the bar 0..1 (0 on the downbeat).
    pub bar_phase: f32,
    /// Beat of the bar: 0 on the downbeat, then 1, 2 .. `beats_per_bar - 1` (a whole number).
    pub beat_in_bar: f32,
    /// Beats per bar: 2, 3 or 4 (a whole number).
    pub beats_per_bar: f32,
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
}
";

#[cfg(test)]
mod tests {
    use super::*;

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
            0, 8, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 128, 132, 136, 140,
        ];
        let wgsl_offsets: Vec<u32> = members.iter().map(|m| m.offset).collect();
        assert_eq!(wgsl_offsets, rust_offsets);
        assert_eq!(std::mem::offset_of!(Globals, bands), 64);
        assert_eq!(std::mem::offset_of!(Globals, frame), 24);
        assert_eq!(std::mem::offset_of!(Globals, flux), 60);
        assert_eq!(std::mem::offset_of!(Globals, beats_per_bar), 140);
    }
}
