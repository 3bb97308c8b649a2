"""Two sparse graphs timed side by side: the same random cache and inputs, runs alternating A/B, one
thread, p50 ms per decode step at each context; also whether their outputs are identical.

python3 training/probes/sparse_ab.py --a OLD.onnx --b models/default/sparse.int8.onnx --context 2048,8192,16384,32768
(an older graph: git show REV:models/default/sparse.int8.onnx > /tmp/old.onnx)
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.ort_runner import random_sparse_feeds as feeds  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", default="models/default/sparse.int8.onnx")
    ap.add_argument("--model", default="models/default", help="the folder whose manifest gives the config")
    ap.add_argument("--context", default="2048,8192,16384,32768")
    ap.add_argument("--budget", type=int, default=512)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--neighbors", action="store_true", help="fresh steps with neighbour fetch (graphs with the input)")
    ap.add_argument("--reuse", action="store_true", help="steps re-reading the selection of a first fresh step (prediction interval)")
    args = ap.parse_args()
    cfg = json.loads((pathlib.Path(args.model) / "manifest.json").read_text())["config"]
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    sa, sb = (ort.InferenceSession(p, so, providers=["CPUExecutionProvider"]) for p in (args.a, args.b))
    rng = np.random.default_rng(0)
    for P in (int(x) for x in args.context.split(",")):
        f = feeds(cfg, P, args.budget, {i.name: i.type for s in (sa, sb) for i in s.get_inputs()}, rng)
        if args.neighbors:
            f["neighbors"] = np.array([True])
        if args.reuse:
            first = dict(zip([o.name for o in sb.get_outputs()], sb.run(None, f)))
            L, H = cfg["n_layers"], cfg["n_kv_heads"]
            prev = np.concatenate([first[f"selected.{m}"] for m in range(1, L)], 0).reshape((L - 1) * H, -1)
            f = dict(f, reuse_selection=np.array([True]), prev_selected=prev)
        fa, fb = ({k: v for k, v in f.items() if k in {i.name for i in s.get_inputs()}} for s in (sa, sb))  # a graph without `neighbors`
        same = all(np.array_equal(x, y) for x, y in zip(sa.run(None, fa), sb.run(None, fb)))
        ta, tb = [], []
        for i in range(args.runs):
            for s, ff, ts in ((sa, fa, ta), (sb, fb, tb)) if i % 2 == 0 else ((sb, fb, tb), (sa, fa, ta)):
                t = time.perf_counter()
                s.run(None, ff)
                ts.append((time.perf_counter() - t) * 1e3)
        a, b = float(np.median(ta)), float(np.median(tb))
        print(f"context {P}: A {a:.3f} ms, B {b:.3f} ms, A-B {a - b:+.3f} ms, A/B {a / b:.3f}x, outputs identical: {same}")


if __name__ == "__main__":
    main()
