#!/usr/bin/env bash
# Builds llama.cpp's `llama-server` from the llama-cpp-python sdist that pyproject.toml pins (its
# vendored llama.cpp; the Python bindings themselves are not installed).
#   scripts/build_llama_server.sh DEST   -> DEST/llama-server
# The binary is cached per version in ~/.cache/voice-app (or $VOICE_APP_CACHE): a new clone on the
# same machine copies it instead of compiling again (~5 minutes on 2 cores the first time).
set -euo pipefail

DEST="${1:?usage: build_llama_server.sh DEST_DIR}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VERSION="$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' "$ROOT/pyproject.toml")"
[ -n "$VERSION" ] || { echo "pyproject.toml pins no llama-cpp-python version" >&2; exit 1; }
CACHE="${VOICE_APP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/voice-app}/llama-server-$VERSION"
PIP="${PIP:-$ROOT/.venv/bin/python -m pip}"

if [ ! -x "$CACHE/llama-server" ]; then
  for tool in cmake c++; do
    command -v "$tool" >/dev/null 2>&1 || {
      echo "building llama-server needs $tool: sudo apt-get install -y cmake g++" >&2; exit 1; }
  done
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  $PIP download -q --no-deps --no-binary :all: -d "$work" "llama-cpp-python==$VERSION"
  tar -xzf "$work"/llama_cpp_python-"$VERSION".tar.gz -C "$work"
  src="$work/llama_cpp_python-$VERSION/vendor/llama.cpp"
  generator=()
  command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
  # Portable (no -march=native), static, no web UI download, no curl/TLS: a plain local server.
  cmake -S "$src" -B "$work/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF >/dev/null
  cmake --build "$work/build" --target llama-server -j "$(nproc)" >/dev/null
  mkdir -p "$CACHE"
  cp "$work/build/bin/llama-server" "$CACHE/llama-server.tmp"
  mv "$CACHE/llama-server.tmp" "$CACHE/llama-server"
fi
mkdir -p "$DEST"
cp "$CACHE/llama-server" "$DEST/llama-server"
echo "$VERSION" > "$DEST/llama-server.version"
