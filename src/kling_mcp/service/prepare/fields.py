"""The argument types the video tools share: one definition of each rule (prompt, duration, camera_control, ...).

Each is an `Annotated` type carrying its constraints and validators; `VideoArguments` declares the fields both
generate tools take, and a tool's model adds its own and may give a field a description of its own.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlparse

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from kling_mcp.api.capabilities import ASPECT_RATIOS, CAMERA_TYPES, DEFAULT_MODEL
from kling_mcp.config import blank_to_none

MAX_PROMPT_CHARS = 2500
# Where a description sends the caller for what each model takes: a published schema names no tool (the server's
# descriptions do), so it names the catalog, which the model-listing tool and this resource both show.
MODELS = "the model catalog (kling://capabilities)"
# Longest URL taken (image or callback), in characters. Presigned storage URLs (S3 with a session token, GCS, Azure
# SAS) run to 1-3k characters, so 2,048 would refuse real ones; 8,192 is about the longest request line common HTTP
# servers accept (Apache 8,190, nginx 8k buffers), so a longer URL could not be fetched anyway. It also bounds what
# a create's journal row can hold (docs/journal.md).
MAX_URL_CHARS = 8192
DEFAULT_TIMEOUT_SECONDS = 300.0
MAX_TIMEOUT_SECONDS = 3600.0

CameraType = Literal[CAMERA_TYPES]  # type: ignore[valid-type]
AspectRatio = Annotated[Literal[ASPECT_RATIOS], Field(description="Video shape.")]  # type: ignore[valid-type]
AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")

Axis = Annotated[float, Field(ge=-10, le=10)]


# Characters refused in text sent to Kling and kept in the journal: C0/C1 controls but tab, newline and carriage
# return (NUL cannot be stored in PostgreSQL text; ESC sequences rewrite a terminal showing the log), the bidi
# embedding/override/isolate controls (they make text read differently from what it holds), and lone surrogates
# (no encoding can write them). Left alone: joiners and marks inside text (ZWJ emoji, ZWNJ in Persian, LRM/RLM).
_UNSAFE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# A number written as a string, as Claude Code and Claude Desktop send numeric arguments: exactly a JSON number.
_NUMBER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WHOLE_NUMBER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)")


def unsafe_character(text: str) -> str | None:
    """Which character of `text` may not be sent, in words with its position (None: all may be)."""
    found = _UNSAFE_TEXT.search(text)
    if found is None:
        return None
    code = ord(found.group())
    kind = (
        "a bidirectional control character"
        if 0x202A <= code <= 0x2069
        else "an unpaired surrogate"
        if 0xD800 <= code <= 0xDFFF
        else "a control character"
    )
    return f"{kind} (U+{code:04X} at position {found.start()})"


def _safe_text(field: str) -> AfterValidator:
    def check(value: str | None) -> str | None:
        if value is not None and (bad := unsafe_character(value)):
            raise ValueError(f"{field} must not contain {bad}; remove it")
        return value

    return AfterValidator(check)


def _visible(field: str) -> AfterValidator:
    """Refuse text of only whitespace and invisible format characters (zero-width space, joiners, BOM)."""

    def check(value: str | None) -> str | None:
        if value is not None and all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in value):
            raise ValueError(f"{field} must not be blank (it holds only whitespace or invisible characters)")
        return value

    return AfterValidator(check)


def a_number(what: str, *, whole: bool = False) -> BeforeValidator:
    """A JSON number only, or a string that is exactly one (some clients send every argument as a string; see
    docs/tool-schemas.md): never a boolean, and never text such as "5s", " 5", "0x10" or "NaN"."""
    pattern = _WHOLE_NUMBER_TEXT if whole else _NUMBER_TEXT

    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("not_a_number", f"must be {what}, not a boolean")
        if isinstance(value, str) and not pattern.fullmatch(value):
            raise PydanticCustomError("not_a_number", f"must be {what}")
        return value

    return BeforeValidator(check)


def _a_boolean(value: Any) -> Any:
    """true or false only; the strings "true"/"false" too (clients that stringify send those), never "yes" or 1."""
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise PydanticCustomError("not_a_boolean", "must be true or false (a JSON boolean)")


def not_a_boolean(what: str) -> BeforeValidator:
    """Refuse true/false where a number is meant: pydantic would quietly read `duration: true` as 1 second."""

    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("not_a_number", f"must be {what}, not a boolean")
        return value

    return BeforeValidator(check)


def _no_defaults(schema: dict[str, Any]) -> None:
    # An axis left out is 0, as for Kling; six "default": 0 in every listing tell a client nothing more.
    for axis in schema["properties"].values():
        axis.pop("default", None)


class CameraConfig(BaseModel):
    """Axes of a `simple` camera move: exactly one of them non-zero, each in [-10, 10]."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_defaults)

    horizontal: Axis = 0
    vertical: Axis = 0
    pan: Axis = 0
    tilt: Axis = 0
    roll: Axis = 0
    zoom: Axis = 0


class CameraControl(BaseModel):
    """Kling's camera_control object."""

    model_config = ConfigDict(extra="forbid")

    type: CameraType
    config: CameraConfig | None = None  # for type 'simple' only: exactly one non-zero axis

    @model_validator(mode="after")
    def _config_matches_type(self) -> CameraControl:
        if self.type == "simple":
            if self.config is None:
                raise ValueError("type 'simple' needs a config with exactly one non-zero axis, e.g. {\"zoom\": 5}")
            moving = [axis for axis in AXES if getattr(self.config, axis) != 0]
            if len(moving) != 1:
                raise ValueError(
                    f"type 'simple' needs exactly one non-zero axis among {', '.join(AXES)}; "
                    f"got {len(moving)} ({', '.join(moving) or 'all zero'})"
                )
        elif self.config is not None:
            if any(getattr(self.config, axis) != 0 for axis in AXES):
                raise ValueError(f"type {self.type!r} takes no config; remove it or use type 'simple'")
            # An all-zero config means "none", but Kling wants the field absent for preset moves.
            self.config = None
        return self


CAMERA_EXAMPLE = '{"type": "simple", "config": {"zoom": 5}}'
_JSON_KINDS: dict[type, str] = {dict: "a JSON object", list: "a JSON list"}
_JSON_NAMES: dict[type, str] = {
    **_JSON_KINDS,
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}


def _json_kind(value: Any) -> str:
    return _JSON_NAMES.get(type(value), "a string")


def from_json_text(shape: type[dict[str, Any]] | type[list[Any]], example: str, **schema: Any) -> BeforeValidator:
    """An object or list argument that may also arrive as JSON text: Claude clients send array and object arguments
    as strings (anthropics/claude-code#24597, #22394, #34520; docs/tool-schemas.md), and the SDK pre-parses only some.
    Text is parsed and must hold `shape`; blank text means none; anything else goes on to the field's own type check.
    The one rule for every list or object argument of every tool (`schema`: the BeforeValidator's own options)."""
    kind = _JSON_KINDS[shape]

    def parse(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if not text:
            return None
        field = info.field_name
        if text[0] not in "[{":  # not meant as JSON (a bare URL, a word): say what is wanted, not where JSON broke
            raise ValueError(f"{field} must be {kind} such as {example}; got the string {json.dumps(text[:60])}")
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{field} is not valid JSON ({exc.msg} at position {exc.pos}); expected {kind} such as {example}"
            ) from exc
        if not isinstance(parsed, shape):
            raise ValueError(f"{field} must be {kind} such as {example}; got JSON text holding {_json_kind(parsed)}")
        return parsed

    return BeforeValidator(parse, **schema)


def _http_url(value: Any) -> Any:
    value = blank_to_none(value)
    if not isinstance(value, str):
        return value  # None, or a non-string the str type check refuses with its own message
    value = value.strip()
    if len(value) > MAX_URL_CHARS:
        raise ValueError(f"callback_url must be at most {MAX_URL_CHARS:,} characters; got {len(value):,}")
    parsed = urlparse(value)
    if parsed.scheme.lower() not in ("http", "https") or not parsed.hostname:
        raise ValueError(
            f"callback_url must be an http(s) URL with a host, e.g. https://example.com/hook; got {value[:80]!r}"
        )
    if any(ch.isspace() for ch in value):
        raise ValueError(f"callback_url must not contain whitespace; got {value[:80]!r}")
    if bad := unsafe_character(value):
        raise ValueError(f"callback_url must not contain {bad}")
    # The scheme lower-cased: a strict server (the sandbox is one) compares it exactly.
    return parsed.scheme.lower() + value[len(parsed.scheme) :]


OptionalText = Annotated[str | None, BeforeValidator(blank_to_none)]


def _none_when_empty(value: Any) -> Any:
    """An empty list means "none", as an empty string does (strict clients send every argument)."""
    return None if value == [] else value


Prompt = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS), _visible("prompt"), _safe_text("prompt")]
# The generate tools' prompt: a storyboard's shots carry their own prompts, so with multi_prompt it may be left out
# (docs/kling-api.md: Kling takes an empty prompt with shot_type customize); else `VideoArguments._prompt_or_shots`
# requires it.
StoryboardPrompt = Prompt | None
NegativePrompt = Annotated[
    Annotated[str, Field(max_length=MAX_PROMPT_CHARS)] | None,
    BeforeValidator(blank_to_none),
    _visible("negative_prompt"),
    _safe_text("negative_prompt"),
    Field(description="What to avoid."),
]
Mode = Annotated[Literal["std", "pro", "4k"], Field(description="pro: 1080p, dearer; 4k: v3, v3-omni.")]
# Constraints sit on the number inside `| None`: on the union itself pydantic would not publish them as JSON Schema.
Duration = Annotated[
    Annotated[int, Field(ge=3, le=15)] | None,
    a_number("a whole number of seconds", whole=True),
    Field(description="Seconds (default 5): 5 or 10; v3: 3-15."),
]
GenerateAudio = Annotated[
    bool | None,
    BeforeValidator(_a_boolean),
    Field(description="Audio (Kling's sound)."),
]
CfgScale = Annotated[
    Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] | None,
    a_number("a number from 0 to 1"),
    Field(description="Prompt adherence, 0-1."),
]
CameraControlArgument = Annotated[
    CameraControl | None,
    from_json_text(dict, CAMERA_EXAMPLE, json_schema_input_type=str | CameraControl | None),
]
CAMERA_CONTROL_HELP = "simple: one non-zero axis in config."
Timeout = Annotated[
    Annotated[float, Field(ge=0, le=MAX_TIMEOUT_SECONDS, allow_inf_nan=False)] | None,
    a_number("a number of seconds"),
    Field(
        description="The server waits at most its own cap per call (default 50 s). 0: return once created.",
    ),
]
CallbackUrl = Annotated[
    str | None,
    BeforeValidator(_http_url),
    Field(description="Webhook URL."),
]

# Kling 3.0 (issue 23; docs/kling-api.md): storyboards, elements and voices. Which model takes them is the
# capability table's; what follows are the rules of the fields themselves, whatever the model.
MAX_SHOTS = 6
MAX_SHOT_PROMPT_CHARS = 512
MAX_ELEMENTS = 3
MAX_VOICES = 2
VOICE_TAG = re.compile(r"<<<voice_(\d+)>>>")
ShotType = Literal["customize", "intelligence"]


class _ListItem(BaseModel):
    """An item of a list argument: a JSON object, whose example the error shows when something else is sent."""

    model_config = ConfigDict(extra="forbid")
    example: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, value: Any) -> Any:
        if not isinstance(value, dict | BaseModel):
            raise ValueError(f"must be an object such as {cls.example}")
        return value


class Shot(_ListItem):
    """One shot of a storyboard: what it shows and how long it lasts."""

    example = '{"prompt": "...", "duration": 5}'

    prompt: Annotated[
        str,
        Field(min_length=1, max_length=MAX_SHOT_PROMPT_CHARS),
        _visible("the shot's prompt"),
        _safe_text("the shot's prompt"),
    ]
    duration: Annotated[Annotated[int, Field(ge=1, le=15)], a_number("a whole number of seconds", whole=True)]


def _an_id(value: Any) -> Any:
    """An id as text, or a whole number (Kling's element ids are numeric, and a client may send one as a number),
    kept as its digits: what is sent is one line in `bodies._shared`. Never a boolean or a fraction."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f'must be an id such as "8812" or 8812; got {value}')
        return str(value)
    return value


KlingId = Annotated[str, BeforeValidator(_an_id)]


class ElementReference(_ListItem):
    """An element (a character or object made with Kling's element endpoints) to keep the same in the video."""

    example = '{"element_id": "..."}'

    element_id: Annotated[KlingId, _visible("element_id"), _safe_text("element_id")]


class VoiceReference(_ListItem):
    """A Kling voice, referred to in the prompt as <<<voice_1>>> (the first of the list), <<<voice_2>>>."""

    example = '{"voice_id": "..."}'

    voice_id: Annotated[KlingId, _visible("voice_id"), _safe_text("voice_id")]


SHOTS_EXAMPLE = f"[{Shot.example}]"
ELEMENTS_EXAMPLE = f"[{ElementReference.example}]"
VOICES_EXAMPLE = f"[{VoiceReference.example}]"
# A list argument's validators run last to first: JSON text is parsed, then an empty list means none.
MultiPrompt = Annotated[
    Annotated[list[Shot], Field(max_length=MAX_SHOTS)] | None,
    BeforeValidator(_none_when_empty),
    from_json_text(list, SHOTS_EXAMPLE),
    Field(description="Storyboard shots; durations sum to duration."),
]
ShotTypeArgument = Annotated[
    ShotType | None,
    BeforeValidator(blank_to_none),
    Field(description="intelligence: Kling cuts the shots."),
]
ElementList = Annotated[
    Annotated[list[ElementReference], Field(max_length=MAX_ELEMENTS)] | None,
    BeforeValidator(_none_when_empty),
    from_json_text(list, ELEMENTS_EXAMPLE),
    Field(description="Elements to keep consistent."),
]
VoiceList = Annotated[
    Annotated[list[VoiceReference], Field(max_length=MAX_VOICES)] | None,
    BeforeValidator(_none_when_empty),
    from_json_text(list, VOICES_EXAMPLE),
    Field(description="<<<voice_1>>>, <<<voice_2>>> in the prompt; audio on; priced 'with specified voice'."),
]


def _shot_problems(arguments: VideoArguments) -> None:
    """The storyboard's own rules: a customized one needs its shots, and they fill the video's duration."""
    shots = arguments.multi_prompt
    if shots is None:
        if arguments.shot_type == "customize":
            raise ValueError("multi_prompt is required when shot_type is 'customize' (1-6 shots)")
        return
    total = sum(shot.duration for shot in shots)
    if arguments.duration is not None and total != arguments.duration:
        raise ValueError(
            f"multi_prompt: the shots' durations add up to {total} s but duration is {arguments.duration}; make "
            "them equal, or leave duration out"
        )


def _voice_problems(arguments: VideoArguments, prompts: list[str]) -> None:
    """Every <<<voice_N>>> in the prompts names a voice of voice_list."""
    voices = len(arguments.voice_list or ())
    for text in prompts:
        for tag in VOICE_TAG.findall(text):
            if not 1 <= int(tag) <= voices:
                held = f"voice_list holds {voices} voice{'s' * (voices > 1)}" if voices else "no voice_list was given"
                raise ValueError(f"voice_list: the prompt refers to <<<voice_{tag}>>> but {held}")


_MISSING_PROMPT: InitErrorDetails = {"type": "missing", "loc": ("prompt",), "input": None}


def _shots_given(raw: Any) -> bool:
    """Whether a raw multi_prompt argument holds shots (None, [], blank text and "[]" mean none)."""
    return raw not in (None, []) and not (isinstance(raw, str) and raw.strip() in ("", "[]"))


def _as_raised(error: ErrorDetails) -> InitErrorDetails:
    """A reported error as it can be raised again, its type and words unchanged."""
    return {"type": PydanticCustomError(error["type"], error["msg"]), "loc": error["loc"], "input": error["input"]}


class VideoArguments(BaseModel):
    """What every video tool's arguments share: unknown names refused, the parameters both generate tools take
    (declared once, here), and the defaults Kling is sent.

    A tool's model puts its own leading fields first (its `prompt`, and e.g. the images) with a second base,
    `class VideoRequest(VideoArguments, _Lead)`, whose fields pydantic lists before these; it may give a shared field
    a description or a narrower type of its own (`model`: the models of its endpoints), keeping the field's place.
    The order is what a caller is shown ("it takes: ...").
    """

    model_config = ConfigDict(extra="forbid")

    model: str = DEFAULT_MODEL
    mode: Mode = "std"
    aspect_ratio: AspectRatio = "16:9"
    duration: Duration = None
    generate_audio: GenerateAudio = None
    negative_prompt: NegativePrompt = None
    cfg_scale: CfgScale = None
    camera_control: CameraControlArgument = None
    multi_prompt: MultiPrompt = None
    shot_type: ShotTypeArgument = None
    element_list: ElementList = None
    voice_list: VoiceList = None
    timeout: Timeout = None
    callback_url: CallbackUrl = None

    @model_validator(mode="wrap")
    @classmethod
    def _prompt_or_shots(cls, data: Any, handler: ModelWrapValidatorHandler[VideoArguments]) -> VideoArguments:
        """A tool's `prompt` is required unless multi_prompt is given (its shots carry the prompts), and its absence
        is reported beside the other arguments' errors, as any missing argument is. With shots, an empty prompt is
        none (Kling takes an empty one then)."""
        if isinstance(data, dict) and _shots_given(data.get("multi_prompt")):
            text = data.get("prompt")
            data = {**data, "prompt": None} if isinstance(text, str) and not text.strip() else data
        leads = "prompt" in cls.model_fields and isinstance(data, dict) and data.get("prompt") is None
        try:
            validated = handler(data)
        except ValidationError as exc:
            if not leads or _shots_given(data.get("multi_prompt")):
                raise
            errors = [_MISSING_PROMPT, *(_as_raised(error) for error in exc.errors(include_url=False))]
            raise ValidationError.from_exception_data(exc.title, errors) from None
        if leads and validated.multi_prompt is None:
            raise ValidationError.from_exception_data(cls.__name__, [_MISSING_PROMPT])
        return validated

    @model_validator(mode="after")
    def _kling3_rules(self) -> VideoArguments:
        _shot_problems(self)
        prompt = getattr(self, "prompt", None)
        prompts = [prompt] if isinstance(prompt, str) else []
        _voice_problems(self, prompts + [shot.prompt for shot in self.multi_prompt or ()])
        return self

    @property
    def effective_duration(self) -> int:
        """The duration to send: the caller's, a storyboard's total, or 5 seconds."""
        if self.duration is not None:
            return self.duration
        return sum(shot.duration for shot in self.multi_prompt) if self.multi_prompt else 5

    @property
    def storyboard(self) -> bool:
        """Whether the video is a storyboard (Kling's `multi_shot`): shots given, or a shot type chosen."""
        return self.multi_prompt is not None or self.shot_type is not None

    @property
    def wants_audio(self) -> bool | None:
        """generate_audio as asked; left out, a voice_list turns audio on (a voice is speech)."""
        if self.generate_audio is None and self.voice_list:
            return True
        return self.generate_audio

    @property
    def effective_timeout(self) -> float:
        """The caller's timeout, or the spec's default of 300 s."""
        return self.timeout if self.timeout is not None else DEFAULT_TIMEOUT_SECONDS
