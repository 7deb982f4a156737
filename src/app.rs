//! The live window (winit): presents the runtime's output every frame, scaled to fit.
//! Surface `Outdated`/`Lost` is reconfigured, not fatal. Fullscreen, monitors, hot reload and
//! the overlay build on this.

use std::path::PathBuf;
use std::sync::Arc;

use winit::application::ApplicationHandler;
use winit::event::{ElementState, KeyEvent, WindowEvent};
use winit::event_loop::{ActiveEventLoop, ControlFlow, EventLoop};
use winit::keyboard::{Key, NamedKey};
use winit::window::{Window, WindowId};

use crate::clock::Clock;
use crate::render::blit::{Blitter, Fit};
use crate::render::context::{Gpu, GpuError, new_instance};
use crate::runtime::{LoadError, Runtime, RuntimeOptions};

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
}

/// What `hypna run` was asked for.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The scene file.
    pub scene: PathBuf,
    /// Size, `--set`s, ONNX Runtime choices.
    pub runtime: RuntimeOptions,
    /// Quit after this many presented frames (smoke tests, demos).
    pub frames: Option<u64>,
    /// How the output fits the window.
    pub fit: Fit,
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
}

struct App {
    options: RunOptions,
    state: Option<State>,
    error: Option<AppError>,
}

/// Opens a window and runs the scene until closed (or `frames` are presented).
///
/// # Errors
/// When there is no display, no GPU, or the scene does not load.
pub fn run(options: RunOptions) -> Result<(), AppError> {
    let event_loop = EventLoop::new().map_err(|e| AppError::EventLoop(e.to_string()))?;
    event_loop.set_control_flow(ControlFlow::Poll);
    let mut app = App {
        options,
        state: None,
        error: None,
    };
    event_loop
        .run_app(&mut app)
        .map_err(|e| AppError::EventLoop(e.to_string()))?;
    match app.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

impl App {
    fn start(&mut self, event_loop: &ActiveEventLoop) -> Result<State, AppError> {
        let scene = crate::scene::Scene::load(&self.options.scene).map_err(LoadError::from)?;
        let size = self.options.runtime.size.unwrap_or(scene.size);
        let attributes = Window::default_attributes()
            .with_title(format!("hypna — {}", scene.name))
            .with_inner_size(winit::dpi::PhysicalSize::new(size[0], size[1]));
        let window = Arc::new(
            event_loop
                .create_window(attributes)
                .map_err(|e| AppError::Surface(e.to_string()))?,
        );
        let (gpu, surface) = match Self::gpu_for(&window, false) {
            Err(AppError::Gpu(GpuError::NoAdapter(_)))
                if std::env::var_os("WGPU_BACKEND").is_none() =>
            {
                Self::gpu_for(&window, true)?
            }
            other => other?,
        };
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
        surface.configure(&gpu.device, &config);
        let runtime = Runtime::new(&gpu, scene, &self.options.runtime)?;
        let blitter = Blitter::new(&gpu.device);
        Ok(State {
            window,
            surface,
            config,
            gpu,
            runtime,
            blitter,
            clock: Clock::real(),
            presented: 0,
            fit: self.options.fit,
        })
    }
}

impl App {
    /// A GPU that can present to `window`, from the primary backends or all of them.
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
    fn resize(&mut self, width: u32, height: u32) {
        if width == 0 || height == 0 {
            return;
        }
        self.config.width = width;
        self.config.height = height;
        self.surface.configure(&self.gpu.device, &self.config);
    }

    /// Renders and presents one frame. Returns false when the frame was skipped.
    fn draw(&mut self) -> bool {
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
                tracing::warn!("surface validation error: reconfiguring");
                self.surface.configure(&self.gpu.device, &self.config);
                return false;
            }
        };
        let view = frame
            .texture
            .create_view(&wgpu::TextureViewDescriptor::default());
        let mut encoder = self
            .gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("window.frame"),
            });
        let t = self.clock.tick();
        self.runtime.encode_frame(&self.gpu, &mut encoder, t);
        if let (Some(src), Some((size, format))) = (
            self.runtime.chain().output_view(),
            self.runtime.chain().output_info(),
        ) {
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
        }
        self.gpu.queue.submit([encoder.finish()]);
        self.runtime.after_submit(&self.gpu);
        self.window.pre_present_notify();
        self.gpu.queue.present(frame);
        self.presented += 1;
        true
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
        match event {
            WindowEvent::CloseRequested
            | WindowEvent::KeyboardInput {
                event:
                    KeyEvent {
                        logical_key: Key::Named(NamedKey::Escape),
                        state: ElementState::Pressed,
                        ..
                    },
                ..
            } => event_loop.exit(),
            WindowEvent::Resized(size) => state.resize(size.width, size.height),
            WindowEvent::RedrawRequested => {
                state.draw();
                if self.options.frames.is_some_and(|n| state.presented >= n) {
                    tracing::info!("presented {} frames: quitting", state.presented);
                    event_loop.exit();
                }
            }
            _ => {}
        }
    }

    fn about_to_wait(&mut self, _event_loop: &ActiveEventLoop) {
        if let Some(state) = &self.state {
            state.window.request_redraw();
        }
    }
}
