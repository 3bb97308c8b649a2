"""Quality of sparse chunk prefill (the sparse graph run on S > 1 tokens) against dense prefill,
through the exported ONNX graphs (the code the engine runs).

For each held-out multi-file window: dense-prefill `ctx` tokens, then prefill the next `tail`
tokens (the part an edit above the cursor invalidates) either densely or sparsely (chunks of
`chunk`, budget B, the chunk's mean importance query), then teacher-force `follow` tokens with
dense decode steps and compare their loss and top-1 predictions. Writes bench/prefill-quality.{json,md}.

python3 training/evaluation/eval_prefill.py --model /tmp/exp-fp32 --ctx 12288 --tail 256 --windows 4
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.data import Sampler
from tbtrain.ort_runner import GraphRunner
from tbtrain.paths import TRAINING


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(TRAINING.parent / "models/default"))
    ap.add_argument("--work", default=str(TRAINING / "work"))
    ap.add_argument("--ctx", type=int, default=12288)
    ap.add_argument("--tail", type=int, default=256)
    ap.add_argument("--follow", type=int, default=32)
    ap.add_argument("--chunk", type=int, default=128)
    ap.add_argument("--budgets", default="512,1024,2048")
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--out", default=None)
    ap.add_argument("--name", default="prefill-quality", help="output file stem in --out")
    a = ap.parse_args()
    budgets = [int(b) for b in a.budgets.split(",")]
    n = a.ctx + a.tail + a.follow
    smp = Sampler(pathlib.Path(a.work) / "tokens", "valid", n, fim_rate=0.0, seed=99)
    r = GraphRunner(a.model, n + 8)
    res = {"dense": {"nats": [], "top1": []}}
    for b in budgets:
        res[f"sparse@{b}"] = {"nats": [], "top1": [], "ms": []}
    res["dense"]["ms"] = []
    for w in range(a.windows):
        _, row = smp.sample()
        ids = row.tolist()
        r.reset()
        for at in range(0, a.ctx, 256):
            r.run(ids[at:min(a.ctx, at + 256)])
        base = r.snapshot()
        ref_pred = None
        for name in ["dense"] + [f"sparse@{b}" for b in budgets]:
            r.restore(base)
            t0 = time.perf_counter()
            for at in range(a.ctx, a.ctx + a.tail, a.chunk):
                part = ids[at:min(a.ctx + a.tail, at + a.chunk)]
                if name == "dense":
                    r.run(part)
                else:
                    r.run(part, sparse=True, budget=int(name.split("@")[1]))
            res[name]["ms"].append((time.perf_counter() - t0) * 1000)
            nats, preds = 0.0, []
            for t in range(a.ctx + a.tail, n):
                lg = r.run([ids[t]])["logits"][0]  # token t at position t; the logits predict token t+1
                if t + 1 < len(ids):
                    lg = lg.astype(np.float64)
                    nats += float(np.log(np.exp(lg - lg.max()).sum()) + lg.max() - lg[ids[t + 1]])
                    preds.append(int(lg.argmax()))
            if ref_pred is None:
                ref_pred = preds
            res[name]["nats"].append(nats / max(1, len(preds)))
            res[name]["top1"].append(float(np.mean([p == q for p, q in zip(preds, ref_pred)])))
        print(w, {k: round(v["nats"][-1], 4) for k, v in res.items()}, flush=True)
    summary = {k: {"nats": float(np.mean(v["nats"])), "top1_agree": float(np.mean(v["top1"])), "tail_ms": float(np.median(v["ms"]))}
               for k, v in res.items()}
    summary["setup"] = vars(a)
    print(json.dumps(summary, indent=1))
    if a.out:
        out = pathlib.Path(a.out)
        (out / f"{a.name}.json").write_text(json.dumps(summary, indent=1) + "\n")
        lines = [
            f"# Sparse chunk prefill vs dense prefill ({a.tail} tokens after {a.ctx})",
            "",
            f"`python3 training/evaluation/eval_prefill.py --ctx {a.ctx} --tail {a.tail} --windows {a.windows} --budgets {a.budgets}`, "
            f"model `{a.model}`: {a.windows} held-out windows; "
            f"dense prefill of {a.ctx} tokens, then the next {a.tail} tokens prefilled densely "
            f"or with the sparse graph in chunks of {a.chunk} (sinks 8, recent 128, budget B, the chunk's mean importance query); "
            f"then {a.follow} tokens teacher-forced with dense decode.",
            "",
            "| tail prefill | loss on the following tokens (nats) | top-1 agreement with dense | tail prefill ms (fp32, python) |",
            "|---|---|---|---|",
        ]
        for k, v in summary.items():
            if k != "setup":
                lines.append(f"| {k} | {v['nats']:.4f} | {v['top1_agree']:.3f} | {v['tail_ms']:.0f} |")
        (out / f"{a.name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
