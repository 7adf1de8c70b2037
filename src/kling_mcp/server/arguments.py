"""The arguments of the task tools (get, list, the player's follow); the generate tools take the service's models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kling_mcp.service.describe.task_results import ResultStatus
from kling_mcp.service.prepare.fields import not_a_boolean

# One call of the player's follow tool waits at most this long (and never longer than the server's wait cap), so the
# view shows fresh elapsed time and a host's request timeout is never reached.
WATCH_WAIT_SECONDS = 25.0


class GetTaskArguments(BaseModel):
    """Arguments of kling_get_video_task."""

    model_config = ConfigDict(extra="forbid")

    task_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="task_id or external_task_id."
    )
    wait_seconds: Annotated[float, not_a_boolean("a number of seconds")] = Field(
        0, ge=0, le=3600, description="Seconds to wait (server cap)."
    )
    download: bool | None = Field(
        None,
        description="Save the MP4 on the server (default: if KLING_MCP_DOWNLOAD_DIR is set).",
    )


class ListTasksArguments(BaseModel):
    """Arguments of kling_list_video_tasks."""

    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, not_a_boolean("a whole number")] = Field(20, ge=1, le=200, description="How many.")
    status: ResultStatus | None = Field(None, description="Only this status.")


class ModelsArguments(BaseModel):
    """Arguments of kling_list_models."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] | None = Field(
        None, description="Only this model."
    )


class CreditsArguments(BaseModel):
    """Arguments of kling_get_credits: none."""

    model_config = ConfigDict(extra="forbid")


class WatchArguments(BaseModel):
    """Arguments of the player's app-only follow tool (kling_watch_video_task)."""

    model_config = ConfigDict(extra="forbid")

    task_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="task_id or external_task_id."
    )
    wait_seconds: Annotated[float, not_a_boolean("a number of seconds")] = Field(
        0, ge=0, le=WATCH_WAIT_SECONDS, description="Wait up to this long."
    )


ElementId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class GetElementArguments(BaseModel):
    """Arguments of kling_get_element."""

    model_config = ConfigDict(extra="forbid")

    element_id: ElementId = Field(
        description="The element's element_id, or the task_id / external_task_id its creation returned."
    )


class ListElementsArguments(BaseModel):
    """Arguments of kling_list_elements."""

    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, not_a_boolean("a whole number")] = Field(
        50, ge=1, le=200, description="How many elements to list."
    )


class DeleteElementArguments(BaseModel):
    """Arguments of kling_delete_element."""

    model_config = ConfigDict(extra="forbid")

    element_id: ElementId = Field(description="The element_id of one of your elements.")
