//! ISF 2.0 shaders as Vulkan GLSL 450: a generated wrapper around the author's file.
//!
//! The author's text is kept line for line (the JSON header stays, as the comment it is);
//! the only changes on their lines are `varying`/`in`/`out` words blanked to spaces (the
//! variables become plain globals, copied to and from the stage interface by the wrapper),
//! so every column is the author's. What the wrapper provides:
//!
//! - one uniform block mirroring hypna's frame globals (`TIME`, `TIMEDELTA`, `RENDERSIZE`,
//!   `FRAMEINDEX`, `PASSINDEX`, `DATE`);
//! - the non-image inputs as true uniforms of their ISF types, members of one block without
//!   an instance name ([`InputBlock`], group 2, binding 0), so global initialisers and every
//!   function see them as in an OpenGL host. A `bool` (or event) is an `int` member copied
//!   into a `bool` global at the start of `main`: naga puts no `bool` in a uniform buffer, and
//!   a macro would also rewrite swizzles of inputs named `r`, `g`, `b` or `a`;
//! - each image (image/audio inputs, pass targets, imports) as a `texture2D` named as in the
//!   file, sampled through one shared sampler by the `IMG_*` macros;
//! - `gl_FragColor`, `gl_FragCoord` (y up, as in OpenGL) and `isf_FragNormCoord`;
//!   `main` renamed by the preprocessor so the wrapper's own `main` calls it.
//!
//! Images are stored top row first in hypna (wgpu's convention) while ISF addresses them
//! bottom row first (OpenGL's): every `IMG_*` access flips `y`, and so does `gl_FragCoord`,
//! so a shader sees exactly what it would see in an OpenGL host.

use std::fmt::Write as _;
use std::path::Path;

use super::scan::{self, Varying};
use super::{Composed, Origin, Stage};
use crate::scene::isf::header::{InputKind, IsfHeader};

/// How an ISF shader's values reach it: the params its inputs come from and the images
/// bound to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsfLayout {
    /// For each non-image input, by name: the indices (into the scene's params) of the
    /// params holding its value (one; two for `point2D`; four for `color`).
    pub inputs: Vec<(String, Vec<usize>)>,
    /// The images the shader reads, in binding order: image `k` is the `texture2D` at
    /// group 1, binding `2k`; the shared sampler is at group 1, binding 1.
    pub images: Vec<String>,
}

impl IsfLayout {
    /// The layout of an ISF file played on its own: one param per scalar input (two per
    /// `point2D`, four per `color`) in input order, images in [`IsfHeader::image_names`]
    /// order.
    #[must_use]
    pub fn standalone(header: &IsfHeader) -> Self {
        let mut next = 0;
        let mut inputs = Vec::new();
        for input in &header.inputs {
            let count = param_count(&input.kind);
            if count > 0 {
                inputs.push((input.name.clone(), (next..next + count).collect()));
                next += count;
            }
        }
        Self {
            inputs,
            images: header.image_names().map(str::to_string).collect(),
        }
    }
}

/// How many params an input of this kind takes (0 for images).
#[must_use]
pub fn param_count(kind: &InputKind) -> usize {
    match kind {
        InputKind::Image | InputKind::Audio { .. } | InputKind::AudioFft { .. } => 0,
        InputKind::Point2D { .. } => 2,
        InputKind::Color { .. } => 4,
        _ => 1,
    }
}

/// The GLSL mirror of `render::globals::Globals` (std140; a test checks the offsets).
pub const GLOBALS_GLSL: &str = "\
layout(set = 0, binding = 0, std140) uniform HypnaGlobals {
    vec2 resolution;
    vec2 scene_resolution;
    float time;
    float dt;
    uint frame;
    float audio_level;
    float audio_peak;
    float onset;
    float beat;
    float bpm;
    float beat_phase;
    float bpm_confidence;
    float spectral_centroid; // `centroid` is a GLSL keyword
    float flux;
    vec4 bands[4];
    float downbeat;
    float bar_phase;
    float beat_in_bar;
    float beats_per_bar;
    vec4 date;
    uint pass_index;
} hypna_globals;
";

/// The params block: `count` floats (at least one, as in the WGSL prelude).
#[must_use]
pub fn params_glsl(count: usize) -> String {
    let mut s = String::from("layout(set = 0, binding = 1, std140) uniform HypnaParams {\n");
    for i in 0..count.max(1) {
        writeln!(s, "    float p{i};").unwrap_or_default();
    }
    s.push_str("} hypna_params;\n");
    s
}

/// GLSL types of the members of the inputs block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberType {
    /// `float`.
    Float,
    /// `int` (a `long`, or a `bool`/`event` as 0 or 1).
    Int,
    /// `vec2`.
    Vec2,
    /// `vec4`.
    Vec4,
}

impl MemberType {
    /// std140 size and alignment in bytes.
    fn size_align(self) -> (u32, u32) {
        match self {
            Self::Float | Self::Int => (4, 4),
            Self::Vec2 => (8, 8),
            Self::Vec4 => (16, 16),
        }
    }
}

/// One member of the inputs block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The input's name.
    pub name: String,
    /// Its type in the block.
    pub ty: MemberType,
    /// True for `bool`/`event` inputs (an `int` member `isf_bool_<name>`, copied into a
    /// `bool` global `<name>` by the wrapper's `main`).
    pub boolean: bool,
    /// Byte offset in the block (std140).
    pub offset: u32,
}

/// The uniform block holding an ISF file's non-image inputs (group 2, binding 0), std140.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InputBlock {
    /// Members in input order.
    pub members: Vec<Member>,
    /// Size in bytes (a multiple of 16; 0 when the file has no such input).
    pub size: u32,
}

impl InputBlock {
    /// The block of `header`'s non-image inputs.
    #[must_use]
    pub fn new(header: &IsfHeader) -> Self {
        let mut members = Vec::new();
        let mut offset = 0u32;
        for input in &header.inputs {
            let (ty, boolean) = match input.kind {
                InputKind::Event | InputKind::Bool { .. } => (MemberType::Int, true),
                InputKind::Long { .. } => (MemberType::Int, false),
                InputKind::Float { .. } => (MemberType::Float, false),
                InputKind::Point2D { .. } => (MemberType::Vec2, false),
                InputKind::Color { .. } => (MemberType::Vec4, false),
                InputKind::Image | InputKind::Audio { .. } | InputKind::AudioFft { .. } => continue,
            };
            let (size, align) = ty.size_align();
            offset = offset.div_ceil(align) * align;
            members.push(Member {
                name: input.name.clone(),
                ty,
                boolean,
                offset,
            });
            offset += size;
        }
        Self {
            members,
            size: offset.div_ceil(16) * 16,
        }
    }

    /// The GLSL declaration (empty without members).
    #[must_use]
    pub fn glsl(&self) -> String {
        if self.members.is_empty() {
            return String::new();
        }
        let mut s = String::from("layout(set = 2, binding = 0, std140) uniform IsfInputs {\n");
        let mut globals = String::new();
        for m in &self.members {
            let ty = match m.ty {
                MemberType::Float => "float",
                MemberType::Int => "int",
                MemberType::Vec2 => "vec2",
                MemberType::Vec4 => "vec4",
            };
            if m.boolean {
                writeln!(s, "    int isf_bool_{};", m.name).unwrap_or_default();
                writeln!(globals, "bool {};", m.name).unwrap_or_default();
            } else {
                writeln!(s, "    {ty} {};", m.name).unwrap_or_default();
            }
        }
        s.push_str("};\n");
        s.push_str(&globals);
        s
    }

    /// Statements of the wrapper's `main` that set the `bool` globals.
    #[must_use]
    pub fn bool_assignments(&self) -> String {
        let mut s = String::new();
        for m in self.members.iter().filter(|m| m.boolean) {
            writeln!(s, "    {0} = isf_bool_{0} != 0;", m.name).unwrap_or_default();
        }
        s
    }

    /// Writes the block's bytes from the scene's param values (`params`) through `layout`'s
    /// input-to-param mapping into `out` (resized to [`Self::size`]). Inputs without params
    /// keep zeros; `long`s are rounded; `bool`s and events are 1 above 0.5.
    pub fn pack(&self, layout: &IsfLayout, params: &[f32], out: &mut Vec<u8>) {
        out.clear();
        out.resize(self.size as usize, 0);
        for m in &self.members {
            let Some((_, indices)) = layout.inputs.iter().find(|(n, _)| *n == m.name) else {
                continue;
            };
            let value = |i: usize| {
                indices
                    .get(i)
                    .and_then(|&p| params.get(p))
                    .copied()
                    .unwrap_or(0.0)
            };
            let at = m.offset as usize;
            let mut put = |k: usize, bytes: [u8; 4]| {
                if let Some(slot) = out.get_mut(at + 4 * k..at + 4 * k + 4) {
                    slot.copy_from_slice(&bytes);
                }
            };
            match m.ty {
                MemberType::Int if m.boolean => put(0, i32::from(value(0) > 0.5).to_ne_bytes()),
                MemberType::Int => put(0, (value(0).round() as i32).to_ne_bytes()),
                MemberType::Float => put(0, value(0).to_ne_bytes()),
                MemberType::Vec2 => (0..2).for_each(|k| put(k, value(k).to_ne_bytes())),
                MemberType::Vec4 => (0..4).for_each(|k| put(k, value(k).to_ne_bytes())),
            }
        }
    }
}

/// The interface slots of a varying: `(glsl type of each slot, how to address it)`.
fn slots(v: &Varying) -> Vec<(String, String)> {
    let (slot_ty, columns) = match v.ty.as_str() {
        "mat2" | "mat2x2" => ("vec2", 2),
        "mat3" | "mat3x3" => ("vec3", 3),
        "mat4" | "mat4x4" => ("vec4", 4),
        "mat2x3" => ("vec3", 2),
        "mat2x4" => ("vec4", 2),
        "mat3x2" => ("vec2", 3),
        "mat3x4" => ("vec4", 3),
        "mat4x2" => ("vec2", 4),
        "mat4x3" => ("vec3", 4),
        other => (other, 0),
    };
    let elements: Vec<String> = match v.array {
        Some(n) => (0..n).map(|i| format!("{}[{i}]", v.name)).collect(),
        None => vec![v.name.clone()],
    };
    let mut out = Vec::new();
    for e in elements {
        if columns == 0 {
            out.push((slot_ty.to_string(), e));
        } else {
            for c in 0..columns {
                out.push((slot_ty.to_string(), format!("{e}[{c}]")));
            }
        }
    }
    out
}

fn is_integer(ty: &str) -> bool {
    ty.starts_with('i') || ty.starts_with('u')
}

/// The varyings connecting an ISF `.vs` and `.fs`: each name in both (fragment order), with
/// its first location. Locations are per slot (arrays and matrices take several).
#[must_use]
pub fn interface(fragment: &[Varying], vertex: &[Varying]) -> Vec<(Varying, u32)> {
    let mut location = 0;
    let mut out = Vec::new();
    for v in fragment.iter().filter(|v| !v.out) {
        // A vertex stage's `varying` is an output too (files declare both spellings under
        // `#if __VERSION__`; the first one read is kept).
        if vertex.iter().any(|w| w.name == v.name) {
            out.push((v.clone(), location));
            location += u32::try_from(slots(v).len()).unwrap_or(u32::MAX);
        }
    }
    out
}

/// Declarations shared by both stages: version, blocks, built-in names, inputs, images.
fn common(header: &IsfHeader, layout: &IsfLayout, stage: Stage) -> String {
    let mut s = String::from("#version 450\n// hypna ISF wrapper (generated; see docs/isf.md)\n");
    s.push_str(GLOBALS_GLSL);
    s.push_str(&InputBlock::new(header).glsl());
    if !layout.images.is_empty() {
        s.push_str("layout(set = 1, binding = 1) uniform sampler isf_sampler;\n");
    }
    for (k, image) in layout.images.iter().enumerate() {
        writeln!(
            s,
            "layout(set = 1, binding = {}) uniform texture2D {image};",
            2 * k
        )
        .unwrap_or_default();
    }
    s.push_str(
        "#define TIME hypna_globals.time\n\
         #define TIMEDELTA hypna_globals.dt\n\
         #define RENDERSIZE hypna_globals.resolution\n\
         #define FRAMEINDEX int(hypna_globals.frame)\n\
         #define PASSINDEX int(hypna_globals.pass_index)\n\
         #define DATE hypna_globals.date\n\
         vec2 isf_FragNormCoord;\n\
         #define vv_FragNormCoord isf_FragNormCoord\n",
    );
    // Explicit level 0 in the vertex stage (no derivatives there).
    let sample = match stage {
        Stage::Fragment => "texture(sampler2D(t, isf_sampler), c)",
        Stage::Vertex => "textureLod(sampler2D(t, isf_sampler), c, 0.0)",
    };
    if !layout.images.is_empty() {
        write!(
            s,
            "vec2 isf_size(texture2D t) {{ return vec2(textureSize(sampler2D(t, isf_sampler), 0)); }}\n\
             vec4 isf_sample(texture2D t, vec2 c) {{ return {sample}; }}\n\
             vec4 isf_norm_pixel(texture2D t, vec2 c) {{ return isf_sample(t, vec2(c.x, 1.0 - c.y)); }}\n\
             vec4 isf_pixel(texture2D t, vec2 c) {{ vec2 s = isf_size(t); return isf_sample(t, vec2(c.x, s.y - c.y) / s); }}\n\
             #define IMG_SIZE(img) isf_size(img)\n\
             #define IMG_NORM_PIXEL(img, c) isf_norm_pixel(img, c)\n\
             #define IMG_PIXEL(img, c) isf_pixel(img, c)\n\
             #define IMG_THIS_NORM_PIXEL(img) isf_norm_pixel(img, isf_FragNormCoord)\n\
             #define IMG_THIS_PIXEL(img) isf_norm_pixel(img, isf_FragNormCoord)\n"
        ).unwrap_or_default();
        // VVISF's per-image uniforms, which a few files read directly.
        for image in &layout.images {
            writeln!(
                s,
                "#define _{image}_imgSize isf_size({image})\n\
                 #define _{image}_imgRect vec4(0.0, 0.0, isf_size({image}))\n\
                 #define _{image}_flip false"
            )
            .unwrap_or_default();
        }
    }
    s
}

/// Appends `text` (generated lines) to `out`.
fn generated(out: &mut Composed, text: &str) {
    for line in text.lines() {
        out.text.push_str(line);
        out.text.push('\n');
        out.lines.push(Origin::Generated);
    }
}

/// Appends the author's (edited) text, line for line.
fn user(out: &mut Composed, file: usize, text: &str, inserts: Vec<scan::LineInserts>) {
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

/// The author's text with its global varyings made plain globals.
fn adapt(source: &str) -> (String, Vec<scan::LineInserts>, Vec<Varying>) {
    let toks = scan::tokens(source);
    let (varyings, blanks) = scan::global_varyings(source, &toks);
    let mut edits = scan::Edits::default();
    for (s, e) in blanks {
        edits.blank(s, e);
    }
    let (text, inserts) = edits.apply(source);
    (text, inserts, varyings)
}

/// The global varyings of an ISF source (to pair a `.fs` with its `.vs`).
#[must_use]
pub fn varyings(source: &str) -> Vec<Varying> {
    let toks = scan::tokens(source);
    scan::global_varyings(source, &toks).0
}

/// The fragment stage of ISF file `path` (whose text is `source`, header included), with
/// the varyings `interface` from its `.vs` (empty without one).
#[must_use]
pub fn fragment(
    header: &IsfHeader,
    source: &str,
    path: &Path,
    layout: &IsfLayout,
    interface: &[(Varying, u32)],
) -> Composed {
    let mut out = Composed {
        files: vec![path.to_path_buf()],
        ..Composed::default()
    };
    let (text, inserts, varyings) = adapt(source);
    let mut pre = common(header, layout, Stage::Fragment);
    pre.push_str("layout(location = 0) out vec4 isf_FragColorOut;\n");
    for (v, location) in interface {
        for (k, (ty, _)) in slots(v).iter().enumerate() {
            let flat = if is_integer(ty) { "flat " } else { "" };
            writeln!(
                pre,
                "layout(location = {}) {flat}in {ty} isf_io_{}_{k};",
                *location as usize + k,
                v.name
            )
            .unwrap_or_default();
        }
    }
    pre.push_str(
        "vec4 isf_FragColor;\n\
         vec4 isf_FragCoord;\n\
         #define gl_FragColor isf_FragColor\n\
         #define gl_FragCoord isf_FragCoord\n\
         #define main isf_main\n",
    );
    generated(&mut out, &pre);
    user(&mut out, 0, &text, inserts);
    let mut post = String::from(
        "#undef main\n\
         #undef gl_FragCoord\n\
         void main() {\n    \
         isf_FragCoord = vec4(gl_FragCoord.x, RENDERSIZE.y - gl_FragCoord.y, gl_FragCoord.z, gl_FragCoord.w);\n    \
         isf_FragNormCoord = isf_FragCoord.xy / RENDERSIZE;\n",
    );
    post.push_str(&InputBlock::new(header).bool_assignments());
    for (v, _) in interface {
        for (k, (_, access)) in slots(v).iter().enumerate() {
            writeln!(post, "    {access} = isf_io_{}_{k};", v.name).unwrap_or_default();
        }
    }
    post.push_str("    isf_FragColor = vec4(0.0);\n    isf_main();\n");
    // A GLSL 1.3+ style file declares its own colour output instead of gl_FragColor.
    let colour = varyings
        .iter()
        .find(|v| v.out && v.ty == "vec4" && v.array.is_none())
        .map_or("isf_FragColor", |v| v.name.as_str());
    writeln!(post, "    isf_FragColorOut = {colour};\n}}").unwrap_or_default();
    generated(&mut out, &post);
    out
}

/// The vertex stage of an ISF `.vs` file: the author's `main` calls `isf_vertShaderInit()`,
/// which places hypna's fullscreen triangle and sets `isf_FragNormCoord`.
#[must_use]
pub fn vertex(
    header: &IsfHeader,
    source: &str,
    path: &Path,
    layout: &IsfLayout,
    interface: &[(Varying, u32)],
) -> Composed {
    let mut out = Composed {
        files: vec![path.to_path_buf()],
        ..Composed::default()
    };
    let (text, inserts, _) = adapt(source);
    let mut pre = common(header, layout, Stage::Vertex);
    for (v, location) in interface {
        for (k, (ty, _)) in slots(v).iter().enumerate() {
            let flat = if is_integer(ty) { "flat " } else { "" };
            writeln!(
                pre,
                "layout(location = {}) {flat}out {ty} isf_io_{}_{k};",
                *location as usize + k,
                v.name
            )
            .unwrap_or_default();
        }
    }
    pre.push_str(
        "void isf_vertShaderInit() {\n    \
         vec2 uv = vec2(float((gl_VertexIndex << 1) & 2), float(gl_VertexIndex & 2));\n    \
         gl_Position = vec4(uv * 2.0 - 1.0, 0.0, 1.0);\n    \
         isf_FragNormCoord = uv;\n\
         }\n\
         #define vv_vertShaderInit isf_vertShaderInit\n\
         #define main isf_main\n",
    );
    generated(&mut out, &pre);
    user(&mut out, 0, &text, inserts);
    let mut post = String::from("#undef main\nvoid main() {\n");
    post.push_str(&InputBlock::new(header).bool_assignments());
    // OpenGL clip space has z in -1..1; wgpu's is 0..1.
    post.push_str("    isf_main();\n    gl_Position.z = 0.5 * (gl_Position.z + gl_Position.w);\n");
    for (v, _) in interface {
        for (k, (_, access)) in slots(v).iter().enumerate() {
            writeln!(post, "    isf_io_{}_{k} = {access};", v.name).unwrap_or_default();
        }
    }
    post.push_str("}\n");
    generated(&mut out, &post);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::globals::Globals;

    /// The GLSL block and the Rust struct agree field for field (naga lays out the block).
    #[test]
    fn globals_block_matches_rust() {
        let src = format!(
            "#version 450\n{GLOBALS_GLSL}layout(location = 0) out vec4 o;\nvoid main() {{ o = vec4(hypna_globals.time); }}\n"
        );
        let module = naga::front::glsl::Frontend::default()
            .parse(
                &naga::front::glsl::Options::from(naga::ShaderStage::Fragment),
                &src,
            )
            .expect("parse");
        let (_, ty) = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some("HypnaGlobals"))
            .expect("block");
        let naga::TypeInner::Struct { members, span } = &ty.inner else {
            panic!("not a struct")
        };
        let offsets: Vec<(String, u32)> = members
            .iter()
            .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
            .collect();
        let rust = [
            ("resolution", std::mem::offset_of!(Globals, resolution)),
            ("time", std::mem::offset_of!(Globals, time)),
            ("frame", std::mem::offset_of!(Globals, frame)),
            ("flux", std::mem::offset_of!(Globals, flux)),
            ("bands", std::mem::offset_of!(Globals, bands)),
            (
                "beats_per_bar",
                std::mem::offset_of!(Globals, beats_per_bar),
            ),
            ("date", std::mem::offset_of!(Globals, date)),
            ("pass_index", std::mem::offset_of!(Globals, pass_index)),
        ];
        for (name, offset) in rust {
            let glsl = offsets.iter().find(|(n, _)| n == name).map(|(_, o)| *o);
            assert_eq!(glsl, Some(offset as u32), "{name}: {offsets:?}");
        }
        assert!(*span as usize <= std::mem::size_of::<Globals>());
    }

    #[test]
    fn standalone_layout_gives_each_value_its_params() {
        let h = crate::scene::isf::header::parse(
            r#"/*{"INPUTS": [{"NAME": "img", "TYPE": "image"}, {"NAME": "a", "TYPE": "float"},
            {"NAME": "p", "TYPE": "point2D"}, {"NAME": "c", "TYPE": "color"}, {"NAME": "e", "TYPE": "event"}],
            "PASSES": [{"TARGET": "buf"}, {}]}*/"#,
            Path::new("t.fs"),
        )
        .expect("header");
        let l = IsfLayout::standalone(&h);
        assert_eq!(
            l.inputs,
            vec![
                ("a".to_string(), vec![0]),
                ("p".to_string(), vec![1, 2]),
                ("c".to_string(), vec![3, 4, 5, 6]),
                ("e".to_string(), vec![7]),
            ]
        );
        assert_eq!(l.images, ["img", "buf"]);
        let block = InputBlock::new(&h);
        let offsets: Vec<(&str, u32)> = block
            .members
            .iter()
            .map(|m| (m.name.as_str(), m.offset))
            .collect();
        // std140: the vec2 aligns to 8, the vec4 to 16.
        assert_eq!(offsets, [("a", 0), ("p", 8), ("c", 16), ("e", 32)]);
        assert_eq!(block.size, 48);
        let mut bytes = Vec::new();
        block.pack(&l, &[0.25, 1.0, 2.0, 0.1, 0.2, 0.3, 0.4, 0.9], &mut bytes);
        let f = |o: usize| f32::from_ne_bytes(bytes[o..o + 4].try_into().unwrap());
        assert_eq!(
            (f(0), f(8), f(12), f(16), f(28)),
            (0.25, 1.0, 2.0, 0.1, 0.4)
        );
        assert_eq!(i32::from_ne_bytes(bytes[32..36].try_into().unwrap()), 1);
        let composed = fragment(&h, "/*{}*/\nvoid main() {}\n", Path::new("t.fs"), &l, &[]);
        assert!(composed.text.contains("    vec2 p;\n"), "{}", composed.text);
        assert!(composed.text.contains("\nbool e;\n"));
        assert!(composed.text.contains("    e = isf_bool_e != 0;\n"));
        assert!(
            composed
                .text
                .contains("layout(set = 1, binding = 2) uniform texture2D buf;")
        );
        // The author's lines are kept verbatim and mapped one to one.
        let user_lines: Vec<&Origin> = composed
            .lines
            .iter()
            .filter(|o| matches!(o, Origin::User { .. }))
            .collect();
        assert_eq!(user_lines.len(), 3);
    }

    #[test]
    fn varyings_flatten_into_slots_with_locations() {
        let fs = varyings("in vec2 a[3];\nin mat2 m;\nin float only_here;\n");
        let vs = varyings("out vec2 a[3];\nout mat2 m;\n");
        let i = interface(&fs, &vs);
        let names: Vec<(&str, u32)> = i.iter().map(|(v, l)| (v.name.as_str(), *l)).collect();
        assert_eq!(names, [("a", 0), ("m", 3)]);
        let m = &i[1].0;
        assert_eq!(
            slots(m),
            vec![
                ("vec2".to_string(), "m[0]".to_string()),
                ("vec2".to_string(), "m[1]".to_string())
            ]
        );
    }
}
