"""From a validated tool request to what is sent to Kling: the endpoint, the body, and the journal's entry.

One pass over the capability table per request (`api/combination.judge`: the row for the model, the rules the
request breaks, what is left to Kling), then one body builder per endpoint, chosen by that row; the fields every
endpoint's body takes are filled in one place (`_shared`). The shared machinery
(`service/create/creating.py`: journal, idempotent create) takes a `PreparedRequest` and never looks inside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypedDict

from kling_mcp.api.capabilities import IMAGE_ENDPOINTS, MOTION_ENDPOINTS, TEXT_ENDPOINTS, Feature
from kling_mcp.api.combination import Judged, Verdict, Wanted, judge
from kling_mcp.api.models import (
    CreateBody,
    ElementItem,
    Endpoint,
    Image2VideoBody,
    MotionControlBody,
    OmniImage,
    OmniVideoBody,
    Shot,
    Text2VideoBody,
    VoiceItem,
)
from kling_mcp.service.failures import InvalidInputError, UnsupportedCombinationError
from kling_mcp.service.journal import JournalEntry
from kling_mcp.service.journal.entry import StoryboardShot, TaskSettings
from kling_mcp.service.options import ServiceOptions
from kling_mcp.service.prepare.estimates import Profile, profile_of
from kling_mcp.service.prepare.fields import MAX_SHOT_PROMPT_CHARS, MAX_SHOTS
from kling_mcp.service.prepare.image_request import VideoRequest
from kling_mcp.service.prepare.images import PreparedImage, prepare_image
from kling_mcp.service.prepare.motion_request import MotionRequest
from kling_mcp.service.prepare.reference_video import prepare_reference_video
from kling_mcp.service.prepare.text_request import TextVideoRequest


@dataclass(frozen=True)
class PreparedRequest:
    """A validated request, made once per tool call and handed to the estimate, the user's question and the create:
    where it goes, what is sent, what the journal records, what Kling is to judge, and what the question shows."""

    request: GenerateRequest
    endpoint: Endpoint
    body: CreateBody
    entry: JournalEntry
    profile: Profile  # its billing profile: what the estimate prices
    judged: Judged | None = None  # what the table leaves to Kling for this model
    reference_seconds: float | None = None  # a local reference video's length, as read from its header
    notes: tuple[str, ...] = ()  # what the caller gave that is not sent (`unsent_notes`)


@dataclass(frozen=True)
class Frames:
    """The request's images, prepared (checked, base64 where inline)."""

    start: PreparedImage | None = None
    end: PreparedImage | None = None


@dataclass(frozen=True)
class Addressing:
    """How the task is named and where Kling reports on it."""

    external_task_id: str
    callback_url: str | None


def new_external_task_id() -> str:
    """A fresh id that makes the create idempotent: Kling can be asked for the task by it."""
    return f"kmcp-{uuid.uuid4().hex}"


YES_NO: dict[bool, Literal["yes", "no"]] = {True: "yes", False: "no"}
GenerateRequest = VideoRequest | TextVideoRequest | MotionRequest
"""A request that creates one paid Kling task (the tools whose declaration has `task="create"`)."""
FeatureRequest = VideoRequest | TextVideoRequest


def wanted_of(request: GenerateRequest, *, end_frame: bool = False) -> Wanted:
    """The features a request asks of its model (a motion-control request asks for none, and no duration)."""
    if isinstance(request, MotionRequest):
        return Wanted(request.mode, None, frozenset())
    used: dict[Feature, bool] = {
        "end_frame": end_frame,
        "sound": bool(request.wants_audio),
        "camera_control": request.camera_control is not None,
        "cfg_scale": request.cfg_scale is not None,
        "multi_shot": request.storyboard,
        "element_list": request.element_list is not None,
        "voice_list": request.voice_list is not None,
    }
    # A voice turns audio on when generate_audio is left out (`wants_audio`); errors then name the voice_list.
    voiced = request.generate_audio is None and request.voice_list
    implied: tuple[tuple[Feature, str, str], ...] = (("sound", "voice_list", "audio"),) if voiced else ()
    return Wanted(
        request.mode,
        request.effective_duration,
        frozenset(f for f, on in used.items() if on),
        duration_from_shots=request.duration is None and request.multi_prompt is not None,
        implied=implied,
    )


def _judged(
    request: GenerateRequest, endpoints: tuple[Endpoint, ...], options: ServiceOptions, *, end_frame: bool = False
) -> Verdict:
    """The table's verdict on the request; its broken rules refuse it unless the check is skipped."""
    verdict = judge(request.model, endpoints, wanted_of(request, end_frame=end_frame))
    if verdict.problems and not options.skip_capability_check:
        raise UnsupportedCombinationError(verdict.problems)
    return verdict


def _sound(verdict: Verdict, generate_audio: bool | None) -> Literal["on", "off"] | None:
    # "off" is sent only to models that know the field; "on" always (it reaches a model without audio only when
    # the capability check is skipped, and then Kling should judge it rather than have it silently dropped).
    if generate_audio is None or not (generate_audio or "sound" not in verdict.refused):
        return None
    return "on" if generate_audio else "off"


def _camera(request: FeatureRequest) -> dict[str, object] | None:
    return request.camera_control.model_dump(exclude_none=True) if request.camera_control else None


def _addressing(request: GenerateRequest, options: ServiceOptions) -> Addressing:
    """A fresh external id, and where Kling is to call: with served callbacks our own address (we relay to the
    caller's own URL, kept in the journal), else the caller's."""
    external_id = new_external_task_id()
    if options.callback_url_for is not None:
        return Addressing(external_id, options.callback_url_for(external_id))
    return Addressing(external_id, request.callback_url)


class _Shared(TypedDict):
    """The fields every endpoint's body takes, filled the same way for each."""

    model_name: str
    prompt: str | None  # None (not sent) for a storyboard without one: its shots carry the prompts
    negative_prompt: str | None
    mode: str
    duration: str
    sound: Literal["on", "off"] | None
    multi_shot: bool | None
    shot_type: str | None
    multi_prompt: list[Shot] | None
    element_list: list[ElementItem] | None
    voice_list: list[VoiceItem] | None
    callback_url: str | None
    external_task_id: str


def _shots(request: FeatureRequest) -> list[Shot] | None:
    """The storyboard's shots in order, numbered from 1, each duration a string as Kling's `duration` is."""
    if request.multi_prompt is None:
        return None
    return [Shot(index=n, prompt=s.prompt, duration=str(s.duration)) for n, s in enumerate(request.multi_prompt, 1)]


def _shared(request: FeatureRequest, verdict: Verdict, to: Addressing) -> _Shared:
    storyboard = request.storyboard
    return _Shared(
        model_name=request.model,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        mode=request.mode,
        duration=str(request.effective_duration),
        sound=_sound(verdict, request.wants_audio),
        multi_shot=True if storyboard else None,
        shot_type=(request.shot_type or "customize") if storyboard else None,
        multi_prompt=_shots(request),
        element_list=[ElementItem(element_id=e.element_id) for e in request.element_list or ()] or None,
        voice_list=[VoiceItem(voice_id=v.voice_id) for v in request.voice_list or ()] or None,
        callback_url=to.callback_url,
        external_task_id=to.external_task_id,
    )


def _image2video(request: VideoRequest, shared: _Shared, frames: Frames) -> CreateBody:
    return Image2VideoBody(
        **shared,
        image=frames.start.value if frames.start else None,
        image_tail=frames.end.value if frames.end else None,
        cfg_scale=request.cfg_scale,
        camera_control=_camera(request),
    )


def _omni_video(request: VideoRequest, shared: _Shared, frames: Frames) -> CreateBody:
    # Not a capability (skipping the table check cannot help): the omni endpoint has no such fields.
    for name in ("cfg_scale", "camera_control"):
        if getattr(request, name) is not None:
            raise InvalidInputError(
                name, f"Kling's omni-video endpoint (used by {request.model}) has no {name}; leave it unset"
            )
    images = [OmniImage(image_url=frames.start.value, type="first_frame")] if frames.start else []
    images += [OmniImage(image_url=frames.end.value, type="end_frame")] if frames.end else []
    return OmniVideoBody(**shared, image_list=images, aspect_ratio=request.aspect_ratio)


IMAGE_BUILDERS: dict[Endpoint, Callable[[VideoRequest, _Shared, Frames], CreateBody]] = {
    "image2video": _image2video,
    "omni-video": _omni_video,
}


def unsent_notes(request: GenerateRequest, endpoint: Endpoint) -> tuple[str, ...]:
    """What the caller gave that is accepted but not sent to `endpoint`, in words for the result and the spend
    question: the image tool takes aspect_ratio (tool-spec.md), but Kling's image2video has no such field
    (docs/kling-api.md)."""
    if not isinstance(request, VideoRequest) or "aspect_ratio" not in request.model_fields_set:
        return ()
    if endpoint != "image2video":
        return ()
    image = "start image" if request.start_image_url else "image"
    return (f"aspect_ratio is not sent for image-to-video: the video follows the {image}'s shape",)


def settings_of(request: GenerateRequest) -> TaskSettings | None:
    """What the journal keeps of a request beyond its columns, so look-ups and the player can show what the task was
    made from: a storyboard's shots (bounded as the arguments are) and shot type, a motion task's reference video."""
    settings = TaskSettings()
    if isinstance(request, MotionRequest):
        settings["reference_video_url"] = request.video_url  # an http(s) URL (never inline); scrubbed when stored
        settings["character_orientation"] = request.character_orientation
        if request.keep_original_sound is not None:
            settings["keep_original_sound"] = request.keep_original_sound
        return settings
    if request.multi_prompt:
        settings["shots"] = [
            StoryboardShot(prompt=shot.prompt[:MAX_SHOT_PROMPT_CHARS], duration=shot.duration)
            for shot in request.multi_prompt[:MAX_SHOTS]
        ]
    if request.storyboard:
        settings["shot_type"] = request.shot_type or "customize"  # as `_shared` sends it
    return settings or None


def _prepared(
    request: GenerateRequest,
    verdict: Verdict,
    body: CreateBody,
    to: Addressing,
    frames: Frames,
    options: ServiceOptions,
    reference_seconds: float | None = None,
) -> PreparedRequest:
    """The prepared request, its profile and notes read off the verdict's row (the table is not asked again)."""
    endpoint = verdict.row.endpoint
    profile = profile_of(request, reference_seconds, endpoint=endpoint)
    entry = JournalEntry(
        external_task_id=to.external_task_id,
        endpoint=endpoint,
        model=request.model,
        prompt=request.prompt or "",
        mode=request.mode,
        duration=request.effective_duration,
        start_image=frames.start.reference if frames.start else None,
        end_image=frames.end.reference if frames.end else None,
        callback_url=request.callback_url if options.callback_url_for is not None else None,
        profile=profile.key,
        settings=settings_of(request),
    )
    notes = unsent_notes(request, endpoint)
    return PreparedRequest(request, endpoint, body, entry, profile, verdict.judged, reference_seconds, notes)


def prepare_image_request(request: VideoRequest, options: ServiceOptions) -> PreparedRequest:
    """Check every rule that can be checked locally and build Kling's body for an image request; sends nothing."""
    if not request.start_image_url and not request.end_image_url:
        raise InvalidInputError("start_image_url", "at least one of start_image_url or end_image_url must be provided")
    verdict = _judged(request, IMAGE_ENDPOINTS, options, end_frame=bool(request.end_image_url))
    policy = options.image_policy
    frames = Frames(
        prepare_image("start_image_url", request.start_image_url, policy, is_start=True)
        if request.start_image_url
        else None,
        prepare_image("end_image_url", request.end_image_url, policy, is_start=False)
        if request.end_image_url
        else None,
    )
    to = _addressing(request, options)
    body = IMAGE_BUILDERS[verdict.row.endpoint](request, _shared(request, verdict, to), frames)
    return _prepared(request, verdict, body, to, frames, options)


def prepare_text_request(request: TextVideoRequest, options: ServiceOptions) -> PreparedRequest:
    """Check every rule that can be checked locally and build Kling's text2video body; sends nothing."""
    verdict = _judged(request, TEXT_ENDPOINTS, options)
    to = _addressing(request, options)
    body = Text2VideoBody(
        **_shared(request, verdict, to),
        cfg_scale=request.cfg_scale,
        aspect_ratio=request.aspect_ratio,
        camera_control=_camera(request),
    )
    return _prepared(request, verdict, body, to, Frames(), options)


def prepare_motion_request(request: MotionRequest, options: ServiceOptions) -> PreparedRequest:
    """Check what can be checked locally (the model and mode by the table, the image's bytes, a local reference
    video's format and length) and build Kling's motion-control body; a URL reference's length is Kling's to judge
    (only it fetches that video)."""
    verdict = _judged(request, MOTION_ENDPOINTS, options)
    image = prepare_image("image_url", request.image_url, options.image_policy, is_start=True)
    video = prepare_reference_video(
        request.video_url, request.character_orientation, options.image_policy, options.lent_files
    )
    to = _addressing(request, options)
    body = MotionControlBody(
        model_name=request.model,
        image_url=image.value,
        video_url=video.url,
        character_orientation=request.character_orientation,
        keep_original_sound=None if request.keep_original_sound is None else YES_NO[request.keep_original_sound],
        mode=request.mode,
        prompt=request.prompt,
        callback_url=to.callback_url,
        external_task_id=to.external_task_id,
    )
    return _prepared(request, verdict, body, to, Frames(image), options, video.seconds)


def prepare_request(request: GenerateRequest, options: ServiceOptions) -> PreparedRequest:
    """The request's endpoint, body and journal entry, by its kind (image, text or motion); sends nothing. Asks the
    capability table once and reads each local file once. Blocking (file reads): async callers run it in a worker
    thread (`TaskCreator.prepare`, once per tool call)."""
    if isinstance(request, TextVideoRequest):
        return prepare_text_request(request, options)
    if isinstance(request, MotionRequest):
        return prepare_motion_request(request, options)
    return prepare_image_request(request, options)
