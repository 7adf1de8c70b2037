"""The knobs of the video use case, kept apart so the MCP edge can build them without importing the HTTP stack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kling_mcp.service.prepare.images import ImagePolicy
from kling_mcp.service.wait.schedule import PollSchedule

if TYPE_CHECKING:  # loads with the first call (it brings the argument types): the start must not (rule 4)
    from kling_mcp.service.prepare.reference_video import LentFiles


@dataclass(frozen=True)
class ServiceOptions:
    """The knobs of the use case, taken from Settings in the entry point."""

    max_wait_seconds: float = 50.0
    schedule: PollSchedule = field(default_factory=PollSchedule)
    image_policy: ImagePolicy = field(default_factory=ImagePolicy)
    skip_capability_check: bool = False
    coalesce_window: float = 1.0
    # Requests carrying inline images (megabytes each) held at once: from their preparation to their create sent.
    max_concurrent_uploads: int = 4
    stale_intent_seconds: float = 600.0  # see Settings.stale_intent_seconds
    http_timeout_seconds: float = 30.0  # see Settings.http_timeout_seconds
    # With Kling's callbacks served: the callback_url a create sends for its external_task_id (callbacks/addresses.py).
    callback_url_for: Callable[[str], str] | None = None
    # With a public URL: the local reference videos lent to Kling (reference_video.py); None: a local one is refused.
    lent_files: LentFiles | None = None
    relay_to_private: bool = False  # then: relay to a caller's callback_url on a private address too
    spend_limit: float | None = None  # units per owner per 24 h (Settings.spend_limit); overrides: journal

    @property
    def send_window_seconds(self) -> float:
        """How long after its intent is written a create may still be sent (first send or a resend from Kling's
        1303 line): two HTTP timeouts below the stale threshold, so the last request ends, and Kling's lookup has a
        timeout's time to see it, before any sweep or look-up may judge the intent stale ("never created")."""
        return self.stale_intent_seconds - 2 * self.http_timeout_seconds
