//! The dream compiler's errors: what a user sees for an operator it cannot differentiate, a
//! misspelt layer, missing external data, an old opset, an input that is not an image, and
//! contradictory options. No ONNX Runtime needed.

// Tests name values after the mathematics (x, y, g, w, h).
#![allow(
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::cast_possible_wrap
)]

use crate::dream_support::{Builder, ai, aints, fixed, free};
use hypna::dream::onnx::tensor_proto::DataLocation;
use hypna::dream::onnx::{ModelProto, StringStringEntryProto};
use hypna::dream::proto::{DimSpec, dtype, encode_model, value_info};
use hypna::dream::{DreamError, Objective, Options, Output, compile, compile_file};

fn layer(name: &str) -> Options {
    Options {
        layers: vec![name.into()],
        ..Options::default()
    }
}

/// x -> conv1 -> relu1 -> `op` -> conv2: a small classifier with one odd operator.
fn with_op(op: &str, attrs: Vec<hypna::dream::onnx::AttributeProto>) -> (ModelProto, String) {
    let mut b = Builder::new(13, 1);
    let c = b.conv("x", 3, 4, 3);
    let r = b.node("Relu", &[&c], vec![]);
    let odd = b.node(op, &[&r], attrs);
    let out = b.conv(&odd, 4, 4, 1);
    (b.model(&free(), &[&out]), out)
}

#[test]
fn unsupported_operator_names_node_op_and_the_list() {
    let (m, out) = with_op("Hardmax", vec![ai("axis", 1)]);
    let e = compile(m, &layer(&out)).expect_err("Hardmax has no gradient rule");
    let text = e.to_string();
    assert!(matches!(e, DreamError::Unsupported { .. }), "{text}");
    for part in [
        "node `Hardmax_",
        "(Hardmax)",
        "supported operators:",
        "Conv",
        "MaxPool",
        "LRN",
    ] {
        assert!(text.contains(part), "missing {part:?} in: {text}");
    }
}

#[test]
fn operator_without_gradient_on_the_path_is_named() {
    let (m, out) = with_op("ReduceMax", vec![aints("axes", &[1]), ai("keepdims", 1)]);
    let text = compile(m, &layer(&out))
        .expect_err("no gradient through ReduceMax")
        .to_string();
    assert!(
        text.contains("(ReduceMax)") && text.contains("gradient cannot flow"),
        "{text}"
    );
}

#[test]
fn operators_after_the_layer_are_dropped() {
    // The unsupported operator comes after the dreamed layer: it is never read.
    let mut b = Builder::new(13, 1);
    let c = b.conv("x", 3, 4, 3);
    let r = b.node("Relu", &[&c], vec![]);
    let odd = b.node("Hardmax", &[&r], vec![ai("axis", 1)]);
    let m = b.model(&free(), &[&odd]);
    let compiled = compile(m, &layer(&r)).expect("the head is dropped");
    let ops: Vec<&str> = compiled
        .model
        .graph
        .as_ref()
        .unwrap()
        .node
        .iter()
        .map(hypna::dream::onnx::NodeProto::op_type)
        .collect();
    assert!(!ops.contains(&"Hardmax"), "{ops:?}");
}

#[test]
fn unknown_layer_lists_the_closest_names() {
    let (m, out) = with_op("Relu", vec![]);
    let misspelt = out.replace("conv", "cnov");
    let e = compile(m, &layer(&misspelt)).expect_err("no such layer");
    let DreamError::UnknownLayer { closest, .. } = &e else {
        panic!("wrong error: {e}");
    };
    assert_eq!(closest.first(), Some(&out), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&format!("no value `{misspelt}`")) && text.contains("--layers"),
        "{text}"
    );
}

#[test]
fn missing_external_data_is_an_error_naming_the_file() {
    let mut b = Builder::new(13, 1);
    let c = b.conv("x", 3, 4, 3);
    let mut m = b.model(&fixed(8, 8), &[&c]);
    let t = &mut m.graph.as_mut().unwrap().initializer[0];
    t.raw_data = None;
    t.data_location = Some(DataLocation::External as i32);
    t.external_data = vec![StringStringEntryProto {
        key: Some("location".into()),
        value: Some("weights.bin".into()),
    }];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.onnx");
    std::fs::write(&path, encode_model(&m)).unwrap();
    let e = compile_file(&path, &layer(&c)).expect_err("weights.bin is missing");
    let text = e.to_string();
    assert!(
        matches!(e, DreamError::ExternalData { .. }) && text.contains("weights.bin"),
        "{text}"
    );
    // With the file there (but too short), the error says so; with enough bytes it loads.
    std::fs::write(dir.path().join("weights.bin"), [0u8; 8]).unwrap();
    let text = compile_file(&path, &layer(&c))
        .expect_err("too short")
        .to_string();
    assert!(text.contains("outside the file"), "{text}");
    std::fs::write(dir.path().join("weights.bin"), vec![0u8; 4 * 4 * 3 * 9]).unwrap();
    compile_file(&path, &layer(&c)).expect("external data read");
}

#[test]
fn not_a_model_and_old_opsets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.onnx");
    std::fs::write(&path, b"\xff\xff\xff not protobuf").unwrap();
    let text = compile_file(&path, &layer("a"))
        .expect_err("junk")
        .to_string();
    assert!(text.contains("not an ONNX model"), "{text}");

    let mut b = Builder::new(8, 1);
    let c = b.conv("x", 3, 4, 3);
    let e = compile(b.model(&fixed(8, 8), &[&c]), &layer(&c)).expect_err("opset 8");
    assert!(e.to_string().contains("opset 8"), "{e}");
}

#[test]
fn input_must_be_a_float_rgb_image() {
    let mut b = Builder::new(13, 1);
    let c = b.conv("x", 3, 4, 3);
    let mut m = b.model(&fixed(8, 8), &[&c]);
    m.graph.as_mut().unwrap().input[0] = value_info(
        "x",
        dtype::INT64,
        &[
            DimSpec::Fixed(1),
            DimSpec::Fixed(3),
            DimSpec::Fixed(8),
            DimSpec::Fixed(8),
        ],
    );
    let text = compile(m.clone(), &layer(&c))
        .expect_err("int input")
        .to_string();
    assert!(text.contains("int64") && text.contains("NCHW"), "{text}");
    m.graph.as_mut().unwrap().input[0] = value_info(
        "x",
        dtype::FLOAT,
        &[
            DimSpec::Fixed(1),
            DimSpec::Fixed(4),
            DimSpec::Fixed(8),
            DimSpec::Fixed(8),
        ],
    );
    let text = compile(m, &layer(&c)).expect_err("4 channels").to_string();
    assert!(text.contains("4 channels"), "{text}");
}

#[test]
fn contradictory_options_are_explained() {
    let (m, out) = with_op("Relu", vec![]);
    let cases: Vec<(Options, &str)> = vec![
        (Options::default(), "needs at least one --layer"),
        (
            Options {
                objectives: vec![Objective::Channels],
                layers: vec![out.clone(), out.clone()],
                ..Options::default()
            },
            "--channels-layer",
        ),
        (
            Options {
                output: Output::Gradient,
                iterations: 3,
                ..layer(&out)
            },
            "--iterations and --octaves",
        ),
        (
            Options {
                octaves: 3,
                octave_scale: 0.5,
                ..layer(&out)
            },
            "--octave-scale",
        ),
    ];
    for (opts, want) in cases {
        let text = compile(m.clone(), &opts).expect_err(want).to_string();
        assert!(text.contains(want), "wanted {want:?} in: {text}");
    }
}

/// The light Inception v1 file (a prerequisite, no ONNX Runtime needed).
fn inception_file(test: &str) -> Option<std::path::PathBuf> {
    let path = crate::dream_support::root().join(".hypna/testdata/light_inception_v1.onnx");
    crate::common::prerequisite(
        test,
        &path.display().to_string(),
        path.is_file(),
        "scripts/install-ort.sh extracts it",
    )
    .then_some(path)
}

fn hypna(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hypna"))
        .args(args)
        .output()
        .expect("hypna runs")
}

#[test]
fn cli_inspect_layers_and_dreamify() {
    let Some(model) = inception_file("cli_inspect_layers_and_dreamify") else {
        return;
    };
    let m = model.as_os_str();
    let out = hypna(&[
        "inspect".as_ref(),
        m,
        "--layers".as_ref(),
        "--size".as_ref(),
        "320x240".as_ref(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for part in [
        "opset 9",
        "r40",
        "[1, 192, 13, 13]",
        "Conv+Relu",
        "LRN",
        "prob_1",
    ] {
        assert!(text.contains(part), "missing {part:?} in:\n{text}");
    }
    assert!(text.lines().count() < 120, "too long to read:\n{text}");

    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dream.onnx");
    let out = hypna(&[
        "dreamify".as_ref(),
        m,
        "--layer".as_ref(),
        "r40".as_ref(),
        "--layer".as_ref(),
        "r25".as_ref(),
        "--free-size".as_ref(),
        "--bgr".as_ref(),
        "--scale".as_ref(),
        "255".as_ref(),
        "--mean".as_ref(),
        "104,117,123".as_ref(),
        "--iterations".as_ref(),
        "2".as_ref(),
        "--octaves".as_ref(),
        "3".as_ref(),
        "--out".as_ref(),
        dest.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for part in [
        "image: float32 [1, 3, height, width]",
        "jitter: float32 [4]",
        "layer_weights: float32 [2]",
        "dreamed",
    ] {
        assert!(text.contains(part), "missing {part:?} in:\n{text}");
    }
    assert!(dest.is_file());

    let out = hypna(&[
        "dreamify".as_ref(),
        m,
        "--layer".as_ref(),
        "r400".as_ref(),
        "--out".as_ref(),
        dest.as_os_str(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no value `r400`") && err.contains("`r40`"),
        "{err}"
    );
}
