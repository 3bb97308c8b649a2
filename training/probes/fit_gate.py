"""Fits the pointer/lookup gate (copy_gate, copy_gate_f) of an LM checkpoint with everything else
frozen, on cached features of training rows: a warm start for a new gate component (train.py
--ngram adds one at ~zero weight, and joint training at the trunk's learning rate moves it slowly).

python3 training/probes/fit_gate.py --lm work/ckpt5/lm.pt --out work/ckpt5-gate.pt [--rows 12 --iters 600]
The output is a train.py checkpoint (use with --init): same token counts, the fitted gate in both the
weights and the EMA.
"""
import argparse
import pathlib
import sys

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.data import Sampler, newline_table
from tbtrain.metrics import Evaluator
from tbtrain.model import LM, Config, autocast
from tbtrain.paths import TRAINING


@torch.no_grad()
def features(lm: LM, prev: int, row):
    """Per position: normed hidden state, vocabulary log-prob of the target, each component's
    probability of the target (pointer heads, lookup) and the lookup's gate features."""
    ids = torch.from_numpy(row).long()[None, :-1]; tgt = torch.from_numpy(row).long()[None, 1:]
    with autocast():
        x, probs, _ = lm.trunk(ids, torch.tensor([prev]))
    hn = lm.model.norm(x.float())[0]
    logp = F.log_softmax(lm.lm_head(hn).float(), -1).gather(-1, tgt[0, :, None])[:, 0]
    hit = (ids[0][None, :] == tgt[0][:, None]).float()
    pcs = [(probs[f][0].float() * hit).sum(-1) for f in lm.cfg.copy_heads]
    ng = lm.ngram(ids)
    if ng is not None:
        pcs.append((ng[0][0] * hit).sum(-1))
    return hn, logp, torch.stack(pcs, -1), (ng[1][0] if ng is not None else None)


def mixture_nll(lm, hn, logp, pc, feats):
    logw = F.log_softmax(lm.gate_logits(hn, (None, feats)), -1)
    return -torch.logaddexp(logw[:, 0] + logp, torch.log((logw[:, 1:].exp() * pc).sum(-1).clamp_min(1e-30)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default=str(TRAINING / "work"))
    ap.add_argument("--rows", type=int, default=12)
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--iters", type=int, default=600)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--valid-rows", type=int, default=6)
    ap.add_argument("--fim-rate", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ngram-tau", type=float, default=None, help="change the lookup's recency scale (the trunk does not depend on it)")
    ap.add_argument("--probe", action="store_true", help="then run train.py's evaluator (held-out bits/byte, identifier probes)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    st = torch.load(args.lm, weights_only=False)
    if args.ngram_tau is not None:
        st["config"] = {**st["config"], "ngram_tau": args.ngram_tau}
    lm = LM(Config(**st["config"])).eval()
    lm.load_state_dict(st["ema"])
    work = pathlib.Path(args.work)
    tok = Tokenizer.from_file(str(work / "tokenizer.json"))
    s = Sampler(work / "tokens", "train", args.seq, args.fim_rate, seed=77, newline_ids=newline_table(tok), dep_rate=0.75)
    v = Sampler(work / "tokens", "valid", args.seq, 0.0, seed=5, dep_rate=0.75)
    tr = [features(lm, *s.sample()) for _ in range(args.rows)]
    va = [features(lm, *v.sample()) for _ in range(args.valid_rows)]
    cat = lambda rows: [torch.cat([r[i] for r in rows]) if rows[0][i] is not None else None for i in range(4)]
    T, V = cat(tr), cat(va)
    params = [p for n, p in lm.named_parameters() if n.startswith("copy_gate")]
    for p in lm.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    with torch.no_grad():
        before = (mixture_nll(lm, *T).mean().item(), mixture_nll(lm, *V).mean().item())
    opt = torch.optim.Adam(params, lr=args.lr)
    best = (before[1], [p.detach().clone() for p in params], 0)
    for i in range(args.iters):  # early stopping on the held-out rows (the gate overfits the training rows' mix)
        loss = mixture_nll(lm, *T).mean()
        opt.zero_grad(); loss.backward(); opt.step()
        if (i + 1) % 20 == 0:
            with torch.no_grad():
                h = mixture_nll(lm, *V).mean().item()
            if h < best[0]:
                best = (h, [p.detach().clone() for p in params], i + 1)
            if (i + 1) % 100 == 0:
                print(f"  iter {i + 1}: train {loss.item():.4f} held-out {h:.4f}", flush=True)
    with torch.no_grad():
        for p, b in zip(params, best[1]):
            p.copy_(b)
        after = (mixture_nll(lm, *T).mean().item(), mixture_nll(lm, *V).mean().item())
    print(f"kept iteration {best[2]}")
    print(
        f"gate fit on {len(T[0])} positions: train {before[0]:.4f} -> {after[0]:.4f} nats/token, held-out {before[1]:.4f} -> {after[1]:.4f}"
    )
    gate = {n: p.detach().clone() for n, p in lm.named_parameters() if n.startswith("copy_gate")}
    out = {k: v for k, v in st.items() if k not in ("opt", "model", "ema")}
    out["ema"] = {**st["ema"], **gate}
    out["model"] = {**st.get("model", st["ema"]), **gate}
    out["gate_fit"] = {"train": after[0], "heldout": after[1], "heldout_before": before[1]}
    torch.save(out, args.out)
    if args.probe:
        m = Evaluator(work / "tokens", tok, 2048)(lm)
        print({k: round(v, 3) for k, v in m.items() if k in ("val_bpb", "ident_ratio", "dep_def_ratio", "dep_def_first_nats",
                                                               "dep_def_later_tok1_nats", "dep_def_later_rest_nats", "copy_far_nats")})


if __name__ == "__main__":
    main()
