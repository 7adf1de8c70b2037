"""What Kling accepts, as one table keyed by (model, endpoint): a change at Kling is a change to one row here.

Each feature of a row says `yes` (checked locally against its modes and durations), `no` (refused before anything
is sent), or `unknown` (sent as asked: Kling judges, and its refusal is turned into a clear error). A refused create
costs nothing; a request we wrongly refuse costs the user the feature, so where the notes are unsure, say unknown.
A row's modes and durations can be unsure too: `judged_modes` and `durations_judged` mark them (sent, Kling judges).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from kling_mcp.logs import Tally

if TYPE_CHECKING:  # a start lists the tools (their model enums come from here) without the wire models
    from kling_mcp.api.models import Endpoint

Mode = Literal["std", "pro", "4k"]
Support = Literal["yes", "no", "unknown"]
Feature = Literal["end_frame", "sound", "camera_control", "cfg_scale", "multi_shot", "element_list", "voice_list"]

STD_PRO: frozenset[Mode] = frozenset({"std", "pro"})
PRO: frozenset[Mode] = frozenset({"pro"})
FOUR_K: frozenset[Mode] = frozenset({"4k"})
FIVE_OR_TEN = (5, 10)
THREE_TO_FIFTEEN = tuple(range(3, 16))


@dataclass(frozen=True)
class Rule:
    """Whether a model takes a feature, and in which modes, at which durations and with what not."""

    support: Support = "no"
    modes: frozenset[Mode] = STD_PRO
    durations: tuple[int, ...] | None = None  # None: any duration the model allows
    not_with: frozenset[Feature] = frozenset()


NO = Rule()
YES = Rule("yes")
UNKNOWN = Rule("unknown")
YES_IN_PRO = Rule("yes", PRO)


@dataclass(frozen=True)
class Capabilities:
    """One row: a model on one endpoint. A feature not listed is not supported."""

    model: str
    endpoint: Endpoint
    durations: tuple[int, ...]  # empty: the endpoint takes no duration (motion control: the reference's length)
    features: Mapping[Feature, Rule] = field(default_factory=dict)
    modes: frozenset[Mode] = STD_PRO
    judged_modes: frozenset[Mode] = frozenset()  # modes of `modes` sent without knowing the model takes them
    durations_judged: bool = False  # `durations` is only the range sent: which of them the model takes, Kling judges

    def rule(self, feature: Feature) -> Rule:
        """The row's rule for a feature (`NO` when not listed)."""
        return self.features.get(feature, NO)


def _i2v(model: str, durations: tuple[int, ...] = FIVE_OR_TEN, **features: Rule) -> Capabilities:
    return Capabilities(model, "image2video", durations, features)  # type: ignore[arg-type]


def _t2v(model: str, durations: tuple[int, ...] = FIVE_OR_TEN, **features: Rule) -> Capabilities:
    return Capabilities(model, "text2video", durations, features)  # type: ignore[arg-type]


def _omni(model: str, durations: tuple[int, ...], **features: Rule) -> Capabilities:
    return Capabilities(model, "omni-video", durations, features)  # type: ignore[arg-type]


def _motion(model: str) -> Capabilities:
    return Capabilities(model, "motion-control", ())


def with_4k(row: Capabilities) -> Capabilities:
    """The row with Kling's 4k mode, left to Kling: the notes say it exists for v3 and v3-omni, nothing more."""
    return replace(row, modes=row.modes | FOUR_K, judged_modes=FOUR_K)


def durations_judged(row: Capabilities) -> Capabilities:
    """The row with its durations left to Kling: any duration in the row's range is sent as asked."""
    return replace(row, durations_judged=True)


# Source: Kling's capability map, as summarised in docs/kling-api.md. cfg_scale is documented as "not supported by
# v2.x": yes for the v1 family, no for v2.x, unknown for v3 (several resellers of v3 accept it). The omni endpoint
# has no cfg_scale or camera_control fields at all. The sandbox reads the same notes apart from this table
# (tests/test_capabilities_property.py keeps the two in step where this table is sure).
V1_CAMERA = Rule("yes", durations=(5,))
# The 3.0 additions (issue 23, docs/kling-api.md): storyboards (multi_shot), elements and voices on kling-v3.
KLING3: dict[str, Rule] = {"multi_shot": YES, "element_list": YES, "voice_list": YES}
OMNI_KLING3: dict[str, Rule] = dict.fromkeys(KLING3, UNKNOWN)
ROWS: tuple[Capabilities, ...] = (
    _i2v("kling-v1", end_frame=Rule("yes", durations=(5,)), camera_control=V1_CAMERA, cfg_scale=YES),
    _i2v("kling-v1-5", end_frame=YES_IN_PRO, camera_control=Rule("yes", PRO, (5,)), cfg_scale=YES),
    _i2v("kling-v1-6", end_frame=YES_IN_PRO, cfg_scale=YES),
    _i2v("kling-v2-master"),
    _i2v("kling-v2-1", end_frame=YES_IN_PRO),
    _i2v("kling-v2-1-master"),
    _i2v("kling-v2-5-turbo", end_frame=YES_IN_PRO),
    _i2v(
        "kling-v2-6",
        end_frame=Rule("yes", PRO, not_with=frozenset({"sound"})),
        sound=YES_IN_PRO,
        voice_list=UNKNOWN,  # reported to take voices too
    ),
    with_4k(_i2v("kling-v3", THREE_TO_FIFTEEN, end_frame=YES, sound=YES, cfg_scale=UNKNOWN, **KLING3)),
    # The 3.0 additions on the omni endpoint are in Kling's docs without their exact fields there: Kling judges.
    with_4k(_omni("kling-v3-omni", THREE_TO_FIFTEEN, end_frame=YES, sound=YES, **OMNI_KLING3)),
    # Less certain: durations and audio of kling-video-o1 are not in the capability map; storyboards and elements
    # are documented for the whole omni endpoint. All sent for Kling to judge, any duration of the field's range.
    durations_judged(
        _omni(
            "kling-video-o1", THREE_TO_FIFTEEN, end_frame=YES, sound=UNKNOWN, multi_shot=UNKNOWN, element_list=UNKNOWN
        )
    ),
    # text2video: "as for image2video" per model; which models serve it is itself less certain (kling-api.md).
    _t2v("kling-v1", camera_control=V1_CAMERA, cfg_scale=YES),
    _t2v("kling-v1-6", cfg_scale=YES),
    _t2v("kling-v2-master"),
    _t2v("kling-v2-1-master"),
    _t2v("kling-v2-5-turbo"),
    _t2v("kling-v2-6", sound=YES_IN_PRO, voice_list=UNKNOWN),
    with_4k(_t2v("kling-v3", THREE_TO_FIFTEEN, sound=YES, cfg_scale=UNKNOWN, **KLING3)),
    # motion-control: an image and a reference video; the video is as long as the reference, none of the features.
    _motion("kling-v2-6"),
    _motion("kling-v3"),
)
CAPABILITIES: dict[tuple[str, Endpoint], Capabilities] = {(row.model, row.endpoint): row for row in ROWS}
# Pairs Kling refuses together on every model (docs/kling-api.md: end frame and camera control are exclusive).
EXCLUSIVE: tuple[frozenset[Feature], ...] = (frozenset({"camera_control", "end_frame"}),)

DEFAULT_MODEL = "kling-v2-master"
# The endpoints each generate tool may use, in the order a model is looked for.
IMAGE_ENDPOINTS: tuple[Endpoint, ...] = ("image2video", "omni-video")
TEXT_ENDPOINTS: tuple[Endpoint, ...] = ("text2video",)
MOTION_ENDPOINTS: tuple[Endpoint, ...] = ("motion-control",)
ENDPOINTS: tuple[Endpoint, ...] = (*IMAGE_ENDPOINTS, *TEXT_ENDPOINTS, *MOTION_ENDPOINTS)
MOTION_DEFAULT_MODEL = "kling-v2-6"  # the endpoint's first model; always sent, since Kling's own default is unsure
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
# The endpoints with an aspect_ratio field; image2video has none (the video keeps the image's ratio).
ASPECT_RATIO_ENDPOINTS: frozenset[Endpoint] = frozenset({"omni-video", "text2video"})
CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")


def endpoint_named(name: str | None) -> Endpoint | None:
    """The endpoint a journal row names, or None for a name this version does not know."""
    return next((endpoint for endpoint in ENDPOINTS if endpoint == name), None)


def models_of(endpoints: Iterable[Endpoint]) -> tuple[str, ...]:
    """The models served by any of these endpoints, in table order, each once."""
    wanted = set(endpoints)
    return tuple(dict.fromkeys(row.model for row in ROWS if row.endpoint in wanted))


TABLE_LOOKUPS = Tally()
"""How often `row_for` was asked: once per generate request (`service/prepare/bodies.prepare_request`)."""


def row_for(model: str, endpoints: Iterable[Endpoint]) -> Capabilities:
    """The row of the first of these endpoints that serves the model (a tool lists its endpoints in order)."""
    TABLE_LOOKUPS.add()
    for endpoint in endpoints:
        if (model, endpoint) in CAPABILITIES:
            return CAPABILITIES[(model, endpoint)]
    raise KeyError(f"no endpoint of {list(endpoints)} serves {model}")
