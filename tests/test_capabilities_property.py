"""The capability table and the sandbox's independent reading of Kling's rules must agree on every combination.

`kling_mcp.api.capabilities` decides what we refuse locally; `kling_mcp.sandbox.rules` was written apart from it
from the same API notes. If either drifts (a row edited, a rule misread), these tests name the combination. Where
the table says *unknown*, it must not refuse: the request is sent and Kling judges it.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kling_mcp.api.capabilities import CAPABILITIES, ROWS, Capabilities, Feature, Mode
from kling_mcp.api.combination import TEXTS, Wanted, check_combination
from kling_mcp.sandbox import kling3, rules
from kling_mcp.service.failures import InvalidInputError, UnsupportedCombinationError
from kling_mcp.service.options import ServiceOptions
from kling_mcp.service.prepare.bodies import GenerateRequest, prepare_request
from kling_mcp.service.prepare.image_request import VideoRequest
from kling_mcp.service.prepare.motion_request import MotionRequest
from kling_mcp.service.prepare.text_request import TextVideoRequest

START = "https://images.example.com/start.png"
END = "https://images.example.com/end.png"
CAMERAS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "simple": {"type": "simple", "config": {"zoom": 5}},
    "preset": {"type": "forward_up"},
}
SKIP = ServiceOptions(skip_capability_check=True)
CHECK = ServiceOptions(skip_capability_check=False)
JUDGES = {
    "image2video": rules.image2video_error,
    "omni-video": rules.omni_video_error,
    "text2video": rules.text2video_error,
}
FLAGS: tuple[Feature, ...] = ("end_frame", "sound", "camera_control", "cfg_scale")
# The rows with durations and features to combine; motion-control rows have neither (checked on their own below).
FEATURE_ROWS = tuple(row for row in ROWS if row.endpoint != "motion-control")
MOTION_ROWS = tuple(row for row in ROWS if row.endpoint == "motion-control")


def wanted(mode: Mode, duration: int, flags: tuple[bool, ...]) -> Wanted:
    return Wanted(mode, duration, frozenset(f for f, on in zip(FLAGS, flags, strict=True) if on))


def table_accepts(row: Capabilities, mode: Mode, duration: int, flags: tuple[bool, ...]) -> bool:
    return not check_combination(row, wanted(mode, duration, flags), (row.endpoint,))


def sandbox_rules_accept(row: Capabilities, mode: str, duration: int, flags: tuple[bool, ...]) -> bool:
    """The sandbox's rule functions, combined as its request validators combine them."""
    end, sound, camera, cfg = flags
    model, seconds = row.model, str(duration)
    if row.endpoint == "omni-video" and (camera or cfg):
        return False  # the omni endpoint has no such fields
    return (
        seconds in rules.allowed_durations(model)
        and (not sound or rules.sound_allowed(model, mode))
        and (not end or rules.image_tail_allowed(model, mode, seconds, sound))
        and (not camera or (not end and rules.camera_control_allowed(model, mode, seconds)))
        and (not cfg or rules.cfg_scale_allowed(model))
    )


def asks_kling(row: Capabilities, flags: tuple[bool, ...]) -> bool:
    return row.durations_judged or any(
        on and row.rule(f).support == "unknown" for f, on in zip(FLAGS, flags, strict=True)
    )


def test_every_row_of_the_table_is_known_to_the_sandbox() -> None:
    served = {
        "image2video": rules.IMAGE2VIDEO_MODELS,
        "omni-video": rules.OMNI_MODELS,
        "text2video": rules.TEXT2VIDEO_MODELS,
        "motion-control": kling3.MOTION_MODELS,
    }
    assert set(CAPABILITIES) == {(model, endpoint) for endpoint, models in served.items() for model in models}


def test_the_unknown_cells_are_the_ones_the_notes_leave_open() -> None:
    unknown = {(r.model, r.endpoint, f) for r in ROWS for f in FLAGS if r.rule(f).support == "unknown"}
    assert unknown == {
        ("kling-v3", "image2video", "cfg_scale"),
        ("kling-v3", "text2video", "cfg_scale"),
        ("kling-video-o1", "omni-video", "sound"),  # its audio is not in the capability map
    }
    assert [(r.model, r.endpoint) for r in ROWS if r.durations_judged] == [("kling-video-o1", "omni-video")]
    judged_4k = [(r.model, r.endpoint) for r in ROWS if "4k" in r.judged_modes]
    assert judged_4k == [("kling-v3", "image2video"), ("kling-v3-omni", "omni-video"), ("kling-v3", "text2video")]


def test_table_and_sandbox_rules_agree_on_every_combination_the_table_is_sure_of() -> None:
    """Exhaustive: every row x 2 modes x durations 1..16 x end frame x audio x camera x cfg_scale."""
    disagreements, judged = [], 0
    flag_sets = list(itertools.product((False, True), repeat=len(FLAGS)))
    modes: tuple[Mode, ...] = ("std", "pro")
    for row, mode, duration, combo in itertools.product(FEATURE_ROWS, modes, range(1, 17), flag_sets):
        if row.endpoint == "text2video" and combo[0]:
            continue  # text2video has no end frame to ask for
        if asks_kling(row, combo):
            judged += 1
            sure = tuple(on and row.rule(f).support != "unknown" for f, on in zip(FLAGS, combo, strict=True))
            # Unknown never refuses: the verdict is what the rest of the request gets.
            assert table_accepts(row, mode, duration, combo) == table_accepts(row, mode, duration, sure)
        elif table_accepts(row, mode, duration, combo) != sandbox_rules_accept(row, mode, duration, combo):
            disagreements.append((row.model, row.endpoint, mode, duration, combo))
    assert disagreements == [], f"{len(disagreements)} combinations disagree, e.g. {disagreements[:5]}"
    # kling-v3 with cfg_scale: image2video 2x16x2^3, text2video 2x16x2^2; kling-video-o1 (durations judged): 2x16x2^4
    assert judged == 256 + 128 + 512


def request_of(
    row: Capabilities, mode: str, duration: int, end: bool, audio: bool | None, camera: str, cfg: bool
) -> GenerateRequest:
    args: dict[str, Any] = {"prompt": "waves", "model": row.model, "mode": mode, "duration": duration}
    if row.endpoint != "text2video":
        args["start_image_url"] = START
        if end:
            args["end_image_url"] = END
    if audio is not None:
        args["generate_audio"] = audio
    if CAMERAS[camera] is not None:
        args["camera_control"] = CAMERAS[camera]
    if cfg:
        args["cfg_scale"] = 0.5
    kind = TextVideoRequest if row.endpoint == "text2video" else VideoRequest
    return kind.model_validate(args)


# Repeated entries weight the draw: most requests use few features, so each single rule is reached often.
@pytest.mark.slow  # a thousand bodies through the sandbox's rules
@settings(max_examples=1000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    row=st.sampled_from(FEATURE_ROWS),
    mode=st.sampled_from(("std", "pro")),
    duration=st.one_of(st.sampled_from((5, 10)), st.integers(3, 15)),
    end=st.sampled_from((False, True)),
    audio=st.sampled_from((None, None, False, True)),
    camera=st.sampled_from(("none", "none", "none", "simple", "preset")),
    cfg=st.sampled_from((False, False, False, True)),
)
def test_we_refuse_exactly_the_bodies_the_sandbox_refuses(
    row: Capabilities, mode: str, duration: int, end: bool, audio: bool | None, camera: str, cfg: bool
) -> None:
    """Through the real body builders: with the check skipped, what we would send is judged by the sandbox."""
    request = request_of(row, mode, duration, end, audio, camera, cfg)
    try:
        judged = prepare_request(request, CHECK).judged
        table_ok = True
    except UnsupportedCombinationError as exc:
        table_ok, judged = False, None
        assert all(p.message.startswith(p.field) for p in exc.problems), exc.problems
    try:
        prepared = prepare_request(request, SKIP)
    except InvalidInputError as exc:
        # Only the omni endpoint's missing fields are refused even when the table is skipped.
        assert row.endpoint == "omni-video" and exc.field in ("cfg_scale", "camera_control")
        assert not table_ok
        return
    assert prepared.endpoint == row.endpoint
    sandbox_problem = JUDGES[row.endpoint](prepared.body.model_dump(mode="json", exclude_none=True))
    if judged:
        unknown = {TEXTS[f].argument for f in FLAGS if row.rule(f).support == "unknown"}
        unknown |= {"duration"} if row.durations_judged else set()
        assert table_ok and set(judged.arguments) <= unknown, "only an unknown cell lets Kling judge"
    else:
        assert table_ok == (sandbox_problem is None), f"table {'accepts' if table_ok else 'refuses'}: {sandbox_problem}"


@pytest.mark.parametrize("row", FEATURE_ROWS, ids=[f"{r.model}@{r.endpoint}" for r in FEATURE_ROWS])
def test_each_row_has_a_combination_the_sandbox_accepts(row: Capabilities) -> None:
    """Guards against a vacuous agreement (both sides refusing everything for a model)."""
    seconds = 5 if row.durations_judged else row.durations[0]  # a judged range holds durations Kling may refuse
    request = request_of(row, "std", seconds, False, None, "none", False)
    body = prepare_request(request, CHECK).body.model_dump(mode="json", exclude_none=True)
    assert JUDGES[row.endpoint](body) is None


@pytest.mark.parametrize("mode", ["std", "pro"])
@pytest.mark.parametrize("row", MOTION_ROWS, ids=[r.model for r in MOTION_ROWS])
def test_each_motion_row_builds_a_body_the_sandbox_accepts(row: Capabilities, mode: str) -> None:
    request = MotionRequest.model_validate(
        {"image_url": START, "video_url": "https://cdn.example.com/dance.mp4", "character_orientation": "image"}
        | {"model": row.model, "mode": mode}
    )
    prepared = prepare_request(request, CHECK)
    assert prepared.endpoint == "motion-control" and prepared.judged is None
    assert kling3.motion_control_error(prepared.body.model_dump(mode="json", exclude_none=True), {}) is None
