"""Fits the monitors' name ranking as gradient-boosted trees (LightGBM, LambdaRank: each position's
candidates are one list, the written name the one relevant item) on candidate dumps of the names
bench, the same dumps and features as fit_rank.py:
    node out/bench-names.js --half fit --nim 5000 --lines 0 --per-file 8 --candidates --features --out out/fit
    node out/bench-names.js --quick --nim 1500 --per-file 10 --candidates --features --lines 0 --out out/tune
LambdaRank scores have no scale of their own; the decoder reads a ranking score as log-probability
units (rank.ts), so each kind's sum of trees is multiplied by the factor that makes a softmax over a
position's candidates best predict the written name on the fitted dumps (one parameter, by grid).
Reported: top-1 on --eval (the tuning half, out of sample when only the fitting set is fitted).
--write FILE writes both kinds' trees as JSON (src/engine/monitors/rank-trees.json; rank.ts reads it).

    pip install lightgbm
    python3 training/evaluation/fit_rank_trees.py out/fit-candidates.json --eval out/tune-candidates.json \
        [--leaves 15 --rounds 300 --lr 0.05] [--write src/engine/monitors/rank-trees.json]
"""

import argparse
import json
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.rank_dumps import candidate_rows

KINDS = {"dot": "member", "arg": "ident"}


def load(paths, kind):
    x, y, groups = [], [], []
    for r in candidate_rows(paths, kind):
        names = list(r["features"])
        x.extend(r["features"][k] for k in names)
        y.extend(1 if k == r["target"] else 0 for k in names)
        groups.append(len(names))
    return np.array(x, dtype=np.float64), np.array(y), groups


def top1(score, y, groups):
    hits, at = 0, 0
    for n in groups:
        hits += int(y[at + int(np.argmax(score[at:at + n]))] == 1)
        at += n
    return hits


def calibrate(score, y, groups):
    """The factor a that maximizes the mean log softmax(a * score)[written name] over the positions
    whose written name is a candidate."""
    best = (-np.inf, 1.0)
    for a in np.exp(np.linspace(np.log(0.05), np.log(50), 200)):
        ll, at, n_pos = 0.0, 0, 0
        for n in groups:
            s, t = a * score[at:at + n], y[at:at + n]
            if t.any():
                m = s.max()
                ll += s[t.argmax()] - m - np.log(np.exp(s - m).sum())
                n_pos += 1
            at += n
        if ll / max(1, n_pos) > best[0]:
            best = (ll / max(1, n_pos), a)
    return best[1]


def flatten(tree):
    """LightGBM's nested tree as parallel arrays: internal node i tests feature f[i] <= t[i] and goes
    to l[i] / r[i]; a child < 0 is leaf ~child, whose value is v[~child]."""
    f, t, l, r, v = [], [], [], [], []

    def walk(node):
        if "leaf_value" in node:
            v.append(round(float(node["leaf_value"]), 6))
            return ~(len(v) - 1)
        i = len(f)
        f.append(int(node["split_feature"]))
        t.append(float(np.float32(node["threshold"])))
        l.append(0)
        r.append(0)
        assert node["decision_type"] == "<=", node["decision_type"]
        l[i] = walk(node["left_child"])
        r[i] = walk(node["right_child"])
        return i

    walk(tree["tree_structure"])
    return {"f": f, "t": t, "l": l, "r": r, "v": v}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dump", nargs="+", help="candidate dumps, fitted together")
    ap.add_argument("--eval", help="judge on this dump (the tuning half)")
    ap.add_argument("--leaves", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--write", help="write both kinds' trees as this JSON file")
    args = ap.parse_args()
    import lightgbm as lgb

    command = f"python3 training/evaluation/fit_rank_trees.py {' '.join(args.dump)}"
    command += f" --leaves {args.leaves} --rounds {args.rounds} --lr {args.lr}"
    out = {"command": command}
    for kind, name in KINDS.items():
        x, y, groups = load(args.dump, kind)
        params = dict(objective="lambdarank", num_leaves=args.leaves, learning_rate=args.lr, min_data_in_leaf=20,
                      lambdarank_truncation_level=10, verbose=-1, seed=0, num_threads=1, deterministic=True)
        model = lgb.train(params, lgb.Dataset(x, y, group=groups), num_boost_round=args.rounds)
        scale = calibrate(model.predict(x), y, groups)
        line = f"{kind}: {len(groups)} positions, in sample top-1 {top1(model.predict(x), y, groups)}; scale {scale:.3f}"
        if args.eval:
            xe, ye, ge = load([args.eval], kind)
            hits = top1(model.predict(xe), ye, ge)
            line += f"; on {args.eval} top-1 {hits}/{len(ge)} = {100 * hits / len(ge):.1f}%"
        print(line)
        dump = model.dump_model()
        out[name] = {"features": x.shape[1], "scale": round(scale, 4), "trees": [flatten(t) for t in dump["tree_info"]]}
    if args.write:
        with open(args.write, "w") as fh:
            json.dump(out, fh, separators=(",", ":"))
            fh.write("\n")


if __name__ == "__main__":
    main()
