//! The rewrite of one node into its opset-17 form (see the parent module): attribute forms
//! become inputs, old `Upsample`/`Resize` become `Resize`-13, windows get explicit pads.

use crate::dream::DreamError;
use crate::dream::build::{Graph, attrs_without, norm};
use crate::dream::onnx::NodeProto;
use crate::dream::proto::{NodeExt, attr_int, attr_ints, attr_str, make_f32, make_i64};
use crate::dream::shape::Dim;

use super::{known_attrs, supported_list};

fn unsupported(src: &NodeProto, why: &str) -> DreamError {
    DreamError::Unsupported {
        node: src.label(),
        op: src.op_type().to_string(),
        why: why.to_string(),
        supported: supported_list(),
    }
}

#[allow(clippy::too_many_lines)]
pub(super) fn canonical_node(
    g: &mut Graph,
    opset: i64,
    mut node: NodeProto,
    src: &NodeProto,
    unused: &[bool],
) -> Result<(), DreamError> {
    let op = src.op_type().to_string();
    if !(src.domain().is_empty() || src.domain() == "ai.onnx") {
        return Err(unsupported(
            src,
            &format!(
                "operators of domain `{}` are not standard ONNX",
                src.domain()
            ),
        ));
    }
    let Some(known) = known_attrs(&op) else {
        return Err(unsupported(src, "this operator is not supported"));
    };
    for a in &src.attribute {
        if !known.contains(&a.name()) {
            return Err(unsupported(
                src,
                &format!("its attribute `{}` is not understood", a.name()),
            ));
        }
        if a.ref_attr_name.is_some() {
            return Err(unsupported(
                src,
                "attributes referring to a function's attributes",
            ));
        }
    }
    let only_first = |src: &NodeProto, unused: &[bool]| -> Result<(), DreamError> {
        if unused.iter().skip(1).all(|&u| u) {
            Ok(())
        } else {
            Err(unsupported(
                src,
                "only its first output (inference mode) is supported, but another one is used",
            ))
        }
    };
    let rank_of = |g: &Graph, x: &str| -> Result<usize, DreamError> {
        g.rank(x).ok_or_else(|| {
            unsupported(
                src,
                &format!("the rank of its input `{x}` cannot be inferred"),
            )
        })
    };
    match op.as_str() {
        "Constant" => {
            let out = node.output[0].clone();
            let t = if let Some(t) = src.attr("value").and_then(|a| a.t.clone()) {
                t
            } else if let Some(a) = src.attr("value_float").and_then(|a| a.f) {
                make_f32("", &[], &[a])
            } else if let Some(a) = src.floats("value_floats") {
                make_f32("", &[a.len() as i64], &a)
            } else if let Some(a) = src.attr("value_int").and_then(|a| a.i) {
                make_i64("", &[], &[a])
            } else if let Some(a) = src.ints("value_ints") {
                make_i64("", &[a.len() as i64], &a)
            } else {
                return Err(unsupported(
                    src,
                    "only tensor, float and int constants are supported",
                ));
            };
            let mut t = t;
            t.name = Some(out);
            g.add_init(t);
            return Ok(());
        }
        "Dropout" => {
            only_first(src, unused)?;
            if !node.input(2).is_empty() {
                match g.const_ints(node.input(2)) {
                    Some(v) if v.iter().all(|&b| b == 0) => {}
                    _ => return Err(unsupported(src, "training mode is not supported")),
                }
            }
            node.op_type = Some("Identity".into());
            node.input.truncate(1);
            node.output.truncate(1);
            node.attribute.clear();
        }
        "BatchNormalization" => {
            only_first(src, unused)?;
            if src.int("training_mode", 0) != 0 {
                return Err(unsupported(src, "training mode is not supported"));
            }
            if src.int("spatial", 1) != 1 {
                return Err(unsupported(src, "spatial=0 is not supported"));
            }
            node.output.truncate(1);
            node.attribute = vec![crate::dream::proto::attr_float(
                "epsilon",
                src.float("epsilon", 1e-5),
            )];
        }
        "Clip" if opset < 11 => {
            let mut inputs = vec![node.input[0].clone()];
            for (k, default) in [("min", f32::MIN), ("max", f32::MAX)] {
                let v = src.float(k, default);
                inputs.push(if src.attr(k).is_some() {
                    g.float_scalar(v)
                } else {
                    String::new()
                });
            }
            while inputs.last().is_some_and(String::is_empty) {
                inputs.pop();
            }
            node.input = inputs;
            node.attribute.clear();
        }
        "Slice" if opset < 10 => {
            let starts = src.ints("starts").unwrap_or_default();
            let ends = src.ints("ends").unwrap_or_default();
            let mut inputs = vec![node.input[0].clone(), g.ints(&starts), g.ints(&ends)];
            if let Some(axes) = src.ints("axes") {
                inputs.push(g.ints(&axes));
            }
            node.input = inputs;
            node.attribute.clear();
        }
        "Pad" => {
            let x = node.input[0].clone();
            let r = rank_of(g, &x)?;
            let mode = src.string("mode", "constant");
            if !matches!(mode.as_str(), "constant" | "reflect" | "edge") {
                return Err(unsupported(src, &format!("mode `{mode}` is not supported")));
            }
            let (pads, value) = if opset < 11 {
                let p = src.ints("pads").unwrap_or_default();
                let v = src.float("value", 0.0);
                (
                    g.ints(&p),
                    if v == 0.0 {
                        String::new()
                    } else {
                        g.float_scalar(v)
                    },
                )
            } else {
                let mut pads = node.input(1).to_string();
                if !node.input(3).is_empty() {
                    let (Some(axes), Some(p)) = (g.const_ints(node.input(3)), g.const_ints(&pads))
                    else {
                        return Err(unsupported(src, "its `axes` and `pads` must be constants"));
                    };
                    let mut full = vec![0; 2 * r];
                    for (j, &a) in axes.iter().enumerate() {
                        let a = norm(a, r as i64) as usize;
                        full[a] = p[j];
                        full[a + r] = p[j + axes.len()];
                    }
                    pads = g.ints(&full);
                }
                (pads, node.input(2).to_string())
            };
            let mut inputs = vec![x, pads];
            if !value.is_empty() {
                inputs.push(value);
            }
            node.input = inputs;
            node.attribute = vec![attr_str("mode", &mode)];
        }
        "Split" => {
            let x = node.input[0].clone();
            let r = rank_of(g, &x)? as i64;
            let axis = norm(src.int("axis", 0), r);
            let n = node.output.len() as i64;
            let mut split = if opset < 13 {
                src.ints("split").map(|s| g.ints(&s))
            } else {
                Some(node.input(1).to_string()).filter(|s| !s.is_empty())
            };
            if split.is_none()
                && src.attr("num_outputs").is_some()
                && let Some(d) = g.dims(&x).and_then(|d| d[axis as usize].known())
                && d % n != 0
            {
                let chunk = (d + n - 1) / n;
                let sizes: Vec<i64> = (0..n).map(|i| chunk.min(d - i * chunk).max(0)).collect();
                split = Some(g.ints(&sizes));
            }
            node.input = vec![x];
            if let Some(s) = split {
                node.input.push(s);
            }
            node.attribute = vec![attr_int("axis", axis)];
        }
        "Unsqueeze" | "Squeeze" if opset < 13 => {
            if let Some(axes) = src.ints("axes") {
                let a = g.ints(&axes);
                node.input = vec![node.input[0].clone(), a];
            }
            node.attribute.clear();
        }
        "ReduceSum" if opset < 13 => {
            if let Some(axes) = src.ints("axes") {
                let a = g.ints(&axes);
                node.input = vec![node.input[0].clone(), a];
            }
            node.attribute = attrs_without(src, &["axes"]);
        }
        "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd" if opset >= 18 => {
            let mut attrs = attrs_without(src, &["noop_with_empty_axes"]);
            if !node.input(1).is_empty() {
                let Some(axes) = g.const_ints(node.input(1)) else {
                    return Err(unsupported(src, "its `axes` must be a constant"));
                };
                if !axes.is_empty() {
                    attrs.push(attr_ints("axes", &axes));
                } else if src.int("noop_with_empty_axes", 0) == 1 {
                    node.op_type = Some("Identity".into());
                    attrs.clear();
                }
            } else if src.int("noop_with_empty_axes", 0) == 1 {
                node.op_type = Some("Identity".into());
                attrs.clear();
            }
            node.input.truncate(1);
            node.attribute = attrs;
        }
        "Upsample" => {
            let mode = src.string("mode", "nearest");
            let scales = if opset < 9 {
                let s = src.floats("scales").unwrap_or_default();
                g.floats(&[s.len() as i64], &s)
            } else {
                node.input(1).to_string()
            };
            node.op_type = Some("Resize".into());
            node.input = vec![node.input[0].clone(), String::new(), scales];
            node.attribute = resize_attrs_old(&mode);
        }
        "Resize" => {
            canonical_resize(g, opset, &mut node, src)?;
        }
        "Softmax" | "LogSoftmax" => {
            let x = node.input[0].clone();
            let r = rank_of(g, &x)? as i64;
            let axis = norm(src.int("axis", if opset < 13 { 1 } else { -1 }), r);
            if opset < 13 && axis != r - 1 {
                // Old Softmax normalises over all axes from `axis` on: flatten, softmax, reshape.
                let flat = g.op("Flatten", &[&x], vec![attr_int("axis", axis)]);
                let s = g.op(&op, &[&flat], vec![attr_int("axis", 1)]);
                let shape = g.shape(&x);
                node.op_type = Some("Reshape".into());
                node.input = vec![s, shape];
                node.attribute.clear();
            } else {
                node.attribute = vec![attr_int("axis", axis)];
            }
        }
        "Conv" | "MaxPool" | "AveragePool" => {
            if op == "MaxPool" {
                only_first(src, unused)?;
                node.output.truncate(1);
            }
            canonical_window(g, &mut node, src)?;
        }
        "ConvTranspose" => canonical_conv_transpose(g, &mut node, src)?,
        "Cast" => {
            node.attribute = vec![attr_int("to", src.int("to", 1))];
        }
        "Concat" | "Flatten" | "Gather" => {
            let x = node.input[0].clone();
            let default = i64::from(op == "Flatten");
            let r = rank_of(g, &x)? as i64;
            let r = if op == "Flatten" { r } else { r.max(1) };
            let a = src.int("axis", default);
            node.attribute = vec![attr_int("axis", if a < 0 { a + r } else { a })];
        }
        "Transpose" => {
            let r = rank_of(g, node.input(0))? as i64;
            let perm = src.ints("perm").unwrap_or_else(|| (0..r).rev().collect());
            node.attribute = vec![attr_ints("perm", &perm)];
        }
        "Mod" if opset < 10 => {
            return Err(unsupported(src, "Mod needs opset 10"));
        }
        _ => {}
    }
    g.push(node);
    Ok(())
}

/// Resize attributes that give the meaning of Upsample and Resize-10.
fn resize_attrs_old(mode: &str) -> Vec<crate::dream::onnx::AttributeProto> {
    let linear = matches!(mode, "linear" | "bilinear" | "trilinear");
    let mut a = vec![
        attr_str("mode", if linear { "linear" } else { "nearest" }),
        attr_str("coordinate_transformation_mode", "asymmetric"),
    ];
    if !linear {
        a.push(attr_str("nearest_mode", "floor"));
    }
    a
}

fn canonical_resize(
    g: &mut Graph,
    opset: i64,
    node: &mut NodeProto,
    src: &NodeProto,
) -> Result<(), DreamError> {
    let x = node.input[0].clone();
    if opset < 11 {
        let mode = src.string("mode", "nearest");
        node.input = vec![x, String::new(), node.input(1).to_string()];
        node.attribute = resize_attrs_old(&mode);
        return Ok(());
    }
    if src.int("antialias", 0) != 0 {
        return Err(unsupported(
            src,
            "antialiased Resize (opset 18) cannot be written in opset 17",
        ));
    }
    if src.string("keep_aspect_ratio_policy", "stretch") != "stretch" {
        return Err(unsupported(
            src,
            "only keep_aspect_ratio_policy `stretch` is supported",
        ));
    }
    let ctm = src.string("coordinate_transformation_mode", "half_pixel");
    if !matches!(
        ctm.as_str(),
        "half_pixel"
            | "pytorch_half_pixel"
            | "align_corners"
            | "asymmetric"
            | "tf_half_pixel_for_nn"
    ) {
        return Err(unsupported(
            src,
            &format!("coordinate_transformation_mode `{ctm}` is not supported"),
        ));
    }
    let empty = |g: &Graph, n: &str| {
        n.is_empty()
            || g.inits
                .get(n)
                .is_some_and(|t| crate::dream::proto::numel(&t.dims) == 0)
    };
    let mut scales = node.input(2).to_string();
    let mut sizes = node.input(3).to_string();
    if empty(g, &scales) {
        scales = String::new();
    }
    if empty(g, &sizes) {
        sizes = String::new();
    }
    if let Some(axes) = src.ints("axes") {
        let r = g
            .rank(&x)
            .ok_or_else(|| unsupported(src, "its input's rank is unknown"))?;
        if !scales.is_empty() {
            let Some(s) = g.const_floats(&scales) else {
                return Err(unsupported(
                    src,
                    "with `axes`, its scales must be constants",
                ));
            };
            let mut full = vec![1.0f32; r];
            for (j, &a) in axes.iter().enumerate() {
                full[norm(a, r as i64) as usize] = s[j];
            }
            scales = g.floats(&[r as i64], &full);
        }
        if !sizes.is_empty() {
            let Some(s) = g.const_ints(&sizes) else {
                return Err(unsupported(src, "with `axes`, its sizes must be constants"));
            };
            let Some(d) = g.shapes.get(&x).known_dims() else {
                return Err(unsupported(
                    src,
                    "with `axes` and `sizes`, the input size must be known",
                ));
            };
            let mut full = d;
            for (j, &a) in axes.iter().enumerate() {
                full[norm(a, r as i64) as usize] = s[j];
            }
            sizes = g.ints(&full);
        }
    }
    node.input = vec![x, String::new(), scales, sizes];
    while node.input.last().is_some_and(String::is_empty) {
        node.input.pop();
    }
    node.attribute = attrs_without(src, &["antialias", "axes", "keep_aspect_ratio_policy"]);
    Ok(())
}

/// Conv and pooling: explicit kernel, strides, dilations and pads; `auto_pad` SAME stays only
/// when the input size is unknown and a stride is above 1 (the pads then depend on the size).
fn canonical_window(
    g: &mut Graph,
    node: &mut NodeProto,
    src: &NodeProto,
) -> Result<(), DreamError> {
    let op = src.op_type();
    let x = node.input(0).to_string();
    let xd = g
        .dims(&x)
        .ok_or_else(|| unsupported(src, &format!("the rank of `{x}` cannot be inferred")))?;
    let sp = xd.len().saturating_sub(2);
    let kernel = match src.ints("kernel_shape") {
        Some(k) => k,
        None if op == "Conv" => g
            .dims(node.input(1))
            .and_then(|w| w[2..].iter().map(|d| d.known()).collect::<Option<Vec<_>>>())
            .ok_or_else(|| unsupported(src, "its kernel size cannot be known"))?,
        None => return Err(unsupported(src, "it has no kernel_shape")),
    };
    if kernel.len() != sp {
        return Err(unsupported(src, "its kernel rank does not match its input"));
    }
    let strides = src.ints("strides").unwrap_or_else(|| vec![1; sp]);
    let dil = src.ints("dilations").unwrap_or_else(|| vec![1; sp]);
    if op == "AveragePool" && dil.iter().any(|&d| d != 1) {
        return Err(unsupported(
            src,
            "dilated AveragePool (opset 19) is not supported",
        ));
    }
    let mut pads = src.ints("pads").unwrap_or_else(|| vec![0; 2 * sp]);
    let auto = src.string("auto_pad", "NOTSET");
    let mut keep_auto = false;
    match auto.as_str() {
        "NOTSET" => {}
        "VALID" => pads = vec![0; 2 * sp],
        "SAME_UPPER" | "SAME_LOWER" => {
            if dil.iter().any(|&d| d != 1) {
                // ONNX Runtime rejects it for Conv and sizes pooling differently from the
                // specification; explicit pads say what is meant.
                return Err(unsupported(
                    src,
                    "auto_pad SAME with dilations is ambiguous; write explicit pads",
                ));
            }
            for i in 0..sp {
                let keff = (kernel[i] - 1) * dil[i] + 1;
                let s = strides[i];
                let total = match xd[2 + i] {
                    Dim::N(n) => (((n + s - 1) / s - 1) * s + keff - n).max(0),
                    Dim::S(_) if s == 1 => keff - 1,
                    Dim::S(_) => {
                        keep_auto = true;
                        0
                    }
                };
                let small = total / 2;
                let (b, e) = if auto == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                };
                pads[i] = b;
                pads[i + sp] = e;
            }
        }
        other => {
            return Err(unsupported(
                src,
                &format!("auto_pad `{other}` is not supported"),
            ));
        }
    }
    let mut attrs = vec![
        attr_ints("kernel_shape", &kernel),
        attr_ints("strides", &strides),
    ];
    if keep_auto {
        attrs.push(attr_str("auto_pad", &auto));
    } else {
        attrs.push(attr_ints("pads", &pads));
    }
    match op {
        "Conv" => {
            attrs.push(attr_ints("dilations", &dil));
            attrs.push(attr_int("group", src.int("group", 1)));
        }
        "MaxPool" => {
            attrs.push(attr_ints("dilations", &dil));
            attrs.push(attr_int("ceil_mode", src.int("ceil_mode", 0)));
        }
        _ => {
            attrs.push(attr_int("ceil_mode", src.int("ceil_mode", 0)));
            attrs.push(attr_int(
                "count_include_pad",
                src.int("count_include_pad", 0),
            ));
        }
    }
    node.attribute = attrs;
    Ok(())
}

fn canonical_conv_transpose(
    g: &mut Graph,
    node: &mut NodeProto,
    src: &NodeProto,
) -> Result<(), DreamError> {
    let x = node.input(0).to_string();
    let xd = g
        .dims(&x)
        .ok_or_else(|| unsupported(src, &format!("the rank of `{x}` cannot be inferred")))?;
    let sp = xd.len().saturating_sub(2);
    let kernel = match src.ints("kernel_shape") {
        Some(k) => k,
        None => g
            .dims(node.input(1))
            .and_then(|w| w[2..].iter().map(|d| d.known()).collect::<Option<Vec<_>>>())
            .ok_or_else(|| unsupported(src, "its kernel size cannot be known"))?,
    };
    let strides = src.ints("strides").unwrap_or_else(|| vec![1; sp]);
    let dil = src.ints("dilations").unwrap_or_else(|| vec![1; sp]);
    let mut pads = src.ints("pads").unwrap_or_else(|| vec![0; 2 * sp]);
    let mut out_pad = src.ints("output_padding").unwrap_or_else(|| vec![0; sp]);
    let auto = src.string("auto_pad", "NOTSET");
    let out_shape = src.ints("output_shape");
    if out_shape.is_some() || auto.starts_with("SAME") {
        for i in 0..sp {
            let Some(n) = xd[2 + i].known() else {
                return Err(unsupported(
                    src,
                    "output_shape or auto_pad SAME needs a known input size",
                ));
            };
            let keff = (kernel[i] - 1) * dil[i] + 1;
            let target = match &out_shape {
                Some(o) => o[o.len() - sp + i],
                None => n * strides[i],
            };
            let total = strides[i] * (n - 1) + out_pad[i] + keff - target;
            let (b, e) = if auto == "SAME_LOWER" {
                (total - total / 2, total / 2)
            } else {
                (total / 2, total - total / 2)
            };
            if total < 0 {
                out_pad[i] -= total;
                pads[i] = 0;
                pads[i + sp] = 0;
            } else {
                pads[i] = b;
                pads[i + sp] = e;
            }
        }
    } else if auto == "VALID" {
        pads = vec![0; 2 * sp];
    }
    node.attribute = vec![
        attr_ints("kernel_shape", &kernel),
        attr_ints("strides", &strides),
        attr_ints("dilations", &dil),
        attr_ints("pads", &pads),
        attr_ints("output_padding", &out_pad),
        attr_int("group", src.int("group", 1)),
    ];
    Ok(())
}
