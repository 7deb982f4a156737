// The atlas of eyes, blended towards each new run: between runs of a model slower than the
// frames the eyes dissolve into the next ones instead of stepping.
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let fresh = textureSample(tex_eyes, samp_eyes, in.uv);
    let previous = textureSample(tex_held, samp_held, in.uv);
    // `hold` is the share of the previous frame kept per 1/60 s.
    let keep = pow(params.hold, globals.dt * 60.0) * previous.a;
    return vec4<f32>(mix(fresh.rgb, previous.rgb, keep), max(fresh.a, previous.a));
}
