// Colour grade for the dream: sharpening at the model's scale, saturation, a gentle S-curve,
// lifted blacks and a vignette. Nothing here feeds back, so the sharpening cannot build up.
#include "lib/color.wgsl"
#include "lib/sampling.wgsl"

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    // sharpen at the scale of the dream: one model texel, whatever the render size
    let px = 1.0 / vec2<f32>(textureDimensions(tex_dreamed));
    let c0 = textureSample(tex_feedback, samp_feedback, in.uv).rgb;
    let around = (textureSample(tex_feedback, samp_feedback, in.uv + vec2<f32>(px.x, 0.0)).rgb
        + textureSample(tex_feedback, samp_feedback, in.uv - vec2<f32>(px.x, 0.0)).rgb
        + textureSample(tex_feedback, samp_feedback, in.uv + vec2<f32>(0.0, px.y)).rgb
        + textureSample(tex_feedback, samp_feedback, in.uv - vec2<f32>(0.0, px.y)).rgb
        + textureSample(tex_feedback, samp_feedback, in.uv + 1.5 * px).rgb
        + textureSample(tex_feedback, samp_feedback, in.uv - 1.5 * px).rgb
        + textureSample(tex_feedback, samp_feedback, in.uv + vec2<f32>(1.5 * px.x, -1.5 * px.y)).rgb
        + textureSample(tex_feedback, samp_feedback, in.uv + vec2<f32>(-1.5 * px.x, 1.5 * px.y)).rgb) * 0.125;
    let c = clamp(c0 + params.crisp * (c0 - around), vec3<f32>(0.0), vec3<f32>(1.0));
    let grey = vec3<f32>(luma(c));
    let saturated = clamp(mix(grey, c, params.saturation), vec3<f32>(0.0), vec3<f32>(1.0));
    let curved = saturated * saturated * (3.0 - 2.0 * saturated);
    // a gentle S-curve, then lifted blacks and softened whites
    let toned = mix(vec3<f32>(0.03), vec3<f32>(0.97), mix(saturated, curved, 0.15));
    let colour = toned * vignette(in.uv, 0.25);
    return vec4<f32>(clamp(colour, vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}
