"""Which attention heads would make good pointer heads (model.LM.head, config.copy_heads)?

For every (layer, head) of a trained LM without pointer heads, mixes a constant share g of that
head's attention, used as a copy distribution over the token ids it reads, into the vocabulary
head's distribution, and reports held-out loss on dependency-ordered windows: over all tokens, and
over the tokens after the first of declared names reused in a later file (the copyable part of the
cross-file identifier probe). No training; the session-6 choice of copy_heads 5,8,11 came from it.

python3 training/probes/pointer_probe.py --lm work/ckpt3/lm.pt [--windows 6]
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.checkpoints import load_lm
from tbtrain.metrics import Evaluator
from tbtrain.model import rope_tables
from tbtrain.paths import TRAINING


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lm", default=str(TRAINING / "work/ckpt3/lm.pt"))
    ap.add_argument("--work", default=str(TRAINING / "work"))
    ap.add_argument("--windows", type=int, default=6)
    ap.add_argument("--shares", default="0.05,0.1,0.2,0.3")
    args = ap.parse_args()
    torch.set_num_threads(2)
    work = pathlib.Path(args.work)
    ev = Evaluator(work / "tokens", Tokenizer.from_file(str(work / "tokenizer.json")), 2048, n=args.windows)
    lm = load_lm(args.lm)
    c = lm.cfg
    assert not c.copy_heads, "probe an LM without pointer heads"
    shares = [float(g) for g in args.shares.split(",")]
    res: dict = {}
    base_all = base_rest = n_all = n_rest = 0
    for (prev, row), pairs in zip(ev.dep_samples, ev.dep_spans):
        ids = torch.from_numpy(row).long()[None, :-1]; tgt = torch.from_numpy(row).long()[1:]
        T = ids.shape[1]
        rest = torch.tensor(sorted({t - 1 for a, b, d in pairs if d for t in b[1:] if t > 0}), dtype=torch.long)
        cos, sin = rope_tables(c, torch.arange(T)); x = lm.embed(ids, torch.tensor([prev]))
        attn = []
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        for layer in lm.model.layers:
            q, k, _ = layer.self_attn.qkv(layer.input_layernorm(x), cos, sin)
            kk = k.repeat_interleave(c.n_heads // c.n_kv_heads, 1)
            attn.append(((q[0] @ kk[0].transpose(1, 2)) / c.head_dim ** 0.5).masked_fill(~causal, float("-inf")).softmax(-1))
            x = layer(x, cos, sin)
        p_lm = F.softmax(lm.lm_head(lm.model.norm(x))[0].float(), -1).gather(1, tgt[:, None])[:, 0]
        hit = ids[0][None, :] == tgt[:, None]  # key position j holds the target token of query t
        l0 = -torch.log(p_lm)
        base_all += l0.sum().item(); base_rest += l0[rest].sum().item(); n_all += T; n_rest += len(rest)
        for l in range(c.n_layers):
            for h in range(c.n_heads):
                p_copy = (attn[l][h] * hit).sum(-1)
                for g in shares:
                    L = -torch.log((1 - g) * p_lm + g * p_copy)
                    r = res.setdefault((l, h, g), [0.0, 0.0])
                    r[0] += L.sum().item(); r[1] += L[rest].sum().item()
    print(f"no pointer: {base_all / n_all:.4f} nats/token, name rest {base_rest / max(1, n_rest):.3f} ({n_rest} tokens)")
    print("head (flat)  share  nats/token  name rest")
    for (l, h, g), (a, r) in sorted(res.items(), key=lambda kv: kv[1][0])[:12]:
        print(f"L{l}H{h} ({l * c.n_heads + h:2d})  {g:.2f}  {a / n_all:.4f}  {r / max(1, n_rest):.3f}")


if __name__ == "__main__":
    main()
