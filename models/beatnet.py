#!/usr/bin/env python3
"""Convert one of BeatNet's trained beat/downbeat networks to ONNX, with its LSTM state as inputs
and outputs so that one call per 20 ms frame carries the state.

    .hypna/venv/bin/python models/beatnet.py --pth model_1_weights.pt --out .hypna/models/beatnet-1.onnx

`scripts/install-models.sh` runs it at set-up on `BeatNet/models/model_1_weights.pt` from the
PyPI wheel `beatnet==1.1.3`; the state dict is read by `torchload.py` (no torch), which of the
three trained models it is comes from its sha256, and the graph is checked against a float64
numpy re-implementation of the PyTorch forward before it is written.

Source: M. Heydari, F. Cwitkowitz, Z. Duan, "BeatNet: CRNN and particle filtering for online
joint beat downbeat and meter tracking", ISMIR 2021; code and weights CC-BY-4.0.

The network (`BeatNet/model.py`, class BDA(272, 150, 2)), per frame of 272 features:
    Conv1d(1 -> 2, kernel 10) over the 272 values, ReLU, max-pool 2   -> 2 x 131
    flatten (channel-major), Linear 262 -> 150
    2-layer unidirectional LSTM, 150 cells (torch gate order i, f, g, o; two biases)
    Linear 150 -> 3, softmax over the 3: beat, downbeat, no beat

The ONNX graph (opset 17, IR 8):
    in  features  float32 [frames, 272]   one row per 20 ms frame (usually 1 row per call)
    in  h_in      float32 [2, 1, 150]     LSTM hidden state of layers 0 and 1 (zeros at start)
    in  c_in      float32 [2, 1, 150]     LSTM cell state
    out activations float32 [frames, 3]   softmax: beat, downbeat, no beat
    out h_out, c_out                      the state after the last frame, for the next call
ONNX's LSTM orders gates i, o, f, c and takes one bias vector [W_b, R_b]; torch orders them
i, f, g, o with separate b_ih and b_hh: the blocks are permuted here, the biases concatenated.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_util import (  # noqa: E402
    ConvertError, Graph, make_model, run_cli, sha256, tensor, write_model,
)
from torchload import load  # noqa: E402

# sha256 of each state dict inside the wheel `BeatNet-1.1.3-py3-none-any.whl`.
WEIGHTS_SHA256 = {
    1: "619091bc317ca3e83b45591d46f6de3d5a41588bcb39fe9fe7be30cffa6aca84",
    2: "5878a18c079fa0b0139879b14ed2b5b7595faef8c3d16210aed141fd00fa2d58",
    3: "0c52a074ea38e8cb4a760ecfa3747c9cf91a1e3cd19f238eed80b0de763989ca",
}
# What each model was trained on, from BeatNet.py's comments ("GTZAN out", "Ballroom out",
# "Rock_corpus out": the data set named was held out).
TRAINED = {1: "held out: GTZAN", 2: "held out: Ballroom", 3: "held out: Rock Corpus"}

FEATURES = 272
HIDDEN = 150
LAYERS = 2
KERNEL = 10
CONV_CH = 2
POOLED = (FEATURES - KERNEL + 1) // 2  # 131

SHAPES = {
    "conv1.weight": (CONV_CH, 1, KERNEL),
    "conv1.bias": (CONV_CH,),
    "linear0.weight": (HIDDEN, CONV_CH * POOLED),
    "linear0.bias": (HIDDEN,),
    "lstm.weight_ih_l0": (4 * HIDDEN, HIDDEN),
    "lstm.weight_hh_l0": (4 * HIDDEN, HIDDEN),
    "lstm.bias_ih_l0": (4 * HIDDEN,),
    "lstm.bias_hh_l0": (4 * HIDDEN,),
    "lstm.weight_ih_l1": (4 * HIDDEN, HIDDEN),
    "lstm.weight_hh_l1": (4 * HIDDEN, HIDDEN),
    "lstm.bias_ih_l1": (4 * HIDDEN,),
    "lstm.bias_hh_l1": (4 * HIDDEN,),
    "linear.weight": (3, HIDDEN),
    "linear.bias": (3,),
}


def read_weights(pth):
    """The state dict at `pth`, which model it is (from its sha256), checked names and shapes."""
    digest = sha256(pth)
    model = next((n for n, h in WEIGHTS_SHA256.items() if h == digest), None)
    if model is None:
        raise ConvertError(f"{pth} has sha256 {digest}, not one of BeatNet 1.1.3's model_N_weights.pt")
    state = load(pth)
    if set(state) != set(SHAPES):
        raise ConvertError(f"{pth}: tensors {sorted(set(state) ^ set(SHAPES))} differ from BDA(272, 150, 2)")
    return model, {k: tensor(state, k, shape) for k, shape in SHAPES.items()}


# ---------------------------------------------------------------------------------------------
# The reference forward: BDA.forward + softmax in float64, written from model.py.


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def forward_f64(state, feats, h, c):
    """feats [T, 272], h and c [2, 1, 150] -> (softmax [T, 3], h, c), all float64."""
    s = {k: v.astype(np.float64) for k, v in state.items()}
    x = np.asarray(feats, np.float64)
    t_len = x.shape[0]
    w, b = s["conv1.weight"][:, 0, :], s["conv1.bias"]
    conv = np.empty((t_len, CONV_CH, FEATURES - KERNEL + 1))
    for k in range(FEATURES - KERNEL + 1):
        conv[:, :, k] = x[:, k:k + KERNEL] @ w.T + b
    conv = np.maximum(conv, 0.0)
    pooled = conv[:, :, : 2 * POOLED].reshape(t_len, CONV_CH, POOLED, 2).max(axis=3)
    y = pooled.reshape(t_len, CONV_CH * POOLED) @ s["linear0.weight"].T + s["linear0.bias"]
    h = np.array(h, np.float64).copy()
    c = np.array(c, np.float64).copy()
    for layer in range(LAYERS):
        wi, wh = s[f"lstm.weight_ih_l{layer}"], s[f"lstm.weight_hh_l{layer}"]
        bias = s[f"lstm.bias_ih_l{layer}"] + s[f"lstm.bias_hh_l{layer}"]
        hl, cl = h[layer, 0], c[layer, 0]
        out = np.empty((t_len, HIDDEN))
        for t in range(t_len):
            g = wi @ y[t] + wh @ hl + bias
            i, f, gg, o = (g[k * HIDDEN:(k + 1) * HIDDEN] for k in range(4))
            cl = _sigmoid(f) * cl + _sigmoid(i) * np.tanh(gg)
            hl = _sigmoid(o) * np.tanh(cl)
            out[t] = hl
        h[layer, 0], c[layer, 0] = hl, cl
        y = out
    logits = y @ s["linear.weight"].T + s["linear.bias"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), h, c


# ---------------------------------------------------------------------------------------------
# The ONNX graph.


def _iofc(m):
    """torch's gate blocks (i, f, g, o) along axis 0 reordered to ONNX's (i, o, f, c)."""
    i, f, g, o = np.split(m, 4, axis=0)
    return np.concatenate([i, o, f, g], axis=0)


def build(state, n):
    from onnx import TensorProto, helper

    g = Graph()
    f32 = np.float32
    g.const("shape_conv_in", np.array([-1, 1, FEATURES], np.int64))
    g.const("shape_flat", np.array([-1, CONV_CH * POOLED], np.int64))
    g.const("axis1", np.array([1], np.int64))
    g.const("axis0", np.array([0], np.int64))
    for i in range(LAYERS + 1):
        g.const(f"layer{i}", np.array([i], np.int64))
    for k in ("conv1.weight", "conv1.bias", "linear0.weight", "linear0.bias", "linear.weight", "linear.bias"):
        g.const(k, state[k].astype(f32))
    for layer in range(LAYERS):
        w = _iofc(state[f"lstm.weight_ih_l{layer}"])[None]
        r = _iofc(state[f"lstm.weight_hh_l{layer}"])[None]
        b = np.concatenate([_iofc(state[f"lstm.bias_ih_l{layer}"]), _iofc(state[f"lstm.bias_hh_l{layer}"])])[None]
        g.const(f"lstm{layer}.W", w.astype(f32))
        g.const(f"lstm{layer}.R", r.astype(f32))
        g.const(f"lstm{layer}.B", b.astype(f32))

    g.op("Reshape", ["features", "shape_conv_in"], "conv_in")  # [T, 1, 272]
    g.op("Conv", ["conv_in", "conv1.weight", "conv1.bias"], "conv", kernel_shape=[KERNEL])  # [T, 2, 263]
    g.op("Relu", ["conv"], "conv_relu")
    g.op("MaxPool", ["conv_relu"], "pool", kernel_shape=[2], strides=[2])  # [T, 2, 131]
    g.op("Reshape", ["pool", "shape_flat"], "flat")  # [T, 262], channel-major as torch's view
    g.op("Gemm", ["flat", "linear0.weight", "linear0.bias"], "linear0", transB=1)  # [T, 150]
    g.op("Unsqueeze", ["linear0", "axis1"], "seq0")  # [T, batch 1, 150]
    x = "seq0"
    hs, cs = [], []
    for layer in range(LAYERS):
        g.op("Slice", ["h_in", f"layer{layer}", f"layer{layer + 1}", "axis0"], f"h{layer}_in")  # [1, 1, 150]
        g.op("Slice", ["c_in", f"layer{layer}", f"layer{layer + 1}", "axis0"], f"c{layer}_in")
        outs = [f"lstm{layer}.Y", f"h{layer}_out", f"c{layer}_out"]
        for o in outs:
            g.names.add(o)
        g.nodes.append(helper.make_node(
            "LSTM", [x, f"lstm{layer}.W", f"lstm{layer}.R", f"lstm{layer}.B", "", f"h{layer}_in", f"c{layer}_in"],
            outs, name=f"lstm{layer}", hidden_size=HIDDEN))  # Y [T, 1, 1, 150]
        g.op("Squeeze", [f"lstm{layer}.Y", "axis1"], f"lstm{layer}.out")  # [T, 1, 150]
        x = f"lstm{layer}.out"
        hs.append(f"h{layer}_out")
        cs.append(f"c{layer}_out")
    g.op("Concat", hs, "h_out", axis=0)
    g.op("Concat", cs, "c_out", axis=0)
    g.op("Squeeze", [x, "axis1"], "lstm_out")  # [T, 150]
    g.op("Gemm", ["lstm_out", "linear.weight", "linear.bias"], "logits", transB=1)  # [T, 3]
    g.op("Softmax", ["logits"], "activations", axis=-1)

    inputs = [
        helper.make_tensor_value_info("features", TensorProto.FLOAT, ["frames", FEATURES]),
        helper.make_tensor_value_info("h_in", TensorProto.FLOAT, [LAYERS, 1, HIDDEN]),
        helper.make_tensor_value_info("c_in", TensorProto.FLOAT, [LAYERS, 1, HIDDEN]),
    ]
    outputs = [
        helper.make_tensor_value_info("activations", TensorProto.FLOAT, ["frames", 3]),
        helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [LAYERS, 1, HIDDEN]),
        helper.make_tensor_value_info("c_out", TensorProto.FLOAT, [LAYERS, 1, HIDDEN]),
    ]
    doc = (
        f"BeatNet model {n} ({TRAINED[n]}): beat and downbeat activations of 20 ms frames of "
        "BeatNet's 272 features (22050 Hz, 1411-sample Hann frames every 441 samples, 24 bands per "
        "octave 30 Hz..17 kHz, log10(1 + x), positive first difference), LSTM state in and out. "
        "Weights: PyPI beatnet==1.1.3, CC-BY-4.0, Heydari, Cwitkowitz, Duan, ISMIR 2021. "
        "Converted by hypna's models/beatnet.py."
    )
    return make_model(
        g, inputs, outputs, f"beatnet_{n}", "hypna/models/beatnet.py", doc,
        {
            "source": f"PyPI beatnet==1.1.3, BeatNet/models/model_{n}_weights.pt",
            "source_sha256": WEIGHTS_SHA256[n],
            "license": "CC-BY-4.0",
            "credit": "M. Heydari, F. Cwitkowitz, Z. Duan: BeatNet, ISMIR 2021",
            "frame_rate_hz": "50",
            "sample_rate_hz": "22050",
        },
    )


# ---------------------------------------------------------------------------------------------
# Checks.


def _runners(model):
    """(name, run(feeds) -> [activations, h, c]) for every ONNX engine available here."""
    out = []
    try:
        from onnx.reference import ReferenceEvaluator
        ref = ReferenceEvaluator(model)
        out.append(("onnx.reference", lambda feeds: ref.run(None, feeds)))
    except ImportError:
        pass
    try:
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        out.append(("onnxruntime", lambda feeds: sess.run(None, feeds)))
    except ImportError:
        pass
    return out


def check(model, state, seed=0, frames=40):
    """ONNX against the float64 forward on random features and states: a whole sequence in one
    call, and frame by frame with the state carried between calls. Returns the worst absolute
    error per engine; raises ConvertError above 1e-4."""
    rng = np.random.default_rng(seed)
    feats = rng.uniform(0.0, 1.2, (frames, FEATURES)).astype(np.float32)
    feats[:, FEATURES // 2:] *= rng.uniform(0, 1, (frames, FEATURES // 2)) < 0.3  # sparse diffs
    h0 = rng.normal(0, 0.3, (LAYERS, 1, HIDDEN)).astype(np.float32)
    c0 = rng.normal(0, 0.6, (LAYERS, 1, HIDDEN)).astype(np.float32)
    want, wh, wc = forward_f64(state, feats, h0, c0)
    report = {}
    runners = _runners(model)
    if not runners:
        raise ConvertError("neither onnx.reference nor onnxruntime is available to check the model")
    for name, run in runners:
        act, h, c = run({"features": feats, "h_in": h0, "c_in": c0})
        err = max(np.abs(act - want).max(), np.abs(h - wh).max(), np.abs(c - wc).max())
        hh, cc = h0, c0
        step_err = 0.0
        for t in range(frames):
            a, hh, cc = run({"features": feats[t:t + 1], "h_in": hh, "c_in": cc})
            step_err = max(step_err, np.abs(a[0] - want[t]).max())
        step_err = max(step_err, np.abs(hh - wh).max(), np.abs(cc - wc).max())
        report[name] = (float(err), float(step_err))
        if err > 1e-4 or step_err > 1e-4:
            raise ConvertError(f"{name} differs from the float64 forward: {err:.2e} (sequence), {step_err:.2e} (frame by frame)")
    return report


def convert(pth, out, run_checks=True):
    n, state = read_weights(pth)
    model = build(state, n)
    if run_checks:
        for engine, (seq, step) in check(model, state).items():
            print(f"beatnet-{n}: {engine} vs float64 forward: max abs error {seq:.1e} (40 frames in one "
                  f"call), {step:.1e} (one frame per call, state carried)")
    write_model(model, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pth", required=True, help="a state dict BeatNet/models/model_N_weights.pt from beatnet==1.1.3")
    ap.add_argument("--out", required=True, help="the ONNX file to write")
    ap.add_argument("--no-check", action="store_true", help="skip the check against the float64 forward")
    args = ap.parse_args()
    run_cli("beatnet.py", args.out, lambda: convert(args.pth, args.out, not args.no_check))


if __name__ == "__main__":
    main()
