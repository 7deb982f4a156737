// hypna shader library: texture coordinate helpers. Sampling itself needs the texture and
// sampler by name (`textureSample(tex_x, samp_x, uv)`), so these build coordinates.
#include "math.wgsl"

// uv scaled by `zoom` (>1 zooms in) and rotated by `angle` around `centre` (all in uv units,
// corrected for the aspect ratio `aspect` = width / height).
fn zoom_rotate(uv: vec2<f32>, centre: vec2<f32>, zoom: f32, angle: f32, aspect: f32) -> vec2<f32> {
    var p = (uv - centre) * vec2<f32>(aspect, 1.0);
    p = rot2(angle) * p / zoom;
    return p / vec2<f32>(aspect, 1.0) + centre;
}

// Vignette factor 1 in the middle falling to `1 - strength` in the corners.
fn vignette(uv: vec2<f32>, strength: f32) -> f32 {
    let d = uv - 0.5;
    return 1.0 - strength * smoothstep(0.2, 0.8, dot(d, d) * 2.0);
}
