"""Decode-step time of the engine's ShadowLLM graphs (issue 29 item 3) against the plain int8 graph, in onnxruntime
from Python: dense.int8.onnx and dense.shadow.int8.onnx (keep 1.0 and the bits/byte settings of
evaluation/shadow_engine.py) over a random compact cache of P slots; 1 intra-op thread, spinning off; the variants
alternate within each round (the start rotates); medians of the rounds. Each timed run follows an untimed run of the
same variant: the two graphs are separate sessions with their own copy of the weights in memory, so a run right after
the other session's is slowed by the caches it finds cold (about 0.15 ms of 0.6 at 512 here), which a decode loop on
one graph does not see.

    python3 training/probes/shadow_engine_speed.py --ctx 512,2048 --rounds 300 [--sparse]
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
import numpy as np
import onnxruntime as ort

from tbtrain.ort_runner import random_sparse_feeds
from tbtrain.paths import TRAINING

SETTINGS = {"keep 1.0": (1.0, 1.0), "neurons 75%": (1.0, 0.75), "neurons 50%": (1.0, 0.5), "heads 75%": (0.75, 1.0),
            "both 75%": (0.75, 0.75)}   # (heads, neurons) kept


def session(p: pathlib.Path) -> ort.InferenceSession:
    o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(p), o, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(TRAINING.parent / "models/default"))
    ap.add_argument("--ctx", default="512,2048")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--sparse", action="store_true", help="also sparse.int8 vs sparse.shadow.int8 (tokenbutler, --budget)")
    ap.add_argument("--budget", type=int, default=256)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    folder = pathlib.Path(args.model)
    man = json.loads((folder / "manifest.json").read_text())
    cfg = man["config"]
    H, F = cfg["n_heads"], cfg["ffn_dim"]
    kinds = ["dense"] + (["sparse"] if args.sparse else [])
    res = {}
    for kind in kinds:
        plain, shadow = session(folder / man["graphs"][kind]), session(folder / man["shadow"]["graphs"][kind])
        for P in map(int, args.ctx.split(",")):
            rng = np.random.default_rng(P)
            feeds = random_sparse_feeds(cfg, P, args.budget, {i.name: i.type for i in plain.get_inputs()}, rng)
            variants = {f"{kind}.int8": (plain, feeds)}
            for name, (kh, kn) in SETTINGS.items():
                keep = {"head_keep": np.array([max(1, round(kh * H))], np.int64), "ffn_keep": np.array([max(1, round(kn * F))], np.int64)}
                variants[f"{kind}.shadow {name}"] = (shadow, {**feeds, **keep})
            times = {n: [] for n in variants}
            names = list(variants)
            for r in range(args.rounds + 20):
                for i in range(len(names)):
                    n = names[(i + r) % len(names)]
                    s, f = variants[n]
                    s.run(["logits"], f)   # warm: the decode loop runs one graph step after step
                    t0 = time.perf_counter(); s.run(["logits"], f); dt = (time.perf_counter() - t0) * 1000
                    if r >= 20:
                        times[n].append(dt)
            med = {n: float(np.median(t)) for n, t in times.items()}
            base = med[f"{kind}.int8"]
            res[f"{kind}@{P}"] = {n: {"ms": m, "vs_plain": base / m} for n, m in med.items()}
            for n, m in med.items():
                print(f"{kind} @{P}: {n:28s} {m:6.3f} ms  {base / m:5.2f}x")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
