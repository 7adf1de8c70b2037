"""The sandbox's reading of Kling's request rules, written from the API notes (docs/kling-api.md), not from our client.

Each function returns the error text Kling would give, or None. Kept apart from kling_mcp.api.capabilities on
purpose: the property tests compare the two so neither can drift from the other unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

V1_FAMILY = {"kling-v1", "kling-v1-5", "kling-v1-6"}
FIVE_TEN_MODELS = V1_FAMILY | {
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
}
IMAGE2VIDEO_MODELS = FIVE_TEN_MODELS | {"kling-v3"}
OMNI_MODELS = {"kling-v3-omni", "kling-video-o1"}
# The notes are less sure which models serve text2video than image2video; this is their list.
TEXT2VIDEO_MODELS = {
    "kling-v1",
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v2-6",
    "kling-v3",
}
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
CAMERA_TYPES = {"simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"}
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
MAX_TEXT = 2500
MAX_IMAGE_BYTES = 10 * 1024 * 1024


def allowed_durations(model: str) -> set[str]:
    """`"5"`/`"10"` up to v2-6; `"3"`…`"15"` for v3 and v3-omni."""
    if model in ("kling-v3", "kling-v3-omni"):
        return {str(n) for n in range(3, 16)}
    return {"5", "10"}


def sound_allowed(model: str, mode: str) -> bool:
    """Native audio: v3 and v3-omni; v2-6 in pro mode only."""
    return model in ("kling-v3", "kling-v3-omni") or (model == "kling-v2-6" and mode == "pro")


def image_tail_allowed(model: str, mode: str, duration: str, sound: bool) -> bool:
    """End frame: v1 at 5 s; v1-5, v1-6, v2-1, v2-5-turbo in pro; v2-6 pro without sound; v3 std/pro."""
    if model == "kling-v1":
        return duration == "5"
    if model in ("kling-v1-5", "kling-v1-6", "kling-v2-1", "kling-v2-5-turbo"):
        return mode == "pro"
    if model == "kling-v2-6":
        return mode == "pro" and not sound
    return model in ("kling-v3", "kling-v3-omni", "kling-video-o1")


def camera_control_allowed(model: str, mode: str, duration: str) -> bool:
    """Camera control: v1 and v1-5 pro, 5 s."""
    if model == "kling-v1":
        return duration == "5"
    return model == "kling-v1-5" and mode == "pro" and duration == "5"


def cfg_scale_allowed(model: str) -> bool:
    """cfg_scale is documented as unsupported from v2 on; the sandbox refuses it there."""
    return model in V1_FAMILY


def _image_size(data: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) read from a PNG or JPEG header, or None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return "jpeg", width, height
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            (length,) = struct.unpack(">H", data[i + 2 : i + 4])
            i += 2 + length
    return None


def image_error(name: str, value: Any, *, check_aspect: bool) -> str | None:
    """An http(s) URL is taken as is; otherwise bare base64 of a jpg/png, ≤ 10 MB, sides ≥ 300 px."""
    if not isinstance(value, str) or not value:
        return f"{name} must be a non-empty string"
    if value.startswith(("http://", "https://")):
        return None
    if value.startswith("data:"):
        return f"{name} must be bare base64 without a data: prefix"
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return f"{name} is neither an http(s) URL nor valid base64"
    if len(data) > MAX_IMAGE_BYTES:
        return f"{name} is larger than 10MB"
    size = _image_size(data)
    if size is None:
        return f"{name} format is not supported, only jpg/jpeg/png"
    _, width, height = size
    if min(width, height) < 300:
        return f"{name} resolution too small: {width}x{height}, each side must be at least 300px"
    if check_aspect and not 1 / 2.5 <= width / height <= 2.5:
        return f"{name} aspect ratio {width}x{height} is out of range 1:2.5 ~ 2.5:1"
    return None


def _text_errors(body: dict[str, Any]) -> str | None:
    for key in ("prompt", "negative_prompt"):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            return f"{key} must be a string of at most {MAX_TEXT} characters"
    url = body.get("callback_url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        return "callback_url must be an http(s) URL"
    return None


def allowed_modes(model: str) -> tuple[str, ...]:
    """std and pro everywhere; the 4k mode "exists for v3 and v3-omni" (the notes say no more of it)."""
    return ("std", "pro", "4k") if model in ("kling-v3", "kling-v3-omni") else ("std", "pro")


def _common_errors(body: dict[str, Any], model: str) -> str | None:
    mode = body.get("mode", "std")
    if mode not in allowed_modes(model):
        return f"mode must be {' or '.join(allowed_modes(model))} for {model}, got {mode!r}"
    duration = body.get("duration", "5")
    if not isinstance(duration, str):
        return f"duration must be a string, got {type(duration).__name__}"
    if duration not in allowed_durations(model):
        return f"duration {duration} is not supported by {model}"
    sound = body.get("sound")
    if sound is not None:
        if sound not in ("on", "off"):
            return f"sound must be on or off, got {sound!r}"
        if sound == "on" and not sound_allowed(model, mode):
            return f"model/mode({model}/{mode}) is not supported with sound"
    return _text_errors(body)


def image2video_error(body: dict[str, Any]) -> str | None:
    """Why Kling would refuse this image2video body, or None."""
    # The old field `model` is silently ignored: without `model_name`, Kling uses kling-v1.
    model = body.get("model_name") or "kling-v1"
    if model in OMNI_MODELS:
        return f"model_name {model} is not supported by image2video; use the omni-video endpoint"
    if model not in IMAGE2VIDEO_MODELS:
        return f"model_name {model!r} is invalid"
    image, tail = body.get("image"), body.get("image_tail")
    if not image and not tail:
        return "image and image_tail cannot both be empty"
    for name, value, aspect in (("image", image, True), ("image_tail", tail, False)):
        if value and (problem := image_error(name, value, check_aspect=aspect)):
            return problem
    if problem := _common_errors(body, model):
        return problem
    mode, duration, sound = body.get("mode", "std"), body.get("duration", "5"), body.get("sound") == "on"
    if tail and not image_tail_allowed(model, mode, duration, sound):
        return f"model/mode/duration({model}/{mode}/{duration}) is not supported with image_tail"
    return _cfg_and_camera_errors(body, model, mode, duration, has_tail=bool(tail))


def _cfg_and_camera_errors(body: dict[str, Any], model: str, mode: str, duration: str, *, has_tail: bool) -> str | None:
    """cfg_scale and camera_control, which image2video and text2video share."""
    cfg = body.get("cfg_scale")
    if cfg is not None:
        if not isinstance(cfg, int | float) or not 0 <= cfg <= 1:
            return "cfg_scale must be a number between 0 and 1"
        if not cfg_scale_allowed(model):
            return f"cfg_scale is not supported by {model}"
    camera = body.get("camera_control")
    if camera is not None:
        if has_tail:
            return "camera_control and image_tail cannot be used together"
        if problem := camera_error(camera):
            return problem
        if not camera_control_allowed(model, mode, duration):
            return f"model/mode/duration({model}/{mode}/{duration}) is not supported with camera_control"
    return None


def text2video_error(body: dict[str, Any]) -> str | None:
    """Why Kling would refuse this text2video body, or None."""
    model = body.get("model_name") or "kling-v1"
    if model not in TEXT2VIDEO_MODELS:
        return f"model_name {model!r} is not supported by text2video"
    prompt = body.get("prompt")
    storyboard = body.get("multi_shot") is True and body.get("shot_type") == "customize"  # its shots carry prompts
    if not storyboard and (not isinstance(prompt, str) or not prompt.strip()):
        return "prompt is required"
    if problem := _common_errors(body, model):
        return problem
    if body.get("aspect_ratio", "16:9") not in ASPECT_RATIOS:
        return "aspect_ratio must be 16:9, 9:16 or 1:1"
    return _cfg_and_camera_errors(body, model, body.get("mode", "std"), body.get("duration", "5"), has_tail=False)


def camera_error(camera: Any) -> str | None:
    """The camera_control object's own shape."""
    if not isinstance(camera, dict) or camera.get("type") not in CAMERA_TYPES:
        return f"camera_control.type must be one of {sorted(CAMERA_TYPES)}"
    config = camera.get("config")
    if camera["type"] != "simple":
        return "camera_control.config must be empty unless type is simple" if config else None
    if not isinstance(config, dict):
        return "camera_control.config is required when type is simple"
    values = [config.get(axis, 0) for axis in CAMERA_AXES]
    if any(not isinstance(v, int | float) or not -10 <= v <= 10 for v in values):
        return "camera_control.config values must be numbers in [-10, 10]"
    if sum(1 for v in values if v != 0) != 1:
        return "camera_control.config must have exactly one non-zero value"
    return None


def omni_video_error(body: dict[str, Any]) -> str | None:
    """Why Kling would refuse this omni-video body, or None."""
    model = body.get("model_name")
    if model not in OMNI_MODELS:
        return f"model_name {model!r} is not an omni-video model"
    images = body.get("image_list") or []
    if not isinstance(images, list):
        return "image_list must be a list"
    kinds = []
    for item in images:
        if not isinstance(item, dict) or item.get("type") not in ("first_frame", "end_frame"):
            return "image_list items need image_url and type first_frame or end_frame"
        if problem := image_error("image_url", item.get("image_url"), check_aspect=item["type"] == "first_frame"):
            return problem
        kinds.append(item["type"])
    if len(kinds) != len(set(kinds)):
        return "image_list holds two images of the same type"
    if problem := _common_errors(body, model):
        return problem
    if body.get("aspect_ratio", "16:9") not in ASPECT_RATIOS:
        return "aspect_ratio must be 16:9, 9:16 or 1:1"
    return None
