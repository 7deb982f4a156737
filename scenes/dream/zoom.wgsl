// Zooms and turns the last frame, adds what the newest dream changed, and seeds fresh noise
// where the picture has gone flat.
#include "lib/noise.wgsl"
#include "lib/sampling.wgsl"

// Catmull-Rom resampling of the last frame in 9 bilinear taps. A feedback loop that resamples
// bilinearly every frame blurs a little more each frame; Catmull-Rom keeps the detail without
// the ringing that an unsharp mask builds up where the zoom barely moves (the centre).
fn sample_sharp(uv: vec2<f32>) -> vec3<f32> {
    let size = vec2<f32>(textureDimensions(tex_feedback));
    let p = uv * size - 0.5;
    let t1 = floor(p) + 0.5;
    let f = p - floor(p);
    let w0 = f * (-0.5 + f * (1.0 - 0.5 * f));
    let w1 = 1.0 + f * f * (-2.5 + 1.5 * f);
    let w2 = f * (0.5 + f * (2.0 - 1.5 * f));
    let w3 = f * f * (-0.5 + 0.5 * f);
    let w12 = w1 + w2;
    let o12 = w2 / w12;
    let tc0 = (t1 - 1.0) / size;
    let tc3 = (t1 + 2.0) / size;
    let tc12 = (t1 + o12) / size;
    var c = textureSample(tex_feedback, samp_feedback, vec2<f32>(tc0.x, tc0.y)).rgb * w0.x * w0.y
        + textureSample(tex_feedback, samp_feedback, vec2<f32>(tc12.x, tc0.y)).rgb * w12.x * w0.y
        + textureSample(tex_feedback, samp_feedback, vec2<f32>(tc3.x, tc0.y)).rgb * w3.x * w0.y
        + textureSample(tex_feedback, samp_feedback, vec2<f32>(tc0.x, tc12.y)).rgb * w0.x * w12.y
        + textureSample(tex_feedback, samp_feedback, vec2<f32>(tc12.x, tc12.y)).rgb * w12.x * w12.y
        + textureSample(tex_feedback, samp_feedback, vec2<f32>(tc3.x, tc12.y)).rgb * w3.x * w12.y
        + textureSample(tex_feedback, samp_feedback, vec2<f32>(tc0.x, tc3.y)).rgb * w0.x * w3.y
        + textureSample(tex_feedback, samp_feedback, vec2<f32>(tc12.x, tc3.y)).rgb * w12.x * w3.y
        + textureSample(tex_feedback, samp_feedback, vec2<f32>(tc3.x, tc3.y)).rgb * w3.x * w3.y;
    return c;
}

// The feedback image as the model saw it: the model input is a bilinear resample at the
// model's texel centres, and its output comes back bilinearly upsampled. Rebuilding that view
// here from the same four model texels makes `dreamed - model_view` exactly the change the
// dream made, so adding it keeps every detail finer than the model's resolution.
fn model_view(uv: vec2<f32>, msize: vec2<f32>) -> vec3<f32> {
    let t = uv * msize - 0.5;
    let base = floor(t);
    let f = t - base;
    let c00 = textureSample(tex_feedback, samp_feedback, (base + vec2<f32>(0.5, 0.5)) / msize).rgb;
    let c10 = textureSample(tex_feedback, samp_feedback, (base + vec2<f32>(1.5, 0.5)) / msize).rgb;
    let c01 = textureSample(tex_feedback, samp_feedback, (base + vec2<f32>(0.5, 1.5)) / msize).rgb;
    let c11 = textureSample(tex_feedback, samp_feedback, (base + vec2<f32>(1.5, 1.5)) / msize).rgb;
    return mix(mix(c00, c10, f.x), mix(c01, c11, f.x), f.y);
}

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let aspect = globals.resolution.x / globals.resolution.y;
    let steps = globals.dt * 60.0;
    let uv = zoom_rotate(in.uv, vec2<f32>(0.5), pow(params.zoom, steps), params.rotate * steps, aspect);
    let msize = vec2<f32>(textureDimensions(tex_dreamed));
    let bilinear = textureSample(tex_feedback, samp_feedback, uv).rgb;
    var colour = mix(bilinear, sample_sharp(uv), params.sharpen);

    // The dream's change, added once per result. Every result brings a new `objective`
    // (bound to params.dream_tick); its fractional digits are kept in the alpha channel of this
    // pass, so a result that has already been added is recognised. Adding a stale result again
    // would drag the picture back to where it was before the zoom moved it (radial smears).
    // Model textures are transparent black until the first result arrives (alpha 0).
    let tick = fract(abs(params.dream_tick) * 1024.0);
    let seen = textureLoad(tex_feedback, vec2<i32>(0, 0), 0).a;
    let is_new = select(0.0, 1.0, abs(tick - seen) > 0.001);
    let dreamed = textureSample(tex_dreamed, samp_dreamed, uv);
    colour += params.take * is_new * dreamed.a * (dreamed.rgb - model_view(uv, msize));

    // Contrast control: a slow pull towards the local mean, so that the dream cannot drive
    // everything into the 0..1 clip (flat black/white/primary areas). Luminance contrast,
    // which the dream builds fastest, is pulled harder than colour.
    let wide = 4.0 / msize; // four model texels, whatever the render size
    let local = (textureSample(tex_feedback, samp_feedback, uv + vec2<f32>(wide.x, wide.y)).rgb
        + textureSample(tex_feedback, samp_feedback, uv + vec2<f32>(-wide.x, wide.y)).rgb
        + textureSample(tex_feedback, samp_feedback, uv + vec2<f32>(wide.x, -wide.y)).rgb
        + textureSample(tex_feedback, samp_feedback, uv - wide).rgb) * 0.25;
    let anchor = mix(local, vec3<f32>(0.5), 0.3);
    let lum_w = vec3<f32>(0.299, 0.587, 0.114);
    let dev = colour - anchor;
    let dev_lum = dot(dev, lum_w);
    let k = clamp(params.relax * steps, 0.0, 1.0);
    colour = anchor + (dev - dev_lum) * (1.0 - k * params.relax_colour) + dev_lum * (1.0 - k);

    // Seed: coloured fractal noise, all of it on the first frames, afterwards only where the
    // picture is flat, so the dream always has material to grow from and never leaves a plain
    // patch behind.
    // A new noise field every frame: the same field added frame after frame would be carried
    // outward by the zoom into radial streaks.
    let p = in.uv * vec2<f32>(aspect, 1.0) * 9.0;
    let jump = vec2<f32>(hash22(vec2<f32>(f32(globals.frame % 4096u), 0.5))) * 97.0;
    let noise = vec3<f32>(fbm2(p + jump, 3), fbm2(p + jump + vec2<f32>(31.1, 7.3), 3), fbm2(p + jump - vec2<f32>(13.7, 55.7), 3));
    let fresh = clamp(local + noise * 0.5, vec3<f32>(0.0), vec3<f32>(1.0));
    let contrast = length(bilinear - local);
    let flat = 1.0 - smoothstep(0.02, 0.12, contrast);
    let seed = select(params.seed * steps * flat, 1.0, globals.frame < 2u);
    colour = mix(colour, select(fresh, clamp(noise * 0.6 + 0.5, vec3<f32>(0.0), vec3<f32>(1.0)), globals.frame < 2u),
        clamp(seed, 0.0, 1.0));
    return vec4<f32>(clamp(colour, vec3<f32>(0.0), vec3<f32>(1.0)), tick);
}
