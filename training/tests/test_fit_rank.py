"""fit_rank.py (the monitors' name ranking): the hidden layer learns what a linear score cannot (a
name is right when exactly one of two pieces of evidence holds), the linear fit stays as it was, and
--write emits a scorer file whose shapes match the features and whose scores equal the Python ones."""
import importlib.util
import json
import pathlib
import re
import tempfile
import unittest

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("fit_rank", ROOT / "evaluation" / "fit_rank.py")
fit_rank = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fit_rank)


def xor_positions(n, seed):
    """Four candidates per position with two binary features each; the target is the one where
    exactly one feature is set (the others have both or neither)."""
    rng = np.random.default_rng(seed)
    data = []
    for i in range(n):
        rows = [[0, 0], [1, 1], [1, 0] if rng.random() < 0.5 else [0, 1], [0, 0]]
        order = rng.permutation(4)
        x = np.array([rows[j] for j in order], dtype=np.float64)
        data.append((f"pkg{i % 3}", x, int(np.where(order == 2)[0][0])))
    return data


def weights_file(folder, scorers, command):
    """rank-weights.ts written by fit_rank into `folder`."""
    path = pathlib.Path(folder) / "rank-weights.ts"
    fit_rank.write_ts(str(path), scorers, command)
    return path


class FitRankTest(unittest.TestCase):
    def setUp(self):
        torch.set_num_threads(1)

    def test_hidden_layer_learns_an_interaction_the_linear_score_cannot(self):
        train, test = xor_positions(60, 0), xor_positions(60, 1)
        linear = fit_rank.fit_scorer(train, 0.001, 0)
        hidden = fit_rank.fit_scorer(train, 0.001, 4)
        self.assertIsNone(linear.a)
        self.assertLess(fit_rank.top1(test, linear), 45)  # it cannot tell [1, 0] from [1, 1] and [0, 0]
        self.assertEqual(fit_rank.top1(test, hidden), 60)

    def test_write_ts_emits_the_fitted_numbers(self):
        data = xor_positions(30, 2)
        scorers = {"MEMBER_SCORER": fit_rank.fit_scorer(data, 0.01, 3), "IDENT_SCORER": fit_rank.fit_scorer(data, 0.01, 0)}
        with tempfile.TemporaryDirectory() as d:
            text = weights_file(d, scorers, "test").read_text()
        array = r"(\[[^\]]*\])"
        pattern = rf"MEMBER_SCORER: LinearScorer = \{{ linear: {array}, hidden: \{{ w: \[(.*)\], b: {array}, out: {array} \}} \}};"
        member = re.search(pattern, text)
        self.assertIsNotNone(member)
        linear, rows, b, out = eval(member[1]), eval("[" + member[2] + "]"), eval(member[3]), eval(member[4])
        self.assertEqual((len(linear), len(rows), len(rows[0]), len(b), len(out)), (2, 3, 2, 3, 3))
        x = np.array([[1.0, 0.0], [0.0, 0.0]])
        ts_score = x @ np.array(linear) + np.tanh(x @ np.array(rows).T + np.array(b)) @ np.array(out)
        np.testing.assert_allclose(ts_score, scorers["MEMBER_SCORER"](x), atol=1e-3)
        self.assertRegex(text, r"IDENT_SCORER: LinearScorer = \{ linear: \[[^\]]*\] \};")

    def test_load_reads_several_dumps_together(self):
        def dump(pkg, target):
            feats = {"a": [1.0, 0.0], "b": [0.0, 1.0]}
            return [{"kind": "dot", "file": f"{pkg}/x.js", "target": target, "features": feats},
                    {"kind": "arg", "file": f"{pkg}/x.js", "target": "a", "features": {"a": [1.0, 0.0, 0.0]}}]
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for pkg, target in (("fitpkg", "b"), ("tunepkg", "zzz")):
                path = pathlib.Path(d) / f"{pkg}.json"
                path.write_text(json.dumps(dump(pkg, target)))
                paths.append(str(path))
            rows = fit_rank.load(paths, "dot", None)
            one = fit_rank.load(paths[0], "dot", None)
        self.assertEqual([(g, y) for g, _, y in rows], [("fitpkg", 1), ("tunepkg", -1)])  # an absent target is -1
        self.assertEqual(len(one), 1)

    def test_only_one_kind_replaces_its_scorer_and_keeps_the_other(self):
        data = xor_positions(30, 3)
        first = {"MEMBER_SCORER": fit_rank.fit_scorer(data, 0.01, 0), "IDENT_SCORER": fit_rank.fit_scorer(data, 0.01, 0)}
        with tempfile.TemporaryDirectory() as d:
            path = weights_file(d, first, "first")
            member = next(ln for ln in path.read_text().split("\n") if ln.startswith("export const MEMBER_SCORER"))
            for _ in range(2):  # rerunning the same command changes nothing
                fit_rank.keep_other(str(path), {"IDENT_SCORER": fit_rank.fit_scorer(data, 0.01, 2)}, "second")
            text = path.read_text()
        self.assertIn(member, text)
        self.assertRegex(text, r"IDENT_SCORER: LinearScorer = \{ linear: \[[^\]]*\], hidden: ")
        self.assertEqual((text.count("// first"), text.count("// second"), text.count("export const")), (1, 1, 2))


if __name__ == "__main__":
    unittest.main()
