"""The task journal: remembers every paid task, from intent to finished video.

The intent is written *before* the create request, the task id right after it, so a crash, a restart or a client
that stopped listening can never lose a task. `base.TaskJournal` is the interface; `sqlite` and the SQL shared by
every backend (`sql`, `schema`) implement it; `open_journal` picks the backend from the `KLING_MCP_JOURNAL` setting.
"""

from kling_mcp.service.journal.base import JournalConnectionError, TaskJournal
from kling_mcp.service.journal.entry import CREATE_FAILED, CREATING, NEVER_CREATED, UNKNOWN, JournalEntry
from kling_mcp.service.journal.factory import open_journal
from kling_mcp.service.journal.handle import TaskHandle
from kling_mcp.service.journal.problems import JournalError, JournalProblem, describe_journal_error

__all__ = [
    "CREATE_FAILED",
    "CREATING",
    "NEVER_CREATED",
    "UNKNOWN",
    "JournalConnectionError",
    "JournalEntry",
    "JournalError",
    "JournalProblem",
    "TaskHandle",
    "TaskJournal",
    "describe_journal_error",
    "open_journal",
]
