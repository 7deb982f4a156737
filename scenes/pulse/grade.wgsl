// Tone-maps the tunnel, splits the colour channels on onsets, and adds a vignette.
#include "lib/color.wgsl"
#include "lib/sampling.wgsl"

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let shift = (in.uv - 0.5) * (0.002 + 0.012 * params.react * globals.onset);
    let c = vec3<f32>(
        textureSample(tex_rings, samp_rings, in.uv + shift).r,
        textureSample(tex_rings, samp_rings, in.uv).g,
        textureSample(tex_rings, samp_rings, in.uv - shift).b,
    );
    let background = mix(vec3<f32>(0.02, 0.01, 0.04), vec3<f32>(0.05, 0.02, 0.08), in.uv.y);
    let lift = 1.0 + 0.4 * params.react * globals.beat;
    let colour = aces((c + background) * params.exposure * lift) * vignette(in.uv, 0.5);
    return vec4<f32>(colour, 1.0);
}
