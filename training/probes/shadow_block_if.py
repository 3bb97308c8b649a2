"""Block-wise conditional FFN (issue 29, item 4): can an `If` per block of neurons make contextual FFN sparsity pay
in stock onnxruntime on the Qwen2.5-Coder-0.5B shape (d 896, 4,864 neurons)?

One decode step ([1, d]) through N random-weight SwiGLU FFN layers, each x <- x + FFN(rmsnorm(x)) (attention and
the output head left out), in three forms:
  plain    the full FFN: gate / up / down MatMuls on constant weights (prepacked)
  blockB   the F neurons in B blocks of F/B, each block's gate+up columns ([d, 2F/B], gate then up) and down rows
           ([F/B, d]) its own constant initializer (slices of the same weights), computed inside an `If` whose
           condition is keep[l*B + b] (bool input [N*B]); then: MatMul, SiLU*up, MatMul -> [1, d]; else: zeros.
           The layer's output is the Sum of its blocks'.
  gather   the current shadow_export form: the kept neurons' gate/up columns (rows of the transposed weight) and
           down rows gathered by index (int64 input [N, k]) before the MatMuls (a copy every step)
fp32: MatMul. int8: the form model_folder.quantize_int8 / shadow_export.quantized give the plain layers
(quantize_dynamic, per-column symmetric int8 weights: DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul by
the two scales, which onnxruntime fuses to MatMulIntegerToFloat / DynamicQuantizeMatMul); the plain int8 graph
is the quantizer's own output of the plain fp32 graph. In blockB int8 the layer's input is quantized once, outside
the Ifs, and the block's down product quantizes its own activations (the plain one quantizes all F together, so
keep 100% agrees with plain to the quantization step, not bit for bit); the weights and their per-column
scales are the quantizer's, sliced.

Timing: every variant gets its own session (1 intra-op thread, spinning off, ORT_ENABLE_ALL); each round runs the
variants in a rotated order, each an untimed run then a timed run on the same x (a new random block / neuron choice
per step); p50 over the rounds. Checks (asserts): blockB at keep 100% equals plain, and at keep < 100% equals a
numpy reference that zeroes the dropped blocks (fp32); gather at keep 100% equals plain.

    nice -n 10 python3 training/probes/shadow_block_if.py --layers 4 --precision fp32,int8 --blocks 4,8,16 --gather
    nice -n 10 python3 training/probes/shadow_block_if.py --layers 24 --precision int8 --blocks 4,8,16 --gather
    --inner          each block's weights are initializers of its then branch instead of the main graph
The diagnosis and If-overhead numbers in bench/shadowllm.md came from the --diagnose and --if-overhead modes of
this script at commit 6d77926 (`git show 6d77926:training/probes/shadow_block_if.py`).
Results: bench/shadowllm.md, "Block-wise conditional FFN (If per block)".
"""
from __future__ import annotations

import argparse
import json
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



def run_config(prec, layers, blocks, keeps, rounds, do_gather, d, F, log, inner=False):
    int8 = prec == "int8"
    W = weights(layers, d, F)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, d), dtype=np.float32)
    pf = plain_fp32(W, d)
    tmpd = tempfile.TemporaryDirectory()
    sess = {"plain": session(quantized(pf) if int8 else pf, f"{tmpd.name}/plain.onnx" if layers <= 4 else None)}
    del pf
    ref = reference(W, x)
    out_plain = sess["plain"].run(None, {"x": x})[0]
    dy = lambda o: o - x                                                       # the layers' summed FFN outputs
    # int8: the quantizer's plain graph is within its quantization error of fp32 (the int8 checks below are against it)
    e = rel(dy(out_plain), ref - x)
    assert e < (0.15 if int8 else 1e-4), ("plain vs reference", e)
    checks = {"plain_vs_fp32_ref": e}
    if layers <= 4:
        checks["plain_optimized_ops"] = op_counts(f"{tmpd.name}/plain.onnx")
    tmpd.cleanup()
    with tempfile.TemporaryDirectory() as tmp:
        for nb in blocks:
            m = block_if(W, d, nb, int8, inner)
            s = sess[f"block{nb}"] = session(m, f"{tmp}/b{nb}.onnx" if layers <= 4 else None)
            del m
            if layers <= 4:
                checks[f"block{nb}_optimized_ops"] = op_counts(f"{tmp}/b{nb}.onnx")
            full = s.run(None, {"x": x, "keep": np.ones(layers * nb, bool)})[0]
            e = rel(dy(full), dy(out_plain))
            # fp32: the same sums in another order. int8: both are within their quantization error of the fp32
            # reference (a few %; a wrong block would be ~100%), and the block form's (its down product quantizes
            # each block's activations on their own scale) is no larger than the plain graph's
            assert e < (1.5 * checks["plain_vs_fp32_ref"] if int8 else 1e-4), (f"block{nb} keep 100% vs plain", e)
            checks[f"block{nb}_keep100_vs_plain"] = e
            if int8:
                eb = rel(dy(full), ref - x)
                assert eb < 1.1 * checks["plain_vs_fp32_ref"], (f"block{nb} keep 100% vs reference", eb)
                checks[f"block{nb}_keep100_vs_fp32_ref"] = eb
            mask = np.zeros(layers * nb, bool)
            for l in range(layers):
                mask[l * nb + rng.permutation(nb)[:nb // 2]] = True
            half = s.run(None, {"x": x, "keep": mask})[0]
            e = rel(dy(half), reference(W, x, mask, nb) - x)
            assert e < (1.1 * checks["plain_vs_fp32_ref"] if int8 else 1e-4), (f"block{nb} keep 50% vs masked reference", e)
            checks[f"block{nb}_keep50_vs_masked_ref"] = e
        if do_gather:
            m = gather(W, d, int8)
            s = sess["gather"] = session(m)
            del m
            full = s.run(None, {"x": x, "idx": np.tile(np.arange(F, dtype=np.int64), (layers, 1))})[0]
            e = rel(dy(full), dy(out_plain))
            assert e < (1e-6 if int8 else 1e-4), ("gather keep 100% vs plain", e)
            checks["gather_keep100_vs_plain"] = e
    del W
    log(f"checks {prec} N={layers}: {json.dumps(checks)}")

    # variants: (name, session, feeds() -> a new random choice per step)
    def block_feed(nb, k):
        def f():
            m = np.zeros(layers * nb, bool)
            for l in range(layers):
                m[l * nb + rng.permutation(nb)[:k]] = True
            return {"x": x, "keep": m}
        return f

    def gather_feed(k):
        return lambda: {"x": x, "idx": np.stack([np.sort(rng.permutation(F)[:k]) for _ in range(layers)]).astype(np.int64)}
    variants = [("plain", sess["plain"], lambda: {"x": x})]
    for nb in blocks:
        for kp in keeps:
            k = max(1, int(round(kp * nb)))
            variants.append((f"block{nb} {k}/{nb}", sess[f"block{nb}"], block_feed(nb, k)))
    if do_gather:
        for kp in keeps:
            if kp < 1:
                variants.append((f"gather {int(round(kp * 100))}%", sess["gather"], gather_feed(int(round(kp * F)))))
    ts = {v[0]: [] for v in variants}
    for r in range(rounds):
        for i in range(len(variants)):
            name, s, feed = variants[(i + r) % len(variants)]
            s.run(None, feed())
            f = feed()
            t = time.perf_counter(); s.run(None, f); ts[name].append(time.perf_counter() - t)
    p50 = {k: 1000 * statistics.median(v) for k, v in ts.items()}
    return p50, checks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", default="4")
    ap.add_argument("--precision", default="fp32,int8")
    ap.add_argument("--blocks", default="4,8,16")
    ap.add_argument("--keeps", default="1,0.5,0.25")
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--gather", action="store_true", help="also time the current Gather form")
    ap.add_argument("--d", type=int, default=896)
    ap.add_argument("--ffn", type=int, default=4864)
    ap.add_argument("--out", default=None, help="json results")
    ap.add_argument("--inner", action="store_true", help="each block's weights are initializers of its then branch")
    a = ap.parse_args()
    log = lambda s: print(s, flush=True)
    log(f"loadavg start: {pathlib.Path('/proc/loadavg').read_text().strip()}; onnxruntime {ort.__version__}")
    res = []
    for prec in a.precision.split(","):
        for layers in [int(v) for v in a.layers.split(",")]:
            t0 = time.time()
            p50, checks = run_config(prec, layers, [int(v) for v in a.blocks.split(",")], [float(v) for v in a.keeps.split(",")],
                                     a.rounds, a.gather, a.d, a.ffn, log, a.inner)
            load = pathlib.Path("/proc/loadavg").read_text().strip()
            log(f"\n{prec} N={layers} ({a.rounds} rounds, {time.time() - t0:.0f} s); loadavg {load}")
            log("| variant | ms p50 | plain / variant |\n|---|---|---|")
            for k, v in p50.items():
                log(f"| {k} | {v:.2f} | {p50['plain'] / v:.2f}x |")
            res.append({"precision": prec, "layers": layers, "p50_ms": p50, "checks": checks})
    log(f"loadavg end: {pathlib.Path('/proc/loadavg').read_text().strip()}")
    if a.out:
        pathlib.Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
