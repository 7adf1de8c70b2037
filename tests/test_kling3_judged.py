"""Issue 23's audit, part B, through a real MCP client against the sandbox: what the capability table is unsure of
(kling-video-o1's durations, audio and storyboards; the 4k mode) is sent for Kling to judge, with the body Kling
receives asserted field by field; the sandbox checks the omni endpoint's 3.0 fields as Kling would."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from pydantic import SecretStr

from kling_mcp.config import Settings
from kling_mcp.http.app import build_http_app
from kling_mcp.http.settings import HttpSettings
from kling_mcp.sandbox.billing import Charge, price_units
from kling_mcp.sandbox.rules import text2video_error
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.service.describe.owners import local_owner
from kling_mcp.service.journal import NEVER_CREATED, open_journal
from kling_mcp.service.journal.element_rows import ElementEntry
from tests.conftest import FAST_RETRY, text_of
from tests.http_support import OTHER_TOKEN, TOKEN, connect
from tests.names import CREATE_ELEMENT, DELETE_ELEMENT, GENERATE, GET_ELEMENT, TEXT
from tests.test_kling3_generate import made_element, sent, task_of
from tests.test_owner_isolation import serve_in_thread

pytestmark = pytest.mark.anyio

IMAGE_URL = "https://images.example.com/lighthouse.png"


async def test_kling_video_o1_storyboard_and_any_duration_of_the_range_are_sent(
    client: Client, sandbox: SandboxServer
) -> None:
    arguments = {
        "prompt": "the beam sweeps the bay",
        "start_image_url": IMAGE_URL,
        "model": "kling-video-o1",
        "duration": 10,
        "shot_type": "intelligence",
    }
    task = task_of(await client.call_tool(GENERATE, arguments))
    assert task["status"] == "succeed"
    path, body = sent(sandbox)
    assert path == "/v1/videos/omni-video"
    assert body == {
        "model_name": "kling-video-o1",
        "image_list": [{"image_url": IMAGE_URL, "type": "first_frame"}],
        "prompt": "the beam sweeps the bay",
        "mode": "std",
        "aspect_ratio": "16:9",
        "duration": "10",
        "multi_shot": True,
        "shot_type": "intelligence",
        "external_task_id": body["external_task_id"],
    }


async def test_kling_video_o1_duration_and_audio_are_kling_s_to_judge(client: Client, sandbox: SandboxServer) -> None:
    """Refused by no local rule: sent as asked, and the sandbox's refusal is reported as Kling's judgement."""
    arguments = {
        "prompt": "waves",
        "start_image_url": IMAGE_URL,
        "model": "kling-video-o1",
        "duration": 7,
        "generate_audio": True,
    }
    result = await client.call_tool(GENERATE, arguments)
    path, body = sent(sandbox)
    assert path == "/v1/videos/omni-video"
    assert body == {
        "model_name": "kling-video-o1",
        "image_list": [{"image_url": IMAGE_URL, "type": "first_frame"}],
        "prompt": "waves",
        "mode": "std",
        "aspect_ratio": "16:9",
        "duration": "7",
        "sound": "on",
        "external_task_id": body["external_task_id"],
    }
    text = text_of(result)
    assert result.is_error and "duration 7 is not supported by kling-video-o1" in text
    assert "generate_audio, duration on kling-video-o1 was sent for Kling to judge" in text
    assert "use a model documented to take it: kling-v3" in text
    assert not sandbox.state.tasks


async def test_4k_reaches_kling_v3_and_is_charged_as_the_sandbox_prices_it(
    client: Client, sandbox: SandboxServer
) -> None:
    task = task_of(await client.call_tool(TEXT, {"prompt": "a lighthouse", "model": "kling-v3", "mode": "4k"}))
    path, body = sent(sandbox)
    assert path == "/v1/videos/text2video"
    assert body == {
        "model_name": "kling-v3",
        "prompt": "a lighthouse",
        "mode": "4k",
        "aspect_ratio": "16:9",
        "duration": "5",
        "external_task_id": body["external_task_id"],
    }
    [made] = sandbox.state.tasks.values()
    assert sandbox.state.view(made)["final_unit_deduction"] == "8"  # the sandbox's 4k: 8 per 5 s
    assert task["status"] == "succeed"


async def test_4k_reaches_kling_v3_omni_with_an_end_frame(client: Client, sandbox: SandboxServer) -> None:
    end = "https://images.example.com/end.png"
    arguments = {"prompt": "dusk", "start_image_url": IMAGE_URL, "end_image_url": end, "model": "kling-v3-omni"}
    task_of(await client.call_tool(GENERATE, {**arguments, "mode": "4k", "duration": 12}))
    _, body = sent(sandbox)
    assert body["image_list"] == [
        {"image_url": IMAGE_URL, "type": "first_frame"},
        {"image_url": end, "type": "end_frame"},
    ]
    assert (body["mode"], body["duration"]) == ("4k", "12")


async def test_4k_on_a_model_without_it_is_refused_before_anything_is_sent(
    client: Client, sandbox: SandboxServer
) -> None:
    result = await client.call_tool(TEXT, {"prompt": "a lighthouse", "model": "kling-v2-6", "mode": "4k"})
    assert result.is_error and "mode must be 'std' or 'pro' for kling-v2-6; got '4k'" in text_of(result)
    assert not sandbox.state.creates()


@pytest.mark.parametrize(
    ("model", "mode", "units"),
    [("kling-v3", "4k", 16.0), ("kling-v3-omni", "4k", 16.0), ("kling-v3", "pro", 8.0)],
)
def test_the_sandbox_prices_4k(model: str, mode: str, units: float) -> None:
    assert price_units(Charge(model, mode, 10.0)) == units


def test_the_sandbox_takes_4k_from_v3_only() -> None:
    body = {"model_name": "kling-v2-6", "prompt": "x", "mode": "4k"}
    assert text2video_error(body) == "mode must be std or pro for kling-v2-6, got '4k'"
    assert text2video_error({**body, "model_name": "kling-v3"}) is None


async def test_the_sandbox_refuses_an_unknown_element_on_the_omni_endpoint(
    client: Client, sandbox: SandboxServer
) -> None:
    arguments = {
        "prompt": "x",
        "start_image_url": IMAGE_URL,
        "model": "kling-v3-omni",
        "element_list": [{"element_id": "999"}],
    }
    result = await client.call_tool(GENERATE, arguments)
    path, body = sent(sandbox)
    assert (path, body["element_list"]) == ("/v1/videos/omni-video", [{"element_id": "999"}])
    assert result.is_error and "element_list[1].element_id 999 does not exist" in text_of(result)
    assert "element_list on kling-v3-omni was sent for Kling to judge" in text_of(result)
    assert not sandbox.state.tasks


async def test_the_sandbox_checks_omni_storyboards_and_voices(client: Client, sandbox: SandboxServer) -> None:
    keeper = made_element(sandbox)
    base: dict[str, object] = {"prompt": "x", "start_image_url": IMAGE_URL, "model": "kling-v3-omni"}
    base["element_list"] = [{"element_id": keeper}]
    shots = [{"prompt": "a wave", "duration": 5}]
    refused = await client.call_tool(GENERATE, {**base, "shot_type": "intelligence", "multi_prompt": shots})
    assert refused.is_error and "multi_prompt must be empty when shot_type is intelligence" in text_of(refused)
    voiced = await client.call_tool(GENERATE, {**base, "voice_list": [{"voice_id": "v1"}]})
    assert voiced.is_error and "voice_list is not supported by kling-v3-omni" in text_of(voiced)
    assert not sandbox.state.tasks
    task_of(await client.call_tool(GENERATE, base))
    last = sandbox.state.creates()[-1].body
    assert last is not None and last["element_list"] == [{"element_id": keeper}]


# Elements are their owner's (issue 23): a generate call may not send an element the journal says is another
# owner's (refused as an unknown id is), deleted, or never made; ids the journal does not know are Kling's to judge.
ELEMENT_ARGS = {
    "element_name": "Keeper",
    "element_description": "the lighthouse keeper",
    "frontal_image": "https://images.example.com/keeper.png",
    "refer_images": ["https://images.example.com/keeper-side.png"],
}


def video_creates(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return [r.body or {} for r in sandbox.state.creates() if r.path.startswith("/v1/videos/")]


async def test_a_generate_call_cannot_send_another_owner_s_element(settings: Settings, sandbox: SandboxServer) -> None:
    tokens = (SecretStr(TOKEN), SecretStr(OTHER_TOKEN))
    app = build_http_app(settings, HttpSettings(), tokens, retry_policy=FAST_RETRY).app
    with serve_in_thread(app) as url:
        async with connect(url, TOKEN) as alice, connect(url, OTHER_TOKEN) as bob:
            made = await alice.call_tool(CREATE_ELEMENT, ELEMENT_ARGS)
            assert not made.is_error and made.structured_content is not None, text_of(made)
            element_id = made.structured_content["result"]["element_id"]
            from_console = made_element(sandbox)  # made at Kling outside kling-mcp: the journal does not know it
            for any_id in (element_id, made.structured_content["result"]["external_task_id"]):
                args = {"prompt": "the keeper", "model": "kling-v3", "element_list": [{"element_id": any_id}]}
                theirs = await bob.call_tool(TEXT, args)
                unknown = await bob.call_tool(GET_ELEMENT, {"element_id": any_id})
                assert theirs.is_error and unknown.is_error
                assert text_of(theirs) == text_of(unknown).replace(GET_ELEMENT, TEXT)
            assert video_creates(sandbox) == []  # nothing sent

            both = [{"element_id": from_console}, {"element_id": element_id}]
            task_of(await alice.call_tool(TEXT, {"prompt": "the keeper", "model": "kling-v3", "element_list": both}))
            task_of(await bob.call_tool(TEXT, {"prompt": "a keeper", "model": "kling-v3", "element_list": both[:1]}))
            [alices, bobs] = video_creates(sandbox)
            assert (alices["model_name"], alices["prompt"], alices["element_list"]) == ("kling-v3", "the keeper", both)
            assert (bobs["model_name"], bobs["prompt"], bobs["element_list"]) == ("kling-v3", "a keeper", both[:1])

            assert not (await alice.call_tool(DELETE_ELEMENT, {"element_id": element_id})).is_error
            args = {"prompt": "again", "model": "kling-v3", "element_list": both}
            gone = await alice.call_tool(TEXT, args)
            assert gone.is_error and f"element_list[2]: element '{element_id}' was deleted" in text_of(gone)
            assert "create it again" in text_of(gone) and len(video_creates(sandbox)) == 2


async def test_an_element_creation_that_made_no_element_is_refused_by_index(
    client: Client, settings: Settings, sandbox: SandboxServer
) -> None:
    journal = open_journal(settings.resolved_journal())
    try:
        journal.record_element_intent(ElementEntry("kmcp-ghost", "ghost", owner=local_owner()))
        journal.record_element("kmcp-ghost", NEVER_CREATED)
        assert len(journal.elements_named(["kmcp-ghost", "nope", "kmcp-ghost"])) == 1  # one query for the list
    finally:
        journal.close()
    elements = [{"element_id": made_element(sandbox)}, {"element_id": "kmcp-ghost"}]
    result = await client.call_tool(TEXT, {"prompt": "x", "model": "kling-v3", "element_list": elements})
    text = text_of(result)
    assert result.is_error and "element_list[2]: 'kmcp-ghost' is an element creation that made no element" in text
    assert "(status never_created)" in text and not video_creates(sandbox)
