"""What training and evaluation measure: bytes per token (for bits/byte) and the held-out evaluator
that train.py logs at every evaluation (bits/byte, a random-span repeat probe, planted copies at
near and far distances, and the cross-file identifier probe: an identifier's first occurrence
against its next occurrence in a later file)."""
from __future__ import annotations

import math
import pathlib
import re

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from tbtrain.data import Sampler
from tbtrain.model import LM, autocast
from tbtrain.synthetic import spread_batch

KEYWORDS = set("""abstract any as async await boolean break case catch class const constructor continue debugger declare
default delete do else enum export extends false finally for from function get if implements import in infer instanceof
interface is keyof let module namespace never new null number object of package private protected public readonly
require return set static string super switch symbol this throw true try type typeof undefined unique unknown var void
while with yield length value Promise Array Object String Number Boolean Error""".split())


# the first occurrence is a declaration when one of these ends right before the name
DECL = re.compile(r"(?:\b(?:function\*?|class|interface|type|enum|const|let|var|namespace)\s+|\bexport\s+(?:default\s+)?)$")


def token_bytes(tok: Tokenizer) -> np.ndarray:
    """UTF-8 bytes per token id (specials count 0): byte-level BPE tokens are byte strings."""
    out = np.zeros(tok.get_vocab_size(), dtype=np.int64)
    for s, i in tok.get_vocab().items():
        out[i] = 0 if (s.startswith("<|") and s.endswith("|>")) else len(s)
    return out


class Evaluator:
    """Fixed held-out windows (plain multi-file, no FIM), a random-span repeat probe and a cross-file
    identifier probe: loss on an identifier's first occurrence vs its next occurrence in a later file.
    The probe runs on the path-ordered windows (also used for bits/byte, so the curve stays comparable)
    and, when the dependency index exists, on dependency-ordered windows (imported files first, as the
    engine lays out context): `dep_*` keys."""

    def __init__(self, tokens_dir, tok: Tokenizer, seq: int, n: int = 24, dep_seq: int = 4096):
        s = Sampler(tokens_dir, "valid", seq, fim_rate=0.0, seed=1234)
        self.samples = [s.sample() for _ in range(n)]
        self.tbytes = token_bytes(tok)
        self.pieces = [tok.decode([i], skip_special_tokens=False) for i in range(tok.get_vocab_size())]
        self.ident_spans = [self.identifier_pairs(row) for _, row in self.samples]
        self.dep_samples, self.dep_spans = [], []
        if (pathlib.Path(tokens_dir) / "valid.deps.json").exists() and dep_seq:
            d = Sampler(tokens_dir, "valid", dep_seq, fim_rate=0.0, seed=4321, dep_rate=1.0)
            self.dep_samples = [d.sample() for _ in range(n)]
            self.dep_spans = [self.identifier_pairs(row) for _, row in self.dep_samples]
        g = torch.Generator().manual_seed(7)
        self.random_rows = torch.randint(5, tok.get_vocab_size(), (8, 200), generator=g)
        # long-distance copy probe: 16 random spans, copied shuffled 100-4000 tokens later
        self.far_rows, _, self.far_dist = spread_batch(np.random.default_rng(11), 2, 4096, tok.get_vocab_size(), None, 8, 64, 16)

    def identifier_pairs(self, row):
        """[(first_token_idxs, later_token_idxs, defined)] for identifiers first seen in one file and reused in a
        later one; `defined` when the first occurrence is the declaration (function/class/const/... NAME)."""
        text, starts, file_of, f = [], [], [], 0
        pos = 0
        for t in row[:-1].tolist():
            if t == 4:  # <|file_sep|>
                f += 1
            p = self.pieces[t]
            starts.append(pos); file_of.append(f); text.append(p); pos += len(p)
        full = "".join(text)
        char_tok = np.searchsorted(np.array(starts), np.arange(len(full)), side="right") - 1
        first: dict[str, tuple] = {}
        pairs, done = [], set()
        for m in re.finditer(r"[A-Za-z_$][\w$]{4,}", full):
            name = m.group()
            if name in KEYWORDS or name in done:
                continue
            toks = sorted(set(char_tok[m.start():m.end()].tolist()))
            fi = file_of[toks[0]]
            if name not in first:
                first[name] = (fi, toks, bool(DECL.search(full[max(0, m.start() - 40):m.start()])))
            elif fi > first[name][0]:
                pairs.append((first[name][1], toks, first[name][2])); done.add(name)
        return pairs

    @staticmethod
    def ident_losses(model, samples, spans, out: dict, prefix: str, tbytes=None):
        """Identifier probe over `samples`; returns (nats, bytes) of the windows."""
        nats = nbytes = 0.0
        f_loss, s_loss, s_first, defined = [], [], [], []
        for (prev, row), pairs in zip(samples, spans):
            ids = torch.from_numpy(row).long()[None]
            with autocast():
                logits = model(ids[:, :-1], torch.tensor([prev]))
            loss = F.cross_entropy(logits.float()[0], ids[0, 1:], reduction="none")
            nats += loss.sum().item()
            if tbytes is not None:
                nbytes += float(tbytes[row[1:]].sum())
            # loss of token t is predicting row[t] from row[:t]: index t-1 in `loss`
            for a, b, d in pairs:
                a = [t - 1 for t in a if t > 0]; b = [t - 1 for t in b if t > 0]
                if a and b:
                    f_loss.append(loss[a].sum().item()); s_loss.append(loss[b].sum().item()); defined.append(d)
                    s_first.append(loss[b[0]].item())
        f_loss, s_loss, s_first, defined = map(np.array, (f_loss, s_loss, s_first, defined))
        for name, m in (("ident", np.ones(len(defined), bool)), ("def", defined.astype(bool))):
            ok = bool(m.any())
            out.update({
                f"{prefix}{name}_first_nats": float(f_loss[m].mean()) if ok else None,
                f"{prefix}{name}_later_nats": float(s_loss[m].mean()) if ok else None,
                # the later occurrence split: its first token (which name comes: not copyable) and the rest (copyable)
                f"{prefix}{name}_later_tok1_nats": float(s_first[m].mean()) if ok else None,
                f"{prefix}{name}_later_rest_nats": float((s_loss[m] - s_first[m]).mean()) if ok else None,
                f"{prefix}{name}_ratio": float(f_loss[m].mean() / max(1e-6, s_loss[m].mean())) if ok else None,
                f"{prefix}{name}_pairs": int(m.sum())})
        return nats, nbytes

    @torch.no_grad()
    def __call__(self, model: LM) -> dict:
        model.eval()
        out: dict = {}
        nats, nbytes = self.ident_losses(model, self.samples, self.ident_spans, out, "", self.tbytes)
        if self.dep_samples:
            self.ident_losses(model, self.dep_samples, self.dep_spans, out, "dep_")
        rows = torch.cat([torch.zeros(8, 1, dtype=torch.long), self.random_rows, self.random_rows], 1)
        with autocast():
            logits = model(rows[:, :-1], torch.zeros(8, dtype=torch.long))
        rl = F.cross_entropy(logits.float().transpose(1, 2), rows[:, 1:], reduction="none")
        fr = torch.from_numpy(self.far_rows)
        with autocast():
            logits = model(fr[:, :-1], torch.zeros(len(fr), dtype=torch.long))
        fl = F.cross_entropy(logits.float().transpose(1, 2), fr[:, 1:], reduction="none").numpy()
        near, far = (self.far_dist > 0) & (self.far_dist < 1000), self.far_dist >= 2000
        model.train()
        return {"val_bpb": nats / math.log(2) / nbytes, **out,
                "rand_copy1_nats": rl[:, 1:200].mean().item(), "rand_copy2_nats": rl[:, 201:].mean().item(),
                "copy_near_nats": float(fl[near].mean()), "copy_far_nats": float(fl[far].mean())}
