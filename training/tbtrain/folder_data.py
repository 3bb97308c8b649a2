"""Training windows from a folder of source files in any model's tokenizer (train_predictor.py --data DIR):
what an imported model's predictor is distilled on when the project's corpus (tokenized with the default
model's 4,096-token vocabulary) does not fit its vocabulary.

The files are tokenized once into OUT/data-tokens.npy (uint32) + data-index.json (kept, so a resumed run does
not tokenize again); about 5% of the files (by a hash of the path) are held out for the recall metrics.
`FolderSampler.sample()` returns (previous token, ids[seq + 1]) like data.Sampler: files of one top-level
folder in path order from a random start, each behind the model's file header (its file-separator token +
path, or a comment line), the way the engine lays out related files."""
from __future__ import annotations

import hashlib
import json
import pathlib

import numpy as np

EXTS = {".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".py", ".go", ".rs", ".java", ".kt", ".c", ".h", ".cc", ".cpp", ".hpp",
        ".cs", ".rb", ".php", ".swift", ".scala", ".lua", ".sh", ".md", ".json", ".toml", ".yaml", ".yml", ".css", ".html", ".vue",
        ".svelte", ".sql"}
SKIP_DIRS = {".git", "node_modules", "dist", "build", "out", "target", ".venv", "venv", "__pycache__", ".next", "vendor"}
MAX_BYTES = 1_000_000


def source_files(root: pathlib.Path) -> list[pathlib.Path]:
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts[:-1]):
            continue
        if p.is_file() and p.suffix.lower() in EXTS and p.stat().st_size <= MAX_BYTES and not p.name.endswith(".min.js"):
            out.append(p)
    return out


HASH_COMMENT = {".py", ".sh", ".rb", ".yaml", ".yml", ".toml"}


def plain_header(path: str) -> str:  # as the engine's layout.ts plainHeader
    return f"# {path}\n" if pathlib.PurePosixPath(path).suffix.lower() in HASH_COMMENT else f"// {path}\n"


def tokenize_folder(root: pathlib.Path, tokenizer_path: pathlib.Path, file_sep: int | None, out: pathlib.Path) -> dict:
    """Tokenizes every source file under root (with its header) once; returns the index (reused when present)."""
    idx_path, tok_path = out / "data-index.json", out / "data-tokens.npy"
    if idx_path.exists() and tok_path.exists():
        index = json.loads(idx_path.read_text())
        if index.get("root") == str(root.resolve()) and index.get("tokenizer") == hash_file(tokenizer_path):
            return index
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tokenizer_path))
    files = source_files(root)
    if not files:
        raise SystemExit(f"no source files under {root}")
    chunks, rows, off = [], [], 0
    for p in files:
        rel = p.relative_to(root).as_posix()
        try:
            text = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        head = ([file_sep] if file_sep is not None else []) + tok.encode(rel + "\n" if file_sep is not None else plain_header(rel),
                                                                         add_special_tokens=False).ids
        ids = head + tok.encode(text, add_special_tokens=False).ids
        held_out = int(hashlib.sha1(rel.encode()).hexdigest(), 16) % 20 == 0
        rows.append([rel.split("/")[0] if "/" in rel else ".", rel, off, len(ids), "valid" if held_out else "train"])
        chunks.append(np.asarray(ids, np.uint32)); off += len(ids)
    out.mkdir(parents=True, exist_ok=True)
    np.save(tok_path, np.concatenate(chunks))
    index = {"root": str(root.resolve()), "tokenizer": hash_file(tokenizer_path), "files": rows, "tokens": off}
    idx_path.write_text(json.dumps(index))
    return index


def hash_file(p: pathlib.Path) -> str:
    return hashlib.sha256(pathlib.Path(p).read_bytes()).hexdigest()


class FolderSampler:
    """(prev, ids[seq + 1]) windows of one split of a tokenized folder (tokenize_folder)."""

    def __init__(self, out: pathlib.Path, index: dict, split: str, seq: int, eot: int, seed: int = 0):
        self.data = np.load(out / "data-tokens.npy", mmap_mode="r")
        self.seq, self.eot = seq, eot
        self.rng = np.random.default_rng(seed)
        files = [f for f in index["files"] if f[4] == split] or [f for f in index["files"]]  # a tiny folder: all of it
        groups: dict[str, list] = {}
        for f in files:
            groups.setdefault(f[0], []).append(f)
        self.groups = list(groups.values())
        sizes = np.array([sum(f[3] for f in g) for g in self.groups], np.float64)
        self.p = np.sqrt(sizes) / np.sqrt(sizes).sum()

    def sample(self) -> tuple[int, np.ndarray]:
        need = self.seq + 1
        parts, n = [], 0
        while n < need:
            g = self.groups[self.rng.choice(len(self.groups), p=self.p)]
            start = int(self.rng.integers(0, len(g)))
            for f in g[start:] + g[:start]:
                parts.append(np.asarray(self.data[f[2]:f[2] + f[3]], np.int64)); n += f[3]
                if n >= need:
                    break
        row = np.concatenate(parts)[:need]
        return self.eot, row
