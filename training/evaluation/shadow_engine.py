"""bits/byte of the engine's ShadowLLM settings (issue 29 item 3): the folder's ShadowLLM predictor (shadow.fp16.safetensors)
choosing head_keep heads and ffn_keep neurons in layers 1..L-1 at every position, against the same windows without
contextual sparsity. The reference (shadow.forward with the predictor's top-k masks, fp32, dense attention) scores
--windows windows; the shipped graphs (dense/sparse.shadow.int8.onnx, token by token, the compact cache, the sparse
graph at --budget from the engine's crossover on) score the first --onnx-windows of them with the same keeps.

    python3 training/evaluation/shadow_engine.py --windows 32 --onnx-windows 4 --out training/work/shadow/engine_bpb.json
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
import numpy as np
import torch
from tokenizers import Tokenizer
from tqdm import tqdm

from tbtrain import shadow, shadow_pred
from tbtrain.checkpoints import folder_config, lm_from_folder
from tbtrain.metrics import token_bytes
from tbtrain.ort_runner import GraphRunner
from tbtrain.paths import TRAINING
from tbtrain.selection import ENGINE_RECENT, ENGINE_SINKS
from tbtrain.shadow_export import load_predictor

SETTINGS = {"off": (1.0, 1.0), "neurons 75%": (1.0, 0.75), "neurons 50%": (1.0, 0.5), "heads 75%": (0.75, 1.0),
            "both 75%": (0.75, 0.75)}   # (heads, neurons) kept


def counts(cfg, kh: float, kn: float) -> tuple[int, int]:
    return shadow.keep_count(cfg.n_heads, kh), shadow.keep_count(cfg.ffn_dim, kn)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(TRAINING.parent / "models/default"))
    ap.add_argument("--pred", default=None, help="default: the folder's shadow.fp16.safetensors")
    ap.add_argument("--data", choices=["corpus", "heldout"], default="corpus")
    ap.add_argument("--corpus", default=str(TRAINING / "work/corpus"))
    ap.add_argument("--ws", default=str(TRAINING / "work/heldout/ws"))
    ap.add_argument("--cache", default=str(TRAINING / "work/shadow"))
    ap.add_argument("--windows", type=int, default=32)
    ap.add_argument("--onnx-windows", type=int, default=0)
    ap.add_argument("--budget", type=int, default=64, help="the sparse graph's budget (tokenbutler)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    folder = pathlib.Path(args.model)
    cfg = folder_config(folder)
    lm = lm_from_folder(folder).eval().requires_grad_(False)
    sp = load_predictor(args.pred or folder / "shadow.fp16.safetensors", cfg)
    tok = folder / "tokenizer.json"
    if args.data == "corpus":
        rows = shadow_pred.corpus_windows(pathlib.Path(args.corpus), tok, pathlib.Path(args.cache), 1024, "valid")
    else:
        rows = shadow_pred.heldout_windows(pathlib.Path(args.ws), tok, pathlib.Path(args.cache), 1024)["eval"]
    rows = shadow_pred.spread(rows, args.windows, seed=0)
    tb = token_bytes(Tokenizer.from_file(str(tok)))
    nats = {k: 0.0 for k in SETTINGS}
    nbytes = 0.0
    for row in tqdm(rows, desc="reference", unit="win"):
        ids = torch.from_numpy(row)[None]
        x, y, prev = ids[:, :-1], ids[:, 1:], torch.zeros(1, dtype=torch.long)
        nbytes += shadow.window_bytes(tb, y)
        with torch.no_grad():
            for k, (kh, kn) in SETTINGS.items():
                masks = None if k == "off" else shadow_pred.predicted_masks(sp, kh, kn)
                nats[k] += shadow.forward(lm, x, prev, y, masks=masks).sum().item()
    bpb = {k: shadow.bits_per_byte(v, nbytes) for k, v in nats.items()}
    res = {"data": args.data, "windows": len(rows), "bytes": nbytes, "bpb": bpb,
           "loss_vs_off_pct": {k: 100 * (v / bpb["off"] - 1) for k, v in bpb.items()},
           "keeps": {k: dict(zip(("head_keep", "ffn_keep"), counts(cfg, *v))) for k, v in SETTINGS.items()}}
    if args.onnx_windows:
        res["onnx"] = onnx_bpb(folder, cfg, rows[:args.onnx_windows], tb, args.budget)
    print(json.dumps(res, indent=1))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(res, indent=1))


def onnx_bpb(folder: pathlib.Path, cfg, rows, tb, budget: int) -> dict:
    """Token-by-token decode through the folder's ShadowLLM graphs for every setting: the dense graph, and the sparse
    graph (tokenbutler at `budget`) wherever the engine would run it (P > sinks + recent + budget; dense before)."""
    graphs = json.loads((folder / "manifest.json").read_text())["shadow"]["graphs"]
    out = {}
    for kind in ("dense", "sparse"):
        nats = {k: 0.0 for k in SETTINGS}
        nbytes = 0.0
        r = GraphRunner(folder, len(rows[0]) + 8, cfg, graphs=graphs)
        for row in tqdm(rows, desc=f"onnx {kind}", unit="win"):
            ids = row.tolist()
            nbytes += float(tb[row[1:]].sum())
            for k, (kh, kn) in SETTINGS.items():
                h, n = counts(cfg, kh, kn)
                extra = {"ffn_keep": np.array([n], np.int64), "head_keep": np.array([h], np.int64)}
                r.reset()
                for t in range(len(ids) - 1):   # as the engine: dense while the selection would be all (or nothing is cached)
                    sparse = kind == "sparse" and t > ENGINE_SINKS + ENGINE_RECENT + budget
                    lg = r.run([ids[t]], sparse=sparse, budget=budget, extra=extra)["logits"][0].astype(np.float64)
                    nats[k] += float(np.log(np.exp(lg - lg.max()).sum()) + lg.max() - lg[ids[t + 1]])
        b = {k: shadow.bits_per_byte(v, nbytes) for k, v in nats.items()}
        out[kind] = {"windows": len(rows), "bpb": b, "loss_vs_off_pct": {k: 100 * (v / b["off"] - 1) for k, v in b.items()}}
    return out


if __name__ == "__main__":
    main()
