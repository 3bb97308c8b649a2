"""Identifier renaming: a training augmentation that makes project-specific names unguessable, so the
only way to predict a name's later occurrences is to copy it from earlier in the context.

A sample's rare identifiers (seen in fewer than MIN_PKGS training packages: `chindings`,
`setInternalTagFlag`, not `resolve` or `useState`) are replaced consistently, everywhere in the sample
(declarations, imports, call sites, comments, path headers), by invented names in the same case style
built from common identifier words (`parseAmberAnchor` → `mergeLedgerCursor`). Library vocabulary,
keywords and short names are kept, so the code stays natural.

training/pipeline/rename.py writes WORK/tokens/idents.json (the kept names) from the training corpus.
"""
from __future__ import annotations

import collections
import json
import pathlib
import re

import numpy as np

# not inside a number (0xFFFF) or right after a backslash (\u00a0, \nfoo in a string)
IDENT = re.compile(r"(?<![\w$\\])[A-Za-z_$][\w$]*")
PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
MIN_PKGS = 8      # a name used by this many training packages is library vocabulary: kept
MIN_LEN = 4       # shorter names (i, fn, cb, err) are generic: kept
N_SPECIAL = 5     # token ids below this are special tokens (EOT, FIM markers, file separator)


def parts(name: str) -> list[str]:
    return PARTS.findall(name)


STYLES = ("camel", "pascal", "snake", "upper")  # fooBar, FooBar, foo_bar, FOO_BAR


def style_of(name: str) -> str:
    if name.replace("_", "").isupper():
        return "upper"
    if "_" in name.strip("_"):
        return "snake"
    return "pascal" if name[0].isupper() else "camel"


def join_words(words: list[str], style: str) -> str:
    """Lower-case words joined into one identifier in `style` (one of STYLES)."""
    if style == "upper":
        return "_".join(w.upper() for w in words)
    if style == "snake":
        return "_".join(words)
    if style == "pascal":
        return "".join(w.capitalize() for w in words)
    return words[0] + "".join(w.capitalize() for w in words[1:])


def load_idents(work: pathlib.Path) -> dict:
    """work/tokens/idents.json (build_vocab's output), or exit saying how to make it."""
    path = work / "tokens" / "idents.json"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run python3 training/pipeline/rename.py")
    return json.loads(path.read_text())


def build_vocab(corpus_jsonl: pathlib.Path) -> dict:
    """Identifiers used by >= MIN_PKGS packages (kept as they are) and the common lower-case words
    identifiers are made of (the material for invented names)."""
    pkgs_of: dict[str, set] = collections.defaultdict(set)
    for line in corpus_jsonl.open():
        r = json.loads(line)
        for name in set(IDENT.findall(r["text"])):
            if len(pkgs_of[name]) < MIN_PKGS:
                pkgs_of[name].add(r["pkg"])
    common = sorted(n for n, p in pkgs_of.items() if len(p) >= MIN_PKGS)
    words = collections.Counter()
    for n in common:
        for w in parts(n):
            if w.isalpha() and 3 <= len(w) <= 10:
                words[w.lower()] += 1
    return {"min_pkgs": MIN_PKGS, "common": common, "words": sorted(w for w, c in words.items() if c >= 3)}


class Renamer:
    """Renames the rare identifiers of a token row consistently; special tokens stay where they are."""

    def __init__(self, tok, vocab: dict, rng: np.random.Generator):
        self.tok, self.rng = tok, rng
        self.keep = set(vocab["common"])
        self.words = vocab["words"]

    def invent(self, name: str, taken: set) -> str:
        """A new name in `name`'s case style, not in `taken` and not a library name."""
        ws = parts(name)
        n = min(4, max(1, len([w for w in ws if w.isalpha()])))
        for _ in range(20):
            new = [self.words[i] for i in self.rng.integers(0, len(self.words), n)]
            out = join_words(new, style_of(name))
            out = name[:len(name) - len(name.lstrip("_$"))] + out  # keep a leading _ or $
            if out not in taken and out not in self.keep:
                return out
        return name

    def rename_text(self, text: str, mapping: dict, taken: set) -> str:
        def sub(m):
            name = m.group()
            if len(name) < MIN_LEN or name in self.keep:
                return name
            if name not in mapping:
                mapping[name] = self.invent(name, taken)
                taken.add(mapping[name])
            return mapping[name]
        return IDENT.sub(sub, text)

    def __call__(self, row: np.ndarray) -> tuple[np.ndarray, dict]:
        """(renamed row, {old: new}); each run of ordinary tokens between special tokens is decoded,
        renamed and re-encoded, so the row's length changes."""
        mapping: dict[str, str] = {}
        taken: set[str] = set()  # mapping's values
        out, run = [], []

        def flush():
            if run:
                text = self.tok.decode(run, skip_special_tokens=False)
                out.extend(self.tok.encode(self.rename_text(text, mapping, taken), add_special_tokens=False).ids)
                run.clear()
        for t in row.tolist():
            if t < N_SPECIAL:
                flush(); out.append(t)
            else:
                run.append(t)
        flush()
        return np.array(out, dtype=np.int64), mapping
