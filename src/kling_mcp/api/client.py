"""A typed async client for Kling's video endpoints, over one shared httpx client."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_base, retry_if_exception

from kling_mcp.api.account import COSTS_PATH, ResourcePack, parse_packs
from kling_mcp.api.errors import (
    CreateOutcomeUnknownError,
    CreateRefusedError,
    KlingAPIError,
    KlingConnectionError,
    KlingNotFoundError,
    KlingProtocolError,
    KlingTimeoutError,
    KlingTokenTimeError,
    api_error,
    nothing_created,
)
from kling_mcp.api.models import CreateBody, ElementCreateBody, Envelope, Task, TaskEndpoint, parse_task
from kling_mcp.api.retry import (
    DEFAULT_RETRY_POLICY,
    RetryPolicy,
    is_refused,
    is_transient,
    log_retry,
    make_stop,
    make_wait,
)
from kling_mcp.api.signing import JwtSigner

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

# A request is never given less than this, even right at the caller's deadline: one last real check.
MIN_REQUEST_TIMEOUT = 2.0


# Endpoints outside /v1/videos/ (docs/kling-api.md); every other endpoint's path is `/v1/videos/{endpoint}`.
PATHS: dict[str, str] = {"advanced-custom-elements": "/v1/general/advanced-custom-elements"}
DELETE_ELEMENTS_PATH = "/v1/general/delete-elements"  # uncertain: one client calls it delete-advanced-elements


def task_path(endpoint: TaskEndpoint, task_id: str | None = None) -> str:
    """The REST path of an endpoint's collection or of one task in it."""
    base = PATHS.get(endpoint, f"/v1/videos/{endpoint}")
    return f"{base}/{task_id}" if task_id else base


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def parse_envelope(response: httpx.Response) -> Envelope:
    """The envelope of a successful answer, or the typed error the answer stands for."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    retry_after = _retry_after(response)
    if isinstance(payload, dict) and "code" in payload:
        try:
            envelope = Envelope.model_validate(payload)
        except ValidationError:
            envelope = None
        if envelope is None:
            if response.is_success:
                raise KlingProtocolError(f"Kling answered HTTP {response.status_code} with an unreadable envelope")
            raise api_error(None, response.reason_phrase, http_status=response.status_code, retry_after=retry_after)
        if envelope.code == 0 and response.is_success:
            return envelope
        raise api_error(
            envelope.code,
            envelope.message,
            request_id=envelope.request_id,
            http_status=response.status_code,
            retry_after=retry_after,
        )
    if response.is_success:
        raise KlingProtocolError(f"Kling answered HTTP {response.status_code} without its JSON envelope")
    raise api_error(None, response.reason_phrase, http_status=response.status_code, retry_after=retry_after)


class KlingClient:
    """Create and query Kling video tasks; retries transient failures and never creates a task twice."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        signer: JwtSigner,
        *,
        policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        sleep: Sleep = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._signer = signer
        self._policy = policy
        self._sleep = sleep
        self._clock = clock

    def _timeout(self, deadline: float | None) -> httpx.Timeout:
        """The client's own timeout, shortened so no request runs past the caller's deadline."""
        default = self._http.timeout
        if deadline is None:
            return default
        remaining = max(MIN_REQUEST_TIMEOUT, deadline - self._clock())
        return httpx.Timeout(
            connect=min(default.connect or remaining, remaining),
            read=min(default.read or remaining, remaining),
            write=min(default.write or remaining, remaining),
            pool=min(default.pool or remaining, remaining),
        )

    async def _send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        deadline: float | None = None,
    ) -> Envelope:
        """One request (re-signed once after 1003/1004), mapped onto the error hierarchy."""
        for attempt in range(2):
            token = self._signer.token()
            headers = {"Authorization": f"Bearer {token}"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            request = self._http.build_request(
                method, path, content=content, params=params, headers=headers, timeout=self._timeout(deadline)
            )
            try:
                response = await self._http.send(request)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                refused = _refusal(exc)
                raise KlingConnectionError(
                    f"cannot reach Kling: {type(exc).__name__}{f', {refused}' if refused else ''}",
                    sent=False,
                    refused=refused is not None,
                ) from exc
            except httpx.TimeoutException as exc:
                raise KlingTimeoutError(f"Kling did not answer in time: {type(exc).__name__}", sent=True) from exc
            except httpx.TransportError as exc:
                raise KlingConnectionError(f"connection to Kling broke: {type(exc).__name__}", sent=True) from exc
            try:
                return parse_envelope(response)
            except KlingTokenTimeError:
                if attempt:
                    raise
                logger.debug("Kling refused the token's time window; signing a new token")
                self._signer.invalidate(refused=token)
        raise AssertionError("unreachable")

    def _retrying(self, deadline: float | None, also: Callable[[BaseException], bool] | None = None) -> AsyncRetrying:
        retry: retry_base = retry_if_exception(is_transient)
        if also is not None:
            retry = retry | retry_if_exception(also)
        return AsyncRetrying(
            retry=retry,
            wait=make_wait(self._policy),
            stop=make_stop(self._policy, deadline, self._clock),
            sleep=self._sleep,
            before_sleep=log_retry,
            reraise=True,
        )

    async def _call(
        self,
        path: str,
        read: Callable[[Envelope], T],
        *,
        deadline: float | None,
        params: dict[str, Any] | None = None,
    ) -> T:
        """A GET whose answer `read` turns into a value, retried while transient (also unreadable) and in time."""
        async for attempt in self._retrying(deadline):
            with attempt:
                return read(await self._send("GET", path, params=params, deadline=deadline))
        raise AssertionError("unreachable")

    async def create_task(
        self, endpoint: TaskEndpoint, body: CreateBody | ElementCreateBody, *, deadline: float | None = None
    ) -> Task:
        """Create a task; every outcome is one of three: the task, `CreateRefusedError`, `CreateOutcomeUnknownError`.

        Refused means provably nothing was made (see `nothing_created`). After any other failure the task may
        exist, so each later attempt first looks it up by external_task_id and adopts it; only a lookup that finds
        nothing lets the same body (same external_task_id, which Kling keeps unique) be sent again.
        """
        external_id = body.external_task_id
        if not external_id:
            raise ValueError("create_task needs an external_task_id to stay idempotent")
        # Serialized once, straight to bytes: a body with an inline image is megabytes, and retries reuse it.
        payload = body.__pydantic_serializer__.to_json(body, exclude_none=True)
        maybe_created = False

        # A refused connection before any attempt of unknown outcome fails at once: provably nothing was created.
        # After one, it is retried as before: the lookup that settles whether a task exists must get its chances.
        def settling(exc: BaseException) -> bool:
            return maybe_created and is_refused(exc)

        try:
            async for attempt in self._retrying(deadline, also=settling):
                with attempt:
                    if maybe_created:
                        found = await self.find_task(endpoint, external_id, deadline=deadline)
                        if found is not None:
                            logger.info("adopted task %s created by an earlier attempt", found.task_id)
                            return found
                    try:
                        envelope = await self._send("POST", task_path(endpoint), content=payload, deadline=deadline)
                        return parse_task(envelope.data)
                    except Exception as exc:
                        maybe_created = maybe_created or not nothing_created(exc)
                        raise
        except Exception as exc:
            # Total on purpose: whatever went wrong, the caller learns one of exactly two failure outcomes.
            if not maybe_created and isinstance(exc, KlingAPIError | KlingConnectionError) and nothing_created(exc):
                raise CreateRefusedError(external_id, exc) from exc
            raise CreateOutcomeUnknownError(external_id, exc) from exc
        raise AssertionError("unreachable")

    async def find_task(
        self, endpoint: TaskEndpoint, external_task_id: str, *, deadline: float | None = None
    ) -> Task | None:
        """The task created with this external_task_id, or None if Kling has none (one request, no retry)."""
        try:
            envelope = await self._send("GET", task_path(endpoint, external_task_id), deadline=deadline)
        except KlingNotFoundError:
            return None
        return parse_task(envelope.data)

    async def get_task(self, endpoint: TaskEndpoint, task_id: str, *, deadline: float | None = None) -> Task:
        """Query one task by Kling's task id (Kling also accepts the external_task_id here)."""
        return await self._call(task_path(endpoint, task_id), _task_of, deadline=deadline)

    async def list_tasks(
        self, endpoint: TaskEndpoint, *, page: int = 1, page_size: int = 30, deadline: float | None = None
    ) -> list[Task]:
        """One page of the account's tasks, newest first (page_size ≤ 500); entries without a task id are skipped."""
        return await self._call(
            task_path(endpoint), _tasks_of, params={"pageNum": page, "pageSize": page_size}, deadline=deadline
        )

    async def delete_element(self, element_id: str, *, deadline: float | None = None) -> None:
        """Delete one custom element (Kling answers 1203, `KlingNotFoundError`, for one it does not have)."""
        payload = json.dumps({"element_id": element_id}).encode()
        async for attempt in self._retrying(deadline):
            with attempt:
                await self._send("POST", DELETE_ELEMENTS_PATH, content=payload, deadline=deadline)
                return
        raise AssertionError("unreachable")

    async def account_packs(self, *, start_ms: int, end_ms: int, deadline: float | None = None) -> list[ResourcePack]:
        """The account's resource packs purchased between `start_ms` and `end_ms` (`GET /account/costs`, free).

        Not retried: Kling allows one query a second, and the caller (`service/limits/credits.py`) paces them."""
        params = {"start_time": start_ms, "end_time": end_ms}
        return parse_packs((await self._send("GET", COSTS_PATH, params=params, deadline=deadline)).data)


def _refusal(exc: httpx.TransportError) -> str | None:
    """Why a failed connect will fail again at once (refused, or no such host name); None if it was merely slow."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror) and cause.errno == socket.EAI_NONAME:
            return "no such host name"
        cause = cause.__cause__ or cause.__context__
    return None


def _task_of(envelope: Envelope) -> Task:
    return parse_task(envelope.data)


def _tasks_of(envelope: Envelope) -> list[Task]:
    tasks = []
    for item in envelope.data if isinstance(envelope.data, list) else []:
        try:
            tasks.append(parse_task(item))
        except KlingProtocolError as exc:
            logger.debug("skipped an unreadable entry of Kling's task list: %s", exc)
    return tasks
