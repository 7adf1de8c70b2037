"""The sandbox's reading of the Kling 3.0 additions (docs/kling-api.md): storyboards (`multi_shot`), elements and
voices on the generate endpoints, and the motion-control endpoint. Like rules.py, written from the notes, not from
our client; each rule returns Kling's error text or None, and each uncertain reading is one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from kling_mcp.sandbox.billing import Charge
from kling_mcp.sandbox.rules import MAX_TEXT, OMNI_MODELS, image_error

# The notes give the whole omni endpoint (OMNI_MODELS) storyboards and elements.
MULTI_SHOT_MODELS = {"kling-v3"} | OMNI_MODELS
ELEMENT_MODELS = {"kling-v3"} | OMNI_MODELS
VOICE_MODELS = {"kling-v3"}  # uncertain: v2-6 is reported to take voices too; the notes give omni none
SHOT_TYPES = ("customize", "intelligence")
MAX_SHOTS = 6
MAX_SHOT_PROMPT = 512
MIN_SHOT_SECONDS = 1  # uncertain: the notes give no per-shot minimum
MAX_ELEMENTS = 3
MAX_VOICES = 2
VOICE_NEEDS_SOUND = True  # uncertain: a voice is speech, so `sound` must be "on"
VOICE_TAG = re.compile(r"<<<voice_(\d+)>>>")

MOTION_MODELS = {"kling-v2-6", "kling-v3"}
MOTION_DEFAULT_MODEL = "kling-v2-6"  # uncertain: the endpoint predates v3; without model_name it is read as v2-6
# The longest reference video per `character_orientation`, and the shortest Kling takes.
MOTION_MAX_SECONDS = {"image": 10.0, "video": 30.0}
MOTION_MIN_SECONDS = 3.0
# How the sandbox knows a reference video's length when it does not fetch it (references.py fetches those on
# loopback): a URL whose path is /sandbox/reference/<seconds>s.mp4 (on any host; the sandbox serves it) says it;
# any other URL is this long.
REFERENCE_PATH = re.compile(r"^/sandbox/reference/(\d+(?:\.\d+)?)s\.(?:mp4|mov)$")
DEFAULT_REFERENCE_SECONDS = 5.0


def _storyboard_error(body: dict[str, Any], model: str) -> str | None:
    multi_shot = body.get("multi_shot", False)
    if not isinstance(multi_shot, bool):
        return "multi_shot must be a boolean"
    shot_type, shots = body.get("shot_type"), body.get("multi_prompt")
    if not multi_shot:
        if shot_type is not None or shots is not None:
            return "shot_type and multi_prompt require multi_shot true"
        return None
    if model not in MULTI_SHOT_MODELS:
        return f"multi_shot is not supported by {model}"
    if shot_type not in SHOT_TYPES:
        return f"shot_type must be one of {', '.join(SHOT_TYPES)} when multi_shot is true"
    if shot_type == "intelligence":
        return "multi_prompt must be empty when shot_type is intelligence" if shots else None
    if not isinstance(shots, list) or not 1 <= len(shots) <= MAX_SHOTS:
        return f"multi_prompt must hold 1 to {MAX_SHOTS} shots when shot_type is customize"
    total, indexes = 0, []
    for n, shot in enumerate(shots, start=1):
        if not isinstance(shot, dict):
            return f"multi_prompt[{n}] must be an object with prompt and duration"
        prompt, seconds = shot.get("prompt"), shot.get("duration")
        if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_SHOT_PROMPT:
            return f"multi_prompt[{n}].prompt must be a non-empty string of at most {MAX_SHOT_PROMPT} characters"
        if not isinstance(seconds, str) or not seconds.isdigit() or int(seconds) < MIN_SHOT_SECONDS:
            return f"multi_prompt[{n}].duration must be a string of whole seconds, at least {MIN_SHOT_SECONDS}"
        total += int(seconds)
        if "index" in shot:
            indexes.append(shot["index"])
    if indexes and sorted(indexes) != list(range(1, len(shots) + 1)):
        return f"multi_prompt index values must be 1 to {len(shots)}, each once"
    if str(total) != body.get("duration", "5"):
        return f"multi_prompt durations add up to {total}, but duration is {body.get('duration', '5')}"
    return None


def _element_error(body: dict[str, Any], model: str, element_exists: Callable[[str], bool]) -> str | None:
    elements = body.get("element_list")
    if elements is None:
        return None
    if model not in ELEMENT_MODELS:
        return f"element_list is not supported by {model}"
    if not isinstance(elements, list) or len(elements) > MAX_ELEMENTS:
        return f"element_list must be a list of at most {MAX_ELEMENTS} elements"
    for n, item in enumerate(elements, start=1):
        element_id = item.get("element_id") if isinstance(item, dict) else None
        if not isinstance(element_id, str | int) or isinstance(element_id, bool) or str(element_id) == "":
            return f"element_list[{n}].element_id is required"
        if not element_exists(str(element_id)):
            return f"element_list[{n}].element_id {element_id} does not exist"
    return None


def _prompts(body: dict[str, Any]) -> list[str]:
    shots = body.get("multi_prompt")
    shots = shots if isinstance(shots, list) else []
    texts = [body.get("prompt")] + [s.get("prompt") for s in shots if isinstance(s, dict)]
    return [t for t in texts if isinstance(t, str)]


def _voice_error(body: dict[str, Any], model: str) -> str | None:
    voices = body.get("voice_list")
    if voices is None:
        return None
    if model not in VOICE_MODELS:
        return f"voice_list is not supported by {model}"
    if not isinstance(voices, list) or not 1 <= len(voices) <= MAX_VOICES:
        return f"voice_list must hold 1 to {MAX_VOICES} voices"
    for n, item in enumerate(voices, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("voice_id"), str) or not item["voice_id"]:
            return f"voice_list[{n}].voice_id must be a non-empty string"
    if VOICE_NEEDS_SOUND and body.get("sound") != "on":
        return "voice_list requires sound on"
    for text in _prompts(body):
        for tag in VOICE_TAG.findall(text):
            if not 1 <= int(tag) <= len(voices):
                return f"prompt refers to <<<voice_{tag}>>> but voice_list holds {len(voices)} voices"
    return None


def kling3_error(body: dict[str, Any], element_exists: Callable[[str], bool]) -> str | None:
    """Why Kling would refuse this generate body's storyboard, elements or voices, or None."""
    model = body.get("model_name") or "kling-v1"
    return _storyboard_error(body, model) or _element_error(body, model, element_exists) or _voice_error(body, model)


def reference_seconds(video_url: str, known: dict[str, float]) -> float:
    """The reference video's length: a test's `known` entry, the sandbox's reference path, or the default."""
    if video_url in known:
        return known[video_url]
    match = REFERENCE_PATH.match(urlsplit(video_url).path)
    return float(match.group(1)) if match else DEFAULT_REFERENCE_SECONDS


def motion_control_error(body: dict[str, Any], known: dict[str, float]) -> str | None:
    """Why Kling would refuse this motion-control body, or None."""
    model = body.get("model_name") or MOTION_DEFAULT_MODEL
    if model not in MOTION_MODELS:
        return f"model_name {model!r} is not supported by motion-control"
    if problem := image_error("image_url", body.get("image_url"), check_aspect=True):
        return problem
    video = body.get("video_url")
    if not isinstance(video, str) or not video.startswith(("http://", "https://")):
        return "video_url must be an http(s) URL of an mp4 or mov video"
    orientation = body.get("character_orientation")
    if orientation not in MOTION_MAX_SECONDS:
        return "character_orientation must be image or video"
    if body.get("mode") not in ("std", "pro"):
        return f"mode must be std or pro, got {body.get('mode')!r}"
    if body.get("keep_original_sound", "yes") not in ("yes", "no"):
        return "keep_original_sound must be yes or no"
    prompt = body.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or len(prompt) > MAX_TEXT):
        return f"prompt must be a string of at most {MAX_TEXT} characters"
    seconds, limit = reference_seconds(video, known), MOTION_MAX_SECONDS[orientation]
    if not MOTION_MIN_SECONDS <= seconds <= limit:
        return (
            f"video_url duration {seconds:g}s is out of range {MOTION_MIN_SECONDS:g}~{limit:g}s "
            f"for character_orientation {orientation}"
        )
    return None


def model_of(endpoint: str, body: dict[str, Any]) -> str:
    """The model a body asks for, with the endpoint's default when it names none."""
    return body.get("model_name") or (MOTION_DEFAULT_MODEL if endpoint == "motion-control" else "kling-v1")


def output_seconds(endpoint: str, body: dict[str, Any], known: dict[str, float]) -> float:
    """The finished video's length: the reference video's for motion control, else `duration`."""
    if endpoint == "motion-control":
        return reference_seconds(body["video_url"], known)
    return float(body.get("duration", "5"))


def charge_for(endpoint: str, body: dict[str, Any], known: dict[str, float]) -> Charge:
    """The price-table key of a valid create body."""
    return Charge(
        model=model_of(endpoint, body),
        mode=body.get("mode", "std"),
        seconds=output_seconds(endpoint, body, known),
        sound=body.get("sound") == "on",
        voice=bool(body.get("voice_list")),
        multi_shot=body.get("multi_shot") is True,
    )
