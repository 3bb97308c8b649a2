"""ShadowLLM predictors and their data (shadow.py: the masked forward and the importance criteria).

  ShadowPredictor  one MLP on the residual stream after layer 0, predicting every later layer's head and
                   neuron importances at once (one call per token, before layer 1)
  DejaVuPredictor  the baseline: one MLP per later layer on that layer's own input (a call per layer)
  rank_loss        pairwise (RankNet) loss: only the order of the scores within a (token, layer) matters
  Trainer          distillation from the LM's per-token importances of random training windows (resumable)
  heldout_windows  evaluation / training windows from unpacked npm packages (the held-out families under
                   work/heldout/ws when the token corpus is absent), tokenized as data.py lays out files
  corpus_windows   the same windows cut from the corpus (work/corpus/{train,valid}.jsonl, dataset/build.py)
"""
from __future__ import annotations

import hashlib
import json
import pathlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from tbtrain.corpus import BAD_PATH, choose_variants, ext_of, looks_minified
from tbtrain.shadow import importances, topk_mask


class ShadowPredictor(nn.Module):
    """d -> hidden -> L' * (H + F) scores from the layer-0 output (RMS-normalized)."""

    def __init__(self, d: int, n_layers: int, n_heads: int, ffn: int, hidden: int = 32):
        super().__init__()
        self.n_layers, self.n_heads, self.ffn = n_layers, n_heads, ffn
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, n_layers * (n_heads + ffn))

    def forward(self, x):
        """x [B, T, d] -> (heads [B, T, L', H], neurons [B, T, L', F])."""
        z = self.fc2(F.gelu(self.fc1(F.rms_norm(x.float(), x.shape[-1:]))))
        z = z.view(*x.shape[:-1], self.n_layers, self.n_heads + self.ffn)
        return z[..., :self.n_heads], z[..., self.n_heads:]


class DejaVuPredictor(nn.Module):
    """One d -> hidden -> H + F MLP per masked layer, each on that layer's input."""

    def __init__(self, d: int, n_layers: int, n_heads: int, ffn: int, hidden: int = 26):
        super().__init__()
        self.n_heads = n_heads
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, n_heads + ffn)) for _ in range(n_layers))

    def layer(self, i: int, x):
        z = self.mlps[i](F.rms_norm(x.float(), x.shape[-1:]))
        return z[..., :self.n_heads], z[..., self.n_heads:]

    def forward(self, inputs):
        """inputs [B, T, L', d] (each layer's input) -> (heads [B, T, L', H], neurons [B, T, L', F])."""
        outs = [self.layer(i, inputs[:, :, i]) for i in range(len(self.mlps))]
        return torch.stack([o[0] for o in outs], 2), torch.stack([o[1] for o in outs], 2)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def rank_loss(pred, target, pairs: int | None = None, gen: torch.Generator | None = None):
    """RankNet over pairs of the last dim: softplus(-sign(t_i - t_j) (p_i - p_j)), ties skipped.
    pairs=None: every pair (heads); else that many random pairs per row (neurons)."""
    n = pred.shape[-1]
    if pairs is None:
        i, j = torch.triu_indices(n, n, 1)
    else:
        i = torch.randint(0, n, (pairs,), generator=gen); j = torch.randint(0, n, (pairs,), generator=gen)
    s = torch.sign(target[..., i] - target[..., j])
    loss = F.softplus(-s * (pred[..., i] - pred[..., j]))
    return (loss * (s != 0)).sum() / (s != 0).sum().clamp_min(1)


def predicted_masks(pred: nn.Module, keep_heads: float, keep_neurons: float, sparse_from: int = 1):
    """masks(l, x) for shadow.forward from a predictor: ShadowPredictor is called once, on the stream entering
    layer sparse_from, and its scores reused for every later layer; DejaVuPredictor once per layer on its input."""
    cache = {}

    def masks(l, x):
        i = l - sparse_from
        if isinstance(pred, ShadowPredictor):
            if i == 0:
                cache["s"] = pred(x)
            h, n = cache["s"][0][:, :, i], cache["s"][1][:, :, i]
        else:
            h, n = pred.layer(i, x)
        return (topk_mask(h, keep_heads) if keep_heads < 1 else None, topk_mask(n, keep_neurons) if keep_neurons < 1 else None)
    return masks


def package_stream(pkg: pathlib.Path, tok) -> np.ndarray:
    """A package's kept files (the corpus filters: code types, path filter, one build variant, not minified)
    in path order, each as <|file_sep|>path\\n text (data.py's layout)."""
    files = {}
    for p in sorted(pkg.rglob("*")):
        rel = p.relative_to(pkg).as_posix()
        if not p.is_file() or not ext_of(rel) or BAD_PATH.search("/" + rel) or not 64 <= p.stat().st_size <= 1_000_000:
            continue
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if not looks_minified(text):
            files[rel] = text
    parts = []
    for rel in choose_variants(files):
        parts += [[4], tok.encode(rel + "\n", add_special_tokens=False).ids, tok.encode(files[rel], add_special_tokens=False).ids]
    return np.asarray([t for part in parts for t in part], np.int64)


EVAL_PACKAGES = ("zod", "pino", "marked", "semver", "koa", "mitt", "luxon", "hono")  # the rest train the predictors


def heldout_windows(ws: pathlib.Path, tokenizer: pathlib.Path, cache: pathlib.Path, seq: int) -> dict:
    """{"eval": [...], "train": [...]} of (prev=EOT, ids[seq + 1]) windows cut end to end from each package's
    stream; packages whose name starts with one of EVAL_PACKAGES are the evaluation split. Cached."""
    from tokenizers import Tokenizer
    key = hashlib.sha256(pathlib.Path(tokenizer).read_bytes()).hexdigest()[:12]
    f = cache / f"windows-{key}-{seq}.npz"
    if not f.exists():
        tok = Tokenizer.from_file(str(tokenizer))
        rows = {"eval": [], "train": []}
        names = []
        for pkg in sorted(p for p in ws.iterdir() if p.is_dir()):
            s = package_stream(pkg, tok)
            split = "eval" if pkg.name.startswith(EVAL_PACKAGES) else "train"
            for a in range(0, len(s) - seq - 1, seq + 1):
                rows[split].append(s[a:a + seq + 1]); names.append((split, pkg.name))
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(f, eval=np.stack(rows["eval"]), train=np.stack(rows["train"]))
        (cache / f"windows-{key}-{seq}.json").write_text(json.dumps(names))
    z = np.load(f)
    return {"eval": z["eval"], "train": z["train"]}


def corpus_windows(corpus: pathlib.Path, tokenizer: pathlib.Path, cache: pathlib.Path, seq: int, split: str,
                   per_package: int = 48, seed: int = 0) -> np.ndarray:
    """Up to `per_package` (prev=EOT, ids[seq + 1]) windows per package of corpus/{split}.jsonl, cut end to end from
    the package's files in path order (each <|file_sep|>path\\n text, as package_stream) starting at a random
    file (fixed seed), so every package of the split is sampled without tokenizing the whole corpus. Cached."""
    from tokenizers import Tokenizer
    key = hashlib.sha256(pathlib.Path(tokenizer).read_bytes()).hexdigest()[:12]
    f = cache / f"corpus-{split}-{key}-{seq}-{per_package}-{seed}.npy"
    if not f.exists():
        tok = Tokenizer.from_file(str(tokenizer))
        pkgs: dict[str, list] = {}
        with open(pathlib.Path(corpus) / f"{split}.jsonl") as fh:
            for line in fh:
                r = json.loads(line)
                pkgs.setdefault(r["pkg"], []).append((r["path"], r["text"]))
        rng = np.random.default_rng(seed)
        need = per_package * (seq + 1)
        rows = []
        for name in sorted(pkgs):
            files = sorted(pkgs[name])
            start = int(rng.integers(len(files)))
            chars = 0
            texts = []
            for path, text in files[start:] + files[:start]:  # about 3 characters a token: enough text for `need` tokens
                texts += [path + "\n", text]
                chars += len(text)
                if chars > 4 * need:
                    break
            enc = tok.encode_batch(texts, add_special_tokens=False)
            ids = [t for i in range(0, len(enc), 2) for t in [4] + enc[i].ids + enc[i + 1].ids]
            s = np.asarray(ids[:need], np.int64)
            rows += [s[a:a + seq + 1] for a in range(0, len(s) - seq, seq + 1)]
        cache.mkdir(parents=True, exist_ok=True)
        np.save(f, np.stack(rows))
    return np.load(f)


def spread(rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n windows drawn without replacement (fixed seed), so every package tends to appear."""
    idx = np.random.default_rng(seed).permutation(len(rows))[:n]
    return rows[np.sort(idx)]


class Trainer:
    """Trains predictors {name: (module, criterion)} on the same windows and steps: each step one training
    window through the dense LM (importances(): both criteria, the layer inputs), then one AdamW step per
    predictor on the ranking loss of its criterion's head and neuron scores."""

    def __init__(self, lm, windows: np.ndarray, preds: dict, lr: float = 2e-3, neuron_pairs: int = 256, seed: int = 0):
        self.lm, self.windows, self.preds, self.pairs = lm, windows, preds, neuron_pairs
        self.opts = {n: torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.0) for n, (m, _) in preds.items()}
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.steps = 0

    def step(self) -> dict:
        row = torch.from_numpy(self.windows[int(self.rng.integers(len(self.windows)))])[None]
        imp = importances(self.lm, row[:, :-1], torch.zeros(1, dtype=torch.long), row[:, 1:])
        losses = {}
        for name, (m, crit) in self.preds.items():
            h, n = m(imp["x0"] if isinstance(m, ShadowPredictor) else imp["inputs"])
            loss = rank_loss(h, imp[f"{crit}_heads"]) + rank_loss(n, imp[f"{crit}_neurons"], self.pairs, self.gen)
            self.opts[name].zero_grad(); loss.backward(); self.opts[name].step()
            losses[name] = loss.item()
        self.steps += 1
        return losses

    def state_dict(self) -> dict:
        return {"steps": self.steps, "rng": self.rng.bit_generator.state, "gen": self.gen.get_state(),
                "preds": {n: m.state_dict() for n, (m, _) in self.preds.items()},
                "opts": {n: o.state_dict() for n, o in self.opts.items()}}

    def load_state_dict(self, st: dict):
        self.steps = st["steps"]
        self.rng.bit_generator.state = st["rng"]
        self.gen.set_state(st["gen"])
        for n, (m, _) in self.preds.items():
            m.load_state_dict(st["preds"][n]); self.opts[n].load_state_dict(st["opts"][n])

    def save(self, path: pathlib.Path, extra: dict | None = None):
        """Atomic: written beside, then renamed."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({**self.state_dict(), **(extra or {})}, tmp)
        tmp.replace(path)

    def load(self, path: pathlib.Path):
        self.load_state_dict(torch.load(path, weights_only=False))
