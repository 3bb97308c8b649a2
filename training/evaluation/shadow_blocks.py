"""ShadowLLM masks as the decode step graph applies them (tbtrain/shadow_graph.py), on the default model: bits/byte
with the trained ShadowLLM predictor's masks per neuron (the gather variant) and per block of neurons ranked by
the sum of their scores (the blocks variant, nothing copied), on the evaluation windows of
bench/shadowllm.md (train_shadow.py's split and seed).

    python3 training/evaluation/shadow_blocks.py --blocks 64,32,16 --keeps 0.75,0.5
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import torch
from tokenizers import Tokenizer
from tqdm import tqdm

from tbtrain import shadow, shadow_pred
from tbtrain.checkpoints import load_lm
from tbtrain.metrics import token_bytes
from tbtrain.paths import TRAINING
from tbtrain.shadow_graph import block_masks
from tbtrain.shadow_pred import ShadowPredictor


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", default=str(TRAINING.parent / "models/default"))
    ap.add_argument("--pred", default=str(TRAINING / "work/shadow/pred/pred.pt"))
    ap.add_argument("--ws", default=str(TRAINING / "work/heldout/ws"))
    ap.add_argument("--cache", default=str(TRAINING / "work/shadow"))
    ap.add_argument("--blocks", default="64,32,16")
    ap.add_argument("--keeps", default="0.75,0.5")
    ap.add_argument("--heads", default="0.75", help="head keep ratios (per head, as the skip variant)")
    ap.add_argument("--eval-windows", type=int, default=32)
    ap.add_argument("--out", default=str(TRAINING / "work/shadow/blocks.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_lm(args.lm); c = lm.cfg
    pred = ShadowPredictor(c.d_model, c.n_layers - 1, c.n_heads, c.ffn_dim, 32)
    pred.load_state_dict(torch.load(args.pred, weights_only=False)["preds"]["shadow"]); pred.eval()
    tok = pathlib.Path(args.lm) / "tokenizer.json"
    rows = shadow_pred.spread(shadow_pred.heldout_windows(pathlib.Path(args.ws), tok, pathlib.Path(args.cache), 1024)["eval"],
                              args.eval_windows, seed=0)
    tb = token_bytes(Tokenizer.from_file(str(tok)))
    cfgs = {"dense": (1.0, 1.0, None)}
    for k in (float(x) for x in args.keeps.split(",")):
        cfgs[f"neurons {k:.0%} per neuron"] = (1.0, k, None)
        for b in (int(x) for x in args.blocks.split(",")):
            cfgs[f"neurons {k:.0%} blocks of {b}"] = (1.0, k, b)
    for k in (float(x) for x in args.heads.split(",") if x):
        cfgs[f"heads {k:.0%}"] = (k, 1.0, None)
    nats = dict.fromkeys(cfgs, 0.0); nbytes = 0.0
    with torch.no_grad():
        for row in tqdm(rows, desc="eval", unit="win"):
            ids = torch.from_numpy(row)[None]
            x, y, prev = ids[:, :-1], ids[:, 1:], torch.zeros(1, dtype=torch.long)
            nbytes += shadow.window_bytes(tb, y)
            for n, (kh, kn, b) in cfgs.items():
                masks = None if n == "dense" else block_masks(pred, kh, kn, b)
                nats[n] += shadow.forward(lm, x, prev, y, masks=masks).sum().item()
    bpb = {n: shadow.bits_per_byte(v, nbytes) for n, v in nats.items()}
    res = {"bpb": bpb, "loss_vs_dense_pct": {n: 100 * (v / bpb["dense"] - 1) for n, v in bpb.items()}, "windows": len(rows)}
    pathlib.Path(args.out).write_text(json.dumps(res, indent=1))
    print("| masks (ShadowLLM predictor, layers 1-3) | bits/byte | vs dense |\n|---|---|---|")
    for n in cfgs:
        print(f"| {n} | {bpb[n]:.4f} | {res['loss_vs_dense_pct'][n]:+.2f}% |")


if __name__ == "__main__":
    main()
