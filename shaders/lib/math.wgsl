// hypna shader library: math helpers.
const PI: f32 = 3.14159265358979;
const TAU: f32 = 6.28318530717959;

// Rotation by `a` radians (counter-clockwise in a y-up frame).
fn rot2(a: f32) -> mat2x2<f32> {
    let c = cos(a);
    let s = sin(a);
    return mat2x2<f32>(c, s, -s, c);
}

// Maps `x` from [a0, a1] to [b0, b1] (unclamped).
fn remap(x: f32, a0: f32, a1: f32, b0: f32, b1: f32) -> f32 {
    return b0 + (x - a0) * (b1 - b0) / (a1 - a0);
}

// Centred coordinates: (0,0) at the middle, y up, the short side spans -1..1.
fn centred(uv: vec2<f32>, resolution: vec2<f32>) -> vec2<f32> {
    let p = (uv - 0.5) * vec2<f32>(2.0, -2.0);
    return p * resolution / min(resolution.x, resolution.y);
}
