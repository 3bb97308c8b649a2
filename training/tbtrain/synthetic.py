"""Synthetic copy rows that teach the LM to copy from context (see training/README.md, Copying):
random or real-code spans repeated after a random prefix (`copy_batch`, `spread_batch` for long
distances), invented names planted over real code and reused later (`NameCopy`), and key-value
definitions recalled by their key (`KeyValue`). Each returns rows and a loss mask: only the
predictable repeats count. pipeline/induction.py trains on them alone; train.py mixes them in.
"""
from __future__ import annotations

import numpy as np

from tbtrain.coref import WORDS
from tbtrain.data import newline_table
from tbtrain.rename import STYLES, join_words


def filler(rng: np.random.Generator, T: int, vocab: int, code: np.ndarray | None) -> np.ndarray:
    """T tokens of real code (a random window of `code`) or of random tokens."""
    if code is not None:
        s = int(rng.integers(0, len(code) - T))
        return code[s:s + T].astype(np.int64)
    return rng.integers(5, vocab, T)


def copy_batch(rng: np.random.Generator, B: int, T: int, vocab: int, code: np.ndarray | None, lo=8, hi=64, spread: int = 0):
    """rows [B, T+1] and a mask [B, T] of positions whose target is predictable by copying.

    Each row is filler (random tokens, or real code) with spans planted at random places and
    copied again at random later places, so the copy head must find the earlier occurrence by
    content at any distance (a tiled span could be solved by relative position alone).
    spread=n instead plants n spans in the first half of the row (one per slot of T/2n) and their
    copies, shuffled, in the second half: distances from a few tokens to almost T, many per row."""
    if spread:
        return spread_batch(rng, B, T, vocab, code, lo, hi, spread)[:2]
    rows = np.zeros((B, T + 1), np.int64)
    mask = np.zeros((B, T), bool)
    for b in range(B):
        body = filler(rng, T, vocab, code)
        t = 0
        while True:
            L = int(rng.integers(lo, hi + 1))
            a = t + int(rng.integers(0, max(1, T // 8)))
            gap = int(rng.integers(0, T // 2))
            c = a + L + gap
            if c + L > T:
                break
            span = body[a:a + L] if code is not None else rng.integers(5, vocab, L)
            body[a:a + L] = span
            body[c:c + L] = span
            mask[b, c + 1 : c + L] = (
                True  # rows[b, 1 + i] = body[i]; target index i predicts body[i]; the first copied token is not predictable
            )
            t = c + L
        rows[b, 1:] = body
    return rows, mask


def spread_batch(rng, B, T, vocab, code, lo, hi, n):
    """copy_batch(spread=n), plus dist [B, T]: for each scored position, how far back its source is."""
    rows = np.zeros((B, T + 1), np.int64)
    mask = np.zeros((B, T), bool)
    dist = np.zeros((B, T), np.int64)
    slot = T // (2 * n)
    hi = min(hi, slot)
    for b in range(B):
        body = filler(rng, T, vocab, code)
        spans = []
        for i in range(n):
            L = int(rng.integers(lo, hi + 1))
            a = i * slot + int(rng.integers(0, slot - L + 1))
            if code is None:
                body[a:a + L] = rng.integers(5, vocab, L)
            spans.append((a, body[a:a + L].copy()))
        for i, j in enumerate(rng.permutation(n)):
            a, span = spans[j]
            L = len(span)
            c = T // 2 + i * slot + int(rng.integers(0, slot - L + 1))
            body[c:c + L] = span
            mask[b, c + 1:c + L] = True
            dist[b, c + 1:c + L] = c - a
        rows[b, 1:] = body
    return rows, mask, dist


class NameCopy:
    """Synthetic rows for copying *names*, the part of copying that random-token spans do not teach.

    A random span can be copied by matching one token (random tokens rarely repeat). A name's pieces
    (`transport`, `Uses`, `Multi`, `st`, `ream`) are frequent tokens followed by many different
    things, so copying `ream` after `...Multist` needs the head to match the longer prefix. Each row is
    real code with invented names (common identifier words in a random case style, tokenized by the
    real tokenizer, with and without a leading space) planted over it: families of names sharing their
    first word(s), each declared once in the first half and reused 1-4 times later. The loss counts
    every token of a reuse after its first (the first says which name comes: not copyable)."""

    def __init__(self, tok, words: list[str], rng: np.random.Generator, names: int = 48, family: int = 3):
        self.tok, self.words, self.rng, self.names, self.family = tok, words, rng, names, family

    def _words(self) -> list[str]:
        return [self.words[i] for i in self.rng.integers(0, len(self.words), int(self.rng.integers(1, 3)))]

    def batch(self, B: int, T: int, code: np.ndarray):
        rows = np.zeros((B, T + 1), np.int64)
        mask = np.zeros((B, T), bool)
        for b in range(B):
            body = filler(self.rng, T, 0, code)
            names = []
            while len(names) < self.names:
                stem, style = self._words(), STYLES[int(self.rng.choice(4, p=[0.5, 0.25, 0.1, 0.15]))]
                names += [join_words(stem + self._words(), style) for _ in range(self.family)]
            names = list(dict.fromkeys(names))[:self.names]
            variants = self.tok.encode_batch([" " + n for n in names] + names)
            spaced, bare = variants[:len(names)], variants[len(names):]
            occ = []  # (position, name index, is declaration)
            free = np.ones(T, bool)

            def place(lo, hi, L, free=free):
                for _ in range(20):
                    a = int(self.rng.integers(lo, max(lo + 1, hi - L)))
                    if a + L <= T and free[max(0, a - 1):a + L + 1].all():
                        free[a:a + L] = False
                        return a
                return None
            for i in range(len(names)):
                L = max(len(spaced[i].ids), len(bare[i].ids))
                a = place(0, T // 2, L)
                if a is None:
                    continue
                occ.append((a, i, True))
                for _ in range(int(self.rng.integers(1, 5))):
                    c = place(a + L, T, L)
                    if c is not None:
                        occ.append((c, i, False))
            for a, i, decl in occ:
                ids = (spaced if self.rng.random() < 0.6 else bare)[i].ids
                body[a:a + len(ids)] = ids
                if not decl:
                    mask[b, a + 1:a + len(ids)] = True
            rows[b, 1:] = body
        return rows, mask


class KeyValue:
    """Synthetic rows for recalling a *value by its key*, the two-hop copy that plain copying does not
    teach (eval.py's value co-reference: dense 0/10 before this task existed).

    Real code with planted definitions, `export const settings = {\n  retryLabel: "cursor-ledger",\n ...}`
    (also enums, JSON objects and single constants), and later use sites in real call forms,
    `assert.equal(settings.retryLabel, "` then the value. The key is tokenized differently at the two
    places (`serviceName`: `Ġservice Name` after a space, `ser vice Name` after a dot) and followed by other punctuation
    (`: "` vs `, "`), so a single-token match on the text before the value does not find it: the model must
    match the key, then copy what followed it. The loss counts the value's tokens and the closing quote
    at every use site, the first value token included (that is the recall).

    Keys and values are built from common identifier words minus eval.py's co-reference words, so the
    evaluation's values are never trained on."""

    OBJS = ["config", "settings", "options", "defaults", "constants", "env", "theme", "routes", "labels", "flags",
            "limits", "paths", "messages", "names", "ids", "keys", "params", "meta", "info", "values"]
    USES = [("assert.equal({o}.{k}, {q}", ");"), ("assert.strictEqual({o}.{k}, {q}", ");"), ("expect({o}.{k}).toBe({q}", ");"),
            ("expect({o}.{k}).toEqual({q}", ");"), ("if ({o}.{k} === {q}", ") {{"), ("console.log({o}.{k}); // {q}", ""),
            ("const {k} = {o}.{k} ?? {q}", ";"), ("assert.equal({o}[\"{k}\"], {q}", ");"), ("{k}: {o}.{k} || {q}", ",")]
    CONST_USES = [("assert.equal({k}, {q}", ");"), ("assert.strictEqual({k}, {q}", ");"), ("expect({k}).toBe({q}", ");"),
                  ("if (value === {k}) return {q}", ";")]

    def __init__(self, tok, words: list[str], rng: np.random.Generator, exclude: set[str] | None = None):
        """exclude: words never used (default: the co-reference evaluation's words, tbtrain.coref)."""
        if exclude is None:
            exclude = set(WORDS)
        self.tok, self.rng = tok, rng
        self.words = [w for w in words if w.isalpha() and len(w) >= 3 and w not in exclude]
        self.newline = newline_table(tok)  # pieces are planted after a token with a line break in the filler

    def _key(self, style: str) -> str:
        n = int(self.rng.choice([1, 2, 2, 3]))
        return join_words([self.words[i] for i in self.rng.integers(0, len(self.words), n)], style)

    def _value(self) -> tuple[str, str]:
        """(value text without quotes, quote char; '' for a number)."""
        r = self.rng.random()
        if r < 0.15:
            return str(int(self.rng.integers(2, 100000))), ""
        w = [self.words[i] for i in self.rng.integers(0, len(self.words), int(self.rng.integers(1, 4)))]
        sep = str(self.rng.choice(["-", "-", "_", ".", "/", " ", ":"]))
        text = join_words(w, "camel") if self.rng.random() < 0.2 else sep.join(w)
        return text, ('"' if self.rng.random() < 0.7 else "'")

    def _object(self):
        """(definition text, object name (None for constants, used by their own name), [(key, value, quote)])."""
        kind = int(self.rng.choice(4, p=[0.5, 0.15, 0.15, 0.2]))
        n = int(self.rng.integers(3, 9))
        style = {0: "camel", 1: "pascal", 2: "camel", 3: "upper"}[kind]
        keys = list(dict.fromkeys(self._key(style) for _ in range(n)))
        items = [(k, *self._value()) for k in keys]
        if kind == 0:  # object literal
            o = str(self.rng.choice(self.OBJS))
            body = "".join(f"  {k}: {q}{v}{q},\n" for k, v, q in items)
            return f"export const {o} = {{\n{body}}};\n", o, items
        if kind == 1:  # enum
            o = join_words([self.words[int(self.rng.integers(len(self.words)))]], "pascal")
            items = [(k, v, q or '"') for k, v, q in items]
            body = "".join(f"  {k} = {q}{v}{q},\n" for k, v, q in items)
            return f"export enum {o} {{\n{body}}}\n", o, items
        if kind == 2:  # JSON
            o = str(self.rng.choice(self.OBJS))
            body = ",\n".join(f'  "{k}": ' + (f'"{v}"' if q else v) for k, v, q in items)
            return "{\n" + body + "\n}\n", o, [(k, v, '"' if q else "") for k, v, q in items]
        body = "".join(f"export const {k} = {q}{v}{q};\n" for k, v, q in items)  # constants
        return body, None, items

    def _use(self, o, k, v, q) -> tuple[str, str, str]:
        """(use-site line up to the cursor, the answer, the rest of the line): a number follows a space,
        a string its opening quote."""
        form, tail = self.CONST_USES[int(self.rng.integers(len(self.CONST_USES)))] if o is None else \
            self.USES[int(self.rng.integers(len(self.USES)))]
        text = form.format(o=o, k=k, q=q)
        return (text, v + q, tail + "\n") if q else (text.rstrip(" "), " " + v, tail + "\n")

    def batch(self, B: int, T: int, code: np.ndarray):
        rows = np.zeros((B, T + 1), np.int64)
        mask = np.zeros((B, T), bool)
        enc = lambda s: self.tok.encode(s).ids
        for b in range(B):
            defs, uses, names = [], [], set()
            for _ in range(int(self.rng.integers(1, 4))):
                text, o, items = self._object()
                if o in names:  # one definition per object name (and one group of constants) in a row
                    continue
                names.add(o)
                path = f"src/{o or self._key('camel')}.{'json' if text.startswith('{') else 'ts'}\n"
                defs.append([4] + enc(path) + enc(text))  # 4: <|file_sep|>
                for i in self.rng.permutation(len(items))[:int(self.rng.integers(2, 5))]:
                    text, answer, tail = self._use(o, *items[i])
                    uses.append((enc(text), enc(answer), enc(tail)))
            self.rng.shuffle(uses)
            size = lambda u: sum(map(len, u))
            fixed = sum(map(len, defs)) + sum(map(size, uses))
            while uses and T - fixed < T // 3:
                fixed -= size(uses.pop())
            room = T - fixed
            body = filler(self.rng, room, 0, code)
            starts = np.flatnonzero(self.newline[body[:-1]]) + 1  # filler positions after a line break
            cuts = np.sort(self.rng.choice(starts, len(defs) + len(uses))) if len(starts) else \
                np.sort(self.rng.integers(0, room + 1, len(defs) + len(uses)))
            out, spans, prev = [], [], 0
            for j, piece in enumerate(defs + uses):
                out.extend(body[prev:cuts[j]].tolist()); prev = cuts[j]
                if j < len(defs):
                    out.extend(piece)
                else:
                    p, a, t = piece
                    out.extend(p); spans.append((len(out), len(out) + len(a))); out.extend(a); out.extend(t)
            out.extend(body[prev:].tolist())
            rows[b, 1:] = np.asarray(out[:T])
            for s, e in spans:
                mask[b, s:min(e, T)] = True
        return rows, mask
