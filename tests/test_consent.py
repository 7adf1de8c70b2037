"""Never spend without consent: the user is asked before a paid create (KLING_MCP_CONFIRM_SPEND), through real MCP
clients (the Python SDK's, with and without an elicitation callback) in both protocol eras, against the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequestParams, ElicitResult, ErrorData

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.server.consent import NOT_ASKED_CLIENT, question
from kling_mcp.service.options import ServiceOptions
from kling_mcp.service.prepare.bodies import prepare_request
from kling_mcp.service.prepare.estimates import Estimate
from kling_mcp.service.prepare.images import ImagePolicy
from kling_mcp.service.prepare.text_request import TextVideoRequest
from tests.conftest import (
    FAST_RETRY,
    PROTOCOL_MODES,
    journal_entries,
    journal_entry,
    make_settings,
    settled_journal_entry,
    text_of,
)
from tests.http_support import TOKEN, connect, run_server
from tests.names import GENERATE, GET, LIST, MOTION, TEXT
from tests.tasks_support import SepTasksClient, legacy_request
from tests.video_files import write_video

pytestmark = pytest.mark.anyio

TEXT_ARGS = {"prompt": "a paper boat drifting down a rainy street", "model": "kling-v3", "mode": "pro", "duration": 10}
IMAGE_ARGS = {"prompt": "a paper boat drifting", "start_image_url": "https://images.example.com/boat.png"}


class User:
    """An elicitation callback that answers like a person would, and remembers what it was shown."""

    def __init__(self, action: Literal["accept", "decline", "cancel"] = "accept", approve: bool = True) -> None:
        self.action, self.approve = action, approve
        self.questions: list[ElicitRequestParams] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        del context  # the SDK's callback signature; nothing in it matters here
        self.questions.append(params)
        content = {"approve": self.approve} if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)


def _server(sandbox: SandboxServer, tmp_path: Path, **settings: Any) -> Any:
    return build_server(make_settings(sandbox, tmp_path, **settings), retry_policy=FAST_RETRY)


def _client(sandbox: SandboxServer, tmp_path: Path, mode: str, user: User | None = None, **settings: Any) -> Client:
    return Client(_server(sandbox, tmp_path, **settings), mode=mode, elicitation_callback=user)


def _result(answer: Any) -> dict[str, Any]:
    assert not answer.is_error, text_of(answer)
    task: dict[str, Any] = answer.structured_content["result"]
    return task


@pytest.mark.parametrize("mode", PROTOCOL_MODES)
async def test_an_approved_create_shows_the_final_settings_and_the_estimate_then_creates_once(
    mode: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    user = User()
    async with _client(sandbox, tmp_path, mode, user) as client:
        task = _result(await client.call_tool(TEXT, {**TEXT_ARGS, "generate_audio": True}))
        looked_up = _result(await client.call_tool(GET, {"task_id": task["task_id"]}))
        listed = await client.call_tool(LIST, {})
    [asked] = user.questions
    assert "Model: kling-v3, mode pro, 10 s, aspect ratio 16:9, sound on." in asked.message
    assert "Prompt: a paper boat drifting down a rainy street" in asked.message
    assert "Estimated cost: 16 units (our price table)" in asked.message
    assert list(asked.requested_schema["properties"]) == ["approve"]  # type: ignore[union-attr]
    assert len(sandbox.state.creates()) == 1
    assert (task["status"], task["spend_approval"]) == ("succeed", "confirmed by the user")
    assert (task["estimated_units"], task["estimate_basis"], task["final_unit_deduction"]) == (
        16.0,
        "prior table",
        "12",
    )
    assert (looked_up["estimated_units"], looked_up["final_unit_deduction"]) == (16.0, "12")  # kept in the journal
    # Who approved the spend is kept with the task: a later look-up and the list say it (the team's audit trail).
    assert looked_up["spend_approval"] == "confirmed by the user"
    assert listed.structured_content is not None
    assert [t["spend_approval"] for t in listed.structured_content["result"]] == ["confirmed by the user"]


@pytest.mark.parametrize("mode", PROTOCOL_MODES)
@pytest.mark.parametrize(
    ("action", "approve", "said"),
    [("decline", True, "declined"), ("cancel", True, "cancelled"), ("accept", False, "declined")],
)
async def test_a_declined_or_cancelled_question_sends_nothing_and_is_no_error(
    mode: str,
    action: Literal["accept", "decline", "cancel"],
    approve: bool,
    said: str,
    sandbox: SandboxServer,
    tmp_path: Path,
) -> None:
    user = User(action, approve)
    async with _client(sandbox, tmp_path, mode, user) as client:
        answer = await client.call_tool(GENERATE, IMAGE_ARGS)
    task = _result(answer)
    assert sandbox.state.creates() == []
    assert (task["status"], task["task_id"], task["done"], task["spend_approval"]) == ("declined", None, True, said)
    assert task["estimated_units"] == 10.0  # kling-v2-master, std, 5 s: our prior table
    assert "nothing was sent to Kling" in task["next_step"] and "Do not try again on your own" in task["next_step"]
    assert "declined" in text_of(answer)
    assert journal_entries(make_settings(sandbox, tmp_path)) == []


@pytest.mark.parametrize("mode", PROTOCOL_MODES)
async def test_a_client_that_cannot_ask_creates_under_auto_and_is_told_so(
    mode: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    async with _client(sandbox, tmp_path, mode) as client:
        task = _result(await client.call_tool(GENERATE, IMAGE_ARGS))
    assert len(sandbox.state.creates()) == 1
    assert task["spend_approval"].startswith("not asked: this client cannot ask the user")


@pytest.mark.parametrize("mode", PROTOCOL_MODES)
async def test_a_client_that_cannot_ask_is_refused_under_always_and_nothing_is_sent(
    mode: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    async with _client(sandbox, tmp_path, mode, KLING_MCP_CONFIRM_SPEND="always") as client:
        answer = await client.call_tool(GENERATE, IMAGE_ARGS)
    assert answer.is_error
    assert "KLING_MCP_CONFIRM_SPEND=always" in text_of(answer) and "No request was sent to Kling" in text_of(answer)
    assert sandbox.state.creates() == [] and journal_entries(make_settings(sandbox, tmp_path)) == []


async def test_off_never_asks(sandbox: SandboxServer, tmp_path: Path) -> None:
    user = User("decline")
    async with _client(sandbox, tmp_path, "auto", user, KLING_MCP_CONFIRM_SPEND="off") as client:
        task = _result(await client.call_tool(GENERATE, IMAGE_ARGS))
    assert user.questions == [] and len(sandbox.state.creates()) == 1
    assert task["spend_approval"] == "not asked: KLING_MCP_CONFIRM_SPEND=off"


async def test_bad_input_is_refused_before_anyone_is_asked(sandbox: SandboxServer, tmp_path: Path) -> None:
    user = User()
    async with _client(sandbox, tmp_path, "auto", user) as client:
        answer = await client.call_tool(GENERATE, {**IMAGE_ARGS, "model": "kling-v2-master", "duration": 7})
    assert answer.is_error and "duration must be 5 or 10" in text_of(answer)
    assert user.questions == [] and sandbox.state.creates() == []


async def test_the_estimate_learns_what_kling_charged_and_the_journal_keeps_it(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    """Our prior says 16 units for kling-v3 pro 10 s with sound; the sandbox charges 12: the next question says so."""
    user, arguments = User(), {**TEXT_ARGS, "generate_audio": True}
    async with _client(sandbox, tmp_path, "auto", user) as client:
        first = _result(await client.call_tool(TEXT, arguments))
        # The finished status (and the charge) is written just after the call answers (the recorder's thread).
        await settled_journal_entry(make_settings(sandbox, tmp_path), first["task_id"], "succeed")
        answer = await client.call_tool(TEXT, arguments)
        second = _result(answer)
        silent = _result(await client.call_tool(TEXT, TEXT_ARGS))  # another profile: still the prior
    assert (first["estimated_units"], first["estimate_basis"], first["final_unit_deduction"]) == (
        16.0,
        "prior table",
        "12",
    )
    assert (second["estimated_units"], second["estimate_basis"]) == (12.0, "learned from 1 task")
    assert "Estimated cost: 12 units (what Kling charged for these settings before)" in user.questions[1].message
    assert (silent["estimated_units"], silent["estimate_basis"]) == (8.0, "prior table")
    assert "Estimated: 12 units, learned from 1 task.\nCost at Kling: 12 units." in text_of(answer)
    entry = journal_entry(make_settings(sandbox, tmp_path), second["task_id"])
    assert entry is not None and entry.estimated_units == 12.0 and entry.profile == "text2video/kling-v3/pro/10s/sound"


# --- the MCP tasks path obeys the same rule ------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "creates"), [("accept", 1), ("decline", 0)])
async def test_a_2026_task_call_asks_first(
    action: Literal["accept", "decline"], creates: int, sandbox: SandboxServer, tmp_path: Path
) -> None:
    user, tasks = User(action), SepTasksClient()
    async with Client(_server(sandbox, tmp_path), mode="auto", extensions=[tasks], elicitation_callback=user) as client:
        task = _result(await client.call_tool(GENERATE, IMAGE_ARGS))
    assert len(user.questions) == 1 and len(sandbox.state.creates()) == creates
    assert task["status"] == ("succeed" if creates else "declined")
    assert bool(tasks.seen) == bool(creates)  # a declined call never became an MCP task


@pytest.mark.slow
@pytest.mark.parametrize(("action", "creates"), [("accept", 1), ("decline", 0)])
async def test_a_2025_task_call_asks_first(
    action: Literal["accept", "decline"], creates: int, sandbox: SandboxServer, tmp_path: Path
) -> None:
    user = User(action)
    async with Client(_server(sandbox, tmp_path), mode="legacy", elicitation_callback=user) as client:
        params = {"name": GENERATE, "arguments": IMAGE_ARGS, "task": {"ttl": 60_000}}
        if creates:
            created = await legacy_request(client, "tools/call", params)
            assert created["task"]["status"] == "working"
        else:
            with pytest.raises(MCPError, match=r"did not approve|declined"):
                await legacy_request(client, "tools/call", params)
    assert len(user.questions) == 1 and len(sandbox.state.creates()) == creates


@pytest.mark.parametrize("mode", PROTOCOL_MODES)
async def test_a_task_call_from_a_client_that_cannot_ask_is_refused_under_always(
    mode: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    server = _server(sandbox, tmp_path, KLING_MCP_CONFIRM_SPEND="always")
    if mode == "legacy":
        async with Client(server, mode="legacy") as client:
            params = {"name": GENERATE, "arguments": IMAGE_ARGS, "task": {"ttl": 60_000}}
            with pytest.raises(MCPError, match="KLING_MCP_CONFIRM_SPEND=always"):
                await legacy_request(client, "tools/call", params)
    else:
        async with Client(server, mode="auto", extensions=[SepTasksClient()]) as client:
            answer = await client.call_tool(GENERATE, IMAGE_ARGS)
        assert answer.is_error and "KLING_MCP_CONFIRM_SPEND=always" in text_of(answer)
    assert sandbox.state.creates() == []


def test_the_question_stays_the_same_while_more_tasks_of_its_settings_finish() -> None:
    """In 2026-07-28 the call runs again with the answer, which counts only for the question exactly as shown: a
    task of the same settings finishing in between must not make the user answer twice."""
    request = prepare_request(TextVideoRequest.model_validate(TEXT_ARGS), ServiceOptions())
    assert question(request, Estimate(8.0, "learned", 3)) == question(request, Estimate(8.0, "learned", 4))
    assert question(request, Estimate(8.0, "prior")) != question(request, Estimate(8.0, "learned", 1))


# --- over streamable HTTP -------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stateless", "mode", "asked"),
    [(False, "legacy", True), (True, "legacy", False), (True, "auto", True)],
    ids=["2025-session", "2025-stateless", "2026-stateless"],
)
async def test_over_http_the_question_reaches_every_client_that_can_take_it(
    stateless: bool, mode: str, asked: bool, settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """A stateless 2025-11-25 session keeps no client capabilities (nor a stream back for a question in the middle of
    a call): that client cannot be asked (auto creates and says so); 2026-07-28 asks in the call's own answer."""
    user = User()
    with run_server(settings, tmp_path, *(["--stateless"] if stateless else []), KLING_MCP_AUTH_TOKEN=TOKEN) as server:
        async with connect(server.mcp_url, mode=mode, elicitation_callback=user) as client:
            task = _result(await client.call_tool(GENERATE, IMAGE_ARGS))
        log = server.stderr()
    assert len(user.questions) == (1 if asked else 0) and len(sandbox.state.creates()) == 1
    assert task["spend_approval"] == ("confirmed by the user" if asked else NOT_ASKED_CLIENT)
    # The start-up log says so when the server is stateless (KLING_MCP_CONFIRM_SPEND is auto by default).
    warned = "clients on the 2025-11-25 protocol (the initialize handshake" in log
    assert warned == stateless and ("go ahead WITHOUT confirmation" in log) == stateless


@pytest.mark.parametrize("mode", PROTOCOL_MODES)
async def test_a_motion_control_create_is_asked_with_its_length_bounded_by_the_reference(
    mode: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    user = User()
    arguments = {
        "image_url": "https://images.example.com/dancer.png",
        "video_url": "https://videos.example.com/sandbox/reference/6s.mp4",
        "character_orientation": "video",
        "keep_original_sound": True,
    }
    async with _client(sandbox, tmp_path, mode, user) as client:
        task = _result(await client.call_tool(MOTION, arguments))
        assert task["status"] == "succeed"
        await client.call_tool(MOTION, arguments)  # now priced by the rate the first one was charged at
    [asked, again] = user.questions
    # 6 s charged 1.8: 0.3 per second, times the longest reference (30 s), named as a rate, not as a past charge.
    assert (
        "Estimated cost: at most 9 units (the highest rate per second Kling charged for these settings before, "
        "for the longest reference)" in again.message
    ), again.message
    assert (
        "Model: kling-v2-6, mode std, as long as the reference video (at most 30 s), framed as the image, "
        "the reference's sound kept." in asked.message
    )
    assert "Prompt: (none)" in asked.message
    assert "Estimated cost: at most 9 units (our price table)" in asked.message  # 1.5 per 5 s, for 30 s
    assert task["estimated_units"] == 9
    creates = [r for r in sandbox.state.requests if r.method == "POST" and r.path == "/v1/videos/motion-control"]
    assert len(creates) == 2


async def test_a_local_reference_is_asked_and_priced_at_the_length_read_from_the_file(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    """A local reference video (lent to Kling at the public URL) has a known length: no "at most" ceiling."""
    user = User()
    video = write_video(tmp_path / "clips" / "dance.mp4", 7.5, moov_last=True)
    settings = make_settings(sandbox, tmp_path, KLING_MCP_PUBLIC_URL="http://127.0.0.1:9")
    server = build_server(
        settings, image_policy=ImagePolicy(roots=(video.parent,)), retry_policy=FAST_RETRY, serve_callbacks=True
    )
    arguments = {"image_url": "https://images.example.com/dancer.png", "video_url": str(video)}
    async with Client(server, elicitation_callback=user) as client:
        task = _result(await client.call_tool(MOTION, {**arguments, "character_orientation": "image", "timeout": 0}))
    [asked] = user.questions
    assert "as long as the reference video (7.5 s), framed as the image" in asked.message, asked.message
    assert "Estimated cost: 2.4 units (our price table)" in asked.message  # 1.5 per 5 s, for 8 whole seconds
    assert task["estimated_units"] == 2.4
    [create] = sandbox.state.creates()
    assert create.body is not None and create.body["video_url"].startswith("http://127.0.0.1:9/kling/reference/")
    entry = journal_entry(settings, task["task_id"])
    assert entry is not None and entry.profile == "motion-control/kling-v2-6/std/8s/silent"


@pytest.mark.parametrize("mode", PROTOCOL_MODES)
async def test_nobody_is_asked_to_approve_a_create_the_spend_limit_will_refuse(
    mode: str, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """The auditor's probe (issue 22): asked "8 units", then "Spend limit reached". The read-only pre-check refuses
    first, with the very words of the authoritative check (made here with confirmation off), and sends nothing."""
    user = User()
    async with _client(sandbox, tmp_path, mode, user, KLING_MCP_SPEND_LIMIT=1) as client:
        refused = await client.call_tool(TEXT, TEXT_ARGS)
    async with _client(sandbox, tmp_path, mode, None, KLING_MCP_SPEND_LIMIT=1, KLING_MCP_CONFIRM_SPEND="off") as c:
        authoritative = await c.call_tool(TEXT, TEXT_ARGS)
    assert user.questions == []
    assert refused.is_error and "Spend limit reached: local" in text_of(refused)
    assert text_of(refused) == text_of(authoritative)
    assert sandbox.state.creates() == [] and journal_entries(make_settings(sandbox, tmp_path)) == []
