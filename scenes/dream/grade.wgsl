// Colour grade for the dream: saturation, a gentle S-curve and a vignette.
#include "lib/color.wgsl"
#include "lib/sampling.wgsl"

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let c = textureSample(tex_feedback, samp_feedback, in.uv).rgb;
    let grey = vec3<f32>(luma(c));
    var colour = mix(grey, c, params.saturation);
    colour = colour * colour * (3.0 - 2.0 * colour);
    colour = mix(mix(grey, c, params.saturation), colour, 0.3) * vignette(in.uv, 0.4);
    return vec4<f32>(clamp(colour, vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}
