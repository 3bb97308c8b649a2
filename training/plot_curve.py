"""Held-out bits/byte and the copy metric against tokens seen (from the run's log.jsonl) -> bench/training-curve.png"""
import json, pathlib, sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

here = pathlib.Path(__file__).parent
log = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else here / "work/ckpt/log.jsonl")
rows = [json.loads(l) for l in log.read_text().splitlines() if l.strip()]
t = [r["tokens"] / 1e6 for r in rows]
fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
ax[0].plot(t, [r["val_bpb"] for r in rows], marker="o"); ax[0].axhline(1.5, ls="--", c="gray", label="target 1.5")
ax[0].set_xlabel("training tokens (M)"); ax[0].set_ylabel("held-out bits/byte"); ax[0].legend(); ax[0].grid(alpha=.3)
ax[1].plot(t, [r["ident_ratio"] for r in rows], marker="o", label="identifier 1st/later loss")
ax[1].axhline(3, ls="--", c="gray", label="target 3x"); ax[1].set_xlabel("training tokens (M)"); ax[1].legend(); ax[1].grid(alpha=.3)
fig.tight_layout(); fig.savefig(here.parent / "bench/training-curve.png", dpi=100)
