"""Fits the monitors' name-ranking weights (src/engine/monitors/rank.ts) on the tuning half.

Input: the candidate dump of the names bench on the tuning half,
    node out/bench-names.js --quick --nim 1500 --per-file 10 --candidates --features --out out/cand
A softmax over each position's candidates, log-linear in the features, fitted by L-BFGS with an L2
penalty; reported top-1 by leave-one-package-out, then the weights fitted on every package (paste
them into rank.ts).
"""

import argparse
import json
from collections import defaultdict

import numpy as np
import torch


def load(path, kind, lm):
    rows = [r for r in json.load(open(path)) if r["kind"] == kind and r.get("features")]
    # a position whose trigger the ranking reads as the other kind has the other feature vector
    dims = [len(next(iter(r["features"].values()))) for r in rows]
    rows = [r for r, d in zip(rows, dims) if d == max(set(dims), key=dims.count)]
    data = []
    for r in rows:
        if lm:
            # the top-k of the fitted ranking, each with the LM's first-token and whole-name log-probability
            names = list(r.get("lm", {}))
            if not names:
                continue
            x = np.array([r["features"][n] + list(lm_columns(r["lm"][n], lm)) for n in names], dtype=np.float64)
        else:
            names = list(r["features"])
            x = np.array([r["features"][n] for n in names], dtype=np.float64)
        y = names.index(r["target"]) if r["target"] in names else -1
        data.append((r["file"].split("/")[0], x, y))
    return data


def lm_columns(s, mode):
    first, total, _ = s
    return {"first": (first,), "total": (total,), "both": (first, total)}[mode]


def fit(data, l2, fixed=None):
    d = data[0][1].shape[1]
    w = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    xs = [(torch.tensor(x), y) for _, x, y in data if y >= 0]
    opt = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = sum(-torch.log_softmax(x @ w, 0)[y] for x, y in xs) / len(xs) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy()


def top1(data, w):
    return sum(1 for _, x, y in data if y >= 0 and int(np.argmax(x @ w)) == y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dump")
    ap.add_argument("--l2", type=float, default=0.01)
    ap.add_argument("--lm", choices=["first", "total", "both"], help="add the LM's log-probabilities (dump made with --lm-k)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    for kind in ("dot", "arg"):
        data = load(a.dump, kind, a.lm)
        groups = defaultdict(list)
        for g, x, y in data:
            groups[g].append((g, x, y))
        hits = 0
        for g in groups:
            train = [r for h in groups if h != g for r in groups[h]]
            hits += top1(groups[g], fit(train, a.l2))
        w = fit(data, a.l2)
        print(f"{kind}: {len(data)} positions, leave-one-package-out top-1 {hits}/{len(data)} = {100 * hits / len(data):.1f}%; "
              f"all-in top-1 {top1(data, w)}/{len(data)}")
        if a.lm:
            k = data[0][1].shape[1]
            only = np.zeros(k)
            only[-1] = 1
            print(f"  the LM alone ({a.lm}, last column) within the top-k: {top1(data, only)}/{len(data)}")
        print(f"  weights [{', '.join(f'{v:.2f}' for v in w)}]")


if __name__ == "__main__":
    main()
