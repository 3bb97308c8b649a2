"""Distilling the predictor from the frozen LM: the LM's internals on sampled rows (the producer taps
and the attention targets per consumer layer), the predictor's scores over the same keys, the
training loss against the LM's attention, and recall of the LM's top-k (the metrics that
train_predictor.py logs); `warm_start` carries a predictor's weights into a new layout."""
from __future__ import annotations

import math

import numpy as np
import torch

from tbtrain.model import LM, autocast, rope_tables
from tbtrain.predictor import Predictor, pre_rope_keys


@torch.no_grad()
def lm_internals(lm: LM, prev: torch.Tensor, ids: torch.Tensor, rows: torch.Tensor, taps=None):
    """One forward over ids [1,T]; returns the producer taps {layer: [1,T,d]} (the residual stream
    entering each tap layer) and, per consumer layer l>=1, (attention target rows [Hkv, R, T]
    averaged over query heads, pre-RoPE keys [1,Hkv,T,D])."""
    c = lm.cfg
    T = ids.shape[1]
    cos, sin = rope_tables(c, torch.arange(T))
    x = lm.embed(ids, prev)
    taps = set(taps if taps is not None else [c.producer_layer])
    tap, per_layer = {}, {}
    rep = c.n_heads // c.n_kv_heads
    causal = torch.arange(T)[None, :] <= rows[:, None]  # [R, T]
    for l, layer in enumerate(lm.model.layers):
        if l in taps:
            tap[l] = x.clone()
        xn = layer.input_layernorm(x)
        if l >= 1:
            q, k, _ = layer.self_attn.qkv(xn, cos, sin)
            kk = k.repeat_interleave(rep, 1) if rep > 1 else k
            s = (q[0][:, rows] @ kk[0].transpose(1, 2)) / math.sqrt(c.head_dim)  # [H, R, T]
            p = s.masked_fill(~causal, float("-inf")).softmax(-1)
            per_layer[l] = (p.view(c.n_kv_heads, rep, len(rows), T).mean(1), pre_rope_keys(lm, xn, l))
        with autocast():
            x = layer(x, cos, sin)
        x = x.float()
    return tap, per_layer


def sample_rows(T: int, n: int, rng: np.random.Generator, min_row: int) -> torch.Tensor:
    """Tail-biased: the last row, half uniform over [min_row, T), half from the last quarter."""
    a = rng.integers(min_row, T, n // 2)
    b = rng.integers(max(min_row, 3 * T // 4), T, n - n // 2 - 1)
    return torch.from_numpy(np.unique(np.concatenate([a, b, [T - 1]]))).long()


def eligible(rows, T, sinks, recent):
    j = torch.arange(T)[None, :]
    return (j >= sinks) & (j <= rows[:, None] - recent)


def importance(pred: Predictor, tap: dict, rows):
    """{consumer layer: importance queries [Hkv, R, E]} at `rows`."""
    out = {}
    for t in pred.groups:
        out.update({m: q[0][:, rows] for m, q in pred.queries(t, tap[t]).items()})
    return out


def scores(pred: Predictor, qimp: dict, kpre, l: int, rows, T: int, int8: bool = False):
    """Predicted importance logits [Hkv, R, T] of consumer layer l (content score + distance prior);
    int8: the graphs' integer scores (int8 keys and queries, predictor.int8_scores), a per-row rescaling."""
    return pred.scores(qimp[l], pred.keys(kpre, l)[0], l, rows[:, None] - torch.arange(T)[None, :], int8)


def step_loss(pred: Predictor, tap, per_layer, rows, sinks, recent, temp: float = 1.0, mass_weight: bool = True):
    """Cross-entropy of the predicted importance distribution against the LM's attention over the
    selectable tokens. temp > 1 flattens the target (p^(1/temp), renormalised) so the order of the
    tail counts more; rows are weighted by their far mass unless mass_weight is off."""
    T = next(iter(tap.values())).shape[1]
    qimp = importance(pred, tap, rows)
    elig = eligible(rows, T, sinks, recent)
    losses, weights = [], []
    for l, (target, kpre) in per_layer.items():
        s = scores(pred, qimp, kpre, l, rows, T)  # [Hkv, R, T]
        t = target * elig
        mass = t.sum(-1, keepdim=True)  # share of attention on the far (selectable) context
        t = t / mass.clamp_min(1e-9)
        if temp != 1.0:
            t = t.clamp_min(1e-30).pow(1.0 / temp) * elig
            t = t / t.sum(-1, keepdim=True).clamp_min(1e-30)
        logp = s.masked_fill(~elig, -1e9).log_softmax(-1)
        ce = -(t * logp.clamp_min(-1e4)).sum(-1)  # [Hkv, R]
        ok = (mass[..., 0] > 1e-6).float()
        w = mass[..., 0] * ok if mass_weight else ok
        losses.append((ce * w).sum()); weights.append(w.sum())
    return torch.stack(losses).sum() / torch.stack(weights).sum().clamp_min(1e-9)


@torch.no_grad()
def recall_metrics(
    pred: Predictor, tap, per_layer, rows, sinks, recent, budgets=(64, 256, 512, 1024, "10%", "25%", "50%"), int8: bool = False
):
    """Per layer and KV head, among the selectable (non-forced) tokens and averaged over rows: recall
    of the oracle top-k, attention mass captured by the predictor's top-k relative to the oracle's,
    and `far_mass` (the share of the row's attention on selectable tokens: how much the choice matters).
    A budget is a token count or a share of each row's selectable tokens ("50%": the TokenButler
    paper's top-50% token classification)."""
    T = next(iter(tap.values())).shape[1]
    qimp = importance(pred, tap, rows)
    elig = eligible(rows, T, sinks, recent)
    n_elig = elig.sum(-1)  # [R]
    out = {}
    for l, (target, kpre) in per_layer.items():
        s = scores(pred, qimp, kpre, l, rows, T, int8).masked_fill(~elig, -3e38)
        t = (target * elig)
        far = t.sum(-1)  # [Hkv, R]
        p_rank = s.argsort(-1, descending=True).argsort(-1)
        o_rank = t.masked_fill(~elig, -1).argsort(-1, descending=True).argsort(-1)
        for k in budgets:
            kk = (n_elig * float(k[:-1]) / 100).long().clamp_min(1) if isinstance(k, str) else torch.full_like(n_elig, k)
            valid = n_elig > kk  # rows where selection matters
            if valid.sum() == 0:
                continue
            hit = p_rank < kk[None, :, None]; sel = o_rank < kk[None, :, None]
            oracle_hit = (hit & sel).sum(-1).float() / kk[None].float()  # [Hkv, R]
            mass_rec = (t * hit).sum(-1) / (t * sel).sum(-1).clamp_min(1e-9)
            for h in range(t.shape[0]):
                out[f"L{l}H{h}@{k}"] = {"topk_recall": oracle_hit[h][valid].mean().item(), "mass_recall": mass_rec[h][valid].mean().item(),
                                        "far_mass": far[h][valid].mean().item()}
    return out


def summarize(per_head: dict) -> dict:
    """Means over (layer, KV head); `*_w` weight each head by its far mass (heads that put little
    attention beyond the sinks and the recent window count little)."""
    res = {}
    for k in sorted({key.split("@")[1] for key in per_head}, key=lambda b: (b.endswith("%"), int(b.rstrip("%")))):
        vals = [v for key, v in per_head.items() if key.endswith("@" + k)]
        w = np.array([v.get("far_mass", 1.0) for v in vals])
        for m in ("topk_recall", "mass_recall"):
            x = np.array([v[m] for v in vals])
            res[f"{m}@{k}"] = float(x.mean())
            res[f"{m}_w@{k}"] = float((x * w).sum() / max(w.sum(), 1e-9))
    return res


def warm_start(pred: Predictor, state: dict) -> list[str]:
    """Loads every tensor of `state` that `pred`'s layout shares (same name and shape); returns the
    names left at their initial values (e.g. a new distance prior, which starts at 0: no change).
    Into a wider importance space (new rotary pairs after the old dims) each producer's old output
    dims load as the first ones; the new query dims start at 0, so the scores start as the old
    predictor's."""
    own = pred.state_dict()
    # not the int8 key steps: training moves the keys, so they are calibrated afresh (predictor.ensure_calibrated)
    same = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape and k != "ik_scale"}
    E, kp = pred.cfg.imp_dim, state.get("key_proj")
    if kp is not None and "key_proj" in same and kp.shape[-1] < E:
        Eo = kp.shape[-1]
        for k, v in state.items():
            if (
                k.endswith("fc2.weight")
                and k in own
                and k not in same
                and own[k].shape[1] == v.shape[1]
                and v.shape[0] * E == own[k].shape[0] * Eo
            ):
                w = torch.zeros_like(own[k]).view(-1, E, v.shape[1])
                w[:, :Eo] = v.view(-1, Eo, v.shape[1])
                same[k] = w.view_as(own[k])
    pred.load_state_dict(same, strict=False)
    return sorted(set(own) - set(same) - {"ik_scale"})
