// Bloom, contrast and a vignette.
#include "lib/color.wgsl"
#include "lib/sampling.wgsl"

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let c = textureSample(tex_trails, samp_trails, in.uv).rgb;
    var glow = vec3<f32>(0.0);
    let r = 10.0 / globals.resolution;
    for (var i = 0; i < 8; i++) {
        let a = f32(i) * TAU / 8.0;
        glow += textureSample(tex_trails, samp_trails, in.uv + vec2<f32>(cos(a), sin(a)) * r).rgb;
    }
    glow /= 8.0;
    var colour = c + params.bloom * 0.5 * max(glow - vec3<f32>(0.5), vec3<f32>(0.0));
    colour = colour * colour * (3.0 - 2.0 * colour);
    return vec4<f32>(clamp(colour * vignette(in.uv, 0.5), vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}
