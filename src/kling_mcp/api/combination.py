"""Checking one request against the capability table: every broken rule, each saying what to change."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kling_mcp.api.capabilities import EXCLUSIVE, ROWS, Capabilities, Feature, Mode, Rule, row_for
from kling_mcp.api.models import Endpoint


@dataclass(frozen=True)
class Problem:
    """One broken rule: the argument to change, and a sentence saying how."""

    field: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class FeatureText:
    """How a feature is named to the caller: the argument, as it is asked for, and how to go without it."""

    argument: str
    label: str
    asked: str
    undo: str
    remedy: str


TEXTS: dict[Feature, FeatureText] = {
    "end_frame": FeatureText(
        "end_image_url",
        "end_image_url (end frame)",
        "an end image",
        "drop the end image",
        "drop it, or use a model with end frames",
    ),
    "sound": FeatureText(
        "generate_audio",
        "generate_audio",
        "generate_audio=true",
        "set generate_audio=false",
        "leave it unset, or use a model with audio",
    ),
    "camera_control": FeatureText(
        "camera_control",
        "camera_control",
        "camera_control",
        "drop camera_control",
        "drop it, or use a model with camera control",
    ),
    "cfg_scale": FeatureText(
        "cfg_scale", "cfg_scale", "cfg_scale", "leave cfg_scale unset", "leave it unset, or use a model that takes it"
    ),
    "multi_shot": FeatureText(
        "multi_prompt",
        "a storyboard (multi_prompt / shot_type)",
        "a storyboard",
        "drop multi_prompt and shot_type",
        "drop multi_prompt and shot_type, or use a model with storyboards",
    ),
    "element_list": FeatureText(
        "element_list",
        "element_list",
        "element_list",
        "drop element_list",
        "drop it, or use a model with elements",
    ),
    "voice_list": FeatureText(
        "voice_list",
        "voice_list",
        "voice_list",
        "drop voice_list",
        "drop it, or use a model with voices",
    ),
}


@dataclass(frozen=True)
class Wanted:
    """What a request asks of a model: mode, duration (None: the endpoint takes none) and the features it uses."""

    mode: Mode
    duration: int | None
    features: frozenset[Feature]
    # Where what the caller did not write comes from, so an error names what they sent: the duration is the sum of
    # a storyboard's shots; a feature another argument turns on (sound, by a voice_list), as (argument, noun).
    duration_from_shots: bool = False
    implied: tuple[tuple[Feature, str, str], ...] = ()


def _durations(durations: tuple[int, ...]) -> str:
    if len(durations) > 2:
        return f"{durations[0]}-{durations[-1]} (whole seconds)"
    return " or ".join(map(str, durations))


def _modes(modes: frozenset[Mode]) -> str:
    return " or ".join(repr(m) for m in sorted(modes, reverse=True))  # 'std' or 'pro'


def _sure_of(row: Capabilities, mode: Mode | None, duration: int | None) -> bool:
    """Whether the row is sure to take this mode and duration (None: not asked about)."""
    mode_sure = mode is None or (mode in row.modes and mode not in row.judged_modes)
    return mode_sure and (duration is None or (duration in row.durations and not row.durations_judged))


def models_where(
    *features: Feature,
    endpoints: Iterable[Endpoint],
    sure: bool = False,
    mode: Mode | None = None,
    duration: int | None = None,
) -> str:
    """A readable list of the models of these endpoints that may take all the features together (`sure`: only
    where the table says yes, and sure of `mode` and `duration` when given), for error messages."""
    wanted, allowed = set(endpoints), ("yes",) if sure else ("yes", "unknown")
    names = dict.fromkeys(
        r.model
        for r in ROWS
        if r.endpoint in wanted
        and all(r.rule(f).support in allowed and not (r.rule(f).not_with & set(features)) for f in features)
        and _sure_of(r, mode, duration)
    )
    return ", ".join(names) or "none"


def _basics(row: Capabilities, wanted: Wanted) -> list[Problem]:
    problems = []
    if wanted.mode not in row.modes:
        problems.append(Problem("mode", f"mode must be {_modes(row.modes)} for {row.model}; got {wanted.mode!r}"))
    if wanted.duration is not None and wanted.duration not in row.durations:
        if wanted.duration_from_shots:
            message = (
                f"the shots in multi_prompt add up to {wanted.duration} s; a video on {row.model} lasts "
                f"{_durations(row.durations)}: make the shots' durations add up to that"
            )
            problems.append(Problem("multi_prompt", message))
        else:
            message = f"duration must be {_durations(row.durations)} for {row.model}; got {wanted.duration}"
            problems.append(Problem("duration", message))
    return problems


def _feature(row: Capabilities, feature: Feature, rule: Rule, wanted: Wanted, endpoints: tuple[Endpoint, ...]) -> str:
    """Why the row refuses this feature for this request, or "" when it takes it (or Kling is to judge); a feature
    the caller did not ask for by its own argument is named by the one that turned it on."""
    why = _refusal(row, feature, rule, wanted, endpoints)
    for implied, by, noun in wanted.implied:
        if implied == feature and why:
            return f"{by} turns {noun} on, and {why.replace(TEXTS[feature].label, noun, 1)}"
    return why


def _refusal(row: Capabilities, feature: Feature, rule: Rule, wanted: Wanted, endpoints: tuple[Endpoint, ...]) -> str:
    """Why the row refuses this feature for this request, in the words of its argument, or ""."""
    text, model = TEXTS[feature], row.model
    if rule.support == "no":
        return f"{text.label} is not supported by {model}; {text.remedy}: {models_where(feature, endpoints=endpoints)}"
    if rule.support == "unknown":
        return ""
    if wanted.mode not in rule.modes and wanted.mode not in row.judged_modes:  # a judged mode: Kling judges all
        return f"{text.label} needs mode {_modes(rule.modes)} on {model}; got mode {wanted.mode!r}"
    if rule.durations is not None and wanted.duration not in rule.durations:
        return f"{text.label} needs duration {_durations(rule.durations)} on {model}; got {wanted.duration}"
    for other in sorted(rule.not_with & wanted.features):
        both = models_where(feature, other, endpoints=endpoints)
        return (
            f"{text.label} cannot be combined with {TEXTS[other].asked} on {model}; {TEXTS[other].undo}, "
            f"{text.undo}, or use a model that takes both: {both}"
        )
    return ""


def check_combination(row: Capabilities, wanted: Wanted, endpoints: tuple[Endpoint, ...]) -> list[Problem]:
    """Every rule of the row this request breaks, each saying what to change; empty when it may be sent."""
    problems = _basics(row, wanted)
    for pair in EXCLUSIVE:
        if pair <= wanted.features:
            first, second = sorted(TEXTS[f].argument for f in pair)
            problems.append(
                Problem(
                    first,
                    f"{first} and {second} cannot be used together (Kling treats them as exclusive); drop one of them",
                )
            )
    for feature in TEXTS:  # a fixed order, so messages come out the same way every time
        if feature in wanted.features and (message := _feature(row, feature, row.rule(feature), wanted, endpoints)):
            problems.append(Problem(TEXTS[feature].argument, message))
    return problems


@dataclass(frozen=True)
class Judged:
    """Arguments sent for Kling to judge (the table does not know them for the model), and the models known to
    take them, for the error when Kling refuses."""

    arguments: tuple[str, ...]
    documented: str


def judged_by_kling(row: Capabilities, wanted: Wanted, endpoints: tuple[Endpoint, ...]) -> Judged | None:
    """What of this request the table leaves to Kling, or None when the table judged all of it."""
    unknown = [f for f in TEXTS if f in wanted.features and row.rule(f).support == "unknown"]
    mode = wanted.mode if wanted.mode in row.judged_modes else None
    duration = wanted.duration if row.durations_judged else None
    if not unknown and mode is None and duration is None:
        return None
    arguments = tuple(TEXTS[f].argument for f in unknown) + ("mode",) * bool(mode) + ("duration",) * bool(duration)
    return Judged(arguments, models_where(*unknown, endpoints=endpoints, sure=True, mode=mode, duration=duration))


@dataclass(frozen=True)
class Verdict:
    """One request judged against the table in one pass: the row that serves the model, every rule the request
    breaks, what is left to Kling, and the features the row says the model does not take."""

    row: Capabilities
    problems: tuple[Problem, ...]
    judged: Judged | None
    refused: frozenset[Feature]


def judge(model: str, endpoints: tuple[Endpoint, ...], wanted: Wanted) -> Verdict:
    """The table's whole answer for a request to `model` through the first of `endpoints` that serves it."""
    row = row_for(model, endpoints)
    return Verdict(
        row,
        tuple(check_combination(row, wanted, endpoints)),
        judged_by_kling(row, wanted, endpoints),
        frozenset(f for f in TEXTS if row.rule(f).support == "no"),
    )
