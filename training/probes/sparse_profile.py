"""Where a sparse decode step's time goes: the graph run with onnxruntime profiling (1 thread) on a
random int8 cache, a fresh step and a reuse step (prediction interval > 1, reuse_selection true),
kernel time summed per scope (node-name prefix: selection / predictor / model ...) and per op type
of the selection scope. Nodes inside If branches are counted themselves, the If node is not.

python3 training/probes/sparse_profile.py [--graph models/default/sparse.int8.onnx] [--context 2048,32768] [--runs 20]
"""
from __future__ import annotations

import argparse
import collections
import json
import pathlib
import sys
import tempfile

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.ort_runner import random_sparse_feeds as feeds  # noqa: E402


def profile(graph: str, f: dict, runs: int) -> tuple[dict, dict, float]:
    """(ms per scope, ms per selection op type, wall ms p50) over `runs` runs."""
    import time
    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.intra_op_num_threads = so.inter_op_num_threads = 1
        so.enable_profiling = True
        so.profile_file_prefix = str(pathlib.Path(tmp) / "p")
        s = ort.InferenceSession(graph, so, providers=["CPUExecutionProvider"])
        s.run(None, f)
        walls = []
        for _ in range(runs):
            t = time.perf_counter()
            s.run(None, f)
            walls.append((time.perf_counter() - t) * 1e3)
        events = json.loads(pathlib.Path(s.end_profiling()).read_text())
    scope, ops, nodes = collections.Counter(), collections.Counter(), collections.Counter()
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time") or e["args"].get("op_name") == "If":
            continue
        sc = e["name"].split("/")[0] if "/" in e["name"] else "model"
        ms = e["dur"] / 1000 / (runs + 1)
        scope[sc] += ms
        if sc == "selection":
            ops[e["args"]["op_name"]] += ms
            shape = [list(d.values())[0] for d in e["args"].get("output_type_shape", [])][:1]
            nodes[f'{e["name"][:-len("_kernel_time")]} {shape}'] += ms
    return dict(scope), dict(ops), dict(nodes), float(np.median(walls))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--graph", default="models/default/sparse.int8.onnx")
    ap.add_argument("--model", default="models/default")
    ap.add_argument("--context", default="2048,32768")
    ap.add_argument("--budget", type=int, default=512)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--nodes", type=int, default=0, help="also print the N costliest selection nodes (name, output shape)")
    args = ap.parse_args()
    cfg = json.loads((pathlib.Path(args.model) / "manifest.json").read_text())["config"]
    L, H = cfg["n_layers"], cfg["n_kv_heads"]
    sess = ort.InferenceSession(args.graph, providers=["CPUExecutionProvider"])
    inputs = {i.name: i.type for i in sess.get_inputs()}
    rng = np.random.default_rng(0)
    for P in (int(x) for x in args.context.split(",")):
        f = feeds(cfg, P, args.budget, inputs, rng)
        first = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, f)))
        reuse = dict(f, reuse_selection=np.array([True]),
                     prev_selected=np.concatenate([first[f"selected.{m}"] for m in range(1, L)], 0).reshape((L - 1) * H, -1))
        for name, ff in (("fresh", f), ("fresh+neighbours", dict(f, neighbors=np.array([True]))), ("reuse", reuse)):
            scope, ops, nodes, wall = profile(args.graph, ff, args.runs)
            top = sorted(ops.items(), key=lambda kv: -kv[1])
            by_scope = ", ".join(f"{k} {v:.2f}" for k, v in sorted(scope.items(), key=lambda kv: -kv[1]))
            print(f"context {P} {name}: wall p50 {wall:.2f} ms; {by_scope}")
            print("   selection ops: " + ", ".join(f"{k} {v:.3f}" for k, v in top))
            for k, v in sorted(nodes.items(), key=lambda kv: -kv[1])[:args.nodes]:
                print(f"     {v:.3f} {k}")


if __name__ == "__main__":
    main()
