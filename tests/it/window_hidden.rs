//! A hidden window never stops the show (issue #13, item 4): while another window covers
//! `hypna run`'s window completely, `/hypna/status` answers, health lines keep their period
//! with the frame count going up, the playlist advances and a hot reload applies; uncovered,
//! the window presents again.

use crate::common;
use crate::osc_support::osc_status;
use crate::window::{Hypna, XServer};

use std::time::{Duration, Instant};

/// Moves over time, so a frame counter that goes up means frames are played.
const MOVING: &str = "@fragment
fn main(in: VertexOutput) -> @location(0) vec4<f32> {
    let w = 0.5 + 0.5 * sin(globals.time * 3.0 + in.uv.x * 9.0);
    return vec4<f32>(w, 0.3, 1.0 - w, 1.0);
}
";

/// The `frame=N` of a health line.
fn health_frame(line: &str) -> u64 {
    line.split_whitespace()
        .find_map(|t| t.strip_prefix("frame="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no frame= in the health line `{line}`"))
}

#[test]
fn a_covered_window_keeps_status_health_playlist_and_reload_going() {
    let test = "a_covered_window_keeps_status_health_playlist_and_reload_going";
    if common::gpu(test).is_none() {
        return;
    }
    let Some(x) = XServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Two entries sharing one shader: a save reloads whichever is on show.
    std::fs::write(d.join("moving.wgsl"), MOVING).unwrap();
    for name in ["a", "b"] {
        std::fs::write(
            d.join(format!("{name}.toml")),
            format!(
                "[scene]\nname = \"{name}\"\nsize = [160, 90]\n\n\
                 [[pass]]\nname = \"out\"\nshader = \"moving.wgsl\"\n"
            ),
        )
        .unwrap();
    }
    let playlist = d.join("hidden.toml");
    std::fs::write(
        &playlist,
        "[playlist]\nname = \"hidden\"\ntransition = { kind = \"cut\" }\n\n\
         [[entry]]\nscene = \"a.toml\"\nduration = \"2s\"\n\n\
         [[entry]]\nscene = \"b.toml\"\nduration = \"2s\"\n",
    )
    .unwrap();
    // The cover: a larger window, opened later, at the same place (without a window
    // manager every window opens at the top left), so it hides the show completely.
    std::fs::write(
        d.join("cover.wgsl"),
        "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(0.2, 0.2, 0.2, 1.0);\n}\n",
    )
    .unwrap();
    let cover_scene = d.join("cover.toml");
    std::fs::write(
        &cover_scene,
        "[scene]\nname = \"cover\"\nsize = [480, 320]\n\n\
         [[pass]]\nname = \"out\"\nshader = \"cover.wgsl\"\n",
    )
    .unwrap();
    let port = {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let osc = format!("127.0.0.1:{port}");
    let mut hypna = Hypna::start(
        &x,
        &[
            playlist.to_str().unwrap(),
            "--osc",
            &osc,
            "--health-every",
            "1",
        ],
    );
    hypna.wait_for("running a at 160x90", Duration::from_mins(2));
    let before = osc_status(port);

    let mut cover = Hypna::start(&x, &[cover_scene.to_str().unwrap(), "--no-osc"]);
    cover.wait_for("running cover", Duration::from_mins(2));
    hypna.wait_for("window hidden", Duration::from_secs(30));

    // While hidden: health lines at their period with the frame count going up, the
    // playlist switching both ways, and a reload of the shader on show.
    let mut health = Vec::new();
    let mut switches = Vec::new();
    let deadline = Instant::now() + Duration::from_mins(2);
    while health.len() < 4 || switches.len() < 2 {
        assert!(
            Instant::now() < deadline,
            "while hidden, within 2 minutes: health frames {health:?}, switches {switches:?}"
        );
        // Any line: with a health line every second, one comes within seconds.
        let line = hypna.wait_for("", Duration::from_secs(15));
        assert!(!line.contains("window visible again"), "{line}");
        if line.contains("health uptime") {
            health.push(health_frame(&line));
        } else if let Some(at) = line.find("switching to ") {
            switches.push(line[at..].to_string());
        }
    }
    assert!(
        health.windows(2).all(|w| w[0] < w[1]),
        "frames must go on while hidden: {health:?}"
    );
    common::save(
        &d.join("moving.wgsl"),
        MOVING.replace("0.3, 1.0 - w", "0.6, 1.0 - w").as_bytes(),
    );
    hypna.wait_for("reloaded", Duration::from_mins(1));
    let during = osc_status(port);
    assert!(
        during.frame > before.frame && ["a", "b"].contains(&during.scene.as_str()),
        "status while hidden: frame {} (before: {}), scene `{}`",
        during.frame,
        before.frame,
        during.scene
    );

    // Uncovered: presenting again.
    drop(cover.child.kill());
    drop(cover.child.wait());
    hypna.wait_for("window visible again", Duration::from_secs(30));
}
