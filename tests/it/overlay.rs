//! The egui overlay over a frame (headless, lavapipe in CI): hidden means not one byte changes,
//! errors show as a red band at the bottom, the HUD shows in the top-left corner.

use crate::common;

use common::{Frame, gpu, render_last, root};
use hypna::diag::Diagnostic;
use hypna::render::context::Gpu;
use hypna::render::texture_2d;
use hypna::window::overlay::{
    AudioStatus, FrameTimes, ModelStatus, OscStatus, Overlay, OverlayData, ParamChange,
};

const FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const CLEAR: [u8; 4] = [20, 90, 200, 255];

/// A target filled with `pixels` (RGBA8, tightly packed), usable as attachment and copy source.
fn target(gpu: &Gpu, size: [u32; 2], pixels: &[u8]) -> wgpu::Texture {
    let tex = texture_2d(
        &gpu.device,
        "overlay-test.target",
        size,
        FORMAT,
        wgpu::TextureUsages::RENDER_ATTACHMENT
            | wgpu::TextureUsages::COPY_SRC
            | wgpu::TextureUsages::COPY_DST,
    );
    gpu.queue.write_texture(
        tex.as_image_copy(),
        pixels,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(size[0] * 4),
            rows_per_image: Some(size[1]),
        },
        tex.size(),
    );
    tex
}

fn solid(size: [u32; 2]) -> Vec<u8> {
    CLEAR.repeat((size[0] * size[1]) as usize)
}

/// Draws the overlay once over `pixels` and reads the result back.
fn draw(
    gpu: &Gpu,
    overlay: &mut Overlay,
    size: [u32; 2],
    pixels: &[u8],
    data: &OverlayData<'_>,
    changes: &mut Vec<ParamChange>,
) -> Frame {
    let tex = target(gpu, size, pixels);
    let view = tex.create_view(&wgpu::TextureViewDescriptor::default());
    let row = (size[0] * 4).next_multiple_of(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT);
    let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("overlay-test.readback"),
        size: u64::from(row * size[1]),
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
        mapped_at_creation: false,
    });
    let mut encoder = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
    overlay.draw(
        &gpu.device,
        &gpu.queue,
        &mut encoder,
        &view,
        size,
        1.0,
        data,
        changes,
    );
    encoder.copy_texture_to_buffer(
        tex.as_image_copy(),
        wgpu::TexelCopyBufferInfo {
            buffer: &buffer,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(row),
                rows_per_image: Some(size[1]),
            },
        },
        tex.size(),
    );
    gpu.queue.submit([encoder.finish()]);
    let slice = buffer.slice(..);
    slice.map_async(wgpu::MapMode::Read, |r| r.expect("map"));
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("poll");
    let mapped = slice.get_mapped_range().expect("mapped range");
    let mut rgba = Vec::with_capacity((size[0] * size[1] * 4) as usize);
    for y in 0..size[1] as usize {
        let start = y * row as usize;
        rgba.extend_from_slice(&mapped[start..start + size[0] as usize * 4]);
    }
    Frame { size, rgba }
}

fn region_unchanged(frame: &Frame, pixels: &[u8], x: [u32; 2], y: [u32; 2]) -> bool {
    (y[0]..y[1]).all(|yy| {
        (x[0]..x[1]).all(|xx| {
            let i = ((yy * frame.size[0] + xx) * 4) as usize;
            frame.rgba[i..i + 4] == pixels[i..i + 4]
        })
    })
}

fn count(frame: &Frame, x: [u32; 2], y: [u32; 2], pred: impl Fn([u8; 4]) -> bool) -> usize {
    let mut n = 0;
    for yy in y[0]..y[1] {
        for xx in x[0]..x[1] {
            if pred(frame.pixel(xx, yy)) {
                n += 1;
            }
        }
    }
    n
}

fn errors() -> Vec<Diagnostic> {
    let mut v = vec![
        Diagnostic::at(
            "scenes/landscape/terrain.wgsl",
            42,
            17,
            "unknown identifier `nosie`; did you mean `noise`?",
        ),
        Diagnostic::file(
            "scenes/landscape.toml",
            "reload failed: the scene keeps its last good version",
        ),
    ];
    for i in 0..9 {
        v.push(Diagnostic::at(
            "scenes/landscape.toml",
            10 + i,
            1,
            "unknown field `colour`",
        ));
    }
    v
}

#[test]
fn hidden_overlay_changes_no_byte() {
    let Some(gpu) = gpu("hidden_overlay_changes_no_byte") else {
        return;
    };
    let size = [320, 180];
    let pixels = solid(size);
    let mut overlay = Overlay::new(&gpu.device, FORMAT);
    let times = FrameTimes::new();
    let data = OverlayData::empty(&times);
    assert!(!overlay.visible(&data));
    let mut changes = Vec::new();
    let out = draw(&gpu, &mut overlay, size, &pixels, &data, &mut changes);
    assert!(out.rgba == pixels, "a hidden overlay changed the frame");
    assert!(changes.is_empty());
}

#[test]
fn errors_show_a_red_band_at_the_bottom_only() {
    let Some(gpu) = gpu("errors_show_a_red_band_at_the_bottom_only") else {
        return;
    };
    let size = [640, 360];
    let pixels = solid(size);
    let mut overlay = Overlay::new(&gpu.device, FORMAT);
    let times = FrameTimes::new();
    let errs = errors();
    let data = OverlayData {
        errors: &errs,
        ..OverlayData::empty(&times)
    };
    assert!(overlay.visible(&data), "errors show even with the HUD off");
    let mut changes = Vec::new();
    let out = draw(&gpu, &mut overlay, size, &pixels, &data, &mut changes);
    let reddish = count(&out, [0, size[0]], [size[1] - 40, size[1]], |p| {
        p[0] > 100 && p[0] > u8::saturating_add(p[1], 40) && p[0] > u8::saturating_add(p[2], 40)
    });
    assert!(
        reddish > (size[0] * 40 / 2) as usize,
        "expected a red banner at the bottom, {reddish} reddish pixels"
    );
    assert!(
        region_unchanged(&out, &pixels, [0, size[0]], [0, 60]),
        "the top of the frame changed"
    );
}

#[test]
fn hud_draws_in_the_top_left_corner() {
    let Some(gpu) = gpu("hud_draws_in_the_top_left_corner") else {
        return;
    };
    let size = [640, 360];
    let pixels = solid(size);
    let mut overlay = Overlay::new(&gpu.device, FORMAT);
    overlay.hud = true;
    let mut times = FrameTimes::new();
    for i in 0..240 {
        times.push(16.0 + (i % 7) as f32);
    }
    let data = OverlayData {
        fps: 59.8,
        scene: "Landscape",
        internal_size: [1280, 720],
        ..OverlayData::empty(&times)
    };
    let mut changes = Vec::new();
    let out = draw(&gpu, &mut overlay, size, &pixels, &data, &mut changes);
    let drawn = count(&out, [0, 200], [0, 100], |p| p != CLEAR);
    assert!(
        drawn > 200 * 100 / 2,
        "the HUD corner is mostly unchanged ({drawn} px)"
    );
    // Far bottom-right corner stays untouched.
    assert!(region_unchanged(&out, &pixels, [560, 640], [300, 360]));
}

/// Everything on over a real scene frame, saved for a human to look at.
#[test]
fn full_overlay_over_a_scene_frame() {
    let Some(gpu) = gpu("full_overlay_over_a_scene_frame") else {
        return;
    };
    let size = [1280, 720];
    let scene_path = root().join("scenes/landscape.toml");
    let scene = hypna::scene::Scene::read(&scene_path).expect("landscape loads");
    let frame = render_last(&gpu, &scene_path, size, 2, &[]);
    let mut overlay = Overlay::new(&gpu.device, FORMAT);
    overlay.hud = true;
    overlay.panel = true;
    overlay.help = true;
    let mut times = FrameTimes::new();
    for i in 0..240 {
        times.push(if i % 50 == 0 {
            38.0
        } else {
            15.5 + (i % 5) as f32 * 0.6
        });
    }
    let gpu_passes = vec![("terrain".to_owned(), 3.2_f32), ("out".to_owned(), 0.4)];
    let models = [
        ModelStatus {
            name: "dream",
            rate_hz: 11.8,
            latency_ms: 84.0,
            errors: 0,
            state: "ready",
        },
        ModelStatus {
            name: "gen",
            rate_hz: 0.0,
            latency_ms: 0.0,
            errors: 3,
            state: "failed",
        },
    ];
    // Two grouped params after the scene's own, to show the collapsing headers.
    let mut params = scene.params.clone();
    for (name, group) in [("bloom", "post"), ("grain", "post")] {
        let mut p = params[0].clone();
        p.name = name.to_owned();
        p.label = String::new();
        p.group = Some(group.to_owned());
        params.push(p);
    }
    let mut targets: Vec<f32> = params.iter().map(|p| p.default).collect();
    if let Some(t) = targets.first_mut() {
        *t = (*t + 1.0).min(scene.params[0].max);
    }
    let errs = errors();
    let data = OverlayData {
        fps: 59.7,
        frame_times: &times,
        gpu_passes: &gpu_passes,
        models: &models,
        audio: Some(AudioStatus {
            device: "default (48 kHz)",
            level_db: -14.0,
            peak: 0.45,
            bpm: Some(124.0),
            beat: true,
        }),
        osc: Some(OscStatus {
            listen: "0.0.0.0:9000",
            messages_per_sec: 42.0,
            dropped: 2,
        }),
        record: None,
        scene: &scene.name,
        internal_size: size,
        media: (0, 0),
        errors: &errs,
        params: &params,
        targets: &targets,
        midi: None,
        midi_learning: None,
    };
    let mut changes = Vec::new();
    // The very first frame already shows everything (no invisible sizing frame).
    let out = draw(&gpu, &mut overlay, size, &frame.rgba, &data, &mut changes);
    assert!(changes.is_empty(), "no input, no change: {changes:?}");
    let path = std::env::temp_dir().join("overlay-look.png");
    out.save(&path);
    eprintln!("overlay over a scene frame: {}", path.display());
    assert!(out.rgba != frame.rgba);
}
