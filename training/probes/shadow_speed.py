"""ShadowLLM speed side on the 0.5B shape (issue 29, item 4, prototype only): one decode step through a stack
of random-weight SwiGLU FFN blocks of Qwen2.5-Coder-0.5B's shape (d 896, 4,864 neurons), in onnxruntime at
1 thread, fp32: the full FFN against one that gathers only the chosen neuron blocks (a different random
choice every step, as a per-token predictor would make).

    python3 training/probes/shadow_speed.py --layers 8 --block 64 --keep 0.25,0.5,0.75

Both graphs store each block's gate and up rows together ([blocks, 2 * block, d]) and its down_proj rows
([blocks, block, d]) and run the same ops (Gemm transB for gate and up, MatMul for down); the gathered one
first copies the chosen blocks with Gather (stock onnxruntime has no gathered matrix-vector product).
Not the engine (src/ is untouched): an estimate of what a gathered decode graph can save on weight reads,
FFN only (attention and the output head excluded)."""
from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from tbtrain.paths import TRAINING


def build(layers: int, d: int, ffn: int, block: int, gathered: bool, rng) -> bytes:
    """The same code path for both: gate/up rows of each block together ([blocks, 2 * block, d]), one Gemm
    (transB) for gate and up, SiLU * up, one MatMul for down ([blocks, block, d]); gathered: the rows of the
    chosen blocks are gathered first (idx [layers, k])."""
    nb = ffn // block
    nodes, inits = [], []
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, d])]
    if gathered:
        inputs.append(helper.make_tensor_value_info("idx", TensorProto.INT64, [layers, "k"]))
    x = "x"
    for l in range(layers):
        p = f"l{l}_"
        inits += [numpy_helper.from_array(rng.standard_normal((nb, 2 * block, d), dtype=np.float32) * 0.02, p + "wgu"),
                  numpy_helper.from_array(rng.standard_normal((nb, block, d), dtype=np.float32) * 0.02, p + "wd")]
        wgu, wd = p + "wgu", p + "wd"
        if gathered:
            inits.append(numpy_helper.from_array(np.array([l], np.int64), p + "li"))
            nodes += [helper.make_node("Gather", ["idx", p + "li"], [p + "ix"], axis=0),      # [1, k]
                      helper.make_node("Squeeze", [p + "ix", "zero"], [p + "i"]),
                      helper.make_node("Gather", [p + "wgu", p + "i"], [p + "wgu_k"], axis=0),  # [k, 2b, d]: a copy
                      helper.make_node("Gather", [p + "wd", p + "i"], [p + "wd_k"], axis=0)]    # [k, b, d]
            wgu, wd = p + "wgu_k", p + "wd_k"
        nodes += [helper.make_node("Reshape", [wgu, "rows"], [p + "wgu2"]),                   # [k * 2b, d]
                  helper.make_node("Gemm", [x, p + "wgu2"], [p + "gu"], transB=1),            # [1, k * 2b]
                  helper.make_node("Reshape", [p + "gu", "blocks"], [p + "gu3"]),             # [1, k, 2b]
                  helper.make_node("Split", [p + "gu3", "halves"], [p + "g", p + "u"], axis=-1),
                  helper.make_node("Sigmoid", [p + "g"], [p + "sg"]),
                  helper.make_node("Mul", [p + "g", p + "sg"], [p + "silu"]),
                  helper.make_node("Mul", [p + "silu", p + "u"], [p + "a3"]),
                  helper.make_node("Reshape", [p + "a3", "flat"], [p + "a"]),                 # [1, k * b]
                  helper.make_node("Reshape", [wd, "drows"], [p + "wd2"]),                    # [k * b, d]
                  helper.make_node("MatMul", [p + "a", p + "wd2"], [p + "y"]),
                  helper.make_node("Add", [x, p + "y"], [p + "out"])]
        x = p + "out"
    consts = [("rows", [-1, d]), ("blocks", [1, -1, 2 * block]), ("halves", [block, block]), ("flat", [1, -1]), ("drows", [-1, d])]
    inits += [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in consts + ([("zero", [0])] if gathered else [])]
    nodes.append(helper.make_node("Identity", [x], ["y"]))
    g = helper.make_graph(nodes, "ffn", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, d])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    return m.SerializeToString()


def session(model: bytes) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def timed(run, reps: int) -> float:
    run(); run()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); run(); ts.append(time.perf_counter() - t)
    return 1000 * statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--d", type=int, default=896)
    ap.add_argument("--ffn", type=int, default=4864)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--keep", default="0.25,0.5,0.75")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--out", default=str(TRAINING / "work/shadow/speed.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    nb = args.ffn // args.block
    x = rng.standard_normal((1, args.d), dtype=np.float32)
    full = session(build(args.layers, args.d, args.ffn, args.block, False, np.random.default_rng(1)))
    res = {"shape": vars(args), "full_ms": timed(lambda: full.run(None, {"x": x}), args.reps)}
    gat = session(build(args.layers, args.d, args.ffn, args.block, True, np.random.default_rng(1)))  # the same weights
    # parity at keep 100%: the gathered graph with every block equals the full one
    every = np.tile(np.arange(nb, dtype=np.int64), (args.layers, 1))
    res["parity_max_abs"] = float(np.abs(gat.run(None, {"x": x, "idx": every})[0] - full.run(None, {"x": x})[0]).max())
    res["gathered"] = {}
    for keep in [float(k) for k in args.keep.split(",")] + [1.0]:
        k = max(1, int(round(keep * nb)))
        picks = [np.stack([np.sort(rng.permutation(nb)[:k]) for _ in range(args.layers)]).astype(np.int64) for _ in range(args.reps + 2)]
        feeds = iter([{"x": x, "idx": p} for p in picks])
        ms = timed(lambda f=feeds: gat.run(None, next(f)), args.reps)
        res["gathered"][str(keep)] = {"blocks": k, "ms": ms, "speedup": res["full_ms"] / ms}
    print(json.dumps(res, indent=1))
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
