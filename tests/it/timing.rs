//! Per-pass GPU times from timestamp queries (the HUD's "GPU" column).

use crate::common;

use hypna::runtime::{RenderSettings, Runtime, RuntimeOptions, render_frames};

#[test]
fn every_pass_gets_a_gpu_time_where_timestamps_exist() {
    let Some(gpu) = common::gpu("every_pass_gets_a_gpu_time_where_timestamps_exist") else {
        return;
    };
    let supported = gpu
        .adapter
        .features()
        .contains(wgpu::Features::TIMESTAMP_QUERY);
    let options = RuntimeOptions {
        size: Some([320, 180]),
        ..RuntimeOptions::default()
    };
    let mut runtime =
        Runtime::load(&gpu, &common::root().join("scenes/flow.toml"), &options).unwrap();
    assert_eq!(runtime.enable_timing(&gpu), supported);
    let settings = RenderSettings {
        frames: 8,
        fps: 30.0,
        readback_depth: 2,
    };
    render_frames(&gpu, &mut runtime, &settings, |_| Ok::<(), ()>(())).unwrap();
    // One more frame collects what the last ones resolved.
    render_frames(&gpu, &mut runtime, &settings, |_| Ok::<(), ()>(())).unwrap();
    let times: Vec<(String, f32)> = runtime
        .chain()
        .pass_times()
        .map(|(n, ms)| (n.to_string(), ms))
        .collect();
    eprintln!("timestamps supported: {supported}; times: {times:?}");
    if supported {
        let names: Vec<&str> = times.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["flow", "out"]);
        assert!(times.iter().all(|(_, ms)| ms.is_finite() && *ms >= 0.0));
        assert!(times.iter().any(|(_, ms)| *ms > 0.0), "{times:?}");
    } else {
        assert!(times.is_empty());
    }
}
