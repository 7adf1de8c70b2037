"""The tools, one declaration each: everything about a tool is its row in `DECLARATIONS`; the rest is derived.

A row names the tool, its texts (`server/descriptions.py`), annotations, OAuth scope, player binding, MCP task
support, and — as import references, loaded on the first call and not at start — its arguments model, handler and
output model. From the rows come the listed tools (with their published schemas, `server/schema_cache.py`), the HTTP
scope gate's table, the tools that may run as MCP tasks (`server/tasks/`), the player's binding (`server/apps.py`)
and which tool a next step names for a task (`creator_of`). Adding a tool: its arguments model and handler, its row.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from typing import Any, Literal

from mcp.server.mcpserver.tools import Tool
from mcp_types import ToolAnnotations

from kling_mcp.server.access import GENERATE_SCOPE, READ_SCOPE
from kling_mcp.server.apps import player_meta
from kling_mcp.server.descriptions import (
    CREATE_ELEMENT_DESCRIPTION,
    CREATE_ELEMENT_TOOL,
    CREDITS_DESCRIPTION,
    CREDITS_TOOL,
    DELETE_ELEMENT_DESCRIPTION,
    DELETE_ELEMENT_TOOL,
    GENERATE_DESCRIPTION,
    GENERATE_TOOL,
    GET_DESCRIPTION,
    GET_ELEMENT_DESCRIPTION,
    GET_ELEMENT_TOOL,
    GET_TOOL,
    LIST_DESCRIPTION,
    LIST_ELEMENTS_DESCRIPTION,
    LIST_ELEMENTS_TOOL,
    LIST_TOOL,
    MODELS_DESCRIPTION,
    MODELS_TOOL,
    MOTION_DESCRIPTION,
    MOTION_TOOL,
    TEXT_DESCRIPTION,
    TEXT_TOOL,
    WATCH_DESCRIPTION,
    WATCH_TOOL,
)
from kling_mcp.server.model_tool import Binding, model_tool
from kling_mcp.server.schema_cache import published

Player = Literal["none", "shown", "app_only"]
"""How a tool is bound to the MCP Apps player: not at all, the player shows its results, or only the player calls it."""
TaskSupport = Literal["none", "create", "wait"]
"""How a tool runs as an MCP task: never; it creates a paid Kling task (the MCP task follows it); it waits for one."""

_HANDLERS = "kling_mcp.server.handlers"


@dataclass(frozen=True)
class ToolDeclaration:
    """One tool. `arguments`, `handler`, `output` and `creates_on` are `module:attribute` references, resolved (and
    type-checked) on the first call, so that listing the tools imports neither the models nor the service."""

    name: str
    title: str
    description: str
    scope: str
    arguments: str
    handler: str
    output: str
    read_only: bool
    idempotent: bool
    open_world: bool
    player: Player = "none"
    task: TaskSupport = "none"
    destructive: bool = False
    """A tool that is not read-only and may destroy something (it cannot be undone)."""
    creates_on: str | None = None
    """The Kling endpoints whose tasks this tool creates: next steps ("do not call ... again") name it for them."""

    def binding(self) -> Binding[Any]:
        """The tool's models and handler (the first call loads them, with the service they use)."""
        return _binding(self)

    def annotations(self) -> ToolAnnotations:
        """The MCP annotations (destructive_hint only means something for a tool that is not read-only)."""
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=None if self.read_only else self.destructive,
            idempotent_hint=self.idempotent,
            open_world_hint=self.open_world,
        )

    def meta(self) -> dict[str, Any] | None:
        """The tool's `_meta`: its binding to the player, if any."""
        return None if self.player == "none" else player_meta(app_only=self.player == "app_only")


DECLARATIONS: tuple[ToolDeclaration, ...] = (
    # Every call creates a paid task: never idempotent.
    ToolDeclaration(
        GENERATE_TOOL,
        "Generate video from image (Kling)",
        GENERATE_DESCRIPTION,
        GENERATE_SCOPE,
        arguments="kling_mcp.service.prepare.image_request:VideoRequest",
        handler=f"{_HANDLERS}:generate",
        output="kling_mcp.service.describe.task_results:VideoToolOutput",
        read_only=False,
        idempotent=False,
        open_world=True,
        player="shown",
        task="create",
        creates_on="kling_mcp.api.capabilities:IMAGE_ENDPOINTS",
    ),
    ToolDeclaration(
        TEXT_TOOL,
        "Generate video from text (Kling)",
        TEXT_DESCRIPTION,
        GENERATE_SCOPE,
        arguments="kling_mcp.service.prepare.text_request:TextVideoRequest",
        handler=f"{_HANDLERS}:generate",
        output="kling_mcp.service.describe.task_results:VideoToolOutput",
        read_only=False,
        idempotent=False,
        open_world=True,
        player="shown",
        task="create",
        creates_on="kling_mcp.api.capabilities:TEXT_ENDPOINTS",
    ),
    ToolDeclaration(
        MOTION_TOOL,
        "Generate video by motion control (Kling)",
        MOTION_DESCRIPTION,
        GENERATE_SCOPE,
        arguments="kling_mcp.service.prepare.motion_request:MotionRequest",
        handler=f"{_HANDLERS}:generate",
        output="kling_mcp.service.describe.task_results:VideoToolOutput",
        read_only=False,
        idempotent=False,
        open_world=True,
        player="shown",
        task="create",
        creates_on="kling_mcp.api.capabilities:MOTION_ENDPOINTS",
    ),
    # Not read-only: with download=true (or KLING_MCP_DOWNLOAD_DIR) it writes the video file to disk.
    ToolDeclaration(
        GET_TOOL,
        "Get Kling video task",
        GET_DESCRIPTION,
        READ_SCOPE,
        arguments="kling_mcp.server.arguments:GetTaskArguments",
        handler=f"{_HANDLERS}:get_task",
        output="kling_mcp.service.describe.task_results:VideoToolOutput",
        read_only=False,
        idempotent=True,
        open_world=True,
        player="shown",
        task="wait",
    ),
    ToolDeclaration(
        LIST_TOOL,
        "List Kling video tasks",
        LIST_DESCRIPTION,
        READ_SCOPE,
        arguments="kling_mcp.server.arguments:ListTasksArguments",
        handler=f"{_HANDLERS}:list_tasks",
        output="kling_mcp.service.describe.task_results:TaskListOutput",
        read_only=True,
        idempotent=True,
        open_world=False,
    ),
    ToolDeclaration(
        MODELS_TOOL,
        "List Kling models",
        MODELS_DESCRIPTION,
        READ_SCOPE,
        arguments="kling_mcp.server.arguments:ModelsArguments",
        handler=f"{_HANDLERS}:list_models",
        output="kling_mcp.service.describe.catalog:ModelCatalog",
        read_only=True,
        idempotent=True,
        open_world=False,
    ),
    # Custom elements (Kling's "advanced custom elements"): owner-scoped like tasks; making one is a Kling task.
    ToolDeclaration(
        CREATE_ELEMENT_TOOL,
        "Create custom element (Kling)",
        CREATE_ELEMENT_DESCRIPTION,
        GENERATE_SCOPE,
        arguments="kling_mcp.service.prepare.element_request:ElementRequest",
        handler=f"{_HANDLERS}:create_element",
        output="kling_mcp.service.custom_elements:ElementOutput",
        read_only=False,
        idempotent=False,
        open_world=True,
    ),
    ToolDeclaration(
        LIST_ELEMENTS_TOOL,
        "List custom elements (Kling)",
        LIST_ELEMENTS_DESCRIPTION,
        READ_SCOPE,
        arguments="kling_mcp.server.arguments:ListElementsArguments",
        handler=f"{_HANDLERS}:list_elements",
        output="kling_mcp.service.custom_elements:ElementListOutput",
        read_only=True,
        idempotent=True,
        open_world=False,
    ),
    ToolDeclaration(
        GET_ELEMENT_TOOL,
        "Get custom element (Kling)",
        GET_ELEMENT_DESCRIPTION,
        READ_SCOPE,
        arguments="kling_mcp.server.arguments:GetElementArguments",
        handler=f"{_HANDLERS}:get_element",
        output="kling_mcp.service.custom_elements:ElementOutput",
        read_only=False,  # records what Kling says in the journal, as kling_get_video_task does
        idempotent=True,
        open_world=True,
    ),
    ToolDeclaration(
        DELETE_ELEMENT_TOOL,
        "Delete custom element (Kling)",
        DELETE_ELEMENT_DESCRIPTION,
        GENERATE_SCOPE,
        arguments="kling_mcp.server.arguments:DeleteElementArguments",
        handler=f"{_HANDLERS}:delete_element",
        output="kling_mcp.service.custom_elements:ElementOutput",
        read_only=False,
        idempotent=True,
        open_world=True,
        destructive=True,
    ),
    ToolDeclaration(
        CREDITS_TOOL,
        "Kling account credits",
        CREDITS_DESCRIPTION,
        READ_SCOPE,
        arguments="kling_mcp.server.arguments:CreditsArguments",
        handler=f"{_HANDLERS}:get_credits",
        output="kling_mcp.service.limits.credits:CreditsOutput",
        read_only=True,
        idempotent=True,
        open_world=True,
    ),
    # App-only: the player calls it to follow a task; hosts keep it from their model.
    ToolDeclaration(
        WATCH_TOOL,
        "Follow Kling video task (player)",
        WATCH_DESCRIPTION,
        READ_SCOPE,
        arguments="kling_mcp.server.arguments:WatchArguments",
        handler=f"{_HANDLERS}:watch_task",
        output="kling_mcp.service.describe.follow:FollowState",
        read_only=True,
        idempotent=True,
        open_world=True,
        player="app_only",
    ),
)

BY_NAME = {declaration.name: declaration for declaration in DECLARATIONS}
# The OAuth scope each tool needs over HTTP (static tokens carry generate and read; stdio needs none).
TOOL_SCOPES = {declaration.name: declaration.scope for declaration in DECLARATIONS}
# The tools that may run as MCP tasks (server/tasks/), and those among them that create a paid Kling task.
TASK_TOOLS = frozenset(declaration.name for declaration in DECLARATIONS if declaration.task != "none")
CREATING_TOOLS = frozenset(declaration.name for declaration in DECLARATIONS if declaration.task == "create")


def resolve(reference: str) -> Any:
    """What a `module:attribute` reference names (importing its module)."""
    module, _, attribute = reference.partition(":")
    # `__import__`, not `importlib.import_module`: `python -X importtime` (tests/test_schema_cache.py) sees only this.
    __import__(module)
    return getattr(sys.modules[module], attribute)


@functools.cache
def _binding(declaration: ToolDeclaration) -> Binding[Any]:
    from pydantic import BaseModel

    arguments, handler, output = map(resolve, (declaration.arguments, declaration.handler, declaration.output))
    for reference, model in ((declaration.arguments, arguments), (declaration.output, output)):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"{declaration.name}: {reference} is not a pydantic model")
    if not callable(handler):
        raise TypeError(f"{declaration.name}: {declaration.handler} is not callable")
    return Binding(arguments, handler, output)


def binding(name: str) -> Binding[Any]:
    """The named tool's models and handler (the first call loads them, with the service they use)."""
    return BY_NAME[name].binding()


@functools.cache
def _creators() -> dict[str, str]:
    creators: dict[str, str] = {}
    for declaration in DECLARATIONS:
        if declaration.creates_on is not None:
            endpoints = resolve(declaration.creates_on)
            if not (isinstance(endpoints, tuple) and all(isinstance(endpoint, str) for endpoint in endpoints)):
                raise TypeError(f"{declaration.name}: {declaration.creates_on} is not a tuple of endpoints")
            creators.update(dict.fromkeys(endpoints, declaration.name))
    return creators


def tool_taking(arguments: type) -> str:
    """The tool whose arguments model this is (the generate handler serves two tools)."""
    return next(declaration.name for declaration in DECLARATIONS if declaration.binding().arguments is arguments)


def creator_of(endpoint: str | None) -> str | None:
    """The tool that creates tasks on this Kling endpoint (None: not known)."""
    return _creators().get(endpoint) if endpoint is not None else None


def build_tools() -> list[Tool]:
    """The tools, each refusing arguments it does not know (a misspelt `duraton` must not be ignored)."""
    return list(_tools())


@functools.cache
def _tools() -> tuple[Tool, ...]:
    # Built once per process and shared by every server built in it: the tools hold no state (each call finds its
    # server's AppContext through its Context).
    schemas = published(frozenset(BY_NAME))
    return tuple(
        model_tool(
            declaration.binding,
            schemas[declaration.name],
            name=declaration.name,
            title=declaration.title,
            description=declaration.description,
            annotations=declaration.annotations(),
            meta=declaration.meta(),
        )
        for declaration in DECLARATIONS
    )
