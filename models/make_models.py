#!/usr/bin/env python3
"""Build hypna's shipped ONNX models from scratch, reproducibly, and self-check them.

    python3 models/make_models.py            # write models/dream.onnx + models/cppn.onnx, then check
    python3 models/make_models.py --no-check # write only
    python3 models/make_models.py --preview  # also write preview PNGs to /tmp/models_preview/

No pretrained weights are used: every weight is either analytic (Gabor filters, a binomial
blur) or drawn from a seeded numpy Generator, and the graphs are built node by node in a fixed
order, so two runs write byte-identical files (on the same numpy/onnx versions).

dream.onnx -- a true DeepDream gradient-ascent step computed inside the graph
-----------------------------------------------------------------------------
Inputs  image   float32 [1,3,height,width]  RGB in 0..1, any size >= 1x1 (symbolic H and W)
        weights float32 [32]                per-feature objective weights (N_FEAT = 32):
                                            [0:16] half-res features (~7-20 px structures),
                                            [16:32] quarter-res features (~14-40 px structures)
        step    float32 [1]                 step size per iteration (0 = no change)
Outputs dreamed   float32 [1,3,height,width] image after 3 unrolled ascent iterations, in 0..1
        objective float32 [1]                objective of the INPUT image (before any step)

Fixed feature network (forward):
    x   = image - 0.5
    xp  = symmetric mirror padding of x by 20 px (+0..3 px bottom/right so the padded size is a
          multiple of 4), done as two Gathers with computed indices, so it works for any size
    d1  = Conv(xp, blur4x4, stride 2, pad 1, group 3)   binomial [1,3,3,1]^2/64 anti-aliased
    d2  = Conv(d1, blur4x4, stride 2, pad 1, group 3)   2x downsamples: half and quarter res
    for each scale d in (d1, d2), with its own conv2 weights:
        z1 = Conv(d, gabor, 7x7, pad 3)   16 Gabor filters shared by both scales: luminance
                                          4 orientations x 2 wavelengths (3.5, 6 px), red-green
                                          4 orientations, blue-yellow 4 orientations;
                                          zero-mean, unit-norm (x2), no bias
        r1 = Relu(z1)
        z2 = Conv(r1, W2, 3x3, pad 1) + b2   seeded He-scaled 16->16; b2 = -median of each
                                          channel's pre-activation on a seeded calibration image
                                          (~half active), then each channel scaled to unit RMS
                                          activation there (so weights are comparable)
        a2 = Relu(z2)                     16 features per scale, 32 in all
    objective = sum_c weights[c] * mean over VALID positions of a2[c]^2
    VALID = feature positions k with 20 <= k*s < 20 + n (s = 2 or 4): exactly those over the
    original image. Their receptive fields (19 px before, 22 px after a feature's position)
    stay inside the mirror-padded image and never reach the convolutions' zero padding, so the
    border is dreamed like the interior (no bright frame, no undreamed band).

Why downsampled paths: DeepDream looks good when the dreamed structures span 10-30 px. With
7x7 Gabors at full resolution the strongest patterns would be 3-7 px (fine hatching). At half
resolution the Gabor wavelengths become 7 and 12 px and a conv2 unit sees ~20 px; at quarter
resolution 14 and 24 px and ~40 px. Running the filters at reduced resolution is also what keeps
a call at 384x216 cheap (the quarter path costs 1/4 of the half path). The blur downsample
(instead of AveragePool) matters for the backward pass: its adjoint is a stride-2 ConvTranspose
with the same 4x4 binomial, i.e. smooth bilinear-like upsampling of the gradient, so the dream
has no 2x2 blockiness.

Backward (hand-written exact adjoints, inside the graph), per scale:
    dz2 = a2 * mask * (2 * weights[c] / count)   count = number of valid positions (>= 1); the
                                                 ReLU mask on z2 is implied (a2 = 0 where z2 <= 0)
    dr1 = ConvTranspose(dz2, W2, pad 1)
    dz1 = Where(z1 > 0, dr1, 0)
    dd  = ConvTranspose(dz1, gabor, pad 3)
then dd1 = dd_half + ConvTranspose(dd_quarter, blur4x4, stride 2, pad 1, group 3)
     dxp = ConvTranspose(dd1, blur4x4, stride 2, pad 1, group 3)   (shapes exact: the padded
                                                                    size is a multiple of 4)
     g   = adjoint of the mirror padding: two ScatterElements(reduction="add") with the same
           indices, which fold the padding's gradient back onto the pixels it was copied from
Update (3 iterations unrolled):
    image <- clip(image + step * g / (mean(|g|) + 1e-8), 0, 1)
With step = 0 the output equals the input bit for bit (g is always finite thanks to 1e-8).
Negative weights suppress a feature instead of dreaming it. One call moves each pixel by about
3 * step on average, so for live feedback use a small step (0.003-0.01 per frame).

cppn.onnx -- a CPPN generator
-----------------------------
Inputs  latent float32 [1,8]   a point in latent space, intended ~ N(0, 1) per component
        time   float32 [1]     seconds; drives a slow drift (first layer is sin, so any t is fine)
Output  image  float32 [1,3,180,320] RGB in 0..1 (fixed size; upscale in a shader)
Graph: constant grid (x in [-16/9, 16/9], y in [-1, 1], r = sqrt(x^2 + y^2)) as an initializer,
latent Reshape -> Expand to [1,8,180,320], time Expand to [1,1,180,320], Concat (12 channels),
then 1x1 Convs 12->32 (sin) -> 32 (tanh) -> 32 (sin) -> 32 (tanh) -> 3 (sigmoid).
"""

import argparse
import hashlib
import os
import struct
import sys
import time
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
PREVIEW_DIR = "/tmp/models_preview"
OPSET = 17
IR_VERSION = 8  # opset 17 <-> IR 8; ONNX Runtime 1.31 loads it

N_BRANCH = 16  # features per scale
N_FEAT = 2 * N_BRANCH  # length of `weights`: [0:16] half-res features, [16:32] quarter-res
N_GABOR = 16
# the image is mirror-padded by MIRROR_PAD px (plus 0-3 at the bottom/right to reach a multiple
# of 4); the objective only counts feature positions that lie over the original image, whose
# receptive fields (<= 19 px beyond their position) then never reach the convs' zero padding
MIRROR_PAD = 20
DREAM_ITERS = 3
NORM_EPS = 1e-8

CPPN_H, CPPN_W = 180, 320
CPPN_LATENT = 8
CPPN_WIDTH = 32

SEED_DREAM = 20240601
SEED_CPPN = 7


# --------------------------------------------------------------------------------------------
# tiny graph builder
# --------------------------------------------------------------------------------------------
class Graph:
    def __init__(self):
        self.nodes = []
        self.inits = []
        self.count = 0
        self.const_cache = {}

    def const(self, name, arr):
        """Add an initializer; re-using a name is allowed only with identical contents."""
        arr = np.ascontiguousarray(arr)
        if name in self.const_cache:
            prev = self.const_cache[name]
            assert prev.dtype == arr.dtype and np.array_equal(prev, arr), f"initializer {name} redefined"
            return name
        self.const_cache[name] = arr
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def scalar(self, value, dtype=np.float32):
        return self.const(f"scalar_{np.dtype(dtype).name}_{value!r}", np.array(value, dtype=dtype))

    def ints(self, name, values):
        return self.const(name, np.array(values, dtype=np.int64))

    def op(self, op_type, inputs, n_out=1, name=None, **attrs):
        self.count += 1
        base = name or f"{op_type.lower()}{self.count}"
        outs = [base] if n_out == 1 else [f"{base}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=f"n{self.count}_{op_type}", **attrs))
        return outs[0] if n_out == 1 else outs


def make_model(graph, inputs, outputs, name, doc, metadata):
    used = {i for n in graph.nodes for i in n.input}
    inits = [t for t in graph.inits if t.name in used]
    g = helper.make_graph(graph.nodes, name, inputs, outputs, initializer=inits)
    m = helper.make_model(
        g,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="hypna/models/make_models.py",
        producer_version="1",
        doc_string=doc,
    )
    m.ir_version = IR_VERSION
    for k, v in metadata.items():
        p = m.metadata_props.add()
        p.key, p.value = k, str(v)
    onnx.checker.check_model(m, full_check=True)
    return m


# --------------------------------------------------------------------------------------------
# dream weights
# --------------------------------------------------------------------------------------------
def blur_kernel():
    b = np.array([1.0, 3.0, 3.0, 1.0]) / 8.0
    k = np.outer(b, b)  # sums to 1
    return np.stack([k[None]] * 3).astype(np.float32)  # [3,1,4,4] depthwise


def gabor(theta, lam, phase, sigma, size=7):
    r = (size - 1) // 2
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    xr = xx * np.cos(theta) + yy * np.sin(theta)
    env = np.exp(-(xx**2 + yy**2) / (2.0 * sigma**2))
    g = env * np.cos(2.0 * np.pi * xr / lam + phase)
    g -= env * (g.sum() / env.sum())  # zero DC, keep the Gaussian envelope shape
    return g / np.linalg.norm(g)


def gabor_bank():
    lum = np.array([1.0, 1.0, 1.0]) / np.sqrt(3.0)
    rg = np.array([1.0, -1.0, 0.0]) / np.sqrt(2.0)
    by = np.array([1.0, 1.0, -2.0]) / np.sqrt(6.0)
    thetas = [0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]
    filters = []
    for th in thetas:  # luminance, fine even-phase (lines)
        filters.append((lum, gabor(th, 3.5, 0.0, 1.5)))
    for th in thetas:  # luminance, coarse odd-phase (edges)
        filters.append((lum, gabor(th, 6.0, np.pi / 2, 2.0)))
    for th in thetas:  # red-green, coarse even-phase
        filters.append((rg, gabor(th, 6.0, 0.0, 2.0)))
    for th in thetas:  # blue-yellow, coarse odd-phase
        filters.append((by, gabor(th + np.pi / 8, 6.0, np.pi / 2, 2.0)))
    w = np.stack([c[:, None, None] * k[None] for c, k in filters])  # [16,3,7,7]
    assert w.shape == (N_GABOR, 3, 7, 7)
    return (w * 2.0).astype(np.float32)  # gain 2: a unit-contrast edge gives ~1


def smooth_noise(rng, h, w, cells, channels=3):
    """Seeded smooth noise: bilinear upsampling of a coarse random grid, in 0..1."""
    ch, cw = cells
    coarse = rng.random((channels, ch + 1, cw + 1))
    ys = np.linspace(0, ch, h)
    xs = np.linspace(0, cw, w)
    y0 = np.minimum(np.floor(ys).astype(int), ch - 1)
    x0 = np.minimum(np.floor(xs).astype(int), cw - 1)
    fy = (ys - y0)[None, :, None]
    fx = (xs - x0)[None, None, :]
    a = coarse[:, y0][:, :, x0]
    b = coarse[:, y0][:, :, x0 + 1]
    c = coarse[:, y0 + 1][:, :, x0]
    d = coarse[:, y0 + 1][:, :, x0 + 1]
    return (a * (1 - fy) * (1 - fx) + b * (1 - fy) * fx + c * fy * (1 - fx) + d * fy * fx)


def dream_weights():
    """-> (blur [3,1,4,4], gabor [16,3,7,7], [(conv2 w [16,16,3,3], conv2 b [16]) per scale])."""
    rng = np.random.default_rng(SEED_DREAM)
    wb = blur_kernel()
    w1 = gabor_bank()
    he = np.sqrt(2.0 / (N_GABOR * 9))
    w2s = [(rng.standard_normal((N_BRANCH, N_GABOR, 3, 3)) * he).astype(np.float32) for _ in range(2)]
    # bias: minus the per-channel median pre-activation on a seeded calibration image
    calib = 0.6 * smooth_noise(rng, 256, 256, (8, 8)) + 0.4 * smooth_noise(rng, 256, 256, (48, 48))
    zero_b = [(w2, np.zeros(N_BRANCH)) for w2 in w2s]
    branches = np_forward(calib.astype(np.float64), wb, w1, zero_b)
    conv2 = []
    for w2, br in zip(w2s, branches):
        z2 = br["z2_valid"].reshape(N_BRANCH, -1)
        b2 = -np.median(z2, axis=1)
        # per-feature gain: unit RMS activation on the calibration image, so all-ones weights
        # dream a balanced mix and the weights of different features are comparable
        gain = 1.0 / np.sqrt(np.mean(np.maximum(z2 + b2[:, None], 0.0) ** 2, axis=1))
        conv2.append(((w2 * gain[:, None, None, None]).astype(np.float32), (b2 * gain).astype(np.float32)))
    return wb, w1, conv2


# --------------------------------------------------------------------------------------------
# float64 numpy reference of the dream forward pass (independent of ONNX; used for FD checks)
# --------------------------------------------------------------------------------------------
def np_conv(x, w, b=None, stride=1, pad=0, depthwise=False):
    from numpy.lib.stride_tricks import sliding_window_view

    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    k = w.shape[-1]
    win = sliding_window_view(xp, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    w = w.astype(np.float64)
    if depthwise:
        out = np.einsum("chwij,cij->chw", win, w[:, 0])
    else:
        out = np.einsum("chwij,mcij->mhw", win, w)
    if b is not None:
        out = out + np.asarray(b, np.float64)[:, None, None]
    return out


def np_forward(img, wb, w1, conv2):
    """img [3,H,W] float64 -> per scale (half, quarter) dict of intermediates."""
    _, h, w = img.shape
    p = MIRROR_PAD
    x = np.pad(img - 0.5, ((0, 0), (p, p + (-h % 4)), (p, p + (-w % 4))), mode="symmetric")
    d1 = np_conv(x, wb, stride=2, pad=1, depthwise=True)
    d2 = np_conv(d1, wb, stride=2, pad=1, depthwise=True)
    out = []
    for s, d, (w2, b2) in zip((2, 4), (d1, d2), conv2):
        z1 = np_conv(d, w1, pad=3)
        z2 = np_conv(np.maximum(z1, 0), w2, b2, pad=1)
        a2 = np.maximum(z2, 0)
        ys = slice(p // s, -(-(p + h) // s))  # feature rows k with p <= k*s < p+h
        xs = slice(p // s, -(-(p + w) // s))
        out.append({"z1": z1, "z2": z2, "a2": a2, "valid": a2[:, ys, xs], "z2_valid": z2[:, ys, xs]})
    return out


def np_objective(img, weights, wts):
    msq = np.concatenate([np.sum(br["valid"] ** 2, axis=(1, 2)) / max(br["valid"][0].size, 1)
                          for br in np_forward(img, *wts)])
    return float(np.sum(np.asarray(weights, np.float64) * msq))


# --------------------------------------------------------------------------------------------
# dream graph
# --------------------------------------------------------------------------------------------
def build_dream(mode="dream"):
    """mode: 'dream' (shipped), 'grad' (objective + raw gradient, 1 pass), 'objective' (forward)."""
    wb, w1, conv2 = dream_weights()
    g = Graph()
    WB = g.const("blur4x4", wb)
    W1 = g.const("gabor7x7", w1)
    W2 = [g.const(f"conv2_{s}_w", w) for s, (w, _) in zip("fc", conv2)]
    B2 = [g.const(f"conv2_{s}_b", b) for s, (_, b) in zip("fc", conv2)]
    zero, half, two = g.scalar(0.0), g.scalar(0.5), g.scalar(2.0)

    # mirror padding as two Gathers with computed indices: for i in [-P, n+P+rem),
    # j = i mod 2n, idx = j if j < n else 2n-1-j ("symmetric" padding, valid for any n >= 1);
    # rem (0..3) makes the padded size a multiple of 4. Its adjoint: ScatterElements(add).
    P = MIRROR_PAD
    hw = g.op("Shape", ["image"], name="image_hw", start=2)  # [H, W] int64
    four = g.ints("four_i64", [4, 4])
    rem = g.op("Mod", [g.op("Sub", [four, g.op("Mod", [hw, four], name="hw_mod4")], name="to_mult4"), four],
               name="align_hw")
    idx, nfull, padded_len = [], [], []
    for ax in (0, 1):
        n = g.op("Gather", [hw, g.ints(f"idx{ax}", ax)], name=f"n{ax}", axis=0)  # scalar
        end = g.op("Add", [g.op("Add", [n, g.ints("i64_P", P)], name=f"n{ax}_p"),
                           g.op("Gather", [rem, g.ints(f"idx{ax}", ax)], name=f"align{ax}", axis=0)],
                   name=f"end{ax}")
        i = g.op("Range", [g.ints("i64_mP", -P), end, g.ints("i64_1", 1)], name=f"pad_range{ax}")
        two_n = g.op("Mul", [n, g.ints("i64_2", 2)], name=f"two_n{ax}")
        j = g.op("Mod", [i, two_n], name=f"pad_mod{ax}")
        mirrored = g.op("Sub", [g.op("Sub", [two_n, g.ints("i64_1", 1)], name=f"two_n_m1_{ax}"), j],
                        name=f"pad_mirror{ax}")
        idx.append(g.op("Where", [g.op("Less", [j, n], name=f"pad_low{ax}"), j, mirrored], name=f"pad_idx{ax}"))
        nfull.append(n)
        padded_len.append(g.op("Shape", [idx[-1]], name=f"padded_len{ax}"))  # [Hp] / [Wp]
    one3 = g.ints("shape_1_3", [1, 3])
    if mode != "objective":
        w_1d = g.op("Gather", [hw, g.ints("idx1_1d", [1])], name="w_1d", axis=0)
        shape_full = g.op("Concat", [one3] + padded_len, name="shape_padded", axis=0)    # [1,3,Hp,Wp]
        shape_mid = g.op("Concat", [one3, padded_len[0], w_1d], name="shape_mid", axis=0)  # [1,3,Hp,W]
        shape_img = g.op("Concat", [one3, hw], name="shape_image", axis=0)                # [1,3,H,W]
        zeros_mid = g.op("ConstantOfShape", [shape_mid], name="zeros_mid")
        zeros_img = g.op("ConstantOfShape", [shape_img], name="zeros_img")
        scat_w = g.op("Expand", [g.op("Reshape", [idx[1], g.ints("shape_row", [1, 1, 1, -1])], name="idx_w_4d"),
                                 shape_full], name="scatter_idx_w")
        scat_h = g.op("Expand", [g.op("Reshape", [idx[0], g.ints("shape_col", [1, 1, -1, 1])], name="idx_h_4d"),
                                 shape_mid], name="scatter_idx_h")

    def pad_mirror(x, tag):
        rows = g.op("Gather", [x, idx[0]], name=f"{tag}_pad_rows", axis=2)
        return g.op("Gather", [rows, idx[1]], name=f"{tag}_padded", axis=3)

    def pad_mirror_adjoint(gp, tag):
        cols = g.op("ScatterElements", [zeros_mid, scat_w, gp], name=f"{tag}_fold_cols", axis=3, reduction="add")
        return g.op("ScatterElements", [zeros_img, scat_h, cols], name=f"{tag}_grad", axis=2, reduction="add")

    w4 = g.op("Reshape", ["weights", g.ints("shape_1n11", [1, N_FEAT, 1, 1])], name="weights_4d")
    wsplit = g.op("Split", [w4, g.ints("split_16_16", [N_BRANCH, N_BRANCH])], n_out=2, name="weights_split", axis=1)

    # per scale s: a {0,1} mask of the feature positions k over the original image
    # (P <= k*s < P+n), its count (at least 1), and 2 * weights[c] * mask / count (backward)
    masks, counts, coefs = [], [], []
    for s, div in (("f", 2), ("c", 4)):
        axes_valid = []
        for ax, shape in ((0, [-1, 1]), (1, [1, -1])):
            size = g.op("Div", [g.op("Gather", [padded_len[ax], g.ints("idx0", 0)], name=f"{s}_plen{ax}", axis=0),
                                g.ints(f"i64_{div}", div)], name=f"{s}_n{ax}")  # scalar
            r = g.op("Range", [g.ints("i64_0", 0), size, g.ints("i64_1", 1)], name=f"{s}_range{ax}")
            lo = g.op("Greater", [r, g.ints(f"i64_{P // div - 1}", P // div - 1)], name=f"{s}_lo{ax}")
            hi = g.op("Less", [g.op("Mul", [r, g.ints(f"i64_{div}", div)], name=f"{s}_pos{ax}"),
                               g.op("Add", [nfull[ax], g.ints("i64_P", P)], name=f"{s}_end{ax}")], name=f"{s}_hi{ax}")
            v = g.op("Cast", [g.op("And", [lo, hi], name=f"{s}_in{ax}")], name=f"{s}_valid{ax}", to=TensorProto.FLOAT)
            axes_valid.append(g.op("Reshape", [v, g.ints(f"shape_valid{ax}", shape)], name=f"{s}_valid{ax}_2d"))
        mask = g.op("Mul", axes_valid, name=f"{s}_mask")  # [h, w]
        count = g.op("Max", [g.op("ReduceSum", [mask], name=f"{s}_nvalid", keepdims=0), g.scalar(1.0)],
                     name=f"{s}_count")  # scalar
        masks.append(mask)
        counts.append(count)
        if mode != "objective":
            ws = wsplit[0 if s == "f" else 1]
            coef = g.op("Div", [g.op("Mul", [ws, two], name=f"{s}_2w"), count], name=f"{s}_coef")
            coefs.append(g.op("Mul", [coef, mask], name=f"{s}_coef_mask"))  # [1,16,h,w]
    down = dict(kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1], group=3)

    def forward(img, tag):
        """-> [(z1, a2) half-res, (z1, a2) quarter-res]"""
        x = g.op("Sub", [img, half], name=f"{tag}_centred")
        xp = pad_mirror(x, tag)
        d1 = g.op("Conv", [xp, WB], name=f"{tag}_half", **down)
        d2 = g.op("Conv", [d1, WB], name=f"{tag}_quarter", **down)
        out = []
        for s, d, w2, b2 in zip("fc", (d1, d2), W2, B2):
            z1 = g.op("Conv", [d, W1], name=f"{tag}{s}_z1", kernel_shape=[7, 7], pads=[3, 3, 3, 3])
            r1 = g.op("Relu", [z1], name=f"{tag}{s}_r1")
            z2 = g.op("Conv", [r1, w2, b2], name=f"{tag}{s}_z2", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
            out.append((z1, g.op("Relu", [z2], name=f"{tag}{s}_a2")))
        return out

    def objective(branches, tag):
        """sum_c weights[c] * mean over valid positions of a2[c]^2"""
        msq = []
        for s, (_, a2), mask, count in zip("fc", branches, masks, counts):
            sq = g.op("Mul", [g.op("Mul", [a2, a2], name=f"{tag}{s}_sq"), mask], name=f"{tag}{s}_sq_valid")
            ssq = g.op("ReduceSum", [sq, g.ints("axes_hw", [2, 3])], name=f"{tag}{s}_ssq", keepdims=0)  # [1,16]
            msq.append(g.op("Div", [ssq, count], name=f"{tag}{s}_msq"))
        wm = g.op("Mul", [g.op("Concat", msq, name=f"{tag}_msq", axis=1), "weights"], name=f"{tag}_wmsq")
        return g.op("ReduceSum", [wm, g.ints("axis1", [1])], name=f"{tag}_objective", keepdims=0)  # [1]

    def gradient(branches, tag):
        dds = []
        for s, coef, w2, (z1, a2) in zip("fc", coefs, W2, branches):
            dz2 = g.op("Mul", [a2, coef], name=f"{tag}{s}_dz2")  # = d obj / d z2 (a2 is 0 where z2 <= 0)
            dr1 = g.op("ConvTranspose", [dz2, w2], name=f"{tag}{s}_dr1", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
            mask = g.op("Greater", [z1, zero], name=f"{tag}{s}_mask1")
            dz1 = g.op("Where", [mask, dr1, zero], name=f"{tag}{s}_dz1")
            dds.append(g.op("ConvTranspose", [dz1, W1], name=f"{tag}{s}_dd", kernel_shape=[7, 7], pads=[3, 3, 3, 3]))
        dd2 = dds[1]
        dd1 = g.op("Add", [dds[0], g.op("ConvTranspose", [dd2, WB], name=f"{tag}_dquarter", **down)], name=f"{tag}_dd1")
        dxp = g.op("ConvTranspose", [dd1, WB], name=f"{tag}_dxp", **down)
        return pad_mirror_adjoint(dxp, tag)

    img_in = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "height", "width"])
    w_in = helper.make_tensor_value_info("weights", TensorProto.FLOAT, [N_FEAT])
    step_in = helper.make_tensor_value_info("step", TensorProto.FLOAT, [1])
    obj_out = helper.make_tensor_value_info("objective", TensorProto.FLOAT, [1])

    if mode == "objective":
        g.op("Identity", [objective(forward("image", "f"), "f")], name="objective")
        return make_model(g, [img_in, w_in], [obj_out], "dream_objective", "forward-only helper", {})
    if mode == "grad":
        br = forward("image", "f")
        g.op("Identity", [objective(br, "f")], name="objective")
        g.op("Identity", [gradient(br, "b")], name="gradient")
        grad_out = helper.make_tensor_value_info("gradient", TensorProto.FLOAT, [1, 3, "height", "width"])
        return make_model(g, [img_in, w_in], [obj_out, grad_out], "dream_grad", "raw-gradient helper", {})

    img = "image"
    eps = g.scalar(NORM_EPS)
    lo, hi = zero, g.scalar(1.0)
    for it in range(DREAM_ITERS):
        tag = f"it{it}"
        br = forward(img, tag)
        if it == 0:
            g.op("Identity", [objective(br, tag)], name="objective")
        grad = gradient(br, tag)
        mabs = g.op("ReduceMean", [g.op("Abs", [grad], name=f"{tag}_absg")], name=f"{tag}_mabs", keepdims=1)
        gn = g.op("Div", [grad, g.op("Add", [mabs, eps], name=f"{tag}_den")], name=f"{tag}_gnorm")
        moved = g.op("Add", [img, g.op("Mul", ["step", gn], name=f"{tag}_delta")], name=f"{tag}_moved")
        img = g.op("Clip", [moved, lo, hi], name=f"{tag}_image")
    g.op("Identity", [img], name="dreamed")
    dreamed_out = helper.make_tensor_value_info("dreamed", TensorProto.FLOAT, [1, 3, "height", "width"])
    doc = (f"DeepDream: {DREAM_ITERS} in-graph gradient-ascent steps on objective = sum_c weights[c]*mean(act_c^2) "
           f"of {N_FEAT} fixed features (Gabor bank -> ReLU -> seeded 3x3 conv -> ReLU, at half res [0:16] and "
           "quarter res [16:32]). image [1,3,H,W] 0..1, weights [32], step [1] -> dreamed [1,3,H,W] 0..1, "
           "objective [1] (of the input image). Step: image += step * g / (mean|g| + 1e-8), clipped to 0..1.")
    meta = {"n_weights": N_FEAT, "iterations": DREAM_ITERS, "objective_of": "input image"}
    return make_model(g, [img_in, w_in, step_in], [dreamed_out, obj_out], "dream", doc, meta)


# --------------------------------------------------------------------------------------------
# CPPN
# --------------------------------------------------------------------------------------------
CPPN_ACTS = ["Sin", "Tanh", "Sin", "Tanh"]


CPPN_SCALES = dict(coord=1.8, latent=0.45, time=0.25, hidden=(2.0, 2.2, 2.0), out=3.0)


def cppn_weights(seed=SEED_CPPN, coord=None, latent=None, time=None, hidden=None, out=None):
    sc = dict(CPPN_SCALES)
    sc.update({k: v for k, v in dict(coord=coord, latent=latent, time=time, hidden=hidden, out=out).items()
               if v is not None})
    rng = np.random.default_rng(seed)
    n_in = 3 + CPPN_LATENT + 1
    layers = []
    # layer 1 (sin): coordinates -> a few periods across the frame; latent shifts phases/frequencies
    w = np.zeros((CPPN_WIDTH, n_in))
    w[:, 0:3] = rng.standard_normal((CPPN_WIDTH, 3)) * sc["coord"]                   # x, y, r
    w[:, 3:11] = rng.standard_normal((CPPN_WIDTH, CPPN_LATENT)) * sc["latent"]      # latent
    w[:, 11] = rng.standard_normal(CPPN_WIDTH) * sc["time"]                          # time (rad/s)
    b = rng.uniform(-np.pi, np.pi, CPPN_WIDTH)
    layers.append((w, b))
    for gain in sc["hidden"]:
        w = rng.standard_normal((CPPN_WIDTH, CPPN_WIDTH)) * gain / np.sqrt(CPPN_WIDTH)
        b = rng.standard_normal(CPPN_WIDTH) * 0.3
        layers.append((w, b))
    w = rng.standard_normal((3, CPPN_WIDTH)) * sc["out"] / np.sqrt(CPPN_WIDTH)
    b = np.zeros(3)
    layers.append((w, b))
    return [(w.astype(np.float32)[:, :, None, None], b.astype(np.float32)) for w, b in layers]


def np_cppn(z, t, layers):
    """numpy float32 forward of the CPPN (cross-checks the graph; handy to explore weight scales)."""
    grid = cppn_grid()[0].reshape(3, -1)
    h = np.concatenate([grid, np.repeat(np.asarray(z, np.float32).reshape(-1, 1), grid.shape[1], 1),
                        np.full((1, grid.shape[1]), t, np.float32)])
    acts = CPPN_ACTS + ["Sigmoid"]
    for (w, b), act in zip(layers, acts):
        h = w[:, :, 0, 0] @ h + b[:, None]
        h = {"Sin": np.sin, "Tanh": np.tanh, "Sigmoid": lambda v: 1 / (1 + np.exp(-v))}[act](h)
    return h.reshape(3, CPPN_H, CPPN_W)


def cppn_grid():
    aspect = CPPN_W / CPPN_H
    x = np.linspace(-aspect, aspect, CPPN_W)
    y = np.linspace(-1.0, 1.0, CPPN_H)
    xx, yy = np.meshgrid(x, y)
    rr = np.sqrt(xx**2 + yy**2)
    return np.stack([xx, yy, rr])[None].astype(np.float32)  # [1,3,H,W]


def build_cppn():
    g = Graph()
    grid = g.const("coord_grid", cppn_grid())
    z = g.op("Reshape", ["latent", g.ints("shape_latent", [1, CPPN_LATENT, 1, 1])], name="latent_4d")
    ze = g.op("Expand", [z, g.ints("shape_latent_full", [1, CPPN_LATENT, CPPN_H, CPPN_W])], name="latent_full")
    t = g.op("Reshape", ["time", g.ints("shape_time", [1, 1, 1, 1])], name="time_4d")
    te = g.op("Expand", [t, g.ints("shape_time_full", [1, 1, CPPN_H, CPPN_W])], name="time_full")
    h = g.op("Concat", [grid, ze, te], name="features", axis=1)
    layers = cppn_weights()
    for i, (w, b) in enumerate(layers):
        W = g.const(f"l{i}_w", w)
        B = g.const(f"l{i}_b", b)
        h = g.op("Conv", [h, W, B], name=f"l{i}_pre", kernel_shape=[1, 1])
        act = CPPN_ACTS[i] if i < len(CPPN_ACTS) else "Sigmoid"
        h = g.op(act, [h], name="image" if i == len(layers) - 1 else f"l{i}_{act.lower()}")
    ins = [helper.make_tensor_value_info("latent", TensorProto.FLOAT, [1, CPPN_LATENT]),
           helper.make_tensor_value_info("time", TensorProto.FLOAT, [1])]
    outs = [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, CPPN_H, CPPN_W])]
    doc = ("CPPN generator: latent [1,8] (~N(0,1)) + time [1] (seconds) -> image [1,3,180,320] RGB 0..1. "
           "Coordinate grid (x,y,r) + broadcast latent/time -> 1x1 convs 32 wide, sin/tanh, sigmoid.")
    return make_model(g, ins, outs, "cppn", doc, {"latent_dim": CPPN_LATENT, "height": CPPN_H, "width": CPPN_W})


# --------------------------------------------------------------------------------------------
# utilities
# --------------------------------------------------------------------------------------------
def session(model):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    data = model if isinstance(model, (bytes, str)) else model.SerializeToString()
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def write_png(path, img):
    """img float [3,H,W] or [H,W,3] in 0..1 -> 8-bit RGB PNG (no dependencies)."""
    a = np.asarray(img)
    if a.shape[0] == 3 and a.ndim == 3:
        a = a.transpose(1, 2, 0)
    a = (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def median_ms(fn, n=10):
    fn()  # warm-up
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(ts))


def dream_test_image(h, w, seed=1):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / np.array([max(h - 1, 1), max(w - 1, 1)])[:, None, None]
    base = np.stack([0.25 + 0.5 * xx, 0.3 + 0.4 * yy, 0.6 - 0.3 * xx])
    img = 0.55 * base + 0.35 * smooth_noise(rng, h, w, (max(h // 24, 1), max(w // 24, 1))) \
        + 0.10 * smooth_noise(rng, h, w, (max(h // 4, 1), max(w // 4, 1)))
    return np.clip(img, 0, 1).astype(np.float32)[None]


# --------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------
def check_dream(path, preview):
    fails = []
    rep = {}
    sess = session(path)
    obj_sess = session(build_dream("objective"))
    grad_sess = session(build_dream("grad"))
    ones = np.ones(N_FEAT, np.float32)
    s0 = np.zeros(1, np.float32)

    # 1. step 0 is bit-exact, at several sizes incl. odd; step > 0 works at every size
    rng = np.random.default_rng(3)
    for h, w in [(216, 384), (64, 64), (55, 97), (1, 1), (2, 3)]:
        img = rng.random((1, 3, h, w), dtype=np.float32)
        img[0, 0, 0, 0], img[0, 1, 0, 0] = 0.0, 1.0
        out, obj = sess.run(None, {"image": img, "weights": ones, "step": s0})
        exact = out.shape == img.shape and np.array_equal(out.view(np.uint32), img.view(np.uint32))
        out2, _ = sess.run(None, {"image": img, "weights": ones, "step": np.array([0.03], np.float32)})
        ok = (out2.shape == img.shape and np.all(np.isfinite(out2)) and out2.min() >= 0 and out2.max() <= 1
              and obj.shape == (1,) and np.isfinite(obj[0]))
        moved = float(np.mean(np.abs(out2 - img)))
        rep[f"size {w}x{h}"] = f"step0 bit-exact={exact}, step0.03 mean|change|={moved:.4f}, objective={obj[0]:.4f}"
        if not exact:
            fails.append(f"dream step 0 not bit-exact at {w}x{h}")
        if not ok or (h * w > 16 and moved <= 0):
            fails.append(f"dream step>0 failed at {w}x{h}")

    # 2. objective rises over 5 successive calls (forward-only helper, same weights)
    img = dream_test_image(216, 384)
    objs = [float(obj_sess.run(None, {"image": img, "weights": ones})[0][0])]
    first_obj = float(sess.run(None, {"image": img, "weights": ones, "step": s0})[1][0])
    for _ in range(5):
        img = sess.run(None, {"image": img, "weights": ones, "step": np.array([0.02], np.float32)})[0]
        objs.append(float(obj_sess.run(None, {"image": img, "weights": ones})[0][0]))
    rep["objective over 5 calls (step 0.02)"] = " -> ".join(f"{o:.4f}" for o in objs)
    if not all(b > a for a, b in zip(objs, objs[1:])):
        fails.append("dream objective did not rise on every call")
    if abs(first_obj - objs[0]) > 1e-5 * max(1.0, abs(objs[0])):
        fails.append("dream `objective` output differs from the forward helper")

    # weights steer: dreaming only feature k raises feature k's share
    k = 5
    wk = np.zeros(N_FEAT, np.float32)
    wk[k] = 1.0
    img0 = dream_test_image(108, 192, seed=4)
    img = img0
    for _ in range(5):
        img = sess.run(None, {"image": img, "weights": wk, "step": np.array([0.03], np.float32)})[0]
    fk0 = float(obj_sess.run(None, {"image": img0, "weights": wk})[0][0])
    fk1 = float(obj_sess.run(None, {"image": img, "weights": wk})[0][0])
    rep[f"single-feature weights (feature {k})"] = f"{fk0:.4f} -> {fk1:.4f}"
    if not fk1 > fk0:
        fails.append("single-feature dream did not raise its feature")

    # 3. gradient vs central finite differences of a float64 numpy reference (independent code:
    #    np.pad(mode="symmetric") and einsum convolutions). 10 random pixels with random weights
    #    on all 32 features, 10 with only the quarter-res features weighted; odd size on purpose.
    wts = dream_weights()
    rng = np.random.default_rng(11)
    h, w = 45, 61
    img = (0.5 * dream_test_image(h, w, seed=5) + 0.5 * rng.random((1, 3, h, w))).astype(np.float32)
    x64 = img[0].astype(np.float64)
    fw_all = rng.uniform(0.2, 1.5, N_FEAT).astype(np.float32)
    fw_coarse = fw_all.copy()
    fw_coarse[:N_BRANCH] = 0.0
    eps = 1e-4
    errs, obj_rels = [], []
    for fw in (fw_all, fw_coarse):
        obj_g, grad = grad_sess.run(None, {"image": img, "weights": fw})
        ref = np_objective(x64, fw, wts)
        obj_rels.append(abs(float(obj_g[0]) - ref) / abs(ref))
        gscale = float(np.max(np.abs(grad)))
        for _ in range(10):
            c, y, x = rng.integers(0, 3), rng.integers(0, h), rng.integers(0, w)
            xp, xm = x64.copy(), x64.copy()
            xp[c, y, x] += eps
            xm[c, y, x] -= eps
            fd = (np_objective(xp, fw, wts) - np_objective(xm, fw, wts)) / (2 * eps)
            an = float(grad[0, c, y, x])
            errs.append(abs(an - fd) / max(abs(fd), abs(an), 1e-3 * gscale))
    # the valid window never sees the convs' zero padding: more mirror padding changes nothing
    global MIRROR_PAD
    saved, MIRROR_PAD = MIRROR_PAD, 2 * MIRROR_PAD
    wider = np_objective(x64, fw_all, wts)
    MIRROR_PAD = saved
    pad_rel = abs(wider - np_objective(x64, fw_all, wts)) / abs(wider)
    rep["objective with 2x the mirror padding (numpy)"] = f"rel change {pad_rel:.1e}"
    if pad_rel > 1e-12:
        fails.append("objective depends on the padding amount (zero padding leaks in)")
    rep["graph objective vs float64 numpy"] = f"max rel err {max(obj_rels):.2e}"
    rep[f"gradient vs central FD (20 px, {w}x{h})"] = f"max rel err {max(errs):.2e}, median {np.median(errs):.2e}"
    if max(obj_rels) > 1e-4:
        fails.append("graph objective differs from numpy reference")
    if max(errs) > 1e-3:
        fails.append("in-graph gradient does not match finite differences")

    # 4. timing, 1 thread, 384x216
    img = dream_test_image(216, 384)
    st = np.array([0.03], np.float32)
    rep["dream ms/call @384x216, 1 thread (median of 10)"] = (
        f"{median_ms(lambda: sess.run(None, {'image': img, 'weights': ones, 'step': st})):.1f}")

    if preview:
        os.makedirs(PREVIEW_DIR, exist_ok=True)
        img = dream_test_image(216, 384)
        write_png(f"{PREVIEW_DIR}/dream_input.png", img[0])
        stages = [img[0]]
        for i in range(1, 21):
            img = sess.run(None, {"image": img, "weights": ones, "step": np.array([0.03], np.float32)})[0]
            if i in (5, 10, 20):
                write_png(f"{PREVIEW_DIR}/dream_{i:02d}.png", img[0])
                stages.append(img[0])
        write_png(f"{PREVIEW_DIR}/dream_strip.png", np.concatenate(stages, axis=2))
        img, stages = dream_test_image(216, 384), []
        for i in range(1, 21):
            img = sess.run(None, {"image": img, "weights": ones, "step": np.array([0.01], np.float32)})[0]
            if i in (5, 10, 20):
                stages.append(img[0])
        write_png(f"{PREVIEW_DIR}/dream_strip_gentle.png", np.concatenate(stages, axis=2))
        # one feature at a time (first 8), 15 calls each
        tiles = []
        for k in [0, 1, 2, 3, N_BRANCH, N_BRANCH + 1, N_BRANCH + 2, N_BRANCH + 3]:
            img = dream_test_image(216, 384)
            wk = np.zeros(N_FEAT, np.float32)
            wk[k] = 1
            for _ in range(15):
                img = sess.run(None, {"image": img, "weights": wk, "step": np.array([0.03], np.float32)})[0]
            tiles.append(img[0])
        rows = [np.concatenate(tiles[i:i + 4], axis=2) for i in (0, 4)]
        write_png(f"{PREVIEW_DIR}/dream_features.png", np.concatenate(rows, axis=1))
    return fails, rep


def cppn_stats(img):
    ch_std = img[0].reshape(3, -1).std(axis=1)
    grad = 0.5 * (np.abs(np.diff(img[0], axis=1)).mean() + np.abs(np.diff(img[0], axis=2)).mean())
    return ch_std, float(grad)


def check_cppn(path, preview):
    fails = []
    rep = {}
    sess = session(path)
    rng = np.random.default_rng(21)
    t0 = np.zeros(1, np.float32)

    def run(z, t=t0):
        return sess.run(None, {"latent": z.astype(np.float32), "time": np.asarray(t, np.float32)})[0]

    zs = [rng.standard_normal((1, CPPN_LATENT)) for _ in range(8)]
    imgs = [run(z) for z in zs]
    for i, im in enumerate(imgs):
        if im.shape != (1, 3, CPPN_H, CPPN_W) or not np.all(np.isfinite(im)) or im.min() < 0 or im.max() > 1:
            fails.append("cppn output shape/range wrong")
    ref_err = float(np.max(np.abs(np_cppn(zs[0], 0.0, cppn_weights()) - imgs[0][0])))
    rep["graph vs numpy forward (max abs diff)"] = f"{ref_err:.1e}"
    if ref_err > 1e-4:
        fails.append("cppn graph differs from the numpy forward")
    stats = [cppn_stats(im) for im in imgs]
    min_std = min(float(s[0].min()) for s in stats)
    mean_std = float(np.mean([s[0].mean() for s in stats]))
    grads = [s[1] for s in stats]
    rep["per-channel std over 8 latents"] = f"min {min_std:.3f}, mean {mean_std:.3f}"
    rep["mean |neighbour diff| over 8 latents"] = f"min {min(grads):.4f}, max {max(grads):.4f}"
    if min_std < 0.08 or mean_std < 0.12:
        fails.append("cppn output too flat")
    if max(grads) > 0.03:
        fails.append("cppn output too noisy")

    small, large, tsmall = [], [], []
    for z, im in zip(zs, imgs):
        dz = rng.standard_normal((1, CPPN_LATENT))
        dz *= 0.01 / np.linalg.norm(dz)
        small.append(float(np.mean(np.abs(run(z + dz) - im))))
        large.append(float(np.mean(np.abs(run(rng.standard_normal((1, CPPN_LATENT))) - im))))
        tsmall.append(float(np.mean(np.abs(run(z, [1 / 60]) - im))))
    rep["mean|diff| for ||dz||=0.01 (max of 8)"] = f"{max(small):.5f}"
    rep["mean|diff| for a new random latent (min of 8)"] = f"{min(large):.4f}"
    rep["mean|diff| for time +1/60 s (max of 8)"] = f"{max(tsmall):.5f}"
    if max(small) >= 0.01:
        fails.append("cppn small latent change gives a large image change")
    if min(large) <= 0.05:
        fails.append("cppn new latent does not give a clearly different image")
    z = zs[0]
    rep["cppn ms/call @320x180, 1 thread (median of 10)"] = f"{median_ms(lambda: run(z)):.1f}"

    if preview:
        os.makedirs(PREVIEW_DIR, exist_ok=True)
        rows = [np.concatenate([im[0] for im in imgs[i:i + 4]], axis=2) for i in (0, 4)]
        write_png(f"{PREVIEW_DIR}/cppn_latents.png", np.concatenate(rows, axis=1))
        # interpolation z0 -> z1 and time drift
        interp = [run(zs[0] * (1 - a) + zs[1] * a)[0] for a in np.linspace(0, 1, 4)]
        drift = [run(zs[2], [t])[0] for t in (0.0, 4.0, 8.0, 16.0)]
        write_png(f"{PREVIEW_DIR}/cppn_interp_time.png",
                  np.concatenate([np.concatenate(interp, axis=2), np.concatenate(drift, axis=2)], axis=1))
    return fails, rep


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-check", action="store_true", help="write the models only")
    ap.add_argument("--preview", action="store_true", help=f"write preview PNGs to {PREVIEW_DIR}")
    args = ap.parse_args()

    outputs = {"dream.onnx": build_dream("dream"), "cppn.onnx": build_cppn()}
    for name, model in outputs.items():
        path = os.path.join(HERE, name)
        onnx.save_model(model, path)
        print(f"wrote {path}  {os.path.getsize(path)} bytes  sha256 {sha256(path)}")
    if args.no_check:
        return 0

    fails = []
    for title, fn, name in [("dream", check_dream, "dream.onnx"), ("cppn", check_cppn, "cppn.onnx")]:
        f, rep = fn(os.path.join(HERE, name), args.preview)
        fails += f
        print(f"\n[{title}]")
        for k, v in rep.items():
            print(f"  {k}: {v}")
    print()
    if fails:
        for f in fails:
            print("FAIL:", f)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
