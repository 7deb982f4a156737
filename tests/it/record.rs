//! Parameter-panel changes take the OSC path (smoothed, echoed to feedback targets,
//! recorded), and a recorded param log replays into an offline render at the same times.

use crate::common;

use std::time::Duration;

use hypna::clock::Clock;
use hypna::ops::paramlog::{ParamLog, ParamReplay};
use hypna::runtime::{
    OscMode, RenderSettings, Runtime, RuntimeOptions, Submit, render_frames_with,
};

const SCENE: &str = r#"[scene]
name = "record"
size = [16, 16]

[params.gain]
default = 0.0
range = [0.0, 1.0]
smooth = 0.5

[osc]
listen = "127.0.0.1:0"
feedback = ["FEEDBACK"]

[[pass]]
name = "out"
shader = "out.wgsl"
"#;

const SHADER: &str = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    return vec4<f32>(params.gain, 0.0, 0.0, 1.0);\n}\n";

#[test]
fn panel_changes_are_smoothed_echoed_and_recorded_and_replay_in_a_render() {
    let test = "panel_changes_are_smoothed_echoed_and_recorded_and_replay_in_a_render";
    let Some(gpu) = common::gpu(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let controller = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    controller
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let scene = dir.path().join("record.toml");
    std::fs::write(
        &scene,
        SCENE.replace("FEEDBACK", &controller.local_addr().unwrap().to_string()),
    )
    .unwrap();
    std::fs::write(dir.path().join("out.wgsl"), SHADER).unwrap();
    let log = dir.path().join("params.tsv");

    // Live: a slider move at frame 10 (t = 1/3 s at 30 fps).
    let options = RuntimeOptions {
        osc: OscMode::On {
            listen: None,
            settings: None,
        },
        ..RuntimeOptions::default()
    };
    let mut runtime = Runtime::load(&gpu, &scene, &options).unwrap();
    runtime.set_param_sink(Some(Box::new(ParamLog::create(&log, &scene).unwrap())));
    let mut clock = Clock::fixed(30.0);
    let mut live = Vec::new();
    for frame in 0..20 {
        let t = clock.tick();
        if frame == 10 {
            runtime.queue_param("gain", 0.8);
        }
        runtime.frame(&gpu, t, "test", Submit::Go, |_, _| {});
        live.push(runtime.params().get("gain").unwrap());
    }
    // Smoothed: not there at once, rising toward the target.
    assert!(
        live[9].abs() < f32::EPSILON,
        "unchanged before the move: {live:?}"
    );
    assert!(live[10] > 0.0 && live[10] < 0.8, "smoothed: {live:?}");
    assert!(live[19] > live[10] && live[19] < 0.8, "smoothed: {live:?}");
    let targets: Vec<(String, f32)> = runtime
        .params()
        .targets()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    assert_eq!(targets, vec![("gain".to_string(), 0.8)]);
    // Echoed to the feedback target like an OSC change.
    let mut buf = [0u8; 1024];
    let mut seen = Vec::new();
    loop {
        let n = controller
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no feedback with 0.8 ({e}); got {seen:?}"));
        let (_, packet) = rosc::decoder::decode_udp(&buf[..n]).unwrap();
        let described = format!("{packet:?}");
        if described.contains("/hypna/param/gain") && described.contains("Float(0.8)") {
            break;
        }
        seen.push(described);
    }
    // Recorded with its show time.
    runtime.set_param_sink(None);
    drop(runtime);
    let mut replay = ParamReplay::load(&log).unwrap();
    assert_eq!(replay.len(), 1);
    let change = replay.due(1.0).to_vec();
    assert!((change[0].0 - 10.0 / 30.0).abs() < 1e-6, "{change:?}");

    // Offline: the replayed change lands on the same frame, with the same smoothing.
    let mut replay = ParamReplay::load(&log).unwrap();
    let offline_options = RuntimeOptions {
        sync_models: true,
        ..RuntimeOptions::default()
    };
    let mut runtime = Runtime::load(&gpu, &scene, &offline_options).unwrap();
    let mut reds = Vec::new();
    let mut values = Vec::new();
    render_frames_with(
        &gpu,
        &mut runtime,
        &RenderSettings {
            frames: 20,
            fps: 30.0,
            readback_depth: 2,
        },
        |_, runtime, t| {
            for (_, name, value) in replay.due(t.time_secs) {
                runtime.queue_param(name, *value);
            }
            values.push(runtime.params().get("gain").unwrap());
        },
        |img| {
            reds.push(img.rgba[0]);
            Ok::<(), ()>(())
        },
    )
    .unwrap();
    assert_eq!(reds[9], 0, "before the change");
    assert!(reds[10] > 0, "the change lands on frame 10: {reds:?}");
    let expected = (live[19] * 255.0).round();
    assert!(
        (f32::from(reds[19]) - expected).abs() <= 1.0,
        "the render follows the live smoothing: {reds:?} vs {live:?}"
    );
}
