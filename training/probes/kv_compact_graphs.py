"""Decode-step speed of two model folders' graphs side by side (issue 26 item 3: the float32 KV cache
against the compact int8 one, tbtrain/kv_quant.py), interleaved round by round in one process, onnxruntime
CPU with one intra-op thread as the engine runs it. The caches are filled with random rows (the step's cost
does not depend on their values); dense and sparse (tokenbutler, budget 512, 8 sinks, 128 recent) steps.

python3 training/probes/kv_compact_graphs.py OLD_FOLDER NEW_FOLDER [--ctx 2048,8192,32768] [--reps 24]
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.ort_runner import GraphRunner


def filled(folder: str, P: int, rng) -> GraphRunner:
    r = GraphRunner(folder, cap=P + 64)
    c = r.cfg
    for l in range(c.n_layers):
        if r.int8:
            r.k[l][:] = rng.integers(1, 256, r.k[l].shape, dtype=np.uint8)
            r.v[l][:] = rng.integers(-127, 128, r.v[l].shape).astype(np.int8)
            r.ks[l][:] = 0.02; r.vs[l][:] = 0.01
        else:
            r.k[l][:] = rng.standard_normal(r.k[l].shape, dtype=np.float32) * 2
            r.v[l][:] = rng.standard_normal(r.v[l].shape, dtype=np.float32)
        if l:
            r.ik[l][:] = rng.integers(-63, 64, r.ik[l].shape).astype(np.int8)
            r.iksum[l][:] = 64 * r.ik[l].astype(np.int32).sum(1)
    r.ids[:] = rng.integers(5, c.vocab_size, r.ids.shape)
    r.P, r.prev = P, 9
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--ctx", default="2048,8192,32768")
    ap.add_argument("--reps", type=int, default=24)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print("| context | step | old ms (p50) | new ms (p50) | old/new |\n|---|---|---|---|---|")
    for P in map(int, args.ctx.split(",")):
        runners = {"old": filled(args.old, P, rng), "new": filled(args.new, P, rng)}
        times = {(w, m): [] for w in runners for m in ("dense", "sparse")}
        for i in range(args.reps + 2):
            for mode in ("dense", "sparse"):
                for who, r in runners.items():
                    r.P = P  # every step runs at the same context
                    t = time.perf_counter()
                    r.run([11 + i], sparse=mode == "sparse", budget=512, sinks=8, recent=128)
                    if i >= 2:
                        times[(who, mode)].append(time.perf_counter() - t)
        for mode in ("dense", "sparse"):
            a, b = (np.median(times[(w, mode)]) * 1e3 for w in ("old", "new"))
            print(f"| {P} | {mode} | {a:.2f} | {b:.2f} | {a / b:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
