#!/usr/bin/env bash
# Fetches the held-out packages for the next-identifier / line-completion bench (src/bench/names)
# at the versions pinned in training/dataset/packages.pinned.txt, checks each tarball against the
# pinned integrity, and extracts it to training/work/heldout/pkgs/<name>-<version>/ (git-ignored).
#   bash bench/names-fetch.sh        (then: node esbuild.mjs && nice -n 10 node out/bench-names.js)
#   bash bench/names-fetch.sh fit    (instead: the training-corpus packages of the rank scorers'
#                                     fitting set, src/bench/names/heldout.ts FIT)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pinned="$root/training/dataset/packages.pinned.txt"
dest="$root/training/work/heldout"
# training/dataset/build.py HELD_OUT_FAMILIES, as npm name patterns
families='^(zod|immer|@trpc/[^@]+|prosemirror-[^@]+|hono|d3-[^@]+|koa|marked|leaflet|semver|luxon|pino|mitt|superstruct)@'
if [ "${1:-}" = fit ]; then
  families='^(@tanstack/query-core|@reduxjs/toolkit|rxjs|mobx|yjs|vscode-languageserver-protocol|@opentelemetry/sdk-trace-base|three|ol|axios|express|fastify|undici|ws|winston|commander|markdown-it|knex|js-yaml|moment|sinon|mocha|pg|mongoose|eslint|espree|postcss|terser|webpack|mysql2|jszip|protobufjs|nunjucks|svelte|preact|joi|handlebars|@babel/traverse|@grpc/grpc-js|ioredis|sequelize|socket\.io|yaml)@'
fi
mkdir -p "$dest/tgz" "$dest/pkgs"
grep -E "$families" "$pinned" | while IFS=$'\t' read -r spec integrity; do
  name="${spec%@*}"; version="${spec##*@}"
  stem="$(printf '%s' "$name" | sed -e 's/^@//' -e 's#/#-#')-$version"
  tgz="$dest/tgz/$stem.tgz"
  if [ ! -f "$tgz" ]; then
    (cd "$dest/tgz" && npm pack --silent "$spec" >/dev/null)
  fi
  got="sha512-$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tgz")"
  if [ "$got" != "$integrity" ]; then
    echo "names-fetch: $spec: integrity mismatch (got $got)" >&2
    exit 1
  fi
  if [ ! -f "$dest/pkgs/$stem/package.json" ]; then
    rm -rf "$dest/pkgs/$stem" && mkdir -p "$dest/pkgs/$stem"
    tar -xzf "$tgz" -C "$dest/pkgs/$stem" --strip-components=1
  fi
  echo "$spec"
done
echo "names-fetch: packages in $dest/pkgs"
