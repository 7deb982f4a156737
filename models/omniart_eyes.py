#!/usr/bin/env python3
"""Convert the OmniArt eye generator (a conditional DCGAN) from its torch state dict to ONNX.

    python3 models/omniart_eyes.py --pth generator_model_state.pth --out .hypna/models/omniart-eyes.onnx

`scripts/install-models.sh` runs this at set-up with the file from PyPI's
`omniart-eye-generator==0.1` (MIT, Rogier Knoester, University of Amsterdam). Needs numpy and
onnx only: the weights are read by `torchload.py`, without torch.

The architecture is the package's `generator.py` (DCGAN with ngf 64, 100 noise dims, 8 labels):

    noise   float32 [batch,100]   standard normal
    label   float32 [batch,8]     colour: amber, blue, brown, gray, grayscale, green, hazel, red;
                                  one-hot as trained, a soft mix (weights summing to 1) blends
    z       = concat(noise, label) as [batch,108,1,1]
    layer1  = relu(bn(convT 4x4 stride 1 (z)))              1024 x 4 x 4   (then a Dropout, the
                                                              identity at inference: left out)
    layer2  = relu(bn(convT 4x4 stride 2 pad 1 (layer1)))    512 x 8 x 8
    layer3  ..                                                256 x 16 x 16
    layer4  ..                                                128 x 32 x 32
    layer5  ..                                                 64 x 64 x 64
    image   = (tanh(convT 4x4 stride 2 pad 1 (layer5)) + 1) / 2      3 x 128 x 128, RGB 0..1

Every BatchNorm (torch's default eps 1e-5) is folded into the ConvTranspose before it (weights
[in,out,k,k] scaled per output channel, the shift as the bias). The last step maps the
generator's tanh range -1..1 to 0..1, the range hypna's image bindings use; it is computed as
sigmoid(2 t) for the pre-activation t, the same function as (tanh(t) + 1) / 2, with the 2 folded
into the last layer's weights: one op instead of three. The package's own `__to_image` maps
the same range with ((x + 1) / 2) * 256 clipped to 255, i.e. the same up to 8-bit rounding.
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

PTH_NAME = "generator_model_state.pth"
PTH_SHA256 = "dd486abbd738bfe3d28ddd46987bec11e3842ddcc8c28ccc5251b52c6ecf4da0"
NOISE = 100
LABELS = ("amber", "blue", "brown", "gray", "grayscale", "green", "hazel", "red")
BN_EPS = 1e-5  # torch.nn.BatchNorm2d's default, which generator.py keeps
# (ConvTranspose index in `main`, BatchNorm index or None, in channels, out channels, stride, pad)
LAYERS = [
    (0, 1, NOISE + len(LABELS), 1024, 1, 0),
    (4, 5, 1024, 512, 2, 1),
    (7, 8, 512, 256, 2, 1),
    (10, 11, 256, 128, 2, 1),
    (13, 14, 128, 64, 2, 1),
    (16, None, 64, 3, 2, 1),
]
SIZE = 128


def build(state):
    g = Graph()
    g.const("shape_z", np.array([-1, NOISE + len(LABELS), 1, 1], np.int64))
    x = g.op("Concat", ["noise", "label"], "z/flat", axis=1)
    x = g.op("Reshape", [x, "shape_z"], "z")
    for n, (conv, bn, cin, cout, stride, pad) in enumerate(LAYERS, start=1):
        w = tensor(state, f"main.{conv}.weight", (cin, cout, 4, 4)).astype(np.float64)
        if bn is not None:
            scale, shift = fold_bn(state, f"main.{bn}", cout, BN_EPS)
            out, act = f"layer{n}", "Relu"
        else:
            scale, shift = np.full(cout, 2.0), np.zeros(cout)  # sigmoid(2 t) = (tanh(t) + 1) / 2
            out, act = "image", "Sigmoid"
        wname = g.const(f"layer{n}.weight", (w * scale[None, :, None, None]).astype(np.float32))
        bname = g.const(f"layer{n}.bias", shift.astype(np.float32))
        x = g.op("ConvTranspose", [x, wname, bname], f"layer{n}/conv", kernel_shape=[4, 4],
                 strides=[stride, stride], pads=[pad] * 4)
        x = g.op(act, [x], out)

    expected = {f"main.{c}.weight" for c, *_ in LAYERS}
    expected |= {f"main.{b}.{t}" for _, b, *_ in LAYERS if b is not None
                 for t in ("weight", "bias", "running_mean", "running_var")}
    used = {k for k in state if not k.endswith("num_batches_tracked")}
    if used != expected:
        extra = sorted(used - expected)[:5]
        raise ConvertError(f"the state dict has tensors this architecture does not use: {extra}")

    inputs = [
        helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["batch", NOISE]),
        helper.make_tensor_value_info("label", TensorProto.FLOAT, ["batch", len(LABELS)]),
    ]
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])
    doc = (
        "OmniArt eye generator: a conditional DCGAN trained on eyes cut from artworks (OmniArt Eye "
        "Dataset, University of Amsterdam). Weights: PyPI omniart-eye-generator 0.1 (MIT, Rogier "
        "Knoester). Converted by hypna's models/omniart_eyes.py. noise [batch,100] standard normal, "
        f"label [batch,8] colour mix ({', '.join(LABELS)}); image [batch,3,128,128] RGB 0..1."
    )
    return make_model(
        g, inputs, [image], "omniart_eyes", "hypna/models/omniart_eyes.py", doc,
        {
            "source": "PyPI omniart-eye-generator==0.1, " + PTH_NAME,
            "source_sha256": PTH_SHA256,
            "license": "MIT",
            "labels": ",".join(LABELS),
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
    run_cli("omniart_eyes.py", args.out, lambda: convert(args.pth, args.out))


if __name__ == "__main__":
    main()
