"""ShadowLLM predictor (issue 29, item 2): one small MLP on layer 0's output predicting every later layer's
head and neuron importances (plainact targets), against a DejaVu-style baseline (an MLP per layer on that
layer's input, magnitude targets) trained on the same windows for the same steps; both by a pairwise ranking
loss (tbtrain/shadow_pred.py). Then bits/byte with the predicted masks at 25 / 50 / 75% kept.

    python3 training/pipeline/train_shadow.py --minutes 5            # later: --resume (continues the same run)
    python3 training/pipeline/train_shadow.py --resume --steps 0     # evaluation only
    python3 training/pipeline/train_shadow.py --data corpus --only shadow --out training/work/shadow/pred-corpus --minutes 15

--data corpus samples the windows from the training corpus (work/corpus/train.jsonl, dataset/build.py) and
evaluates on its valid split (the held-out families); --data heldout (the default) uses the unpacked held-out
packages (work/heldout/ws) as bench/shadowllm.md describes. --only shadow trains the ShadowLLM predictor alone.

--extra also trains the two cross variants (ShadowLLM on magnitudes, DejaVu on plainact) in the same loop,
to separate the criterion from the architecture. Checkpoint: work/shadow/pred/pred.pt (atomic, every
--save-every steps and at the end); results: work/shadow/pred/eval.json."""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import torch
from tokenizers import Tokenizer
from tqdm import tqdm

from tbtrain import shadow, shadow_pred
from tbtrain.checkpoints import load_lm
from tbtrain.metrics import token_bytes
from tbtrain.paths import TRAINING
from tbtrain.shadow_pred import DejaVuPredictor, ShadowPredictor

KEEPS = (0.25, 0.5, 0.75)


def build(lm, args) -> dict:
    c, L = lm.cfg, lm.cfg.n_layers - 1
    preds = {"shadow": (ShadowPredictor(c.d_model, L, c.n_heads, c.ffn_dim, args.hidden), "plainact")}
    if args.only != "shadow":
        preds["dejavu"] = (DejaVuPredictor(c.d_model, L, c.n_heads, c.ffn_dim, args.dv_hidden), "mag")
    if args.extra:
        preds["shadow_mag"] = (ShadowPredictor(c.d_model, L, c.n_heads, c.ffn_dim, args.hidden), "mag")
        preds["dejavu_plainact"] = (DejaVuPredictor(c.d_model, L, c.n_heads, c.ffn_dim, args.dv_hidden), "plainact")
    return preds


def evaluate(lm, preds: dict, rows, tb) -> dict:
    """bits/byte dense and with each predictor's masks (heads, neurons at each keep, both at 50%), and the
    recall of the oracle plainact top-50% neurons / top-2 heads among each predictor's top-50%."""
    cfgs = [(w, k) for w in ("heads", "neurons") for k in KEEPS] + [("both", 0.5)]
    nats = {"dense": 0.0, **{f"{n}/{w}/{k}": 0.0 for n in preds for w, k in cfgs}}
    recall = {f"{n}/{w}": 0.0 for n in preds for w in ("heads", "neurons")}
    nbytes = 0.0
    for m, _ in preds.values():
        m.eval()
    for row in tqdm(rows, desc="eval", unit="win"):
        ids = torch.from_numpy(row)[None]
        x, y, prev = ids[:, :-1], ids[:, 1:], torch.zeros(1, dtype=torch.long)
        imp = shadow.importances(lm, x, prev, y)
        nats["dense"] += imp["nll"].sum().item()
        nbytes += shadow.window_bytes(tb, y)
        with torch.no_grad():
            for n, (m, _) in preds.items():
                h, nn_ = m(imp["x0"] if isinstance(m, ShadowPredictor) else imp["inputs"])
                for w, s in (("heads", h), ("neurons", nn_)):
                    o = shadow.topk_mask(imp[f"plainact_{w}"], 0.5)
                    recall[f"{n}/{w}"] += ((shadow.topk_mask(s, 0.5) * o).sum() / o.sum()).item() / len(rows)
                for w, k in cfgs:
                    masks = shadow_pred.predicted_masks(m, k if w in ("heads", "both") else 1.0, k if w in ("neurons", "both") else 1.0)
                    nats[f"{n}/{w}/{k}"] += shadow.forward(lm, x, prev, y, masks=masks).sum().item()
    bpb = {k: shadow.bits_per_byte(v, nbytes) for k, v in nats.items()}
    return {"bpb": bpb, "loss_vs_dense_pct": {k: 100 * (v / bpb["dense"] - 1) for k, v in bpb.items()},
            "oracle_top50_recall": recall, "windows": len(rows), "bytes": nbytes}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", default=str(TRAINING.parent / "models/default"))
    ap.add_argument("--data", choices=["heldout", "corpus"], default="heldout")
    ap.add_argument("--ws", default=str(TRAINING / "work/heldout/ws"))
    ap.add_argument("--corpus", default=str(TRAINING / "work/corpus"))
    ap.add_argument("--per-package", type=int, default=48, help="--data corpus: windows per package at most")
    ap.add_argument("--only", choices=["all", "shadow"], default="all", help="shadow: the ShadowLLM predictor alone")
    ap.add_argument("--cache", default=str(TRAINING / "work/shadow"))
    ap.add_argument("--out", default=str(TRAINING / "work/shadow/pred"))
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=32, help="ShadowLLM predictor width")
    ap.add_argument("--dv-hidden", type=int, default=26, help="DejaVu per-layer width (26: about the same parameters in all)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--neuron-pairs", type=int, default=256)
    ap.add_argument("--extra", action="store_true")
    ap.add_argument("--steps", type=int, default=None, help="stop at this many steps in all (0: evaluate only)")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--save-every", type=int, default=25)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--eval-windows", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    lm = load_lm(args.lm)
    tok_path = pathlib.Path(args.lm) / "tokenizer.json"
    if args.data == "corpus":
        windows = {split: shadow_pred.corpus_windows(pathlib.Path(args.corpus), tok_path, pathlib.Path(args.cache), args.seq,
                                                     "valid" if split == "eval" else "train", args.per_package)
                   for split in ("train", "eval")}
        print(f"corpus windows: {len(windows['train'])} train, {len(windows['eval'])} valid")
    else:
        windows = shadow_pred.heldout_windows(pathlib.Path(args.ws), tok_path, pathlib.Path(args.cache), args.seq)
    out = pathlib.Path(args.out)
    ckpt = out / "pred.pt"
    if args.resume and ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        args.extra = args.extra or saved.get("extra", False)
        args.only = saved.get("only", args.only)
    preds = build(lm, args)
    trainer = shadow_pred.Trainer(lm, windows["train"], preds, args.lr, args.neuron_pairs, args.seed)
    if args.resume and ckpt.exists():
        trainer.load(ckpt)
        print(f"resumed {ckpt} at step {trainer.steps}")
    lm_params = lm.num_params()
    for n, (m, crit) in preds.items():
        print(f"{n}: {shadow_pred.n_params(m):,} parameters ({100 * shadow_pred.n_params(m) / lm_params:.2f}% of the LM's {lm_params:,}), "
              f"targets {crit}")
    end = time.time() + 60 * args.minutes
    target = args.steps if args.steps is not None else None
    bar = tqdm(total=target, initial=trainer.steps, desc="train", unit="step")
    t0, s0 = time.time(), trainer.steps
    while (target is None or trainer.steps < target) and time.time() < end:
        losses = trainer.step()
        bar.update(1); bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()})
        if trainer.steps % args.save_every == 0:
            trainer.save(ckpt, {"extra": args.extra, "only": args.only, "data": args.data})
    bar.close()
    if trainer.steps > s0:
        trainer.save(ckpt, {"extra": args.extra, "only": args.only, "data": args.data})
        print(f"{trainer.steps - s0} steps in {time.time() - t0:.0f} s; {trainer.steps} in all ({trainer.steps * args.seq:,} tokens)")
    if args.eval_windows == 0:
        return
    rows = shadow_pred.spread(windows["eval"], args.eval_windows, seed=0)
    res = evaluate(lm, preds, rows, token_bytes(Tokenizer.from_file(str(tok_path))))
    res.update({"steps": trainer.steps, "tokens": trainer.steps * args.seq, "lm_params": lm_params,
                "params": {n: shadow_pred.n_params(m) for n, (m, _) in preds.items()},
                "criteria": {n: c for n, (_, c) in preds.items()}})
    (out / "eval.json").write_text(json.dumps(res, indent=1))
    bpb, pct = res["bpb"], res["loss_vs_dense_pct"]
    print(f"dense {bpb['dense']:.4f} bits/byte; recall of oracle top-50%: " +
          ", ".join(f"{k} {v:.3f}" for k, v in res["oracle_top50_recall"].items()))
    print("| predictor | what | keep | bits/byte | vs dense |\n|---|---|---|---|---|")
    for k in bpb:
        if k != "dense":
            n, w, keep = k.split("/")
            print(f"| {n} | {w} | {float(keep):.0%} | {bpb[k]:.4f} | {pct[k]:+.2f}% |")


if __name__ == "__main__":
    main()
