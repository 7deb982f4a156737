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
                                            [0:16] half-res features (~8-25 px structures),
                                            [16:32] quarter-res features (~16-50 px structures)
        step    float32 [1]                 step size per iteration (0 = no change)
Outputs dreamed   float32 [1,3,height,width] image after 3 unrolled ascent iterations, in 0..1
        objective float32 [1]                objective of the INPUT image (before any step)

Fixed feature network (forward):
    x   = image - 0.5
    xp  = symmetric mirror padding of x by 28 px (+0..3 px bottom/right so the padded size is a
          multiple of 4), done as one Gather over the flattened image with computed indices
          (row index * W + column index), so it works for any size
    d1  = Conv(xp, blur4x4, stride 2, pad 1, group 3)   binomial [1,3,3,1]^2/64 anti-aliased
    d2  = Conv(d1, blur4x4, stride 2, pad 1, group 3)   2x downsamples: half and quarter res
    half res:
        z1 = bank(d1)       16 luminance filters, 7x7, pad 3, no bias: Gabor lines (wavelength
                            4 px) and edges (6 px) at 4 orientations, coarse lines (7 px) at 4
                            orientations, on- and off-centre blobs (DoG) at 2 sizes; zero-mean,
                            unit norm (x2). All luminance: colour comes from the regions below,
                            so the dream draws clean structures instead of colour fringes. The
                            graph runs it as a 1x1 luminance Conv + a 1-channel bank (3x cheaper)
        z2 = Conv(relu(z1), W2, 3x3, dilation 2, pad 2) + b2     16 units; 4 are curve
                            detectors (lines tangent to a ring around the centre, turned by 0,
                            90, +-45 degrees: rings, stars, spirals) plus 0.3x random, the others
                            seeded He-scaled random
        a2 = relu(z2)                                            features 0-15
    quarter res:
        q  = Conv(a2, blur4x4, stride 2, pad 1, group 16)        the half-res features, blurred down
        z3 = Conv(concat(q, relu(bank(d2))), W3, 3x3, pad 1) + b3   32 -> 16 hidden units; the
                            first 4 are curve detectors on the quarter-res bank
        z4 = Conv(relu(z3), W4, 3x3, pad 1) + b4
        a4 = relu(z4)                                            features 16-31
    every bias b = -(30th percentile of the unit's pre-activation on a seeded calibration image,
    so about 70% of the units are active there)
    and every unit is scaled to unit RMS activation there (so weights are comparable), layer by
    layer.
    colour regions (K = 4):
        S  = softmax over k of 8 * <hue_k, blur5x5(d2)>   hue_k: red, yellow, green, blue
                            directions of the opponent colour plane; [1,4,h/4,w/4]
        S at half res = ConvTranspose(S, 4 * blur4x4, stride 2, pad 1, group 4)
        feature c belongs to region c % 4
    e_c = mean over VALID positions of S_{c%4} * a_c^2    (region-weighted energy)
    objective = sum_c relu(w_c) * log(0.05 + e_c) - 0.02 * relu(-w_c) * e_c
    VALID = feature positions k with 28 <= k*s < 28 + n (s = 2 or 4): exactly those over the
    original image. Their receptive fields (at most 21 px before and 24 px after a feature's
    position) stay inside the mirror-padded image and never reach a convolution's zero
    padding, so the border is dreamed like the interior (no bright frame, no undreamed band).

Why this objective: sum w_c mean(a_c^2) rewards a feature in proportion to how strong it
already is, so in a feedback loop the strongest one grows exponentially and fills the picture
(one stripe lattice everywhere). The log makes every feature's reward relative: a weak feature
gains as much from doubling as a strong one, so all dreamed features keep growing side by side
instead. The colour regions make different places dream different features, and the gradient
through them moves each region's colour towards the hue of the features that are winning
there, so a texture and its colour reinforce each other into distinct patches. Negative weights
only damp a feature gently: a strong negative push would flatten the picture (half of a latent
walk's weights are negative at any time).

Why downsampled paths: DeepDream looks good when the dreamed structures span 10-30 px. At half
resolution the Gabor wavelengths become 8-14 px and a second-layer unit sees ~25 px; the
quarter-res features see ~45 px. Running the filters at reduced resolution is also what keeps a
call at 384x216 cheap. The blur downsample (instead of AveragePool) matters for the backward
pass: its adjoint is a stride-2 ConvTranspose with the same 4x4 binomial, i.e. smooth
bilinear-like upsampling of the gradient, so the dream has no 2x2 blockiness.

Backward (hand-written exact adjoints, inside the graph):
    de_c = relu(w_c) / (0.05 + e_c) - 0.02 * relu(-w_c)              d objective / d e_c
    dz   = 2 * de_c / count * S * a                  per feature (the ReLU mask is implied)
    dS_k = sum over the features c of region k of de_c / count * a_c^2 * mask
    quarter path: dz4 -> Conv with the flipped, transposed W4 (the adjoint of a stride-1 Conv;
    faster than ConvTranspose in ONNX Runtime) -> Where(z3 > 0) -> flipped W3 -> split into the
    q part (ConvTranspose blur, stride 2 -> half res, Where(z2 > 0)) and the bank part
    (Where(z1q > 0) -> ConvTranspose with the 1-channel bank -> x luminance weights)
    regions: dS at half res -> Conv(4 * blur4x4, stride 2) (the adjoint of the upsampling) + dS
    at quarter res -> softmax adjoint S * (dS - sum_k S_k dS_k) -> hue projection adjoint ->
    blur5x5 adjoint, added to the quarter-res image gradient
    half path: dz2 -> flipped W2 (dilation 2) -> Where(z1 > 0) -> ConvTranspose 1-channel bank
    -> x luminance weights, plus the quarter-res image gradient through ConvTranspose(blur,
    stride 2); then dxp = ConvTranspose(blur, stride 2) to full resolution (shapes exact: the
    padded size is a multiple of 4), and g = the adjoint of the mirror padding: one
    ScatterElements(reduction="add") with the same flat indices, which folds the padding's
    gradient back onto the pixels it was copied from
Update (3 iterations unrolled):
    image <- clip(image + step * g / (mean(|g|) + 1e-8), 0, 1)
With step = 0 the output equals the input bit for bit (g is always finite thanks to 1e-8).
One call moves each pixel by about 3 * step on average, so for live feedback use a small step
(0.003-0.01 per frame).

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
N_L1 = 16  # first-layer filters (Gabors and blobs)
N_HIDDEN = 16  # hidden units of the quarter-res path
N_CURVE = 4  # curve detectors (ring, star, two spirals) in layers 2 and 3
CURVE_PHIS = [0.0, np.pi / 2, np.pi / 4, -np.pi / 4, 0.0, np.pi / 4, -np.pi / 4, np.pi / 2]
DILATION = 2  # of the second-layer 3x3 conv: a unit sees a ring of radius 2 (half-res px)
BIAS_QUANTILE = 0.3  # bias = -this quantile of the pre-activation on the calibration image
N_REGIONS = 4  # colour regions; feature c is dreamed where colour region c % 4 is
REGION_BETA = 8.0  # sharpness of the colour -> region softmax
LOG_EPS = 0.05  # objective: relu(w) * log(LOG_EPS + energy) ...
NEG_GAIN = 0.02  # ... - NEG_GAIN * relu(-w) * energy
# the image is mirror-padded by MIRROR_PAD px (plus 0-3 at the bottom/right to reach a multiple
# of 4); the objective only counts feature positions that lie over the original image, whose
# receptive fields (<= 26 px beyond their position) then never reach the convs' zero padding
MIRROR_PAD = 28
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
LUM = np.array([1.0, 1.0, 1.0]) / np.sqrt(3.0)
RG = np.array([1.0, -1.0, 0.0]) / np.sqrt(2.0)
BY = np.array([1.0, 1.0, -2.0]) / np.sqrt(6.0)
THETAS = [0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4]


def blur_kernel(channels=3):
    b = np.array([1.0, 3.0, 3.0, 1.0]) / 8.0
    k = np.outer(b, b)  # sums to 1
    return np.stack([k[None]] * channels).astype(np.float32)  # [C,1,4,4] depthwise


def gabor(theta, lam, phase, sigma, size=7):
    r = (size - 1) // 2
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    xr = xx * np.cos(theta) + yy * np.sin(theta)
    env = np.exp(-(xx**2 + yy**2) / (2.0 * sigma**2))
    g = env * np.cos(2.0 * np.pi * xr / lam + phase)
    g -= env * (g.sum() / env.sum())  # zero DC, keep the Gaussian envelope shape
    return g / np.linalg.norm(g)


def dog(s1, s2, size=7):
    """Zero-sum difference of Gaussians (on-centre), unit norm."""
    r = (size - 1) // 2
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    rr = xx**2 + yy**2
    g1 = np.exp(-rr / (2 * s1**2))
    g2 = np.exp(-rr / (2 * s2**2))
    k = g1 / g1.sum() - g2 / g2.sum()
    return k / np.linalg.norm(k)


def first_layer():
    """-> (bank [16,3,7,7], line orientation of each filter or None). All luminance: colour is
    left to the colour regions, so the dream paints clean structures instead of colour fringes."""
    filters, orient = [], []
    for th in THETAS:  # fine lines (even phase)
        filters.append(gabor(th, 4.0, 0.0, 1.6))
        orient.append(th + np.pi / 2)
    for th in THETAS:  # edges (odd phase)
        filters.append(gabor(th, 6.0, np.pi / 2, 2.0))
        orient.append(th + np.pi / 2)
    for th in THETAS:  # coarse lines
        filters.append(gabor(th, 7.0, 0.0, 2.2))
        orient.append(None)
    for s1, s2 in ((1.0, 2.2), (1.6, 3.0)):  # blobs: on- and off-centre
        filters.append(dog(s1, s2))
        filters.append(-dog(s1, s2))
        orient += [None, None]
    w = np.stack([LUM[:, None, None] * k[None] for k in filters])  # [16,3,7,7]
    assert w.shape == (N_L1, 3, 7, 7)
    return (w * 2.0).astype(np.float32), orient  # gain 2: a unit-contrast edge gives ~1


def curve_units(orient, phis):
    """3x3 second-layer units that want lines tangent to a circle around their centre, turned
    by phi: 0 rings (eyes), pi/2 stars, +-pi/4 spirals (swirls)."""
    units = []
    for u, phi in enumerate(phis):
        w = np.zeros((len(orient), 3, 3))
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy == 0 and dx == 0:
                    continue
                pref = np.arctan2(dy, dx) + np.pi / 2 + phi
                for c, o in enumerate(orient):
                    if o is not None:
                        w[c, dy + 1, dx + 1] = np.cos(2 * (o - pref)) / np.hypot(dy, dx)
        fine, edge = (1.0, 0.3) if u % 2 == 0 else (0.3, 1.0)  # alternate lines / edges
        w[0:4] *= fine
        w[4:8] *= edge
        units.append(w / np.linalg.norm(w))
    return np.stack(units)


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


def calibrate(z, quantile):
    """bias = -quantile of each channel's pre-activation, gain = 1 / RMS activation."""
    zz = z.reshape(z.shape[0], -1)
    b = -np.quantile(zz, quantile, axis=1)
    gain = 1.0 / np.sqrt(np.mean(np.maximum(zz + b[:, None], 0.0) ** 2, axis=1))
    return b, gain


def dream_weights():
    """-> dict of every weight of the dream network (see the module docstring)."""
    rng = np.random.default_rng(SEED_DREAM)
    w1, orient = first_layer()
    W = {"blur3": blur_kernel(3), "blur16": blur_kernel(N_BRANCH), "gabor": w1,
         # the bank is luminance x spatial kernel: the graph runs it as a 1x1 luminance conv
         # followed by a 1-channel 7x7 bank, which is 3x cheaper (forward and backward)
         "luma": LUM[None, :, None, None], "gabor_luma": w1.sum(axis=1, keepdims=True) / np.sqrt(3.0)}
    # second layer (half res): He-scaled random units, the first N_CURVE also shaped as
    # ring / star / spiral detectors
    w2 = rng.standard_normal((N_BRANCH, N_L1, 3, 3)) * np.sqrt(2.0 / (N_L1 * 9))
    w2[:N_CURVE] = curve_units(orient, CURVE_PHIS[:N_CURVE]) * np.sqrt(2.0) + 0.3 * w2[:N_CURVE]
    # third layer (quarter res): sees the blurred-down second layer and the Gabor bank run on
    # the quarter-res image; the first N_CURVE units are curve detectors on the latter
    n3 = N_BRANCH + N_L1
    w3 = rng.standard_normal((N_HIDDEN, n3, 3, 3)) * np.sqrt(2.0 / (n3 * 9))
    w3[:N_CURVE, N_BRANCH:] = (curve_units(orient, CURVE_PHIS[N_CURVE:2 * N_CURVE]) * np.sqrt(2.0)
                               + 0.3 * w3[:N_CURVE, N_BRANCH:])
    w3[:N_CURVE, :N_BRANCH] *= 0.3
    w4 = rng.standard_normal((N_BRANCH, N_HIDDEN, 3, 3)) * np.sqrt(2.0 / (N_HIDDEN * 9))
    W.update(w2=w2, b2=np.zeros(N_BRANCH), w3=w3, b3=np.zeros(N_HIDDEN), w4=w4, b4=np.zeros(N_BRANCH))
    # colour regions: blur of the quarter-res image, K hue directions, softmax
    b5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    W["region_blur"] = np.stack([np.outer(b5, b5)[None]] * 3).astype(np.float32)
    hues = [2 * np.pi * k / N_REGIONS for k in range(N_REGIONS)]
    W["region_hue"] = (REGION_BETA * np.stack([np.cos(a) * RG + np.sin(a) * BY for a in hues])
                       )[:, :, None, None].astype(np.float32)
    W["region_up"] = (4.0 * blur_kernel(N_REGIONS)).astype(np.float32)
    # calibrate layer by layer on a seeded image: bias and per-unit gain
    calib = 0.6 * smooth_noise(rng, 256, 256, (8, 8)) + 0.4 * smooth_noise(rng, 256, 256, (48, 48))
    for layer in ("2", "3", "4"):
        z = np_forward(calib, W)["z" + layer + "_valid"]
        b, gain = calibrate(z, BIAS_QUANTILE)
        W["w" + layer] = W["w" + layer] * gain[:, None, None, None]
        W["b" + layer] = b * gain
    return {k: np.asarray(v, np.float32) for k, v in W.items()}


# --------------------------------------------------------------------------------------------
# float64 numpy reference of the dream forward pass (independent of ONNX; used for FD checks)
# --------------------------------------------------------------------------------------------
def np_conv(x, w, b=None, stride=1, pad=0, depthwise=False, dilation=1):
    from numpy.lib.stride_tricks import sliding_window_view

    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    k = w.shape[-1]
    ext = (k - 1) * dilation + 1
    win = sliding_window_view(xp, (ext, ext), axis=(1, 2))[:, ::stride, ::stride, ::dilation, ::dilation]
    w = w.astype(np.float64)
    if depthwise:
        out = np.einsum("chwij,cij->chw", win, w[:, 0])
    else:
        out = np.einsum("chwij,mcij->mhw", win, w)
    if b is not None:
        out = out + np.asarray(b, np.float64)[:, None, None]
    return out


def np_upsample(x, k):
    """Depthwise ConvTranspose, 4x4 kernel, stride 2, pad 1: [C,h,w] -> [C,2h,2w]."""
    c, h, w = x.shape
    full = np.zeros((c, 2 * h + 2, 2 * w + 2))
    for i in range(4):
        for j in range(4):
            full[:, i : i + 2 * h : 2, j : j + 2 * w : 2] += x * k[:, 0, i, j].astype(np.float64)[:, None, None]
    return full[:, 1 : 1 + 2 * h, 1 : 1 + 2 * w]


def np_forward(img, W, pad=None):
    """img [3,H,W] float64 -> dict: features, region maps and pre-activations over the image."""
    p = MIRROR_PAD if pad is None else pad
    _, h, w = img.shape
    x = np.pad(img - 0.5, ((0, 0), (p, p + (-h % 4)), (p, p + (-w % 4))), mode="symmetric")
    d1 = np_conv(x, W["blur3"], stride=2, pad=1, depthwise=True)
    d2 = np_conv(d1, W["blur3"], stride=2, pad=1, depthwise=True)
    z1 = np_conv(d1, W["gabor"], pad=3)
    z2 = np_conv(np.maximum(z1, 0), W["w2"], W["b2"], pad=DILATION, dilation=DILATION)
    a2 = np.maximum(z2, 0)
    q = np_conv(a2, W["blur16"], stride=2, pad=1, depthwise=True)
    z1q = np_conv(d2, W["gabor"], pad=3)
    z3 = np_conv(np.concatenate([q, np.maximum(z1q, 0)]), W["w3"], W["b3"], pad=1)
    z4 = np_conv(np.maximum(z3, 0), W["w4"], W["b4"], pad=1)
    a4 = np.maximum(z4, 0)
    if "region_hue" in W:
        logits = np.einsum("kc,chw->khw", W["region_hue"][:, :, 0, 0].astype(np.float64),
                           np_conv(d2, W["region_blur"], pad=2, depthwise=True))
        e = np.exp(logits - logits.max(axis=0, keepdims=True))
        sq = e / e.sum(axis=0, keepdims=True)
        maps = {2: np_upsample(sq, W["region_up"]), 4: sq}
    out = {}
    for s, key, a, z in ((2, "f", a2, z2), (4, "c", a4, z4)):
        ys = slice(p // s, -(-(p + h) // s))  # feature rows k with p <= k*s < p+h
        xs = slice(p // s, -(-(p + w) // s))
        out[key] = a[:, ys, xs]
        out[key + "_map"] = maps[s][np.arange(N_BRANCH) % N_REGIONS][:, ys, xs] if "region_hue" in W else 1.0
        out["z" + ("2" if s == 2 else "4") + "_valid"] = z[:, ys, xs]
    out["z3_valid"] = z3[:, p // 4 : -(-(p + h) // 4), p // 4 : -(-(p + w) // 4)]
    return out


def np_energies(img, W, pad=None):
    """-> [32] region-weighted mean squared activation of each feature."""
    o = np_forward(img, W, pad)
    return np.concatenate([np.sum(o[k + "_map"] * o[k] ** 2, axis=(1, 2)) / max(o[k][0].size, 1) for k in "fc"])


def np_objective(img, weights, W, pad=None):
    e = np_energies(img, W, pad)
    w = np.asarray(weights, np.float64)
    return float(np.sum(np.maximum(w, 0) * np.log(LOG_EPS + e) - NEG_GAIN * np.maximum(-w, 0) * e))


# --------------------------------------------------------------------------------------------
# dream graph
# --------------------------------------------------------------------------------------------
def build_dream(mode="dream"):
    """mode: 'dream' (shipped), 'grad' (objective + raw gradient, 1 pass), 'objective' (forward)."""
    W = dream_weights()
    g = Graph()
    C = {k: g.const(k, v) for k, v in W.items()}
    zero, half = g.scalar(0.0), g.scalar(0.5)
    G = N_BRANCH // N_REGIONS  # features per region group; feature c belongs to region c % K

    def adjoint(x, key, name, **kw):
        """A stride-1 ConvTranspose with W[key], done as the equivalent Conv with the flipped,
        transposed kernel: ONNX Runtime runs those much faster (except with 3 output channels)."""
        w = W[key]
        wf = w.transpose(1, 0, 2, 3) if kw.get("group", 1) == 1 else w
        return g.op("Conv", [x, g.const(key + "_adjoint", np.ascontiguousarray(wf[:, :, ::-1, ::-1]))], name=name, **kw)

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
    # one Gather over the flattened image with flat indices idx_h * W + idx_w (its adjoint is
    # one ScatterElements): half the memory traffic of a Gather per axis
    one3 = g.ints("shape_1_3", [1, 3])
    w_1d = g.op("Gather", [hw, g.ints("idx1_1d", [1])], name="w_1d", axis=0)
    flat_idx = g.op("Reshape", [g.op("Add", [g.op("Mul", [g.op("Reshape", [idx[0], g.ints("shape_col2", [-1, 1])],
                                                               name="idx_h_col"), w_1d], name="idx_h_rows"),
                                             g.op("Reshape", [idx[1], g.ints("shape_row2", [1, -1])], name="idx_w_row")],
                                      name="idx_flat_2d"), g.ints("shape_flat", [-1])], name="idx_flat")
    flat3 = g.ints("shape_1_3_flat", [1, 3, -1])
    shape_full = g.op("Concat", [one3] + padded_len, name="shape_padded", axis=0)  # [1,3,Hp,Wp]
    if mode != "objective":
        shape_img = g.op("Concat", [one3, hw], name="shape_image", axis=0)  # [1,3,H,W]
        zeros_flat = g.op("ConstantOfShape", [g.op("Concat", [one3, g.op("ReduceProd", [hw], name="hw_prod", keepdims=1)],
                                                   name="shape_image_flat", axis=0)], name="zeros_flat")
        scat_idx = g.op("Expand", [g.op("Reshape", [flat_idx, g.ints("shape_1_1_flat", [1, 1, -1])], name="idx_flat_3d"),
                                   g.op("Concat", [one3, g.op("Shape", [flat_idx], name="n_flat")], name="shape_pad_flat",
                                        axis=0)], name="scatter_idx")

    def pad_mirror(x, tag):
        flat = g.op("Gather", [g.op("Reshape", [x, flat3], name=f"{tag}_flat"), flat_idx], name=f"{tag}_pad_flat", axis=2)
        return g.op("Reshape", [flat, shape_full], name=f"{tag}_padded")

    def pad_mirror_adjoint(gp, tag):
        folded = g.op("ScatterElements", [zeros_flat, scat_idx, g.op("Reshape", [gp, flat3], name=f"{tag}_dpad_flat")],
                      name=f"{tag}_fold", axis=2, reduction="add")
        return g.op("Reshape", [folded, shape_img], name=f"{tag}_grad")

    # per scale s: a {0,1} mask of the feature positions k over the original image
    # (P <= k*s < P+n) and its count (at least 1)
    masks, counts = [], []
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
        masks.append(g.op("Mul", axes_valid, name=f"{s}_mask"))  # [h, w]
        counts.append(g.op("Max", [g.op("ReduceSum", [masks[-1]], name=f"{s}_nvalid", keepdims=0), g.scalar(1.0)],
                           name=f"{s}_count"))  # scalar

    down3 = dict(kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1], group=3)
    down16 = dict(kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1], group=N_BRANCH)
    up_k = dict(kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1], group=N_REGIONS)
    k3 = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    k3d = dict(kernel_shape=[3, 3], pads=[DILATION] * 4, dilations=[DILATION, DILATION])
    k7 = dict(kernel_shape=[7, 7], pads=[3, 3, 3, 3])
    shape_groups = g.ints("shape_groups", [1, G, N_REGIONS, -1])  # feature c = G-index * K + region
    shape_regions = g.ints("shape_regions", [1, 1, N_REGIONS, -1])

    def forward(img, tag):
        x = g.op("Sub", [img, half], name=f"{tag}_centred")
        xp = pad_mirror(x, tag)
        d1 = g.op("Conv", [xp, C["blur3"]], name=f"{tag}_half", **down3)
        d2 = g.op("Conv", [d1, C["blur3"]], name=f"{tag}_quarter", **down3)
        z1 = g.op("Conv", [g.op("Conv", [d1, C["luma"]], name=f"{tag}_luma1", kernel_shape=[1, 1]), C["gabor_luma"]],
                  name=f"{tag}_z1", **k7)
        z2 = g.op("Conv", [g.op("Relu", [z1], name=f"{tag}_r1"), C["w2"], C["b2"]], name=f"{tag}_z2", **k3d)
        a2 = g.op("Relu", [z2], name=f"{tag}_a2")
        q = g.op("Conv", [a2, C["blur16"]], name=f"{tag}_q", **down16)
        z1q = g.op("Conv", [g.op("Conv", [d2, C["luma"]], name=f"{tag}_luma2", kernel_shape=[1, 1]), C["gabor_luma"]],
                   name=f"{tag}_z1q", **k7)
        in3 = g.op("Concat", [q, g.op("Relu", [z1q], name=f"{tag}_r1q")], name=f"{tag}_in3", axis=1)
        z3 = g.op("Conv", [in3, C["w3"], C["b3"]], name=f"{tag}_z3", **k3)
        z4 = g.op("Conv", [g.op("Relu", [z3], name=f"{tag}_r3"), C["w4"], C["b4"]], name=f"{tag}_z4", **k3)
        a4 = g.op("Relu", [z4], name=f"{tag}_a4")
        # colour regions: softmax over K hue directions of the blurred quarter-res colour
        col = g.op("Conv", [d2, C["region_blur"]], name=f"{tag}_region_col", kernel_shape=[5, 5],
                   pads=[2, 2, 2, 2], group=3)
        sq = g.op("Softmax", [g.op("Conv", [col, C["region_hue"]], name=f"{tag}_region_logit", kernel_shape=[1, 1])],
                  name=f"{tag}_region_c", axis=1)  # [1,K,h/4,w/4]
        sh = g.op("ConvTranspose", [sq, C["region_up"]], name=f"{tag}_region_f", **up_k)  # [1,K,h/2,w/2]
        br = dict(z1=z1, z2=z2, z1q=z1q, z3=z3, sq=sq, scales=[])
        for s, a, smap, mask in zip("fc", (a2, a4), (sh, sq), masks):
            sm = g.op("Mul", [smap, mask], name=f"{tag}{s}_region_valid")  # [1,K,h,w]
            ag = g.op("Reshape", [a, shape_groups], name=f"{tag}{s}_grouped")  # [1,G,K,hw]
            asq = g.op("Mul", [ag, ag], name=f"{tag}{s}_sq")
            smr = g.op("Reshape", [sm, shape_regions], name=f"{tag}{s}_region_flat")  # [1,1,K,hw]
            br["scales"].append(dict(a=a, ag=ag, asq=asq, smr=smr, sm=sm))
        return br

    def energies(br, tag):
        """-> [1,32] region-weighted mean squared activations"""
        out = []
        for s, sc, count in zip("fc", br["scales"], counts):
            ssq = g.op("ReduceSum", [g.op("Mul", [sc["asq"], sc["smr"]], name=f"{tag}{s}_weighted"),
                                     g.ints("axis3", [3])], name=f"{tag}{s}_ssq", keepdims=0)  # [1,G,K]
            out.append(g.op("Div", [g.op("Reshape", [ssq, g.ints("shape_1_16", [1, N_BRANCH])], name=f"{tag}{s}_ssq16"),
                                    count], name=f"{tag}{s}_energy"))
        return g.op("Concat", out, name=f"{tag}_energies", axis=1)

    wpos = g.op("Relu", ["weights"], name="weights_pos")
    wneg = g.op("Mul", [g.op("Relu", [g.op("Neg", ["weights"], name="weights_negated")], name="weights_neg0"),
                        g.scalar(NEG_GAIN)], name="weights_neg")

    def objective(e, tag):
        """sum_c relu(w_c) log(eps + e_c) - NEG_GAIN relu(-w_c) e_c"""
        lg = g.op("Log", [g.op("Add", [e, g.scalar(LOG_EPS)], name=f"{tag}_e_eps")], name=f"{tag}_log_e")
        terms = g.op("Sub", [g.op("Mul", [lg, wpos], name=f"{tag}_obj_pos"), g.op("Mul", [e, wneg], name=f"{tag}_obj_neg")],
                     name=f"{tag}_obj_terms")
        return g.op("ReduceSum", [terms, g.ints("axis1", [1])], name=f"{tag}_objective", keepdims=0)  # [1]

    def gradient(br, e, tag):
        # d obj / d e_c, split into the two scales and shaped [1,G,K,1]
        de = g.op("Sub", [g.op("Div", [wpos, g.op("Add", [e, g.scalar(LOG_EPS)], name=f"{tag}_de_den")],
                               name=f"{tag}_de_pos"), wneg], name=f"{tag}_de")  # [1,32]
        de_s = g.op("Split", [de, g.ints("split_16_16", [N_BRANCH, N_BRANCH])], n_out=2, name=f"{tag}_de_split", axis=1)
        d_maps, d_feats = [], []
        for i, (s, sc, count) in enumerate(zip("fc", br["scales"], counts)):
            c = g.op("Reshape", [g.op("Div", [de_s[i], count], name=f"{tag}{s}_de_n"),
                                 g.ints("shape_g_k_1", [1, G, N_REGIONS, 1])], name=f"{tag}{s}_coef")  # d obj / d (sum of region * a^2)
            c2 = g.op("Mul", [c, g.scalar(2.0)], name=f"{tag}{s}_coef2")
            da = g.op("Mul", [g.op("Mul", [sc["ag"], c2], name=f"{tag}{s}_da0"), sc["smr"]], name=f"{tag}{s}_da1")
            # = d obj / d z (the ReLU mask is implied: a = 0 where z <= 0)
            d_feats.append(g.op("Reshape", [da, g.op("Shape", [sc["a"]], name=f"{tag}{s}_shape")], name=f"{tag}{s}_dz"))
            dsm = g.op("ReduceSum", [g.op("Mul", [sc["asq"], c], name=f"{tag}{s}_dmap0"), g.ints("axis1", [1])],
                       name=f"{tag}{s}_dmap1", keepdims=1)  # [1,1,K,hw]
            dsm = g.op("Reshape", [dsm, g.op("Shape", [sc["sm"]], name=f"{tag}{s}_map_shape")], name=f"{tag}{s}_dmap2")
            d_maps.append(g.op("Mul", [dsm, masks[i]], name=f"{tag}{s}_dmap"))  # d obj / d region map
        # colour regions, backwards: upsample adjoint, softmax, hue projection, blur
        dsq = g.op("Add", [d_maps[1], g.op("Conv", [d_maps[0], C["region_up"]], name=f"{tag}_dregion_down", **up_k)],
                   name=f"{tag}_dregion")
        sds = g.op("ReduceSum", [g.op("Mul", [br["sq"], dsq], name=f"{tag}_sds0"), g.ints("axis1", [1])],
                   name=f"{tag}_sds", keepdims=1)
        dlogit = g.op("Mul", [br["sq"], g.op("Sub", [dsq, sds], name=f"{tag}_dlogit0")], name=f"{tag}_dlogit")
        dcol = adjoint(dlogit, "region_hue", f"{tag}_dregion_col", kernel_shape=[1, 1])
        dd2 = adjoint(dcol, "region_blur", f"{tag}_dregion_d2", kernel_shape=[5, 5], pads=[2, 2, 2, 2], group=3)
        # quarter-res features
        dr3 = adjoint(d_feats[1], "w4", f"{tag}_dr3", **k3)
        dz3 = g.op("Where", [g.op("Greater", [br["z3"], zero], name=f"{tag}_m3"), dr3, zero], name=f"{tag}_dz3")
        dq, dr1q = g.op("Split", [adjoint(dz3, "w3", f"{tag}_din3", **k3), g.ints("split_in3", [N_BRANCH, N_L1])],
                        n_out=2, name=f"{tag}_din3", axis=1)
        dz1q = g.op("Where", [g.op("Greater", [br["z1q"], zero], name=f"{tag}_m1q"), dr1q, zero], name=f"{tag}_dz1q")
        dd2 = g.op("Add", [dd2, g.op("Mul", [g.op("ConvTranspose", [dz1q, C["gabor_luma"]], name=f"{tag}_dd2_gabor", **k7), C["luma"]],
                                         name=f"{tag}_dd2_luma")], name=f"{tag}_dd2")
        # half-res features (their own term plus what the quarter-res layers pass down)
        da2 = g.op("ConvTranspose", [dq, C["blur16"]], name=f"{tag}_da2q", **down16)
        dz2 = g.op("Add", [d_feats[0], g.op("Where", [g.op("Greater", [br["z2"], zero], name=f"{tag}_m2"), da2, zero],
                                            name=f"{tag}_dz2q")], name=f"{tag}_dz2")
        dr1 = adjoint(dz2, "w2", f"{tag}_dr1", **k3d)
        dz1 = g.op("Where", [g.op("Greater", [br["z1"], zero], name=f"{tag}_m1"), dr1, zero], name=f"{tag}_dz1")
        dd1 = g.op("Add", [g.op("Mul", [g.op("ConvTranspose", [dz1, C["gabor_luma"]], name=f"{tag}_dd1_gabor", **k7), C["luma"]],
                                name=f"{tag}_dd1_luma"),
                           g.op("ConvTranspose", [dd2, C["blur3"]], name=f"{tag}_dquarter", **down3)], name=f"{tag}_dd1")
        dxp = g.op("ConvTranspose", [dd1, C["blur3"]], name=f"{tag}_dxp", **down3)
        return pad_mirror_adjoint(dxp, tag)

    img_in = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "height", "width"])
    w_in = helper.make_tensor_value_info("weights", TensorProto.FLOAT, [N_FEAT])
    step_in = helper.make_tensor_value_info("step", TensorProto.FLOAT, [1])
    obj_out = helper.make_tensor_value_info("objective", TensorProto.FLOAT, [1])

    if mode == "objective":
        g.op("Identity", [objective(energies(forward("image", "f"), "f"), "f")], name="objective")
        return make_model(g, [img_in, w_in], [obj_out], "dream_objective", "forward-only helper", {})
    if mode == "grad":
        br = forward("image", "f")
        e = energies(br, "f")
        g.op("Identity", [objective(e, "f")], name="objective")
        g.op("Identity", [gradient(br, e, "b")], name="gradient")
        grad_out = helper.make_tensor_value_info("gradient", TensorProto.FLOAT, [1, 3, "height", "width"])
        return make_model(g, [img_in, w_in], [obj_out, grad_out], "dream_grad", "raw-gradient helper", {})

    img = "image"
    eps = g.scalar(NORM_EPS)
    lo, hi = zero, g.scalar(1.0)
    for it in range(DREAM_ITERS):
        tag = f"it{it}"
        br = forward(img, tag)
        e = energies(br, tag)
        if it == 0:
            g.op("Identity", [objective(e, tag)], name="objective")
        grad = gradient(br, e, tag)
        mabs = g.op("ReduceMean", [g.op("Abs", [grad], name=f"{tag}_absg")], name=f"{tag}_mabs", keepdims=1)
        gn = g.op("Div", [grad, g.op("Add", [mabs, eps], name=f"{tag}_den")], name=f"{tag}_gnorm")
        moved = g.op("Add", [img, g.op("Mul", ["step", gn], name=f"{tag}_delta")], name=f"{tag}_moved")
        img = g.op("Clip", [moved, lo, hi], name=f"{tag}_image")
    g.op("Identity", [img], name="dreamed")
    dreamed_out = helper.make_tensor_value_info("dreamed", TensorProto.FLOAT, [1, 3, "height", "width"])
    doc = (f"DeepDream: {DREAM_ITERS} in-graph gradient-ascent steps on objective = "
           f"sum_c relu(w_c) log({LOG_EPS} + e_c) - {NEG_GAIN} relu(-w_c) e_c, where e_c is the colour-region-weighted "
           f"mean squared activation of {N_FEAT} fixed features (luminance Gabor/DoG bank -> ReLU -> 3x3 conv with "
           "curve detectors -> ReLU at half res [0:16]; -> blur down + quarter-res Gabors -> two 3x3 convs at quarter res "
           "[16:32]). image [1,3,H,W] 0..1, weights [32], step [1] -> dreamed [1,3,H,W] 0..1, objective [1] "
           "(of the input image). Step: image += step * g / (mean|g| + 1e-8), clipped to 0..1.")
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
