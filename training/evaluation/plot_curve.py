"""Held-out bits/byte and the copy metric against tokens seen (from the run's log.jsonl) -> bench/training-curve.png"""
import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

training = pathlib.Path(__file__).parents[1]
log = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else training / "work/ckpt/log.jsonl")
rows = [json.loads(l) for l in log.read_text().splitlines() if l.strip()]
t = [r["tokens"] / 1e6 for r in rows]
fig, ax = plt.subplots(1, 3, figsize=(15, 3.6))
ax[0].plot(t, [r["val_bpb"] for r in rows], marker="o"); ax[0].axhline(1.5, ls="--", c="gray", label="target 1.5")
ax[0].set_xlabel("training tokens (M)"); ax[0].set_ylabel("held-out bits/byte"); ax[0].legend(); ax[0].grid(alpha=.3)
ax[1].plot(t, [r["ident_ratio"] for r in rows], marker="o", label="identifier 1st/later loss")
dep = [(r["tokens"] / 1e6, r) for r in rows if r.get("dep_ident_ratio")]
if dep:  # dependency-ordered windows (imported files first), from the session that introduced them
    ax[1].plot([x for x, _ in dep], [r["dep_ident_ratio"] for _, r in dep], marker="s", label="same, dependency order")
    ax[1].plot([x for x, _ in dep], [r["dep_def_ratio"] for _, r in dep], marker="^", label="declared names, dependency order")
ax[1].axhline(3, ls="--", c="gray", label="target 3x"); ax[1].set_xlabel("training tokens (M)"); ax[1].legend(); ax[1].grid(alpha=.3)
ax[2].plot(t, [r["rand_copy1_nats"] for r in rows], marker="o", label="random span, 1st copy")
ax[2].plot(t, [r["rand_copy2_nats"] for r in rows], marker="o", label="random span, 2nd copy")
ax[2].set_xlabel("training tokens (M)"); ax[2].set_ylabel("nats/token"); ax[2].legend(); ax[2].grid(alpha=.3)
for r in rows:  # e.g. the induction warm-up (synthetic copy sequences) between two code evaluations
    if r.get("note"):
        for a in ax:
            a.axvline(r["tokens"] / 1e6, c="orange", lw=1, alpha=.6)
        ax[0].annotate("induction\nwarm-up", (r["tokens"] / 1e6, r["val_bpb"]), fontsize=8, xytext=(4, -10), textcoords="offset points")
fig.tight_layout(); fig.savefig(training.parent / "bench/training-curve.png", dpi=100)
