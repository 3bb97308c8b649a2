"""Builds the clean TS/JS corpus from the pinned npm tarballs (stdlib only).

Steps (numbers are measured in training.md): license check, code file types, path filter,
build-variant dedupe within a package, minified-code filter, near-duplicate drop within a
package, global exact dedupe, per-package cap, split by package family.
Output: WORK/corpus/{train,valid}.jsonl ({"pkg", "path", "text"} per file) and manifest.tsv.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import re
import sys
from collections import defaultdict

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.corpus import HELD_OUT_FAMILIES, PKG_CAP, choose_variants, family, license_ok, looks_minified, read_package


def main():
    ap = argparse.ArgumentParser()
    here = pathlib.Path(__file__).parent
    ap.add_argument("--tarballs", default=str(here / "../work/tarballs"))
    ap.add_argument("--out", default=str(here / "../work/corpus"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seen_global: set[str] = set()
    stats = defaultdict(int)
    manifest = ["name\tversion\tlicense\tfamily\tsplit\tfiles\tbytes"]
    writers = {s: open(out / f"{s}.jsonl", "w") for s in ("train", "valid")}
    for tgz in sorted(pathlib.Path(args.tarballs).glob("*.tgz")):
        meta, files = read_package(tgz)
        if not meta:
            continue
        name, lic = meta.get("name", tgz.stem), meta.get("license", meta.get("licenses"))
        if not license_ok(lic):
            stats["rejected_license"] += 1
            print(f"license rejected: {name} {lic}", file=sys.stderr)
            continue
        fam = family(name)
        split = "valid" if fam in HELD_OUT_FAMILIES or fam.lstrip("@") in HELD_OUT_FAMILIES else "train"
        seen_lines: set[str] = set()
        kept_bytes = kept_files = 0
        for rel in choose_variants(files):
            text = files[rel].replace("\r\n", "\n")
            if looks_minified(text):
                stats["minified"] += 1
                continue
            long_lines = [l.strip() for l in text.split("\n") if len(l.strip()) > 20]
            if long_lines and sum(l in seen_lines for l in long_lines) > 0.6 * len(long_lines):
                stats["near_dup"] += 1
                continue
            seen_lines.update(long_lines)
            h = hashlib.sha1(re.sub(r"\s+", "", text).encode()).hexdigest()
            if h in seen_global:
                stats["exact_dup"] += 1
                continue
            seen_global.add(h)
            if kept_bytes + len(text) > PKG_CAP:
                stats["pkg_cap"] += 1
                continue
            kept_bytes += len(text)
            kept_files += 1
            writers[split].write(json.dumps({"pkg": name, "path": rel, "text": text}) + "\n")
        stats[f"{split}_files"] += kept_files
        stats[f"{split}_bytes"] += kept_bytes
        lic_s = lic if isinstance(lic, str) else json.dumps(lic)
        manifest.append(f"{name}\t{meta.get('version')}\t{lic_s}\t{fam}\t{split}\t{kept_files}\t{kept_bytes}")
    for w in writers.values():
        w.close()
    (out / "manifest.tsv").write_text("\n".join(manifest) + "\n")
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
