"""Imports a pretrained Llama-family checkpoint as a model folder of the graph contract (docs/graph-contract.md):
dense and sparse ONNX graphs built by the same graph builder as the default model (tbtrain/graph.py), the
checkpoint's tokenizer, and a manifest whose special tokens come from that tokenizer.

python3 training/pipeline/import_hf.py --hf DIR --out MODEL_DIR        # config.json, *.safetensors, tokenizer.json
python3 training/pipeline/import_hf.py --gguf FILE.gguf --out MODEL_DIR [--tokenizer tokenizer.json]

Then `node dist/cli.js complete --model MODEL_DIR ...` or the setting tokenbutler.modelPath. Until a
predictor is trained for it, the folder's sparse graph carries an untrained predictor: the manifest says
so ("predictor": {"trained": false}) and the engine runs the `tokenbutler` policy as dense (with a
notice); `dense` and `window` work as for the default model. Errors: one line on stderr, exit code 2.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.hf_import import ImportError_, fim_mode, load_hf_folder
from tbtrain.model_folder import export
from tbtrain.predictor import Predictor, calibrate_ik_scale


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Hugging Face folder or GGUF file -> TokenButler model folder")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--hf", help="folder with config.json, *.safetensors and tokenizer.json")
    src.add_argument("--gguf", help="a GGUF file (llama or qwen2; f32/f16/bf16/q8_0 tensors)")
    ap.add_argument("--out", required=True, help="the model folder to write")
    ap.add_argument("--tokenizer", default=None, help="with --gguf: the model's tokenizer.json (default: rebuilt from the file)")
    ap.add_argument("--precision", choices=["int8", "fp32", "both"], default="int8",
                    help="graphs the manifest names: int8 (default; the fp32 files are dropped), fp32, or both written with int8 named")
    ap.add_argument("--name", default=None, help="the manifest's model name (default: the source's name)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = pathlib.Path(args.out)
    t0 = time.time()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.hf:
                lm, notes, tok_path, special = load_hf_folder(args.hf)
                source = {"kind": "huggingface", "path": str(pathlib.Path(args.hf).resolve())}
            else:
                from tbtrain.gguf_import import load_gguf
                tok_path = pathlib.Path(tmp) / "tokenizer.json"
                lm, notes, special = load_gguf(args.gguf, tok_path, pathlib.Path(args.tokenizer) if args.tokenizer else None)
                source = {"kind": "gguf", "path": str(pathlib.Path(args.gguf).resolve())}
            cfg = lm.cfg
            print(f"loaded {notes['architecture']}: {cfg.n_layers} layers, d {cfg.d_model}, {cfg.n_heads} query / "
                  f"{cfg.n_kv_heads} KV heads, vocab {cfg.vocab_size} ({time.time() - t0:.0f} s)", file=sys.stderr)
            pred = untrained_predictor(lm, args.seed)
            fim = fim_mode(special)
            extra = {
                "name": args.name or pathlib.Path(args.hf or args.gguf).name.removesuffix(".gguf"),
                "specialTokens": special,
                "fim": fim,
                "predictor": {"trained": False, "policies": ["dense", "window"],
                              "note": "untrained predictor: the tokenbutler policy runs as dense until one is distilled for this model"},
                "source": {**source, **notes},
                "training": {"note": "imported pretrained weights (training/pipeline/import_hf.py)"},
            }
            m = export(lm, pred, out, tok_path, extra, int8=args.precision != "fp32", keep_fp32=args.precision != "int8")
    except ImportError_ as e:
        print(f"import_hf: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"out": str(out), "graphs": m["graphs"], "fim": fim, "specialTokens": special, "params": m["params"],
                      "seconds": round(time.time() - t0, 1)}, indent=1))
    return 0


def untrained_predictor(lm, seed: int) -> Predictor:
    """A predictor of the default layout with random weights and int8 key steps calibrated on random token ids:
    it makes the sparse graph complete (window policy, speed measurements) until one is distilled."""
    pred = Predictor(lm.cfg).eval().requires_grad_(False)
    ids = np.random.default_rng(seed).integers(0, lm.cfg.vocab_size, 256)
    calibrate_ik_scale(lm, pred, [(0, ids)])
    return pred


if __name__ == "__main__":
    sys.exit(main())
