//! The dream compiler against ONNX Runtime: compiled gradients against finite differences
//! of the original models (the nine light ONNX test models with random weights, and small
//! hand-made graphs for each operator), the dream step's parts, and the error messages.
//! Needs ONNX Runtime and the light models (`scripts/install-ort.sh`); a failure under
//! `make test` when they are missing.

// Tests name values after the mathematics (x, y, g, w, h).
#![allow(
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::cast_possible_wrap
)]

use crate::dream_support::{check_gradient, light, randomize};
use hypna::dream::{Mapping, Objective, Options};

fn layers(names: &[&str]) -> Options {
    Options {
        layers: names.iter().map(|s| (*s).to_string()).collect(),
        ..Options::default()
    }
}

fn assert_close(label: &str, c: &crate::dream_support::Check, tol: f64) {
    eprintln!(
        "{label}: random directions {:.2e}, along the gradient {:.2e}, objective {:.2e}",
        c.random, c.along, c.objective
    );
    assert!(
        c.random < tol && c.along < ALONG_TOL && c.objective < 1e-4,
        "{label}: gradient differs from finite differences: {c:?} (tolerance {tol})"
    );
}

/// A light model with seeded random weights.
fn random_light(test: &str, name: &str, seed: u64) -> Option<hypna::dream::onnx::ModelProto> {
    let mut m = light(test, name)?;
    randomize(&mut m, seed);
    Some(m)
}

fn free(mut o: Options) -> Options {
    o.free_size = true;
    o
}

// Tolerances (see `check_gradient` and docs/dream.md). A step of 1e-5 per pixel puts the
// float32 rounding noise of the objective (about 1e-8 of it, measured: about 1e-3 of the
// step's effect) and the ReLU and max-pool kinks crossed at about 1-3% of |g| / sqrt(n),
// the size of g.d along a random unit direction (measured 0.5-2.8% over the nine models), so
// 10% leaves room for other seeds; a wrong rule for an operator shows as tens of percent.
// Along the gradient itself the signal is sqrt(n) times larger: measured errors are
// 0.005-0.13% of |g| at the best of three steps.
const RANDOM_TOL: f64 = 0.1;
const ALONG_TOL: f64 = 5e-3;

#[test]
fn light_alexnet_static_with_class_and_caffe_mapping() {
    let Some(m) = random_light("light_alexnet", "bvlc_alexnet", 2) else {
        return;
    };
    let opts = Options {
        objectives: vec![Objective::Layer, Objective::Class],
        mapping: Mapping {
            scale: 255.0,
            mean: [104.0, 117.0, 123.0],
            std: [58.0, 57.0, 57.5],
            bgr: true,
        },
        ..layers(&["r6", "r13"])
    };
    let c = check_gradient(&m, &opts, 224, 224, 3, 21);
    assert_close("alexnet", &c, RANDOM_TOL);
}

#[test]
fn light_zfnet512_free_size() {
    let Some(m) = random_light("light_zfnet512", "zfnet512", 3) else {
        return;
    };
    let c = check_gradient(&m, &free(layers(&["r9"])), 107, 91, 3, 22);
    assert_close("zfnet512", &c, RANDOM_TOL);
}

#[test]
fn light_vgg19_free_size() {
    let Some(m) = random_light("light_vgg19", "vgg19", 4) else {
        return;
    };
    let c = check_gradient(&m, &free(layers(&["r22"])), 64, 56, 3, 23);
    assert_close("vgg19", &c, RANDOM_TOL);
}

#[test]
fn light_inception_v1_two_layers_static() {
    let Some(m) = random_light("light_inception_v1", "inception_v1", 1) else {
        return;
    };
    let c = check_gradient(&m, &layers(&["r40", "r37"]), 224, 224, 3, 11);
    assert_close("inception_v1", &c, RANDOM_TOL);
}

#[test]
fn light_inception_v1_channels_free_size() {
    let Some(m) = random_light("light_inception_v1", "inception_v1", 5) else {
        return;
    };
    let opts = Options {
        objectives: vec![Objective::Channels],
        ..free(layers(&["r44"]))
    };
    let c = check_gradient(&m, &opts, 97, 83, 3, 12);
    assert_close("inception_v1 channels", &c, RANDOM_TOL);
}

#[test]
fn light_inception_v2_free_size() {
    let Some(m) = random_light("light_inception_v2", "inception_v2", 6) else {
        return;
    };
    let c = check_gradient(&m, &free(layers(&["r152"])), 96, 80, 3, 24);
    assert_close("inception_v2", &c, RANDOM_TOL);
}

#[test]
fn light_resnet50_free_size() {
    let Some(m) = random_light("light_resnet50", "resnet50", 7) else {
        return;
    };
    let c = check_gradient(&m, &free(layers(&["r45", "r83"])), 72, 64, 3, 25);
    assert_close("resnet50", &c, RANDOM_TOL);
}

#[test]
fn light_shufflenet_static() {
    let Some(m) = random_light("light_shufflenet", "shufflenet", 8) else {
        return;
    };
    let c = check_gradient(&m, &layers(&["r65"]), 224, 224, 3, 26);
    assert_close("shufflenet", &c, RANDOM_TOL);
}

#[test]
fn light_squeezenet_class_free_size() {
    let Some(m) = random_light("light_squeezenet", "squeezenet", 9) else {
        return;
    };
    let opts = Options {
        objectives: vec![Objective::Class, Objective::Layer],
        ..free(layers(&["r28"]))
    };
    let c = check_gradient(&m, &opts, 113, 97, 3, 27);
    assert_close("squeezenet", &c, RANDOM_TOL);
}

#[test]
fn light_densenet121_free_size() {
    let Some(m) = random_light("light_densenet121", "densenet121", 10) else {
        return;
    };
    let c = check_gradient(&m, &free(layers(&["r186"])), 64, 64, 3, 28);
    assert_close("densenet121", &c, RANDOM_TOL);
}

/// The trained EfficientNet-Lite0 that set-up installs (`scripts/install-models.sh`); a
/// missing one is a skip here and a failure under `make test`.
fn efficientnet(test: &str) -> Option<hypna::dream::onnx::ModelProto> {
    let path = crate::dream_support::root().join(".hypna/models/efficientnet-lite0.onnx");
    if !crate::common::prerequisite(
        test,
        &path.display().to_string(),
        path.is_file(),
        "set-up installs it: scripts/install-models.sh",
    ) {
        return None;
    }
    if !crate::dream_support::ort(test) {
        return None;
    }
    Some(hypna::dream::proto::load_model(&path).expect("EfficientNet loads"))
}

#[test]
fn efficientnet_blocks_9_10_at_384x216() {
    let Some(m) = efficientnet("efficientnet_blocks_9_10_at_384x216") else {
        return;
    };
    let c = check_gradient(&m, &layers(&["block9", "block10"]), 216, 384, 3, 41);
    assert_close("efficientnet blocks 9-10", &c, RANDOM_TOL);
}

#[test]
fn efficientnet_class_and_channels() {
    let Some(m) = efficientnet("efficientnet_class_and_channels") else {
        return;
    };
    let opts = Options {
        objectives: vec![Objective::Class, Objective::Channels],
        ..layers(&["block3"])
    };
    let c = check_gradient(&m, &opts, 224, 224, 3, 42);
    assert_close("efficientnet class + channels", &c, RANDOM_TOL);
}
