"""Quality of sparse attention policies on held-out code (decode simulation, masks per row).

Policies (tbtrain/policies.py): dense, oracle (true attention top-k), tokenbutler (predictor top-k),
window (sinks + recent = StreamingLLM), h2o (accumulated attention, permanent eviction), quest
(16-token pages, min/max key bound), random. Every row i attends to at most budget(i) past tokens
(sinks and a recent window included), as a decode step at position i would.
Metrics: bits/byte on held-out windows; code co-reference (an identifier completed from its first
token, or a config value recalled by its key, thousands of tokens after its definition in another
file: whole-answer accuracy and token coverage, plus the dense model by distance); predictor recall
(from train_predictor); ablations: prediction interval and neighbour fetching.

python3 training/evaluation/eval.py --lm work/ckpt/lm.pt --predictor work/pred/pred.pt --out ../bench
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
from tbtrain.checkpoints import load_lm
from tbtrain.coref import coref_examples, coref_score
from tbtrain.data import Sampler
from tbtrain.metrics import token_bytes
from tbtrain.paths import TRAINING
from tbtrain.policies import LATE_ROW, recent_rule, simulate
from tbtrain.predictor import ensure_calibrated, load_predictor
from tbtrain.report import coref_lines, write_report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", default=str(TRAINING / "work/ckpt/lm.pt"))
    ap.add_argument("--predictor", default=str(TRAINING / "work/pred/pred.pt"))
    ap.add_argument("--work", default=str(TRAINING / "work"))
    ap.add_argument("--out", default=str(TRAINING.parent / "bench"))
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--windows", type=int, default=6)
    ap.add_argument("--coref", type=int, default=24, help="examples per co-reference kind")
    ap.add_argument("--coref-seq", type=int, default=3072, help="co-reference example length (definition ... use site)")
    ap.add_argument("--skip-bpb", action="store_true", help="co-reference only (bench/coref.md)")
    ap.add_argument("--coref-distances", default="0,400,1500", help="dense co-reference accuracy at these filler lengths")
    ap.add_argument("--policies", default="dense,oracle,tokenbutler,tokenbutler-l0w,window,h2o,quest,random")
    ap.add_argument("--budgets", default="0.05,0.1,0.25,0.5,256,512,1024")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--dep-order",
        action="store_true",
        help="held-out windows in dependency order (a file's imports before it, as the engine lays out context) instead of path order",
    )
    ap.add_argument("--no-ablation", action="store_true", help="skip the interval and neighbour ablations")
    ap.add_argument("--no-lookup", action="store_true", help="switch the n-gram lookup off (as if nothing matched): attention alone")
    ap.add_argument("--fp32-keys", action="store_true", help="tokenbutler scores fp32 importance keys (the graphs score int8 ones)")
    ap.add_argument(
        "--recent-rule",
        default="",
        help="one forced recent window for every sparse policy, clamp(budget / D, LO, HI) as D,LO,HI (default: RECENT_RULES, per policy)",
    )
    ap.add_argument("--seed", type=int, default=99, help="held-out window sampler seed (tune on another seed than the one reported)")
    args = ap.parse_args()
    pol.LOOKUP = not args.no_lookup
    pol.INT8_KEYS = not args.fp32_keys
    if args.recent_rule:
        div, lo, hi = args.recent_rule.split(",")
        pol.RECENT_RULE = (float(div), int(lo), int(hi))
    torch.set_num_threads(args.threads)
    lm = load_lm(args.lm)
    pred, _, ps = load_predictor(args.predictor, lm.cfg)
    ensure_calibrated(lm, pred, pathlib.Path(args.work) / "tokens")
    tok = Tokenizer.from_file(str(pathlib.Path(args.work) / "tokenizer.json"))
    tb = token_bytes(tok)
    valid = Sampler(pathlib.Path(args.work) / "tokens", "valid", args.seq, 0.0, seed=args.seed, dep_rate=1.0 if args.dep_order else 0.0)
    windows = [valid.sample() for _ in range(args.windows)]
    budgets = [float(b) if "." in b else int(b) for b in args.budgets.split(",")]
    policies = args.policies.split(",")
    results = {
        "bpb": {},
        "coref": {},
        "ablation": {},
        "recall": ps.get("metrics", {}),
        "seq": args.seq,
        "coref_seq": args.coref_seq,
        "lookup": bool(lm.cfg.ngram_max) and pol.LOOKUP,
        "recent_rules": {p: list(recent_rule(p)) for p in policies if p != "dense"},
        "order": "dependency" if args.dep_order else "path",
    }
    t0 = time.time()
    nbytes = sum(float(tb[row[1:args.seq]].sum()) for _, row in windows)
    nbytes_late = sum(float(tb[row[1 + LATE_ROW:args.seq]].sum()) for _, row in windows)
    results["bpb_late"], results["late_row"] = {}, LATE_ROW

    def bpb(policy, budget, **kw):
        """bits/byte over every row; for the plain policies, rows from LATE_ROW on (a prefix of at least
        LATE_ROW tokens) also go to results["bpb_late"], under the key the caller stores the whole by."""
        nats = late = 0.0
        for prev, row in windows:
            ids = torch.from_numpy(row[None, :args.seq]).long()
            l = simulate(lm, pred, ids, torch.tensor([prev]), policy, budget, **kw)
            nats += l.sum().item(); late += l[LATE_ROW:].sum().item()
        if not kw:  # not an ablation
            results["bpb_late"][policy if budget is None else f"{policy}@{budget}"] = late / math.log(2) / nbytes_late
        return nats / math.log(2) / nbytes

    if not args.skip_bpb:
        dense = bpb("dense", None)
        results["bpb"]["dense"] = dense
        for budget in budgets:
            for p in policies:
                if p == "dense":
                    continue
                v = bpb(p, budget)
                results["bpb"][f"{p}@{budget}"] = v
                print(f"bpb {p}@{budget}: {v:.4f} (dense {dense:.4f}) [{time.time()-t0:.0f}s]", flush=True)
        if not args.no_ablation:
            for interval in (2, 4, 8):
                results["ablation"][f"interval{interval}@0.1"] = bpb("tokenbutler", 0.1, interval=interval)
            results["ablation"]["neighbor@0.1"] = bpb("tokenbutler", 0.1, neighbor=True)
            results["ablation"]["interval1@0.1"] = results["bpb"].get("tokenbutler@0.1")
            print("ablation", results["ablation"], flush=True)
    cvalid = Sampler(pathlib.Path(args.work) / "tokens", "valid", args.coref_seq, 0.0, seed=77)
    for kind in (("identifier", "value") if args.coref else ()):
        ex = coref_examples(tok, cvalid, args.coref, args.coref_seq - 300, kind)
        results["coref"][kind] = {}
        for p in policies:
            for budget in ([None] if p == "dense" else [0.1]):
                a, c = coref_score(lm, pred, ex, p, budget)
                results["coref"][kind][f"{p}@{budget}" if budget else p] = {"accuracy": a, "coverage": c}
                print(f"coref {kind} {p}@{budget}: acc {a:.3f} cov {c:.3f} [{time.time()-t0:.0f}s]", flush=True)
    results["coref_dense_by_distance"] = {}
    for d in [int(x) for x in args.coref_distances.split(",") if x and args.coref]:  # how far the dense model itself can recall
        dv = Sampler(pathlib.Path(args.work) / "tokens", "valid", max(d, 16) + 8, 0.0, seed=77)
        for kind in ("identifier", "value"):
            a, c = coref_score(lm, pred, coref_examples(tok, dv, args.coref, d, kind), "dense", None)
            results["coref_dense_by_distance"][f"{kind}@{d}"] = {"accuracy": a, "coverage": c}
            print(f"coref dense {kind} at distance {d}: acc {a:.3f} cov {c:.3f}", flush=True)
    out = pathlib.Path(args.out); out.mkdir(parents=True, exist_ok=True)
    if args.skip_bpb:
        (out / "coref.json").write_text(json.dumps(results["coref"], indent=1))
        (out / "coref.md").write_text("\n".join(["# Code co-reference"] + coref_lines(results)) + "\n")
        return
    (out / "quality.json").write_text(json.dumps(results, indent=1))
    write_report(results, budgets, policies, out)


if __name__ == "__main__":
    main()
