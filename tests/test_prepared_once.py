"""A generate call prepares its request once (issue 25): the capability table is asked once and each local file is
read once per tool call, for the estimate, the user's question and the create together. Counted where it is done
(`api/capabilities.TABLE_LOOKUPS`, `service/prepare/images.FILE_READS`), through a real client and the sandbox."""

from __future__ import annotations

import shutil
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from kling_mcp.api.capabilities import TABLE_LOOKUPS
from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.server.context import options_from
from kling_mcp.server.runtime import open_runtime
from kling_mcp.service.create.creating import Approval
from kling_mcp.service.custom_elements import ElementNotFoundError
from kling_mcp.service.describe.owners import Viewer
from kling_mcp.service.failures import InvalidInputError
from kling_mcp.service.journal import open_journal
from kling_mcp.service.journal.element_rows import ElementEntry
from kling_mcp.service.prepare.estimates import profile_of
from kling_mcp.service.prepare.images import FILE_READS, ImagePolicy
from kling_mcp.service.prepare.text_request import TextVideoRequest
from tests.conftest import EXAMPLE_PNG, FAST_RETRY, make_settings, text_of
from tests.names import GENERATE, MOTION
from tests.test_consent import User
from tests.video_files import write_video

pytestmark = pytest.mark.anyio

# Tool calls per approved create: the 2026-07-28 client (the fast lane's) asks through an input-required round trip,
# the tool called once to be told the question and once with the answer, which creates; 2025-11-25 asks inside one.
CALLS = [pytest.param("auto", 2, id="2026"), pytest.param("legacy", 1, id="2025", marks=pytest.mark.slow)]


async def _counted(server: Any, tool: str, arguments: dict[str, Any], user: User, mode: str) -> tuple[int, int]:
    async with Client(server, mode=mode, elicitation_callback=user) as client:
        lookups, reads = TABLE_LOOKUPS.count, FILE_READS.count
        answer = await client.call_tool(tool, {**arguments, "timeout": 0})
        lookups, reads = TABLE_LOOKUPS.count - lookups, FILE_READS.count - reads
    assert not answer.is_error, text_of(answer)
    return lookups, reads


@pytest.mark.parametrize(("mode", "calls"), CALLS)
async def test_an_approved_image_create_asks_the_table_once_and_reads_its_image_once_per_call(
    mode: str, calls: int, sandbox: SandboxServer, tmp_path: Path
) -> None:
    image = Path(shutil.copy(EXAMPLE_PNG, tmp_path / "start.png"))
    server = build_server(
        make_settings(sandbox, tmp_path), image_policy=ImagePolicy(roots=(tmp_path,)), retry_policy=FAST_RETRY
    )
    user = User()
    arguments = {"prompt": "a paper boat", "start_image_url": str(image), "aspect_ratio": "9:16"}
    lookups, reads = await _counted(server, GENERATE, arguments, user, mode)
    assert len(user.questions) == 1 and len(sandbox.state.creates()) == 1
    assert "Note: aspect_ratio is not sent" in user.questions[0].message  # the notes come from the same pass
    assert (lookups, reads) == (calls, calls)


@pytest.mark.parametrize(("mode", "calls"), CALLS)
async def test_an_approved_motion_create_reads_its_local_reference_once_per_call(
    mode: str, calls: int, sandbox: SandboxServer, tmp_path: Path
) -> None:
    video = write_video(tmp_path / "clips" / "dance.mp4", 7.5, moov_last=True)
    settings = make_settings(sandbox, tmp_path, KLING_MCP_PUBLIC_URL="http://127.0.0.1:9")
    server = build_server(
        settings, image_policy=ImagePolicy(roots=(video.parent,)), retry_policy=FAST_RETRY, serve_callbacks=True
    )
    user = User()
    arguments = {"image_url": "https://images.example.com/dancer.png", "video_url": str(video)}
    lookups, reads = await _counted(server, MOTION, {**arguments, "character_orientation": "image"}, user, mode)
    assert "(7.5 s)" in user.questions[0].message and len(sandbox.state.creates()) == 1
    assert (lookups, reads) == (calls, calls)


@pytest.mark.parametrize("path", ["generate", "prepare"])
async def test_the_service_itself_refuses_another_owner_s_element_before_anything_is_sent(
    path: str, settings: Settings, sandbox: SandboxServer
) -> None:
    """The owner check is the service's, not only the tool handler's: every create goes through `prepare`."""
    journal = open_journal(settings.resolved_journal())
    try:
        journal.record_element_intent(ElementEntry("kmcp-alices", "alice's keeper", owner="oauth:alice"))
    finally:
        journal.close()
    request = TextVideoRequest.model_validate(
        {"prompt": "the keeper", "model": "kling-v3", "element_list": [{"element_id": "kmcp-alices"}]}
    )
    bob = Viewer(owner="oauth:bob")
    async with AsyncExitStack() as stack:
        service = (await open_runtime(settings, options_from(settings), stack, FAST_RETRY)).service
        approval = Approval(await service.estimate(profile_of(request)), "test")
        with pytest.raises(ElementNotFoundError, match="No element with id 'kmcp-alices' among yours"):
            if path == "generate":
                await service.generate(request, approval=approval, viewer=bob)
            else:
                async with service.prepare(request, bob) as prepared:
                    await service.start(prepared, approval=approval, waits=False)
        with pytest.raises(InvalidInputError, match="still under way"):  # its owner is told what it is
            async with service.prepare(request, Viewer(owner="oauth:alice")):
                pass
    assert sandbox.state.creates() == []
