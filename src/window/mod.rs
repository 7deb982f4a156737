//! The live window (winit): presents the show every frame, scaled to fit, on any monitor,
//! windowed or borderless fullscreen, with the overlay (HUD, error banner, parameter panel,
//! key help) on top. Keys: F fullscreen, H HUD, P parameter panel, R reload, S screenshot,
//! ←/→ playlist entries, ? help, Esc quit (none of them in kiosk mode).
//!
//! - `app`: the event loop and the frame ([`Live`]); hot reload and the show run inside it.
//! - [`monitors`]: listing and choosing monitors, the remembered window placement.
//! - `capture`: screenshots and captured frames, read back and written without waiting.
//! - `thumbnail`: small read-back copies of the output for the browser remote.
//! - `hud`: what the overlay shows, gathered from the runtime each frame it is visible.
//! - [`overlay`]: the egui overlay itself.
//!
//! A [`FrameHook`] plugs in from above: operations (health line, param log, memory janitor)
//! and the window benchmark drive the window through it; the window imports neither.

mod app;
mod capture;
mod hud;
pub mod monitors;
pub mod overlay;
mod thumbnail;

use std::path::PathBuf;
use std::sync::Arc;

pub use app::Live;
pub use hud::model_state;
pub use monitors::{MonitorInfo, choose_monitor, list_monitors};

use crate::render::blit::Fit;
use crate::render::context::GpuError;
use crate::runtime::{LoadError, RuntimeOptions};

/// Errors that end the live window (`hypna run`, `hypna bench --window`).
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
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
    pub(crate) fn mode(self) -> wgpu::PresentMode {
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
            lose_device: None,
            hangup: None,
        }
    }
}

/// What a [`FrameHook`] wants after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep the window open.
    Continue,
    /// Close the window (the run ends normally).
    Exit,
}

/// What drives the live window's frames, plugged in from above the window: housekeeping
/// beside the show, or a benchmark taking over each redraw.
pub trait FrameHook {
    /// Once, when the window is open and the first scene plays.
    ///
    /// # Errors
    /// An error ends the run with it.
    fn started(&mut self, _live: &mut Live) -> Result<(), WindowError> {
        Ok(())
    }

    /// On each redraw of a visible window. The default draws and presents one frame of the
    /// show ([`Live::draw`]).
    ///
    /// # Errors
    /// An error ends the run with it.
    fn redraw(&mut self, live: &mut Live) -> Result<Flow, WindowError> {
        live.draw();
        Ok(Flow::Continue)
    }
}

/// No hook: the window plays the show and nothing else.
#[derive(Debug, Clone, Copy, Default)]
pub struct JustTheShow;

impl FrameHook for JustTheShow {}

/// Opens a window and plays the scene or playlist of `options` until it is closed (or
/// `frames` are presented), calling `hook` for every frame.
///
/// # Errors
/// When there is no display, no GPU, or the scene does not load; or what `hook` returns.
pub fn run(options: RunOptions, hook: &mut dyn FrameHook) -> Result<(), WindowError> {
    app::run(options, hook)
}
