"""Exports the LM + predictor into the engine's ONNX graphs (docs/graph-contract.md).

Graphs are written with onnx.helper, not traced, so the contract is explicit:
  dense.onnx   prefill chunks and dense decode (S >= 1 new tokens, attention over all P cached)
  sparse.onnx  one decode step: layer 0 dense (or its window); the predictor's importance queries
               score the int8 importance-key cache per (layer >= 1, KV head) with MatMulInteger;
               the sinks, the `budget` best of the slots between them and the recent window (TopK),
               the recent window; Gather of K/V rows; attention over the selection.
Both graphs read the weights from one shared external-data file (weights.bin), so the two graphs
cost one copy of the weights on disk.

python training/export.py --ckpt training/work/ckpt/lm.pt --out models/default [--predictor P.pt]
"""
from __future__ import annotations

import argparse, hashlib, json, math, pathlib, shutil

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

from model import LM, Config, inv_freq
from predictor import ENGINE_RECENT, ENGINE_SINKS, NEG, QMAX, QMAX_Q, QQ_OFFSET, Predictor, ensure_calibrated, load_predictor, tap_groups

OPSET = 17
HERE = pathlib.Path(__file__).parent


class G:
    """A tiny graph builder: every op returns its output name."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], {}, 0
        self.scope = "model"  # node names "<scope>/<op>_<n>": the bench sums profiled time per scope

    def op(self, op_type, *inputs, n_out=1, **attrs):
        self.n += 1
        outs = [f"{op_type.lower()}_{self.n}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=f"{self.scope}/{op_type}_{self.n}", **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, value, dtype=np.int64):
        name = f"c_{len(self.inits)}_{self.n}"
        self.inits[name] = np.asarray(value, dtype=dtype)
        return name

    def rename(self, src, dst):
        self.nodes.append(helper.make_node("Identity", [src], [dst]))
        return dst


def weights_of(lm: LM, pred: Predictor) -> dict[str, np.ndarray]:
    c = lm.cfg
    W = {k: v.detach().float().numpy() for k, v in lm.state_dict().items() if k != "lm_head.weight"}
    for t, prod in pred.producers.items():  # one producer per tap layer t
        W[f"predictor.{t}.norm.weight"] = prod.norm.weight.detach().numpy()
        W[f"predictor.{t}.fc1.weight"] = prod.fc1.weight.detach().numpy()
        W[f"predictor.{t}.fc2.weight"] = prod.fc2.weight.detach().numpy()
    W["predictor.key_proj"] = pred.full_key_proj().detach().numpy()  # [L-1, Hkv, D, d'] (with the rotary pairs' fixed key dims)
    if lm.copy_gate is not None:
        W["copy_gate.weight"] = lm.copy_gate.weight.detach().numpy().T  # [d, 1 + pointer heads (+ 1 n-gram lookup)]
    if lm.copy_gate_f is not None:
        W["copy_gate_f.weight"] = lm.copy_gate_f.weight.detach().numpy().T  # [K + 3, 2 + pointer heads]
    assert pred.calibrated, "int8 importance keys need calibrated steps (predictor.ensure_calibrated)"
    W["predictor.ik_scale"] = pred.ik_scale.detach().numpy()[:, :, None, :]  # [L-1, Hkv, 1, d']
    if pred.dist_w is not None:
        W["predictor.dist_w"] = pred.dist_w.detach().numpy().reshape(-1, 1)  # [(L-1)*Hkv, 1]
    # Linear weights are stored pre-transposed ([in, out]) so every MatMul reads an initializer
    # directly (what the int8 quantizer and ORT's fusions look for).
    for k in list(W):
        if k.endswith("_proj.weight") or (k.startswith("predictor.") and (k.endswith(".fc1.weight") or k.endswith(".fc2.weight"))):
            W[k] = W[k].T
    inv = 1.0 / (c.rope_theta ** (np.arange(0, c.head_dim, 2, dtype=np.float64) / c.head_dim))
    W["rope.inv_freq"] = inv.astype(np.float32)
    if pred.cfg.pred_rot_pairs:
        W["predictor.rot_inv_freq"] = pred.rot_inv_freq().numpy()  # [L-1, Hkv, r], as the reference computes it
    if pred.cfg.pred_rope:
        W["predictor.rope_inv_freq"] = inv_freq(pred.cfg.pred_rope, pred.cfg.imp_dim).numpy()  # [d'/2], as the reference computes it
    return {k: np.ascontiguousarray(v.astype(np.float32)) for k, v in W.items()}


def rms(g: G, x, w, eps):
    var = g.op("ReduceMean", g.op("Mul", x, x), axes=[-1], keepdims=1)
    return g.op("Mul", g.op("Mul", x, g.op("Reciprocal", g.op("Sqrt", g.op("Add", var, g.const(eps, np.float32))))), w)


def linear(g: G, x, w):  # x [..., in] ; w [in, out] (stored transposed)
    return g.op("MatMul", x, w)


def build(cfg: Config, sparse: bool, W: dict[str, np.ndarray], separate_head: bool = False, layer0: str = "dense") -> onnx.ModelProto:
    """separate_head: the output head reads its own [d, V] copy of the tied embedding (the int8
    quantizer would otherwise transpose the shared table under the embedding Gather)."""
    c = cfg
    g = G()
    L, H, Hkv, D, E = c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.imp_dim
    rep = H // Hkv
    ins = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "S"]),
           helper.make_tensor_value_info("prev_id", TensorProto.INT64, [1]),
           helper.make_tensor_value_info("start_pos", TensorProto.INT64, [1])]
    for l in range(L):
        ins += [helper.make_tensor_value_info(f"past_k.{l}", TensorProto.FLOAT, [Hkv, "C", D]),
                helper.make_tensor_value_info(f"past_v.{l}", TensorProto.FLOAT, [Hkv, "C", D])]
    if sparse:
        for l in range(1, L):
            # importance keys stored transposed, [Hkv, E, C]: scoring reads them in place (no per-step transpose of the cache)
            ins.append(helper.make_tensor_value_info(f"past_ik_t.{l}", TensorProto.INT8, [Hkv, E, "C"]))
            ins.append(helper.make_tensor_value_info(f"past_iksum.{l}", TensorProto.INT32, [Hkv, "C"]))   # 64 x each slot's key dim sum
        ins += [helper.make_tensor_value_info(n, TensorProto.INT64, [1]) for n in ("budget", "sinks", "recent")]
        ins += [helper.make_tensor_value_info("reuse_selection", TensorProto.BOOL, [1]),
                helper.make_tensor_value_info("prev_selected", TensorProto.INT64, [(L - 1) * Hkv, "K"])]
    if c.copy_heads:  # the token id of every cache slot (slots >= start_pos are ignored), for the pointer heads
        ins.append(helper.make_tensor_value_info("ctx_ids", TensorProto.INT64, ["C"]))
    outs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, c.vocab_size])]
    copy_rows, copy_src = {}, {}   # pointer head -> its last position's attention [n] and the token ids it read [n]

    ids = g.op("Squeeze", "input_ids", g.const([0]))                       # [S]
    S = g.op("Shape", ids)                                                 # [1]
    C = g.op("Gather", g.op("Shape", "past_k.0"), g.const([1]))            # [1]
    # embeddings (+ projected previous-token embedding)
    x = g.op("Gather", "model.embed_tokens.weight", ids)                    # [S, d]
    if c.prev_token:
        prev_ids = g.op("Concat", "prev_id", g.op("Slice", ids, g.const([0]), g.op("Sub", S, g.const([1]))), axis=0)
        x = g.op("Add", x, linear(g, g.op("Gather", "model.embed_tokens.weight", prev_ids), "model.prev_token_proj.weight"))
    # RoPE tables for positions start_pos .. start_pos+S-1
    pos = g.op("Cast", g.op("Add", g.op("Range", g.const(0), g.op("Squeeze", S, g.const([0])), g.const(1)), "start_pos"), to=TensorProto.FLOAT)
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
        imp_rope = lambda t, l: rope(t, cos_e, sin_e, E)
        cos_q, sin_q = (g.op("Unsqueeze", t, g.const([1, 2])) for t in (cos_e, sin_e))  # [S, 1, 1, E]
        imp_rope_q = lambda t, cons: rope(t, cos_q, sin_q, E)
    elif c.pred_rot_pairs:  # the last 2r importance dims turn at per-(layer, KV head) frequencies predictor.rot_inv_freq [L-1, Hkv, r]
        r = c.pred_rot_pairs

        sizes = ([E - 2 * r] if E > 2 * r else []) + [r, r]  # [content,] a, b

        def turn(t, ang):  # t [..., E], ang [..., r] (broadcast)
            cs, sn = g.op("Cos", ang), g.op("Sin", ang)
            *content, a, b = g.op("Split", t, g.const(sizes), axis=-1, n_out=len(sizes))
            return g.op("Concat", *content, g.op("Sub", g.op("Mul", a, cs), g.op("Mul", b, sn)),
                        g.op("Add", g.op("Mul", b, cs), g.op("Mul", a, sn)), axis=-1)
        # keys of layer l [Hkv, S, E]: angles [Hkv, S, r]
        imp_rope = lambda t, l: turn(t, g.op("Mul", g.op("Unsqueeze", pos, g.const([0, 2])),
                                             g.op("Unsqueeze", g.op("Gather", "predictor.rot_inv_freq", g.const(l - 1)), g.const([1]))))
        # queries of the consumer layers `cons` [S, n, Hkv, E]: angles [S, n, Hkv, r]
        imp_rope_q = lambda t, cons: turn(t, g.op("Mul", g.op("Unsqueeze", pos, g.const([1, 2, 3])),
                                                  g.op("Gather", "predictor.rot_inv_freq", g.const([m - 1 for m in cons]))))
    else:
        imp_rope = imp_rope_q = lambda t, *_: t

    # masks: past slots j < start_pos are valid; causal inside the new chunk
    j = g.op("Range", g.const(0), g.op("Squeeze", C, g.const([0])), g.const(1))
    past_mask = g.op("Where", g.op("Less", j, "start_pos"), g.const(0.0, np.float32), g.const(NEG, np.float32))  # [C]
    sidx = g.op("Range", g.const(0), g.op("Squeeze", S, g.const([0])), g.const(1))
    causal = g.op("Where", g.op("LessOrEqual", g.op("Unsqueeze", sidx, g.const([0])), g.op("Unsqueeze", sidx, g.const([1]))),
                  g.const(0.0, np.float32), g.const(NEG, np.float32))    # [S(query), S(key)]
    if rep > 1:
        causal = g.op("Tile", causal, g.const([rep, 1]))
    if sparse:
        # the sinks [0, n_sink) and the recent window [w0, start_pos) are always read; selection
        # chooses min(budget, M) of the M middle slots [n_sink, w0)
        sinks, recent = "sinks", "recent"
        n_sink = g.op("Min", sinks, "start_pos")
        w0 = g.op("Max", n_sink, g.op("Sub", "start_pos", recent))
        sq = lambda t: g.op("Squeeze", t, g.const([0]))
        sink_rows, recent_rows = g.op("Range", g.const(0), sq(n_sink), g.const(1)), g.op("Range", sq(w0), sq("start_pos"), g.const(1))
        k_mid = g.op("Min", "budget", g.op("Sub", w0, n_sink))
    scale = g.const(1.0 / math.sqrt(D), np.float32)

    def heads(t, n):  # [S, n*D] -> [n, S, D]
        return g.op("Transpose", g.op("Reshape", t, g.const([-1, n, D])), perm=[1, 0, 2])

    groups = tap_groups(c) if sparse else {}
    sel_idx = {}
    if sparse:
        head_base = g.op("Unsqueeze", g.op("Mul", g.op("Range", g.const(0), g.const(Hkv), g.const(1)), g.op("Squeeze", C, g.const([0]))), g.const([1]))
        if c.pred_dist:  # log(query position - key position) of the middle slots
            fl = lambda t: g.op("Cast", sq(t), to=TensorProto.FLOAT)
            logd = g.op("Log", g.op("Range", fl(g.op("Sub", "start_pos", n_sink)), fl(g.op("Sub", "start_pos", w0)),
                                    g.const(-1.0, np.float32)))                                      # [M]: log(P - j), j = n_sink .. w0-1
        tile = lambda r: g.op("Tile", g.op("Unsqueeze", r, g.const([0])), g.const([Hkv, 1]))       # [M] -> [Hkv, M]
    for l in range(L):
        p = f"model.layers.{l}."
        if sparse and l in groups:
            # the producer tapping the residual stream entering layer l serves consumer layers `cons`
            cons = groups[l]; n = len(cons)
            rows_of = g.const([(m - 1) * Hkv + h for m in cons for h in range(Hkv)])   # their rows of prev_selected
            g.scope = "predictor"
            hn = rms(g, x, f"predictor.{l}.norm.weight", c.norm_eps)
            h1 = linear(g, hn, f"predictor.{l}.fc1.weight")
            h1 = g.op("Mul", h1, g.op("Sigmoid", h1))
            # one importance query per (layer, KV head): for a chunk (S > 1) the mean of its
            # positions' queries, which ranks slots by their mean score over the chunk
            qimp = imp_rope_q(g.op("Reshape", linear(g, h1, f"predictor.{l}.fc2.weight"), g.const([-1, n, Hkv, E])), cons)   # [S, n, Hkv, E]
            qimp = g.op("Unsqueeze", g.op("ReduceMean", qimp, axes=[0], keepdims=0), g.const([2]))        # [n, Hkv, 1, E]
            # int8 scores per consumer layer (predictor.select_fresh): the query scaled by the keys' steps and
            # rounded per row (step = max|.| / 63) to integers qi; qi . k = (qi + 64) . k - 64 * sum(k), the first
            # a u8 x s8 MatMulInteger (onnxruntime's fast M = 1 path), the second cached per slot; then the top
            # min(budget, M) middle slots
            g.scope = "selection"
            outer, g.nodes = g.nodes, []
            qs = g.op("Mul", qimp, g.op("Gather", "predictor.ik_scale", g.const([m - 1 for m in cons])))      # [n, Hkv, 1, E]
            qstep = g.op("Max", g.op("Div", g.op("ReduceMax", g.op("Abs", qs), axes=[-1], keepdims=1), g.const(float(QMAX_Q), np.float32)),
                         g.const(1e-30, np.float32))                                                        # [n, Hkv, 1, 1]
            qi = g.op("Clip", g.op("Round", g.op("Div", qs, qstep)), g.const(-float(QMAX_Q), np.float32), g.const(float(QMAX_Q), np.float32))
            qu = g.op("Cast", g.op("Add", qi, g.const(float(QQ_OFFSET), np.float32)), to=TensorProto.UINT8)   # [n, Hkv, 1, E] in [1, 127]
            picks = []
            for i, m in enumerate(cons):
                dot = g.op("MatMulInteger", g.op("Gather", qu, g.const(i)), f"past_ik_t.{m}")              # [Hkv, 1, C] int32
                sc = g.op("Sub", g.op("Reshape", dot, g.const([Hkv, -1])), f"past_iksum.{m}")              # [Hkv, C]
                sc = g.op("Cast", g.op("Slice", sc, n_sink, w0, g.const([1])), to=TensorProto.FLOAT)       # [Hkv, M]
                if c.pred_dist:   # + w * log(distance) / step
                    dw = g.op("Div", g.op("Gather", "predictor.dist_w", g.const([(m - 1) * Hkv + h for h in range(Hkv)]), axis=0),
                              g.op("Reshape", g.op("Gather", qstep, g.const(i)), g.const([Hkv, 1])))
                    sc = g.op("Add", sc, g.op("Mul", dw, logd))
                top = g.op("Add", two_stage_topk(g, sc, k_mid, Hkv), n_sink)                               # [Hkv, k_mid] ascending
                picks.append(g.op("Concat", tile(sink_rows), top, tile(recent_rows), axis=1))
            fresh = g.op("Concat", *picks, axis=0) if n > 1 else picks[0]                                  # [n*Hkv, K]
            fresh_nodes, g.nodes = g.nodes, []
            # ... or (prediction interval > 1) the previous step's selection, with the slot that just
            # left the recent window (P-1-recent) replaced by the slot that just entered it (P-1)
            newest = g.op("Sub", "start_pos", g.const([1]))
            prev_sel = g.op("Gather", "prev_selected", rows_of, axis=0)
            reused = g.op("Where", g.op("Equal", prev_sel, g.op("Sub", newest, recent)), newest, prev_sel)
            reuse_nodes, g.nodes = g.nodes, outer
            branch = lambda nodes, out, name: helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(out, TensorProto.INT64, None)])
            top = g.op("If", "reuse_selection", then_branch=branch(reuse_nodes, reused, f"reuse_selection_{l}"),
                       else_branch=branch(fresh_nodes, fresh, f"fresh_selection_{l}"))
            parts = g.op("Split", top, g.const([Hkv] * n), axis=0, n_out=n) if n > 1 else top
            sel_idx.update(zip(cons, [parts] if n == 1 else parts))
        g.scope = "model"
        xn = rms(g, x, p + "input_layernorm.weight", c.norm_eps)
        q = rope(heads(linear(g, xn, p + "self_attn.q_proj.weight"), H))
        kpre = heads(linear(g, xn, p + "self_attn.k_proj.weight"), Hkv)
        k = rope(kpre)
        v = heads(linear(g, xn, p + "self_attn.v_proj.weight"), Hkv)
        g.rename(k, f"new_k.{l}"); g.rename(v, f"new_v.{l}")
        outs += [helper.make_tensor_value_info(f"new_k.{l}", TensorProto.FLOAT, [Hkv, "S", D]),
                 helper.make_tensor_value_info(f"new_v.{l}", TensorProto.FLOAT, [Hkv, "S", D])]
        if l >= 1:
            kp = g.op("Gather", "predictor.key_proj", g.const(l - 1))      # [Hkv, D, E]
            ik = g.op("Div", imp_rope(g.op("MatMul", kpre, kp), l), g.op("Gather", "predictor.ik_scale", g.const(l - 1)))   # int8 keys (predictor.quant_keys)
            ik = g.op("Clip", g.op("Round", ik), g.const(-float(QMAX), np.float32), g.const(float(QMAX), np.float32))
            g.rename(g.op("Cast", ik, to=TensorProto.INT8), f"new_ik.{l}")
            g.rename(g.op("Cast", g.op("Mul", g.op("ReduceSum", ik, g.const([-1]), keepdims=0), g.const(float(QQ_OFFSET), np.float32)),
                          to=TensorProto.INT32), f"new_iksum.{l}")   # 64 x the dim sum (exact: |.| <= 64 * 127 * E < 2^24)
            outs.append(helper.make_tensor_value_info(f"new_ik.{l}", TensorProto.INT8, [Hkv, "S", E]))
            outs.append(helper.make_tensor_value_info(f"new_iksum.{l}", TensorProto.INT32, [Hkv, "S"]))
        qh = g.op("Mul", g.op("Reshape", q, g.const([Hkv, -1, D])), scale)  # [Hkv, rep*S, D]
        Kp, Vp, mask = f"past_k.{l}", f"past_v.{l}", past_mask
        src_past = lambda kv: "ctx_ids"
        if sparse and l == 0 and layer0 == "window":
            # layer 0 reads only the sinks and the recent window: contiguous row ranges, no scoring
            rows = g.op("Concat", sink_rows, recent_rows, axis=0)
            Kp = g.op("Gather", Kp, rows, axis=1)
            Vp = g.op("Gather", Vp, rows, axis=1)
            mask = None
            if c.copy_heads:
                src_past = lambda kv: g.op("Gather", "ctx_ids", rows)
        if sparse and l >= 1:
            g.scope = "selection"
            idx = sel_idx[l]
            g.rename(idx, f"selected.{l}")
            outs.append(helper.make_tensor_value_info(f"selected.{l}", TensorProto.INT64, [Hkv, "K"]))
            # flat row gather (Gather on [Hkv*C, D] is much cheaper than GatherND with batch_dims)
            flat = g.op("Add", idx, head_base)
            Kp = g.op("Gather", g.op("Reshape", Kp, g.const([-1, D])), flat, axis=0)   # [Hkv, K, D]
            Vp = g.op("Gather", g.op("Reshape", Vp, g.const([-1, D])), flat, axis=0)
            mask = None
            if c.copy_heads:
                src_past = lambda kv, idx=idx: g.op("Gather", "ctx_ids", g.op("Gather", idx, g.const(kv), axis=0))
        g.scope = "attention"
        s_past = g.op("MatMul", qh, g.op("Transpose", Kp, perm=[0, 2, 1]))
        if mask is not None:
            s_past = g.op("Add", s_past, mask)
        s_new = g.op("Add", g.op("MatMul", qh, g.op("Transpose", k, perm=[0, 2, 1])), causal)
        n_past = g.op("Shape", s_past, start=2)
        prob = g.op("Softmax", g.op("Concat", s_past, s_new, axis=-1), axis=-1)
        p_past, p_new = g.op("Split", prob, g.op("Concat", n_past, S, axis=0), axis=-1, n_out=2)
        if sparse and l >= 1:
            w = g.op("ReduceMean", p_past, axes=[1], keepdims=0)   # [Hkv, K]: mean over the group's query heads (and chunk positions)
            g.rename(w, f"selected_w.{l}")
            outs.append(helper.make_tensor_value_info(f"selected_w.{l}", TensorProto.FLOAT, [Hkv, "K"]))
        for f in c.copy_heads:
            if f // H != l:
                continue
            g.scope = "pointer"
            h = f % H; kv = h // rep
            row = g.op("Sub", g.op("Mul", S, g.const([h % rep + 1])), g.const([1]))      # query row (h % rep)*S + S-1
            copy_rows[f] = g.op("Squeeze", g.op("Gather", g.op("Gather", prob, g.const(kv), axis=0), row, axis=0), g.const([0]))
            copy_src[f] = g.op("Concat", src_past(kv), ids, axis=0)
            g.scope = "attention"
        o = g.op("Add", g.op("MatMul", p_past, Vp), g.op("MatMul", p_new, v))     # [Hkv, rep*S, D]
        o = g.op("Reshape", g.op("Transpose", g.op("Reshape", o, g.const([H, -1, D])), perm=[1, 0, 2]), g.const([-1, H * D]))
        g.scope = "model"
        x = g.op("Add", x, linear(g, o, p + "self_attn.o_proj.weight"))
        xn = rms(g, x, p + "post_attention_layernorm.weight", c.norm_eps)
        gate = linear(g, xn, p + "mlp.gate_proj.weight")
        hmid = g.op("Mul", g.op("Mul", gate, g.op("Sigmoid", gate)), linear(g, xn, p + "mlp.up_proj.weight"))
        x = g.op("Add", x, linear(g, hmid, p + "mlp.down_proj.weight"))
    last = g.op("Slice", x, g.op("Sub", S, g.const([1])), S, g.const([0]))       # [1, d]
    hn = rms(g, last, "model.norm.weight", c.norm_eps)
    head_out = "lm_logits" if c.copy_heads else "logits"
    if separate_head:
        g.nodes.append(helper.make_node("MatMul", [hn, "lm_head.weight_t"], [head_out], name="lm_head"))
    else:
        g.nodes.append(helper.make_node("Gemm", [hn, "model.embed_tokens.weight"], [head_out], transB=1, name="lm_head"))
    if c.copy_heads:
        # logits = log(gate_0 * softmax(lm_logits) + sum_c gate_c * scatter_add(attention of pointer head c onto its token ids))
        g.scope = "pointer"
        z = g.op("Add", g.op("MatMul", hn, "copy_gate.weight"), "copy_gate.bias")     # [1, 1+n(+1)]
        if c.ngram_max:
            ng_src, ng_w, ng_f, ng_pos = ngram_last(g, c, ids)
            n_comp = len(c.copy_heads) + 2
            z = g.op("Add", g.op("Add", z, g.op("MatMul", g.op("Unsqueeze", ng_f, g.const([0])), "copy_gate_f.weight")),
                     g.op("Mul", g.op("Slice", ng_f, g.const([0]), g.const([1])),          # no match: the lookup gets no weight
                          g.const(np.array([0.0] * (n_comp - 1) + [-1e9], np.float32), np.float32)))
        gate = g.op("Softmax", z, axis=-1)
        p = g.op("Mul", g.op("Softmax", head_out, axis=-1), g.op("Slice", gate, g.const([0]), g.const([1]), g.const([1])))
        upd = [g.op("Mul", copy_rows[f], g.op("Gather", gate, g.const(i + 1), axis=1)) for i, f in enumerate(c.copy_heads)]
        srcs = [copy_src[f] for f in c.copy_heads]
        if c.ngram_max:
            upd.append(g.op("Mul", ng_w, g.op("Gather", gate, g.const(len(c.copy_heads) + 1), axis=1)))
            srcs.append(ng_src)
            # what the lookup copied from, for the chosen-context highlights: positions and probability mass
            g.rename(ng_pos, "lookup_pos"); g.rename(upd[-1], "lookup_w")
            outs += [helper.make_tensor_value_info("lookup_pos", TensorProto.INT64, ["M"]),
                     helper.make_tensor_value_info("lookup_w", TensorProto.FLOAT, ["M"])]
        copied = g.op("ScatterElements", g.const(np.zeros(c.vocab_size, np.float32), np.float32),
                      g.op("Concat", *srcs, axis=0), g.op("Concat", *upd, axis=0), axis=0, reduction="add")
        mixed = g.op("Add", p, g.op("Unsqueeze", copied, g.const([0])))
        g.nodes.append(helper.make_node("Log", [g.op("Max", mixed, g.const(1e-30, np.float32))], ["logits"], name="pointer/log"))
    def inputs_of(nodes):  # including the If branches' nodes
        for n in nodes:
            yield from n.input
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    yield from inputs_of(a.g.node)
    used = set(inputs_of(g.nodes))
    weights = [numpy_helper.from_array(W[k], k) for k in W if k in used]
    consts = [numpy_helper.from_array(v, k) for k, v in g.inits.items()]
    graph = helper.make_graph(g.nodes, "sparse" if sparse else "dense", ins, outs, initializer=weights + consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tokenbutler-export")
    model.ir_version = 8
    return model


def ngram_last(g: G, c: Config, ids):
    """The n-gram lookup of the last position (model.ngram_lookup_last) over the sequence
    ctx_ids[:start_pos] ++ ids [N]: the token ids [M] and copy weights [M] of the M matching keys,
    and the gate features [K + 3]. One pass over the sequence finds the candidate keys (those whose
    previous token is the last token); the longer matches are checked on the candidates only."""
    K = c.ngram_max
    seq = g.op("Concat", g.op("Slice", "ctx_ids", g.const([0]), "start_pos"), ids, axis=0)     # [N]
    N = g.op("Shape", seq)
    # keys j with seq[j-1] == seq[N-1]: the positions i of that token, ascending (the last is N-1 itself, dropped), plus 1;
    # and key 0 (nothing precedes it: never matches), so that every reduction below has an element
    at = g.op("Reshape", g.op("NonZero", g.op("Equal", seq, g.op("Gather", seq, g.op("Sub", N, g.const([1]))))), g.const([-1]))
    cand = g.op("Concat", g.const([0]), g.op("Add", g.op("Slice", at, g.const([0]), g.const([-1])), g.const([1])), axis=0)   # [Mc]
    # match length of every candidate: how many of seq[j-k] == seq[N-k], k = 1..K, hold before the first that does not
    ks = g.const(np.arange(1, K + 1))
    back = g.op("Sub", g.op("Unsqueeze", cand, g.const([1])), ks)                                  # [Mc, K]: j - k
    eq = g.op("Equal", g.op("Gather", seq, g.op("Max", back, g.const(0))), g.op("Gather", seq, g.op("Max", g.op("Sub", N, ks), g.const(0))))
    eq = g.op("And", eq, g.op("And", g.op("GreaterOrEqual", back, g.const(0)), g.op("GreaterOrEqual", N, ks)))   # both exist
    run = g.op("Concat", g.op("Cast", eq, to=TensorProto.FLOAT), g.op("Mul", g.op("Unsqueeze", g.op("Cast", cand, to=TensorProto.FLOAT), g.const([1])),
                                                                    g.const(0.0, np.float32)), axis=1)   # [Mc, K + 1], last column 0
    length = g.op("ArgMin", run, axis=1, keepdims=0)                                                 # the first 0: the match length
    klong = g.op("ReduceMax", length, keepdims=1)                                                   # [1] the longest (0: no match)
    best = g.op("And", g.op("Equal", length, klong), g.op("Greater", klong, g.const([0])))
    kstar = g.op("Cast", klong, to=TensorProto.FLOAT)
    bf = g.op("Cast", best, to=TensorProto.FLOAT)
    jf = g.op("Cast", cand, to=TensorProto.FLOAT)
    jlast = g.op("ReduceMax", g.op("Mul", bf, jf), keepdims=1)                                  # [1] (0 when no match)
    w = g.op("Mul", bf, g.op("Exp", g.op("Div", g.op("Sub", jf, jlast), g.const(c.ngram_tau, np.float32))))
    count = g.op("ReduceSum", bf, keepdims=1)
    w = g.op("Div", w, g.op("Max", g.op("ReduceSum", w, keepdims=1), g.const(1e-30, np.float32)))
    last_tok = g.op("Gather", seq, g.op("Cast", jlast, to=TensorProto.INT64))
    agree = g.op("ReduceSum", g.op("Mul", w, g.op("Cast", g.op("Equal", g.op("Gather", seq, cand), last_tok), to=TensorProto.FLOAT)), keepdims=1)
    onehot = g.op("Cast", g.op("Equal", g.const(np.arange(K + 1, dtype=np.float32), np.float32), kstar), to=TensorProto.FLOAT)
    feats = g.op("Concat", onehot, g.op("Div", g.op("Log", g.op("Add", count, g.const(1.0, np.float32))), g.const(5.0, np.float32)), agree, axis=0)
    pick = g.op("Reshape", g.op("NonZero", best), g.const([-1]))    # the matching keys only (the scatter reads M, not N, entries)
    nz = g.op("Gather", cand, pick)
    return g.op("Gather", seq, nz), g.op("Gather", w, pick), feats, nz


TOPK_BLOCK = 8


def fresh_selection_feeds(cfg: Config) -> dict:
    """Sparse-graph inputs for a step that selects afresh (no prediction-interval reuse)."""
    return {"reuse_selection": np.array([False]), "prev_selected": np.zeros(((cfg.n_layers - 1) * cfg.n_kv_heads, 0), np.int64)}


def two_stage_topk(g: G, sc, k, rows: int, block: int = TOPK_BLOCK):
    """Exact per-row top-k indices of sc [rows, C], returned in ascending position order.

    ORT's TopK takes its heap path for k=648 of 32k (~0.3 ms a row: ~k*ln(C/k) heap
    replacements). Instead: the max of every `block` scores, the top-k blocks by that max (every
    top-k element lies in one of them: a block holding one has a max >= the k-th value, and at
    most k blocks do), then the top-k among those k*block candidates. Both TopKs fall on ORT's
    nth_element path. Ascending indices make the K/V row gathers walk memory forwards."""
    C = g.op("Shape", sc, start=1)                                              # [1]
    pad = g.op("Mod", g.op("Sub", g.const([block]), g.op("Mod", C, g.const([block]))), g.const([block]))
    scp = g.op("Pad", sc, g.op("Concat", g.const([0, 0, 0]), pad, axis=0), g.const(NEG, np.float32))
    blocks = g.op("Reshape", scp, g.const([rows, -1, block]))                   # [rows, nb, block]
    bmax = g.op("ReduceMax", blocks, axes=[2], keepdims=0)                     # [rows, nb]
    nb = g.op("Shape", bmax, start=1)
    _, bidx = g.op("TopK", bmax, g.op("Min", k, nb), axis=-1, largest=1, sorted=0, n_out=2)   # [rows, kb]
    flat_b = g.op("Add", bidx, g.op("Mul", g.const(np.arange(rows).reshape(rows, 1)), nb))
    cand = g.op("Reshape", g.op("Gather", g.op("Reshape", blocks, g.const([-1, block])), flat_b, axis=0), g.const([rows, -1]))
    _, ci = g.op("TopK", cand, k, axis=-1, largest=1, sorted=0, n_out=2)      # [rows, k]
    pos = g.op("Add", g.op("Mul", g.op("GatherElements", bidx, g.op("Div", ci, g.const([block])), axis=1), g.const([block])),
               g.op("Mod", ci, g.const([block])))
    # ascending order (positions < 2^24 are exact in float32)
    asc, _ = g.op("TopK", g.op("Cast", pos, to=TensorProto.FLOAT), k, axis=-1, largest=0, sorted=1, n_out=2)
    return g.op("Cast", asc, to=TensorProto.INT64)


def write_weights(W: dict[str, np.ndarray], path: pathlib.Path) -> dict[str, tuple[int, int]]:
    layout, off = {}, 0
    with open(path, "wb") as f:
        for k in sorted(W):
            pad = (-off) % 64
            f.write(b"\0" * pad); off += pad
            b = W[k].tobytes(); f.write(b)
            layout[k] = (off, len(b)); off += len(b)
    return layout


def save_with_external(model: onnx.ModelProto, layout, path: pathlib.Path, weights_file="weights.bin"):
    for t in model.graph.initializer:
        if t.name in layout:
            off, n = layout[t.name]
            set_external_data(t, location=weights_file, offset=off, length=n)
            t.data_location = TensorProto.EXTERNAL
            t.ClearField("raw_data")
    onnx.save_model(model, str(path))


def sha256(p: pathlib.Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def export(lm: LM, pred: Predictor, out: pathlib.Path, tokenizer: pathlib.Path, extra: dict | None = None,
           int8: bool = False, keep_fp32: bool = True, measure_windows: list | None = None, tbytes=None, layer0: str = "dense"):
    """Writes the model folder. int8: the manifest's graphs are the int8 ones (measured against
    fp32 on `measure_windows` when given); keep_fp32=False then drops the fp32 files."""
    out.mkdir(parents=True, exist_ok=True)
    ensure_calibrated(lm, pred)  # the int8 importance keys' steps (kept in the folder's fp16 weights)
    cfg = pred.cfg  # the LM's config with the predictor's layout (taps, width, distance prior)
    W = weights_of(lm, pred)
    layout = write_weights(W, out / "weights.bin")
    for name, sparse in (("dense", False), ("sparse", True)):
        m = build(cfg, sparse, W, layer0=layer0)
        onnx.checker.check_model(m)  # before externalising (the checker wants the data files beside it)
        save_with_external(m, layout, out / f"{name}.onnx")
    graphs = {"dense": "dense.onnx", "sparse": "sparse.onnx"}
    precision = {"default": "fp32"}
    if int8:
        graphs = quantize_int8(cfg, W, out, layer0)
        precision["default"] = "int8"
        if measure_windows:
            precision.update(measure_variants(out, cfg, measure_windows, tbytes))
        if not keep_fp32:
            for f in ("dense.onnx", "sparse.onnx", "weights.bin"):
                (out / f).unlink()
    if tokenizer.resolve() != (out / "tokenizer.json").resolve():
        shutil.copy(tokenizer, out / "tokenizer.json")
    save_fp16(lm, pred, out / "lm.fp16.safetensors")
    names = sorted(set(graphs.values()) | {"tokenizer.json"} | ({"dense.onnx", "sparse.onnx", "weights.bin"} if keep_fp32 or not int8 else set()))
    files = {n: sha256(out / n) for n in names}
    manifest = {
        "format": 1,
        "name": (extra or {}).get("name", "tokenbutler-code-default"),
        "config": cfg.to_dict(),
        "graphs": graphs,
        "tokenizer": "tokenizer.json",
        "precision": precision,
        "specialTokens": {"eot": 0, "fimPrefix": 1, "fimMiddle": 2, "fimSuffix": 3, "fileSep": 4},
        "selection": {"sinks": ENGINE_SINKS, "recent": ENGINE_RECENT, "layer0": layer0},
        "params": {"lm": lm.num_params(), "predictor": pred.num_params(),
                   "predictorShare": pred.num_params() / lm.num_params()},
        "files": files,  # what the engine loads and checks (and the VSIX ships)
        "trainingWeights": {"file": "lm.fp16.safetensors", "sha256": sha256(out / "lm.fp16.safetensors")},
    }
    manifest.update(extra or {})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def folder_config(path) -> Config:
    """A model folder's manifest config."""
    cfg = json.loads((pathlib.Path(path) / "manifest.json").read_text())["config"]
    return Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items() if k in Config.__dataclass_fields__})


def lm_from_folder(path) -> LM:
    """The LM of a model folder: its manifest's config and fp16 training weights (not in eval mode)."""
    lm = LM(folder_config(path))
    lm.load_state_dict(load_weights(path))
    return lm


def load_weights(path: str) -> dict:
    """LM weights from a training checkpoint (EMA) or from a model folder's fp16 safetensors."""
    p = pathlib.Path(path)
    if p.is_dir():
        p = p / "lm.fp16.safetensors"
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file
        sd = {k: v.float() for k, v in load_file(str(p)).items() if not k.startswith("predictor.")}
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
        return sd
    st = torch.load(p, weights_only=False)
    return st.get("ema", st.get("model", st))


def save_fp16(lm: LM, pred: Predictor, path: pathlib.Path):
    """fp16 copy of the weights (Hugging Face Llama names, tied head stored once) so training can
    continue from a committed model when the checkpoint folder is gone."""
    from safetensors.torch import save_file
    sd = {k: v.half().contiguous() for k, v in lm.state_dict().items() if k != "lm_head.weight"}
    sd.update({f"predictor.{k}": v.half().contiguous() for k, v in pred.state_dict().items()})
    save_file(sd, str(path), metadata={"config": json.dumps(lm.cfg.to_dict())})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=None, help="LM checkpoint (train.py) or a model folder; omit for random weights")
    ap.add_argument("--predictor", default=None, help="predictor checkpoint (train_predictor.py)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer", default=str(HERE / "work/tokenizer.json"))
    ap.add_argument("--metrics", default=None, help="JSON file merged into the manifest under 'training'")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--int8", action="store_true", help="ship int8 graphs (measured against fp32)")
    ap.add_argument("--drop-fp32", action="store_true")
    ap.add_argument("--layer0", choices=["dense", "window"], default="dense", help="layer 0 in sparse decode")
    ap.add_argument("--measure", type=int, default=4, help="held-out windows of 512 tokens for the fp32/int8 comparison")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    extra = {}
    if args.ckpt and pathlib.Path(args.ckpt).is_dir():  # a model folder: its fp16 LM weights and its manifest's training record
        lm = lm_from_folder(args.ckpt); cfg = lm.cfg
        extra["training"] = json.loads((pathlib.Path(args.ckpt) / "manifest.json").read_text()).get("training", {})
    elif args.ckpt:
        st = torch.load(args.ckpt, weights_only=False)
        cfg = Config(**st["config"])
        lm = LM(cfg); lm.load_state_dict(st["ema"])
        extra["training"] = {"tokens": st["tokens"], "steps": st["step"], "cpuHours": st.get("cpu_seconds", 0) / 3600,
                             "syntheticCopyTokens": st.get("synthetic_tokens", 0)}
        log = pathlib.Path(args.ckpt).parent / "log.jsonl"
        if log.exists():  # held-out bits/byte and copying metrics along the run
            evals = [json.loads(l) for l in log.read_text().splitlines() if l.strip()]
            last = evals[-1]
            extra["training"].update({k: last[k] for k in ("val_bpb", "ident_first_nats", "ident_later_nats", "ident_ratio",
                                                            "def_ratio", "dep_ident_ratio", "dep_def_first_nats", "dep_def_later_nats",
                                                            "dep_def_ratio", "dep_def_pairs", "dep_def_later_tok1_nats", "dep_def_later_rest_nats",
                                                            "copy_near_nats", "copy_far_nats", "rand_copy1_nats", "rand_copy2_nats") if k in last})
            extra["training"]["curve"] = st.get("prior_curve", []) + [[e["tokens"], round(e["val_bpb"], 4)] for e in evals]
    else:
        cfg = Config(); lm = LM(cfg)
        extra["training"] = {"tokens": 0, "note": "random weights"}
    pred = Predictor(cfg)
    if args.predictor:
        pred, cfg, ps = load_predictor(args.predictor, cfg)
        extra["predictorTraining"] = ps.get("metrics", {})
    if args.metrics:
        extra["training"].update(json.loads(pathlib.Path(args.metrics).read_text()))
    windows, tbytes = None, None
    if args.int8 and args.measure:
        from tokenizers import Tokenizer
        from data import Sampler
        from train import token_bytes
        s = Sampler(HERE / "work/tokens", "valid", 512, 0.0, seed=5)
        windows = [s.sample() for _ in range(args.measure)]
        tbytes = token_bytes(Tokenizer.from_file(args.tokenizer))
    m = export(lm.eval(), pred.eval(), pathlib.Path(args.out), pathlib.Path(args.tokenizer), extra,
               int8=args.int8, keep_fp32=not args.drop_fp32, measure_windows=windows, tbytes=tbytes, layer0=args.layer0)
    print(json.dumps({k: m[k] for k in ("params", "precision", "files")}, indent=1))



def quantize_int8(cfg: Config, W: dict[str, np.ndarray], out: pathlib.Path, layer0: str = "dense") -> dict[str, str]:
    """Dynamic int8 (per-channel weights, activations quantized at run time) copies of both
    graphs, self-contained; the embedding Gather stays fp32."""
    import tempfile
    from onnxruntime.quantization import QuantType, quantize_dynamic
    W = dict(W, **{"lm_head.weight_t": np.ascontiguousarray(W["model.embed_tokens.weight"].T)})
    names = {}
    for name, sparse in (("dense", False), ("sparse", True)):
        with tempfile.TemporaryDirectory() as tmp:
            src = pathlib.Path(tmp) / f"{name}.onnx"
            g = build(cfg, sparse, W, separate_head=True, layer0=layer0)
            onnx.save_model(g, str(src))
            keep = [n.name for n in g.graph.node if n.name.startswith("pointer/")]  # the pointer gate stays fp32
            quantize_dynamic(str(src), str(out / f"{name}.int8.onnx"), per_channel=True, weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul"], nodes_to_exclude=keep, extra_options={"MatMulConstBOnly": True})
        q = onnx.load(str(out / f"{name}.int8.onnx"))
        del q.graph.value_info[:]  # the quantizer's shape guesses are not always right
        onnx.save_model(q, str(out / f"{name}.int8.onnx"))
        names[name] = f"{name}.int8.onnx"
    return names


def measure_variants(out: pathlib.Path, cfg: Config, windows: list, tbytes: np.ndarray, contexts=(512, 4096)) -> dict:
    """bits/byte of held-out windows (chunked dense prefill, every position scored) and decode
    ms/token at a few context lengths, for fp32 and int8, interleaved in one run."""
    import time
    import onnxruntime as ort

    def session(p):
        o = ort.SessionOptions(); o.intra_op_num_threads = 1
        o.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(p), o)

    variants = {"fp32": session(out / "dense.onnx"), "int8": session(out / "dense.int8.onnx")}
    L, Hkv, D = cfg.n_layers, cfg.n_kv_heads, cfg.head_dim
    res = {}
    for name, s in variants.items():
        nats = nbytes = 0.0
        for prev, row in windows:
            ids = row.tolist(); cap = len(ids)
            k = [np.zeros((Hkv, cap, D), np.float32) for _ in range(L)]; v = [np.zeros_like(k[0]) for _ in range(L)]
            # score every position: one-token decode steps (the dense graph returns only the last logits)
            P = 0; prev_id = prev
            ctx_ids = {"ctx_ids": np.array(ids, np.int64)} if cfg.copy_heads else {}  # slots >= P are ignored
            for t in range(len(ids) - 1):
                feeds = {"input_ids": np.array([[ids[t]]], np.int64), "prev_id": np.array([prev_id], np.int64), "start_pos": np.array([P], np.int64),
                         **ctx_ids}
                for l in range(L):
                    feeds[f"past_k.{l}"], feeds[f"past_v.{l}"] = k[l], v[l]
                o = dict(zip([x.name for x in s.get_outputs()], s.run(None, feeds)))
                for l in range(L):
                    k[l][:, P] = o[f"new_k.{l}"][:, 0]; v[l][:, P] = o[f"new_v.{l}"][:, 0]
                lg = o["logits"][0].astype(np.float64)
                nats += np.log(np.exp(lg - lg.max()).sum()) + lg.max() - lg[ids[t + 1]]
                nbytes += tbytes[ids[t + 1]]; P += 1; prev_id = ids[t]
        res[f"bpb_{name}"] = float(nats / np.log(2) / nbytes)
    for T in contexts:
        times = {n: [] for n in variants}
        k = [np.random.randn(Hkv, T + 8, D).astype(np.float32) for _ in range(L)]
        for _ in range(5):
            for n, s in variants.items():
                feeds = {"input_ids": np.array([[7]], np.int64), "prev_id": np.array([5], np.int64), "start_pos": np.array([T], np.int64)}
                if cfg.copy_heads:
                    feeds["ctx_ids"] = np.full(T + 8, 9, np.int64)
                for l in range(L):
                    feeds[f"past_k.{l}"] = feeds[f"past_v.{l}"] = k[l]
                t0 = time.perf_counter(); s.run(["logits"], feeds); times[n].append((time.perf_counter() - t0) * 1000)
        for n in variants:
            res[f"decode_ms_{n}@{T}"] = float(np.median(times[n]))
    return res


if __name__ == "__main__":
    main()
