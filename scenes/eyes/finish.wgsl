// Finishing: an unsharp mask (strokes stay crisp after the upscale), canvas grain, a gentle
// S-curve, warmth on onsets and a vignette.
#include "lib/noise.wgsl"
#include "lib/color.wgsl"
#include "lib/sampling.wgsl"

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let px = 1.0 / globals.resolution;
    let c = textureSample(tex_compose, samp_compose, in.uv).rgb;
    var blur = vec3<f32>(0.0);
    for (var i = 0; i < 8; i++) {
        let a = f32(i) * TAU / 8.0;
        blur += textureSample(tex_compose, samp_compose, in.uv + vec2<f32>(cos(a), sin(a)) * px * 1.6).rgb;
    }
    blur /= 8.0;
    var colour = max(c + params.sharpen * (c - blur), vec3<f32>(0.0));
    // Grain fixed to the canvas (not per frame), like paint on a weave.
    let grain = hash12(in.uv * globals.resolution) - 0.5;
    colour *= 1.0 + 0.07 * grain;
    colour = colour * colour * (3.0 - 2.0 * colour);
    colour += vec3<f32>(0.05, 0.025, 0.0) * globals.onset;
    return vec4<f32>(clamp(colour * vignette(in.uv, 0.45), vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}
