// The clip through a six-fold mirror that breathes with the bass, over a trail of its own
// last frames: onsets flash the trail brighter and split the colours, and the clip's own
// motion keeps the picture alive without sound.
#include "lib/math.wgsl"

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let aspect = globals.resolution.x / globals.resolution.y;
    let bass = 0.5 * (audio_band(0u) + audio_band(1u));
    var p = (in.uv - 0.5) * vec2<f32>(aspect, 1.0);
    let r = length(p);
    // six mirrored segments, turning slowly; the bass pulls the picture inwards
    let segment = 6.283185 / 6.0;
    var a = atan2(p.y, p.x) + 0.05 * globals.time;
    a = abs(a - segment * floor(a / segment + 0.5));
    let zoom = 1.3 - 0.4 * params.react * bass;
    let q = vec2<f32>(cos(a), sin(a)) * r * zoom;
    let uv = vec2<f32>(q.x / aspect, q.y) + 0.5;
    let split = 0.004 + 0.02 * params.react * globals.onset;
    let clip = vec3<f32>(
        textureSample(tex_clip, samp_clip, uv + vec2<f32>(split, 0.0)).r,
        textureSample(tex_clip, samp_clip, uv).g,
        textureSample(tex_clip, samp_clip, uv - vec2<f32>(split, 0.0)).b,
    );
    // the trail drifts outwards and fades
    let back = (in.uv - 0.5) * 0.985 + 0.5;
    let trail = textureSample(tex_warp, samp_warp, back).rgb;
    let keep = params.trail * (1.0 + 0.1 * globals.onset);
    let colour = max(clip, trail * keep) + 0.15 * params.react * globals.beat * clip;
    return vec4<f32>(colour, 1.0);
}
