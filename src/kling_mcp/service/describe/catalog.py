"""What each model takes, read off the capability table (`api/capabilities.py`) for the caller: the
`kling://capabilities` resource and the model-listing tool. Nothing here is written by hand: a new row or
rule shows up as soon as the table has it, and a feature the table calls unknown says that Kling judges it.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from kling_mcp.api.capabilities import ASPECT_RATIO_ENDPOINTS, ASPECT_RATIOS, ROWS, Capabilities, Rule
from kling_mcp.api.combination import TEXTS

UNKNOWN_TEXT = "unknown: sent, Kling judges"
LEGEND = (
    "features: the tool argument, and when the model takes it; a feature argument not listed is refused before "
    f"anything is sent. '{UNKNOWN_TEXT}': kling-mcp does not know, so the request goes to Kling, and its refusal (not "
    "billed) is reported as such. kling_judges: the modes and durations listed that are sent the same way, Kling "
    "judging whether the model takes them. aspect_ratios empty: the video keeps the image's shape; an aspect_ratio "
    "given is accepted but not sent, and the result says so."
)


class ModelEntry(BaseModel):
    """One model on one Kling endpoint, and the tool that reaches it."""

    model: str
    endpoint: str
    tool: str
    modes: list[str]
    durations: list[int]
    aspect_ratios: list[str]
    features: dict[str, str]
    kling_judges: list[str] = Field(default_factory=list)


class ModelCatalog(BaseModel):
    """Every model the tools reach, with what each takes."""

    models: list[ModelEntry]
    legend: str


def _seconds(durations: tuple[int, ...]) -> str:
    return f"{durations[0]}-{durations[-1]} s" if len(durations) > 2 else " or ".join(map(str, durations)) + " s"


def _when(rule: Rule, row: Capabilities) -> str:
    """A feature's rule in words: 'yes', or 'yes' with the modes, durations and exclusions it holds to."""
    if rule.support == "unknown":
        return UNKNOWN_TEXT
    limits = []
    if rule.modes != row.modes - row.judged_modes:  # a judged mode is Kling's to judge, feature and all
        limits.append("/".join(sorted(rule.modes, reverse=True)) + " only")
    if rule.durations is not None and rule.durations != row.durations:
        limits.append(_seconds(rule.durations) + " only")
    limits += [f"not with {TEXTS[other].argument}" for other in sorted(rule.not_with)]
    return "yes" + (f" ({', '.join(limits)})" if limits else "")


def _judged(row: Capabilities) -> list[str]:
    """The row's modes and durations the table is unsure of, each with UNKNOWN_TEXT."""
    judged = [f"mode {mode}: {UNKNOWN_TEXT}" for mode in sorted(row.judged_modes, reverse=True)]
    if row.durations_judged:
        judged.append(f"duration {_seconds(row.durations)}: {UNKNOWN_TEXT}")
    return judged


def entry(row: Capabilities, tool: str) -> ModelEntry:
    """One row of the table as the caller reads it."""
    return ModelEntry(
        model=row.model,
        endpoint=row.endpoint,
        tool=tool,
        modes=sorted(row.modes, reverse=True),
        durations=list(row.durations),
        aspect_ratios=list(ASPECT_RATIOS) if row.endpoint in ASPECT_RATIO_ENDPOINTS else [],
        features={
            text.argument: _when(row.rule(feature), row)
            for feature, text in TEXTS.items()
            if row.rule(feature).support != "no"
        },
        kling_judges=_judged(row),
    )


def catalog(tool_of: Callable[[str], str | None], model: str | None = None) -> ModelCatalog:
    """The table, row by row (only `model`'s rows when given); `tool_of` names the tool serving an endpoint (a row
    no tool reaches is left out)."""
    rows = [(row, tool) for row in ROWS if (model is None or row.model == model) and (tool := tool_of(row.endpoint))]
    return ModelCatalog(models=[entry(row, tool) for row, tool in rows], legend=LEGEND)
