"""The engine's cache around the exported graphs, in Python (docs/graph-contract.md): head-major K/V,
int8 importance keys stored transposed with their dim sums, and a capacity-long token-id buffer,
all with spare capacity; each run appends the graph's new rows. Used by the ONNX parity tests
(training/tests/test_export.py) and the sparse-prefill quality measurement (eval_prefill.py)."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import onnxruntime as ort

from tbtrain.checkpoints import folder_config
from tbtrain.graph_select import fresh_selection_feeds
from tbtrain.model import Config
from tbtrain.selection import ENGINE_RECENT, ENGINE_SINKS

STALE_ID = 7  # what the token-id buffer holds beyond the cached length: the graphs must ignore it


class GraphRunner:
    def __init__(self, model_dir, cap: int, cfg: Config | None = None, graphs: dict | None = None):
        """graphs: {"dense": file, "sparse": file} instead of the manifest's (the ShadowLLM variants)."""
        model_dir = pathlib.Path(model_dir)
        graphs = graphs or json.loads((model_dir / "manifest.json").read_text())["graphs"]
        self.cfg = c = cfg or folder_config(model_dir)
        o = ort.SessionOptions(); o.intra_op_num_threads = 1
        o.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.dense = ort.InferenceSession(str(model_dir / graphs["dense"]), o)
        self.sparse = ort.InferenceSession(str(model_dir / graphs["sparse"]), o)
        H, D, E = c.n_kv_heads, c.head_dim, c.imp_dim
        self.int8 = c.kv_cache == "int8"  # K u8 (+128), V int8, the rows' steps f32 [H, cap] (tbtrain/kv_quant.py)
        self.k = [np.zeros((H, cap, D), np.uint8 if self.int8 else np.float32) for _ in range(c.n_layers)]
        self.v = [np.zeros((H, cap, D), np.int8 if self.int8 else np.float32) for _ in range(c.n_layers)]
        self.ks = [np.zeros((H, cap), np.float32) for _ in range(c.n_layers)]
        self.vs = [np.zeros((H, cap), np.float32) for _ in range(c.n_layers)]
        self.ik = [np.zeros((H, E, cap), np.int8) for _ in range(c.n_layers)]  # int8, transposed, as the graphs read them
        self.iksum = [np.zeros((H, cap), np.int32) for _ in range(c.n_layers)]  # 64 x their dim sums
        self.ids = np.full(cap, STALE_ID, np.int64)
        self.P, self.prev = 0, 0

    def reset(self):
        """Forgets the cached tokens (the arrays keep their stale contents, as the engine's do)."""
        self.P, self.prev = 0, 0

    def snapshot(self):
        arrays = [[a.copy() for a in arrs] for arrs in (self.k, self.v, self.ik, self.iksum, self.ks, self.vs)]
        return arrays, self.ids.copy(), self.P, self.prev

    def restore(self, snap):
        arrays, ids, self.P, self.prev = snap
        self.k, self.v, self.ik, self.iksum, self.ks, self.vs = ([a.copy() for a in arrs] for arrs in arrays)
        self.ids = ids.copy()

    def run(self, ids: list[int], sparse: bool = False, budget: int = 512, sinks: int = ENGINE_SINKS, recent: int = ENGINE_RECENT,
            neighbors: bool = False, extra: dict | None = None) -> dict:
        """Runs `ids` after the cached tokens through the dense or the sparse graph (neighbors: a fresh
        selection with neighbour fetch); appends their rows; returns the outputs."""
        c, P, S = self.cfg, self.P, len(ids)
        feeds = {"input_ids": np.array([ids], np.int64), "prev_id": np.array([self.prev], np.int64), "start_pos": np.array([P], np.int64)}
        if c.copy_heads:
            feeds["ctx_ids"] = self.ids
        for l in range(c.n_layers):
            feeds[f"past_k.{l}"], feeds[f"past_v.{l}"] = self.k[l], self.v[l]
            if self.int8:
                feeds[f"past_ks.{l}"], feeds[f"past_vs.{l}"] = self.ks[l], self.vs[l]
        sess = self.dense
        if sparse:
            sess = self.sparse
            for l in range(1, c.n_layers):
                feeds[f"past_ik_t.{l}"], feeds[f"past_iksum.{l}"] = self.ik[l], self.iksum[l]
            feeds.update(budget=np.array([budget], np.int64), sinks=np.array([sinks], np.int64), recent=np.array([recent], np.int64))
            feeds.update(fresh_selection_feeds(c, neighbors, names={i.name for i in sess.get_inputs()}))
        feeds.update(extra or {})
        out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
        for l in range(c.n_layers):
            self.k[l][:, P:P + S] = out[f"new_k.{l}"]
            self.v[l][:, P:P + S] = out[f"new_v.{l}"]
            if self.int8:
                self.ks[l][:, P:P + S], self.vs[l][:, P:P + S] = out[f"new_ks.{l}"][..., 0], out[f"new_vs.{l}"][..., 0]
            if l >= 1:
                self.ik[l][:, :, P:P + S] = out[f"new_ik.{l}"].transpose(0, 2, 1)
                self.iksum[l][:, P:P + S] = out[f"new_iksum.{l}"]
        self.ids[P:P + S] = ids
        self.P += S; self.prev = ids[-1]
        return out


def random_sparse_feeds(cfg: dict, P: int, budget: int, inputs: dict, rng) -> dict:
    """Random inputs for a sparse decode step over a P-slot cache: every input the graph declares (inputs:
    name -> type), of its type (the float32 cache, or the int8 cache's u8 K, s8 V and f32 steps); for probes."""
    H, D, E, L, V = cfg["n_kv_heads"], cfg["head_dim"], cfg["imp_dim"], cfg["n_layers"], cfg["vocab_size"]
    cap = P + 64
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    f = {"input_ids": rng.integers(5, V, (1, 1)), "prev_id": i64(9), "start_pos": i64(P), "budget": i64(budget),
         "ctx_ids": rng.integers(5, V, cap), "sinks": i64(8), "recent": i64(128),
         "reuse_selection": np.array([False]), "prev_selected": np.zeros(((L - 1) * H, 0), np.int64), "neighbors": np.array([False])}
    for layer in range(L):
        k_t, v_t = inputs[f"past_k.{layer}"], inputs[f"past_v.{layer}"]
        f[f"past_k.{layer}"] = (rng.integers(0, 256, (H, cap, D)).astype(np.uint8) if "uint8" in k_t
                                else rng.standard_normal((H, cap, D)).astype(np.float32))
        f[f"past_v.{layer}"] = (rng.integers(-127, 128, (H, cap, D)).astype(np.int8) if "int8" in v_t
                                else rng.standard_normal((H, cap, D)).astype(np.float32))
        f[f"past_ks.{layer}"] = np.full((H, cap), 0.01, np.float32)
        f[f"past_vs.{layer}"] = np.full((H, cap), 0.01, np.float32)
        if layer:
            ik = rng.integers(-63, 64, (H, E, cap)).astype(np.int8)
            f[f"past_ik_t.{layer}"], f[f"past_iksum.{layer}"] = ik, (64 * ik.astype(np.int32).sum(1)).astype(np.int32)
    return {k: v for k, v in f.items() if k in inputs}
