"""Kling's custom elements (consistent characters or objects across videos): create, look up, list and delete.

Creating one is a task at Kling, so it gets a video task's care: the intent is journaled before the create request
(a journal that cannot be written refuses the call, nothing sent), the create is idempotent (`KlingClient.create_task`
looks the task up by `external_task_id` before sending again), and every outcome is journaled with the ids the
caller gets back on every path. Elements belong to their creator: every view filters by owner (`Viewer`), another
owner's element answers like an unknown one, and an admin sees all. A creation the journal knows only by its intent
(the process died mid-create, or the create's outcome was unknown) is settled by the video tasks' `IntentResolver`:
on a look-up, and for at most `LIST_RESOLVE_LIMIT` stale rows of a list.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Literal

import anyio
import anyio.to_thread
from pydantic import BaseModel, Field

from kling_mcp.api.client import KlingClient
from kling_mcp.api.errors import (
    CreateOutcomeUnknownError,
    CreateRefusedError,
    KlingError,
    KlingNotFoundError,
    describe_cause,
)
from kling_mcp.api.models import (
    ElementCreateBody,
    ElementEndpoint,
    ElementImages,
    ElementTag,
    ReferImage,
    Task,
)
from kling_mcp.service.create.recorder import JournalRecorder
from kling_mcp.service.describe.owners import Viewer, local_owner, operator
from kling_mcp.service.failures import InvalidInputError, JournalUnavailableError, TaskCallError
from kling_mcp.service.journal import CREATE_FAILED, NEVER_CREATED, UNKNOWN, TaskJournal, describe_journal_error
from kling_mcp.service.journal.element_rows import ElementEntry
from kling_mcp.service.options import ServiceOptions
from kling_mcp.service.prepare.bodies import GenerateRequest, new_external_task_id
from kling_mcp.service.prepare.element_request import ElementRequest
from kling_mcp.service.prepare.images import prepare_image
from kling_mcp.service.prepare.motion_request import MotionRequest

if TYPE_CHECKING:  # intents.py imports this module (ELEMENTS, recording); the resolver is handed in
    from kling_mcp.service.create.intents import IntentResolver, Resolution

logger = logging.getLogger(__name__)

# How many stale intent-only rows one list settles at Kling (one free GET each, by external_task_id); the rest keep
# the journal's word ("not yet known") until a later list, a look-up or the next start settles them.
LIST_RESOLVE_LIMIT = 3
ELEMENTS: ElementEndpoint = "advanced-custom-elements"
DELETED = "deleted"
ElementStatus = Literal[
    "submitted", "processing", "succeed", "failed", "creating", "create_failed", "unknown", "never_created", "deleted"
]
# Nothing more will happen to a creation in one of these (besides its deletion).
FINISHED = ("succeed", "failed", CREATE_FAILED, NEVER_CREATED, DELETED)


class ElementResult(BaseModel):
    """A custom element, or its creation while under way, as the element tools report it."""

    element_id: str | None = Field(
        None, description="The element's id, once made: pass it in element_list of the generate tools."
    )
    element_name: str | None = Field(None, description="Its name.")
    status: ElementStatus | str = Field(
        description="The creation's status: submitted → processing → succeed | failed; kling-mcp's creating, "
        "unknown, create_failed, never_created (Kling never received the create: nothing made, safe to create "
        "again); deleted once deleted."
    )
    status_message: str | None = Field(None, description="Kling's message (the reason when failed).")
    task_id: str | None = Field(None, description="Kling's id of the creation task; also accepted to look it up.")
    external_task_id: str | None = Field(None, description="kling-mcp's own id for the creation, also accepted.")
    done: bool = Field(description="True once nothing more will happen to the creation.")
    next_step: str = Field(description="What to do now.")


class ElementOutput(BaseModel):
    """The structured result of the element tools that answer with one element."""

    result: ElementResult


class ElementListOutput(BaseModel):
    """The structured result of the element list tool."""

    elements: list[ElementResult] = Field(description="The caller's elements, newest first.")


class ElementNotFoundError(KlingError):
    """No element of this caller has this id (an unknown one and another owner's answer the same)."""

    def __init__(self, any_id: str) -> None:
        super().__init__(
            f"No element with id {any_id!r} among yours (element_id, task_id or external_task_id). "
            "List your elements to see their ids."
        )


def _step(status: str, entry: ElementEntry) -> str:
    ref = entry.element_id or entry.task_id or entry.external_task_id
    if status == "succeed":
        return f"Use element_id {entry.element_id!r} in element_list of a generate call (kling-v3)."
    if status == DELETED:
        return "The element was deleted; it can no longer be used."
    if status == NEVER_CREATED:
        return "Kling never received this creation, so no element was made: creating it again is safe."
    if status in ("failed", CREATE_FAILED):
        return "No element was made: fix the problem stated with it, then creating it again is safe."
    if entry.task_id is None:
        return (
            f"It is not yet known whether Kling received this creation: look it up again with {ref!r} in a minute; "
            "do not create it again, which could make a second element."
        )
    return f"The element is not made yet: look it up again with {ref!r} in a few seconds; do not create it again."


def result_of(entry: ElementEntry) -> ElementResult:
    """An element as the journal knows it."""
    status = DELETED if entry.deleted_at is not None else entry.status
    return ElementResult(
        element_id=entry.element_id,
        element_name=entry.element_name,
        status=status,
        status_message=entry.status_message,
        task_id=entry.task_id,
        external_task_id=entry.external_task_id,
        done=status in FINISHED,
        next_step=_step(status, entry),
    )


def recording(journal: TaskJournal, external_task_id: str, task: Task) -> Callable[[], None]:
    """The journal write of what Kling said of an element's creation: its task, status, message, the element made."""
    element_id = task.elements[0].element_id if task.elements else None
    message = task.task_status_msg or None
    return partial(
        journal.record_element,
        external_task_id,
        task.status,
        task_id=task.task_id,
        element_id=element_id,
        message=message,
    )


def _unusable(any_id: str, entry: ElementEntry) -> str | None:
    """Why the element the journal knows by this id cannot be sent in element_list, or None."""
    if entry.deleted_at is not None:
        return (
            f"element {any_id!r} was deleted, so Kling can no longer use it; drop it from element_list, or create "
            "it again"
        )
    if entry.element_id == any_id:
        return None
    if entry.element_id is not None:  # the creation's task id or external id, not the element's
        return f"{any_id!r} names the creation of element {entry.element_id!r}; pass its element_id instead"
    if entry.status in FINISHED:
        return (
            f"{any_id!r} is an element creation that made no element (status {entry.status}); drop it from "
            "element_list, or create the element again"
        )
    return (
        f"{any_id!r} is an element creation still under way (status {entry.status}); wait for it with "
        "an element look-up, then pass its element_id"
    )


class ElementService:
    """Custom elements at Kling, each creation journaled before and after its create request, owner-scoped."""

    def __init__(
        self,
        client: KlingClient,
        journal: TaskJournal,
        recorder: JournalRecorder,
        options: ServiceOptions,
        *,
        intents: IntentResolver,
        clock: Callable[[], float] = time.monotonic,
        kling_host: str | None = None,
    ) -> None:
        self._client = client
        self._journal = journal
        self._recorder = recorder
        self._intents = intents  # the one judge of intents without a task id, shared with the video tasks
        self._options = options
        self._clock = clock
        self._kling_host = kling_host

    async def _write(self, external_id: str, write: Callable[[], None]) -> str | None:
        """A journal write after the create request may have left: kept and retried by the shared recorder until
        it lands (the element is its owner's only through the journal); a warning for the caller meanwhile."""
        return await self._recorder.write(external_id, write)

    async def create(self, request: ElementRequest, *, owner: str | None = None) -> ElementResult:
        """Make an element from images, once, and wait for it within min(timeout, the server's cap)."""
        started = self._clock()
        policy = self._options.image_policy
        frontal = prepare_image("frontal_image", request.frontal_image, policy, is_start=False)
        refer = [
            prepare_image(f"refer_images[{n}]", image, policy, is_start=False)
            for n, image in enumerate(request.refer_images, start=1)
        ]
        external_id = new_external_task_id()
        body = ElementCreateBody(
            element_name=request.element_name,
            element_description=request.element_description,
            element_image_list=ElementImages(
                frontal_image=frontal.value, refer_images=[ReferImage(image_url=image.value) for image in refer]
            ),
            tag_list=[ElementTag(tag_id=tag) for tag in request.tag_list] if request.tag_list else None,
            external_task_id=external_id,
        )
        entry = ElementEntry(
            external_id, request.element_name, owner=owner or local_owner(), kling_host=self._kling_host
        )
        try:
            await anyio.to_thread.run_sync(self._journal.record_element_intent, entry)
        except Exception as exc:  # nothing sent: an element the journal cannot record could be lost to its owner
            raise JournalUnavailableError(self._journal.where, describe_journal_error(exc), writing=True) from exc
        budget = max(0.0, min(request.effective_timeout, self._options.max_wait_seconds))
        with anyio.CancelScope(shield=True):  # a cancelled call must still record the id of what it made
            task = await self._create(body, external_id, started + max(budget, 30.0))
        try:
            task = await self._wait(task, started + budget)
        except Exception as exc:  # the element task exists: whatever broke, hand back its ids
            entry.task_id, entry.status = task.task_id, task.status
            raise TaskCallError(
                f"Kling is making the element, but the call could not follow it ({describe_cause(exc)})",
                external_task_id=external_id,
                task_id=task.task_id,
                status=task.status,
                next_step=_step(task.status, entry),
            ) from exc
        return await self._record(entry, task)

    async def _create(self, body: ElementCreateBody, external_id: str, deadline: float) -> Task:
        try:
            task = await self._client.create_task(ELEMENTS, body, deadline=deadline)
        except (CreateRefusedError, CreateOutcomeUnknownError) as exc:
            status = CREATE_FAILED if isinstance(exc, CreateRefusedError) else UNKNOWN
            record = partial(self._journal.record_element, external_id, status, message=str(exc))
            warning = await self._write(external_id, record)
            entry = ElementEntry(external_id, "", status=status)
            raise TaskCallError(
                str(exc),
                external_task_id=external_id,
                status=status,
                next_step=_step(status, entry),
                journal_warning=warning,
            ) from exc
        # A failed write is kept and retried; the caller hears of it with the element's final write (`_record`).
        record = partial(self._journal.record_element, external_id, task.status, task_id=task.task_id)
        await self._write(external_id, record)
        logger.info("created Kling element task %s", task.task_id)
        return task

    async def _wait(self, task: Task, deadline: float) -> Task:
        interval = self._options.schedule.min_interval
        while not task.is_terminal and self._clock() + interval < deadline:
            await anyio.sleep(interval)
            task = await self._client.get_task(ELEMENTS, task.task_id, deadline=deadline)
        return task

    async def _record(self, entry: ElementEntry, task: Task) -> ElementResult:
        element_id = task.elements[0].element_id if task.elements else None
        entry.task_id, entry.status, entry.element_id = task.task_id, task.status, element_id or entry.element_id
        entry.status_message = task.task_status_msg or None
        warning = await self._write(entry.external_task_id, recording(self._journal, entry.external_task_id, task))
        result = result_of(entry)
        if warning:
            result.status_message = " ".join(filter(None, [result.status_message, warning]))
        return result

    async def _visible(self, any_id: str, viewer: Viewer) -> ElementEntry:
        try:
            entry = await anyio.to_thread.run_sync(self._journal.element, any_id)
        except Exception as exc:
            raise JournalUnavailableError(self._journal.where, describe_journal_error(exc), writing=False) from exc
        if entry is None or not viewer.may_see(entry):
            raise ElementNotFoundError(any_id)
        return entry

    async def check_usable(self, request: GenerateRequest, viewer: Viewer) -> None:
        """Refuse, before anything is sent, an element_list id the journal records as another owner's (answered as
        an unknown id is), as deleted, or as a creation that made no element. Ids the journal does not know go to
        Kling: elements made elsewhere (Kling's console, another tool) are Kling's to judge. One journal query."""
        items = None if isinstance(request, MotionRequest) else request.element_list
        if not items:
            return
        ids = [str(item.element_id) for item in items]
        try:
            entries = await anyio.to_thread.run_sync(self._journal.elements_named, list(dict.fromkeys(ids)))
        except Exception as exc:
            raise JournalUnavailableError(self._journal.where, describe_journal_error(exc), writing=False) from exc
        for n, any_id in enumerate(ids, start=1):
            known = [e for e in entries if any_id in (e.element_id, e.task_id, e.external_task_id)]
            if not known:
                continue
            if not all(viewer.may_see(entry) for entry in known):
                raise ElementNotFoundError(any_id)
            if problem := _unusable(any_id, known[0]):
                raise InvalidInputError(f"element_list[{n}]", f"{problem} (element_list counts from 1)")

    async def get(self, any_id: str, *, viewer: Viewer | None = None) -> ElementResult:
        """An element by element_id, or its creation by task_id or external_task_id, refreshed from Kling."""
        viewer = viewer or operator()
        entry = await self._visible(any_id, viewer)
        if entry.deleted_at is not None:
            return result_of(entry)
        if entry.task_id is None:  # only the intent is journaled: found at Kling, or retired after the grace
            if not self._intents.judges(entry):
                return result_of(entry)  # made against another Kling API: this one cannot say
            return await self._answer(entry, await self._resolve(entry))
        try:
            task = await self._client.get_task(ELEMENTS, entry.task_id, deadline=self._clock() + 30.0)
        except KlingNotFoundError:
            return result_of(entry)  # not (yet) at Kling: the journal's word, with its next step
        return await self._record(entry, task)

    async def _resolve(self, entry: ElementEntry) -> Resolution[ElementEntry]:
        """The intent settled by the resolver, without waiting: adopted, retired (grace over) or left open."""
        return await self._intents.resolve(entry, ELEMENTS, deadline=self._clock())

    async def _answer(self, entry: ElementEntry, resolution: Resolution[ElementEntry]) -> ElementResult:
        if resolution.task is not None:  # Kling made it: its task id, status and element id are journaled now
            return await self._record(entry, resolution.task)
        result = result_of(resolution.entry)
        if result.done:
            return result
        if resolution.error is not None:
            why = (
                f"Kling could not be asked whether it received this creation ({describe_cause(resolution.error)}): "
                "the outcome is unknown, and the element may exist."
            )
        else:
            why = resolution.note or "Kling does not know this creation yet."
        result.status_message = " ".join(filter(None, [result.status_message, why]))
        return result

    async def list(self, *, limit: int = 50, viewer: Viewer | None = None) -> list[ElementResult]:
        """The viewer's elements from the journal (an admin's: everyone's), newest first.

        Kling is asked only about stale creations known by their intent alone, at most `LIST_RESOLVE_LIMIT` per
        list and none more once Kling could not be asked; the others show the journal's word.
        """
        owner = (viewer or operator()).owner_filter
        try:
            entries = await anyio.to_thread.run_sync(
                lambda: self._journal.elements(limit=limit, owner=owner, kling_host=self._kling_host)
            )
        except Exception as exc:
            raise JournalUnavailableError(self._journal.where, describe_journal_error(exc), writing=False) from exc
        results: list[ElementResult] = []
        asks = LIST_RESOLVE_LIMIT
        for entry in entries:
            if asks > 0 and self._intents.is_due(entry):
                resolution = await self._resolve(entry)
                asks = 0 if resolution.error is not None else asks - 1
                results.append(await self._answer(entry, resolution))
            else:
                results.append(result_of(entry))
        return results

    async def delete(self, element_id: str, *, viewer: Viewer | None = None) -> ElementResult:
        """Delete one of the viewer's elements at Kling and note it in the journal."""
        viewer = viewer or operator()
        entry = await self._visible(element_id, viewer)
        if entry.element_id is None:
            raise ElementNotFoundError(element_id)  # a creation that made no element (yet): nothing to delete
        if entry.deleted_at is None:
            with contextlib.suppress(KlingNotFoundError):  # already gone at Kling: the journal learns it now
                await self._client.delete_element(entry.element_id, deadline=self._clock() + 30.0)
            await anyio.to_thread.run_sync(self._journal.mark_element_deleted, entry.element_id)
            entry.deleted_at = time.time()
        return result_of(entry)
