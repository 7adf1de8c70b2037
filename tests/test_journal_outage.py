"""Issue #26 items 19-21: the journal down, or asked to hold more than it should (a secret, a password).

19: a lookup while the journal cannot be read still asks Kling and never denies a task that exists.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.context import options_from
from kling_mcp.server.runtime import open_runtime
from kling_mcp.service.errors import OwnerUncheckedError, TaskNotFoundError
from kling_mcp.service.inputs import VideoRequest
from kling_mcp.service.owners import Viewer
from tests.conftest import FAST_RETRY, make_settings

pytestmark = pytest.mark.anyio

ARGS = {"prompt": "a paper boat on a puddle", "start_image_url": "https://images.example.com/boat.png"}


def _gets(sandbox: SandboxServer) -> int:
    return sum(1 for r in sandbox.state.requests if r.method == "GET")


async def _made_task(settings: Settings) -> str:
    async with AsyncExitStack() as stack:
        runtime = await open_runtime(settings, options_from(settings), stack, FAST_RETRY)
        outcome = await runtime.service.generate(VideoRequest.model_validate({**ARGS, "timeout": 5}), owner="oauth:al")
        assert outcome.result.task_id is not None
        return outcome.result.task_id


@pytest.mark.parametrize("sees_all", [False, True], ids=["owner", "admin"])
async def test_19_a_lookup_while_the_journal_cannot_be_opened_asks_kling_and_never_denies_the_task(
    sandbox: SandboxServer, settings: Settings, tmp_path: Path, sees_all: bool
) -> None:
    task_id = await _made_task(settings)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the journal's folder should be")
    broken = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL=str(blocker / "journal.sqlite3"))
    async with AsyncExitStack() as stack:
        runtime = await open_runtime(broken, options_from(broken), stack, FAST_RETRY)
        viewer = Viewer("oauth:al", sees_all=sees_all)
        before = _gets(sandbox)
        if sees_all:
            outcome = await runtime.service.get(task_id, viewer=viewer)
            assert outcome.result.task_id == task_id and outcome.result.status == "succeed"
            assert outcome.result.journal_warning and "could not be read" in outcome.result.journal_warning
        else:
            # Over HTTP with tokens (no admin scope) this answered "No task with id ..." without asking Kling.
            with pytest.raises(OwnerUncheckedError) as raised:
                await runtime.service.get(task_id, viewer=viewer)
            text = str(raised.value)
            assert "Kling has a task" in text and "do not create it again" in text and "could not be read" in text
            assert "No task" not in text
        assert _gets(sandbox) > before, "Kling was not asked"
        with pytest.raises(TaskNotFoundError) as unknown:
            await runtime.service.get("no-such-task", viewer=viewer)
        assert "not consulted" in str(unknown.value) and "could not be read" in str(unknown.value)
