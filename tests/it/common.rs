//! Shared test helpers: getting a GPU (or skipping loudly), rendering, image comparison.
#![allow(dead_code)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, PoisonError};

use hypna::render::context::Gpu;
use hypna::runtime::{RenderSettings, Runtime, RuntimeOptions, render_frames};

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether every test's prerequisites are required (`HYPNA_REQUIRE_GPU=1`: `make test`, CI):
/// then a missing one fails its test instead of skipping it.
pub fn required() -> bool {
    std::env::var("HYPNA_REQUIRE_GPU").as_deref() == Ok("1")
}

/// Whether `what` (a tool or file a test needs) is `present`; if not, a printed skip, or a
/// failure when [`required`], so CI cannot pass a test that did not run.
pub fn prerequisite(test: &str, what: &str, present: bool, install: &str) -> bool {
    if present {
        return true;
    }
    assert!(
        !required(),
        "{test}: HYPNA_REQUIRE_GPU=1 but {what} is missing ({install})"
    );
    eprintln!(
        "SKIPPED {test}: {what} is missing ({install}); set HYPNA_REQUIRE_GPU=1 to make this a failure"
    );
    false
}

/// Shipped scenes that run a model set-up installs: the scene's file name, the model, what
/// makes it.
const SCENES_ON_INSTALLED_MODELS: &[(&str, &str, &str)] = &[
    (
        "eyes.toml",
        ".hypna/models/omniart-eyes.onnx",
        "scripts/install-models.sh",
    ),
    (
        "dream.toml",
        ".hypna/models/dream-lite0.onnx",
        "scripts/compile-dreams.sh target/debug/hypna (make test runs it)",
    ),
    (
        "dream-camera.toml",
        ".hypna/models/dream-lite0.onnx",
        "scripts/compile-dreams.sh target/debug/hypna (make test runs it)",
    ),
    (
        "dream-class.toml",
        ".hypna/models/dream-lite0-class.onnx",
        "scripts/compile-dreams.sh target/debug/hypna (make test runs it)",
    ),
];

/// `scenes` without those whose installed model is missing: each missing model is a
/// [`prerequisite`] of `test` (a failure under `make test`, that scene skipped otherwise).
pub fn with_installed_models(test: &str, scenes: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut scenes = scenes;
    for (scene, model, install) in SCENES_ON_INSTALLED_MODELS {
        let path = root().join(model);
        if !prerequisite(test, &path.display().to_string(), path.is_file(), install) {
            scenes.retain(|p| !p.ends_with(scene));
        }
    }
    scenes
}

/// What a test does with the machine, for [`take_turn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Renders, inference, a window: keeps every core busy. Runs beside other renders.
    Render,
    /// Measures time (backoffs, real-time playback, rings drained in time): runs beside
    /// other timing tests, never beside a render.
    Timing,
    /// Needs the machine to itself (a benchmark, a minutes-long soak).
    Alone,
}

/// Who has the machine now: a kind of turn and how many tests hold it.
struct Turns {
    kind: Option<Turn>,
    holders: usize,
}

static TURNS: Mutex<Turns> = Mutex::new(Turns {
    kind: None,
    holders: 0,
});
static TURN_CHANGED: Condvar = Condvar::new();

/// A turn held by this test's thread; given back when the thread ends (libtest runs every
/// test on a thread of its own).
struct Held(Turn);

impl Drop for Held {
    fn drop(&mut self) {
        let mut turns = TURNS.lock().unwrap_or_else(PoisonError::into_inner);
        turns.holders -= 1;
        if turns.holders == 0 {
            turns.kind = None;
        }
        TURN_CHANGED.notify_all();
    }
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// Takes a turn of `kind` on the machine for the rest of this test, waiting while tests of
/// another kind hold it. Tests used to be 31 binaries run one after the other, so a timing
/// test never ran beside a render and a benchmark ran alone; the turns keep it so in one
/// binary. Taken by [`gpu`], `infer_support::ort` and the window tests (renders), and at the
/// start of timing tests and benchmarks. A test takes one kind only.
pub fn take_turn(kind: Turn) {
    HELD.with(|held| {
        let mut held = held.borrow_mut();
        if let Some(Held(had)) = &*held {
            assert_eq!(*had, kind, "a test takes one kind of turn on the machine");
            return;
        }
        let mut turns = TURNS.lock().unwrap_or_else(PoisonError::into_inner);
        while turns.kind.is_some_and(|k| k != kind || kind == Turn::Alone) {
            turns = TURN_CHANGED
                .wait(turns)
                .unwrap_or_else(PoisonError::into_inner);
        }
        turns.kind = Some(kind);
        turns.holders += 1;
        *held = Some(Held(kind));
    });
}

/// Set in a child run by [`alone`] to the test it runs.
const ALONE_ENV: &str = "HYPNA_TEST_ALONE";

/// Runs the test `name` (its path in this binary, e.g. `memory::some_test`) alone: this test
/// binary is run again for that one test, with one test thread, so nothing else runs in its
/// process (resident memory is compared, or process-wide configuration is read once). `env`
/// adds variables for the child. Returns true in the child, where the test does its work;
/// false in the parent, once the child passed (its output is printed; a failure fails here).
pub fn alone(name: &str, env: &[(&str, &std::ffi::OsStr)]) -> bool {
    if std::env::var(ALONE_ENV).as_deref() == Ok(name) {
        return true;
    }
    run_child(name, env);
    false
}

/// [`alone`], with the machine to itself while the child runs ([`Turn::Alone`]): for a
/// test that keeps the machine busy for minutes.
pub fn alone_and_exclusive(name: &str) -> bool {
    if std::env::var(ALONE_ENV).as_deref() == Ok(name) {
        return true;
    }
    take_turn(Turn::Alone);
    run_child(name, &[]);
    false
}

/// Runs this test binary again for the test `name` alone and checks that it passed.
fn run_child(name: &str, env: &[(&str, &std::ffi::OsStr)]) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ALONE_ENV, name)
        .env("RUST_BACKTRACE", "1")
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .output()
        .expect("re-run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    println!("{stdout}");
    eprintln!("{stderr}");
}

/// Polls `done` every few milliseconds until it holds, failing with `what` after `timeout`.
/// Returns how long it took.
pub fn wait_until(
    what: &str,
    timeout: std::time::Duration,
    mut done: impl FnMut() -> bool,
) -> std::time::Duration {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    start.elapsed()
}

/// A GPU, or `None` with a printed skip; a failure when [`required`]. The test takes a
/// render turn on the machine ([`take_turn`]).
pub fn gpu(test: &str) -> Option<Gpu> {
    take_turn(Turn::Render);
    match Gpu::new_headless() {
        Ok(gpu) => Some(gpu),
        Err(e) => {
            assert!(
                !required(),
                "{test}: HYPNA_REQUIRE_GPU=1 but no GPU adapter: {e}"
            );
            eprintln!(
                "SKIPPED {test}: no GPU adapter ({e}); set HYPNA_REQUIRE_GPU=1 to make this a failure"
            );
            None
        }
    }
}

/// An RGBA8 frame.
#[derive(Clone)]
pub struct Frame {
    pub size: [u32; 2],
    pub rgba: Vec<u8>,
}

impl Frame {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.size[0] + x) * 4) as usize;
        [
            self.rgba[i],
            self.rgba[i + 1],
            self.rgba[i + 2],
            self.rgba[i + 3],
        ]
    }

    /// Standard deviation of luma (0..255): near 0 for a flat image.
    pub fn luma_std(&self) -> f64 {
        let lumas: Vec<f64> = self
            .rgba
            .chunks(4)
            .map(|p| 0.2126 * f64::from(p[0]) + 0.7152 * f64::from(p[1]) + 0.0722 * f64::from(p[2]))
            .collect();
        let mean = lumas.iter().sum::<f64>() / lumas.len() as f64;
        (lumas.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / lumas.len() as f64).sqrt()
    }

    pub fn save(&self, path: &Path) {
        image::save_buffer(
            path,
            &self.rgba,
            self.size[0],
            self.size[1],
            image::ColorType::Rgba8,
        )
        .expect("write png");
    }

    pub fn load(path: &Path) -> Option<Self> {
        let img = image::open(path).ok()?.to_rgba8();
        Some(Self {
            size: [img.width(), img.height()],
            rgba: img.into_raw(),
        })
    }
}

/// Renders `frames` frames of the scene at `path` and returns every frame.
pub fn render_all(
    gpu: &Gpu,
    path: &Path,
    size: [u32; 2],
    frames: u64,
    sets: &[&str],
) -> Vec<Frame> {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_string()).collect();
    let options = RuntimeOptions {
        size: Some(size),
        sets,
        sync_models: true,
        ..RuntimeOptions::default()
    };
    let mut runtime =
        Runtime::load(gpu, path, &options).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let settings = RenderSettings {
        frames,
        fps: 30.0,
        readback_depth: 3,
    };
    render_frames(gpu, &mut runtime, &settings, |img| {
        assert_eq!(img.frame, out.len() as u64, "frames arrive in order");
        out.push(Frame {
            size: img.size,
            rgba: img.rgba,
        });
        Ok::<(), ()>(())
    })
    .expect("render");
    out
}

/// Renders and returns only the last frame.
pub fn render_last(gpu: &Gpu, path: &Path, size: [u32; 2], frames: u64, sets: &[&str]) -> Frame {
    render_all(gpu, path, size, frames, sets)
        .pop()
        .expect("at least one frame")
}

/// Mean absolute difference per channel (0..255) and the difference image.
pub fn compare(a: &Frame, b: &Frame) -> (f64, Frame) {
    assert_eq!(a.size, b.size, "sizes differ");
    let mut total = 0u64;
    let mut diff = Vec::with_capacity(a.rgba.len());
    for (pa, pb) in a.rgba.chunks(4).zip(b.rgba.chunks(4)) {
        for c in 0..3 {
            let d = pa[c].abs_diff(pb[c]);
            total += u64::from(d);
            diff.push(d.saturating_mul(4));
        }
        diff.push(255);
    }
    let mean = total as f64 / (a.rgba.len() / 4 * 3) as f64;
    (
        mean,
        Frame {
            size: a.size,
            rgba: diff,
        },
    )
}

/// Writes `text` the way editors do: to a temporary file beside it, renamed over the original
/// (a watcher sees the file replaced, not written in place).
pub fn save(path: &Path, text: impl AsRef<[u8]>) {
    let tmp = path.with_extension("swp~");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}
