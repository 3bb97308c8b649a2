"""Induction warm-up: trains the LM on short synthetic copy sequences so an induction (copy) head
forms before (or while) the model sees code.

Why: on 2048-token code sequences the gradient that would shape a copy head is spread over ~2k
attention positions, and 7.7M tokens (938 steps) of code produced no copying at all (second copy
of a random span: 10.90 vs 10.92 nats). On short sequences where every second half is a copy of
the first, the signal is dense and the head forms in minutes; the code phase then keeps it.

Each synthetic row: <|endoftext|> then a random span (tokens drawn from the real vocabulary,
optionally from real code so the copy head works on code tokens) of L tokens, repeated until the
row is full. Loss counts only positions inside repeats (the first copy is unpredictable).

python3 training/pipeline/induction.py --minutes 5 --out training/work/ckpt-ind/lm.pt
then: python3 training/pipeline/train.py --init training/work/ckpt-ind/lm.pt ...
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.checkpoints import load_weights
from tbtrain.model import LM, Config, autocast
from tbtrain.paths import TRAINING
from tbtrain.synthetic import copy_batch


@torch.no_grad()
def probe(model: LM, vocab: int, seed=7):
    g = torch.Generator().manual_seed(seed)
    r = torch.randint(5, vocab, (8, 200), generator=g)
    rows = torch.cat([torch.zeros(8, 1, dtype=torch.long), r, r], 1)
    with autocast():
        logits = model(rows[:, :-1], torch.zeros(8, dtype=torch.long))
    rl = F.cross_entropy(logits.float().transpose(1, 2), rows[:, 1:], reduction="none")
    return rl[:, 1:200].mean().item(), rl[:, 201:].mean().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=str(TRAINING / "work"))
    ap.add_argument("--init", default=None, help="a train.py checkpoint (lm.pt) or committed model dir to start from")
    ap.add_argument("--out", default=str(TRAINING / "work/ckpt-ind/lm.pt"))
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--steps", type=int, default=10**9)
    ap.add_argument("--code-rate", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stop-nats", type=float, default=1.0, help="stop once the second copy scores below this")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = Config()
    model = LM(cfg)
    base = {"tokens": 0.0, "step": 0, "cpu_seconds": 0.0, "synthetic_tokens": 0.0}
    if args.init:
        p = pathlib.Path(args.init)
        if p.suffix == ".pt":
            st = torch.load(p, weights_only=False)
            cfg = Config(**st["config"]); model = LM(cfg); model.load_state_dict(st["ema"])
            base = {k: st.get(k, v) for k, v in base.items()}
        else:
            model.load_state_dict(load_weights(str(p)), strict=False)
    code = None
    if args.code_rate > 0 and (pathlib.Path(args.work) / "tokens/train.bin").exists():
        code = np.fromfile(pathlib.Path(args.work) / "tokens/train.bin", dtype=np.uint16)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.0)
    rng = np.random.default_rng(0)
    t0 = time.time(); step = 0
    c1, c2 = probe(model, cfg.vocab_size)
    print(f"step 0 copy1 {c1:.2f} copy2 {c2:.2f}", flush=True)
    while time.time() - t0 < args.minutes * 60 and step < args.steps:
        rows, mask = copy_batch(rng, args.batch, args.seq, cfg.vocab_size, code if rng.random() < args.code_rate else None)
        x = torch.from_numpy(rows[:, :-1]); y = torch.from_numpy(rows[:, 1:]); m = torch.from_numpy(mask)
        for g in opt.param_groups:
            g["lr"] = args.lr * min(1.0, (step + 1) / 50)
        with autocast():
            logits = model(x, torch.zeros(args.batch, dtype=torch.long))
        loss = F.cross_entropy(logits.float()[m], y[m])
        opt.zero_grad(set_to_none=True); loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); step += 1
        if step % 50 == 0:
            c1, c2 = probe(model, cfg.vocab_size)
            print(f"step {step} {time.time()-t0:.0f}s loss {loss.item():.3f} copy1 {c1:.2f} copy2 {c2:.2f}", flush=True)
            if c2 < args.stop_nats:
                break
    out = pathlib.Path(args.out); out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "ema": model.state_dict(), "induction_steps": step,
                "tokens": base["tokens"], "step": base["step"],
                "cpu_seconds": base["cpu_seconds"] + (time.time() - t0) * args.threads,
                "synthetic_tokens": base["synthetic_tokens"] + step * args.batch * args.seq,
                "copy": probe(model, cfg.vocab_size)}, out)
    print("saved", out, probe(model, cfg.vocab_size))


if __name__ == "__main__":
    main()
