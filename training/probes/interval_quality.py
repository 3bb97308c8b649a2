"""Quality of the prediction interval with and without neighbour fetch (issue 26 item 2): bits/byte of
models/default in the decode simulation (tbtrain/policies.simulate, tokenbutler-l0w as the engine runs
it: layer 0 reads its window, int8 KV cache), on the held-out windows of bench/shadowllm.md, for
intervals 1-8 (a fresh selection every `interval` rows, the rows between re-read it) and the
neighbour-fetch forms of policies.DILATIONS.

python3 training/probes/interval_quality.py [--windows 32] [--intervals 1,2,4,8] [--neighbors none,dilate] [--budgets 0.1,256]
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain import policies as pol
from tbtrain.checkpoints import lm_from_folder, predictor_from_folder
from tbtrain.metrics import token_bytes
from tbtrain.paths import TRAINING
from tbtrain.shadow_pred import heldout_windows, spread


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(TRAINING.parent / "models/default"))
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--windows", type=int, default=32)
    ap.add_argument("--intervals", default="1,2,4,8")
    ap.add_argument("--neighbors", default="none,dilate", help="none, or forms of policies.DILATIONS")
    ap.add_argument("--budgets", default="0.1,256")
    ap.add_argument("--policy", default="tokenbutler-l0w")
    ap.add_argument("--kv", default="int8", help="policies.KV_CACHE: how past slots are read")
    ap.add_argument("--recent", type=int, default=0,
                    help="a forced recent window of this many slots for every row (the engine's 128; 0: policies.RECENT_RULES)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None, help="JSON results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pol.KV_CACHE = args.kv
    if args.recent:
        pol.RECENT_RULE = (1e9, args.recent, args.recent)
    folder = pathlib.Path(args.model)
    lm = lm_from_folder(folder).eval().requires_grad_(False)
    pred = predictor_from_folder(folder, lm)
    tb = token_bytes(Tokenizer.from_file(str(folder / "tokenizer.json")))
    rows = heldout_windows(TRAINING / "work/heldout/ws", folder / "tokenizer.json", TRAINING / "work/shadow", args.seq)["eval"]
    wins = spread(rows, args.windows, 0)
    nbytes = float(sum(tb[r[1:args.seq]].sum() for r in wins))
    res = {"windows": len(wins), "seq": args.seq, "policy": args.policy, "kv": args.kv, "recent": args.recent or "RECENT_RULES", "bpb": {}}
    t0 = time.time()

    def bpb(policy, budget, **kw):
        nats = 0.0
        for r in wins:
            ids = torch.from_numpy(r[None, :args.seq]).long()
            nats += pol.simulate(lm, pred, ids, torch.tensor([0]), policy, budget, **kw).sum().item()
        return nats / math.log(2) / nbytes

    res["bpb"]["dense"] = bpb("dense", None)
    print(f"dense {res['bpb']['dense']:.5f}", flush=True)
    for budget in (float(b) if "." in b else int(b) for b in args.budgets.split(",")):
        for nb in args.neighbors.split(","):
            for iv in (int(i) for i in args.intervals.split(",")):
                key = f"{args.policy}@{budget} interval {iv}" + ("" if nb == "none" else f" {nb}")
                res["bpb"][key] = v = bpb(args.policy, budget, interval=iv, neighbor=False if nb == "none" else nb)
                print(f"{key}: {v:.5f} [{time.time() - t0:.0f}s]", flush=True)
    print(json.dumps(res, indent=1))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
