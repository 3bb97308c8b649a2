"""Sparse attention policies in a decode simulation (masks per row): dense, oracle (true attention
top-k), tokenbutler (predictor top-k), tokenbutler-l0w (layer 0 reads only its window), window
(sinks + recent = StreamingLLM), h2o (accumulated attention, permanent eviction), quest (16-token
pages, min/max key bound), random. Every row i attends to at most budget(i) past tokens (sinks and
a recent window included), as a decode step at position i would. eval.py's flags set LOOKUP,
INT8_KEYS and RECENT_RULE."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tbtrain import kv_quant
from tbtrain.model import LM, rope_tables
from tbtrain.predictor import Predictor, pre_rope_keys

SINKS = 4


PAGE = 16


LOOKUP = True  # the model's n-gram lookup (config.ngram_max) on; --no-lookup measures attention alone


INT8_KEYS = True  # tokenbutler scores int8 importance keys, as the graphs do; --fp32-keys: the fp32 scores


KV_CACHE = "f32"  # how past slots are read: the float32 cache, or a compact form of kv_quant.MODES (bench/kv-cache.md)


LATE_ROW = 512  # margins are also reported over rows with at least this many tokens of prefix


# Forced recent window of a sparse row per policy: clamp(budget / D, LO, HI) as (D, LO, HI); each
# policy at the split that measured best for it on the tuning windows (--seed 7, 12 x 2,048, 10%;
# --recent-rule D,LO,HI forces one rule on every policy to tune):
# - tokenbutler and oracle: 4 recent tokens instead of 8 on the rows whose budget is 12-64 tokens let
#   selection choose (tokenbutler 0.9477 -> 0.9302 bits/byte; the upper bound hardly mattered);
# - h2o: two thirds of the budget recent (1.0795 at budget/8, 1.0376 at /3, 1.0278 at /2 (the H2O
#   paper's split), 1.0213 at /1.5; the window alone is 1.0420);
# - quest: a third (1.0524 at budget/8, 1.0359 at /4, 1.0326 at /3, 1.0361 at /2).
# Until session 9 every policy used (8, 8, 64).
RECENT_RULES = {"default": (16, 4, 32), "h2o": (1.5, 8, 1 << 30), "quest": (3, 8, 1 << 30)}


RECENT_RULE = None  # --recent-rule: one rule for every policy


def recent_rule(policy: str):
    return RECENT_RULE or RECENT_RULES.get(policy, RECENT_RULES["default"])


def window_len(b, rule):
    """Per-row forced recent window for per-row budgets b under rule (D, LO, HI)."""
    div, lo, hi = rule
    return torch.clamp((b / div).long(), lo, hi)


L0W_RULE = (8, 8, 64)  # tokenbutler-l0w: layer 0's window (the engine's layer0="window"), unchanged


def budget_rows(T: int, budget) -> torch.Tensor:
    i = torch.arange(T)
    if isinstance(budget, float):
        return torch.clamp(torch.ceil(budget * (i + 1)).long(), min=SINKS + 8)
    return torch.full((T,), int(budget))


def topk_mask(scores, eligible, k_sel):
    """scores [h, T, T]; select per row the k_sel[i] best eligible columns."""
    s = scores.masked_fill(~eligible, float("-inf"))
    kmax = int(k_sel.max().item())
    if kmax <= 0:
        return torch.zeros_like(eligible)
    vals, idx = s.topk(min(kmax, s.shape[-1]), -1)
    keep = (torch.arange(vals.shape[-1])[None, None, :] < k_sel[None, :, None]) & (vals > float("-inf"))
    return torch.zeros_like(eligible).scatter_(-1, idx, keep)


DILATIONS = {"dilate": (1, 1), "dilate-next": (1, 0)}  # neighbour fetch forms: (before, after) in dilate()


def dilate(scores, eligible, before: int = 1, after: int = 1):
    """Neighbour fetch (the engine's with "dilate-next", selection.neighbour_scores): each eligible slot j scores the max of
    the eligible scores at j-before .. j+after, so the top-k by these scores brings the slots next to
    each high-scoring one along (adjacent choices share their neighbours: no slot twice)."""
    s = scores.masked_fill(~eligible, float("-inf"))
    shape = s.shape
    d = F.max_pool1d(F.pad(s.reshape(-1, 1, shape[-1]), (before, after), value=float("-inf")), before + after + 1, 1)
    return d.reshape(shape).masked_fill(~eligible, float("-inf"))


@torch.no_grad()
def simulate(lm: LM, pred: Predictor | None, ids, prev, policy: str, budget, interval: int = 1, neighbor=False, seed: int = 0,
             return_logits: bool = False):
    """Per-token losses [T-1] of ids [1,T] under `policy` at `budget` (fraction or token count).
    neighbor: "dilate-next" (the engine's neighbour fetch: slot j+1 comes along with each high-scoring
    slot j, within the budget), "dilate" (slots j-1 and j+1 come along), or True (the earlier study:
    half the budget, plus the slot after each chosen one)."""
    c = lm.cfg
    T = ids.shape[1]
    cos, sin = rope_tables(c, torch.arange(T))
    x = lm.embed(ids, prev)
    rep = c.n_heads // c.n_kv_heads
    i_idx = torch.arange(T)[:, None]; j_idx = torch.arange(T)[None, :]
    causal = j_idx <= i_idx
    b = budget_rows(T, budget) if policy != "dense" else None
    recent = window_len(b, recent_rule(policy)) if b is not None else None
    if policy == "window":
        recent = b - SINKS
    g = torch.Generator().manual_seed(seed)
    qimp = {}
    by_layer, probs = lm.copy_by_layer(), {}
    for l, layer in enumerate(lm.model.layers):
        if pred is not None and l in pred.groups:
            qimp.update({m: q[0] for m, q in pred.queries(l, x).items()})  # {consumer: [Hkv, T, E]}
        xn = layer.input_layernorm(x)
        q, k, v = layer.self_attn.qkv(xn, cos, sin)
        kk = k.repeat_interleave(rep, 1) if rep > 1 else k
        vv = v.repeat_interleave(rep, 1) if rep > 1 else v
        s = (q[0] @ kk[0].transpose(1, 2)) / math.sqrt(c.head_dim)  # [H, T, T]
        mask = causal.expand(c.n_kv_heads, T, T)
        if policy == "tokenbutler-l0w" and l == 0:  # layer 0 reads only sinks + recent window
            mask = (causal & ((j_idx < SINKS) | (j_idx > i_idx - window_len(b, L0W_RULE)[:, None]))).expand(c.n_kv_heads, T, T)
        if policy != "dense" and l >= 1:
            forced = causal & ((j_idx < SINKS) | (j_idx > i_idx - recent[:, None]))
            elig = causal & ~forced
            k_sel = torch.clamp(b - forced.sum(-1), min=0)
            if neighbor is True:
                k_sel = k_sel // 2
            E = elig.expand(c.n_kv_heads, T, T)
            if policy == "window":
                sel = torch.zeros_like(E)
            elif policy == "oracle":
                sel = topk_mask(s.view(c.n_kv_heads, rep, T, T).mean(1), E, k_sel)
            elif policy == "random":
                sel = topk_mask(torch.rand(c.n_kv_heads, T, T, generator=g), E, k_sel)
            elif policy in ("tokenbutler", "tokenbutler-l0w"):
                ik = pred.keys(pre_rope_keys(lm, xn, l), l)[0]  # [Hkv, T, E]
                sc = pred.scores(qimp[l], ik, l, i_idx - j_idx, INT8_KEYS)
                if neighbor in DILATIONS:
                    sc = dilate(sc, E, *DILATIONS[neighbor])
                sel = topk_mask(sc, E, k_sel)
                if interval > 1:  # as the engine: re-read the selection of the last prediction row (the window moves on)
                    sel = sel[:, (torch.arange(T) // interval) * interval] & E
            elif policy == "quest":
                sel = quest_mask(q[0].view(c.n_kv_heads, rep, T, -1).mean(1), k[0], E, k_sel)
            elif policy == "h2o":
                sel = h2o_mask(s.view(c.n_kv_heads, rep, T, T).mean(1), forced, b)
            else:
                raise ValueError(policy)
            if neighbor is True and policy not in ("window", "h2o"):
                sel = sel | (F.pad(sel[..., :-1], (1, 0)) & E)
            mask = forced.expand_as(sel) | sel
        m = mask.repeat_interleave(rep, 0) if rep > 1 else mask
        if KV_CACHE != "f32":  # past slots read from the compact cache (kv_quant), the row's own token in float
            s = kv_quant.sim_scores(q[0], k[0], s, rep, KV_CACHE)
        p = s.masked_fill(~m, float("-inf")).softmax(-1)
        probs.update({l * c.n_heads + h: p[h][None] for h in by_layer.get(l, [])})  # pointer heads copy from what they read
        o = (p @ vv[0]) if KV_CACHE == "f32" else kv_quant.sim_values(p, v[0], rep, KV_CACHE)
        o = o.transpose(0, 1).reshape(1, T, -1)
        x = x + layer.self_attn.o_proj(o)
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    logits = lm.head(x, [probs[f] for f in c.copy_heads], ids, lm.ngram(ids, LOOKUP))[0, :-1]
    if return_logits:
        return logits
    return F.cross_entropy(logits.float(), ids[0, 1:], reduction="none")


def quest_mask(q, k, elig, k_sel):
    """Quest: pages of PAGE keys, upper bound sum_d max(q_d*max_d, q_d*min_d); whole pages."""
    h, T, D = k.shape
    n = T // PAGE
    kp = k[:, : n * PAGE].view(h, n, PAGE, D)
    mx, mn = kp.max(2).values, kp.min(2).values  # [h, n, D]
    ub = torch.maximum(q[:, :, None, :] * mx[:, None], q[:, :, None, :] * mn[:, None]).sum(-1)  # [h, T, n]
    page_ok = elig[:, :, : n * PAGE].view(h, T, n, PAGE).all(-1)
    psel = topk_mask(ub, page_ok, k_sel // PAGE)
    out = torch.zeros_like(elig)
    out[:, :, : n * PAGE] = psel[..., None].expand(h, T, n, PAGE).reshape(h, T, n * PAGE)
    return out & elig


def h2o_mask(s, forced, b):
    """H2O: a kept set per head that only loses tokens (least accumulated attention first)."""
    h, T, _ = s.shape
    kept = torch.zeros(h, T, dtype=torch.bool)
    acc = torch.zeros(h, T)
    out = torch.zeros(h, T, T, dtype=torch.bool)
    for i in range(T):
        kept[:, i] = True
        f = forced[i]
        while True:
            n = (kept | f).sum(-1)
            over = n > b[i]
            if not over.any():
                break
            cand = acc.masked_fill(~kept | f[None], float("inf"))
            worst = cand.argmin(-1)
            kept[over, worst[over]] = False
        m = kept | f[None]
        m[:, i + 1:] = False
        out[:, i] = m
        p = s[:, i].masked_fill(~m, float("-inf")).softmax(-1)
        acc += torch.nan_to_num(p)
    return out & ~forced[None]
