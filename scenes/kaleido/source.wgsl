// Soft coloured blobs drifting over a slowly turning feedback swirl: the image the ISF
// kaleidoscope folds.
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let aspect = globals.resolution.x / globals.resolution.y;
    let t = globals.time;
    // Last frame, turned a little about the centre and faded.
    let c = (in.uv - 0.5) * vec2<f32>(aspect, 1.0);
    let turn = 0.004 + 0.02 * globals.audio_level;
    let rotated = vec2<f32>(c.x * cos(turn) - c.y * sin(turn), c.x * sin(turn) + c.y * cos(turn));
    let back = rotated * 0.995 / vec2<f32>(aspect, 1.0) + 0.5;
    var colour = textureSample(tex_source, samp_source, back).rgb * 0.94;
    // Five blobs on Lissajous paths, each its own hue.
    for (var i = 0u; i < 5u; i = i + 1u) {
        let k = f32(i);
        let centre = vec2<f32>(
            0.5 + 0.35 * sin(t * (0.31 + 0.07 * k) + k * 1.7),
            0.5 + 0.3 * cos(t * (0.23 + 0.05 * k) + k * 2.3),
        );
        let d = length((in.uv - centre) * vec2<f32>(aspect, 1.0));
        let hue = vec3<f32>(0.5) + 0.5 * cos(6.2831 * (k * 0.2 + t * 0.05 + vec3<f32>(0.0, 0.33, 0.67)));
        colour = colour + hue * smoothstep(0.09, 0.0, d) * (0.35 + params.energy);
    }
    return vec4<f32>(min(colour, vec3<f32>(1.0)), 1.0);
}
