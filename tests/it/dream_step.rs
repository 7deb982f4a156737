//! The dream step a compiled model takes, through ONNX Runtime: a zero step changes nothing
//! (with jitter, smoothing, iterations and octaves), the step is the normalised gradient step,
//! iterations unroll single steps, jitter is roll / step / roll back, a zero blur is no blur,
//! and the objective rises. Needs ONNX Runtime and the light models (`scripts/install-ort.sh`).

// Tests name values after the mathematics (x, y, g, w, h).
#![allow(
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::cast_possible_wrap
)]

use crate::dream_support::{Rng, light, randomize, run};
use hypna::dream::onnx::ModelProto;
use hypna::dream::{Options, Output, compile};
use hypna::infer::Tensor;

const H: usize = 48;
const W: usize = 64;

fn classifier(test: &str) -> Option<ModelProto> {
    let mut m = light(test, "inception_v1")?;
    randomize(&mut m, 31);
    Some(m)
}

fn options() -> Options {
    Options {
        layers: vec!["r40".into(), "r25".into()],
        free_size: true,
        ..Options::default()
    }
}

fn image(seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    Tensor::new(vec![1, 3, H, W], rng.fill(3 * H * W, 0.1, 0.9))
}

fn t(v: &[f32]) -> Tensor {
    Tensor::new(vec![v.len()], v.to_vec())
}

/// Runs a compiled dream model with the given named inputs; returns (dreamed, objective).
fn dream(model: &ModelProto, inputs: &[(&str, &Tensor)]) -> (Tensor, f32) {
    let out = run(model, inputs);
    let obj = out[1].data[0];
    (out.into_iter().next().expect("dreamed"), obj)
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.shape, b.shape);
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// numpy.roll over height (`dy`) and width (`dx`).
fn roll(x: &Tensor, dy: i64, dx: i64) -> Tensor {
    let (h, w) = (x.shape[2] as i64, x.shape[3] as i64);
    let mut out = vec![0.0; x.data.len()];
    for c in 0..3 {
        for y in 0..h {
            for xx in 0..w {
                let sy = (y - dy).rem_euclid(h);
                let sx = (xx - dx).rem_euclid(w);
                out[((c * h + y) * w + xx) as usize] = x.data[((c * h + sy) * w + sx) as usize];
            }
        }
    }
    Tensor::new(x.shape.clone(), out)
}

#[test]
fn zero_step_changes_nothing() {
    let Some(m) = classifier("zero_step_changes_nothing") else {
        return;
    };
    let opts = Options {
        iterations: 2,
        octaves: 3,
        smooth_radius: 2,
        ..options()
    };
    let c = compile(m, &opts).expect("compile");
    let x = image(1);
    let (y, obj) = dream(
        &c.model,
        &[
            ("image", &x),
            ("step", &t(&[0.0])),
            ("jitter", &t(&[3.0, -2.0, -5.0, 7.0])),
            ("smooth", &t(&[1.0])),
            ("layer_weights", &t(&[1.0, 0.5])),
        ],
    );
    assert!(obj.is_finite() && obj > 0.0, "objective {obj}");
    assert_eq!(y.shape, x.shape);
    let same = y
        .data
        .iter()
        .zip(&x.data)
        .all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(same, "step 0 moved the image by up to {}", max_diff(&x, &y));
}

#[test]
fn step_is_the_normalised_gradient_step() {
    let Some(m) = classifier("step_is_the_normalised_gradient_step") else {
        return;
    };
    let grad = compile(
        m.clone(),
        &Options {
            output: Output::Gradient,
            ..options()
        },
    )
    .expect("compile gradient");
    let step = compile(
        m,
        &Options {
            jitter: false,
            ..options()
        },
    )
    .expect("compile step");
    let x = image(2);
    let w = t(&[1.0, 0.3]);
    let g = run(&grad.model, &[("image", &x), ("layer_weights", &w)]);
    let (y, _) = dream(
        &step.model,
        &[("image", &x), ("step", &t(&[0.05])), ("layer_weights", &w)],
    );
    let mean_abs = g[0].data.iter().map(|v| v.abs()).sum::<f32>() / g[0].data.len() as f32;
    let expect: Vec<f32> = x
        .data
        .iter()
        .zip(&g[0].data)
        .map(|(&v, &d)| (v + 0.05 * d / (mean_abs + 1e-8)).clamp(0.0, 1.0))
        .collect();
    let e = max_diff(&y, &Tensor::new(x.shape.clone(), expect));
    assert!(e < 1e-5, "dreamed differs from the gradient step by {e}");
    let moved = max_diff(&x, &y);
    assert!(moved > 0.01, "the step moved nothing ({moved})");
}

#[test]
fn iterations_unroll_single_steps_with_their_jitter() {
    let Some(m) = classifier("iterations_unroll_single_steps_with_their_jitter") else {
        return;
    };
    let three = compile(
        m.clone(),
        &Options {
            iterations: 3,
            ..options()
        },
    )
    .expect("compile");
    let one = compile(m, &options()).expect("compile");
    let x = image(3);
    let w = t(&[1.0, 1.0]);
    let s = t(&[0.02]);
    let jitter = [4.0, -3.0, -9.0, 2.0, 1.4, 7.6];
    let (y3, obj3) = dream(
        &three.model,
        &[
            ("image", &x),
            ("step", &s),
            ("jitter", &t(&jitter)),
            ("layer_weights", &w),
        ],
    );
    let mut y = x;
    let mut obj = 0.0;
    for i in 0..3 {
        let j = t(&jitter[2 * i..2 * i + 2]);
        (y, obj) = dream(
            &one.model,
            &[
                ("image", &y),
                ("step", &s),
                ("jitter", &j),
                ("layer_weights", &w),
            ],
        );
    }
    let e = max_diff(&y3, &y);
    assert!(e < 1e-5, "3 unrolled iterations differ from 3 runs by {e}");
    assert!(
        (obj3 - obj).abs() <= 1e-4 * obj.abs(),
        "objective {obj3} vs {obj}"
    );
}

#[test]
fn jitter_rolls_the_image_and_back() {
    let Some(m) = classifier("jitter_rolls_the_image_and_back") else {
        return;
    };
    let with = compile(m.clone(), &options()).expect("compile");
    let without = compile(
        m,
        &Options {
            jitter: false,
            ..options()
        },
    )
    .expect("compile");
    let x = image(4);
    let w = t(&[1.0, 1.0]);
    let s = t(&[0.03]);
    let (dx, dy) = (-7i64, 5i64);
    let (a, _) = dream(
        &with.model,
        &[
            ("image", &x),
            ("step", &s),
            ("jitter", &t(&[dx as f32, dy as f32])),
            ("layer_weights", &w),
        ],
    );
    let rolled = roll(&x, dy, dx);
    let (b, _) = dream(
        &without.model,
        &[("image", &rolled), ("step", &s), ("layer_weights", &w)],
    );
    let e = max_diff(&a, &roll(&b, -dy, -dx));
    assert!(
        e < 1e-5,
        "jittered step differs from roll, step, roll back by {e}"
    );
    let (plain, _) = dream(
        &without.model,
        &[("image", &x), ("step", &s), ("layer_weights", &w)],
    );
    assert!(max_diff(&a, &plain) > 1e-3, "jitter changed nothing");
}

#[test]
fn zero_blur_is_no_blur_and_blur_smooths() {
    let Some(m) = classifier("zero_blur_is_no_blur_and_blur_smooths") else {
        return;
    };
    let smooth = compile(
        m.clone(),
        &Options {
            smooth_radius: 3,
            jitter: false,
            ..options()
        },
    )
    .expect("compile");
    let sharp = compile(
        m,
        &Options {
            jitter: false,
            ..options()
        },
    )
    .expect("compile");
    let x = image(5);
    let w = t(&[1.0, 1.0]);
    let s = t(&[0.03]);
    let (a, _) = dream(
        &smooth.model,
        &[
            ("image", &x),
            ("step", &s),
            ("smooth", &t(&[0.0])),
            ("layer_weights", &w),
        ],
    );
    let (b, _) = dream(
        &sharp.model,
        &[("image", &x), ("step", &s), ("layer_weights", &w)],
    );
    let e = max_diff(&a, &b);
    assert!(e < 1e-5, "sigma 0 differs from no smoothing by {e}");
    let (c, _) = dream(
        &smooth.model,
        &[
            ("image", &x),
            ("step", &s),
            ("smooth", &t(&[1.5])),
            ("layer_weights", &w),
        ],
    );
    // Roughness of the change: mean absolute difference between horizontal neighbours.
    let rough = |y: &Tensor| -> f32 {
        let d: Vec<f32> = y.data.iter().zip(&x.data).map(|(a, b)| a - b).collect();
        let mut s = 0.0;
        for (i, v) in d.iter().enumerate() {
            if i % W != W - 1 {
                s += (v - d[i + 1]).abs();
            }
        }
        s / d.len() as f32
    };
    assert!(
        rough(&c) < 0.6 * rough(&b),
        "blurred step is not smoother: {} vs {}",
        rough(&c),
        rough(&b)
    );
}

#[test]
fn octaves_and_iterations_raise_the_objective() {
    let Some(m) = classifier("octaves_and_iterations_raise_the_objective") else {
        return;
    };
    let opts = Options {
        iterations: 2,
        octaves: 3,
        octave_scale: 1.4,
        ..options()
    };
    let c = compile(m, &opts).expect("compile");
    let mut x = image(6);
    let w = t(&[1.0, 1.0]);
    let mut objs = Vec::new();
    let mut rng = Rng::new(9);
    for _ in 0..4 {
        let j = t(&rng.fill(4, -8.0, 8.0));
        let (y, obj) = dream(
            &c.model,
            &[
                ("image", &x),
                ("step", &t(&[0.01])),
                ("jitter", &j),
                ("layer_weights", &w),
            ],
        );
        assert!(
            y.data.iter().all(|v| (0.0..=1.0).contains(v)),
            "values leave 0..1"
        );
        objs.push(obj);
        x = y;
    }
    eprintln!("objective over calls: {objs:?}");
    assert!(
        objs.windows(2).all(|p| p[1] > p[0]),
        "objective does not rise: {objs:?}"
    );
}

#[test]
fn class_index_is_the_one_hot_class_weight() {
    let Some(mut m) = light("class_index_is_the_one_hot_class_weight", "squeezenet") else {
        return;
    };
    randomize(&mut m, 9);
    let base = Options {
        layers: Vec::new(),
        objectives: vec![hypna::dream::Objective::Class],
        output: Output::Gradient,
        free_size: true,
        ..Options::default()
    };
    let weights = compile(m.clone(), &base).expect("compile with class weights");
    let index = compile(
        m,
        &Options {
            class_index: true,
            ..base
        },
    )
    .expect("compile with a class index");
    let x = image(7);
    let k = weights
        .inputs
        .iter()
        .find(|(n, _, _)| n == "class_weights")
        .map(|(_, d, _)| d[0].to_string())
        .expect("class_weights input")
        .parse::<usize>()
        .expect("a fixed class count");
    let mut one_hot = vec![0.0; k];
    one_hot[3] = 1.0;
    let by_weights = run(
        &weights.model,
        &[("image", &x), ("class_weights", &t(&one_hot))],
    );
    // 2.6 rounds to class 3.
    let by_index = run(&index.model, &[("image", &x), ("class", &t(&[2.6]))]);
    let e = max_diff(&by_weights[0], &by_index[0]);
    assert!(
        e < 1e-6,
        "class 3 by index differs from its one-hot weights by {e}"
    );
    assert!((by_weights[1].data[0] - by_index[1].data[0]).abs() < 1e-5);
    let other = run(&index.model, &[("image", &x), ("class", &t(&[4.0]))]);
    let moved = max_diff(&by_index[0], &other[0]);
    assert!(
        moved > 1e-4,
        "another class gives the same gradient ({moved})"
    );
}
