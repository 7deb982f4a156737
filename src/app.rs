//! The live window (winit): presents the runtime's output every frame, scaled to fit, on any
//! monitor, windowed or borderless fullscreen. Keys: F fullscreen, H HUD, P parameter panel,
//! R reload, S screenshot, ? help, Esc quit (none of them in kiosk mode).
//!
//! - Hot reload ([`crate::reload`]) swaps in changed scenes, shaders and models; a bad change
//!   keeps the last good version and shows its errors on screen until fixed.
//! - Surface `Outdated`/`Lost` is reconfigured, not fatal; a minimised or hidden window
//!   renders nothing and sleeps instead of spinning.
//! - The overlay is drawn on the presented image only: screenshots (S) and headless renders
//!   come from the internal render and never contain it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use winit::application::ApplicationHandler;
use winit::dpi::{PhysicalPosition, PhysicalSize};
use winit::event::{ElementState, KeyEvent, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::keyboard::{Key, NamedKey};
use winit::monitor::MonitorHandle;
use winit::window::{Fullscreen, Window, WindowId};

use crate::clock::Clock;
use crate::overlay::{
    AudioStatus, FrameTimes, ModelStatus, OscStatus, Overlay, OverlayData, ParamChange,
};
use crate::reload::{HotReload, ReloadEvent};
use crate::render::blit::{Blitter, Fit};
use crate::render::context::{Gpu, GpuError, new_instance};
use crate::render::readback::{ReadImage, Readback};
use crate::runtime::{LoadError, Runtime, RuntimeOptions};
use crate::show::{Show, ShowEvent};

/// Errors that end `hypna run`.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No display server, or winit could not start.
    #[error("cannot open a window: {0}")]
    EventLoop(String),
    /// The window or surface could not be created.
    #[error("cannot create the window surface: {0}")]
    Surface(String),
    /// No GPU.
    #[error(transparent)]
    Gpu(#[from] GpuError),
    /// The scene did not load.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// `--monitor` matched no monitor.
    #[error("no monitor matches `{0}` (see `hypna devices`)")]
    Monitor(String),
}

/// How frames are paced on the display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PresentChoice {
    /// Wait for vertical blank (no tearing; frame rate capped at the refresh rate).
    #[default]
    Vsync,
    /// Newest frame at each vertical blank, no waiting (low latency, no tearing).
    Mailbox,
    /// Present at once (tearing possible; lowest latency).
    Immediate,
}

impl PresentChoice {
    fn mode(self) -> wgpu::PresentMode {
        match self {
            Self::Vsync => wgpu::PresentMode::Fifo,
            Self::Mailbox => wgpu::PresentMode::Mailbox,
            Self::Immediate => wgpu::PresentMode::Immediate,
        }
    }
}

/// Writing presented frames (what is on screen, overlay included) to PNG files.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// Folder for `window_00000.png`, ... (created if missing).
    pub dir: PathBuf,
    /// Capture every Nth presented frame (1 = all).
    pub every: u64,
}

/// What `hypna run` was asked for.
#[derive(Debug, Clone)]
#[allow(clippy::struct_excessive_bools)] // one per command-line switch
pub struct RunOptions {
    /// The scene file.
    pub scene: PathBuf,
    /// Size, `--set`s, ONNX Runtime choices.
    pub runtime: RuntimeOptions,
    /// Quit after this many presented frames (smoke tests, demos).
    pub frames: Option<u64>,
    /// How the output fits the window.
    pub fit: Fit,
    /// Start in borderless fullscreen.
    pub fullscreen: bool,
    /// The monitor to open on: an index or a name substring (see `hypna devices`).
    pub monitor: Option<String>,
    /// Frame pacing.
    pub present: PresentChoice,
    /// Restore and save the window's size, position and fullscreen state.
    pub remember_window: bool,
    /// The internal render size follows the window (feedback is resampled on resize).
    pub follow_window: bool,
    /// Installation kiosk: no quit keys, no overlay, no cursor.
    pub kiosk: bool,
    /// Show the HUD from the start.
    pub hud: bool,
    /// Watch the scene's files and reload on change.
    pub watch: bool,
    /// A fixed-step clock at this rate instead of the wall clock (frame N shows the same
    /// time as frame N of `hypna render`).
    pub fixed_fps: Option<f64>,
    /// Folder for S-key screenshots.
    pub screenshot_dir: PathBuf,
    /// Capture presented frames.
    pub capture: Option<CaptureOptions>,
    /// Set by SIGTERM/SIGINT (see [`stop_on_signals`]): the window closes cleanly.
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Seconds between health lines in the log (0 = none).
    pub health_secs: f64,
    /// Record live param changes into this file (see [`crate::record`]).
    pub record_params: Option<PathBuf>,
    /// Testing the recovery: destroy the GPU device when this flag is set (SIGUSR1).
    pub lose_device: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Set by SIGHUP (see [`reload_on_hangup`]): the files on show reload, as with the R key.
    pub hangup: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// A flag SIGTERM and SIGINT set, for a clean shutdown (kiosk mode has no quit key).
///
/// # Errors
/// When the signal handlers cannot be installed.
pub fn stop_on_signals() -> std::io::Result<Arc<std::sync::atomic::AtomicBool>> {
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&flag))?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&flag))?;
    Ok(flag)
}

/// A flag SIGHUP sets. A show must outlive the terminal or SSH session that started it
/// (SIGHUP's default action ends the process with status 129, without a log line); as with
/// daemons, SIGHUP instead reloads the files on show (`systemctl reload` sends it).
///
/// # Errors
/// When the signal handler cannot be installed.
pub fn reload_on_hangup() -> std::io::Result<Arc<std::sync::atomic::AtomicBool>> {
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&flag))?;
    Ok(flag)
}

impl RunOptions {
    /// Defaults for `scene`: windowed, vsync, letterboxed, watching files.
    #[must_use]
    pub fn new(scene: PathBuf, runtime: RuntimeOptions) -> Self {
        Self {
            scene,
            runtime,
            frames: None,
            fit: Fit::Letterbox,
            fullscreen: false,
            monitor: None,
            present: PresentChoice::Vsync,
            remember_window: false,
            follow_window: false,
            kiosk: false,
            hud: false,
            watch: true,
            fixed_fps: None,
            screenshot_dir: PathBuf::from("."),
            capture: None,
            stop: None,
            health_secs: 60.0,
            lose_device: None,
            hangup: None,
            record_params: None,
        }
    }
}

/// A monitor as `hypna devices` lists it.
#[derive(Debug, Clone)]
pub struct MonitorInfo {
    /// Position in the platform's list (what `--monitor N` picks).
    pub index: usize,
    /// The platform's name for it.
    pub name: String,
    /// Size in physical pixels.
    pub size: [u32; 2],
    /// Top-left corner on the desktop.
    pub position: [i32; 2],
    /// Refresh rate in Hz, when known.
    pub refresh_hz: Option<f32>,
    /// Whether it is the primary monitor.
    pub primary: bool,
}

impl std::fmt::Display for MonitorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{}] {}{}: {}x{} at {},{}",
            self.index,
            self.name,
            if self.primary { " (primary)" } else { "" },
            self.size[0],
            self.size[1],
            self.position[0],
            self.position[1]
        )?;
        match self.refresh_hz {
            Some(hz) => write!(f, ", {hz:.2} Hz"),
            None => write!(f, ", refresh rate unknown"),
        }
    }
}

fn monitor_info(index: usize, m: &MonitorHandle, primary: Option<&MonitorHandle>) -> MonitorInfo {
    let size = m.size();
    let position = m.position();
    MonitorInfo {
        index,
        name: m.name().unwrap_or_else(|| format!("monitor {index}")),
        size: [size.width, size.height],
        position: [position.x, position.y],
        refresh_hz: m.refresh_rate_millihertz().map(|mhz| mhz as f32 / 1000.0),
        primary: primary.is_some_and(|p| p == m),
    }
}

/// Picks a monitor by index or by a case-insensitive name substring.
#[must_use]
pub fn choose_monitor(monitors: &[MonitorInfo], choice: &str) -> Option<usize> {
    if let Ok(i) = choice.trim().parse::<usize>() {
        return monitors.iter().position(|m| m.index == i);
    }
    let needle = choice.to_lowercase();
    monitors
        .iter()
        .position(|m| m.name.to_lowercase().contains(&needle))
}

/// Lists the monitors (opens a connection to the display server, no window).
///
/// # Errors
/// When there is no display server.
pub fn list_monitors() -> Result<Vec<MonitorInfo>, AppError> {
    struct Lister(Vec<MonitorInfo>);
    impl ApplicationHandler for Lister {
        fn resumed(&mut self, event_loop: &ActiveEventLoop) {
            let primary = event_loop.primary_monitor();
            self.0 = event_loop
                .available_monitors()
                .enumerate()
                .map(|(i, m)| monitor_info(i, &m, primary.as_ref()))
                .collect();
            event_loop.exit();
        }
        fn window_event(&mut self, _: &ActiveEventLoop, _: WindowId, _: WindowEvent) {}
    }
    let event_loop = EventLoop::new().map_err(|e| AppError::EventLoop(e.to_string()))?;
    let mut lister = Lister(Vec::new());
    event_loop
        .run_app(&mut lister)
        .map_err(|e| AppError::EventLoop(e.to_string()))?;
    Ok(lister.0)
}

/// Where a remembered window goes (`$XDG_CONFIG_HOME/hypna/window.toml`).
fn memory_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("hypna").join("window.toml"))
}

/// A remembered window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
struct WindowMemory {
    x: i32,
    y: i32,
    width: u32,
    height: u32,
    fullscreen: bool,
}

impl WindowMemory {
    fn load() -> Option<Self> {
        let text = std::fs::read_to_string(memory_path()?).ok()?;
        toml::from_str(&text).ok()
    }

    fn save(&self) {
        let Some(path) = memory_path() else { return };
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::write(&path, toml::to_string(self).unwrap_or_default().as_bytes())
            });
        if let Err(e) = result {
            tracing::warn!("cannot remember the window in {}: {e}", path.display());
        }
    }
}

/// A pipelined image grabber: copies are recorded into a frame's encoder, read back when the
/// GPU is done, and encoded to PNG on a thread. The frame never waits.
struct Grabber {
    readback: Option<Readback>,
    size: [u32; 2],
    /// Files waiting for their frame: (frame, path, swap red and blue).
    waiting: Vec<(u64, PathBuf, bool)>,
    /// Every PNG write still running (joined at exit so no file is cut short).
    writers: Vec<std::thread::JoinHandle<()>>,
}

impl Grabber {
    fn new() -> Self {
        Self {
            readback: None,
            size: [0, 0],
            waiting: Vec::new(),
            writers: Vec::new(),
        }
    }

    /// Records a copy of `texture` (4 bytes per pixel) for `frame`, to be saved as `path`.
    fn record(
        &mut self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        texture: &wgpu::Texture,
        frame: u64,
        path: PathBuf,
        bgra: bool,
    ) -> bool {
        let size = [texture.width(), texture.height()];
        if self.readback.is_none() || self.size != size {
            if self.readback.as_ref().is_some_and(Readback::pending) {
                return false;
            }
            self.readback = Some(Readback::new(device, size, 3));
            self.size = size;
        }
        let Some(readback) = self.readback.as_mut() else {
            return false;
        };
        if readback.copy(encoder, texture, frame) {
            self.waiting.push((frame, path, bgra));
            true
        } else {
            false
        }
    }

    fn after_submit(&mut self) {
        if let Some(r) = &mut self.readback {
            r.after_submit();
        }
    }

    /// Saves every image read back so far.
    fn collect(&mut self) {
        let Some(r) = &mut self.readback else { return };
        for image in r.collect() {
            if let Some(i) = self.waiting.iter().position(|w| w.0 == image.frame) {
                let (_, path, bgra) = self.waiting.swap_remove(i);
                self.writers.retain(|w| !w.is_finished());
                let spawned = std::thread::Builder::new()
                    .name("hypna-png".into())
                    .spawn(move || save_png(image, &path, bgra));
                match spawned {
                    Ok(h) => self.writers.push(h),
                    Err(e) => tracing::warn!("cannot start a PNG writer: {e}"),
                }
            }
        }
    }

    /// Waits for the last images (at exit).
    fn finish(&mut self, device: &wgpu::Device) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.readback.as_ref().is_some_and(Readback::pending) && Instant::now() < deadline {
            let _ = device.poll(wgpu::PollType::wait_indefinitely());
            self.collect();
        }
        self.collect();
        for w in self.writers.drain(..) {
            let _ = w.join();
        }
    }
}

/// A short word for a model worker's state (the HUD colours "ready" green, "fail…" red).
fn model_state(state: &crate::infer::WorkerState) -> String {
    use crate::infer::WorkerState;
    match state {
        WorkerState::Loading => "loading".into(),
        WorkerState::Ready => "ready".into(),
        WorkerState::Failing { failures, .. } => format!("failing ({failures})"),
        WorkerState::BackingOff { failures, .. } => format!("failing, backing off ({failures})"),
        WorkerState::Restarting { .. } => "restarting".into(),
        WorkerState::Failed(_) => "failed".into(),
        WorkerState::Stopped => "stopped".into(),
    }
}

fn save_png(mut image: ReadImage, path: &Path, bgra: bool) {
    if bgra {
        for px in image.rgba.chunks_exact_mut(4) {
            px.swap(0, 2);
        }
    }
    for px in image.rgba.chunks_exact_mut(4) {
        px[3] = 255;
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match image::save_buffer(
        path,
        &image.rgba,
        image.size[0],
        image.size[1],
        image::ExtendedColorType::Rgba8,
    ) {
        Ok(()) => tracing::info!("saved {}", path.display()),
        Err(e) => tracing::warn!("cannot save {}: {e}", path.display()),
    }
}

struct State {
    window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    gpu: Gpu,
    runtime: Runtime,
    blitter: Blitter,
    clock: Clock,
    presented: u64,
    fit: Fit,
    reload: Option<HotReload>,
    /// The internal render as RGBA8 for screenshots (created on first use).
    shot_target: Option<wgpu::Texture>,
    grabber: Grabber,
    /// A screenshot was asked for: taken with the next frame.
    shot_requested: bool,
    /// Minimised or fully hidden: render nothing.
    hidden: bool,
    /// Surface textures can be copied (window capture).
    can_capture: bool,
    last_frame: Option<Instant>,
    /// Frame intervals in ms (for the HUD).
    frame_times: FrameTimes,
    overlay: Overlay,
    /// Slider moves of this frame, applied through the OSC path.
    changes: Vec<ParamChange>,
    /// OSC messages/s: (messages at the last sample, when, rate).
    osc_rate: (u64, Instant, f32),
    /// The scene or playlist being played.
    show: Show,
    health: crate::install::health::HealthTimer,
    started: Instant,
    /// The last attempt at rebuilding after a device loss (retried every second).
    recovery_attempt: Option<Instant>,
    /// Surface acquisitions failing in a row.
    surface_errors: u32,
    /// Where the window was before going fullscreen (restored when leaving).
    windowed: Option<(PhysicalPosition<i32>, PhysicalSize<u32>)>,
}

struct App {
    options: RunOptions,
    state: Option<State>,
    error: Option<AppError>,
    /// `hypna bench --window`: interleaved windowed and headless frames.
    bench: Option<WindowBench>,
}

/// The windowed-vs-headless benchmark's progress.
struct WindowBench {
    /// The same scene rendered headless on the same device (the baseline).
    headless: Option<Runtime>,
    headless_clock: Clock,
    frames: u32,
    rounds: u32,
    round: u32,
    /// Frames done in this round's current half.
    done: u32,
    /// Windowed half first, then headless.
    windowed_half: bool,
    warmup: u32,
    windowed_ms: Vec<f64>,
    headless_ms: Vec<f64>,
}

/// `hypna bench --window`: the present path's cost.
#[derive(Debug, Clone)]
pub struct WindowBenchReport {
    /// The adapter.
    pub adapter: String,
    /// Window size and present mode.
    pub setup: String,
    /// A frame of `hypna run`: acquire, render, blit, present, wait for the GPU.
    pub windowed: crate::bench::Stats,
    /// The same scene headless on the same device: render, wait for the GPU.
    pub headless: crate::bench::Stats,
}

impl WindowBenchReport {
    /// Windowed median over headless median.
    #[must_use]
    pub fn ratio(&self) -> f64 {
        self.windowed.median_ms / self.headless.median_ms
    }
}

impl std::fmt::Display for WindowBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "adapter:  {}", self.adapter)?;
        writeln!(f, "window:   {}", self.setup)?;
        writeln!(
            f,
            "windowed: median {:.2} ms, p90 {:.2} ms, mean {:.2} ms ({} frames)",
            self.windowed.median_ms,
            self.windowed.p90_ms,
            self.windowed.mean_ms,
            self.windowed.frames
        )?;
        writeln!(
            f,
            "headless: median {:.2} ms, p90 {:.2} ms, mean {:.2} ms ({} frames)",
            self.headless.median_ms,
            self.headless.p90_ms,
            self.headless.mean_ms,
            self.headless.frames
        )?;
        write!(
            f,
            "ratio windowed/headless (median): {:.3} (goal <= 1.10)",
            self.ratio()
        )
    }
}

/// Measures `hypna run`'s frame (in a real window) against the same scene rendered headless
/// on the same device, in interleaved rounds of `frames`.
///
/// # Errors
/// When there is no display, no GPU, or the scene does not load.
pub fn bench_window(
    options: RunOptions,
    frames: u32,
    rounds: u32,
) -> Result<WindowBenchReport, AppError> {
    let app = run_event_loop(
        options,
        Some(WindowBench {
            headless: None,
            headless_clock: Clock::fixed(60.0),
            frames: frames.max(1),
            rounds: rounds.max(1),
            round: 0,
            done: 0,
            windowed_half: true,
            warmup: 3,
            windowed_ms: Vec::new(),
            headless_ms: Vec::new(),
        }),
    )?;
    if let Some(e) = app.error {
        return Err(e);
    }
    let (Some(state), Some(bench)) = (app.state, app.bench) else {
        return Err(AppError::EventLoop("the benchmark did not run".into()));
    };
    Ok(WindowBenchReport {
        adapter: state.gpu.describe(),
        setup: format!(
            "{}x{}, {:?}, {:?}",
            state.config.width, state.config.height, state.config.present_mode, state.config.format
        ),
        windowed: crate::bench::Stats::of(&bench.windowed_ms),
        headless: crate::bench::Stats::of(&bench.headless_ms),
    })
}

impl WindowBench {
    /// One step: a windowed or a headless frame. Returns true when done.
    fn step(&mut self, state: &mut State, options: &RunOptions) -> Result<bool, AppError> {
        if self.headless.is_none() {
            // The scene the window plays, as loaded (not read from disk again).
            let scene = state.runtime.scene.clone();
            let mut ro = options.runtime.clone();
            ro.size = Some(state.runtime.chain().scene_size());
            self.headless = Some(Runtime::new(&state.gpu, scene, &ro)?);
        }
        let Some(headless) = self.headless.as_mut() else {
            return Ok(true);
        };
        if self.warmup > 0 {
            self.warmup -= 1;
            state.draw(options);
            let _ = crate::bench::timed_frame(
                &state.gpu,
                headless,
                &mut self.headless_clock,
                "bench.headless",
            );
            return Ok(false);
        }
        if self.windowed_half {
            let start = Instant::now();
            if state.draw(options) {
                let _ = state.gpu.device.poll(wgpu::PollType::wait_indefinitely());
                self.windowed_ms.push(start.elapsed().as_secs_f64() * 1e3);
                self.done += 1;
            }
        } else {
            self.headless_ms.push(crate::bench::timed_frame(
                &state.gpu,
                headless,
                &mut self.headless_clock,
                "bench.headless",
            ));
            self.done += 1;
        }
        if self.done >= self.frames {
            self.done = 0;
            if !self.windowed_half {
                self.round += 1;
            }
            self.windowed_half = !self.windowed_half;
        }
        Ok(self.round >= self.rounds)
    }
}

/// Opens a window and runs the scene until closed (or `frames` are presented).
///
/// # Errors
/// When there is no display, no GPU, or the scene does not load.
pub fn run(options: RunOptions) -> Result<(), AppError> {
    let mut app = run_event_loop(options, None)?;
    if let Some(state) = &mut app.state {
        state.finish(&app.options);
    }
    match app.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Runs the event loop over a fresh [`App`] until it exits; returns the app as it ended.
fn run_event_loop(options: RunOptions, bench: Option<WindowBench>) -> Result<App, AppError> {
    let event_loop = EventLoop::new().map_err(|e| AppError::EventLoop(e.to_string()))?;
    event_loop.set_control_flow(ControlFlow::Poll);
    let mut app = App {
        options,
        state: None,
        error: None,
        bench,
    };
    event_loop
        .run_app(&mut app)
        .map_err(|e| AppError::EventLoop(e.to_string()))?;
    Ok(app)
}

impl App {
    fn start(&mut self, event_loop: &ActiveEventLoop) -> Result<State, AppError> {
        // The window opens at the first scene's size (a playlist: its first entry's).
        let first_scene = if crate::install::playlist::is_playlist(&self.options.scene) {
            crate::install::playlist::Playlist::load(&self.options.scene)
                .ok()
                .and_then(|p| p.entries.first().map(|e| e.scene.clone()))
        } else {
            Some(self.options.scene.clone())
        };
        let scene_size = first_scene
            .and_then(|p| crate::scene::Scene::load(&p).ok())
            .map_or([1280, 720], |s| s.size);
        let size = self.options.runtime.size.unwrap_or(scene_size);
        let primary = event_loop.primary_monitor();
        let monitors: Vec<(MonitorHandle, MonitorInfo)> = event_loop
            .available_monitors()
            .enumerate()
            .map(|(i, m)| {
                let info = monitor_info(i, &m, primary.as_ref());
                (m, info)
            })
            .collect();
        let monitor = match &self.options.monitor {
            Some(choice) => {
                let infos: Vec<MonitorInfo> = monitors.iter().map(|(_, i)| i.clone()).collect();
                let i = choose_monitor(&infos, choice)
                    .ok_or_else(|| AppError::Monitor(choice.clone()))?;
                Some(monitors[i].0.clone())
            }
            None => None,
        };
        let memory = if self.options.remember_window {
            WindowMemory::load()
        } else {
            None
        };
        let mut attributes = Window::default_attributes()
            .with_title("hypna")
            .with_inner_size(PhysicalSize::new(size[0], size[1]));
        if let Some(m) = &memory {
            attributes = attributes
                .with_inner_size(PhysicalSize::new(m.width.max(16), m.height.max(16)))
                .with_position(PhysicalPosition::new(m.x, m.y));
        } else if let Some(m) = &monitor {
            // Centred on the chosen monitor.
            let (mp, ms) = (m.position(), m.size());
            let x = mp.x + (i64::from(ms.width) - i64::from(size[0])).max(0) as i32 / 2;
            let y = mp.y + (i64::from(ms.height) - i64::from(size[1])).max(0) as i32 / 2;
            attributes = attributes.with_position(PhysicalPosition::new(x, y));
        }
        let fullscreen = self.options.fullscreen || memory.is_some_and(|m| m.fullscreen);
        if fullscreen {
            // Also cover the monitor's bounds: without a window manager (an X session that
            // only runs hypna) nobody acts on the fullscreen request itself.
            let target = monitor.clone().or_else(|| primary.clone());
            if let Some(m) = &target {
                attributes = attributes
                    .with_position(m.position())
                    .with_inner_size(m.size());
            }
            attributes = attributes.with_fullscreen(Some(Fullscreen::Borderless(target)));
        }
        let window = Arc::new(
            event_loop
                .create_window(attributes)
                .map_err(|e| AppError::Surface(e.to_string()))?,
        );
        window.set_cursor_visible(!(fullscreen || self.options.kiosk));
        let (gpu, surface) = Self::gpu_with_fallback(&window)?;
        tracing::info!("GPU: {}", gpu.describe());
        let inner = window.inner_size();
        let mut config = surface
            .get_default_config(&gpu.adapter, inner.width.max(1), inner.height.max(1))
            .ok_or_else(|| AppError::Surface("the adapter cannot present to this window".into()))?;
        // Shaders write display-referred values (like the headless PNGs), so present without
        // an sRGB re-encode when the surface allows it.
        let caps = surface.get_capabilities(&gpu.adapter);
        if let Some(f) = caps.formats.iter().copied().find(|f| !f.is_srgb()) {
            config.format = f;
        }
        let wanted = self.options.present.mode();
        config.present_mode = if caps.present_modes.contains(&wanted) {
            wanted
        } else {
            tracing::warn!(
                "present mode {wanted:?} is not supported here ({:?}); using vsync",
                caps.present_modes
            );
            wgpu::PresentMode::Fifo
        };
        let can_capture = caps.usages.contains(wgpu::TextureUsages::COPY_SRC);
        if self.options.capture.is_some() {
            if can_capture {
                config.usage |= wgpu::TextureUsages::COPY_SRC;
            } else {
                tracing::warn!("this surface cannot be copied: --capture writes nothing");
            }
        }
        surface.configure(&gpu.device, &config);
        let mut runtime_options = self.options.runtime.clone();
        if self.options.follow_window {
            runtime_options.size = Some([inner.width.max(1), inner.height.max(1)]);
        }
        let (show, mut runtime) = Show::open(&gpu, &self.options.scene, &runtime_options)?;
        if let Some(path) = &self.options.record_params {
            match crate::record::ParamRecorder::create(path, &self.options.scene) {
                Ok(r) => {
                    tracing::info!("recording param changes to {}", path.display());
                    runtime.set_recorder(Some(r));
                }
                Err(e) => tracing::error!("cannot record param changes: {e}"),
            }
        }
        window.set_title(&format!("hypna — {}", runtime.scene.name));
        tracing::info!(
            "running {} at {}x{} ({:?}, {:?})",
            runtime.scene.name,
            runtime.chain().scene_size()[0],
            runtime.chain().scene_size()[1],
            config.present_mode,
            config.format
        );
        let reload = self
            .options
            .watch
            .then(|| HotReload::new(show.current_path(), &runtime));
        let blitter = Blitter::new(&gpu.device);
        let mut overlay = Overlay::new(&gpu.device, config.format);
        overlay.attach(&window);
        overlay.hud = self.options.hud && !self.options.kiosk;
        let clock = match self.options.fixed_fps {
            Some(fps) => Clock::fixed(fps),
            None => Clock::real(),
        };
        Ok(State {
            window,
            surface,
            config,
            gpu,
            runtime,
            blitter,
            clock,
            presented: 0,
            fit: self.options.fit,
            reload,
            shot_target: None,
            grabber: Grabber::new(),
            shot_requested: false,
            hidden: false,
            can_capture,
            last_frame: None,
            frame_times: FrameTimes::new(),
            overlay,
            changes: Vec::new(),
            osc_rate: (0, Instant::now(), 0.0),
            show,
            health: crate::install::health::HealthTimer::new(self.options.health_secs),
            started: Instant::now(),
            recovery_attempt: None,
            surface_errors: 0,
            windowed: None,
        })
    }

    /// A GPU that can present to `window`, from the primary backends or all of them.
    /// A device and surface for `window` on the primary backends, else on all of them (unless
    /// `WGPU_BACKEND` chose the backends).
    fn gpu_with_fallback(window: &Arc<Window>) -> Result<(Gpu, wgpu::Surface<'static>), AppError> {
        match Self::gpu_for(window, false) {
            Err(AppError::Gpu(GpuError::NoAdapter(_)))
                if std::env::var_os("WGPU_BACKEND").is_none() =>
            {
                Self::gpu_for(window, true)
            }
            other => other,
        }
    }

    fn gpu_for(window: &Arc<Window>, all: bool) -> Result<(Gpu, wgpu::Surface<'static>), AppError> {
        let instance = new_instance(all);
        let surface = instance
            .create_surface(Arc::clone(window))
            .map_err(|e| AppError::Surface(e.to_string()))?;
        let gpu = Gpu::from_instance(instance, Some(&surface))?;
        Ok((gpu, surface))
    }
}

impl State {
    fn resize(&mut self, width: u32, height: u32, follow: bool) {
        if width == 0 || height == 0 {
            self.hidden = true;
            return;
        }
        self.hidden = false;
        self.config.width = width;
        self.config.height = height;
        self.surface.configure(&self.gpu.device, &self.config);
        if follow && let Err(e) = self.runtime.resize(&self.gpu, [width, height]) {
            tracing::error!("cannot render at {width}x{height}: {e}");
        }
    }

    /// Scene time of the last frame (what playlist durations count in).
    fn runtime_time(&self) -> f64 {
        self.runtime.show_time().time_secs
    }

    fn toggle_fullscreen(&mut self) {
        tracing::info!(
            "fullscreen {}",
            if self.window.fullscreen().is_some() {
                "off"
            } else {
                "on"
            }
        );
        if self.window.fullscreen().is_some() {
            self.window.set_fullscreen(None);
            if let Some((position, size)) = self.windowed.take() {
                self.window.set_outer_position(position);
                let _ = self.window.request_inner_size(size);
            }
            self.window.set_cursor_visible(true);
        } else {
            let monitor = self.window.current_monitor();
            self.windowed = Some((
                self.window
                    .outer_position()
                    .unwrap_or(PhysicalPosition::new(0, 0)),
                self.window.inner_size(),
            ));
            self.window
                .set_fullscreen(Some(Fullscreen::Borderless(monitor.clone())));
            // Without a window manager, cover the monitor ourselves.
            if let Some(m) = monitor {
                self.window.set_outer_position(m.position());
                let _ = self.window.request_inner_size(m.size());
            }
            self.window.set_cursor_visible(false);
        }
    }

    /// After a device loss: a new device, surface and every resource, the scene resumed.
    fn recover_device(&mut self) {
        if self
            .recovery_attempt
            .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.recovery_attempt = Some(Instant::now());
        let (gpu, surface) = match App::gpu_with_fallback(&self.window) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::error!("GPU recovery: no new device yet ({e}); retrying");
                return;
            }
        };
        if let Err(e) = self.runtime.recover(&gpu) {
            tracing::error!("GPU recovery: the scene does not build yet ({e}); retrying");
            return;
        }
        let caps = surface.get_capabilities(&gpu.adapter);
        if !caps.formats.contains(&self.config.format)
            && let Some(f) = caps.formats.first()
        {
            self.config.format = *f;
        }
        surface.configure(&gpu.device, &self.config);
        self.surface = surface;
        self.blitter = Blitter::new(&gpu.device);
        self.overlay
            .rebuild(&gpu.device, self.config.format, &self.window);
        self.grabber = Grabber::new();
        self.shot_target = None;
        self.gpu = gpu;
        self.show.cancel_loading();
        self.recovery_attempt = None;
        tracing::info!("GPU recovered: {}", self.gpu.describe());
    }

    /// Reloads the files on show now (the R key, SIGHUP), logging `why`.
    fn reload_now(&mut self, why: &str) {
        tracing::info!("{why}: reloading {}", self.show.current_path().display());
        if self.reload.is_none() {
            let path = self.show.current_path().to_path_buf();
            self.reload = Some(HotReload::new(&path, &self.runtime));
        }
        if let Some(reload) = &mut self.reload {
            reload.request(&self.runtime);
        }
    }

    /// Renders and presents one frame. Returns false when the frame was skipped.
    fn draw(&mut self, options: &RunOptions) -> bool {
        if self.gpu.is_lost() {
            self.recover_device();
            return false;
        }
        if options
            .lose_device
            .as_ref()
            .is_some_and(|f| f.swap(false, std::sync::atomic::Ordering::AcqRel))
        {
            tracing::warn!("SIGUSR1 with --debug-lose-device-on-usr1: destroying the GPU device");
            self.gpu.device.destroy();
            return false;
        }
        if let Some(reload) = &mut self.reload
            && reload.poll(&self.gpu, &mut self.runtime) == ReloadEvent::Applied
        {
            self.window
                .set_title(&format!("hypna — {}", self.runtime.scene.name));
        }
        self.grabber.collect();
        let frame = match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t)
            | wgpu::CurrentSurfaceTexture::Suboptimal(t) => t,
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                tracing::info!("surface outdated or lost: reconfiguring");
                self.surface.configure(&self.gpu.device, &self.config);
                return false;
            }
            wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => {
                return false;
            }
            wgpu::CurrentSurfaceTexture::Validation => {
                // Device-lost callbacks run from polls: make sure one runs now.
                let _ = self.gpu.device.poll(wgpu::PollType::Poll);
                self.surface_errors += 1;
                if self.surface_errors == 1 {
                    tracing::warn!("surface validation error: reconfiguring");
                }
                if self.surface_errors >= 30 && !self.gpu.is_lost() {
                    tracing::error!(
                        "the surface keeps failing ({} times): treating the device as lost",
                        self.surface_errors
                    );
                    self.gpu
                        .lost
                        .store(true, std::sync::atomic::Ordering::Release);
                }
                self.surface.configure(&self.gpu.device, &self.config);
                return false;
            }
        };
        self.surface_errors = 0;
        let now = Instant::now();
        if let Some(last) = self.last_frame {
            self.frame_times
                .push(now.duration_since(last).as_secs_f32() * 1000.0);
        }
        self.last_frame = Some(now);
        let view = frame
            .texture
            .create_view(&wgpu::TextureViewDescriptor::default());
        let mut encoder = self
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("window.frame"),
            });
        // GPU pass times cost queries and readbacks: only while the HUD shows them.
        if self.overlay.hud != self.runtime.timing() {
            if self.overlay.hud {
                self.runtime.enable_timing(&self.gpu);
            } else {
                self.runtime.disable_timing();
            }
        }
        let t = self.clock.tick();
        if let ShowEvent::Switched(path) = self.show.before_frame(&self.gpu, &mut self.runtime, t) {
            self.window
                .set_title(&format!("hypna — {}", self.runtime.scene.name));
            if let Some(reload) = &mut self.reload {
                reload.retarget(&path, &self.runtime);
            }
        }
        self.runtime.encode_frame(&self.gpu, &mut encoder, t);
        let uptime = self.started.elapsed().as_secs_f64();
        if self.health.due(uptime) {
            tracing::info!("{}", self.runtime.health(uptime, self.show.is_open()));
        }
        if let (Some(src), Some((size, format))) =
            (self.runtime.output_view(), self.runtime.output_info())
        {
            self.blitter.blit(
                &self.gpu.device,
                &mut encoder,
                src,
                size,
                format,
                &view,
                [self.config.width, self.config.height],
                self.config.format,
                self.fit,
            );
            if self.shot_requested {
                self.shot_requested = false;
                self.record_screenshot(&mut encoder, options, t.frame);
            }
        }
        if !options.kiosk {
            self.draw_overlay(&mut encoder, &view);
        }
        if let Some(capture) = &options.capture
            && self.can_capture
            && self.presented.is_multiple_of(capture.every.max(1))
        {
            let path = capture
                .dir
                .join(format!("window_{:05}.png", self.presented));
            let bgra = matches!(
                self.config.format,
                wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
            );
            if !self.grabber.record(
                &self.gpu.device,
                &mut encoder,
                &frame.texture,
                self.presented,
                path,
                bgra,
            ) {
                tracing::debug!("capture of frame {} skipped: readback busy", self.presented);
            }
        }
        self.gpu.queue.submit([encoder.finish()]);
        self.runtime.after_submit(&self.gpu);
        self.grabber.after_submit();
        self.window.pre_present_notify();
        self.gpu.queue.present(frame);
        self.presented += 1;
        true
    }

    /// Draws the HUD, panel, help and error banner over the presented image (never into the
    /// internal render), and queues slider changes for the next frame.
    fn draw_overlay(&mut self, encoder: &mut wgpu::CommandEncoder, view: &wgpu::TextureView) {
        // A failed hot reload, else a playlist entry that did not load.
        let errors = match self.reload.as_ref().map(HotReload::errors) {
            Some(errors) if !errors.is_empty() => errors,
            _ => self.show.errors(),
        };
        let probe = OverlayData {
            errors,
            ..OverlayData::empty(&self.frame_times)
        };
        if !self.overlay.visible(&probe) {
            return;
        }
        let gpu_passes: Vec<(String, f32)> = self
            .runtime
            .chain()
            .pass_times()
            .map(|(n, ms)| (n.to_string(), ms))
            .collect();
        let rates = self.runtime.model_rates();
        let stats: Vec<_> = self
            .runtime
            .nodes()
            .iter()
            .map(crate::model::node::ModelNode::worker_stats)
            .collect();
        let state_words: Vec<String> = stats.iter().map(|s| model_state(&s.state)).collect();
        let models: Vec<ModelStatus<'_>> = self
            .runtime
            .nodes()
            .iter()
            .zip(&stats)
            .zip(&state_words)
            .enumerate()
            .map(|(i, ((node, st), state))| ModelStatus {
                name: node.name(),
                rate_hz: rates.get(i).copied().unwrap_or(0.0),
                latency_ms: st.last_run.map_or(0.0, |d| d.as_secs_f32() * 1000.0),
                errors: st.error_total(),
                state,
            })
            .collect();
        let audio_state = self.runtime.audio_state();
        let audio = self.runtime.audio_features().map(|f| AudioStatus {
            device: &audio_state,
            level_db: f.level_db,
            peak: f.peak,
            bpm: (f.bpm > 0.0).then_some(f.bpm),
            beat: f.beat > 0.5,
        });
        let osc_info = self.runtime.osc_status();
        let listen = osc_info
            .as_ref()
            .map(|(addr, _)| addr.to_string())
            .unwrap_or_default();
        let osc = osc_info.as_ref().map(|(_, counters)| {
            let messages = counters.get(crate::osc::Counter::Messages);
            let (last, at, rate) = &mut self.osc_rate;
            let elapsed = at.elapsed().as_secs_f32();
            if elapsed >= 1.0 {
                *rate = messages.saturating_sub(*last) as f32 / elapsed;
                *last = messages;
                *at = Instant::now();
            }
            OscStatus {
                listen: &listen,
                messages_per_sec: *rate,
                dropped: counters.problems(),
            }
        });
        let targets: Vec<f32> = self.runtime.params.targets().map(|(_, v)| v).collect();
        let data = OverlayData {
            fps: self.runtime.fps(),
            frame_times: &self.frame_times,
            gpu_passes: &gpu_passes,
            models: &models,
            audio,
            osc,
            scene: &self.runtime.scene.name,
            internal_size: self.runtime.chain().scene_size(),
            errors,
            params: &self.runtime.scene.params,
            targets: &targets,
        };
        self.overlay.draw(
            &self.gpu.device,
            &self.gpu.queue,
            encoder,
            view,
            [self.config.width, self.config.height],
            self.window.scale_factor() as f32,
            &data,
            &mut self.changes,
        );
        for change in self.changes.drain(..) {
            self.runtime.set_from_ui(&change.name, change.value);
        }
    }

    /// Records the internal render (never the overlay) into the grabber as a PNG.
    fn record_screenshot(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        options: &RunOptions,
        frame: u64,
    ) {
        let (Some(src), Some((size, format))) =
            (self.runtime.output_view(), self.runtime.output_info())
        else {
            return;
        };
        if self
            .shot_target
            .as_ref()
            .is_none_or(|t| [t.width(), t.height()] != size)
        {
            self.shot_target = Some(crate::render::texture_2d(
                &self.gpu.device,
                "window.screenshot",
                size,
                wgpu::TextureFormat::Rgba8Unorm,
                wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            ));
        }
        let Some(target) = &self.shot_target else {
            return;
        };
        let target_view = target.create_view(&wgpu::TextureViewDescriptor::default());
        self.blitter.blit(
            &self.gpu.device,
            encoder,
            src,
            size,
            format,
            &target_view,
            size,
            wgpu::TextureFormat::Rgba8Unorm,
            Fit::Fill,
        );
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let stem = self
            .runtime
            .scene
            .path
            .file_stem()
            .map_or_else(|| "scene".into(), |s| s.to_string_lossy().into_owned());
        let path = options
            .screenshot_dir
            .join(format!("hypna-{stem}-{stamp}-{frame:06}.png"));
        // Frame numbers of screenshots and captures share the grabber: offset them.
        let key = frame | (1 << 62);
        if !self
            .grabber
            .record(&self.gpu.device, encoder, target, key, path, false)
        {
            tracing::warn!("screenshot skipped: the previous one is still being read back");
        }
    }

    fn finish(&mut self, options: &RunOptions) {
        self.grabber.finish(&self.gpu.device);
        if options.remember_window {
            let size = self.window.inner_size();
            let position = self
                .window
                .outer_position()
                .unwrap_or(PhysicalPosition::new(0, 0));
            WindowMemory {
                x: position.x,
                y: position.y,
                width: size.width,
                height: size.height,
                fullscreen: self.window.fullscreen().is_some(),
            }
            .save();
        }
    }
}

impl App {
    fn key(&mut self, event_loop: &ActiveEventLoop, key: &Key) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        if self.options.kiosk {
            return;
        }
        match key {
            Key::Named(NamedKey::Escape) => event_loop.exit(),
            Key::Named(NamedKey::ArrowRight | NamedKey::PageDown) => {
                let now = state.runtime_time();
                state.show.next(&state.gpu, &state.runtime, now);
            }
            Key::Named(NamedKey::ArrowLeft | NamedKey::PageUp) => {
                let now = state.runtime_time();
                state.show.previous(&state.gpu, &state.runtime, now);
            }
            Key::Character(c) => match c.to_lowercase().as_str() {
                "f" => state.toggle_fullscreen(),
                "r" => state.reload_now("reload requested"),
                "s" => state.shot_requested = true,
                "h" => state.overlay.hud = !state.overlay.hud,
                "p" => state.overlay.panel = !state.overlay.panel,
                "?" | "/" => state.overlay.help = !state.overlay.help,
                _ => {}
            },
            _ => {}
        }
    }
}

impl ApplicationHandler for App {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.state.is_some() {
            return;
        }
        match self.start(event_loop) {
            Ok(state) => {
                state.window.request_redraw();
                self.state = Some(state);
            }
            Err(e) => {
                self.error = Some(e);
                event_loop.exit();
            }
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        if !self.options.kiosk && state.overlay.on_window_event(&state.window, &event) {
            return;
        }
        match event {
            WindowEvent::CloseRequested => {
                if self.options.kiosk {
                    tracing::info!("close request ignored in kiosk mode (SIGTERM stops hypna)");
                } else {
                    event_loop.exit();
                }
            }
            WindowEvent::KeyboardInput {
                event:
                    KeyEvent {
                        logical_key,
                        state: ElementState::Pressed,
                        repeat: false,
                        ..
                    },
                // Keys "pressed" when focus arrives are replayed as synthetic events: not
                // a key press by anyone.
                is_synthetic: false,
                ..
            } => self.key(event_loop, &logical_key),
            WindowEvent::Resized(size) => {
                state.resize(size.width, size.height, self.options.follow_window);
            }
            WindowEvent::Occluded(hidden) => state.hidden = hidden,
            WindowEvent::RedrawRequested => {
                if state.hidden {
                    return;
                }
                if let Some(bench) = &mut self.bench {
                    match bench.step(state, &self.options) {
                        Ok(false) => {}
                        Ok(true) => event_loop.exit(),
                        Err(e) => {
                            self.error = Some(e);
                            event_loop.exit();
                        }
                    }
                    return;
                }
                state.draw(&self.options);
                if self.options.frames.is_some_and(|n| state.presented >= n) {
                    tracing::info!("presented {} frames: quitting", state.presented);
                    event_loop.exit();
                }
            }
            _ => {}
        }
    }

    fn about_to_wait(&mut self, event_loop: &ActiveEventLoop) {
        if self
            .options
            .stop
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
        {
            tracing::info!("stop signal received: shutting down");
            event_loop.exit();
            return;
        }
        if let Some(state) = &mut self.state
            && self
                .options
                .hangup
                .as_ref()
                .is_some_and(|f| f.swap(false, std::sync::atomic::Ordering::AcqRel))
        {
            state.reload_now("SIGHUP");
        }
        if let Some(state) = &self.state {
            if state.show.dark(&state.runtime) && !state.hidden {
                // Closed hours, output black: a few cheap frames a second notice the opening.
                event_loop.set_control_flow(ControlFlow::WaitUntil(
                    Instant::now() + Duration::from_millis(100),
                ));
                state.window.request_redraw();
            } else if state.hidden {
                // Nothing is visible: wake up now and then (to notice a restore) instead of
                // spinning.
                event_loop.set_control_flow(ControlFlow::WaitUntil(
                    Instant::now() + Duration::from_millis(100),
                ));
            } else {
                event_loop.set_control_flow(ControlFlow::Poll);
                state.window.request_redraw();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(index: usize, name: &str) -> MonitorInfo {
        MonitorInfo {
            index,
            name: name.into(),
            size: [1920, 1080],
            position: [0, 0],
            refresh_hz: Some(60.0),
            primary: index == 0,
        }
    }

    #[test]
    fn monitors_are_chosen_by_index_or_name() {
        let monitors = [
            monitor(0, "eDP-1"),
            monitor(1, "HDMI-A-1 (Gallery projector)"),
        ];
        assert_eq!(choose_monitor(&monitors, "1"), Some(1));
        assert_eq!(choose_monitor(&monitors, "0"), Some(0));
        assert_eq!(choose_monitor(&monitors, "hdmi"), Some(1));
        assert_eq!(choose_monitor(&monitors, "projector"), Some(1));
        assert_eq!(choose_monitor(&monitors, "DP-2"), None);
        assert_eq!(choose_monitor(&monitors, "7"), None);
        assert_eq!(
            monitors[1].to_string(),
            "[1] HDMI-A-1 (Gallery projector): 1920x1080 at 0,0, 60.00 Hz"
        );
    }
}
