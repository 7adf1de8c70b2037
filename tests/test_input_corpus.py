"""Every mistake Kling would reject (or bill for) is refused locally, through a real MCP client, naming what to change.

Each case gives the arguments that differ from a valid request, and the words the error must contain: the argument
and the rule (or the value found). Every case also checks that the sandbox — standing in for Kling — received
nothing at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.service.prepare.images import ImagePolicy
from tests.conftest import FAST_RETRY, PROTOCOL_MODES, journal_entries, make_settings, text_of
from tests.corpus_cases import (
    CASES,
    DROP,
    ELEMENT_BASE,
    ELEMENT_CASES,
    MOTION_BASE,
    MOTION_CASES,
    TEXT_BASE,
    TEXT_CASES,
    URL,
    Case,
)
from tests.imaging import Images, build_images

pytestmark = pytest.mark.anyio


def test_the_corpus_is_large_and_ids_are_unique() -> None:
    assert len(CASES) >= 50
    every = [c.id for c in (*CASES, *MOTION_CASES, *ELEMENT_CASES, *TEXT_CASES)]
    assert len(set(every)) == len(every)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    return build_images(tmp_path_factory.mktemp("corpus-images"))


def policy_for(name: str, images: Images) -> ImagePolicy:
    return {
        "stdio": ImagePolicy(),
        "none": ImagePolicy(allow_local_files=False),
        "roots": ImagePolicy(roots=(images.inside,)),
    }[name.removesuffix("-lend").replace("lend", "roots")]


@pytest.fixture(params=PROTOCOL_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def connect(settings: Settings, policy: ImagePolicy, mode: str, *, lends: bool = False) -> AsyncIterator[Client]:
    """A server with this file policy; `lends`: with a public URL, so it lends local reference videos to Kling."""
    if lends:
        settings = settings.model_copy(update={"public_url": "http://127.0.0.1:9"})
    server = build_server(settings, image_policy=policy, retry_policy=FAST_RETRY, serve_callbacks=lends)
    async with Client(server, mode=mode) as client:
        yield client


def arguments_of(case: Case, images: Images) -> dict[str, Any]:
    args: dict[str, Any] = {"prompt": "a paper boat drifts on a pond", "start_image_url": URL}
    args.update(case.args(images) if callable(case.args) else case.args)
    return {k: v for k, v in args.items() if v is not DROP}


# Cases whose arguments alone take a second or two to send through a client (14 MB of base64): the full run only.
HEAVY = {"base64-oversize"}


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.id in HEAVY else []) for c in CASES]
)
async def test_bad_input_is_refused_before_kling_is_called(
    case: Case, images: Images, settings: Settings, sandbox: SandboxServer, mode: str
) -> None:
    async with connect(settings, policy_for(case.policy, images), mode) as client:
        result = await client.call_tool("kling_generate_video_from_image", arguments_of(case, images))
    text = text_of(result)
    assert result.is_error, text
    for word in case.expect:
        assert word.lower() in text.lower(), f"{word!r} not in {text!r}"
    assert sandbox.state.requests == [], "a refused request must not reach Kling"


@pytest.mark.parametrize("prompt", ["a boat\x00 drifts", "a boat \u202edrifts", "\u200b\u2060"])
async def test_bad_characters_are_refused_alike_on_both_journal_backends(
    shared_journal: str, sandbox: SandboxServer, tmp_path: Path, prompt: str
) -> None:
    """PostgreSQL cannot store NUL: the refusal must come from the input rules, not from a failing journal write."""
    settings = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL=shared_journal)
    async with Client(build_server(settings, retry_policy=FAST_RETRY), mode="legacy") as client:
        result = await client.call_tool("kling_generate_video_from_image", {"prompt": prompt, "start_image_url": URL})
    text = text_of(result)
    assert result.is_error and "Invalid input: prompt must not" in text and "journal" not in text, text
    assert text.endswith("No request was sent to Kling.")
    assert sandbox.state.requests == []
    assert journal_entries(settings) == []


OTHER_TOOLS = [
    ("kling_generate_video_from_text", TEXT_BASE, TEXT_CASES),
    ("kling_generate_video_from_motion", MOTION_BASE, MOTION_CASES),
    ("kling_create_element", ELEMENT_BASE, ELEMENT_CASES),
]


@pytest.mark.parametrize(
    ("tool", "base", "case"), [pytest.param(tool, base, c, id=c.id) for tool, base, cases in OTHER_TOOLS for c in cases]
)
async def test_bad_input_to_the_other_tools_is_refused_before_kling_is_called(
    tool: str, base: dict[str, Any], case: Case, images: Images, settings: Settings, sandbox: SandboxServer
) -> None:
    args: dict[str, Any] = {**base, **(case.args(images) if callable(case.args) else case.args)}
    lends = case.policy.endswith("lend")
    async with connect(settings, policy_for(case.policy, images), "auto", lends=lends) as client:
        result = await client.call_tool(tool, {k: v for k, v in args.items() if v is not DROP})
    text = text_of(result)
    assert result.is_error, text
    for word in case.expect:
        assert word.lower() in text.lower(), f"{word!r} not in {text!r}"
    assert sandbox.state.requests == [], "a refused request must not reach Kling"
