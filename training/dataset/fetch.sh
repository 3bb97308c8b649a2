#!/usr/bin/env bash
# Downloads the pinned npm tarballs (no dependencies, no install scripts) and checks their
# sha512 integrity against packages.pinned.txt. Idempotent: existing verified tarballs are kept.
# Usage: training/dataset/fetch.sh [OUT_DIR]   (default: training/work/tarballs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../work/tarballs}
mkdir -p "$out"
export npm_config_cache="$here/../work/npm-cache"
grep -v '^#' "$here/packages.pinned.txt" | awk 'NF' | cut -f1 |
  xargs -P 4 -I{} sh -c 'cd "$0" && name=$(echo "{}" | sed "s#^@##; s#/#-#; s#@#-#") && ls "$name".tgz >/dev/null 2>&1 || npm pack "{}" --silent >/dev/null 2>&1 || echo "FAILED {}" >&2' "$out"
python3 "$here/verify.py" "$out"
