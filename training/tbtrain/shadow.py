"""ShadowLLM (Akhauri et al., EMNLP 2024, arXiv 2406.16635): contextual head and FFN-neuron sparsity.

The LM's forward with per-token masks on attention heads and SwiGLU neurons, and the two importance
criteria the masks are chosen by:

  plainact   |activation x dLoss/dactivation|, the paper's gradient-informed criterion. A neuron's
             activation is its scalar a = silu(gate) * up; a head's is its whole output, and its score
             |sum_d y_d dL/dy_d| = |dL/dg| for a gate g = 1 multiplying the head: the first-order loss
             change of dropping it. A pointer head's gate scales its copy component too.
  magnitude  DejaVu-style: |a| for a neuron, the norm of a head's contribution to the residual stream
             (its slice of o_proj applied to its output).

Masks act on layers >= `sparse_from` (1: layer 0 stays dense, its output is the ShadowLLM predictor's
input). A dropped head adds nothing to the residual stream; for a pointer head its copy component is
dropped from the gate mixture too (the mixture is renormalized over what was computed). Keys and values
are computed for every head (the saving in a decode graph is the query, attention and o_proj of the
dropped heads; a dropped neuron saves its gate/up rows and its down_proj column).

Predictors, their ranking loss and the data windows: shadow_pred.py."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from tbtrain.model import LM, rope_tables


def _attention(lm: LM, l: int, x, cos, sin, gate, record: dict | None):
    """Layer l's attention output [B, T, d] with per-(token, head) gate [B, T, H] (None: dense) and the
    pointer heads' probabilities {flat head: [B, T, T]}."""
    attn = lm.model.layers[l].self_attn
    c = lm.cfg
    B, T, _ = x.shape
    q, k, v = attn.qkv(x, cos, sin)
    rep = c.n_heads // c.n_kv_heads
    kk, vv = (k, v) if rep == 1 else (k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1))
    y = F.scaled_dot_product_attention(q, kk, vv, is_causal=True)            # [B, H, T, D]
    if record is not None:  # magnitude: each head's contribution to the residual stream
        wo = attn.o_proj.weight.view(c.d_model, c.n_heads, c.head_dim)
        record["mag_heads"].append(torch.einsum("bhtd,ehd->bthe", y.detach().float(), wo.float()).norm(dim=-1))
    if gate is not None:
        y = y * gate.transpose(1, 2)[..., None].to(y.dtype)
    out = attn.o_proj(y.transpose(1, 2).reshape(B, T, -1))
    probs = {}
    heads = [f % c.n_heads for f in c.copy_heads if f // c.n_heads == l]
    if heads:
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        for h in heads:
            s = (q[:, h] @ kk[:, h].transpose(1, 2)).float() / math.sqrt(c.head_dim)
            probs[l * c.n_heads + h] = s.masked_fill(~causal, float("-inf")).softmax(-1)
    return out, probs


def _mlp(lm: LM, l: int, x, mask, record: dict | None):
    mlp = lm.model.layers[l].mlp
    a = F.silu(mlp.gate_proj(x)) * mlp.up_proj(x)                               # [B, T, F]
    if record is not None:
        record["mag_neurons"].append(a.detach().float().abs())
        if record["grad"]:
            a.retain_grad()
        record["acts"].append(a)
    if mask is not None:
        a = a * mask.to(a.dtype)
    return mlp.down_proj(a)


def forward(lm: LM, ids, prev, targets, masks=None, sparse_from: int = 1, record: dict | None = None):
    """Per-token loss [B, T] of targets, as LM.nll, with contextual masks.

    masks: None (dense) or a callable masks(l, x) -> (head_mask [B, T, H] or None, neuron_mask [B, T, F] or None)
    called for each layer l >= sparse_from with the residual stream x entering it (so a per-layer predictor
    reads the sparse model's own stream). record: a dict filled with what importances() needs."""
    c = lm.cfg
    T = ids.shape[1]
    cos, sin = rope_tables(c, torch.arange(T))
    x = lm.embed(ids, prev)
    probs, head_gates = {}, {}
    for l, layer in enumerate(lm.model.layers):
        hm = nm = None
        if l >= sparse_from:
            if record is not None:
                record["inputs"].append(x.detach())
                hm = torch.ones(*ids.shape, c.n_heads, requires_grad=record["grad"])
                record["gates"].append(hm)
            elif masks is not None:
                hm, nm = masks(l, x)
        a, pr = _attention(lm, l, layer.input_layernorm(x), cos, sin, hm, record if l >= sparse_from else None)
        probs.update(pr)
        for f in pr:
            if hm is not None:
                head_gates[f] = hm[..., f % c.n_heads]
        x = x + a
        x = x + _mlp(lm, l, layer.post_attention_layernorm(x), nm, record if l >= sparse_from else None)
    return _nll(lm, x, probs, head_gates, ids, targets)


def _nll(lm: LM, x, probs, head_gates, ids, targets):
    """LM.nll's mixture, each pointer head's component scaled by its gate and the mixture renormalized."""
    hn = lm.model.norm(x)
    logp = F.log_softmax(lm.lm_head(hn).float(), -1).gather(-1, targets[..., None])[..., 0]
    if lm.copy_gate is None:
        return -logp
    ng = lm.ngram(ids)
    w = F.softmax(lm.gate_logits(hn, ng), -1)
    hit = ids[:, None, :] == targets[:, :, None]
    num, denom = 0.0, w[..., 0]
    for ci, f in enumerate(lm.cfg.copy_heads):
        g = head_gates.get(f)
        wc = w[..., ci + 1] * (g if g is not None else 1.0)
        num = num + wc * (probs[f] * hit).sum(-1)
        denom = denom + wc
    if ng is not None:
        num = num + w[..., -1] * (ng[0] * hit).sum(-1)
        denom = denom + w[..., -1]
    return -(torch.logaddexp(torch.log(w[..., 0].clamp_min(1e-30)) + logp, torch.log(num.clamp_min(1e-30))) - torch.log(denom))


def importances(lm: LM, ids, prev, targets, sparse_from: int = 1, grad: bool = True) -> dict:
    """Per-token importances of layers >= sparse_from from one dense forward (and backward when grad):
    {plainact,mag}_{heads,neurons}: [B, T, L', H] / [B, T, L', F]; x0: the residual stream entering layer
    sparse_from (the ShadowLLM predictor's input) [B, T, d]; inputs: every masked layer's input [B, T, L', d];
    nll [B, T] (dense)."""
    rec = {"grad": grad, "inputs": [], "gates": [], "acts": [], "mag_heads": [], "mag_neurons": []}
    with torch.enable_grad() if grad else torch.no_grad():
        nll = forward(lm, ids, prev, targets, record=rec, sparse_from=sparse_from)
        if grad:
            nll.sum().backward()
    out = {"nll": nll.detach(), "x0": rec["inputs"][0], "inputs": torch.stack(rec["inputs"], 2),
           "mag_heads": torch.stack(rec["mag_heads"], 2), "mag_neurons": torch.stack(rec["mag_neurons"], 2)}
    if grad:
        out["plainact_heads"] = torch.stack([g.grad.abs() for g in rec["gates"]], 2)
        out["plainact_neurons"] = torch.stack([(a.detach() * a.grad).float().abs() for a in rec["acts"]], 2)
    return out


def keep_count(n: int, keep: float) -> int:
    return max(1, min(n, int(round(keep * n))))


def topk_mask(scores, keep: float):
    """A 0/1 float mask over the last dim keeping the keep_count largest scores of each row."""
    k = keep_count(scores.shape[-1], keep)
    idx = scores.topk(k, -1).indices
    return torch.zeros_like(scores, dtype=torch.float32).scatter_(-1, idx, 1.0)


def fixed_masks(head_scores=None, neuron_scores=None, keep_heads: float = 1.0, keep_neurons: float = 1.0, sparse_from: int = 1):
    """masks(l, x) from precomputed scores [B, T, L', *] (oracle importances, or any fixed scores)."""
    hm = topk_mask(head_scores, keep_heads) if head_scores is not None and keep_heads < 1 else None
    nm = topk_mask(neuron_scores, keep_neurons) if neuron_scores is not None and keep_neurons < 1 else None
    return lambda l, x: (None if hm is None else hm[:, :, l - sparse_from], None if nm is None else nm[:, :, l - sparse_from])


def bits_per_byte(nats: float, nbytes: float) -> float:
    return nats / math.log(2) / nbytes


def window_bytes(tbytes: np.ndarray, targets) -> float:
    return float(tbytes[targets.numpy()].sum())
