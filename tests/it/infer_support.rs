//! Shared helpers of the `infer_*` tests: ONNX Runtime or a loud skip, model paths.
#![allow(dead_code)]

use std::path::PathBuf;

use hypna::infer::{InitOptions, OrtInfo};

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A model shipped in `models/`.
pub fn model(name: &str) -> PathBuf {
    root().join("models").join(name)
}

/// Whether CI demands that tests needing ONNX Runtime really run.
fn required() -> bool {
    ["HYPNA_REQUIRE_ORT", "HYPNA_REQUIRE_GPU"]
        .iter()
        .any(|v| std::env::var(v).as_deref() == Ok("1"))
}

fn skip(test: &str, why: &str) {
    assert!(
        !required(),
        "{test}: HYPNA_REQUIRE_ORT/HYPNA_REQUIRE_GPU=1 but {why}"
    );
    eprintln!(
        "SKIPPED {test}: {why}; run scripts/install-ort.sh, or set HYPNA_REQUIRE_ORT=1 to make this a failure"
    );
}

/// ONNX Runtime (found by the normal discovery), or `None` with a printed skip; the test
/// takes a render turn on the machine (`common::take_turn`). With
/// `HYPNA_REQUIRE_ORT=1` or `HYPNA_REQUIRE_GPU=1` (CI) a missing library fails the test.
pub fn ort(test: &str) -> Option<OrtInfo> {
    // Inference keeps the cores busy: it shares the machine like a render.
    crate::common::take_turn(crate::common::Turn::Render);
    match hypna::infer::init(&InitOptions::default()) {
        Ok(info) => Some(info),
        Err(e) => {
            skip(test, &format!("no ONNX Runtime ({e})"));
            None
        }
    }
}

/// The third-party test model that `scripts/install-ort.sh` extracts from the `onnx` wheel.
pub fn inception(test: &str) -> Option<PathBuf> {
    let path = root().join(".hypna/testdata/light_inception_v1.onnx");
    if path.is_file() {
        Some(path)
    } else {
        skip(test, &format!("{} is missing", path.display()));
        None
    }
}
