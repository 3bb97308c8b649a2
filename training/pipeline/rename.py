"""Library names for identifier renaming (tbtrain/rename.py): writes WORK/tokens/idents.json, the
identifiers used by >= MIN_PKGS training packages (kept by train.py --rename-rate) and the words
invented names are made of.

python3 training/pipeline/rename.py
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.paths import TRAINING
from tbtrain.rename import MIN_PKGS, build_vocab


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(TRAINING / "work/corpus/train.jsonl"))
    ap.add_argument("--out", default=str(TRAINING / "work/tokens/idents.json"))
    a = ap.parse_args()
    v = build_vocab(pathlib.Path(a.corpus))
    pathlib.Path(a.out).write_text(json.dumps(v))
    print(f"{len(v['common'])} common identifiers (>= {MIN_PKGS} packages), {len(v['words'])} words for invented names")


if __name__ == "__main__":
    main()
