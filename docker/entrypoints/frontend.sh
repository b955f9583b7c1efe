#!/bin/sh
# The frontend container's command: Caddy serves the exported static pages on FRONTEND_PORT
# and passes the backend's paths (/_event WebSocket, /ping, /_upload, /api/...) to BACKEND_UPSTREAM.
set -eu
# The pages may connect to LiveKit over its WebSocket URL and its HTTP form (see frontend.Caddyfile).
LIVEKIT_PUBLIC_URL="${LIVEKIT_PUBLIC_URL:-ws://localhost:7880}"
LIVEKIT_HTTP_URL="$(printf '%s' "$LIVEKIT_PUBLIC_URL" | sed 's#^ws#http#')"
export LIVEKIT_PUBLIC_URL LIVEKIT_HTTP_URL
cd "$(dirname "$0")/../.."
exec caddy run --config "${CADDYFILE:-docker/frontend.Caddyfile}" --adapter caddyfile
