"""Quality probe for issue 26 item 3 (a compact KV cache): bits/byte and the code co-reference task of
models/default in the decode simulation (tbtrain/policies.simulate: row i reads its past slots from the
cache, its own token in float), for the float32 cache against the compact forms of tbtrain/kv_quant.MODES,
dense and tokenbutler.

Data: the held-out npm packages under training/work/heldout/ws, windowed and tokenized as in
bench/shadowllm.md (tbtrain/shadow_pred.heldout_windows, evaluation packages only); the co-reference
examples (tbtrain/coref.py) take their filler from the same evaluation windows, three in a row.

python3 training/probes/kv_compact_quality.py [--windows 32] [--modes f32,int8,int8-cast,f16] [--coref 24]
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys
import time

import numpy as np
import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain import policies as pol
from tbtrain.checkpoints import lm_from_folder, predictor_from_folder
from tbtrain.coref import coref_examples, coref_score
from tbtrain.metrics import token_bytes
from tbtrain.paths import TRAINING
from tbtrain.shadow_pred import heldout_windows, spread


class Filler:
    """coref_examples' sampler: (prev, tokens) of `n` consecutive evaluation windows, cycling."""

    def __init__(self, rows: np.ndarray, n: int = 3):
        self.rows, self.n, self.at = rows, n, 0

    def sample(self):
        rows = [self.rows[(self.at + i) % len(self.rows)] for i in range(self.n)]
        self.at += 7
        return 0, np.concatenate(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(TRAINING.parent / "models/default"))
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--windows", type=int, default=32)
    ap.add_argument("--modes", default="f32,int8,int8-cast,f16")
    ap.add_argument("--budgets", default="0.1,256")
    ap.add_argument("--coref", type=int, default=24, help="examples per co-reference kind (0: none)")
    ap.add_argument("--coref-filler", type=int, default=2772)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="JSON results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    folder = pathlib.Path(args.model)
    lm = lm_from_folder(folder).eval().requires_grad_(False)
    pred = predictor_from_folder(folder, lm)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tb = token_bytes(tok)
    rows = heldout_windows(TRAINING / "work/heldout/ws", folder / "tokenizer.json", TRAINING / "work/shadow", args.seq)["eval"]
    wins = spread(rows, args.windows, 0)  # the same 32 windows as bench/shadowllm.md
    nbytes = float(sum(tb[r[1:args.seq]].sum() for r in wins))
    budgets = [float(b) if "." in b else int(b) for b in args.budgets.split(",")]
    res = {"windows": len(wins), "seq": args.seq, "bytes": nbytes, "bpb": {}, "coref": {}}
    t0 = time.time()
    for mode in args.modes.split(","):
        pol.KV_CACHE = mode
        # --windows 0: co-reference only
        for policy, budget in ([("dense", None)] + [("tokenbutler", b) for b in budgets]) if len(wins) else ():
            nats = 0.0
            for r in wins:
                ids = torch.from_numpy(r[None, :args.seq]).long()
                nats += pol.simulate(lm, pred, ids, torch.tensor([0]), policy, budget).sum().item()
            key = policy if budget is None else f"{policy}@{budget}"
            res["bpb"].setdefault(key, {})[mode] = v = nats / math.log(2) / nbytes
            print(f"bpb {key} {mode}: {v:.5f} [{time.time() - t0:.0f}s]", flush=True)
        for kind in (("identifier", "value") if args.coref else ()):
            ex = coref_examples(tok, Filler(rows), args.coref, args.coref_filler, kind)
            for policy, budget in (("dense", None), ("tokenbutler", 0.1)):
                a, c = coref_score(lm, pred, ex, policy, budget)
                key = f"{kind} {policy}" + (f"@{budget}" if budget else "")
                res["coref"].setdefault(key, {})[mode] = {"accuracy": a, "coverage": c}
                print(f"coref {key} {mode}: acc {a:.3f} cov {c:.3f} [{time.time() - t0:.0f}s]", flush=True)
    pol.KV_CACHE = "f32"
    print(json.dumps(res, indent=1))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
