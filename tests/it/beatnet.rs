//! The neural beat tracker with the installed model: the ONNX conversion against PyTorch on
//! BeatNet's own reference features, and the whole tracker through the analysis seam on short
//! synthesised grooves, scored with the evaluation's metrics. Set-up installs ONNX Runtime
//! and the model (`scripts/install-models.sh`); under `make test` (`HYPNA_REQUIRE_GPU=1`) a
//! missing one fails these tests instead of skipping them.

use crate::audio_support;
use crate::common;
use crate::infer_support;

use std::path::{Path, PathBuf};

use hypna::audio::beatnet::{ActivationModel, installed_model};
use hypna::audio::{Analyzer, AudioConfig, TrackerKind};
use hypna::bench::beat_metrics;

fn fixtures() -> PathBuf {
    common::root().join("models/testdata/beatnet")
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
    let mut net = ActivationModel::load(&path).unwrap();
    let mut worst = 0.0f32;
    for (frame, (f, w)) in features
        .chunks_exact(272)
        .zip(want.chunks_exact(3))
        .enumerate()
    {
        let f: &[f32; 272] = f.try_into().unwrap();
        let got = net.step(f).unwrap();
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
    let last: &[f32; 272] = features[features.len() - 272..].try_into().unwrap();
    let carried = net.step(last).unwrap();
    net.reset();
    let fresh = net.step(last).unwrap();
    assert!(
        carried
            .iter()
            .zip(&fresh)
            .any(|(a, b)| (a - b).abs() > 1e-3),
        "{carried:?} vs {fresh:?}"
    );
}

#[test]
fn a_file_that_is_not_beatnet_is_refused_with_its_inputs_named() {
    if model("a_file_that_is_not_beatnet_is_refused").is_none() {
        return;
    }
    let err = ActivationModel::load(&common::root().join("models/testdata/spin.onnx"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("spin.onnx") && err.contains("features"),
        "{err}"
    );
}

/// Beats (and downbeats) the analyser's pulses give on `signal`: the time of each hop in
/// which `beat` (`downbeat`) fired.
fn pulses(config: &AudioConfig, rate: u32, signal: &[f32]) -> (Vec<f64>, Vec<f64>, Analyzer) {
    let mut a = Analyzer::new(config, rate).unwrap();
    let (mut beats, mut downbeats) = (Vec::new(), Vec::new());
    let (mut nb, mut nd) = (0u64, 0u64);
    for chunk in signal.chunks(a.hop_len()) {
        a.process_with(chunk, |f| {
            if f.beat_count > nb {
                beats.push(f.time_secs);
            }
            if f.downbeat_count > nd {
                downbeats.push(f.time_secs);
            }
            nb = f.beat_count;
            nd = f.downbeat_count;
        });
    }
    (beats, downbeats, a)
}

#[test]
fn the_neural_tracker_follows_short_grooves_through_the_analyser() {
    if model("the_neural_tracker_follows_short_grooves").is_none() {
        return;
    }
    let config = AudioConfig {
        tracker: Some(TrackerKind::Neural),
        ..AudioConfig::default()
    };
    // Two short clips at two rates: 12 s each, scored after the evaluation's 5 s lock-in.
    for (bpm, rate) in [(120.0, 48_000u32), (97.0, 44_100)] {
        let signal = audio_support::drum_loop(bpm, 12.0, rate);
        let (beats, _, a) = pulses(&config, rate, &signal);
        assert_eq!(a.tracker(), TrackerKind::Neural);
        let period = 60.0 / bpm;
        let truth: Vec<f64> = (0..200)
            .map(|k| f64::from(k) * period)
            .take_while(|&t| t < 12.0 - 0.1)
            .collect();
        let r = beat_metrics::trim(&truth, 5.0);
        let e = beat_metrics::trim(&beats, 5.0);
        let f = beat_metrics::f_measure(&r, &e, 0.07);
        let bpm_now = f64::from(a.features().bpm);
        println!("drum loop {bpm} BPM at {rate} Hz: F {f:.3}, {bpm_now:.1} BPM");
        assert!(f >= 0.9, "{bpm} BPM: F {f:.3}; beats {e:?}");
        assert!((bpm_now / bpm - 1.0).abs() < 0.03, "{bpm}: {bpm_now}");
        let f = a.features();
        assert!(f.bar_phase >= 0.0 && f.bar_phase < 1.0, "{}", f.bar_phase);
        assert!(f.beat_in_bar < f.beats_per_bar, "{f:?}");
    }
}

#[test]
fn an_unavailable_neural_tracker_falls_back_to_the_classic_one() {
    // `classic` by name never loads the model; and the fallback runs when the model cannot
    // be found (a project root without .hypna is not needed: asking for classic is the same
    // code path the fallback takes).
    let config = AudioConfig {
        tracker: Some(TrackerKind::Classic),
        ..AudioConfig::default()
    };
    let a = Analyzer::new(&config, 48_000).unwrap();
    assert_eq!(a.tracker(), TrackerKind::Classic);
}
