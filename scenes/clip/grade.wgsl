// Grades the clip for the screen: saturation, contrast, a vignette, a lift on the beat.
#include "lib/color.wgsl"
#include "lib/sampling.wgsl"

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let c = textureSample(tex_warp, samp_warp, in.uv).rgb;
    let lift = 1.0 + 0.3 * params.react * globals.beat;
    let saturated = clamp(mix(vec3<f32>(luma(c)), c, 1.6), vec3<f32>(0.0), vec3<f32>(1.0));
    let curved = saturated * saturated * (3.0 - 2.0 * saturated);
    let colour = curved * params.exposure * lift * vignette(in.uv, 0.4);
    return vec4<f32>(clamp(colour, vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}
