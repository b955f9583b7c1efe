#!/bin/sh
# The frontend container's command: Caddy serves the exported static pages on FRONTEND_PORT
# and passes the backend's paths (/_event WebSocket, /ping, /_upload, /api/...) to BACKEND_UPSTREAM.
set -eu
cd "$(dirname "$0")/../.."
exec caddy run --config "${CADDYFILE:-docker/frontend.Caddyfile}" --adapter caddyfile
