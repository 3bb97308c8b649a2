"""Graph builders, references and sessions of training/probes/shadow_block_if.py (see its docstring)."""
from __future__ import annotations

import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

EPS = 1e-6


class B:
    """A tiny graph writer: unique names, constants as initializers of the main graph."""

    def __init__(self):
        self.n, self.nodes, self.inits = 0, [], []

    def op(self, t, *ins, n_out=1, **kw):
        self.n += 1
        outs = [f"t{self.n}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(t, list(ins), outs, name=f"n{self.n}", **kw))
        return outs[0] if n_out == 1 else outs

    def const(self, v, name=None):
        self.n += 1
        name = name or f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(v), name))
        return name


def weights(layers, d, F, seed=1):
    rng = np.random.default_rng(seed)
    return [{k: (rng.standard_normal(s, dtype=np.float32) * 0.02) for k, s in
             (("gate", (d, F)), ("up", (d, F)), ("down", (F, d)))} for _ in range(layers)]


def quant_cols(w):
    """onnxruntime quantize_dynamic's per-channel symmetric QInt8 weights (axis 1): scale max|w| / 127."""
    s = (np.abs(w).max(0) / 127.0).astype(np.float32)
    return np.clip(np.round(w / s), -127, 127).astype(np.int8), s


def rms(g, x):
    return g.op("Mul", x, g.op("Reciprocal", g.op("Sqrt", g.op("Add", g.op("ReduceMean", g.op("Mul", x, x), axes=[-1], keepdims=1),
                                                              g.const(np.float32(EPS))))))


def swiglu(g, gt, u):
    return g.op("Mul", g.op("Mul", gt, g.op("Sigmoid", gt)), u)


def model(g, inputs, out, d):
    gr = helper.make_graph(g.nodes, "ffn", inputs, [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, d])], g.inits)
    return helper.make_model(gr, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)], ir_version=9)


def plain_fp32(W, d):
    g = B()
    x = "x"
    for l, w in enumerate(W):
        xn = rms(g, x)
        gt = g.op("MatMul", xn, g.const(w["gate"], f"l{l}.gate"))
        u = g.op("MatMul", xn, g.const(w["up"], f"l{l}.up"))
        x = g.op("Add", x, g.op("MatMul", swiglu(g, gt, u), g.const(w["down"], f"l{l}.down")))
    return model(g, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, d])], x, d)


def quantized(m: onnx.ModelProto) -> onnx.ModelProto:
    """shadow_export.quantized's call on the plain fp32 graph."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = pathlib.Path(tmp) / "p.onnx", pathlib.Path(tmp) / "p.int8.onnx"
        onnx.save_model(m, str(src), save_as_external_data=True, all_tensors_to_one_file=True, location="p.weights")
        quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul"], extra_options={"MatMulConstBOnly": True})
        q = onnx.load(str(dst))
    return q


def q_lin(g, xq, xs, xz, wq, ws):
    """The quantizer's int8 product: MatMulInteger(uint8 x, int8 W) -> Cast -> Mul(x_scale * w_scale)."""
    zp = g.const(np.zeros(wq.shape[1], np.int8))
    y = g.op("Cast", g.op("MatMulInteger", xq, g.const(wq), xz, zp), to=TensorProto.FLOAT)
    return g.op("Mul", y, g.op("Mul", xs, g.const(ws)))


def block_if(W, d, nb, int8, inner=False):
    """The blockB form: one If per block, the block's weights its own initializers (main graph; inner: of the
    then branch)."""
    g = B()
    x = "x"
    F = W[0]["down"].shape[0]
    bs = F // nb
    zero = g.const(np.zeros((1, d), np.float32))
    for l, w in enumerate(W):
        xn = rms(g, x)
        if int8:
            xq, xs, xz = g.op("DynamicQuantizeLinear", xn, n_out=3)
            gq, gs = quant_cols(w["gate"]); uq, us = quant_cols(w["up"]); dq, ds = quant_cols(w["down"])
        parts = []
        for b in range(nb):
            sl = slice(b * bs, (b + 1) * bs)
            outer_nodes, g.nodes = g.nodes, []
            outer_inits = g.inits
            if inner:
                g.inits = []
            if int8:
                gu = q_lin(g, xq, xs, xz, np.ascontiguousarray(np.concatenate([gq[:, sl], uq[:, sl]], 1)),
                           np.concatenate([gs[sl], us[sl]]))
            else:
                gu = g.op("MatMul", xn, g.const(np.ascontiguousarray(np.concatenate([w["gate"][:, sl], w["up"][:, sl]], 1))))
            gt, u = g.op("Split", gu, axis=-1, n_out=2)
            h = swiglu(g, gt, u)
            if int8:
                hq, hs, hz = g.op("DynamicQuantizeLinear", h, n_out=3)
                y = q_lin(g, hq, hs, hz, np.ascontiguousarray(dq[sl]), ds)
            else:
                y = g.op("MatMul", h, g.const(np.ascontiguousarray(w["down"][sl])))
            then_nodes, g.nodes = g.nodes, outer_nodes
            then_inits, g.inits = (g.inits, outer_inits) if inner else ([], g.inits)
            then_g = helper.make_graph(then_nodes, f"l{l}b{b}_then", [], [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)],
                                       then_inits)
            eo = f"l{l}b{b}_zero"
            else_g = helper.make_graph([helper.make_node("Identity", [zero], [eo])], f"l{l}b{b}_else", [],
                                       [helper.make_tensor_value_info(eo, TensorProto.FLOAT, None)])
            cond = g.op("Gather", "keep", g.const(np.int64(l * nb + b)), axis=0)
            parts.append(g.op("If", cond, then_branch=then_g, else_branch=else_g))
        x = g.op("Add", x, g.op("Sum", *parts))
    return model(g, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, d]),
                     helper.make_tensor_value_info("keep", TensorProto.BOOL, [len(W) * nb])], x, d)


def gather(W, d, int8):
    """shadow_export.Surgery.lin's form: kept gate/up columns as rows of the transposed weight, down rows."""
    g = B()
    x = "x"
    T = lambda t: g.op("Transpose", t, perm=[1, 0])
    for l, w in enumerate(W):
        xn = rms(g, x)
        idx = g.op("Gather", "idx", g.const(np.int64(l)), axis=0)                     # [k]
        cols = lambda t, idx=idx: T(g.op("Gather", T(t), idx, axis=0))
        if int8:
            xq, xs, xz = g.op("DynamicQuantizeLinear", xn, n_out=3)
            outs = []
            for k in ("gate", "up"):
                q, s = quant_cols(w[k])
                zero_points = g.op("Gather", g.const(np.zeros(q.shape[1], np.int8)), idx, axis=0)
                y = g.op("Cast", g.op("MatMulInteger", xq, cols(g.const(q)), xz, zero_points), to=TensorProto.FLOAT)
                outs.append(g.op("Mul", y, g.op("Mul", xs, g.op("Gather", g.const(s), idx, axis=0))))
            h = swiglu(g, *outs)
            hq, hs, hz = g.op("DynamicQuantizeLinear", h, n_out=3)
            q, s = quant_cols(w["down"])
            y = g.op("Mul", g.op("Cast", g.op("MatMulInteger", hq, g.op("Gather", g.const(q), idx, axis=0), hz,
                                              g.const(np.zeros(d, np.int8))), to=TensorProto.FLOAT), g.op("Mul", hs, g.const(s)))
        else:
            h = swiglu(g, g.op("MatMul", xn, cols(g.const(w["gate"]))), g.op("MatMul", xn, cols(g.const(w["up"]))))
            y = g.op("MatMul", h, g.op("Gather", g.const(w["down"]), idx, axis=0))
        x = g.op("Add", x, y)
    return model(g, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, d]),
                     helper.make_tensor_value_info("idx", TensorProto.INT64, [len(W), "k"])], x, d)


def if_only(layers, nb, d):
    """The control flow alone: the block form's Ifs, each branch a single Identity ([1, d]), summed per layer."""
    g = B()
    x = "x"
    zero = g.const(np.zeros((1, d), np.float32))
    for l in range(layers):
        parts = []
        for b in range(nb):
            name = f"l{l}b{b}"
            mk = lambda src, tag, name=name: helper.make_graph([helper.make_node("Identity", [src], [f"{name}_{tag}"])], f"{name}{tag}", [],
                                                               [helper.make_tensor_value_info(f"{name}_{tag}", TensorProto.FLOAT, None)])
            cond = g.op("Gather", "keep", g.const(np.int64(l * nb + b)), axis=0)
            parts.append(g.op("If", cond, then_branch=mk(x, "t"), else_branch=mk(zero, "e")))
        x = g.op("Add", x, g.op("Sum", *parts))
    return model(g, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, d]),
                     helper.make_tensor_value_info("keep", TensorProto.BOOL, [layers * nb])], x, d)


def inlined(m: onnx.ModelProto) -> onnx.ModelProto:
    """m with every If replaced by its then branch's nodes (every block computed, no control flow)."""
    nodes = []
    for n in m.graph.node:
        if n.op_type == "If":
            tg = next(a.g for a in n.attribute if a.name == "then_branch")
            nodes += list(tg.node) + [helper.make_node("Identity", [tg.output[0].name], [n.output[0]])]
        else:
            nodes.append(n)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return m


def diagnose(layers, nb, rounds, d, F, log):
    """Where block keep 100% loses against plain (int8): plain with prepacking off (what an If branch would cost
    if its weights were not prepacked), the blocks without Ifs, the blocks in Ifs."""
    W = weights(layers, d, F)
    x = np.random.default_rng(7).standard_normal((1, d), dtype=np.float32)
    q = quantized(plain_fp32(W, d))
    every = {"x": x, "keep": np.ones(layers * nb, bool)}
    V = {"plain": (session(q), {"x": x}), "plain, prepacking off": (session(q, no_prepack=True), {"x": x}),
         f"block{nb} all, no If (inlined)": (session(inlined(block_if(W, d, nb, True))), every),
         f"block{nb} all, If": (session(block_if(W, d, nb, True)), every)}
    ts = {k: [] for k in V}
    for _ in range(rounds):
        for k, (s, f) in V.items():
            s.run(None, f)
            t = time.perf_counter(); s.run(None, f); ts[k].append(time.perf_counter() - t)
    log(f"diagnosis int8 N={layers} ({rounds} rounds):")
    for k, v in ts.items():
        log(f"| {k} | {1000 * statistics.median(v):.2f} |")


def reference(W, x, keep=None, nb=1):
    """numpy fp32: x <- x + FFN(rmsnorm(x)) with the dropped blocks' neurons zeroed."""
    x = x.astype(np.float64)
    for l, w in enumerate(W):
        xn = x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS)
        gt, u = xn @ w["gate"], xn @ w["up"]
        h = gt / (1 + np.exp(-gt)) * u
        if keep is not None:
            h = h * np.repeat(keep[l * nb:(l + 1) * nb], h.shape[1] // nb)
        x = x + h @ w["down"]
    return x


def session(m: onnx.ModelProto, opt_path: str | None = None, no_prepack: bool = False) -> ort.InferenceSession:
    so = ort.SessionOptions()
    if no_prepack:
        so.add_session_config_entry("session.disable_prepacking", "1")
    so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if opt_path:
        so.optimized_model_filepath = opt_path
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])


def op_counts(path) -> dict:
    """Op types of an optimized model, If branches included."""
    m = onnx.load(path, load_external_data=False)
    out: dict = {}

    def walk(gr):
        for n in gr.node:
            out[n.op_type] = out.get(n.op_type, 0) + 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
    walk(m.graph)
    return out


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))
