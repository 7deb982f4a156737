//! Sessions on real models: the shipped `dream.onnx` and `cppn.onnx` and the third-party
//! `light_inception_v1.onnx`. Need ONNX Runtime (`scripts/install-ort.sh`); skip loudly without.

use crate::infer_support;

use hypna::infer::{
    Dim, ElemType, Ep, InferError, Model, SessionOptions, Tensor, TensorRef, inspect,
};

fn cpu1() -> SessionOptions {
    SessionOptions {
        intra_threads: 1,
        ..SessionOptions::default()
    }
}

/// A smooth test image, NCHW in 0..1.
fn image(h: usize, w: usize) -> Tensor {
    let mut data = Vec::with_capacity(3 * h * w);
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                let v = 0.5 + 0.4 * ((x as f32 * 0.3 + c as f32).sin() * (y as f32 * 0.2).cos());
                data.push(v);
            }
        }
    }
    Tensor::new(vec![1, 3, h, w], data)
}

#[test]
fn init_reports_version_library_and_cpu() {
    let Some(info) = infer_support::ort("init_reports_version_library_and_cpu") else {
        return;
    };
    assert!(info.version.starts_with("1."), "{info}");
    assert!(
        info.providers.iter().any(|p| p == "CPUExecutionProvider"),
        "{info}"
    );
    assert!(info.has(Ep::Cpu));
    let text = info.to_string();
    assert!(
        text.contains(&info.version) && text.contains("CPUExecutionProvider"),
        "{text}"
    );
    // Idempotent: the same answer from another call (and any thread).
    let again = std::thread::spawn(|| hypna::infer::init(&hypna::infer::InitOptions::default()))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(again, info);
    eprintln!("{info}");
}

#[test]
fn inspect_dream_shows_symbolic_height_and_width() {
    if infer_support::ort("inspect_dream").is_none() {
        return;
    }
    let text = inspect(&infer_support::model("dream.onnx"), &cpu1()).unwrap();
    eprintln!("{text}");
    for line in [
        "image: float32 [1, 3, height, width]",
        "weights: float32 [32]",
        "step: float32 [1]",
        "dreamed: float32 [1, 3, height, width]",
        "objective: float32 [1]",
        "opset: 17",
        "execution provider: cpu",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    let model = Model::load(&infer_support::model("dream.onnx"), &cpu1()).unwrap();
    let image = model.info().input("image").unwrap();
    assert_eq!(image.elem, ElemType::Float32);
    assert_eq!(
        image.shape,
        [
            Dim::Fixed(1),
            Dim::Fixed(3),
            Dim::Symbolic("height".into()),
            Dim::Symbolic("width".into())
        ]
    );
}

#[test]
fn inspect_third_party_inception() {
    if infer_support::ort("inspect_third_party_inception").is_none() {
        return;
    }
    let Some(path) = infer_support::inception("inspect_third_party_inception") else {
        return;
    };
    let text = inspect(&path, &cpu1()).unwrap();
    eprintln!("{text}");
    assert!(text.contains("producer: onnx-caffe2"), "{text}");
    assert!(text.contains("data_0: float32 [1, 3, 224, 224]"), "{text}");
    assert!(text.contains("prob_1: float32 [1, 1000]"), "{text}");
    // It runs, and a classifier's softmax sums to 1.
    let mut model = Model::load(&path, &cpu1()).unwrap();
    let input = Tensor::filled(&[1, 3, 224, 224], 0.5);
    let out = model.run(&[("data_0", input.view())]).unwrap();
    assert_eq!(out[0].0, "prob_1");
    assert_eq!(out[0].1.shape, [1, 1000]);
    let sum: f32 = out[0].1.data.iter().sum();
    assert!((sum - 1.0).abs() < 1e-3, "{sum}");
}

#[test]
fn dream_with_step_zero_returns_its_input_exactly() {
    if infer_support::ort("dream_step_zero").is_none() {
        return;
    }
    let mut model = Model::load(&infer_support::model("dream.onnx"), &cpu1()).unwrap();
    let img = image(27, 48);
    let weights = Tensor::filled(&[32], 1.0);
    let step = Tensor::filled(&[1], 0.0);
    let out = model
        .run(&[
            ("image", img.view()),
            ("weights", weights.view()),
            ("step", step.view()),
        ])
        .unwrap();
    let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["dreamed", "objective"]);
    let dreamed = &out[0].1;
    assert_eq!(dreamed.shape, img.shape);
    let same = dreamed
        .data
        .iter()
        .zip(&img.data)
        .all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(same, "step 0 must return the input bit for bit");
    assert_eq!(out[1].1.shape, [1]);
    // The objective is a sum of logs of feature energies: finite, of either sign.
    assert!(out[1].1.data[0].is_finite());

    // A real step moves the image and stays in 0..1.
    let step = Tensor::filled(&[1], 0.03);
    let out = model
        .run(&[
            ("image", img.view()),
            ("weights", weights.view()),
            ("step", step.view()),
        ])
        .unwrap();
    let moved = out[0]
        .1
        .data
        .iter()
        .zip(&img.data)
        .any(|(a, b)| a.to_bits() != b.to_bits());
    assert!(moved);
    assert!(out[0].1.data.iter().all(|v| (0.0..=1.0).contains(v)));
}

#[test]
fn cppn_gives_a_320x180_image_in_0_1() {
    if infer_support::ort("cppn").is_none() {
        return;
    }
    let mut model = Model::load(&infer_support::model("cppn.onnx"), &cpu1()).unwrap();
    let latent: Vec<f32> = (0..8).map(|i| (i as f32 * 0.7).sin()).collect();
    let time = [1.5_f32];
    let out = model
        .run(&[
            ("latent", TensorRef::new(&[1, 8], &latent)),
            ("time", TensorRef::new(&[1], &time)),
        ])
        .unwrap();
    assert_eq!(out.len(), 1);
    let (name, image) = &out[0];
    assert_eq!(name, "image");
    assert_eq!(image.shape, [1, 3, 180, 320]);
    assert_eq!(image.data.len(), 3 * 180 * 320);
    assert!(image.data.iter().all(|v| (0.0..=1.0).contains(v)));
    let mean = image.data.iter().sum::<f32>() / image.data.len() as f32;
    let var = image.data.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / image.data.len() as f32;
    assert!(var.sqrt() > 0.05, "a flat image: std {}", var.sqrt());
}

/// Runs the dream model on `image`, `weights` and `step`, expecting an error.
fn dream_error(
    model: &mut Model,
    image: TensorRef,
    weights: TensorRef,
    step: TensorRef,
) -> InferError {
    model
        .run(&[("image", image), ("weights", weights), ("step", step)])
        .unwrap_err()
}

#[test]
fn a_wrong_input_shape_names_model_input_and_both_shapes() {
    if infer_support::ort("wrong_input_shape").is_none() {
        return;
    }
    let mut model = Model::load(&infer_support::model("dream.onnx"), &cpu1()).unwrap();
    let img = Tensor::filled(&[1, 4, 8, 8], 0.5);
    let weights = Tensor::filled(&[32], 1.0);
    let step = Tensor::filled(&[1], 0.0);
    let err = dream_error(&mut model, img.view(), weights.view(), step.view());
    let msg = err.to_string();
    assert!(matches!(err, InferError::InputShape { .. }), "{msg}");
    assert_eq!(
        msg,
        "model dream: input `image` expects shape [1, 3, height, width], got [1, 4, 8, 8]"
    );

    // Wrong vector length, rank, data length, unknown and missing inputs: all named.
    let short = Tensor::filled(&[16], 1.0);
    let img = Tensor::filled(&[1, 3, 8, 8], 0.5);
    let err = dream_error(&mut model, img.view(), short.view(), step.view());
    assert!(
        err.to_string()
            .contains("`weights` expects shape [32], got [16]"),
        "{err}"
    );
    let err = dream_error(
        &mut model,
        TensorRef::new(&[1, 3, 8, 8], &img.data[..10]),
        weights.view(),
        step.view(),
    );
    assert!(
        err.to_string().contains("192 values) but 10 values"),
        "{err}"
    );
    let err = model
        .run(&[
            ("image", img.view()),
            ("weight", weights.view()),
            ("step", step.view()),
        ])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no input named `weight` (inputs: image, weights, step)"),
        "{err}"
    );
    let err = model
        .run(&[("image", img.view()), ("step", step.view())])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "model dream: input `weights` (float32 [32]) was not given"
    );
}

#[test]
fn fixed_dims_are_checked_before_ort_and_ort_rejections_list_the_shapes() {
    if infer_support::ort("ort_rejections").is_none() {
        return;
    }
    // cppn's latent is [1, 8]: a batch of 2 is caught before ONNX Runtime sees it.
    let mut cppn = Model::load(&infer_support::model("cppn.onnx"), &cpu1()).unwrap();
    let latent = Tensor::filled(&[2, 8], 0.0);
    let time = Tensor::filled(&[1], 0.0);
    let err = cppn
        .run(&[("latent", latent.view()), ("time", time.view())])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "model cppn: input `latent` expects shape [1, 8], got [2, 8]"
    );

    // A zero-sized image fits [1, 3, height, width] but the graph cannot take it: ONNX
    // Runtime's message is kept, with the model and every input's shape.
    let mut dream = Model::load(&infer_support::model("dream.onnx"), &cpu1()).unwrap();
    let img = Tensor::filled(&[1, 3, 0, 5], 0.5);
    let weights = Tensor::filled(&[32], 1.0);
    let step = Tensor::filled(&[1], 0.1);
    let err = dream_error(&mut dream, img.view(), weights.view(), step.view());
    let msg = err.to_string();
    assert!(matches!(err, InferError::Run { .. }), "{msg}");
    assert!(msg.starts_with("model dream: run failed: "), "{msg}");
    assert!(
        msg.ends_with("(inputs given: image [1, 3, 0, 5], weights [32], step [1])"),
        "{msg}"
    );
}

#[test]
fn a_missing_or_broken_model_file_is_named() {
    if infer_support::ort("missing_model").is_none() {
        return;
    }
    let err = Model::load(std::path::Path::new("models/nope.onnx"), &cpu1()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "models/nope.onnx: cannot load model: no such file"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("garbage.onnx");
    std::fs::write(&bad, b"this is not a protobuf").unwrap();
    let err = Model::load(&bad, &cpu1()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}: cannot load model: ", bad.display())),
        "{msg}"
    );
    assert!(
        msg.len() > bad.display().to_string().len() + 24,
        "ORT's message is kept: {msg}"
    );
}

#[test]
fn requesting_cuda_on_a_cpu_build_falls_back_to_cpu_with_a_warning() {
    let Some(info) = infer_support::ort("ep_fallback") else {
        return;
    };
    if info.has(Ep::Cuda) {
        eprintln!("SKIPPED ep_fallback: this ONNX Runtime has CUDA");
        return;
    }
    let opts = SessionOptions {
        ep: "cuda".parse().unwrap(),
        ..cpu1()
    };
    let mut model = Model::load(&infer_support::model("cppn.onnx"), &opts).unwrap();
    let ep = model.ep();
    assert_eq!(ep.requested, Ep::Cuda);
    assert_eq!(ep.used, Ep::Cpu);
    let warning = ep.warning.clone().expect("a fallback warning");
    assert!(
        warning.contains("cuda") && warning.contains("running on cpu"),
        "{warning}"
    );
    // And it runs.
    let latent = Tensor::filled(&[1, 8], 0.0);
    let time = Tensor::filled(&[1], 0.0);
    model
        .run(&[("latent", latent.view()), ("time", time.view())])
        .unwrap();
    let text = inspect(&infer_support::model("cppn.onnx"), &opts).unwrap();
    assert!(
        text.contains("execution provider: cpu\nwarning: "),
        "{text}"
    );
}
