//! Soak: memory stays bounded over a long headless run of a playlist that switches scenes
//! with crossfades every 2 s of scene time (the CPPN model scene included when ONNX Runtime
//! is there), with a hot reload of a shared shader every 1,000 frames.
//!
//! Resident memory depends on which scene is on screen (the model scene's ONNX Runtime
//! session adds ~40 MiB while it plays), so it is read at the same point of every playlist
//! cycle: 1.5 s into each entry, its crossfade over. Per entry, the floor (lowest reading) of
//! the first readings after a warm-up (driver caches and the first build of every scene
//! settle) and of the last readings may differ by less than [`MAX_GROWTH_BYTES`]. The test
//! itself allocates nothing per frame (the sink drops each image, counters are plain
//! integers, samples go into a buffer reserved up front), so what it measures is hypna.
//!
//! What it runs is what a show runs, memory janitor included (`hypna::ops::memory`, nudged
//! after every switch as `hypna run` and `hypna render` do). It runs alone in a child
//! process of the test binary (`common::alone_and_exclusive`), so no other test allocates in
//! it, and no test that renders runs meanwhile.
//! Before the janitor, freed memory that glibc kept in an arena made single readings jump by
//! 20-43 MiB, and in 2 of 9 runs an entry's floor stepped up 24-27 MiB and stayed there.
//!
//! `sync_models: true` loads the next scene in line: every switch lands on time (a loader
//! thread slower than the frame loop would have newer requests replace ones still loading,
//! and fewer switches happen). Hot reloads still run on their own thread.

use crate::common;
use crate::infer_support;

use std::path::Path;
use std::time::{Duration, Instant};

use hypna::ops::Janitor;
use hypna::ops::health::resident_memory_bytes;
use hypna::render::context::Gpu;
use hypna::runtime::{RenderSettings, Runtime, RuntimeOptions, render_frames_with};
use hypna::show::reload::{HotReload, ReloadEvent};
use hypna::show::{Show, ShowEvent};

/// Frames rendered (30 fps of scene time: 11 minutes, 333 switches). `HYPNA_SOAK_FRAMES`
/// sets another count for a longer run by hand.
const FRAMES: u64 = 20_000;
/// Resident memory is compared from the first reading after this frame on.
const WARM_UP_FRAMES: u64 = 3_000;
/// Frames each entry plays (2 s at 30 fps).
const ENTRY_FRAMES: u64 = 60;
/// Where in its entry resident memory is read: 1.5 s in, the 1 s crossfade over.
const READ_AT_FRAME: u64 = 45;
/// A hot reload every this many frames.
const RELOAD_EVERY: u64 = 1_000;
/// Allowed growth of resident memory between the warm-up and the end.
const MAX_GROWTH_BYTES: i64 = 5 * 1024 * 1024;
/// Readings whose lowest stands for the start and for the end of the run (15 readings are
/// 2,700 frames with the model scene, 1,800 without).
const FLOOR_OF: usize = 15;
const MIB: f64 = 1024.0 * 1024.0;

/// Feedback trails of a moving dot.
const TRAILS: &str = "@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let prev = textureSample(tex_main, samp_main, in.uv).rgb;
    let centre = vec2<f32>(0.5 + 0.3 * sin(globals.time * 2.0), 0.5 + 0.3 * cos(globals.time));
    let dot = 1.0 - step(0.15, distance(in.uv, centre));
    return vec4<f32>(max(prev * 0.95, vec3<f32>(dot, dot * 0.5, 0.2)), 1.0);
}
";

/// Scrolling bars.
const BARS: &str = "@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    return vec4<f32>(fract(in.uv.x * 4.0 + globals.time), 0.3, fract(in.uv.y * 3.0 - globals.time), 1.0);
}
";

/// The CPPN's painting.
const PAINTED: &str = "@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    return vec4<f32>(textureSample(tex_painted, samp_painted, in.uv).rgb, 1.0);
}
";

/// The two versions of the output pass every scene shares (the one hot reloaded).
const POST: [&str; 2] = [
    "@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    return vec4<f32>(textureSample(tex_main, samp_main, in.uv).rgb, 1.0);
}
",
    "@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    return vec4<f32>(textureSample(tex_main, samp_main, in.uv).bgr * 0.9, 1.0);
}
",
];

/// A scene `name` whose pass `main` runs `main_wgsl` (reading `main_inputs`), then the
/// shared `post.wgsl`.
fn scene(dir: &Path, name: &str, main_wgsl: &str, main_inputs: &str, extra: &str) {
    std::fs::write(dir.join(format!("{name}.wgsl")), main_wgsl).unwrap();
    std::fs::write(
        dir.join(format!("{name}.toml")),
        format!(
            "[scene]\nname = \"{name}\"\nsize = [32, 18]\n{extra}\n\
             [[pass]]\nname = \"main\"\nshader = \"{name}.wgsl\"\ninputs = {main_inputs}\n\n\
             [[pass]]\nname = \"out\"\nshader = \"post.wgsl\"\ninputs = [\"main\"]\n"
        ),
    )
    .unwrap();
}

/// Writes the scenes and the playlist; returns the playlist's path.
fn write_show(dir: &Path, with_model: bool) -> std::path::PathBuf {
    std::fs::write(dir.join("post.wgsl"), POST[0]).unwrap();
    scene(dir, "trails", TRAILS, "[\"main\"]", "");
    scene(dir, "bars", BARS, "[]", "");
    let mut playlist = String::from(
        "[playlist]\nname = \"soak\"\ntransition = { kind = \"crossfade\", secs = 1.0 }\n\n\
         [[entry]]\nscene = \"trails.toml\"\nduration = \"2s\"\n\n\
         [[entry]]\nscene = \"bars.toml\"\nduration = \"2s\"\n",
    );
    if with_model {
        let model = common::root().join("models/cppn.onnx");
        let extra = format!(
            "\n[[model]]\nname = \"cppn\"\nfile = \"{}\"\nmax_rate_hz = 5.0\n\n\
             [model.inputs]\nlatent = {{ latent = {{ dim = 8, seed = 3, speed = 0.2 }} }}\n\
             time = {{ time = true }}\n\n\
             [model.outputs]\nimage = {{ texture = \"painted\" }}\n",
            model.display()
        );
        scene(dir, "model", PAINTED, "[\"painted\"]", &extra);
        playlist.push_str("\n[[entry]]\nscene = \"model.toml\"\nduration = \"2s\"\n");
    }
    let path = dir.join("soak.toml");
    std::fs::write(&path, playlist).unwrap();
    path
}

/// Polls (the frame loop stalled, as in a debugger) until the reload lands.
fn wait_for_reload(reload: &mut HotReload, gpu: &Gpu, runtime: &mut Runtime) -> ReloadEvent {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match reload.poll(gpu, runtime) {
            ReloadEvent::Idle => std::thread::sleep(Duration::from_millis(5)),
            event => return event,
        }
    }
    panic!("expected the shader save to be reloaded within 20 s");
}

fn floor(values: &[i64]) -> i64 {
    values.iter().copied().min().expect("at least one reading")
}

fn rss() -> i64 {
    let bytes = resident_memory_bytes().expect("resident memory is readable on Linux");
    i64::try_from(bytes).expect("resident memory fits i64")
}

#[test]
fn memory_stays_bounded_over_20k_frames_of_switches_and_reloads() {
    let test = "memory_stays_bounded_over_20k_frames_of_switches_and_reloads";
    if !common::alone_and_exclusive(&format!("soak::{test}")) {
        return;
    }
    let Some(gpu) = common::gpu(test) else {
        return;
    };
    let frames: u64 = std::env::var("HYPNA_SOAK_FRAMES").ok().map_or(FRAMES, |v| {
        v.parse().expect("HYPNA_SOAK_FRAMES is a frame count")
    });
    let with_model = infer_support::ort(test).is_some();
    if !with_model {
        eprintln!("{test}: no ONNX Runtime, the playlist runs without its model scene");
    }
    let dir = tempfile::tempdir().unwrap();
    let playlist = write_show(dir.path(), with_model);
    let post = dir.path().join("post.wgsl");
    let options = RuntimeOptions {
        size: Some([32, 18]),
        sync_models: true,
        ..RuntimeOptions::default()
    };
    let mut janitor = Janitor::start();
    let (mut show, mut runtime) =
        Show::open(&gpu, &playlist, &options).unwrap_or_else(|e| panic!("the soak opens: {e}"));
    let mut reload = HotReload::new(show.current_path(), &runtime);

    let mut saves = 0u64;
    let mut model_frames = 0u64;
    let entries = if with_model { 3 } else { 2 };
    let cycle = entries * ENTRY_FRAMES;
    // (frame, entry index, resident bytes): one reading per entry shown.
    let mut samples: Vec<(u64, u64, i64)> =
        Vec::with_capacity((frames / ENTRY_FRAMES + 1) as usize);
    let mut images = 0u64;
    let settings = RenderSettings {
        frames,
        fps: 30.0,
        readback_depth: 3,
    };
    let started = Instant::now();
    render_frames_with(
        &gpu,
        &mut runtime,
        &settings,
        |gpu, runtime, t| {
            match show.before_frame(gpu, runtime, t) {
                ShowEvent::Switched(path) => reload.retarget(&path, runtime),
                ShowEvent::Failed(path) => panic!("expected every scene to load: {path:?}"),
                ShowEvent::Idle => {}
            }
            assert_ne!(
                reload.poll(gpu, runtime),
                ReloadEvent::Failed,
                "expected every reload to apply: {:?}",
                reload.errors()
            );
            janitor.after_frame(runtime, &show);
            if !runtime.nodes().is_empty() {
                model_frames += 1;
            }
            if t.frame > 0 && t.frame % RELOAD_EVERY == 0 {
                saves += 1;
                common::save(&post, POST[(saves % 2) as usize]);
                assert_eq!(
                    wait_for_reload(&mut reload, gpu, runtime),
                    ReloadEvent::Applied,
                    "expected the save at frame {} to reload: {:?}",
                    t.frame,
                    reload.errors()
                );
            }
            if t.frame % ENTRY_FRAMES == READ_AT_FRAME {
                samples.push((t.frame, (t.frame % cycle) / ENTRY_FRAMES, rss()));
            }
        },
        |_image| {
            images += 1;
            Ok::<(), ()>(())
        },
    )
    .unwrap();
    let elapsed = started.elapsed();
    println!(
        "soak: {frames} frames in {:.1} s ({:.2} ms/frame), {} switches, {} reloads, \
         model scene {} ({model_frames} frames with a model)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / frames as f64,
        show.switches,
        reload.applied,
        if with_model { "on" } else { "off" },
    );
    let trims = hypna::ops::memory::stats();
    println!(
        "soak: the memory janitor trimmed {} times ({} gave memory back)",
        trims.trims, trims.released
    );
    // Per entry: the floor (lowest) of the first readings after the warm-up against the floor
    // of the last ones. Readings still vary by up to 4 MiB (an arena's free top below glibc's
    // trim threshold); a leak raises the floor.
    let mut growths = Vec::new();
    for entry in 0..entries {
        let readings: Vec<i64> = samples
            .iter()
            .filter(|(frame, e, _)| *e == entry && *frame >= WARM_UP_FRAMES)
            .map(|(_, _, bytes)| *bytes)
            .collect();
        assert!(
            readings.len() >= 2 * FLOOR_OF,
            "expected at least {} readings of entry {entry} after the warm-up",
            2 * FLOOR_OF
        );
        let first = floor(&readings[..FLOOR_OF]);
        let last = floor(&readings[readings.len() - FLOOR_OF..]);
        let mib = |b: &i64| format!("{:.1}", *b as f64 / MIB);
        println!(
            "soak: entry {entry}: RSS MiB, {} readings after the warm-up: {}",
            readings.len(),
            readings.iter().map(mib).collect::<Vec<_>>().join(" ")
        );
        println!(
            "soak: entry {entry}: lowest of the first {FLOOR_OF} {:.1} MiB, of the last \
             {FLOOR_OF} {:.1} MiB, growth {:+.2} MiB",
            first as f64 / MIB,
            last as f64 / MIB,
            (last - first) as f64 / MIB,
        );
        let quarters: Vec<String> = readings
            .chunks(readings.len().div_ceil(4))
            .map(|q| format!("{:.1}", floor(q) as f64 / MIB))
            .collect();
        println!(
            "soak: entry {entry}: lowest reading per quarter of the run: {} MiB",
            quarters.join(", ")
        );
        growths.push((entry, first, last));
    }

    assert_eq!(images, frames, "expected every frame delivered to the sink");
    // Every 2 s of scene time (frames 60, 120, ..): 333 switches in 20,000 frames.
    assert_eq!(
        show.switches,
        (frames - 1) / 60,
        "expected a switch every 60 frames"
    );
    assert_eq!(show.failures, 0, "expected no failed switch");
    assert!(
        trims.trims > 0,
        "expected the memory janitor to have run after the switches"
    );
    assert_eq!(
        reload.applied, saves,
        "expected one applied reload per save"
    );
    assert!(
        !with_model || model_frames >= frames / 4,
        "expected the model scene on screen for about a third of the frames, got {model_frames}"
    );
    for (entry, first, last) in growths {
        assert!(
            last - first < MAX_GROWTH_BYTES,
            "expected resident memory to grow less than {} MiB after the warm-up, on entry \
             {entry} the lowest of {FLOOR_OF} readings grew {:.2} MiB ({:.1} -> {:.1} MiB)",
            MAX_GROWTH_BYTES as f64 / MIB,
            (last - first) as f64 / MIB,
            first as f64 / MIB,
            last as f64 / MIB,
        );
    }
}
