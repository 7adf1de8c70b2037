"""The private parts of the MCP SDK and uvicorn that kling-mcp leans on, each checked here so that an upgrade that
changes one fails loudly, naming it, instead of changing what clients see (docs/tool-schemas.md, docs/mcp-edge.md).

pyproject pins both to the versions tested (`mcp>=2.3,<2.4`, `uvicorn>=0.55,<0.56`); these tests say what to look
at when the pin is moved. The output check of `model_tool` is ours and is tested through a real client against
what the SDK itself answers for a tool returning the same model.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import pytest
from mcp import Client
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict
from uvicorn.config import Config
from uvicorn.server import ServerState

from kling_mcp.http.deadlines import deadline_protocol
from kling_mcp.server.model_tool import Binding, model_tool, published_schemas

pytestmark = pytest.mark.anyio


class ProbeArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: str


class ProbeOutput(BaseModel):
    task_id: str
    status: str


async def _handler(_ctx: Context, arguments: ProbeArguments) -> Any:
    # What each answer makes the handler return: the valid model, and three results that break it.
    return {
        "model": ProbeOutput(task_id="t-1", status="succeed"),
        "dict": {"task_id": "t-1"},
        "result": CallToolResult(content=[TextContent(type="text", text="done")], structured_content={"status": 1}),
        "error": CallToolResult(content=[TextContent(type="text", text="failed")], is_error=True),
    }[arguments.answer]


def _probe_tool() -> Tool:
    """A tool built the way all of ours are (`model_tool`), answering what `_handler` is told to."""
    binding = Binding(ProbeArguments, _handler, ProbeOutput)
    return model_tool(
        lambda: binding,
        published_schemas(binding),
        name="probe",
        title="Probe",
        description="Returns what it is told to.",
        annotations=ToolAnnotations(read_only_hint=True),
    )


def _probe_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("probe-server", tools=[_probe_tool()])

    @server.tool()
    def native() -> ProbeOutput:
        """The SDK's own handling of the same output model, for comparison."""
        return ProbeOutput(task_id="t-1", status="succeed")

    return server


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_result_is_checked_against_the_output_model_as_the_sdk_would(mode: str) -> None:
    async with Client(_probe_server(), mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        # The published schemas are the models' own, without what tells a client nothing (titles, docstrings).
        assert tools["native"].output_schema == ProbeOutput.model_json_schema()
        assert tools["probe"].output_schema == {
            "properties": {"task_id": {"type": "string"}, "status": {"type": "string"}},
            "required": ["task_id", "status"],
            "type": "object",
        }
        assert tools["probe"].input_schema["properties"] == {"answer": {"type": "string"}}

        ours, sdk = await client.call_tool("probe", {"answer": "model"}), await client.call_tool("native", {})
        assert not ours.is_error
        assert ours.structured_content == sdk.structured_content == {"task_id": "t-1", "status": "succeed"}
        assert ours.content == sdk.content

        failed = await client.call_tool("probe", {"answer": "error"})  # a tool error is passed on, not checked
        assert failed.is_error and failed.content == [TextContent(type="text", text="failed")]

        for breaks_the_model in ("dict", "result"):
            refused = await client.call_tool("probe", {"answer": breaks_the_model})
            assert refused.is_error, f"a {breaks_the_model} result that breaks the output model was let through"
            # A crash: the client is told which tool failed, never the details.
            assert refused.content == [TextContent(type="text", text="Error executing tool probe")]


def test_the_sdk_hands_a_model_tool_its_raw_arguments_and_passes_its_result_through() -> None:
    """`model_tool` gives the SDK's `FuncMetadata` an `ArgModelBase` subclass (no public API publishes a flat schema
    validated by our own model): the SDK must hand it every argument untouched and must not convert our result."""
    tool = _probe_tool()
    raw = {"answer": "42", "camera_control": '{"type": "simple"}', "extra": [1]}
    assert tool.fn_metadata.validate_arguments(raw) == {"arguments": raw}, (
        "mcp.server.mcpserver.utilities.func_metadata.FuncMetadata.validate_arguments / ArgModelBase."
        "model_dump_one_level changed: server/model_tool.py's _PassThrough no longer receives the raw arguments"
    )
    result = CallToolResult(content=[], structured_content={"task_id": "t", "status": "s"})
    assert tool.fn_metadata.convert_result(result) is result, (
        "FuncMetadata.convert_result no longer passes a CallToolResult through when no output_model is set"
    )
    published = published_schemas(Binding(ProbeArguments, _handler, ProbeOutput))["output"]
    assert tool.output_schema == published, "Tool.output_schema no longer reads FuncMetadata"


def test_the_low_level_server_is_where_serve_stdio_finds_it() -> None:
    """`KlingServer.run_stdio_async` runs the SDK's low-level server behind our stdio reader: MCPServer has no
    public way to run stdio over other streams or to reach that server (the SDK's own in-memory client reads
    `_lowlevel_server` too, marked 'TODO: make public')."""
    lowlevel = getattr(MCPServer("probe-server"), "_lowlevel_server", None)
    assert isinstance(lowlevel, Server), "MCPServer._lowlevel_server is gone: server/build.py's KlingServer needs it"
    assert callable(lowlevel.run) and callable(lowlevel.create_initialization_options)


class _Transport(asyncio.Transport):
    """Just enough of a socket transport for uvicorn's protocol to take a connection."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self.written = bytearray()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def _reads_the_body(_scope: Any, receive: Any, _send: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass  # the body never arrives in full: the connection is closed under it


async def test_uvicorn_h11_protocol_still_has_what_the_deadlines_lean_on() -> None:
    """http/deadlines.py subclasses uvicorn's `H11Protocol` (uvicorn has no public hook for a header or body
    deadline) and reads its `conn` (h11), `loop`, `transport` and `client`, and overrides `connection_made`,
    `data_received`, `on_response_complete` and `connection_lost`. tests/test_http_slow_clients.py checks the
    behaviour with real sockets; this checks, in-process, the parts a new uvicorn could move."""
    protocol_class = deadline_protocol(0.05, 0.05)
    config = Config(app=_reads_the_body, http=protocol_class, lifespan="off", log_level="critical")
    config.load()
    assert config.http_protocol_class is protocol_class, "uvicorn's Config(http=) no longer takes a protocol class"
    protocols = []
    for sent in (b"POST /mcp HTTP/1.1\r\nHost: 1", b"POST /mcp HTTP/1.1\r\nHost: 1\r\nContent-Length: 10\r\n\r\n12345"):
        protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
        transport = _Transport()
        protocol.connection_made(transport)
        missing = [name for name in ("conn", "loop", "transport", "client") if not hasattr(protocol, name)]
        assert not missing, f"uvicorn's H11Protocol no longer sets {missing}: see http/deadlines.py"
        assert isinstance(protocol.conn, h11.Connection), "uvicorn's H11Protocol.conn is no longer an h11.Connection"
        assert callable(protocol.on_response_complete), "uvicorn's H11Protocol.on_response_complete is gone"
        protocol.data_received(sent)
        protocols.append((protocol, transport))

    headers, body = protocols
    assert headers[0].conn.their_state is h11.IDLE  # h11 has not seen the whole request line and headers yet
    assert body[0].conn.their_state is h11.SEND_BODY
    await asyncio.sleep(0.2)
    assert headers[1].closed, "the header deadline did not close the connection"
    assert bytes(headers[1].written).startswith(b"HTTP/1.1 408 Request Timeout")
    assert body[1].closed, "the body deadline did not close the connection"
    for protocol, _ in protocols:
        protocol.connection_lost(None)
    await asyncio.sleep(0)  # the application sees the disconnect and returns
