"""Token files: tokenizes every corpus file once into WORK/tokens/{split}.bin (uint16) plus an index,
and writes {split}.deps.json (each file's resolved relative imports; --deps-only rewrites just these).

python3 training/pipeline/data.py
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.data import corpus_rows, dependencies, prepare
from tbtrain.paths import TRAINING


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(TRAINING / "work/corpus"))
    ap.add_argument("--tokenizer", default=str(TRAINING / "work/tokenizer.json"))
    ap.add_argument("--out", default=str(TRAINING / "work/tokens"))
    ap.add_argument("--deps-only", action="store_true", help="only (re)write {split}.deps.json for existing tokens")
    a = ap.parse_args()
    if a.deps_only:
        for split in ("train", "valid"):
            deps = dependencies(corpus_rows(pathlib.Path(a.corpus), split))
            (pathlib.Path(a.out) / f"{split}.deps.json").write_text(json.dumps(deps))
            print(f"{split}: {sum(map(len, deps))} relative imports resolved, {sum(1 for d in deps if d)}/{len(deps)} files import another")
    else:
        prepare(pathlib.Path(a.corpus), pathlib.Path(a.tokenizer), pathlib.Path(a.out))


if __name__ == "__main__":
    main()
