"""The custom element tools (create, list, get, delete) through a real MCP client against the sandbox: the bodies
Kling receives asserted field by field, the journal's record of who made which element, and owner isolation."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from pydantic import SecretStr

from kling_mcp.config import Settings
from kling_mcp.http.app import build_http_app
from kling_mcp.http.settings import HttpSettings
from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.server.build import build_server
from kling_mcp.service.describe.owners import local_owner
from kling_mcp.service.journal import open_journal
from tests.conftest import EXAMPLE_PNG, FAST_RETRY, text_of
from tests.http_support import OTHER_TOKEN, TOKEN, connect
from tests.journal_faults import corrupt
from tests.names import CREATE_ELEMENT as CREATE
from tests.names import DELETE_ELEMENT as DELETE
from tests.names import GET_ELEMENT as GET
from tests.names import LIST_ELEMENTS as LIST
from tests.test_owner_isolation import serve_in_thread

pytestmark = pytest.mark.anyio

FRONT = "https://images.example.com/hero-front.png"
SIDE = "https://images.example.com/hero-side.png"
BACK = "https://images.example.com/hero-back.png"
ARGS: dict[str, Any] = {
    "element_name": "Captain Mira",
    "element_description": "a red-haired pilot in a blue flight suit",
    "frontal_image": FRONT,
    "refer_images": [SIDE],
}


def element_of(result: Any) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    element: dict[str, Any] = result.structured_content["result"]
    return element


async def test_create_sends_klings_fields_and_returns_the_element(client: Client, sandbox: SandboxServer) -> None:
    made = element_of(
        await client.call_tool(CREATE, {**ARGS, "refer_images": [SIDE, BACK], "tag_list": ["o_101", "o_105"]})
    )
    assert made["status"] == "succeed" and made["done"] is True and made["element_id"]
    [create] = sandbox.state.creates()
    assert create.path == "/v1/general/advanced-custom-elements"
    assert create.body == {
        "element_name": "Captain Mira",
        "element_description": "a red-haired pilot in a blue flight suit",
        "reference_type": "image_refer",
        "element_image_list": {"frontal_image": FRONT, "refer_images": [{"image_url": SIDE}, {"image_url": BACK}]},
        "tag_list": [{"tag_id": "o_101"}, {"tag_id": "o_105"}],
        "external_task_id": made["external_task_id"],
    }
    assert sandbox.state.elements.exists(made["element_id"], sandbox.state.clock())
    assert made["element_id"] in made["next_step"] and "element_list" in made["next_step"]


async def test_local_images_are_sent_as_bare_base64(client: Client, sandbox: SandboxServer) -> None:
    element_of(await client.call_tool(CREATE, {**ARGS, "frontal_image": str(EXAMPLE_PNG)}))
    [create] = sandbox.state.creates()
    assert create.body is not None
    sent = create.body["element_image_list"]
    assert base64.b64decode(sent["frontal_image"]) == EXAMPLE_PNG.read_bytes()
    assert sent["refer_images"] == [{"image_url": SIDE}]


async def test_list_get_and_delete_one_element(client: Client, sandbox: SandboxServer) -> None:
    made = element_of(await client.call_tool(CREATE, ARGS))
    element_id = made["element_id"]
    listed = (await client.call_tool(LIST, {})).structured_content
    assert listed is not None and [e["element_id"] for e in listed["elements"]] == [element_id]
    for any_id in (element_id, made["task_id"], made["external_task_id"]):
        assert element_of(await client.call_tool(GET, {"element_id": any_id}))["element_id"] == element_id

    deleted = element_of(await client.call_tool(DELETE, {"element_id": element_id}))
    assert deleted["status"] == "deleted" and deleted["done"] is True
    [delete] = [r for r in sandbox.state.requests if r.path == "/v1/general/delete-elements"]
    assert delete.method == "POST" and delete.body == {"element_id": element_id}
    assert not sandbox.state.elements.exists(element_id, sandbox.state.clock())
    after = (await client.call_tool(LIST, {})).structured_content
    assert after is not None and after["elements"] == []
    assert element_of(await client.call_tool(GET, {"element_id": element_id}))["status"] == "deleted"


async def test_the_journal_records_who_made_which_element(
    client: Client, sandbox: SandboxServer, settings: Settings
) -> None:
    made = element_of(await client.call_tool(CREATE, ARGS))
    journal = open_journal(settings.resolved_journal())
    try:
        entry = journal.element(made["element_id"])
    finally:
        journal.close()
    assert entry is not None
    assert (entry.owner, entry.task_id, entry.external_task_id) == (
        local_owner(),
        made["task_id"],
        made["external_task_id"],
    )
    assert entry.element_name == "Captain Mira" and entry.status == "succeed" and entry.kling_host == sandbox.url


async def test_a_refused_create_names_its_id_and_is_journaled(settings: Settings, sandbox: SandboxServer) -> None:
    sandbox.state.inject(echo_authorization=1, echo_authorization_code=1200)  # Kling refuses, quoting our JWT
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        result = await client.call_tool(CREATE, ARGS)
    text = text_of(result)
    assert result.is_error and "external_task_id='kmcp-" in text and "creating it again is safe" in text, text
    assert "Bearer ey" not in text  # the echoed token is scrubbed
    external_id = text.split("external_task_id='", 1)[1].split("'", 1)[0]
    journal = open_journal(settings.resolved_journal())
    try:
        entry = journal.element(external_id)
    finally:
        journal.close()
    assert entry is not None and entry.status == "create_failed" and entry.owner == local_owner()


async def test_one_caller_never_sees_or_deletes_another_caller_s_element(
    settings: Settings, sandbox: SandboxServer
) -> None:
    tokens = (SecretStr(TOKEN), SecretStr(OTHER_TOKEN))
    app = build_http_app(settings, HttpSettings(), tokens, retry_policy=FAST_RETRY).app
    with serve_in_thread(app) as url:
        async with connect(url, TOKEN) as alice, connect(url, OTHER_TOKEN) as bob:
            made = element_of(await alice.call_tool(CREATE, ARGS))
            element_id = made["element_id"]
            bobs = (await bob.call_tool(LIST, {})).structured_content
            assert bobs is not None and bobs["elements"] == []
            for any_id in (element_id, made["task_id"], made["external_task_id"]):
                unknown = await bob.call_tool(GET, {"element_id": "no-such-element"})
                theirs = await bob.call_tool(GET, {"element_id": any_id})
                assert theirs.is_error and text_of(theirs) == text_of(unknown).replace("no-such-element", any_id)
            refused = await bob.call_tool(DELETE, {"element_id": element_id})
            assert refused.is_error and "No element" in text_of(refused)
            assert sandbox.state.elements.exists(element_id, sandbox.state.clock())
            alices = (await alice.call_tool(LIST, {})).structured_content
            assert alices is not None and [e["element_id"] for e in alices["elements"]] == [element_id]
    assert not [r for r in sandbox.state.requests if r.path == "/v1/general/delete-elements"]


def test_creating_and_deleting_need_the_generate_scope_reading_the_read_scope() -> None:
    from kling_mcp.server.tools import TOOL_SCOPES  # the HTTP scope gate's table

    assert {name: TOOL_SCOPES[name] for name in (CREATE, LIST, GET, DELETE)} == {
        CREATE: "kling:generate",
        LIST: "kling:read",
        GET: "kling:read",
        DELETE: "kling:generate",
    }


async def test_an_element_the_journal_cannot_record_is_not_created(settings: Settings, sandbox: SandboxServer) -> None:
    corrupt(Path(settings.resolved_journal()))
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:
        result = await client.call_tool(CREATE, ARGS)
    text = text_of(result)
    assert result.is_error and "nothing was sent to Kling" in text, text
    assert sandbox.state.requests == []


@pytest.mark.slow  # the kept write is retried every 5 s
async def test_a_write_after_the_element_exists_is_kept_until_the_journal_takes_it(
    sandbox: SandboxServer, settings: Settings, tmp_path: Path
) -> None:
    import anyio

    from kling_mcp.sandbox.state import SandboxConfig
    from tests.conftest import make_settings
    from tests.journal_faults import lock_held_by_another_process

    sandbox.state.config = SandboxConfig(queue_seconds=0.5, run_seconds=1.0)  # the element is made 1.5 s after
    settings = make_settings(sandbox, tmp_path, KLING_MCP_JOURNAL_WAIT=0.2)
    path = Path(settings.resolved_journal())
    results: list[Any] = []
    async with Client(build_server(settings, retry_policy=FAST_RETRY)) as client:

        async def create() -> None:
            results.append(await client.call_tool(CREATE, ARGS))

        async with anyio.create_task_group() as group:
            group.start_soon(create)
            with anyio.fail_after(10):
                while not _newest_element_task(path):  # the create's answer is journaled: now the journal locks
                    await anyio.sleep(0.02)
            with lock_held_by_another_process(path, 4.0) as holder:
                while not results:
                    await anyio.sleep(0.05)
                holder.wait()
        element = element_of(results[0])  # the element is the caller's all the same, with a warning
        assert "keeps retrying" in element["status_message"], element
        with anyio.fail_after(15):  # the recorder's background retry lands the element's id
            while _element_id(path, element["external_task_id"]) != element["element_id"]:
                await anyio.sleep(0.2)


def _newest_element_task(path: Path) -> str | None:
    journal = open_journal(path)
    try:
        return next((entry.task_id for entry in journal.elements()), None)
    finally:
        journal.close()


def _element_id(path: Path, external_task_id: str) -> str | None:
    journal = open_journal(path)
    try:
        entry = journal.element(external_task_id)
        return entry.element_id if entry else None
    finally:
        journal.close()
