"""TokenButler predictor (v2-style): producers, importance keys, int8 calibration (the reference sparse
decode that the ONNX graphs mirror is selection.py).

- Producers read the residual stream entering a fixed layer (their "tap") and emit importance
  queries [Hkv, d'] for the consumer layers they serve (layer 0 stays dense). `cfg.pred_taps` names
  the tap of every consumer layer 1..L-1; consumers with the same tap share one producer (v2's
  producer stride). Empty: one producer at `cfg.producer_layer` serves every consumer (v1 layout).
- Importance keys: a learned per-layer, per-KV-head projection of the *pre-RoPE* keys
  [Hkv, D] -> [Hkv, d'], cached beside the KV cache. Pre-RoPE makes the score content-only; the
  recent window and the sinks carry position, and (`cfg.pred_dist`) a learned per-(layer, KV head)
  weight times log(query position - key position) adds a distance prior. With `cfg.pred_rope` > 0,
  RoPE (base pred_rope, over the d' dims) rotates the importance keys at their own position and the
  queries at theirs, so the score q_imp . k_imp depends on content and relative position, like the
  LM's own q.k (the keys still stay independent of the query, so the cache holds them rotated).
- With `cfg.pred_rot_pairs` = r > 0, the last 2r importance dims (rotate-half layout within them) are
  r rotary pairs: pair j of consumer layer l, KV head h turns at the LM's own RoPE frequency of head
  pair `rot_pairs[l-1, h, j]` (the pairs that carry that head's positional score, chosen from the LM,
  see `choose_rot_pairs`), queries at their position and keys at theirs; the first d' - 2r dims stay
  content-only. A rotary pair's importance key is the LM's own pre-RoPE key pair (a fixed selection,
  `full_key_proj`), so it reproduces that pair's exact share of the head's q.k once the query side
  has learned the query pair.
- Selection per (layer, KV head): score = q_imp . k_imp (+ w * log distance); sinks and the recent
  window always kept; top `budget` of the rest.
- int8 importance keys (what the engine caches and the graphs score, `quant_keys` / `int8_scores`):
  each key dim is rounded to an integer in [-127, 127] at a fixed per-(layer, KV head, dim) step
  `ik_scale` (calibrated once on real sequences, `calibrate_ik_scale`; a rotary pair's two dims share
  one step); the query is scaled by the same steps and rounded per row to [-63, 63], so the score is
  an exact integer dot product plus the distance prior divided by the query's rounding step. The graphs
  compute the dot product as onnxruntime's u8 x s8 MatMulInteger of (query + 64) with the keys, minus
  64 x the key's dim sum (cached per slot beside the keys).
"""
from __future__ import annotations

import dataclasses
import math
import pathlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from tbtrain.data import Sampler
from tbtrain.model import LM, Config, RMSNorm, apply_rope, autocast, inv_freq, rope_tables
from tbtrain.paths import TRAINING

NEG = -1.0e9  # bias for slots past the valid length
QMAX = 127    # int8 importance keys are integers in [-QMAX, QMAX]
QMAX_Q = 63   # importance queries: integers in [-QMAX_Q, QMAX_Q], so that query + QQ_OFFSET is a u8 <= 127
QQ_OFFSET = 64  # (u8 x s8 pair sums stay below 2^15, where AVX2's vpmaddubsw saturates: 2 * 127 * 127)


def tap_groups(cfg: Config) -> dict[int, list[int]]:
    """{tap layer: [consumer layers it serves]} in layer order."""
    taps = list(cfg.pred_taps) or [cfg.producer_layer] * (cfg.n_layers - 1)
    assert len(taps) == cfg.n_layers - 1 and all(1 <= t <= m for m, t in enumerate(taps, 1)), taps
    out: dict[int, list[int]] = {}
    for m, t in enumerate(taps, 1):
        out.setdefault(t, []).append(m)
    return dict(sorted(out.items()))


class Producer(nn.Module):
    def __init__(self, cfg: Config, n_cons: int):
        super().__init__()
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.fc1 = nn.Linear(cfg.d_model, cfg.pred_hidden, bias=False)
        self.fc2 = nn.Linear(cfg.pred_hidden, n_cons * cfg.n_kv_heads * cfg.imp_dim, bias=False)
        nn.init.normal_(self.fc1.weight, std=1 / math.sqrt(cfg.d_model))
        nn.init.normal_(self.fc2.weight, std=1 / math.sqrt(cfg.pred_hidden))

    def forward(self, h):
        return self.fc2(F.silu(self.fc1(self.norm(h))))


class Predictor(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        n_cons = cfg.n_layers - 1
        self.groups = tap_groups(cfg)
        self.producers = nn.ModuleDict({str(t): Producer(cfg, len(cons)) for t, cons in self.groups.items()})
        # per consumer layer, per KV head: head_dim -> the d' - 2r content dims (the rotary pairs' key dims are the LM's own: full_key_proj)
        e_content = cfg.imp_dim - 2 * cfg.pred_rot_pairs
        self.key_proj = nn.Parameter(torch.randn(n_cons, cfg.n_kv_heads, cfg.head_dim, e_content) / math.sqrt(cfg.head_dim))
        self.dist_w = nn.Parameter(torch.zeros(n_cons, cfg.n_kv_heads)) if cfg.pred_dist else None
        assert not (cfg.pred_rope and cfg.pred_rot_pairs), "pred_rope and pred_rot_pairs exclude each other"
        assert 2 * cfg.pred_rot_pairs <= cfg.imp_dim
        if cfg.pred_rot_pairs:  # which of the LM head's RoPE pairs each rotary pair turns with (a buffer: saved, not trained)
            self.register_buffer("rot_pairs", torch.zeros(n_cons, cfg.n_kv_heads, cfg.pred_rot_pairs, dtype=torch.long))
        # int8 importance keys: the rounding step of every (consumer layer, KV head, dim); 0 until calibrate_ik_scale
        self.register_buffer("ik_scale", torch.zeros(n_cons, cfg.n_kv_heads, cfg.imp_dim))

    @property
    def calibrated(self) -> bool:
        return bool((self.ik_scale > 0).all())

    def quant_keys(self, ik, layer: int):
        """Importance keys [..., Hkv, T, d'] of consumer `layer` -> their int8 values (as floats): round(ik / step), clipped."""
        return torch.round(ik / self.ik_scale[layer - 1][:, None, :]).clamp(-QMAX, QMAX)

    def quant_queries(self, q, layer: int):
        """Importance queries [..., Hkv, R, d'] -> (integers [..., Hkv, R, d'] in [-QMAX_Q, QMAX_Q], step [..., Hkv, R, 1]):
        the query times the keys' steps, rounded per row at max|.| / QMAX_Q. q . k ~= step * (qi . ki)."""
        qs = q * self.ik_scale[layer - 1][:, None, :]
        step = (qs.abs().amax(-1, keepdim=True) / QMAX_Q).clamp_min(1e-30)
        return torch.round(qs / step).clamp(-QMAX_Q, QMAX_Q), step

    def int8_scores(self, q, ik_int, layer: int, dist):
        """The graphs' selection score of queries q [Hkv, R, d'] against int8 keys ik_int [Hkv, T, d'] (quant_keys),
        divided by each row's query step (a positive per-row factor: the same top-k): qi . ki + w * log(dist) / step.
        dist [R, T] (query position - key position)."""
        qi, step = self.quant_queries(q, layer)
        s = qi @ ik_int.transpose(-1, -2)  # exact in fp32: |s| <= d' * 63 * 127 < 2^24
        if self.dist_w is None:
            return s
        d = torch.log(dist.clamp_min(1).float())
        return s + (self.dist_w[layer - 1].view(-1, 1, 1) / step) * d

    def scores(self, q, ik, layer: int, dist, int8: bool = True):
        """Selection scores of queries q [Hkv, R, d'] against importance keys ik [Hkv, T, d'] (pred.keys) of
        consumer `layer`, dist [R, T]: the graphs' int8 scores (int8_scores of quant_keys), or (int8=False)
        the fp32 ones, q . k + w * log(dist), which training fits."""
        if int8:
            return self.int8_scores(q, self.quant_keys(ik, layer), layer, dist)
        return q @ ik.transpose(-1, -2) + self.dist_bias(layer, dist)

    def full_key_proj(self) -> torch.Tensor:
        """[L-1, Hkv, D, d']: the learned content projection, then for rotary pair j the LM's own pre-RoPE
        key dims (i, i + D/2) of head pair i = rot_pairs[.., j], as they are: a fixed selection, not
        trained (the query side can absorb any rotation or scale within a pair, so nothing is lost)."""
        r = self.cfg.pred_rot_pairs
        if not r:
            return self.key_proj
        D = self.cfg.head_dim
        sel = lambda i: F.one_hot(i, D).transpose(-1, -2).to(self.key_proj.dtype)  # [L-1, Hkv, D, r]
        return torch.cat([self.key_proj, sel(self.rot_pairs), sel(self.rot_pairs + D // 2)], -1)

    def rot_inv_freq(self) -> torch.Tensor:
        """[L-1, Hkv, r] the rotary pairs' frequencies (the LM's inv_freq at the chosen head pairs)."""
        return inv_freq(self.cfg.rope_theta, self.cfg.head_dim)[self.rot_pairs]

    def rotate_pairs(self, x, layer: int, pos):
        """x [..., Hkv, T, d'] of consumer `layer` at positions pos [T] -> its rotary pairs turned (pred_rot_pairs)."""
        r = self.cfg.pred_rot_pairs
        if not r:
            return x
        f = pos.float()[None, :, None] * self.rot_inv_freq()[layer - 1][:, None, :]  # [Hkv, T, r]
        cos, sin = f.cos(), f.sin()
        c, a, b = x.split([x.shape[-1] - 2 * r, r, r], -1)
        return torch.cat([c, a * cos - b * sin, b * cos + a * sin], -1)

    def rope(self, x, pos):
        """x [..., T, d'] at positions pos [T] -> rotated (cfg.pred_rope > 0) or x itself."""
        if not self.cfg.pred_rope:
            return x
        return apply_rope(x, *rope_tables(self.cfg, pos, self.cfg.pred_rope, self.cfg.imp_dim))

    def queries(self, tap: int, h, pos=None) -> dict[int, torch.Tensor]:
        """h [B,T,d] residual stream entering layer `tap` (positions `pos`, default 0..T-1)
        -> {consumer layer: [B, Hkv, T, d']}."""
        c = self.cfg
        cons = self.groups[tap]
        q = self.producers[str(tap)](h)
        B, T, _ = q.shape
        q = q.view(B, T, len(cons), c.n_kv_heads, c.imp_dim).permute(0, 2, 3, 1, 4)
        pos = torch.arange(T) if pos is None else pos
        q = self.rope(q, pos)
        return {m: self.rotate_pairs(q[:, i], m, pos) for i, m in enumerate(cons)}

    def keys(self, k_pre, layer: int, pos=None):
        """k_pre [B, Hkv, T, D] pre-RoPE keys of consumer `layer` (>=1) at positions `pos` (default
        0..T-1) -> [B, Hkv, T, d']."""
        ik = torch.einsum("bhtd,hde->bhte", k_pre, self.full_key_proj()[layer - 1])
        pos = torch.arange(k_pre.shape[2]) if pos is None else pos
        return self.rotate_pairs(self.rope(ik, pos), layer, pos)

    def dist_bias(self, layer: int, dist):
        """dist: query position - key position (any shape, >= 1 where it matters) -> [Hkv, *dist.shape]."""
        if self.dist_w is None:
            return 0.0
        d = torch.log(dist.clamp_min(1).float())
        return self.dist_w[layer - 1].view(-1, *([1] * d.dim())) * d

    def num_params(self):
        return sum(p.numel() for p in self.parameters())


PRED_FIELDS = ("imp_dim", "pred_hidden", "producer_layer", "pred_taps", "pred_dist", "pred_rope", "pred_rot_pairs")


def load_predictor(path, lm_cfg: Config) -> tuple[Predictor, Config, dict]:
    """A trained predictor file (train_predictor.py) -> (predictor in eval mode, the LM config with the
    predictor's layout fields, the whole saved dict). Files from before producer groups load too, and
    a model folder (its lm.fp16.safetensors and manifest) when the training files are gone."""
    st = model_folder_predictor(path) if pathlib.Path(path).is_dir() else torch.load(path, weights_only=False)
    cfg = dataclasses.replace(lm_cfg, **{k: (tuple(v) if k == "pred_taps" else v) for k, v in st.get("pred_cfg", {}).items()})
    sd = dict(st["predictor"])
    for k in ("norm.weight", "fc1.weight", "fc2.weight"):  # v1 layout: one producer
        if k in sd:
            sd[f"producers.{cfg.producer_layer}.{k}"] = sd.pop(k)
    pred = Predictor(cfg)
    sd.setdefault("ik_scale", pred.ik_scale)  # saved before int8 keys: uncalibrated (ensure_calibrated)
    pred.load_state_dict(sd)
    return pred.eval(), cfg, st


def model_folder_predictor(folder) -> dict:
    """The predictor saved in a model folder, as a train_predictor.py file ({"predictor", "pred_cfg", "step"})."""
    import json

    from safetensors.torch import load_file
    folder = pathlib.Path(folder)
    cfg = json.loads((folder / "manifest.json").read_text())["config"]
    sd = {k[len("predictor."):]: v.float() for k, v in load_file(str(folder / "lm.fp16.safetensors")).items() if k.startswith("predictor.")}
    if "rot_pairs" in sd:
        sd["rot_pairs"] = sd["rot_pairs"].round().long()  # small integers: exact in fp16
    return {"predictor": sd, "pred_cfg": {k: cfg[k] for k in PRED_FIELDS if k in cfg}, "step": 0}


@torch.no_grad()
def calibrate_ik_scale(lm: LM, pred: Predictor, seqs: list[tuple[int, np.ndarray]]) -> torch.Tensor:
    """Sets pred.ik_scale from real sequences [(prev id, ids)]: per (consumer layer, KV head, dim) the
    largest |importance key| / 127 (a rotary pair: the largest radius of the pair, for both dims, since
    rotation moves a key between them), rounded up to an fp16 value so the model folder keeps it exactly."""
    c = lm.cfg
    r = c.pred_rot_pairs
    amax = torch.zeros_like(pred.ik_scale)
    for prev, ids in seqs:
        ids_t = torch.as_tensor(np.asarray(ids), dtype=torch.long)[None]
        T = ids_t.shape[1]
        cos, sin = rope_tables(c, torch.arange(T))
        x = lm.embed(ids_t, torch.tensor([prev]))
        for l, layer in enumerate(lm.model.layers):
            if l >= 1:
                ik = pred.keys(pre_rope_keys(lm, layer.input_layernorm(x), l), l)[0]  # [Hkv, T, d']
                a = ik.abs()
                if r:
                    E = ik.shape[-1]
                    rad = ik[..., E - 2 * r:E - r].hypot(ik[..., E - r:])
                    a = torch.cat([a[..., :E - 2 * r], rad, rad], -1)
                amax[l - 1] = torch.maximum(amax[l - 1], a.amax(1))
            with autocast():
                x = layer(x, cos, sin)
            x = x.float()
    step = (amax / QMAX).clamp_min(1e-6)
    h = step.half().float()
    h = torch.where(h < step, (step.half().view(torch.int16) + 1).view(torch.float16).float(), h)  # round up: the max stays in range
    pred.ik_scale.copy_(h)
    return pred.ik_scale


def ensure_calibrated(lm: LM, pred: Predictor, tokens_dir=None, n: int = 4, seq: int = 2048) -> Predictor:
    """Calibrates pred's int8 key steps if they are not yet (a train_predictor.py file): on `n` training
    windows of `seq` tokens (fixed seed, so export and evaluation agree), else on random token ids."""
    if pred.calibrated:
        return pred
    tokens_dir = pathlib.Path(tokens_dir or TRAINING / "work/tokens")
    if (tokens_dir / "train.bin").exists():
        s = Sampler(tokens_dir, "train", seq, 0.0, seed=77)
        seqs = [(int(prev), row[:-1]) for prev, row in (s.sample() for _ in range(n))]
    else:
        g = np.random.default_rng(77)
        seqs = [(0, g.integers(5, lm.cfg.vocab_size, seq)) for _ in range(n)]
    calibrate_ik_scale(lm, pred, seqs)
    return pred


def turning_pairs(cfg: Config, T: int) -> int:
    """How many of the LM's RoPE pairs turn by at least half a radian over T tokens (pairs 0..n-1);
    the slower ones barely depend on position."""
    return int((inv_freq(cfg.rope_theta, cfg.head_dim) * T >= 0.5).sum())


def pair_scores(q, k):
    """Each RoPE pair's share of q.k: q [H, R, D], k [H, T, D] (post-RoPE, rotate-half layout) ->
    [H, R, D/2, T]; summed over dim 2 it is q.k."""
    half = q.shape[-1] // 2
    return torch.einsum("hrd,htd->hrdt", q[..., :half], k[..., :half]) + torch.einsum("hrd,htd->hrdt", q[..., half:], k[..., half:])


@torch.no_grad()
def choose_rot_pairs(lm: LM, pred: Predictor, ids: torch.Tensor, prev: torch.Tensor, n_rows: int = 256, seed: int = 0) -> torch.Tensor:
    """Sets pred.rot_pairs from the LM's own attention on one sample ids [1, T]: per consumer layer
    and KV head, the r RoPE pairs whose contribution to q.k varies most across the (causal, non-sink)
    keys of `n_rows` rows, among the pairs that turn by at least half a radian over T tokens (slower
    pairs barely depend on position: the content dims cover them). A rotary pair's importance key is
    the LM's own key pair (full_key_proj), so its score is that pair's exact share of q.k once the
    query side matches. Returns rot_pairs."""
    c, r = lm.cfg, pred.cfg.pred_rot_pairs
    T = ids.shape[1]
    moving = turning_pairs(c, T)
    assert moving >= r, (moving, r)
    rows = torch.from_numpy(np.random.default_rng(seed).choice(T, min(n_rows, T), replace=False)).sort().values
    cos, sin = rope_tables(c, torch.arange(T))
    x = lm.embed(ids, prev)
    causal = (torch.arange(T)[None, :] <= rows[:, None]) & (torch.arange(T)[None, :] >= 4)  # [R, T]
    for l, layer in enumerate(lm.model.layers):
        xn = layer.input_layernorm(x)
        if l >= 1:
            q, k, _ = layer.self_attn.qkv(xn, cos, sin)  # post-RoPE [1, H, T, D]
            q = q[0][:, rows].view(c.n_kv_heads, -1, len(rows), c.head_dim).mean(1)  # query heads of a KV head: mean
            var = (pair_scores(q, k[0]) * causal[None, :, None]).var(-1).mean(1)  # [Hkv, D/2]
            var[:, moving:] = -1.0
            top = var.argsort(-1, descending=True)[:, :r]  # [Hkv, r]
            pred.rot_pairs[l - 1] = top
        with autocast():
            x = layer(x, cos, sin)
        x = x.float()
    return pred.rot_pairs


def pre_rope_keys(lm: LM, x_norm, layer: int):
    c = lm.cfg
    B, T, _ = x_norm.shape
    return lm.model.layers[layer].self_attn.k_proj(x_norm).view(B, T, c.n_kv_heads, c.head_dim).transpose(1, 2)


