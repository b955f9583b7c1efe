#!/bin/sh
# The agent container's command: the livekit-agents worker in production mode. It registers
# under AGENT_NAME, takes no new conversations above WORKER_LOAD_THRESHOLD, answers health checks
# on WORKER_HTTP_PORT (8081) and on SIGTERM drains for up to DRAIN_TIMEOUT_SECONDS.
set -eu
cd "$(dirname "$0")/../.."
python docker/entrypoints/preflight.py agent
exec python -m agent_worker start
