//! ONNX models as scene nodes, end to end: the shipped models' defining properties, a
//! third-party model as a node, every bad-binding case located in the scene file, and a model
//! that fails at run time while frames keep coming.

use crate::common;
use crate::infer_support;

use std::path::{Path, PathBuf};

use hypna::clock::Clock;
use hypna::infer::{Model, SessionOptions, Tensor};
use hypna::render::context::Gpu;
use hypna::runtime::{LoadError, Runtime, RuntimeOptions, Submit};

fn cpu1() -> SessionOptions {
    SessionOptions {
        intra_threads: 1,
        ..SessionOptions::default()
    }
}

fn models_dir() -> PathBuf {
    common::root().join("models")
}

/// A scene in a temp dir whose model paths are absolute.
fn scene(dir: &Path, toml: &str, shader: &str) -> PathBuf {
    std::fs::write(dir.join("s.wgsl"), shader).unwrap();
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        toml.replace("MODELS", &models_dir().display().to_string()),
    )
    .unwrap();
    path
}

const PATTERN: &str = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
    return vec4<f32>(fract(in.uv * 7.0 + globals.time), 0.5 + 0.5 * sin(in.uv.x * 40.0), 1.0);\n}\n";

/// Runs `frames` live-mode or lock-step frames and returns the runtime.
fn run_frames(gpu: &Gpu, runtime: &mut Runtime, frames: u64) {
    let mut clock = Clock::fixed(30.0);
    for _ in 0..frames {
        runtime.frame(gpu, clock.tick(), "test", Submit::Go, |_, _| {});
    }
}

fn lock_step() -> RuntimeOptions {
    RuntimeOptions {
        sync_models: true,
        ..RuntimeOptions::default()
    }
}

#[test]
fn dream_objective_rises_over_iterations() {
    if infer_support::ort("dream_objective_rises").is_none() {
        return;
    }
    let mut model = Model::load(&models_dir().join("dream.onnx"), &cpu1()).unwrap();
    let (h, w) = (54, 96);
    let mut data = Vec::new();
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                data.push(
                    0.5 + 0.2 * ((x as f32 * 0.21 + c as f32).sin() * (y as f32 * 0.17).cos()),
                );
            }
        }
    }
    let mut image = Tensor::new(vec![1, 3, h, w], data);
    let weights = Tensor::new(vec![32], vec![1.0; 32]);
    let step = Tensor::new(vec![1], vec![0.02]);
    let mut objectives = Vec::new();
    for _ in 0..4 {
        let out = model
            .run(&[
                ("image", image.view()),
                ("weights", weights.view()),
                ("step", step.view()),
            ])
            .unwrap();
        let get = |n: &str| {
            out.iter()
                .find(|(name, _)| name == n)
                .map(|(_, t)| t.clone())
                .unwrap()
        };
        objectives.push(get("objective").data[0]);
        image = get("dreamed");
    }
    assert!(
        objectives.windows(2).all(|p| p[1] > p[0]),
        "objective must rise: {objectives:?}"
    );
}

#[test]
fn cppn_small_latent_change_small_image_change() {
    if infer_support::ort("cppn_latent_changes").is_none() {
        return;
    }
    let mut model = Model::load(&models_dir().join("cppn.onnx"), &cpu1()).unwrap();
    let mut render = |z: &[f32]| {
        let latent = Tensor::new(vec![1, 8], z.to_vec());
        let time = Tensor::new(vec![1], vec![0.0]);
        let out = model
            .run(&[("latent", latent.view()), ("time", time.view())])
            .unwrap();
        out.into_iter().next().unwrap().1.data
    };
    let z: Vec<f32> = (0..8).map(|i| ((i * 37 % 11) as f32 / 5.0) - 1.0).collect();
    let near: Vec<f32> = z
        .iter()
        .enumerate()
        .map(|(i, v)| v + if i == 0 { 0.01 } else { 0.0 })
        .collect();
    let far: Vec<f32> = z.iter().map(|v| -v * 1.3 + 0.4).collect();
    let (a, b, c) = (render(&z), render(&near), render(&far));
    let mean_abs = |x: &[f32], y: &[f32]| {
        x.iter().zip(y).map(|(p, q)| (p - q).abs()).sum::<f32>() / x.len() as f32
    };
    let small = mean_abs(&a, &b);
    let large = mean_abs(&a, &c);
    assert!(
        small < 0.01,
        "a 0.01 latent step moved the image by {small}"
    );
    assert!(large > 0.05, "a new latent moved the image by only {large}");
}

#[test]
fn third_party_inception_runs_as_a_node() {
    let Some(gpu) = common::gpu("third_party_inception_runs_as_a_node") else {
        return;
    };
    if infer_support::ort("third_party_inception_runs_as_a_node").is_none() {
        return;
    }
    let inception = common::root().join(".hypna/testdata/light_inception_v1.onnx");
    assert!(
        inception.is_file(),
        "{} missing: run scripts/install-ort.sh",
        inception.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[scene]\nname = \"classify\"\nsize = [64, 64]\n\n\
         [params.p0]\ndefault = 0.0\n[params.p1]\ndefault = 0.0\n[params.p2]\ndefault = 0.0\n\n\
         [[model]]\nname = \"inception\"\nfile = \"{}\"\n\
         [model.inputs]\ndata_0 = {{ texture = \"pattern\", range = [0, 255], mean = [123.7, 116.3, 103.5] }}\n\
         [model.outputs]\nprob_1 = {{ params = [\"p0\", \"p1\", \"p2\"] }}\n\n\
         [[pass]]\nname = \"pattern\"\nshader = \"s.wgsl\"\n",
        inception.display()
    );
    let path = scene(dir.path(), &toml, PATTERN);
    let mut runtime = Runtime::load(&gpu, &path, &lock_step()).unwrap_or_else(|e| panic!("{e}"));
    run_frames(&gpu, &mut runtime, 4);
    let node = &runtime.nodes()[0];
    assert!(node.results >= 2, "inception results: {}", node.results);
    let probs: Vec<f32> = ["p0", "p1", "p2"]
        .iter()
        .map(|p| runtime.params().get(p).unwrap())
        .collect();
    assert!(
        probs.iter().all(|p| *p > 0.0 && *p < 1.0),
        "softmax outputs landed in params: {probs:?}"
    );
}

/// Loads a scene with the dream model and the given bindings; returns the model errors.
fn dream_binding_errors(
    gpu: &Gpu,
    inputs: &str,
    outputs: &str,
) -> (PathBuf, Vec<hypna::diag::Diagnostic>) {
    let dir = tempfile::tempdir().unwrap().keep();
    let toml = format!(
        "[scene]\nname = \"bad\"\nsize = [64, 36]\n\n[params.step]\ndefault = 0.01\n\n\
         [[model]]\nname = \"dreamer\"\nfile = \"MODELS/dream.onnx\"\nsize = [32, 18]\n\
         [model.inputs]\n{inputs}\n[model.outputs]\n{outputs}\n\n\
         [[pass]]\nname = \"pattern\"\nshader = \"s.wgsl\"\n"
    );
    let path = scene(&dir, &toml, PATTERN);
    match Runtime::load(gpu, &path, &lock_step()) {
        Ok(_) => panic!("loaded a scene with bad bindings:\n{toml}"),
        Err(LoadError::Model(d)) => (path, d.0),
        Err(e) => panic!("expected a model binding error, got {e}"),
    }
}

#[test]
fn bad_bindings_are_located_and_name_model_input_and_shapes() {
    let Some(gpu) = common::gpu("bad_bindings") else {
        return;
    };
    if infer_support::ort("bad_bindings").is_none() {
        return;
    }
    let cases = [
        (
            "image = { texture = \"pattern\" }\nweights = { constant = [1.0, 2.0, 3.0] }\nstep = { param = \"step\" }",
            "",
            "model `dreamer` input `weights` expects float32 [32], but the binding gives float32 [3] (a constant of 3)",
        ),
        (
            "image = { texture = \"pattern\" }\nweights = { constant = [1.0] }\nstep = { texture = \"pattern\" }\nweights2 = { time = true }",
            "",
            "model `dreamer` has no input `weights2`; its inputs: `image` float32 [1, 3, height, width]",
        ),
        (
            "image = { texture = \"pattern\" }\nweights = { latent = { dim = 32 } }",
            "",
            "model `dreamer` input `step` (float32 [1]) is not bound",
        ),
        (
            "image = { param = \"step\" }\nweights = { latent = { dim = 32 } }\nstep = { param = \"step\" }",
            "",
            "model `dreamer` input `image` expects float32 [1, 3, height, width], but the binding gives float32 [1] (1 param)",
        ),
        (
            "image = { texture = \"pattern\" }\nweights = { latent = { dim = 32 } }\nstep = { param = \"step\" }",
            "objective = { texture = \"obj\" }",
            "model `dreamer` output `objective` is float32 [1], which is not an image",
        ),
    ];
    for (inputs, outputs, expected) in cases {
        let (path, diags) = dream_binding_errors(&gpu, inputs, outputs);
        let found = diags.iter().find(|d| d.message.contains(expected));
        let d = found.unwrap_or_else(|| panic!("no `{expected}` in {diags:#?}"));
        assert_eq!(d.file, path);
        // Located at the [[model]] table (line 8 of the generated scene).
        assert_eq!(d.line, Some(8), "{d}");
        assert!(
            d.to_string().starts_with(&format!("{}:8:", path.display())),
            "{d}"
        );
    }
}

#[test]
fn a_model_failing_at_run_time_does_not_stop_the_frames() {
    let Some(gpu) = common::gpu("model_failing_at_run_time") else {
        return;
    };
    if infer_support::ort("model_failing_at_run_time").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let toml = "[scene]\nname = \"raises\"\nsize = [32, 32]\n\n\
        [params.n]\ndefault = 3.0\nrange = [0.0, 8.0]\n[params.y]\ndefault = 0.0\n\n\
        [[model]]\nname = \"raiser\"\nfile = \"MODELS/testdata/raises.onnx\"\n\
        [model.inputs]\nn = { param = \"n\" }\n[model.outputs]\ny = { param = \"y\" }\n\n\
        [[pass]]\nname = \"pattern\"\nshader = \"s.wgsl\"\n";
    let path = scene(dir.path(), toml, PATTERN);
    // Live mode: the frame loop never waits on the model.
    let mut runtime =
        Runtime::load(&gpu, &path, &RuntimeOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let start = std::time::Instant::now();
    run_frames(&gpu, &mut runtime, 30);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while runtime.nodes()[0].worker_stats().error_total() == 0
        && std::time::Instant::now() < deadline
    {
        run_frames(&gpu, &mut runtime, 1);
    }
    let stats = runtime.nodes()[0].worker_stats();
    assert!(
        stats.error_total() >= 1,
        "the model should have failed: {stats:?}"
    );
    assert_eq!(runtime.nodes()[0].results, 0);
    assert_eq!(runtime.params().get("y"), Some(0.0));
    eprintln!("30+ frames with a failing model in {:?}", start.elapsed());
    // Fix the input: results flow again.
    runtime.params_mut().set_now("n", 4.0).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while runtime.nodes()[0].results == 0 && std::time::Instant::now() < deadline {
        run_frames(&gpu, &mut runtime, 1);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    run_frames(&gpu, &mut runtime, 1);
    assert!(runtime.nodes()[0].results >= 1, "the model recovered");
    assert_eq!(runtime.params().get("y"), Some(1.0));
}

#[test]
fn every_and_max_rate_gate_the_runs() {
    let Some(gpu) = common::gpu("every_and_max_rate") else {
        return;
    };
    if infer_support::ort("every_and_max_rate").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let make = |rate: &str| {
        format!(
            "[scene]\nname = \"gate\"\nsize = [32, 18]\n\n[[model]]\nname = \"cppn\"\nfile = \"MODELS/cppn.onnx\"\n{rate}\n\
             [model.inputs]\nlatent = {{ latent = {{ dim = 8 }} }}\ntime = {{ time = true }}\n\
             [model.outputs]\nimage = {{ texture = \"painted\" }}\n\n\
             [[pass]]\nname = \"out\"\nshader = \"s.wgsl\"\ninputs = [\"painted\"]\n"
        )
    };
    let shader = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return textureSample(tex_painted, samp_painted, in.uv);\n}\n";
    // every = 3: frames 0, 3 and 6 of nine start a run.
    let path = scene(dir.path(), &make("every = 3"), shader);
    let mut runtime = Runtime::load(&gpu, &path, &lock_step()).unwrap_or_else(|e| panic!("{e}"));
    run_frames(&gpu, &mut runtime, 9);
    assert_eq!(runtime.nodes()[0].io_stats().jobs, 3);
    // max_rate_hz = 10 at 30 fps: one run every 3 frames of scene time, 10 in 30 frames.
    let path = scene(dir.path(), &make("max_rate_hz = 10.0"), shader);
    let mut runtime = Runtime::load(&gpu, &path, &lock_step()).unwrap_or_else(|e| panic!("{e}"));
    run_frames(&gpu, &mut runtime, 30);
    assert_eq!(runtime.nodes()[0].io_stats().jobs, 10);
    // The painting reached the screen after the first result.
    assert!(runtime.nodes()[0].results >= 9);
}

#[test]
fn deadline_ms_is_parsed_and_a_bad_value_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let make = |deadline: &str| {
        format!(
            "[scene]\nname = \"d\"\nsize = [32, 18]\n\n\
             [[model]]\nname = \"spin\"\nfile = \"MODELS/testdata/spin.onnx\"\n{deadline}\n\
             [model.inputs]\nn = {{ constant = [3.0] }}\n\n\
             [[pass]]\nname = \"pattern\"\nshader = \"s.wgsl\"\n"
        )
    };
    let ok = scene(dir.path(), &make("deadline_ms = 250"), PATTERN);
    let parsed = hypna::scene::Scene::read(&ok).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        parsed.models[0].deadline,
        Some(std::time::Duration::from_millis(250))
    );
    let auto = scene(dir.path(), &make(""), PATTERN);
    assert_eq!(
        hypna::scene::Scene::read(&auto).unwrap().models[0].deadline,
        None
    );
    for (bad, message) in [
        (
            "deadline_ms = 0",
            "model `spin`: deadline_ms 0 must be 1..=3600000",
        ),
        (
            "deadline_ms = 3600001",
            "deadline_ms 3600001 must be 1..=3600000",
        ),
        ("deadline_ms = -5", "expected u64"),
        ("deadline_ms = 2.5", "expected u64"),
    ] {
        let path = scene(dir.path(), &make(bad), PATTERN);
        let err = hypna::scene::Scene::read(&path).unwrap_err();
        let d = err
            .diagnostics()
            .iter()
            .find(|d| d.message.contains(message))
            .unwrap_or_else(|| panic!("no `{message}` for `{bad}` in {err}"));
        // The key stands on line 8 of the generated scene.
        assert_eq!(d.line, Some(8), "{bad}: {d}");
    }
}

#[test]
fn a_hung_model_is_stopped_and_the_frames_never_wait() {
    let Some(gpu) = common::gpu("hung_model") else {
        return;
    };
    if infer_support::ort("hung_model").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // n = 1e9 loop iterations: minutes, unless the 200 ms deadline stops it.
    let toml = "[scene]\nname = \"hung\"\nsize = [32, 32]\n\n\
        [params.n]\ndefault = 1e9\nrange = [0.0, 1e9]\n[params.y]\ndefault = 0.0\n\n\
        [[model]]\nname = \"spinner\"\nfile = \"MODELS/testdata/spin.onnx\"\ndeadline_ms = 200\n\
        [model.inputs]\nn = { param = \"n\" }\n[model.outputs]\ny = { param = \"y\" }\n\n\
        [[pass]]\nname = \"pattern\"\nshader = \"s.wgsl\"\n";
    let path = scene(dir.path(), toml, PATTERN);
    let mut runtime =
        Runtime::load(&gpu, &path, &RuntimeOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut slowest = std::time::Duration::ZERO;
    let mut frames = 0;
    // The first run after loading may take the 30 s warm-up allowance; later ones 200 ms.
    while runtime.nodes()[0].worker_stats().errors_of("hung") < 2
        && std::time::Instant::now() < deadline
    {
        let t = std::time::Instant::now();
        run_frames(&gpu, &mut runtime, 1);
        slowest = slowest.max(t.elapsed());
        frames += 1;
    }
    let stats = runtime.nodes()[0].worker_stats();
    assert!(stats.errors_of("hung") >= 2, "{stats:?}");
    assert_eq!(
        stats.abandoned_threads, 0,
        "terminate stopped it: {stats:?}"
    );
    assert_eq!(runtime.params().get("y"), Some(0.0));
    eprintln!("{frames} frames while the model hung, slowest {slowest:?}");
    assert!(
        slowest < std::time::Duration::from_millis(500),
        "a frame waited {slowest:?}"
    );
    // A sane input: results flow again (after the backoff, if any).
    runtime.params_mut().set_now("n", 30.0).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while runtime.params().get("y") != Some(1.0) && std::time::Instant::now() < deadline {
        run_frames(&gpu, &mut runtime, 1);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(
        runtime.params().get("y"),
        Some(1.0),
        "{:?}",
        runtime.nodes()[0].worker_stats()
    );
}
