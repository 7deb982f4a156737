//! Playlist timing with scenes loading on the loader thread, as in a live show (issue #13,
//! item 8): an entry's duration counts from when it is on screen, so a slow load is not
//! skipped, and a flood of `next` keeps switching instead of stalling. Show time is the
//! fixed-step frame time; loads take wall time, so the frames they land on vary from run to
//! run, and the checks are about order and spacing, not exact frames.

use crate::common;
use crate::show::{FPS, SIZE, solid_scene};

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hypna::clock::FrameTime;
use hypna::osc::SceneRequest;
use hypna::render::context::Gpu;
use hypna::runtime::{Runtime, RuntimeOptions, Submit};
use hypna::show::{Show, ShowEvent};

/// Loads on the loader thread, as `hypna run` does.
fn live_options() -> RuntimeOptions {
    RuntimeOptions {
        size: Some(SIZE),
        sync_models: false,
        ..RuntimeOptions::default()
    }
}

/// `<name>.toml`: a solid `rgb` scene of `passes` passes, each a pipeline to build and warm:
/// slow to load.
fn slow_scene(dir: &Path, name: &str, rgb: [f32; 3], passes: usize) -> PathBuf {
    solid_scene(dir, name, rgb);
    let mut text = format!("[scene]\nname = \"{name}\"\nsize = [64, 36]\n");
    for i in 0..passes {
        // Each shader differs, so no pipeline is shared.
        let shader = format!("{name}_{i}.wgsl");
        std::fs::write(
            dir.join(&shader),
            format!(
                "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {{\n    \
                 let k = {i}.0 * 0.0;\n    \
                 return vec4<f32>({:?} + k, {:?}, {:?}, 1.0);\n}}\n",
                rgb[0], rgb[1], rgb[2]
            ),
        )
        .unwrap();
        write!(text, "\n[[pass]]\nname = \"p{i}\"\nshader = \"{shader}\"\n").unwrap();
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn open(gpu: &Gpu, path: &Path, text: &str) -> (Show, Runtime) {
    std::fs::write(path, text).unwrap();
    Show::open(gpu, path, &live_options()).unwrap()
}

/// Plays frames at fixed show-time steps of `1 / FPS` (a few milliseconds of wall time each,
/// while loads take their own wall time) until `done(switches so far)`, or fails after a
/// minute; `script` runs before each frame. Returns the switches with their frames.
fn play_until(
    gpu: &Gpu,
    dir: &Path,
    show: &mut Show,
    runtime: &mut Runtime,
    mut script: impl FnMut(&mut Runtime),
    done: impl Fn(&[(u64, String)]) -> bool,
) -> Vec<(u64, String)> {
    let deadline = Instant::now() + Duration::from_mins(1);
    let mut events = Vec::new();
    for frame in 0.. {
        let t = FrameTime {
            time_secs: frame as f64 / FPS,
            dt_secs: (1.0 / FPS) as f32,
            frame,
        };
        script(runtime);
        let event = show.before_frame(gpu, runtime, t);
        if event != ShowEvent::Idle {
            events.push((frame, event));
        }
        runtime.frame(gpu, t, "test.frame", Submit::WaitForGpu, |_, _| {});
        let landed = switches(dir, &events);
        if done(&landed) {
            return landed;
        }
        assert!(
            Instant::now() < deadline,
            "a minute of frames: switches {landed:?}"
        );
        std::thread::sleep(Duration::from_millis(3));
    }
    unreachable!()
}

/// The scene names of the switches, with their frames.
fn switches(dir: &Path, events: &[(u64, ShowEvent)]) -> Vec<(u64, String)> {
    events
        .iter()
        .filter_map(|(frame, e)| match e {
            ShowEvent::Switched(path) => Some((
                *frame,
                path.strip_prefix(dir)
                    .unwrap_or(path)
                    .to_string_lossy()
                    .trim_end_matches(".toml")
                    .to_string(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_slow_entry_shows_for_its_whole_duration() {
    let test = "a_slow_entry_shows_for_its_whole_duration";
    let Some(gpu) = common::gpu(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    solid_scene(d, "red", [1.0, 0.0, 0.0]);
    solid_scene(d, "green", [0.0, 1.0, 0.0]);
    slow_scene(d, "blue", [0.0, 0.0, 1.0], 24);
    // 0.1 s entries: 3 frames, far less than the slow entry takes to load.
    let (mut show, mut runtime) = open(
        &gpu,
        &d.join("list.toml"),
        "[playlist]\ntransition = { kind = \"cut\" }\n\n\
         [[entry]]\nscene = \"red.toml\"\nduration = 0.1\n\n\
         [[entry]]\nscene = \"blue.toml\"\nduration = 0.1\n\n\
         [[entry]]\nscene = \"green.toml\"\nduration = 0.1\n",
    );
    let landed = play_until(&gpu, d, &mut show, &mut runtime, |_| {}, |l| l.len() >= 4);
    let duration_frames = (0.1 * FPS).round() as u64;
    // Every entry in turn, none skipped (red was on screen from frame 0).
    let order = ["blue", "green", "red"];
    for (i, (_, name)) in landed.iter().enumerate() {
        assert_eq!(name, order[i % 3], "switches: {landed:?}");
    }
    // The slow load really was slower than an entry's duration: blue was asked for when red's
    // time was up (red is on screen from frame 0) and landed much later.
    assert!(
        landed[0].0 > 2 * duration_frames,
        "the slow scene loaded within {} frames: not slow enough to test this ({landed:?})",
        landed[0].0
    );
    // Each entry is on screen for its whole duration, counted from when it landed.
    let mut on_screen_from = 0;
    for (frame, name) in &landed {
        assert!(
            frame - on_screen_from >= duration_frames,
            "`{name}` switched in at frame {frame}, {} frames after the entry before it was on \
             screen ({duration_frames} asked): {landed:?}",
            frame - on_screen_from
        );
        on_screen_from = *frame;
    }
}

#[test]
fn a_flood_of_next_keeps_switching() {
    let test = "a_flood_of_next_keeps_switching";
    let Some(gpu) = common::gpu(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    solid_scene(d, "red", [1.0, 0.0, 0.0]);
    solid_scene(d, "green", [0.0, 1.0, 0.0]);
    slow_scene(d, "blue", [0.0, 0.0, 1.0], 8);
    let (mut show, mut runtime) = open(
        &gpu,
        &d.join("cues.toml"),
        "[playlist]\ntransition = { kind = \"cut\" }\n\n\
         [[entry]]\nscene = \"red.toml\"\ncue = true\n\n\
         [[entry]]\nscene = \"blue.toml\"\ncue = true\n\n\
         [[entry]]\nscene = \"green.toml\"\ncue = true\n",
    );
    // `next` before every frame, as from an OSC flood (the runtime keeps the newest request of
    // a frame): every load finishes with a newer request waiting. The show must keep
    // switching as scenes load (within a minute, or `play_until` fails).
    let landed = play_until(
        &gpu,
        d,
        &mut show,
        &mut runtime,
        |runtime| runtime.request_scene(SceneRequest::Next),
        |l| l.len() >= 4,
    );
    assert_eq!(landed.len(), 4, "{landed:?}");
    assert_eq!(show.failures, 0);
}
