"""The container image (Dockerfile) and the team setup (compose.yaml + deploy/nginx.conf), checked without Docker.

Their structure is parsed and held against the code (settings names, /healthz, the callback path); the image's
command and health check are run as the Dockerfile says, as plain processes. What needs a Docker engine (building the
image, `docker compose config`) runs where there is one and otherwise skips, saying so.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from kling_mcp.config import Settings
from kling_mcp.http.app import HEALTH_PATH
from kling_mcp.http.security import is_loopback
from kling_mcp.http.settings import DEFAULT_SHUTDOWN_GRACE_SECONDS, HttpSettings
from kling_mcp.service.callbacks.addresses import CALLBACK_PATH
from tests.conftest import subprocess_env
from tests.http_support import free_port

ROOT = Path(__file__).resolve().parent.parent
ALIASES = {str(f.validation_alias) for model in (Settings, HttpSettings) for f in model.model_fields.values()}
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
NGINX = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, (INSTRUCTION, arguments) with continuations joined, grouped by stage."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def final_stage() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for instruction, arguments in dockerfile_stages()[-1]:
        found.setdefault(instruction, []).append(arguments)
    return found


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in final_stage()["ENV"]:
        env.update(dict(pair.split("=", 1) for pair in shlex.split(line)))
    return env


def test_image_is_small_non_root_and_built_in_two_stages() -> None:
    stages = dockerfile_stages()
    assert len(stages) == 2, "a build stage for wheels, a final stage without them"
    final = final_stage()
    [base] = final["FROM"]
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base
    assert not any("apt-get" in run for run in final.get("RUN", [])), "no compilers or packages in the final image"
    [user] = final["USER"]
    assert user.split(":")[0] not in ("root", "0"), "the server must not run as root"
    install = " ".join(final["RUN"])
    assert '"kling-mcp[postgres]"' in install and "--no-index" in install, "the PostgreSQL journal is in the image"


def test_image_env_is_known_settings_and_listens_beyond_loopback() -> None:
    env = image_env()
    assert {k for k in env if k.startswith("KLING_")} <= ALIASES
    assert env["KLING_MCP_TRANSPORT"] == "streamable-http"
    # Not loopback: the server then refuses to start without a token, so the image cannot be run open by accident.
    assert not is_loopback(env["KLING_MCP_HOST"])
    [expose] = final_stage()["EXPOSE"]
    assert expose == env["KLING_MCP_PORT"]
    assert json.loads(final_stage()["CMD"][0]) == ["kling-mcp"]


def test_healthcheck_probes_healthz() -> None:
    [healthcheck] = final_stage()["HEALTHCHECK"]
    options, _, command = healthcheck.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    argv = json.loads(command)
    assert argv[0] == "python" and HEALTH_PATH in argv[-1]


def test_only_the_package_sources_are_sent_to_the_build() -> None:
    copied = [
        arguments.split()[:-1]
        for stage in dockerfile_stages()
        for instruction, arguments in stage
        if instruction == "COPY" and "--from" not in arguments
    ]
    sources = [source for group in copied for source in group]
    assert sources and all((ROOT / source).exists() for source in sources)
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[ignore.index("*") :][:1] == ["*"], "everything is excluded first"
    assert {f"!{source.rstrip('/')}" for source in sources} <= {line.rstrip("/") for line in ignore}


def _replicas() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in COMPOSE["services"].items() if service.get("build") == "."}


def test_compose_runs_two_replicas_of_this_image_on_one_postgresql_journal_with_callbacks() -> None:
    replicas = _replicas()
    assert len(replicas) == 2
    services = COMPOSE["services"]
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:") and "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    for name, replica in replicas.items():
        env: dict[str, str] = replica["environment"]
        assert set(env) <= ALIASES, f"{name}: {set(env) - ALIASES} are not settings"
        assert re.fullmatch(
            r"postgresql://kling:\$\{KLING_MCP_DB_PASSWORD:\?[^}]+\}@postgres:5432/kling_mcp", env["KLING_MCP_JOURNAL"]
        )
        assert env["KLING_MCP_STATELESS"] == "true"
        # Callbacks on, and nothing secret written in the file: each comes from the operator's environment.
        for variable in ("KLING_MCP_PUBLIC_URL", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_MCP_AUTH_TOKEN"):
            assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[variable]), variable
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert HEALTH_PATH in " ".join(replica["healthcheck"]["test"])
        grace = int(replica["stop_grace_period"].removesuffix("s"))
        assert grace > DEFAULT_SHUTDOWN_GRACE_SECONDS + 65, "docs/deploying-http.md: grace + 65 s"
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${KLING_MCP_DB_PASSWORD:?")


def test_nginx_spreads_mcp_and_callbacks_over_both_replicas() -> None:
    nginx = COMPOSE["services"]["nginx"]
    [mount] = nginx["volumes"]
    assert mount.split(":")[0] == "./deploy/nginx.conf"
    port = image_env()["KLING_MCP_PORT"]
    for name in _replicas():
        assert f"server {name}:{port} " in NGINX
    for location in ("location /mcp ", f"location {CALLBACK_PATH}/ ", f"location = {HEALTH_PATH} "):
        assert location in NGINX
    assert "non_idempotent" not in NGINX.replace('never add "non_idempotent"', "")


def _docker_engine() -> str:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("Docker is not installed: the image and compose file were checked structurally only")
    info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=60, check=False)
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        pytest.skip(f"no Docker engine here ({reason}): the image and compose file were checked structurally only")
    return docker


@pytest.mark.slow  # needs a Docker engine; builds the image
def test_image_builds_and_compose_file_is_valid_where_docker_runs() -> None:
    docker = _docker_engine()
    built = subprocess.run(
        [docker, "build", "-t", "kling-mcp:test", str(ROOT)], capture_output=True, text=True, timeout=1200
    )
    assert built.returncode == 0, built.stderr[-2000:]
    env = {"KLING_ACCESS_KEY": "a", "KLING_SECRET_KEY": "b", "KLING_MCP_AUTH_TOKEN": "t" * 32}
    env |= {"KLING_MCP_DB_PASSWORD": "p", "KLING_MCP_PUBLIC_URL": "https://mcp.example.com"}
    env |= {"KLING_MCP_ALLOWED_HOSTS": "mcp.example.com", "PATH": "/usr/bin:/bin:/usr/local/bin"}
    checked = subprocess.run(
        [docker, "compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert checked.returncode == 0, checked.stderr


@pytest.mark.slow  # starts the server as the image's command, and its health check
def test_image_command_and_healthcheck_work_as_the_dockerfile_says(settings: Settings, tmp_path: Path) -> None:
    """The CMD with the image's ENV (port and journal moved) serves; the HEALTHCHECK command then exits 0."""
    port = str(free_port())
    env = subprocess_env(settings) | image_env() | {"KLING_MCP_PORT": port, "KLING_MCP_JOURNAL": str(tmp_path / "j")}
    [command] = [json.loads(line) for line in final_stage()["CMD"]]
    argv = [sys.executable, "-m", "kling_mcp", *command[1:]]
    health = json.loads(final_stage()["HEALTHCHECK"][0].partition("CMD ")[2])
    health[0] = sys.executable
    # Without a token the image's settings refuse to start (it listens on 0.0.0.0).
    refused = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "KLING_MCP_AUTH_TOKEN" in refused.stderr
    # As compose.yaml runs it: a token, and Host checks on for the public name (the probe is to 127.0.0.1).
    env |= {"KLING_MCP_AUTH_TOKEN": "a-team-token-of-enough-length", "KLING_MCP_ALLOWED_HOSTS": "mcp.example.com"}
    log = (tmp_path / "server.log").open("wb")
    with log, subprocess.Popen(argv, env=env, stdout=log, stderr=log) as server:
        try:
            deadline = time.monotonic() + 30
            while True:
                assert server.poll() is None, (tmp_path / "server.log").read_text()
                probe = subprocess.run(health, env=env, capture_output=True, text=True, timeout=30)
                if probe.returncode == 0:
                    break
                assert time.monotonic() < deadline, probe.stderr
                time.sleep(0.2)
        finally:
            server.terminate()
            server.wait(timeout=60)
    stopped = subprocess.run(health, env=env, capture_output=True, text=True, timeout=30)
    assert stopped.returncode != 0, "the health check fails once the server is gone"
