//! `hypna run` in a real window on an X server (Xvfb): it presents what the headless renderer
//! renders, survives a window resize with its feedback intact, and hot-reloads with the
//! errors on screen.

use crate::audio_support;
use crate::common;
use crate::osc_support::osc_status;

use common::save;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use common::Frame;

/// Whether xdotool (which drives the window like a user) is there; else a skip, or a failure
/// under `HYPNA_REQUIRE_GPU=1`.
pub(crate) fn has_xdotool(test: &str) -> bool {
    let present = Command::new("xdotool").arg("--version").output().is_ok();
    common::prerequisite(test, "xdotool", present, "scripts/setup.sh test")
}

/// A private Xvfb server, killed on drop.
pub(crate) struct XServer {
    child: Child,
    pub(crate) display: String,
}

impl XServer {
    /// Starts Xvfb on a free display, or skips (fails under `HYPNA_REQUIRE_GPU=1`).
    pub(crate) fn start(test: &str) -> Option<Self> {
        common::take_turn(common::Turn::Render);
        let present = Command::new("Xvfb").arg("-help").output().is_ok();
        if !common::prerequisite(test, "Xvfb", present, "apt-get install xvfb") {
            return None;
        }
        // Xvfb picks a free display itself and writes its number to stdout (-displayfd), so
        // tests running in parallel never share or race for a display.
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1024x768x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            // Nothing read, or nobody waiting any more: the wait below times out or is gone.
            if BufReader::new(stdout).read_line(&mut line).is_ok() {
                drop(tx.send(line));
            }
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
            drop(child.kill());
            panic!("{test}: Xvfb did not report a display");
        };
        let n: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{test}: Xvfb printed `{line}`"));
        Some(Self {
            child,
            display: format!(":{n}"),
        })
    }
}

impl Drop for XServer {
    fn drop(&mut self) {
        // It may have ended already: then there is nothing to kill, and the wait reaps it.
        drop(self.child.kill());
        drop(self.child.wait());
    }
}

/// A running `hypna run` whose log lines arrive on a channel.
pub(crate) struct Hypna {
    pub(crate) child: Child,
    lines: Receiver<String>,
    pub(crate) log: Vec<String>,
}

impl Hypna {
    pub(crate) fn start(x: &XServer, args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hypna"));
        command.arg("run").args(args);
        Self::spawn(x, command)
    }

    fn spawn(x: &XServer, mut command: Command) -> Self {
        let mut child = command
            .current_dir(common::root())
            .env("DISPLAY", &x.display)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Waits for a log line containing `needle`.
    pub(crate) fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(
                    std::sync::mpsc::RecvTimeoutError::Timeout
                    | std::sync::mpsc::RecvTimeoutError::Disconnected,
                ) => panic!(
                    "no log line with `{needle}` within {timeout:?}; log so far:\n{}",
                    self.log.join("\n")
                ),
            }
        }
    }

    /// Waits for the process to end successfully and returns the whole log.
    pub(crate) fn finish(mut self) -> String {
        let deadline = Instant::now() + Duration::from_mins(2);
        loop {
            while let Ok(line) = self.lines.try_recv() {
                self.log.push(line);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader thread ends at the end of the pipe: every line is in by then.
                while let Ok(line) = self
                    .lines
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    self.log.push(line);
                }
                let log = self.log.join("\n");
                assert!(status.success(), "hypna run failed:\n{log}");
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "hypna run did not end:\n{}",
                self.log.join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Hypna {
    fn drop(&mut self) {
        // It may have ended already: then there is nothing to kill, and the wait reaps it.
        drop(self.child.kill());
        drop(self.child.wait());
    }
}

fn load(path: &Path) -> Frame {
    Frame::load(path).unwrap_or_else(|| panic!("cannot read {}", path.display()))
}

#[test]
fn run_presents_frames_in_a_window() {
    let Some(x) = XServer::start("run_presents_frames_in_a_window") else {
        return;
    };
    let hypna = Hypna::start(
        &x,
        &[
            "scenes/flow.toml",
            "--size",
            "160x90",
            "--frames",
            "12",
            "--no-osc",
        ],
    );
    let log = hypna.finish();
    assert!(log.contains("presented 12 frames"), "{log}");
}

#[test]
fn the_window_shows_what_the_headless_render_renders() {
    let test = "the_window_shows_what_the_headless_render_renders";
    let Some(gpu) = common::gpu(test) else { return };
    let Some(x) = XServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("capture");
    let hypna = Hypna::start(
        &x,
        &[
            "scenes/flow.toml",
            "--size",
            "320x180",
            "--frames",
            "31",
            "--fixed-fps",
            "30",
            "--no-osc",
            "--no-watch",
            "--capture",
            capture.to_str().unwrap(),
            "--capture-every",
            "10",
        ],
    );
    hypna.finish();
    let headless = common::render_all(
        &gpu,
        &common::root().join("scenes/flow.toml"),
        [320, 180],
        31,
        &[],
    );
    for n in [0usize, 10, 20, 30] {
        let window = load(&capture.join(format!("window_{n:05}.png")));
        assert_eq!(window.size, [320, 180]);
        let (diff, image) = common::compare(&window, &headless[n]);
        if diff >= 1.0 {
            let keep = std::env::temp_dir().join(format!("hypna-window-difference_{n}.png"));
            image.save(&keep);
            eprintln!("difference image: {}", keep.display());
        }
        assert!(
            diff < 1.0,
            "frame {n}: window differs from the headless render by {diff:.3} on average"
        );
        assert!(headless[n].luma_std() > 1.0 || n == 0, "frame {n} is flat");
    }
}

/// A feedback scene: ink on the left half during the first 5 frames only, kept forever.
fn feedback_scene(dir: &Path) -> PathBuf {
    let scene = dir.join("keep.toml");
    std::fs::write(
        &scene,
        r#"[scene]
name = "keep"
size = [160, 90]

[[pass]]
name = "acc"
shader = "acc.wgsl"
inputs = ["acc"]
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("acc.wgsl"),
        r"@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let prev = textureSample(tex_acc, samp_acc, in.uv);
    var add = 0.0;
    if (globals.frame < 5u && in.uv.x < 0.5) { add = 1.0; }
    return vec4<f32>(max(prev.rgb, vec3<f32>(add)), 1.0);
}
",
    )
    .unwrap();
    scene
}

fn left_right(frame: &Frame) -> (f64, f64) {
    let [width, height] = frame.size;
    let mut left = 0.0;
    let mut right = 0.0;
    // Skip a border column around the middle (resampling blends it).
    for row in 0..height {
        for col in 0..width {
            let value = f64::from(frame.pixel(col, row)[0]);
            if col < width / 2 - 2 {
                left += value;
            } else if col > width / 2 + 2 {
                right += value;
            }
        }
    }
    let count = f64::from((width / 2 - 2) * height);
    (left / count, right / count)
}

#[test]
fn resizing_the_window_keeps_feedback_content() {
    let test = "resizing_the_window_keeps_feedback_content";
    if !has_xdotool(test) {
        return;
    }
    let Some(x) = XServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scene = feedback_scene(dir.path());
    let capture = dir.path().join("capture");
    let mut hypna = Hypna::start(
        &x,
        &[
            scene.to_str().unwrap(),
            "--follow-window",
            "--no-osc",
            "--capture",
            capture.to_str().unwrap(),
            "--capture-every",
            "10",
        ],
    );
    hypna.wait_for("running keep at 160x90", Duration::from_mins(1));
    hypna.wait_for("window_00020.png", Duration::from_mins(1));
    let status = Command::new("xdotool")
        .args(["search", "--name", "keep", "windowsize", "320", "200"])
        .env("DISPLAY", &x.display)
        .status()
        .unwrap();
    assert!(status.success(), "xdotool failed");
    // Wait for a captured frame at the new size.
    let deadline = Instant::now() + Duration::from_mins(1);
    let frame = loop {
        let line = hypna.wait_for("saved", Duration::from_mins(1));
        let path = PathBuf::from(line.rsplit(' ').next().unwrap());
        let frame = load(&path);
        if frame.size == [320, 200] {
            break frame;
        }
        assert!(
            Instant::now() < deadline,
            "no frame at 320x200:\n{}",
            hypna.log.join("\n")
        );
    };
    let log = hypna.log.join("\n");
    let (l, r) = left_right(&frame);
    assert!(
        l > 200.0,
        "feedback content lost in the resize: left {l}\n{log}"
    );
    assert!(r < 5.0, "right {r}");
}

const LIVE_SCENE: &str = r#"[scene]
name = "live"
size = [320, 180]

[params.speed]
default = 1.0
range = [0.0, 4.0]

[[model]]
name = "cppn"
file = "cppn.onnx"

[model.inputs]
latent = { latent = { dim = 8, seed = 3, speed = 0.2 } }
time = { time = true }

[model.outputs]
image = { texture = "painted" }

[[pass]]
name = "out"
shader = "out.wgsl"
inputs = ["painted"]
"#;

/// No red anywhere (the error banner is red): green and blue only, moving with time.
const LIVE_SHADER: &str = r"@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let w = 0.5 + 0.5 * sin(globals.time * 4.0 * params.speed + in.uv.x * 12.0);
    let m = textureSample(tex_painted, samp_painted, in.uv);
    return vec4<f32>(0.0, w * 0.7 + 0.3 * m.g, (1.0 - w) * 0.7 + 0.3 * m.b, 1.0);
}
";

/// Mean of each channel over the rows `rows` of `frame`.
fn band(frame: &Frame, rows: std::ops::Range<u32>) -> [f64; 3] {
    let mut sum = [0.0; 3];
    let mut n = 0.0;
    for y in rows {
        for x in 0..frame.size[0] {
            let p = frame.pixel(x, y);
            for c in 0..3 {
                sum[c] += f64::from(p[c]);
            }
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

/// Frame number of a capture file `window_00042.png`.
fn capture_number(path: &Path) -> u64 {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.strip_prefix("window_"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Captures saved before [`next_capture`] takes one: more than the readback ring holds, so
/// every frame in flight when it was called has been written by then.
const CAPTURES_IN_FLIGHT: usize = 4;

/// A frame captured after now: captures are read back and written after the frame, so the
/// first files saved after an event can show frames from before it. Let
/// [`CAPTURES_IN_FLIGHT`] captures be saved, then take the first capture numbered past
/// everything seen by then.
fn next_capture(hypna: &mut Hypna) -> Frame {
    let mut newest = 0;
    while let Ok(line) = hypna.lines.try_recv() {
        if line.contains("saved") {
            newest = newest.max(capture_number(Path::new(line.rsplit(' ').next().unwrap())));
        }
        hypna.log.push(line);
    }
    for _ in 0..CAPTURES_IN_FLIGHT {
        let line = hypna.wait_for("saved", Duration::from_mins(1));
        newest = newest.max(capture_number(Path::new(line.rsplit(' ').next().unwrap())));
    }
    loop {
        let line = hypna.wait_for("saved", Duration::from_mins(1));
        let path = PathBuf::from(line.rsplit(' ').next().unwrap());
        if capture_number(&path) > newest {
            return load(&path);
        }
    }
}

/// Breaks `file`, checks the error banner shows `expect` while the last good version keeps
/// animating, then restores it and checks the banner goes away.
fn break_and_fix(hypna: &mut Hypna, file: &Path, broken: &[u8], good: &[u8], expect: &str) {
    save(file, broken);
    let error = hypna.wait_for("reload failed", Duration::from_mins(1));
    let detail = hypna.wait_for(expect, Duration::from_secs(10));
    eprintln!("{error}\n{detail}");
    // Frames captured from now on show the banner over the still-running scene.
    let _ = next_capture(hypna);
    let a = next_capture(hypna);
    let b = next_capture(hypna);
    let h = a.size[1];
    let banner = band(&a, h - 12..h);
    assert!(
        banner[0] > 90.0 && banner[0] > banner[1] && banner[0] > banner[2],
        "no red error banner at the bottom: {banner:?}"
    );
    let top_a = band(&a, 0..h / 3);
    assert!(top_a[0] < 10.0, "the scene itself has no red: {top_a:?}");
    assert_ne!(
        a.rgba[..a.rgba.len() / 3],
        b.rgba[..b.rgba.len() / 3],
        "the last good version keeps animating"
    );
    save(file, good);
    hypna.wait_for("errors cleared", Duration::from_mins(1));
    let _ = next_capture(hypna);
    let c = next_capture(hypna);
    let h = c.size[1];
    let bottom = band(&c, h - 12..h);
    assert!(bottom[0] < 10.0, "the banner went away: {bottom:?}");
}

#[test]
fn hot_reload_shows_errors_on_screen_until_fixed() {
    let test = "hot_reload_shows_errors_on_screen_until_fixed";
    if common::gpu(test).is_none() {
        return;
    }
    let Some(x) = XServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scene = dir.path().join("live.toml");
    let shader = dir.path().join("out.wgsl");
    let model = dir.path().join("cppn.onnx");
    let onnx = std::fs::read(common::root().join("models/cppn.onnx")).unwrap();
    std::fs::write(&scene, LIVE_SCENE).unwrap();
    std::fs::write(&shader, LIVE_SHADER).unwrap();
    std::fs::write(&model, &onnx).unwrap();
    let capture = dir.path().join("capture");
    let mut hypna = Hypna::start(
        &x,
        &[
            scene.to_str().unwrap(),
            "--no-osc",
            "--capture",
            capture.to_str().unwrap(),
            "--capture-every",
            "4",
        ],
    );
    hypna.wait_for("running live at 320x180", Duration::from_mins(2));
    let first = next_capture(&mut hypna);
    let h = first.size[1];
    assert!(
        band(&first, h - 12..h)[0] < 10.0,
        "no banner before any error"
    );

    // A shader error: file:line:col of the author's file.
    let broken = LIVE_SHADER.replace("let w = ", "let w = nope + ");
    break_and_fix(
        &mut hypna,
        &shader,
        broken.as_bytes(),
        LIVE_SHADER.as_bytes(),
        "out.wgsl:3:13",
    );
    // A scene file error.
    let broken = LIVE_SCENE.replace("default = 1.0", "default = \"fast\"");
    break_and_fix(
        &mut hypna,
        &scene,
        broken.as_bytes(),
        LIVE_SCENE.as_bytes(),
        "live.toml:6",
    );
    // A model file error: located at the [[model]] table.
    break_and_fix(
        &mut hypna,
        &model,
        b"not an onnx model",
        &onnx,
        "live.toml:9",
    );
}

const FAULT_SCENE: &str = r#"[scene]
name = "faults"
size = [160, 90]

[params.speed]
default = 1.0
range = [0.0, 4.0]

[audio]
device = "hypna_test"
stall_secs = 0.3
retry_secs = 0.2

[[model]]
name = "cppn"
file = "cppn.onnx"

[model.inputs]
latent = { latent = { dim = 8, seed = 3, speed = 0.2 } }
time = { time = true }

[model.outputs]
image = { texture = "painted" }

[[pass]]
name = "out"
shader = "out.wgsl"
inputs = ["painted"]
"#;

/// Frames must keep coming and must not be flat (a black or frozen screen is a failure).
fn assert_alive(hypna: &mut Hypna, after: &str) {
    let a = next_capture(hypna);
    let b = next_capture(hypna);
    let h = a.size[1];
    assert!(
        a.luma_std() > 3.0,
        "after {after}: the frame is flat (std {:.2})",
        a.luma_std()
    );
    assert_ne!(
        a.rgba[..(a.size[0] * 4 * h / 2) as usize],
        b.rgba[..(b.size[0] * 4 * h / 2) as usize],
        "after {after}: the picture stopped moving"
    );
}

#[test]
fn faults_while_running_never_stop_the_show() {
    let test = "faults_while_running_never_stop_the_show";
    if common::gpu(test).is_none() {
        return;
    }
    let Some(system_alsa) = audio_support::system_alsa_conf() else {
        common::prerequisite(test, "alsa.conf", false, "apt-get install libasound2-dev");
        return;
    };
    let Some(x) = XServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Audio: a minute of a tone in, a FIFO out.
    let mut raw = Vec::new();
    for i in 0..48_000 * 60 {
        let s = ((i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 48_000.0).sin() * 8000.0) as i16;
        raw.extend_from_slice(&s.to_le_bytes());
        raw.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(d.join("in.raw"), raw).unwrap();
    let fifo = d.join("out.fifo");
    // The plugin's output: read while `draining` is set; cleared, the "device" stalls.
    let draining = audio_support::drain_fifo(&fifo);
    std::fs::write(
        d.join("asound.conf"),
        audio_support::alsa_file_pcm_conf(&d.join("in.raw"), &fifo),
    )
    .unwrap();
    let scene = d.join("faults.toml");
    let shader = d.join("out.wgsl");
    let model = d.join("cppn.onnx");
    let onnx = std::fs::read(common::root().join("models/cppn.onnx")).unwrap();
    std::fs::write(&scene, FAULT_SCENE).unwrap();
    std::fs::write(&shader, LIVE_SHADER).unwrap();
    std::fs::write(&model, &onnx).unwrap();
    let port = {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let capture = d.join("capture");
    let osc = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hypna"));
    child
        .args([
            "run",
            scene.to_str().unwrap(),
            "--osc",
            &osc,
            "--capture",
            capture.to_str().unwrap(),
            "--capture-every",
            "3",
            "--debug-lose-device-on-usr1",
        ])
        .env(
            "ALSA_CONFIG_PATH",
            format!("{system_alsa}:{}", d.join("asound.conf").display()),
        );
    let mut hypna = Hypna::spawn(&x, child);
    hypna.wait_for("running faults at 160x90", Duration::from_mins(2));
    hypna.wait_for(
        "audio: hypna test input (hypna_test)",
        Duration::from_secs(30),
    );
    assert_alive(&mut hypna, "start");

    // 1. A corrupt shader: located error, the last good version plays on.
    save(
        &shader,
        LIVE_SHADER
            .replace("let w = ", "let w = nope + ")
            .as_bytes(),
    );
    hypna.wait_for("reload failed", Duration::from_mins(1));
    hypna.wait_for("out.wgsl:3:13", Duration::from_secs(10));
    assert_alive(&mut hypna, "a corrupt shader");
    save(&shader, LIVE_SHADER.as_bytes());
    hypna.wait_for("errors cleared", Duration::from_mins(1));

    // 2. The model file deleted: the reload fails naming the model; the show goes on.
    std::fs::remove_file(&model).unwrap();
    hypna.wait_for("reload failed", Duration::from_mins(1));
    hypna.wait_for("model `cppn`", Duration::from_secs(10));
    assert_alive(&mut hypna, "deleting the model file");
    save(&model, &onnx);
    hypna.wait_for("errors cleared", Duration::from_mins(1));

    // 3. An OSC flood, half of it garbage.
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let good = rosc::encoder::encode(&rosc::OscPacket::Message(rosc::OscMessage {
        addr: "/hypna/param/speed".into(),
        args: vec![rosc::OscType::Float(1.5)],
    }))
    .unwrap();
    for i in 0..20_000u32 {
        let packet: &[u8] = if i % 2 == 0 {
            &good
        } else {
            b"/garbage\0,zz\0junk"
        };
        // A flood: what the socket buffer cannot take is dropped, as on a network.
        drop(sender.send_to(packet, ("127.0.0.1", port)));
    }
    assert_alive(&mut hypna, "an OSC flood");
    let counters = osc_status(port).counters;
    let malformed = counters
        .iter()
        .find(|(n, _)| n == "osc.malformed")
        .map_or(0, |(_, v)| *v);
    assert!(malformed > 1000, "malformed packets counted: {counters:?}");

    // 4. The audio device pulled: reconnecting, the show goes on; plugged back: connected.
    draining.store(false, std::sync::atomic::Ordering::Release);
    hypna.wait_for("audio input lost", Duration::from_secs(30));
    assert_alive(&mut hypna, "losing the audio device");
    draining.store(true, std::sync::atomic::Ordering::Release);
    hypna.wait_for(
        "audio: hypna test input (hypna_test)",
        Duration::from_secs(30),
    );

    // 5. The GPU device lost: rebuilt, the scene resumes.
    let pid = hypna.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-USR1", &pid])
            .status()
            .unwrap()
            .success()
    );
    hypna.wait_for("GPU device lost", Duration::from_secs(30));
    hypna.wait_for("GPU recovered", Duration::from_mins(1));
    assert_alive(&mut hypna, "losing the GPU device");

    // A clean stop on SIGTERM.
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    hypna.wait_for("stop signal received", Duration::from_secs(30));
    let log = hypna.finish();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn the_window_is_remembered_only_when_asked() {
    let test = "the_window_is_remembered_only_when_asked";
    let Some(x) = XServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let memory = config.join("hypna/window.toml");
    let run = |extra: &[&str], capture: &Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hypna"));
        command
            .args([
                "run",
                "scenes/flow.toml",
                "--size",
                "160x90",
                "--frames",
                "3",
            ])
            .args(["--no-osc", "--no-watch", "--capture"])
            .arg(capture)
            .args(extra)
            .env("XDG_CONFIG_HOME", &config);
        Hypna::spawn(&x, command).finish()
    };
    run(&[], &dir.path().join("a"));
    assert!(!memory.exists(), "nothing saved without --remember-window");
    run(&["--remember-window"], &dir.path().join("b"));
    let saved = std::fs::read_to_string(&memory).expect("saved with --remember-window");
    assert!(
        saved.contains("width = 160") && saved.contains("height = 90"),
        "{saved}"
    );
    // The next run restores what the file says.
    std::fs::write(
        &memory,
        "x = 10\ny = 20\nwidth = 240\nheight = 100\nfullscreen = false\n",
    )
    .unwrap();
    run(&["--remember-window"], &dir.path().join("c"));
    let restored = load(&dir.path().join("c/window_00000.png"));
    assert_eq!(
        restored.size,
        [240, 100],
        "the window opened at the remembered size"
    );
}

#[test]
fn devices_lists_monitors_with_their_size() {
    let test = "devices_lists_monitors_with_their_size";
    let Some(x) = XServer::start(test) else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_hypna"))
        .arg("devices")
        .env("DISPLAY", &x.display)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let monitors: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Monitors:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(
        monitors
            .iter()
            // Xvfb reports no refresh rate; real monitors print "…, 60.00 Hz".
            .any(|m| m.contains("[0]")
                && m.contains("1024x768")
                && (m.contains(" Hz") || m.contains("refresh rate unknown"))),
        "{stdout}"
    );
}

#[test]
fn fullscreen_fills_the_monitor_and_f_toggles_it() {
    let test = "fullscreen_fills_the_monitor_and_f_toggles_it";
    if !has_xdotool(test) {
        return;
    }
    let Some(x) = XServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Started fullscreen on monitor 0: the swapchain is the whole screen.
    let capture = dir.path().join("full");
    let mut command = Command::new(env!("CARGO_BIN_EXE_hypna"));
    command
        .args([
            "run",
            "scenes/flow.toml",
            "--size",
            "160x90",
            "--frames",
            "3",
        ])
        .args(["--no-osc", "--no-watch", "--fullscreen", "--monitor", "0"])
        .arg("--capture")
        .arg(&capture);
    Hypna::spawn(&x, command).finish();
    let frame = load(&capture.join("window_00002.png"));
    assert_eq!(frame.size, [1024, 768], "fullscreen covers the screen");

    // Windowed, then F: fullscreen.
    let capture = dir.path().join("toggle");
    let mut hypna = Hypna::start(
        &x,
        &[
            "scenes/flow.toml",
            "--size",
            "160x90",
            "--no-osc",
            "--no-watch",
            "--capture",
            capture.to_str().unwrap(),
            "--capture-every",
            "5",
        ],
    );
    hypna.wait_for("running Ink flow", Duration::from_mins(1));
    assert_eq!(next_capture(&mut hypna).size, [160, 90]);
    press_f_until(&x, &mut hypna, [1024, 768], "F did not go fullscreen");
    // F again: back to the window as it was.
    press_f_until(&x, &mut hypna, [160, 90], "F did not leave fullscreen");
}

/// Presses `key` in the hypna window (xdotool, after focusing it).
pub(crate) fn press_key(x: &XServer, key: &str) {
    let status = Command::new("xdotool")
        .args([
            "search",
            "--name",
            "hypna",
            "windowfocus",
            "--sync",
            "key",
            key,
        ])
        .env("DISPLAY", &x.display)
        .status()
        .unwrap();
    assert!(status.success(), "xdotool failed");
}

/// Presses F in the hypna window and waits for captures of `size`.
fn press_f_until(x: &XServer, hypna: &mut Hypna, size: [u32; 2], failure: &str) {
    press_key(x, "f");
    let deadline = Instant::now() + Duration::from_mins(1);
    while next_capture(hypna).size != size {
        assert!(Instant::now() < deadline, "{failure}");
    }
}

#[test]
fn a_playlist_entry_that_does_not_load_shows_its_errors_until_a_switch_succeeds() {
    let test = "a_playlist_entry_that_does_not_load_shows_its_errors_until_a_switch_succeeds";
    if common::gpu(test).is_none() {
        return;
    }
    let Some(x) = XServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path();
    // Green and blue only (the banner is red), moving.
    std::fs::write(
        folder.join("good.wgsl"),
        "@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let w = 0.5 + 0.5 * sin(globals.time * 4.0 + in.uv.x * 12.0);
    return vec4<f32>(0.0, w * 0.7, (1.0 - w) * 0.7, 1.0);
}
",
    )
    .unwrap();
    std::fs::write(
        folder.join("good.toml"),
        "[scene]\nname = \"good\"\nsize = [320, 180]\n\n\
         [[pass]]\nname = \"out\"\nshader = \"good.wgsl\"\n",
    )
    .unwrap();
    std::fs::write(folder.join("broken.toml"), "[scene]\nname = \n").unwrap();
    // The good scene plays 6 s, the broken entry's turn lasts 10 s (the good scene plays on
    // under the banner), then the good scene loads again and the banner goes for 6 s (long
    // turns: captures lag behind when tests share the cores).
    let playlist = folder.join("banner.toml");
    std::fs::write(
        &playlist,
        "[playlist]\nname = \"banner\"\ntransition = { kind = \"cut\" }\n\n\
         [[entry]]\nscene = \"good.toml\"\nduration = \"6s\"\n\n\
         [[entry]]\nscene = \"broken.toml\"\nduration = \"10s\"\n",
    )
    .unwrap();
    let capture = folder.join("capture");
    let mut hypna = Hypna::start(
        &x,
        &[
            playlist.to_str().unwrap(),
            "--no-osc",
            "--capture",
            capture.to_str().unwrap(),
            "--capture-every",
            "4",
        ],
    );
    hypna.wait_for("running good", Duration::from_mins(2));
    let before = next_capture(&mut hypna);
    let height = before.size[1];
    assert!(
        band(&before, height - 12..height)[0] < 10.0,
        "no banner before the failed switch"
    );
    hypna.wait_for("does not load", Duration::from_mins(1));
    hypna.wait_for("broken.toml:2", Duration::from_secs(10));
    // Captures are read back a few frames late, and later still when tests share the cores:
    // the first one after the log line may predate the banner. Take captures until one shows
    // it, within the broken entry's turn.
    let red = |b: [f64; 3]| b[0] > 90.0 && b[0] > b[1] && b[0] > b[2];
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut a = next_capture(&mut hypna);
    while !red(band(&a, height - 12..height)) && Instant::now() < deadline {
        a = next_capture(&mut hypna);
    }
    let b = next_capture(&mut hypna);
    let banner = band(&a, height - 12..height);
    assert!(red(banner), "no red error banner at the bottom: {banner:?}");
    assert_ne!(
        a.rgba[..a.rgba.len() / 3],
        b.rgba[..b.rgba.len() / 3],
        "the scene on screen keeps playing"
    );
    hypna.wait_for("switching to good", Duration::from_mins(1));
    let _ = next_capture(&mut hypna);
    let c = next_capture(&mut hypna);
    let bottom = band(&c, height - 12..height);
    assert!(
        bottom[0] < 10.0,
        "the banner went away after a good switch: {bottom:?}"
    );
}
