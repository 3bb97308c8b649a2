"""Llama-style decoder (RMSNorm, RoPE, SwiGLU, tied embeddings, optional GQA).

Parameter names follow Hugging Face Llama (`model.layers.N.self_attn.q_proj.weight`, ...), so a
Llama-family checkpoint loads with `load_hf_state_dict`. One addition, off for imported
checkpoints: `model.prev_token_proj` adds a projection of the previous token's embedding to each
position's input. It puts "which token came before me" into every key, so a single attention
layer can form an induction (copy) head instead of needing two composed layers: the lever for
copying from context that a 4-layer model on two CPU cores otherwise did not learn.
A second addition, also off for imported checkpoints: pointer heads (`copy_heads`, `copy_gate`).
Chosen attention heads also serve as copy distributions over the token ids they attend to, mixed
with the vocabulary head by a learned gate (`LM.head`): copying a name seen once no longer has to
beat the model's prior on short, frequent pieces through the residual stream.
A third, with the pointers: an n-gram lookup (`ngram_max`). At each position it finds the earlier
positions whose preceding tokens match the longest suffix (up to ngram_max tokens) of the text so
far and copies the tokens that followed them (recency-weighted); the gate reads the match length,
count and agreement (`copy_gate_f`) and adds it as one more component. It reads token ids only, so
it sees the whole context under any sparse attention budget.
The ONNX graphs (graph.py) implement exactly this forward; docs/graph-contract.md defines them.
"""
from __future__ import annotations

import math
import os
import pathlib
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from tbtrain.ngram import ngram_features, ngram_lookup


@dataclass
class Config:
    vocab_size: int = 4096
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 4
    n_kv_heads: int = 4
    head_dim: int = 64
    ffn_dim: int = 704
    rope_theta: float = 500000.0
    norm_eps: float = 1e-5
    prev_token: bool = True
    imp_dim: int = 16          # TokenButler importance dimension d'
    pred_hidden: int = 64      # predictor MLP width
    producer_layer: int = 1    # predictor reads the residual stream entering this layer (when pred_taps is empty)
    pred_taps: tuple = ()      # per consumer layer 1..L-1: the layer whose entering residual stream its producer reads
    pred_dist: bool = False    # learned per-(layer, KV head) log-distance prior added to the importance score
    pred_rope: float = 0.0     # > 0: RoPE with this base in the d' space on importance queries and keys (relative-position scores)
    pred_rot_pairs: int = 0    # > 0: the last 2r of the d' dims are r rotary pairs, each turning at one of the LM's own RoPE
                               # frequencies chosen per (consumer layer, KV head) (predictor.rot_pairs); the rest stay content-only
    copy_heads: tuple = ()     # pointer heads (flat index layer*n_heads + head): their attention also copies tokens
    ngram_max: int = 0         # n-gram lookup component (longest suffix match up to this many tokens; needs copy_heads)
    ngram_tau: float = 2000.0  # its recency scale: match at key j weighs exp((j - latest match) / tau)
    # imported checkpoints (pipeline/import_hf.py); the defaults are the default model's layout
    attn_bias: bool = False    # q/k/v projections have biases (Qwen2)
    o_bias: bool = False       # o_proj has a bias (Llama with attention_bias)
    tie_embeddings: bool = True  # False: lm_head.weight is its own matrix
    rope_scaling: tuple = ()   # () none; ("linear", factor); ("llama3", factor, low_freq_factor, high_freq_factor, original_max_positions)
    kv_cache: str = "f32"      # the engine's K/V cache: "f32", or "int8" (rows at their own step, tbtrain/kv_quant.py)

    def to_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


def _bf16_is_fast() -> bool:
    """bf16 autocast only where the CPU multiplies bf16 natively (AVX512-BF16 / AMX): elsewhere torch
    emulates it at under 1 GFLOP/s (measured on an AVX2-only host: 0.64 vs 60 GFLOP/s in fp32).
    TB_BF16=1 / 0 overrides."""
    env = os.environ.get("TB_BF16")
    if env is not None:
        return env == "1"
    try:
        flags = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


BF16_FAST = _bf16_is_fast()


def autocast():
    """Mixed precision for training-time forwards: bf16 where it is fast (see _bf16_is_fast), else fp32."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16_FAST)


def inv_freq(theta: float, dim: int) -> torch.Tensor:
    """[dim/2] RoPE frequencies theta^(-2i/dim)."""
    return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))


def lm_inv_freq(cfg: Config, dtype=torch.float32) -> torch.Tensor:
    """[head_dim/2] the LM's own RoPE frequencies: theta^(-2i/D), scaled as cfg.rope_scaling says
    (Hugging Face's "linear" and "llama3" rope types)."""
    work = torch.float64 if dtype == torch.float64 else torch.float32
    f = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=work) / cfg.head_dim))
    if not cfg.rope_scaling:
        return f.to(dtype)
    kind, factor = cfg.rope_scaling[0], float(cfg.rope_scaling[1])
    if kind == "linear":
        return (f / factor).to(dtype)
    if kind == "llama3":
        low, high, orig = (float(v) for v in cfg.rope_scaling[2:5])
        wavelen = 2 * math.pi / f
        smooth = (orig / wavelen - low) / (high - low)
        mid = (1 - smooth) * f / factor + smooth * f
        out = torch.where(wavelen > orig / low, f / factor, f)
        is_mid = (wavelen <= orig / low) & (wavelen >= orig / high)
        return torch.where(is_mid, mid, out).to(dtype)
    raise ValueError(f"unsupported rope scaling {kind!r}")


def rope_tables(cfg: Config, positions: torch.Tensor, theta: float | None = None, dim: int | None = None):
    """cos/sin [.., T, dim] in the HF rotate_half layout (default: the LM's rope_theta and head_dim)."""
    freqs = lm_inv_freq(cfg) if theta is None and dim is None else inv_freq(theta or cfg.rope_theta, dim or cfg.head_dim)
    f = positions.float()[..., None] * freqs
    emb = torch.cat([f, f], -1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    a, b = x.chunk(2, -1)
    return torch.cat([-b, a], -1)


def apply_rope(x, cos, sin):
    return x * cos + rotate_half(x) * sin


class Attention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.q_proj = nn.Linear(cfg.d_model, cfg.n_heads * cfg.head_dim, bias=cfg.attn_bias)
        self.k_proj = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.head_dim, bias=cfg.attn_bias)
        self.v_proj = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.head_dim, bias=cfg.attn_bias)
        self.o_proj = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.d_model, bias=cfg.o_bias)

    def qkv(self, x, cos, sin):
        B, T, _ = x.shape
        c = self.cfg
        q = self.q_proj(x).view(B, T, c.n_heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, T, c.n_kv_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, c.n_kv_heads, c.head_dim).transpose(1, 2)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def forward(self, x, cos, sin, probs_of: tuple = ()):
        """probs_of: heads whose attention probabilities [B, T, T] are also returned (pointer heads)."""
        B, T, _ = x.shape
        q, k, v = self.qkv(x, cos, sin)
        rep = self.cfg.n_heads // self.cfg.n_kv_heads
        kk, vv = (k, v) if rep == 1 else (k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1))
        y = F.scaled_dot_product_attention(q, kk, vv, is_causal=True)
        y = self.o_proj(y.transpose(1, 2).reshape(B, T, -1))
        if not probs_of:
            return y
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        probs = [
            ((q[:, h] @ kk[:, h].transpose(1, 2)).float() / math.sqrt(self.cfg.head_dim)).masked_fill(~causal, float("-inf")).softmax(-1)
            for h in probs_of
        ]
        return y, probs


class MLP(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.ffn_dim, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.ffn_dim, bias=False)
        self.down_proj = nn.Linear(cfg.ffn_dim, cfg.d_model, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, probs_of: tuple = ()):
        """The block's output; with probs_of (pointer heads) also their attention probabilities."""
        a = self.self_attn(self.input_layernorm(x), cos, sin, probs_of)
        if probs_of:
            a, probs = a
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return (x, probs) if probs_of else x


class Backbone(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.prev_token_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False) if cfg.prev_token else None
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)


class LM(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.model = Backbone(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight  # tied
        # pointer: a gate over [vocabulary head, pointer head 1, ...] from the final hidden state
        self.copy_gate = nn.Linear(cfg.d_model, len(cfg.copy_heads) + 1 + (cfg.ngram_max > 0)) if cfg.copy_heads else None
        self.copy_gate_f = nn.Linear(ngram_features(cfg), len(cfg.copy_heads) + 2, bias=False) if cfg.copy_heads and cfg.ngram_max else None
        self.apply(self._init)
        for n, p in self.named_parameters():
            if n.endswith("o_proj.weight") or n.endswith("down_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layers))
        if self.copy_gate is not None:  # starts as the plain LM: 95% vocabulary, 5% pointers
            nn.init.zeros_(self.copy_gate.weight)
            n = self.copy_gate.out_features - 1
            self.copy_gate.bias.data = torch.tensor([math.log(0.95)] + [math.log(0.05 / n)] * n)
        if self.copy_gate_f is not None:
            nn.init.zeros_(self.copy_gate_f.weight)

    def copy_by_layer(self) -> dict[int, list[int]]:
        """{layer: [head, ...]} of the pointer heads, in copy_heads order."""
        out: dict[int, list[int]] = {}
        for f in self.cfg.copy_heads:
            out.setdefault(f // self.cfg.n_heads, []).append(f % self.cfg.n_heads)
        return out

    def gate_logits(self, hn, ngram=None):
        """[B, T, 1 + n (+ 1)] gate logits: vocabulary, pointer heads, n-gram lookup."""
        z = self.copy_gate(hn).float()
        if self.copy_gate_f is not None:  # no match (feature 0: match length 0): the lookup gets no weight
            f = ngram[1].float()
            z = z + self.copy_gate_f(f)
            z = torch.cat([z[..., :-1], z[..., -1:] - 1e9 * f[..., :1]], -1)
        return z

    def head(self, h, probs=(), src=None, ngram=None):
        """Output distribution as logits. h: final hidden [B, T, d] (before the norm). Without pointer
        heads: the vocabulary logits. With them: log of the mixture
            gate_0 * softmax(lm_head) + sum_c gate_c * sum_j probs_c[j] * onehot(src[j]),
        probs: one [B, T, K] attention distribution per pointer head (copy_heads order) over the
        positions whose token ids are src [B, K] or [B, T, K] (a per-row selection), or a list of
        those, one per pointer head (a per-head selection).
        ngram: (weights [B, T, N], features [B, T, F], ids [B, N]) of the n-gram lookup when
        config.ngram_max: one more component, copying ids."""
        hn = self.model.norm(h)
        logits = self.lm_head(hn)
        if self.copy_gate is None:
            return logits
        w = self.gate_logits(hn, ngram).softmax(-1)                   # [B, T, 1+n(+1)]
        p = logits.float().softmax(-1) * w[..., :1]
        weighted = [pc.float() * w[..., c + 1:c + 2] for c, pc in enumerate(probs)]
        groups = [(sum(weighted), src)] if torch.is_tensor(src) else list(zip(weighted, src))  # shared positions: one scatter
        if ngram is not None:
            groups.append((ngram[0].float() * w[..., -1:], ngram[2]))
        for upd, ids in groups:
            if ids.dim() == 2:
                ids = ids[:, None, :].expand(-1, upd.shape[1], -1)
            p = p.scatter_add(-1, ids, upd)
        return torch.log(p.clamp_min(1e-30))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def embed(self, ids, prev):
        """ids [B,T]; prev [B] = the token before ids[:,0] (EOT at the start of a context)."""
        x = self.model.embed_tokens(ids)
        if self.model.prev_token_proj is not None:
            shifted = torch.cat([prev[:, None], ids[:, :-1]], 1)
            x = x + self.model.prev_token_proj(self.model.embed_tokens(shifted))
        return x

    def forward(self, ids, prev, start_pos: int = 0, hidden_at: int | None = None):
        """Returns logits [B,T,V]; with hidden_at=l also the residual stream entering layer l."""
        x, probs, tap = self.trunk(ids, prev, start_pos, hidden_at)
        logits = self.head(x, [probs[f] for f in self.cfg.copy_heads], ids, self.ngram(ids))
        return (logits, tap) if hidden_at is not None else logits

    def ngram(self, ids, enabled: bool = True):
        """(weights, features, ids) of the n-gram lookup over ids [B, T] for LM.head, or None.
        enabled=False: as if nothing matched anywhere (the lookup gets no weight; evaluation only)."""
        if self.copy_gate_f is None:
            return None
        if not enabled:
            B, T = ids.shape
            f = torch.zeros(B, T, ngram_features(self.cfg)); f[..., 0] = 1
            return torch.zeros(B, T, T), f, ids
        w, f = ngram_lookup(ids, self.cfg.ngram_max, self.cfg.ngram_tau)
        return w, f, ids

    def nll(self, ids, prev, targets):
        """Per-token loss [B,T] of targets [B,T], equal to cross_entropy(forward(ids, prev), targets)
        but without the [B,T,V] copy scatter of the pointer mixture (the training path)."""
        x, probs, _ = self.trunk(ids, prev)
        hn = self.model.norm(x)
        logp = F.log_softmax(self.lm_head(hn).float(), -1).gather(-1, targets[..., None])[..., 0]
        if self.copy_gate is None:
            return -logp
        ng = self.ngram(ids)
        logw = F.log_softmax(self.gate_logits(hn, ng), -1)
        hit = ids[:, None, :] == targets[:, :, None]                      # [B, T(query), T(key)]: key token is the target
        pc = sum(probs[f].float() * logw[..., c + 1:c + 2].exp() for c, f in enumerate(self.cfg.copy_heads))
        if ng is not None:
            pc = pc + ng[0] * logw[..., -1:].exp()
        pc = (pc * hit).sum(-1)
        return -torch.logaddexp(logw[..., 0] + logp, torch.log(pc.clamp_min(1e-30)))

    def trunk(self, ids, prev, start_pos: int = 0, hidden_at: int | None = None, positions=None):
        """Final hidden states [B,T,d] (before the norm), {pointer head: attention [B,T,T]}, tap.
        positions: RoPE positions [T] (default start_pos..start_pos+T-1; eval_long scales them)."""
        T = ids.shape[1]
        cos, sin = rope_tables(self.cfg, positions if positions is not None else torch.arange(start_pos, start_pos + T))
        x = self.embed(ids, prev)
        tap = None
        by_layer = self.copy_by_layer()
        probs = {}
        for i, layer in enumerate(self.model.layers):
            if i == hidden_at:
                tap = x
            if i in by_layer:
                x, pr = layer(x, cos, sin, probs_of=tuple(by_layer[i]))
                probs.update(zip((i * self.cfg.n_heads + h for h in by_layer[i]), pr))
            else:
                x = layer(x, cos, sin)
        return x, probs, tap

    def num_params(self, non_embedding=False):
        n = sum(p.numel() for p in self.parameters())
        return n - self.model.embed_tokens.weight.numel() if non_embedding else n


def load_hf_state_dict(sd: dict, cfg: Config) -> LM:
    """Loads a Hugging Face Llama state dict (q/k already in HF's rotate_half layout)."""
    cfg.prev_token = "model.prev_token_proj.weight" in sd
    lm = LM(cfg)
    sd = {k: v for k, v in sd.items() if not k.endswith("rotary_emb.inv_freq")}
    if "lm_head.weight" not in sd or cfg.tie_embeddings:
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    missing, unexpected = lm.load_state_dict(sd, strict=False)
    if [m for m in missing if not m.startswith("predictor")] or unexpected:
        raise ValueError(f"checkpoint does not match config: missing={missing} unexpected={unexpected}")
    return lm
