// Domain warping (after Inigo Quilez): f(p + w * r), r = fbm(p + w * q), q = fbm(p).
#include "lib/noise.wgsl"
#include "lib/color.wgsl"
#include "lib/sampling.wgsl"

struct Warp {
    height: f32,
    q: vec2<f32>,
    r: vec2<f32>,
}

fn warp(p: vec2<f32>, t: f32) -> Warp {
    let q = vec2<f32>(fbm2(p + vec2<f32>(0.0, 0.1 * t), 4), fbm2(p + vec2<f32>(5.2, 1.3) - 0.07 * t, 4));
    let r = vec2<f32>(
        fbm2(p + params.warp * q + vec2<f32>(1.7, 9.2) + 0.15 * t, 4),
        fbm2(p + params.warp * q + vec2<f32>(8.3, 2.8) + 0.126 * t, 4),
    );
    return Warp(fbm2(p + params.warp * r, 5), q, r);
}

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let p = centred(in.uv, globals.resolution) * params.scale;
    let t = globals.time * params.speed;
    let w = warp(p, t);
    let h = w.height;

    // Relief: the height field's slope from one extra sample along a fixed light direction.
    let e = 0.02 * params.scale;
    let h2 = warp(p + vec2<f32>(e, e), t).height;
    let slope = (h2 - h) / e;
    let lit = clamp(0.75 + 0.35 * slope, 0.15, 1.5);

    var colour = mix(vec3<f32>(0.06, 0.03, 0.12), vec3<f32>(0.85, 0.45, 0.2), clamp(h * h * 3.0 + 0.3 * h, 0.0, 1.0));
    colour = mix(colour, spectrum(0.55 + 0.25 * w.q.x, params.hue), clamp(dot(w.q, w.q) * 0.9, 0.0, 1.0));
    colour = mix(colour, spectrum(0.1 + 0.3 * w.r.y, params.hue + 0.5), 0.5 * clamp(abs(w.r.x) * 1.4, 0.0, 1.0));
    colour *= mix(1.0, lit, params.light);
    colour = aces(colour * 1.4) * vignette(in.uv, 0.35);
    return vec4<f32>(colour, 1.0);
}
