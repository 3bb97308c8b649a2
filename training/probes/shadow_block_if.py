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
    --diagnose       int8 only: plain, plain with prepacking off, the blocks inlined (no If), the blocks in Ifs
    --if-overhead    only the Ifs (Identity branches): the control flow's own cost per If
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
import onnxruntime as ort

EPS = 1e-6

from shadow_block_if_graphs import (  # noqa: E402
    block_if,
    diagnose,
    gather,
    if_only,
    op_counts,
    plain_fp32,
    quantized,
    reference,
    rel,
    session,
    weights,
)


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
    ap.add_argument("--diagnose", action="store_true", help="only: plain, plain without prepacking, blocks without / with Ifs (int8)")
    ap.add_argument("--if-overhead", action="store_true", help="only time the Ifs alone (Identity branches), per If")
    a = ap.parse_args()
    log = lambda s: print(s, flush=True)
    if a.diagnose:
        for layers in [int(v) for v in a.layers.split(",")]:
            for nb in [int(v) for v in a.blocks.split(",")]:
                diagnose(layers, nb, a.rounds, a.d, a.ffn, log)
        return
    if a.if_overhead:
        x = np.ones((1, a.d), np.float32)
        for layers in [int(v) for v in a.layers.split(",")]:
            for nb in [int(v) for v in a.blocks.split(",")]:
                s = session(if_only(layers, nb, a.d))
                for kp in (1.0, 0.5):
                    keep = np.zeros(layers * nb, bool); keep[::int(round(1 / kp))] = True
                    ts = []
                    for _ in range(a.rounds):
                        s.run(None, {"x": x, "keep": keep})
                        t = time.perf_counter(); s.run(None, {"x": x, "keep": keep}); ts.append(time.perf_counter() - t)
                    ms = 1000 * statistics.median(ts)
                    per_if = 1000 * ms / (layers * nb)
                    log(f"Ifs only: N={layers} B={nb} keep {kp:.0%}: {layers * nb} Ifs, {ms:.3f} ms per step, {per_if:.1f} us per If")
        return
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
