"""Distils the TokenButler predictor from the frozen LM (resumable).

For long multi-file sequences the LM's real attention (averaged over the query heads of each KV
head) on sampled, tail-biased rows is the target; the predictor's scores q_imp . k_imp over the
same keys are trained with cross-entropy against it. Sinks and the recent window are excluded from
both sides (the engine always keeps them), so the predictor spends its capacity on the far context.

python training/train_predictor.py --lm training/work/ckpt/lm.pt --minutes 20 [--resume]
"""
from __future__ import annotations

import argparse, dataclasses, json, math, os, pathlib, time

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from data import Sampler, newline_table
from model import LM, Config, autocast, rope_tables
from predictor import ENGINE_RECENT, ENGINE_SINKS, PRED_FIELDS, Predictor, choose_rot_pairs, ensure_calibrated, load_predictor, model_folder_predictor, pre_rope_keys

HERE = pathlib.Path(__file__).parent


def load_lm(path) -> LM:
    """A training checkpoint (EMA weights) or a model folder (its fp16 training weights)."""
    if pathlib.Path(path).is_dir():
        from export import lm_from_folder  # late: export loads onnx, which training from a checkpoint does not need
        return lm_from_folder(path).eval().requires_grad_(False)
    st = torch.load(path, weights_only=False)
    lm = LM(Config(**st["config"]))
    lm.load_state_dict(st.get("ema", st.get("model")))
    return lm.eval().requires_grad_(False)


@torch.no_grad()
def lm_internals(lm: LM, prev: torch.Tensor, ids: torch.Tensor, rows: torch.Tensor, taps=None):
    """One forward over ids [1,T]; returns the producer taps {layer: [1,T,d]} (the residual stream
    entering each tap layer) and, per consumer layer l>=1, (attention target rows [Hkv, R, T]
    averaged over query heads, pre-RoPE keys [1,Hkv,T,D])."""
    c = lm.cfg
    T = ids.shape[1]
    cos, sin = rope_tables(c, torch.arange(T))
    x = lm.embed(ids, prev)
    taps = set(taps if taps is not None else [c.producer_layer])
    tap, per_layer = {}, {}
    rep = c.n_heads // c.n_kv_heads
    causal = torch.arange(T)[None, :] <= rows[:, None]  # [R, T]
    for l, layer in enumerate(lm.model.layers):
        if l in taps:
            tap[l] = x.clone()
        xn = layer.input_layernorm(x)
        if l >= 1:
            q, k, _ = layer.self_attn.qkv(xn, cos, sin)
            kk = k.repeat_interleave(rep, 1) if rep > 1 else k
            s = (q[0][:, rows] @ kk[0].transpose(1, 2)) / math.sqrt(c.head_dim)  # [H, R, T]
            p = s.masked_fill(~causal, float("-inf")).softmax(-1)
            per_layer[l] = (p.view(c.n_kv_heads, rep, len(rows), T).mean(1), pre_rope_keys(lm, xn, l))
        with autocast():
            x = layer(x, cos, sin)
        x = x.float()
    return tap, per_layer


def sample_rows(T: int, n: int, rng: np.random.Generator, min_row: int) -> torch.Tensor:
    """Tail-biased: the last row, half uniform over [min_row, T), half from the last quarter."""
    a = rng.integers(min_row, T, n // 2)
    b = rng.integers(max(min_row, 3 * T // 4), T, n - n // 2 - 1)
    return torch.from_numpy(np.unique(np.concatenate([a, b, [T - 1]]))).long()


def eligible(rows, T, sinks, recent):
    j = torch.arange(T)[None, :]
    return (j >= sinks) & (j <= rows[:, None] - recent)


def importance(pred: Predictor, tap: dict, rows):
    """{consumer layer: importance queries [Hkv, R, E]} at `rows`."""
    out = {}
    for t in pred.groups:
        out.update({m: q[0][:, rows] for m, q in pred.queries(t, tap[t]).items()})
    return out


def scores(pred: Predictor, qimp: dict, kpre, l: int, rows, T: int, int8: bool = False):
    """Predicted importance logits [Hkv, R, T] of consumer layer l (content score + distance prior);
    int8: the graphs' integer scores (int8 keys and queries, predictor.int8_scores), a per-row rescaling."""
    return pred.scores(qimp[l], pred.keys(kpre, l)[0], l, rows[:, None] - torch.arange(T)[None, :], int8)


def step_loss(pred: Predictor, tap, per_layer, rows, sinks, recent, temp: float = 1.0, mass_weight: bool = True):
    """Cross-entropy of the predicted importance distribution against the LM's attention over the
    selectable tokens. temp > 1 flattens the target (p^(1/temp), renormalised) so the order of the
    tail counts more; rows are weighted by their far mass unless mass_weight is off."""
    T = next(iter(tap.values())).shape[1]
    qimp = importance(pred, tap, rows)
    elig = eligible(rows, T, sinks, recent)
    losses, weights = [], []
    for l, (target, kpre) in per_layer.items():
        s = scores(pred, qimp, kpre, l, rows, T)  # [Hkv, R, T]
        t = target * elig
        mass = t.sum(-1, keepdim=True)  # share of attention on the far (selectable) context
        t = t / mass.clamp_min(1e-9)
        if temp != 1.0:
            t = t.clamp_min(1e-30).pow(1.0 / temp) * elig
            t = t / t.sum(-1, keepdim=True).clamp_min(1e-30)
        logp = s.masked_fill(~elig, -1e9).log_softmax(-1)
        ce = -(t * logp.clamp_min(-1e4)).sum(-1)  # [Hkv, R]
        ok = (mass[..., 0] > 1e-6).float()
        w = mass[..., 0] * ok if mass_weight else ok
        losses.append((ce * w).sum()); weights.append(w.sum())
    return torch.stack(losses).sum() / torch.stack(weights).sum().clamp_min(1e-9)


@torch.no_grad()
def recall_metrics(pred: Predictor, tap, per_layer, rows, sinks, recent, budgets=(64, 256, 512, 1024, "10%", "25%", "50%"), int8: bool = False):
    """Per layer and KV head, among the selectable (non-forced) tokens and averaged over rows: recall
    of the oracle top-k, attention mass captured by the predictor's top-k relative to the oracle's,
    and `far_mass` (the share of the row's attention on selectable tokens: how much the choice matters).
    A budget is a token count or a share of each row's selectable tokens ("50%": the TokenButler
    paper's top-50% token classification)."""
    T = next(iter(tap.values())).shape[1]
    qimp = importance(pred, tap, rows)
    elig = eligible(rows, T, sinks, recent)
    n_elig = elig.sum(-1)  # [R]
    out = {}
    for l, (target, kpre) in per_layer.items():
        s = scores(pred, qimp, kpre, l, rows, T, int8).masked_fill(~elig, -3e38)
        t = (target * elig)
        far = t.sum(-1)  # [Hkv, R]
        p_rank = s.argsort(-1, descending=True).argsort(-1)
        o_rank = t.masked_fill(~elig, -1).argsort(-1, descending=True).argsort(-1)
        for k in budgets:
            kk = (n_elig * float(k[:-1]) / 100).long().clamp_min(1) if isinstance(k, str) else torch.full_like(n_elig, k)
            valid = n_elig > kk  # rows where selection matters
            if valid.sum() == 0:
                continue
            hit = p_rank < kk[None, :, None]; sel = o_rank < kk[None, :, None]
            oracle_hit = (hit & sel).sum(-1).float() / kk[None].float()  # [Hkv, R]
            mass_rec = (t * hit).sum(-1) / (t * sel).sum(-1).clamp_min(1e-9)
            for h in range(t.shape[0]):
                out[f"L{l}H{h}@{k}"] = {"topk_recall": oracle_hit[h][valid].mean().item(), "mass_recall": mass_rec[h][valid].mean().item(),
                                        "far_mass": far[h][valid].mean().item()}
    return out


def summarize(per_head: dict) -> dict:
    """Means over (layer, KV head); `*_w` weight each head by its far mass (heads that put little
    attention beyond the sinks and the recent window count little)."""
    res = {}
    for k in sorted({key.split("@")[1] for key in per_head}, key=lambda b: (b.endswith("%"), int(b.rstrip("%")))):
        vals = [v for key, v in per_head.items() if key.endswith("@" + k)]
        w = np.array([v.get("far_mass", 1.0) for v in vals])
        for m in ("topk_recall", "mass_recall"):
            x = np.array([v[m] for v in vals])
            res[f"{m}@{k}"] = float(x.mean())
            res[f"{m}_w@{k}"] = float((x * w).sum() / max(w.sum(), 1e-9))
    return res


def warm_start(pred: Predictor, state: dict) -> list[str]:
    """Loads every tensor of `state` that `pred`'s layout shares (same name and shape); returns the
    names left at their initial values (e.g. a new distance prior, which starts at 0: no change).
    Into a wider importance space (new rotary pairs after the old dims) each producer's old output
    dims load as the first ones; the new query dims start at 0, so the scores start as the old
    predictor's."""
    own = pred.state_dict()
    # not the int8 key steps: training moves the keys, so they are calibrated afresh (predictor.ensure_calibrated)
    same = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape and k != "ik_scale"}
    E, kp = pred.cfg.imp_dim, state.get("key_proj")
    if kp is not None and "key_proj" in same and kp.shape[-1] < E:
        Eo = kp.shape[-1]
        for k, v in state.items():
            if k.endswith("fc2.weight") and k in own and k not in same and own[k].shape[1] == v.shape[1] and v.shape[0] * E == own[k].shape[0] * Eo:
                w = torch.zeros_like(own[k]).view(-1, E, v.shape[1])
                w[:, :Eo] = v.view(-1, Eo, v.shape[1])
                same[k] = w.view_as(own[k])
    pred.load_state_dict(same, strict=False)
    return sorted(set(own) - set(same) - {"ik_scale"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", default=str(HERE / "work/ckpt/lm.pt"))
    ap.add_argument("--work", default=str(HERE / "work"))
    ap.add_argument("--out", default=str(HERE / "work/pred"))
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
    ap.add_argument("--rot-pairs", type=int, default=None, help="rotary pairs at per-head LM frequencies among the d' dims (0: off; default: --init's, else 0)")
    ap.add_argument("--temp", type=float, default=1.0, help="target temperature (>1 flattens the attention target)")
    ap.add_argument("--no-mass-weight", action="store_true", help="weight rows equally, not by their far attention mass")
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
            prev, row = Sampler(pathlib.Path(args.work) / "tokens", "train", args.seq, 0.0, seed=99).sample()
            print("rotary pairs per (layer, KV head):", choose_rot_pairs(lm, pred, torch.from_numpy(row[None, :-1]).long(), torch.tensor([prev])).tolist())
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
    tok = Tokenizer.from_file(str(pathlib.Path(args.work) / "tokenizer.json"))
    nl = newline_table(tok)
    train = Sampler(pathlib.Path(args.work) / "tokens", "train", args.seq, 0.5, seed=100 + step, newline_ids=nl)
    valid = Sampler(pathlib.Path(args.work) / "tokens", "valid", args.seq, 0.0, seed=4321, newline_ids=nl)
    rng = np.random.default_rng(step)
    eval_set = []
    for _ in range(args.eval_windows):
        prev, row = valid.sample()
        ids = torch.from_numpy(row[None, :-1]).long()
        rows = sample_rows(args.seq, args.rows, np.random.default_rng(7), ENGINE_SINKS + ENGINE_RECENT + 300)  # the same rows for either forced set
        eval_set.append((rows,) + lm_internals(lm, torch.tensor([prev]), ids, rows, pred.groups))
    log = open(out / "log.jsonl", "a")

    def evaluate(sinks=args.sinks, recent=args.recent, int8=False):
        per = {}
        for rows, tap, layers in eval_set:
            for k, v in recall_metrics(pred, tap, layers, rows, sinks, recent, int8=int8).items():
                per.setdefault(k, []).append(v)
        per = {k: {m: float(np.mean([x[m] for x in vs])) for m in vs[0]} for k, vs in per.items()}
        return summarize(per), per

    t0 = time.time()
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
            print(f"step {step} loss {loss.item():.4f} {time.time() - t0:.0f}s", flush=True)
        if step % args.eval_every == 0:
            summary, _ = evaluate()
            summary.update(step=step, loss=loss.item()); print(summary, flush=True)
            log.write(json.dumps(summary) + "\n"); log.flush()
            tmp = out / "pred.tmp"; torch.save({"predictor": pred.state_dict(), "opt": opt.state_dict(), "step": step, "pred_cfg": pcfg}, tmp); os.replace(tmp, out / "pred.pt")
    summary, per_head = evaluate()
    summary.update(step=step, params=pred.num_params(), share=pred.num_params() / lm.num_params(), sinks=args.sinks, recent=args.recent)
    if (args.sinks, args.recent) != (ENGINE_SINKS, ENGINE_RECENT):  # also among the tokens the engine chooses from
        summary["engine_8_128"] = evaluate(ENGINE_SINKS, ENGINE_RECENT)[0]
    with torch.no_grad():  # what the graphs score: int8 keys (steps calibrated on training windows) and queries
        ensure_calibrated(lm, pred, pathlib.Path(args.work) / "tokens")
        summary["int8_keys"] = evaluate(int8=True)[0]
    pred.ik_scale.zero_()  # saved uncalibrated: export calibrates the weights it ships
    torch.save({"predictor": pred.state_dict(), "opt": opt.state_dict(), "step": step, "metrics": summary, "per_head": per_head,
                "pred_cfg": pcfg}, out / "pred.tmp")
    os.replace(out / "pred.tmp", out / "pred.pt")
    log.write(json.dumps(summary) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
