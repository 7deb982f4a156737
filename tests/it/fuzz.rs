//! The fuzzer inside the test suite: a bounded time budget (`HYPNA_FUZZ_SECONDS`, default
//! 20 s) of mutated shipped scenes, shaders, playlists and settings through `check` and a
//! headless load, in worker processes (`hypna fuzz --worker`). A release runs it longer:
//! `hypna fuzz --seconds 3600` (docs/fuzzing.md).

use std::time::Duration;

use hypna::fuzz::{FuzzOptions, run};

#[test]
fn fuzzed_files_never_crash_hang_or_go_unlocated() {
    crate::common::take_turn(crate::common::Turn::Render);
    let seconds: f64 = std::env::var("HYPNA_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20.0);
    // A new seed every run finds new cases; a failing seed is printed and saved.
    let seed = std::env::var("HYPNA_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        });
    let out = tempfile::tempdir().unwrap();
    let keep = crate::common::root().join("target").join("fuzz-failures");
    let options = FuzzOptions {
        seed,
        first: 0,
        budget: Duration::from_secs_f64(seconds),
        max_cases: u64::MAX,
        case_timeout: Duration::from_mins(1),
        memory_limit_bytes: 4 << 30,
        root: crate::common::root(),
        out: out.path().to_path_buf(),
    };
    let root = crate::common::root();
    let report = run(&options, |from| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_hypna"));
        c.arg("fuzz")
            .arg("--worker")
            .arg("--root")
            .arg(&root)
            .arg("--seed")
            .arg(seed.to_string())
            .arg("--first")
            .arg(from.to_string());
        c
    })
    .unwrap();
    eprintln!("seed {seed}: {report}");
    if !report.failures.is_empty() {
        std::fs::create_dir_all(&keep).unwrap();
        for f in &report.failures {
            let to = keep.join(f.saved.file_name().unwrap());
            drop(std::fs::remove_dir_all(&to));
            std::fs::rename(&f.saved, &to)
                .or_else(|_| {
                    std::process::Command::new("cp")
                        .arg("-r")
                        .arg(&f.saved)
                        .arg(&to)
                        .status()
                        .map(drop)
                })
                .unwrap();
        }
    }
    assert!(report.cases >= 10, "too few cases ran: {report}");
    assert!(
        report.failures.is_empty(),
        "seed {seed}: {report}(cases kept in {})",
        keep.display()
    );
}
