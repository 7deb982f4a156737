//! Recording to video through ffmpeg: `hypna render --out film.mp4` with the song muxed in
//! sync (a click's flash and the click itself within one frame in the file), the codecs and
//! their errors; `hypna run --record` (with the live audio input, OSC `/hypna/record` and the
//! V key) and `--stream` under Xvfb. Files are checked with ffprobe and decoded with ffmpeg,
//! programs we did not write.

#![allow(clippy::float_cmp)] // frame counts and sample rates are whole numbers

use crate::common;
use crate::window::{Hypna, XServer, has_xdotool, press_key};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const RATE: u32 = 48_000;
const FPS: f64 = 30.0;

/// Whether ffmpeg and ffprobe are there; else a skip (a failure under `HYPNA_REQUIRE_GPU=1`).
fn has_ffmpeg(test: &str) -> bool {
    let present = ["ffmpeg", "ffprobe"].iter().all(|p| {
        Command::new(p)
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    common::prerequisite(test, "ffmpeg and ffprobe", present, "scripts/setup.sh run")
}

/// A mono 16-bit WAV of `secs` seconds: silence with a sharp click (5 ms of a loud 3 kHz
/// burst) starting at each of `clicks`, plus a quiet hum so the file is never all zeros.
fn write_clicks(path: &Path, secs: f64, clicks: &[f64]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let total = (secs * f64::from(RATE)) as usize;
    let starts: Vec<usize> = clicks
        .iter()
        .map(|c| (c * f64::from(RATE)) as usize)
        .collect();
    let burst = RATE as usize / 200;
    for i in 0..total {
        let t = i as f64 / f64::from(RATE);
        let mut v = 0.002 * (2.0 * std::f64::consts::PI * 110.0 * t).sin();
        if starts.iter().any(|&s| i >= s && i < s + burst) {
            v += 0.9 * (2.0 * std::f64::consts::PI * 3000.0 * t).sin();
        }
        w.write_sample((v.clamp(-1.0, 1.0) * 32_000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

/// A scene of `size` whose shader is `body` (returns the colour).
fn scene(dir: &Path, size: [u32; 2], body: &str) -> PathBuf {
    std::fs::write(
        dir.join("s.wgsl"),
        format!("@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {{\n{body}\n}}\n"),
    )
    .unwrap();
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        format!(
            "[scene]\nname = \"encode\"\nsize = [{}, {}]\n\n[[pass]]\nname = \"out\"\nshader = \"s.wgsl\"\n",
            size[0], size[1]
        ),
    )
    .unwrap();
    path
}

/// A moving gradient (so the encoder has something to do).
const MOVING: &str =
    "    let x = fract(in.uv.x + globals.time * 0.5);\n    return vec4<f32>(x, in.uv.y, 0.5, 1.0);";

/// White while an onset pulse is on, else black.
const FLASH: &str =
    "    let v = select(0.0, 1.0, globals.onset > 0.5);\n    return vec4<f32>(v, v, v, 1.0);";

fn hypna(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hypna"))
        .args(args)
        .current_dir(common::root())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// ffprobe's streams and format, frames counted.
fn probe(path: &Path) -> serde_json::Value {
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_type,codec_name,width,height,nb_read_frames,duration,sample_rate:format=duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ffprobe {}: {}",
        path.display(),
        text(&o)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn stream<'a>(probe: &'a serde_json::Value, kind: &str) -> Option<&'a serde_json::Value> {
    probe["streams"]
        .as_array()?
        .iter()
        .find(|s| s["codec_type"] == kind)
}

fn number(v: &serde_json::Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_f64())
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Decodes `path` with ffmpeg to `format` raw bytes on stdout (extra arguments before `-f`).
fn decode(path: &Path, extra: &[&str]) -> Vec<u8> {
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(extra)
        .arg("-")
        .output()
        .unwrap();
    assert!(o.status.success(), "ffmpeg decode: {}", text(&o));
    o.stdout
}

#[test]
fn a_rendered_mp4_has_its_frames_size_duration_and_sound() {
    let test = "a_rendered_mp4_has_its_frames_size_duration_and_sound";
    common::take_turn(common::Turn::Render);
    if !has_ffmpeg(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scene_path = scene(dir.path(), [96, 54], MOVING);
    let song = dir.path().join("song.wav");
    // The song is longer than the video: the file is cut to the picture.
    write_clicks(&song, 3.0, &[0.5, 1.0]);
    let film = dir.path().join("film.mp4");
    let o = hypna(&[
        "render",
        scene_path.to_str().unwrap(),
        "--frames",
        "45",
        "--fps",
        "30",
        "--out",
        film.to_str().unwrap(),
        "--audio-file",
        song.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("rendered 45 frames (45 written)"),
        "{}",
        text(&o)
    );
    let p = probe(&film);
    let v = stream(&p, "video").unwrap_or_else(|| panic!("no video: {p}"));
    assert_eq!(v["codec_name"], "h264", "{p}");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(96), Some(54)),
        "{p}"
    );
    assert_eq!(number(&v["nb_read_frames"]), 45.0, "{p}");
    assert!((number(&v["duration"]) - 1.5).abs() < 0.01, "{p}");
    let a = stream(&p, "audio").unwrap_or_else(|| panic!("no audio stream: {p}"));
    assert_eq!(a["codec_name"], "aac", "{p}");
    assert!(
        (number(&a["duration"]) - 1.5).abs() < 0.05,
        "audio cut to the video: {p}"
    );
    assert!((number(&p["format"]["duration"]) - 1.5).abs() < 0.05, "{p}");
    // The picture moves: the first and the last frame differ.
    let gray = decode(&film, &["-f", "rawvideo", "-pix_fmt", "gray"]);
    let frame = 96 * 54;
    assert_eq!(gray.len(), 45 * frame);
    assert_ne!(gray[..frame], gray[44 * frame..], "the video is frozen");
}

#[test]
fn a_click_and_its_flash_are_within_one_frame_in_the_file() {
    let test = "a_click_and_its_flash_are_within_one_frame_in_the_file";
    common::take_turn(common::Turn::Render);
    if !has_ffmpeg(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let s = scene(dir.path(), [32, 32], FLASH);
    let song = dir.path().join("clicks.wav");
    // Clicks between frame times (frame N shows N/30 s): 1.01 s and 2.51 s.
    let clicks = [1.01, 2.51];
    write_clicks(&song, 3.0, &clicks);
    let film = dir.path().join("sync.mp4");
    let o = hypna(&[
        "render",
        s.to_str().unwrap(),
        "--frames",
        "90",
        "--fps",
        "30",
        "--out",
        film.to_str().unwrap(),
        "--audio-file",
        song.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // The flashes: frames whose mean brightness is high, where the one before is dark.
    let gray = decode(&film, &["-f", "rawvideo", "-pix_fmt", "gray"]);
    let frame = 32 * 32;
    let bright: Vec<bool> = gray
        .chunks(frame)
        .map(|f| f.iter().map(|&p| f64::from(p)).sum::<f64>() / frame as f64 > 128.0)
        .collect();
    assert_eq!(bright.len(), 90);
    let flashes: Vec<f64> = (0..bright.len())
        .filter(|&i| bright[i] && (i == 0 || !bright[i - 1]))
        .map(|i| i as f64 / FPS)
        .collect();
    // The clicks: where the decoded sound first gets loud after a quiet stretch.
    let pcm = decode(&film, &["-f", "s16le", "-ac", "1", "-ar", "48000"]);
    let samples: Vec<i16> = pcm
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let mut heard = Vec::new();
    let mut quiet_since = 0usize;
    for (i, s) in samples.iter().enumerate() {
        if s.unsigned_abs() > 8000 {
            if i - quiet_since > RATE as usize / 10 {
                heard.push(i as f64 / f64::from(RATE));
            }
            quiet_since = i;
        }
    }
    assert_eq!(heard.len(), clicks.len(), "clicks in the file: {heard:?}");
    for (h, c) in heard.iter().zip(clicks) {
        assert!(
            (h - c).abs() < 0.005,
            "the click at {c} s is at {h} s in the file"
        );
    }
    assert_eq!(
        flashes.len(),
        clicks.len(),
        "flashes at {flashes:?}, clicks at {heard:?}"
    );
    for (flash, click) in flashes.iter().zip(&heard) {
        assert!(
            (flash - click).abs() <= 1.0 / FPS,
            "flash at {flash:.3} s, click at {click:.3} s: more than one frame apart"
        );
    }
}

#[test]
fn codecs_land_in_their_containers_and_bad_choices_are_clear_errors() {
    let test = "codecs_land_in_their_containers_and_bad_choices_are_clear_errors";
    common::take_turn(common::Turn::Render);
    if !has_ffmpeg(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Odd sides: padded to even ones by the encoder's filter (SVT-AV1 wants 64 at least).
    let s = scene(dir.path(), [127, 71], MOVING);
    for (file, codec, expect) in [
        ("a.mkv", "hevc", "hevc"),
        ("a.webm", "av1", "av1"),
        ("a.mov", "prores", "prores"),
    ] {
        let out = dir.path().join(file);
        let o = hypna(&[
            "render",
            s.to_str().unwrap(),
            "--frames",
            "6",
            "--out",
            out.to_str().unwrap(),
            "--codec",
            codec,
        ]);
        assert!(o.status.success(), "{file}: {}", text(&o));
        let p = probe(&out);
        let v = stream(&p, "video").unwrap();
        assert_eq!(v["codec_name"], expect, "{p}");
        assert_eq!(number(&v["nb_read_frames"]), 6.0, "{p}");
        assert!(stream(&p, "audio").is_none(), "no song, no sound: {p}");
    }
    let bad = |extra: &[&str], file: &str, expect: &[&str]| {
        let out = dir.path().join(file);
        let mut args = vec![
            "render",
            s.to_str().unwrap(),
            "--frames",
            "3",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = hypna(&args);
        let t = text(&o);
        // 1: hypna's error; 2: the command line's (clap). Never a panic (101).
        assert!(
            matches!(o.status.code(), Some(1 | 2)),
            "{args:?} should fail cleanly: {t}"
        );
        for e in expect {
            assert!(t.contains(e), "`{e}` missing from: {t}");
        }
    };
    bad(
        &["--codec", "prores"],
        "p.mp4",
        &["MP4 cannot hold prores", ".mov or .mkv"],
    );
    bad(&["--codec", "vp8"], "v.mkv", &["unknown codec `vp8`"]);
    bad(
        &["--crf", "70"],
        "c.mp4",
        &["--crf 70 is out of range for libx264"],
    );
    bad(
        &["--encoder", "h264_nonesuch"],
        "e.mp4",
        &[
            "no video encoder `h264_nonesuch`",
            "hardware encoders of H.264",
        ],
    );
    bad(&["--last-only"], "l.mp4", &["--last-only"]);
    // A hardware encoder ffmpeg lists but this machine may lack: a clean error naming it
    // with ffmpeg's words, or (with the hardware) a file.
    let out = dir.path().join("hw.mp4");
    let o = hypna(&[
        "render",
        s.to_str().unwrap(),
        "--frames",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--encoder",
        "h264_nvenc",
    ]);
    if o.status.success() {
        assert_eq!(stream(&probe(&out), "video").unwrap()["codec_name"], "h264");
    } else {
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(
            t.contains("ffmpeg failed writing") && t.contains("hw.mp4"),
            "{t}"
        );
    }
}

#[test]
fn run_records_the_show_with_live_audio_started_and_stopped_by_osc_and_the_v_key() {
    let test = "run_records_the_show_with_live_audio_started_and_stopped_by_osc_and_the_v_key";
    if !has_ffmpeg(test) || !has_xdotool(test) {
        return;
    }
    let Some(x) = XServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("live.wav");
    write_clicks(&song, 4.0, &[0.5, 1.5, 2.5, 3.5]);
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let osc = format!("127.0.0.1:{port}");
    let shots = dir.path().join("shots");
    std::fs::create_dir(&shots).unwrap();
    // First: --record from the start, with the WAV file as live input, until the file has
    // a few dozen frames in it (ffmpeg writes in 32 KiB blocks), then SIGTERM: a clean stop.
    let film = dir.path().join("show.mkv");
    let mut hypna = Hypna::start(
        &x,
        &[
            "scenes/flow.toml",
            "--size",
            "160x90",
            "--no-osc",
            "--no-watch",
            "--record",
            film.to_str().unwrap(),
            "--audio-file",
            song.to_str().unwrap(),
        ],
    );
    let line = hypna.wait_for("recording ", Duration::from_mins(1));
    assert!(line.contains("live audio"), "{line}");
    common::wait_until("frames in the file", Duration::from_mins(2), || {
        std::fs::metadata(&film).is_ok_and(|m| m.len() > 40_000)
    });
    let pid = hypna.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let log = hypna.finish();
    assert!(
        log.contains(&format!("recorded {}", film.display())),
        "{log}"
    );
    let p = probe(&film);
    let v = stream(&p, "video").unwrap_or_else(|| panic!("no video: {p}"));
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(160), Some(90)),
        "{p}"
    );
    assert!(number(&v["nb_read_frames"]) >= 10.0, "{p}");
    let a = stream(&p, "audio").unwrap_or_else(|| panic!("the live audio is missing: {p}"));
    assert_eq!(number(&a["sample_rate"]), f64::from(RATE), "{p}");
    // Second: OSC starts a recording, the V key stops it (into the screenshot folder).
    let mut hypna = Hypna::start(
        &x,
        &[
            "scenes/flow.toml",
            "--size",
            "160x90",
            "--osc",
            &osc,
            "--no-watch",
            "--screenshot-dir",
            shots.to_str().unwrap(),
            "--record-no-audio",
        ],
    );
    hypna.wait_for("running", Duration::from_mins(1));
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let start = rosc::encoder::encode(&rosc::OscPacket::Message(rosc::OscMessage {
        addr: "/hypna/record".into(),
        args: vec![rosc::OscType::String("start".into())],
    }))
    .unwrap();
    sender.send_to(&start, &osc).unwrap();
    hypna.wait_for("recording ", Duration::from_mins(1));
    // Let some frames through, then V.
    common::wait_until("frames recorded", Duration::from_mins(1), || {
        std::fs::read_dir(&shots)
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.metadata().is_ok_and(|m| m.len() > 2000))
    });
    press_key(&x, "v");
    let line = hypna.wait_for("recording of", Duration::from_mins(1));
    assert!(line.contains("stopped"), "{line}");
    hypna.wait_for("recorded ", Duration::from_mins(1));
    let files: Vec<PathBuf> = std::fs::read_dir(&shots)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mkv"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let p = probe(&files[0]);
    assert!(
        number(&stream(&p, "video").unwrap()["nb_read_frames"]) >= 1.0,
        "{p}"
    );
    assert!(stream(&p, "audio").is_none(), "--record-no-audio: {p}");
}

#[test]
fn run_streams_over_udp_to_a_receiver() {
    let test = "run_streams_over_udp_to_a_receiver";
    if !has_ffmpeg(test) {
        return;
    }
    let Some(x) = XServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let received = dir.path().join("received.ts");
    // The receiver listens first: 20 frames of whatever arrives, copied as they are.
    let mut ffmpeg_rx = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(format!("udp://127.0.0.1:{port}?timeout=60000000"))
        .args(["-frames:v", "20", "-c", "copy"])
        .arg(&received)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut hypna = Hypna::start(
        &x,
        &[
            "scenes/flow.toml",
            "--size",
            "160x90",
            "--no-osc",
            "--no-watch",
            "--stream",
            &format!("udp://127.0.0.1:{port}"),
        ],
    );
    hypna.wait_for("recording udp://", Duration::from_mins(1));
    common::wait_until(
        "the receiver to get 20 frames",
        Duration::from_mins(2),
        || ffmpeg_rx.try_wait().unwrap().is_some(),
    );
    let status = ffmpeg_rx.wait().unwrap();
    assert!(status.success(), "the receiver failed");
    drop(hypna);
    let p = probe(&received);
    let v = stream(&p, "video").unwrap_or_else(|| panic!("nothing received: {p}"));
    assert_eq!(v["codec_name"], "h264", "{p}");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(160), Some(90)),
        "{p}"
    );
    assert!(number(&v["nb_read_frames"]) >= 19.0, "{p}");
}
