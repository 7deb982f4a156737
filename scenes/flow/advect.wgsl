// Advects last frame's ink along a curl-noise velocity field and adds fresh ink.
#include "lib/noise.wgsl"
#include "lib/color.wgsl"

const EMITTERS: i32 = 8;

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let aspect = globals.resolution.x / globals.resolution.y;
    let to_square = vec2<f32>(aspect, 1.0);
    let t = globals.time;
    // Frame-rate independence: all per-frame rates are scaled by dt relative to 60 fps.
    let steps = globals.dt * 60.0;

    let p = in.uv * to_square * params.scale;
    let v = curl2(p + vec2<f32>(0.13 * t, -0.07 * t), 3);
    let uv_prev = in.uv - v * 0.0025 * params.speed * steps / to_square;

    // Advect, with a little diffusion from a 4-tap blur around the source point.
    let px = 1.0 / globals.resolution;
    var ink = textureSample(tex_flow, samp_flow, uv_prev).rgb * 0.6;
    ink += textureSample(tex_flow, samp_flow, uv_prev + vec2<f32>(px.x, 0.0)).rgb * 0.1;
    ink += textureSample(tex_flow, samp_flow, uv_prev - vec2<f32>(px.x, 0.0)).rgb * 0.1;
    ink += textureSample(tex_flow, samp_flow, uv_prev + vec2<f32>(0.0, px.y)).rgb * 0.1;
    ink += textureSample(tex_flow, samp_flow, uv_prev - vec2<f32>(0.0, px.y)).rgb * 0.1;
    ink *= pow(params.decay, steps);

    // Emitters drift on Lissajous paths; each has its own colour from the palette.
    for (var i = 0; i < EMITTERS; i++) {
        let k = f32(i);
        let phase = k * 1.7;
        let centre = vec2<f32>(
            0.5 + 0.36 * sin(t * (0.21 + 0.04 * k) + phase),
            0.5 + 0.34 * sin(t * (0.17 + 0.05 * k) + phase * 1.9),
        );
        let d = (in.uv - centre) * to_square;
        let r = 0.022 + 0.012 * sin(t * 0.9 + k);
        let falloff = exp(-dot(d, d) / (r * r));
        let colour = spectrum(k / f32(EMITTERS) + 0.03 * t, params.hue);
        ink += colour * falloff * 0.08 * params.ink * steps;
    }
    return vec4<f32>(ink, 1.0);
}
