#!/usr/bin/env python3
"""Recomputes hypna's beat scores with mir_eval, to check `src/bench/beat_metrics.rs`.

    hypna bench --beats .hypna/beat-eval --beats-dump /tmp/beats-dump
    python3 scripts/beat-eval-check.py .hypna/beat-eval /tmp/beats-dump

Needs `pip install mir_eval` (in a venv). For every clip and tracker in `scores.tsv` it loads the
annotations (`NAME.beats`) and the tracker's beats (`NAME.TRACKER.beats`, `.downbeats`), trims
both to 5 s and later (`mir_eval.beat.trim_beats`), and computes `mir_eval.beat.f_measure`
(70 ms), `mir_eval.beat.continuity` (CMLt, AMLt) and the F-measure of the downbeats; then prints
the largest difference from hypna's numbers per metric and exits non-zero above 1e-6.
"""

import os
import sys

import numpy as np
import mir_eval


def load(path):
    if not os.path.exists(path):
        return None
    rows = [line.split() for line in open(path) if line.strip()]
    return rows


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    clips, dump = sys.argv[1], sys.argv[2]
    worst = {"f": 0.0, "cml_t": 0.0, "aml_t": 0.0, "downbeat_f": 0.0}
    n = 0
    for row in load(os.path.join(dump, "scores.tsv"))[1:]:
        clip, tracker, f, cml_t, aml_t, db_f = row
        ann = load(os.path.join(clips, clip + ".beats"))
        ref = np.array([float(r[0]) for r in ann])
        ref_db = np.array([float(r[0]) for r in ann if len(r) > 1 and r[1] == "1"])
        est = np.array([float(r[0]) for r in load(os.path.join(dump, f"{clip}.{tracker}.beats"))] or [])
        r, e = mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(est)
        ours = {"f": float(f), "cml_t": float(cml_t), "aml_t": float(aml_t)}
        theirs = {"f": mir_eval.beat.f_measure(r, e, 0.07)}
        _, theirs["cml_t"], _, theirs["aml_t"] = mir_eval.beat.continuity(r, e)
        if db_f != "-":
            d = load(os.path.join(dump, f"{clip}.{tracker}.downbeats")) or []
            est_db = mir_eval.beat.trim_beats(np.array([float(x[0]) for x in d]))
            ours["downbeat_f"] = float(db_f)
            theirs["downbeat_f"] = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(ref_db), est_db, 0.07)
        for k in ours:
            diff = abs(ours[k] - theirs[k])
            worst[k] = max(worst[k], diff)
            if diff > 1e-6:
                print(f"{clip} {tracker} {k}: hypna {ours[k]:.6f}, mir_eval {theirs[k]:.6f}")
        n += 1
    print(f"{n} clip/tracker pairs; largest difference from mir_eval {mir_eval.__version__}: "
          + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    sys.exit(1 if max(worst.values()) > 1e-6 else 0)


if __name__ == "__main__":
    main()
