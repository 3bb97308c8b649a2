"""A random-weight Hugging Face checkpoint of a real model's shape, for measuring an imported model's speed
(bench/byom.md) where no pretrained checkpoint can be downloaded. The tokenizer is the default model's
(4,096 tokens; the embedding keeps the real vocabulary's rows, as padded vocabularies do).

python3 training/evaluation/random_hf.py --shape qwen2.5-coder-0.5b --out training/work/hf-qwen-0.5b-random
"""
from __future__ import annotations

import argparse
import pathlib
import shutil

import torch

SHAPES = {  # config.json fields of the published checkpoints
    "qwen2.5-coder-0.5b": dict(arch="qwen2", vocab_size=151936, hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                               num_key_value_heads=2, intermediate_size=4864, rope_theta=1000000.0, rms_norm_eps=1e-6,
                               tie_word_embeddings=True),
    "smollm2-135m": dict(arch="llama", vocab_size=49152, hidden_size=576, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, intermediate_size=1536, rope_theta=100000.0, rms_norm_eps=1e-5,
                         tie_word_embeddings=True),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import transformers
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    spec = dict(SHAPES[args.shape])
    arch = spec.pop("arch")
    cls, cfg_cls = {"qwen2": (transformers.Qwen2ForCausalLM, transformers.Qwen2Config),
                    "llama": (transformers.LlamaForCausalLM, transformers.LlamaConfig)}[arch]
    model = cls(cfg_cls(**spec, eos_token_id=0)).to(torch.bfloat16).eval()
    out = pathlib.Path(args.out)
    model.save_pretrained(str(out))
    shutil.copy(pathlib.Path(__file__).resolve().parents[2] / "models/default/tokenizer.json", out / "tokenizer.json")
    print(f"{args.shape}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters -> {out}")


if __name__ == "__main__":
    main()
