"""Errors of the use case, each turned into a clear tool error at the MCP edge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kling_mcp.api.errors import KlingAPIError, KlingError

if TYPE_CHECKING:
    from kling_mcp.api.combination import Judged, Problem
    from kling_mcp.api.models import Task
    from kling_mcp.service.describe.task_results import NextStep
    from kling_mcp.service.journal import JournalProblem


class InvalidInputError(ValueError):
    """The caller's arguments break a rule; raised before any request is sent. The message names field and rule."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.detail = message
        super().__init__(f"{field}: {message}")


class TaskFailedError(KlingError):
    """Kling ran the task and it failed; the message carries Kling's reason (task_status_msg)."""

    def __init__(self, task: Task, external_task_id: str | None = None) -> None:
        self.task = task
        reason = task.task_status_msg or "no reason given"
        external = task.external_task_id or external_task_id
        name = f"{task.task_id} (external_task_id {external})" if external else task.task_id
        super().__init__(
            f"Kling task {name} failed: {reason}. The task will not be retried automatically; change the "
            "input (prompt, image) before trying again."
        )


class TaskCallError(KlingError):
    """A generate call failed after its create request may have left: its ids and the next step travel with it.

    The external_task_id exists before the request, so even a failure that says nothing else still names the task
    the caller may have paid for, and a look-up by it resolves it. `status` is the task's status as far as the
    call knows (the server layer words `next_step` again with its tools' names).
    """

    def __init__(
        self,
        reason: str,
        *,
        external_task_id: str,
        task_id: str | None = None,
        status: str,
        next_step: str,
        journal_warning: str | None = None,
    ) -> None:
        self.external_task_id = external_task_id
        self.task_id = task_id
        self.status = status
        self.next_step = next_step
        self._reason = reason
        self._journal_warning = journal_warning
        super().__init__(self.worded(next_step))

    @property
    def step(self) -> NextStep:
        """The kind of next step (`status` and the ids say the rest): the server layer words it with its tools."""
        from kling_mcp.service.describe.task_results import next_step_kind  # not at start (ARCHITECTURE rule 4)

        return next_step_kind(self.status, self.task_id)

    def worded(self, next_step: str) -> str:
        """The error's text with this next step (the server's wording of `step`) in place of the service's."""
        ids = f"external_task_id={self.external_task_id!r}" + (f", task_id={self.task_id!r}" if self.task_id else "")
        parts = [self._reason.rstrip(". ") + ".", f"This call's task: {ids}.", self._journal_warning, next_step]
        return " ".join(part for part in parts if part)


class TaskNotFoundError(KlingError):
    """Neither Kling nor the journal knows the id."""

    def __init__(self, any_id: str, journal_note: str | None = None) -> None:
        where = "or in the task journal" if journal_note is None else "(the task journal was not consulted)"
        super().__init__(
            f"No task with id {any_id!r} at Kling (image2video, text2video or omni-video) {where}. "
            + (f"{journal_note} " if journal_note else "")
            + "Listing the recent tasks shows the ids this server knows."
        )


class OwnerUncheckedError(KlingError):
    """Kling has the task, but the journal that says whose it is cannot be read: its details wait for the journal.

    Denying the task would make its owner create (and pay for) it again; showing it could show another owner's video.
    """

    def __init__(self, any_id: str, journal_note: str) -> None:
        super().__init__(
            f"Kling has a task with id {any_id!r}: it exists and is not lost, so do not create it again. Its status "
            f"and video are shown only to its owner, and who owns it is recorded in the task journal. {journal_note} "
            "Ask again with the same id once the journal is back."
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


class JournalUnavailableError(Exception):
    """The task journal cannot be used; the message names where it is, what is wrong and what to do."""

    def __init__(self, where: str, problem: JournalProblem, *, writing: bool) -> None:
        self.where = where
        self.problem = problem
        if writing:
            consequence = (
                "so kling-mcp refused to create the task: nothing was sent to Kling and nothing was billed "
                "(a task it could not record could be lost)."
            )
        else:
            consequence = "so it cannot be listed. Kling still has every task: a look-up by its id works."
        super().__init__(
            f"The task journal at {where} cannot be {'written' if writing else 'read'} ({problem.text}), "
            f"{consequence} To fix: {problem.advice}."
        )


# Kling's codes for a request whose parameters it refuses (docs/kling-api.md): nothing was created or billed.
PARAMETER_REFUSALS = frozenset({1200, 1201})


def judged_refusal(refusal: KlingError, judged: Judged, model: str) -> str | None:
    """When Kling refused the parameters of a request that carried arguments the capability table left to it: the
    reason, saying so and naming the models documented to take them; else None."""
    if not isinstance(refusal, KlingAPIError) or refusal.code not in PARAMETER_REFUSALS:
        return None
    names = ", ".join(judged.arguments)
    return (
        f"{refusal}. {names} on {model} was sent for Kling to judge (kling-mcp does not know whether {model} takes "
        f"it), and Kling refused the request: no task was created or billed. Leave {names} unset, or use a model "
        f"documented to take it: {judged.documented}"
    )
