//! `[[media]]` sources (docs/media.md): still images fitted to their texture, a video and an
//! image sequence generated here with FFmpeg, frames chosen by time (exactly, offline), loop
//! and speed, the camera path through an FFmpeg virtual source (lavfi) behind the same seam,
//! including a killed capture reconnecting, and every bad input located, never a panic.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hypna::media::{InputArgs, MediaSet, Source, SourceState, Strictness};
use hypna::scene::{MediaDef, MediaFit, Scene};

use crate::common;

const PASS: &str = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
                    return textureSample(tex_clip, samp_clip, in.uv);\n}\n";
const WAIT: Duration = Duration::from_secs(30);

fn ffmpeg(test: &str) -> bool {
    common::prerequisite(
        test,
        "the ffmpeg program",
        hypna::media::process::available(),
        "scripts/setup.sh installs the ffmpeg package",
    )
}

/// Runs the ffmpeg program with `args` in `dir` (making test media).
fn make(dir: &Path, args: &[&str]) {
    let out = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PNG of `size` whose left half is red and right half blue.
fn two_colour_png(path: &Path, size: [u32; 2]) {
    let img = image::RgbaImage::from_fn(size[0], size[1], |x, _| {
        if x < size[0] / 2 {
            image::Rgba([255, 0, 0, 255])
        } else {
            image::Rgba([0, 0, 255, 255])
        }
    });
    img.save(path).unwrap();
}

/// Grey level of frame `i` of the generated clips.
fn grey(i: u64) -> u8 {
    u8::try_from(i * 20 + 10).unwrap()
}

/// Writes `count` flat grey 16x16 frames `frames/000.png`... and a lossless video of them
/// at 10 fps (`clip.mkv`): frame i has grey level [`grey`]`(i)`.
fn make_clip(dir: &Path, count: u64) {
    std::fs::create_dir_all(dir.join("frames")).unwrap();
    for i in 0..count {
        let g = grey(i);
        image::RgbaImage::from_pixel(16, 16, image::Rgba([g, g, g, 255]))
            .save(dir.join(format!("frames/{i:03}.png")))
            .unwrap();
    }
    make(
        dir,
        &[
            "-framerate",
            "10",
            "-i",
            "frames/%03d.png",
            "-c:v",
            "ffv1",
            "-pix_fmt",
            "bgr0",
            "clip.mkv",
        ],
    );
}

/// A scene in `dir` with one pass sampling media `clip` given by `media` (TOML keys).
fn scene_with(dir: &Path, media: &str) -> PathBuf {
    std::fs::write(dir.join("pass.wgsl"), PASS).unwrap();
    let path = dir.join("scene.toml");
    std::fs::write(
        &path,
        format!(
            "[scene]\nname = \"media\"\nsize = [16, 16]\n\n[params.scrub]\ndefault = 0.0\nrange = [0.0, 10.0]\n\n[[media]]\nname = \"clip\"\n{media}\n\n[[pass]]\nname = \"out\"\nshader = \"pass.wgsl\"\ninputs = [\"clip\"]\n"
        ),
    )
    .unwrap();
    path
}

fn def(dir: &Path, media: &str) -> MediaDef {
    let path = scene_with(dir, media);
    let scene = Scene::read(&path).unwrap_or_else(|e| panic!("{e}"));
    scene.media[0].clone()
}

/// The frame a file source shows at `time_secs` (waited for, as an offline render does).
fn frame_at(source: &mut Source, def: &MediaDef, time_secs: f64, params: &[f32]) -> Vec<u8> {
    source.advance(def, time_secs, 1.0 / 30.0, params);
    match source.take(true, WAIT) {
        Some(px) => px.to_vec(),
        None => panic!("no new frame at {time_secs} s: {:?}", source.state()),
    }
}

/// The grey level of the centre pixel (checking it is grey).
fn centre_grey(px: &[u8], size: [u32; 2]) -> u8 {
    let i = ((size[1] / 2 * size[0] + size[0] / 2) * 4) as usize;
    let [r, g, b] = [px[i], px[i + 1], px[i + 2]];
    assert!(
        r.abs_diff(g) <= 1 && g.abs_diff(b) <= 1,
        "grey: {r} {g} {b}"
    );
    g
}

#[test]
fn a_still_image_is_decoded_and_fitted_by_crop_letterbox_and_stretch() {
    if !ffmpeg("a_still_image_is_decoded_and_fitted_by_crop_letterbox_and_stretch") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    two_colour_png(&dir.path().join("photo.png"), [40, 20]);
    let pixel = |px: &[u8], w: u32, x: u32, y: u32| {
        let i = ((y * w + x) * 4) as usize;
        [px[i], px[i + 1], px[i + 2], px[i + 3]]
    };
    // Crop: the 40x20 picture fills 20x20 and loses its sides; red left, blue right.
    let crop = def(
        dir.path(),
        "file = \"photo.png\"\nsize = [20, 20]\nfit = \"crop\"",
    );
    assert_eq!(crop.fit, MediaFit::Crop);
    let mut s = Source::start(&crop).unwrap();
    s.wait_first(WAIT).unwrap();
    let px = s.take(true, WAIT).unwrap().to_vec();
    assert_eq!(px.len(), 20 * 20 * 4);
    assert_eq!(pixel(&px, 20, 2, 10), [255, 0, 0, 255]);
    assert_eq!(pixel(&px, 20, 17, 10), [0, 0, 255, 255]);
    assert!(s.take(true, WAIT).is_none(), "a still has one frame");
    // Letterbox: the whole picture in 40x40 with black bars above and below.
    let letterbox = def(
        dir.path(),
        "file = \"photo.png\"\nsize = [40, 40]\nfit = \"letterbox\"",
    );
    let mut s = Source::start(&letterbox).unwrap();
    s.wait_first(WAIT).unwrap();
    let px = s.take(true, WAIT).unwrap().to_vec();
    assert_eq!(pixel(&px, 40, 20, 2)[..3], [0, 0, 0]);
    assert_eq!(pixel(&px, 40, 2, 20), [255, 0, 0, 255]);
    assert_eq!(pixel(&px, 40, 37, 20), [0, 0, 255, 255]);
    // Stretch: 40x20 onto 10x30, both halves still there.
    let stretch = def(
        dir.path(),
        "file = \"photo.png\"\nsize = [10, 30]\nfit = \"stretch\"",
    );
    let mut s = Source::start(&stretch).unwrap();
    s.wait_first(WAIT).unwrap();
    let px = s.take(true, WAIT).unwrap().to_vec();
    assert_eq!(pixel(&px, 10, 0, 0), [255, 0, 0, 255]);
    assert_eq!(pixel(&px, 10, 9, 29), [0, 0, 255, 255]);
}

#[test]
fn a_video_shows_the_frame_of_each_time_and_loops_or_holds_at_the_end() {
    if !ffmpeg("a_video_shows_the_frame_of_each_time_and_loops_or_holds_at_the_end") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_clip(dir.path(), 10);
    let looped = def(dir.path(), "file = \"clip.mkv\"\nfps = 10");
    let mut s = Source::start(&looped).unwrap();
    s.wait_first(WAIT).unwrap();
    // Forward, with a skip, then past the end (1 s = 10 frames): 1.25 s is frame 2 again.
    for (t, frame) in [
        (0.0, 0),
        (0.1, 1),
        (0.35, 3),
        (0.9, 9),
        (1.25, 2),
        (2.05, 0),
    ] {
        let px = frame_at(&mut s, &looped, t, &[0.0]);
        assert_eq!(centre_grey(&px, [16, 16]), grey(frame), "at {t} s");
    }
    assert_eq!(s.frame_count(), Some(10));
    // Back in time (a scrub): the decoder starts again at a seek.
    let px = frame_at(&mut s, &looped, 0.5, &[0.0]);
    assert_eq!(centre_grey(&px, [16, 16]), grey(5));

    // Without loop it holds its last frame; at speed 2, 0.3 s is frame 6; the in point
    // moves frame 0.
    let held = def(
        dir.path(),
        "file = \"clip.mkv\"\nfps = 10\nloop = false\nspeed = 2.0\nstart = 0.2",
    );
    let mut s = Source::start(&held).unwrap();
    for (t, frame) in [(0.0, 2), (0.3, 8), (2.0, 9)] {
        let px = frame_at(&mut s, &held, t, &[0.0]);
        assert_eq!(centre_grey(&px, [16, 16]), grey(frame), "at {t} s");
    }
    // A position param scrubs: the param is seconds after the in point.
    let scrub = def(
        dir.path(),
        "file = \"clip.mkv\"\nfps = 10\nposition = \"scrub\"",
    );
    let mut s = Source::start(&scrub).unwrap();
    let px = frame_at(&mut s, &scrub, 5.0, &[0.7]);
    assert_eq!(centre_grey(&px, [16, 16]), grey(7));
}

#[test]
fn an_image_sequence_plays_at_its_frame_rate() {
    if !ffmpeg("an_image_sequence_plays_at_its_frame_rate") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_clip(dir.path(), 5);
    let seq = def(dir.path(), "sequence = \"frames/%03d.png\"\nfps = 5");
    let mut s = Source::start(&seq).unwrap();
    for (t, frame) in [(0.0, 0), (0.6, 3), (0.8, 4), (1.2, 1)] {
        let px = frame_at(&mut s, &seq, t, &[0.0]);
        assert_eq!(centre_grey(&px, [16, 16]), grey(frame), "at {t} s");
    }
}

#[test]
fn an_offline_render_shows_the_video_frame_of_each_frame_time_byte_identically() {
    let test = "an_offline_render_shows_the_video_frame_of_each_frame_time_byte_identically";
    if !ffmpeg(test) {
        return;
    }
    let Some(gpu) = common::gpu(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    make_clip(dir.path(), 10);
    let path = scene_with(dir.path(), "file = \"clip.mkv\"\nfps = 10");
    let first = common::render_all(&gpu, &path, [16, 16], 40, &[]);
    let second = common::render_all(&gpu, &path, [16, 16], 40, &[]);
    for (n, (a, b)) in first.iter().zip(&second).enumerate() {
        assert!(a.rgba == b.rgba, "frame {n} differs between two renders");
        // Rendered at 30 fps: frame n is at n/30 s, the clip's frame n/3 (looping at 10).
        let want = grey((n as u64 / 3) % 10);
        let got = a.pixel(8, 8)[0];
        assert!(
            got.abs_diff(want) <= 1,
            "frame {n}: grey {got}, want {want}"
        );
    }
    // The clip is watched for hot reload, and counted (not stalled) in the status.
    let runtime =
        hypna::runtime::Runtime::load(&gpu, &path, &hypna::runtime::RuntimeOptions::default())
            .unwrap();
    assert!(
        runtime
            .watched_files()
            .contains(&dir.path().join("clip.mkv")),
        "{:?}",
        runtime.watched_files()
    );
    assert_eq!(runtime.media_status(), (1, 0));
    assert_eq!(runtime.status().media, (1, 0));
}

#[test]
fn a_camera_through_a_virtual_source_delivers_and_reconnects_after_a_kill() {
    if !ffmpeg("a_camera_through_a_virtual_source_delivers_and_reconnects_after_a_kill") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let camera = def(dir.path(), "camera = \"default\"\nsize = [32, 24]");
    assert!(camera.input.is_live());
    // The seam cameras use, fed by FFmpeg's test pattern in real time.
    let input = InputArgs::live(
        Some("lavfi"),
        "testsrc=size=64x48:rate=25,realtime",
        camera.size,
        camera.fit,
    );
    let mut s = Source::start_live(&camera, input).unwrap();
    s.wait_first(WAIT).unwrap();
    let px = s.take(false, Duration::ZERO).map(<[u8]>::to_vec);
    assert_eq!(px.map(|p| p.len()), Some(32 * 24 * 4));
    assert_eq!(s.state(), SourceState::Running);
    let starts = |s: &Source| {
        s.counters()
            .starts
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let published = |s: &Source| {
        s.counters()
            .published
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(starts(&s), 1);
    // Kill the capture process, as a crash or an unplugged camera would end it: the source
    // starts it again and frames flow on.
    s.kill_ffmpeg();
    common::wait_until("the capture restarted", WAIT, || starts(&s) >= 2);
    let before = published(&s);
    common::wait_until("frames after the reconnect", WAIT, || {
        published(&s) > before + 5
    });
    assert!(
        s.counters()
            .failures
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    assert!(s.take(false, Duration::ZERO).is_some());
    assert!(!s.stalled());
}

#[test]
fn a_missing_camera_fails_check_and_render_and_is_retried_live() {
    if !ffmpeg("a_missing_camera_fails_check_and_render_and_is_retried_live") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = scene_with(dir.path(), "camera = 63");
    let scene = Scene::read(&path).unwrap();
    let e = MediaSet::start(&scene, Strictness::Strict)
        .unwrap_err()
        .to_string();
    assert!(e.contains("scene.toml:11:10"), "located at `camera`: {e}");
    assert!(e.contains("no camera 63"), "{e}");
    // `hypna check` says the same.
    let e = hypna::runtime::read_and_check(&path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no camera 63"), "{e}");
    // Live, the scene plays on with the source stalled and retried.
    let set = MediaSet::start(&scene, Strictness::Live).unwrap();
    assert_eq!(set.stalled(), 1);
    let source = &set.sources()[0];
    common::wait_until("a retry", WAIT, || {
        source
            .counters()
            .starts
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    });
}

#[test]
fn bad_media_is_located_and_never_panics() {
    if !ffmpeg("bad_media_is_located_and_never_panics") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Missing: a scene error at the `file` key.
    let path = scene_with(d, "file = \"gone.mp4\"");
    let e = Scene::read(&path).unwrap_err().to_string();
    assert!(
        e.contains("scene.toml:11:8") && e.contains("gone.mp4") && e.contains("not found"),
        "{e}"
    );
    // Undecodable, zero-length, and an in point past the end: located with FFmpeg's reason.
    std::fs::write(d.join("bad.mp4"), "not a video").unwrap();
    make(
        d,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=16x16:rate=10",
            "-frames:v",
            "0",
            "empty.mkv",
        ],
    );
    make_clip(d, 3);
    for (media, says) in [
        ("file = \"bad.mp4\"", "bad.mp4"),
        ("file = \"empty.mkv\"", "empty.mkv"),
        ("file = \"clip.mkv\"\nstart = 30.0", "no frames"),
    ] {
        let path = scene_with(d, media);
        let scene = Scene::read(&path).unwrap_or_else(|e| panic!("{media}: {e}"));
        let e = MediaSet::start(&scene, Strictness::Live)
            .unwrap_err()
            .to_string();
        assert!(e.contains("scene.toml:11:"), "{media}: located: {e}");
        assert!(e.contains(says), "{media}: {e}");
    }
    // Keys that do not fit the source, a sequence without a frame number, an unknown param.
    let path = scene_with(d, "camera = \"default\"\nloop = true");
    let e = Scene::read(&path).unwrap_err().to_string();
    assert!(e.contains("`loop` applies to video files"), "{e}");
    let path = scene_with(d, "sequence = \"frames/000.png\"");
    let e = Scene::read(&path).unwrap_err().to_string();
    assert!(e.contains("no frame number"), "{e}");
    let path = scene_with(d, "file = \"clip.mkv\"\nspeed = \"nope\"");
    let e = Scene::read(&path).unwrap_err().to_string();
    assert!(e.contains("param `nope`"), "{e}");
    let path = scene_with(d, "file = \"clip.mkv\"\nurl = \"rtsp://h/p\"");
    let e = Scene::read(&path).unwrap_err().to_string();
    assert!(e.contains("more than one of"), "{e}");
}
