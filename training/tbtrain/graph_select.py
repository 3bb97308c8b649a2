"""The sparse graph's selection (selection.select_fresh is the reference): the slots always read
(sinks, recent window), the importance queries of a producer, int8 scoring of the cached importance
keys, the exact top-k of the middle slots (with neighbour fetch when asked), the prediction-interval
reuse of the last selection, and the gather of the selected K/V rows."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from tbtrain.graph_ops import G, Shared, linear, rms, sq
from tbtrain.model import Config
from tbtrain.predictor import NEG, QMAX_Q, QQ_OFFSET
from tbtrain.selection import NEIGHBOURS

TOPK_BLOCK = 8


def fresh_selection_feeds(cfg: Config, neighbors: bool = False, names=None) -> dict:
    """Sparse-graph inputs for a step that selects afresh (no prediction-interval reuse), with or without
    neighbour fetch; names: the graph's inputs (a graph without `neighbors` gets none)."""
    f = {"reuse_selection": np.array([False]), "prev_selected": np.zeros(((cfg.n_layers - 1) * cfg.n_kv_heads, 0), np.int64),
         "neighbors": np.array([neighbors])}
    return {k: v for k, v in f.items() if names is None or k in names}


def slot_ranges(g: G, c: Config, C) -> dict:
    """The sinks [0, n_sink) and the recent window [w0, start_pos) are always read; selection chooses
    k_mid = min(budget, M) of the M middle slots [n_sink, w0)."""
    n_sink = g.op("Min", "sinks", "start_pos")
    w0 = g.op("Max", n_sink, g.op("Sub", "start_pos", "recent"))
    sink_rows, recent_rows = g.op("Range", g.const(0), sq(g, n_sink), g.const(1)), g.op("Range", sq(g, w0), sq(g, "start_pos"), g.const(1))
    k_mid = g.op("Min", "budget", g.op("Sub", w0, n_sink))
    return {"n_sink": n_sink, "w0": w0, "sink_rows": sink_rows, "recent_rows": recent_rows, "k_mid": k_mid}


def importance_queries(g: G, c: Config, sh: Shared, x, l: int, cons: list[int]):
    """The producer tapping the residual stream entering layer l: one importance query per (consumer
    layer, KV head) [n, Hkv, 1, E]; for a chunk (S > 1) the mean of its positions' queries, which ranks
    slots by their mean score over the chunk."""
    Hkv, E = c.n_kv_heads, c.imp_dim
    g.scope = "predictor"
    hn = rms(g, x, f"predictor.{l}.norm.weight", c.norm_eps)
    h1 = linear(g, hn, f"predictor.{l}.fc1.weight")
    h1 = g.op("Mul", h1, g.op("Sigmoid", h1))
    qimp = sh.imp_rope_q(
        g.op("Reshape", linear(g, h1, f"predictor.{l}.fc2.weight"), g.const([-1, len(cons), Hkv, E])), cons
    )  # [S, n, Hkv, E]
    return g.op("Unsqueeze", g.op("ReduceMean", qimp, axes=[0], keepdims=0), g.const([2]))        # [n, Hkv, 1, E]


def fresh_selection(g: G, c: Config, sh: Shared, qimp, cons: list[int]):
    """int8 scores per consumer layer (selection.select_fresh): the query scaled by the keys' steps and
    rounded per row (step = max|.| / 63) to integers qi; qi . k = (qi + 64) . k - 64 * sum(k), the first
    a u8 x s8 MatMulInteger (onnxruntime's fast M = 1 path), the second cached per slot; then the top
    min(budget, M) middle slots, between the sinks and the recent window: [n*Hkv, K].
    The consumer layers' scores are stacked into one [n*Hkv, C] matrix after their MatMulIntegers, so
    the slicing, the distance prior and the top-k run once for all (layer, KV head) rows instead of
    once per layer (a third of the nodes: onnxruntime's per-node cost dominates at short context).
    Rows are independent, so every row's scores and top-k are the per-layer ones exactly."""
    Hkv, n = c.n_kv_heads, len(cons)
    rows = n * Hkv
    tile = lambda r: g.op("Tile", g.op("Unsqueeze", r, g.const([0])), g.const([rows, 1]))      # [M] -> [rows, M]
    qs = g.op("Mul", qimp, g.op("Gather", "predictor.ik_scale", g.const([m - 1 for m in cons])))      # [n, Hkv, 1, E]
    qstep = g.op("Max", g.op("Div", g.op("ReduceMax", g.op("Abs", qs), axes=[-1], keepdims=1), g.const(float(QMAX_Q), np.float32)),
                 g.const(1e-30, np.float32))                                                        # [n, Hkv, 1, 1]
    qi = g.op("Clip", g.op("Round", g.op("Div", qs, qstep)), g.const(-float(QMAX_Q), np.float32), g.const(float(QMAX_Q), np.float32))
    qu = g.op("Cast", g.op("Add", qi, g.const(float(QQ_OFFSET), np.float32)), to=TensorProto.UINT8)   # [n, Hkv, 1, E] in [1, 127]
    on = g.op("Greater", sh.k_mid, g.const([0]))

    def scored_top():  # [rows, k_mid] middle-slot indices (from n_sink), ascending
        scores = []
        for i, m in enumerate(cons):
            dot = g.op("MatMulInteger", g.op("Gather", qu, g.const(i)), f"past_ik_t.{m}")              # [Hkv, 1, C] int32
            scores.append(g.op("Sub", g.op("Reshape", dot, g.const([Hkv, -1])), f"past_iksum.{m}"))    # [Hkv, C]
        sc = g.op("Concat", *scores, axis=0) if n > 1 else scores[0]                                     # [rows, C]
        sc = g.op("Cast", g.op("Slice", sc, sh.n_sink, sh.w0, g.const([1])), to=TensorProto.FLOAT)      # [rows, M]
        if c.pred_dist:   # + w * log(distance) / step
            dw = g.op("Div", g.op("Gather", "predictor.dist_w", g.const([(m - 1) * Hkv + h for m in cons for h in range(Hkv)]), axis=0),
                      g.op("Reshape", qstep, g.const([rows, 1])))
            sc = g.op("Add", sc, g.op("Mul", dw, sh.logd))
        return neighbour_topk(g, sc, sh.k_mid, rows, ordered=False)

    # nothing to choose (budget 0: the window policy, or no middle slots): no scoring at all
    nothing = lambda: g.op("ConstantOfShape", g.const([rows, 0]), value=helper.make_tensor("v", TensorProto.INT64, [1], [0]))
    top = g.op("Add", if_node(g, on, scored_top, nothing, TensorProto.INT64, f"select_{g.n}"), sh.n_sink)   # [rows, k_mid]
    return g.op("Concat", tile(sh.sink_rows), top, tile(sh.recent_rows), axis=1)                     # [rows, K]


def if_node(g: G, cond, then_fn, else_fn, dtype, name: str):
    """An If on cond whose branches are the nodes then_fn() and else_fn() write (each returns its output)."""
    outer, g.nodes = g.nodes, []
    a = then_fn()
    then_nodes, g.nodes = g.nodes, []
    b = else_fn()
    else_nodes, g.nodes = g.nodes, outer
    branch = lambda nodes, out, side: helper.make_graph(nodes, f"{name}_{side}", [], [helper.make_tensor_value_info(out, dtype, None)])
    return g.op("If", cond, then_branch=branch(then_nodes, a, "then"), else_branch=branch(else_nodes, b, "else"))


def neighbour_topk(g: G, sc, k, rows: int, span: tuple[int, int] = NEIGHBOURS, ordered: bool = True):
    """The top-k middle slots of sc [rows, M] (two_stage_topk), with neighbour fetch when the input
    `neighbors` asks for it (reference selection.neighbour_scores): then middle slot j scores the max
    of the middle slots j-before .. j+after (a MaxPool over the middle slots, the ends padded with
    nothing), so the top-k brings the slot after each high-scoring slot along, each slot once, within
    the same budget; a selection then stays good for several steps (prediction interval > 1).
    The top-k sits in both branches, so the scores without neighbour fetch are not copied.
    ordered: as two_stage_topk."""
    before, after = span
    pooled = lambda: g.op("Squeeze", g.op("MaxPool", g.op("Unsqueeze", sc, g.const([1])), kernel_shape=[before + after + 1],
                                          pads=[before, after], strides=[1]), g.const([1]))
    return if_node(g, "neighbors", lambda: two_stage_topk(g, pooled(), k, rows, ordered=ordered),
                   lambda: two_stage_topk(g, sc, k, rows, ordered=ordered),
                   TensorProto.INT64, f"neighbours_{g.n}")


def layer_selection(g: G, c: Config, sh: Shared, x, l: int, cons: list[int]) -> dict:
    """{consumer layer: selected slots [Hkv, K]} for the consumers of the producer at layer l: a fresh
    selection, or (prediction interval > 1, input reuse_selection) the previous step's selection with
    the slot that just left the recent window (P-1-recent) replaced by the slot that just entered it (P-1)."""
    Hkv, n = c.n_kv_heads, len(cons)
    rows_of = g.const([(m - 1) * Hkv + h for m in cons for h in range(Hkv)])   # their rows of prev_selected
    qimp = importance_queries(g, c, sh, x, l, cons)
    g.scope = "selection"
    outer, g.nodes = g.nodes, []
    fresh = fresh_selection(g, c, sh, qimp, cons)
    fresh_nodes, g.nodes = g.nodes, []
    newest = g.op("Sub", "start_pos", g.const([1]))
    prev_sel = g.op("Gather", "prev_selected", rows_of, axis=0)
    reused = g.op("Where", g.op("Equal", prev_sel, g.op("Sub", newest, "recent")), newest, prev_sel)
    reuse_nodes, g.nodes = g.nodes, outer
    branch = lambda nodes, out, name: helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(out, TensorProto.INT64, None)])
    top = g.op("If", "reuse_selection", then_branch=branch(reuse_nodes, reused, f"reuse_selection_{l}"),
               else_branch=branch(fresh_nodes, fresh, f"fresh_selection_{l}"))
    parts = g.op("Split", top, g.const([Hkv] * n), axis=0, n_out=n) if n > 1 else top
    return dict(zip(cons, [parts] if n == 1 else parts))


def selection_inputs(g: G, c: Config, sh: Shared):
    """Per-layer-independent parts of the selection: the flat row offset of each KV head, log(distance)."""
    Hkv = c.n_kv_heads
    sh.head_base = g.op("Unsqueeze", g.op("Mul", g.op("Range", g.const(0), g.const(Hkv), g.const(1)), sq(g, sh.C)), g.const([1]))
    if c.pred_dist:  # log(query position - key position) of the middle slots
        fl = lambda t: g.op("Cast", sq(g, t), to=TensorProto.FLOAT)
        sh.logd = g.op("Log", g.op("Range", fl(g.op("Sub", "start_pos", sh.n_sink)), fl(g.op("Sub", "start_pos", sh.w0)),
                                   g.const(-1.0, np.float32)))                                      # [M]: log(P - j), j = n_sink .. w0-1


def gather_selected(g: G, c: Config, sh: Shared, idx, Kp, Vp, l: int, Ks=None, Vs=None):
    """The selected K/V rows of layer l (output selected.{l}), for the pointer heads their token ids, and
    (compact cache) the selected rows' steps from Ks, Vs [Hkv, C]."""
    D = c.head_dim
    g.scope = "selection"
    g.rename(idx, f"selected.{l}")
    sh.outs.append(helper.make_tensor_value_info(f"selected.{l}", TensorProto.INT64, [c.n_kv_heads, "K"]))
    # flat row gather (Gather on [Hkv*C, D] is much cheaper than GatherND with batch_dims)
    flat = g.op("Add", idx, sh.head_base)
    Kp = g.op("Gather", g.op("Reshape", Kp, g.const([-1, D])), flat, axis=0)   # [Hkv, K, D]
    Vp = g.op("Gather", g.op("Reshape", Vp, g.const([-1, D])), flat, axis=0)
    src_past = lambda kv: g.op("Gather", "ctx_ids", g.op("Gather", idx, g.const(kv), axis=0))
    if Ks is not None:  # the same flat indices into the steps viewed as [Hkv*C]
        Ks = g.op("Gather", g.op("Reshape", Ks, g.const([-1])), flat, axis=0)   # [Hkv, K]
        Vs = g.op("Gather", g.op("Reshape", Vs, g.const([-1])), flat, axis=0)
    return Kp, Vp, src_past, Ks, Vs


def ascending(g: G, idx, n):
    """The indices idx [rows, k] (k distinct per row, each < n) in ascending order, without a sort: ones
    scattered into a [rows, n] mask, whose NonZero coordinates come row by row in ascending column order.
    Linear in rows * n, where a TopK sort of k costs k log k comparisons through an index indirection."""
    rows = g.op("Shape", idx, start=0, end=1)
    mask = g.op("ConstantOfShape", g.op("Concat", rows, n, axis=0), value=helper.make_tensor("v", TensorProto.BOOL, [1], [False]))
    ones = g.op("ConstantOfShape", g.op("Shape", idx), value=helper.make_tensor("v", TensorProto.BOOL, [1], [True]))
    nz = g.op("NonZero", g.op("ScatterElements", mask, idx, ones, axis=1))                    # [2, rows * k]
    return g.op("Reshape", g.op("Gather", nz, g.const(1), axis=0), g.op("Concat", rows, g.const([-1]), axis=0))


def two_stage_topk(g: G, sc, k, rows: int, block: int = TOPK_BLOCK, ordered: bool = True):
    """Exact per-row top-k indices of sc [rows, C], in ascending position order (ordered), or in the
    order the last TopK leaves them (the sparse graph: attention sums over its rows in any order, and
    ordering them costs more than it saves in the K/V row gathers, bench/results.md).

    ORT's TopK takes its heap path for k=648 of 32k (~0.3 ms a row: ~k*ln(C/k) heap
    replacements). Instead: the max of every `block` scores, the top-k blocks by that max (every
    top-k element lies in one of them: a block holding one has a max >= the k-th value, and at
    most k blocks do), then the top-k among those k*block candidates. Both TopKs fall on ORT's
    nth_element path. The chosen blocks are put in ascending order before their candidates are
    gathered, so candidate order is position order (TopK's ties go to the lower position) and
    ascending candidates (ascending(), no sort) are ascending positions."""
    C = g.op("Shape", sc, start=1)                                              # [1]
    pad = g.op("Mod", g.op("Sub", g.const([block]), g.op("Mod", C, g.const([block]))), g.const([block]))
    scp = g.op("Pad", sc, g.op("Concat", g.const([0, 0, 0]), pad, axis=0), g.const(NEG, np.float32))
    blocks = g.op("Reshape", scp, g.const([rows, -1, block]))                   # [rows, nb, block]
    bmax = g.op("ReduceMax", blocks, axes=[2], keepdims=0)                     # [rows, nb]
    nb = g.op("Shape", bmax, start=1)
    _, bidx = g.op("TopK", bmax, g.op("Min", k, nb), axis=-1, largest=1, sorted=0, n_out=2)   # [rows, kb]
    bidx = ascending(g, bidx, nb)
    flat_b = g.op("Add", bidx, g.op("Mul", g.const(np.arange(rows).reshape(rows, 1)), nb))
    cand = g.op("Reshape", g.op("Gather", g.op("Reshape", blocks, g.const([-1, block])), flat_b, axis=0), g.const([rows, -1]))
    _, ci = g.op("TopK", cand, k, axis=-1, largest=1, sorted=0, n_out=2)      # [rows, k]
    if ordered:
        ci = ascending(g, ci, g.op("Shape", cand, start=1))
    return g.op("Add", g.op("Mul", g.op("GatherElements", bidx, g.op("Div", ci, g.const([block])), axis=1), g.const([block])),
                g.op("Mod", ci, g.const([block])))
