"""Why a journal cannot be used, said the same way by every backend: a kind, the backend's words, and advice.

A backend raises `JournalError` for any failure it can classify; the service turns it into a message that names the
journal, the cause and what to do. PostgreSQL can say the same things (read-only transaction or no permission, disk
full, data corrupted, lock timeout), so this is part of the journal interface, not of the SQLite backend.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Literal

ProblemKind = Literal["read-only", "full", "corrupt", "locked", "unavailable"]

_ADVICE: dict[ProblemKind, str] = {
    "read-only": "make the journal file and its folder writable for the server's user, or point KLING_MCP_JOURNAL "
    "at a writable location",
    "full": "free space on the disk that holds the journal, or point KLING_MCP_JOURNAL at a disk with room",
    "corrupt": "move the damaged file aside (kling-mcp starts a new journal; Kling keeps every task) or point "
    "KLING_MCP_JOURNAL at another location",
    "locked": "another process holds the journal's write lock; try again shortly, and if it lasts, find that "
    "process (for a file: `fuser <journal file>`) and end it",
    "unavailable": "check KLING_MCP_JOURNAL and the server's log",
}

_ERRNO_KINDS: dict[int, ProblemKind] = {
    errno.EROFS: "read-only",
    errno.EACCES: "read-only",
    errno.EPERM: "read-only",
    errno.ENOSPC: "full",
    errno.EDQUOT: "full",
}


@dataclass(frozen=True)
class JournalProblem:
    """Why the journal cannot be used."""

    kind: ProblemKind
    detail: str
    advice_for_backend: str | None = None  # replaces the file-minded default advice (a database says its own)

    @property
    def text(self) -> str:
        """`kind: detail`, e.g. `full: database or disk is full`."""
        return f"{self.kind}: {self.detail}"

    @property
    def advice(self) -> str:
        """What the operator should do about it."""
        return self.advice_for_backend or _ADVICE[self.kind]


class JournalError(Exception):
    """A journal operation failed for a reason the backend could classify."""

    def __init__(self, problem: JournalProblem) -> None:
        self.problem = problem
        super().__init__(problem.text)


def describe_journal_error(exc: BaseException) -> JournalProblem:
    """The problem behind any failure of a journal call (a backend's `JournalError`, an OS error, anything else)."""
    if isinstance(exc, JournalError):
        return exc.problem
    if isinstance(exc, OSError):  # also a backend's connection error (a ConnectionError), whose text is scrubbed
        detail = exc.strerror or str(exc) or type(exc).__name__
        return JournalProblem(_ERRNO_KINDS.get(exc.errno or 0, "unavailable"), detail)
    return JournalProblem("unavailable", type(exc).__name__)
