"""The documentation cannot drift from the code: settings, error codes, statuses, the live tool schema, links."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import typing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mcp import Client

from kling_mcp.api.errors import ERROR_CODES
from kling_mcp.api.models import TaskStatus
from kling_mcp.config import Settings
from kling_mcp.http.settings import HttpSettings
from kling_mcp.service.journal import CREATE_FAILED, CREATING, NEVER_CREATED, UNKNOWN
from tests.conftest import subprocess_env
from tests.http_support import free_port
from tests.npm_support import INSPECTOR, MCPB, OIDC_PROVIDER, TS_SDK

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"
# Written by the HTTP transport work (issue 5) on its own branch; linked from here already.
LINKED_BEFORE_IT_EXISTS = {DOCS / "deploying-http.md"}


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_configuration_doc", ROOT / "scripts" / "gen_configuration_doc.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_doc_lists_exactly_the_settings_fields() -> None:
    generator = _load_generator()
    current = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert generator.render(current) == current, (
        "docs/configuration.md is stale: run python scripts/gen_configuration_doc.py"
    )
    for field in Settings.model_fields.values():
        assert f"| `{field.validation_alias}` |" in current


def test_readme_names_only_real_settings_and_links_every_setting() -> None:
    """The README shows the few settings most people need; the full lists live in docs (generated, or checked below)."""
    aliases = {str(f.validation_alias) for model in (Settings, HttpSettings) for f in model.model_fields.values()}
    named = set(re.findall(r"`(KLING_[A-Z_]+)`", README))
    assert named <= aliases, f"the README names settings that do not exist: {named - aliases}"
    configure = README.split("## Configure", 1)[1].split("\n## ", 1)[0]
    assert "(docs/configuration.md)" in configure and "(docs/deploying-http.md#serving-settings)" in configure


def test_deploying_http_lists_every_serving_setting_with_its_flag() -> None:
    text = (DOCS / "deploying-http.md").read_text(encoding="utf-8")
    rows = _table_rows(text.split("## Serving settings", 1)[1])
    listed = {name for row in rows for name in re.findall(r"`(KLING_[A-Z_]+)`", row[0])}
    assert listed == {str(f.validation_alias) for f in HttpSettings.model_fields.values()}


def test_quick_start_is_two_commands_making_the_venv_claude_desktop_runs() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    demo, tests = re.findall(r"```bash\n(.*?)\n```", quick_start, flags=re.DOTALL)
    assert demo.startswith("python3 -m venv .venv && ") and demo.endswith("pip install . && kling-mcp demo")
    assert tests == 'pip install -e ".[test]" && python -m pytest'
    assert "python -m pytest" in (ROOT / ".ci" / "run").read_text(encoding="utf-8"), "CI runs the README's tests"
    example = (ROOT / "examples" / "claude_desktop_config.json").read_text(encoding="utf-8")
    assert "/.venv/bin/kling-mcp" in example, "the example runs the server from the quick start's .venv"


def test_contributing_names_every_cache_folder_the_tests_fill() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    for package in (INSPECTOR, TS_SDK, OIDC_PROVIDER, MCPB):
        assert f"`~/.cache/{package.folder}` (`{package.folder_variable}`)" in text, package.name
    assert "python -m tests.npm_support" in text and "scripts/install-browser-deps.sh" in text


def _table_rows(markdown: str) -> list[list[str]]:
    """The cells of each row of the first table in `markdown` (header and rule lines dropped)."""
    lines = markdown.strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_troubleshooting_explains_every_kling_error_code() -> None:
    text = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    rows = {int(row[0]): row for row in _table_rows(text.split("## Kling's error codes", 1)[1])}
    assert set(rows) == set(ERROR_CODES), "one row per code in kling_mcp.api.errors.ERROR_CODES"
    for code, info in ERROR_CODES.items():
        _, http_status, meaning, retried, advice = rows[code]
        assert re.fullmatch(r"[1-5]\d\d", http_status), code
        assert meaning and advice, code
        assert retried.startswith("yes") == info.retryable, f"{code}: the Retried column disagrees with ERROR_CODES"


def test_journal_doc_covers_every_status_and_the_resume_path() -> None:
    text = (DOCS / "journal.md").read_text(encoding="utf-8")
    statuses = {CREATING, CREATE_FAILED, UNKNOWN, NEVER_CREATED, *typing.get_args(TaskStatus)}
    for status in statuses:
        assert f"| `{status}` |" in text, status
    for phrase in ("writes the intent to the journal first", "right after", "external_task_id", "WAL"):
        assert phrase in text
    assert "kling_get_video_task" in text and "kling_list_video_tasks" in text


def _default_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.anyio
async def test_readme_tool_tables_match_the_live_tool_schema(client: Client) -> None:
    """Every parameter the server publishes, with its default and enum values, is in the README's table; no extras."""
    tools = (await client.list_tools()).tools
    for tool in tools:
        section = README.split(f"### `{tool.name}`", 1)
        assert len(section) == 2, f"the README has no section for {tool.name}"
        rows = {row[0].strip("`"): row for row in _table_rows(section[1].split("\n### ", 1)[0])}
        properties: dict[str, Any] = tool.input_schema["properties"]
        assert set(rows) == set(properties), f"{tool.name}: README parameters differ from the schema"
        required = set(tool.input_schema.get("required", []))
        for name, schema in properties.items():
            row = " | ".join(rows[name])
            default_cell = rows[name][2]
            if name in required:
                assert default_cell == "required", f"{tool.name}.{name} is required"
            elif schema.get("default") is not None:
                assert f"`{_default_text(schema['default'])}`" in default_cell, f"{tool.name}.{name} default"
            enum: list[Any] = schema.get("enum") or next(
                (s["enum"] for s in schema.get("anyOf", []) if "enum" in s), []
            )
            for value in enum:
                assert f"`{value}`" in row, f"{tool.name}.{name}: enum value {value!r} missing from the README"


def _local_links(path: Path) -> list[Path]:
    text = path.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    return [(path.parent / t).resolve() for t in targets if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize(
    "page", ["README.md", "CONTRIBUTING.md", "ARCHITECTURE.md", *sorted(f"docs/{p.name}" for p in DOCS.glob("*.md"))]
)
def test_local_links_point_at_files_that_exist(page: str) -> None:
    for target in _local_links(ROOT / page):
        assert target.exists() or target in LINKED_BEFORE_IT_EXISTS, f"{page} links to missing {target}"


def wait_until_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, "the server exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "the server did not listen"
            time.sleep(0.05)


def _code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


@pytest.mark.slow  # a server process, and the snippet in another
def test_readme_http_snippets_run_as_written(settings: Settings, tmp_path: Path) -> None:
    """The README's "Run over HTTP" shell lines start the server; its Python snippet, run as written, lists the tools.

    Only the port is swapped for a free one (8000 may be taken on a shared machine).
    """
    [shell] = [block for block in _code_blocks("bash") if "--transport streamable-http" in block]
    export, serve = (line for line in shell.splitlines() if line.strip())
    [snippet] = _code_blocks("python")
    port = str(free_port())
    token = subprocess.run(
        ["bash", "-c", f'{export}\nprintf %s "$KLING_MCP_AUTH_TOKEN"'], capture_output=True, text=True, check=True
    ).stdout
    assert len(token) >= 32
    command = shlex.split(serve, comments=True)
    assert command[0] == "kling-mcp"
    command = [sys.executable, "-m", "kling_mcp", *(port if arg == "8000" else arg for arg in command[1:])]
    env = subprocess_env(settings, KLING_MCP_AUTH_TOKEN=token)
    with (
        (tmp_path / "server.log").open("wb") as log,
        subprocess.Popen(command, env=env, stdout=log, stderr=log) as server,
    ):
        try:
            wait_until_listening(int(port), server)
            done = subprocess.run(
                [sys.executable, "-c", snippet.replace("127.0.0.1:8000", f"127.0.0.1:{port}")],
                env={**env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert done.returncode == 0, done.stderr + (tmp_path / "server.log").read_text()
    assert done.stdout.strip() == (
        "kling_generate_video_from_image, kling_generate_video_from_text, kling_generate_video_from_motion, "
        "kling_get_video_task, kling_list_video_tasks, kling_list_models, kling_create_element, kling_list_elements, "
        "kling_get_element, kling_delete_element, kling_get_credits"
    )
