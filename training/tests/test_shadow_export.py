"""The engine's ShadowLLM graphs (tbtrain/shadow_export.py, docs/graph-contract.md "ShadowLLM variant"):
keep = all and prefill chunks give the plain graphs' logits; a decode step with fewer heads / neurons equals
shadow.forward with the same predictor's masks (fp32, pointer heads and n-gram lookup included) and keeps
exactly the asked counts; the predictor's output shape; models/default's shipped variants against its plain
graphs when they are there."""
import json
import pathlib
import tempfile
import unittest

import numpy as np
import onnx
import torch

from tbtrain import shadow
from tbtrain.graph import weights_of
from tbtrain.model import LM, Config
from tbtrain.model_folder import export
from tbtrain.ort_runner import GraphRunner
from tbtrain.predictor import Predictor
from tbtrain.shadow_export import build_shadow, predictor_weights
from tbtrain.shadow_pred import ShadowPredictor, predicted_masks

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOK = ROOT / "models/default/tokenizer.json"
SHADOW = {"dense": "dense.shadow.onnx", "sparse": "sparse.shadow.onnx"}


def keeps(kn, kh):
    return {"ffn_keep": np.array([kn], np.int64), "head_keep": np.array([kh], np.int64)}


def nll(logits, target):
    lg = logits[0].astype(np.float64)
    return float(np.log(np.exp(lg - lg.max()).sum()) + lg.max() - lg[target])


class ShadowExport(unittest.TestCase):
    kv_cache = "f32"

    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        cls.cfg = Config(vocab_size=4096, d_model=64, n_layers=3, n_heads=4, n_kv_heads=2, head_dim=16, ffn_dim=128,
                         copy_heads=(5, 7), ngram_max=3, kv_cache=cls.kv_cache)
        cls.lm = LM(cls.cfg).eval()
        with torch.no_grad():
            cls.lm.copy_gate.weight.normal_(0, 1.0)
            for p in cls.lm.model.parameters():
                p.mul_(2.0)
        cls.sp = ShadowPredictor(64, 2, 4, 128, 8).eval()
        cls.dir = pathlib.Path(tempfile.mkdtemp())
        pred = Predictor(cls.cfg).eval()
        export(cls.lm, pred, cls.dir, TOK)            # the plain fp32 graphs (and calibrates pred)
        cls.W, cls.P = weights_of(cls.lm, pred), predictor_weights(cls.sp)
        cls.models = {}
        for kind in ("dense", "sparse"):
            m, _ = build_shadow(pred.cfg, kind == "sparse", cls.W, cls.P, int8=False)
            onnx.checker.check_model(m)
            onnx.save(m, str(cls.dir / SHADOW[kind]))
            cls.models[kind] = m
        g = torch.Generator().manual_seed(3)
        base = torch.randint(5, 4096, (10,), generator=g)
        cls.ids = torch.cat([base, base, torch.randint(5, 4096, (6,), generator=g)])   # repeats: the pointers and n-grams act

    def runners(self):
        n = len(self.ids) + 8
        return GraphRunner(self.dir, n, self.cfg), GraphRunner(self.dir, n, self.cfg, graphs=SHADOW)

    def steps(self, r, sparse, extra=None, prefill=0):
        """Per-position nll of ids[prefill+1:] by decode steps after a prefill chunk of `prefill` tokens."""
        ids = self.ids.tolist()
        if prefill:
            r.run(ids[:prefill], sparse=False, extra=extra)
        out = []
        for t in range(prefill, len(ids) - 1):
            o = r.run([ids[t]], sparse=sparse, budget=4096, extra=extra)
            out.append((nll(o["logits"], ids[t + 1]), o))
        return out

    def reference(self, kh, kn):
        x, y = self.ids[None, :-1], self.ids[None, 1:]
        with torch.no_grad():
            return shadow.forward(self.lm, x, torch.zeros(1, dtype=torch.long), y,
                                  masks=predicted_masks(self.sp, kh / 4, kn / 128))[0].double().numpy()

    def test_keep_all_equals_the_plain_graphs(self):
        for sparse in (False, True):
            plain, sh = self.runners()
            a = self.steps(plain, sparse, prefill=8)
            b = self.steps(sh, sparse, keeps(128, 4), prefill=8)
            for (_, oa), (_, ob) in zip(a, b):
                np.testing.assert_array_equal(oa["logits"], ob["logits"])
                np.testing.assert_array_equal(ob["shadow_kept"], [[4, 128], [4, 128]])

    def test_prefill_ignores_the_keeps(self):
        plain, sh = self.runners()
        ids = self.ids.tolist()
        for a, b in ((0, 7), (7, 15)):
            np.testing.assert_array_equal(plain.run(ids[a:b])["logits"], sh.run(ids[a:b], extra=keeps(16, 1))["logits"])
        o = sh.run(ids[15:18], extra=keeps(16, 1))
        np.testing.assert_array_equal(o["shadow_kept"], [[4, 128], [4, 128]])

    def test_decode_steps_equal_the_masked_forward(self):
        """fp32 cache: each decode step's loss as shadow.forward with the predictor's top heads / neurons (counts)."""
        if self.kv_cache != "f32":
            self.skipTest("the compact cache rounds the rows: compared against the plain graph instead")
        dense = self.reference(4, 128)
        for kh, kn in ((4, 64), (3, 128), (2, 32), (1, 96)):
            ref = self.reference(kh, kn)
            self.assertGreater(np.abs(ref - dense).max(), 1e-2)    # the masks matter: the comparison can fail
            for sparse in (False, True):
                with self.subTest(heads=kh, neurons=kn, sparse=sparse):
                    _, sh = self.runners()
                    got = self.steps(sh, sparse, keeps(kn, kh))
                    np.testing.assert_allclose([g for g, _ in got], ref, atol=2e-4, rtol=0)
                    np.testing.assert_array_equal(got[-1][1]["shadow_kept"], [[kh, kn], [kh, kn]])

    def test_keeps_are_clamped_and_change_the_step(self):
        _, sh = self.runners()
        o = self.steps(sh, False, keeps(10_000, 0))[-1][1]
        np.testing.assert_array_equal(o["shadow_kept"], [[1, 128], [1, 128]])
        plain, sh = self.runners()
        a, b = self.steps(plain, False)[-1][1], self.steps(sh, False, keeps(32, 2))[-1][1]
        self.assertGreater(np.abs(a["logits"] - b["logits"]).max(), 1e-3)

    def test_predictor_output_shape_for_every_layer(self):
        x = torch.randn(1, 5, 64)
        h, n = self.sp(x)
        self.assertEqual(tuple(h.shape), (1, 5, 2, 4))
        self.assertEqual(tuple(n.shape), (1, 5, 2, 128))
        names = {i.name: i for i in self.models["dense"].graph.input}
        for k in ("ffn_keep", "head_keep"):
            self.assertEqual(names[k].type.tensor_type.elem_type, onnx.TensorProto.INT64)


class ShadowExportInt8(ShadowExport):
    """The compact K/V cache: keep = all and prefill stay the plain graphs' exactly."""
    kv_cache = "int8"


class ShadowExportQuantized(unittest.TestCase):
    """int8 weights (the shipped form): the plain path is the quantized plain graph; the gathers read its initializers."""

    def test_int8_keep_all_equals_plain_and_shares_weights(self):
        torch.manual_seed(1)
        cfg = Config(vocab_size=4096, d_model=64, n_layers=3, n_heads=4, n_kv_heads=4, head_dim=16, ffn_dim=128,
                     copy_heads=(5,), ngram_max=3, kv_cache="int8")
        lm = LM(cfg).eval()
        d = pathlib.Path(tempfile.mkdtemp())
        pred = Predictor(cfg).eval()
        export(lm, pred, d, TOK, int8=True, keep_fp32=False)
        W = weights_of(lm, pred)
        sp = ShadowPredictor(64, 2, 4, 128, 8).eval()
        for kind in ("dense", "sparse"):
            m, base = build_shadow(pred.cfg, kind == "sparse", W, predictor_weights(sp), int8=True,
                                   plain=onnx.load(str(d / f"{kind}.int8.onnx")))
            self.assertEqual(base.SerializeToString(), (d / f"{kind}.int8.onnx").read_bytes())   # the builder's graph exactly
            onnx.checker.check_model(m)
            self.assertLess(len(m.SerializeToString()), len(base.SerializeToString()) + 200_000)   # no weight copied
            onnx.save(m, str(d / f"{kind}.shadow.int8.onnx"))
        ids = torch.randint(5, 4096, (24,)).tolist()
        graphs = {k: f"{k}.shadow.int8.onnx" for k in ("dense", "sparse")}
        for sparse in (False, True):
            plain, sh = GraphRunner(d, 32, cfg), GraphRunner(d, 32, cfg, graphs=graphs)
            np.testing.assert_array_equal(plain.run(ids[:16])["logits"], sh.run(ids[:16], extra=keeps(32, 2))["logits"])
            for t in ids[16:]:
                a, b = plain.run([t], sparse=sparse, budget=8), sh.run([t], sparse=sparse, budget=8, extra=keeps(128, 4))
                np.testing.assert_array_equal(a["logits"], b["logits"])
            o = sh.run([ids[0]], sparse=sparse, budget=8, extra=keeps(32, 2))
            np.testing.assert_array_equal(o["shadow_kept"], [[2, 32], [2, 32]])
            self.assertTrue(np.isfinite(o["logits"]).all())


@unittest.skipUnless((ROOT / "models/default/dense.shadow.int8.onnx").exists(), "models/default has no ShadowLLM graphs")
class ShippedShadowGraphs(unittest.TestCase):
    def test_keep_all_equals_the_plain_int8_graphs(self):
        folder = ROOT / "models/default"
        man = json.loads((folder / "manifest.json").read_text())
        sh = man["shadow"]
        from tokenizers import Tokenizer
        text = (ROOT / "training/tbtrain/shadow_export.py").read_text()[:1500]
        ids = Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids[:300]
        H, F = man["config"]["n_heads"], man["config"]["ffn_dim"]
        for sparse in (False, True):
            plain, shg = GraphRunner(folder, 320), GraphRunner(folder, 320, graphs=sh["graphs"])
            np.testing.assert_array_equal(plain.run(ids[:256])["logits"], shg.run(ids[:256], extra=keeps(F // 2, 2))["logits"])
            for t in ids[256:264]:
                a = plain.run([t], sparse=sparse, budget=64)
                b = shg.run([t], sparse=sparse, budget=64, extra=keeps(F, H))
                np.testing.assert_array_equal(a["logits"], b["logits"])
            o = shg.run([ids[264]], sparse=sparse, budget=64, extra=keeps(F // 2, H))
            np.testing.assert_array_equal(o["shadow_kept"], [[H, F // 2]] * (man["config"]["n_layers"] - 1))


if __name__ == "__main__":
    unittest.main()
