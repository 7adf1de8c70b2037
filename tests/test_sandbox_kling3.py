"""The sandbox's Kling 3.0 additions, over real HTTP: storyboards (`multi_shot`), `element_list` with the element
endpoints behind it, `voice_list`, and motion control. Each refusal is Kling's 1201 naming the parameter, and a
refused create makes no task.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kling_mcp.sandbox.runner import SandboxServer
from tests.sandbox_http import ELEMENTS, IMAGE, answer, finished, signed


def _v3(**extra: Any) -> dict[str, Any]:
    return {"model_name": "kling-v3", "mode": "std", "duration": "10", "prompt": "a lantern sways", **extra}


def _shots(*seconds: str) -> dict[str, Any]:
    prompts = [{"index": n, "prompt": f"shot {n}", "duration": s} for n, s in enumerate(seconds, start=1)]
    return {"multi_shot": True, "shot_type": "customize", "multi_prompt": prompts}


def _refused(http: httpx.Client, path: str, body: dict[str, Any], sandbox: SandboxServer) -> str:
    before = len(sandbox.state.tasks)
    status, code, _, message = answer(http.post(path, json=body))
    assert (status, code) == (400, 1201), message
    assert len(sandbox.state.tasks) == before
    return message


@pytest.mark.parametrize("endpoint", ["text2video", "image2video"])
def test_a_storyboard_finishes_as_one_video_of_the_total_length(sandbox: SandboxServer, endpoint: str) -> None:
    body = _v3(image=IMAGE, **_shots("3", "4", "3")) if endpoint == "image2video" else _v3(**_shots("3", "4", "3"))
    body.pop("prompt")  # the shots carry the prompts
    with signed(sandbox) as http:
        _, code, created, message = answer(http.post(f"/v1/videos/{endpoint}", json=body))
        assert code == 0, message
        task = finished(http, f"/v1/videos/{endpoint}/{created['task_id']}")
    assert task["task_status"] == "succeed" and task["task_result"]["videos"][0]["duration"] == "10"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (_v3(**_shots("3", "4")), "multi_prompt durations add up to 7"),
        (_v3(duration="14", **_shots(*["2"] * 7)), "multi_prompt must hold 1 to 6"),
        (_v3(multi_shot=True, shot_type="customize", multi_prompt=[{"prompt": "x" * 513, "duration": "10"}]), "prompt"),
        (_v3(multi_shot=True, multi_prompt=[{"prompt": "a", "duration": "10"}]), "shot_type"),
        (_v3(multi_shot=True, shot_type="auto"), "shot_type"),
        (_v3(multi_shot=True, shot_type="intelligence", multi_prompt=[{"prompt": "a", "duration": "10"}]), "intelli"),
        (_v3(multi_prompt=[{"prompt": "a", "duration": "10"}]), "require multi_shot true"),
        (_v3(multi_shot="yes"), "multi_shot must be a boolean"),
        (_v3(multi_shot=True, shot_type="customize", multi_prompt=[{"prompt": "a", "duration": 10}]), "duration"),
        (_v3(**{**_shots("5", "5"), "multi_prompt": [{"index": 1, "prompt": "a", "duration": "5"}] * 2}), "index"),
        (dict(_v3(**_shots("5", "5")), model_name="kling-v2-6", duration="10"), "multi_shot is not supported"),
        (_v3(duration="16", **_shots("8", "8")), "duration 16"),
    ],
)
def test_a_wrong_storyboard_is_1201_naming_the_parameter(
    sandbox: SandboxServer, body: dict[str, Any], named: str
) -> None:
    with signed(sandbox) as http:
        assert named in _refused(http, "/v1/videos/text2video", body, sandbox)


def test_intelligence_storyboards_need_only_the_prompt(sandbox: SandboxServer) -> None:
    with signed(sandbox) as http:
        assert answer(http.post("/v1/videos/text2video", json=_v3(multi_shot=True, shot_type="intelligence")))[1] == 0


def _element(**extra: Any) -> dict[str, Any]:
    images = {"frontal_image": IMAGE, "refer_images": [{"image_url": IMAGE}]}
    body = {"element_name": "hero", "element_description": "a lantern keeper", "reference_type": "image_refer"}
    return {**body, "element_image_list": images, "tag_list": [{"tag_id": "o_102"}], **extra}


def _made_element(http: httpx.Client) -> str:
    _, code, created, message = answer(http.post(ELEMENTS, json=_element()))
    assert code == 0 and created["task_status"] == "submitted", message
    task = finished(http, f"{ELEMENTS}/{created['task_id']}")
    assert task["task_status"] == "succeed"
    return str(task["task_result"]["elements"][0]["element_id"])


def test_an_element_is_made_listed_used_and_deleted(sandbox: SandboxServer) -> None:
    with signed(sandbox) as http:
        element_id = _made_element(http)
        _, code, listed, _ = answer(http.get(f"{ELEMENTS}?pageNum=1&pageSize=30"))
        assert code == 0 and [t["task_result"]["elements"][0]["element_id"] for t in listed] == [element_id]
        body = _v3(element_list=[{"element_id": element_id}])
        assert answer(http.post("/v1/videos/text2video", json=body))[1] == 0
        deleted = answer(http.post("/v1/general/delete-elements", json={"element_id": element_id}))
        assert deleted[:3] == (200, 0, {"element_id": element_id})
        assert "does not exist" in _refused(http, "/v1/videos/text2video", body, sandbox)
        status, code, _, _ = answer(http.post("/v1/general/delete-elements", json={"element_id": element_id}))
        assert (status, code) == (404, 1203)


def test_element_list_refers_only_to_existing_elements_at_most_three(sandbox: SandboxServer) -> None:
    with signed(sandbox) as http:
        made = _made_element(http)
        assert "element_list[1].element_id 404 does not exist" in _refused(
            http, "/v1/videos/text2video", _v3(element_list=[{"element_id": 404}]), sandbox
        )
        four = _v3(element_list=[{"element_id": made}] * 4)
        assert "at most 3" in _refused(http, "/v1/videos/text2video", four, sandbox)
        on_v26 = dict(_v3(element_list=[{"element_id": made}]), model_name="kling-v2-6", duration="5")
        assert "element_list is not supported" in _refused(http, "/v1/videos/text2video", on_v26, sandbox)


def test_an_element_still_being_made_cannot_be_used(sandbox: SandboxServer) -> None:
    sandbox.state.config.run_seconds = 30.0
    with signed(sandbox) as http:
        _, _, created, _ = answer(http.post(ELEMENTS, json=_element()))
        assert created["task_result"]["elements"] == []
        (task,) = sandbox.state.elements.tasks.values()
        body = _v3(element_list=[{"element_id": task.element_id}])
        assert "does not exist" in _refused(http, "/v1/videos/text2video", body, sandbox)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (_element(element_name="x" * 21), "element_name"),
        (_element(element_description=""), "element_description"),
        (_element(reference_type="photo"), "reference_type"),
        (_element(element_image_list={"frontal_image": IMAGE, "refer_images": [{"image_url": IMAGE}] * 4}), "1 to 3"),
        (_element(element_image_list={"refer_images": [{"image_url": IMAGE}]}), "frontal_image"),
        (_element(element_voice_id="v-1"), "element_voice_id"),
        (_element(tag_list=[{"tag_id": "o_999"}]), "tag_list"),
    ],
)
def test_a_wrong_element_is_1201_naming_the_field(sandbox: SandboxServer, body: dict[str, Any], named: str) -> None:
    with signed(sandbox) as http:
        status, code, _, message = answer(http.post(ELEMENTS, json=body))
    assert (status, code) == (400, 1201) and named in message and sandbox.state.elements.tasks == {}


def test_voices_are_taken_on_v3_with_sound_when_the_prompt_refers_to_them(sandbox: SandboxServer) -> None:
    body = _v3(sound="on", prompt="<<<voice_1>>> says hello to <<<voice_2>>>")
    body["voice_list"] = [{"voice_id": "v-1"}, {"voice_id": "v-2"}]
    with signed(sandbox) as http:
        assert answer(http.post("/v1/videos/text2video", json=body))[1] == 0


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (_v3(sound="on", voice_list=[{"voice_id": f"v-{n}"} for n in range(3)]), "voice_list must hold 1 to 2"),
        (_v3(sound="off", voice_list=[{"voice_id": "v-1"}]), "voice_list requires sound on"),
        (_v3(sound="on", voice_list=[{"id": "v-1"}]), "voice_list[1].voice_id"),
        (_v3(sound="on", prompt="<<<voice_2>>> speaks", voice_list=[{"voice_id": "v-1"}]), "<<<voice_2>>>"),
        (
            dict(_v3(sound="on", voice_list=[{"voice_id": "v"}]), model_name="kling-v2-6", mode="pro", duration="5"),
            "voice_list is not supported by kling-v2-6",
        ),
    ],
)
def test_wrong_voices_are_1201_naming_voice_list(sandbox: SandboxServer, body: dict[str, Any], named: str) -> None:
    with signed(sandbox) as http:
        assert named in _refused(http, "/v1/videos/text2video", body, sandbox)


def _motion(sandbox: SandboxServer, seconds: str, orientation: str, **extra: Any) -> dict[str, Any]:
    video = f"{sandbox.url}/sandbox/reference/{seconds}s.mp4"
    return {"image_url": IMAGE, "video_url": video, "character_orientation": orientation, "mode": "std", **extra}


def test_motion_control_makes_a_video_as_long_as_the_reference(sandbox: SandboxServer) -> None:
    with signed(sandbox) as http:
        body = _motion(sandbox, "7", "image", keep_original_sound="no")
        _, code, created, message = answer(http.post("/v1/videos/motion-control", json=body))
        assert code == 0, message
        task = finished(http, f"/v1/videos/motion-control/{created['task_id']}")
        _, code, listed, _ = answer(http.get("/v1/videos/motion-control?pageNum=1&pageSize=30"))
        reference = httpx.get(body["video_url"])
    assert task["task_status"] == "succeed" and task["task_result"]["videos"][0]["duration"] == "7"
    assert task["final_unit_deduction"] == "2.1"  # kling-v2-6 std: 1.5 units per 5 s, for 7 s
    assert code == 0 and [t["task_id"] for t in listed] == [created["task_id"]]
    assert reference.status_code == 200 and reference.headers["content-type"] == "video/mp4"


def test_a_test_can_name_a_reference_videos_length(sandbox: SandboxServer) -> None:
    sandbox.state.config.reference_videos["https://cdn.example.com/dance.mp4"] = 20.0
    body = {**_motion(sandbox, "5", "video", model_name="kling-v3"), "video_url": "https://cdn.example.com/dance.mp4"}
    with signed(sandbox) as http:
        _, code, created, _ = answer(http.post("/v1/videos/motion-control", json=body))
        task = finished(http, f"/v1/videos/motion-control/{created['task_id']}")
    assert code == 0 and task["task_result"]["videos"][0]["duration"] == "20"


@pytest.mark.parametrize(
    ("seconds", "orientation", "extra", "named"),
    [
        ("12", "image", {}, "video_url duration 12s is out of range 3~10s"),
        ("31", "video", {}, "video_url duration 31s is out of range 3~30s"),
        ("2", "video", {}, "video_url duration 2s"),
        ("5", "face", {}, "character_orientation"),
        ("5", "image", {"model_name": "kling-v2-5-turbo"}, "model_name"),
        ("5", "image", {"mode": None}, "mode"),
        ("5", "image", {"keep_original_sound": True}, "keep_original_sound"),
        ("5", "image", {"image_url": "data:image/png;base64,AAAA"}, "image_url"),
        ("5", "image", {"video_url": "ftp://example.com/dance.mp4"}, "video_url"),
    ],
)
def test_a_wrong_motion_control_is_1201_naming_the_parameter(
    sandbox: SandboxServer, seconds: str, orientation: str, extra: dict[str, Any], named: str
) -> None:
    body = {**_motion(sandbox, seconds, orientation), **extra}
    with signed(sandbox) as http:
        assert named in _refused(http, "/v1/videos/motion-control", body, sandbox)
    assert answer(httpx.post(f"{sandbox.url}/v1/videos/motion-control", json=body))[1] == 1001  # unsigned: 401
