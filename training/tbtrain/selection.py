"""The reference sparse decode that the ONNX graphs mirror (docs/graph-contract.md): the engine's
cache (`Cache`), the int8 fresh selection of one consumer layer (`select_fresh`), and one step of
prefill or decode under a policy (`step`), which the parity tests compare with the graphs."""
from __future__ import annotations

import math

import torch

from tbtrain import kv_quant
from tbtrain.model import LM, Config, rope_tables
from tbtrain.ngram import ngram_lookup_last
from tbtrain.predictor import NEG, Predictor, pre_rope_keys


class Cache:
    """Reference KV cache: what the engine holds (head-major, post-RoPE keys, int8 importance keys as floats).
    With cfg.kv_cache "int8" (tbtrain/kv_quant.py), k and v hold the rows' integers (as floats, K without
    its +128 storage offset) and ks, vs their steps [Hkv, P]."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.k = [torch.zeros(cfg.n_kv_heads, 0, cfg.head_dim) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(cfg.n_kv_heads, 0, cfg.head_dim) for _ in range(cfg.n_layers)]
        self.ks = [torch.zeros(cfg.n_kv_heads, 0) for _ in range(cfg.n_layers)]
        self.vs = [torch.zeros(cfg.n_kv_heads, 0) for _ in range(cfg.n_layers)]
        self.ik = [torch.zeros(cfg.n_kv_heads, 0, cfg.imp_dim) for _ in range(cfg.n_layers)]
        self.ids: list[int] = []

    @property
    def length(self):
        return len(self.ids)


NEIGHBOURS = (1, 0)  # neighbour fetch: (before, after) = slot j scores the max of j-1 .. j, so slot j+1 comes along with j


def neighbour_scores(s: torch.Tensor, span: tuple[int, int] = NEIGHBOURS) -> torch.Tensor:
    """Neighbour fetch on the middle slots' scores s [Hkv, M]: slot j scores the max of the scores of the
    middle slots j-before .. j+after, so a top-k brings the slot after each high-scoring slot along
    (with the default span; bench/quality.md measures it against j-1 and j+1), each slot once,
    within the same budget."""
    before, after = span
    padded = torch.nn.functional.pad(s[:, None], (before, after), value=float("-inf"))
    return torch.nn.functional.max_pool1d(padded, before + after + 1, 1)[:, 0]


def top_slots(s: torch.Tensor, k: int) -> torch.Tensor:
    """The k best columns of every row of s, ties to the lower column (the graph's TopK), ascending."""
    return torch.sort(s, stable=True, dim=-1, descending=True).indices[:, :k].sort(-1).values


def select_fresh(pred: Predictor, layer: int, q, ik_int, P: int, budget: int, sinks: int, recent: int,
                 neighbors: bool = False) -> torch.Tensor:
    """The sparse graph's fresh selection for one consumer layer: importance query q [Hkv, d'] against
    the int8 keys ik_int [Hkv, >=P, d'] of slots 0..P-1 -> slot indices [Hkv, k] in ascending order:
    the sinks [0, n_sink), the top min(budget, M) int8 scores (with neighbors: neighbour_scores) among
    the M middle slots [n_sink, w0), and the recent window [w0, P), n_sink = min(sinks, P),
    w0 = max(n_sink, P - recent). The graph returns the same slots per row in another order."""
    assert pred.calibrated, "int8 importance keys need calibrated steps (ensure_calibrated)"
    n_sink = min(sinks, P)
    w0 = max(n_sink, P - recent)
    mid = torch.arange(n_sink, w0)
    s = pred.int8_scores(q[:, None, :], ik_int[:, n_sink:w0], layer, (P - mid)[None, :])[:, 0]  # [Hkv, M]
    k = min(budget, w0 - n_sink)
    if neighbors and k > 0:
        s = neighbour_scores(s)
    top = top_slots(s, k) + n_sink
    ends = lambda a, b: torch.arange(a, b).expand(q.shape[0], -1)
    return torch.cat([ends(0, n_sink), top, ends(w0, P)], 1)


ENGINE_SINKS, ENGINE_RECENT = 8, 128  # the tokens the engine always attends (manifest "selection" default)


@torch.no_grad()
def step(lm: LM, pred: Predictor, cache: Cache, ids: list[int], policy: str = "dense", budget: int = 512,
         sinks: int = ENGINE_SINKS, recent: int = ENGINE_RECENT, layer0: str = "dense", reuse: dict | None = None,
         neighbors: bool = False):
    """Runs `ids` through the model on top of `cache` (appending to it); returns (last logits [V], selected).
    policy 'dense' attends everything; 'tokenbutler' / 'window' (budget 0) select per (layer, KV head)
    with the mean importance query of the S new positions (S == 1: a decode step; S > 1: a sparse
    prefill chunk, every position reading the same selection plus the chunk's causal prefix).
    selected: {layer: LongTensor [Hkv, k]} for consumer layers under a sparse policy.
    reuse: the previous decode step's `selected` (prediction interval > 1): kept, with the slot that
    just left the recent window (P-1-recent) replaced by the one that just entered it (P-1).
    neighbors: a fresh selection fetches the neighbours of high-scoring slots (select_fresh)."""
    c = lm.cfg
    P, S = cache.length, len(ids)
    prev = cache.ids[-1] if cache.ids else 0
    x = lm.embed(torch.tensor([ids]), torch.tensor([prev]))
    cos, sin = rope_tables(c, torch.arange(P, P + S))
    rep = c.n_heads // c.n_kv_heads
    selected, weights = {}, {}
    qimp: dict[int, torch.Tensor] = {}
    by_layer, copy_p, copy_src = lm.copy_by_layer(), {}, {}
    past_ids = torch.tensor(cache.ids, dtype=torch.long) if by_layer else None
    sparse = policy != "dense"
    if sparse:
        if policy == "window":
            budget = 0
    for l, layer in enumerate(lm.model.layers):
        if sparse and l in pred.groups:
            qimp.update(
                {m: q[0].mean(1) for m, q in pred.queries(l, x, torch.arange(P, P + S)).items()}
            )  # [Hkv, d'] (mean over the S positions)
        att = layer.self_attn
        xn = layer.input_layernorm(x)
        q, k, v = att.qkv(xn, cos, sin)  # [1,H,S,D], [1,Hkv,S,D]
        kpre = pre_rope_keys(lm, xn, l)
        ik = pred.quant_keys(pred.keys(kpre, l, torch.arange(P, P + S))[0], l) if l >= 1 else torch.zeros(c.n_kv_heads, S, c.imp_dim)
        Kp, Vp, Ks, Vs = cache.k[l], cache.v[l], cache.ks[l], cache.vs[l]
        src_of = lambda kv: past_ids  # token ids of the past slots a KV head reads (pointer heads)
        if sparse and l == 0 and layer0 == "window" and P > 0:
            rows = torch.tensor(list(range(min(sinks, P))) + list(range(max(sinks, P - recent), P)), dtype=torch.long)
            Kp, Vp, Ks, Vs = Kp[:, rows], Vp[:, rows], Ks[:, rows], Vs[:, rows]
            src_of = lambda kv, rows=rows: past_ids[rows]
        if sparse and l >= 1 and P > 0:
            if reuse is not None:
                idx = torch.where(reuse[l] == P - 1 - recent, torch.tensor(P - 1), reuse[l])
            else:
                idx = select_fresh(pred, l, qimp[l], cache.ik[l], P, budget, sinks, recent, neighbors)
            selected[l] = idx
            src_of = lambda kv, idx=idx: past_ids[idx[kv]]
            Kp = torch.gather(Kp, 1, idx[..., None].expand(-1, -1, c.head_dim))
            Vp = torch.gather(Vp, 1, idx[..., None].expand(-1, -1, c.head_dim))
            Ks, Vs = torch.gather(Ks, 1, idx), torch.gather(Vs, 1, idx)
        int8 = c.kv_cache == "int8"
        # the graphs' order: the query rows times the float32 1/sqrt(D)
        qh = q[0].reshape(c.n_kv_heads, rep * S, c.head_dim) * torch.tensor(1.0 / math.sqrt(c.head_dim), dtype=torch.float32)
        s_past = kv_quant.past_scores(qh, Kp, Ks) if int8 else qh @ Kp.transpose(1, 2)
        s_new = qh @ k[0].transpose(1, 2)
        causal = torch.triu(torch.full((S, S), NEG), 1).repeat(rep, 1)
        p = torch.cat([s_past, s_new + causal], -1).softmax(-1)
        if sparse and l in selected:
            weights[l] = p[..., : Kp.shape[1]].mean(1)  # [Hkv, k]: mean over query heads and positions
        for h in by_layer.get(l, []):  # the last position's attention of each pointer head, and what it read
            kv = h // rep
            copy_p[l * c.n_heads + h] = p[kv, (h % rep) * S + S - 1]
            copy_src[l * c.n_heads + h] = torch.cat([src_of(kv), torch.tensor(ids, dtype=torch.long)])
        n = Kp.shape[1]
        o = (kv_quant.past_values(p[..., :n], Vp, Vs) if int8 else p[..., :n] @ Vp) + p[..., n:] @ v[0]
        o = o.view(c.n_heads, S, c.head_dim).transpose(0, 1).reshape(1, S, -1)
        x = x + att.o_proj(o)
        x = x + layer.mlp(layer.post_attention_layernorm(x))
        kn, vn, ksn, vsn = k[0], v[0], torch.zeros(c.n_kv_heads, S), torch.zeros(c.n_kv_heads, S)
        if int8:  # the rows the cache keeps: integers at their own step
            (kn, ksn), (vn, vsn) = kv_quant.quant_rows(kn, kv_quant.QMAX_KV), kv_quant.quant_rows(vn, kv_quant.QMAX_KV)
        cache.k[l] = torch.cat([cache.k[l], kn], 1)
        cache.v[l] = torch.cat([cache.v[l], vn], 1)
        cache.ks[l] = torch.cat([cache.ks[l], ksn], 1)
        cache.vs[l] = torch.cat([cache.vs[l], vsn], 1)
        cache.ik[l] = torch.cat([cache.ik[l], ik], 1)
    cache.ids += list(ids)
    hc = lm.cfg.copy_heads
    ng = None
    if lm.copy_gate_f is not None:
        seq = torch.tensor(cache.ids, dtype=torch.long)
        w, f = ngram_lookup_last(seq, c.ngram_max, c.ngram_tau)
        ng = (w[None, None], f[None, None], seq[None])
    logits = lm.head(x[:, -1:], [copy_p[f][None, None] for f in hc], [copy_src[f][None, None] for f in hc], ng)[0, 0]
    return logits, selected, weights
