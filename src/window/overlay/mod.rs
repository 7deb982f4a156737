//! The on-screen overlay (egui): HUD, error banner, parameter panel and key help, drawn on top
//! of the presented frame.
//!
//! The overlay only ever renders into the view it is given (the window's surface texture after
//! the scene blit), with `LoadOp::Load`. It never touches the internal render targets, so
//! screenshots and headless renders never contain it. When nothing is visible, [`Overlay::draw`]
//! returns before running egui: a hidden overlay costs a few branches per frame.
//!
//! Per frame the app:
//! 1. forwards every `WindowEvent` to [`Overlay::on_window_event`] and skips its own handling
//!    when that returns `true` (a click on a slider is not a click on the scene);
//! 2. after recording the scene and the blit into the surface view, calls [`Overlay::draw`] with
//!    the same encoder and that view, then applies the returned [`ParamChange`]s like OSC
//!    updates.

mod data;
mod ui;

pub use data::{
    AudioStatus, FRAME_HISTORY, FrameTimes, LearnRequest, MidiHudStatus, ModelStatus, OscStatus,
    OverlayData, ParamChange, RecordStatus,
};

use std::time::Instant;

use ui::Flags;

/// The egui overlay: long-lived (build once per window/device, keep across scene reloads).
pub struct Overlay {
    /// Show the HUD (fps, frame graph, GPU, models, audio, OSC). Key `H`.
    pub hud: bool,
    /// Show the parameter panel. Key `P`. Its close button clears this flag.
    pub panel: bool,
    /// Show the key help. Key `?`. Its close button clears this flag.
    pub help: bool,
    ctx: egui::Context,
    renderer: egui_wgpu::Renderer,
    state: Option<egui_winit::State>,
    start: Instant,
    max_texture_side: usize,
    /// Where each param slider was last drawn (for tests driving the panel with input).
    slider_rects: Vec<(String, egui::Rect)>,
    /// The last platform output (cursor icon, …), applied by [`Self::handle_platform_output`].
    platform_output: Option<egui::PlatformOutput>,
    /// A MIDI learn button clicked, until taken.
    learn: Option<LearnRequest>,
}

impl std::fmt::Debug for Overlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay")
            .field("hud", &self.hud)
            .field("panel", &self.panel)
            .field("help", &self.help)
            .field("attached", &self.state.is_some())
            .finish_non_exhaustive()
    }
}

impl Overlay {
    /// An overlay rendering into views of `target_format` (the surface format). Everything
    /// starts hidden. Needs no window: call [`Self::attach`] once there is one.
    #[must_use]
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let renderer = egui_wgpu::Renderer::new(
            device,
            target_format,
            egui_wgpu::RendererOptions {
                msaa_samples: 1,
                depth_stencil_format: None,
                dithering: false,
                predictable_texture_filtering: false,
            },
        );
        Self {
            hud: false,
            panel: false,
            help: false,
            ctx: ui::new_context(),
            renderer,
            state: None,
            start: Instant::now(),
            max_texture_side: device.limits().max_texture_dimension_2d as usize,
            slider_rects: Vec::new(),
            platform_output: None,
            learn: None,
        }
    }

    /// A new overlay on `device` (after a GPU device loss) with a fresh egui context, so the
    /// font atlas is uploaded again on the next draw; keeps the HUD, panel and help flags and
    /// re-attaches `window`.
    pub fn rebuild(
        &mut self,
        device: &wgpu::Device,
        target_format: wgpu::TextureFormat,
        window: &winit::window::Window,
    ) {
        let (hud, panel, help) = (self.hud, self.panel, self.help);
        *self = Self::new(device, target_format);
        self.hud = hud;
        self.panel = panel;
        self.help = help;
        self.attach(window);
    }

    /// Connects window input (mouse, keyboard, scale factor). Call again after the window is
    /// recreated.
    pub fn attach(&mut self, window: &winit::window::Window) {
        self.state = Some(egui_winit::State::new(
            self.ctx.clone(),
            egui::ViewportId::ROOT,
            window,
            Some(window.scale_factor() as f32),
            window.theme(),
            Some(self.max_texture_side),
        ));
    }

    /// Whether anything is drawn for `data` (HUD, panel, help or errors).
    #[must_use]
    pub fn visible(&self, data: &OverlayData<'_>) -> bool {
        self.flags().anything_visible(data)
    }

    /// Feeds a window event to egui. Returns `true` when the overlay consumed it, and the app
    /// should then ignore it: a pointer event over a visible panel, or a drag on a slider.
    /// Keyboard events are only consumed while a text field has focus (there is none today),
    /// so `H`, `P`, `?` … keep working after clicking a slider. Without [`Self::attach`] this
    /// does nothing and returns `false`.
    pub fn on_window_event(
        &mut self,
        window: &winit::window::Window,
        event: &winit::event::WindowEvent,
    ) -> bool {
        let Some(state) = self.state.as_mut() else {
            return false;
        };
        let response = state.on_window_event(window, event);
        if !(self.hud || self.panel || self.help) {
            // Only the (non-interactive) error banner can be up: nothing to click on.
            return false;
        }
        match event {
            winit::event::WindowEvent::KeyboardInput { .. } | winit::event::WindowEvent::Ime(_) => {
                response.consumed && self.ctx.text_edit_focused()
            }
            _ => response.consumed,
        }
    }

    /// Applies egui's last requests to the window (the cursor icon over a slider, …).
    /// Optional; call after [`Self::draw`] when the window is at hand.
    pub fn handle_platform_output(&mut self, window: &winit::window::Window) {
        if let (Some(state), Some(output)) = (self.state.as_mut(), self.platform_output.take()) {
            state.handle_platform_output(window, output);
        }
    }

    /// Runs the overlay for one frame and records it into `encoder`, drawing over `view`
    /// (`LoadOp::Load`; the view must have the format given to [`Self::new`]). `size` is the
    /// view's size in pixels, `pixels_per_point` the window's scale factor. Slider moves are
    /// pushed onto `changes`; apply them like OSC updates. Returns at once, recording nothing,
    /// when nothing is visible.
    #[expect(
        clippy::too_many_arguments,
        reason = "the GPU handles of one frame plus its data; a struct would only be built to be taken apart"
    )]
    pub fn draw(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        view: &wgpu::TextureView,
        size: [u32; 2],
        pixels_per_point: f32,
        data: &OverlayData<'_>,
        changes: &mut Vec<ParamChange>,
    ) {
        if !self.visible(data) {
            if let Some(state) = self.state.as_mut() {
                // Input that arrived while hidden must not replay when the overlay opens.
                let input = state.egui_input_mut();
                input.events.clear();
                input.hovered_files.clear();
                input.dropped_files.clear();
            }
            return;
        }
        let raw = match self.state.as_mut() {
            Some(state) => state.egui_input_mut().take(),
            None => egui::RawInput::default(),
        };
        self.draw_with_input(
            device,
            queue,
            encoder,
            view,
            size,
            pixels_per_point,
            raw,
            data,
            changes,
        );
    }

    /// [`Self::draw`] with explicit egui input instead of the window's (tests drive sliders
    /// with synthetic pointer events). `screen_rect`, time and pixels per point are filled in
    /// from `size` and `pixels_per_point`.
    #[doc(hidden)]
    #[expect(clippy::too_many_arguments, reason = "draw's arguments plus the input")]
    pub fn draw_with_input(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        view: &wgpu::TextureView,
        size: [u32; 2],
        pixels_per_point: f32,
        raw: egui::RawInput,
        data: &OverlayData<'_>,
        changes: &mut Vec<ParamChange>,
    ) {
        if size[0] == 0 || size[1] == 0 {
            return;
        }
        let ppp = if pixels_per_point.is_finite() && pixels_per_point > 0.0 {
            pixels_per_point
        } else {
            1.0
        };
        let mut output = self.run(raw, size, ppp, data, changes);
        let ppp = output.pixels_per_point;
        let jobs = self.ctx.tessellate(std::mem::take(&mut output.shapes), ppp);
        for (id, deltas) in output.textures_delta.set.drain() {
            for delta in deltas {
                self.renderer.update_texture(device, queue, id, &delta);
            }
        }
        let screen = egui_wgpu::ScreenDescriptor {
            size_in_pixels: size,
            pixels_per_point: ppp,
        };
        // No paint callbacks are registered, so this returns no command buffers.
        let extra = self
            .renderer
            .update_buffers(device, queue, encoder, &jobs, &screen);
        debug_assert!(extra.is_empty(), "the overlay registers no paint callbacks");
        {
            let mut pass = crate::render::fullscreen::begin_pass(
                encoder,
                "overlay.pass",
                view,
                wgpu::LoadOp::Load,
                None,
            )
            .forget_lifetime();
            self.renderer.render(&mut pass, &jobs, &screen);
        }
        for id in output.textures_delta.free.drain() {
            self.renderer.free_texture(&id);
        }
        self.platform_output = Some(std::mem::take(&mut output.platform_output));
    }

    /// Runs the UI for one frame without the GPU.
    fn run(
        &mut self,
        mut raw: egui::RawInput,
        size: [u32; 2],
        pixels_per_point: f32,
        data: &OverlayData<'_>,
        changes: &mut Vec<ParamChange>,
    ) -> egui::FullOutput {
        raw.screen_rect = Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(size[0] as f32, size[1] as f32) / pixels_per_point,
        ));
        raw.viewport_id = egui::ViewportId::ROOT;
        raw.viewports
            .entry(egui::ViewportId::ROOT)
            .or_default()
            .native_pixels_per_point = Some(pixels_per_point);
        raw.max_texture_side = Some(self.max_texture_side);
        if raw.time.is_none() {
            raw.time = Some(self.start.elapsed().as_secs_f64());
        }
        let mut flags = self.flags();
        let slider_rects = &mut self.slider_rects;
        let output = self.ctx.run_pass(raw, |ctx| {
            ui::build(ctx, &mut flags, data, changes, slider_rects);
        });
        self.hud = flags.hud;
        self.panel = flags.panel;
        self.help = flags.help;
        if flags.learn.is_some() {
            self.learn = flags.learn;
        }
        output
    }

    /// The MIDI learn button clicked since the last call, taken.
    pub fn take_learn(&mut self) -> Option<LearnRequest> {
        self.learn.take()
    }

    fn flags(&self) -> Flags {
        Flags {
            hud: self.hud,
            panel: self.panel,
            help: self.help,
            learn: None,
        }
    }

    /// Where the slider of param `name` was drawn last frame, in points (tests use this to
    /// aim synthetic pointer events). `"*reset all*"` names the Reset all button.
    #[doc(hidden)]
    #[must_use]
    pub fn slider_rect(&self, name: &str) -> Option<egui::Rect> {
        self.slider_rects
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| *r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::ParamDef;

    fn param(name: &str, min: f32, max: f32, default: f32, group: Option<&str>) -> ParamDef {
        ParamDef {
            name: name.to_owned(),
            at: crate::scene::Location::default(),
            default,
            min,
            max,
            smooth_secs: 0.0,
            label: String::new(),
            group: group.map(str::to_owned),
            osc: Vec::new(),
            midi: None,
            modulation: None,
            names: Vec::new(),
        }
    }

    fn input(events: Vec<egui::Event>, frame: u32) -> egui::RawInput {
        egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(1280.0, 720.0),
            )),
            time: Some(f64::from(frame) / 60.0),
            events,
            ..Default::default()
        }
    }

    fn button(pos: egui::Pos2, pressed: bool) -> egui::Event {
        egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        }
    }

    #[test]
    fn dragging_a_slider_yields_a_change_in_range() {
        let ctx = ui::new_context();
        let params = [
            param("zoom", 0.98, 1.05, 1.01, None),
            param("hue", 0.0, 1.0, 0.5, Some("colour")),
        ];
        let targets = [1.01, 0.5];
        let times = FrameTimes::new();
        let data = OverlayData {
            params: &params,
            targets: &targets,
            ..OverlayData::empty(&times)
        };
        let mut flags = Flags {
            panel: true,
            ..Flags::default()
        };
        let mut rects = Vec::new();
        let mut changes = Vec::new();
        let mut frame = |events: Vec<egui::Event>,
                         changes: &mut Vec<ParamChange>,
                         rects: &mut Vec<(String, egui::Rect)>| {
            ctx.run_pass(input(events, 0), |ctx| {
                ui::build(ctx, &mut flags, &data, changes, rects);
            })
            .drop_without_applying_deltas();
        };
        // Two frames to lay the window out.
        frame(Vec::new(), &mut changes, &mut rects);
        frame(Vec::new(), &mut changes, &mut rects);
        assert!(changes.is_empty(), "no input, no change: {changes:?}");
        let rect = rects
            .iter()
            .find(|(n, _)| n == "hue")
            .map(|(_, r)| *r)
            .expect("the hue slider was drawn");
        let start = egui::pos2(rect.left() + 4.0, rect.center().y);
        let end = egui::pos2(rect.left() + rect.width() * 0.3, rect.center().y);
        frame(
            vec![egui::Event::PointerMoved(start)],
            &mut changes,
            &mut rects,
        );
        frame(vec![button(start, true)], &mut changes, &mut rects);
        frame(
            vec![egui::Event::PointerMoved(end)],
            &mut changes,
            &mut rects,
        );
        frame(vec![button(end, false)], &mut changes, &mut rects);
        let hue: Vec<&ParamChange> = changes.iter().filter(|c| c.name == "hue").collect();
        assert!(
            !hue.is_empty(),
            "dragging the slider changed nothing: {changes:?}"
        );
        for c in &hue {
            assert!((0.0..=1.0).contains(&c.value), "{c:?} out of range");
        }
        let last = hue.last().map_or(f32::NAN, |c| c.value);
        assert!(last < 0.45, "dragged left of the middle, got {last}");
        assert!(changes.iter().all(|c| c.name == "hue"), "{changes:?}");
    }

    #[test]
    fn reset_all_restores_defaults_of_moved_params() {
        let ctx = ui::new_context();
        let params = [
            param("a", 0.0, 1.0, 0.5, None),
            param("b", 0.0, 1.0, 0.5, Some("g")),
        ];
        let targets = [0.9, 0.5];
        let times = FrameTimes::new();
        let data = OverlayData {
            params: &params,
            targets: &targets,
            ..OverlayData::empty(&times)
        };
        let mut flags = Flags {
            panel: true,
            ..Flags::default()
        };
        let mut rects = Vec::new();
        let mut changes = Vec::new();
        for _ in 0..2 {
            ctx.run_pass(input(Vec::new(), 0), |ctx| {
                ui::build(ctx, &mut flags, &data, &mut changes, &mut rects);
            })
            .drop_without_applying_deltas();
        }
        let pos = rects
            .iter()
            .find(|(n, _)| n == ui::RESET_ALL)
            .map(|(_, r)| r.center())
            .expect("the Reset all button was drawn");
        for events in [
            vec![egui::Event::PointerMoved(pos)],
            vec![button(pos, true)],
            vec![button(pos, false)],
        ] {
            ctx.run_pass(input(events, 0), |ctx| {
                ui::build(ctx, &mut flags, &data, &mut changes, &mut rects);
            })
            .drop_without_applying_deltas();
        }
        assert_eq!(
            changes,
            vec![ParamChange {
                name: "a".into(),
                value: 0.5
            }]
        );
    }
}
