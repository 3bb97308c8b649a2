"""The graphs' inputs and what every layer reads before the first one: embeddings, RoPE tables, masks."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from tbtrain.graph_ops import G, linear, sq
from tbtrain.model import Config
from tbtrain.predictor import NEG


def inputs(c: Config, sparse: bool) -> list:
    L, Hkv, D, E = c.n_layers, c.n_kv_heads, c.head_dim, c.imp_dim
    ins = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "S"]),
           helper.make_tensor_value_info("prev_id", TensorProto.INT64, [1]),
           helper.make_tensor_value_info("start_pos", TensorProto.INT64, [1])]
    for l in range(L):
        if c.kv_cache == "int8":  # K as u8 (value + 128), V as int8, each row's step beside them (tbtrain/kv_quant.py)
            ins += [helper.make_tensor_value_info(f"past_k.{l}", TensorProto.UINT8, [Hkv, "C", D]),
                    helper.make_tensor_value_info(f"past_v.{l}", TensorProto.INT8, [Hkv, "C", D]),
                    helper.make_tensor_value_info(f"past_ks.{l}", TensorProto.FLOAT, [Hkv, "C"]),
                    helper.make_tensor_value_info(f"past_vs.{l}", TensorProto.FLOAT, [Hkv, "C"])]
            continue
        ins += [helper.make_tensor_value_info(f"past_k.{l}", TensorProto.FLOAT, [Hkv, "C", D]),
                helper.make_tensor_value_info(f"past_v.{l}", TensorProto.FLOAT, [Hkv, "C", D])]
    if sparse:
        for l in range(1, L):
            # importance keys stored transposed, [Hkv, E, C]: scoring reads them in place (no per-step transpose of the cache)
            ins.append(helper.make_tensor_value_info(f"past_ik_t.{l}", TensorProto.INT8, [Hkv, E, "C"]))
            # 64 x each slot's key dim sum
            ins.append(helper.make_tensor_value_info(f"past_iksum.{l}", TensorProto.INT32, [Hkv, "C"]))
        ins += [helper.make_tensor_value_info(n, TensorProto.INT64, [1]) for n in ("budget", "sinks", "recent")]
        ins += [helper.make_tensor_value_info("reuse_selection", TensorProto.BOOL, [1]),
                helper.make_tensor_value_info("prev_selected", TensorProto.INT64, [(L - 1) * Hkv, "K"]),
                helper.make_tensor_value_info("neighbors", TensorProto.BOOL, [1])]  # neighbour fetch (graph_select.neighbour_scores)
    if c.copy_heads:  # the token id of every cache slot (slots >= start_pos are ignored), for the pointer heads
        ins.append(helper.make_tensor_value_info("ctx_ids", TensorProto.INT64, ["C"]))
    return ins


def embed(g: G, c: Config):
    """The chunk's embeddings (+ the projected previous-token embedding): ids [S], S, C, x [S, d]."""
    ids = g.op("Squeeze", "input_ids", g.const([0]))                       # [S]
    S = g.op("Shape", ids)                                                 # [1]
    C = g.op("Gather", g.op("Shape", "past_k.0"), g.const([1]))            # [1]
    x = g.op("Gather", "model.embed_tokens.weight", ids)                    # [S, d]
    if c.prev_token:
        prev_ids = g.op("Concat", "prev_id", g.op("Slice", ids, g.const([0]), g.op("Sub", S, g.const([1]))), axis=0)
        x = g.op("Add", x, linear(g, g.op("Gather", "model.embed_tokens.weight", prev_ids), "model.prev_token_proj.weight"))
    return ids, S, C, x


def rotations(g: G, c: Config, S):
    """RoPE for positions start_pos .. start_pos+S-1: (pos, rope, imp_rope, imp_rope_q)."""
    D, E = c.head_dim, c.imp_dim
    pos = g.op("Cast", g.op("Add", g.op("Range", g.const(0), sq(g, S), g.const(1)), "start_pos"), to=TensorProto.FLOAT)
    f = g.op("Mul", g.op("Unsqueeze", pos, g.const([1])), "rope.inv_freq")   # [S, D/2]
    emb = g.op("Concat", f, f, axis=-1)
    cos, sin = g.op("Cos", emb), g.op("Sin", emb)                          # [S, D]

    def rope(t, cos=cos, sin=sin, dim=D):  # t [..., S, dim]
        a, b = g.op("Split", t, g.const([dim // 2, dim // 2]), axis=-1, n_out=2)
        return g.op("Add", g.op("Mul", t, cos), g.op("Mul", g.op("Concat", g.op("Neg", b), a, axis=-1), sin))

    if c.pred_rope:  # the importance queries' and keys' own rotation (d' dims, base pred_rope), same positions
        fe = g.op("Mul", g.op("Unsqueeze", pos, g.const([1])), "predictor.rope_inv_freq")   # [S, E/2]
        embe = g.op("Concat", fe, fe, axis=-1)
        cos_e, sin_e = g.op("Cos", embe), g.op("Sin", embe)                             # [S, E]
        cos_q, sin_q = (g.op("Unsqueeze", t, g.const([1, 2])) for t in (cos_e, sin_e))  # [S, 1, 1, E]
        return pos, rope, lambda t, l: rope(t, cos_e, sin_e, E), lambda t, cons: rope(t, cos_q, sin_q, E)
    if c.pred_rot_pairs:  # the last 2r importance dims turn at per-(layer, KV head) frequencies predictor.rot_inv_freq [L-1, Hkv, r]
        r = c.pred_rot_pairs
        sizes = ([E - 2 * r] if E > 2 * r else []) + [r, r]  # [content,] a, b

        def turn(t, ang):  # t [..., E], ang [..., r] (broadcast)
            cs, sn = g.op("Cos", ang), g.op("Sin", ang)
            *content, a, b = g.op("Split", t, g.const(sizes), axis=-1, n_out=len(sizes))
            return g.op("Concat", *content, g.op("Sub", g.op("Mul", a, cs), g.op("Mul", b, sn)),
                        g.op("Add", g.op("Mul", b, cs), g.op("Mul", a, sn)), axis=-1)

        def imp_rope(t, l):  # keys of layer l [Hkv, S, E]: angles [Hkv, S, r]
            return turn(t, g.op("Mul", g.op("Unsqueeze", pos, g.const([0, 2])),
                                g.op("Unsqueeze", g.op("Gather", "predictor.rot_inv_freq", g.const(l - 1)), g.const([1]))))

        def imp_rope_q(t, cons):  # queries of the consumer layers `cons` [S, n, Hkv, E]: angles [S, n, Hkv, r]
            return turn(t, g.op("Mul", g.op("Unsqueeze", pos, g.const([1, 2, 3])),
                                g.op("Gather", "predictor.rot_inv_freq", g.const([m - 1 for m in cons]))))
        return pos, rope, imp_rope, imp_rope_q
    return pos, rope, lambda t, *_: t, lambda t, *_: t


def masks(g: G, c: Config, S, C):
    """past slots j < start_pos are valid; causal inside the new chunk (tiled over a KV head's query heads)."""
    j = g.op("Range", g.const(0), sq(g, C), g.const(1))
    past_mask = g.op("Where", g.op("Less", j, "start_pos"), g.const(0.0, np.float32), g.const(NEG, np.float32))  # [C]
    sidx = g.op("Range", g.const(0), sq(g, S), g.const(1))
    causal = g.op("Where", g.op("LessOrEqual", g.op("Unsqueeze", sidx, g.const([0])), g.op("Unsqueeze", sidx, g.const([1]))),
                  g.const(0.0, np.float32), g.const(NEG, np.float32))    # [S(query), S(key)]
    rep = c.n_heads // c.n_kv_heads
    if rep > 1:
        causal = g.op("Tile", causal, g.const([rep, 1]))
    return past_mask, causal
