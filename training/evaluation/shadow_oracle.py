"""ShadowLLM oracle study (issue 29, item 1): bits/byte on held-out code when each token keeps only its
top 25 / 50 / 75% of attention heads, or of FFN neurons, in every layer after layer 0, ranked by its own
true importance (no predictor): plainact |a * dL/da| against DejaVu-style magnitude (and random, as the
floor). Dense is the reference.

    python3 training/evaluation/shadow_oracle.py --windows 32 --out training/work/shadow/oracle.json

Windows: the held-out npm packages under work/heldout/ws (tbtrain/shadow_pred.heldout_windows; the
evaluation packages), 1,024 tokens each, in models/default's tokenizer."""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import torch
from tokenizers import Tokenizer
from tqdm import tqdm

from tbtrain import shadow, shadow_pred
from tbtrain.checkpoints import load_lm
from tbtrain.metrics import token_bytes
from tbtrain.paths import TRAINING

KEEPS = (0.25, 0.5, 0.75)


def configs():
    for crit in ("plainact", "mag", "random"):
        for what in ("heads", "neurons"):
            for keep in KEEPS:
                yield crit, what, keep
        yield crit, "both", 0.5


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", default=str(TRAINING.parent / "models/default"))
    ap.add_argument("--ws", default=str(TRAINING / "work/heldout/ws"))
    ap.add_argument("--cache", default=str(TRAINING / "work/shadow"))
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--windows", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(TRAINING / "work/shadow/oracle.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    lm = load_lm(args.lm)
    tb = token_bytes(Tokenizer.from_file(str(pathlib.Path(args.lm) / "tokenizer.json")))
    rows = shadow_pred.spread(shadow_pred.heldout_windows(pathlib.Path(args.ws), pathlib.Path(args.lm) / "tokenizer.json",
                                                          pathlib.Path(args.cache), args.seq)["eval"], args.windows, seed=0)
    cfgs = list(configs())
    nats = {"dense": 0.0, **{f"{c}/{w}/{k}": 0.0 for c, w, k in cfgs}}
    nbytes, t0 = 0.0, time.time()
    gen = torch.Generator().manual_seed(0)
    for row in tqdm(rows, desc="oracle", unit="win"):
        ids = torch.from_numpy(row)[None]
        x, y, prev = ids[:, :-1], ids[:, 1:], torch.zeros(1, dtype=torch.long)
        imp = shadow.importances(lm, x, prev, y)
        imp["random_heads"] = torch.rand(imp["mag_heads"].shape, generator=gen)
        imp["random_neurons"] = torch.rand(imp["mag_neurons"].shape, generator=gen)
        nats["dense"] += imp["nll"].sum().item()
        nbytes += shadow.window_bytes(tb, y)
        with torch.no_grad():
            for c, w, k in cfgs:
                m = shadow.fixed_masks(imp[f"{c}_heads"] if w in ("heads", "both") else None,
                                       imp[f"{c}_neurons"] if w in ("neurons", "both") else None, k, k)
                nats[f"{c}/{w}/{k}"] += shadow.forward(lm, x, prev, y, masks=m).sum().item()
    bpb = {k: shadow.bits_per_byte(v, nbytes) for k, v in nats.items()}
    res = {"windows": len(rows), "seq": args.seq, "tokens": len(rows) * args.seq, "bytes": nbytes, "bpb": bpb,
           "loss_vs_dense_pct": {k: 100 * (v / bpb["dense"] - 1) for k, v in bpb.items()}, "seconds": time.time() - t0}
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(res, indent=1))
    print(f"dense {bpb['dense']:.4f} bits/byte over {len(rows)} windows of {args.seq}")
    print("| criterion | what | keep | bits/byte | vs dense |\n|---|---|---|---|---|")
    for c, w, k in cfgs:
        key = f"{c}/{w}/{k}"
        print(f"| {c} | {w} | {k:.0%} | {bpb[key]:.4f} | {res['loss_vs_dense_pct'][key]:+.2f}% |")


if __name__ == "__main__":
    main()
