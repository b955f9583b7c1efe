#!/bin/sh
# The backend container's command: Reflex's backend in production mode (Granian; with REDIS_URL
# set it runs several workers that share UI state in Redis) serving our FastAPI routes, on
# BACKEND_PORT. The schema is migrated before, by `migrate.sh` (the compose `migrate` service).
# Tests run this same script natively (tests/test_deploy.py).
set -eu
cd "$(dirname "$0")/../.."
python docker/entrypoints/preflight.py backend
# With REDIS_URL (shared UI state), one Granian worker per core; without it, the one worker Reflex
# runs. Reflex's own default, 2 x cores + 1, was 35-40 % slower for token requests on 2 cores, with
# more than twice the p99 (bench/token_throughput.py, README).
if [ -n "${REDIS_URL:-}" ]; then
  export GRANIAN_WORKERS="${GRANIAN_WORKERS:-$(nproc)}"
fi
exec reflex run --env prod --backend-only --backend-port "${BACKEND_PORT:-8080}" --loglevel info
