"""What each Kling model accepts, as one table: a change at Kling is a change to one row here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kling_mcp.api.models import Endpoint

Mode = Literal["std", "pro"]

STD_PRO: frozenset[Mode] = frozenset({"std", "pro"})
PRO: frozenset[Mode] = frozenset({"pro"})
NONE: frozenset[Mode] = frozenset()
FIVE_OR_TEN = (5, 10)
THREE_TO_FIFTEEN = tuple(range(3, 16))


@dataclass(frozen=True)
class ModelCapabilities:
    """One model's rules. Mode sets are the modes in which a feature works; empty means never."""

    name: str
    endpoint: Endpoint
    durations: tuple[int, ...]
    modes: frozenset[Mode] = STD_PRO
    end_frame_modes: frozenset[Mode] = NONE
    end_frame_durations: tuple[int, ...] | None = None  # None: any allowed duration
    end_frame_with_sound: bool = True
    sound_modes: frozenset[Mode] = NONE
    camera_control_modes: frozenset[Mode] = NONE
    camera_control_durations: tuple[int, ...] | None = None
    cfg_scale: bool = False
    aspect_ratio: bool = False  # sent to Kling only when True; image2video has no such field (follows the image)


# Source: Kling's capability map, as summarised in docs/kling-api.md. Uncertain rows are marked. cfg_scale is
# documented only as "not supported by v2.x"; we read that as "the v1 family only" (v3 and the omni models
# included), and the sandbox reads it the same way (tests/test_capabilities_property.py keeps the two in step).
CAPABILITIES: dict[str, ModelCapabilities] = {
    m.name: m
    for m in (
        ModelCapabilities(
            "kling-v1",
            "image2video",
            FIVE_OR_TEN,
            end_frame_modes=STD_PRO,
            end_frame_durations=(5,),
            camera_control_modes=STD_PRO,
            camera_control_durations=(5,),
            cfg_scale=True,
        ),
        ModelCapabilities(
            "kling-v1-5",
            "image2video",
            FIVE_OR_TEN,
            end_frame_modes=PRO,
            camera_control_modes=PRO,
            camera_control_durations=(5,),
            cfg_scale=True,
        ),
        ModelCapabilities("kling-v1-6", "image2video", FIVE_OR_TEN, end_frame_modes=PRO, cfg_scale=True),
        ModelCapabilities("kling-v2-master", "image2video", FIVE_OR_TEN),
        ModelCapabilities("kling-v2-1", "image2video", FIVE_OR_TEN, end_frame_modes=PRO),
        ModelCapabilities("kling-v2-1-master", "image2video", FIVE_OR_TEN),
        ModelCapabilities("kling-v2-5-turbo", "image2video", FIVE_OR_TEN, end_frame_modes=PRO),
        ModelCapabilities(
            "kling-v2-6", "image2video", FIVE_OR_TEN, end_frame_modes=PRO, end_frame_with_sound=False, sound_modes=PRO
        ),
        ModelCapabilities("kling-v3", "image2video", THREE_TO_FIFTEEN, end_frame_modes=STD_PRO, sound_modes=STD_PRO),
        ModelCapabilities(
            "kling-v3-omni",
            "omni-video",
            THREE_TO_FIFTEEN,
            end_frame_modes=STD_PRO,
            sound_modes=STD_PRO,
            aspect_ratio=True,
        ),
        # Less certain: durations and audio of kling-video-o1 are not in the capability map.
        ModelCapabilities("kling-video-o1", "omni-video", FIVE_OR_TEN, end_frame_modes=STD_PRO, aspect_ratio=True),
    )
}

MODEL_NAMES: tuple[str, ...] = tuple(CAPABILITIES)
DEFAULT_MODEL = "kling-v2-master"
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
CAMERA_TYPES = ("simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward")


def _join(items: list[str]) -> str:
    return ", ".join(items) if items else "none"


def models_where(predicate: str) -> str:
    """A readable list of models that support a feature, for error messages."""
    picks = {
        "end_frame": [m.name for m in CAPABILITIES.values() if m.end_frame_modes],
        "sound": [m.name for m in CAPABILITIES.values() if m.sound_modes],
        "camera_control": [m.name for m in CAPABILITIES.values() if m.camera_control_modes],
        "cfg_scale": [m.name for m in CAPABILITIES.values() if m.cfg_scale],
    }
    return _join(picks[predicate])


@dataclass(frozen=True)
class Problem:
    """One broken rule: the argument to change, and a sentence saying how."""

    field: str
    message: str

    def __str__(self) -> str:
        return self.message


def _durations(durations: tuple[int, ...]) -> str:
    if len(durations) > 2:
        return f"{durations[0]}-{durations[-1]} (whole seconds)"
    return " or ".join(map(str, durations))


def _modes(modes: frozenset[Mode]) -> str:
    return " or ".join(repr(m) for m in sorted(modes, reverse=True))  # 'std' or 'pro'


def check_combination(
    model: str,
    *,
    mode: Mode,
    duration: int,
    has_end_frame: bool,
    sound: bool,
    has_camera_control: bool,
    has_cfg_scale: bool,
) -> list[Problem]:
    """Every rule of the table this request breaks, each saying what to change; empty when Kling takes it."""
    caps = CAPABILITIES[model]
    problems: list[Problem] = []
    if mode not in caps.modes:
        problems.append(Problem("mode", f"mode must be {_modes(caps.modes)} for {model}; got {mode!r}"))
    if duration not in caps.durations:
        problems.append(
            Problem("duration", f"duration must be {_durations(caps.durations)} for {model}; got {duration}")
        )
    if has_end_frame:
        end = "end_image_url (end frame)"
        if not caps.end_frame_modes:
            problems.append(
                Problem(
                    "end_image_url",
                    f"{end} is not supported by {model}; drop it, or use a model with end frames: "
                    f"{models_where('end_frame')}",
                )
            )
        elif mode not in caps.end_frame_modes:
            problems.append(
                Problem(
                    "end_image_url", f"{end} needs mode {_modes(caps.end_frame_modes)} on {model}; got mode {mode!r}"
                )
            )
        elif caps.end_frame_durations is not None and duration not in caps.end_frame_durations:
            problems.append(
                Problem(
                    "end_image_url",
                    f"{end} needs duration {_durations(caps.end_frame_durations)} on {model}; got {duration}",
                )
            )
        elif sound and not caps.end_frame_with_sound:
            problems.append(
                Problem(
                    "end_image_url",
                    f"{end} cannot be combined with generate_audio=true on {model}; set generate_audio=false, "
                    "drop the end image, or use kling-v3",
                )
            )
    if sound:
        if not caps.sound_modes:
            problems.append(
                Problem(
                    "generate_audio",
                    f"generate_audio is not supported by {model}; leave it unset, or use a model with audio: "
                    f"{models_where('sound')}",
                )
            )
        elif mode not in caps.sound_modes:
            problems.append(
                Problem(
                    "generate_audio", f"generate_audio needs mode {_modes(caps.sound_modes)} on {model}; got {mode!r}"
                )
            )
    if has_camera_control:
        if has_end_frame:
            problems.append(
                Problem(
                    "camera_control",
                    "camera_control and end_image_url cannot be used together (Kling treats them as exclusive); "
                    "drop one of them",
                )
            )
        if not caps.camera_control_modes:
            problems.append(
                Problem(
                    "camera_control",
                    f"camera_control is not supported by {model}; drop it, or use a model with camera control: "
                    f"{models_where('camera_control')}",
                )
            )
        elif mode not in caps.camera_control_modes:
            problems.append(
                Problem(
                    "camera_control",
                    f"camera_control needs mode {_modes(caps.camera_control_modes)} on {model}; got {mode!r}",
                )
            )
        elif caps.camera_control_durations is not None and duration not in caps.camera_control_durations:
            problems.append(
                Problem(
                    "camera_control",
                    f"camera_control needs duration {_durations(caps.camera_control_durations)} on {model}; "
                    f"got {duration}",
                )
            )
    if has_cfg_scale and not caps.cfg_scale:
        problems.append(
            Problem(
                "cfg_scale",
                f"cfg_scale is not supported by {model}; leave it unset, or use a model that takes it: "
                f"{models_where('cfg_scale')}",
            )
        )
    return problems
