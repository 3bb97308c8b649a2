"""How the LM (trained at 2048 tokens, later phases at 4096) handles long contexts: held-out loss per position bucket on
long multi-file sequences, with RoPE positions as trained (base 500k) and with positions
interpolated into the trained range (scale 2048/T). Writes bench/long-context.{json,md}.

python3 training/evaluation/eval_long.py --lm work/ckpt/lm.pt --seq 16384
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.checkpoints import load_lm
from tbtrain.data import Sampler
from tbtrain.model import autocast
from tbtrain.paths import TRAINING


@torch.no_grad()
def losses(lm, ids, prev, pos_scale: float):
    T = ids.shape[1]
    with autocast():
        x, probs, _ = lm.trunk(ids, prev, positions=torch.arange(T).float() * pos_scale)
    logits = lm.head(x.float(), [probs[f] for f in lm.cfg.copy_heads], ids, lm.ngram(ids))[0, :-1].float()
    return F.cross_entropy(logits, ids[0, 1:], reduction="none")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", default=str(TRAINING / "work/ckpt/lm.pt"))
    ap.add_argument("--work", default=str(TRAINING / "work"))
    ap.add_argument("--seq", type=int, default=16384)
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--out", default=str(TRAINING.parent / "bench"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_lm(args.lm)
    s = Sampler(pathlib.Path(args.work) / "tokens", "valid", args.seq, 0.0, seed=77)
    samples = [s.sample() for _ in range(args.n)]
    buckets = [0, 1024, 2048, 4096, 8192, 12288, 16384, 32768]
    res = {}
    for name, scale in (("as-trained", 1.0), ("interpolated", min(1.0, 2048 / args.seq))):
        per = np.zeros(args.seq)
        for prev, row in samples:
            per += losses(lm, torch.from_numpy(row[None]).long(), torch.tensor([prev]), scale).numpy()
        per /= len(samples)
        res[name] = {f"{a}-{b}": float(per[a:b].mean()) for a, b in zip(buckets, buckets[1:]) if a < args.seq}
        print(name, res[name], flush=True)
    out = pathlib.Path(args.out); out.mkdir(parents=True, exist_ok=True)
    (out / "long-context.json").write_text(json.dumps(res, indent=1))
    rows = ["# Long context (LM trained at 2048 tokens, later phases at 4096; RoPE base 500k)", "",
            f"Held-out loss (nats/token) per position bucket, {args.n} multi-file sequences of {args.seq} tokens, dense attention.", "",
            "| positions | " + " | ".join(res) + " |", "|---" * (len(res) + 1) + "|"]
    for key in res["as-trained"]:
        rows.append(f"| {key} | " + " | ".join(f"{res[n][key]:.3f}" for n in res) + " |")
    (out / "long-context.md").write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
