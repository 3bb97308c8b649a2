"""The co-reference generator poses determined questions, and the simulation's policies behave."""
import pathlib
import tempfile
import unittest

import numpy as np
import torch
from tokenizers import Tokenizer

from tbtrain import policies
from tbtrain.coref import coref_examples, coref_score
from tbtrain.model import LM, Config
from tbtrain.policies import simulate
from tbtrain.predictor import Predictor
from tbtrain.report import margin_lines, write_report

TOK = Tokenizer.from_file(str(pathlib.Path(__file__).resolve().parents[2] / "models/default/tokenizer.json"))


class Filler:
    """Stands in for the held-out sampler: ordinary code tokens."""
    def __init__(self):
        self.ids = np.array(TOK.encode("const x = compute(value);\n" * 200).ids)

    def sample(self):
        return 0, self.ids


class CorefTasks(unittest.TestCase):
    def test_identifier_answers_are_determined_by_the_typed_token(self):
        ex = coref_examples(TOK, Filler(), 20, 300, "identifier", seed=1)
        self.assertEqual(len(ex), 20)
        for prompt, answer in ex:
            text = TOK.decode(prompt, skip_special_tokens=False)
            defs = [l.split("(")[0].split()[-1] for l in text.split("\n") if l.startswith("export function ")]
            self.assertEqual(len(defs), 6)
            typed = TOK.decode(prompt[-1:])
            name = (typed + TOK.decode(answer)).strip()
            self.assertIn(name, defs)  # the answer completes one of the defined names ...
            self.assertEqual(sum(TOK.encode(" " + d).ids[0] == prompt[-1] for d in defs), 1)  # ... and only one starts so
            self.assertTrue(text.rstrip().endswith("import {" + typed))
            seps = [i for i, t in enumerate(prompt) if t == 4]  # <|file_sep|>: the definition file, then the use site
            self.assertEqual(len(seps), 2)
            self.assertGreaterEqual(seps[1], 300 + 6 * 10)  # six definitions, then the 300 filler tokens

    def test_value_answers_come_from_the_config(self):
        for prompt, answer in coref_examples(TOK, Filler(), 10, 300, "value", seed=2):
            text = TOK.decode(prompt, skip_special_tokens=False)
            key = text.rsplit("config.", 1)[1].split(",")[0]
            self.assertIn(f'  {key}: "{TOK.decode(answer)}', text)

    def test_dense_is_the_full_budget_and_window_forgets(self):
        torch.manual_seed(0)
        cfg = Config(vocab_size=TOK.get_vocab_size(), d_model=64, n_layers=3, n_heads=4, n_kv_heads=2, head_dim=16, ffn_dim=128)
        lm, pred = LM(cfg).eval(), Predictor(cfg).eval()
        ids = torch.randint(5, 4000, (1, 96))
        dense = simulate(lm, pred, ids, torch.tensor([0]), "dense", None)
        full = simulate(lm, pred, ids, torch.tensor([0]), "tokenbutler", 1000)
        torch.testing.assert_close(dense, full, atol=1e-4, rtol=1e-4)
        win = simulate(lm, pred, ids, torch.tensor([0]), "window", 16)
        self.assertTrue(torch.allclose(dense[:16], win[:16], atol=1e-4))  # rows that see <= 16 tokens agree
        self.assertFalse(torch.allclose(dense[40:], win[40:], atol=1e-3))
        acc, cov = coref_score(lm, pred, coref_examples(TOK, Filler(), 2, 50, "identifier"), "dense", None)
        self.assertTrue(0 <= acc <= cov <= 1)

    def test_lookup_copies_past_the_window_and_switches_off(self):
        """With the n-gram lookup, a window policy still copies a span repeated from beyond its window;
        eval's --no-lookup (LOOKUP = False) takes that away."""
        torch.manual_seed(0)
        cfg = Config(vocab_size=TOK.get_vocab_size(), d_model=64, n_layers=3, n_heads=4, n_kv_heads=2, head_dim=16, ffn_dim=128,
                     copy_heads=(5,), ngram_max=4)
        lm, pred = LM(cfg).eval(), Predictor(cfg).eval()
        with torch.no_grad():  # a gate that trusts a long match
            lm.copy_gate_f.weight[-1, 4] = 12.0
        distinct = torch.randperm(3990)[:84] + 5
        span = distinct[:24]
        ids = torch.cat([span, distinct[24:], span])[None]
        try:
            on = simulate(lm, pred, ids, torch.tensor([0]), "window", 16)
            policies.LOOKUP = False
            off = simulate(lm, pred, ids, torch.tensor([0]), "window", 16)
        finally:
            policies.LOOKUP = True
        self.assertLess(float(on[-18:].mean()), 0.5)          # the repeat's tail: copied
        self.assertGreater(float(off[-18:].mean()), 5.0)      # attention alone, window 16: not
        torch.testing.assert_close(on[:60], off[:60])          # nothing to look up before the repeat (random ids)


class RecentRule(unittest.TestCase):
    def test_the_forced_window_bounds_what_selection_may_choose(self):
        torch.manual_seed(0)
        cfg = Config(vocab_size=TOK.get_vocab_size(), d_model=64, n_layers=3, n_heads=4, n_kv_heads=2, head_dim=16, ffn_dim=128)
        lm, pred = LM(cfg).eval(), Predictor(cfg).eval()
        ids = torch.randint(5, 4000, (1, 160))
        out, orig = {}, policies.RECENT_RULE
        try:
            for rule in ((8.0, 8, 64), (8.0, 0, 64), (8.0, 8, 8)):
                policies.RECENT_RULE = rule
                out[rule] = simulate(lm, pred, ids, torch.tensor([0]), "oracle", 0.1)
        finally:
            policies.RECENT_RULE = orig
        # budget 12 (4 sinks + 8 recent) on the first 120 rows: a window of 8 leaves no choice; a window of 0 lets the oracle choose
        self.assertFalse(torch.allclose(out[(8.0, 8, 64)][20:120], out[(8.0, 0, 64)][20:120], atol=1e-4))
        torch.testing.assert_close(out[(8.0, 8, 64)], out[(8.0, 8, 8)])  # budget // 8 < 8 on every row here: the upper bound never binds


class Margins(unittest.TestCase):
    def test_margin_is_against_the_best_baseline_and_capped_by_dense(self):
        r = {"bpb": {"dense": 1.0, "tokenbutler@0.1": 1.02, "oracle@0.1": 1.01, "window@0.1": 1.25, "quest@0.1": 1.10,
                     "tokenbutler@256": 1.0, "window@256": 1.0, "quest@256": 1.0}}
        lines = margin_lines(r, [0.1, 256], ["dense", "oracle", "tokenbutler", "window", "quest"])
        rows = [l for l in lines if l.startswith("| 0.1")]
        self.assertEqual(len(rows), 1)                       # count budgets are not fractions: no row
        cells = [c.strip() for c in rows[0].strip("|").split("|")]
        self.assertEqual(cells[1:], ["+2.0%", "quest 1.1000", "7.3%", "8.2%", "9.1%"])  # quest, not window, is the best baseline
        self.assertEqual(margin_lines(r, [0.1], ["dense", "tokenbutler"]), [])  # no baseline measured: no section

    def test_late_rows_have_their_own_table(self):
        r = {"bpb": {"dense": 1.0, "tokenbutler@0.1": 1.02, "window@0.1": 1.25},
             "bpb_late": {"dense": 0.9, "tokenbutler@0.1": 0.9, "window@0.1": 1.0}, "late_row": 512}
        lines = margin_lines(r, [0.1], ["dense", "tokenbutler", "window"], late=True)
        self.assertTrue(any("rows from 512 on" in l for l in lines))
        row = [l for l in lines if l.startswith("| 0.1")][0]
        self.assertEqual([c.strip() for c in row.strip("|").split("|")][1:4], ["+0.0%", "window 1.0000", "10.0%"])
        self.assertEqual(
            margin_lines({"bpb": r["bpb"]}, [0.1], ["dense", "tokenbutler", "window"], late=True), []
        )  # older results: no table


class Report(unittest.TestCase):
    def test_token_count_budgets_alone_write_the_report_without_a_plot(self):
        r = {"seq": 4096, "bpb": {"dense": 1.0, "tokenbutler@648": 1.001}, "coref": {}, "recall": {}, "ablation": {}}
        out = pathlib.Path(tempfile.mkdtemp())
        write_report(r, [648], ["dense", "tokenbutler"], out)  # used to fail: a log axis over no fractional budgets
        self.assertIn("| tokenbutler | 1.0010 |", (out / "quality.md").read_text())
        self.assertFalse((out / "quality.png").exists())


if __name__ == "__main__":
    unittest.main()
