"""The compact KV cache (docs/graph-contract.md "Compact KV cache", `config.kv_cache` = "int8"): what the
graphs store and how they read it, as the reference computes it.

Storage, per (layer, KV head, slot): K and V rows rounded to int8 at their own step (symmetric,
step = max(max|row| / 127, 1e-30), values in [-127, 127]); K is kept as u8 (value + 128), V as int8,
and each row's step as f32 beside them. 2·D + 8 bytes per (layer, KV head) instead of 8·D.

Reading (`past_attention`), with onnxruntime's u8 x s8 MatMulInteger on both products:
  scores   the scaled query row is rounded per row to [-63, 63] at step qs = max(max|q| / 63, 1e-30)
           (q8); score_j = (K8_j · q8) · ks_j · qs, the integer dot product exact (u8 K with zero point
           128 against s8 q8 as an N = 1 product; |q8| <= 63 keeps AVX2's pairwise u8·s8 sums below 2^15).
  values   the attention probabilities of the past slots are weighted by the value steps
           (p'_j = p_j · vs_j), rounded per row to u8 [0, 127] at step ps = max(max p' / 127, 1e-30), and
           o = (pu · V8) · ps (u8 x s8 with values below 128 for the same AVX2 bound).
The chunk's own new tokens are read in float32 (they are not in the cache yet), as before.
Probabilities below half a step (max p' / 254) round to 0: the tail of a peaked row is dropped from the
value sum (measured in bench/kv-cache.md).
"""
from __future__ import annotations

import torch

QMAX_KV = 127  # cache rows
QMAX_Q = 63    # query rows (u8 K up to 255 x |q| <= 63: pair sums < 2^15)
QMAX_P = 127   # probability rows (u8 p <= 127 x |V| <= 127)
K_OFFSET = 128


def quant_rows(x: torch.Tensor, qmax: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row rounding of x [..., D]: integers (as float) in [-qmax, qmax] and the step [...]."""
    step = torch.clamp(x.abs().amax(-1, keepdim=True) / qmax, min=1e-30)
    return torch.clamp(torch.round(x / step), -qmax, qmax), step[..., 0]


def past_scores(qh: torch.Tensor, k8: torch.Tensor, ks: torch.Tensor) -> torch.Tensor:
    """qh [Hkv, R, D] (already scaled by 1/sqrt(D)) against the cached int8 keys k8 [Hkv, n, D] (as float
    integers) with steps ks [Hkv, n]: scores [Hkv, R, n] in the graphs' order of operations."""
    q8, qs = quant_rows(qh, QMAX_Q)
    dot = q8.double() @ k8.double().transpose(1, 2)   # exact integers
    return dot.float() * ks[:, None, :] * qs[..., None]


def past_values(p: torch.Tensor, v8: torch.Tensor, vs: torch.Tensor) -> torch.Tensor:
    """p [Hkv, R, n] (the past slots' attention probabilities) read the int8 values v8 [Hkv, n, D] with
    steps vs [Hkv, n]: [Hkv, R, D]."""
    if v8.shape[1] == 0:  # nothing cached yet
        return torch.zeros(p.shape[0], p.shape[1], v8.shape[2])
    pw = p * vs[:, None, :]
    step = torch.clamp(pw.amax(-1, keepdim=True) / QMAX_P, min=1e-30)
    pu = torch.clamp(torch.round(pw / step), 0, QMAX_P)
    return (pu.double() @ v8.double()).float() * step


MODES = ("f32", "int8", "int8-cast", "f16")  # int8-cast: int8 rows, float query and probabilities (a Cast-after-read form)


def _past(T: int) -> torch.Tensor:
    return torch.tril(torch.ones(T, T, dtype=torch.bool), -1)   # j < i: the slots a decode step at row i reads from the cache


def sim_scores(q: torch.Tensor, k: torch.Tensor, s: torch.Tensor, rep: int, mode: str) -> torch.Tensor:
    """The decode simulation's scores s [H, T, T] (float32 cache) with every past slot j < i read from the
    compact cache under `mode`; the diagonal (the row's own token, new in its step) stays float.
    q [H, T, D], k [Hkv, T, D] after RoPE."""
    H, T, D = q.shape
    Hkv = k.shape[0]
    qh = q.reshape(Hkv, rep * T, D) / D ** 0.5
    if mode == "int8":
        k8, ks = quant_rows(k, QMAX_KV)
        sq = past_scores(qh, k8, ks)
    elif mode == "int8-cast":
        k8, ks = quant_rows(k, QMAX_KV)
        sq = qh @ (k8 * ks[..., None]).transpose(1, 2)
    elif mode == "f16":
        sq = qh @ k.half().float().transpose(1, 2)
    else:
        return s
    return torch.where(_past(T), sq.reshape(H, T, T), s)


def sim_values(p: torch.Tensor, v: torch.Tensor, rep: int, mode: str) -> torch.Tensor:
    """o [H, T, D] of the probabilities p [H, T, T] over values v [Hkv, T, D]: past slots from the compact
    cache under `mode`, the diagonal in float."""
    H, T, _ = p.shape
    Hkv, _, D = v.shape
    past = _past(T)
    pp = torch.where(past, p, torch.zeros(())).reshape(Hkv, rep * T, T)
    vv = v.repeat_interleave(rep, 0) if rep > 1 else v
    own = torch.diagonal(p, dim1=1, dim2=2)[..., None] * vv                       # [H, T, D]
    if mode == "int8":
        v8, vs = quant_rows(v, QMAX_KV)
        o = past_values(pp, v8, vs)
    elif mode == "int8-cast":
        v8, vs = quant_rows(v, QMAX_KV)
        o = pp @ (v8 * vs[..., None])
    elif mode == "f16":
        o = pp @ v.half().float()
    else:
        return p @ vv
    return o.reshape(H, T, D) + own
