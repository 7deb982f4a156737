//! Bad input never panics and always says where: scene TOML, WGSL, `#include` and `--set`.
//!
//! No GPU: everything goes through `Scene::parse`/`Scene::read`, `runtime::read_and_check`
//! and the param store. The common shapes (one scene diagnostic, one shader diagnostic) are
//! tables of cases; the rest are tests of their own. Every fixture is written into a fresh temp dir, and every expected line and
//! column is computed from the fixture text itself (see [`loc`]), so the tests fail when a
//! diagnostic points anywhere else.

use std::path::{Path, PathBuf};

use hypna::diag::Diagnostic;
use hypna::params::{ParamError, ParamStore, parse_assignment};
use hypna::render::shader::PRELUDE_NAME;
use hypna::runtime::{LoadError, read_and_check as check};
use hypna::scene::{Scene, SceneError};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// 1-based (line, column in bytes) of `marker`, which must occur exactly once in `text`.
#[track_caller]
fn loc(text: &str, marker: &str) -> (u32, u32) {
    loc_in(text, marker, marker)
}

/// 1-based (line, column) of `inner` inside `marker`, which must occur exactly once in `text`.
/// For pointing at one token of a line whose token also occurs elsewhere.
#[track_caller]
fn loc_in(text: &str, marker: &str, inner: &str) -> (u32, u32) {
    let hits: Vec<usize> = text.match_indices(marker).map(|(i, _)| i).collect();
    assert_eq!(
        hits.len(),
        1,
        "marker {marker:?} must occur exactly once in:\n{text}"
    );
    let within = marker
        .find(inner)
        .unwrap_or_else(|| panic!("{inner:?} is not inside {marker:?}"));
    let offset = hits[0] + within;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = offset - before.rfind('\n').map_or(0, |p| p + 1) + 1;
    (u32::try_from(line).unwrap(), u32::try_from(col).unwrap())
}

/// A temp dir holding one scene and its shaders.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes `scene.toml` with `toml` (and a good `main.wgsl` so only the TOML is wrong).
    fn scene(&self, toml: &str) -> PathBuf {
        if !self.path("main.wgsl").exists() {
            self.write("main.wgsl", GOOD_SHADER);
        }
        self.write("scene.toml", toml)
    }
}

/// A shader that validates against the prelude of [`SCENE`].
const GOOD_SHADER: &str = "\
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let b = 0.5 + 0.5 * sin(globals.time * params.speed);
    return vec4<f32>(in.uv, b, 1.0);
}
";

/// A valid scene with one param (`speed`) and one pass (`main`, shader `main.wgsl`).
const SCENE: &str = r#"[scene]
name = "bad input"
size = [64, 36]

[params.speed]
default = 1.0
range = [0.0, 4.0]

[[pass]]
name = "main"
shader = "main.wgsl"
"#;

/// Asserts that `d` is at `file:line:col`, its message holds every one of `words`, and it
/// prints as `file:line:col: message`.
#[track_caller]
fn assert_at(d: &Diagnostic, file: &Path, (line, col): (u32, u32), words: &[&str]) {
    assert_eq!(d.file, file, "wrong file in `{d}`");
    assert_eq!(
        (d.line, d.col),
        (Some(line), Some(col)),
        "wrong place in `{d}`, expected {line}:{col}"
    );
    for w in words {
        assert!(d.message.contains(w), "message of `{d}` lacks {w:?}");
    }
    let prefix = format!("{}:{line}:{col}: {}", file.display(), d.message);
    assert!(
        d.to_string().starts_with(&prefix),
        "`{d}` does not start with `{prefix}`"
    );
}

/// Loads the scene at `path` both ways (`load` and `parse`), expects the same diagnostics
/// from each and from `runtime::check`, and returns them.
#[track_caller]
fn scene_errors(path: &Path) -> Vec<Diagnostic> {
    let err = match Scene::read(path) {
        Ok(scene) => panic!("scene {} loaded but should not: {scene:?}", path.display()),
        Err(e) => e,
    };
    assert!(
        matches!(err, SceneError::Invalid(_)),
        "expected SceneError::Invalid, got {err:?}"
    );
    let diags = err.diagnostics().to_vec();
    assert!(!diags.is_empty(), "no diagnostics in {err}");
    // Display of the whole error is one diagnostic per line, in order.
    let shown = err.to_string();
    for d in &diags {
        assert!(
            shown.contains(&d.to_string()),
            "`{shown}` does not show `{d}`"
        );
    }

    let source = std::fs::read_to_string(path).unwrap();
    let parsed = Scene::parse(&source, path).expect_err("parse accepted what load rejected");
    assert_eq!(
        parsed.diagnostics(),
        diags.as_slice(),
        "parse and load disagree"
    );

    match check(path) {
        Ok(_) => panic!("check accepted a bad scene"),
        Err(e @ LoadError::Scene(_)) => {
            assert_eq!(e.diagnostics(), diags, "check and load disagree");
            assert_eq!(e.to_string(), shown);
        }
        Err(e) => panic!("expected LoadError::Scene, got {e:?}"),
    }
    diags
}

/// Like [`scene_errors`] but expects exactly one diagnostic.
#[track_caller]
fn scene_error(path: &Path) -> Diagnostic {
    let mut diags = scene_errors(path);
    assert_eq!(diags.len(), 1, "expected one diagnostic, got {diags:#?}");
    diags.remove(0)
}

/// Runs `check` on a scene whose TOML is fine and expects exactly one shader diagnostic.
#[track_caller]
fn shader_error(scene: &Path) -> Diagnostic {
    let err = match check(scene) {
        Ok((_, shaders)) => panic!("check accepted a bad shader:\n{}", shaders[0].source),
        Err(e) => e,
    };
    assert!(
        matches!(err, LoadError::Shader(_)),
        "expected LoadError::Shader, got {err:?}"
    );
    let mut diags = err.diagnostics();
    assert_eq!(diags.len(), 1, "expected one diagnostic, got {diags:#?}");
    let d = diags.remove(0);
    assert_ne!(
        d.file,
        Path::new(PRELUDE_NAME),
        "error blamed on the prelude: {d}"
    );
    assert!(
        err.to_string().starts_with(&d.to_string()),
        "`{err}` does not show `{d}`"
    );
    d
}

// ---------------------------------------------------------------------------------------------
// Scene TOML
// ---------------------------------------------------------------------------------------------

/// A scene broken one way, and the one diagnostic it must give.
struct SceneCase {
    /// What is wrong (printed when the case fails).
    what: &'static str,
    /// The scene: [`SCENE`] with the first text replaced by the second, then `append` added.
    replace: (&'static str, &'static str),
    append: &'static str,
    /// Other files beside the scene.
    files: &'static [(&'static str, &'static str)],
    /// The diagnostic points at `inner` within `marker` (which occurs once in the scene).
    marker: &'static str,
    inner: &'static str,
    /// Words its message holds.
    words: &'static [&'static str],
    /// Text one of its notes holds.
    note: Option<&'static str>,
}

const SCENE_CASES: &[SceneCase] = &[
    SceneCase {
        what: "a TOML syntax error (an unterminated array; toml reports it where the array \
               should have been closed, at the next key)",
        replace: ("size = [64, 36]", "size = [64, 36\nfoo"),
        append: "",
        files: &[],
        marker: "foo",
        inner: "foo",
        words: &["array"],
        note: None,
    },
    SceneCase {
        what: "a duplicate key",
        replace: ("size = [64, 36]", "size = [64, 36]\nname = \"again\""),
        append: "",
        files: &[],
        marker: "name = \"again\"",
        inner: "name = \"again\"",
        words: &["duplicate key"],
        note: None,
    },
    SceneCase {
        what: "an unknown [scene] key",
        replace: ("name = \"bad input\"", "nmae = \"bad input\""),
        append: "",
        files: &[],
        marker: "nmae",
        inner: "nmae",
        words: &["unknown field `nmae`", "`name`"],
        note: None,
    },
    SceneCase {
        what: "an unknown [[pass]] key",
        replace: ("", ""),
        append: "blend = \"add\"\n",
        files: &[],
        marker: "blend",
        inner: "blend",
        words: &["unknown field `blend`", "`shader`"],
        note: None,
    },
    SceneCase {
        what: "an unknown param key",
        replace: ("range = [0.0, 4.0]", "range = [0.0, 4.0]\nsmoth = 0.5"),
        append: "",
        files: &[],
        marker: "smoth",
        inner: "smoth",
        words: &["unknown field `smoth`", "`smooth`"],
        note: None,
    },
    SceneCase {
        what: "a value of the wrong type",
        replace: ("size = [64, 36]", "size = \"big\""),
        append: "",
        files: &[],
        marker: "\"big\"",
        inner: "\"big\"",
        words: &["invalid type", "string", "big"],
        note: None,
    },
    SceneCase {
        what: "a param value of the wrong type",
        replace: ("default = 1.0", "default = \"fast\""),
        append: "",
        files: &[],
        marker: "\"fast\"",
        inner: "\"fast\"",
        words: &["invalid type", "fast"],
        note: None,
    },
    SceneCase {
        what: "a param default outside its range",
        replace: ("default = 1.0", "default = 4.5"),
        append: "",
        files: &[],
        marker: "default = 4.5",
        inner: "4.5",
        words: &["`speed`", "4.5", "outside", "[0, 4]"],
        note: None,
    },
    SceneCase {
        what: "a param default outside the implicit range (the hint says so)",
        replace: ("default = 1.0\nrange = [0.0, 4.0]\n", "default = -0.25\n"),
        append: "",
        files: &[],
        marker: "-0.25",
        inner: "-0.25",
        words: &["`speed`", "-0.25", "outside", "[0, 1]"],
        note: Some("range"),
    },
    SceneCase {
        what: "a pass input naming nothing (the note lists what it can read)",
        replace: ("", ""),
        append: "inputs = [\"nothing\"]\n",
        files: &[],
        marker: "\"nothing\"",
        inner: "\"nothing\"",
        words: &["`main`", "`nothing`", "names no pass"],
        note: Some("`main`"),
    },
    SceneCase {
        what: "a pass reading a pass rendered after it (`post` first, reading `main`)",
        replace: (
            "[[pass]]\nname = \"main\"",
            "[[pass]]\nname = \"post\"\nshader = \"post.wgsl\"\ninputs = [\"main\"]\n\n[[pass]]\nname = \"main\"",
        ),
        append: "",
        files: &[("post.wgsl", GOOD_SHADER)],
        marker: "inputs = [\"main\"]",
        inner: "\"main\"",
        words: &["`post`", "`main`", "produced later"],
        note: Some("move `main` before `post`"),
    },
    SceneCase {
        what: "a missing shader file (located at the shader key)",
        replace: ("\"main.wgsl\"", "\"shaders/missing.wgsl\""),
        append: "",
        files: &[],
        marker: "\"shaders/missing.wgsl\"",
        inner: "\"shaders/missing.wgsl\"",
        words: &["`main`", "missing.wgsl", "not found"],
        note: None,
    },
    SceneCase {
        what: "a model `every` beyond its range (issue #13: every number has a range)",
        replace: ("", ""),
        append: "\n[[model]]\nname = \"m\"\nfile = \"m.onnx\"\nevery = 200000\n",
        files: &[("m.onnx", "")],
        marker: "every = 200000",
        inner: "200000",
        words: &["model `m`", "every 200000", "1..=100000"],
        note: None,
    },
    SceneCase {
        what: "a model `max_rate_hz` beyond its range",
        replace: ("", ""),
        append: "\n[[model]]\nname = \"m\"\nfile = \"m.onnx\"\nmax_rate_hz = 1e9\n",
        files: &[("m.onnx", "")],
        marker: "max_rate_hz = 1e9",
        inner: "1e9",
        words: &["model `m`", "max_rate_hz", "0.001..=1000"],
        note: Some("no limit"),
    },
    SceneCase {
        what: "a softmax sharpness that would overflow",
        replace: ("", ""),
        append: "\n[[model]]\nname = \"m\"\nfile = \"m.onnx\"\n[model.inputs]\nx = { param = \"speed\", softmax = 1e30 }\n",
        files: &[("m.onnx", "")],
        marker: "{ param = \"speed\", softmax = 1e30 }",
        inner: "{ param = \"speed\", softmax = 1e30 }",
        words: &["model `m` input `x`", "softmax", "up to 1000"],
        note: None,
    },
];

#[test]
fn every_bad_scene_case_gives_one_located_diagnostic() {
    for case in SCENE_CASES {
        eprintln!("case: {}", case.what);
        let fx = Fixture::new();
        for (name, text) in case.files {
            fx.write(name, text);
        }
        let (from, to) = case.replace;
        assert!(SCENE.contains(from), "{}: nothing to replace", case.what);
        let toml = format!("{}{}", SCENE.replacen(from, to, 1), case.append);
        let path = fx.scene(&toml);
        let d = scene_error(&path);
        assert_at(
            &d,
            &path,
            loc_in(&toml, case.marker, case.inner),
            case.words,
        );
        if let Some(note) = case.note {
            assert!(
                d.notes.iter().any(|n| n.contains(note)),
                "{}: no note with {note:?} in {d}",
                case.what
            );
        }
    }
}

#[test]
fn every_scene_problem_is_reported_in_file_order() {
    let fx = Fixture::new();
    let toml = format!("{SCENE}inputs = [\"nothing\"]\n")
        .replace("default = 1.0", "default = 9.0")
        .replace("\"main.wgsl\"", "\"gone.wgsl\"");
    let path = fx.scene(&toml);
    let diags = scene_errors(&path);
    assert_eq!(diags.len(), 3, "{diags:#?}");
    assert_at(&diags[0], &path, loc(&toml, "9.0"), &["outside"]);
    assert_at(
        &diags[1],
        &path,
        loc(&toml, "\"gone.wgsl\""),
        &["not found"],
    );
    assert_at(
        &diags[2],
        &path,
        loc(&toml, "\"nothing\""),
        &["names no pass"],
    );
}

#[test]
fn unreadable_or_empty_scenes_do_not_panic() {
    let fx = Fixture::new();

    // Missing file: an I/O error naming the path.
    let missing = fx.path("nope.toml");
    let err = Scene::read(&missing).expect_err("missing scene loaded");
    assert!(matches!(err, SceneError::Io { .. }), "{err:?}");
    assert!(err.diagnostics().is_empty());
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot read scene", missing.display())),
        "{err}"
    );
    assert!(matches!(
        check(&missing),
        Err(LoadError::Scene(SceneError::Io { .. }))
    ));

    // Not UTF-8: also an I/O error naming the path.
    let binary = fx.path("binary.toml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).unwrap();
    let err = Scene::read(&binary).expect_err("binary scene loaded");
    assert!(
        err.to_string().starts_with(&binary.display().to_string()),
        "{err}"
    );

    // Empty: `[scene]` is missing.
    let empty = fx.write("empty.toml", "");
    let d = scene_error(&empty);
    assert_eq!(d.file, empty);
    assert!(d.message.contains("scene"), "{d}");

    // No passes.
    let no_pass = fx.write("nopass.toml", "[scene]\nname = \"x\"\n");
    let d = scene_error(&no_pass);
    // Located at the `[scene]` table (issue #13: every error has a line and column).
    assert_eq!(
        (d.file.as_path(), d.line, d.col),
        (no_pass.as_path(), Some(1), Some(1)),
        "{d}"
    );
    assert!(d.message.contains("no passes"), "{d}");
    assert!(
        d.to_string()
            .starts_with(&format!("{}:1:1: scene has no passes", no_pass.display())),
        "{d}"
    );
}

// ---------------------------------------------------------------------------------------------
// WGSL
// ---------------------------------------------------------------------------------------------

/// A shader broken one way, and the one diagnostic it must give (in the author's file).
struct ShaderCase {
    /// What is wrong (printed when the case fails).
    what: &'static str,
    /// The pass shader.
    wgsl: &'static str,
    /// The diagnostic points at `inner` within `marker` (which occurs once in the shader).
    marker: &'static str,
    inner: &'static str,
    /// Words its message holds.
    words: &'static [&'static str],
    /// A note it carries, word for word.
    note: Option<&'static str>,
}

const SHADER_CASES: &[ShaderCase] = &[
    ShaderCase {
        what: "a syntax error",
        wgsl: "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
               let x = 1.0 +;\n    return vec4<f32>(x);\n}\n",
        marker: ";\n    return",
        inner: ";\n    return",
        words: &["expected"],
        note: None,
    },
    ShaderCase {
        what: "an unknown param (the note lists the scene's params)",
        wgsl: "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
               return vec4<f32>(in.uv, params.sped, 1.0);\n}\n",
        marker: "sped",
        inner: "sped",
        words: &["sped"],
        note: Some("params in this scene: speed"),
    },
    ShaderCase {
        what: "an initializer of the wrong type",
        wgsl: "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
               let t = globals.time;\n    let x: f32 = vec2<f32>(1.0);\n    \
               return vec4<f32>(x, t, 0.0, 1.0);\n}\n",
        marker: "let x: f32",
        inner: "x",
        words: &["f32", "vec2<f32>"],
        note: None,
    },
    ShaderCase {
        what: "operands of different types (caught by naga's validator, not its parser: a \
               separate mapping path in hypna)",
        wgsl: "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
               let a: f32 = globals.time;\n    let b: i32 = 2;\n    let c = a + b;\n    \
               return vec4<f32>(c, 0.0, 0.0, 1.0);\n}\n",
        marker: "a + b",
        inner: "a + b",
        words: &["`+`", "`f32`", "`i32`"],
        note: None,
    },
];

#[test]
fn every_bad_shader_case_is_located_in_the_author_file() {
    for case in SHADER_CASES {
        eprintln!("case: {}", case.what);
        let fx = Fixture::new();
        let shader = fx.write("main.wgsl", case.wgsl);
        let d = shader_error(&fx.scene(SCENE));
        assert_at(
            &d,
            &shader,
            loc_in(case.wgsl, case.marker, case.inner),
            case.words,
        );
        if let Some(note) = case.note {
            assert!(
                d.notes.iter().any(|n| n == note),
                "{}: no note {note:?} in {d}",
                case.what
            );
        }
    }
}

#[test]
fn wgsl_missing_fragment_entry_names_the_file() {
    let fx = Fixture::new();
    let shader = fx.write("main.wgsl", "fn helper() -> f32 {\n    return 1.0;\n}\n");
    let d = shader_error(&fx.scene(SCENE));
    assert_eq!(
        (d.file.as_path(), d.line, d.col),
        (shader.as_path(), Some(1), Some(1)),
        "{d}"
    );
    assert!(d.message.contains("no @fragment entry point"), "{d}");
}

// ---------------------------------------------------------------------------------------------
// #include
// ---------------------------------------------------------------------------------------------

#[test]
fn missing_include_is_located_at_the_include_line() {
    let fx = Fixture::new();
    let wgsl = "\
// uses a helper that does not exist
    #include \"parts/not_there.wgsl\"
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    return vec4<f32>(in.uv, 0.0, 1.0);
}
";
    let shader = fx.write("main.wgsl", wgsl);
    let d = shader_error(&fx.scene(SCENE));
    assert_at(
        &d,
        &shader,
        loc(wgsl, "#include"),
        &["parts/not_there.wgsl", "not found"],
    );
    assert!(
        d.notes.iter().any(|n| n.contains("looked in")),
        "no search path: {d}"
    );
}

#[test]
fn malformed_include_is_located() {
    let fx = Fixture::new();
    let wgsl = "#include parts/x.wgsl\n@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(1.0);\n}\n";
    let shader = fx.write("main.wgsl", wgsl);
    let d = shader_error(&fx.scene(SCENE));
    assert_at(&d, &shader, (1, 1), &["malformed include"]);
}

#[test]
fn include_cycle_is_located_at_the_include_that_closes_it() {
    let fx = Fixture::new();
    let a = "\
#include \"b.wgsl\"
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    return vec4<f32>(helper_b());
}
";
    let b = "\
// b needs a, which needs b
#include \"a.wgsl\"
fn helper_b() -> f32 {
    return 1.0;
}
";
    let a_path = fx.write("a.wgsl", a);
    let b_path = fx.write("b.wgsl", b);
    let scene = fx.scene(&SCENE.replace("\"main.wgsl\"", "\"a.wgsl\""));
    let d = shader_error(&scene);
    assert_at(
        &d,
        &b_path,
        loc(b, "#include"),
        &["include cycle", "a.wgsl"],
    );
    let chain = d
        .notes
        .iter()
        .find(|n| n.starts_with("chain:"))
        .unwrap_or_else(|| panic!("no chain note: {d}"));
    let a_name = a_path.canonicalize().unwrap().display().to_string();
    let b_name = b_path.canonicalize().unwrap().display().to_string();
    assert_eq!(*chain, format!("chain: {a_name} -> {b_name} -> {a_name}"));
}

#[test]
fn self_include_is_a_cycle() {
    let fx = Fixture::new();
    let wgsl = format!("{GOOD_SHADER}#include \"main.wgsl\"\n");
    let shader = fx.write("main.wgsl", &wgsl);
    let d = shader_error(&fx.scene(SCENE));
    assert_at(&d, &shader, loc(&wgsl, "#include"), &["include cycle"]);
}

#[test]
fn wgsl_error_in_included_file_is_located_in_that_file() {
    let fx = Fixture::new();
    let main = "\
// main
#include \"parts/broken.wgsl\"
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    return vec4<f32>(in.uv, wobble(1.0), 1.0);
}
";
    let broken = "\
// helper with a typo
fn wobble(x: f32) -> f32 {
    let y = x * globals.tim;
    return y;
}
";
    fx.write("main.wgsl", main);
    let broken_path = fx.write("parts/broken.wgsl", broken);
    let d = shader_error(&fx.scene(SCENE));
    assert_at(&d, &broken_path, loc(broken, "tim;"), &["tim"]);
}

#[test]
fn wgsl_error_in_nested_include_is_located_in_that_file() {
    let fx = Fixture::new();
    let main = "#include \"parts/outer.wgsl\"\n@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(outer());\n}\n";
    let outer = "#include \"inner.wgsl\"\nfn outer() -> f32 {\n    return inner();\n}\n";
    let inner = "\n\nfn inner() -> f32 {\n    let v: i32 = 1.5;\n    return f32(v);\n}\n";
    fx.write("main.wgsl", main);
    fx.write("parts/outer.wgsl", outer);
    let inner_path = fx.write("parts/inner.wgsl", inner);
    let d = shader_error(&fx.scene(SCENE));
    assert_at(&d, &inner_path, loc_in(inner, "let v: i32", "v"), &["i32"]);
}

#[test]
fn wgsl_error_after_an_include_keeps_author_line_numbers() {
    let fx = Fixture::new();
    let main = "\
#include \"parts/helpers.wgsl\"
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let c = palette(in.uv.x);
    return vec4<f32>(c, undefined_thing);
}
";
    let helpers = "\
// a few lines, so a naive line map would be off
fn palette(t: f32) -> vec3<f32> {
    let a = vec3<f32>(0.5);
    let b = vec3<f32>(0.5);
    return a + b * cos(6.28318 * (t + vec3<f32>(0.0, 0.33, 0.67)));
}
";
    let shader = fx.write("main.wgsl", main);
    fx.write("parts/helpers.wgsl", helpers);
    let d = shader_error(&fx.scene(SCENE));
    assert_at(
        &d,
        &shader,
        loc(main, "undefined_thing"),
        &["undefined_thing"],
    );
}

#[test]
fn valid_scene_with_include_passes_check() {
    let fx = Fixture::new();
    let main = "\
#include \"parts/helpers.wgsl\"
#include \"parts/helpers.wgsl\"
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    return vec4<f32>(palette(in.uv.x * params.speed + globals.time), 1.0);
}
";
    let helpers = "\
fn palette(t: f32) -> vec3<f32> {
    return 0.5 + 0.5 * cos(6.28318 * (t + vec3<f32>(0.0, 0.33, 0.67)));
}
";
    let shader = fx.write("main.wgsl", main);
    let helpers_path = fx.write("parts/helpers.wgsl", helpers);
    let scene_path = fx.scene(SCENE);
    let (scene, shaders) =
        check(&scene_path).unwrap_or_else(|e| panic!("valid scene rejected:\n{e}"));
    assert_eq!(scene.passes.len(), 1);
    assert_eq!(shaders.len(), 1);
    assert_eq!(shaders[0].fragment_entry, "main");
    // The second include of the same file is skipped, so `palette` is defined once.
    assert_eq!(shaders[0].files, vec![shader, helpers_path]);
}

// ---------------------------------------------------------------------------------------------
// --set
// ---------------------------------------------------------------------------------------------

fn store() -> ParamStore {
    let fx = Fixture::new();
    let scene = Scene::read(&fx.scene(SCENE)).expect("the base scene is valid");
    ParamStore::new(&scene.params)
}

#[test]
fn set_of_unknown_param_names_it_and_the_known_ones() {
    let mut params = store();
    let err = params.assign("sped=2").expect_err("unknown param accepted");
    assert_eq!(
        err,
        ParamError::Unknown {
            name: "sped".into(),
            known: "speed".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "unknown param `sped`; this scene has: speed"
    );
    assert_eq!(
        params.get("speed"),
        Some(1.0),
        "a failed --set changed a value"
    );

    let mut none = ParamStore::new(&[]);
    let err = none
        .assign("speed=1")
        .expect_err("param accepted by a scene without params");
    assert!(err.to_string().contains("no params"), "{err}");
}

#[test]
fn set_of_non_number_names_the_param_and_value() {
    let mut params = store();
    for bad in ["fast", "", "1.0.0", "NaN", "inf", "-inf", "1e99"] {
        let assignment = format!("speed={bad}");
        let expected = ParamError::NotANumber {
            name: "speed".into(),
            value: bad.into(),
        };
        assert_eq!(
            parse_assignment(&assignment),
            Err(expected.clone()),
            "{assignment}"
        );
        let err = params.assign(&assignment).expect_err("non-number accepted");
        assert_eq!(err, expected, "{assignment}");
        assert_eq!(
            err.to_string(),
            format!("param `speed`: `{bad}` is not a finite number")
        );
    }
    assert_eq!(
        params.get("speed"),
        Some(1.0),
        "a failed --set changed a value"
    );
}

#[test]
fn set_without_equals_is_malformed() {
    let mut params = store();
    let err = params.assign("speed").expect_err("`speed` accepted");
    assert_eq!(err, ParamError::Malformed("speed".into()));
    assert_eq!(err.to_string(), "`speed` is not of the form name=value");
}

#[test]
fn set_with_unknown_name_and_bad_value_names_both() {
    // The value is parsed first, so this is reported as a bad number, but the message still
    // names both what was asked for and what was given.
    let mut params = store();
    let err = params.assign("sped=fast").expect_err("accepted");
    assert_eq!(
        err.to_string(),
        "param `sped`: `fast` is not a finite number"
    );
    // A good assignment still works afterwards, clamped into the range.
    assert_eq!(params.assign(" speed = 9 "), Ok(("speed".into(), 4.0)));
    assert_eq!(params.get("speed"), Some(4.0));
}

// ---------------------------------------------------------------------------------------------
// Regression tests for src/ bugs this file found (each failed before its fix).
// ---------------------------------------------------------------------------------------------

#[test]
fn reserved_wgsl_word_as_param_name_is_a_scene_error() {
    let fx = Fixture::new();
    let toml = SCENE.replace("[params.speed]", "[params.target]");
    fx.write(
        "main.wgsl",
        &GOOD_SHADER.replace("params.speed", "params.target"),
    );
    let path = fx.scene(&toml);
    let d = scene_error(&path);
    assert_at(
        &d,
        &path,
        loc_in(&toml, "[params.target]", "target"),
        &["`target`", "reserved"],
    );
}

#[test]
fn wgsl_error_at_end_of_file_is_located() {
    let fx = Fixture::new();
    // The closing `}` is missing: naga reports the end of input.
    let wgsl = "\
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    return vec4<f32>(1.0);
";
    let shader = fx.write("main.wgsl", wgsl);
    let d = shader_error(&fx.scene(SCENE));
    // Either end-of-file convention is fine: just past the last character of the last line,
    // or line 1 past the last line (as `hypna::diag::line_col` clamps offsets past the end).
    let last_line = loc(wgsl, "    return vec4<f32>(1.0);\n").0;
    let past_last_char = (
        last_line,
        u32::try_from("    return vec4<f32>(1.0);".len() + 1).unwrap(),
    );
    let expected = if d.line == Some(last_line) {
        past_last_char
    } else {
        (last_line + 1, 1)
    };
    assert_at(&d, &shader, expected, &["expected"]);
}

#[test]
fn wgsl_return_type_error_points_at_the_return_value() {
    let fx = Fixture::new();
    let wgsl = "\
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    return 1;
}
";
    let shader = fx.write("main.wgsl", wgsl);
    let d = shader_error(&fx.scene(SCENE));
    assert_at(&d, &shader, loc(wgsl, "1;"), &["vec4<f32>"]);
}

#[test]
fn wgsl_operand_type_error_names_wgsl_types() {
    let fx = Fixture::new();
    let wgsl = "\
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let a: f32 = globals.time;
    let b: i32 = 2;
    let c = a + b;
    return vec4<f32>(c, 0.0, 0.0, 1.0);
}
";
    let shader = fx.write("main.wgsl", wgsl);
    let d = shader_error(&fx.scene(SCENE));
    assert_at(&d, &shader, loc(wgsl, "a + b"), &["f32", "i32"]);
    assert!(
        !d.to_string().contains("naga::"),
        "internal names leak into `{d}`"
    );
}

#[test]
fn fragment_returning_vec3_is_caught_by_check() {
    let fx = Fixture::new();
    let wgsl = "\
// colour only
@fragment
fn main(in: VertexOutput) -> @location(0) vec3<f32> {
    return vec3<f32>(1.0);
}
";
    let shader = fx.write("main.wgsl", wgsl);
    let d = shader_error(&fx.scene(SCENE));
    assert_at(
        &d,
        &shader,
        loc(wgsl, "@fragment"),
        &["must return", "vec4<f32>"],
    );
}

#[test]
fn include_may_carry_a_line_comment() {
    let fx = Fixture::new();
    fx.write("parts/k.wgsl", "fn k() -> f32 { return 0.5; }\n");
    fx.write(
        "main.wgsl",
        "#include \"parts/k.wgsl\" // shared constant\n@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(k());\n}\n",
    );
    let scene = fx.scene(SCENE);
    check(&scene).unwrap_or_else(|e| panic!("{e}"));
}
