"""Key-value recall probe: how well an LM recalls a value by its key, on held-out code.

Rows from synthetic.KeyValue over the *held-out* token file (filler) with a fixed seed: the loss and
teacher-forced top-1 accuracy of the value tokens at use sites, split into the first value token (the
recall: which value) and the rest (copying once the value is found), plus whole-answer accuracy.

python3 training/probes/kv_probe.py --lm work/ckpt-kv/lm.pt      (or a model folder)
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.checkpoints import load_lm
from tbtrain.model import autocast
from tbtrain.paths import TRAINING
from tbtrain.synthetic import KeyValue


@torch.no_grad()
def kv_metrics(lm, tok, code: np.ndarray, words: list[str], rows: int = 32, seq: int = 1024, seed: int = 999) -> dict:
    kv = KeyValue(tok, words, np.random.default_rng(seed))  # without eval.py's co-reference words, as in training
    first_nll, first_ok, rest_ok, whole_ok = [], [], [], []
    for _ in range(rows // 8):
        r, m = kv.batch(8, seq, code)
        x = torch.from_numpy(r[:, :-1]); y = torch.from_numpy(r[:, 1:])
        with autocast():
            logits = lm(x, torch.zeros(len(x), dtype=torch.long)).float()
        nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")
        ok = (logits.argmax(-1) == y).numpy()
        for b in range(len(m)):
            idx = np.flatnonzero(m[b])
            spans = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1) if len(idx) else []
            for s in spans:
                first_nll.append(float(nll[b, s[0]])); first_ok.append(bool(ok[b, s[0]]))
                rest_ok += ok[b, s[1:]].tolist(); whole_ok.append(bool(ok[b, s].all()))
    return {"kv_first_nats": float(np.mean(first_nll)), "kv_first_acc": float(np.mean(first_ok)),
            "kv_rest_acc": float(np.mean(rest_ok)), "kv_whole_acc": float(np.mean(whole_ok)), "kv_uses": len(whole_ok)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", required=True)
    ap.add_argument("--work", default=str(TRAINING / "work"))
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = pathlib.Path(args.work)
    lm = load_lm(args.lm).eval()
    tok = Tokenizer.from_file(str(work / "tokenizer.json"))
    code = np.fromfile(work / "tokens/valid.bin", dtype=np.uint16)
    words = json.loads((work / "tokens/idents.json").read_text())["words"]
    print(json.dumps(kv_metrics(lm, tok, code, words, args.rows)))


if __name__ == "__main__":
    main()
