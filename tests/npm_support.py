"""Install an npm package (pinned) into a cache folder outside the repository, once, for tests driven from Node.

Tests skip, saying why, where Node/npm is missing or the registry cannot be reached; on a machine with both (CI),
they run. `python -m tests.npm_support` installs every pinned package ahead of the tests (`.ci/run` does).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class NpmPackage:
    """A pinned npm package and the cache folder it is installed into (overridable by an environment variable)."""

    name: str
    version: str
    folder_variable: str
    folder: str

    @property
    def prefix(self) -> Path:
        return Path(os.environ.get(self.folder_variable, Path.home() / ".cache" / self.folder))

    def install(self) -> Path:
        """Install it (once); returns its prefix. Skips the calling test when that is impossible."""
        return npm_install(self.prefix, self.name, self.version)


# 0.15.0 is the newest Inspector that runs on Node 20 (later ones need Node >= 22).
INSPECTOR = NpmPackage("@modelcontextprotocol/inspector", "0.15.0", "KLING_MCP_INSPECTOR_DIR", "kling-mcp-inspector")
TS_SDK = NpmPackage("@modelcontextprotocol/sdk", "1.32.2", "KLING_MCP_TS_SDK_DIR", "kling-mcp-ts-sdk")
# The SEP-2663 tasks client library and the SDK client it runs on (tests/test_tasks_ext_tasks.py), in one folder.
TS_CLIENT = NpmPackage("@modelcontextprotocol/client", "2.4.0", "KLING_MCP_EXT_TASKS_DIR", "kling-mcp-ext-tasks")
EXT_TASKS = NpmPackage("@modelcontextprotocol/ext-tasks", "0.2.2", "KLING_MCP_EXT_TASKS_DIR", "kling-mcp-ext-tasks")
# The identity provider of the OAuth tests (tests/oidc_support.py).
OIDC_PROVIDER = NpmPackage("oidc-provider", "9.13.3", "KLING_MCP_OIDC_DIR", "kling-mcp-oidc")
# The official MCPB CLI: validates the Claude Desktop bundle's manifest (tests/test_bundle.py).
MCPB = NpmPackage("@anthropic-ai/mcpb", "2.1.2", "KLING_MCP_MCPB_DIR", "kling-mcp-mcpb")


def installed_version(prefix: Path, package: str) -> str | None:
    """The version of `package` under `prefix/node_modules`, or None."""
    manifest = prefix / "node_modules" / package / "package.json"
    try:
        version: str = json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return version


def node_major() -> int:
    """Node's major version (skips the test when Node/npm are not installed)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js/npm is not installed")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    return int(version.strip().lstrip("v").split(".")[0] or 0)


def npm_install(prefix: Path, package: str, version: str) -> Path:
    """`npm install package@version` into `prefix` unless that version is there already; returns `prefix`."""
    node_major()
    npm = shutil.which("npm")
    assert npm is not None
    if installed_version(prefix, package) == version:
        return prefix
    prefix.mkdir(parents=True, exist_ok=True)
    spec = f"{package}@{version}"
    command = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error", spec]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install {spec} timed out (no npm registry?)")
    if done.returncode != 0 or installed_version(prefix, package) != version:
        pytest.skip(f"could not install {spec} (no npm registry?): {done.stderr.strip()[-500:]}")
    return prefix


if __name__ == "__main__":
    for package in (INSPECTOR, TS_SDK, TS_CLIENT, EXT_TASKS, OIDC_PROVIDER, MCPB):
        try:
            print(f"{package.name}@{package.version} in {package.install()}")  # noqa: T201 - a CI step's output
        except pytest.skip.Exception as skipped:
            sys.exit(f"cannot install {package.name}: {skipped}")
