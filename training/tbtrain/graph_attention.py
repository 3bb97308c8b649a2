"""One layer of the graphs: attention over the cache and the new chunk, the new cache rows, the MLP."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from tbtrain import graph_kv
from tbtrain.graph_ops import G, Shared, heads, linear, rms
from tbtrain.graph_select import gather_selected
from tbtrain.model import Config
from tbtrain.predictor import QMAX, QQ_OFFSET


def block(g: G, c: Config, sh: Shared, x, l: int, sparse: bool, layer0: str, sel_idx: dict):
    """Layer l: attention over the cache (all of it, layer 0's window, or the selected rows) and the new
    chunk, the chunk's new K/V (and importance-key) rows as outputs, then the MLP."""
    H, Hkv, D = c.n_heads, c.n_kv_heads, c.head_dim
    rep = H // Hkv
    p = f"model.layers.{l}."
    g.scope = "model"
    xn = sh.mark(f"xn.{l}", rms(g, x, p + "input_layernorm.weight", c.norm_eps))
    def proj(name, bias):  # a linear, + its bias (Qwen2's q/k/v)
        y = linear(g, xn, p + name + ".weight")
        return g.op("Add", y, p + name + ".bias") if bias else y
    q = sh.rope(heads(g, proj("self_attn.q_proj", c.attn_bias), H, D))
    kpre = heads(g, proj("self_attn.k_proj", c.attn_bias), Hkv, D)
    k = sh.rope(kpre)
    v = heads(g, proj("self_attn.v_proj", c.attn_bias), Hkv, D)
    sh.mark(f"k.{l}", k); sh.mark(f"v.{l}", v)
    int8 = c.kv_cache == "int8"
    if int8:  # the cache's rows: int8 at their own step (graph_kv.py)
        graph_kv.new_rows(g, c, sh, k, v, l)
    else:
        g.rename(k, f"new_k.{l}"); g.rename(v, f"new_v.{l}")
        sh.outs += [helper.make_tensor_value_info(f"new_k.{l}", TensorProto.FLOAT, [Hkv, "S", D]),
                    helper.make_tensor_value_info(f"new_v.{l}", TensorProto.FLOAT, [Hkv, "S", D])]
    if l >= 1:
        importance_keys(g, c, sh, kpre, l)
    qh = g.op("Mul", g.op("Reshape", q, g.const([Hkv, -1, D])), sh.scale)  # [Hkv, rep*S, D]
    Kp, Vp, mask = f"past_k.{l}", f"past_v.{l}", sh.past_mask
    Ks, Vs = (f"past_ks.{l}", f"past_vs.{l}") if int8 else (None, None)   # the rows' steps [Hkv, C]
    src_past = lambda kv: "ctx_ids"
    if sparse and l == 0 and layer0 == "window":
        # layer 0 reads only the sinks and the recent window: contiguous row ranges, no scoring
        rows = g.op("Concat", sh.sink_rows, sh.recent_rows, axis=0)
        Kp = g.op("Gather", Kp, rows, axis=1)
        Vp = g.op("Gather", Vp, rows, axis=1)
        if int8:
            Ks, Vs = g.op("Gather", Ks, rows, axis=1), g.op("Gather", Vs, rows, axis=1)
        mask = None
        if c.copy_heads:
            src_past = lambda kv: g.op("Gather", "ctx_ids", rows)
    if sparse and l >= 1:
        Kp, Vp, src_past, Ks, Vs = gather_selected(g, c, sh, sel_idx[l], Kp, Vp, l, Ks, Vs)
        mask = None
    for key, t in (("Kp", Kp), ("Vp", Vp), ("Ks", Ks), ("Vs", Vs), ("mask", mask)):
        sh.mark(f"{key}.{l}", t)
    g.scope = "attention"
    if int8:
        s_past = graph_kv.past_scores(g, qh, Kp, Ks)
    else:
        s_past = g.op("MatMul", qh, g.op("Transpose", Kp, perm=[0, 2, 1]))
    if mask is not None:
        s_past = g.op("Add", s_past, mask)
    s_new = g.op("Add", g.op("MatMul", qh, g.op("Transpose", k, perm=[0, 2, 1])), sh.causal)
    n_past = g.op("Shape", s_past, start=2)
    prob = g.op("Softmax", g.op("Concat", s_past, s_new, axis=-1), axis=-1)
    p_past, p_new = g.op("Split", prob, g.op("Concat", n_past, sh.S, axis=0), axis=-1, n_out=2)
    if sparse and l >= 1:
        # [Hkv, K]: mean over the group's query heads (and chunk positions)
        w = sh.mark(f"selw.{l}", g.op("ReduceMean", p_past, axes=[1], keepdims=0))
        g.rename(w, f"selected_w.{l}")
        sh.outs.append(helper.make_tensor_value_info(f"selected_w.{l}", TensorProto.FLOAT, [Hkv, "K"]))
    for f in c.copy_heads:
        if f // H != l:
            continue
        g.scope = "pointer"
        h = f % H; kv = h // rep
        row = g.op("Sub", g.op("Mul", sh.S, g.const([h % rep + 1])), g.const([1]))      # query row (h % rep)*S + S-1
        row_p = g.op("Squeeze", g.op("Gather", g.op("Gather", prob, g.const(kv), axis=0), row, axis=0), g.const([0]))
        sh.copy_rows[f] = sh.mark(f"copy.{f}", row_p)
        sh.copy_src[f] = g.op("Concat", src_past(kv), sh.ids, axis=0)
        g.scope = "attention"
    o_past = graph_kv.past_values(g, p_past, Vp, Vs) if int8 else g.op("MatMul", p_past, Vp)
    o = g.op("Add", o_past, g.op("MatMul", p_new, v))     # [Hkv, rep*S, D]
    o = g.op("Reshape", g.op("Transpose", g.op("Reshape", o, g.const([H, -1, D])), perm=[1, 0, 2]), g.const([-1, H * D]))
    g.scope = "model"
    o = sh.mark(f"attn_out.{l}", linear(g, o, p + "self_attn.o_proj.weight"))
    if c.o_bias:
        o = g.op("Add", o, p + "self_attn.o_proj.bias")
    x = g.op("Add", x, o)
    xn = sh.mark(f"ffn_in.{l}", rms(g, x, p + "post_attention_layernorm.weight", c.norm_eps))
    gate = linear(g, xn, p + "mlp.gate_proj.weight")
    hmid = g.op("Mul", g.op("Mul", gate, g.op("Sigmoid", gate)), linear(g, xn, p + "mlp.up_proj.weight"))
    return g.op("Add", x, sh.mark(f"ffn_out.{l}", linear(g, hmid, p + "mlp.down_proj.weight")))


def importance_keys(g: G, c: Config, sh: Shared, kpre, l: int):
    """The chunk's int8 importance keys of layer l (predictor.quant_keys) and 64 x their dim sums, as outputs."""
    Hkv, E = c.n_kv_heads, c.imp_dim
    kp = g.op("Gather", "predictor.key_proj", g.const(l - 1))      # [Hkv, D, E]
    ik = g.op("Div", sh.imp_rope(g.op("MatMul", kpre, kp), l), g.op("Gather", "predictor.ik_scale", g.const(l - 1)))
    ik = g.op("Clip", g.op("Round", ik), g.const(-float(QMAX), np.float32), g.const(float(QMAX), np.float32))
    g.rename(g.op("Cast", ik, to=TensorProto.INT8), f"new_ik.{l}")
    g.rename(g.op("Cast", g.op("Mul", g.op("ReduceSum", ik, g.const([-1]), keepdims=0), g.const(float(QQ_OFFSET), np.float32)),
                  to=TensorProto.INT32), f"new_iksum.{l}")   # 64 x the dim sum (exact: |.| <= 64 * 127 * E < 2^24)
    sh.outs.append(helper.make_tensor_value_info(f"new_ik.{l}", TensorProto.INT8, [Hkv, "S", E]))
    sh.outs.append(helper.make_tensor_value_info(f"new_iksum.{l}", TensorProto.INT32, [Hkv, "S"]))
