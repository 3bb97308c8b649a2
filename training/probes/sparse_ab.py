"""Two sparse graphs timed side by side: the same random cache and inputs, runs alternating A/B, one
thread, p50 ms per decode step at each context; also whether their outputs are identical.

python3 training/probes/sparse_ab.py --a OLD.onnx --b models/default/sparse.int8.onnx --context 2048,8192,16384,32768
(an older graph: git show REV:models/default/sparse.int8.onnx > /tmp/old.onnx)
"""
from __future__ import annotations

import argparse
import json
import pathlib
import time

import numpy as np
import onnxruntime as ort


def feeds(cfg: dict, P: int, budget: int, names: set, rng) -> dict:
    H, D, E, L, V = cfg["n_kv_heads"], cfg["head_dim"], cfg["imp_dim"], cfg["n_layers"], cfg["vocab_size"]
    cap = P + 64
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    f = {"input_ids": rng.integers(5, V, (1, 1)), "prev_id": i64(9), "start_pos": i64(P), "budget": i64(budget),
         "ctx_ids": rng.integers(5, V, cap), "sinks": i64(8), "recent": i64(128),
         "reuse_selection": np.array([False]), "prev_selected": np.zeros(((L - 1) * H, 0), np.int64)}
    for layer in range(L):
        f[f"past_k.{layer}"] = rng.standard_normal((H, cap, D)).astype(np.float32)
        f[f"past_v.{layer}"] = rng.standard_normal((H, cap, D)).astype(np.float32)
        if layer:
            ik = rng.integers(-63, 64, (H, E, cap)).astype(np.int8)
            f[f"past_ik_t.{layer}"], f[f"past_iksum.{layer}"] = ik, (64 * ik.astype(np.int32).sum(1)).astype(np.int32)
    return {k: v for k, v in f.items() if k in names}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", default="models/default/sparse.int8.onnx")
    ap.add_argument("--model", default="models/default", help="the folder whose manifest gives the config")
    ap.add_argument("--context", default="2048,8192,16384,32768")
    ap.add_argument("--budget", type=int, default=512)
    ap.add_argument("--runs", type=int, default=60)
    args = ap.parse_args()
    cfg = json.loads((pathlib.Path(args.model) / "manifest.json").read_text())["config"]
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    sa, sb = (ort.InferenceSession(p, so, providers=["CPUExecutionProvider"]) for p in (args.a, args.b))
    rng = np.random.default_rng(0)
    for P in (int(x) for x in args.context.split(",")):
        f = feeds(cfg, P, args.budget, {i.name for i in sa.get_inputs()}, rng)
        same = all(np.array_equal(x, y) for x, y in zip(sa.run(None, f), sb.run(None, f)))
        ta, tb = [], []
        for i in range(args.runs):
            for s, ts in ((sa, ta), (sb, tb)) if i % 2 == 0 else ((sb, tb), (sa, ta)):
                t = time.perf_counter()
                s.run(None, f)
                ts.append((time.perf_counter() - t) * 1e3)
        a, b = float(np.median(ta)), float(np.median(tb))
        print(f"context {P}: A {a:.3f} ms, B {b:.3f} ms, A-B {a - b:+.3f} ms, A/B {a / b:.3f}x, outputs identical: {same}")


if __name__ == "__main__":
    main()
