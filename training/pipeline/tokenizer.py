"""Trains the byte-level BPE tokenizer (Hugging Face tokenizer.json) on the train split and prints
held-out chars/token and the round trip on every validation file (tbtrain/tokenizer.py: the
pre-tokenizer and the specials).

python3 training/pipeline/tokenizer.py --vocab 4096 --out training/work/tokenizer.json
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

from tokenizers import pre_tokenizers, trainers

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.paths import TRAINING
from tbtrain.tokenizer import SPECIALS, build_empty, sample_texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(TRAINING / "work/corpus"))
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--sample-mb", type=int, default=40)
    ap.add_argument("--out", default=str(TRAINING / "work/tokenizer.json"))
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
