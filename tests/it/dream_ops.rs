//! The dream compiler's gradient of each operator it reads, on small hand-made graphs with
//! random weights (`BatchNorm` left unfolded), in the opsets where their forms differ, at fixed
//! and free sizes: compiled gradients against central finite differences of the original
//! graph through ONNX Runtime. Needs ONNX Runtime (`scripts/install-ort.sh`).

// Tests name values after the mathematics (x, y, g, w, h).
#![allow(
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::cast_possible_wrap
)]

use crate::dream_support::{Builder, af, ai, aints, astr, check_gradient, fixed, free, ort};
use hypna::dream::Options;
use hypna::dream::onnx::AttributeProto;
use hypna::dream::proto::{DimSpec, attr_tensor, make_f32};

const RANDOM_TOL: f64 = 0.1;
const ALONG_TOL: f64 = 5e-3;

/// Builds `x -> conv (3 -> 8 channels, 3x3) -> build(..)`, dreams the value `build` returns
/// and checks its gradient.
fn case(
    label: &str,
    opset: i64,
    dims: &[DimSpec],
    (h, w): (usize, usize),
    build: impl FnOnce(&mut Builder, &str) -> String,
) {
    if !ort(label) {
        return;
    }
    let seed = label.bytes().map(u64::from).sum::<u64>();
    let mut b = Builder::new(opset, seed);
    let p = b.conv("x", 3, 8, 3);
    let out = build(&mut b, &p);
    let model = b.model(dims, &[&out]);
    let opts = Options {
        layers: vec![out],
        ..Options::default()
    };
    let c = check_gradient(&model, &opts, h, w, 3, seed);
    eprintln!(
        "{label}: random {:.2e}, along {:.2e}, objective {:.2e}",
        c.random, c.along, c.objective
    );
    assert!(
        c.random < RANDOM_TOL && c.along < ALONG_TOL && c.objective < 1e-4,
        "{label}: gradient differs from finite differences: {c:?}"
    );
}

/// A [`case`] whose graph is one `op` node with `attrs` on the first convolution's output.
fn op_case(
    label: &str,
    opset: i64,
    dims: &[DimSpec],
    hw: (usize, usize),
    op: &str,
    attrs: Vec<AttributeProto>,
) {
    case(label, opset, dims, hw, |b, p| b.node(op, &[p], attrs));
}

fn conv_w(b: &mut Builder, dims: &[i64]) -> String {
    let fan: i64 = dims[1..].iter().product();
    b.weight(dims, (2.0 / fan as f64).sqrt())
}

#[test]
fn conv_asymmetric_pads() {
    case(
        "conv_asymmetric_pads",
        13,
        &fixed(20, 22),
        (20, 22),
        |b, p| {
            let w = conv_w(b, &[6, 8, 3, 3]);
            b.node("Conv", &[p, &w], vec![aints("pads", &[1, 0, 2, 1])])
        },
    );
}

#[test]
fn conv_stride_dilation_fixed_and_free() {
    for (label, dims) in [
        ("conv_s2_d2_fixed", fixed(21, 19)),
        ("conv_s2_d2_free", free()),
    ] {
        case(label, 13, &dims, (21, 19), |b, p| {
            let w = conv_w(b, &[6, 8, 3, 3]);
            b.node(
                "Conv",
                &[p, &w],
                vec![
                    aints("strides", &[2, 2]),
                    aints("dilations", &[2, 2]),
                    aints("pads", &[1, 2, 0, 1]),
                ],
            )
        });
    }
}

#[test]
fn conv_auto_pad() {
    for (label, mode, k, dims) in [
        ("conv_same_upper_s2_free", "SAME_UPPER", 3, free()),
        ("conv_same_lower_s2_fixed", "SAME_LOWER", 4, fixed(23, 18)),
        ("conv_same_lower_s2_free", "SAME_LOWER", 4, free()),
        ("conv_valid_s2_free", "VALID", 3, free()),
        ("conv_same_upper_s1_free", "SAME_UPPER", 4, free()),
    ] {
        case(label, 11, &dims, (23, 18), |b, p| {
            let w = conv_w(b, &[6, 8, k, k]);
            let s = if label.contains("s1") { 1 } else { 2 };
            b.node(
                "Conv",
                &[p, &w],
                vec![astr("auto_pad", mode), aints("strides", &[s, s])],
            )
        });
    }
}

#[test]
fn conv_groups_and_depthwise() {
    case("conv_group2", 13, &free(), (14, 12), |b, p| {
        let w = conv_w(b, &[6, 4, 3, 3]);
        b.node(
            "Conv",
            &[p, &w],
            vec![ai("group", 2), aints("pads", &[1, 1, 1, 1])],
        )
    });
    case(
        "depthwise_5x5_s2_same_free",
        13,
        &free(),
        (25, 19),
        |b, p| {
            let w = conv_w(b, &[8, 1, 5, 5]);
            let bias = b.weight(&[8], 0.1);
            b.node(
                "Conv",
                &[p, &w, &bias],
                vec![
                    ai("group", 8),
                    astr("auto_pad", "SAME_UPPER"),
                    aints("strides", &[2, 2]),
                ],
            )
        },
    );
    case(
        "depthwise_5x5_s1_multiplier2",
        13,
        &fixed(13, 11),
        (13, 11),
        |b, p| {
            let w = conv_w(b, &[16, 1, 5, 5]);
            b.node(
                "Conv",
                &[p, &w],
                vec![ai("group", 8), aints("pads", &[2, 2, 2, 2])],
            )
        },
    );
}

#[test]
fn conv_transpose() {
    case("conv_transpose_s2", 13, &fixed(9, 7), (9, 7), |b, p| {
        let w = conv_w(b, &[8, 5, 3, 3]);
        b.node(
            "ConvTranspose",
            &[p, &w],
            vec![
                aints("strides", &[2, 2]),
                aints("pads", &[1, 1, 1, 1]),
                aints("output_padding", &[1, 0]),
            ],
        )
    });
    case(
        "conv_transpose_output_shape_group",
        11,
        &fixed(6, 5),
        (6, 5),
        |b, p| {
            let w = conv_w(b, &[8, 3, 4, 4]);
            b.node(
                "ConvTranspose",
                &[p, &w],
                vec![
                    ai("group", 2),
                    aints("strides", &[2, 2]),
                    aints("output_shape", &[12, 10]),
                ],
            )
        },
    );
}

#[test]
fn activations() {
    type Act = fn(&mut Builder, &str) -> String;
    let cases: Vec<(&str, i64, Act)> = vec![
        ("relu", 13, |b, p| b.node("Relu", &[p], vec![])),
        ("leaky_relu", 9, |b, p| {
            b.node("LeakyRelu", &[p], vec![af("alpha", 0.1)])
        }),
        ("prelu", 9, |b, p| {
            let s = b.uniform(&[8, 1, 1], -0.5, 0.5);
            b.node("PRelu", &[p, &s], vec![])
        }),
        ("sigmoid", 13, |b, p| b.node("Sigmoid", &[p], vec![])),
        ("hard_sigmoid", 9, |b, p| {
            b.node("HardSigmoid", &[p], vec![af("alpha", 0.4), af("beta", 0.5)])
        }),
        ("hard_swish", 14, |b, p| {
            let three = b.floats(&[], &[3.0]);
            let s = b.node("Mul", &[p, &three], vec![]);
            b.node("HardSwish", &[&s], vec![])
        }),
        ("tanh", 13, |b, p| b.node("Tanh", &[p], vec![])),
        ("elu", 9, |b, p| b.node("Elu", &[p], vec![af("alpha", 0.7)])),
        ("selu", 9, |b, p| b.node("Selu", &[p], vec![])),
        ("softplus", 9, |b, p| b.node("Softplus", &[p], vec![])),
        ("clip_attrs_opset9", 9, |b, p| {
            b.node("Clip", &[p], vec![af("min", -0.5), af("max", 0.5)])
        }),
        ("clip_inputs_opset13", 13, |b, p| {
            let lo = b.floats(&[], &[-0.5]);
            let hi = b.floats(&[], &[0.5]);
            b.node("Clip", &[p, &lo, &hi], vec![])
        }),
        ("clip_relu6_min_only", 13, |b, p| {
            let lo = b.floats(&[], &[0.0]);
            b.node("Clip", &[p, &lo], vec![])
        }),
        ("exp_log_sqrt", 13, |b, p| {
            let e = b.node("Exp", &[p], vec![]);
            let one = b.floats(&[], &[1.0]);
            let a = b.node("Add", &[&e, &one], vec![]);
            let l = b.node("Log", &[&a], vec![]);
            b.node("Sqrt", &[&l], vec![])
        }),
        ("abs_neg_reciprocal_pow", 13, |b, p| {
            let a = b.node("Abs", &[p], vec![]);
            let one = b.floats(&[], &[1.0]);
            let a1 = b.node("Add", &[&a, &one], vec![]);
            let r = b.node("Reciprocal", &[&a1], vec![]);
            let n = b.node("Neg", &[&r], vec![]);
            let e = b.floats(&[], &[1.5]);
            let pw = b.node("Pow", &[&a1, &e], vec![]);
            b.node("Add", &[&n, &pw], vec![])
        }),
        ("erf_gelu", 13, |b, p| {
            let c = b.floats(&[], &[std::f32::consts::FRAC_1_SQRT_2]);
            let s = b.node("Mul", &[p, &c], vec![]);
            let e = b.node("Erf", &[&s], vec![]);
            b.node("Mul", &[p, &e], vec![])
        }),
    ];
    for (label, opset, f) in cases {
        case(label, opset, &free(), (12, 10), f);
    }
}

#[test]
fn arithmetic_with_broadcasting() {
    case("squeeze_excitation_mul", 13, &free(), (12, 10), |b, p| {
        let g = b.node("GlobalAveragePool", &[p], vec![]);
        let w = conv_w(b, &[8, 8, 1, 1]);
        let c = b.node("Conv", &[&g, &w], vec![]);
        let s = b.node("Sigmoid", &[&c], vec![]);
        b.node("Mul", &[p, &s], vec![])
    });
    case("add_sub_div_constants", 9, &free(), (12, 10), |b, p| {
        let c = b.weight(&[8, 1, 1], 1.0);
        let a = b.node("Add", &[p, &c], vec![]);
        let k = b.uniform(&[1, 8, 1, 1], 0.5, 2.0);
        let d = b.node("Div", &[&a, &k], vec![]);
        let r = b.weight(&[1, 1, 1], 1.0);
        b.node("Sub", &[&r, &d], vec![])
    });
    case("div_sub_both_live", 13, &free(), (12, 10), |b, p| {
        let a = b.node("Abs", &[p], vec![]);
        let one = b.floats(&[], &[1.0]);
        let den = b.node("Add", &[&a, &one], vec![]);
        let q = b.node("Div", &[p, &den], vec![]);
        let m = b.node(
            "ReduceMean",
            &[p],
            vec![aints("axes", &[1]), ai("keepdims", 1)],
        );
        b.node("Sub", &[&q, &m], vec![])
    });
    case(
        "sum_mean_max_min_where_expand",
        13,
        &free(),
        (12, 10),
        |b, p| {
            let r = b.node("Relu", &[p], vec![]);
            let m = b.node(
                "ReduceMean",
                &[p],
                vec![aints("axes", &[2, 3]), ai("keepdims", 1)],
            );
            let s = b.node("Sum", &[p, &r, &m], vec![]);
            let mn = b.node("Mean", &[&s, p], vec![]);
            let mx = b.node("Max", &[&mn, &m], vec![]);
            let mi = b.node("Min", &[&mx, &r], vec![]);
            let zero = b.floats(&[], &[0.0]);
            let cond = b.node("Greater", &[p, &zero], vec![]);
            let w = b.node("Where", &[&cond, &mi, &s], vec![]);
            let shape = b.node("Shape", &[&w], vec![]);
            let e = b.node("Expand", &[&m, &shape], vec![]);
            b.node("Add", &[&w, &e], vec![])
        },
    );
}

#[test]
fn batch_normalization_unfolded() {
    for (label, opset) in [("batchnorm_opset9", 9), ("batchnorm_opset15", 15)] {
        case(label, opset, &free(), (12, 10), |b, p| {
            let s = b.uniform(&[8], 0.5, 1.5);
            let bias = b.weight(&[8], 0.1);
            let mean = b.weight(&[8], 0.1);
            let var = b.uniform(&[8], 0.5, 1.5);
            b.node(
                "BatchNormalization",
                &[p, &s, &bias, &mean, &var],
                vec![af("epsilon", 1e-3)],
            )
        });
    }
}

#[test]
fn max_pool() {
    op_case(
        "maxpool_3x3_s2_ceil_pad",
        10,
        &fixed(15, 13),
        (15, 13),
        "MaxPool",
        vec![
            aints("kernel_shape", &[3, 3]),
            aints("strides", &[2, 2]),
            aints("pads", &[1, 1, 1, 1]),
            ai("ceil_mode", 1),
        ],
    );
    op_case(
        "maxpool_2x2_free",
        9,
        &free(),
        (15, 13),
        "MaxPool",
        vec![aints("kernel_shape", &[2, 2]), aints("strides", &[2, 2])],
    );
    op_case(
        "maxpool_dilated",
        12,
        &free(),
        (21, 17),
        "MaxPool",
        vec![
            aints("kernel_shape", &[3, 3]),
            aints("dilations", &[2, 2]),
            aints("pads", &[2, 1, 2, 2]),
        ],
    );
    op_case(
        "maxpool_same_upper_s2_free",
        12,
        &free(),
        (15, 13),
        "MaxPool",
        vec![
            aints("kernel_shape", &[3, 3]),
            aints("strides", &[2, 2]),
            astr("auto_pad", "SAME_UPPER"),
        ],
    );
}

#[test]
fn average_pool() {
    op_case(
        "avgpool_exclude_pad_ceil",
        10,
        &fixed(15, 13),
        (15, 13),
        "AveragePool",
        vec![
            aints("kernel_shape", &[3, 3]),
            aints("strides", &[2, 2]),
            aints("pads", &[1, 1, 1, 1]),
            ai("ceil_mode", 1),
        ],
    );
    op_case(
        "avgpool_include_pad_free",
        9,
        &free(),
        (14, 11),
        "AveragePool",
        vec![
            aints("kernel_shape", &[3, 3]),
            aints("strides", &[2, 2]),
            aints("pads", &[1, 1, 1, 1]),
            ai("count_include_pad", 1),
        ],
    );
    op_case(
        "avgpool_2x2_free",
        13,
        &free(),
        (14, 11),
        "AveragePool",
        vec![aints("kernel_shape", &[2, 2]), aints("strides", &[2, 2])],
    );
    op_case(
        "avgpool_same_upper_s2_free",
        11,
        &free(),
        (15, 13),
        "AveragePool",
        vec![
            aints("kernel_shape", &[3, 3]),
            aints("strides", &[2, 2]),
            astr("auto_pad", "SAME_UPPER"),
        ],
    );
    op_case(
        "avgpool_ceil_free",
        11,
        &free(),
        (15, 13),
        "AveragePool",
        vec![
            aints("kernel_shape", &[3, 3]),
            aints("strides", &[2, 2]),
            ai("ceil_mode", 1),
        ],
    );
}

#[test]
fn global_pool_and_reductions() {
    op_case(
        "global_average_pool",
        13,
        &free(),
        (12, 10),
        "GlobalAveragePool",
        vec![],
    );
    op_case(
        "reduce_mean_attr_opset13",
        13,
        &free(),
        (12, 10),
        "ReduceMean",
        vec![aints("axes", &[2, 3]), ai("keepdims", 0)],
    );
    case(
        "reduce_mean_input_opset18",
        18,
        &free(),
        (12, 10),
        |b, p| {
            let a = b.ints(&[1]);
            let r = b.node("ReduceMean", &[p, &a], vec![ai("keepdims", 0)]);
            let r = b.node("Mul", &[&r, &r], vec![]);
            let one = b.ints(&[1]);
            b.node("Unsqueeze", &[&r, &one], vec![])
        },
    );
    op_case(
        "reduce_sum_attr_opset11",
        11,
        &free(),
        (12, 10),
        "ReduceSum",
        vec![aints("axes", &[1]), ai("keepdims", 1)],
    );
    case("reduce_sum_input_opset13", 13, &free(), (12, 10), |b, p| {
        let a = b.ints(&[-1]);
        b.node("ReduceSum", &[p, &a], vec![ai("keepdims", 0)])
    });
}

#[test]
fn concat_and_split() {
    case("concat", 13, &free(), (12, 10), |b, p| {
        let r = b.node("Relu", &[p], vec![]);
        b.node("Concat", &[p, &r, p], vec![ai("axis", 1)])
    });
    case("split_attr_opset11", 11, &free(), (12, 10), |b, p| {
        let s = b.node_n(
            "Split",
            &[p],
            2,
            vec![ai("axis", 1), aints("split", &[3, 5])],
        );
        let a = b.node("Relu", &[&s[0]], vec![]);
        b.node("Concat", &[&s[1], &a], vec![ai("axis", 1)])
    });
    case(
        "split_input_one_output_used",
        13,
        &free(),
        (12, 10),
        |b, p| {
            let sizes = b.ints(&[2, 6]);
            let s = b.node_n("Split", &[p, &sizes], 2, vec![ai("axis", 1)]);
            b.node("Relu", &[&s[1]], vec![])
        },
    );
    case(
        "split_num_outputs_opset18",
        18,
        &free(),
        (12, 10),
        |b, p| {
            let s = b.node_n("Split", &[p], 3, vec![ai("axis", 1), ai("num_outputs", 3)]);
            let a = b.node("Mul", &[&s[0], &s[1]], vec![]);
            b.node("Concat", &[&a, &s[2]], vec![ai("axis", 1)])
        },
    );
}

#[test]
fn slice() {
    op_case(
        "slice_attrs_opset9",
        9,
        &fixed(12, 10),
        (12, 10),
        "Slice",
        vec![
            aints("starts", &[1, 2]),
            aints("ends", &[-1, 100]),
            aints("axes", &[2, 3]),
        ],
    );
    case("slice_inputs_free", 13, &free(), (12, 10), |b, p| {
        let s = b.ints(&[2, 1]);
        let e = b.ints(&[-1, 7]);
        let a = b.ints(&[2, 1]);
        b.node("Slice", &[p, &s, &e, &a], vec![])
    });
    case(
        "slice_steps_and_reverse",
        13,
        &fixed(12, 10),
        (12, 10),
        |b, p| {
            let s = b.ints(&[-1, 1]);
            let e = b.ints(&[-100, 100]);
            let a = b.ints(&[1, 3]);
            let st = b.ints(&[-1, 2]);
            b.node("Slice", &[p, &s, &e, &a, &st], vec![])
        },
    );
}

#[test]
fn lrn() {
    // ONNX allows an even size, but ONNX Runtime does not run it.
    for (label, size) in [("lrn_5", 5), ("lrn_3", 3)] {
        case(label, 9, &free(), (12, 10), |b, p| {
            b.node(
                "LRN",
                &[p],
                vec![
                    ai("size", size),
                    af("alpha", 0.1),
                    af("beta", 0.75),
                    af("bias", 1.5),
                ],
            )
        });
    }
}

#[test]
fn pad() {
    op_case(
        "pad_attrs_opset9_value",
        9,
        &free(),
        (12, 10),
        "Pad",
        vec![aints("pads", &[0, 0, 1, 2, 0, 0, 3, 0]), af("value", 0.5)],
    );
    case("pad_negative_crop", 13, &fixed(12, 10), (12, 10), |b, p| {
        let pads = b.ints(&[0, 0, -2, 1, 0, 0, 1, -3]);
        b.node("Pad", &[p, &pads], vec![])
    });
    for mode in ["reflect", "edge"] {
        case(&format!("pad_{mode}"), 13, &free(), (12, 10), |b, p| {
            let pads = b.ints(&[0, 0, 2, 1, 0, 0, 1, 3]);
            b.node("Pad", &[p, &pads], vec![astr("mode", mode)])
        });
    }
    case("pad_axes_opset18", 18, &free(), (12, 10), |b, p| {
        let pads = b.ints(&[2, 1, 0, 3]);
        let axes = b.ints(&[2, 3]);
        b.node("Pad", &[p, &pads, "", &axes], vec![])
    });
}

#[test]
fn resize_and_upsample() {
    case("upsample_nearest_opset9", 9, &free(), (8, 7), |b, p| {
        let s = b.floats(&[4], &[1.0, 1.0, 2.0, 3.0]);
        b.node("Upsample", &[p, &s], vec![astr("mode", "nearest")])
    });
    case("upsample_linear_opset9", 9, &free(), (8, 7), |b, p| {
        let s = b.floats(&[4], &[1.0, 1.0, 2.0, 2.0]);
        b.node("Upsample", &[p, &s], vec![astr("mode", "linear")])
    });
    case(
        "resize_linear_align_corners_opset11",
        11,
        &free(),
        (8, 7),
        |b, p| {
            let roi = b.floats(&[0], &[]);
            let s = b.floats(&[4], &[1.0, 1.0, 1.5, 1.7]);
            b.node(
                "Resize",
                &[p, &roi, &s],
                vec![
                    astr("mode", "linear"),
                    astr("coordinate_transformation_mode", "align_corners"),
                ],
            )
        },
    );
    case(
        "resize_nearest_sizes_opset13",
        13,
        &fixed(8, 7),
        (8, 7),
        |b, p| {
            let sizes = b.ints(&[1, 8, 13, 11]);
            b.node(
                "Resize",
                &[p, "", "", &sizes],
                vec![astr("mode", "nearest")],
            )
        },
    );
    case("resize_cubic_opset13", 13, &free(), (8, 7), |b, p| {
        let s = b.floats(&[4], &[1.0, 1.0, 2.0, 1.5]);
        b.node("Resize", &[p, "", &s], vec![astr("mode", "cubic")])
    });
    case(
        "resize_nearest_x2_half_pixel",
        13,
        &free(),
        (8, 7),
        |b, p| {
            let s = b.floats(&[4], &[1.0, 1.0, 2.0, 2.0]);
            b.node("Resize", &[p, "", &s], vec![astr("mode", "nearest")])
        },
    );
    case("resize_down_linear", 13, &free(), (16, 13), |b, p| {
        let s = b.floats(&[4], &[1.0, 1.0, 0.5, 0.6]);
        b.node("Resize", &[p, "", &s], vec![astr("mode", "linear")])
    });
}

#[test]
fn shape_arithmetic_channel_shuffle() {
    // ShuffleNet's channel shuffle with the target shape computed from the input's shape, as
    // exporters write it: Shape, Gather, Unsqueeze, Concat, Cast, Constant, ConstantOfShape.
    for (label, opset) in [("shuffle_opset11", 11), ("shuffle_opset13", 13)] {
        case(label, opset, &free(), (12, 10), |b, p| {
            let shape = b.node("Shape", &[p], vec![]);
            let i2 = b.ints(&[2]);
            let i3 = b.ints(&[3]);
            let h = b.node("Gather", &[&shape, &i2], vec![ai("axis", 0)]);
            let w = b.node("Gather", &[&shape, &i3], vec![ai("axis", 0)]);
            let c = b.node(
                "Constant",
                &[],
                vec![attr_tensor(
                    "value",
                    hypna::dream::proto::make_i64("", &[3], &[1, 2, 4]),
                )],
            );
            let s5 = b.node("Concat", &[&c, &h, &w], vec![ai("axis", 0)]);
            let r = b.node("Reshape", &[p, &s5], vec![]);
            let t = b.node("Transpose", &[&r], vec![aints("perm", &[0, 2, 1, 3, 4])]);
            let f = b.node("Cast", &[&shape], vec![ai("to", 1)]);
            let fi = b.node("Cast", &[&f], vec![ai("to", 7)]);
            let back = b.node("Reshape", &[&t, &fi], vec![]);
            let twos = b.node(
                "ConstantOfShape",
                &[&shape],
                vec![attr_tensor("value", make_f32("", &[1], &[2.0]))],
            );
            b.node("Mul", &[&back, &twos], vec![])
        });
    }
    case(
        "squeeze_unsqueeze_opset11",
        11,
        &free(),
        (12, 10),
        |b, p| {
            let u = b.node("Unsqueeze", &[p], vec![aints("axes", &[0])]);
            let s = b.node("Squeeze", &[&u], vec![aints("axes", &[0])]);
            b.node("Relu", &[&s], vec![])
        },
    );
}

#[test]
fn classifier_head() {
    // Flatten, Gemm, Dropout, Softmax of opset 9 (2-D coercion) and 13, LogSoftmax, MatMul.
    case("gemm_softmax_opset9", 9, &fixed(6, 5), (6, 5), |b, p| {
        let f = b.node("Flatten", &[p], vec![ai("axis", 1)]);
        let w = b.weight(&[10, 240], 0.1);
        let bias = b.weight(&[10], 0.1);
        let g = b.node("Gemm", &[&f, &w, &bias], vec![ai("transB", 1)]);
        let d = b.node("Dropout", &[&g], vec![af("ratio", 0.5)]);
        b.node("Softmax", &[&d], vec![])
    });
    case(
        "matmul_logsoftmax_opset13",
        13,
        &fixed(6, 5),
        (6, 5),
        |b, p| {
            let f = b.node("Flatten", &[p], vec![]);
            let w = b.weight(&[240, 10], 0.1);
            let m = b.node("MatMul", &[&f, &w], vec![]);
            let ratio = b.floats(&[], &[0.3]);
            let d = b.node("Dropout", &[&m, &ratio], vec![]);
            b.node("LogSoftmax", &[&d], vec![ai("axis", 1)])
        },
    );
    case(
        "gemm_trans_a_alpha_beta",
        11,
        &fixed(6, 5),
        (6, 5),
        |b, p| {
            let f = b.node("Flatten", &[p], vec![]);
            let t = b.node("Transpose", &[&f], vec![]);
            let w = b.weight(&[10, 240], 0.1);
            let c = b.weight(&[10], 0.1);
            b.node(
                "Gemm",
                &[&t, &w, &c],
                vec![
                    ai("transA", 1),
                    ai("transB", 1),
                    af("alpha", 0.5),
                    af("beta", 2.0),
                ],
            )
        },
    );
    op_case(
        "softmax_4d_coerced_opset9",
        9,
        &free(),
        (6, 5),
        "Softmax",
        vec![ai("axis", 1)],
    );
    case("softmax_4d_axis1_opset13", 13, &free(), (6, 5), |b, p| {
        let i = b.node("Identity", &[p], vec![]);
        b.node("Softmax", &[&i], vec![ai("axis", 1)])
    });
}
