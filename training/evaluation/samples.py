"""Greedy completions of held-out TypeScript snippets (FIM layout, as the engine sends them),
written verbatim to bench/samples.md.

python3 training/evaluation/samples.py --lm work/ckpt/lm.pt --n 10
"""
from __future__ import annotations

import argparse
import json
import pathlib
import random
import sys

import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.checkpoints import load_lm
from tbtrain.data import EOT, FILE_SEP, FIM_PREFIX, FIM_SUFFIX
from tbtrain.paths import TRAINING


@torch.no_grad()
def greedy(lm, ids: list[int], n: int) -> list[int]:
    out = []
    for _ in range(n):
        x = torch.tensor([ids[-2048:] + out])
        nxt = int(lm(x, torch.tensor([0]))[0, -1].argmax())
        if nxt in (EOT, FILE_SEP, FIM_PREFIX, FIM_SUFFIX):
            break
        out.append(nxt)
        if len(out) > 4 and lm_text_lines(out) > 3:
            break
    return out


_tok: Tokenizer | None = None


def lm_text_lines(ids):
    return _tok.decode(ids, skip_special_tokens=False).count("\n")


def main():
    global _tok
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", default=str(TRAINING / "work/ckpt/lm.pt"))
    ap.add_argument("--work", default=str(TRAINING / "work"))
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--out", default=str(TRAINING.parent / "bench/samples.md"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    lm = load_lm(args.lm)
    _tok = tok = Tokenizer.from_file(str(pathlib.Path(args.work) / "tokenizer.json"))
    rows = [json.loads(l) for l in (pathlib.Path(args.work) / "corpus/valid.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["path"].endswith(".ts") and not r["path"].endswith(".d.ts") and r["text"].count("\n") > 30]
    rng = random.Random(3)
    md = ["# Greedy completions of held-out TypeScript (default model)", "",
          "Each prompt is the file's path header, up to 256 tokens of suffix, then the prefix up to a line start in the",
          "middle of the file (the engine's layout); the completion is greedy, at most 48 tokens or 3 lines.", ""]
    for r in rng.sample(rows, args.n):
        lines = r["text"].split("\n")
        k = rng.randrange(len(lines) // 3, 2 * len(lines) // 3)
        line = lines[k]
        cut_col = len(line) - len(line.lstrip()) + min(len(line.strip()), rng.randrange(0, 12))
        prefix = "\n".join(lines[:k]) + "\n" + line[:cut_col]
        suffix = line[cut_col:] + "\n" + "\n".join(lines[k + 1:])
        ids = (
            [FILE_SEP]
            + tok.encode(r["path"] + "\n").ids
            + [FIM_SUFFIX]
            + tok.encode(suffix).ids[:256]
            + [FIM_PREFIX]
            + tok.encode(prefix).ids
        )
        out = tok.decode(greedy(lm, ids, 48), skip_special_tokens=False)
        shown_prefix = "\n".join(prefix.split("\n")[-4:])
        md += [f"## {r['pkg']} — {r['path']}", "", "```ts", shown_prefix + "⟦" + out + "⟧", "```",
               f"actual continuation: `{suffix.split(chr(10))[0][:80]}`", ""]
    pathlib.Path(args.out).write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
