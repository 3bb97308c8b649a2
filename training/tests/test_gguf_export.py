"""The GGUF export of the default model reads back (gguf's reader) with the names, shapes and values
written, and its Q/K row permutation turns our rotate-half RoPE into llama.cpp's interleaved one."""
import json
import pathlib
import tempfile
import unittest

import numpy as np
from safetensors.numpy import load_file

from tbtrain.gguf_export import export_gguf, from_interleaved, llama_tensors, to_interleaved

MODEL = pathlib.Path(__file__).resolve().parents[2] / "models/default"


def rope_half(x, pos, theta):
    """HF rotate_half RoPE of x [n_heads, head_dim] at position pos."""
    d = x.shape[-1]
    f = pos / theta ** (np.arange(0, d, 2) / d)
    cos, sin = np.cos(np.concatenate([f, f])), np.sin(np.concatenate([f, f]))
    a, b = x[..., : d // 2], x[..., d // 2:]
    return x * cos + np.concatenate([-b, a], -1) * sin


def rope_interleaved(x, pos, theta):
    """llama.cpp's RoPE (pairs 2i, 2i+1) of x [n_heads, head_dim] at position pos."""
    d = x.shape[-1]
    f = pos / theta ** (np.arange(0, d, 2) / d)
    e, o = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = e * np.cos(f) - o * np.sin(f)
    out[..., 1::2] = e * np.sin(f) + o * np.cos(f)
    return out


class GgufExport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from gguf import GGUFReader
        cls.cfg = json.loads((MODEL / "manifest.json").read_text())["config"]
        cls.sd = load_file(str(MODEL / "lm.fp16.safetensors"))
        cls.want = llama_tensors(cls.sd, cls.cfg)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.readers = {k: GGUFReader(str(export_gguf(MODEL, pathlib.Path(cls.tmp.name) / f"m.{k}.gguf", k))) for k in ("f16", "q8_0")}

    @classmethod
    def tearDownClass(cls):
        cls.readers = None
        cls.tmp.cleanup()

    def test_metadata_is_a_plain_llama(self):
        r = self.readers["f16"]
        field = lambda k: r.fields[k].parts[r.fields[k].data[0]]
        self.assertEqual(bytes(field("general.architecture")).decode(), "llama")
        self.assertEqual(int(field("llama.block_count")[0]), self.cfg["n_layers"])
        self.assertEqual(int(field("llama.attention.head_count_kv")[0]), self.cfg["n_kv_heads"])
        self.assertEqual(float(field("llama.rope.freq_base")[0]), self.cfg["rope_theta"])
        self.assertEqual(len(r.fields["tokenizer.ggml.tokens"].data), self.cfg["vocab_size"])

    def test_f16_round_trip_names_shapes_values(self):
        from gguf import GGMLQuantizationType
        got = {t.name: t for t in self.readers["f16"].tensors}
        self.assertEqual(set(got), set(self.want))
        self.assertNotIn("output.weight", got)  # tied to token_embd, as in our model
        self.assertEqual(len(got), 2 + 9 * self.cfg["n_layers"])
        for name, w in self.want.items():
            t = got[name]
            self.assertEqual(list(t.shape), list(reversed(w.shape)), name)  # GGUF stores ggml's ne order
            self.assertEqual(t.tensor_type, GGMLQuantizationType.F32 if w.ndim == 1 else GGMLQuantizationType.F16, name)
            np.testing.assert_array_equal(np.asarray(t.data, np.float32).reshape(w.shape), w, err_msg=name)

    def test_q8_0_round_trip_within_quantization_error(self):
        from gguf import GGMLQuantizationType
        from gguf.quants import dequantize
        for t in self.readers["q8_0"].tensors:
            w = self.want[t.name]
            v = np.asarray(t.data, np.float32) if t.tensor_type == GGMLQuantizationType.F32 else dequantize(t.data, t.tensor_type)
            v = v.reshape(w.shape)
            # q8_0: blocks of 32 with one f16 scale max|w| / 127: half a step, plus the scale's f16 rounding over 127 steps
            step = np.abs(w.reshape(-1, 32)).max(1, keepdims=True) / 127 if w.ndim > 1 else np.zeros((1, 1))
            self.assertTrue(np.all(np.abs(v - w).reshape(step.shape[0], -1) <= step * (0.5 + 127 * 2 ** -11) + 1e-7), t.name)

    def test_qk_permutation_matches_llamacpp_rope(self):
        rng = np.random.default_rng(0)
        H, D, theta = self.cfg["n_heads"], self.cfg["head_dim"], self.cfg["rope_theta"]
        wq = self.sd["model.layers.1.self_attn.q_proj.weight"].astype(np.float64)
        np.testing.assert_array_equal(from_interleaved(to_interleaved(wq, H), H), wq)
        x = rng.standard_normal(wq.shape[1])
        for pos in (0, 7, 1234):
            ours = rope_half((wq @ x).reshape(H, D), pos, theta)
            theirs = rope_interleaved((to_interleaved(wq, H) @ x).reshape(H, D), pos, theta)
            np.testing.assert_allclose(from_interleaved(theirs.reshape(-1), H).reshape(H, D), ours, atol=1e-9)
        # attention scores do not depend on the layout: q.k equal for the same positions
        wk = self.sd["model.layers.1.self_attn.k_proj.weight"].astype(np.float64)
        q = rope_half((wq @ x).reshape(H, D), 50, theta); k = rope_half((wk @ x).reshape(H, D), 20, theta)
        q2 = rope_interleaved((to_interleaved(wq, H) @ x).reshape(H, D), 50, theta)
        k2 = rope_interleaved((to_interleaved(wk, H) @ x).reshape(H, D), 20, theta)
        np.testing.assert_allclose((q * k).sum(-1), (q2 * k2).sum(-1), atol=1e-9)


if __name__ == "__main__":
    unittest.main()
