// Test card B: the second image of a bare ISF transition (`endImage`). Diagonal stripes in
// blues and a pulsing ring, unlike card A everywhere.
@fragment
fn fs_main(in: VertexOutput) -> @location(0) vec4<f32> {
    let uv = in.uv;
    let aspect = globals.resolution.x / max(globals.resolution.y, 1.0);
    let stripe = step(0.5, fract((uv.x * aspect + uv.y) * 6.0 - globals.time * 0.3));
    var colour = mix(vec3<f32>(0.05, 0.1, 0.35), vec3<f32>(0.2, 0.6, 0.9), stripe);
    let d = length((uv - 0.5) * vec2<f32>(aspect, 1.0));
    let r = 0.25 + 0.05 * sin(globals.time * 2.0);
    colour = mix(colour, vec3<f32>(0.95), smoothstep(0.02, 0.0, abs(d - r)));
    return vec4<f32>(colour, 1.0);
}
