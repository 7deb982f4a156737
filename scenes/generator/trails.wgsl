// Feedback trails: last frame swirls and drifts outward; the newest painting shows through.
#include "lib/noise.wgsl"
#include "lib/sampling.wgsl"

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let aspect = globals.resolution.x / globals.resolution.y;
    let steps = globals.dt * 60.0;
    // Swirl: rotation that grows towards the edges, plus a slight outward drift.
    let d = (in.uv - 0.5) * vec2<f32>(aspect, 1.0);
    let angle = params.swirl * steps * (0.5 + 2.0 * length(d));
    let uv = zoom_rotate(in.uv, vec2<f32>(0.5), pow(1.0015, steps), angle, aspect);
    let previous = textureSample(tex_trails, samp_trails, uv).rgb;
    let painted = textureSample(tex_painted, samp_painted, in.uv);
    // Before the first result the painting is transparent: keep a dim noise field instead.
    let n = fbm2(in.uv * vec2<f32>(aspect, 1.0) * 3.0 + globals.time * 0.05, 3) * 0.5 + 0.5;
    let fresh = mix(vec3<f32>(n * 0.1), painted.rgb, painted.a);
    let keep = pow(params.trail, steps);
    return vec4<f32>(mix(fresh, max(previous, fresh * 0.9), keep), 1.0);
}
