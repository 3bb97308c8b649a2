"""ShadowLLM decode step graph (tbtrain/shadow_graph.py) against the PyTorch masked forward (tbtrain/shadow.py):
token by token through the ONNX step, the same per-token losses as shadow.forward with the same predictor's
masks, for each way of skipping heads and neurons; keep 1.0 equals the dense step; the kept indices."""
import unittest

import numpy as np
import onnxruntime as ort
import torch

from tbtrain import shadow
from tbtrain.model import LM, Config
from tbtrain.shadow_graph import block_masks, build_step, lm_weights, predictor_weights
from tbtrain.shadow_pred import ShadowPredictor

T = 12


def tiny():
    torch.manual_seed(0)
    cfg = Config(vocab_size=64, d_model=32, n_layers=3, n_heads=4, n_kv_heads=2, head_dim=8, ffn_dim=48,
                 copy_heads=(), ngram_max=0, attn_bias=True, prev_token=True)
    lm = LM(cfg)
    with torch.no_grad():
        for p in lm.parameters():
            p.mul_(3.0)
    pred = ShadowPredictor(32, 2, 4, 48, 8)
    return lm.eval(), pred.eval()


def run_steps(model, cfg, ids, prev):
    """Per-position losses of ids[1:] through the step graph, and its last outputs."""
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    L, Hkv, D = cfg.n_layers, cfg.n_kv_heads, cfg.head_dim
    k = [np.zeros((Hkv, 0, D), np.float32) for _ in range(L)]
    v = [np.zeros((Hkv, 0, D), np.float32) for _ in range(L)]
    nll, o = [], {}
    for t in range(len(ids) - 1):
        feeds = {"input_ids": np.array([[ids[t]]], np.int64), "start_pos": np.array([t], np.int64),
                 "prev_id": np.array([ids[t - 1] if t else prev], np.int64)}
        for l in range(L):
            feeds[f"past_k.{l}"], feeds[f"past_v.{l}"] = k[l], v[l]
        o = dict(zip(names, s.run(None, feeds)))
        for l in range(L):
            k[l] = np.concatenate([k[l], o[f"new_k.{l}"]], 1); v[l] = np.concatenate([v[l], o[f"new_v.{l}"]], 1)
        lg = torch.from_numpy(o["logits"][0]).double()
        nll.append(-torch.log_softmax(lg, -1)[ids[t + 1]].item())
    return np.array(nll), o


class StepGraph(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lm, cls.pred = tiny()
        cls.W, cls.P = lm_weights(cls.lm), predictor_weights(cls.pred)
        g = torch.Generator().manual_seed(1)
        cls.ids = torch.randint(5, 64, (T + 1,), generator=g)
        cls.prev = 3

    def reference(self, kh, kn, block):
        x, y = self.ids[None, :-1], self.ids[None, 1:]
        with torch.no_grad():
            return shadow.forward(self.lm, x, torch.tensor([self.prev]), y,
                                  masks=block_masks(self.pred, kh, kn, block))[0].double().numpy()

    def test_each_variant_matches_the_masked_forward(self):
        cases = [("dense", "dense", 1.0, 1.0, None), ("skip", "dense", 0.5, 1.0, None), ("dense", "gather", 1.0, 0.5, None),
                 ("dense", "blocks", 1.0, 0.5, 8), ("skip", "blocks", 0.25, 0.25, 8), ("skip", "gather", 0.75, 0.25, None)]
        dense = self.reference(1.0, 1.0, None)
        for hm, nm, kh, kn, block in cases:
            with self.subTest(heads=hm, neurons=nm, keep_heads=kh, keep_neurons=kn):
                ref = self.reference(kh, kn, block)
                got, out = run_steps(build_step(self.lm.cfg, self.W, self.P, hm, nm, kh, kn, block or 8), self.lm.cfg,
                                     self.ids.tolist(), self.prev)
                np.testing.assert_allclose(got, ref, atol=2e-4, rtol=0)
                if (kh, kn) != (1.0, 1.0):  # the masks change the losses: the comparison can fail
                    self.assertGreater(np.abs(ref - dense).max(), 1e-2)
                if kh < 1:
                    self.assertEqual(out["shadow_heads"].shape, (2, max(1, round(4 * kh))))
                    self.assertTrue(all(len(set(r)) == r.size for r in out["shadow_heads"]))
                if kn < 1:
                    n = 48 // block if nm == "blocks" else 48
                    self.assertEqual(out["shadow_neurons"].shape, (2, round(n * kn)))
                    self.assertTrue(all(len(set(r)) == r.size and r.max() < n for r in out["shadow_neurons"]))

    def test_keep_all_equals_the_dense_step(self):
        dense, _ = run_steps(build_step(self.lm.cfg, self.W), self.lm.cfg, self.ids.tolist(), self.prev)
        for hm, nm in (("skip", "blocks"), ("skip", "gather")):
            got, out = run_steps(build_step(self.lm.cfg, self.W, self.P, hm, nm, 1.0, 1.0, 8), self.lm.cfg, self.ids.tolist(), self.prev)
            np.testing.assert_allclose(got, dense, atol=1e-5, rtol=0)
            self.assertNotIn("shadow_neurons", out)

    def test_int8_variants_stay_close_to_fp32(self):
        """int8 gathered rows (MatMulIntegerToFloat) and int8 blocks against the same variant in fp32."""
        for nm in ("gather", "blocks"):
            ref, _ = run_steps(build_step(self.lm.cfg, self.W, self.P, "skip", nm, 0.5, 0.5, 8), self.lm.cfg, self.ids.tolist(), self.prev)
            got, _ = run_steps(build_step(self.lm.cfg, self.W, self.P, "skip", nm, 0.5, 0.5, 8, int8=True), self.lm.cfg,
                               self.ids.tolist(), self.prev)
            self.assertLess(np.abs(got - ref).mean(), 0.05 * ref.mean(), nm)


if __name__ == "__main__":
    unittest.main()
