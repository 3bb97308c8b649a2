"""Builds the clean TS/JS corpus from the pinned npm tarballs (stdlib only).

Steps (numbers are measured in training.md): license check, code file types, path filter,
build-variant dedupe within a package, minified-code filter, near-duplicate drop within a
package, global exact dedupe, per-package cap, split by package family.
Output: WORK/corpus/{train,valid}.jsonl ({"pkg", "path", "text"} per file) and manifest.tsv.
"""
from __future__ import annotations

import argparse, hashlib, json, pathlib, re, sys, tarfile
from collections import defaultdict

ALLOWED = {"MIT", "ISC", "APACHE-2.0", "BSD-2-CLAUSE", "BSD-3-CLAUSE", "0BSD", "MIT-0", "CC0-1.0", "UNLICENSE"}
EXTS = (".d.ts", ".d.mts", ".d.cts", ".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs")
BAD_PATH = re.compile(r"(\.min\.|[./-]umd[./-]|bundle|vendor/|/node_modules/|\.browser\.|\.prod\.|/locale/|/locales/|/i18n/|/__snapshots__/|/fixtures?/)", re.I)
BUILD_DIRS = {"dist", "lib", "build", "cjs", "esm", "es", "es2015", "es2017", "es2020", "src", "module", "modules", "umd", "mjs", "types", "typings", "out", "node", "browser", "dist-types", "dts"}
NAME_TAGS = re.compile(r"[.-](cjs|esm|esm-bundler|esm-browser|prod|development|production|node|browser|global|module|runtime)(?=\.)")
HELD_OUT_FAMILIES = {"zod", "immer", "@trpc", "prosemirror", "hono", "d3", "koa", "marked", "leaflet", "semver", "luxon", "pino", "mitt", "superstruct"}
PKG_CAP = 6_000_000


def license_ok(lic) -> bool:
    if isinstance(lic, dict):
        lic = lic.get("type", "")
    if isinstance(lic, list):
        return bool(lic) and all(license_ok(x) for x in lic)
    if not isinstance(lic, str) or not lic:
        return False
    s = lic.strip("() ").upper()
    if " OR " in s:
        return any(license_ok(t) for t in s.split(" OR "))
    if " AND " in s:
        return all(license_ok(t) for t in s.split(" AND "))
    return s in ALLOWED


def family(name: str) -> str:
    if name.startswith("@"):
        return name.split("/")[0]
    for prefix in ("d3", "prosemirror", "vue", "koa"):
        if name == prefix or name.startswith(prefix + "-"):
            return prefix
    return name


def ext_of(path: str) -> str | None:
    for e in EXTS:
        if path.endswith(e):
            return e
    return None


def variant_key(path: str) -> str:
    parts = [p for p in path.split("/") if p.lower() not in BUILD_DIRS]
    name = NAME_TAGS.sub("", parts[-1] if parts else path)
    for e in EXTS:
        if name.endswith(e):
            name = name[: -len(e)]
            break
    return "/".join(parts[:-1] + [name])


def looks_minified(text: str) -> bool:
    lines = text.split("\n")
    if not lines:
        return True
    lengths = [len(l) for l in lines]
    if sum(lengths) / len(lines) > 100 or max(lengths) > 3000:
        return True
    if sum(1 for n in lengths if n > 300) > 0.05 * len(lines):
        return True
    alnum = sum(c.isalnum() for c in text) / max(1, len(text))
    return not (0.25 <= alnum <= 0.9)


def choose_variants(files: dict[str, str]) -> list[str]:
    groups: dict[str, list[str]] = defaultdict(list)
    for p in files:
        groups[variant_key(p)].append(p)
    keep = []
    for paths in groups.values():
        ts = [p for p in paths if ext_of(p) in (".ts", ".tsx", ".mts", ".cts")]
        if ts:
            keep.append(sorted(ts, key=lambda p: ("/src/" not in "/" + p, len(p)))[0])
            continue
        js = [p for p in paths if ext_of(p) in (".js", ".jsx", ".mjs", ".cjs")]
        dts = [p for p in paths if ext_of(p) in (".d.ts", ".d.mts", ".d.cts")]
        rank = lambda p: (0 if "/src/" in "/" + p else 1 if "esm" in p or "/es/" in p else 2, len(p))
        if js:
            keep.append(sorted(js, key=rank)[0])
        if dts:
            keep.append(sorted(dts, key=len)[0])
    return sorted(keep)


def read_package(tgz: pathlib.Path):
    meta, files = None, {}
    with tarfile.open(tgz, "r:gz") as tar:  # one sequential pass; random access is quadratic
        for m in tar:
            if not m.isfile():
                continue
            rel = m.name.split("/", 1)[1] if "/" in m.name else m.name
            if rel == "package.json":
                meta = json.loads(tar.extractfile(m).read().decode("utf-8", "replace"))
                continue
            e = ext_of(rel)
            if not e or BAD_PATH.search("/" + rel):
                continue
            limit = 2_000_000 if e.startswith(".d.") else 1_000_000
            if m.size > limit or m.size < 64:
                continue
            data = tar.extractfile(m).read()
            try:
                files[rel] = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
    return meta, files


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
