"""Trains the LM on repository-style multi-file sequences; resumable; logs held-out bits/byte
and copying metrics to WORK/ckpt/log.jsonl at every evaluation.

python3 training/pipeline/train.py --minutes 120 --resume     (see README in training/)
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import pathlib
import sys
import time

import numpy as np
import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.checkpoints import load_weights
from tbtrain.data import Sampler, newline_table
from tbtrain.metrics import Evaluator
from tbtrain.model import LM, Config, autocast
from tbtrain.paths import TRAINING
from tbtrain.rename import Renamer, load_idents
from tbtrain.synthetic import KeyValue, NameCopy, copy_batch


def lr_at(tokens: float, args) -> float:
    warm = args.warmup_tokens
    if tokens < warm:
        return args.lr * tokens / warm
    decay_start = args.plan_tokens * (1 - args.decay_frac)
    if tokens < decay_start:
        return args.lr
    frac = min(1.0, (tokens - decay_start) / (args.plan_tokens * args.decay_frac))
    return args.lr * (1 - 0.9 * frac)


def save_atomic(obj, path: pathlib.Path):
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def grow_gate(model: LM, sd: dict) -> dict:
    """A state dict whose copy gate has fewer components than model's (pointer heads trained before
    the n-gram lookup was added): its rows go first, the new component starts 1 nat below the
    smallest existing bias with zero weights, so the model starts as it was."""
    sd = dict(sd)
    if model.copy_gate is None or "copy_gate.weight" not in sd or sd["copy_gate.weight"].shape == model.copy_gate.weight.shape:
        return sd
    w, b = sd["copy_gate.weight"], sd["copy_gate.bias"]
    nw = torch.zeros_like(model.copy_gate.weight); nb = torch.full_like(model.copy_gate.bias, float(b.min()) - 1)
    nw[:len(w)] = w; nb[:len(b)] = b
    sd["copy_gate.weight"], sd["copy_gate.bias"] = nw, nb
    return sd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=str(TRAINING / "work"))
    ap.add_argument("--ckpt", default=None, help="checkpoint dir (default WORK/ckpt)")
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=704)
    ap.add_argument("--no-prev-token", action="store_true")
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--eval-seq", type=int, default=2048, help="held-out window length (fixed, so the curve stays comparable)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup-tokens", type=float, default=2e6)
    ap.add_argument("--plan-tokens", type=float, default=120e6)
    ap.add_argument("--decay-frac", type=float, default=0.15)
    ap.add_argument("--fim-rate", type=float, default=0.5)
    ap.add_argument("--repeat-rate", type=float, default=0.25, help="share of sequences with a span copied later")
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--max-tokens", type=float, default=float("inf"))
    ap.add_argument("--eval-min", type=float, default=10)
    ap.add_argument("--ckpt-min", type=float, default=5)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--reset-ema", action="store_true", help="on --resume: restart the EMA from the current weights (after changing --ema)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", default=None, help="start from committed weights (a models/... dir) or an induction.py checkpoint (.pt)")
    ap.add_argument("--copy-every", type=int, default=0, help="every N steps add a synthetic copy batch (keeps the induction head)")
    ap.add_argument("--copy-batch", type=int, default=8)
    ap.add_argument("--copy-seq", type=int, default=512)
    ap.add_argument(
        "--copy-spread",
        type=int,
        default=0,
        help="plant N spans in the first half of each copy row and their shuffled copies in the second (long-distance copying)",
    )
    ap.add_argument(
        "--decay-last-min",
        type=float,
        default=0,
        help="decay the LR over the last M minutes of this run (WSD by time); the pre-decay state is kept as lm-stable.pt",
    )
    ap.add_argument(
        "--dep-rate",
        type=float,
        default=0.0,
        help="share of samples in dependency order (imported files first; needs tokens/train.deps.json)",
    )
    ap.add_argument(
        "--rename-rate",
        type=float,
        default=0.0,
        help="share of samples whose rare identifiers get invented names (rename.py; needs tokens/idents.json)",
    )
    ap.add_argument(
        "--name-copy-rate",
        type=float,
        default=0.0,
        help="share of synthetic copy batches that copy invented names over real code (synthetic.NameCopy; needs tokens/idents.json)",
    )
    ap.add_argument(
        "--kv-rate",
        type=float,
        default=0.0,
        help="share of synthetic copy batches that recall a value by its key (synthetic.KeyValue; needs tokens/idents.json)",
    )
    ap.add_argument(
        "--copy-heads", default="", help="with --init: make these heads (layer*n_heads+head, e.g. 5,8,11) pointer heads (model.LM.head)"
    )
    ap.add_argument(
        "--ngram", type=int, default=0, help="with --init: add the n-gram lookup component (ngram.ngram_lookup) matching up to N tokens"
    )
    ap.add_argument("--gate-lr-mult", type=float, default=1.0, help="learning-rate multiplier of the pointer/lookup gate (copy_gate*)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--rewarm-steps",
        type=int,
        default=0,
        help="ramp the LR up over this run's first N steps (a run from --init weights starts with fresh optimizer moments)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = pathlib.Path(args.work)
    ckdir = pathlib.Path(args.ckpt or work / "ckpt")
    ckdir.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer.from_file(str(work / "tokenizer.json"))
    state = init_state = None
    init_record: dict = {}  # a model folder's training record, carried on (--init DIR)
    if args.resume and (ckdir / "lm.pt").exists():
        state = torch.load(ckdir / "lm.pt", weights_only=False)
        cfg = Config(**state["config"])
        print(f"resuming at {state['tokens']/1e6:.1f}M tokens")
    elif args.init and args.init.endswith(".pt"):
        init_state = torch.load(args.init, weights_only=False)
        cfg = Config(**init_state["config"])
    elif args.init and (pathlib.Path(args.init) / "manifest.json").exists():
        man = json.loads((pathlib.Path(args.init) / "manifest.json").read_text())
        cfg = Config(**man["config"])
    else:
        cfg = Config(vocab_size=tok.get_vocab_size(), d_model=args.d, n_layers=args.layers, n_heads=args.heads,
                     n_kv_heads=args.kv_heads, head_dim=args.d // args.heads, ffn_dim=args.ffn,
                     prev_token=not args.no_prev_token)
    if args.copy_heads and not state:
        cfg.copy_heads = tuple(int(h) for h in args.copy_heads.split(","))
    if args.ngram and not state:
        cfg.ngram_max = args.ngram
    torch.manual_seed(args.seed)
    model = LM(cfg)
    gate = lambda n: n.startswith("copy_gate")  # the pointer/lookup gate: its own group (--gate-lr-mult), no weight decay
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and not gate(n)]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2 and not gate(n)]
    groups = [{"params": decay, "weight_decay": 0.1, "lr_mult": 1.0}, {"params": no_decay, "weight_decay": 0.0, "lr_mult": 1.0}]
    if any(gate(n) for n, _ in model.named_parameters()):
        groups.append({"params": [p for n, p in model.named_parameters() if gate(n)], "weight_decay": 0.0, "lr_mult": args.gate_lr_mult})
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), foreach=True)
    ema = copy.deepcopy(model).requires_grad_(False)
    tokens, step, cpu_seconds = 0.0, 0, 0.0
    idents = load_idents(work) if args.rename_rate or args.name_copy_rate or args.kv_rate else None
    renamer = Renamer(tok, idents, np.random.default_rng(args.seed + 2)) if args.rename_rate else None
    sampler = Sampler(work / "tokens", "train", args.seq, args.fim_rate, seed=args.seed, newline_ids=newline_table(tok),
                      repeat_rate=args.repeat_rate, dep_rate=args.dep_rate, renamer=renamer, rename_rate=args.rename_rate)
    if state:
        model.load_state_dict(state["model"]); ema.load_state_dict(state["model" if args.reset_ema else "ema"])
        try:
            opt.load_state_dict(state["opt"])
        except ValueError:  # a checkpoint from before the gate had its own parameter group
            print("optimizer state not restored (parameter groups changed): fresh moments")
        for g in opt.param_groups[2:]:
            g["lr_mult"] = args.gate_lr_mult
        tokens, step, cpu_seconds = state["tokens"], state["step"], state.get("cpu_seconds", 0.0)
        sampler.rng.bit_generator.state = state["rng"]
    elif args.init and args.init.endswith(".pt"):
        st = init_state
        for m in (model, ema):  # a checkpoint without pointer heads (or n-gram lookup) leaves the new gate parts at their initial values
            missing, unexpected = m.load_state_dict(grow_gate(m, st["ema"]), strict=False)
            assert not unexpected and all(k.startswith("copy_gate") for k in missing), (missing, unexpected)
        tokens, step, cpu_seconds = float(st.get("tokens", 0)), int(st.get("step", 0)), float(st.get("cpu_seconds", 0))
        print(f"initialised from {args.init} at {tokens/1e6:.1f}M tokens ({st.get('synthetic_tokens', 0)/1e6:.2f}M synthetic copy tokens)")
    elif args.init:
        sd = load_weights(args.init)
        model.load_state_dict(sd, strict=False); ema.load_state_dict(model.state_dict())
        if (pathlib.Path(args.init) / "manifest.json").exists():  # continue the training record (LR schedule, cost, curve)
            rec = json.loads((pathlib.Path(args.init) / "manifest.json").read_text()).get("training", {})
            tokens, step = float(rec.get("tokens", 0)), int(rec.get("steps", 0))
            cpu_seconds = float(rec.get("cpuHours", 0)) * 3600
            init_record = {"synthetic_tokens": float(rec.get("syntheticCopyTokens", 0)), "prior_curve": rec.get("curve", [])}
        print(f"initialised from {args.init} at {tokens/1e6:.1f}M tokens")
    print(f"params {model.num_params()/1e6:.2f}M (non-embedding {model.num_params(True)/1e6:.2f}M) cfg {cfg}")
    evaluator = Evaluator(work / "tokens", tok, args.eval_seq)
    log = open(ckdir / "log.jsonl", "a")

    decaying = False
    synthetic = float((state or init_state or init_record).get("synthetic_tokens", 0))  # carried over from --init too
    prior_curve = (state or init_record).get("prior_curve", [])  # the held-out curve before an --init DIR run
    copy_rng = np.random.default_rng(args.seed + 1)
    code_tokens = sampler.data if args.copy_every else None
    namecopy = NameCopy(tok, idents["words"], np.random.default_rng(args.seed + 3)) if args.name_copy_rate else None
    keyvalue = KeyValue(tok, idents["words"], np.random.default_rng(args.seed + 4)) if args.kv_rate else None  # never eval.py's words

    def checkpoint(path=None):
        save_atomic(
            {
                "synthetic_tokens": synthetic,
                "config": cfg.to_dict(),
                "model": model.state_dict(),
                "ema": ema.state_dict(),
                "opt": opt.state_dict(),
                "tokens": tokens,
                "step": step,
                "rng": sampler.rng.bit_generator.state,
                "cpu_seconds": cpu_seconds,
                "args": vars(args),
                "prior_curve": prior_curve,
            },
            path or ckdir / "lm.pt",
        )

    t0 = time.time(); last_ck = last_eval = t0; run_tokens = 0; tick = time.time(); step0 = step
    if state is None:
        m = evaluator(ema); m.update(tokens=tokens, step=step); log.write(json.dumps(m) + "\n"); log.flush(); print(m)
    while time.time() - t0 < args.minutes * 60 and tokens < args.max_tokens:
        prev, rows = sampler.batch(args.batch)
        x = torch.from_numpy(rows[:, :-1]); y = torch.from_numpy(rows[:, 1:]); prev = torch.from_numpy(prev)
        lr = lr_at(tokens, args)
        if args.rewarm_steps:
            lr *= min(1.0, (step - step0 + 1) / args.rewarm_steps)
        if args.decay_last_min:
            left = args.minutes * 60 - (time.time() - t0)
            if left < args.decay_last_min * 60:
                if not decaying:
                    checkpoint(ckdir / "lm-stable.pt"); decaying = True
                lr *= 0.1 + 0.9 * max(0.0, left) / (args.decay_last_min * 60)
        for g in opt.param_groups:
            g["lr"] = lr * g.get("lr_mult", 1.0)
        with autocast():
            loss = model.nll(x, prev, y).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if args.copy_every and step % args.copy_every == 0:
            r = copy_rng.random() if keyvalue or namecopy else 1.0  # without either, the copy stream is as before --kv-rate
            if keyvalue and r < args.kv_rate:
                crow, cmask = keyvalue.batch(args.copy_batch, args.copy_seq, code_tokens)
            elif namecopy and r < args.kv_rate + args.name_copy_rate:
                crow, cmask = namecopy.batch(args.copy_batch, args.copy_seq, code_tokens)
            else:
                crow, cmask = copy_batch(copy_rng, args.copy_batch, args.copy_seq, cfg.vocab_size,
                                         code_tokens if copy_rng.random() < 0.5 else None, spread=args.copy_spread)
            cx = torch.from_numpy(crow[:, :-1]); cy = torch.from_numpy(crow[:, 1:]); cm = torch.from_numpy(cmask)
            with autocast():
                closs = model.nll(cx, torch.zeros(len(cx), dtype=torch.long), cy)[cm].mean()
            closs.backward()
            synthetic += cx.numel()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            d = min(args.ema, (1 + step) / (10 + step))
            torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - d)
        n = x.numel(); tokens += n; run_tokens += n; step += 1
        now = time.time(); cpu_seconds += (now - tick) * args.threads; tick = now
        if step % 20 == 0:
            print(f"step {step} tokens {tokens/1e6:.2f}M loss {loss.item():.3f} lr {lr:.2e} {run_tokens/(now-t0):.0f} tok/s", flush=True)
        if now - last_ck > args.ckpt_min * 60:
            checkpoint(); last_ck = now
        if now - last_eval > args.eval_min * 60:
            m = evaluator(ema); m.update(tokens=tokens, step=step, train_loss=loss.item(), lr=lr,
                                         cpu_hours=cpu_seconds / 3600, tok_per_s=run_tokens / (now - t0))
            log.write(json.dumps(m) + "\n"); log.flush(); print(m, flush=True); last_eval = time.time()
            tick = time.time()
    checkpoint()
    m = evaluator(ema); m.update(tokens=tokens, step=step, cpu_hours=cpu_seconds / 3600, final=True)
    log.write(json.dumps(m) + "\n"); log.flush(); print(m)


if __name__ == "__main__":
    main()
