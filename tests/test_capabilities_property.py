"""The capability table and the sandbox's independent reading of Kling's rules must agree on every combination.

`kling_mcp.api.capabilities` decides what we refuse locally; `kling_mcp.sandbox.rules` was written apart from it
from the same API notes. If either drifts (a row edited, a rule misread), these tests name the combination.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kling_mcp.api.capabilities import CAPABILITIES, MODEL_NAMES, check_combination
from kling_mcp.sandbox import rules
from kling_mcp.service.errors import InvalidInputError, UnsupportedCombinationError
from kling_mcp.service.inputs import VideoRequest
from kling_mcp.service.video import ServiceOptions, prepare_request

START = "https://images.example.com/start.png"
END = "https://images.example.com/end.png"
CAMERAS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "simple": {"type": "simple", "config": {"zoom": 5}},
    "preset": {"type": "forward_up"},
}
SKIP = ServiceOptions(skip_capability_check=True)
CHECK = ServiceOptions(skip_capability_check=False)


def table_accepts(model: str, mode: str, duration: int, end: bool, sound: bool, camera: bool, cfg: bool) -> bool:
    return not check_combination(
        model,
        mode=mode,  # type: ignore[arg-type]
        duration=duration,
        has_end_frame=end,
        sound=sound,
        has_camera_control=camera,
        has_cfg_scale=cfg,
    )


def sandbox_rules_accept(model: str, mode: str, duration: int, end: bool, sound: bool, camera: bool, cfg: bool) -> bool:
    """The sandbox's rule functions, combined as its request validators combine them."""
    seconds = str(duration)
    return (
        seconds in rules.allowed_durations(model)
        and (not sound or rules.sound_allowed(model, mode))
        and (not end or rules.image_tail_allowed(model, mode, seconds, sound))
        and (not camera or (not end and rules.camera_control_allowed(model, mode, seconds)))
        and (not cfg or rules.cfg_scale_allowed(model))
    )


def test_every_model_of_the_table_is_known_to_the_sandbox() -> None:
    assert set(MODEL_NAMES) == rules.IMAGE2VIDEO_MODELS | rules.OMNI_MODELS
    assert {m for m, c in CAPABILITIES.items() if c.endpoint == "omni-video"} == rules.OMNI_MODELS


def test_table_and_sandbox_rules_agree_on_every_combination() -> None:
    """Exhaustive: 11 models x 2 modes x durations 1..16 x end frame x audio x camera x cfg_scale."""
    disagreements = []
    for combo in itertools.product(MODEL_NAMES, ("std", "pro"), range(1, 17), *[(False, True)] * 4):
        if table_accepts(*combo) != sandbox_rules_accept(*combo):
            disagreements.append(combo)
    assert disagreements == [], f"{len(disagreements)} combinations disagree, e.g. {disagreements[:5]}"


def arguments(
    model: str, mode: str, duration: int, end: bool, audio: bool | None, camera: str, cfg: bool
) -> dict[str, Any]:
    args: dict[str, Any] = {"prompt": "waves", "start_image_url": START, "model": model, "mode": mode}
    args["duration"] = duration
    if end:
        args["end_image_url"] = END
    if audio is not None:
        args["generate_audio"] = audio
    if CAMERAS[camera] is not None:
        args["camera_control"] = CAMERAS[camera]
    if cfg:
        args["cfg_scale"] = 0.5
    return args


# Repeated entries weight the draw: most requests use few features, so each single rule is reached often.
@pytest.mark.slow  # a thousand bodies through the sandbox's rules
@settings(max_examples=1000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(MODEL_NAMES),
    mode=st.sampled_from(("std", "pro")),
    duration=st.one_of(st.sampled_from((5, 10)), st.integers(3, 15)),
    end=st.sampled_from((False, True)),
    audio=st.sampled_from((None, None, False, True)),
    camera=st.sampled_from(("none", "none", "none", "simple", "preset")),
    cfg=st.sampled_from((False, False, False, True)),
)
def test_we_refuse_exactly_the_bodies_the_sandbox_refuses(
    model: str, mode: str, duration: int, end: bool, audio: bool | None, camera: str, cfg: bool
) -> None:
    """Through the real body builder: with the check skipped, what we would send is judged by the sandbox."""
    request = VideoRequest.model_validate(arguments(model, mode, duration, end, audio, camera, cfg))
    try:
        prepare_request(request, CHECK)
        table_ok = True
    except UnsupportedCombinationError as exc:
        table_ok = False
        assert all(p.message.startswith(p.field) for p in exc.problems), exc.problems
    try:
        body = prepare_request(request, SKIP).body.model_dump(mode="json", exclude_none=True)
    except InvalidInputError as exc:
        # Only the omni endpoint's missing fields are refused even when the table is skipped.
        assert CAPABILITIES[model].endpoint == "omni-video" and exc.field in ("cfg_scale", "camera_control")
        assert not table_ok
        assert not (rules.cfg_scale_allowed(model) if cfg else rules.camera_control_allowed(model, mode, "5"))
        return
    judge = rules.omni_video_error if CAPABILITIES[model].endpoint == "omni-video" else rules.image2video_error
    sandbox_problem = judge(body)
    assert table_ok == (sandbox_problem is None), f"table {'accepts' if table_ok else 'refuses'}: {sandbox_problem}"


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_each_model_has_a_combination_the_sandbox_accepts(model: str) -> None:
    """Guards against a vacuous agreement (both sides refusing everything for a model)."""
    caps = CAPABILITIES[model]
    request = VideoRequest(prompt="waves", start_image_url=START, model=model, duration=caps.durations[0])
    body = prepare_request(request, CHECK).body.model_dump(mode="json", exclude_none=True)
    judge = rules.omni_video_error if caps.endpoint == "omni-video" else rules.image2video_error
    assert judge(body) is None
