"""The corpus filters (dataset/build.py applies them to the pinned npm tarballs): license check, code
file types, path filter, build-variant dedupe within a package, minified-code filter, held-out
package families. Stdlib only."""
from __future__ import annotations

import json
import pathlib
import re
import tarfile
from collections import defaultdict

ALLOWED = {"MIT", "ISC", "APACHE-2.0", "BSD-2-CLAUSE", "BSD-3-CLAUSE", "0BSD", "MIT-0", "CC0-1.0", "UNLICENSE"}
EXTS = (".d.ts", ".d.mts", ".d.cts", ".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs")
BAD_PATH = re.compile(
    r"(\.min\.|[./-]umd[./-]|bundle|vendor/|/node_modules/|\.browser\.|\.prod\.|/locale/|/locales/|/i18n/|/__snapshots__/|/fixtures?/)",
    re.I,
)
BUILD_DIRS = {
    "dist",
    "lib",
    "build",
    "cjs",
    "esm",
    "es",
    "es2015",
    "es2017",
    "es2020",
    "src",
    "module",
    "modules",
    "umd",
    "mjs",
    "types",
    "typings",
    "out",
    "node",
    "browser",
    "dist-types",
    "dts",
}
NAME_TAGS = re.compile(r"[.-](cjs|esm|esm-bundler|esm-browser|prod|development|production|node|browser|global|module|runtime)(?=\.)")
HELD_OUT_FAMILIES = {
    "zod",
    "immer",
    "@trpc",
    "prosemirror",
    "hono",
    "d3",
    "koa",
    "marked",
    "leaflet",
    "semver",
    "luxon",
    "pino",
    "mitt",
    "superstruct",
}
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
