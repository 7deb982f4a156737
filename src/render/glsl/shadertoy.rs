//! Shadertoy shaders (`void mainImage(out vec4 fragColor, in vec2 fragCoord)`) as Vulkan
//! GLSL 450: Shadertoy's uniforms from hypna's frame globals and params, `iChannel0..3` from
//! the pass's inputs.
//!
//! Shadertoy, like OpenGL, puts `y = 0` at the bottom of the image and of every texture;
//! hypna stores images top row first. The wrapper flips `fragCoord`, and every texture lookup
//! in the author's code (`texture`, `textureLod`, `textureGrad`, `texelFetch`, ...) gets its
//! coordinate flipped by an inserted call, so shaders see exactly what Shadertoy shows them.
//! Insertions are recorded per line, so errors keep the author's columns.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::isf::{GLOBALS_GLSL, params_glsl};
use super::scan;
use super::{Composed, Origin};

/// How a Shadertoy pass's values reach it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShadertoyLayout {
    /// Number of `f32` params in the scene's params block.
    pub params_len: usize,
    /// The params (indices) giving `iMouse` (x, y, click x, click y, in pixels with y up);
    /// `None`: `iMouse` is zero.
    pub mouse: Option<[usize; 4]>,
    /// The channel number (0..=3) of each bound input, in binding order: input `i` is
    /// the texture at group 1, binding `2i` with its sampler at `2i + 1`.
    pub channels: Vec<u8>,
    /// Write alpha 1 (Shadertoy's Image pass is shown opaque; buffers keep alpha).
    pub opaque: bool,
}

/// Texture functions whose second argument is a normalised coordinate.
const NORMALISED: [&str; 6] = [
    "texture",
    "textureLod",
    "textureGrad",
    "textureOffset",
    "textureLodOffset",
    "texture2D",
];
/// Texture functions whose second argument is a texel position.
const TEXEL: [&str; 2] = ["texelFetch", "texelFetchOffset"];

/// Wraps a Shadertoy source. `sources` are the files in order (a common file first, if
/// any, then the pass's own), each as (path, text).
#[must_use]
pub fn wrap(sources: &[(PathBuf, String)], layout: &ShadertoyLayout) -> Composed {
    let mut out = Composed {
        files: sources.iter().map(|(p, _)| p.clone()).collect(),
        ..Composed::default()
    };
    let mut pre =
        String::from("#version 450\n// hypna Shadertoy wrapper (generated; see docs/isf.md)\n");
    pre.push_str(GLOBALS_GLSL);
    pre.push_str(&params_glsl(layout.params_len));
    for (i, ch) in layout.channels.iter().enumerate() {
        writeln!(
            pre,
            "layout(set = 1, binding = {}) uniform texture2D hypna_channel{ch};\n\
             layout(set = 1, binding = {}) uniform sampler hypna_channel{ch}_sampler;\n\
             #define iChannel{ch} sampler2D(hypna_channel{ch}, hypna_channel{ch}_sampler)",
            2 * i,
            2 * i + 1
        )
        .unwrap_or_default();
    }
    let mouse = layout.mouse.map_or_else(
        || "vec4(0.0)".to_string(),
        |m| {
            format!(
                "vec4(hypna_params.p{}, hypna_params.p{}, hypna_params.p{}, hypna_params.p{})",
                m[0], m[1], m[2], m[3]
            )
        },
    );
    write!(
        pre,
        "layout(location = 0) out vec4 hypna_colour;\n\
         #define iResolution vec3(hypna_globals.resolution, 1.0)\n\
         #define iTime hypna_globals.time\n\
         #define iGlobalTime hypna_globals.time\n\
         #define iTimeDelta hypna_globals.dt\n\
         #define iFrameRate (1.0 / max(hypna_globals.dt, 1e-4))\n\
         #define iFrame int(hypna_globals.frame)\n\
         #define iDate hypna_globals.date\n\
         #define iSampleRate 48000.0\n\
         #define iMouse {mouse}\n\
         vec3 iChannelResolution[4];\n\
         float iChannelTime[4];\n\
         vec2 hypna_flip(vec2 c) {{ return vec2(c.x, 1.0 - c.y); }}\n\
         vec3 hypna_flip(vec3 c) {{ return c; }}\n\
         ivec2 hypna_flip_texel(ivec2 p, ivec2 size) {{ return ivec2(p.x, size.y - 1 - p.y); }}\n"
    )
    .unwrap_or_default();
    for line in pre.lines() {
        out.text.push_str(line);
        out.text.push('\n');
        out.lines.push(Origin::Generated);
    }
    for (file, (_, text)) in sources.iter().enumerate() {
        let (text, inserts) = flip_lookups(text);
        for ((i, line), inserts) in text.split('\n').enumerate().zip(inserts) {
            out.text.push_str(line);
            out.text.push('\n');
            out.lines.push(Origin::User {
                file,
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                inserts,
            });
        }
    }
    let mut post = String::from("void main() {\n");
    for ch in 0..4u8 {
        if layout.channels.contains(&ch) {
            writeln!(
                post,
                "    iChannelResolution[{ch}] = vec3(vec2(textureSize(iChannel{ch}, 0)), 1.0);"
            )
            .unwrap_or_default();
        } else {
            writeln!(post, "    iChannelResolution[{ch}] = vec3(0.0);").unwrap_or_default();
        }
        writeln!(post, "    iChannelTime[{ch}] = iTime;").unwrap_or_default();
    }
    post.push_str(
        "    vec4 colour = vec4(0.0, 0.0, 0.0, 1.0);\n    \
         mainImage(colour, vec2(gl_FragCoord.x, hypna_globals.resolution.y - gl_FragCoord.y));\n",
    );
    if layout.opaque {
        post.push_str("    colour.a = 1.0;\n");
    }
    post.push_str("    hypna_colour = colour;\n}\n");
    for line in post.lines() {
        out.text.push_str(line);
        out.text.push('\n');
        out.lines.push(Origin::Generated);
    }
    out
}

/// Wraps every texture lookup's coordinate in a flip.
fn flip_lookups(text: &str) -> (String, Vec<scan::LineInserts>) {
    let toks = scan::tokens(text);
    let mut edits = scan::Edits::default();
    for call in scan::calls(text, &toks, &NORMALISED) {
        if let Some(&(s, e)) = call.args.get(1) {
            edits.insert(s, "hypna_flip(");
            edits.insert(e, ")");
        }
    }
    for call in scan::calls(text, &toks, &TEXEL) {
        if let (Some(&(ss, se)), Some(&(s, e)), Some(&(ls, le))) =
            (call.args.first(), call.args.get(1), call.args.get(2))
        {
            edits.insert(s, "hypna_flip_texel(");
            edits.insert(
                e,
                format!(", textureSize({}, {}))", &text[ss..se], &text[ls..le]),
            );
        }
    }
    edits.apply(text)
}
