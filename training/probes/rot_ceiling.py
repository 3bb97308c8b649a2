"""How many rotary pairs does each head's importance score need? A recall ceiling from the LM's own
exact queries and keys (session 11; it chose `pred_rot_pairs`).

Per consumer layer and head, on held-out rows: the LM's score q.k is a sum over its head_dim/2 RoPE
pairs. Keep every pair that turns by less than half a radian over the window exactly (they barely
depend on position: what content-only importance dims can cover), plus the m faster pairs whose
contribution varies most across keys (the `choose_rot_pairs` rule), drop the other pairs, and
measure the recall of the true top-k. m = 0 is the exact content part alone (a learned content
score with a distance prior can do better: the session-9 predictor got 0.43-0.56 on layer 3).

python3 training/probes/rot_ceiling.py --lm models/default [--windows 2] [--m 0,2,3,4,6,8,12]
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np
import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.checkpoints import load_lm
from tbtrain.data import Sampler, newline_table
from tbtrain.distill import eligible, sample_rows
from tbtrain.model import apply_rope, autocast, rope_tables
from tbtrain.paths import TRAINING
from tbtrain.predictor import pair_scores, pre_rope_keys, turning_pairs


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", default=str(TRAINING.parent / "models/default"))
    ap.add_argument("--work", default=str(TRAINING / "work"))
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--m", default="0,2,3,4,6,8,12")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_lm(args.lm)
    c = lm.cfg
    ms = [int(m) for m in args.m.split(",")]
    half = c.head_dim // 2
    moving = turning_pairs(c, args.seq)  # pairs >= this barely turn
    tok = Tokenizer.from_file(str(pathlib.Path(args.work) / "tokenizer.json"))
    valid = Sampler(pathlib.Path(args.work) / "tokens", "valid", args.seq, 0.0, seed=4321, newline_ids=newline_table(tok))
    res: dict = {}
    for _ in range(args.windows):
        prev, row = valid.sample()
        ids = torch.from_numpy(row[None, :-1]).long()
        T = ids.shape[1]
        rows = sample_rows(T, 256, np.random.default_rng(7), 8 + 128 + 300)
        cos, sin = rope_tables(c, torch.arange(T))
        elig = eligible(rows, T, 4, 4)
        n_elig = elig.sum(-1)
        x = lm.embed(ids, torch.tensor([prev]))
        for l, layer in enumerate(lm.model.layers):
            xn = layer.input_layernorm(x)
            if l >= 1:
                qp = layer.self_attn.q_proj(xn).view(1, T, c.n_heads, c.head_dim).transpose(1, 2)[0][:, rows]
                qr = apply_rope(qp, cos[rows], sin[rows])
                kr = apply_rope(pre_rope_keys(lm, xn, l)[0], cos, sin)
                kr = kr.repeat_interleave(c.n_heads // c.n_kv_heads, 0)
                pair = pair_scores(qr, kr)  # [H, R, D/2, T]
                var = (pair * elig[:, None, :]).var(-1).mean(1)  # [H, half]
                for h in range(c.n_heads):
                    true = pair[h].sum(1).masked_fill(~elig, -1e9)
                    o_rank = true.argsort(-1, descending=True).argsort(-1)
                    fast = [i for i in var[h].argsort(descending=True).tolist() if i < moving]
                    for m in ms:
                        keep = torch.zeros(half, dtype=torch.bool); keep[fast[:m]] = True; keep[moving:] = True
                        s = (pair[h] * keep[None, :, None]).sum(1).masked_fill(~elig, -1e9)
                        p_rank = s.argsort(-1, descending=True).argsort(-1)
                        for name, k in (("512", torch.full_like(n_elig, 512)), ("10%", (n_elig * 0.1).long().clamp_min(1))):
                            ok = n_elig > k
                            hit = ((p_rank < k[:, None]) & (o_rank < k[:, None])).sum(-1).float() / k.float()
                            res.setdefault((l, h, m, name), []).append(hit[ok].mean().item())
            with autocast():
                x = layer(x, cos, sin)
            x = x.float()
    print(f"pairs >= {moving} turn < 0.5 rad over {args.seq} tokens and are always kept; recall of the true top-512 / top-10%")
    print("| head | " + " | ".join(f"m={m}" for m in ms) + " |")
    print("|---|" + "---|" * len(ms))
    for l in range(1, c.n_layers):
        for h in range(c.n_heads):
            print(
                f"| L{l}H{h} | "
                + " | ".join(f"{np.mean(res[(l, h, m, '512')]):.2f} / {np.mean(res[(l, h, m, '10%')]):.2f}" for m in ms)
                + " |"
            )


if __name__ == "__main__":
    main()
