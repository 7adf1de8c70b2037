"""The Claude Desktop bundle: `manifest.json` per the MCPB spec, built by scripts/build_mcpb.py, run as it says.

The official CLI (`@anthropic-ai/mcpb`, pinned in tests/npm_support.py) validates the manifest; the server is then
started from a built bundle with the manifest's own command (`uv run …`, with `${__dirname}` and `${user_config.*}`
substituted as the host does) and driven over stdio by a real MCP client against the sandbox.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

import kling_mcp
from kling_mcp.config import DEFAULT_API_BASE_URL, Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import text_of
from tests.npm_support import MCPB

ROOT = Path(__file__).resolve().parent.parent
MANIFEST: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
ENV_ALIASES = {str(field.validation_alias) for field in Settings.model_fields.values()}
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
# What uv needs of the environment to reach the package index on this machine (certificates, proxies).
UV_NEEDS = {"PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR"}
UV_NEEDS |= {"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"}


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_mcpb", ROOT / "scripts" / "build_mcpb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.anyio
async def test_manifest_names_the_package_version_and_every_tool(client: Client) -> None:
    assert MANIFEST["manifest_version"] == "0.4"
    assert MANIFEST["name"] == "kling-mcp"
    assert MANIFEST["version"] == kling_mcp.__version__
    listed = (await client.list_tools()).tools
    assert [tool["name"] for tool in MANIFEST["tools"]] == [tool.name for tool in listed]


def test_manifest_runs_the_server_with_uv_and_maps_user_config_onto_settings() -> None:
    server = MANIFEST["server"]
    assert server["type"] == "uv", "uv installs the dependencies: no virtual environment in the bundle"
    assert (ROOT / server["entry_point"]).is_file()
    config = server["mcp_config"]
    assert config["command"] == "uv" and config["args"][-1] == "kling-mcp"
    user_config: dict[str, dict[str, Any]] = MANIFEST["user_config"]
    used: set[str] = set()
    for variable, value in config["env"].items():
        assert variable in ENV_ALIASES, f"{variable} is not a setting of kling_mcp.config.Settings"
        [name] = re.fullmatch(r"\$\{user_config\.(\w+)\}", value).groups()  # type: ignore[union-attr]
        assert name in user_config, f"{variable} refers to an undeclared user_config.{name}"
        used.add(name)
    assert used == set(user_config), "every user_config option reaches the server"
    sensitive = {name for name, option in user_config.items() if option.get("sensitive")}
    assert sensitive == {"access_key", "secret_key"}
    # The options a user sees agree with the server's own defaults.
    fields = Settings.model_fields
    assert user_config["api_base_url"]["default"] == DEFAULT_API_BASE_URL == fields["api_base_url"].default
    assert user_config["sandbox"]["default"] is fields["sandbox"].default is False
    assert user_config["max_wait"]["default"] == fields["max_wait_seconds"].default
    assert user_config["download_dir"]["type"] == "directory"


def test_an_empty_download_folder_means_none() -> None:
    # A host sends "" for an option the user cleared: that must not mean "save into the current directory".
    assert Settings(KLING_MCP_DOWNLOAD_DIR="").download_dir is None
    assert Settings(KLING_MCP_DOWNLOAD_DIR="  ").download_dir is None


def test_the_bundle_holds_the_manifest_and_the_package_and_is_reproducible(tmp_path: Path) -> None:
    builder = _load_builder()
    first = builder.build(tmp_path / "a")
    second = builder.build(tmp_path / "b")
    assert first.name == f"kling-mcp-{kling_mcp.__version__}.mcpb"
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    with zipfile.ZipFile(first) as bundle:
        names = bundle.namelist()
        assert json.loads(bundle.read("manifest.json")) == MANIFEST
    assert {"manifest.json", "pyproject.toml", "README.md", "LICENSE"} <= set(names)
    source = {p.relative_to(ROOT).as_posix() for p in (ROOT / "src" / "kling_mcp").rglob("*.py")}
    assert source <= set(names)
    assert "src/kling_mcp/server/tool_schemas.json" in names and "src/kling_mcp/assets/sample.mp4" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith((".venv", "tests/"))]


def test_the_builder_refuses_a_manifest_of_another_version(tmp_path: Path) -> None:
    builder = _load_builder()
    for name, path in builder.bundle_files():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, tmp_path / name)
    stale = {**MANIFEST, "version": "0.0.1"}
    (tmp_path / "manifest.json").write_text(json.dumps(stale), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"version 0\.0\.1"):
        builder.build(tmp_path / "dist", root=tmp_path)


def _mcpb() -> str:
    return str(MCPB.install() / "node_modules" / ".bin" / "mcpb")


@pytest.mark.slow  # npm, and the CLI in Node
def test_the_official_cli_validates_the_manifest_and_the_built_bundle(tmp_path: Path) -> None:
    mcpb = _mcpb()
    done = subprocess.run([mcpb, "validate", str(ROOT / "manifest.json")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validation passes" in done.stdout
    bundle = _load_builder().build(tmp_path / "dist")
    unpacked = tmp_path / "unpacked"
    done = subprocess.run([mcpb, "unpack", str(bundle), str(unpacked)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run(
        [mcpb, "validate", str(unpacked / "manifest.json")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _uv() -> str:
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    found = str(beside) if beside.exists() else shutil.which("uv")
    if found is None:
        pytest.skip("uv is not installed (it is in the test extras: pip install -e '.[test]')")
    return found


def _substitute(value: str, dirname: Path, user_config: dict[str, str]) -> str:
    """What the host does to a manifest string: `${__dirname}`, `${HOME}`, `${user_config.*}` replaced."""

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "__dirname":
            return str(dirname)
        if key == "HOME":
            return str(Path.home())
        if key.startswith("user_config."):
            return user_config[key.removeprefix("user_config.")]
        raise AssertionError(f"the host would not know ${{{key}}}")

    return PLACEHOLDER.sub(one, value)


@pytest.mark.slow  # uv installs the bundle's dependencies (from its cache, or PyPI) and starts the server
@pytest.mark.anyio
async def test_the_server_starts_from_a_built_bundle_the_way_the_manifest_says(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    uv = _uv()
    bundle = _load_builder().build(tmp_path / "dist")
    extension = tmp_path / "extension"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(extension)
    # The user's answers, as the host would pass them: strings; keys and host of the test's sandbox.
    downloads = tmp_path / "videos"
    assert settings.secret_key is not None and settings.access_key is not None
    answers = {
        "access_key": settings.access_key,
        "secret_key": settings.secret_key.get_secret_value(),
        "api_base_url": settings.api_base_url,
        "sandbox": "false",
        "download_dir": str(downloads),
        "max_wait": "20",
    }
    config = json.loads((extension / "manifest.json").read_text(encoding="utf-8"))["server"]["mcp_config"]
    assert config["command"] == "uv"
    args = [_substitute(arg, extension, answers) for arg in config["args"]]
    uv_env = {k: v for k, v in os.environ.items() if k in UV_NEEDS or k.startswith("UV_")}
    # uv uses the Python running the tests rather than download one (the host brings its own).
    uv_env.update(UV_PYTHON=sys.executable, UV_PYTHON_DOWNLOADS="never")
    synced = subprocess.run(
        [uv, "sync", "--directory", str(extension), "--no-dev"], env=uv_env, capture_output=True, text=True, timeout=600
    )
    if synced.returncode != 0:
        pytest.skip(f"uv could not install the bundle's dependencies (no PyPI?): {synced.stderr.strip()[-400:]}")
    env = {
        **uv_env,
        **{name: _substitute(value, extension, answers) for name, value in config["env"].items()},
        # Not the manifest's: keeps this test's tasks out of the user's journal.
        "KLING_MCP_JOURNAL": settings.resolved_journal(),
    }
    async with Client(StdioServerParameters(command=uv, args=args, env=env, cwd=str(tmp_path))) as client:
        tools = await client.list_tools()
        assert [tool.name for tool in tools.tools] == [tool["name"] for tool in MANIFEST["tools"]]
        result = await client.call_tool("kling_generate_video_from_text", {"prompt": "a kite over the dunes"})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    done = result.structured_content["result"]
    assert done["status"] == "succeed"
    # The served code is the bundle's copy, installed by uv into the bundle's own environment.
    assert (extension / ".venv").is_dir()
    [video] = done["videos"]
    assert Path(video["local_path"]).parent == downloads and Path(video["local_path"]).is_file()
    assert len(sandbox.state.creates()) == 1
