//! `hypna run` in a real window under Xvfb: it opens, presents frames and quits cleanly.

mod common;

use std::process::Command;

#[test]
fn run_presents_frames_in_a_window() {
    let required = std::env::var("HYPNA_REQUIRE_GPU").as_deref() == Ok("1");
    let have_display = std::env::var_os("DISPLAY").is_some();
    let xvfb = Command::new("xvfb-run").arg("--help").output().is_ok();
    if !have_display && !xvfb {
        assert!(
            !required,
            "HYPNA_REQUIRE_GPU=1 but neither a display nor xvfb-run is available (apt-get install xvfb xauth)"
        );
        eprintln!("SKIPPED run_presents_frames_in_a_window: no display and no xvfb-run");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_hypna");
    let args = [
        "run",
        "scenes/flow.toml",
        "--size",
        "160x90",
        "--frames",
        "12",
    ];
    let mut cmd = if xvfb {
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 640x480x24", bin]).args(args);
        c
    } else {
        let mut c = Command::new(bin);
        c.args(args);
        c
    };
    let out = cmd
        .current_dir(common::root())
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hypna run failed: {stderr}");
    assert!(stderr.contains("presented 12 frames"), "{stderr}");
}
