//! The benchmark stays runnable: both loops render and report plausible figures.

use crate::common;

#[test]
fn bench_runs_both_loops() {
    let Some(gpu) = common::gpu("bench_runs_both_loops") else {
        return;
    };
    let options = hypna::bench::frame::BenchOptions {
        scene: common::root().join("scenes/landscape.toml"),
        size: [64, 36],
        frames: 2,
        rounds: 2,
    };
    let report = hypna::bench::frame::run(&gpu, &options).expect("bench");
    assert_eq!(report.hypna.frames, 4);
    assert_eq!(report.bare.frames, 4);
    assert!(report.hypna.median_ms > 0.0 && report.bare.median_ms > 0.0);
    assert!(report.ratio().is_finite());
}

#[test]
fn bench_refuses_scenes_it_cannot_mirror() {
    let Some(gpu) = common::gpu("bench_refuses_scenes_it_cannot_mirror") else {
        return;
    };
    let options = hypna::bench::frame::BenchOptions {
        scene: common::root().join("scenes/flow.toml"),
        size: [64, 36],
        frames: 1,
        rounds: 1,
    };
    let err = hypna::bench::frame::run(&gpu, &options).expect_err("flow has two passes");
    assert!(err.to_string().contains("one pass and no inputs"), "{err}");
}
