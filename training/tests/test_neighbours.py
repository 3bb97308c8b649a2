"""Neighbour fetch (graph_select.neighbour_topk, reference selection.neighbour_scores): the graph's
scoring + top-k with `neighbors` on selects the reference's slots; at the edges of the middle slots a
chosen slot brings only neighbours inside [n_sink, w0), adjacent chosen slots share theirs, no slot
comes twice, and the count stays min(budget, M); both spans (the shipped j+1, and j-1 with j+1)."""
import unittest

import numpy as np
import onnxruntime as ort
import torch
from onnx import TensorProto, helper

from tbtrain.graph_ops import G, assemble
from tbtrain.graph_select import neighbour_topk
from tbtrain.selection import NEIGHBOURS, top_slots
from tbtrain.selection import neighbour_scores as ref_neighbour_scores


def select_graph(rows: int, span=NEIGHBOURS) -> ort.InferenceSession:
    """Middle-slot scores sc [rows, M] -> the chosen middle slots (offset n_sink), as fresh_selection."""
    g = G()
    out = g.rename(g.op("Add", neighbour_topk(g, "sc", "k", rows, span), "n_sink"), "idx")
    ins = [helper.make_tensor_value_info("sc", TensorProto.FLOAT, [rows, "M"]), helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
           helper.make_tensor_value_info("n_sink", TensorProto.INT64, [1]),
           helper.make_tensor_value_info("neighbors", TensorProto.BOOL, [1])]
    m = assemble(g, {}, "neighbours", ins, [helper.make_tensor_value_info(out, TensorProto.INT64, None)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


def reference(sc: np.ndarray, k: int, n_sink: int, neighbors: bool, span=NEIGHBOURS) -> np.ndarray:
    s = torch.from_numpy(sc)
    return (top_slots(ref_neighbour_scores(s, span) if neighbors else s, k) + n_sink).numpy()


class NeighbourFetch(unittest.TestCase):
    rows = 2

    @classmethod
    def setUpClass(cls):
        cls.s = {span: select_graph(cls.rows, span) for span in ((1, 0), (1, 1))}

    def run_graph(self, sc: np.ndarray, k: int, n_sink: int, neighbors: bool, span=NEIGHBOURS) -> np.ndarray:
        return self.s[span].run(None, {"sc": sc.astype(np.float32), "k": np.array([k], np.int64), "n_sink": np.array([n_sink], np.int64),
                                       "neighbors": np.array([neighbors])})[0]

    def test_shipped_span_is_the_next_slot(self):
        self.assertEqual(NEIGHBOURS, (1, 0))

    def test_edges_adjacent_and_no_duplicates(self):
        n_sink, M = 4, 20  # middle slots [4, 24): w0 = 24
        sc = np.zeros((self.rows, M), np.float32)
        sc[:, 0] = 10.0   # slot n_sink: its left neighbour is a sink
        sc[:, 19] = 9.0   # slot w0 - 1: its right neighbour w0 is in the recent window
        sc[:, 8], sc[:, 9] = 8.0, 7.0  # adjacent chosen slots 12, 13 share their neighbours
        wants = {(1, 0): (6, [4, 5, 12, 13, 14, 23]),                # j+1: 5, 14; nothing past w0 - 1
                 (1, 1): (8, [4, 5, 11, 12, 13, 14, 22, 23])}        # j-1, j+1: no sink, nothing past w0 - 1
        for span, (k, want) in wants.items():
            for neighbors in (True, False):
                out = self.run_graph(sc, k, n_sink, neighbors, span)
                np.testing.assert_array_equal(out, reference(sc, k, n_sink, neighbors, span))
                self.assertEqual(out.shape, (self.rows, k))
                for row in out:
                    self.assertEqual(len(set(row.tolist())), k)
                    self.assertTrue(((row >= n_sink) & (row < n_sink + M)).all())
            np.testing.assert_array_equal(self.run_graph(sc, k, n_sink, True, span), np.tile(want, (self.rows, 1)))
        # without neighbour fetch the four high slots, then the lowest zero-score slots (ties to the lower slot)
        np.testing.assert_array_equal(self.run_graph(sc, 8, n_sink, False)[0], [4, 5, 6, 7, 8, 12, 13, 23])

    def test_random_scores_match_reference(self):
        rng = np.random.default_rng(1)
        for M, k in ((3, 2), (30, 6), (500, 100), (4100, 512), (1912, 512)):
            for ties in (False, True):  # integer scores: many ties, broken towards the lower slot
                sc = (rng.integers(-20, 20, (self.rows, M)) if ties else rng.standard_normal((self.rows, M))).astype(np.float32)
                for neighbors, span in ((True, (1, 0)), (True, (1, 1)), (False, (1, 0))):
                    out = self.run_graph(sc, k, 8, neighbors, span)
                    np.testing.assert_array_equal(out, reference(sc, k, 8, neighbors, span),
                                                  err_msg=f"M={M} k={k} ties={ties} span={span} nb={neighbors}")
                    self.assertTrue((np.diff(out, axis=1) > 0).all())

    def test_nothing_to_choose(self):
        out = self.run_graph(np.zeros((self.rows, 5), np.float32), 0, 8, True)
        self.assertEqual(out.shape, (self.rows, 0))


if __name__ == "__main__":
    unittest.main()
