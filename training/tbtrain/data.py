"""Token data for the LM: per-file token arrays, and repository-style multi-file samples.

`prepare` tokenizes every corpus file once into WORK/tokens/{split}.bin (uint16) plus an index.
`Sampler` builds training sequences the way the engine lays out context: several files of one
package (neighbouring paths, so imports and their targets tend to sit together), each behind a
`<|file_sep|>path\n` header; about half of the files are in fill-in-the-middle form

    <|file_sep|>path\n <|fim_suffix|> suffix(<=256 tok) <|fim_prefix|> prefix middle <|endoftext|>

which is the order the engine uses: the suffix before the prefix, so typing at the cursor only
appends to the cached context.
"""
from __future__ import annotations

import json
import pathlib
import posixpath
import re

import numpy as np
from tokenizers import Tokenizer

EOT, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FILE_SEP = 0, 1, 2, 3, 4
SUFFIX_TOKENS = 256


def corpus_rows(corpus: pathlib.Path, split: str) -> list[dict]:
    """The split's files in token-file order (package, then path)."""
    rows = [json.loads(l) for l in (corpus / f"{split}.jsonl").read_text().splitlines()]
    return sorted(rows, key=lambda r: (r["pkg"], r["path"]))


def prepare(corpus: pathlib.Path, tok_path: pathlib.Path, out: pathlib.Path):
    tok = Tokenizer.from_file(str(tok_path))
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid"):
        rows = corpus_rows(corpus, split)
        chunks, index, offset = [], [], 0
        B = 512
        for i in range(0, len(rows), B):
            batch = rows[i:i + B]
            texts = [r["text"] for r in batch]
            heads = [r["path"] + "\n" for r in batch]
            for r, e, h in zip(batch, tok.encode_batch(texts, add_special_tokens=False), tok.encode_batch(heads, add_special_tokens=False)):
                ids = np.asarray(e.ids, dtype=np.uint16)
                hid = np.asarray(h.ids, dtype=np.uint16)
                chunks += [hid, ids]
                index.append((r["pkg"], r["path"], offset, len(hid), len(ids), len(r["text"].encode())))
                offset += len(hid) + len(ids)
        np.concatenate(chunks).tofile(out / f"{split}.bin")
        (out / f"{split}.index.json").write_text(json.dumps(index))
        (out / f"{split}.deps.json").write_text(json.dumps(dependencies(rows)))
        print(f"{split}: {len(rows)} files, {offset/1e6:.1f}M tokens, {sum(r[5] for r in index)/1e6:.1f} MB")


IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*|\bexport\s*\*\s*from\s*)['"](\.{1,2}/[^'"]*)['"]""")
EXTS = ("", ".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")


def dependencies(rows: list[dict]) -> list[list[int]]:
    """For rows sorted by (pkg, path): the indices of the files each one imports by a relative path
    (import/export from, require, dynamic import), resolved as TypeScript and Node would."""
    where = {(r["pkg"], r["path"]): i for i, r in enumerate(rows)}
    deps = []
    for r in rows:
        base = posixpath.dirname(r["path"])
        out = []
        for spec in IMPORT.findall(r["text"]):
            p = posixpath.normpath(posixpath.join(base, spec))
            stems = [p] + ([p[: -len(e)] for e in (".js", ".mjs", ".cjs", ".jsx") if p.endswith(e)])
            cands = [s + e for s in stems for e in EXTS] + [p + "/index" + e for e in EXTS[1:]]
            hit = next((where[(r["pkg"], c)] for c in cands if (r["pkg"], c) in where), None)
            if hit is not None and hit not in out and rows[hit]["path"] != r["path"]:
                out.append(hit)
        deps.append(out)
    return deps


class Sampler:
    """Yields (prev_token, tokens[seq+1]) multi-file samples from one split.

    Files of a package follow in path order from a random start, or (a `dep_rate` share of the
    samples) in dependency order: a random file's relative imports, recursively, before it, the way
    the engine lays out context (related files first, the current file last)."""

    def __init__(self, tokens_dir: pathlib.Path, split: str, seq: int, fim_rate: float = 0.5, seed: int = 0,
                 newline_ids: np.ndarray | None = None, repeat_rate: float = 0.0, dep_rate: float = 0.0,
                 renamer=None, rename_rate: float = 0.0):
        self.data = np.fromfile(tokens_dir / f"{split}.bin", dtype=np.uint16)
        self.index = json.loads((tokens_dir / f"{split}.index.json").read_text())
        deps = tokens_dir / f"{split}.deps.json"
        self.deps = json.loads(deps.read_text()) if dep_rate and deps.exists() else None
        if dep_rate and self.deps is None:
            raise SystemExit(f"{deps} is missing: run python3 training/pipeline/data.py --deps-only")
        self.seq, self.fim_rate, self.repeat_rate, self.dep_rate = seq, fim_rate, repeat_rate, dep_rate
        self.renamer, self.rename_rate = renamer, rename_rate  # rename.Renamer: invented names for rare identifiers
        self.rng = np.random.default_rng(seed)
        self.newline = newline_ids  # bool[vocab]: token contains '\n'
        pkgs: dict[str, list[int]] = {}
        for i, row in enumerate(self.index):
            pkgs.setdefault(row[0], []).append(i)
        self.pkgs = list(pkgs.values())
        sizes = np.array([sum(self.index[i][4] for i in files) for files in self.pkgs], dtype=np.float64)
        self.pkg_p = np.sqrt(sizes) / np.sqrt(sizes).sum()  # flatten: big packages do not dominate

    def file_tokens(self, i: int, fim: bool) -> np.ndarray:
        _, _, off, nh, nt, _ = self.index[i]
        head = self.data[off:off + nh]
        body = self.data[off + nh:off + nh + nt]
        parts = [np.array([FILE_SEP], np.uint16), head]
        if fim and nt > 8 and self.newline is not None:
            a, b = self.fim_span(body)
            parts += [np.array([FIM_SUFFIX], np.uint16), body[b:b + SUFFIX_TOKENS], np.array([FIM_PREFIX], np.uint16),
                      body[:b], np.array([EOT], np.uint16)]
        else:
            parts.append(body)
        return np.concatenate(parts)

    def fim_span(self, body: np.ndarray) -> tuple[int, int]:
        """Middle = from a random token to the end of its line (half the time) or 1-8 lines further."""
        n = len(body)
        a = int(self.rng.integers(0, n))
        nl = np.flatnonzero(self.newline[body[a:]])
        lines = 1 if self.rng.random() < 0.5 else int(self.rng.integers(2, 9))
        b = n if len(nl) < lines else a + int(nl[lines - 1]) + 1
        return a, b

    def dep_order(self, files: list[int]) -> list[int]:
        """Files of one package, each after the files it imports (depth-first, cycles broken)."""
        order, seen = [], set()
        for t in self.rng.permutation(files).tolist():
            if t in seen:  # already placed as an import of an earlier file
                continue
            stack = [(t, iter(self.deps[t]))]
            seen.add(t)
            while stack:
                f, it = stack[-1]
                nxt = next((d for d in it if d not in seen), None)
                if nxt is None:
                    order.append(f); stack.pop()
                else:
                    seen.add(nxt); stack.append((nxt, iter(self.deps[nxt])))
        return order

    def sample(self) -> tuple[int, np.ndarray]:
        files = self.pkgs[self.rng.choice(len(self.pkgs), p=self.pkg_p)]
        rename = self.renamer is not None and self.rng.random() < self.rename_rate
        n = self.seq + self.seq // 4 if rename else self.seq  # renaming changes the length: take a margin
        if self.deps is not None and self.rng.random() < self.dep_rate:
            prev, row = self.dep_window(files, n)
        else:
            prev, row = self.path_window(files, n)
        if rename:
            new, _ = self.renamer(row)
            row = new[:self.seq + 1] if len(new) > self.seq else row[:self.seq + 1]
        if self.repeat_rate and self.rng.random() < self.repeat_rate:
            row = self.with_repeat(row)
        return prev, row

    def dep_window(self, files: list[int], n: int | None = None) -> tuple[int, np.ndarray]:
        n = n or self.seq
        out, total = [], 0
        for f in self.dep_order(files):
            if total >= n + 2:
                break
            t = self.file_tokens(f, self.rng.random() < self.fim_rate)
            out.append(t); total += len(t)
        if total < n + 2:  # package exhausted: continue with another one in path order
            out += [np.array([EOT], np.uint16), self.path_window(None, n)[1].astype(np.uint16)]
        seq = np.concatenate(out)
        # keep the end of the dependency chain (the importers) or its start
        off = max(0, len(seq) - n - 1) if self.rng.random() < 0.5 else 0
        prev = EOT if off == 0 else int(seq[off - 1])
        return prev, seq[off:off + n + 1].astype(np.int64)

    def path_window(self, files: list[int] | None = None, n: int | None = None) -> tuple[int, np.ndarray]:
        n = n or self.seq
        if files is None:
            files = self.pkgs[self.rng.choice(len(self.pkgs), p=self.pkg_p)]
        start = int(self.rng.integers(0, len(files)))
        out, total, j = [], 0, start
        while total < n + 2:
            t = self.file_tokens(files[j % len(files)], self.rng.random() < self.fim_rate)
            out.append(t); total += len(t); j += 1
            if j - start >= len(files) and total < n + 2:  # package exhausted: continue with another
                files, start, j = self.pkgs[self.rng.choice(len(self.pkgs), p=self.pkg_p)], 0, 0
                out.append(np.array([EOT], np.uint16)); total += 1
        seq = np.concatenate(out)
        # start at a random file boundary inside the first file, or at 0
        off = int(self.rng.integers(0, max(1, min(len(out[0]), len(seq) - n - 2) + 1)))
        off = 0 if self.rng.random() < 0.5 else off
        prev = EOT if off == 0 else int(seq[off - 1])
        return prev, seq[off:off + n + 1].astype(np.int64)

    def with_repeat(self, row: np.ndarray) -> np.ndarray:
        """Copies a span of the sequence to a later point (a dense copying signal on real code:
        the second occurrence is predictable only by looking back)."""
        n = len(row)
        L = int(self.rng.integers(16, 129))
        a = int(self.rng.integers(0, n // 2))
        b = int(self.rng.integers(a + L, n - L)) if a + L < n - L else n - L
        out = np.concatenate([row[:b], row[a:a + L], row[b:]])
        return out[:n]

    def batch(self, n: int):
        prevs, rows = zip(*(self.sample() for _ in range(n)))
        return np.array(prevs, np.int64), np.stack(rows)


def newline_table(tok: Tokenizer) -> np.ndarray:
    table = np.zeros(tok.get_vocab_size(), dtype=bool)
    for i in range(tok.get_vocab_size()):
        table[i] = "\n" in tok.decode([i], skip_special_tokens=False)
    return table
