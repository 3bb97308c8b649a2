"""Checks each pinned tarball's sha512 against packages.pinned.txt; exits 1 on a mismatch."""
import base64
import hashlib
import pathlib
import sys

here = pathlib.Path(__file__).parent
out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else here / "../work/tarballs")


def tarball_name(spec: str) -> str:
    return spec.lstrip("@").replace("/", "-", 1).replace("@", "-") + ".tgz"


bad = missing = ok = 0
for line in (here / "packages.pinned.txt").read_text().splitlines():
    if not line.strip() or line.startswith("#"):
        continue
    spec, integrity = line.split("\t")
    path = out / tarball_name(spec)
    if not path.exists():
        missing += 1
        print(f"missing {spec}", file=sys.stderr)
        continue
    digest = "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()
    if digest != integrity:
        bad += 1
        print(f"integrity mismatch {spec}", file=sys.stderr)
    else:
        ok += 1
print(f"{ok} verified, {missing} missing, {bad} mismatched")
sys.exit(1 if bad else 0)
