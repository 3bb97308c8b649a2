"""The compact KV cache in the graphs (`config.kv_cache` = "int8"; tbtrain/kv_quant.py is the reference):
the chunk's new K/V rows rounded at their own step (outputs), and the two products over the cached rows as
u8 x s8 MatMulIntegers. The float32 cache (`"f32"`) keeps the plain MatMuls of graph_attention.py."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from tbtrain.graph_ops import G, Shared
from tbtrain.kv_quant import K_OFFSET, QMAX_KV, QMAX_P, QMAX_Q
from tbtrain.model import Config


def row_step(g: G, x, qmax: int, absolute: bool = True):
    """Per-row step of x [..., D] (keepdims): max(max|x| / qmax, 1e-30)."""
    m = g.op("ReduceMax", g.op("Abs", x) if absolute else x, axes=[-1], keepdims=1)
    return g.op("Max", g.op("Div", m, g.const(float(qmax), np.float32)), g.const(1e-30, np.float32))


def rounded(g: G, x, step):
    """round(x / step): within [-qmax, qmax] without a Clip, since |x| <= max|x| and step >= max|x| / qmax in float32
    (the quotient is at most qmax·(1 + 2^-23), which rounds to qmax; the reference's clamp never acts)."""
    return g.op("Round", g.op("Div", x, step))


def new_rows(g: G, c: Config, sh: Shared, k, v, l: int):
    """Outputs new_k.l (u8 [Hkv, S, D]: value + 128), new_v.l (int8) and their steps new_ks.l / new_vs.l (f32 [Hkv, S, 1],
    the memory layout of [Hkv, S])."""
    Hkv, D = c.n_kv_heads, c.head_dim
    ks, vs = row_step(g, k, QMAX_KV), row_step(g, v, QMAX_KV)
    k8 = g.op("Add", rounded(g, k, ks), g.const(float(K_OFFSET), np.float32))
    g.rename(g.op("Cast", k8, to=TensorProto.UINT8), f"new_k.{l}")
    g.rename(g.op("Cast", rounded(g, v, vs), to=TensorProto.INT8), f"new_v.{l}")
    g.rename(ks, f"new_ks.{l}")
    g.rename(vs, f"new_vs.{l}")
    sh.outs += [helper.make_tensor_value_info(f"new_k.{l}", TensorProto.UINT8, [Hkv, "S", D]),
                helper.make_tensor_value_info(f"new_v.{l}", TensorProto.INT8, [Hkv, "S", D]),
                helper.make_tensor_value_info(f"new_ks.{l}", TensorProto.FLOAT, [Hkv, "S", 1]),
                helper.make_tensor_value_info(f"new_vs.{l}", TensorProto.FLOAT, [Hkv, "S", 1])]


def past_scores(g: G, qh, Kp, ks):
    """qh [Hkv, R, D] against the cached u8 keys Kp [Hkv, n, D] (steps ks [Hkv, n]): [Hkv, R, n]. The keys are
    MatMulInteger's A (zero point 128, rows read in place) and the query, rounded per row to [-63, 63], its
    s8 B [Hkv, D, R]: an N = R product, so a decode step reads each key byte once."""
    qs = row_step(g, qh, QMAX_Q)                                                            # [Hkv, R, 1]
    q8 = g.op("Cast", rounded(g, qh, qs), to=TensorProto.INT8)
    dot = g.op("MatMulInteger", Kp, g.op("Transpose", q8, perm=[0, 2, 1]), g.const(K_OFFSET, np.uint8))   # [Hkv, n, R]
    s = g.op("Cast", g.op("Transpose", dot, perm=[0, 2, 1]), to=TensorProto.FLOAT)
    return g.op("Mul", g.op("Mul", s, g.op("Unsqueeze", ks, g.const([1]))), qs)


def past_values(g: G, p, Vp, vs):
    """The past slots' probabilities p [Hkv, R, n] read the int8 values Vp [Hkv, n, D] (steps vs [Hkv, n]):
    p weighted by the steps, rounded per row to u8 [0, 127], MatMulInteger's A: [Hkv, R, D]."""
    pw = g.op("Mul", p, g.op("Unsqueeze", vs, g.const([1])))
    ps = row_step(g, pw, QMAX_P, absolute=False)
    pu = g.op("Cast", rounded(g, pw, ps), to=TensorProto.UINT8)
    return g.op("Mul", g.op("Cast", g.op("MatMulInteger", pu, Vp), to=TensorProto.FLOAT), ps)
