"""Units a create is expected to cost, for the spend limit (`spend.py`).

The smallest interface the spend limit needs, `estimate_units(request) -> float`, with a cautious prior of its own:
the consent work of issue 22 brings the estimator proper (learned from the journal per profile), which replaces this
one. Until then the prior errs high, so that a limit is never passed by an estimate that was too low.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kling_mcp.service.prepare.bodies import GenerateRequest

# Units per 5 s of video by model and mode; a model not listed is assumed as dear as the dearest.
PRIOR_UNITS_PER_5S: dict[tuple[str, str], float] = {
    ("kling-v1", "std"): 1.0,
    ("kling-v1", "pro"): 3.5,
    ("kling-v2-master", "std"): 10.0,
    ("kling-v2-master", "pro"): 10.0,
    ("kling-v2-1-master", "std"): 10.0,
    ("kling-v2-1-master", "pro"): 10.0,
}
DEFAULT_UNITS_PER_5S = 4.0  # the pro price of the current models (kling-v3, the omni models)
DEAREST_UNITS_PER_5S = max(PRIOR_UNITS_PER_5S.values())
SOUND_FACTOR = 1.5


def estimate_units(request: GenerateRequest) -> float:
    """Units this create is expected to cost (see the module docstring)."""
    per_5s = PRIOR_UNITS_PER_5S.get((request.model, request.mode), DEFAULT_UNITS_PER_5S)
    factor = SOUND_FACTOR if request.generate_audio else 1.0
    return round(per_5s * request.effective_duration / 5 * factor, 3)
