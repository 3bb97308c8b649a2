"""Speed probe for issue 26 item 3 (a compact KV cache): one layer's decode-step attention (S = 1,
Hkv = H = 4 heads of D = 64, the default model's shape) over a cache of C slots, in onnxruntime CPU
with one intra-op thread, for the float32 cache against compact forms of the same cache:

  f32          MatMul(q, K^T) -> Softmax -> MatMul(p, V)                 (what dense.onnx does today)
  f16cast      fp16 K/V, Cast to f32, then as f32
  i8cast       int8 K/V (per-(head, channel) steps, folded into q and the output), Cast to f32, then as f32
  i8mmi        int8 K stored transposed [Hkv, D, C] and int8 V: MatMulInteger with the query and the
               probabilities quantized to u8 on the fly (DynamicQuantizeLinear)
  f16mm        fp16 MatMul/Softmax end to end (only if the CPU EP has fp16 kernels)
  f16gqa/mha   com.microsoft GroupQueryAttention / MultiHeadAttention fp16 (only if they load)
  *_sel        the sparse step's form: Gather of K = 2,184 selected rows (8 sinks + 2,048 + 128 recent)
               first, then the cast of those rows only

python3 training/probes/kv_compact_speed.py [--ctx 2048,8192,32768] [--reps 60]
Prints median ms per call; all variants of one context run interleaved round by round.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as T
from onnx import helper as h

H, D = 4, 64


def model(nodes, ins, outs, inits=(), ms=False):
    g = h.make_graph(nodes, "p", ins, outs, initializer=list(inits))
    ops = [h.make_opsetid("", 17)] + ([h.make_opsetid("com.microsoft", 1)] if ms else [])
    m = h.make_model(g, opset_imports=ops)
    m.ir_version = 8
    return m


def vi(n, t, s):
    return h.make_tensor_value_info(n, t, s)


def c64(name, v):
    return onnx.numpy_helper.from_array(np.asarray(v, np.int64), name)


def attn_nodes(K, V, q="q", dtype_cast=None, pre=()):
    n = list(pre)
    if dtype_cast is not None:
        n += [h.make_node("Cast", [K], ["Kf"], to=T.FLOAT), h.make_node("Cast", [V], ["Vf"], to=T.FLOAT)]
        K, V = "Kf", "Vf"
    n += [h.make_node("Transpose", [K], ["Kt"], perm=[0, 2, 1]), h.make_node("MatMul", [q, "Kt"], ["s"]),
          h.make_node("Softmax", ["s"], ["p"], axis=-1), h.make_node("MatMul", ["p", V], ["o"])]
    return n


def build(kind: str, sel: bool):
    out = [vi("o", T.FLOAT, None)]
    et = {"f32": T.FLOAT, "f16cast": T.FLOAT16, "i8cast": T.INT8}.get(kind)
    if kind in ("f32", "f16cast", "i8cast"):
        ins = [vi("q", T.FLOAT, [H, 1, D]), vi("K", et, [H, "C", D]), vi("V", et, [H, "C", D])]
        pre, K, V, inits = [], "K", "V", []
        if sel:
            ins.append(vi("rows", T.INT64, [H, "K"]))
            inits = [c64("flat", [-1, D])]
            pre = [h.make_node("Reshape", ["K", "flat"], ["Kflat"]), h.make_node("Reshape", ["V", "flat"], ["Vflat"]),
                   h.make_node("Gather", ["Kflat", "rows"], ["Kg"], axis=0), h.make_node("Gather", ["Vflat", "rows"], ["Vg"], axis=0)]
            K, V = "Kg", "Vg"
        return model(attn_nodes(K, V, dtype_cast=None if kind == "f32" else True, pre=pre), ins, out, inits)
    if kind == "f16mm":
        ins = [vi("q", T.FLOAT16, [H, 1, D]), vi("K", T.FLOAT16, [H, "C", D]), vi("V", T.FLOAT16, [H, "C", D])]
        return model(attn_nodes("K", "V"), ins, [vi("o", T.FLOAT16, None)])
    if kind == "i8mmi":
        # K8t [H, D, C] int8; V8 [H, C, D] int8; q float [H, 1, D]
        ins = [vi("q", T.FLOAT, [H, 1, D]), vi("K", T.INT8, [H, D, "C"]), vi("V", T.INT8, [H, "C", D])]
        n = [h.make_node("DynamicQuantizeLinear", ["q"], ["qu", "qs", "qz"]),
             h.make_node("MatMulInteger", ["qu", "K", "qz"], ["si"]),
             h.make_node("Cast", ["si"], ["sf"], to=T.FLOAT), h.make_node("Mul", ["sf", "qs"], ["s"]),
             h.make_node("Softmax", ["s"], ["p"], axis=-1),
             h.make_node("DynamicQuantizeLinear", ["p"], ["pu", "ps", "pz"]),
             h.make_node("MatMulInteger", ["pu", "V", "pz"], ["oi"]),
             h.make_node("Cast", ["oi"], ["of"], to=T.FLOAT), h.make_node("Mul", ["of", "ps"], ["o"])]
        return model(n, ins, out)
    if kind == "i8rows":
        # K stored as u8 (int8 + 128) in the natural row layout [H, C, D], the A operand (zero point 128) against the
        # query quantized to s8 per head as B [H, D, 1] (an N = 1 GEMM); V int8 [H, C, D] as B against u8 probabilities
        ins = [vi("q", T.FLOAT, [H, 1, D]), vi("K", T.UINT8, [H, "C", D]), vi("V", T.INT8, [H, "C", D])]
        inits = [onnx.numpy_helper.from_array(np.array(128, np.uint8), "z128"),
                 onnx.numpy_helper.from_array(np.array(127.0, np.float32), "f127"),
                 onnx.numpy_helper.from_array(np.array(255.0, np.float32), "f255"), c64("pt", [0, 2, 1])]
        n = [h.make_node("ReduceMax", ["qa"], ["qm"], axes=[-1], keepdims=1), h.make_node("Abs", ["q"], ["qa"]),
             h.make_node("Div", ["qm", "f127"], ["qs"]), h.make_node("Div", ["q", "qs"], ["qq"]),
             h.make_node("Round", ["qq"], ["qr"]), h.make_node("Cast", ["qr"], ["q8"], to=T.INT8),
             h.make_node("Transpose", ["q8"], ["q8t"], perm=[0, 2, 1]),
             h.make_node("MatMulInteger", ["K", "q8t", "z128"], ["si"]),
             h.make_node("Cast", ["si"], ["sf"], to=T.FLOAT), h.make_node("Transpose", ["sf"], ["sft"], perm=[0, 2, 1]),
             h.make_node("Mul", ["sft", "qs"], ["s"]),
             h.make_node("Softmax", ["s"], ["p"], axis=-1),
             h.make_node("ReduceMax", ["p"], ["pm"], axes=[-1], keepdims=1), h.make_node("Div", ["pm", "f255"], ["ps"]),
             h.make_node("Div", ["p", "ps"], ["pq"]), h.make_node("Round", ["pq"], ["pr"]), h.make_node("Cast", ["pr"], ["pu"], to=T.UINT8),
             h.make_node("MatMulInteger", ["pu", "V"], ["oi"]),
             h.make_node("Cast", ["oi"], ["of"], to=T.FLOAT), h.make_node("Mul", ["of", "ps"], ["o"])]
        n = n[1:2] + n[:1] + n[2:]
        return model(n, ins, out, inits)
    if kind in ("f16gqa", "f16mha", "f32mha"):
        ft = T.FLOAT if kind == "f32mha" else T.FLOAT16
        # MultiHeadAttention with past K/V given as key/value [B, H, C, D] (BNSH)
        ins = [vi("q", ft, [1, 1, H * D]), vi("K", ft, [1, H, "C", D]), vi("V", ft, [1, H, "C", D])]
        n = [h.make_node("MultiHeadAttention", ["q", "K", "V"], ["o"], domain="com.microsoft", num_heads=H)]
        return model(n, ins, [vi("o", ft, None)], ms=True)
    raise ValueError(kind)


def feeds(kind: str, C: int, sel: bool, rng):
    q = rng.standard_normal((H, 1, D)).astype(np.float32)
    K = rng.standard_normal((H, C, D)).astype(np.float32)
    V = rng.standard_normal((H, C, D)).astype(np.float32)
    if kind == "f16cast" or kind == "f16mm":
        f = {"q": q.astype(np.float16) if kind == "f16mm" else q, "K": K.astype(np.float16), "V": V.astype(np.float16)}
    elif kind == "i8cast":
        f = {"q": q, "K": (K * 30).clip(-127, 127).astype(np.int8), "V": (V * 30).clip(-127, 127).astype(np.int8)}
    elif kind == "i8mmi":
        f = {"q": q, "K": np.ascontiguousarray((K * 30).clip(-127, 127).astype(np.int8).transpose(0, 2, 1)),
             "V": (V * 30).clip(-127, 127).astype(np.int8)}
    elif kind == "i8rows":
        f = {"q": q, "K": ((K * 30).clip(-127, 127) + 128).astype(np.uint8), "V": (V * 30).clip(-127, 127).astype(np.int8)}
    elif kind in ("f16gqa", "f16mha", "f32mha"):
        ft = np.float32 if kind == "f32mha" else np.float16
        f = {"q": q.reshape(1, 1, H * D).astype(ft), "K": K[None].astype(ft), "V": V[None].astype(ft)}
    else:
        f = {"q": q, "K": K, "V": V}
    if sel:
        k = min(C, 2184)
        rows = np.sort(rng.choice(C, size=(H, k), replace=True), -1) + (np.arange(H) * C)[:, None]
        f["rows"] = rows.astype(np.int64)
    return f


def session(m):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ctx", default="2048,8192,32768")
    ap.add_argument("--reps", type=int, default=60)
    ap.add_argument("--kinds", default="f32,f16cast,i8cast,i8mmi,f16mm,f16mha,f32mha,f32_sel,f16cast_sel,i8cast_sel")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    for C in map(int, args.ctx.split(",")):
        runs = {}
        for name in args.kinds.split(","):
            sel = name.endswith("_sel")
            kind = name.removesuffix("_sel")
            try:
                s = session(build(kind, sel))
                f = feeds(kind, C, sel, rng)
                s.run(None, f)
                runs[name] = (s, f, [])
            except Exception as e:  # a kernel the CPU EP lacks
                print(f"C={C} {name}: unavailable ({str(e).splitlines()[0][:120]})")
        for _ in range(args.reps):
            for s, f, ts in runs.values():
                t = time.perf_counter(); s.run(None, f); ts.append(time.perf_counter() - t)
        base = np.median(runs["f32"][2]) if "f32" in runs else None
        for name, (_, _, ts) in runs.items():
            med = np.median(ts) * 1e3
            print(f"C={C:6d} {name:12s} {med:8.3f} ms" + (f"   f32/this {base * 1e3 / med:5.2f}x" if base else ""))


if __name__ == "__main__":
    main()
