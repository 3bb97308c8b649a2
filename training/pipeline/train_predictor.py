"""Distils the TokenButler predictor from the frozen LM (resumable).

For long multi-file sequences the LM's real attention (averaged over the query heads of each KV
head) on sampled, tail-biased rows is the target; the predictor's scores q_imp . k_imp over the
same keys are trained with cross-entropy against it. Sinks and the recent window are excluded from
both sides (the engine always keeps them), so the predictor spends its capacity on the far context.

python3 training/pipeline/train_predictor.py --lm training/work/ckpt/lm.pt --minutes 20 [--resume]

An imported model (pipeline/import_hf.py) on a folder of source files in its own tokenizer:
python3 training/pipeline/train_predictor.py --lm MODEL_DIR --data SRC_DIR --out training/work/pred-MODEL --minutes 60 [--resume]
then python3 training/pipeline/export.py --ckpt MODEL_DIR --predictor training/work/pred-MODEL/pred.pt --out MODEL_DIR \\
       --int8 --drop-fp32 --measure 0
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pathlib
import sys
import time

import numpy as np
import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.checkpoints import load_lm
from tbtrain.data import Sampler, newline_table
from tbtrain.distill import lm_internals, recall_metrics, sample_rows, step_loss, summarize, warm_start
from tbtrain.folder_data import FolderSampler, tokenize_folder
from tbtrain.model import Config
from tbtrain.paths import TRAINING
from tbtrain.predictor import (
    PRED_FIELDS,
    Predictor,
    calibrate_ik_scale,
    choose_rot_pairs,
    ensure_calibrated,
    load_predictor,
    model_folder_predictor,
)
from tbtrain.selection import ENGINE_RECENT, ENGINE_SINKS


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", default=str(TRAINING / "work/ckpt/lm.pt"))
    ap.add_argument("--work", default=str(TRAINING / "work"))
    ap.add_argument("--out", default=str(TRAINING / "work/pred"))
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--rows", type=int, default=256)
    # sinks and recent tokens are always attended, so they are left out of the target; the smallest
    # forced set in use (eval.py's: 4 sinks, a window of at least 8) means every other token is trained on
    ap.add_argument("--sinks", type=int, default=4)
    ap.add_argument("--recent", type=int, default=4)
    ap.add_argument("--dist-lr-mult", type=float, default=10.0, help="LR multiplier of the distance prior (--dist)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--max-steps", type=int, default=100000)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--eval-windows", type=int, default=2, help="held-out windows for the recall metrics (the first 2 are always the same)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", default="", help="a pred.pt to warm-start a new layout from (shared tensors only)")
    ap.add_argument("--taps", default="", help="tap layer per consumer layer 1..L-1, e.g. 1,2,3 (default: all at producer_layer)")
    ap.add_argument("--hidden", type=int, default=64, help="producer MLP width")
    ap.add_argument("--dist", action="store_true", help="learn a log-distance prior per (layer, KV head)")
    ap.add_argument("--rope", type=float, default=0.0, help="rotate importance queries and keys (RoPE base; 0: off)")
    ap.add_argument("--imp-dim", type=int, default=None, help="importance dims d' (default: --init's, else 16)")
    ap.add_argument(
        "--rot-pairs",
        type=int,
        default=None,
        help="rotary pairs at per-head LM frequencies among the d' dims (0: off; default: --init's, else 0)",
    )
    ap.add_argument("--temp", type=float, default=1.0, help="target temperature (>1 flattens the attention target)")
    ap.add_argument("--no-mass-weight", action="store_true", help="weight rows equally, not by their far attention mass")
    ap.add_argument("--data", default=None, help="a folder of source files to train on in the --lm model folder's own tokenizer "
                    "(imported models); tokenized once into --out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = pathlib.Path(args.out); out.mkdir(parents=True, exist_ok=True)
    lm = load_lm(args.lm)
    step, st = 0, None
    if args.resume and (out / "pred.pt").exists():  # the file's own layout; --taps/--hidden/--dist apply to new runs
        pred, pc, st = load_predictor(out / "pred.pt", lm.cfg)
        pred.train(); step = st["step"]
    else:
        init = {}
        if args.init:
            init = model_folder_predictor(args.init) if pathlib.Path(args.init).is_dir() else torch.load(args.init, weights_only=False)
        # d' and the rotary pairs: as given, else --init's (not the LM folder's manifest, which names its own predictor's)
        given = {"imp_dim": args.imp_dim, "pred_rot_pairs": args.rot_pairs}
        dims = {k: v if v is not None else init.get("pred_cfg", {}).get(k, getattr(Config, k)) for k, v in given.items()}
        pc = dataclasses.replace(lm.cfg, pred_taps=tuple(int(t) for t in args.taps.split(",")) if args.taps else (),
                                 pred_hidden=args.hidden, pred_dist=args.dist, pred_rope=args.rope, **dims)
        pred = Predictor(pc)
        if init:
            print(f"init from {args.init}; new: {warm_start(pred, init['predictor'])}")
        if pc.pred_rot_pairs and "rot_pairs" not in init.get("predictor", {}):
            prev, row = samplers(args, lm, 0)[0].sample()
            print(
                "rotary pairs per (layer, KV head):",
                choose_rot_pairs(lm, pred, torch.from_numpy(row[None, :-1]).long(), torch.tensor([prev])).tolist(),
            )
    pcfg = {k: getattr(pc, k) for k in PRED_FIELDS}  # saved beside the weights
    # the distance prior is a few scalars on log(distance) (up to ~8): at the shared LR it barely moves in a short run
    groups = [{"params": [q for n, q in pred.named_parameters() if n != "dist_w"], "lr_mult": 1.0}]
    groups += [{"params": [pred.dist_w], "lr_mult": args.dist_lr_mult}] if pred.dist_w is not None else []
    opt = torch.optim.AdamW(groups, lr=args.lr, weight_decay=0.0)
    if st is not None:
        try:
            opt.load_state_dict(st["opt"])
        except ValueError:  # saved with another grouping: the weights resume, the moments start afresh
            print("optimizer state has another parameter grouping: fresh moments")
        for g, mine in zip(opt.param_groups, groups):
            g["lr_mult"] = mine["lr_mult"]  # this run's multipliers, not the saved ones
    train, valid = samplers(args, lm, step)
    rng = np.random.default_rng(step)
    eval_set = []
    for _ in range(args.eval_windows):
        prev, row = valid.sample()
        ids = torch.from_numpy(row[None, :-1]).long()
        rows = sample_rows(
            args.seq, args.rows, np.random.default_rng(7), ENGINE_SINKS + ENGINE_RECENT + 300
        )  # the same rows for either forced set
        eval_set.append((rows,) + lm_internals(lm, torch.tensor([prev]), ids, rows, pred.groups))
    log = open(out / "log.jsonl", "a")

    def evaluate(sinks=args.sinks, recent=args.recent, int8=False):
        per = {}
        for rows, tap, layers in eval_set:
            for k, v in recall_metrics(pred, tap, layers, rows, sinks, recent, int8=int8).items():
                per.setdefault(k, []).append(v)
        per = {k: {m: float(np.mean([x[m] for x in vs])) for m in vs[0]} for k, vs in per.items()}
        return summarize(per), per

    t0, start_step = time.time(), step
    print(f"predictor params {pred.num_params()} ({pred.num_params() / lm.num_params():.2%} of the LM)")
    while time.time() - t0 < args.minutes * 60 and step < args.max_steps:
        prev, row = train.sample()
        ids = torch.from_numpy(row[None, :-1]).long()
        rows = sample_rows(args.seq, args.rows, rng, args.sinks + args.recent + 16)
        tap, layers = lm_internals(lm, torch.tensor([prev]), ids, rows, pred.groups)
        # cosine to 0.1x over this run (by steps when --max-steps is given, else by time)
        frac = step / args.max_steps if args.max_steps < 100000 else (time.time() - t0) / (args.minutes * 60)
        for g in opt.param_groups:
            g["lr"] = g["lr_mult"] * args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))) * min(1.0, (step + 1) / 20)
        loss = step_loss(pred, tap, layers, rows, args.sinks, args.recent, args.temp, not args.no_mass_weight)
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(pred.parameters(), 5.0)
        opt.step(); step += 1
        if step % 10 == 0:
            print(progress(step, loss.item(), time.time() - t0, args, start_step), flush=True)
        if step % args.eval_every == 0:
            summary, _ = evaluate()
            summary.update(step=step, loss=loss.item()); print(summary, flush=True)
            log.write(json.dumps(summary) + "\n"); log.flush()
            tmp = out / "pred.tmp"
            torch.save({"predictor": pred.state_dict(), "opt": opt.state_dict(), "step": step, "pred_cfg": pcfg}, tmp)
            os.replace(tmp, out / "pred.pt")
    summary, per_head = evaluate()
    summary.update(step=step, params=pred.num_params(), share=pred.num_params() / lm.num_params(), sinks=args.sinks, recent=args.recent)
    if (args.sinks, args.recent) != (ENGINE_SINKS, ENGINE_RECENT):  # also among the tokens the engine chooses from
        summary["engine_8_128"] = evaluate(ENGINE_SINKS, ENGINE_RECENT)[0]
    with torch.no_grad():  # what the graphs score: int8 keys (steps calibrated on training windows) and queries
        if args.data:  # on windows of the folder (the corpus's token files are in another vocabulary)
            calibrate_ik_scale(lm, pred, [(p, r[:-1]) for p, r in (train.sample() for _ in range(4))])
        else:
            ensure_calibrated(lm, pred, pathlib.Path(args.work) / "tokens")
        summary["int8_keys"] = evaluate(int8=True)[0]
    if not args.data:  # saved uncalibrated: export calibrates the weights it ships (--data: on the folder, as measured above)
        pred.ik_scale.zero_()
    torch.save({"predictor": pred.state_dict(), "opt": opt.state_dict(), "step": step, "metrics": summary, "per_head": per_head,
                "pred_cfg": pcfg}, out / "pred.tmp")
    os.replace(out / "pred.tmp", out / "pred.pt")
    log.write(json.dumps(summary) + "\n")
    print(json.dumps(summary))


def samplers(args, lm, step: int):
    """(train, valid) samplers: the corpus's token files in WORK, or (--data) the folder in the model's own tokenizer."""
    if args.data:
        folder = pathlib.Path(args.lm)
        if not (folder / "manifest.json").exists():
            raise SystemExit("--data needs --lm to be a model folder (its tokenizer.json and special tokens)")
        special = json.loads((folder / "manifest.json").read_text()).get("specialTokens", {})
        index = tokenize_folder(pathlib.Path(args.data), folder / "tokenizer.json", special.get("fileSep"), pathlib.Path(args.out))
        print(f"--data: {len(index['files'])} files, {index['tokens'] / 1e6:.2f}M tokens", flush=True)
        eot = special.get("eot", 0)
        return (FolderSampler(pathlib.Path(args.out), index, "train", args.seq, eot, seed=100 + step),
                FolderSampler(pathlib.Path(args.out), index, "valid", args.seq, eot, seed=4321))
    nl = newline_table(Tokenizer.from_file(str(pathlib.Path(args.work) / "tokenizer.json")))
    return (Sampler(pathlib.Path(args.work) / "tokens", "train", args.seq, 0.5, seed=100 + step, newline_ids=nl),
            Sampler(pathlib.Path(args.work) / "tokens", "valid", args.seq, 0.0, seed=4321, newline_ids=nl))


def progress(step: int, loss: float, elapsed: float, args, start_step: int) -> str:
    """A progress bar with the estimated time left (by steps with --max-steps, else by the --minutes budget)."""
    if args.max_steps < 100000:
        frac = step / args.max_steps
        done_here = max(1, step - start_step)
        left = elapsed / done_here * (args.max_steps - step)
    else:
        frac = elapsed / (args.minutes * 60)
        left = args.minutes * 60 - elapsed
    frac = min(1.0, frac)
    bar = "#" * int(frac * 20) + "." * (20 - int(frac * 20))
    return f"[{bar}] {frac:5.1%} step {step} loss {loss:.4f} {elapsed:.0f}s elapsed, ~{max(0.0, left) / 60:.1f} min left"


if __name__ == "__main__":
    main()
