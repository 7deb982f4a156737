#!/usr/bin/env python3
"""Reference values for hypna's BeatNet front end, computed once with BeatNet's own pipeline.

    python3 models/beatnet_fixtures.py --beatnet .hypna/beatnet-src --out models/testdata/beatnet --stage features
    python3 models/beatnet_fixtures.py --beatnet .hypna/beatnet-src --out models/testdata/beatnet --stage activations --torch

Run once by hand; the outputs are committed and `tests/it/beatnet.rs` compares hypna's Rust front end
and the installed ONNX model with them. It needs what BeatNet's feature code imports: madmom 0.16.1
(its PyPI sdist builds with numpy<1.24 and Cython<3 once the Cython-generated `.c` files are deleted
so that they are regenerated, and needs `from collections.abc import MutableSequence` in
madmom/processors.py on Python >= 3.10), librosa (imported by BeatNet/common.py), scipy. With
torch also installed (`--torch`), the activations come from BeatNet's own BDA module and
`torch.load`; without it, from `models/beatnet.py`'s float64 forward.

Writes:
  frontend_input.wav      2.0 s, 22050 Hz, mono, 16-bit: silence, a kick, hats, a chord, a sweep
  frontend_features.f32   the features of every frame, float32 little-endian, [frames, 272], from
                          BeatNet.log_spect.LOG_SPECT(sample_rate=22050, win_length=1411,
                          hop_size=441, n_bands=[24], mode="online") as BeatNet.py builds it,
                          on the WAV's samples / 32768 (what librosa.load returns)
  frontend_activations.f32  [frames, 3] softmax of BeatNet model 1 on those features (beat,
                          downbeat, no beat), the LSTM starting from zeros
  README.md               how they were made (this docstring's facts, with versions)
"""

import argparse
import importlib.util
import os
import sys

import numpy as np
from scipy.io import wavfile

RATE = 22050
SECS = 2.0


def signal():
    """A deterministic test signal exercising every band and the frame padding at both ends."""
    rng = np.random.default_rng(18)
    n = int(SECS * RATE) + 123  # not a multiple of the hop
    t = np.arange(n) / RATE
    x = np.zeros(n)
    # 0.1 s of silence first, then events.
    for start in (0.10, 0.60, 1.10, 1.60):
        k = t >= start
        tt = t[k] - start
        x[k] += 0.7 * np.exp(-tt * 25) * np.sin(2 * np.pi * (45 + 90 * np.exp(-tt * 30)) * tt)
    for start in np.arange(0.35, SECS, 0.25):
        k = t >= start
        tt = t[k] - start
        x[k] += 0.25 * np.exp(-tt * 60) * rng.standard_normal(k.sum())
    chord = (t > 0.8) & (t < 1.5)
    x[chord] += sum(0.08 * np.sin(2 * np.pi * f * t[chord]) for f in (220.0, 277.18, 329.63, 440.0))
    sweep = t > 1.2
    ts = t[sweep] - 1.2
    x[sweep] += 0.1 * np.sin(2 * np.pi * (100 * ts + 0.5 * 10000 * ts * ts / 0.8))
    x += 0.002 * rng.standard_normal(n) * (t > 0.1)
    return np.clip(np.round(x * 32767 * 0.8), -32768, 32767).astype(np.int16)


def write_features(beatnet_dir, out):
    sys.path.insert(0, beatnet_dir)
    from BeatNet.log_spect import LOG_SPECT  # the original pipeline (imports madmom)

    pcm = signal()
    wavfile.write(os.path.join(out, "frontend_input.wav"), RATE, pcm)
    audio = pcm.astype(np.float32) / 32768.0
    # As BeatNet.__init__: int(64 ms * 22050) = 1411, int(20 ms * 22050) = 441, 24 bands.
    proc = LOG_SPECT(sample_rate=RATE, win_length=int(64 * 0.001 * RATE), hop_size=int(20 * 0.001 * RATE),
                     n_bands=[24], mode="online")
    feats = np.ascontiguousarray(proc.process_audio(audio).T, dtype=np.float32)  # [frames, 272]
    assert feats.shape[1] == 272, feats.shape
    feats.astype("<f4").tofile(os.path.join(out, "frontend_features.f32"))
    print(f"wrote {out}: {len(pcm)} samples, {feats.shape[0]} frames, features {feats.min():.3f}..{feats.max():.3f}")


def write_activations(beatnet_dir, out, use_torch):
    feats = np.fromfile(os.path.join(out, "frontend_features.f32"), dtype="<f4").reshape(-1, 272)
    if use_torch:
        import torch
        spec = importlib.util.spec_from_file_location("bda", os.path.join(beatnet_dir, "BeatNet", "model.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        net = mod.BDA(272, 150, 2, "cpu")
        net.load_state_dict(torch.load(os.path.join(beatnet_dir, "BeatNet/models/model_1_weights.pt"),
                                       weights_only=True), strict=False)
        net.eval()
        with torch.no_grad():  # as BeatNet.activation_extractor_online
            acts = net.final_pred(net(torch.from_numpy(feats).unsqueeze(0))[0]).numpy().T
        how = f"torch {torch.__version__}"
    else:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import beatnet
        _, state = beatnet.read_weights(os.path.join(beatnet_dir, "BeatNet/models/model_1_weights.pt"))
        acts, _, _ = beatnet.forward_f64(state, feats, np.zeros((2, 1, 150)), np.zeros((2, 1, 150)))
        how = "the float64 forward"
    np.ascontiguousarray(acts, dtype="<f4").tofile(os.path.join(out, "frontend_activations.f32"))
    print(f"wrote {out}/frontend_activations.f32 from {how}: beat max {acts[:, 0].max():.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--beatnet", required=True, help="folder holding the unpacked BeatNet package (BeatNet/)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--stage", choices=["features", "activations"], required=True,
                    help="features: the WAV and madmom features; activations: the network on them")
    ap.add_argument("--torch", action="store_true", help="activations from torch and BeatNet's BDA")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.stage == "features":
        write_features(args.beatnet, args.out)
    else:
        write_activations(args.beatnet, args.out, args.torch)


if __name__ == "__main__":
    main()
