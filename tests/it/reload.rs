//! Hot reload in process: real file changes seen by the watcher, prepared off-thread and
//! applied between frames. Bad changes keep the last good version running with located
//! errors; good changes clear them and keep feedback buffers and param values.

use crate::common;
use crate::infer_support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::Frame;
use hypna::render::context::Gpu;
use hypna::runtime::{RenderSettings, Runtime, RuntimeOptions, render_frames};
use hypna::show::reload::{HotReload, ReloadEvent};

const SIZE: [u32; 2] = [64, 36];

const SCENE: &str = r#"
[scene]
name = "reload test"
size = [64, 36]

[params.gain]
default = 0.5
range = [0.0, 1.0]

[params.tint]
default = 0.25
range = [0.0, 1.0]

[params.ink]
default = 1.0
range = [0.0, 1.0]

[[pass]]
name = "acc"
shader = "acc.wgsl"
inputs = ["acc"]

[[pass]]
name = "out"
shader = "out.wgsl"
inputs = ["acc"]
"#;

/// Feedback: keeps what it had, plus a bright left half while `ink` is on.
const ACC: &str = r"
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let prev = textureSample(tex_acc, samp_acc, in.uv);
    var add = 0.0;
    if (params.ink > 0.5 && in.uv.x < 0.5) { add = 1.0; }
    return vec4<f32>(max(prev.rgb, vec3<f32>(add)), 1.0);
}
";

const OUT_RED: &str = r"
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let a = textureSample(tex_acc, samp_acc, in.uv).r;
    let wave = 0.5 + 0.5 * sin(globals.time * 3.0 + in.uv.y * 6.0);
    return vec4<f32>(a * params.gain * 2.0, params.tint * wave, 0.0, 1.0);
}
";

const OUT_BLUE: &str = r"
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let a = textureSample(tex_acc, samp_acc, in.uv).r;
    return vec4<f32>(0.0, params.tint, a, 1.0);
}
";

/// Line 4 uses an undefined name.
const OUT_BROKEN: &str = r"
@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let a = textureSample(tex_acc, samp_acc, in.uv).r * nope;
    return vec4<f32>(a, 0.0, 0.0, 1.0);
}
";

struct Fixture {
    _dir: tempfile::TempDir,
    scene: PathBuf,
    gpu: Gpu,
    runtime: Runtime,
    reload: HotReload,
}

fn fixture(test: &str) -> Option<Fixture> {
    let gpu = common::gpu(test)?;
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("scene.toml");
    std::fs::write(&scene, SCENE).unwrap();
    std::fs::write(dir.path().join("acc.wgsl"), ACC).unwrap();
    std::fs::write(dir.path().join("out.wgsl"), OUT_RED).unwrap();
    let options = RuntimeOptions {
        size: Some(SIZE),
        ..RuntimeOptions::default()
    };
    let runtime = Runtime::load(&gpu, &scene, &options).unwrap();
    let reload = HotReload::new(&scene, &runtime);
    Some(Fixture {
        _dir: dir,
        scene,
        gpu,
        runtime,
        reload,
    })
}

/// Renders `n` frames (time starting at `start` frames) and returns them.
fn frames(f: &mut Fixture, n: u64) -> Vec<Frame> {
    let mut out = Vec::new();
    let settings = RenderSettings {
        frames: n,
        fps: 30.0,
        readback_depth: 2,
    };
    render_frames(&f.gpu, &mut f.runtime, &settings, |img| {
        out.push(Frame {
            size: img.size,
            rgba: img.rgba,
        });
        Ok::<(), ()>(())
    })
    .unwrap();
    out
}

/// Polls (rendering a frame between polls, like the frame loop) until something happens.
fn wait_for_reload(f: &mut Fixture) -> ReloadEvent {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match f.reload.poll(&f.gpu, &mut f.runtime) {
            ReloadEvent::Idle => {
                let _ = frames(f, 1);
                std::thread::sleep(Duration::from_millis(20));
            }
            event => return event,
        }
    }
    panic!("no reload within 20 s");
}

fn mean_channel(frame: &Frame, channel: usize, left: bool) -> f64 {
    let [w, h] = frame.size;
    let xs = if left { 0..w / 2 } else { w / 2..w };
    let mut sum = 0.0;
    let mut n = 0.0;
    for y in 0..h {
        for x in xs.clone() {
            sum += f64::from(frame.pixel(x, y)[channel]);
            n += 1.0;
        }
    }
    sum / n
}

#[test]
fn a_broken_shader_keeps_the_last_good_version_until_fixed() {
    let Some(mut f) = fixture("a_broken_shader_keeps_the_last_good_version_until_fixed") else {
        return;
    };
    let _ = frames(&mut f, 3);
    f.runtime.params_mut().set_now("ink", 0.0).unwrap();
    let before = frames(&mut f, 2);
    let last = before.last().unwrap();
    assert!(mean_channel(last, 0, true) > 200.0, "the bar accumulated");
    assert!(mean_channel(last, 0, false) < 5.0);

    let out = f.scene.with_file_name("out.wgsl");
    common::save(&out, OUT_BROKEN);
    assert_eq!(wait_for_reload(&mut f), ReloadEvent::Failed);
    let errors = f.reload.errors().to_vec();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].file.ends_with("out.wgsl"), "{:?}", errors[0]);
    assert_eq!(errors[0].line, Some(4), "{}", errors[0]);
    assert!(errors[0].message.contains("nope"), "{}", errors[0]);

    // The last good version keeps running and animating.
    let during = frames(&mut f, 6);
    assert!(
        mean_channel(&during[5], 0, true) > 200.0,
        "still the red scene"
    );
    assert_ne!(during[0].rgba, during[5].rgba, "still animating");

    common::save(&out, OUT_BLUE);
    assert_eq!(wait_for_reload(&mut f), ReloadEvent::Applied);
    assert!(f.reload.errors().is_empty());
    let after = frames(&mut f, 2);
    let frame = &after[1];
    assert!(mean_channel(frame, 0, true) < 5.0, "the new shader runs");
    // The feedback buffer survived the reload: the bar is still there, now in blue.
    assert!(
        mean_channel(frame, 2, true) > 200.0,
        "feedback kept: {}",
        mean_channel(frame, 2, true)
    );
    assert!(mean_channel(frame, 2, false) < 5.0);
}

#[test]
fn scene_changes_keep_param_values_and_report_toml_errors_located() {
    let Some(mut f) = fixture("scene_changes_keep_param_values_and_report_toml_errors_located")
    else {
        return;
    };
    f.runtime.params_mut().set_now("tint", 0.9).unwrap();
    let _ = frames(&mut f, 2);

    // Broken TOML: a string where a number belongs, line 10.
    let broken = SCENE.replace("default = 0.5", "default = \"loud\"");
    common::save(&f.scene, &broken);
    assert_eq!(wait_for_reload(&mut f), ReloadEvent::Failed);
    let e = &f.reload.errors()[0];
    assert!(e.file.ends_with("scene.toml"), "{e}");
    assert_eq!(e.line, Some(7), "{e}");
    assert!(e.col.is_some(), "{e}");
    let _ = frames(&mut f, 1);

    // A good change: `gain` gets a new range and a new param appears.
    let good = SCENE
        .replace(
            "range = [0.0, 1.0]\n\n[params.tint]",
            "range = [0.0, 2.0]\n\n[params.tint]",
        )
        .replace(
            "[[pass]]\nname = \"acc\"",
            "[params.extra]\ndefault = 3.0\nrange = [0.0, 4.0]\n\n[[pass]]\nname = \"acc\"",
        );
    common::save(&f.scene, &good);
    assert_eq!(wait_for_reload(&mut f), ReloadEvent::Applied);
    assert!(f.reload.errors().is_empty());
    assert_eq!(f.runtime.params().get("tint"), Some(0.9), "value kept");
    assert_eq!(f.runtime.params().get("gain"), Some(0.5));
    assert_eq!(
        f.runtime.params().get("extra"),
        Some(3.0),
        "new param at default"
    );
    assert!((f.runtime.scene().param("gain").unwrap().max - 2.0).abs() < 1e-6);
}

#[test]
fn an_include_added_by_a_reload_is_watched_too() {
    let Some(mut f) = fixture("an_include_added_by_a_reload_is_watched_too") else {
        return;
    };
    let dir = f.scene.parent().unwrap().to_path_buf();
    std::fs::write(
        dir.join("colour.wgsl"),
        "fn colour() -> vec3<f32> { return vec3<f32>(0.0, 1.0, 0.0); }\n",
    )
    .unwrap();
    let with_include = "#include \"colour.wgsl\"\n@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(colour(), 1.0);\n}\n";
    common::save(&dir.join("out.wgsl"), with_include);
    assert_eq!(wait_for_reload(&mut f), ReloadEvent::Applied);
    let green = frames(&mut f, 1);
    assert!(mean_channel(&green[0], 1, false) > 250.0);
    // Now the include itself changes.
    common::save(
        &dir.join("colour.wgsl"),
        "fn colour() -> vec3<f32> { return vec3<f32>(0.0, 0.0, 1.0); }\n",
    );
    assert_eq!(wait_for_reload(&mut f), ReloadEvent::Applied);
    let blue = frames(&mut f, 1);
    assert!(mean_channel(&blue[0], 2, false) > 250.0);
    assert!(mean_channel(&blue[0], 1, false) < 5.0);
}

#[test]
fn resizing_resamples_feedback_instead_of_clearing_it() {
    let Some(mut f) = fixture("resizing_resamples_feedback_instead_of_clearing_it") else {
        return;
    };
    let _ = frames(&mut f, 3);
    // No new ink from here: whatever is lit was carried by the feedback buffer.
    f.runtime.params_mut().set_now("ink", 0.0).unwrap();
    let _ = frames(&mut f, 1);
    f.runtime.resize(&f.gpu, [128, 96]).unwrap();
    assert_eq!(f.runtime.chain().scene_size(), [128, 96]);
    let after = frames(&mut f, 2);
    let frame = &after[1];
    assert_eq!(frame.size, [128, 96]);
    assert!(
        mean_channel(frame, 0, true) > 200.0,
        "feedback survived the resize"
    );
    assert!(mean_channel(frame, 0, false) < 5.0);
}

const MODEL_SCENE: &str = r#"
[scene]
name = "model reload"
size = [64, 36]

[[model]]
name = "cppn"
file = "cppn.onnx"

[model.inputs]
latent = { latent = { dim = 8, seed = 3, speed = 0.06 } }
time = { time = true }

[model.outputs]
image = { texture = "painted" }

[[pass]]
name = "out"
shader = "out.wgsl"
inputs = ["painted"]
"#;

#[test]
fn model_files_reload_and_a_broken_model_keeps_the_running_one() {
    if infer_support::ort("model_files_reload_and_a_broken_model_keeps_the_running_one").is_none() {
        return;
    }
    let Some(gpu) = common::gpu("model_files_reload_and_a_broken_model_keeps_the_running_one")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("scene.toml");
    let model = dir.path().join("cppn.onnx");
    let original = std::fs::read(common::root().join("models/cppn.onnx")).unwrap();
    std::fs::write(&model, &original).unwrap();
    std::fs::write(&scene, MODEL_SCENE).unwrap();
    std::fs::write(
        dir.path().join("out.wgsl"),
        "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(textureSample(tex_painted, samp_painted, in.uv).rgb, 1.0);\n}\n",
    )
    .unwrap();
    let options = RuntimeOptions {
        size: Some(SIZE),
        sync_models: true,
        ..RuntimeOptions::default()
    };
    let runtime = Runtime::load(&gpu, &scene, &options).unwrap();
    let reload = HotReload::new(&scene, &runtime);
    let mut f = Fixture {
        _dir: dir,
        scene: scene.clone(),
        gpu,
        runtime,
        reload,
    };
    let _ = frames(&mut f, 3);
    let results = f.runtime.nodes()[0].results;
    assert!(results > 0);

    // A shader-only change reuses the running model node (no reload of the model).
    let out = scene.with_file_name("out.wgsl");
    let shader = std::fs::read_to_string(&out).unwrap();
    common::save(&out, shader.replace(".rgb, 1.0", ".bgr, 1.0"));
    assert_eq!(wait_for_reload(&mut f), ReloadEvent::Applied);
    assert!(
        f.runtime.nodes()[0].results >= results,
        "the model node was kept"
    );

    // A corrupt model file: the error names the model; the running one keeps going.
    common::save(&model, "this is not an onnx file");
    assert_eq!(wait_for_reload(&mut f), ReloadEvent::Failed);
    let e = f.reload.errors()[0].to_string();
    assert!(e.contains("cppn"), "{e}");
    assert!(
        e.contains("scene.toml:6"),
        "located at the [[model]] table: {e}"
    );
    let before = f.runtime.nodes()[0].results;
    let _ = frames(&mut f, 3);
    assert!(
        f.runtime.nodes()[0].results > before,
        "the old model still runs"
    );

    // The good file again: applied, errors cleared.
    std::fs::write(model.with_extension("tmp"), &original).unwrap();
    std::fs::rename(model.with_extension("tmp"), &model).unwrap();
    assert_eq!(wait_for_reload(&mut f), ReloadEvent::Applied);
    assert!(f.reload.errors().is_empty());
    let _ = frames(&mut f, 3);
    assert!(f.runtime.nodes()[0].results > 0);
}
