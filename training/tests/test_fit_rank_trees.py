"""fit_rank_trees.py (the monitors' name ranking as LambdaRank trees): the trees learn an interaction
a linear score cannot, and the flattened trees it writes (the arrays rank.ts walks) give the same
scores as LightGBM's own prediction."""
import importlib.util
import json
import pathlib
import tempfile
import unittest

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("fit_rank_trees", ROOT / "evaluation" / "fit_rank_trees.py")
frt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(frt)


def walk(tree, v):
    """rank.ts scoreOf for one flattened tree."""
    n = 0 if tree["f"] else -1
    while n >= 0:
        n = tree["l"][n] if v[tree["f"][n]] <= tree["t"][n] else tree["r"][n]
    return tree["v"][~n]


def dump(path, kind, n_pos, rng):
    """Positions of 6 candidates with 3 features; the written name is the one where exactly one of
    features 0 and 1 is set (an XOR no linear score ranks first)."""
    rows = []
    for _ in range(n_pos):
        feats = {}
        target = None
        for c in range(6):
            a, b = int(rng.integers(0, 2)), int(rng.integers(0, 2))
            if target is None and a != b:
                target = f"n{c}"
            elif a != b:
                a = b = 0
            feats[f"n{c}"] = [a, b, float(rng.random())]
        if target is None:
            feats["n0"][0], feats["n0"][1], target = 1, 0, "n0"
        rows.append({"kind": kind, "file": "pkg/a.ts", "target": target, "features": feats})
    return rows


class FitRankTreesTest(unittest.TestCase):
    def test_fit_export_and_parity(self):
        try:
            import lightgbm  # noqa: F401
        except ImportError:
            self.skipTest("lightgbm not installed (training/requirements.txt)")
        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as tmp:
            d = pathlib.Path(tmp)
            rows = dump(d, "dot", 300, rng) + dump(d, "arg", 300, rng)
            (d / "fit.json").write_text(json.dumps(rows))
            (d / "tune.json").write_text(json.dumps(dump(d, "dot", 100, rng) + dump(d, "arg", 100, rng)))
            out = d / "trees.json"
            import sys
            argv = sys.argv
            sys.argv = ["fit_rank_trees.py", str(d / "fit.json"), "--eval", str(d / "tune.json"),
                        "--rounds", "40", "--leaves", "7", "--write", str(out)]
            try:
                frt.main()
            finally:
                sys.argv = argv
            trees = json.loads(out.read_text())
            x, y, groups = frt.load([str(d / "tune.json")], "dot")
            sc = trees["member"]
            self.assertEqual(sc["features"], 3)
            scores = np.array([sc["scale"] * sum(walk(t, v) for t in sc["trees"]) for v in x])
            self.assertGreaterEqual(frt.top1(scores, y, groups), 90)  # of 100: the XOR is learned
            # the flattened trees score as LightGBM does (refit the same way and compare)
            import lightgbm as lgb
            xf, yf, gf = frt.load([str(d / "fit.json")], "dot")
            params = dict(objective="lambdarank", num_leaves=7, learning_rate=0.05, min_data_in_leaf=20,
                          lambdarank_truncation_level=10, verbose=-1, seed=0, num_threads=1, deterministic=True)
            model = lgb.train(params, lgb.Dataset(xf, yf, group=gf), num_boost_round=40)
            np.testing.assert_allclose(scores, sc["scale"] * model.predict(x), rtol=1e-4, atol=1e-4)


if __name__ == "__main__":
    unittest.main()
