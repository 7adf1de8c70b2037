"""What a create will cost, before it is sent: learned from what Kling charged earlier tasks of the same profile.

Kling charges by model, mode, length and audio (`final_unit_deduction`, in its units). Tasks of one billing
profile cost the same, so one finished task of a profile tells what the next will cost: the estimate is the median
of the latest charges the journal holds for it (as the poll schedule learns durations, `service/wait/schedule.py`).
A profile whose length only Kling knows (motion control: the video is as long as the reference) is learned as a
rate instead, units per second of video made (the charge ÷ the finished video's length, both in the journal), and
priced at that rate × the seconds being priced (the longest reference allowed, unless the length is known): a plain
median of whole charges would let a short reference teach the price of a long one.
A profile never seen falls back to `PRIOR_UNITS_PER_5S`, our own reading of Kling's published price list, rounded
up where unsure (docs/spending.md): an estimate that errs should err high, since it is shown to someone deciding to pay.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from kling_mcp.api.capabilities import IMAGE_ENDPOINTS, MOTION_ENDPOINTS, TEXT_ENDPOINTS, row_for
from kling_mcp.service.prepare.motion_request import MotionRequest
from kling_mcp.service.prepare.reference_video import billed_seconds
from kling_mcp.service.prepare.text_request import TextVideoRequest

if TYPE_CHECKING:
    from kling_mcp.service.journal.base import TaskJournal
    from kling_mcp.service.prepare.image_request import VideoRequest

# Units for 5 s of video by (model, mode), charged pro rata to the length. Ours, not Kling's: see docs/spending.md.
PRIOR_UNITS_PER_5S: dict[tuple[str, str], float] = {
    ("kling-v1", "std"): 1.0,
    ("kling-v1", "pro"): 3.5,
    ("kling-v1-5", "std"): 2.0,
    ("kling-v1-5", "pro"): 3.5,
    ("kling-v1-6", "std"): 2.0,
    ("kling-v1-6", "pro"): 3.5,
    ("kling-v2-master", "std"): 10.0,
    ("kling-v2-master", "pro"): 10.0,
    ("kling-v2-1", "std"): 2.0,
    ("kling-v2-1", "pro"): 3.5,
    ("kling-v2-1-master", "std"): 10.0,
    ("kling-v2-1-master", "pro"): 10.0,
    ("kling-v2-5-turbo", "std"): 1.5,
    ("kling-v2-5-turbo", "pro"): 2.5,
    ("kling-v2-6", "std"): 1.5,
    ("kling-v2-6", "pro"): 2.5,
    ("kling-v3", "std"): 3.0,
    ("kling-v3", "pro"): 4.0,
    ("kling-v3-omni", "std"): 3.0,
    ("kling-v3-omni", "pro"): 4.0,
    ("kling-video-o1", "std"): 3.0,
    ("kling-video-o1", "pro"): 4.0,
    ("kling-v3", "4k"): 4.0 * 3,
    ("kling-v3-omni", "4k"): 4.0 * 3,
}
# 4k above is pro × 3: Kling's 4k price is not in our notes, so the factor is a guess chosen to err high
# (docs/spending.md); the first finished 4k task of a profile replaces it with what Kling charged.
# A model the table does not know is priced like the dearest one: never under-estimated.
UNKNOWN_MODEL_UNITS_PER_5S = max(PRIOR_UNITS_PER_5S.values())
# Kling charges more for native audio; we assume twice (Kling's list shows up to that), to err high.
SOUND_FACTOR = 2.0
# How many of a profile's latest charges the estimate looks at.
HISTORY = 20


UP_TO = "up_to_reference"
"""A profile's extra for a video as long as a reference (motion control): its duration is the longest allowed."""


@dataclass(frozen=True)
class Profile:
    """What decides a task's price. `extras` names any further billing dimension (a storyboard, a specified
    voice) so that tasks with it never teach the price of tasks without it."""

    endpoint: str
    model: str
    mode: str
    duration: int
    sound: bool = False
    extras: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The profile as the journal stores it (`tasks.profile`), e.g. `image2video/kling-v3/pro/10s/sound`."""
        parts = [self.endpoint, self.model, self.mode, f"{self.duration}s", "sound" if self.sound else "silent"]
        return "/".join([*parts, *sorted(self.extras)])


@dataclass(frozen=True)
class Estimate:
    """The units a create is expected to cost, and what the number rests on."""

    units: float
    source: Literal["learned", "prior"]
    samples: int = 0  # how many finished tasks of the profile it was learned from
    at_most: bool = False  # priced at the longest video the request can make (its length only Kling knows)

    @property
    def basis(self) -> str:
        """In words: "learned from 3 tasks" or "prior table"."""
        if self.source == "prior":
            return "prior table"
        return f"learned from {self.samples} task{'s' if self.samples != 1 else ''}"


def profile_of(
    request: VideoRequest | TextVideoRequest | MotionRequest,
    reference_seconds: float | None = None,
    *,
    endpoint: str | None = None,
) -> Profile:
    """The billing profile of a validated generate request (its endpoint as the capability table chooses it, or
    `endpoint` when the caller already asked the table: `bodies.prepare_request` does).

    Motion control makes a video as long as its reference: with the length this server read from a local
    reference (`reference_seconds`), priced at it in whole seconds; for a URL, which only Kling measures, at the
    longest reference the orientation allows (`up_to_reference`), an estimate that errs high.
    """
    if isinstance(request, MotionRequest):
        if reference_seconds is not None:
            return Profile(MOTION_ENDPOINTS[0], request.model, request.mode, billed_seconds(reference_seconds))
        return Profile(MOTION_ENDPOINTS[0], request.model, request.mode, request.longest_seconds, extras=(UP_TO,))
    endpoints = TEXT_ENDPOINTS if isinstance(request, TextVideoRequest) else IMAGE_ENDPOINTS
    if endpoint is None:
        try:
            endpoint = row_for(request.model, endpoints).endpoint
        except KeyError:  # a model the table does not serve is still priced (as the first endpoint's)
            endpoint = endpoints[0]
    # A storyboard and a specified voice are billing dimensions of their own (Kling prices "with specified voice"
    # apart): tasks with them never teach the price of tasks without.
    extras = (("storyboard",) if request.storyboard else ()) + (("voices",) if request.voice_list else ())
    duration, sound = request.effective_duration, bool(request.wants_audio)
    return Profile(endpoint, request.model, request.mode, duration, sound, extras)


def prior(profile: Profile, seconds: float | None = None) -> Estimate:
    """The estimate for a profile never seen: the prior table, pro rata to the length (`seconds`, default the
    profile's), more with sound (a voice is sound: `SOUND_FACTOR` already errs above Kling's published "with
    specified voice" price)."""
    per_5s = PRIOR_UNITS_PER_5S.get((profile.model, profile.mode), UNKNOWN_MODEL_UNITS_PER_5S)
    length = profile.duration if seconds is None else seconds
    units = per_5s * length / 5 * (SOUND_FACTOR if profile.sound else 1.0)
    return Estimate(round(units, 3), "prior", at_most=UP_TO in profile.extras and seconds is None)


def learned(charges: list[float]) -> Estimate | None:
    """The estimate from a profile's latest charges (newest first): their median; None without any."""
    if not charges:
        return None
    return Estimate(round(statistics.median(charges), 3), "learned", len(charges))


def by_rate(charged: list[tuple[float, float]], seconds: float, *, at_most: bool = False) -> Estimate | None:
    """rate × `seconds`, the rate being the highest units per second of the latest (units, seconds made) pairs
    (the highest, so that Kling's rounding of a short video's charge errs high); None without any."""
    rates = [units / made for units, made in charged if made > 0]
    if not rates:
        return None
    units = math.ceil(round(max(rates) * seconds, 6) * 1000) / 1000  # rounded up, never down
    return Estimate(units, "learned", len(rates), at_most=at_most)


def estimate(
    journal: TaskJournal, profile: Profile, *, seconds: float | None = None, kling_host: str | None = None
) -> Estimate:
    """The units a create of this profile is expected to cost: learned from the journal (one query; only tasks of
    `kling_host`'s Kling when given), else the prior table. Blocking: async callers run it in a worker thread.

    A profile whose length only Kling knows (`UP_TO`) is priced per second: the learned rate × `seconds` (the
    length being priced: default the longest the request can make, `profile.duration`, shown as "at most")."""
    if UP_TO in profile.extras:
        at_most = seconds is None
        length = profile.duration if seconds is None else seconds
        charged = journal.charged_seconds(profile.key, limit=HISTORY, kling_host=kling_host)
        return by_rate(charged, length, at_most=at_most) or prior(profile, seconds)
    return learned(journal.charges(profile.key, limit=HISTORY, kling_host=kling_host)) or prior(profile)
