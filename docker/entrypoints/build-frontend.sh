#!/bin/sh
# Build Reflex's production frontend (static files) into the folder given as $1.
# Runs in the frontend image's build stage, and natively in tests/test_deploy.py.
# API_URL is baked into the pages; the default http://localhost:3000 makes the browser use the
# page's own host (Reflex swaps "localhost" for it, and drops the port behind HTTPS), so one build
# serves http://localhost:3000 and any https:// domain, with Caddy passing /_event etc. on.
set -eu
out="${1:?usage: build-frontend.sh OUTPUT_DIR}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
cd "$(dirname "$0")/../.."
reflex export --frontend-only --no-zip --loglevel info
mkdir -p "$out"
cp -R .web/build/client/. "$out"/
