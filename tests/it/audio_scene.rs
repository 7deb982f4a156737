//! Audio wired into scenes: the `[audio]` table, offline renders driven by a WAV file (frame N
//! sees the audio up to N / fps), and model bindings sized by the configured band count.

use crate::common;

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use hypna::model::plan::{AudioLengths, Dim, TensorSpec, plan};
use hypna::runtime::{AudioMode, RenderSettings, Runtime, RuntimeOptions, render_frames};
use hypna::scene::Scene;

const RATE: u32 = 48_000;
const FPS: f64 = 30.0;
/// The tone starts here (frame 30 at 30 fps).
const TONE_START_SECS: f64 = 1.0;

/// One second of silence, then a second of a loud 1 kHz tone with a click every 0.25 s.
fn write_wav(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("wav");
    let start = (TONE_START_SECS * f64::from(RATE)) as usize;
    let total = start * 2;
    for i in 0..total {
        let v = if i < start {
            0.0
        } else {
            let t = (i - start) as f64 / f64::from(RATE);
            let tone = 0.6 * (2.0 * PI * 1000.0 * t).sin();
            let click = if (i - start) % (RATE as usize / 4) < 48 {
                0.35
            } else {
                0.0
            };
            tone + click
        };
        w.write_sample((v.clamp(-1.0, 1.0) * 32_000.0) as i16)
            .expect("sample");
    }
    w.finalize().expect("finalize");
}

/// Red = `audio_level`, green = the spectrum texture at 1 kHz, blue = `audio_band(3)`.
const SHADER: &str = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
    let x = log(1000.0 / 30.0) / log(16000.0 / 30.0);\n    \
    return vec4<f32>(globals.audio_level, audio_spectrum(x), audio_band(3u), 1.0);\n}\n";

fn scene_dir(audio_table: &str) -> (PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    std::fs::write(dir.join("s.wgsl"), SHADER).expect("shader");
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        format!(
            "[scene]\nname = \"audio\"\nsize = [16, 16]\n\n{audio_table}\n[[pass]]\nname = \"out\"\nshader = \"s.wgsl\"\n"
        ),
    )
    .expect("scene");
    (dir, path)
}

/// Renders `frames` frames and returns the centre pixel of each.
fn render(gpu: &hypna::render::context::Gpu, path: &Path, audio: AudioMode) -> Vec<[u8; 4]> {
    let options = RuntimeOptions {
        sync_models: true,
        audio,
        ..RuntimeOptions::default()
    };
    let mut runtime = Runtime::load(gpu, path, &options).expect("load");
    let settings = RenderSettings {
        frames: 60,
        fps: FPS,
        ..RenderSettings::default()
    };
    let mut pixels = Vec::new();
    render_frames(gpu, &mut runtime, &settings, |image| {
        let i = ((8 * image.size[0] + 8) * 4) as usize;
        pixels.push([
            image.rgba[i],
            image.rgba[i + 1],
            image.rgba[i + 2],
            image.rgba[i + 3],
        ]);
        Ok::<(), ()>(())
    })
    .expect("render");
    pixels
}

#[test]
fn a_wav_render_reacts_at_the_tone_and_is_deterministic() {
    let Some(gpu) = common::gpu("a_wav_render_reacts_at_the_tone") else {
        return;
    };
    let (dir, path) = scene_dir("");
    let wav = dir.join("tone.wav");
    write_wav(&wav);
    let audio = AudioMode::Offline {
        file: Some(wav.clone()),
        fps: FPS,
    };
    let a = render(&gpu, &path, audio.clone());
    let b = render(&gpu, &path, audio);
    assert_eq!(a, b, "two renders with the same WAV differ");
    let tone_frame = (TONE_START_SECS * FPS) as usize;
    // Up to and including the frame at the tone's start, the audio heard so far is silence.
    for (n, p) in a.iter().enumerate().take(tone_frame + 1) {
        assert!(p[0] <= 1 && p[1] <= 1, "frame {n} is not silent: {p:?}");
    }
    // One frame (33 ms) into the tone: level and the 1 kHz spectrum bin are up.
    let after = a[tone_frame + 1];
    assert!(
        after[0] >= 60,
        "level did not rise at frame {}: {after:?}",
        tone_frame + 1
    );
    assert!(after[1] >= 60, "1 kHz spectrum did not rise: {after:?}");
    // And they stay up while the tone plays.
    for (n, p) in a.iter().enumerate().skip(tone_frame + 2) {
        assert!(p[0] >= 60 && p[1] >= 60, "frame {n}: {p:?}");
    }

    // Audio off: the same scene is silent throughout.
    let off = render(&gpu, &path, AudioMode::Off);
    assert!(
        off.iter().all(|p| p[0] == 0 && p[1] == 0 && p[2] == 0),
        "{off:?}"
    );
}

#[test]
fn the_scene_audio_file_is_used_by_renders() {
    let Some(gpu) = common::gpu("the_scene_audio_file_is_used_by_renders") else {
        return;
    };
    // A relative `file` resolves against the scene's folder.
    let (dir, path) = scene_dir("[audio]\nfile = \"tone.wav\"\nbands = 4\n");
    write_wav(&dir.join("tone.wav"));
    let scene = Scene::read(&path).expect("scene");
    let audio = scene.audio.as_ref().expect("[audio]");
    assert_eq!(audio.file.as_deref(), Some(dir.join("tone.wav").as_path()));
    assert_eq!(scene.audio_bands(), 4);
    let pixels = render(
        &gpu,
        &path,
        AudioMode::Offline {
            file: None,
            fps: FPS,
        },
    );
    assert!(pixels[5][0] <= 1, "{:?}", pixels[5]);
    assert!(pixels[45][0] >= 60, "{:?}", pixels[45]);
}

#[test]
fn audio_errors_are_located_at_the_table() {
    let (_dir, path) = scene_dir("[audio]\nbands = 40\n");
    let err = Scene::read(&path).expect_err("bands = 40 accepted");
    let d = err
        .diagnostics()
        .iter()
        .find(|d| d.message.contains("bands"))
        .unwrap_or_else(|| panic!("no bands error in {err}"));
    assert_eq!(d.file, path);
    assert_eq!(d.line, Some(5), "{d}");

    let (_dir, path) = scene_dir("[audio]\nfft_size = 1000\n");
    let err = Scene::read(&path).expect_err("fft_size = 1000 accepted");
    assert!(
        err.diagnostics()
            .iter()
            .any(|d| d.message.contains("fft_size") && d.line == Some(5)),
        "{err}"
    );

    let (_dir, path) = scene_dir("[audio]\nbogus = 1\n");
    let err = Scene::read(&path).expect_err("unknown key accepted");
    assert!(
        err.diagnostics()
            .iter()
            .any(|d| d.message.contains("bogus") && d.line == Some(6)),
        "{err}"
    );
}

#[test]
fn a_bands_binding_plans_with_the_configured_band_count() {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    std::fs::write(dir.join("s.wgsl"), SHADER).expect("shader");
    std::fs::write(dir.join("m.onnx"), b"not a model").expect("model");
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        "[scene]\nname = \"bands\"\nsize = [16, 16]\n\n[audio]\nbands = 12\n\n\
         [[model]]\nname = \"m\"\nfile = \"m.onnx\"\n[model.inputs]\nv = { audio = \"bands\" }\n\
         [model.outputs]\n\n[[pass]]\nname = \"out\"\nshader = \"s.wgsl\"\n",
    )
    .expect("scene");
    let scene = Scene::read(&path).expect("scene");
    assert_eq!(scene.audio_bands(), 12);
    let input = |n: i64| TensorSpec {
        name: "v".to_string(),
        elem: "float32".to_string(),
        dims: vec![Dim::Fixed(1), Dim::Fixed(n)],
    };
    let lengths = AudioLengths {
        bands: scene.audio_bands(),
    };
    plan(&scene.models[0], &[input(12)], &[], [4, 4], &lengths).expect("12 bands fit [1, 12]");
    let errors = plan(&scene.models[0], &[input(8)], &[], [4, 4], &lengths)
        .expect_err("12 bands do not fit [1, 8]");
    assert!(errors.iter().any(|e| e.contains("[12]")), "{errors:?}");
}

#[test]
fn live_audio_from_a_file_reaches_the_globals() {
    let Some(gpu) = common::gpu("live_audio_from_a_file_reaches_the_globals") else {
        return;
    };
    let (dir, path) = scene_dir("");
    let wav = dir.join("tone.wav");
    write_wav(&wav);
    // Live mode plays the file in real time (looping): within a few seconds the tone is heard.
    let options = RuntimeOptions {
        audio: AudioMode::Live {
            device: None,
            file: Some(wav),
        },
        ..RuntimeOptions::default()
    };
    let mut runtime = Runtime::load(&gpu, &path, &options).expect("load");
    let settings = RenderSettings {
        frames: 1,
        fps: FPS,
        ..RenderSettings::default()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut loudest = 0;
    while std::time::Instant::now() < deadline && loudest < 60 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        render_frames(&gpu, &mut runtime, &settings, |image| {
            let i = ((8 * image.size[0] + 8) * 4) as usize;
            loudest = loudest.max(image.rgba[i]);
            Ok::<(), ()>(())
        })
        .expect("render");
    }
    assert!(
        loudest >= 60,
        "live audio never reached the globals ({loudest})"
    );
}

#[test]
fn a_param_follows_an_audio_feature_with_gain_and_offset() {
    let Some(gpu) = common::gpu("a_param_follows_an_audio_feature") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir").keep();
    std::fs::write(
        dir.join("m.wgsl"),
        "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(params.glow, 0.0, 0.0, 1.0);\n}\n",
    )
    .expect("shader");
    let path = dir.join("m.toml");
    std::fs::write(
        &path,
        "[scene]\nname = \"mod\"\nsize = [16, 16]\n\n\
         [params.glow]\ndefault = 0.1\nrange = [0.0, 1.0]\naudio = { feature = \"level\", gain = 4.0, offset = 0.1 }\n\n\
         [[pass]]\nname = \"out\"\nshader = \"m.wgsl\"\n",
    )
    .expect("scene");
    let wav = dir.join("tone.wav");
    write_wav(&wav);
    let frames = render(
        &gpu,
        &path,
        AudioMode::Offline {
            file: Some(wav),
            fps: FPS,
        },
    );
    let tone_frame = (TONE_START_SECS * FPS) as usize;
    // Silence: default 0.1 + offset 0.1 = 0.2 (51 of 255).
    assert!(
        (i32::from(frames[5][0]) - 51).abs() <= 1,
        "silent frame: {:?}",
        frames[5]
    );
    // The tone raises the level: 0.2 + 4 * level, far above the silent value.
    let loud = frames[tone_frame + 5][0];
    assert!(loud > 120, "the param did not follow the level: {loud}");
    // An unknown feature is an error located at the param.
    std::fs::write(
        &path,
        "[scene]\nname = \"mod\"\n\n[params.glow]\ndefault = 0.1\naudio = { feature = \"loudness\" }\n\n[[pass]]\nname = \"out\"\nshader = \"m.wgsl\"\n",
    )
    .expect("scene");
    let err = hypna::scene::Scene::read(&path).expect_err("unknown feature");
    assert!(
        err.to_string()
            .contains("m.toml:6:9: param `glow`: unknown audio feature `loudness`"),
        "{err}"
    );
}
