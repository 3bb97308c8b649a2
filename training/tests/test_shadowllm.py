"""ShadowLLM (tbtrain/shadow.py, shadow_pred.py): the importance criteria against a hand computation, the
masked forward against the plain LM, mask counts, predictor shapes and a resumed predictor run."""
import pathlib
import tempfile
import unittest

import numpy as np
import torch

from tbtrain import shadow, shadow_pred
from tbtrain.model import LM, Config

ROOT = pathlib.Path(__file__).resolve().parents[2]


def tiny(seed=0):
    torch.manual_seed(seed)
    cfg = Config(vocab_size=64, d_model=32, n_layers=3, n_heads=2, n_kv_heads=2, head_dim=16, ffn_dim=24,
                 copy_heads=(2,), ngram_max=3)  # pointer head: layer 1 head 0
    lm = LM(cfg)
    with torch.no_grad():  # a gate that uses its pointer and lookup components
        lm.copy_gate.bias.copy_(torch.tensor([0.0, -0.5, -1.0]))
        for p in lm.parameters():
            p.mul_(3.0)
    return lm.eval()


def batch(seed=1, B=2, T=20, V=64):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, V, (B, T + 1), generator=g)
    ids[:, 12:16] = ids[:, 2:6]  # a repeat for the pointer and the lookup
    return ids[:, :-1], torch.zeros(B, dtype=torch.long), ids[:, 1:]


class Criteria(unittest.TestCase):
    def setUp(self):
        self.lm = tiny()
        self.x, self.prev, self.y = batch()

    def test_dense_equals_the_lm(self):
        with torch.no_grad():
            ref = self.lm.nll(self.x, self.prev, self.y)
            ce = torch.nn.functional.cross_entropy(self.lm(self.x, self.prev).transpose(1, 2), self.y, reduction="none")
            ones = lambda l, h: (torch.ones(*self.x.shape, 2), torch.ones(*self.x.shape, 24))  # keep 100%
            for masks in (None, ones, shadow.fixed_masks(torch.rand(2, 20, 2, 2), torch.rand(2, 20, 2, 24), 1.0, 1.0)):
                got = shadow.forward(self.lm, self.x, self.prev, self.y, masks=masks)
                torch.testing.assert_close(got, ref, atol=1e-5, rtol=0)
                torch.testing.assert_close(got, ce, atol=1e-5, rtol=0)

    def test_plainact_is_activation_times_gradient(self):
        """Neurons: |a * dL/da| with a the down_proj input; heads (layer 2, no pointer head): |sum_d y_d dL/dy_d|
        with y the o_proj input, both from hooks on the plain LM.nll."""
        lm, saved = self.lm, {}

        def keep(name):
            def hook(mod, inp):
                inp[0].retain_grad(); saved[name] = inp[0]
            return hook
        hs = [lm.model.layers[2].mlp.down_proj.register_forward_pre_hook(keep("a")),
              lm.model.layers[2].self_attn.o_proj.register_forward_pre_hook(keep("y"))]
        lm.requires_grad_(False)
        emb = lm.model.embed_tokens
        emb.weight.requires_grad_(True)  # a graph for the backward
        with torch.enable_grad():
            lm.nll(self.x, self.prev, self.y).sum().backward()
        emb.weight.requires_grad_(False)
        for h in hs:
            h.remove()
        imp = shadow.importances(lm, self.x, self.prev, self.y)
        a, y = saved["a"], saved["y"]
        torch.testing.assert_close(imp["plainact_neurons"][:, :, 1], (a * a.grad).abs(), atol=1e-6, rtol=1e-4)
        heads = (y * y.grad).view(2, 20, 2, 16).sum(-1).abs()
        torch.testing.assert_close(imp["plainact_heads"][:, :, 1], heads, atol=1e-6, rtol=1e-4)
        torch.testing.assert_close(imp["mag_neurons"][:, :, 1], a.detach().abs())
        self.assertEqual(tuple(imp["x0"].shape), (2, 20, 32))
        self.assertEqual(tuple(imp["inputs"].shape), (2, 20, 2, 32))

    def test_pointer_head_gate_gradient_matches_a_finite_difference(self):
        imp = shadow.importances(self.lm, self.x, self.prev, self.y)
        eps = 1e-2

        def loss(g):
            def masks(l, x):
                hm = torch.ones(*self.x.shape, 2)
                if l == 1:
                    hm[0, 15, 0] = g
                return hm, None
            with torch.no_grad():
                return shadow.forward(self.lm, self.x, self.prev, self.y, masks=masks)
        fd = ((loss(1 + eps) - loss(1 - eps)).sum() / (2 * eps)).item()  # only positions >= 15 of row 0 change
        self.assertGreater(abs(fd), 1e-3)
        self.assertAlmostEqual(abs(fd), imp["plainact_heads"][0, 15, 0, 0].item(), delta=0.02 * abs(fd))

    def test_masks_keep_the_requested_count(self):
        s = torch.rand(3, 5, 2, 704)
        for keep, k in ((0.25, 176), (0.5, 352), (0.75, 528)):
            m = shadow.topk_mask(s, keep)
            self.assertTrue(torch.equal(m.sum(-1), torch.full((3, 5, 2), float(k))))
            self.assertTrue(torch.equal(m.bool(), s >= s.topk(k, -1).values[..., -1:]))  # the largest ones
        self.assertEqual(shadow.topk_mask(torch.rand(4, 4), 0.25).sum(-1).tolist(), [1.0] * 4)

    def test_a_dropped_neuron_or_head_adds_nothing(self):
        lm = self.lm
        zero = lambda l, x: (torch.zeros(*self.x.shape, 2), torch.zeros(*self.x.shape, 24))
        with torch.no_grad():
            got = shadow.forward(lm, self.x, self.prev, self.y, masks=zero)
            ref = tiny()
            ref.copy_gate.bias[1] = -1e4  # the pointer head's component gone
            for l in (1, 2):
                ref.model.layers[l].mlp.down_proj.weight.zero_(); ref.model.layers[l].self_attn.o_proj.weight.zero_()
            torch.testing.assert_close(got, ref.nll(self.x, self.prev, self.y), atol=1e-4, rtol=0)


class Predictors(unittest.TestCase):
    def test_shapes_and_predicted_masks(self):
        lm = tiny()
        x, prev, y = batch()
        imp = shadow.importances(lm, x, prev, y)
        sp, dv = shadow_pred.ShadowPredictor(32, 2, 2, 24, 8), shadow_pred.DejaVuPredictor(32, 2, 2, 24, 8)
        for p, inp in ((sp, imp["x0"]), (dv, imp["inputs"])):
            h, n = p(inp)
            self.assertEqual((tuple(h.shape), tuple(n.shape)), ((2, 20, 2, 2), (2, 20, 2, 24)))
            seen = []
            base = shadow_pred.predicted_masks(p, 0.5, 0.25)
            spy = lambda l, x_, base=base, seen=seen: seen.append(base(l, x_)) or seen[-1]
            with torch.no_grad():
                shadow.forward(lm, x, prev, y, masks=spy)
            self.assertEqual(len(seen), 2)
            for hm, nm in seen:
                self.assertTrue(torch.equal(hm.sum(-1), torch.ones(2, 20)) and torch.equal(nm.sum(-1), torch.full((2, 20), 6.0)))
        loss = shadow_pred.rank_loss(torch.tensor([[3.0, 2.0, 1.0]]), torch.tensor([[1.0, 0.5, 0.0]]))
        worse = shadow_pred.rank_loss(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[1.0, 0.5, 0.0]]))
        self.assertLess(loss.item(), worse.item())

    def test_resume_continues_the_same_run(self):
        lm = tiny()
        windows = np.random.default_rng(0).integers(5, 64, (6, 17))

        def make():
            torch.manual_seed(3)
            return shadow_pred.Trainer(lm, windows, {"s": (shadow_pred.ShadowPredictor(32, 2, 2, 24, 8), "plainact"),
                                                     "d": (shadow_pred.DejaVuPredictor(32, 2, 2, 24, 8), "mag")}, neuron_pairs=16)
        full = make()
        for _ in range(3):
            full.step()
        with tempfile.TemporaryDirectory() as d:
            a = make(); a.step(); a.step(); a.save(pathlib.Path(d) / "p.pt")
            b = make(); b.load(pathlib.Path(d) / "p.pt"); b.step()
        self.assertEqual(b.steps, 3)
        for n in ("s", "d"):
            for (k, v), w in zip(full.preds[n][0].state_dict().items(), b.preds[n][0].state_dict().values()):
                self.assertTrue(torch.equal(v, w), k)

    def test_heldout_windows_split_by_package(self):
        tok = ROOT / "models/default/tokenizer.json"
        if not tok.exists():
            self.skipTest("no models/default tokenizer")
        with tempfile.TemporaryDirectory() as d:
            ws = pathlib.Path(d) / "ws"
            for pkg in ("zod-1.0.0", "d3-array-1.0.0"):
                (ws / pkg / "src").mkdir(parents=True)
                (ws / pkg / "src/a.ts").write_text("export function add(a: number, b: number) {\n  return a + b;\n}\n" * 20)
                (ws / pkg / "dist").mkdir()
                (ws / pkg / "dist/a.js").write_text("export function add(a, b) {\n  return a + b;\n}\n" * 20)  # a build variant
            w = shadow_pred.heldout_windows(ws, tok, pathlib.Path(d) / "cache", 32)
            self.assertEqual(w["eval"].shape[1], 33)
            self.assertEqual(len(w["eval"]), len(w["train"]))
            self.assertEqual(int(w["eval"][0, 0]), 4)  # <|file_sep|>


if __name__ == "__main__":
    unittest.main()
