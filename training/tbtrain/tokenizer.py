"""The byte-level BPE tokenizer's layout (training/pipeline/tokenizer.py trains it on the train split).

Pre-tokenizer: cl100k's split regex without the (?i:) group (not portable to JavaScript), then
ByteLevel. Specials first (ids 0..4), so the vocab sizes are comparable across runs.
"""
from __future__ import annotations

import json
import pathlib
import random

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

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
