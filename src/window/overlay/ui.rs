//! The overlay's egui code: HUD, error banner, parameter panel, help. No GPU here, so the UI
//! logic is testable with synthetic input.

use egui::{Align2, Color32, Context, CornerRadius, FontId, Id, RichText, Stroke, Ui, pos2, vec2};

use super::data::{LearnRequest, OverlayData, ParamChange};

/// How many diagnostics the banner lists before "… N more".
const MAX_ERRORS: usize = 8;
/// Translucent dark fill of every overlay panel.
const PANEL_FILL: Color32 = Color32::from_rgba_premultiplied(12, 12, 16, 215);
/// The error banner's fill.
const ERROR_FILL: Color32 = Color32::from_rgba_premultiplied(150, 16, 16, 235);
const DIM: Color32 = Color32::from_gray(160);
const GOOD: Color32 = Color32::from_rgb(110, 210, 120);
const WARN: Color32 = Color32::from_rgb(235, 190, 80);
const BAD: Color32 = Color32::from_rgb(240, 90, 80);

const HUD_ID: &str = "hypna.overlay.hud";
const PANEL_ID: &str = "hypna.overlay.panel";
const HELP_ID: &str = "hypna.overlay.help";
const ERRORS_ID: &str = "hypna.overlay.errors";

/// Width of the parameter panel's contents in points (label, slider, value, reset).
const PANEL_WIDTH: f32 = 430.0;

/// The name under which the "Reset all" button's rect is recorded next to the sliders'.
pub(crate) const RESET_ALL: &str = "*reset all*";

/// Which parts are shown.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flags {
    pub hud: bool,
    pub panel: bool,
    pub help: bool,
    /// A MIDI learn button clicked this frame.
    pub learn: Option<LearnRequest>,
}

impl Flags {
    /// Whether anything would be drawn for `data`.
    pub fn anything_visible(self, data: &OverlayData<'_>) -> bool {
        self.hud || self.panel || self.help || !data.errors.is_empty()
    }
}

/// A fresh egui context styled for the overlay.
pub(crate) fn new_context() -> Context {
    let ctx = Context::default();
    ctx.set_theme(egui::ThemePreference::Dark);
    ctx.all_styles_mut(|style| {
        use egui::TextStyle;
        // Instant open/close: no fades to wait for, and deterministic snapshots.
        style.animation_time = 0.0;
        style
            .text_styles
            .insert(TextStyle::Body, FontId::proportional(14.0));
        style
            .text_styles
            .insert(TextStyle::Button, FontId::proportional(14.0));
        style
            .text_styles
            .insert(TextStyle::Monospace, FontId::monospace(13.0));
        style
            .text_styles
            .insert(TextStyle::Small, FontId::proportional(11.0));
        style
            .text_styles
            .insert(TextStyle::Heading, FontId::proportional(17.0));
        style.spacing.slider_width = 170.0;
        let v = &mut style.visuals;
        v.window_fill = PANEL_FILL;
        v.panel_fill = PANEL_FILL;
        v.window_stroke = Stroke::new(1.0, Color32::from_gray(70));
        v.window_shadow = egui::epaint::Shadow::NONE;
        v.popup_shadow = egui::epaint::Shadow::NONE;
        v.override_text_color = Some(Color32::from_gray(225));
    });
    ctx
}

/// Builds one frame of UI. Slider moves go to `changes`; the flags may be changed by window
/// close buttons.
pub(crate) fn build(
    ctx: &Context,
    flags: &mut Flags,
    data: &OverlayData<'_>,
    changes: &mut Vec<ParamChange>,
    slider_rects: &mut Vec<(String, egui::Rect)>,
) {
    slider_rects.clear();
    // egui lays a new area out invisibly on its first frame (a sizing pass). The overlay must
    // show on the very frame it is turned on (a screenshot key, a test), so ask for a second
    // pass right away instead of waiting for the next frame.
    let shown = [
        (flags.hud, HUD_ID),
        (flags.panel, PANEL_ID),
        (flags.help, HELP_ID),
        (!data.errors.is_empty(), ERRORS_ID),
    ];
    if shown
        .iter()
        .any(|(on, id)| *on && egui::AreaState::load(ctx, Id::unique(*id)).is_none())
    {
        ctx.request_discard("hypna overlay: first layout of a panel");
    }
    if flags.hud {
        hud(ctx, data);
    }
    if flags.panel {
        egui::Window::new("Parameters")
            .id(Id::unique(PANEL_ID))
            .open(&mut flags.panel)
            .anchor(Align2::RIGHT_TOP, vec2(-12.0, 12.0))
            .resizable(false)
            .fade_in(false)
            .show(ctx, |ui| {
                param_panel(ui, data, changes, slider_rects, &mut flags.learn);
            });
    }
    if flags.help {
        egui::Window::new("Keys")
            .id(Id::unique(HELP_ID))
            .open(&mut flags.help)
            .anchor(Align2::CENTER_CENTER, vec2(0.0, 0.0))
            .resizable(false)
            .collapsible(false)
            .fade_in(false)
            .show(ctx, help);
    }
    if !data.errors.is_empty() {
        error_banner(ctx, data);
    }
}

fn panel_frame() -> egui::Frame {
    egui::Frame::new()
        .fill(PANEL_FILL)
        .inner_margin(10)
        .corner_radius(CornerRadius::same(6))
        .stroke(Stroke::new(1.0, Color32::from_gray(60)))
}

fn hud(ctx: &Context, data: &OverlayData<'_>) {
    egui::Area::new(Id::unique(HUD_ID))
        .anchor(Align2::LEFT_TOP, vec2(12.0, 12.0))
        .interactable(false)
        .fade_in(false)
        .order(egui::Order::Foreground)
        .show(ctx, |ui| {
            panel_frame().show(ui, |ui| {
                ui.set_max_width(340.0);
                hud_contents(ui, data);
            });
        });
}

fn hud_contents(ui: &mut Ui, data: &OverlayData<'_>) {
    let title = if data.scene.is_empty() {
        "(no scene)"
    } else {
        data.scene
    };
    ui.label(RichText::new(title).strong().size(16.0));
    ui.label(
        RichText::new(format!(
            "internal {}×{}",
            data.internal_size[0], data.internal_size[1]
        ))
        .color(DIM),
    );
    let (media, stalled) = data.media;
    if media > 0 {
        ui.label(
            RichText::new(format!("media {media}, stalled {stalled}")).color(if stalled > 0 {
                WARN
            } else {
                DIM
            }),
        );
    }
    // Params with a `names` file: the name of each one's value (a class dream's class).
    for (i, p) in data.params.iter().enumerate() {
        let value = data.targets.get(i).copied().unwrap_or(p.default);
        if let Some(named) = p.name_of(value) {
            let label = if p.label.is_empty() {
                &p.name
            } else {
                &p.label
            };
            ui.label(RichText::new(format!("{label}: {named}")).strong());
        }
    }
    let last = data.frame_times.last().unwrap_or(0.0);
    let fps_color = if data.fps >= 55.0 {
        GOOD
    } else if data.fps >= 28.0 {
        WARN
    } else {
        BAD
    };
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!("{:5.1} fps", data.fps))
                .monospace()
                .color(fps_color),
        );
        ui.label(
            RichText::new(format!("{last:5.1} ms  max {:5.1}", data.frame_times.max()))
                .monospace()
                .color(DIM),
        );
    });
    frame_graph(ui, data);

    ui.add_space(4.0);
    if data.gpu_passes.is_empty() {
        ui.label(
            RichText::new("GPU timestamps unavailable")
                .color(DIM)
                .small(),
        );
    } else {
        egui::Grid::new("hypna.overlay.gpu")
            .num_columns(2)
            .spacing(vec2(12.0, 1.0))
            .show(ui, |ui| {
                for (name, ms) in data.gpu_passes {
                    ui.label(RichText::new(name).monospace());
                    ui.label(RichText::new(format!("{ms:6.2} ms")).monospace());
                    ui.end_row();
                }
            });
    }

    if !data.models.is_empty() {
        ui.separator();
        egui::Grid::new("hypna.overlay.models")
            .num_columns(4)
            .spacing(vec2(10.0, 1.0))
            .show(ui, |ui| {
                for m in data.models {
                    ui.label(RichText::new(m.name).monospace());
                    ui.label(RichText::new(format!("{:5.1} Hz", m.rate_hz)).monospace());
                    ui.label(RichText::new(format!("{:6.1} ms", m.latency_ms)).monospace());
                    let state_color = if m.errors > 0 || m.state.starts_with("fail") {
                        BAD
                    } else if m.state == "ready" {
                        GOOD
                    } else {
                        WARN
                    };
                    let text = if m.errors > 0 {
                        format!("{} ({} err)", m.state, m.errors)
                    } else {
                        m.state.to_owned()
                    };
                    ui.label(RichText::new(text).color(state_color));
                    ui.end_row();
                }
            });
    }

    if let Some(audio) = &data.audio {
        ui.separator();
        ui.horizontal(|ui| {
            ui.label(RichText::new("audio").color(DIM));
            ui.label(audio.device);
        });
        ui.horizontal(|ui| {
            level_meter(ui, audio.level_db, audio.peak);
            ui.label(RichText::new(format!("{:5.1} dB", audio.level_db)).monospace());
            let (dot, _) = ui.allocate_exact_size(vec2(12.0, 12.0), egui::Sense::hover());
            let color = if audio.beat {
                WARN
            } else {
                Color32::from_gray(60)
            };
            ui.painter().circle_filled(dot.center(), 5.0, color);
            if let Some(bpm) = audio.bpm {
                ui.label(RichText::new(format!("{bpm:5.1} bpm")).monospace());
            }
        });
    }

    if let Some(osc) = &data.osc {
        ui.separator();
        ui.horizontal(|ui| {
            ui.label(RichText::new("osc").color(DIM));
            ui.label(RichText::new(osc.listen).monospace());
            ui.label(RichText::new(format!("{:5.0} msg/s", osc.messages_per_sec)).monospace());
            let color = if osc.dropped > 0 { WARN } else { DIM };
            ui.label(RichText::new(format!("{} dropped", osc.dropped)).color(color));
        });
    }

    if let Some(rec) = &data.record {
        ui.separator();
        ui.horizontal(|ui| {
            ui.label(RichText::new("rec").color(WARN));
            ui.label(RichText::new(rec.target).monospace());
            let secs = rec.secs.max(0.0) as u64;
            ui.label(RichText::new(format!("{}:{:02}", secs / 60, secs % 60)).monospace());
            ui.label(RichText::new(format!("{} frames", rec.written)).monospace());
            let color = if rec.dropped > 0 { WARN } else { DIM };
            ui.label(RichText::new(format!("{} dropped", rec.dropped)).color(color));
        });
    }

    if let Some(midi) = &data.midi {
        ui.separator();
        ui.horizontal(|ui| {
            ui.label(RichText::new("midi").color(DIM));
            ui.label(
                RichText::new(format!(
                    "{} in, {} feedback, {} msgs",
                    midi.inputs, midi.outputs, midi.received
                ))
                .monospace(),
            );
            let color = if midi.dropped > 0 { WARN } else { DIM };
            ui.label(RichText::new(format!("{} dropped", midi.dropped)).color(color));
            ui.label(RichText::new(format!("beat: {}", midi.beat_source)).color(DIM));
        });
    }
}

/// Frame times as a line graph with 16.7 and 33.3 ms guides.
fn frame_graph(ui: &mut Ui, data: &OverlayData<'_>) {
    let (rect, _) = ui.allocate_exact_size(vec2(300.0, 56.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2, Color32::from_black_alpha(120));
    // The scale follows the slowest frame shown (40 ms at least), so slow machines and
    // spikes stay on the graph; guides that would crowd each other lose their labels.
    let top_ms = (data.frame_times.max() * 1.1).clamp(40.0, 2000.0);
    let y_of = |ms: f32| rect.bottom() - (ms / top_ms).clamp(0.0, 1.0) * rect.height();
    let small = FontId::proportional(10.0);
    let mut last_label_y = f32::INFINITY;
    for (ms, label) in [(1000.0 / 60.0, "16.7"), (1000.0 / 30.0, "33.3")] {
        let y = y_of(ms);
        painter.hline(rect.x_range(), y, Stroke::new(1.0, Color32::from_gray(90)));
        if last_label_y - y >= 11.0 {
            painter.text(
                pos2(rect.right() - 2.0, y - 1.0),
                Align2::RIGHT_BOTTOM,
                label,
                small.clone(),
                Color32::from_gray(140),
            );
            last_label_y = y;
        }
    }
    painter.text(
        pos2(rect.right() - 2.0, rect.top() + 1.0),
        Align2::RIGHT_TOP,
        format!("{top_ms:.0} ms"),
        small,
        Color32::from_gray(140),
    );
    let n = data.frame_times.len();
    if n >= 2 {
        let step = rect.width() / (super::data::FRAME_HISTORY - 1) as f32;
        let x0 = rect.right() - step * (n - 1) as f32;
        let points: Vec<egui::Pos2> = data
            .frame_times
            .iter()
            .enumerate()
            .map(|(i, ms)| pos2(x0 + step * i as f32, y_of(ms)))
            .collect();
        painter.add(egui::Shape::line(points, Stroke::new(1.5, GOOD)));
    }
}

/// A horizontal bar for -60..0 dBFS with a tick at the peak.
fn level_meter(ui: &mut Ui, level_db: f32, peak: f32) {
    let (rect, _) = ui.allocate_exact_size(vec2(160.0, 12.0), egui::Sense::hover());
    let painter = ui.painter();
    painter.rect_filled(rect, 2, Color32::from_gray(40));
    let level = if level_db.is_finite() {
        ((level_db + 60.0) / 60.0).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let color = if level_db > -3.0 {
        BAD
    } else if level_db > -12.0 {
        WARN
    } else {
        GOOD
    };
    let mut bar = rect;
    bar.set_width(rect.width() * level);
    painter.rect_filled(bar, 2, color);
    if peak.is_finite() && peak > 0.0 {
        // Peak is linear amplitude; show it on the same dB scale.
        let peak_db = 20.0 * peak.clamp(1e-6, 1.0).log10();
        let x = rect.left() + rect.width() * ((peak_db + 60.0) / 60.0).clamp(0.0, 1.0);
        painter.vline(x, rect.y_range(), Stroke::new(2.0, Color32::WHITE));
    }
}

fn param_panel(
    ui: &mut Ui,
    data: &OverlayData<'_>,
    changes: &mut Vec<ParamChange>,
    slider_rects: &mut Vec<(String, egui::Rect)>,
    learn: &mut Option<LearnRequest>,
) {
    // A fixed width: an auto-sized window around a scroll area would clip the last column.
    ui.set_width(PANEL_WIDTH);
    if data.params.is_empty() {
        ui.label(RichText::new("This scene has no params.").color(DIM));
        return;
    }
    let target = |i: usize| {
        data.targets
            .get(i)
            .copied()
            .unwrap_or(data.params[i].default)
    };
    let reset_all = ui.button("Reset all");
    slider_rects.push((RESET_ALL.to_owned(), reset_all.rect));
    if let Some(Some(i)) = data.midi_learning {
        let name = data.params.get(i).map_or("?", |p| p.name.as_str());
        ui.label(
            RichText::new(format!("MIDI learn: move a control for `{name}`"))
                .color(egui::Color32::YELLOW),
        );
    }
    if reset_all.clicked() {
        for (i, p) in data.params.iter().enumerate() {
            if !at_default(target(i), p.default) {
                changes.push(ParamChange {
                    name: p.name.clone(),
                    value: p.default,
                });
            }
        }
    }
    ui.separator();
    egui::ScrollArea::vertical()
        .max_height(ui.ctx().content_rect().height() * 0.75)
        .show(ui, |ui| {
            // Params without a group first, then each group in order of first appearance.
            let mut groups: Vec<&str> = Vec::new();
            for p in data.params {
                if let Some(g) = p.group.as_deref()
                    && !groups.contains(&g)
                {
                    groups.push(g);
                }
            }
            let rows = |ui: &mut Ui,
                        group: Option<&str>,
                        changes: &mut Vec<ParamChange>,
                        rects: &mut Vec<(String, egui::Rect)>,
                        learn: &mut Option<LearnRequest>| {
                egui::Grid::new(("hypna.overlay.params", group))
                    .num_columns(if data.midi_learning.is_some() { 4 } else { 3 })
                    .spacing(vec2(8.0, 4.0))
                    .show(ui, |ui| {
                        for (i, p) in data.params.iter().enumerate() {
                            if p.group.as_deref() != group {
                                continue;
                            }
                            param_row(ui, p, target(i), changes, rects);
                            if let Some(learning) = data.midi_learning {
                                learn_button(ui, i, learning == Some(i), learn);
                            }
                            ui.end_row();
                        }
                    });
            };
            rows(ui, None, changes, slider_rects, learn);
            for g in groups {
                egui::CollapsingHeader::new(g)
                    .id_salt(("hypna.overlay.group", g))
                    .default_open(true)
                    .show(ui, |ui| rows(ui, Some(g), changes, slider_rects, learn));
            }
        });
}

fn param_row(
    ui: &mut Ui,
    p: &crate::scene::ParamDef,
    target: f32,
    changes: &mut Vec<ParamChange>,
    slider_rects: &mut Vec<(String, egui::Rect)>,
) {
    let label = if p.label.is_empty() {
        p.name.as_str()
    } else {
        p.label.as_str()
    };
    match p.name_of(target) {
        // A param with a `names` file: the name of its value beside the label.
        Some(named) => ui.label(format!("{label}: {named}")),
        None => ui.label(label),
    }
    .on_hover_text(&p.name);
    let (lo, hi) = if p.min <= p.max {
        (p.min, p.max)
    } else {
        (p.max, p.min)
    };
    let mut value = target.clamp(lo, hi);
    let response = ui.add(
        egui::Slider::new(&mut value, lo..=hi)
            .clamping(egui::SliderClamping::Always)
            .max_decimals(4),
    );
    slider_rects.push((p.name.clone(), response.rect));
    if response.changed() && value.is_finite() {
        changes.push(ParamChange {
            name: p.name.clone(),
            value: value.clamp(lo, hi),
        });
    }
    let reset = ui.add_enabled(
        !at_default(target, p.default),
        egui::Button::new("reset").small(),
    );
    if reset
        .on_hover_text(format!("back to {}", p.default))
        .clicked()
    {
        changes.push(ParamChange {
            name: p.name.clone(),
            value: p.default,
        });
    }
}

/// The MIDI learn button of param `i`: "learn", or "cancel" while it waits.
fn learn_button(ui: &mut Ui, i: usize, waiting: bool, learn: &mut Option<LearnRequest>) {
    let button = if waiting {
        egui::Button::new(RichText::new("cancel").color(egui::Color32::YELLOW)).small()
    } else {
        egui::Button::new("learn").small()
    };
    let response = ui.add(button).on_hover_text(if waiting {
        "waiting for a MIDI control to move"
    } else {
        "MIDI learn: click, then move a knob, fader, key or pad"
    });
    if response.clicked() {
        *learn = Some(if waiting {
            LearnRequest::Cancel
        } else {
            LearnRequest::Start(i)
        });
    }
}

/// Whether a target sits at its default (up to float noise from a slider round trip).
fn at_default(value: f32, default: f32) -> bool {
    (value - default).abs() <= 1e-6 * (1.0 + default.abs())
}

fn help(ui: &mut Ui) {
    egui::Grid::new("hypna.overlay.keys")
        .num_columns(2)
        .spacing(vec2(16.0, 4.0))
        .show(ui, |ui| {
            for (key, what) in [
                ("F", "fullscreen"),
                ("H", "HUD"),
                ("P", "parameter panel"),
                ("R", "reload scene"),
                ("S", "screenshot"),
                ("V", "record on/off"),
                ("→ / PgDn", "next playlist entry"),
                ("← / PgUp", "previous playlist entry"),
                ("?", "this help"),
                ("Esc", "quit"),
            ] {
                ui.label(RichText::new(key).monospace().strong());
                ui.label(what);
                ui.end_row();
            }
        });
}

fn error_banner(ctx: &Context, data: &OverlayData<'_>) {
    let width = ctx.content_rect().width();
    egui::Area::new(Id::unique(ERRORS_ID))
        .anchor(Align2::LEFT_BOTTOM, vec2(0.0, 0.0))
        .interactable(false)
        .fade_in(false)
        .order(egui::Order::Foreground)
        .show(ctx, |ui| {
            egui::Frame::new()
                .fill(ERROR_FILL)
                .inner_margin(10)
                .show(ui, |ui| {
                    ui.set_width(width - 20.0);
                    let n = data.errors.len();
                    ui.label(
                        RichText::new(if n == 1 {
                            "1 error (the last good version keeps running)".to_owned()
                        } else {
                            format!("{n} errors (the last good version keeps running)")
                        })
                        .strong()
                        .color(Color32::WHITE),
                    );
                    for d in data.errors.iter().take(MAX_ERRORS) {
                        let place = match (d.line, d.col) {
                            (Some(l), Some(c)) => format!(":{l}:{c}"),
                            (Some(l), None) => format!(":{l}"),
                            _ => String::new(),
                        };
                        let line = format!("{}{place}: {}", d.file.display(), d.message);
                        ui.add(
                            egui::Label::new(RichText::new(line).monospace().color(Color32::WHITE))
                                .wrap(),
                        );
                    }
                    if n > MAX_ERRORS {
                        ui.label(
                            RichText::new(format!("… {} more", n - MAX_ERRORS))
                                .color(Color32::from_gray(230)),
                        );
                    }
                });
        });
}
