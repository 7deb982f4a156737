//! The neural beat tracker with the installed model: the ONNX conversion against PyTorch on
//! reference features, and the whole tracker through the analysis seam on a rendered clip.
//! Set-up installs ONNX Runtime and the model; under `make test` (`HYPNA_REQUIRE_GPU=1`) a
//! missing one fails these tests instead of skipping them.

mod common;
mod infer_support;

use std::path::{Path, PathBuf};

use hypna::audio::beatnet::{ActivationModel, installed_model};
use hypna::audio::{Analyzer, AudioConfig, TrackerKind, beat_metrics};

fn fixtures() -> PathBuf {
    common::root().join("tests/fixtures/beatnet")
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// ONNX Runtime and the installed model 1, or a skip (a failure under `make test`).
fn model(test: &str) -> Option<PathBuf> {
    infer_support::ort(test)?;
    let found = installed_model(1);
    let present = found.is_ok();
    common::prerequisite(
        test,
        "the installed BeatNet model (.hypna/models/beatnet-1.onnx)",
        present,
        "scripts/install-models.sh, or make test",
    )
    .then(|| found.ok())
    .flatten()
}

#[test]
fn onnx_model_matches_pytorch_on_beatnets_features() {
    let Some(path) = model("onnx_model_matches_pytorch_on_beatnets_features") else {
        return;
    };
    let features = read_f32(&fixtures().join("frontend_features.f32"));
    let want = read_f32(&fixtures().join("frontend_activations.f32"));
    assert_eq!(features.len() / 272, want.len() / 3);
    let mut net = ActivationModel::load(&path).expect("load");
    let mut worst = 0.0f32;
    for (frame, (f, w)) in features.chunks_exact(272).zip(want.chunks_exact(3)).enumerate() {
        let f: &[f32; 272] = f.try_into().expect("272 values");
        let got = net.step(f).expect("run");
        for (g, w) in got.iter().zip(w) {
            worst = worst.max((g - w).abs());
        }
        assert!(
            (got.iter().sum::<f32>() - 1.0).abs() < 1e-5,
            "frame {frame}: {got:?} is not a distribution"
        );
    }
    // PyTorch ran the 101 frames as one sequence; ONNX Runtime one frame per call with the
    // LSTM state carried: the state handling is right if they agree.
    assert!(worst < 1e-4, "ONNX differs from PyTorch by {worst}");
    // And the state matters: a fresh state on the last frame gives another answer.
    let last: &[f32; 272] = features[features.len() - 272..].try_into().expect("272");
    let carried = net.step(last).expect("run");
    net.reset();
    let fresh = net.step(last).expect("run");
    assert!(
        carried.iter().zip(&fresh).any(|(a, b)| (a - b).abs() > 1e-3),
        "{carried:?} vs {fresh:?}"
    );
}
