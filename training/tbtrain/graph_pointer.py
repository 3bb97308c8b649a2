"""The graphs' output head: the vocabulary head and, with pointer heads, its mixture with the copy
distributions (the pointer heads' attention and the n-gram lookup), weighted by the copy gate
(model.LM.head is the reference)."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from tbtrain.graph_ops import G, Shared, rms
from tbtrain.model import Config


def head(g: G, c: Config, sh: Shared, x, separate_head: bool):
    """The last position's logits: the vocabulary head, or (pointer heads) its mixture with the copies."""
    last = g.op("Slice", x, g.op("Sub", sh.S, g.const([1])), sh.S, g.const([0]))       # [1, d]
    hn = rms(g, last, "model.norm.weight", c.norm_eps)
    head_out = "lm_logits" if c.copy_heads else "logits"
    if separate_head or not c.tie_embeddings:  # the int8 graphs' own copy of the tied table, or an untied head
        g.nodes.append(helper.make_node("MatMul", [hn, "lm_head.weight_t"], [head_out], name="lm_head"))
    else:
        g.nodes.append(helper.make_node("Gemm", [hn, "model.embed_tokens.weight"], [head_out], transB=1, name="lm_head"))
    if c.copy_heads:
        mix_copies(g, c, sh, hn, head_out)


def mix_copies(g: G, c: Config, sh: Shared, hn, head_out):
    """logits = log(gate_0 * softmax(lm_logits) + sum_c gate_c * scatter_add(attention of pointer head c onto its token ids))"""
    g.scope = "pointer"
    z = g.op("Add", g.op("MatMul", hn, "copy_gate.weight"), "copy_gate.bias")     # [1, 1+n(+1)]
    if c.ngram_max:
        ng_src, ng_w, ng_f, ng_pos = ngram_last(g, c, sh.ids)
        n_comp = len(c.copy_heads) + 2
        z = g.op("Add", g.op("Add", z, g.op("MatMul", g.op("Unsqueeze", ng_f, g.const([0])), "copy_gate_f.weight")),
                 g.op("Mul", g.op("Slice", ng_f, g.const([0]), g.const([1])),          # no match: the lookup gets no weight
                      g.const(np.array([0.0] * (n_comp - 1) + [-1e9], np.float32), np.float32)))
    gate = sh.mark("gate", g.op("Softmax", z, axis=-1))
    p = g.op("Mul", g.op("Softmax", head_out, axis=-1), g.op("Slice", gate, g.const([0]), g.const([1]), g.const([1])))
    upd = [g.op("Mul", sh.copy_rows[f], g.op("Gather", gate, g.const(i + 1), axis=1)) for i, f in enumerate(c.copy_heads)]
    srcs = [sh.copy_src[f] for f in c.copy_heads]
    if c.ngram_max:
        upd.append(g.op("Mul", ng_w, g.op("Gather", gate, g.const(len(c.copy_heads) + 1), axis=1)))
        srcs.append(ng_src)
        # what the lookup copied from, for the chosen-context highlights: positions and probability mass
        g.rename(ng_pos, "lookup_pos"); g.rename(upd[-1], "lookup_w")
        sh.outs += [helper.make_tensor_value_info("lookup_pos", TensorProto.INT64, ["M"]),
                    helper.make_tensor_value_info("lookup_w", TensorProto.FLOAT, ["M"])]
    copied = g.op("ScatterElements", g.const(np.zeros(c.vocab_size, np.float32), np.float32),
                  g.op("Concat", *srcs, axis=0), g.op("Concat", *upd, axis=0), axis=0, reduction="add")
    mixed = g.op("Add", p, g.op("Unsqueeze", copied, g.const([0])))
    g.nodes.append(helper.make_node("Log", [g.op("Max", mixed, g.const(1e-30, np.float32))], ["logits"], name="pointer/log"))


def ngram_last(g: G, c: Config, ids):
    """The n-gram lookup of the last position (ngram.ngram_lookup_last) over the sequence
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
    eq = g.op("And", eq, g.op("And", g.op("GreaterOrEqual", back, g.const(0)), g.op("GreaterOrEqual", N, ks)))  # both exist
    run = g.op(
        "Concat",
        g.op("Cast", eq, to=TensorProto.FLOAT),
        g.op("Mul", g.op("Unsqueeze", g.op("Cast", cand, to=TensorProto.FLOAT), g.const([1])), g.const(0.0, np.float32)),
        axis=1,
    )   # [Mc, K + 1], last column 0
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
    agree = g.op(
        "ReduceSum", g.op("Mul", w, g.op("Cast", g.op("Equal", g.op("Gather", seq, cand), last_tok), to=TensorProto.FLOAT)), keepdims=1
    )
    onehot = g.op("Cast", g.op("Equal", g.const(np.arange(K + 1, dtype=np.float32), np.float32), kstar), to=TensorProto.FLOAT)
    feats = g.op(
        "Concat", onehot, g.op("Div", g.op("Log", g.op("Add", count, g.const(1.0, np.float32))), g.const(5.0, np.float32)), agree, axis=0
    )
    pick = g.op("Reshape", g.op("NonZero", best), g.const([-1]))    # the matching keys only (the scatter reads M, not N, entries)
    nz = g.op("Gather", cand, pick)
    return g.op("Gather", seq, nz), g.op("Gather", w, pick), feats, nz
