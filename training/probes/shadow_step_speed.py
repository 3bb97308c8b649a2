"""ShadowLLM decode speed (issue 29, item 4): ms per decode step of the whole LM (tbtrain/shadow_graph.py) with
the ShadowLLM predictor and only the kept heads / FFN neurons, against the dense step, in onnxruntime with the
engine's settings (1 intra-op thread, no spinning, all graph optimizations), the variants alternating in one
run at each context length (random cache rows, start_pos = context).

    python3 training/probes/shadow_step_speed.py --shape default --precision int8,fp32
    python3 training/probes/shadow_step_speed.py --shape qwen0.5b --precision int8 --block 128

--shape default: models/default's weights and the trained ShadowLLM predictor (work/shadow/pred/pred.pt, else a
random one of the same size); qwen0.5b: random weights of Qwen2.5-Coder-0.5B's shape and a random predictor
(speed only). --engine adds the model folder's own dense graph (docs/graph-contract.md) as a reference row.
Graphs go to work/shadow/graphs (git-ignored; the 0.5B ones are ~0.6-2 GB each), results to --out."""
from __future__ import annotations

import argparse
import gc
import json
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np
import onnx
import onnxruntime as ort
import torch

from tbtrain.checkpoints import load_lm
from tbtrain.model import Config
from tbtrain.paths import TRAINING
from tbtrain.shadow_graph import build_step, lm_weights, predictor_weights, random_weights
from tbtrain.shadow_pred import ShadowPredictor, n_params

QWEN05 = Config(vocab_size=151936, d_model=896, n_layers=24, n_heads=14, n_kv_heads=2, head_dim=64, ffn_dim=4864,
                rope_theta=1e6, norm_eps=1e-6, prev_token=False, copy_heads=(), ngram_max=0, attn_bias=True)


def variants(keeps: list[float], block: int) -> dict:
    """name -> build_step keyword arguments."""
    v = {"dense": {}, "dense+predictor": dict(predictor=True, keep_heads=0.5, keep_neurons=0.5)}  # predictor + top-k, nothing skipped
    for k in keeps:
        v[f"neurons gather {k:.0%}"] = dict(neurons_mode="gather", keep_neurons=k)
        v[f"neurons blocks{block} {k:.0%}"] = dict(neurons_mode="blocks", keep_neurons=k, block=block)
        v[f"heads skip {k:.0%}"] = dict(heads_mode="skip", keep_heads=k)
    v[f"both: heads {keeps[0]:.0%} + blocks{block} {keeps[0]:.0%}"] = dict(heads_mode="skip", neurons_mode="blocks", keep_heads=keeps[0],
                                                                           keep_neurons=keeps[0], block=block)
    return v


def session(path: pathlib.Path) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def feeds_for(s: ort.InferenceSession, c: Config, T: int, rng) -> dict:
    """One decode step at T cached tokens, for the step graph or the engine's dense graph (same input names)."""
    cache = rng.standard_normal((c.n_kv_heads, T, c.head_dim), dtype=np.float32)
    f = {"input_ids": np.array([[7]], np.int64), "start_pos": np.array([T], np.int64), "prev_id": np.array([5], np.int64),
         "ctx_ids": np.full(T, 9, np.int64)}
    for l in range(c.n_layers):
        f[f"past_k.{l}"] = f[f"past_v.{l}"] = cache
    return {i.name: f[i.name] for i in s.get_inputs()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=["default", "qwen0.5b"], default="default")
    ap.add_argument("--precision", default="int8,fp32")
    ap.add_argument("--keeps", default="0.5,0.25")
    ap.add_argument("--block", type=int, default=64, help="neurons per block (blocks variant)")
    ap.add_argument("--only", default="", help="comma-separated variant-name prefixes to run (dense is always run)")
    ap.add_argument("--ctx", default="512,2048")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--hidden", type=int, default=32, help="predictor width for a random predictor")
    ap.add_argument("--engine", default=None, help="a model folder whose dense graph is timed alongside")
    ap.add_argument("--reuse", action="store_true", help="load a variant's graph from work/shadow/graphs when it is there")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.manual_seed(0)
    if args.shape == "default":
        lm = load_lm(TRAINING.parent / "models/default"); c = lm.cfg; W = lm_weights(lm)
        lm_params = lm.num_params()
        pred = ShadowPredictor(c.d_model, c.n_layers - 1, c.n_heads, c.ffn_dim, args.hidden)
        ck = TRAINING / "work/shadow/pred/pred.pt"
        if ck.exists():
            pred.load_state_dict(torch.load(ck, weights_only=False)["preds"]["shadow"]); trained = True
        else:
            trained = False
    else:
        c = QWEN05; W = random_weights(c)
        lm_params = sum(v.size for k, v in W.items() if k not in ("lm_head.weight_t", "rope.inv_freq"))
        pred = ShadowPredictor(c.d_model, c.n_layers - 1, c.n_heads, c.ffn_dim, args.hidden); trained = False
    P = predictor_weights(pred)
    gdir = TRAINING / f"work/shadow/graphs/{args.shape}"
    gdir.mkdir(parents=True, exist_ok=True)
    keeps = [float(k) for k in args.keeps.split(",")]
    only = [o for o in args.only.split(",") if o]
    sessions = {}
    for prec in args.precision.split(","):
        for name, kw in variants(keeps, args.block).items():
            if only and name != "dense" and not any(name.startswith(o) for o in only):
                continue
            key = f"{prec} {name}"
            f = gdir / (key.replace(" ", "_").replace(":", "").replace("+", "_").replace("%", "") + ".onnx")
            t0 = time.time()
            if not (args.reuse and f.exists()):
                m = build_step(c, W, P, int8=prec == "int8", **kw)
                large = sum(t.ByteSize() for t in m.graph.initializer) > 1_500_000_000
                onnx.save_model(m, str(f), save_as_external_data=large, all_tensors_to_one_file=True, location=f.name + ".data")
                del m; gc.collect()
            sessions[key] = session(f)
            print(f"built {key} in {time.time() - t0:.0f} s", flush=True)
    if args.engine:
        eng = pathlib.Path(args.engine)
        man = json.loads((eng / "manifest.json").read_text())
        sessions[f"engine {man['graphs']['dense']}"] = session(eng / man["graphs"]["dense"])
    rng = np.random.default_rng(0)
    res = {"shape": args.shape, "config": c.to_dict(), "lm_params": lm_params, "predictor_params": n_params(pred),
           "predictor_trained": trained, "block": args.block, "reps": args.reps, "ms": {}}
    for T in (int(t) for t in args.ctx.split(",")):
        feeds = {k: feeds_for(s, c, T, rng) for k, s in sessions.items()}
        times = {k: [] for k in sessions}
        for r in range(args.reps + 2):
            for k, s in sessions.items():  # alternating: every variant once per round
                t0 = time.perf_counter(); s.run(["logits"], feeds[k]); dt = time.perf_counter() - t0
                if r >= 2:
                    times[k].append(1000 * dt)
        res["ms"][T] = {k: statistics.median(v) for k, v in times.items()}
        print(f"\ncontext {T} (median of {args.reps} alternating rounds, 1 thread)")
        print("| variant | ms/step | speedup vs dense (same precision) |\n|---|---|---|")
        for k, ms in res["ms"][T].items():
            base = res["ms"][T].get(k.split(" ")[0] + " dense")
            print(f"| {k} | {ms:.2f} | {base / ms if base else float('nan'):.2f}x |")
    print(f"\nLM {lm_params:,} parameters; ShadowLLM predictor {n_params(pred):,} ({100 * n_params(pred) / lm_params:.2f}%)")
    out = pathlib.Path(args.out) if args.out else TRAINING / f"work/shadow/step_speed_{args.shape}.json"
    out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
