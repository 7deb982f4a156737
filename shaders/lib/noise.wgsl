// hypna shader library: hashes, gradient noise, fbm, curl noise.
#include "math.wgsl"

// Integer hash (PCG-style) -> 0..1. Stable across GPUs, unlike sin-based hashes.
fn hash_u(x: u32) -> u32 {
    var v = x * 747796405u + 2891336453u;
    let w = ((v >> ((v >> 28u) + 4u)) ^ v) * 277803737u;
    return (w >> 22u) ^ w;
}

fn hash12(p: vec2<f32>) -> f32 {
    let i = vec2<u32>(vec2<i32>(floor(p)) + vec2<i32>(32768));
    return f32(hash_u(i.x ^ hash_u(i.y))) / 4294967295.0;
}

fn hash22(p: vec2<f32>) -> vec2<f32> {
    let i = vec2<u32>(vec2<i32>(floor(p)) + vec2<i32>(32768));
    let h = hash_u(i.x ^ hash_u(i.y));
    return vec2<f32>(f32(h), f32(hash_u(h))) / 4294967295.0;
}

fn grad2(cell: vec2<f32>) -> vec2<f32> {
    let a = hash12(cell) * TAU;
    return vec2<f32>(cos(a), sin(a));
}

// 2D gradient noise, roughly -1..1.
fn noise2(p: vec2<f32>) -> f32 {
    let i = floor(p);
    let f = fract(p);
    let u = f * f * f * (f * (f * 6.0 - 15.0) + 10.0);
    let a = dot(grad2(i), f);
    let b = dot(grad2(i + vec2<f32>(1.0, 0.0)), f - vec2<f32>(1.0, 0.0));
    let c = dot(grad2(i + vec2<f32>(0.0, 1.0)), f - vec2<f32>(0.0, 1.0));
    let d = dot(grad2(i + vec2<f32>(1.0, 1.0)), f - vec2<f32>(1.0, 1.0));
    return 1.4 * mix(mix(a, b, u.x), mix(c, d, u.x), u.y);
}

// Fractal sum of `octaves` (1..8) layers of noise2, roughly -1..1.
fn fbm2(p: vec2<f32>, octaves: i32) -> f32 {
    var sum = 0.0;
    var amp = 0.5;
    var q = p;
    let m = mat2x2<f32>(1.6, 1.2, -1.2, 1.6);
    for (var i = 0; i < min(octaves, 8); i++) {
        sum += amp * noise2(q);
        q = m * q + vec2<f32>(17.0, 9.2);
        amp *= 0.5;
    }
    return sum;
}

// Divergence-free 2D velocity: the curl of fbm2 (finite differences).
fn curl2(p: vec2<f32>, octaves: i32) -> vec2<f32> {
    let e = 0.01;
    let dx = fbm2(p + vec2<f32>(e, 0.0), octaves) - fbm2(p - vec2<f32>(e, 0.0), octaves);
    let dy = fbm2(p + vec2<f32>(0.0, e), octaves) - fbm2(p - vec2<f32>(0.0, e), octaves);
    return vec2<f32>(dy, -dx) / (2.0 * e);
}
