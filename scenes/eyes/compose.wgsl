// Composes the 16 eyes of the atlas into the picture: a breathing honeycomb of round
// medallions, or (params.kaleido) a mirrored log-polar tunnel of eyes zooming inwards around
// one large eye. Each eye is read with a Catmull-Rom filter clamped to its own tile, so
// enlarging a 128-pixel eye keeps its strokes crisp instead of smearing them (and tiles
// never bleed into each other).
#include "lib/noise.wgsl"
#include "lib/color.wgsl"

// The scene's batch: 16 eyes in a 4x4 atlas.
const COLUMNS: u32 = 4u;
const TILES: u32 = 16u;

fn cubic_weights(t: f32) -> vec4<f32> {
    let t2 = t * t;
    let t3 = t2 * t;
    return 0.5 * vec4<f32>(
        -t3 + 2.0 * t2 - t,
        3.0 * t3 - 5.0 * t2 + 2.0,
        -3.0 * t3 + 4.0 * t2 + t,
        t3 - t2,
    );
}

// Eye `tile` at `uv` (0..1 inside the tile), Catmull-Rom over 4x4 texels of that tile only.
fn eye(tile: u32, uv: vec2<f32>) -> vec4<f32> {
    let atlas = vec2<i32>(textureDimensions(tex_held));
    let size = atlas / i32(COLUMNS);
    let origin = vec2<i32>(i32(tile % COLUMNS), i32(tile / COLUMNS)) * size;
    let pos = clamp(uv, vec2<f32>(0.0), vec2<f32>(1.0)) * vec2<f32>(size) - 0.5;
    let base = floor(pos);
    let f = pos - base;
    let wx = cubic_weights(f.x);
    let wy = cubic_weights(f.y);
    var sum = vec4<f32>(0.0);
    for (var j = 0; j < 4; j++) {
        var row = vec4<f32>(0.0);
        for (var i = 0; i < 4; i++) {
            let texel = clamp(vec2<i32>(base) + vec2<i32>(i - 1, j - 1), vec2<i32>(0), size - 1);
            row += wx[i] * textureLoad(tex_held, origin + texel, 0);
        }
        sum += wy[j] * row;
    }
    return max(sum, vec4<f32>(0.0));
}

// The eye of a honeycomb cell: cells at (x, y) on the half-integer lattice take tile
// (3 * 2x + 5 * y) mod 16, so no two neighbours show the same eye.
fn pick(id: vec2<f32>) -> u32 {
    let ix = i32(round(id.x * 2.0));
    let iy = i32(round(id.y / 0.8660254));
    return u32(((3 * ix + 5 * iy) % i32(TILES) + i32(TILES)) % i32(TILES));
}

// The mean colour of an eye, near enough: its middle texel.
fn eye_tint(tile: u32) -> vec3<f32> {
    let size = vec2<i32>(textureDimensions(tex_held)) / i32(COLUMNS);
    let origin = vec2<i32>(i32(tile % COLUMNS), i32(tile / COLUMNS)) * size;
    return textureLoad(tex_held, origin + size / 2, 0).rgb;
}

// A painted canvas behind the eyes: dark, warm, with a slow weave.
fn canvas(p: vec2<f32>) -> vec3<f32> {
    let n = fbm2(p * 6.0 + vec2<f32>(0.0, globals.time * 0.03), 4) * 0.5 + 0.5;
    let weave = 0.5 + 0.5 * sin(p.x * 900.0) * sin(p.y * 900.0);
    return vec3<f32>(0.05, 0.035, 0.03) * (0.6 + 0.8 * n) * (0.92 + 0.08 * weave);
}

// Honeycomb of round eyes; each cell breathes with its own phase, the beat and the level.
fn honeycomb(p: vec2<f32>) -> vec3<f32> {
    let g = p * params.cells;
    let r = vec2<f32>(1.0, 1.7320508);
    let h = r * 0.5;
    let a = g - r * floor(g / r) - h;
    let b = (g - h) - r * floor((g - h) / r) - h;
    var gv = b;
    if dot(a, a) < dot(b, b) {
        gv = a;
    }
    let id = g - gv;
    let phase = hash12(id + 3.0) * TAU;
    let breath = 1.0 + params.breathe * (0.03 * sin(globals.time * 0.9 + phase)
        + 0.05 * globals.beat * hash12(id + 7.0) + 0.03 * globals.audio_level);
    // At most ~0.5 (touching neighbours) at full breath.
    let radius = 0.45 * breath;
    let angle = 0.12 * sin(globals.time * 0.23 + phase);
    let c = cos(angle);
    let s = sin(angle);
    let q = vec2<f32>(c * gv.x - s * gv.y, s * gv.x + c * gv.y) / radius;
    let d = length(q);
    // The circle inscribed in the tile, a little inside its weakest border pixels.
    let tile = pick(id);
    let e = eye(tile, q * 0.48 + 0.5);
    let inside = smoothstep(1.0, 0.94, d) * e.a;
    // A thin rim in the eye's own colour, brighter on onsets.
    let rim = smoothstep(0.07, 0.0, abs(d - 1.0)) * (0.35 + 0.6 * globals.onset);
    let tint = eye_tint(tile);
    var colour = canvas(p) * (1.0 - 0.6 * smoothstep(1.35, 0.95, d));
    colour += rim * (0.2 + tint);
    return mix(colour, e.rgb, inside);
}

// A mirrored log-polar tunnel: rings of eyes fall inwards towards one large eye.
fn kaleidoscope(p: vec2<f32>) -> vec3<f32> {
    let r = max(length(p), 1e-4);
    let a = atan2(p.y, p.x) + globals.time * 0.04;
    let sectors = 10.0;
    let sector = TAU / sectors;
    let folded = abs(fract(a / sector + 0.5) - 0.5) * 2.0;
    let depth = log(r) * 4.5 - globals.time * (0.25 + 0.5 * globals.audio_level);
    let ring = floor(depth);
    let f = fract(depth);
    let ring_tile = u32((i32(ring) % i32(TILES) + i32(TILES)) % i32(TILES));
    let e = eye(ring_tile, vec2<f32>(0.08 + 0.84 * f, 0.08 + 0.84 * folded));
    var colour = e.rgb * smoothstep(0.0, 0.06, f) * smoothstep(1.0, 0.94, f);
    colour = mix(canvas(p), colour, e.a * smoothstep(0.05, 0.14, r));
    // The large eye in the middle.
    let centre_radius = 0.13 * (1.0 + params.breathe * (0.06 * globals.beat + 0.04 * sin(globals.time)));
    let q = p / centre_radius;
    let big = eye(0u, q * 0.48 + 0.5);
    let inside = smoothstep(1.0, 0.95, length(q)) * big.a;
    return mix(colour, big.rgb, inside);
}

@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let aspect = globals.resolution.x / globals.resolution.y;
    let p = (in.uv - 0.5) * vec2<f32>(aspect, 1.0);
    var colour: vec3<f32>;
    if params.kaleido <= 0.001 {
        colour = honeycomb(p);
    } else if params.kaleido >= 0.999 {
        colour = kaleidoscope(p);
    } else {
        colour = mix(honeycomb(p), kaleidoscope(p), params.kaleido);
    }
    return vec4<f32>(colour, 1.0);
}
