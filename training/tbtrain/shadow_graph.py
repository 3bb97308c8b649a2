"""ShadowLLM as an ONNX decode step (issue 29, items 3-4): one token through the LM with the ShadowLLM
predictor (shadow_pred.ShadowPredictor) run once on the residual stream entering layer 1, and each later
layer computing only the heads / FFN neurons the predictor ranks highest.

Variants of the step (build_step):
  heads    "dense"   every query head, batched per KV group (as graph_attention.block)
           "skip"    one If per query head: its q slice, attention and o_proj slice run only when kept
  neurons  "dense"   the full SwiGLU
           "gather"  the kept neurons' gate/up rows and down_proj rows gathered by the predictor's top-k
                     indices, then the products on the gathered copy (stock onnxruntime has no gathered
                     matrix-vector product, so the kept weights are copied every step)
           "blocks"  neurons in fixed blocks, one If per block with the block's own constant weights: nothing
                     is copied, a kept block runs a plain (prepacked) MatMul, a dropped one nothing; the
                     predictor ranks blocks by the sum of their neurons' scores
  int8     every weight MatMul as DynamicQuantizeMatMul (per-column int8 weights, the activation quantized at
           run time: what export's quantize_dynamic gives after onnxruntime's fusion); gathered gate/up rows
           as MatMulIntegerToFloat of the int8 rows against the int8-quantized activation

All KV heads are computed (the cache needs them); layer 0 is dense (its output is the predictor's input).
The step has no pointer heads or n-gram gate (a plain Llama/Qwen2 head): it measures what the sparsity
saves, and reference() / block_masks() are its PyTorch side for the parity test. The cache holds exactly
start_pos slots (no padding mask)."""
from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from tbtrain.graph_embed import embed, rotations
from tbtrain.graph_ops import OPSET, G, heads, rms
from tbtrain.model import LM, Config, lm_inv_freq
from tbtrain.shadow import keep_count, topk_mask
from tbtrain.shadow_pred import ShadowPredictor

MS = "com.microsoft"
TORCH_RMS_EPS = float(torch.finfo(torch.float32).eps)  # F.rms_norm's eps when none is given (the predictor's norm)


def lm_weights(lm: LM) -> dict[str, np.ndarray]:
    """The LM's weights as the graphs store them: linears [in, out]; the output head its own [d, V] copy."""
    c = lm.cfg
    W = {k: v.detach().float().numpy() for k, v in lm.state_dict().items()}
    for k in list(W):
        if k.endswith("_proj.weight"):
            W[k] = W[k].T
    W["lm_head.weight_t"] = W.pop("lm_head.weight", W["model.embed_tokens.weight"]).T
    W["rope.inv_freq"] = lm_inv_freq(c, torch.float64).numpy()
    return {k: np.ascontiguousarray(v, np.float32) for k, v in W.items()}


def random_weights(c: Config, seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights of c's shape (speed only), in lm_weights' layout; tied head (its own copy)."""
    rng = np.random.default_rng(seed)
    d, H, Hkv, D, F = c.d_model, c.n_heads, c.n_kv_heads, c.head_dim, c.ffn_dim
    r = lambda *s: rng.standard_normal(s, dtype=np.float32) * 0.02
    W = {"model.embed_tokens.weight": r(c.vocab_size, d), "model.norm.weight": np.ones(d, np.float32)}
    for l in range(c.n_layers):
        p = f"model.layers.{l}."
        W.update({p + "input_layernorm.weight": np.ones(d, np.float32), p + "post_attention_layernorm.weight": np.ones(d, np.float32),
                  p + "self_attn.q_proj.weight": r(d, H * D), p + "self_attn.k_proj.weight": r(d, Hkv * D),
                  p + "self_attn.v_proj.weight": r(d, Hkv * D), p + "self_attn.o_proj.weight": r(H * D, d),
                  p + "mlp.gate_proj.weight": r(d, F), p + "mlp.up_proj.weight": r(d, F), p + "mlp.down_proj.weight": r(F, d)})
        if c.attn_bias:
            W.update({p + f"self_attn.{n}_proj.bias": r(m * D) for n, m in (("q", H), ("k", Hkv), ("v", Hkv))})
    W["lm_head.weight_t"] = np.ascontiguousarray(W["model.embed_tokens.weight"].T)
    W["rope.inv_freq"] = (1.0 / c.rope_theta ** (np.arange(0, D, 2) / D)).astype(np.float32)
    return W


def predictor_weights(pred: ShadowPredictor) -> dict[str, np.ndarray]:
    return {"shadow.fc1": pred.fc1.weight.detach().numpy().T.copy(), "shadow.fc1_b": pred.fc1.bias.detach().numpy().copy(),
            "shadow.fc2": pred.fc2.weight.detach().numpy().T.copy(), "shadow.fc2_b": pred.fc2.bias.detach().numpy().copy()}


def quant_cols(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output column of w [in, out]: (q int8 [in, out], scale [out])."""
    s = np.maximum(np.abs(w).max(0), 1e-12) / 127.0
    return np.clip(np.round(w / s), -127, 127).astype(np.int8), s.astype(np.float32)


class Step:
    """Writes the graph; every weight becomes an initializer the first time a node reads it."""

    def __init__(self, c: Config, W: dict, int8: bool):
        self.c, self.W, self.int8, self.g, self.inits = c, W, int8, G(), {}

    def w(self, name, value=None):
        if name not in self.inits:
            self.inits[name] = np.ascontiguousarray(self.W[name] if value is None else value)
        return name

    def lin(self, x, name, value=None, bias=None):
        """x @ W[name] ([in, out]); value: a slice of it under its own name (a block's or a head's)."""
        w = self.W[name] if value is None else value
        if self.int8:
            q, s = quant_cols(w)
            y = self.g.op("DynamicQuantizeMatMul", x, self.w(name + ".q", q), self.w(name + ".s", s),
                          self.w(name + ".zp", np.zeros(w.shape[1], np.int8)), domain=MS)
        else:
            y = self.g.op("MatMul", x, self.w(name, w))
        return y if bias is None else self.g.op("Add", y, self.w(bias[0], bias[1]))

    def branch(self, build_then, zero, name):
        """If(cond) over a subgraph written by build_then() -> its output name, else `zero`."""
        outer, self.g = self.g, G()
        self.g.n, self.g.inits = outer.n, outer.inits  # names stay unique; its constants live in the main graph
        out = build_then()
        then_g = helper.make_graph(self.g.nodes, name + "_then", [], [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)])
        inner_n, self.g = self.g.n, outer
        self.g.n = inner_n
        else_g = helper.make_graph([helper.make_node("Identity", [zero], [name + "_zero"])], name + "_else", [],
                                   [helper.make_tensor_value_info(name + "_zero", TensorProto.FLOAT, None)])
        return lambda cond: self.g.op("If", cond, then_branch=then_g, else_branch=else_g)


def build_step(c: Config, W: dict, P: dict | None = None, heads_mode: str = "dense", neurons_mode: str = "dense",
               keep_heads: float = 1.0, keep_neurons: float = 1.0, block: int = 64, int8: bool = False,
               predictor: bool = False) -> onnx.ModelProto:
    """One decode step (S = 1). P: predictor_weights (needed when a mode is not dense; predictor=True runs it
    with both modes dense, to measure its own cost). Outputs: logits [1, V],
    new_k.l / new_v.l [Hkv, 1, D], and when sparse shadow_heads [L-1, kh] / shadow_neurons [L-1, k] (kept
    head / neuron-or-block indices per layer >= 1, for the parity test and Explain Selection)."""
    c = dataclasses.replace(c, pred_rope=0.0, pred_rot_pairs=0, copy_heads=())
    st = Step(c, {**W, **(P or {})}, int8)
    g = st.g
    L, H, Hkv, D, F, d = c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.ffn_dim, c.d_model
    rep, nb = H // Hkv, F // block
    ins = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, 1]),
           helper.make_tensor_value_info("start_pos", TensorProto.INT64, [1])]
    if c.prev_token:
        ins.append(helper.make_tensor_value_info("prev_id", TensorProto.INT64, [1]))
    for l in range(L):
        ins += [helper.make_tensor_value_info(f"past_{kv}.{l}", TensorProto.FLOAT, [Hkv, "C", D]) for kv in "kv"]
    outs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, c.vocab_size])]
    for n in ("model.embed_tokens.weight", "rope.inv_freq", "model.prev_token_proj.weight"):
        if n in st.W:
            st.w(n)
    ids, S, C, x = embed(g, c)
    _, rope, _, _ = rotations(g, c, S)
    scale = g.const(1.0 / np.sqrt(D), np.float32)
    zero_d = g.const(np.zeros((1, d), np.float32), np.float32)
    kept_h = kept_n = None
    for l in range(L):
        p = f"model.layers.{l}."
        if l == 1 and (predictor or heads_mode != "dense" or neurons_mode != "dense"):
            kept_h, kept_n, pred_outs = _predictor(st, x, L - 1, H, F, keep_heads, keep_neurons, neurons_mode, block)
            outs += pred_outs
        xn = rms(g, x, st.w(p + "input_layernorm.weight"), c.norm_eps)
        bias = lambda n, p=p: (p + n + ".bias", st.W[p + n + ".bias"]) if c.attn_bias else None
        k = rope(heads(g, st.lin(xn, p + "self_attn.k_proj.weight", bias=bias("self_attn.k_proj")), Hkv, D))   # [Hkv, 1, D]
        v = heads(g, st.lin(xn, p + "self_attn.v_proj.weight", bias=bias("self_attn.v_proj")), Hkv, D)
        g.rename(k, f"new_k.{l}"); g.rename(v, f"new_v.{l}")
        outs += [helper.make_tensor_value_info(f"new_{n}.{l}", TensorProto.FLOAT, [Hkv, 1, D]) for n in "kv"]
        kt = g.op("Transpose", f"past_k.{l}", perm=[0, 2, 1])                                             # [Hkv, D, C]
        if l >= 1 and heads_mode == "skip":
            o = _heads_skipped(st, c, l, xn, kt, k, v, rope, scale, zero_d, kept_h, bias("self_attn.q_proj"))
        else:
            q = rope(heads(g, st.lin(xn, p + "self_attn.q_proj.weight", bias=bias("self_attn.q_proj")), H, D))  # [H, 1, D]
            qh = g.op("Mul", g.op("Reshape", q, g.const([Hkv, rep, D])), scale)
            s = g.op("Concat", g.op("MatMul", qh, kt), g.op("MatMul", qh, g.op("Transpose", k, perm=[0, 2, 1])), axis=-1)
            pp, pn = g.op("Split", g.op("Softmax", s, axis=-1), g.op("Concat", C, g.const([1]), axis=0), axis=-1, n_out=2)
            o = g.op("Add", g.op("MatMul", pp, f"past_v.{l}"), g.op("MatMul", pn, v))                    # [Hkv, rep, D]
            o = st.lin(g.op("Reshape", o, g.const([1, H * D])), p + "self_attn.o_proj.weight")
        if c.o_bias:
            o = g.op("Add", o, st.w(p + "self_attn.o_proj.bias"))
        x = g.op("Add", x, o)
        xn = rms(g, x, st.w(p + "post_attention_layernorm.weight"), c.norm_eps)
        mode = neurons_mode if l >= 1 else "dense"
        x = g.op("Add", x, _ffn(st, l, xn, mode, kept_n, block, nb, zero_d))
    xn = rms(g, x, st.w("model.norm.weight"), c.norm_eps)
    g.rename(st.lin(xn, "lm_head.weight_t"), "logits")
    inits = [numpy_helper.from_array(v, k) for k, v in st.inits.items()] + [numpy_helper.from_array(v, k) for k, v in g.inits.items()]
    graph = helper.make_graph(g.nodes, "shadow_step", ins, outs, initializer=inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS, 1)])
    m.ir_version = 8
    return m


def _predictor(st: Step, x, Lp, H, F, keep_heads, keep_neurons, neurons_mode, block):
    """ShadowPredictor on x (the stream entering layer 1): kept-head and kept-neuron (or block) indices."""
    g = st.g
    var = g.op("ReduceMean", g.op("Mul", x, x), axes=[-1], keepdims=1)
    xn = g.op("Div", x, g.op("Sqrt", g.op("Add", var, g.const(TORCH_RMS_EPS, np.float32))))
    z = g.op("Add", g.op("MatMul", xn, st.w("shadow.fc1")), st.w("shadow.fc1_b"))
    z = g.op("Mul", g.op("Mul", z, g.const(0.5, np.float32)),
             g.op("Add", g.op("Erf", g.op("Mul", z, g.const(1 / np.sqrt(2), np.float32))), g.const(1.0, np.float32)))   # exact GELU
    w2, b2, n = st.W["shadow.fc2"], st.W["shadow.fc2_b"], F
    if neurons_mode == "blocks" and keep_neurons < 1:
        # a block's score is the sum of its neurons' scores, a linear function of fc2's output: folded into fc2
        # (exactly the same ranking, and a fc2 `block` times smaller on the neuron side)
        n = F // block
        fold = lambda a: np.concatenate([a[..., :H], a[..., H:].reshape(*a.shape[:-1], n, block).sum(-1)], -1)
        w2 = fold(w2.reshape(-1, Lp, H + F)).reshape(w2.shape[0], -1)
        b2 = fold(b2.reshape(Lp, H + F)).reshape(-1)
    sfx = ".blocks" if n < F else ""
    z = g.op("Add", g.op("MatMul", z, st.w("shadow.fc2" + sfx, w2)), st.w("shadow.fc2_b" + sfx, b2))
    hs, ns = g.op("Split", g.op("Reshape", z, g.const([Lp, H + n])), g.const([H, n]), axis=1, n_out=2)
    outs, kept_h, kept_n = [], None, None
    if keep_heads < 1:
        kept_h = g.op("TopK", hs, g.const([keep_count(H, keep_heads)]), axis=1, n_out=2)[1]
        g.rename(kept_h, "shadow_heads")
        outs.append(helper.make_tensor_value_info("shadow_heads", TensorProto.INT64, [Lp, keep_count(H, keep_heads)]))
    if keep_neurons < 1:
        kept_n = g.op("TopK", ns, g.const([keep_count(n, keep_neurons)]), axis=1, n_out=2)[1]
        g.rename(kept_n, "shadow_neurons")
        outs.append(helper.make_tensor_value_info("shadow_neurons", TensorProto.INT64, [Lp, keep_count(n, keep_neurons)]))
    return kept_h, kept_n, outs


def _is_kept(g: G, kept, l, n):
    """[n] bool: which of layer l's n units are among kept [L-1, k]."""
    idx = g.op("Gather", kept, g.const(l - 1), axis=0)                                                # [k]
    hits = g.op("Equal", g.op("Unsqueeze", idx, g.const([1])), g.op("Range", g.const(0), g.const(n), g.const(1)))
    return g.op("Cast", g.op("ReduceMax", g.op("Cast", hits, to=TensorProto.INT32), axes=[0], keepdims=0), to=TensorProto.BOOL)


def _heads_skipped(st: Step, c: Config, l, xn, kt, k, v, rope, scale, zero_d, kept_h, qbias):
    """Attention output [1, d] (before o_proj's bias) summing only the kept query heads, one If each."""
    g, p, D, rep = st.g, f"model.layers.{l}.self_attn.", c.head_dim, c.n_heads // c.n_kv_heads
    keep = _is_kept(g, kept_h, l, c.n_heads) if kept_h is not None else None
    per_kv = [(g.op("Gather", kt, g.const(j), axis=0), g.op("Gather", f"past_v.{l}", g.const(j), axis=0),
               g.op("Gather", g.op("Squeeze", g.op("Transpose", k, perm=[0, 2, 1]), g.const([2])), g.const([j]), axis=0),
               g.op("Gather", v, g.const(j), axis=0)) for j in range(c.n_kv_heads)]                   # [D, C], [C, D], [1, D], [1, D]
    cos, sin, _ = rope.__defaults__  # the step's RoPE tables [1, D]; the rotation is rewritten inside each branch
    parts = []
    for h in range(c.n_heads):
        ktj, vj, knew, vnew = per_kv[h // rep]
        sl = slice(h * D, (h + 1) * D)

        def one(h=h, sl=sl, ktj=ktj, vj=vj, knew=knew, vnew=vnew):
            gg = st.g  # the branch's writer
            b = None if qbias is None else (f"{p}q_proj.bias.h{h}", qbias[1][sl])
            q = st.lin(xn, p + f"q_proj.weight.h{h}", st.W[p + "q_proj.weight"][:, sl], b)        # [1, D]
            q1, q2 = gg.op("Split", q, n_out=2, axis=-1)
            q = gg.op("Add", gg.op("Mul", q, cos), gg.op("Mul", gg.op("Concat", gg.op("Neg", q2), q1, axis=-1), sin))
            q = gg.op("Mul", q, scale)
            s = gg.op("Concat", gg.op("MatMul", q, ktj), gg.op("MatMul", q, gg.op("Transpose", knew)), axis=-1)
            pp, pn = gg.op("Split", gg.op("Softmax", s, axis=-1), gg.op("Concat", gg.op("Shape", ktj, start=1), gg.const([1]), axis=0),
                           axis=-1, n_out=2)
            o = gg.op("Add", gg.op("MatMul", pp, vj), gg.op("Mul", pn, vnew))
            return st.lin(o, p + f"o_proj.weight.h{h}", st.W[p + "o_proj.weight"][sl])
        if keep is None:
            parts.append(one())
        else:
            parts.append(st.branch(one, zero_d, f"l{l}h{h}")(g.op("Gather", keep, g.const(h))))
    return g.op("Sum", *parts)


def _ffn(st: Step, l, xn, mode, kept_n, block, nb, zero_d):
    g, p = st.g, f"model.layers.{l}.mlp."
    Wg, Wu, Wd = (st.W[p + n + "_proj.weight"] for n in ("gate", "up", "down"))
    d = Wg.shape[0]

    def swiglu(gu):  # [.., 2k] gate then up -> silu(gate) * up
        a, b = g_().op("Split", gu, n_out=2, axis=-1)
        return g_().op("Mul", g_().op("Mul", a, g_().op("Sigmoid", a)), b)
    g_ = lambda: st.g
    if mode == "dense" or kept_n is None:
        gu = np.concatenate([Wg, Wu], 1)
        return st.lin(swiglu(st.lin(xn, p + "gate_up", gu)), p + "down_proj.weight")
    if mode == "blocks":
        keep = _is_kept(g, kept_n, l, nb)
        parts = []
        for b in range(nb):
            sl = slice(b * block, (b + 1) * block)

            def one(b=b, sl=sl):
                a = swiglu(st.lin(xn, p + f"gate_up.b{b}", np.concatenate([Wg[:, sl], Wu[:, sl]], 1)))
                return st.lin(a, p + f"down.b{b}", Wd[sl])
            parts.append(st.branch(one, zero_d, f"l{l}b{b}")(g.op("Gather", keep, g.const(b))))
        return g.op("Sum", *parts)
    # gather: rows [F, 2, d] (each neuron's gate row then up row) and down_proj rows [F, d]
    idx = g.op("Gather", kept_n, g.const(l - 1), axis=0)                                              # [k]
    rows = np.ascontiguousarray(np.stack([Wg.T, Wu.T], 1))
    xt = g.op("Transpose", xn)                                                                        # [d, 1]
    if st.int8:
        q, s = quant_cols(rows.reshape(-1, d).T)                 # per row of [2F, d]
        sx = g.op("Div", g.op("ReduceMax", g.op("Abs", xt), keepdims=0), g.const(127.0, np.float32))
        xq = g.op("Cast", g.op("Clip", g.op("Round", g.op("Div", xt, sx)), g.const(-127.0, np.float32), g.const(127.0, np.float32)),
                  to=TensorProto.INT8)
        wk = g.op("Reshape", g.op("Gather", st.w(p + "rows.q", q.T.reshape(-1, 2, d)), idx, axis=0), g.const([-1, d]))
        sk = g.op("Reshape", g.op("Gather", st.w(p + "rows.s", s.reshape(-1, 2)), idx, axis=0), g.const([-1, 1]))
        gu = g.op("Mul", g.op("MatMulIntegerToFloat", wk, xq, g.const(1.0, np.float32), sx, domain=MS), sk)   # [2k, 1]
        dq, ds = quant_cols(Wd)
        a = swiglu(g.op("Reshape", gu, g.const([1, -1, 2])))                                         # [1, k, 1]
        dk = g.op("Gather", st.w(p + "down.q", dq), idx, axis=0)                                      # [k, d] int8
        return g.op("DynamicQuantizeMatMul", g.op("Reshape", a, g.const([1, -1])), dk, st.w(p + "down.s", ds),
                    st.w(p + "down.zp", np.zeros(d, np.int8)), domain=MS)
    wk = g.op("Reshape", g.op("Gather", st.w(p + "rows", rows), idx, axis=0), g.const([-1, d]))       # [2k, d]: a copy
    a = swiglu(g.op("Reshape", g.op("MatMul", wk, xt), g.const([1, -1, 2])))                          # [1, k, 1]
    dk = g.op("Gather", st.w(p + "down_rows", np.ascontiguousarray(Wd)), idx, axis=0)                 # [k, d]: a copy
    return g.op("MatMul", g.op("Reshape", a, g.const([1, -1])), dk)


def block_masks(pred: ShadowPredictor, keep_heads: float, keep_neurons: float, block: int | None, sparse_from: int = 1):
    """masks(l, x) for shadow.forward as the step graph chooses: the predictor once on the stream entering
    layer sparse_from; heads by their scores; neurons by theirs (block None) or whole blocks by the sum of
    their neurons' scores."""
    cache = {}

    def masks(l, x):
        i = l - sparse_from
        if i == 0:
            cache["s"] = pred(x)
        h, n = cache["s"][0][:, :, i], cache["s"][1][:, :, i]
        hm = topk_mask(h, keep_heads) if keep_heads < 1 else None
        if keep_neurons >= 1:
            return hm, None
        if block is None:
            return hm, topk_mask(n, keep_neurons)
        bm = topk_mask(n.unflatten(-1, (-1, block)).sum(-1), keep_neurons)
        return hm, bm.repeat_interleave(block, -1)
    return masks
