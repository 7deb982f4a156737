//! The show on a real GPU: playlists written to a temp dir, rendered offline through
//! `render_frames_with` with `Show::before_frame` ahead of each frame. Scenes are solid
//! colours, so every frame says which scene (or which mix of two) is on screen.
//!
//! `sync_models: true` loads the next scene in line, so a switch lands on the frame its
//! entry's time says, and the frame numbers below are exact.

use crate::common;
use crate::infer_support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::Frame;
use hypna::osc::SceneRequest;
use hypna::render::context::Gpu;
use hypna::runtime::{RenderSettings, Runtime, RuntimeOptions, render_frames_with};
use hypna::show::{Show, ShowEvent};
use jiff::civil::{DateTime, date};

const SIZE: [u32; 2] = [64, 36];
const FPS: f64 = 30.0;

const RED: [u8; 3] = [255, 0, 0];
const GREEN: [u8; 3] = [0, 255, 0];
const BLUE: [u8; 3] = [0, 0, 255];
const BLACK: [u8; 3] = [0, 0, 0];

/// Writes `<name>.toml` and `<name>.wgsl`: one pass returning `rgb`.
pub(crate) fn solid_scene(dir: &Path, name: &str, rgb: [f32; 3]) -> PathBuf {
    let [r, g, b] = rgb;
    std::fs::write(
        dir.join(format!("{name}.wgsl")),
        format!(
            "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {{\n    \
             return vec4<f32>({r:?}, {g:?}, {b:?}, 1.0);\n}}\n"
        ),
    )
    .unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "[scene]\nname = \"{name}\"\nsize = [64, 36]\n\n[[pass]]\nname = \"out\"\nshader = \"{name}.wgsl\"\n"
        ),
    )
    .unwrap();
    path
}

/// Red, green and blue scenes in `dir`.
fn rgb_scenes(dir: &Path) {
    solid_scene(dir, "red", [1.0, 0.0, 0.0]);
    solid_scene(dir, "green", [0.0, 1.0, 0.0]);
    solid_scene(dir, "blue", [0.0, 0.0, 1.0]);
}

pub(crate) fn options() -> RuntimeOptions {
    RuntimeOptions {
        size: Some(SIZE),
        sync_models: true,
        ..RuntimeOptions::default()
    }
}

/// Writes a playlist file `name` into `dir` and opens it.
pub(crate) fn open(gpu: &Gpu, dir: &Path, name: &str, text: &str) -> (Show, Runtime) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    Show::open(gpu, &path, &options()).unwrap_or_else(|e| panic!("{name} should open: {e}"))
}

/// Frames and the non-idle show events of one run, by frame number.
pub(crate) struct Run {
    pub(crate) frames: Vec<Frame>,
    pub(crate) events: Vec<(u64, ShowEvent)>,
}

impl Run {
    fn colour(&self, frame: usize) -> [u8; 3] {
        colour(&self.frames[frame])
    }
}

/// Renders `n` frames (frame numbers and time restart at 0) with the show driving the
/// runtime; `script(frame, show, runtime)` runs first in each frame (OSC requests, probes).
pub(crate) fn play(
    gpu: &Gpu,
    show: &mut Show,
    runtime: &mut Runtime,
    n: u64,
    mut script: impl FnMut(u64, &Show, &mut Runtime),
) -> Run {
    let mut events = Vec::new();
    let mut frames = Vec::new();
    let settings = RenderSettings {
        frames: n,
        fps: FPS,
        readback_depth: 2,
    };
    render_frames_with(
        gpu,
        runtime,
        &settings,
        |gpu, runtime, t| {
            script(t.frame, show, runtime);
            let event = show.before_frame(gpu, runtime, t);
            if event != ShowEvent::Idle {
                events.push((t.frame, event));
            }
        },
        |img| {
            frames.push(Frame {
                size: img.size,
                rgba: img.rgba,
            });
            Ok::<(), ()>(())
        },
    )
    .unwrap();
    assert_eq!(frames.len() as u64, n, "every frame rendered");
    Run { frames, events }
}

/// The colour of a frame that must be uniform (every scene here is a solid colour).
pub(crate) fn colour(frame: &Frame) -> [u8; 3] {
    let first = frame.pixel(0, 0);
    for y in 0..frame.size[1] {
        for x in 0..frame.size[0] {
            let p = frame.pixel(x, y);
            assert_eq!(
                p[..3],
                first[..3],
                "expected a uniform frame, pixel ({x}, {y}) differs from (0, 0)"
            );
        }
    }
    [first[0], first[1], first[2]]
}

fn close(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

/// Asserts frames `range` are all `expected` (within 1 level).
fn assert_solid(run: &Run, range: std::ops::Range<usize>, expected: [u8; 3], what: &str) {
    for i in range {
        let c = run.colour(i);
        assert!(
            close(c, expected, 1),
            "{what}: frame {i} should be {expected:?}, is {c:?}"
        );
    }
}

fn smoothstep(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// Checks a crossfade from `from` to `to` (colour channel indices) starting at frame `start`
/// over `frames` frames: each frame within 2 levels of smoothstep(k / frames), the outgoing
/// channel never rising, the incoming one never falling.
fn assert_crossfade(run: &Run, start: usize, frames: usize, from: usize, to: usize) {
    for k in 0..=frames {
        let c = run.colour(start + k);
        let t = smoothstep(k as f64 / frames as f64);
        let expected_to = (255.0 * t).round();
        let expected_from = (255.0 * (1.0 - t)).round();
        assert!(
            (f64::from(c[to]) - expected_to).abs() <= 2.0
                && (f64::from(c[from]) - expected_from).abs() <= 2.0,
            "frame {} ({k}/{frames} into the fade): expected channel {from} ~ {expected_from} \
             and channel {to} ~ {expected_to} (smoothstep), got {c:?}",
            start + k
        );
        if k > 0 {
            let p = run.colour(start + k - 1);
            assert!(
                c[from] <= p[from] && c[to] >= p[to],
                "frame {}: the fade must be monotonic (channel {from} falling, {to} rising): \
                 {p:?} -> {c:?}",
                start + k
            );
        }
    }
    // Smoothstep, not linear: 10% into the fade the new scene has ~3%, not 10%.
    let early = run.colour(start + frames / 10);
    assert!(
        f64::from(early[to]) < 0.06 * 255.0,
        "10% into the fade the incoming colour should be eased in (smoothstep ~2.8%), got {early:?}"
    );
}

const RGB_PLAYLIST: &str = r#"
[playlist]
name = "colours"
transition = { kind = "crossfade", secs = 1.0 }

[[entry]]
scene = "red.toml"
duration = "2s"

[[entry]]
scene = "blue.toml"
duration = "2s"

[[entry]]
scene = "green.toml"
duration = "2s"
transition = { kind = "cut" }
"#;

fn play_rgb(gpu: &Gpu, dir: &Path) -> (Run, u64) {
    let (mut show, mut runtime) = open(gpu, dir, "list.toml", RGB_PLAYLIST);
    assert_eq!(show.entry(), Some((0, "red")), "the show starts on entry 0");
    let run = play(gpu, &mut show, &mut runtime, 215, |_, _, _| {});
    (run, show.switches)
}

/// Entries of 2 s with a 1 s crossfade (30 frames), a cut into green, and a loop back to red:
///
/// | frames | on screen |
/// |---|---|
/// | 0..60 | red |
/// | 60..=90 | red -> blue crossfade (frame 60: all red; 90: all blue) |
/// | 90..120 | blue |
/// | 120..180 | green (cut at 120) |
/// | 180..=210 | green -> red crossfade |
#[test]
fn a_playlist_crossfades_cuts_and_loops_the_same_every_run() {
    let Some(gpu) = common::gpu("a_playlist_crossfades_cuts_and_loops_the_same_every_run") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    rgb_scenes(dir.path());
    let (run, switches) = play_rgb(&gpu, dir.path());
    let names: Vec<(u64, String)> = run
        .events
        .iter()
        .map(|(f, e)| match e {
            ShowEvent::Switched(p) => (*f, p.file_name().unwrap().to_string_lossy().into()),
            other => panic!("frame {f}: expected only switches, got {other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        vec![
            (60, "blue.toml".to_string()),
            (120, "green.toml".to_string()),
            (180, "red.toml".to_string()),
        ],
        "expected a switch every 2 s (60 frames), looping back to red"
    );
    assert_eq!(switches, 3, "expected 3 switches counted");

    assert_solid(
        &run,
        0..61,
        RED,
        "before the first switch (and its first frame)",
    );
    assert_crossfade(&run, 60, 30, 0, 2);
    assert_solid(&run, 90..120, BLUE, "after the crossfade");
    // The cut: one frame blue, the next green, nothing in between.
    assert_eq!(run.colour(119), BLUE, "the frame before the cut is blue");
    assert_eq!(run.colour(120), GREEN, "the cut lands in a single frame");
    assert_solid(&run, 120..181, GREEN, "after the cut");
    assert_crossfade(&run, 180, 30, 1, 0);
    assert_solid(&run, 210..215, RED, "after looping back");

    // A second show over the same files renders the same bytes.
    let (again, _) = play_rgb(&gpu, dir.path());
    assert_eq!(
        again.events, run.events,
        "expected the same switches every run"
    );
    for (i, (a, b)) in run.frames.iter().zip(&again.frames).enumerate() {
        assert!(
            a.rgba == b.rgba,
            "frame {i}: expected identical bytes in two runs (determinism)"
        );
    }
}

/// A feedback pass that only keeps its previous frame.
const KEEP: &str = "@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    return vec4<f32>(textureSample(tex_keep, samp_keep, in.uv).rgb, 1.0);
}
";

fn keep_scene(dir: &Path, name: &str, inherit: bool) {
    std::fs::write(dir.join("keep.wgsl"), KEEP).unwrap();
    let key = if inherit {
        "inherit_feedback = true\n"
    } else {
        ""
    };
    std::fs::write(
        dir.join(format!("{name}.toml")),
        format!(
            "[scene]\nname = \"{name}\"\nsize = [64, 36]\n{key}\n[[pass]]\nname = \"keep\"\nshader = \"keep.wgsl\"\ninputs = [\"keep\"]\n"
        ),
    )
    .unwrap();
}

/// Red for 1 s, then a cut into `scene` (stays 1 h).
fn red_then(scene: &str) -> String {
    format!(
        "[playlist]\n[[entry]]\nscene = \"red.toml\"\nduration = \"1s\"\n\n[[entry]]\nscene = \"{scene}\"\nduration = \"1h\"\ntransition = {{ kind = \"cut\" }}\n"
    )
}

#[test]
fn inherit_feedback_starts_from_the_frame_on_screen() {
    let Some(gpu) = common::gpu("inherit_feedback_starts_from_the_frame_on_screen") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    solid_scene(dir.path(), "red", [1.0, 0.0, 0.0]);
    keep_scene(dir.path(), "inherit", true);
    keep_scene(dir.path(), "plain", false);

    let (mut show, mut runtime) = open(&gpu, dir.path(), "a.toml", &red_then("inherit.toml"));
    let run = play(&gpu, &mut show, &mut runtime, 60, |_, _, _| {});
    assert_eq!(
        run.events,
        vec![(30, ShowEvent::Switched(dir.path().join("inherit.toml")))],
        "expected the cut at 1 s"
    );
    assert!(
        runtime.scene().inherit_feedback,
        "the inheriting scene plays"
    );
    assert_solid(
        &run,
        0..60,
        RED,
        "with inherit_feedback the feedback pass starts from the red frame and keeps it",
    );

    let (mut show, mut runtime) = open(&gpu, dir.path(), "b.toml", &red_then("plain.toml"));
    let run = play(&gpu, &mut show, &mut runtime, 60, |_, _, _| {});
    assert_eq!(run.events.len(), 1, "expected one switch: {:?}", run.events);
    assert_solid(&run, 0..30, RED, "before the switch");
    assert_solid(
        &run,
        30..60,
        BLACK,
        "without inherit_feedback the feedback pass starts from zeros",
    );
}

#[test]
fn scene_requests_switch_by_index_name_next_and_prev() {
    let Some(gpu) = common::gpu("scene_requests_switch_by_index_name_next_and_prev") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    rgb_scenes(dir.path());
    let text = r#"
[playlist]
transition = { kind = "cut" }

[[entry]]
scene = "red.toml"
cue = true

[[entry]]
scene = "blue.toml"
cue = true

[[entry]]
scene = "green.toml"
name = "finale"
cue = true
"#;
    let (mut show, mut runtime) = open(&gpu, dir.path(), "list.toml", text);
    let script = |frame: u64, _: &Show, runtime: &mut Runtime| {
        let request = match frame {
            5 => SceneRequest::Index(2),
            10 => SceneRequest::Name("blue".into()),
            15 => SceneRequest::Next,
            20 | 35 => SceneRequest::Prev,
            25 => SceneRequest::Name("missing".into()),
            30 => SceneRequest::Index(9),
            // The entry already showing: nothing to do.
            40 => SceneRequest::Name("red".into()),
            _ => return,
        };
        runtime.request_scene(request);
    };
    let run = play(&gpu, &mut show, &mut runtime, 45, script);
    let scene = |name: &str| ShowEvent::Switched(dir.path().join(name));
    assert_eq!(
        run.events,
        vec![
            (5, scene("green.toml")),
            (10, scene("blue.toml")),
            (15, scene("green.toml")),
            (20, scene("blue.toml")),
            (35, scene("red.toml")),
        ],
        "expected switches for Index(2), Name(blue), Next, Prev, Prev and none for a missing \
         name, an index out of range or the entry on screen"
    );
    assert!(
        runtime.take_scene_request().is_none(),
        "the show consumes every request"
    );
    assert_eq!(show.failures, 0, "a missing name is not a failure");
    assert!(show.errors().is_empty(), "no errors: {:?}", show.errors());
    for (range, expected) in [
        (0..5, RED),
        (5..10, GREEN),
        (10..15, BLUE),
        (15..20, GREEN),
        (20..35, BLUE),
        (35..45, RED),
    ] {
        assert_solid(&run, range, expected, "after the request");
    }
    assert_eq!(
        show.entry(),
        Some((0, "red")),
        "entry 0 on screen at the end"
    );
}

/// `nope` is undefined: line 3, column 22.
const BROKEN: &str = "@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    return vec4<f32>(nope, 0.0, 0.0, 1.0);
}
";

#[test]
fn a_broken_entry_is_skipped_and_the_scene_on_screen_keeps_playing() {
    let Some(gpu) = common::gpu("a_broken_entry_is_skipped_and_the_scene_on_screen_keeps_playing")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    rgb_scenes(dir.path());
    solid_scene(dir.path(), "broken", [1.0, 1.0, 1.0]);
    std::fs::write(dir.path().join("broken.wgsl"), BROKEN).unwrap();
    let text = r#"
[playlist]
transition = { kind = "cut" }

[[entry]]
scene = "red.toml"
duration = "1s"

[[entry]]
scene = "broken.toml"
duration = "1s"

[[entry]]
scene = "blue.toml"
duration = "1s"
"#;
    let (mut show, mut runtime) = open(&gpu, dir.path(), "list.toml", text);
    // Errors and counters just before each switch and while blue plays.
    let mut probes = Vec::new();
    let run = play(&gpu, &mut show, &mut runtime, 130, |frame, show, _| {
        if matches!(frame, 29 | 45 | 75 | 125) {
            probes.push((frame, show.errors().len(), show.failures, show.switches));
        }
    });
    let broken = dir.path().join("broken.toml");
    assert_eq!(
        run.events,
        vec![
            (30, ShowEvent::Failed(broken.clone())),
            (60, ShowEvent::Switched(dir.path().join("blue.toml"))),
            (90, ShowEvent::Switched(dir.path().join("red.toml"))),
            (120, ShowEvent::Failed(broken)),
        ],
        "expected the broken entry to fail at 1 s, blue to follow on time, and the broken \
         entry to be tried again when its turn comes back"
    );
    assert_solid(
        &run,
        0..60,
        RED,
        "red keeps playing through the broken entry's turn",
    );
    assert_solid(&run, 60..90, BLUE, "the entry after the broken one");
    assert_solid(
        &run,
        90..130,
        RED,
        "looped back, and through the second failure",
    );
    assert_eq!(
        probes,
        vec![(29, 0, 0, 0), (45, 1, 1, 0), (75, 0, 1, 1), (125, 1, 2, 2)],
        "expected (frame, errors, failures, switches): errors set by a failure and cleared \
         by the next good switch"
    );
    let errors = show.errors();
    assert_eq!(errors.len(), 1, "expected one located error: {errors:?}");
    let e = &errors[0];
    assert!(
        e.file.ends_with("broken.wgsl") && e.line == Some(3) && e.col == Some(22),
        "expected the error at broken.wgsl:3:22, got {e}"
    );
    assert!(
        e.to_string().contains("broken.wgsl:3:22"),
        "expected `file:line:col` in {e}"
    );
    assert!(
        e.message.contains("nope"),
        "expected the undefined name in {e}"
    );
}

#[test]
fn a_playlist_whose_first_entry_is_broken_opens_on_the_next() {
    let Some(gpu) = common::gpu("a_playlist_whose_first_entry_is_broken_opens_on_the_next") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    rgb_scenes(dir.path());
    solid_scene(dir.path(), "broken", [1.0, 1.0, 1.0]);
    std::fs::write(dir.path().join("broken.wgsl"), BROKEN).unwrap();
    let text = "[playlist]\n[[entry]]\nscene = \"broken.toml\"\ncue = true\n[[entry]]\nscene = \"green.toml\"\ncue = true\n";
    let (mut show, mut runtime) = open(&gpu, dir.path(), "list.toml", text);
    assert_eq!(
        show.entry(),
        Some((1, "green")),
        "expected to start on entry 1"
    );
    let run = play(&gpu, &mut show, &mut runtime, 3, |_, _, _| {});
    assert_solid(&run, 0..3, GREEN, "the first entry that loads");
}

/// A local clock the test moves by hand.
fn injected_clock(show: &mut Show, at: DateTime) -> Arc<Mutex<DateTime>> {
    let clock = Arc::new(Mutex::new(at));
    let shared = Arc::clone(&clock);
    show.set_local_clock(Box::new(move || *shared.lock().unwrap()));
    clock
}

fn set(clock: &Mutex<DateTime>, at: DateTime) {
    *clock.lock().unwrap() = at;
}

/// Monday 1 January 2024.
fn monday(hour: i8, minute: i8, second: i8) -> DateTime {
    let d = date(2024, 1, 1);
    assert_eq!(
        d.weekday(),
        jiff::civil::Weekday::Monday,
        "2024-01-01 is a Monday"
    );
    d.at(hour, minute, second, 0)
}

/// A red scene that also runs the CPPN model every frame (its output is sampled but adds
/// nothing), so pausing models is observable.
fn red_model_scene(dir: &Path) {
    let model = common::root().join("models/cppn.onnx");
    std::fs::write(
        dir.join("red_model.wgsl"),
        "@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let p = textureSample(tex_painted, samp_painted, in.uv);
    return vec4<f32>(1.0, 0.0, min(p.a, 0.0), 1.0);
}
",
    )
    .unwrap();
    std::fs::write(
        dir.join("red_model.toml"),
        format!(
            r#"[scene]
name = "red model"
size = [64, 36]

[[model]]
name = "cppn"
file = "{}"

[model.inputs]
latent = {{ latent = {{ dim = 8, seed = 3 }} }}
time = {{ time = true }}

[model.outputs]
image = {{ texture = "painted" }}

[[pass]]
name = "out"
shader = "red_model.wgsl"
inputs = ["painted"]
"#,
            model.display()
        ),
    )
    .unwrap();
}

fn model_jobs(runtime: &Runtime) -> u64 {
    runtime.nodes().iter().map(|n| n.io_stats().jobs).sum()
}

fn models_paused(runtime: &Runtime) -> bool {
    runtime.nodes().iter().all(|n| n.paused)
}

#[test]
fn the_schedule_fades_to_black_pauses_models_and_fades_back_in() {
    let test = "the_schedule_fades_to_black_pauses_models_and_fades_back_in";
    let Some(gpu) = common::gpu(test) else {
        return;
    };
    if infer_support::ort(test).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    red_model_scene(dir.path());
    let playlist = r#"
[playlist]
[[entry]]
scene = "red_model.toml"
cue = true

[schedule]
monday = "10:00-18:00"
fade_secs = 2.0
"#;
    let (mut show, mut runtime) = open(&gpu, dir.path(), "list.toml", playlist);
    assert_eq!(runtime.nodes().len(), 1, "the scene runs one model");
    let clock = injected_clock(&mut show, monday(12, 0, 0));
    let frames = |show: &mut Show, runtime: &mut Runtime, n| {
        let run = play(&gpu, show, runtime, n, |_, _, _| {});
        assert!(
            run.events.is_empty(),
            "a black idle switches no scenes: {:?}",
            run.events
        );
        run
    };

    // Open, mid-day: full brightness, the model runs.
    let jobs = model_jobs(&runtime);
    let run = frames(&mut show, &mut runtime, 3);
    assert!(show.is_open() && !show.dark(&runtime), "open at 12:00");
    assert!(
        (runtime.level() - 1.0).abs() < 1e-6,
        "expected level 1 at 12:00, got {}",
        runtime.level()
    );
    assert_solid(&run, 0..3, RED, "open");
    assert!(!models_paused(&runtime), "models run while open");
    assert!(
        model_jobs(&runtime) > jobs,
        "expected model jobs while open"
    );

    // One second before closing, half way through the 2 s fade out.
    set(&clock, monday(17, 59, 59));
    let run = frames(&mut show, &mut runtime, 2);
    assert!(show.is_open(), "still open at 17:59:59");
    assert!(
        (runtime.level() - 0.5).abs() < 0.01,
        "expected level 0.5 one second before closing, got {}",
        runtime.level()
    );
    assert!(!show.dark(&runtime), "not dark while fading");
    let c = run.colour(1);
    assert!(
        close(c, [128, 0, 0], 3),
        "expected a half-dark red frame while fading out, got {c:?}"
    );

    // Closed: black, dark, models paused.
    set(&clock, monday(18, 0, 1));
    let run = frames(&mut show, &mut runtime, 3);
    assert!(!show.is_open(), "closed at 18:00:01");
    assert!(runtime.level() <= 0.0, "expected level 0 when closed");
    assert!(show.dark(&runtime), "expected dark() once closed and black");
    assert_solid(&run, 0..3, BLACK, "closed");
    assert!(models_paused(&runtime), "expected models paused while dark");
    let jobs = model_jobs(&runtime);
    let run = frames(&mut show, &mut runtime, 5);
    assert_solid(&run, 0..5, BLACK, "still closed");
    assert_eq!(
        model_jobs(&runtime),
        jobs,
        "expected no model jobs while paused"
    );

    // Across midnight into Tuesday (not listed, so closed all day).
    for at in [
        date(2024, 1, 2).at(0, 0, 1, 0),
        date(2024, 1, 2).at(12, 0, 0, 0),
    ] {
        set(&clock, at);
        let run = frames(&mut show, &mut runtime, 2);
        assert!(!show.is_open() && show.dark(&runtime), "closed at {at}");
        assert_solid(&run, 0..2, BLACK, "closed on Tuesday");
    }

    // Next Monday, one second after opening: half way through the fade in.
    set(&clock, date(2024, 1, 8).at(10, 0, 1, 0));
    let jobs = model_jobs(&runtime);
    let run = frames(&mut show, &mut runtime, 3);
    assert!(show.is_open() && !show.dark(&runtime), "open again");
    assert!(
        (runtime.level() - 0.5).abs() < 0.01,
        "expected level 0.5 one second after opening, got {}",
        runtime.level()
    );
    let c = run.colour(2);
    assert!(
        close(c, [128, 0, 0], 3),
        "expected a half-bright red frame while fading in, got {c:?}"
    );
    assert!(!models_paused(&runtime), "models resume at opening");
    assert!(model_jobs(&runtime) > jobs, "expected model jobs again");

    set(&clock, date(2024, 1, 8).at(10, 0, 2, 0));
    let run = frames(&mut show, &mut runtime, 2);
    assert_solid(&run, 0..2, RED, "full brightness after the fade in");
}

#[test]
fn the_schedule_switches_to_an_idle_scene_and_back() {
    let Some(gpu) = common::gpu("the_schedule_switches_to_an_idle_scene_and_back") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    rgb_scenes(dir.path());
    let text = r#"
[playlist]
[[entry]]
scene = "red.toml"
cue = true

[schedule]
monday = "10:00-18:00"
fade_secs = 2.0
idle = "blue.toml"
"#;
    let (mut show, mut runtime) = open(&gpu, dir.path(), "list.toml", text);
    let clock = injected_clock(&mut show, monday(12, 0, 0));

    let run = play(&gpu, &mut show, &mut runtime, 3, |_, _, _| {});
    assert!(run.events.is_empty(), "no switch while open");
    assert_solid(&run, 0..3, RED, "open");

    // With an idle scene the output does not fade to black before closing.
    set(&clock, monday(17, 59, 59));
    let run = play(&gpu, &mut show, &mut runtime, 2, |_, _, _| {});
    assert!(
        (runtime.level() - 1.0).abs() < 1e-6,
        "expected level 1 with an idle scene, got {}",
        runtime.level()
    );
    assert_solid(&run, 0..2, RED, "before closing");

    // Closing: a 2 s (60 frame) crossfade into the idle scene.
    set(&clock, monday(18, 0, 1));
    let run = play(&gpu, &mut show, &mut runtime, 70, |_, _, _| {});
    assert_eq!(
        run.events,
        vec![(0, ShowEvent::Switched(dir.path().join("blue.toml")))],
        "expected a switch to the idle scene at closing"
    );
    assert!(!show.is_open(), "closed");
    assert!(
        !show.dark(&runtime),
        "an idle scene plays: the output is not dark"
    );
    assert_crossfade(&run, 0, 60, 0, 2);
    assert_solid(&run, 60..70, BLUE, "the idle scene");

    set(&clock, date(2024, 1, 2).at(12, 0, 0, 0));
    let run = play(&gpu, &mut show, &mut runtime, 3, |_, _, _| {});
    assert!(run.events.is_empty(), "still idle on Tuesday");
    assert_solid(&run, 0..3, BLUE, "idle on Tuesday");

    // Opening: back to the playlist's entry, crossfading over 2 s.
    set(&clock, date(2024, 1, 8).at(10, 0, 1, 0));
    let run = play(&gpu, &mut show, &mut runtime, 70, |_, _, _| {});
    assert_eq!(
        run.events,
        vec![(0, ShowEvent::Switched(dir.path().join("red.toml")))],
        "expected a switch back to the entry at opening"
    );
    assert!(show.is_open(), "open");
    assert_crossfade(&run, 0, 60, 2, 0);
    assert_solid(&run, 60..70, RED, "the entry again");
    assert_eq!(show.switches, 2, "two switches: to idle and back");
}
