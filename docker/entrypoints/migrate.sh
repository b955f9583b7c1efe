#!/bin/sh
# The one-shot `migrate` service: apply the committed Alembic migrations, then exit. It runs to
# completion before any backend starts, so several backends never race on the schema.
set -eu
cd "$(dirname "$0")/../.."
python docker/entrypoints/preflight.py backend
exec reflex db migrate
