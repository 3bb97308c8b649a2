"""The ONNX graphs equal the PyTorch reference: dense prefill/decode logits and sparse selections."""
import pathlib
import tempfile
import unittest

import numpy as np
import torch

from tbtrain.distill import warm_start
from tbtrain.model import LM, Config, apply_rope, rope_tables
from tbtrain.model_folder import export
from tbtrain.ngram import ngram_lookup_last
from tbtrain.ort_runner import GraphRunner
from tbtrain.predictor import Predictor, choose_rot_pairs, pre_rope_keys
from tbtrain.selection import Cache, step

TOK = pathlib.Path(__file__).resolve().parents[2] / "models/default/tokenizer.json"


class ExportParity(unittest.TestCase):
    copy_heads = ()
    ngram_max = 0
    id_high = 4096  # token ids drawn from [5, id_high)
    kv_cache = "f32"

    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        # one producer per consumer layer (taps 1 and 2) and a (non-zero) distance prior
        cls.cfg = Config(vocab_size=4096, d_model=64, n_layers=3, n_heads=4, n_kv_heads=2, head_dim=16, ffn_dim=128,
                         pred_taps=(1, 2), pred_dist=True, copy_heads=cls.copy_heads, ngram_max=cls.ngram_max,
                         kv_cache=cls.kv_cache)
        cls.lm = LM(cls.cfg).eval()
        if cls.lm.copy_gate is not None:  # a gate that varies with the hidden state and gives the pointers real weight
            with torch.no_grad():
                cls.lm.copy_gate.weight.normal_(0, 1.0)
                cls.lm.copy_gate.bias.zero_()
                if cls.lm.copy_gate_f is not None:
                    cls.lm.copy_gate_f.weight.normal_(0, 1.0)
        cls.pred = Predictor(cls.cfg).eval()
        with torch.no_grad():
            cls.pred.dist_w.normal_(0, 1.0)
        cls.dir = pathlib.Path(tempfile.mkdtemp())
        export(cls.lm, cls.pred, cls.dir, TOK)

    def test_dense_chunked_prefill_matches_full_forward(self):
        ids = torch.randint(5, self.id_high, (1, 70))
        ref = self.lm(ids, torch.tensor([0]))[0]
        r = GraphRunner(self.dir, cap=96, cfg=self.cfg)
        for a, b in ((0, 32), (32, 64), (64, 69)):
            out = r.run(ids[0, a:b].tolist())
            np.testing.assert_allclose(out["logits"][0], ref[b - 1].detach().numpy(), atol=2e-4, rtol=1e-3)
        out = r.run([int(ids[0, 69])])  # one decode step
        np.testing.assert_allclose(out["logits"][0], ref[69].detach().numpy(), atol=2e-4, rtol=1e-3)

    def test_sparse_step_matches_reference_selection_and_logits(self):
        self.check_sparse_parity(self.dir, self.pred)

    def test_single_producer_layout_matches_reference(self):
        """v1 layout: one producer at layer 1 serves every consumer layer, no distance prior."""
        pred = Predictor(Config(**{**self.cfg.to_dict(), "pred_taps": (), "pred_dist": False})).eval()
        d = pathlib.Path(tempfile.mkdtemp())
        export(self.lm, pred, d, TOK)
        self.check_sparse_parity(d, pred)

    def test_warm_start_into_a_layout_with_a_distance_prior_keeps_the_scores(self):
        plain = Predictor(Config(**{**self.cfg.to_dict(), "pred_taps": (), "pred_dist": False})).eval()
        with_dist = Predictor(Config(**{**self.cfg.to_dict(), "pred_taps": (), "pred_dist": True})).eval()
        self.assertEqual(warm_start(with_dist, plain.state_dict()), ["dist_w"])
        x = torch.randn(1, 12, self.cfg.d_model)
        kpre = torch.randn(1, self.cfg.n_kv_heads, 12, self.cfg.head_dim)
        with torch.no_grad():
            for a, b in zip(plain.queries(1, x).values(), with_dist.queries(1, x).values()):
                torch.testing.assert_close(a, b)
            torch.testing.assert_close(plain.keys(kpre, 2), with_dist.keys(kpre, 2))
            torch.testing.assert_close(
                with_dist.dist_bias(2, torch.arange(1, 5)), torch.zeros(self.cfg.n_kv_heads, 4)
            )  # the new prior starts at 0

    def test_rotary_importance_matches_reference(self):
        """pred_rope: importance queries and keys rotated in the d' space, in the graphs as in the reference."""
        pred = Predictor(Config(**{**self.cfg.to_dict(), "pred_rope": 10000.0})).eval()
        pred.load_state_dict(self.pred.state_dict())
        d = pathlib.Path(tempfile.mkdtemp())
        export(self.lm, pred, d, TOK)
        self.check_sparse_parity(d, pred)

    def test_rotary_importance_scores_depend_on_relative_position(self):
        pred = Predictor(Config(**{**self.cfg.to_dict(), "pred_rope": 10000.0})).eval()
        x = torch.randn(1, 1, self.cfg.d_model)
        kpre = torch.randn(1, self.cfg.n_kv_heads, 1, self.cfg.head_dim)
        with torch.no_grad():
            def score(qpos, kpos):
                q = pred.queries(1, x, torch.tensor([qpos]))[1]
                return (q * pred.keys(kpre, 1, torch.tensor([kpos]))).sum(-1)
            torch.testing.assert_close(score(50, 20), score(1050, 1020), atol=1e-4, rtol=1e-4)  # same distance: same score
            self.assertGreater((score(50, 20) - score(50, 45)).abs().max().item(), 1e-3)  # another distance: another score
            plain = Predictor(self.cfg).eval()
            plain.load_state_dict(pred.state_dict())
            torch.testing.assert_close((plain.queries(1, x)[1] * plain.keys(kpre, 1)).sum(-1),  # no rotation at distance 0
                                       score(7, 7), atol=1e-5, rtol=1e-5)

    def rot_pairs_predictor(self, r=2, E=None):
        """A predictor with r rotary pairs at per-(layer, KV head) LM frequencies, query dims non-zero."""
        pred = Predictor(Config(**{**self.cfg.to_dict(), "imp_dim": E or self.cfg.imp_dim, "pred_rot_pairs": r})).eval()
        with torch.no_grad():
            pred.rot_pairs.copy_(torch.randint(0, self.cfg.head_dim // 2, pred.rot_pairs.shape))
            pred.dist_w.normal_(0, 1.0)
        return pred

    def test_rotary_pairs_match_reference(self):
        """pred_rot_pairs: the last 2r importance dims turn per (layer, KV head) at the LM's own
        frequencies, in the graphs as in the reference (fresh selections, logits, new_ik)."""
        pred = self.rot_pairs_predictor()
        self.assertGreater(len(set(pred.rot_inv_freq().flatten().tolist())), 2)  # heads really turn at different speeds
        d = pathlib.Path(tempfile.mkdtemp())
        export(self.lm, pred, d, TOK)
        self.check_sparse_parity(d, pred)

    def test_rotary_pairs_all_dims_rotary_match_reference(self):
        pred = self.rot_pairs_predictor(r=self.cfg.imp_dim // 2)
        d = pathlib.Path(tempfile.mkdtemp())
        export(self.lm, pred, d, TOK)
        self.check_sparse_parity(d, pred)

    def test_rotary_pairs_keys_are_the_lms_own_key_pairs(self):
        """choose_rot_pairs picks pairs that turn; each rotary importance key is the LM's post-RoPE key
        pair it turns with, so with the LM's query pair the score is that pair's exact share of q.k at
        any distance."""
        c, r, E = self.cfg, 2, self.cfg.imp_dim + 4
        pred = Predictor(Config(**{**c.to_dict(), "imp_dim": E, "pred_rot_pairs": r})).eval()
        ids = torch.randint(5, self.id_high, (1, 400))
        pairs = choose_rot_pairs(self.lm, pred, ids, torch.tensor([0]), n_rows=64)
        half = c.head_dim // 2
        freq = 1.0 / (c.rope_theta ** (torch.arange(0, c.head_dim, 2).float() / c.head_dim))
        self.assertTrue(bool((freq[pairs] * 400 >= 0.5).all()))  # only pairs that turn over the sample
        with torch.no_grad():
            pred.key_proj.normal_(0, 1.0)  # the content dims do not matter
            kpre = pre_rope_keys(self.lm, torch.randn(1, 400, c.d_model), 1)
            krot = apply_rope(kpre, *rope_tables(c, torch.arange(400)))[0]  # [Hkv, T, D]
            ik = pred.keys(kpre, 1)[0]
            for h in range(c.n_kv_heads):
                for j, i in enumerate(pairs[0, h].tolist()):
                    torch.testing.assert_close(ik[h, :, E - 2 * r + j], krot[h, :, i])
                    torch.testing.assert_close(ik[h, :, E - r + j], krot[h, :, i + half])

    def test_warm_start_into_wider_importance_space_keeps_the_scores(self):
        plain = Predictor(Config(**{**self.cfg.to_dict(), "pred_taps": ()})).eval()
        with torch.no_grad():
            plain.dist_w.normal_(0, 1.0)
        wide = self.rot_pairs_predictor(r=3, E=self.cfg.imp_dim + 6)
        wide = Predictor(Config(**{**wide.cfg.to_dict(), "pred_taps": ()})).eval()
        self.assertEqual(warm_start(wide, plain.state_dict()), ["rot_pairs"])
        with torch.no_grad():
            wide.rot_pairs.copy_(torch.randint(0, self.cfg.head_dim // 2, wide.rot_pairs.shape))
        x = torch.randn(1, 12, self.cfg.d_model)
        kpre = torch.randn(1, self.cfg.n_kv_heads, 12, self.cfg.head_dim)
        with torch.no_grad():
            for m in (1, 2):
                a = plain.queries(1, x)[m] @ plain.keys(kpre, m).transpose(-1, -2)
                b = wide.queries(1, x)[m] @ wide.keys(kpre, m).transpose(-1, -2)
                torch.testing.assert_close(a, b)  # the new query dims start at 0

    def test_distance_prior_changes_the_selection(self):
        ids = torch.randint(5, self.id_high, (60,)).tolist()
        sels = []
        for w in (0.0, 3.0):
            pred = Predictor(self.cfg).eval()
            pred.load_state_dict(self.pred.state_dict())
            with torch.no_grad():
                pred.dist_w.fill_(w)
            cache = Cache(self.cfg)
            step(self.lm, pred, cache, ids[:59])
            _, sel, _ = step(self.lm, pred, cache, ids[59:], policy="tokenbutler", budget=6, sinks=4, recent=8)
            sels.append(np.sort(sel[1].numpy(), -1))
        self.assertFalse(np.array_equal(sels[0], sels[1]))
        # a positive weight on log(distance) prefers far tokens: the far end gets picked
        self.assertLess(sels[1].mean(), sels[0].mean())

    def test_neighbour_fetch_matches_reference_selection_and_logits(self):
        """A fresh selection with neighbour fetch (graph input `neighbors`, selection.neighbour_scores)."""
        self.check_sparse_parity(self.dir, self.pred, neighbors=True)

    def check_sparse_parity(self, d, pred, neighbors: bool = False):
        ids = torch.randint(5, self.id_high, (60,)).tolist()
        r = GraphRunner(d, cap=80, cfg=self.cfg)
        r.run(ids[:50])
        cache = Cache(self.cfg)
        step(self.lm, pred, cache, ids[:50])
        same = total = 0
        for t in ids[50:]:
            out = r.run([t], sparse=True, budget=6, sinks=4, recent=8, neighbors=neighbors)
            logits, sel, _ = step(self.lm, pred, cache, [t], policy="tokenbutler", budget=6, sinks=4, recent=8, neighbors=neighbors)
            np.testing.assert_allclose(out["logits"][0], logits.numpy(), atol=2e-4, rtol=1e-3)
            for l, idx in sel.items():
                a = np.sort(out[f"selected.{l}"], -1); b = np.sort(idx.numpy(), -1)
                self.assertEqual(a.shape, b.shape)
                same += (a == b).sum(); total += a.size
        self.assertGreaterEqual(same / total, 0.99)

    def test_layer0_window_variant_matches_reference(self):
        d = pathlib.Path(tempfile.mkdtemp())
        export(self.lm, self.pred, d, TOK, layer0="window")
        ids = torch.randint(5, self.id_high, (60,)).tolist()
        r = GraphRunner(d, cap=64, cfg=self.cfg)
        r.run(ids[:50])
        cache = Cache(self.cfg)
        step(self.lm, self.pred, cache, ids[:50])
        for t in ids[50:]:
            out = r.run([t], sparse=True, budget=6, sinks=4, recent=8)
            logits, _, _ = step(self.lm, self.pred, cache, [t], policy="tokenbutler", budget=6, sinks=4, recent=8, layer0="window")
            np.testing.assert_allclose(out["logits"][0], logits.numpy(), atol=2e-4, rtol=1e-3)

    def test_sparse_with_full_budget_equals_dense(self):
        ids = torch.randint(5, self.id_high, (40,)).tolist()
        a, b = GraphRunner(self.dir, cap=64, cfg=self.cfg), GraphRunner(self.dir, cap=64, cfg=self.cfg)
        a.run(ids[:39]); b.run(ids[:39])
        da = a.run([ids[39]])["logits"]; sb = b.run([ids[39]], sparse=True, budget=1000, sinks=8, recent=16)["logits"]
        np.testing.assert_allclose(da, sb, atol=1e-4)

    def test_window_policy_changes_logits_at_long_context(self):
        ids = torch.randint(5, self.id_high, (64,)).tolist()
        a, b = GraphRunner(self.dir, cap=64, cfg=self.cfg), GraphRunner(self.dir, cap=64, cfg=self.cfg)
        a.run(ids[:63]); b.run(ids[:63])
        dense = a.run([ids[63]])["logits"]; win = b.run([ids[63]], sparse=True, budget=0, sinks=2, recent=4)
        self.assertEqual(win["selected.1"].shape, (self.cfg.n_kv_heads, 6))
        self.assertGreater(np.abs(dense - win["logits"]).max(), 1e-4)


class PointerExportParity(ExportParity):
    """The same parity checks with pointer heads in layers 0, 1 and 2 (grouped-query: two query heads
    per KV head), so their copy distributions come from dense, windowed and selected slots."""
    copy_heads = (3, 5, 10)

    def test_pointer_mass_lands_on_context_tokens(self):
        """The mixture's probability outside the context's tokens is the vocabulary head's share only."""
        ids = torch.randint(5, self.id_high, (1, 40))
        lm = self.lm
        with torch.no_grad():
            out = lm(ids, torch.tensor([0]))[0, -1].exp()
            gate = lm.copy_gate(lm.model.norm(lm.embed(ids, torch.tensor([0]))))  # shape check only
            n = 1 + len(self.copy_heads) + (self.ngram_max > 0)
            self.assertEqual(gate.shape[-1], n)
            w = lm.copy_gate.weight.clone()
            lm.copy_gate.weight.zero_(); lm.copy_gate.bias.copy_(torch.tensor([-30.0] + [10.0] * (n - 1)))  # all pointer
            only_copy = lm(ids, torch.tensor([0]))[0, -1].exp()
            lm.copy_gate.weight.copy_(w); lm.copy_gate.bias.zero_()
        self.assertAlmostEqual(float(out.sum()), 1.0, places=4)
        inside = torch.zeros(4096, dtype=torch.bool); inside[ids[0]] = True
        self.assertAlmostEqual(float(only_copy[inside].sum()), 1.0, places=4)
        self.assertLess(float(only_copy[~inside].max()), 1e-6)


class Int8KvExportParity(PointerExportParity):
    """Every parity check with the compact KV cache (config.kv_cache "int8", tbtrain/kv_quant.py): the graphs
    store int8 rows with their steps and read them with MatMulInteger; the reference does the same."""
    kv_cache = "int8"

    def test_dense_chunked_prefill_matches_full_forward(self):
        """With a compact cache a chunk reads the earlier chunks' rows rounded, so the reference runs the same chunks."""
        ids = torch.randint(5, self.id_high, (70,)).tolist()
        r = GraphRunner(self.dir, cap=96, cfg=self.cfg)
        cache = Cache(self.cfg)
        for a, b in ((0, 32), (32, 64), (64, 69), (69, 70)):
            out = r.run(ids[a:b])
            logits, _, _ = step(self.lm, self.pred, cache, ids[a:b])
            np.testing.assert_allclose(out["logits"][0], logits.numpy(), atol=2e-4, rtol=1e-3)
        for l in range(self.cfg.n_layers):  # the stored rows: the same integers (a float-level difference may flip a rounding)
            for got, want in ((r.k[l][:, :70].astype(np.float32) - 128, cache.k[l]), (r.v[l][:, :70].astype(np.float32), cache.v[l])):
                d = np.abs(got - want.numpy())
                self.assertLessEqual(d.max(), 1); self.assertGreater((d == 0).mean(), 0.99)
            np.testing.assert_allclose(r.vs[l][:, :70], cache.vs[l].numpy(), rtol=1e-3)
            np.testing.assert_allclose(r.ks[l][:, :70], cache.ks[l].numpy(), rtol=1e-3)
        full = self.lm(torch.tensor([ids]), torch.tensor([0]))[0, -1].detach().numpy()   # and close to the float32 cache
        self.assertLess(np.abs(out["logits"][0] - full).max(), 0.05)


class NgramExportParity(PointerExportParity):
    """The same with the n-gram lookup, on token ids from a 20-token range so that suffixes repeat
    and the lookup matches at every length up to ngram_max."""
    ngram_max = 4
    id_high = 25

    def test_lookup_copies_the_continuation_of_a_repeated_span(self):
        span = torch.randint(100, 4096, (12,))
        ids = torch.cat([span, torch.randint(100, 4096, (20,)), span[:6]])[None]
        lm = self.lm
        with torch.no_grad():
            gw, gb, fw = lm.copy_gate.weight.clone(), lm.copy_gate.bias.clone(), lm.copy_gate_f.weight.clone()
            lm.copy_gate.weight.zero_(); lm.copy_gate_f.weight.zero_()
            lm.copy_gate.bias.copy_(torch.tensor([-30.0] * (len(self.copy_heads) + 1) + [10.0]))  # the lookup only
            p = lm(ids, torch.tensor([0]))[0, -1].exp()
            lm.copy_gate.weight.copy_(gw); lm.copy_gate.bias.copy_(gb); lm.copy_gate_f.weight.copy_(fw)
        self.assertGreater(float(p[span[6]]), 0.99)
        # and the ONNX decode graph agrees with the reference on it
        r = GraphRunner(self.dir, cap=64, cfg=self.cfg)
        out = r.run(ids[0].tolist())
        np.testing.assert_allclose(out["logits"][0], lm(ids, torch.tensor([0]))[0, -1].detach().numpy(), atol=2e-4, rtol=1e-3)
        # the highlight outputs: where it copied from (span[6] at position 6) and the mixture's mass from there
        self.assertEqual(out["lookup_pos"].tolist(), [6])
        with torch.no_grad():
            hn = lm.model.norm(lm.trunk(ids, torch.tensor([0]))[0])[0, -1:]
            g = lm.gate_logits(hn, (None, lm.ngram(ids)[1][0, -1:])).softmax(-1)[0, -1]
        self.assertAlmostEqual(float(out["lookup_w"][0]), float(g), places=4)

    def test_lookup_matches_reference_on_short_and_repetitive_sequences(self):
        """The graph's lookup (candidates by the last token, longer matches checked on them) keys the
        same positions as ngram.ngram_lookup_last, with no match, with one, at every length, and on
        sequences shorter than ngram_max."""
        g = torch.Generator().manual_seed(3)
        cases = [[7], [7, 7], [5, 6, 5], [5, 6, 7, 8, 9, 10], [8, 9, 8, 9, 8, 9, 8]]
        cases += [torch.randint(5, hi, (n,), generator=g).tolist() for hi in (7, 12, 4096) for n in (5, 17, 40)]
        matched = set()
        for ids in cases:
            w, f = ngram_lookup_last(torch.tensor(ids), self.cfg.ngram_max, self.cfg.ngram_tau)
            out = GraphRunner(self.dir, cap=48, cfg=self.cfg).run(ids)
            self.assertEqual(out["lookup_pos"].tolist(), torch.nonzero(w).flatten().tolist(), ids)
            ref = self.lm(torch.tensor([ids]), torch.tensor([0]))[0, -1].detach().numpy()
            np.testing.assert_allclose(out["logits"][0], ref, atol=2e-4, rtol=1e-3)
            matched.add(int(f[:self.cfg.ngram_max + 1].argmax()))
        self.assertEqual(matched, set(range(self.cfg.ngram_max + 1)))  # no match, and matches at every length


if __name__ == "__main__":
    unittest.main()
