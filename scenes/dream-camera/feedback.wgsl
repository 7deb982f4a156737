// The dream on the camera: the last frame, barely zoomed, with what the newest dream changed
// added, pulled every frame a little towards the live camera, so the dream grows on the
// people in front of it and their movement wipes it away where they move.
#include "lib/sampling.wgsl"

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
    let uv = zoom_rotate(in.uv, vec2<f32>(0.5), pow(params.zoom, steps), 0.0, aspect);
    let msize = vec2<f32>(textureDimensions(tex_dreamed));
    var colour = textureSample(tex_feedback, samp_feedback, uv).rgb;

    // The dream's change, added once per result (see scenes/dream/zoom.wgsl: the result's
    // tag is kept in this pass's alpha so a result is never added twice).
    let tick = fract(abs(params.dream_tick) * 1024.0);
    let seen = textureLoad(tex_feedback, vec2<i32>(0, 0), 0).a;
    let is_new = select(0.0, 1.0, abs(tick - seen) > 0.001);
    let dreamed = textureSample(tex_dreamed, samp_dreamed, uv);
    colour += params.take * is_new * dreamed.a * (dreamed.rgb - model_view(uv, msize));

    // The camera: all of it on the first frames, then a pull towards it each frame, harder
    // where the picture moved (the camera differs a lot from what the dream holds).
    let camera = textureSample(tex_camera, samp_camera, in.uv).rgb;
    let moved = smoothstep(0.15, 0.5, length(camera - colour));
    let pull = clamp(params.presence * steps * (1.0 + params.motion * moved), 0.0, 1.0);
    colour = mix(colour, camera, select(pull, 1.0, globals.frame < 2u));
    return vec4<f32>(clamp(colour, vec3<f32>(0.0), vec3<f32>(1.0)), tick);
}
