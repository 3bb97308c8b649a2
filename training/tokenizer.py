"""Trains the byte-level BPE tokenizer (Hugging Face tokenizer.json) on the train split.

Pre-tokenizer: cl100k's split regex without the (?i:) group (not portable to JavaScript), then
ByteLevel. Specials first (ids 0..4), so the vocab sizes are comparable across runs.
Usage: python training/tokenizer.py --vocab 4096 --out training/work/tokenizer.json
"""
from __future__ import annotations

import argparse, json, pathlib, random

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|file_sep|>"]
SPLIT = r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def build_empty() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    return tok


def sample_texts(path: pathlib.Path, max_bytes: int, seed: int = 0):
    lines = path.read_text().splitlines()
    random.Random(seed).shuffle(lines)
    total = 0
    for line in lines:
        text = json.loads(line)["text"]
        total += len(text)
        if total > max_bytes:
            break
        yield text


def main():
    here = pathlib.Path(__file__).parent
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(here / "work/corpus"))
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--sample-mb", type=int, default=40)
    ap.add_argument("--out", default=str(here / "work/tokenizer.json"))
    args = ap.parse_args()
    tok = build_empty()
    trainer = trainers.BpeTrainer(vocab_size=args.vocab, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2)
    tok.train_from_iterator(sample_texts(pathlib.Path(args.corpus) / "train.jsonl", args.sample_mb << 20), trainer)
    tok.save(args.out)
    # chars/token on held-out code, and the round trip on every validation file
    chars = toks = bad = 0
    for line in (pathlib.Path(args.corpus) / "valid.jsonl").read_text().splitlines():
        text = json.loads(line)["text"]
        ids = tok.encode(text, add_special_tokens=False).ids
        chars += len(text); toks += len(ids)
        bad += tok.decode(ids, skip_special_tokens=False) != text
    print(json.dumps({"vocab": tok.get_vocab_size(), "valid_chars_per_token": round(chars / toks, 3), "roundtrip_failures": bad}))


if __name__ == "__main__":
    main()
