"""One error hierarchy for everything that can go wrong talking to Kling, with Kling's code and request id."""

from __future__ import annotations

from dataclasses import dataclass


class KlingError(Exception):
    """Base of every error kling-mcp raises about Kling."""


@dataclass(frozen=True)
class CodeInfo:
    """What a Kling error code means and what the user should do about it."""

    kind: str
    hint: str
    retryable: bool = False
    # Whether Kling answering a create with this code means no task exists. Only a 5xx-family code leaves it open.
    nothing_created: bool = True


# Kling's documented error codes (docs/kling-api.md). One row per code: the only place to change when Kling does.
ERROR_CODES: dict[int, CodeInfo] = {
    1000: CodeInfo("auth", "authentication failed: check KLING_ACCESS_KEY and KLING_SECRET_KEY"),
    1001: CodeInfo("auth", "the Authorization header is empty: check KLING_ACCESS_KEY and KLING_SECRET_KEY"),
    1002: CodeInfo("auth", "the Authorization token is invalid: check KLING_ACCESS_KEY and KLING_SECRET_KEY"),
    1003: CodeInfo("token_time", "the token is not yet valid: check the server's clock"),
    1004: CodeInfo("token_time", "the token has expired: check the server's clock"),
    1100: CodeInfo("account", "the Kling account has an exception: contact Kling support"),
    1101: CodeInfo("account", "the Kling account is in arrears: top up the account"),
    1102: CodeInfo(
        "account",
        "the account's resource packs are used up or expired: top up (buy or renew a resource pack at Kling); "
        "nothing was created or billed",
    ),
    1103: CodeInfo("permission", "this account has no access to this resource or model: pick another model"),
    1200: CodeInfo("invalid_request", "Kling rejected the request as invalid"),
    1201: CodeInfo("invalid_request", "Kling rejected a parameter"),
    1202: CodeInfo("not_found", "invalid method"),
    1203: CodeInfo("not_found", "the requested resource (task) does not exist"),
    1300: CodeInfo("policy", "the request breaks Kling's platform policy"),
    1301: CodeInfo("policy", "the content was flagged by Kling's content safety check: change the prompt or image"),
    1302: CodeInfo("rate_limit", "the request rate limit was hit", retryable=True),
    1303: CodeInfo("rate_limit", "the resource pack's concurrency or QPS limit was hit", retryable=True),
    1304: CodeInfo("account", "this IP address is not on the account's IP whitelist"),
    5000: CodeInfo("server", "Kling had an internal error", retryable=True, nothing_created=False),
    5001: CodeInfo("server", "Kling is temporarily unavailable (maintenance)", retryable=True, nothing_created=False),
    5002: CodeInfo("server", "Kling timed out internally", retryable=True, nothing_created=False),
}


class KlingAPIError(KlingError):
    """Kling answered with a non-zero `code` (or an HTTP error without an envelope)."""

    def __init__(
        self,
        code: int | None,
        message: str,
        *,
        request_id: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.code = code
        self.kling_message = message
        self.request_id = request_id
        self.http_status = http_status
        self.retry_after = retry_after
        self.info = ERROR_CODES.get(code) if code is not None else None
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"Kling error {self.code}" if self.code is not None else f"Kling HTTP {self.http_status}"]
        if self.info is not None:
            parts.append(f": {self.info.hint}")
        if self.kling_message and (self.info is None or self.kling_message.lower() not in self.info.hint.lower()):
            parts.append(f" (Kling says: {self.kling_message})")
        if self.request_id:
            parts.append(f" [request_id {self.request_id}]")
        return "".join(parts)

    @property
    def retryable(self) -> bool:
        """Whether the same request may be sent again after a pause."""
        if self.info is not None:
            return self.info.retryable
        return self.http_status is not None and (self.http_status >= 500 or self.http_status == 429)

    @property
    def kind(self) -> str:
        """The family of the error: auth, account, rate_limit, server, invalid_request, …"""
        if self.info is not None:
            return self.info.kind
        return "server" if (self.http_status or 0) >= 500 else "unknown"


class KlingAuthError(KlingAPIError):
    """The keys were refused (1000–1002)."""


class KlingTokenTimeError(KlingAPIError):
    """The token is not yet valid or has expired (1003/1004): re-sign and send again."""


class KlingRateLimitError(KlingAPIError):
    """Too many requests or too many running tasks (1302/1303)."""


class KlingServerError(KlingAPIError):
    """Kling's side failed (5000–5002 or a bare 5xx)."""


class KlingNotFoundError(KlingAPIError):
    """The task or resource does not exist (1202/1203 or HTTP 404)."""


class KlingConnectionError(KlingError):
    """No answer from Kling. `sent` says whether the request may have reached it (outcome unknown).

    `refused`: the connection itself was refused (nothing listens at that address, or the host name does not
    exist). Only the connect phase can say so, so such a request was never sent; and trying again in a few seconds
    finds the same wrong address.
    """

    def __init__(self, message: str, *, sent: bool, refused: bool = False) -> None:
        self.sent = sent
        self.refused = refused and not sent
        super().__init__(message)


class KlingTimeoutError(KlingConnectionError):
    """Kling did not answer within the HTTP timeout."""


class KlingProtocolError(KlingError):
    """Kling answered with something kling-mcp cannot read: no JSON envelope, an unreadable one, no task object."""


def api_error(
    code: int | None,
    message: str,
    *,
    request_id: str | None = None,
    http_status: int | None = None,
    retry_after: float | None = None,
) -> KlingAPIError:
    """The most specific `KlingAPIError` subclass for a Kling code / HTTP status."""
    kind = ERROR_CODES[code].kind if code in ERROR_CODES else None
    cls: type[KlingAPIError]
    if kind == "auth":
        cls = KlingAuthError
    elif kind == "token_time":
        cls = KlingTokenTimeError
    elif kind == "rate_limit" or (kind is None and http_status == 429):
        cls = KlingRateLimitError
    elif kind == "server" or (kind is None and (http_status or 0) >= 500):
        cls = KlingServerError
    elif kind == "not_found" or (kind is None and http_status == 404):
        cls = KlingNotFoundError
    else:
        cls = KlingAPIError
    return cls(code, message, request_id=request_id, http_status=http_status, retry_after=retry_after)


def nothing_created(exc: BaseException) -> bool:
    """True only when this failure of a create request proves that no task was made.

    Either the request never left this machine (no connection could be opened), or Kling answered with a documented
    error code that refuses the request. Everything else — a timeout, a broken connection, a 5xx, an unknown code,
    an answer that cannot be read, any other exception — leaves the outcome unknown.
    """
    if isinstance(exc, KlingConnectionError):
        return not exc.sent
    if isinstance(exc, KlingAPIError):
        return exc.info is not None and exc.info.nothing_created
    return False


class CreateRefusedError(KlingError):
    """A create request provably made no task: Kling refused it, or it never left this machine. Nothing was billed."""

    def __init__(self, external_task_id: str, cause: KlingAPIError | KlingConnectionError) -> None:
        self.external_task_id = external_task_id
        self.cause = cause
        if isinstance(cause, KlingAPIError):
            said = f"Kling refused to create the task: {cause}. Kling's error code means no task was created."
        else:
            said = (
                f"kling-mcp could not open a connection to Kling ({cause}), so the create request never left this "
                "machine and no task was created."
            )
        super().__init__(said)


class CreateOutcomeUnknownError(KlingError):
    """A create request may have made a task, and Kling could not be made to confirm either way."""

    def __init__(self, external_task_id: str, cause: BaseException) -> None:
        self.external_task_id = external_task_id
        self.cause = cause
        super().__init__(
            f"Could not confirm whether Kling created the task ({describe_cause(cause)}). The request may have "
            "reached Kling, so a task may exist and be billed."
        )


def describe_cause(cause: BaseException) -> str:
    """The cause in words; an exception that is not ours is named by type only (its text may quote anything)."""
    return str(cause) if isinstance(cause, KlingError) else f"unexpected {type(cause).__name__}"
