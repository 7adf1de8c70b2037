"""The OpenAI Agents SDK's view of our server over an in-memory MCP client (imported by slow tests only: the SDK
takes seconds to import)."""

from __future__ import annotations

from typing import Any, cast

from agents.mcp import MCPServer as AgentsMCPServer
from mcp import Client
from mcp_types import ListPromptsResult, RequestParamsMeta


class InMemoryAgentsServer(AgentsMCPServer):
    """The Agents SDK's view of our server, over an in-memory MCP client (its own transports spawn processes)."""

    def __init__(self, client: Client) -> None:
        super().__init__()
        self._client = client

    async def connect(self) -> None:
        """Already connected."""

    @property
    def name(self) -> str:
        return "kling-mcp"

    async def cleanup(self) -> None:
        """The test's client is closed by its fixture."""

    async def list_tools(self, run_context: Any = None, agent: Any = None) -> list[Any]:  # noqa: ARG002
        return list((await self._client.list_tools()).tools)

    async def call_tool(
        self, tool_name: str, arguments: dict[str, Any] | None, meta: dict[str, Any] | None = None
    ) -> Any:
        return await self._client.call_tool(tool_name, arguments or {}, meta=cast("RequestParamsMeta | None", meta))

    async def list_prompts(self) -> Any:
        return ListPromptsResult(prompts=[])

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError(name, arguments)
