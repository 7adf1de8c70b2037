"""A client nobody here wrote: the official MCP Inspector CLI (Node) drives `python -m kling_mcp` over stdio.

The Inspector is installed from the npm registry into a cache folder outside the repository
(`~/.cache/kling-mcp-inspector`, or `KLING_MCP_INSPECTOR_DIR`) on first use and runs offline after that. The tests
skip, saying why, where Node/npm is missing or the install fails (no registry).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import EXAMPLE_PNG, subprocess_env
from tests.names import TOOLS
from tests.npm_support import INSPECTOR, node_major

MIN_NODE_MAJOR = 18

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def inspector() -> Path:
    """The Inspector's `mcp-inspector` executable, installed on first use."""
    if node_major() < MIN_NODE_MAJOR:
        pytest.skip(f"the MCP Inspector {INSPECTOR.version} needs Node >= {MIN_NODE_MAJOR}")
    prefix = INSPECTOR.install()
    executable = prefix / "node_modules" / ".bin" / "mcp-inspector"
    assert executable.exists(), f"{executable} missing after install"
    return executable


def run_inspector(inspector: Path, settings: Settings, *method_args: str, **extra_env: str) -> dict[str, Any]:
    """`mcp-inspector --cli -e KEY=VALUE… python -m kling_mcp --method …`; returns the JSON it prints."""
    env_for_server = subprocess_env(settings, **extra_env)
    kling_vars = {k: v for k, v in env_for_server.items() if k.startswith("KLING_")}
    base_env = {k: v for k, v in env_for_server.items() if k not in kling_vars}
    command = [str(inspector), "--cli"]
    for key, value in kling_vars.items():
        command += ["-e", f"{key}={value}"]
    command += [sys.executable, "-m", "kling_mcp", *method_args]
    done = subprocess.run(command, env=base_env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"inspector failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    output: dict[str, Any] = json.loads(done.stdout)
    return output


def test_inspector_lists_the_tools_with_schema_and_annotations(inspector: Path, settings: Settings) -> None:
    listed = run_inspector(inspector, settings, "--method", "tools/list")
    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert set(tools) == TOOLS
    generate = tools["kling_generate_video_from_image"]
    assert len(generate["inputSchema"]["properties"]) == 13 + 4  # the spec's, and issue 23's storyboard/elements/voices
    assert generate["inputSchema"]["required"] == ["prompt"]
    assert generate["outputSchema"]["required"] == ["result"]
    assert generate["annotations"]["readOnlyHint"] is False
    assert generate["annotations"]["idempotentHint"] is False
    assert tools["kling_list_video_tasks"]["annotations"]["readOnlyHint"] is True


def test_inspector_generates_a_video_against_the_sandbox(
    inspector: Path, settings: Settings, sandbox: SandboxServer
) -> None:
    result = run_inspector(
        inspector,
        settings,
        "--method",
        "tools/call",
        "--tool-name",
        "kling_generate_video_from_image",
        "--tool-arg",
        "prompt=a lighthouse in fog, waves rolling in",
        "--tool-arg",
        f"start_image_url={EXAMPLE_PNG}",
        "--tool-arg",
        "duration=10",
    )
    assert result["isError"] is False, result
    task = result["structuredContent"]["result"]
    assert task["status"] == "succeed" and task["done"] is True
    [video] = task["videos"]
    assert video["url"] == f"{sandbox.url}/sandbox/videos/{task['task_id']}.mp4"
    assert video["url"] in result["content"][0]["text"]
    [create] = sandbox.state.creates()
    assert create.body is not None
    assert create.body["model_name"] == "kling-v2-master"
    assert create.body["duration"] == "10", "the Inspector sends the integer as a string; it must still arrive"
    assert create.body["prompt"] == "a lighthouse in fog, waves rolling in"


def test_inspector_sees_a_tool_error_and_a_download(
    inspector: Path, settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    refused = run_inspector(
        inspector,
        settings,
        "--method",
        "tools/call",
        "--tool-name",
        "kling_generate_video_from_image",
        "--tool-arg",
        "prompt=no image at all",
    )
    assert refused["isError"] is True
    assert "at least one of start_image_url or end_image_url must be provided" in refused["content"][0]["text"]
    assert sandbox.state.creates() == []

    task = sandbox.state.add_task("image2video", {"model_name": "kling-v2-master", "mode": "std", "duration": "5"})
    task.finished_at = 0.0
    home = tmp_path / "home"  # no KLING_MCP_DOWNLOAD_DIR: only download=true saves, into ~/Downloads/kling-mcp
    fetched = run_inspector(
        inspector,
        settings,
        "--method",
        "tools/call",
        "--tool-name",
        "kling_get_video_task",
        "--tool-arg",
        f"task_id={task.task_id}",
        "--tool-arg",
        "download=true",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
    )
    assert fetched["isError"] is False, fetched
    [video] = fetched["structuredContent"]["result"]["videos"]
    assert video["local_path"] == str(home / "Downloads" / "kling-mcp" / f"kling-{task.task_id}.mp4")
    assert Path(video["local_path"]).read_bytes()[4:8] == b"ftyp"
