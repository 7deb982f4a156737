// Slow bands of colour under a drifting checker: a source with edges for the dot screen and
// the shockwave to bend.
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let aspect = globals.resolution.x / globals.resolution.y;
    let t = globals.time;
    let p = (in.uv - 0.5) * vec2<f32>(aspect, 1.0);
    let bands = 0.5 + 0.5 * cos(6.2831 * (length(p) * 1.5 - t * 0.1 + vec3<f32>(0.0, 0.25, 0.5)));
    let cell = floor((p + vec2<f32>(t * 0.03, t * 0.02)) * 8.0);
    let checker = abs(cell.x + cell.y) % 2.0;
    return vec4<f32>(mix(bands, bands.zxy, checker * params.contrast), 1.0);
}
