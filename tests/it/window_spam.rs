//! A playlist spammed with `/hypna/scene/next` (issue #13, item 8): `hypna run` keeps
//! switching as fast as scenes load instead of stalling, logs a "next" line at most once a
//! second, and its resident memory stays bounded while the requests pour in (nothing is held
//! per request).

use crate::osc_support::osc_status;
use crate::window::{Hypna, XServer};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Resident memory of process `pid` in KiB (`VmRSS`), if readable.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[test]
fn a_flood_of_next_keeps_switching_with_few_lines_and_bounded_memory() {
    let test = "a_flood_of_next_keeps_switching_with_few_lines_and_bounded_memory";
    if crate::common::gpu(test).is_none() {
        return;
    }
    let Some(x) = XServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, rgb) in [
        ("red", "1.0, 0.0, 0.0"),
        ("green", "0.0, 1.0, 0.0"),
        ("blue", "0.0, 0.0, 1.0"),
    ] {
        std::fs::write(
            d.join(format!("{name}.wgsl")),
            format!(
                "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {{\n    \
                 return vec4<f32>({rgb}, 1.0);\n}}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            d.join(format!("{name}.toml")),
            format!(
                "[scene]\nname = \"{name}\"\nsize = [160, 90]\n\n\
                 [[pass]]\nname = \"out\"\nshader = \"{name}.wgsl\"\n"
            ),
        )
        .unwrap();
    }
    let playlist = d.join("cues.toml");
    std::fs::write(
        &playlist,
        "[playlist]\nname = \"cues\"\ntransition = { kind = \"cut\" }\n\n\
         [[entry]]\nscene = \"red.toml\"\ncue = true\n\n\
         [[entry]]\nscene = \"green.toml\"\ncue = true\n\n\
         [[entry]]\nscene = \"blue.toml\"\ncue = true\n",
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
    hypna.wait_for("running red at 160x90", Duration::from_mins(2));
    // Settled: the first scene plays and the first health line is out.
    hypna.wait_for("health uptime", Duration::from_secs(30));
    let pid = hypna.child.id();
    let baseline = rss_kib(pid).expect("VmRSS of hypna");

    // The flood, and the resident memory sampled all along.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(baseline));
    let sender = {
        let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
        std::thread::spawn(move || {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let next = rosc::encoder::encode(&rosc::OscPacket::Message(rosc::OscMessage {
                addr: "/hypna/scene/next".into(),
                args: vec![],
            }))
            .unwrap();
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..50 {
                    drop(socket.send_to(&next, ("127.0.0.1", port)));
                }
                sent.fetch_add(50, Ordering::Relaxed);
                // About 5,000 requests a second.
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let sampler = {
        let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let started = Instant::now();
    let (mut switches, mut next_lines) = (0, 0);
    // At least 8 s of flood, and until 3 switches landed (within 2 minutes).
    while switches < 3 || started.elapsed() < Duration::from_secs(8) {
        if started.elapsed() > Duration::from_mins(2) {
            stop.store(true, Ordering::Relaxed);
            panic!(
                "2 minutes of `next` flood: {switches} switches landed; log:\n{}",
                hypna.log.join("\n")
            );
        }
        // Health lines come every second: a line within 15 s or the loop is stuck.
        let line = hypna.wait_for("", Duration::from_secs(15));
        if line.contains("switching to ") {
            switches += 1;
        } else if line.contains("playlist: `") {
            next_lines += 1;
        }
    }
    let flood_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    sampler.join().unwrap();
    let sent = sent.load(Ordering::Relaxed);
    let peak = peak.load(Ordering::Relaxed);
    eprintln!(
        "{test}: {sent} requests in {flood_secs:.1} s: {switches} switches, {next_lines} \
         \"next\" log lines; resident memory {:.1} MB before, peak {:.1} MB",
        baseline as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    // One "next" line a second at most (each with the count of those left out).
    assert!(
        f64::from(next_lines) <= flood_secs + 2.0,
        "{next_lines} \"next\" lines in {flood_secs:.1} s of flood"
    );
    // Nothing held per request: thousands of requests cost no more than a few scenes.
    assert!(
        peak < baseline + 150 * 1024,
        "resident memory grew from {baseline} KiB to {peak} KiB during {sent} requests"
    );
    // And the show answers right after.
    let status = osc_status(port);
    assert!(status.frame > 0, "status after the flood");
}
