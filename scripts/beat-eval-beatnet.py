#!/usr/bin/env python3
"""BeatNet's own online pipeline on hypna's evaluation set, as a reference for the neural tracker:
BeatNet's features (madmom), the network (model 1, `models/beatnet.py`'s float64 forward of the
weights, which the installed ONNX model matches to 1e-4), and BeatNet's own causal decoder (its particle filter cascade), scored with mir_eval like `hypna bench --beats`.

    python scripts/beat-eval-beatnet.py [--set .hypna/beat-eval] [--beatnet .hypna/beatnet-src]

Run by hand, in a venv holding what BeatNet's code imports: madmom 0.16.1 (see
models/beatnet_fixtures.py for how its sdist builds on Python 3.11), librosa, scipy, mir_eval. `--beatnet` is the unpacked `beatnet==1.1.3` wheel (unzip .hypna/wheels/BeatNet-*.whl).
The particle filter samples at random: the seed is fixed, and other seeds move the figures by a
few hundredths.
"""

import argparse
import glob
import os
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default=".hypna/beat-eval")
    ap.add_argument("--beatnet", default=".hypna/beatnet-src")
    args = ap.parse_args()
    sys.path.insert(0, args.beatnet)
    import librosa
    import mir_eval
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
    import beatnet
    from BeatNet.log_spect import LOG_SPECT
    from BeatNet.particle_filtering_cascade import particle_filter_cascade

    proc = LOG_SPECT(sample_rate=22050, win_length=1411, hop_size=441, n_bands=[24], mode="online")
    _, state = beatnet.read_weights(os.path.join(args.beatnet, "BeatNet/models/model_1_weights.pt"))
    rows = []
    for wav in sorted(glob.glob(os.path.join(args.set, "*.wav"))):
        name = os.path.basename(wav)[:-4]
        audio, _ = librosa.load(wav, sr=22050)
        feats = proc.process_audio(audio).T.astype(np.float32)
        zeros = np.zeros((2, 1, 150))
        acts, _, _ = beatnet.forward_f64(state, feats, zeros, zeros)
        np.random.seed(1)
        pf = particle_filter_cascade(beats_per_bar=[], fps=50, plot=[], mode="online")
        out = pf.process(acts[:, :2])
        ann = np.loadtxt(os.path.join(args.set, name + ".beats"))
        ref = mir_eval.beat.trim_beats(ann[:, 0])
        refd = mir_eval.beat.trim_beats(ann[ann[:, 1] == 1, 0])
        est = mir_eval.beat.trim_beats(out[:, 0])
        estd = mir_eval.beat.trim_beats(out[out[:, 1] == 1, 0])
        f = mir_eval.beat.f_measure(ref, est)
        _, cmlt, _, amlt = mir_eval.beat.continuity(ref, est)
        dbf = mir_eval.beat.f_measure(refd, estd)
        rows.append((f, cmlt, amlt, dbf))
        print(f"{name:22s} BeatNet-PF F {f:.3f} CMLt {cmlt:.3f} AMLt {amlt:.3f} dbF {dbf:.3f}", flush=True)
    mean = np.array(rows).mean(axis=0)
    print(f"average over {len(rows)} clips: F {mean[0]:.3f} CMLt {mean[1]:.3f} AMLt {mean[2]:.3f} dbF {mean[3]:.3f}")


if __name__ == "__main__":
    main()
