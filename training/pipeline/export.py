"""Exports the LM + predictor into a model folder: the engine's ONNX graphs (docs/graph-contract.md;
built by tbtrain/graph.py), optional int8 copies measured against fp32, the fp16 training weights and
manifest.json with the training record (tbtrain/model_folder.py).

python3 training/pipeline/export.py --ckpt training/work/ckpt/lm.pt --out models/default [--predictor P.pt]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys

import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.checkpoints import lm_from_folder
from tbtrain.data import Sampler
from tbtrain.metrics import token_bytes
from tbtrain.model import LM, Config
from tbtrain.model_folder import export
from tbtrain.paths import TRAINING
from tbtrain.predictor import Predictor, load_predictor

DEFAULT_TOKENIZER = str(TRAINING / "work/tokenizer.json")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=None, help="LM checkpoint (train.py) or a model folder; omit for random weights")
    ap.add_argument("--predictor", default=None, help="predictor checkpoint (train_predictor.py)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    ap.add_argument("--metrics", default=None, help="JSON file merged into the manifest under 'training'")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--int8", action="store_true", help="ship int8 graphs (measured against fp32)")
    ap.add_argument("--drop-fp32", action="store_true")
    ap.add_argument("--layer0", choices=["dense", "window"], default="dense", help="layer 0 in sparse decode")
    ap.add_argument("--measure", type=int, default=4, help="held-out windows of 512 tokens for the fp32/int8 comparison")
    ap.add_argument("--kv-cache", choices=["f32", "int8"], default=None,
                    help="the engine's K/V cache (config.kv_cache; default: the checkpoint's, else f32): int8 = the compact cache "
                         "(tbtrain/kv_quant.py, bench/kv-cache.md)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    extra = {}
    if args.ckpt and pathlib.Path(args.ckpt).is_dir():  # a model folder: its fp16 LM weights and its manifest's training record
        lm = lm_from_folder(args.ckpt); cfg = lm.cfg
        folder_manifest = json.loads((pathlib.Path(args.ckpt) / "manifest.json").read_text())
        extra["training"] = folder_manifest.get("training", {})
        # an imported checkpoint's own tokenizer, special tokens, FIM layout and source stay with it
        extra.update({k: folder_manifest[k] for k in ("name", "specialTokens", "fim", "source", "predictor") if k in folder_manifest})
        if "source" in folder_manifest and args.tokenizer == DEFAULT_TOKENIZER:
            args.tokenizer = str(pathlib.Path(args.ckpt) / "tokenizer.json")
    elif args.ckpt:
        st = torch.load(args.ckpt, weights_only=False)
        cfg = Config(**st["config"])
        lm = LM(cfg); lm.load_state_dict(st["ema"])
        extra["training"] = {"tokens": st["tokens"], "steps": st["step"], "cpuHours": st.get("cpu_seconds", 0) / 3600,
                             "syntheticCopyTokens": st.get("synthetic_tokens", 0)}
        log = pathlib.Path(args.ckpt).parent / "log.jsonl"
        if log.exists():  # held-out bits/byte and copying metrics along the run
            evals = [json.loads(l) for l in log.read_text().splitlines() if l.strip()]
            last = evals[-1]
            extra["training"].update(
                {
                    k: last[k]
                    for k in (
                        "val_bpb",
                        "ident_first_nats",
                        "ident_later_nats",
                        "ident_ratio",
                        "def_ratio",
                        "dep_ident_ratio",
                        "dep_def_first_nats",
                        "dep_def_later_nats",
                        "dep_def_ratio",
                        "dep_def_pairs",
                        "dep_def_later_tok1_nats",
                        "dep_def_later_rest_nats",
                        "copy_near_nats",
                        "copy_far_nats",
                        "rand_copy1_nats",
                        "rand_copy2_nats",
                    )
                    if k in last
                }
            )
            extra["training"]["curve"] = st.get("prior_curve", []) + [[e["tokens"], round(e["val_bpb"], 4)] for e in evals]
    else:
        cfg = Config(); lm = LM(cfg)
        extra["training"] = {"tokens": 0, "note": "random weights"}
    pred = Predictor(cfg)
    if args.predictor:
        pred, cfg, ps = load_predictor(args.predictor, cfg)
        extra["predictorTraining"] = ps.get("metrics", {})
        if "predictor" in extra:  # an imported model's first trained predictor: tokenbutler runs sparse from now on
            extra["predictor"] = {"trained": True, "policies": ["dense", "window", "tokenbutler"]}
    if args.kv_cache:
        pred.cfg = dataclasses.replace(pred.cfg, kv_cache=args.kv_cache)
    if args.metrics:
        extra["training"].update(json.loads(pathlib.Path(args.metrics).read_text()))
    windows, tbytes = None, None
    if args.int8 and args.measure:
        s = Sampler(TRAINING / "work/tokens", "valid", 512, 0.0, seed=5)
        windows = [s.sample() for _ in range(args.measure)]
        tbytes = token_bytes(Tokenizer.from_file(args.tokenizer))
    m = export(lm.eval(), pred.eval(), pathlib.Path(args.out), pathlib.Path(args.tokenizer), extra,
               int8=args.int8, keep_fp32=not args.drop_fp32, measure_windows=windows, tbytes=tbytes, layer0=args.layer0)
    print(json.dumps({k: m[k] for k in ("params", "precision", "files")}, indent=1))


if __name__ == "__main__":
    main()
