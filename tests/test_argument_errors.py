"""Argument errors read the same for every tool: `Invalid input: `field` rule`, never the SDK's model names.

The wording is produced once (server/tool_errors.py, called by server/model_tool.py) for every tool the
server has or will have; the texts below are written out by hand so that any drift in wording shows up here.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import text_of
from tests.names import GENERATE, GET, LIST

pytestmark = pytest.mark.anyio

IMAGE = "https://images.example.com/start.png"
NOTHING_SENT = "No request was sent to Kling."

CASES: list[tuple[str, dict[str, Any], str]] = [
    (GET, {}, "`task_id` is required"),
    (GET, {"task_id": 5}, "`task_id` must be a valid string (got 5)"),
    (
        GET,
        {"task_id": "1", "wait_seconds": True},
        "`wait_seconds` must be a number of seconds, not a boolean (got true)",
    ),
    (GET, {"task_id": "1", "wait_seconds": -1}, "`wait_seconds` must be greater than or equal to 0 (got -1)"),
    (
        GET,
        {"task_id": "1", "download": "maybe"},
        '`download` must be a valid boolean, unable to interpret input (got "maybe")',
    ),
    (
        GET,
        {"task": "1"},
        "`task_id` is required; `task` is not a parameter of this tool (it takes: task_id, wait_seconds, download)",
    ),
    (LIST, {"limit": True}, "`limit` must be a whole number, not a boolean (got true)"),
    (LIST, {"limit": 0}, "`limit` must be greater than or equal to 1 (got 0)"),
    (
        LIST,
        {"status": "done"},
        "`status` must be 'submitted', 'processing', 'succeed', 'failed', 'creating', 'create_failed', 'unknown' "
        """or 'never_created' (got "done")""",
    ),
    (
        GENERATE,
        {"prompt": "x", "start_image_url": IMAGE, "duration": True},
        "`duration` must be a whole number of seconds, not a boolean (got true)",
    ),
    (
        GENERATE,
        {"prompt": "x", "start_image_url": IMAGE, "timeout": False},
        "`timeout` must be a number of seconds, not a boolean (got false)",
    ),
    (
        GENERATE,
        {"start_image_url": IMAGE, "mode": "fast"},
        "`prompt` is required; `mode` must be 'std', 'pro' or '4k' (got \"fast\")",
    ),
    (
        GENERATE,
        {"prompt": "x", "start_image_url": IMAGE, "duration": 7.5},
        "`duration` must be a valid integer, got a number with a fractional part",
    ),
    (
        GENERATE,
        {"prompt": "x", "start_image_url": IMAGE, "model": "kling-v1", "camera_control": '{"type": "simple"}'},
        "`camera_control`: type 'simple' needs a config with exactly one non-zero axis, e.g. {\"zoom\": 5}",
    ),
    (
        GENERATE,
        {"prompt": "x", "start_image_url": IMAGE, "camera_control": '{"type": "simple", "config": {"dolly": 3}}'},
        "`camera_control.config.dolly` is not permitted here",
    ),
]


@pytest.mark.parametrize(("tool", "arguments", "expected"), CASES, ids=[f"{c[0][6:]}-{c[2][:30]}" for c in CASES])
async def test_argument_errors_name_the_field_and_the_rule(
    client: Client, sandbox: SandboxServer, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    # The list tool never contacts Kling: "no request was sent" would suggest that one might have been.
    ending = "Nothing was done." if tool == LIST else NOTHING_SENT
    assert text_of(result) == f"Error executing tool {tool}: Invalid input: {expected}. {ending}"
    assert sandbox.state.requests == []


async def test_no_sdk_internals_in_any_argument_error(client: Client) -> None:
    for tool, arguments, _ in CASES:
        text = text_of(await client.call_tool(tool, arguments))
        for internal in ("Arguments", "validation error for", "[type=", "input_value", "pydantic"):
            assert internal not in text, (tool, text)
