"""Next steps by kind: the service says which (`next_step_kind`, `TaskCallError.step`) and words only the kinds that
name no tool; the server layer words the rest with its tools' names (`server/replies.next_step_for`)."""

from __future__ import annotations

import pytest

from kling_mcp.server.replies import next_step_for
from kling_mcp.service.describe import task_results as results
from kling_mcp.service.failures import TaskCallError

MOTION = "kling_generate_video_from_motion"


@pytest.mark.parametrize(
    ("status", "task_id", "kind", "server_words"),
    [
        ("succeed", "t1", "show_video", "Show the video URL"),
        ("failed", "t1", "change_input", "change the prompt or images"),
        ("create_failed", None, "fix_then_create", f"calling {MOTION} again is safe"),
        ("never_created", None, "create_again", f"calling {MOTION} again is safe"),
        ("declined", None, "declined", "ask the user"),
        (
            "submitted",
            None,
            "look_up",
            f"Call kling_get_video_task with task_id='kmcp-1' and wait_seconds=30; do not call {MOTION} again",
        ),
        ("processing", "t1", "wait", f"Call kling_get_video_task with task_id='t1' in 30-60 s; do not call {MOTION}"),
    ],
)
def test_each_status_has_one_kind_and_the_server_words_the_tool_ones(
    status: str, task_id: str | None, kind: str, server_words: str
) -> None:
    assert results.next_step_kind(status, task_id) == kind
    service = results.next_step_for(status, task_id, "kmcp-1")
    assert "kling_" not in service  # the service names no tool
    assert server_words in next_step_for(status, task_id, "kmcp-1", creator=MOTION)


def test_a_call_error_carries_its_step_and_is_worded_again_whole() -> None:
    error = TaskCallError(
        "Kling refused the request",
        external_task_id="kmcp-1",
        status="create_failed",
        next_step=results.next_step_for("create_failed", None, "kmcp-1"),
        journal_warning="The journal could not record it.",
    )
    assert error.step == "fix_then_create"
    step = next_step_for(error.status, error.task_id, error.external_task_id, creator=MOTION)
    assert error.worded(step) == (
        "Kling refused the request. This call's task: external_task_id='kmcp-1'. The journal could not record it. "
        + step
    )
