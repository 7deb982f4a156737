//! The command line as a user meets it: exit codes, messages, files written.

use crate::common;

use std::process::Command;

use common::root;

fn hypna() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hypna"));
    c.current_dir(root());
    c
}

#[test]
fn check_passes_every_shipped_scene() {
    let scenes: Vec<_> = std::fs::read_dir(root().join("scenes"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    // Scenes on models that set-up installs (the eyes GAN, the compiled dreams) are
    // prerequisites like the models' own tests.
    let scenes = common::with_installed_models("check_passes_every_shipped_scene", scenes);
    let out = hypna().arg("check").args(&scenes).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok: ")).count(),
        scenes.len(),
        "{stdout}"
    );
}

#[test]
fn check_fails_with_location_on_a_broken_scene() {
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("bad.toml");
    std::fs::write(&scene, "[scene]\nname = \"x\"\n\n[[pass]]\nname = \"a\"\nshader = \"a.wgsl\"\ninputs = [\"nothing\"]\n").unwrap();
    std::fs::write(
        dir.path().join("a.wgsl"),
        "@fragment fn main() -> @location(0) vec4<f32> { return vec4<f32>(1.0); }\n",
    )
    .unwrap();
    let out = hypna().arg("check").arg(&scene).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml:7:11: pass `a` reads `nothing`, which names no pass"),
        "{stderr}"
    );
}

#[test]
fn render_writes_numbered_pngs() {
    if common::gpu("render_writes_numbered_pngs").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = hypna()
        .args([
            "render",
            "scenes/landscape.toml",
            "--frames",
            "3",
            "--size",
            "64x36",
            "--set",
            "warp=1.5",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 0..3 {
        let img = image::open(dir.path().join(format!("frame_{i:05}.png"))).unwrap();
        assert_eq!((img.width(), img.height()), (64, 36));
    }
    assert!(!dir.path().join("frame_00003.png").exists());
}

#[test]
fn render_rejects_bad_set_and_size() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expect) in [
        (vec!["--set", "nope=1"], "unknown param `nope`"),
        (vec!["--set", "warp=lots"], "`lots` is not a finite number"),
        (vec!["--size", "64by36"], "is not WIDTHxHEIGHT"),
    ] {
        let out = hypna()
            .args(["render", "scenes/landscape.toml", "--out"])
            .arg(dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expect), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn devices_lists_an_adapter() {
    let out = hypna().arg("devices").output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("GPU adapters:"), "{stdout}");
    if std::env::var("HYPNA_REQUIRE_GPU").as_deref() == Ok("1") {
        assert!(stdout.contains("[0]"), "no adapter listed: {stdout}");
    }
}

#[test]
fn library_includes_resolve_from_inside_the_scene_folder() {
    // `hypna check s.toml` run in <dir>/scenes must find <dir>/shaders/lib/x.wgsl: the
    // include search may not depend on how the scene path was typed.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("shaders/lib")).unwrap();
    std::fs::create_dir_all(dir.path().join("scenes")).unwrap();
    std::fs::write(
        dir.path().join("shaders/lib/only_here.wgsl"),
        "fn only_here() -> f32 { return 0.25; }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("scenes/s.wgsl"),
        "#include \"lib/only_here.wgsl\"\n@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(only_here());\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("scenes/s.toml"),
        "[scene]\nname = \"s\"\n\n[[pass]]\nname = \"a\"\nshader = \"s.wgsl\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hypna"))
        .arg("check")
        .arg("s.toml")
        .current_dir(dir.path().join("scenes"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn without_onnx_runtime_model_scenes_explain_and_shader_scenes_run() {
    if common::gpu("without_onnx_runtime").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-libonnxruntime.so");
    let out = hypna()
        .args([
            "render",
            "scenes/generator.toml",
            "--frames",
            "1",
            "--size",
            "32x18",
            "--ort-lib",
        ])
        .arg(&missing)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("install-ort.sh") && stderr.contains("pip install onnxruntime"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let out = hypna()
        .args([
            "render",
            "scenes/landscape.toml",
            "--frames",
            "1",
            "--size",
            "32x18",
            "--ort-lib",
        ])
        .arg(&missing)
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
