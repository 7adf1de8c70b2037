"""The bad-input corpus: arguments that differ from a valid request, and the words their error must contain.

Each case names the argument and the rule (or the value found). Image cases compute their arguments from real
images made with Pillow (tests/imaging.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.imaging import Images, b64, data_uri
from tests.video_files import SAMPLE_MP4, write_video

URL = "https://images.example.com/start.png"
END = "https://images.example.com/end.png"
DROP = object()  # removes an argument of the valid base request
CAMERA_ZOOM = '{"type": "simple", "config": {"zoom": 5}}'
SHOT_2, SHOT_3, SHOT_4 = ({"prompt": f"shot of {n} s", "duration": n} for n in (2, 3, 4))
ELEMENT = {"element_id": "8812"}
VOICE = {"voice_id": "v_anna"}
Args = Callable[[Images], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    id: str
    args: dict[str, Any] | Args
    expect: tuple[str, ...]
    policy: str = "stdio"  # "stdio" (any local file), "none" (no local files), "roots" (only under `inside`)
    # ... and "lend" (only under `inside`, with a public URL to lend reference videos at), "stdio-lend", "none-lend"


def copy_bytes(data: bytes, path: Path) -> Path:
    """Write `data` at `path` and return the path."""
    path.write_bytes(data)
    return path


def copy_to(source: Path, path: Path) -> Path:
    """Copy a file to `path` and return the path."""
    return copy_bytes(source.read_bytes(), path)


def img(**make: Callable[[Images], Any]) -> Args:
    """Arguments computed from the test images."""
    return lambda images: {name: fn(images) for name, fn in make.items()}


CASES = [
    # --- prompt and negative_prompt
    Case("prompt-missing", {"prompt": DROP}, ("prompt", "required")),
    Case("prompt-empty", {"prompt": ""}, ("prompt", "at least 1 character")),
    Case("prompt-blank", {"prompt": "   \n"}, ("prompt", "blank")),
    Case("prompt-too-long", {"prompt": "x" * 2501}, ("prompt", "at most 2500")),
    Case("prompt-not-text", {"prompt": 42}, ("prompt", "valid string")),
    Case("negative-prompt-too-long", {"negative_prompt": "y" * 2501}, ("negative_prompt", "at most 2500")),
    # --- characters no prompt needs: refused the same on SQLite and PostgreSQL (which cannot store NUL)
    Case("prompt-nul", {"prompt": "a paper boat\x00 drifts"}, ("prompt", "control character", "U+0000")),
    Case("prompt-escape-sequence", {"prompt": "a boat \x1b[2J drifts"}, ("prompt", "control character", "U+001B")),
    Case("prompt-c1-control", {"prompt": "a boat \x9b drifts"}, ("prompt", "U+009B")),
    Case("prompt-bidi-override", {"prompt": "a boat \u202edrifts"}, ("prompt", "bidirectional", "U+202E")),
    Case("prompt-bidi-isolate", {"prompt": "a boat \u2066drifts"}, ("prompt", "bidirectional", "U+2066")),
    Case("prompt-only-zero-width", {"prompt": "\u200b\u200c\u200d\u2060\ufeff"}, ("prompt", "blank", "invisible")),
    Case("negative-prompt-nul", {"negative_prompt": "blur\x00"}, ("negative_prompt", "U+0000")),
    Case("negative-prompt-only-zero-width", {"negative_prompt": "\u200b \u200b"}, ("negative_prompt", "blank")),
    # --- enums and ranges
    Case("model-unknown", {"model": "kling-v9"}, ("model", "kling-v2-master", "kling-v3")),
    Case("model-old-name", {"model": "kling-v2.1"}, ("model", "kling-v2-1")),
    Case("mode-unknown", {"mode": "fast"}, ("mode", "'std', 'pro' or '4k'")),
    Case("aspect-ratio-unknown", {"aspect_ratio": "4:3"}, ("aspect_ratio", "16:9")),
    Case("duration-too-short", {"duration": 2}, ("duration", "greater than or equal to 3")),
    Case("duration-too-long", {"duration": 16}, ("duration", "less than or equal to 15")),
    Case("duration-fraction", {"duration": 7.5}, ("duration", "fractional")),
    Case("duration-not-number", {"duration": "five"}, ("duration", "whole number", '"five"')),
    # --- types: only the documented one, or a string that is exactly such a number (clients that stringify)
    Case("duration-text-with-unit", {"duration": "5s"}, ("duration", "whole number", '"5s"')),
    Case("duration-text-decimal", {"duration": "5.0"}, ("duration", "whole number")),
    Case("duration-text-padded", {"duration": " 5"}, ("duration", "whole number")),
    Case("duration-boolean", {"duration": True}, ("duration", "not a boolean")),
    Case("generate-audio-not-bool", {"generate_audio": "maybe"}, ("generate_audio", "boolean")),
    Case("generate-audio-yes", {"generate_audio": "yes"}, ("generate_audio", "true or false", '"yes"')),
    Case("generate-audio-one", {"generate_audio": 1}, ("generate_audio", "true or false")),
    Case("generate-audio-on", {"generate_audio": "on"}, ("generate_audio", "true or false")),
    Case("cfg-scale-nan-text", {"model": "kling-v1", "cfg_scale": "NaN"}, ("cfg_scale", "a number from 0 to 1")),
    Case("timeout-hex-text", {"timeout": "0x10"}, ("timeout", "a number of seconds")),
    Case("cfg-scale-above-1", {"model": "kling-v1", "cfg_scale": 1.5}, ("cfg_scale", "less than or equal to 1")),
    Case("cfg-scale-negative", {"model": "kling-v1", "cfg_scale": -0.1}, ("cfg_scale", "greater than or equal to 0")),
    Case("timeout-negative", {"timeout": -5}, ("timeout", "greater than or equal to 0")),
    Case("timeout-over-an-hour", {"timeout": 3601}, ("timeout", "less than or equal to 3600")),
    Case("callback-ftp", {"callback_url": "ftp://hooks.example.com/x"}, ("callback_url", "http(s)", "ftp://")),
    Case("callback-not-url", {"callback_url": "hooks.example.com"}, ("callback_url", "http(s)")),
    Case("callback-no-host", {"callback_url": "https://"}, ("callback_url", "host")),
    Case("callback-not-text", {"callback_url": 5}, ("callback_url", "valid string")),
    Case(
        "callback-too-long",
        {"callback_url": "https://hooks.example.com/" + "h" * 20_000},
        ("callback_url", "at most 8,192 characters", "20,026"),
    ),
    Case("callback-nul", {"callback_url": "https://hooks.example.com/a\x00b"}, ("callback_url", "U+0000")),
    # --- camera_control: parsing and shape
    Case(
        "camera-bad-json",
        {"model": "kling-v1", "camera_control": "{type: simple"},
        ("camera_control", "not valid JSON"),
    ),
    Case("camera-json-list", {"model": "kling-v1", "camera_control": "[1, 2]"}, ("camera_control", "JSON object")),
    Case(
        "camera-type-unknown",
        {"model": "kling-v1", "camera_control": '{"type": "orbit"}'},
        ("camera_control", "type", "simple"),
    ),
    Case(
        "camera-simple-no-config",
        {"model": "kling-v1", "camera_control": '{"type": "simple"}'},
        ("camera_control", "needs a config"),
    ),
    Case(
        "camera-two-axes",
        {"model": "kling-v1", "camera_control": '{"type": "simple", "config": {"zoom": 2, "pan": 3}}'},
        ("camera_control", "exactly one non-zero axis", "got 2"),
    ),
    Case(
        "camera-all-zero",
        {"model": "kling-v1", "camera_control": '{"type": "simple", "config": {"zoom": 0}}'},
        ("camera_control", "exactly one non-zero axis", "all zero"),
    ),
    Case(
        "camera-axis-out-of-range",
        {"model": "kling-v1", "camera_control": '{"type": "simple", "config": {"zoom": 11}}'},
        ("camera_control", "zoom", "less than or equal to 10"),
    ),
    Case(
        "camera-axis-unknown",
        {"model": "kling-v1", "camera_control": '{"type": "simple", "config": {"dolly": 3}}'},
        ("camera_control", "dolly", "not permitted"),
    ),
    Case(
        "camera-preset-with-config",
        {"model": "kling-v1", "camera_control": '{"type": "forward_up", "config": {"zoom": 3}}'},
        ("camera_control", "takes no config"),
    ),
    # --- the capability table: every rule, each message naming what would work instead
    Case("cap-duration-7-on-v2-master", {"duration": 7}, ("duration must be 5 or 10 for kling-v2-master", "got 7")),
    # kling-video-o1's durations are Kling's to judge (issue 23): 7 is sent; 4k is v3 / v3-omni only.
    Case("cap-4k-on-v2-master", {"mode": "4k"}, ("mode must be 'std' or 'pro' for kling-v2-master", "got '4k'")),
    Case("cap-duration-3-on-v2-6", {"model": "kling-v2-6", "duration": 3}, ("duration must be 5 or 10", "got 3")),
    Case(
        "cap-end-frame-v2-master",
        {"end_image_url": END},
        ("end_image_url", "not supported by kling-v2-master", "kling-v3"),
    ),
    Case(
        "cap-end-frame-v2-1-master",
        {"model": "kling-v2-1-master", "end_image_url": END},
        ("end_image_url", "kling-v2-1-master", "kling-v2-1,"),
    ),
    Case(
        "cap-end-frame-v2-1-std",
        {"model": "kling-v2-1", "end_image_url": END},
        ("end_image_url", "needs mode 'pro'", "got mode 'std'"),
    ),
    Case(
        "cap-end-frame-v2-5-turbo-std",
        {"model": "kling-v2-5-turbo", "duration": 10, "end_image_url": END},
        ("end_image_url", "'pro'"),
    ),
    Case(
        "cap-end-frame-v1-6-std",
        {"model": "kling-v1-6", "end_image_url": END},
        ("end_image_url", "'pro'", "kling-v1-6"),
    ),
    Case(
        "cap-end-frame-v1-10s",
        {"model": "kling-v1", "duration": 10, "end_image_url": END},
        ("end_image_url", "needs duration 5", "got 10"),
    ),
    Case(
        "cap-end-frame-with-audio-v2-6",
        {"model": "kling-v2-6", "mode": "pro", "generate_audio": True, "end_image_url": END},
        ("end_image_url", "generate_audio=true", "generate_audio=false"),
    ),
    Case(
        "cap-audio-v2-master",
        {"generate_audio": True},
        ("generate_audio", "not supported by kling-v2-master", "kling-v3"),
    ),
    Case("cap-audio-v2-6-std", {"model": "kling-v2-6", "generate_audio": True}, ("generate_audio", "needs mode 'pro'")),
    Case(
        "cap-4k-on-video-o1",
        {"model": "kling-video-o1", "mode": "4k"},
        ("mode must be 'std' or 'pro'", "kling-video-o1"),
    ),
    Case("cap-cfg-v2-master", {"cfg_scale": 0.5}, ("cfg_scale", "not supported by kling-v2-master", "kling-v1")),
    Case("cap-cfg-v3-omni", {"model": "kling-v3-omni", "cfg_scale": 0.5}, ("cfg_scale", "kling-v3-omni")),
    Case(
        "cap-camera-v2-master",
        {"camera_control": CAMERA_ZOOM},
        ("camera_control", "not supported by kling-v2-master", "kling-v1-5"),
    ),
    Case(
        "cap-camera-v1-5-std",
        {"model": "kling-v1-5", "camera_control": CAMERA_ZOOM},
        ("camera_control", "needs mode 'pro'"),
    ),
    Case(
        "cap-camera-v1-5-pro-10s",
        {"model": "kling-v1-5", "mode": "pro", "duration": 10, "camera_control": CAMERA_ZOOM},
        ("camera_control", "needs duration 5", "got 10"),
    ),
    Case(
        "cap-camera-v1-10s",
        {"model": "kling-v1", "duration": 10, "camera_control": CAMERA_ZOOM},
        ("camera_control", "duration 5"),
    ),
    Case(
        "cap-camera-with-end-frame",
        {"model": "kling-v1", "camera_control": CAMERA_ZOOM, "end_image_url": END},
        ("camera_control and end_image_url cannot be used together",),
    ),
    Case(
        "cap-camera-v3-omni",
        {"model": "kling-v3-omni", "camera_control": '{"type": "down_back"}'},
        ("camera_control", "kling-v3-omni"),
    ),
    Case(
        "cap-several-at-once",
        {"duration": 7, "generate_audio": True, "cfg_scale": 0.3},
        ("duration must be 5 or 10", "generate_audio is not supported", "cfg_scale is not supported"),
    ),
    # --- images: presence and form
    Case("no-image", {"start_image_url": DROP}, ("at least one of start_image_url or end_image_url",)),
    Case("images-blank", {"start_image_url": "", "end_image_url": "  "}, ("at least one of start_image_url",)),
    Case("image-not-text", {"start_image_url": 7}, ("start_image_url", "valid string")),
    Case(
        "image-ftp-url",
        {"start_image_url": "ftp://images.example.com/a.png"},
        ("start_image_url", "scheme 'ftp'", "http(s)"),
    ),
    Case("image-url-no-host", {"start_image_url": "https:///a.png"}, ("start_image_url", "no host")),
    Case(
        "image-url-with-space",
        {"start_image_url": "https://images.example.com/my cat.png"},
        ("start_image_url", "whitespace", "%20"),
    ),
    Case(
        "image-url-too-long",
        {"start_image_url": "https://images.example.com/" + "a" * 20_000 + ".png"},
        ("start_image_url", "at most 8,192 characters", "20,031"),
    ),
    Case(
        "end-image-url-too-long",
        {"model": "kling-v3", "end_image_url": "https://images.example.com/" + "b" * 9_000},
        ("end_image_url", "at most 8,192 characters"),
    ),
    Case("image-url-nul", {"start_image_url": "https://images.example.com/a\x00.png"}, ("start_image_url", "U+0000")),
    Case("image-path-nul", {"start_image_url": "/tmp/a\x00.png"}, ("start_image_url", "control character")),
    Case("base64-bad-char", {"start_image_url": "iVBORw0K$GgoAAA"}, ("start_image_url", "not valid base64", "'$'")),
    Case("base64-inner-padding", {"start_image_url": "iVBO=Rw0KGgo"}, ("start_image_url", "padding")),
    Case("base64-truncated-length", {"start_image_url": "iVBORw0KGgoAA"}, ("start_image_url", "truncated")),
    Case(
        "base64-not-an-image",
        {"start_image_url": b64(b"hello, this is plain text, not a picture at all")},
        ("start_image_url", "not a jpg/jpeg or png"),
    ),
    Case(
        "base64-html",
        {"start_image_url": b64(b"<!DOCTYPE html><html>Forbidden</html>")},
        ("start_image_url", "look like HTML", "not a jpg"),
    ),
    Case(
        "base64-truncated-png",
        img(start_image_url=lambda i: b64(i.truncated_png)),
        ("start_image_url", "truncated or corrupt", "png"),
    ),
    Case(
        "base64-truncated-jpeg",
        img(start_image_url=lambda i: b64(i.truncated_jpeg)),
        ("start_image_url", "truncated or corrupt", "jpeg"),
    ),
    Case("base64-gif", img(start_image_url=lambda i: b64(i.gif)), ("start_image_url", "jpg/jpeg or png", "got GIF")),
    Case("base64-bmp", img(start_image_url=lambda i: b64(i.bmp)), ("start_image_url", "got BMP")),
    Case(
        "base64-oversize",
        {"start_image_url": "A" * (14 * 1024 * 1024 + 8)},
        ("start_image_url", "at most 10 MB", "bytes"),
    ),
    Case(
        "data-uri-webp", img(start_image_url=lambda i: data_uri(i.webp, "image/webp")), ("start_image_url", "got WEBP")
    ),
    Case(
        "data-uri-gif-labelled-png",
        img(start_image_url=lambda i: data_uri(i.gif, "image/png")),
        ("start_image_url", "got GIF"),
    ),
    Case(
        "data-uri-text",
        {"start_image_url": "data:text/plain;base64,aGVsbG8="},
        ("start_image_url", "must hold an image", "text/plain"),
    ),
    Case("data-uri-not-base64", {"start_image_url": "data:image/png,%89PNG"}, ("start_image_url", "base64-encoded")),
    Case("data-uri-empty", {"start_image_url": "data:image/png;base64,"}, ("start_image_url", "no data")),
    Case("data-uri-no-comma", {"start_image_url": "data:image/png;base64"}, ("start_image_url", "no ','")),
    # --- images: the pixels
    Case(
        "image-too-small",
        img(start_image_url=lambda i: b64(i.tiny_png)),
        ("start_image_url", "at least 300 px", "200x200"),
    ),
    Case(
        "end-image-too-small",
        img(end_image_url=lambda i: b64(i.tiny_png), model=lambda _: "kling-v3"),
        ("end_image_url", "at least 300 px"),
    ),
    Case(
        "image-too-wide",
        img(start_image_url=lambda i: b64(i.wide_png)),
        ("start_image_url", "aspect ratio", "1000x300", "3.33"),
    ),
    Case(
        "image-too-tall",
        img(start_image_url=lambda i: data_uri(i.tall_png)),
        ("start_image_url", "aspect ratio", "300x800"),
    ),
    # --- images: local files
    Case(
        "file-missing",
        img(start_image_url=lambda i: str(i.root / "nope.png")),
        ("start_image_url", "file not found", "nope.png"),
    ),
    Case(
        "file-missing-abs-no-ext",
        img(start_image_url=lambda i: str(i.root / "nope")),
        ("start_image_url", "file not found"),
    ),
    Case(
        "file-url-missing",
        img(start_image_url=lambda i: (i.root / "gone.jpg").as_uri()),
        ("start_image_url", "file not found", "gone.jpg"),
    ),
    Case(
        "file-url-remote-host",
        {"start_image_url": "file://server/share/a.png"},
        ("start_image_url", "this machine", "server"),
    ),
    Case(
        "file-tilde-missing",
        {"start_image_url": "~/definitely-not-here-kling.png"},
        ("start_image_url", "file not found"),
    ),
    Case("file-directory", img(start_image_url=lambda i: str(i.directory)), ("start_image_url", "directory")),
    Case(
        "file-text-named-png",
        img(start_image_url=lambda i: str(i.text_as_png_path)),
        ("start_image_url", "not a jpg/jpeg or png", "plain text"),
    ),
    Case("file-gif-named-png", img(start_image_url=lambda i: str(i.gif_as_png_path)), ("start_image_url", "got GIF")),
    Case(
        "file-oversize",
        img(start_image_url=lambda i: str(i.oversize_path)),
        ("start_image_url", "at most 10 MB", "10,485,761"),
    ),
    Case(
        "file-not-allowed",
        img(start_image_url=lambda i: str(i.png_path)),
        ("start_image_url", "local files are not readable"),
        policy="none",
    ),
    Case(
        "file-outside-roots",
        img(start_image_url=lambda i: str(i.outside / "secret.png")),
        ("start_image_url", "outside the directories"),
        policy="roots",
    ),
    Case(
        "file-dotdot-out-of-roots",
        img(start_image_url=lambda i: f"{i.inside}/../outside/secret.png"),
        ("outside the directories",),
        policy="roots",
    ),
    Case(
        "file-symlink-out-of-roots",
        img(start_image_url=lambda i: str(i.link_out)),
        ("start_image_url", "outside the directories"),
        policy="roots",
    ),
    Case(
        "file-missing-outside-roots",
        img(start_image_url=lambda i: str(i.outside / "nope.png")),
        ("outside the directories",),
        policy="roots",
    ),
    # --- storyboards (multi_prompt / shot_type)
    Case(
        "storyboard-durations-disagree",
        {"model": "kling-v3", "duration": 10, "multi_prompt": [SHOT_3, SHOT_4]},
        ("multi_prompt", "add up to 7 s", "duration is 10"),
    ),
    Case(
        "storyboard-empty-customized",
        {"model": "kling-v3", "multi_prompt": [], "shot_type": "customize"},  # [] is "no shots"
        ("multi_prompt", "required", "customize"),
    ),
    Case("storyboard-seven-shots", {"model": "kling-v3", "multi_prompt": [SHOT_2] * 7}, ("multi_prompt", "at most 6")),
    Case(
        "storyboard-shot-prompt-too-long",
        {"model": "kling-v3", "multi_prompt": [{"prompt": "x" * 513, "duration": 5}]},
        ("multi_prompt.0.prompt", "at most 512"),
    ),
    Case(
        "storyboard-shot-prompt-blank",
        {"model": "kling-v3", "multi_prompt": [{"prompt": "\u200b ", "duration": 5}]},
        ("multi_prompt.0.prompt", "blank"),
    ),
    Case(
        "storyboard-shot-duration-zero",
        {"model": "kling-v3", "multi_prompt": [SHOT_4, {"prompt": "b", "duration": 0}]},
        ("multi_prompt.1.duration", "greater than or equal to 1"),
    ),
    Case(
        "storyboard-shot-duration-text",
        {"model": "kling-v3", "multi_prompt": [{"prompt": "a", "duration": "5s"}]},
        ("multi_prompt.0.duration", "whole number"),
    ),
    Case(
        "storyboard-shot-without-duration",
        {"model": "kling-v3", "multi_prompt": [{"prompt": "a"}]},
        ("multi_prompt.0.duration", "required"),
    ),
    Case(
        "storyboard-shot-unknown-field",
        {"model": "kling-v3", "multi_prompt": [{"prompt": "a", "duration": 5, "camera": "pan"}]},
        ("multi_prompt.0.camera", "not permitted"),
    ),
    Case(
        "storyboard-total-too-long",
        {"model": "kling-v3", "multi_prompt": [SHOT_4] * 4},
        ("the shots in multi_prompt add up to 16 s", "3-15", "kling-v3"),
    ),
    Case(
        "storyboard-customize-without-shots",
        {"model": "kling-v3", "shot_type": "customize"},
        ("multi_prompt", "required", "customize"),
    ),
    Case("storyboard-shot-type-unknown", {"model": "kling-v3", "shot_type": "auto"}, ("shot_type", "intelligence")),
    Case(
        "storyboard-on-v2-master",
        {"multi_prompt": [SHOT_2, SHOT_3]},
        ("multi_prompt", "not supported by kling-v2-master", "kling-v3"),
    ),
    # --- elements
    Case("elements-four", {"model": "kling-v3", "element_list": [ELEMENT] * 4}, ("element_list", "at most 3")),
    Case("elements-empty-id", {"model": "kling-v3", "element_list": [{"element_id": ""}]}, ("element_id", "blank")),
    Case("elements-bare-ids", {"model": "kling-v3", "element_list": ["8812"]}, ("element_list.0", "object")),
    Case(
        "elements-on-v2-6",
        {"model": "kling-v2-6", "element_list": [ELEMENT]},
        ("element_list", "not supported by kling-v2-6", "kling-v3"),
    ),
    # --- voices
    # Kling's own name for audio is `sound`; the tools keep the spec's `generate_audio` (sent as `sound`).
    Case(
        "voices-sound-by-klings-name",
        {"model": "kling-v3", "sound": "on"},
        ("sound", "not a parameter", "generate_audio"),
    ),
    Case("voices-three", {"model": "kling-v3", "voice_list": [VOICE] * 3}, ("voice_list", "at most 2")),
    Case(
        "voices-tag-past-the-list",
        {"model": "kling-v3", "prompt": "<<<voice_2>>> says hello", "voice_list": [VOICE]},
        ("<<<voice_2>>>", "voice_list holds 1"),
    ),
    Case(
        "voices-tag-without-list",
        {"model": "kling-v3", "prompt": "<<<voice_1>>> says hello"},
        ("<<<voice_1>>>", "no voice_list"),
    ),
    Case(
        "voices-tag-in-a-shot",
        {
            "model": "kling-v3",
            "voice_list": [VOICE],
            "multi_prompt": [{"prompt": "<<<voice_3>>> sings", "duration": 5}],
        },
        ("<<<voice_3>>>", "voice_list holds 1"),
    ),
    Case("voices-empty-id", {"model": "kling-v3", "voice_list": [{"voice_id": " "}]}, ("voice_id", "blank")),
    Case(
        "voices-on-v2-master",
        {"voice_list": [VOICE], "prompt": "<<<voice_1>>> says hello"},
        ("voice_list", "not supported by kling-v2-master"),
    ),
]

# --- the text tool (kling_generate_video_from_text): the storyboard and voice cases again, as they are the text
# tool's parameters too, and what only a storyboard or a voice can get wrong; differences from TEXT_BASE
TEXT_BASE = {"prompt": "a paper boat drifts on a pond"}
TEXT_CASES = [
    Case(f"text-{case.id}", case.args, case.expect)
    for case in CASES
    if case.id.startswith(("storyboard-", "voices-")) and not callable(case.args)
] + [
    Case("text-storyboard-prompt-missing", {"prompt": DROP, "model": "kling-v3"}, ("`prompt` is required",)),
    Case(
        "text-storyboard-intelligence-without-prompt",
        {"prompt": DROP, "model": "kling-v3", "shot_type": "intelligence"},
        ("`prompt` is required",),
    ),
    Case(
        "text-storyboard-shots-too-short",
        {"model": "kling-v3", "multi_prompt": [{"prompt": "a", "duration": 1}, {"prompt": "b", "duration": 1}]},
        ("the shots in multi_prompt add up to 2 s", "3-15"),
    ),
    Case(
        "text-storyboard-json-text-broken",
        {"model": "kling-v3", "multi_prompt": '[{"prompt": "a", "duration": 5}'},
        ("multi_prompt is not valid JSON",),
    ),
    Case(
        "text-storyboard-json-text-object",
        {"model": "kling-v3", "multi_prompt": '{"prompt": "a", "duration": 5}'},
        ("multi_prompt must be a JSON list", "got JSON text holding a JSON object"),
    ),
    Case(
        "text-storyboard-json-text-seven-shots",
        {"model": "kling-v3", "multi_prompt": "[" + ",".join(['{"prompt": "a", "duration": 2}'] * 7) + "]"},
        ("multi_prompt", "at most 6"),
    ),
    Case(
        "text-voices-turn-audio-on-v2-6-std",
        {"model": "kling-v2-6", "prompt": "<<<voice_1>>> hi", "voice_list": [VOICE]},
        ("voice_list turns audio on", "audio needs mode 'pro' on kling-v2-6"),
    ),
    Case(
        "text-voices-json-text-tag-past-the-list",
        {"model": "kling-v3", "prompt": "<<<voice_2>>> hi", "voice_list": '[{"voice_id": "v_anna"}]'},
        ("<<<voice_2>>>", "voice_list holds 1"),
    ),
    Case("text-voices-id-boolean", {"model": "kling-v3", "voice_list": [{"voice_id": True}]}, ("voice_id", "string")),
]

# --- motion control (kling_generate_video_from_motion): differences from MOTION_BASE, refused before any request
MOTION_BASE = {
    "image_url": URL,
    "video_url": "https://cdn.example.com/dance.mp4",
    "character_orientation": "image",
}
MOTION_CASES = [
    Case("motion-image-missing", {"image_url": DROP}, ("image_url", "required")),
    Case("motion-video-missing", {"video_url": DROP}, ("video_url", "required")),
    Case("motion-orientation-missing", {"character_orientation": DROP}, ("character_orientation", "required")),
    Case(
        "motion-orientation-unknown", {"character_orientation": "left"}, ("character_orientation", "'image' or 'video'")
    ),
    Case("motion-model-image2video-only", {"model": "kling-v2-master"}, ("model", "kling-v2-6", "kling-v3")),
    Case("motion-model-omni", {"model": "kling-v3-omni"}, ("model", "kling-v2-6")),
    Case("motion-mode-unknown", {"mode": "fast"}, ("mode", "'std', 'pro' or '4k'")),
    Case("motion-duration-not-taken", {"duration": 5}, ("duration", "not a parameter", "video_url")),
    Case("motion-start-image-name", {"start_image_url": URL}, ("start_image_url", "not a parameter", "image_url")),
    Case("motion-keep-sound-on", {"keep_original_sound": "on"}, ("keep_original_sound", "true or false")),
    Case("motion-keep-sound-number", {"keep_original_sound": 1}, ("keep_original_sound", "true or false")),
    Case("motion-prompt-too-long", {"prompt": "x" * 2501}, ("prompt", "at most 2500")),
    Case("motion-prompt-nul", {"prompt": "a dance\x00"}, ("prompt", "U+0000")),
    # A local reference video needs a public URL this server lends it at (stdio has none): refused, saying what to do.
    Case(
        "motion-video-local-no-public-url",
        {"video_url": "/home/me/dance.mp4"},
        ("video_url", "local file", "no public URL", "http(s) URL", "KLING_MCP_PUBLIC_URL"),
    ),
    Case("motion-video-file-url", {"video_url": "file:///home/me/dance.mp4"}, ("video_url", "KLING_MCP_PUBLIC_URL")),
    Case("motion-video-file-url-other-host", {"video_url": "file://nas/dance.mp4"}, ("video_url", "this machine")),
    Case("motion-video-base64", {"video_url": "AAAAIGZ0eXBpc29t"}, ("video_url", "http(s) URL", "base64")),
    Case("motion-video-data-uri", {"video_url": "data:video/mp4;base64,AAAA"}, ("video_url", "data: URI")),
    # With a public URL ("lend": a server that lends files under `inside`), the file itself is checked first.
    Case(
        "motion-video-outside-roots",
        img(video_url=lambda i: str(write_video(i.outside / "dance.mp4", 5))),
        ("video_url", "outside the directories"),
        policy="lend",
    ),
    Case(
        "motion-video-too-short",
        img(video_url=lambda i: str(copy_to(SAMPLE_MP4, i.inside / "sample.mp4"))),
        ("video_url", "at least 3 s", "is 2 s"),
        policy="lend",
    ),
    Case(
        "motion-video-too-long-for-image",
        img(video_url=lambda i: str(write_video(i.inside / "long.mp4", 10.5, moov_last=True))),
        ("video_url", "at most 10 s", "character_orientation 'image'", "is 10.5 s"),
        policy="lend",
    ),
    Case(
        "motion-video-too-long-for-video",
        img(
            video_url=lambda i: str(write_video(i.inside / "longer.mp4", 31, version=1)),
            character_orientation=lambda _: "video",
        ),
        ("video_url", "at most 30 s", "is 31 s"),
        policy="lend",
    ),
    Case(
        "motion-video-not-mp4",
        img(video_url=lambda i: str(i.png_path)),
        ("video_url", "must be an mp4 or mov video", "not an MP4 or MOV"),
        policy="stdio-lend",
    ),
    Case(
        "motion-video-no-header",
        img(video_url=lambda i: str(copy_bytes(SAMPLE_MP4.read_bytes()[:32], i.inside / "cut.mp4"))),
        ("video_url", "mp4 or mov", "no moov"),
        policy="lend",
    ),
    Case(
        "motion-video-missing-file",
        img(video_url=lambda i: str(i.inside / "gone.mp4")),
        ("video_url", "not found"),
        policy="lend",
    ),
    Case(
        "motion-video-not-allowed",
        img(video_url=lambda i: str(write_video(i.inside / "five.mp4", 5))),
        ("video_url", "local files are not readable", "http(s) URL of the video"),
        policy="none-lend",
    ),
    Case("motion-video-ftp", {"video_url": "ftp://cdn.example.com/dance.mp4"}, ("video_url", "http(s) URL")),
    Case("motion-video-no-host", {"video_url": "https:///dance.mp4"}, ("video_url", "http(s) URL")),
    Case("motion-video-space", {"video_url": "https://cdn.example.com/my dance.mp4"}, ("video_url", "whitespace")),
    Case("motion-video-too-long", {"video_url": "https://cdn.example.com/" + "a" * 8200}, ("video_url", "8,192")),
    Case("motion-image-gif", img(image_url=lambda i: b64(i.gif)), ("image_url", "jpg/jpeg or png", "got GIF")),
    Case("motion-image-too-small", img(image_url=lambda i: b64(i.tiny_png)), ("image_url", "300")),
    Case("motion-image-too-wide", img(image_url=lambda i: b64(i.wide_png)), ("image_url", "aspect")),
    Case(
        "motion-image-outside-roots",
        img(image_url=lambda i: str(i.outside / "secret.png")),
        ("image_url", "outside the directories"),
        policy="roots",
    ),
    Case(
        "motion-image-file-not-allowed",
        img(image_url=lambda i: str(i.png_path)),
        ("image_url", "local files are not readable"),
        policy="none",
    ),
    Case("motion-callback-not-http", {"callback_url": "ftp://x.example.com"}, ("callback_url", "http(s) URL")),
]

# --- custom elements (kling_create_element): differences from ELEMENT_BASE, refused before any request
ELEMENT_BASE = {
    "element_name": "Captain Mira",
    "element_description": "a red-haired pilot",
    "frontal_image": URL,
    "refer_images": [END],
}
ELEMENT_CASES = [
    Case("element-name-missing", {"element_name": DROP}, ("element_name", "required")),
    Case("element-name-too-long", {"element_name": "x" * 21}, ("element_name", "at most 20")),
    Case("element-name-blank", {"element_name": "\u200b "}, ("element_name", "blank")),
    Case("element-description-missing", {"element_description": DROP}, ("element_description", "required")),
    Case("element-description-too-long", {"element_description": "y" * 101}, ("element_description", "at most 100")),
    Case("element-description-nul", {"element_description": "a pilot\x00"}, ("element_description", "U+0000")),
    Case("element-frontal-missing", {"frontal_image": DROP}, ("frontal_image", "required")),
    Case("element-refer-missing", {"refer_images": DROP}, ("refer_images", "required")),
    Case("element-refer-empty", {"refer_images": []}, ("refer_images", "at least 1")),
    Case("element-refer-four", {"refer_images": [END] * 4}, ("refer_images", "at most 3")),
    Case("element-refer-not-list", {"refer_images": END}, ("refer_images", "JSON list", END)),
    Case("element-tag-unknown", {"tag_list": ["o_109"]}, ("tag_list", "o_101")),
    Case("element-reference-type", {"reference_type": "video_refer"}, ("reference_type", "not a parameter")),
    Case("element-frontal-gif", img(frontal_image=lambda i: b64(i.gif)), ("frontal_image", "got GIF")),
    Case("element-refer-too-small", img(refer_images=lambda i: [b64(i.tiny_png)]), ("refer_images[1]", "300")),
    Case(
        "element-frontal-outside-roots",
        img(frontal_image=lambda i: str(i.outside / "secret.png")),
        ("frontal_image", "outside the directories"),
        policy="roots",
    ),
]
