//! The event loop and the window's frame.
//!
//! - Hot reload ([`crate::show::reload`]) swaps in changed scenes, shaders and models; a bad
//!   change keeps the last good version and shows its errors on screen until fixed.
//! - Surface `Outdated`/`Lost` is reconfigured, not fatal; a lost device is rebuilt (retried
//!   every second).
//! - The show never depends on the window being seen: while it is hidden (covered,
//!   minimised, occluded) the event loop plays the show offscreen every
//!   [`OFFSCREEN_INTERVAL`], and so it does when a visible window got no redraw for
//!   [`REDRAW_STALL`] (a compositor that stops asking for frames). An offscreen frame is the
//!   whole frame (OSC, `/hypna/status`, models, playlist clock, hot reload, the hook's health
//!   line) without a surface image: nothing is acquired, blitted or presented.
//! - The overlay is drawn on the presented image only: screenshots (S) and headless renders
//!   come from the internal render and never contain it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use winit::application::ApplicationHandler;
use winit::dpi::{PhysicalPosition, PhysicalSize};
use winit::event::{ElementState, KeyEvent, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::keyboard::{Key, NamedKey};
use winit::monitor::MonitorHandle;
use winit::window::{Fullscreen, Window, WindowId};

use super::capture::Capture;
use super::hud::{Hud, Target};
use super::monitors::{MonitorInfo, WindowMemory, choose_monitor, monitor_info};
use super::overlay::{LearnRequest, Overlay};
use super::record::Recorder;
use super::thumbnail::Thumbnails;
use super::{Flow, FrameHook, RunOptions, WindowError};
use crate::clock::Clock;
use crate::render::blit::Blitter;
use crate::render::context::{Gpu, GpuError, new_instance};
use crate::render::png::Pixels;
use crate::runtime::{Runtime, Submit};
use crate::show::reload::{HotReload, ReloadEvent};
use crate::show::{Show, ShowEvent};

/// While nothing can be presented the show plays on offscreen, one frame per interval
/// (20 frames a second): time, OSC, status replies, models, playlists and hot reload go on
/// (as a media player keeps playing when its window is covered), at a fraction of the cost
/// of full-rate frames nobody sees (as browsers throttle hidden tabs).
pub const OFFSCREEN_INTERVAL: Duration = Duration::from_millis(50);

/// A window that looks visible but got no redraw for this long (a compositor that stopped
/// asking for frames without saying the window is hidden) plays one frame offscreen, and
/// another each time this passes again without a redraw. Long enough that a busy machine
/// never mistakes a slow frame for it.
pub const REDRAW_STALL: Duration = Duration::from_secs(1);

/// What the window system said about the window's visibility.
#[derive(Debug, Clone, Copy, Default)]
struct Visibility {
    /// Fully covered (`Occluded`).
    occluded: bool,
    /// No area (minimised on some platforms).
    zero_size: bool,
}

impl Visibility {
    /// Nothing of the window can be seen.
    fn hidden(self) -> bool {
        self.occluded || self.zero_size
    }
}

/// Why [`Live::draw`] has no surface image this frame.
enum NoImage {
    /// The surface was reconfigured (outdated, lost, a validation error): try again next
    /// frame.
    Reconfigured,
    /// The surface cannot give an image now (timed out, occluded).
    Unpresentable,
}

/// The open window and everything that plays in it; what a [`FrameHook`] gets.
pub struct Live {
    window: Arc<Window>,
    surface: wgpu::Surface<'static>,
    config: wgpu::SurfaceConfiguration,
    gpu: Gpu,
    runtime: Runtime,
    /// The scene or playlist being played.
    show: Show,
    reload: Option<HotReload>,
    options: RunOptions,
    blitter: Blitter,
    clock: Clock,
    presented: u64,
    capture: Capture,
    /// Live recording and streaming.
    recorder: Recorder,
    /// A screenshot was asked for: taken with the next frame.
    shot_requested: bool,
    /// Thumbnails of the output for the browser remote.
    thumbnails: Thumbnails,
    /// A thumbnail of this width was asked for: copied with the next frame.
    thumbnail_width: Option<u32>,
    /// Whether the window can be seen (hidden: nothing is presented, the show plays on
    /// offscreen).
    visibility: Visibility,
    /// The next [`Live::draw`] plays offscreen (no frame was asked for in time).
    offscreen: bool,
    /// Surface textures can be copied (window capture).
    can_capture: bool,
    last_frame: Option<Instant>,
    overlay: Overlay,
    hud: Hud,
    /// The last attempt at rebuilding after a device loss (retried every second).
    recovery_attempt: Option<Instant>,
    /// Surface acquisitions failing in a row.
    surface_errors: u32,
    /// Where the window was before going fullscreen (restored when leaving).
    windowed: Option<(PhysicalPosition<i32>, PhysicalSize<u32>)>,
}

/// A failed hot reload, else a playlist entry that did not load.
fn errors_on_show<'a>(
    reload: Option<&'a HotReload>,
    show: &'a Show,
) -> &'a [crate::diag::Diagnostic] {
    match reload.map(HotReload::errors) {
        Some(errors) if !errors.is_empty() => errors,
        _ => show.errors(),
    }
}

struct App<'h> {
    options: RunOptions,
    live: Option<Live>,
    /// When the hook last played a frame (presented or offscreen).
    last_played: Option<Instant>,
    error: Option<WindowError>,
    hook: &'h mut dyn FrameHook,
}

/// Runs the event loop over a fresh [`App`] until it exits; see [`super::run`].
pub(super) fn run(options: RunOptions, hook: &mut dyn FrameHook) -> Result<(), WindowError> {
    let event_loop = EventLoop::new().map_err(|e| WindowError::EventLoop(e.to_string()))?;
    event_loop.set_control_flow(ControlFlow::Poll);
    let mut app = App {
        options,
        live: None,
        last_played: None,
        error: None,
        hook,
    };
    event_loop
        .run_app(&mut app)
        .map_err(|e| WindowError::EventLoop(e.to_string()))?;
    if let Some(live) = &mut app.live {
        live.finish();
    }
    match app.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

impl App<'_> {
    /// One frame through the hook (presented, or offscreen when the window is hidden or
    /// `live.offscreen` is set); ends the loop when the hook or `--frames` says so.
    fn play(&mut self, event_loop: &ActiveEventLoop) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        match self.hook.redraw(live) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Exit) => event_loop.exit(),
            Err(e) => {
                self.error = Some(e);
                event_loop.exit();
            }
        }
        // A hook that did not draw leaves the request for the next frame: drop it.
        live.offscreen = false;
        self.last_played = Some(Instant::now());
        if self.options.frames.is_some_and(|n| live.presented >= n) {
            tracing::info!("presented {} frames: quitting", live.presented);
            event_loop.exit();
        }
    }

    fn start(&mut self, event_loop: &ActiveEventLoop) -> Result<Live, WindowError> {
        let options = &self.options;
        // The window opens at the first scene's size (a playlist: its first entry's).
        let first_scene = if crate::show::playlist::is_playlist(&options.scene) {
            crate::show::playlist::Playlist::load(&options.scene)
                .ok()
                .and_then(|p| p.entries.first().map(|e| e.scene.clone()))
        } else {
            Some(options.scene.clone())
        };
        let scene_size = first_scene
            .and_then(|p| crate::scene::Scene::read(&p).ok())
            .map_or([1280, 720], |s| s.size);
        let size = options.runtime.size.unwrap_or(scene_size);
        let primary = event_loop.primary_monitor();
        let monitors: Vec<(MonitorHandle, MonitorInfo)> = event_loop
            .available_monitors()
            .enumerate()
            .map(|(i, m)| {
                let info = monitor_info(i, &m, primary.as_ref());
                (m, info)
            })
            .collect();
        let monitor = match &options.monitor {
            Some(choice) => {
                let infos: Vec<MonitorInfo> = monitors.iter().map(|(_, i)| i.clone()).collect();
                let i = choose_monitor(&infos, choice)
                    .ok_or_else(|| WindowError::Monitor(choice.clone()))?;
                monitors.get(i).map(|(m, _)| m.clone())
            }
            None => None,
        };
        let memory = if options.remember_window {
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
        let fullscreen = options.fullscreen || memory.is_some_and(|m| m.fullscreen);
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
                .map_err(|e| WindowError::Surface(e.to_string()))?,
        );
        window.set_cursor_visible(!(fullscreen || options.kiosk));
        let (gpu, surface) = gpu_with_fallback(&window)?;
        tracing::info!("GPU: {}", gpu.describe());
        let inner = window.inner_size();
        let mut config = surface
            .get_default_config(&gpu.adapter, inner.width.max(1), inner.height.max(1))
            .ok_or_else(|| {
                WindowError::Surface("the adapter cannot present to this window".into())
            })?;
        // Shaders write display-referred values (like the headless PNGs), so present without
        // an sRGB re-encode when the surface allows it.
        let caps = surface.get_capabilities(&gpu.adapter);
        if let Some(f) = caps.formats.iter().copied().find(|f| !f.is_srgb()) {
            config.format = f;
        }
        let wanted = options.present.mode();
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
        if options.capture.is_some() {
            if can_capture {
                config.usage |= wgpu::TextureUsages::COPY_SRC;
            } else {
                tracing::warn!("this surface cannot be copied: --capture writes nothing");
            }
        }
        surface.configure(&gpu.device, &config);
        let mut runtime_options = options.runtime.clone();
        if options.follow_window {
            runtime_options.size = Some([inner.width.max(1), inner.height.max(1)]);
        }
        let (show, runtime) = Show::open(&gpu, &options.scene, &runtime_options)?;
        window.set_title(&format!("hypna — {}", runtime.scene().name));
        tracing::info!(
            "running {} at {}x{} ({:?}, {:?})",
            runtime.scene().name,
            runtime.chain().scene_size()[0],
            runtime.chain().scene_size()[1],
            config.present_mode,
            config.format
        );
        let reload = options
            .watch
            .then(|| HotReload::new(show.current_path(), &runtime));
        let blitter = Blitter::new(&gpu.device);
        let mut overlay = Overlay::new(&gpu.device, config.format);
        overlay.attach(&window);
        overlay.hud = options.hud && !options.kiosk;
        let clock = match options.fixed_fps {
            Some(fps) => Clock::fixed(fps),
            None => Clock::real(),
        };
        let recorder = Recorder::new(options.record.clone(), &options.screenshot_dir);
        let mut live = Live {
            window,
            surface,
            config,
            gpu,
            runtime,
            show,
            reload,
            options: options.clone(),
            blitter,
            clock,
            presented: 0,
            capture: Capture::new(),
            recorder,
            shot_requested: false,
            thumbnails: Thumbnails::default(),
            thumbnail_width: None,
            visibility: Visibility::default(),
            offscreen: false,
            can_capture,
            last_frame: None,
            overlay,
            hud: Hud::new(),
            recovery_attempt: None,
            surface_errors: 0,
            windowed: None,
        };
        if live.recorder.starts_at_launch() {
            live.start_recording();
        }
        Ok(live)
    }

    fn key(&mut self, event_loop: &ActiveEventLoop, key: &Key) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        if self.options.kiosk {
            return;
        }
        match key {
            Key::Named(NamedKey::Escape) => event_loop.exit(),
            Key::Named(NamedKey::ArrowRight | NamedKey::PageDown) => {
                let now = live.runtime.show_time().time_secs;
                live.show.next(&live.gpu, &live.runtime, now);
            }
            Key::Named(NamedKey::ArrowLeft | NamedKey::PageUp) => {
                let now = live.runtime.show_time().time_secs;
                live.show.previous(&live.gpu, &live.runtime, now);
            }
            Key::Character(c) => match c.to_lowercase().as_str() {
                "f" => live.toggle_fullscreen(),
                "r" => live.reload_now("reload requested"),
                "s" => live.shot_requested = true,
                "v" => live.recorder.toggle(&live.runtime),
                "h" => live.overlay.hud = !live.overlay.hud,
                "p" => live.overlay.panel = !live.overlay.panel,
                "?" | "/" => live.overlay.help = !live.overlay.help,
                _ => {}
            },
            _ => {}
        }
    }
}

/// A device and surface for `window` on the primary backends, else on all of them (unless
/// `WGPU_BACKEND` chose the backends).
fn gpu_with_fallback(window: &Arc<Window>) -> Result<(Gpu, wgpu::Surface<'static>), WindowError> {
    match gpu_for(window, false) {
        Err(WindowError::Gpu(GpuError::NoAdapter(_)))
            if std::env::var_os("WGPU_BACKEND").is_none() =>
        {
            gpu_for(window, true)
        }
        other => other,
    }
}

fn gpu_for(window: &Arc<Window>, all: bool) -> Result<(Gpu, wgpu::Surface<'static>), WindowError> {
    let instance = new_instance(all);
    let surface = instance
        .create_surface(Arc::clone(window))
        .map_err(|e| WindowError::Surface(e.to_string()))?;
    let gpu = Gpu::from_instance(instance, Some(&surface))?;
    Ok((gpu, surface))
}

impl Live {
    /// Reloads the files on show now (the R key, SIGHUP), logging `why`.
    fn reload_now(&mut self, why: &str) {
        tracing::info!("{why}: reloading {}", self.show.current_path().display());
        let runtime = &self.runtime;
        let path = self.show.current_path();
        self.reload
            .get_or_insert_with(|| HotReload::new(path, runtime))
            .request(runtime);
    }

    /// The GPU the window presents with.
    #[must_use]
    pub fn gpu(&self) -> &Gpu {
        &self.gpu
    }

    /// The runtime playing in the window.
    #[must_use]
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The runtime playing in the window, to change (a param sink, params).
    pub fn runtime_mut(&mut self) -> &mut Runtime {
        &mut self.runtime
    }

    /// The show (which scene plays when).
    #[must_use]
    pub fn show(&self) -> &Show {
        &self.show
    }

    /// The errors on show: a failed hot reload, else a playlist entry that did not load.
    #[must_use]
    pub fn errors(&self) -> &[crate::diag::Diagnostic] {
        errors_on_show(self.reload.as_ref(), &self.show)
    }

    /// The show, to ask it something that reads its clock (the schedule's next change).
    pub fn show_mut(&mut self) -> &mut Show {
        &mut self.show
    }

    /// Takes a screenshot of the internal render with the next frame (as the S key does).
    pub fn request_screenshot(&mut self) {
        self.shot_requested = true;
    }

    /// Copies the output, scaled to `width` pixels wide, with the next frame; the image is
    /// read back without waiting and comes out of a later [`Self::take_thumbnail`].
    pub fn request_thumbnail(&mut self, width: u32) {
        self.thumbnail_width = Some(width);
    }

    /// The newest thumbnail read back (tightly packed RGBA8), if one arrived since the last
    /// call.
    pub fn take_thumbnail(&mut self) -> Option<crate::render::readback::ReadImage> {
        self.thumbnails.take()
    }

    /// Starts recording (or streaming) the output as `run --record`/`--stream` or the V key
    /// would; nothing when a recording runs.
    pub fn start_recording(&mut self) {
        self.recorder.start(&self.runtime);
    }

    /// Stops the recording (the file is closed on a thread of its own).
    pub fn stop_recording(&mut self) {
        self.recorder.stop();
    }

    /// Stops the recording and waits until its file is closed (benchmarks, tests).
    pub fn finish_recording(&mut self) {
        self.recorder.finish(&self.gpu);
    }

    /// Whether a recording runs.
    #[must_use]
    pub fn recording(&self) -> bool {
        self.recorder.recording()
    }

    /// Frames the running recording dropped (readback busy, encoder behind).
    #[must_use]
    pub fn recording_dropped(&self) -> u64 {
        self.recorder.dropped()
    }

    /// Frames presented so far.
    #[must_use]
    pub fn presented(&self) -> u64 {
        self.presented
    }

    /// The surface: `WIDTHxHEIGHT, present mode, format`.
    #[must_use]
    pub fn describe_surface(&self) -> String {
        format!(
            "{}x{}, {:?}, {:?}",
            self.config.width, self.config.height, self.config.present_mode, self.config.format
        )
    }

    /// Sets the visibility, logging when the window is hidden or visible again.
    fn set_visibility(&mut self, visibility: Visibility) {
        if visibility.hidden() != self.visibility.hidden() {
            if visibility.hidden() {
                tracing::info!(
                    "window hidden: the show plays on offscreen, {} frames a second",
                    1000 / OFFSCREEN_INTERVAL.as_millis()
                );
            } else {
                tracing::info!("window visible again");
            }
        }
        self.visibility = visibility;
    }

    fn resize(&mut self, width: u32, height: u32) {
        self.set_visibility(Visibility {
            zero_size: width == 0 || height == 0,
            ..self.visibility
        });
        if self.visibility.zero_size {
            return;
        }
        self.config.width = width;
        self.config.height = height;
        self.surface.configure(&self.gpu.device, &self.config);
        if self.options.follow_window
            && let Err(e) = self.runtime.resize(&self.gpu, [width, height])
        {
            tracing::error!("cannot render at {width}x{height}: {e}");
        }
    }

    fn toggle_fullscreen(&mut self) {
        let on = self.window.fullscreen().is_none();
        tracing::info!("fullscreen {}", if on { "on" } else { "off" });
        if on {
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
                self.request_inner_size(m.size());
            }
            self.window.set_cursor_visible(false);
        } else {
            self.window.set_fullscreen(None);
            if let Some((position, size)) = self.windowed.take() {
                self.window.set_outer_position(position);
                self.request_inner_size(size);
            }
            self.window.set_cursor_visible(true);
        }
    }

    /// Asks for a new inner size; the answer comes as a `Resized` event (or now, where the
    /// platform resizes at once, which that event reports as well).
    fn request_inner_size(&self, size: PhysicalSize<u32>) {
        if let Some(now) = self.window.request_inner_size(size) {
            tracing::debug!("window resized at once to {}x{}", now.width, now.height);
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
        let (gpu, surface) = match gpu_with_fallback(&self.window) {
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
        self.capture.reset();
        self.thumbnails.reset();
        self.recorder.reset(&gpu);
        self.gpu = gpu;
        self.show.cancel_loading();
        self.recovery_attempt = None;
        tracing::info!("GPU recovered: {}", self.gpu.describe());
    }

    /// The surface texture to draw this frame into, or why there is none.
    fn acquire(&mut self) -> Result<wgpu::SurfaceTexture, NoImage> {
        match self.surface.get_current_texture() {
            wgpu::CurrentSurfaceTexture::Success(t)
            | wgpu::CurrentSurfaceTexture::Suboptimal(t) => {
                self.surface_errors = 0;
                Ok(t)
            }
            wgpu::CurrentSurfaceTexture::Outdated | wgpu::CurrentSurfaceTexture::Lost => {
                tracing::info!("surface outdated or lost: reconfiguring");
                self.surface.configure(&self.gpu.device, &self.config);
                Err(NoImage::Reconfigured)
            }
            wgpu::CurrentSurfaceTexture::Timeout | wgpu::CurrentSurfaceTexture::Occluded => {
                Err(NoImage::Unpresentable)
            }
            wgpu::CurrentSurfaceTexture::Validation => {
                // Device-lost callbacks run from polls: make sure one runs now.
                self.gpu.poll();
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
                Err(NoImage::Reconfigured)
            }
        }
    }

    /// Whether the window is minimised or fully hidden (nothing is presented then; the show
    /// plays on offscreen).
    #[must_use]
    pub fn hidden(&self) -> bool {
        self.visibility.hidden()
    }

    /// The clock's next time, and the show's move to it (playlist durations, OSC scene
    /// requests, the schedule, a loaded scene switched in).
    fn advance(&mut self) -> crate::clock::FrameTime {
        let t = self.clock.tick();
        if let ShowEvent::Switched(path) = self.show.before_frame(&self.gpu, &mut self.runtime, t) {
            self.window
                .set_title(&format!("hypna — {}", self.runtime.scene().name));
            if let Some(reload) = &mut self.reload {
                reload.retarget(&path, &self.runtime);
            }
        }
        t
    }

    /// One frame of the show without a surface image (hidden window, nothing to present):
    /// everything [`Self::draw`] does except the blit, the overlay and the present.
    fn play_offscreen(&mut self) {
        // The HUD's frame times are of presented frames: restart after the gap.
        self.last_frame = None;
        let t = self.advance();
        self.runtime
            .frame(&self.gpu, t, "window.offscreen", Submit::Go, |_, _| {});
    }

    /// Renders and presents one frame of the show. Returns false when nothing was presented:
    /// the frame was skipped (a device or surface being rebuilt), or played offscreen (the
    /// window is hidden, or the surface has no image to give).
    pub fn draw(&mut self) -> bool {
        if self.gpu.is_lost() {
            self.recover_device();
            return false;
        }
        if self
            .options
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
                .set_title(&format!("hypna — {}", self.runtime.scene().name));
        }
        self.capture.collect();
        self.recorder.collect(&self.gpu);
        match self.runtime.take_record_request() {
            Some(true) => self.recorder.start(&self.runtime),
            Some(false) => self.recorder.stop(),
            None => {}
        }
        if self.hidden() || std::mem::take(&mut self.offscreen) {
            self.play_offscreen();
            return false;
        }
        let frame = match self.acquire() {
            Ok(frame) => frame,
            Err(NoImage::Unpresentable) => {
                // The compositor has no image for us now (an acquire timeout): the show
                // goes on without one.
                self.play_offscreen();
                return false;
            }
            Err(NoImage::Reconfigured) => return false,
        };
        let now = Instant::now();
        if let Some(last) = self.last_frame {
            self.hud
                .frame_times
                .push(now.duration_since(last).as_secs_f32() * 1000.0);
        }
        self.last_frame = Some(now);
        let view = frame
            .texture
            .create_view(&wgpu::TextureViewDescriptor::default());
        // GPU pass times cost queries and readbacks: only while the HUD shows them.
        if self.overlay.hud != self.runtime.timing() {
            if self.overlay.hud {
                self.runtime.enable_timing(&self.gpu);
            } else {
                self.runtime.disable_timing();
            }
        }
        let t = self.advance();
        let errors = errors_on_show(self.reload.as_ref(), &self.show);
        let surface_size = [self.config.width, self.config.height];
        let surface_format = self.config.format;
        let shot = std::mem::take(&mut self.shot_requested);
        let thumbnail_width = self.thumbnail_width.take();
        let presented = self.presented;
        let capture_path = self.options.capture.as_ref().and_then(|c| {
            (self.can_capture && presented.is_multiple_of(c.every.max(1)))
                .then(|| c.dir.join(format!("window_{presented:05}.png")))
        });
        let pixels_per_point = self.window.scale_factor() as f32;
        let (gpu, blitter, capture, thumbnails, recorder, overlay, hud, options) = (
            &self.gpu,
            &mut self.blitter,
            &mut self.capture,
            &mut self.thumbnails,
            &mut self.recorder,
            &mut self.overlay,
            &mut self.hud,
            &self.options,
        );
        self.runtime
            .frame(gpu, t, "window.frame", Submit::Go, |encoder, runtime| {
                if let (Some(src), Some((size, format))) =
                    (runtime.output_view(), runtime.output_info())
                {
                    blitter.blit(
                        &gpu.device,
                        encoder,
                        src,
                        size,
                        format,
                        &view,
                        surface_size,
                        surface_format,
                        options.fit,
                    );
                    if let Some(width) = thumbnail_width {
                        thumbnails.record(gpu, encoder, blitter, runtime, width);
                    }
                    if shot {
                        capture.record_screenshot(
                            gpu,
                            encoder,
                            blitter,
                            runtime,
                            &options.screenshot_dir,
                            t.frame,
                        );
                    }
                    recorder.record_copy(gpu, encoder, blitter, runtime, now);
                }
                if !options.kiosk {
                    let mut target = Target {
                        gpu,
                        encoder: &mut *encoder,
                        view: &view,
                        size: surface_size,
                        pixels_per_point,
                    };
                    hud.draw(overlay, &mut target, runtime, errors, recorder.status());
                }
                if let Some(path) = capture_path {
                    let bgra = matches!(
                        surface_format,
                        wgpu::TextureFormat::Bgra8Unorm | wgpu::TextureFormat::Bgra8UnormSrgb
                    );
                    if !capture.record_copy(
                        &gpu.device,
                        encoder,
                        &frame.texture,
                        presented,
                        path,
                        Pixels::Opaque { bgra },
                    ) {
                        tracing::debug!("capture of frame {presented} skipped: readback busy");
                    }
                }
            });
        for change in self.hud.take_changes() {
            self.runtime.queue_param(&change.name, change.value);
        }
        match self.overlay.take_learn() {
            Some(LearnRequest::Start(i)) => {
                let name = self.runtime.scene().params.get(i).map(|p| p.name.clone());
                if let Some(name) = name {
                    self.runtime.midi_learn(Some(&name));
                }
            }
            Some(LearnRequest::Cancel) => {
                self.runtime.midi_learn(None);
            }
            None => {}
        }
        self.capture.after_submit();
        self.thumbnails.after_submit();
        self.recorder.after_submit();
        self.window.pre_present_notify();
        self.gpu.queue.present(frame);
        self.presented += 1;
        true
    }

    /// At exit: the last screenshots and captures written, the window placement saved.
    fn finish(&mut self) {
        self.capture.finish(&self.gpu);
        self.recorder.finish(&self.gpu);
        if self.options.remember_window {
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

impl ApplicationHandler for App<'_> {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.live.is_some() {
            return;
        }
        let started = self
            .start(event_loop)
            .and_then(|mut live| self.hook.started(&mut live).map(|()| live));
        match started {
            Ok(live) => {
                live.window.request_redraw();
                self.live = Some(live);
                self.last_played = Some(Instant::now());
            }
            Err(e) => {
                self.error = Some(e);
                event_loop.exit();
            }
        }
    }

    fn window_event(&mut self, event_loop: &ActiveEventLoop, _id: WindowId, event: WindowEvent) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        if !self.options.kiosk && live.overlay.on_window_event(&live.window, &event) {
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
            WindowEvent::Resized(size) => live.resize(size.width, size.height),
            WindowEvent::Occluded(occluded) => live.set_visibility(Visibility {
                occluded,
                ..live.visibility
            }),
            WindowEvent::RedrawRequested if !live.hidden() => self.play(event_loop),
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
        if let Some(live) = &mut self.live
            && self
                .options
                .hangup
                .as_ref()
                .is_some_and(|f| f.swap(false, std::sync::atomic::Ordering::AcqRel))
        {
            live.reload_now("SIGHUP");
        }
        // No frame in time (a hidden window, or a compositor that stopped sending redraws
        // to a visible one): play one offscreen, so OSC, status, health and playlists go on.
        let now = Instant::now();
        let due = |live: &Live, last: Instant| {
            last + if live.hidden() {
                OFFSCREEN_INTERVAL
            } else {
                REDRAW_STALL
            }
        };
        if let Some(live) = &mut self.live
            && let Some(last) = self.last_played
            && now >= due(live, last)
        {
            live.offscreen = true;
            self.play(event_loop);
        }
        if let Some(live) = &self.live {
            let next_offscreen = due(live, self.last_played.unwrap_or(now));
            if live.hidden() {
                // Nothing is visible: the show plays offscreen at its interval (and notices a
                // restore) instead of spinning.
                event_loop.set_control_flow(ControlFlow::WaitUntil(next_offscreen));
            } else if live.show.dark(&live.runtime) {
                // Closed hours, output black: a few cheap frames a second notice the opening.
                event_loop.set_control_flow(ControlFlow::WaitUntil(
                    Instant::now() + Duration::from_millis(100),
                ));
                live.window.request_redraw();
            } else {
                event_loop.set_control_flow(ControlFlow::Poll);
                live.window.request_redraw();
            }
        }
    }
}
