"""Whose tasks a caller may see: every journal entry has an owner, and a viewer sees their own (or, if admin, all).

The one rule every view of the journal applies (list, get, and any later view such as MCP tasks or an Apps view):
filter with `Viewer.owner_filter` in queries and check single entries with `Viewer.may_see`. An entry a viewer may
not see is answered exactly like an id nobody knows.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Protocol

LOCAL_PREFIX = "local:"


def local_owner() -> str:
    """The owner of tasks made without any authentication (stdio, or HTTP on loopback without tokens)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container): the uid still tells users apart
        user = str(os.getuid())
    return f"{LOCAL_PREFIX}{user}"


class Owned(Protocol):
    """Anything the journal keeps with its owner: a task entry, an element."""

    @property
    def owner(self) -> str | None: ...


@dataclass(frozen=True)
class Viewer:
    """Who is asking: the owner label new tasks get, and whether every owner's tasks are visible to them."""

    owner: str
    sees_all: bool = False

    @property
    def owner_filter(self) -> str | None:
        """The owner a query must be limited to, or None for no limit."""
        return None if self.sees_all else self.owner

    def may_see(self, entry: Owned | None) -> bool:
        """Whether this entry exists for this viewer (entries from before owners existed: admins only)."""
        return entry is not None and (self.sees_all or entry.owner == self.owner)


def operator() -> Viewer:
    """The person running the process themselves (stdio): owns new tasks as the local user and sees all of them."""
    return Viewer(owner=local_owner(), sees_all=True)
