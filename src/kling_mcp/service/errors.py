"""Errors of the use case, each turned into a clear tool error at the MCP edge."""

from __future__ import annotations

from collections.abc import Sequence

from kling_mcp.api.capabilities import Problem
from kling_mcp.api.errors import KlingError
from kling_mcp.api.models import Task


class InvalidInputError(ValueError):
    """The caller's arguments break a rule; raised before any request is sent. The message names field and rule."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.detail = message
        super().__init__(f"{field}: {message}")


class TaskFailedError(KlingError):
    """Kling ran the task and it failed; the message carries Kling's reason (task_status_msg)."""

    def __init__(self, task: Task) -> None:
        self.task = task
        reason = task.task_status_msg or "no reason given"
        super().__init__(
            f"Kling task {task.task_id} failed: {reason}. The task will not be retried automatically; change the "
            "input (prompt, image) before trying again."
        )


class TaskNotFoundError(KlingError):
    """Neither Kling nor the journal knows the id."""

    def __init__(self, any_id: str) -> None:
        super().__init__(
            f"No task with id {any_id!r} at Kling (image2video or omni-video) or in the task journal. "
            "Use kling_list_video_tasks to see recent tasks."
        )


class TaskOnAnotherKlingError(KlingError):
    """The journal says the task was created at another Kling API: a sandbox, or the other Kling site."""

    def __init__(self, any_id: str, created_at: str, here: str) -> None:
        super().__init__(
            f"Task {any_id!r} was created through the Kling API at {created_at}, not the one this server uses "
            f"({here}), so it cannot be looked up here. A sandbox's tasks end with that sandbox; a task of the other "
            "Kling site needs a server whose KLING_API_BASE_URL points there."
        )


class UnsupportedCombinationError(InvalidInputError):
    """Each argument is valid alone, but the model does not take them together (the capability table says so)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(self.problems[0].field, "; ".join(p.message for p in self.problems))

    def __str__(self) -> str:
        # Each message already starts with the argument it is about.
        return self.detail
