// Tone-maps the ink, adds a soft glow and a vignette.
#include "lib/color.wgsl"
#include "lib/sampling.wgsl"

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let ink = textureSample(tex_flow, samp_flow, in.uv).rgb;
    // A cheap glow: a wide 8-tap ring around the pixel.
    var glow = vec3<f32>(0.0);
    let radius = 6.0 / globals.resolution;
    for (var i = 0; i < 8; i++) {
        let a = f32(i) * TAU / 8.0;
        glow += textureSample(tex_flow, samp_flow, in.uv + vec2<f32>(cos(a), sin(a)) * radius).rgb;
    }
    glow /= 8.0;
    let hdr = (ink + 0.35 * glow) * params.exposure;
    let background = vec3<f32>(0.015, 0.01, 0.03);
    let colour = aces(hdr + background) * vignette(in.uv, 0.45);
    return vec4<f32>(colour, 1.0);
}
