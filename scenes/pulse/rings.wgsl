// The ring tunnel: last frame zoomed outward (bass pushes harder), plus a new ring whose
// outline follows the spectrum, a beat shock ring, and a waveform trace.
#include "lib/noise.wgsl"
#include "lib/color.wgsl"
#include "lib/sampling.wgsl"

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let aspect = globals.resolution.x / globals.resolution.y;
    let t = globals.time;
    let steps = globals.dt * 60.0;
    let k = params.react;
    let bass = k * max(audio_band(0u), audio_band(1u));
    let mid = k * 0.5 * (audio_band(3u) + audio_band(4u));
    let high = k * 0.5 * (audio_band(6u) + audio_band(7u));
    let onset = k * globals.onset;
    // Silent motion: a slow breath that audio takes over from.
    let breath = 0.5 + 0.5 * sin(t * 0.9);

    // Feedback: zoom outward from the centre and turn slowly.
    let zoom = 1.0 + (0.006 + 0.03 * bass + 0.04 * onset) * steps;
    let angle = (0.0015 + 0.006 * mid) * steps * sin(t * 0.23);
    let prev_uv = zoom_rotate(in.uv, vec2<f32>(0.5), zoom, angle, aspect);
    // Loud passages shorten the trails so the tunnel never floods.
    let keep = params.trail - 0.06 * min(bass + mid, 1.0);
    var col = textureSample(tex_rings, samp_rings, prev_uv).rgb * pow(keep, steps);

    let p = (in.uv - 0.5) * vec2<f32>(aspect, 1.0);
    let r = length(p);
    let a = atan2(p.y, p.x);
    // Mirror the angle so the spectrum runs bass (right) -> treble (left) on both halves.
    let s = abs(a) / PI;
    let spec = k * audio_spectrum(0.04 + 0.9 * s);
    let wobble = 0.025 * noise2(vec2<f32>(cos(a), sin(a)) * 2.5 + vec2<f32>(t * 0.4, -t * 0.3));
    let radius = 0.12 + 0.03 * breath + wobble + 0.12 * spec + 0.05 * onset;
    let width = 0.006 + 0.01 * onset + 0.004 * high;
    let ring = exp(-pow((r - radius) / width, 2.0));
    let ring_col = spectrum(s * 0.6 + 0.05 * t + 0.3 * globals.centroid, params.hue);
    col += ring_col * ring * (0.3 + 0.35 * spec + 0.6 * onset) * steps;

    // Beat shock ring: leaves the centre on each beat, fading as the beat goes on.
    let phase = globals.beat_phase;
    let shock_r = 0.05 + 0.6 * phase;
    let shock = exp(-pow((r - shock_r) / 0.01, 2.0)) * pow(1.0 - phase, 2.0)
        * globals.bpm_confidence * k;
    col += vec3<f32>(0.9, 0.95, 1.0) * shock * 0.5 * steps;

    // Waveform trace across the middle, brighter with level.
    let wave_y = 0.5 + 0.18 * k * audio_waveform(in.uv.x);
    let trace = exp(-pow((in.uv.y - wave_y) * globals.resolution.y / 1.5, 2.0));
    col += spectrum(in.uv.x + 0.5, params.hue) * trace * (0.05 + 0.6 * k * globals.audio_level)
        * steps * smoothstep(0.0, 0.1, r);

    return vec4<f32>(min(col, vec3<f32>(8.0)), 1.0);
}
