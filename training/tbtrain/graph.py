"""The engine's ONNX graphs (docs/graph-contract.md), written with onnx.helper, not traced, so the
contract is explicit:
  dense.onnx   prefill chunks and dense decode (S >= 1 new tokens, attention over all P cached)
  sparse.onnx  one decode step: layer 0 dense (or its window); the predictor's importance queries
               score the int8 importance-key cache per (layer >= 1, KV head) with MatMulInteger;
               the sinks, the `budget` best of the slots between them and the recent window (TopK),
               the recent window; Gather of K/V rows; attention over the selection.

`build` reads top to bottom as the graph runs:
  graph_embed.py      inputs, token and previous-token embeddings, RoPE tables, masks
  graph_select.py     per producer layer (sparse only): importance queries, int8 scores, top-k, reuse
  graph_attention.py  per layer: attention over the cache and the chunk, new cache rows, the MLP
  graph_pointer.py    the head: vocabulary logits, mixed with the pointer heads and the n-gram lookup
  graph_ops.py        the node writer (G) and the tensors every piece shares
The order of the calls is the order of the nodes in the file (and of their generated names).
"""
from __future__ import annotations

import math

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper

from tbtrain.graph_attention import block
from tbtrain.graph_embed import embed, inputs, masks, rotations
from tbtrain.graph_ops import G, Shared, assemble
from tbtrain.graph_pointer import head
from tbtrain.graph_select import layer_selection, selection_inputs, slot_ranges
from tbtrain.model import LM, Config, inv_freq, lm_inv_freq
from tbtrain.predictor import Predictor, tap_groups


def weights_of(lm: LM, pred: Predictor) -> dict[str, np.ndarray]:
    c = lm.cfg
    W = {k: v.detach().float().numpy() for k, v in lm.state_dict().items() if k != "lm_head.weight"}
    if not c.tie_embeddings:  # an untied output head, [d, V] like the other linears
        W["lm_head.weight_t"] = lm.lm_head.weight.detach().float().numpy().T
    for t, prod in pred.producers.items():  # one producer per tap layer t
        W[f"predictor.{t}.norm.weight"] = prod.norm.weight.detach().numpy()
        W[f"predictor.{t}.fc1.weight"] = prod.fc1.weight.detach().numpy()
        W[f"predictor.{t}.fc2.weight"] = prod.fc2.weight.detach().numpy()
    # [L-1, Hkv, D, d'] (with the rotary pairs' fixed key dims)
    W["predictor.key_proj"] = pred.full_key_proj().detach().numpy()
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
    if c.rope_scaling:
        inv = lm_inv_freq(c, torch.float64).numpy()
    W["rope.inv_freq"] = inv.astype(np.float32)
    if pred.cfg.pred_rot_pairs:
        W["predictor.rot_inv_freq"] = pred.rot_inv_freq().numpy()  # [L-1, Hkv, r], as the reference computes it
    if pred.cfg.pred_rope:
        # [d'/2], as the reference computes it
        W["predictor.rope_inv_freq"] = inv_freq(pred.cfg.pred_rope, pred.cfg.imp_dim).numpy()
    return {k: np.ascontiguousarray(v.astype(np.float32)) for k, v in W.items()}


def build(cfg: Config, sparse: bool, W: dict[str, np.ndarray], separate_head: bool = False, layer0: str = "dense",
          marks: dict | None = None) -> onnx.ModelProto:
    """separate_head: the output head reads its own [d, V] copy of the tied embedding (the int8
    quantizer would otherwise transpose the shared table under the embedding Gather).
    marks: a dict filled with the names of the tensors the ShadowLLM variant reads (shadow_export.py); the graph
    itself is the same."""
    c, g = cfg, G()
    ins = inputs(c, sparse)
    outs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, c.vocab_size])]
    ids, S, C, x = embed(g, c)
    pos, rope, imp_rope, imp_rope_q = rotations(g, c, S)
    past_mask, causal = masks(g, c, S, C)
    ranges = slot_ranges(g, c, C) if sparse else {}  # sinks and recent window; their rows; how many slots to choose
    sh = Shared(ids=ids, S=S, C=C, pos=pos, rope=rope, imp_rope=imp_rope, imp_rope_q=imp_rope_q, past_mask=past_mask,
                causal=causal, scale=g.const(1.0 / math.sqrt(c.head_dim), np.float32), outs=outs, marks=marks, **ranges)
    sh.mark("S", S); sh.mark("cos", rope.__defaults__[0]); sh.mark("sin", rope.__defaults__[1])
    groups = tap_groups(c) if sparse else {}
    sel_idx = {}
    if sparse:
        selection_inputs(g, c, sh)
    for l in range(c.n_layers):
        if sparse and l in groups:  # the producer tapping the residual stream entering layer l serves consumer layers groups[l]
            sel_idx.update(layer_selection(g, c, sh, x, l, groups[l]))
        sh.mark(f"x.{l}", x)  # the residual stream entering layer l
        x = block(g, c, sh, x, l, sparse, layer0, sel_idx)
    head(g, c, sh, x, separate_head)
    return assemble(g, W, "sparse" if sparse else "dense", ins, outs)
