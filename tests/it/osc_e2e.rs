//! OSC end to end: peers we did not write (liblo's `oscsend`, python-osc) change a param of a
//! running headless render, and the rendered frames show it.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A 16x16 scene whose red channel is the param `level`.
fn scene(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("level.wgsl"),
        "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(params.level, 0.0, 0.0, 1.0);\n}\n",
    )
    .unwrap();
    let path = dir.join("level.toml");
    std::fs::write(
        &path,
        "[scene]\nname = \"level\"\nsize = [16, 16]\n\n[params.level]\ndefault = 0.0\nrange = [0.0, 1.0]\n\n\
         [[pass]]\nname = \"out\"\nshader = \"level.wgsl\"\nformat = \"rgba8unorm\"\n",
    )
    .unwrap();
    path
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tool_present(cmd: &mut Command, name: &str, test: &str) -> bool {
    let ok = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success() || name == "oscsend");
    if !ok {
        assert!(
            std::env::var("HYPNA_REQUIRE_GPU").as_deref() != Ok("1"),
            "{test}: {name} is required on CI (scripts/setup.sh test installs it)"
        );
        eprintln!("SKIPPED {test}: {name} not available");
    }
    ok
}

/// Renders `frames` frames listening on `port` while `send` is called every 50 ms; returns
/// the red value of the last frame.
fn render_while_sending(frames: u32, port: u16, send: impl FnMut()) -> u8 {
    render_with_args(
        frames,
        &["--osc".to_string(), format!("127.0.0.1:{port}")],
        send,
    )
}

/// Like [`render_while_sending`], with the OSC arguments given.
fn render_with_args(frames: u32, osc_args: &[String], mut send: impl FnMut()) -> u8 {
    let dir = tempfile::tempdir().unwrap();
    let path = scene(dir.path());
    let out = dir.path().join("out");
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_hypna"))
        .args([
            "render",
            path.to_str().unwrap(),
            "--frames",
            &frames.to_string(),
            "--last-only",
        ])
        .args(osc_args)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_mins(2);
    loop {
        send();
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "render failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = out.join(format!("frame_{:05}.png", frames - 1));
    common::Frame::load(&last).expect("last frame").pixel(8, 8)[0]
}

#[test]
fn oscsend_changes_a_param_of_a_running_render() {
    if common::gpu("oscsend_e2e").is_none()
        || !tool_present(&mut Command::new("oscsend"), "oscsend", "oscsend_e2e")
    {
        return;
    }
    let port = free_port();
    let red = render_while_sending(4000, port, || {
        Command::new("oscsend")
            .args([
                "127.0.0.1",
                &port.to_string(),
                "/hypna/param/level",
                "f",
                "0.75",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run the OSC peer");
    });
    assert!(
        (i32::from(red) - 191).abs() <= 1,
        "red {red}: the frame should show level 0.75 (191)"
    );
}

#[test]
fn python_osc_changes_a_param_of_a_running_render() {
    let python = || {
        let mut c = Command::new("python3");
        c.env("PYTHONPATH", common::root().join(".hypna/python"));
        c
    };
    if common::gpu("python_osc_e2e").is_none()
        || !tool_present(
            python().args(["-c", "import pythonosc"]),
            "python-osc",
            "python_osc_e2e",
        )
    {
        return;
    }
    let port = free_port();
    // The norm address maps 0..1 onto the range: 0.25 of [0, 1].
    let script = format!(
        "from pythonosc.udp_client import SimpleUDPClient\nSimpleUDPClient('127.0.0.1', {port}).send_message('/hypna/param/level/norm', 0.25)\n"
    );
    let red = render_while_sending(4000, port, || {
        python()
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run the OSC peer");
    });
    assert!(
        (i32::from(red) - 64).abs() <= 1,
        "red {red}: the frame should show level 0.25 (64)"
    );
}

#[test]
fn a_settings_file_sets_the_osc_port() {
    if common::gpu("settings_osc_port").is_none()
        || !tool_present(&mut Command::new("oscsend"), "oscsend", "settings_osc_port")
    {
        return;
    }
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("venue.toml");
    std::fs::write(&settings, format!("[osc]\nlisten = \"127.0.0.1:{port}\"\n")).unwrap();
    let args = ["--settings".to_string(), settings.display().to_string()];
    let red = render_with_args(4000, &args, || {
        Command::new("oscsend")
            .args([
                "127.0.0.1",
                &port.to_string(),
                "/hypna/param/level",
                "f",
                "0.5",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run the OSC peer");
    });
    assert!(
        (i32::from(red) - 128).abs() <= 1,
        "red {red}: the frame should show level 0.5 (128)"
    );
}
