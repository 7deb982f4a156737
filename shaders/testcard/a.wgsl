// Test card A: what a bare ISF filter reads (`hypna run Filter.fs`). Colour bars and a grey
// ramp drifting sideways, a grid and a circle going round, so filters show their effect and
// animate.
@fragment
fn fs_main(in: VertexOutput) -> @location(0) vec4<f32> {
    let uv = in.uv;
    let aspect = globals.resolution.x / max(globals.resolution.y, 1.0);
    // Seven colour bars on the top half, a grey ramp below.
    let drift = fract(uv.x + globals.time * 0.05);
    let bar = floor(drift * 7.0);
    let bars = vec3<f32>(
        select(0.0, 0.9, bar == 0.0 || bar == 1.0 || bar == 4.0 || bar == 5.0),
        select(0.0, 0.9, bar <= 3.0),
        select(0.0, 0.9, bar == 0.0 || bar == 2.0 || bar == 4.0 || bar == 6.0),
    );
    var colour = select(vec3<f32>(drift), bars, uv.y < 0.5);
    // A grid every tenth of the height.
    let cell = fract(vec2<f32>(uv.x * aspect, uv.y) * 10.0);
    if min(cell.x, cell.y) < 0.04 {
        colour = vec3<f32>(0.15);
    }
    // A circle going round.
    let t = globals.time * 0.7;
    let centre = vec2<f32>(0.5 + 0.3 * cos(t), 0.5 + 0.3 * sin(t));
    let d = length((uv - centre) * vec2<f32>(aspect, 1.0));
    colour = mix(colour, vec3<f32>(1.0, 0.85, 0.2), smoothstep(0.13, 0.12, d));
    return vec4<f32>(colour, 1.0);
}
