"""The sparse graph's top-k (graph_select.two_stage_topk): exactly the top-k of every row, in ascending
position order, as selection.select_fresh's topk + sort; on a constructed case where the scores are
known (the top-k clustered in a few blocks, spread one per block, more blocks than k, fewer) and on
random scores."""
import unittest

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

from tbtrain.graph_ops import G, assemble
from tbtrain.graph_select import two_stage_topk


def topk_graph(rows: int, ordered: bool = True) -> ort.InferenceSession:
    g = G()
    out = g.rename(two_stage_topk(g, "sc", "k", rows, ordered=ordered), "idx")
    ins = [helper.make_tensor_value_info("sc", TensorProto.FLOAT, [rows, "C"]), helper.make_tensor_value_info("k", TensorProto.INT64, [1])]
    m = assemble(g, {}, "topk", ins, [helper.make_tensor_value_info(out, TensorProto.INT64, None)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


def reference(sc: np.ndarray, k: int) -> np.ndarray:
    return np.sort(np.argsort(-sc, axis=1, kind="stable")[:, :k], axis=1)


class TwoStageTopK(unittest.TestCase):
    rows = 3

    @classmethod
    def setUpClass(cls):
        cls.s = topk_graph(cls.rows)

    def run_topk(self, sc: np.ndarray, k: int) -> np.ndarray:
        return self.s.run(None, {"sc": sc.astype(np.float32), "k": np.array([k], np.int64)})[0]

    def test_known_scores(self):
        C, k = 1001, 40  # C not a multiple of the block: the padded tail block never wins
        sc = np.zeros((self.rows, C), np.float32) - 5.0
        chosen = [np.arange(100, 140),                                   # clustered: 5 whole blocks
                  np.arange(3, C, C // k)[:k],                           # spread: one per block
                  np.concatenate([np.arange(0, 8), np.arange(C - 32, C)])]  # first block and the tail
        for r, idx in enumerate(chosen):
            sc[r, idx] = 10.0 + np.arange(len(idx))
        out = self.run_topk(sc, k)
        for r, idx in enumerate(chosen):
            np.testing.assert_array_equal(out[r], np.sort(idx))

    def test_random_scores_exact_and_ascending(self):
        rng = np.random.default_rng(0)
        for C, k in ((50, 64), (64, 8), (500, 100), (4100, 512), (3000, 2999)):  # k > C/block: every block is a candidate
            sc = rng.standard_normal((self.rows, C)).astype(np.float32)
            out = self.run_topk(sc, min(k, C))
            np.testing.assert_array_equal(out, reference(sc, min(k, C)), err_msg=f"C={C} k={k}")
            self.assertTrue((np.diff(out, axis=1) > 0).all())

    def test_unordered_is_the_same_set(self):
        """The sparse graph's form (ordered=False): the same slots per row, each once, in any order."""
        s = topk_graph(self.rows, ordered=False)
        rng = np.random.default_rng(2)
        for C, k in ((64, 8), (500, 100), (4100, 512)):
            for sc in (rng.standard_normal((self.rows, C)), rng.integers(-9, 9, (self.rows, C))):
                sc = sc.astype(np.float32)
                out = s.run(None, {"sc": sc, "k": np.array([k], np.int64)})[0]
                np.testing.assert_array_equal(np.sort(out, axis=1), reference(sc, k), err_msg=f"C={C} k={k}")


if __name__ == "__main__":
    unittest.main()
