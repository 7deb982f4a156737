//! Issue #13: what an outsider broke. Each test feeds the input that stopped the show (or
//! left it silent) and checks the promise: a located error, the process alive, `check`
//! refusing what `render` refuses.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use hypna::runtime::read_and_check;

const SHADER: &str = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
                      return vec4<f32>(in.uv, 0.0, 1.0);\n}\n";

fn hypna() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hypna"))
}

/// A scene `s.toml` with one pass `main.wgsl` (`shader`) and `extra` appended to the scene.
fn scene(dir: &Path, extra: &str, shader: &str) -> PathBuf {
    std::fs::write(dir.join("main.wgsl"), shader).unwrap();
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        format!(
            "[scene]\nname = \"s\"\n\n[[pass]]\nname = \"main\"\nshader = \"main.wgsl\"\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// The located problems of `read_and_check`, as printed.
fn problems(path: &Path) -> String {
    match read_and_check(path) {
        Ok(_) => String::new(),
        Err(e) => e.located(path).to_string(),
    }
}

/// A fragment shader returning `terms` additions of 1.0 in one expression.
fn chain_shader(terms: usize) -> String {
    let mut sum = String::from("0.0");
    for _ in 0..terms {
        sum.push_str(" + 1.0");
    }
    format!(
        "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {{\n    let x = {sum};\n    \
         return vec4<f32>(x, 0.0, 0.0, 1.0);\n}}\n"
    )
}

// 1. Deep expressions and nesting never exhaust a stack.

#[test]
fn a_deep_expression_is_a_located_error_not_a_stack_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let path = scene(dir.path(), "", &chain_shader(15_000));
    // In this process: an overflow would abort the whole test binary.
    let p = problems(&path);
    assert!(
        p.contains("main.wgsl:3:") && p.contains("more than 1000 operators"),
        "{p}"
    );
    // The CLI exits 1 (not 134).
    let out = hypna().arg("check").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn the_longest_accepted_expression_parses_on_a_loader_sized_stack() {
    // The loader and hot-reload threads have std's default 2 MiB stack; the guard's bound
    // must keep naga's recursion inside it, in this (debug) build too.
    let dir = tempfile::tempdir().unwrap();
    let path = scene(
        dir.path(),
        "",
        &chain_shader(hypna::untrusted::MAX_EXPRESSION_OPERATORS),
    );
    let p = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || problems(&path))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(p, "", "the longest accepted expression must load");
}

#[test]
fn deep_toml_nesting_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("x = {}{}\n", "[".repeat(50_000), "]".repeat(50_000));
    let path = dir.path().join("deep.toml");
    std::fs::write(&path, format!("[scene]\nname = \"s\"\n{deep}")).unwrap();
    let e = hypna::scene::Scene::read(&path).unwrap_err().to_string();
    assert!(e.contains("deep.toml:3:"), "{e}");
}

// 2. Device limits.

#[test]
fn limits_the_gpu_cannot_meet_fail_check_with_a_location() {
    let dir = tempfile::tempdir().unwrap();
    let mut params = String::new();
    for i in 0..5000 {
        write!(params, "[params.p{i}]\ndefault = 0.5\n").unwrap();
    }
    let path = scene(dir.path(), &params, SHADER);
    let p = problems(&path);
    // p4096, the first that does not fit 16 KiB, is declared on line 7 + 2 * 4096.
    assert!(
        p.contains(&format!("s.toml:{}:9: 5000 params", 7 + 2 * 4096)),
        "{p}"
    );

    let path = scene(dir.path(), "", SHADER);
    std::fs::write(
        &path,
        "[scene]\nname = \"s\"\nsize = [10000, 7000]\n[[pass]]\nname = \"main\"\nshader = \"main.wgsl\"\n",
    )
    .unwrap();
    let p = problems(&path);
    assert!(
        p.contains("s.toml:3:8:") && p.contains("largest buffer"),
        "{p}"
    );
}

#[test]
fn model_images_beyond_the_device_limits_are_located_errors() {
    let test = "model_images_beyond_the_device_limits_are_located_errors";
    if !crate::dream_support::ort(test) {
        return;
    }
    // The patterns scene with its dream model at 8192x8192: the image input is read back as
    // 1 GiB every run, more than the 256 MiB buffers every device grants.
    let root = crate::common::root();
    let dir = tempfile::tempdir().unwrap();
    let toml = std::fs::read_to_string(root.join("scenes/patterns.toml"))
        .unwrap()
        .replace("size = [384, 216]", "size = [8192, 8192]")
        .replace(
            "\"../models/dream.onnx\"",
            &format!("{:?}", root.join("models/dream.onnx")),
        )
        .replace(
            "\"dream/",
            &format!("\"{}/", root.join("scenes/dream").display()),
        );
    let line = toml
        .lines()
        .position(|l| l == "size = [8192, 8192]")
        .unwrap()
        + 1;
    let path = dir.path().join("big.toml");
    std::fs::write(&path, &toml).unwrap();
    let expected = "model `dreamer`: image input `image` at 8192x8192 is read back as 1024 MiB";

    let out = hypna().arg("check").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("big.toml:{line}:8: {expected}")),
        "{stdout}{stderr}"
    );

    // Loading it on the device: the same located error, before any GPU object is made.
    let Some(gpu) = crate::common::gpu(test) else {
        return;
    };
    let e = hypna::runtime::Runtime::load(&gpu, &path, &hypna::runtime::RuntimeOptions::default())
        .err()
        .expect("a model input larger than the device's buffers must not load");
    let located = e.located(&path).to_string();
    assert!(
        located.contains(&format!("big.toml:{line}:8: {expected}")),
        "{located}"
    );
}

#[test]
fn a_render_that_cannot_write_its_frames_fails() {
    let Some(_gpu) = crate::common::gpu("a_render_that_cannot_write_its_frames_fails") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = scene(dir.path(), "", SHADER);
    let out = hypna()
        .args(["render", "--frames", "1", "--size", "16384x16384", "--out"])
        .arg(dir.path().join("out"))
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--size"), "{stderr}");
}

// 3. Numbers have ranges.

#[test]
fn threads_beyond_the_range_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = scene(dir.path(), "\n[runtime]\nthreads = 100000\n", SHADER);
    let started = std::time::Instant::now();
    let p = problems(&path);
    assert!(
        p.contains("s.toml:9:11: [runtime] threads: 100000 is more than 64"),
        "{p}"
    );
    assert!(
        started.elapsed().as_secs() < 10,
        "check must not start the threads"
    );
}

// 5. SIGHUP.

#[test]
fn sighup_sets_the_reload_flag_instead_of_ending_the_process() {
    let flag = hypna::window::reload_on_hangup().unwrap();
    signal_hook::low_level::raise(signal_hook::consts::SIGHUP).unwrap();
    crate::common::wait_until("the SIGHUP flag", std::time::Duration::from_secs(5), || {
        flag.load(std::sync::atomic::Ordering::Acquire)
    });
}

// 9. Every error has file:line:col; check refuses what render refuses.

#[test]
fn unreadable_and_empty_inputs_are_located() {
    let dir = tempfile::tempdir().unwrap();
    // A bad byte in the scene: its line and column.
    let path = scene(dir.path(), "", SHADER);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"# caf\xe9\n");
    std::fs::write(&path, &bytes).unwrap();
    let p = problems(&path);
    assert!(p.contains("s.toml:7:6:") && p.contains("0xe9"), "{p}");
    // In a shader.
    let path = scene(dir.path(), "", SHADER);
    std::fs::write(dir.path().join("main.wgsl"), b"@fragment\n// \xff\n").unwrap();
    let p = problems(&path);
    assert!(p.contains("main.wgsl:2:4:") && p.contains("0xff"), "{p}");
    // An empty shader.
    let path = scene(dir.path(), "", "\n\n");
    let p = problems(&path);
    assert!(p.contains("main.wgsl:1:1: the shader is empty"), "{p}");
    // No passes.
    std::fs::write(&path, "[scene]\nname = \"s\"\n").unwrap();
    let p = problems(&path);
    assert!(p.contains("s.toml:1:1: scene has no passes"), "{p}");
    // An unknown execution provider.
    let path = scene(dir.path(), "\n[runtime]\nproviders = [\"foo\"]\n", SHADER);
    let p = problems(&path);
    assert!(p.contains("s.toml:9:14:") && p.contains("`foo`"), "{p}");
    // An array longer than its key takes, at the array.
    std::fs::write(
        &path,
        "[scene]\nname = \"s\"\nsize = [1, 2, 3]\n[[pass]]\nname = \"main\"\nshader = \"main.wgsl\"\n",
    )
    .unwrap();
    let p = problems(&path);
    assert!(p.contains("s.toml:3:"), "{p}");
}

#[test]
fn check_refuses_an_audio_file_render_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let path = scene(dir.path(), "\n[audio]\nfile = \"nosuch.wav\"\n", SHADER);
    let p = problems(&path);
    assert!(p.contains("s.toml:8:1:") && p.contains("nosuch.wav"), "{p}");
    std::fs::write(dir.path().join("fake.wav"), "not a wav file").unwrap();
    let path = scene(dir.path(), "\n[audio]\nfile = \"fake.wav\"\n", SHADER);
    let p = problems(&path);
    assert!(
        p.contains("s.toml:8:1: [audio]") && p.contains("fake.wav"),
        "{p}"
    );
}

// 10. What a shader path names; a library's missing file; quiet without a desktop session.

#[test]
fn a_directory_or_fifo_given_as_shader_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let path = scene(dir.path(), "", SHADER);
    std::fs::remove_file(dir.path().join("main.wgsl")).unwrap();
    std::fs::create_dir(dir.path().join("main.wgsl")).unwrap();
    let p = problems(&path);
    assert!(p.contains("is a directory, not a file"), "{p}");
    std::fs::remove_dir(dir.path().join("main.wgsl")).unwrap();
    let made = Command::new("mkfifo")
        .arg(dir.path().join("main.wgsl"))
        .status()
        .unwrap();
    assert!(made.success());
    let p = problems(&path);
    assert!(p.contains("is a FIFO (named pipe), not a file"), "{p}");
}

#[test]
fn a_file_missing_from_the_project_library_does_not_come_from_elsewhere() {
    // The project has its own shaders/lib without noise.wgsl; the crate's shaders/lib has one.
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("shaders").join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(
        lib.join("other.wgsl"),
        "fn other() -> f32 { return 1.0; }\n",
    )
    .unwrap();
    let scenes = dir.path().join("scenes");
    std::fs::create_dir_all(&scenes).unwrap();
    assert!(
        crate::common::root()
            .join("shaders/lib/noise.wgsl")
            .is_file(),
        "the crate ships shaders/lib/noise.wgsl"
    );
    let path = scene(
        &scenes,
        "",
        &format!("#include \"lib/noise.wgsl\"\n{SHADER}"),
    );
    let p = problems(&path);
    assert!(
        p.contains("main.wgsl:1:") && p.contains("included file `lib/noise.wgsl` not found"),
        "{p}"
    );
}

#[test]
fn no_desktop_session_prints_no_wayland_error() {
    let Some(_gpu) = crate::common::gpu("no_desktop_session_prints_no_wayland_error") else {
        return;
    };
    // Unset, and set to what libwayland calls invalid (not an absolute path).
    for runtime_dir in [None, Some("run/user/0")] {
        let mut command = hypna();
        command.arg("devices").env_remove("NODEVICE_SELECT");
        match runtime_dir {
            Some(dir) => command.env("XDG_RUNTIME_DIR", dir),
            None => command.env_remove("XDG_RUNTIME_DIR"),
        };
        let out = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{runtime_dir:?}: {stderr}");
        assert!(
            !stderr.contains("XDG_RUNTIME_DIR"),
            "{runtime_dir:?}: {stderr}"
        );
    }
}
