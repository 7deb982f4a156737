//! A trained generator as a scene node (issue 19): the eyes GAN that set-up installs, run in a
//! batch whose samples land in an atlas, a latent walk per row, the shipped `scenes/eyes.toml`
//! rendered offline from an audio file and a param log, byte for byte the same twice, and the
//! new binding keys' errors located in the file.

use crate::audio_support;
use crate::common;
use crate::infer_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use hypna::scene::Scene;

/// The GAN set-up installs, or `None` (a skip, or a failure under `make test`).
fn eyes_model(test: &str) -> Option<PathBuf> {
    let path = common::root().join(".hypna/models/omniart-eyes.onnx");
    common::prerequisite(
        test,
        "the eyes GAN .hypna/models/omniart-eyes.onnx",
        path.is_file(),
        "scripts/install-models.sh",
    )
    .then_some(path)
}

/// A scene showing the model's atlas as it is, fed by `noise`.
fn atlas_scene(dir: &Path, model: &Path, batch: usize, noise: &str) -> PathBuf {
    std::fs::write(
        dir.join("show.wgsl"),
        "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
         return textureSample(tex_eyes, samp_eyes, in.uv);\n}\n",
    )
    .expect("shader");
    let path = dir.join("atlas.toml");
    std::fs::write(
        &path,
        format!(
            "[scene]\nname = \"atlas\"\nsize = [256, 256]\n\n\
             [[model]]\nname = \"gan\"\nfile = \"{}\"\nbatch = {batch}\n\
             [model.inputs]\nnoise = {noise}\n\
             label = {{ constant = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0] }}\n\
             [model.outputs]\nimage = {{ texture = \"eyes\" }}\n\n\
             [[pass]]\nname = \"out\"\nshader = \"show.wgsl\"\ninputs = [\"eyes\"]\nformat = \"rgba8unorm\"\n",
            model.display()
        ),
    )
    .expect("scene");
    path
}

/// Mean absolute difference (0..255) between two 128x128 quadrants of a 256x256 frame.
fn quadrant_difference(frame: &common::Frame, a: (u32, u32), b: (u32, u32)) -> f64 {
    let mut sum = 0.0;
    for y in 0..128 {
        for x in 0..128 {
            let p = frame.pixel(a.0 * 128 + x, a.1 * 128 + y);
            let q = frame.pixel(b.0 * 128 + x, b.1 * 128 + y);
            for c in 0..3 {
                sum += f64::from(p[c].abs_diff(q[c]));
            }
        }
    }
    sum / (128.0 * 128.0 * 3.0)
}

#[test]
fn a_batch_fills_an_atlas_with_one_tile_per_sample() {
    let test = "a_batch_fills_an_atlas_with_one_tile_per_sample";
    let Some(model) = eyes_model(test) else {
        return;
    };
    if infer_support::ort(test).is_none() {
        return;
    }
    let Some(gpu) = common::gpu(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // One noise vector for the whole batch (a constant is repeated on every row): four
    // identical eyes, one in each quadrant of the 2x2 atlas.
    let noise: Vec<String> = (0..100)
        .map(|i| format!("{:.3}", ((i * 37 % 100) as f32 / 50.0) - 1.0))
        .collect();
    let same = atlas_scene(
        dir.path(),
        &model,
        4,
        &format!("{{ constant = [{}] }}", noise.join(", ")),
    );
    let frame = common::render_last(&gpu, &same, [256, 256], 3, &[]);
    assert!(frame.luma_std() > 5.0, "the eyes are drawn");
    for q in [(1, 0), (0, 1), (1, 1)] {
        let d = quadrant_difference(&frame, (0, 0), q);
        assert!(d < 0.5, "tile {q:?} differs from tile 0 by {d}");
    }
    // A latent walk has one walk per row: four different eyes.
    let walk = atlas_scene(
        dir.path(),
        &model,
        4,
        "{ latent = { dim = 100, seed = 3, path = \"keyframes\" } }",
    );
    let frame = common::render_last(&gpu, &walk, [256, 256], 3, &[]);
    for q in [(1, 0), (0, 1), (1, 1)] {
        let d = quadrant_difference(&frame, (0, 0), q);
        assert!(d > 5.0, "tile {q:?} is tile 0 again ({d})");
    }
}

/// A minute's worth of structure in two seconds: a bass tone with kicks every quarter second.
fn song(path: &Path) {
    let rate = 22_050u32;
    let samples: Vec<f32> = (0..rate * 2)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            let beat = t % 0.25;
            let kick = if beat < 0.06 {
                (1.0 - beat / 0.06) * (std::f64::consts::TAU * 60.0 * t).sin()
            } else {
                0.0
            };
            let tone = 0.3 * (std::f64::consts::TAU * 220.0 * t).sin() * (t / 2.0);
            #[allow(clippy::cast_possible_truncation)]
            let v = (0.6 * kick + tone) as f32;
            v
        })
        .collect();
    audio_support::write_wav(path, &samples, rate, 1);
}

fn render(out: &Path, wav: &Path, params: Option<&Path>) -> Vec<Vec<u8>> {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hypna"));
    c.current_dir(common::root()).args([
        "render",
        "scenes/eyes.toml",
        "--size",
        "320x180",
        "--frames",
        "16",
        "--fps",
        "8",
        "--threads",
        "1",
        "--no-osc",
    ]);
    c.arg("--audio-file").arg(wav).arg("--out").arg(out);
    if let Some(p) = params {
        c.arg("--replay-params").arg(p);
    }
    let result = c.output().expect("hypna render");
    assert!(
        result.status.success(),
        "render failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    (0..16)
        .map(|n| std::fs::read(out.join(format!("frame_{n:05}.png"))).expect("frame"))
        .collect()
}

#[test]
fn the_eyes_scene_renders_the_same_bytes_twice_from_audio_and_a_param_log() {
    let test = "the_eyes_scene_renders_the_same_bytes_twice_from_audio_and_a_param_log";
    if eyes_model(test).is_none() || infer_support::ort(test).is_none() {
        return;
    }
    if common::gpu(test).is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let wav = dir.path().join("song.wav");
    song(&wav);
    // A performance: a bookmark saved, a new seed, the bookmark recalled, the kaleidoscope.
    let log = dir.path().join("show.params");
    std::fs::write(
        &log,
        "# hypna param log v1\n0.25\tsave\t1\n0.5\tseed\t3\n1.0\trecall\t1\n1.25\tkaleido\t1\n",
    )
    .expect("param log");
    let a = render(&dir.path().join("a"), &wav, Some(&log));
    let b = render(&dir.path().join("b"), &wav, Some(&log));
    for (n, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(x == y, "frame {n} differs between two renders");
    }
    // The log steers the walk: without it the later frames differ.
    let plain = render(&dir.path().join("plain"), &wav, None);
    assert_eq!(
        a[..4],
        plain[..4],
        "before the first change the renders agree"
    );
    assert!(
        a[8..].iter().zip(&plain[8..]).all(|(x, y)| x != y),
        "the seed change, recall and kaleidoscope change every later frame"
    );
    // And the picture moves with the music.
    assert!(a.windows(2).skip(1).all(|w| w[0] != w[1]), "frames move");
}

fn read_error(toml_tail: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("g.onnx"), b"not read by the file check").expect("model");
    std::fs::write(
        dir.path().join("s.wgsl"),
        "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(1.0);\n}\n",
    )
    .expect("shader");
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        format!(
            "[scene]\nname = \"g\"\n\n[params.go]\ndefault = 0\nrange = [0, 8]\n\n\
             [[model]]\nname = \"g\"\nfile = \"g.onnx\"\n{toml_tail}\n\n\
             [[pass]]\nname = \"out\"\nshader = \"s.wgsl\"\n"
        ),
    )
    .expect("scene");
    Scene::read(&path)
        .map(|_| ())
        .expect_err("accepted")
        .to_string()
}

#[test]
fn batch_softmax_and_latent_keys_are_checked_and_located() {
    let e = read_error("batch = 0\n[model.inputs]\nz = { constant = 1.0 }");
    assert!(
        e.contains("s.toml:11:9: model `g`: batch 0 must be 1..=256"),
        "{e}"
    );
    let e = read_error("[model.inputs]\nz = { texture = \"out\", softmax = 2.0 }");
    assert!(
        e.contains("s.toml:12:5: model `g` input `z`: softmax applies only to vector sources"),
        "{e}"
    );
    let e = read_error("[model.inputs]\nz = { params = [\"go\"], softmax = -1.0 }");
    assert!(
        e.contains("softmax -1 must be a positive number up to 1000"),
        "{e}"
    );
    let e = read_error("[model.inputs]\nz = { latent = { dim = 4, path = \"spiral\" } }");
    assert!(
        e.contains("latent path `spiral` is not \"waves\" or \"keyframes\""),
        "{e}"
    );
    let e = read_error("[model.inputs]\nz = { latent = { dim = 4, recall_param = \"gone\" } }");
    assert!(e.contains("unknown param `gone`"), "{e}");
    let e = read_error("[model.inputs]\nz = { latent = { dim = 4, fade_secs = -2.0 } }");
    assert!(
        e.contains("latent fade_secs -2 must be a number >= 0"),
        "{e}"
    );
}
