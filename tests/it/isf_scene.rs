//! ISF files in scenes: `[[pass]] isf = ...` expands into passes and params (checked without
//! a GPU), bare `.fs` files play as scenes, and the spec files and the committed sample of the
//! reference collection render non-flat frames headless (the whole collection is measured by
//! `cargo run --release --example isf_render -- <ISF-Files/ISF>`, docs/isf.md).

use std::path::{Path, PathBuf};

use hypna::scene::{Format, Scene, TextureSource};

use crate::common::{self, gpu, render_all};

fn data(dir: &str) -> PathBuf {
    common::root().join("tests/data").join(dir)
}

/// A two-pass ISF file with a persistent float target, an expression size, every scalar
/// input type and an image input.
const FEEDBACK_FS: &str = r#"/*{
    "ISFVSN": "2",
    "DESCRIPTION": "hypna scene test",
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "decay", "TYPE": "float", "DEFAULT": 2.0, "MIN": 0.0, "MAX": 0.9, "LABEL": "Decay"},
        {"NAME": "mode", "TYPE": "long", "VALUES": [1, 4, 9], "LABELS": ["a", "b", "c"], "DEFAULT": 4},
        {"NAME": "on", "TYPE": "bool", "DEFAULT": true},
        {"NAME": "centre", "TYPE": "point2D", "DEFAULT": [8, 4]},
        {"NAME": "tint", "TYPE": "color", "DEFAULT": [1.0, 0.5, 0.25, 1.0]}
    ],
    "PASSES": [
        {"TARGET": "trail", "PERSISTENT": true, "FLOAT": true, "WIDTH": "$WIDTH/2", "HEIGHT": "$HEIGHT/2"},
        {}
    ]
}*/
void main() {
    if (PASSINDEX == 0) {
        vec4 old = IMG_NORM_PIXEL(trail, isf_FragNormCoord);
        gl_FragColor = max(IMG_THIS_NORM_PIXEL(inputImage), old * decay);
    } else {
        gl_FragColor = IMG_NORM_PIXEL(trail, isf_FragNormCoord) * (on ? tint : vec4(1.0));
    }
}
"#;

const SOURCE_WGSL: &str = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
    return vec4<f32>(in.uv.x, in.uv.y, 0.5, 1.0);\n}\n";

fn write_scene(dir: &Path, fs: &str, pass: &str) -> PathBuf {
    std::fs::write(dir.join("effect.fs"), fs).unwrap();
    std::fs::write(dir.join("source.wgsl"), SOURCE_WGSL).unwrap();
    let path = dir.join("scene.toml");
    std::fs::write(
        &path,
        format!(
            "[scene]\nname = \"isf\"\nsize = [32, 16]\n\n[params.mode]\ndefault = 9.0\nrange = [0.0, 10.0]\nsmooth = 0.5\n\n\
             [[pass]]\nname = \"source\"\nshader = \"source.wgsl\"\n\n\
             [[pass]]\nname = \"fx\"\nisf = \"effect.fs\"\n{pass}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
#[allow(clippy::float_cmp)] // values set from the file, exactly
fn an_isf_pass_becomes_passes_and_params() {
    let dir = tempfile::tempdir().unwrap();
    let scene = Scene::read(&write_scene(dir.path(), FEEDBACK_FS, "")).unwrap();
    let names: Vec<&str> = scene.passes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["source", "fx.trail", "fx"]);
    let (trail, out) = (&scene.passes[1], &scene.passes[2]);
    // WIDTH/HEIGHT expressions against the scene size; FLOAT is a filterable float format.
    assert_eq!(trail.size, Some([16, 8]));
    assert_eq!(trail.format, Format::Rgba16float);
    assert_eq!(out.format, Format::Rgba8unorm);
    // Images in the file's order (inputs, then targets): the pass before, then the target
    // (its previous frame in the pass writing it, this frame's in the later one).
    let read = |p: &hypna::scene::PassDef| -> Vec<(String, TextureSource, bool)> {
        p.inputs
            .iter()
            .map(|i| (i.name.clone(), i.source, i.previous_frame))
            .collect()
    };
    assert_eq!(
        read(trail),
        [
            ("inputImage".into(), TextureSource::Pass(0), false),
            ("trail".into(), TextureSource::Pass(1), true)
        ]
    );
    assert_eq!(
        read(out)[1],
        ("trail".into(), TextureSource::Pass(1), false)
    );
    assert!(scene.is_double_buffered(1) && !scene.is_double_buffered(2));
    // Inputs as params: the default clamped into MIN/MAX, a long over its values, a bool
    // 0..1, a point in pixels of the scene size, a colour per channel; the scene's own
    // `mode` is used as declared.
    let p = |name: &str| {
        scene
            .param(name)
            .unwrap_or_else(|| panic!("no param {name}"))
    };
    assert_eq!((p("decay").default, p("decay").max), (0.9, 0.9));
    assert_eq!(p("decay").label, "Decay");
    assert_eq!(p("decay").group.as_deref(), Some("fx"));
    assert_eq!((p("mode").default, p("mode").smooth_secs), (9.0, 0.5));
    assert_eq!((p("on").default, p("on").min, p("on").max), (1.0, 0.0, 1.0));
    assert_eq!((p("centre_x").default, p("centre_x").max), (8.0, 32.0));
    assert_eq!((p("centre_y").default, p("centre_y").max), (4.0, 16.0));
    assert_eq!(p("tint_g").default, 0.5);
    let isf = out.isf.as_ref().unwrap();
    assert_eq!(isf.pass_index, 1);
    let tint = &isf.inputs.iter().find(|(n, _)| n == "tint").unwrap().1;
    assert_eq!(tint.len(), 4);
    assert_eq!(scene.params[tint[0]].name, "tint_r");
}

#[test]
fn isf_pass_mistakes_are_located() {
    let dir = tempfile::tempdir().unwrap();
    // An image bound to a name nothing produces, and a key that is no image of the file.
    let path = write_scene(
        dir.path(),
        FEEDBACK_FS,
        "images = { inputImage = \"nowhere\", decay = \"source\" }",
    );
    let e = Scene::read(&path).unwrap_err().to_string();
    assert!(e.contains("scene.toml:17:"), "{e}");
    assert!(e.contains("reads `nowhere`, which names no pass"), "{e}");
    assert!(e.contains("`decay` is not an image input"), "{e}");
    // A bad size expression points into the .fs file.
    let bad = FEEDBACK_FS.replace("$WIDTH/2", "$WIDTH/$nothing");
    let e = Scene::read(&write_scene(dir.path(), &bad, ""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("effect.fs:"), "{e}");
    // A first pass has nothing before it to read.
    let lone = dir.path().join("lone.toml");
    std::fs::write(
        &lone,
        "[scene]\nname = \"x\"\n[[pass]]\nname = \"fx\"\nisf = \"effect.fs\"\n",
    )
    .unwrap();
    let e = Scene::read(&lone).unwrap_err().to_string();
    assert!(
        e.contains("image input `inputImage`") && e.contains("reads nothing"),
        "{e}"
    );
}

#[test]
fn an_isf_scene_renders_its_passes_and_follows_its_params() {
    let Some(gpu) = gpu("an_isf_scene_renders_its_passes_and_follows_its_params") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = write_scene(dir.path(), FEEDBACK_FS, "");
    let frames = render_all(&gpu, &path, [32, 16], 3, &[]);
    let last = frames.last().unwrap();
    // The source's gradient, through the trail, tinted (1, 0.5, 0.25): red follows x,
    // green y (halved), blue 0.5 (quartered). Rows are top first; ISF's y is up, and the
    // wrapper's flips cancel: the image is not upside down.
    let [r_left, ..] = last.pixel(2, 8);
    let [r_right, ..] = last.pixel(29, 8);
    assert!(
        r_right > r_left + 150,
        "red follows x: {r_left} .. {r_right}"
    );
    let [_, g_top, b, _] = last.pixel(16, 1);
    let [_, g_bottom, _, _] = last.pixel(16, 14);
    assert!(
        g_bottom > g_top + 60,
        "green follows y: {g_top} .. {g_bottom}"
    );
    assert!(g_bottom < 140, "green is tinted by half: {g_bottom}");
    assert!((i32::from(b) - 32).abs() <= 4, "blue 0.5 * 0.25: {b}");
    // `--set on=0` turns the tint off: the bool reaches the shader.
    let plain = render_all(&gpu, &path, [32, 16], 3, &["on=0"]);
    let [_, _, b, _] = plain.last().unwrap().pixel(16, 1);
    assert!((i32::from(b) - 128).abs() <= 4, "blue untinted: {b}");
}

#[test]
fn shader_errors_in_an_isf_file_point_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let broken = FEEDBACK_FS.replace("old * decay", "old * missing_name");
    let path = write_scene(dir.path(), &broken, "");
    let scene = Scene::read(&path).unwrap();
    let errors: Vec<String> = scene
        .passes
        .iter()
        .filter_map(|p| hypna::render::shader::load_pass_shader(&scene, p).err())
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors.len(), 2, "both passes of the file: {errors:?}");
    let line = FEEDBACK_FS
        .lines()
        .position(|l| l.contains("old * decay"))
        .unwrap()
        + 1;
    let col = FEEDBACK_FS
        .lines()
        .nth(line - 1)
        .unwrap()
        .find("decay")
        .unwrap()
        + 1;
    assert!(
        errors[0].contains(&format!("effect.fs:{line}:{col}")),
        "{}",
        errors[0]
    );
}

/// Files whose frames are flat with their default inputs, as in any host: Circle Trails
/// draws the trail of its `pointInput`, which stands still until moved; the others draw the
/// audio input, silent here (`isf_and_shadertoy_audio_inputs_read_the_audio_input` plays them a tone).
const FLAT_WITH_DEFAULTS: [&str; 4] = [
    "audio.fs",
    "Circle Trails.fs",
    "FFT Spectrogram.fs",
    "Radial Spectrogram.fs",
];

/// The largest standard deviation of the R, G or B channel over the pixels (0..255); the
/// judgement of `examples/isf_render.rs`: above 2 is non-flat.
fn channel_std_max(rgba: &[u8]) -> f64 {
    let n = (rgba.len() / 4).max(1) as f64;
    (0..3)
        .map(|c| {
            let values = rgba.chunks_exact(4).map(|p| f64::from(p[c]));
            let mean = values.clone().sum::<f64>() / n;
            (values.map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
        })
        .fold(0.0, f64::max)
}

#[test]
fn spec_files_and_the_collection_sample_render_non_flat() {
    // Thirty renders in a row: alone, so the window and timing tests beside it keep their
    // timings on a loaded machine.
    common::take_turn(common::Turn::Alone);
    let gpu = match hypna::render::context::Gpu::new_headless() {
        Ok(gpu) => gpu,
        Err(e) => {
            assert!(
                !common::required(),
                "HYPNA_REQUIRE_GPU=1 but no GPU adapter: {e}"
            );
            eprintln!(
                "SKIPPED spec_files_and_the_collection_sample_render_non_flat: no GPU adapter ({e})"
            );
            return;
        }
    };
    // The spec files, the collection sample, and the collection's files hypna ships.
    let shipped = common::root().join("shaders/isf");
    let mut files: Vec<PathBuf> = [
        data("isf"),
        data("isf-files"),
        shipped.clone(),
        shipped.join("transitions"),
    ]
    .iter()
    .flat_map(|d| std::fs::read_dir(d).unwrap())
    .map(|e| e.unwrap().path())
    .filter(|p| p.extension().is_some_and(|x| x == "fs"))
    .collect();
    files.sort();
    let mut failed = Vec::new();
    let mut flat = Vec::new();
    let mut rendered = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Err(e) = Scene::read(path) {
            failed.push((name, e.to_string()));
            continue;
        }
        let frames = render_all(&gpu, path, [96, 54], 10, &[]);
        rendered += 1;
        if channel_std_max(&frames.last().unwrap().rgba) <= 2.0 {
            flat.push(name);
        }
    }
    // Night Vision among them: its IMPORTED noise image loads.
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(
        files.iter().any(|p| p.ends_with("Night Vision.fs")),
        "the sample has a file with an IMPORTED image"
    );
    assert!(rendered >= 30, "{rendered} files rendered");
    assert_eq!(flat, FLAT_WITH_DEFAULTS, "flat frames");
}

const RED_FS: &str = "/*{\n  \"ISFVSN\": \"2\",\n  \"INPUTS\": [{\"NAME\": \"level\", \"TYPE\": \"float\", \"DEFAULT\": 1.0}]\n}*/\nvoid main() {\n    gl_FragColor = vec4(level, 0.0, 0.0, 1.0);\n}\n";

#[test]
fn a_bare_isf_file_hot_reloads_and_keeps_the_last_good_version() {
    use hypna::runtime::{RenderSettings, Runtime, RuntimeOptions, render_frames};
    use hypna::show::reload::{HotReload, ReloadEvent};
    use std::time::{Duration, Instant};

    let Some(gpu) = gpu("a_bare_isf_file_hot_reloads_and_keeps_the_last_good_version") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fs = dir.path().join("red.fs");
    std::fs::write(&fs, RED_FS).unwrap();
    let options = RuntimeOptions {
        size: Some([16, 8]),
        ..RuntimeOptions::default()
    };
    let mut runtime = Runtime::load(&gpu, &fs, &options).unwrap();
    let mut reload = HotReload::new(&fs, &runtime);
    let last_pixel = |runtime: &mut Runtime| {
        let mut last = Vec::new();
        let settings = RenderSettings {
            frames: 1,
            fps: 30.0,
            readback_depth: 2,
        };
        render_frames(&gpu, runtime, &settings, |img| {
            last = img.rgba;
            Ok::<(), ()>(())
        })
        .unwrap();
        [last[0], last[1], last[2]]
    };
    assert_eq!(last_pixel(&mut runtime), [255, 0, 0]);
    let wait = |runtime: &mut Runtime, reload: &mut HotReload| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            match reload.poll(&gpu, runtime) {
                ReloadEvent::Idle => std::thread::sleep(Duration::from_millis(20)),
                event => return event,
            }
        }
        panic!("no reload within 20 s");
    };
    // A GLSL error: located in the .fs, the red version keeps playing.
    common::save(&fs, RED_FS.replace("0.0, 0.0, 1.0", "0.0, nope, 1.0"));
    assert_eq!(wait(&mut runtime, &mut reload), ReloadEvent::Failed);
    let e = reload.errors()[0].to_string();
    assert!(e.contains("red.fs:6:"), "{e}");
    assert_eq!(last_pixel(&mut runtime), [255, 0, 0]);
    // Fixed, and blue now.
    common::save(
        &fs,
        RED_FS.replace("vec4(level, 0.0, 0.0", "vec4(0.0, 0.0, level"),
    );
    assert_eq!(wait(&mut runtime, &mut reload), ReloadEvent::Applied);
    assert_eq!(last_pixel(&mut runtime), [0, 0, 255]);
}

#[test]
fn shadertoy_passes_run_the_buffer_pattern_with_mouse_from_params() {
    let Some(gpu) = gpu("shadertoy_passes_run_the_buffer_pattern_with_mouse_from_params") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "buffer_a.glsl",
        "image.glsl",
        "common.glsl",
        "uniforms.glsl",
    ] {
        std::fs::copy(data("shadertoy").join(f), dir.path().join(f)).unwrap();
    }
    // fragCoord has y up, as on Shadertoy.
    std::fs::write(
        dir.path().join("up.glsl"),
        "void mainImage(out vec4 c, in vec2 p) { c = vec4(p.y / iResolution.y, 0.0, 0.0, 0.5); }\n",
    )
    .unwrap();
    let path = dir.path().join("toy.toml");
    std::fs::write(
        &path,
        "[scene]\nname = \"toy\"\nsize = [48, 27]\n\n\
         [params.mx]\ndefault = 0.0\nrange = [0.0, 48.0]\n[params.my]\ndefault = 13.0\nrange = [0.0, 27.0]\n\
         [params.cx]\ndefault = 0.0\nrange = [0.0, 48.0]\n[params.cy]\ndefault = 0.0\nrange = [0.0, 27.0]\n\n\
         [[pass]]\nname = \"up\"\nshadertoy = \"up.glsl\"\n\n\
         [[pass]]\nname = \"rings\"\nshadertoy = \"uniforms.glsl\"\nmouse = [\"mx\", \"my\", \"cx\", \"cy\"]\n\n\
         [[pass]]\nname = \"buffer_a\"\nshadertoy = \"buffer_a.glsl\"\ninputs = [\"buffer_a\"]\n\n\
         [[pass]]\nname = \"image\"\nshadertoy = \"image.glsl\"\ncommon = \"common.glsl\"\ninputs = [\"buffer_a\", \"up\"]\n",
    )
    .unwrap();
    let scene = Scene::read(&path).unwrap();
    assert_eq!(
        scene.passes[1].shadertoy.as_ref().unwrap().mouse,
        Some([0, 1, 2, 3])
    );
    let frames = render_all(&gpu, &path, [48, 27], 30, &[]);
    // Buffer A reads itself: the dot leaves a trail that grows over the frames.
    let lit = |f: &common::Frame| f.rgba.chunks(4).filter(|p| p[0] > 60).count();
    let (early, late) = (lit(&frames[2]), lit(&frames[29]));
    assert!(
        late > early + 20,
        "the trail grows: {early} -> {late} lit pixels"
    );
    // The output pass is opaque, as Shadertoy shows its Image pass.
    assert!(frames[29].rgba.chunks(4).all(|p| p[3] == 255));
    // Rendering `up` alone (the scene cut after it): bright at the top, dark at the bottom.
    let up_only = dir.path().join("up.toml");
    std::fs::write(
        &up_only,
        "[scene]\nname = \"up\"\nsize = [8, 8]\n[[pass]]\nname = \"up\"\nshadertoy = \"up.glsl\"\n",
    )
    .unwrap();
    let up = render_all(&gpu, &up_only, [8, 8], 1, &[]);
    let (top, bottom) = (up[0].pixel(4, 0)[0], up[0].pixel(4, 7)[0]);
    assert!(top > 200 && bottom < 40, "y up: top {top}, bottom {bottom}");
    // iMouse follows its params.
    let rings = dir.path().join("rings.toml");
    std::fs::write(
        &rings,
        std::fs::read_to_string(&path)
            .unwrap()
            .split("[[pass]]\nname = \"buffer_a\"")
            .next()
            .unwrap()
            .replace("[[pass]]\nname = \"up\"\nshadertoy = \"up.glsl\"\n\n", ""),
    )
    .unwrap();
    let left = render_all(&gpu, &rings, [48, 27], 1, &["mx=0"]);
    let right = render_all(&gpu, &rings, [48, 27], 1, &["mx=48"]);
    let (mean, _) = common::compare(&left[0], &right[0]);
    assert!(mean > 2.0, "moving iMouse moves the ring: {mean}");
}

/// Red: the loudest spectrum texel, green: the waveform's largest swing from 0.5.
const AUDIO_FS: &str = r#"/*{
    "ISFVSN": "2",
    "INPUTS": [
        {"NAME": "wave", "TYPE": "audio"},
        {"NAME": "fft", "TYPE": "audioFFT"}
    ]
}*/
void main() {
    float spectrum = 0.0;
    float swing = 0.0;
    for (int i = 0; i < 128; i++) {
        vec2 at = vec2((float(i) + 0.5) / 128.0, 0.5);
        spectrum = max(spectrum, IMG_NORM_PIXEL(fft, at).r);
        swing = max(swing, abs(IMG_NORM_PIXEL(wave, at).r - 0.5) * 2.0);
    }
    gl_FragColor = vec4(spectrum, swing, IMG_SIZE(wave).x / 1024.0, 1.0);
}
"#;

/// Shadertoy's music input as `iChannel0` (`inputs = ["audio"]`): red the loudest spectrum
/// texel (the row at y = 0.25, and `texelFetch` row 0), green the waveform's largest swing
/// (y = 0.75), blue the channel's height / 4.
const SHADERTOY_AUDIO: &str = "void mainImage(out vec4 fragColor, in vec2 fragCoord) {
    float spectrum = 0.0;
    float fetched = 0.0;
    float swing = 0.0;
    for (int i = 0; i < 128; i++) {
        float x = (float(i) + 0.5) / 128.0;
        spectrum = max(spectrum, texture(iChannel0, vec2(x, 0.25)).x);
        fetched = max(fetched, texelFetch(iChannel0, ivec2(i * 4, 0), 0).x);
        swing = max(swing, abs(texture(iChannel0, vec2(x, 0.75)).x - 0.5) * 2.0);
    }
    fragColor = vec4(min(spectrum, fetched), swing, iChannelResolution[0].y / 4.0, 1.0);
}
";

#[test]
fn isf_and_shadertoy_audio_inputs_read_the_audio_input() {
    use hypna::runtime::{AudioMode, RenderSettings, Runtime, RuntimeOptions, render_frames};
    let Some(gpu) = gpu("isf_and_shadertoy_audio_inputs_read_the_audio_input") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let fs = dir.path().join("audio.fs");
    std::fs::write(&fs, AUDIO_FS).unwrap();
    std::fs::write(dir.path().join("audio.glsl"), SHADERTOY_AUDIO).unwrap();
    let toy = dir.path().join("toy.toml");
    std::fs::write(
        &toy,
        "[scene]\nname = \"toy\"\n\n[[pass]]\nname = \"image\"\nshadertoy = \"audio.glsl\"\ninputs = [\"audio\"]\n",
    )
    .unwrap();
    // Half a second of a loud 440 Hz tone.
    let wav = dir.path().join("tone.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for i in 0..24_000 {
        let t = f64::from(i) / 48_000.0;
        w.write_sample((0.8 * (std::f64::consts::TAU * 440.0 * t).sin() * 32_000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    let last = |path: &Path, audio: AudioMode| {
        let options = RuntimeOptions {
            size: Some([8, 8]),
            audio,
            ..RuntimeOptions::default()
        };
        let mut runtime = Runtime::load(&gpu, path, &options).unwrap();
        let settings = RenderSettings {
            frames: 10,
            fps: 30.0,
            readback_depth: 2,
        };
        let mut pixel = [0u8; 4];
        render_frames(&gpu, &mut runtime, &settings, |img| {
            pixel.copy_from_slice(&img.rgba[..4]);
            Ok::<(), ()>(())
        })
        .unwrap();
        pixel
    };
    let tone = || AudioMode::Offline {
        file: Some(wav.clone()),
        fps: 30.0,
    };
    let silent = last(&fs, AudioMode::Off);
    assert!(silent[0] <= 1 && silent[1] <= 1, "silence: {silent:?}");
    // 512 samples wide: 0.5 in blue.
    assert!((i32::from(silent[2]) - 128).abs() <= 1, "{silent:?}");
    let loud = last(&fs, tone());
    assert!(loud[0] >= 60, "the spectrum reaches audioFFT: {loud:?}");
    assert!(loud[1] >= 100, "the waveform reaches audio: {loud:?}");
    // Shadertoy's layout: the spectrum at y = 0.25 (and texelFetch row 0), the waveform
    // at y = 0.75, two rows.
    let silent = last(&toy, AudioMode::Off);
    assert!(silent[0] <= 1 && silent[1] <= 1, "silence: {silent:?}");
    assert!(
        (i32::from(silent[2]) - 128).abs() <= 1,
        "two rows: {silent:?}"
    );
    let loud = last(&toy, tone());
    assert!(
        loud[0] >= 60,
        "the spectrum reaches iChannel0's row 0: {loud:?}"
    );
    assert!(
        loud[1] >= 100,
        "the waveform reaches iChannel0's row 1: {loud:?}"
    );
}

/// Writes `image.png` (`width` x `height`, the pixels row by row, top first) and `effect.fs`
/// drawing the imported image over the whole frame; returns the `.fs`.
fn imported_scene(dir: &Path, size: [u32; 2], pixels: &[[u8; 4]]) -> PathBuf {
    let rgba: Vec<u8> = pixels.iter().flatten().copied().collect();
    image::save_buffer(
        dir.join("image.png"),
        &rgba,
        size[0],
        size[1],
        image::ExtendedColorType::Rgba8,
    )
    .unwrap();
    let fs = dir.join("effect.fs");
    std::fs::write(
        &fs,
        "/*{\n  \"ISFVSN\": \"2\",\n  \"IMPORTED\": {\n    \"tex\": {\"PATH\": \"image.png\"}\n  }\n}*/\n\
         void main() {\n    gl_FragColor = IMG_NORM_PIXEL(tex, isf_FragNormCoord);\n}\n",
    )
    .unwrap();
    fs
}

/// IMPORTED images load from beside the `.fs` and are drawn the right way round: left is
/// left, the image's top row at the top.
#[test]
fn imported_images_are_bound_the_right_way_round() {
    let Some(gpu) = gpu("imported_images_are_bound_the_right_way_round") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let red = [255, 0, 0, 255];
    let green = [0, 255, 0, 255];
    let blue = [0, 0, 255, 255];
    let fs = imported_scene(dir.path(), [2, 1], &[red, green]);
    let frames = render_all(&gpu, &fs, [32, 16], 1, &[]);
    let f = &frames[0];
    assert_eq!(f.pixel(1, 8), red, "left");
    assert_eq!(f.pixel(30, 8), green, "right");
    let fs = imported_scene(dir.path(), [1, 2], &[red, blue]);
    let frames = render_all(&gpu, &fs, [32, 16], 1, &[]);
    let f = &frames[0];
    assert_eq!(f.pixel(16, 0), red, "the image's top row at the top");
    assert_eq!(f.pixel(16, 15), blue, "its bottom row at the bottom");
}

/// A missing or broken IMPORTED image is an error at its entry in the header, naming the
/// import and the file looked for.
#[test]
fn imported_image_errors_are_located_at_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let fs = imported_scene(dir.path(), [1, 1], &[[0, 0, 0, 255]]);
    std::fs::remove_file(dir.path().join("image.png")).unwrap();
    let e = Scene::read(&fs)
        .expect_err("the image is missing")
        .to_string();
    // The entry `"tex": {...}` is on line 4 of the header.
    assert!(
        e.contains(&format!("{}:4:", fs.display()))
            && e.contains("IMPORTED image `tex`")
            && e.contains("image.png` not found"),
        "{e}"
    );
    std::fs::write(dir.path().join("image.png"), b"not a png").unwrap();
    let e = Scene::read(&fs)
        .expect_err("the image is broken")
        .to_string();
    assert!(
        e.contains(&format!("{}:4:", fs.display())) && e.contains("is not an image"),
        "{e}"
    );
}
