//! The OSC benchmark: a short run that checks the figures are sane (full run:
//! `cargo test --release --test it osc_bench -- --ignored --nocapture`).

use hypna::bench::osc::{OscBenchOptions, run};

#[test]
fn short_bench_runs_and_loses_nothing() {
    // Loss at a sustained rate depends on the socket thread getting the CPU: no test that
    // renders may run meanwhile (this was a test binary of its own).
    crate::common::take_turn(crate::common::Turn::Alone);
    let report = run(&OscBenchOptions {
        ingest_messages: 5_000,
        sustained_rate_hz: 5_000,
        sustained_secs: 0.4,
        latency_samples: 200,
    })
    .unwrap();
    eprintln!("{report}");
    assert!(report.decode_msgs_per_sec > 0.0);
    assert_eq!(report.ingest_sent, 5_000);
    assert!(report.ingest_msgs_per_sec > 0.0);
    assert_eq!(report.sustained_sent, 2_000);
    // Loopback should lose nothing at this rate; allow a sliver for a loaded CI machine.
    assert!(report.sustained_lost <= 20, "{report}");
    assert!(report.latency_p50_us.is_finite() && report.latency_p50_us > 0.0);
}

#[test]
#[ignore = "a few seconds; run with --ignored --nocapture for the figures"]
fn full_bench() {
    crate::common::take_turn(crate::common::Turn::Alone);
    let report = run(&OscBenchOptions::default()).unwrap();
    println!("{report}");
    assert_eq!(report.sustained_lost, 0, "{report}");
    assert!(report.ingest_msgs_per_sec >= 20_000.0, "{report}");
}
