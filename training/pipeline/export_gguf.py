"""Writes a model folder as a GGUF file for llama.cpp (plain `llama` architecture; tbtrain/gguf_export.py
says what the GGUF leaves out). The speed bench's llama.cpp row runs it (npm run bench).

python3 training/pipeline/export_gguf.py --model models/default --out DIR [--type f16|q8_0|f32]
"""
from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.gguf_export import TYPES, export_gguf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/default", help="model folder (manifest.json, tokenizer, lm.fp16.safetensors)")
    ap.add_argument("--out", required=True, help="output folder (or a .gguf path)")
    ap.add_argument("--type", choices=sorted(TYPES), default="f16", help="matrix type (norms stay f32)")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    if out.suffix != ".gguf":
        out = out / f"{pathlib.Path(args.model).resolve().name}.{args.type}.gguf"
    path = export_gguf(args.model, out, args.type)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
