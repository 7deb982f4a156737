// Zooms and turns the last frame, blends in the newest dream, and seeds fresh noise.
#include "lib/noise.wgsl"
#include "lib/sampling.wgsl"

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let aspect = globals.resolution.x / globals.resolution.y;
    let steps = globals.dt * 60.0;
    let uv = zoom_rotate(in.uv, vec2<f32>(0.5), pow(params.zoom, steps), params.rotate * steps, aspect);
    // Unsharp mask: the dream works at a lower resolution, so undo the blur its upscale adds.
    let px = 1.0 / globals.resolution;
    let centre = textureSample(tex_feedback, samp_feedback, uv).rgb;
    let around = (textureSample(tex_feedback, samp_feedback, uv + vec2<f32>(px.x, 0.0)).rgb
        + textureSample(tex_feedback, samp_feedback, uv - vec2<f32>(px.x, 0.0)).rgb
        + textureSample(tex_feedback, samp_feedback, uv + vec2<f32>(0.0, px.y)).rgb
        + textureSample(tex_feedback, samp_feedback, uv - vec2<f32>(0.0, px.y)).rgb) * 0.25;
    let previous = centre + params.sharpen * 0.5 * (centre - around);
    // Model textures are transparent black until the first result arrives (alpha 0).
    let dreamed = textureSample(tex_dreamed, samp_dreamed, uv);
    var colour = mix(previous, dreamed.rgb, params.take * dreamed.a);

    // Seed: coloured fractal noise, all of it on the first frames, a trace afterwards so the
    // dream always has fresh material where the zoom pulls in from the centre.
    let p = in.uv * vec2<f32>(aspect, 1.0) * 5.0;
    let t = globals.time * 0.05;
    let noise = vec3<f32>(fbm2(p + vec2<f32>(t, 0.0), 4), fbm2(p + vec2<f32>(3.1, t), 4), fbm2(p - vec2<f32>(t, 5.7), 4));
    let fresh = clamp(noise * 0.6 + 0.5, vec3<f32>(0.0), vec3<f32>(1.0));
    let seed = select(params.seed * steps, 1.0, globals.frame < 2u);
    colour = mix(colour, fresh, clamp(seed, 0.0, 1.0));
    return vec4<f32>(clamp(colour, vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}
