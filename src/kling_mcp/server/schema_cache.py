"""The tools' published schemas, kept on disk so that starting a server does not pay pydantic to make them again.

Listing the tools needs each one's input and output JSON schema. Making them from the models (and importing the
models, the service and the journal to do so) was most of what a start cost beyond the bare SDK (docs/performance.md).
The schemas are a pure function of a few source files and of pydantic, so the package ships them in
`tool_schemas.json`, with what they were made from: the names of the models' modules and of every kling_mcp module
those import, a digest of their source, and a digest of what outside our code shapes a schema (pydantic's and
pydantic-core's versions, the SDK module that makes output schemas). A start reads the file and hashes those sources
again; if anything differs (an edited model, a newer pydantic), the schemas are made from the models as before and
kept in the user's cache folder for the next start. The published schemas are therefore always the models' own.

`python -m kling_mcp.server.schema_cache` rewrites the packaged file; `tests/test_schema_cache.py` fails while the
packaged file is stale.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic
import pydantic_core

import kling_mcp

if TYPE_CHECKING:
    from kling_mcp.server.model_tool import PublishedSchemas

logger = logging.getLogger(__name__)

PACKAGED = Path(__file__).with_name("tool_schemas.json")
PACKAGE_ROOT = Path(kling_mcp.__file__).parent
# Besides our models and pydantic, the one module that shapes a published schema: the SDK's output schemas.
SDK_SCHEMA_MODULE = "mcp.server.mcpserver.utilities.func_metadata"
# The modules whose code turns a model into its published schemas (the models' own modules are added to them).
SCHEMA_MODULES = ("kling_mcp.server.model_tool",)

Schemas = dict[str, "PublishedSchemas"]


def source_file(module: str, root: Path = PACKAGE_ROOT) -> str | None:
    """Where a module's source is: ours in the package's folder `root` (not imported), the SDK's through its spec;
    None for any other name (a kept file names only these).

    Plain `os.path` strings: a start checks some thirty of them, and pathlib would cost it more than the reading.
    """
    if module == SDK_SCHEMA_MODULE:
        spec = importlib.util.find_spec(module)
        return spec.origin if spec is not None else None
    parts = module.split(".")
    if parts[0] != "kling_mcp" or not all(part.isidentifier() for part in parts):
        return None
    base = os.path.join(root, *parts[1:])
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(candidate):
            return candidate
    return None


def digest(modules: Iterable[str], root: Path = PACKAGE_ROOT) -> str | None:
    """A digest of these modules' source (None when one cannot be read: then nothing kept can be trusted)."""
    hashed = hashlib.sha256()
    for module in sorted(modules):
        path = source_file(module, root)
        if path is None:
            return None
        try:
            with open(path, "rb") as file:
                source = file.read()
        except OSError:
            return None
        hashed.update(module.encode() + b"\0" + source.replace(b"\r\n", b"\n") + b"\0")
    return hashed.hexdigest()


def outside_digest() -> str | None:
    """A digest of what outside our code shapes the schemas: pydantic's versions and the SDK's output schemas."""
    sdk = digest([SDK_SCHEMA_MODULE])
    return None if sdk is None else f"pydantic {pydantic.VERSION}, pydantic-core {pydantic_core.__version__}, {sdk}"


def imported_modules(roots: Iterable[str]) -> list[str]:
    """The roots and every kling_mcp module (and package) their module-level code imports, read from their source.

    Imports inside functions and under `if TYPE_CHECKING:` are left out: they cannot change a class as it is made.
    """
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen or (path := source_file(module)) is None:
            continue
        seen.add(module)
        todo.extend(_parents(module))
        for node in _module_level(ast.parse(Path(path).read_bytes(), filename=path).body):
            if isinstance(node, ast.Import):
                todo.extend(alias.name for alias in node.names if alias.name.startswith("kling_mcp"))
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kling_mcp"):
                # `from kling_mcp.server import tools` imports a module; `from x import y` may name one.
                todo.append(node.module)
                todo.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return sorted(seen)


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(handler.body for handler in node.handlers), node.orelse, node.finalbody):
                yield from _module_level(block)
        else:
            yield node


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def generate() -> dict[str, Any]:
    """The schemas made from the tools' models now, with what they were made from (the packaged file's content)."""
    from kling_mcp.server.model_tool import published_schemas
    from kling_mcp.server.tools import DECLARATIONS

    bindings = [(declaration.name, declaration.binding()) for declaration in DECLARATIONS]
    tools = {name: published_schemas(binding) for name, binding in sorted(bindings)}
    models = {model.__module__ for _, binding in bindings for model in (binding.arguments, binding.output)}
    sources = imported_modules([*models, *SCHEMA_MODULES])
    return {"sources": sources, "digest": digest(sources), "outside": outside_digest(), "tools": tools}


def read_fresh(path: Path, names: Collection[str] = (), root: Path = PACKAGE_ROOT) -> Schemas | None:
    """The schemas kept in `path`, if they have every tool in `names` and were made from exactly the code (in
    `root`) and pydantic running now."""
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        sources, tools = kept["sources"], kept["tools"]
        complete = set(names) <= tools.keys()  # a new tool whose model's module did not change
        made_from = (outside_digest(), digest(sources, root))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not complete or None in made_from or (kept.get("outside"), kept.get("digest")) != made_from:
        return None
    return tools  # type: ignore[no-any-return]


def write(path: Path, content: dict[str, Any]) -> None:
    """Write the file whole or not at all (another process may be reading it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as out:
        try:
            json.dump(content, out, indent=1, sort_keys=True)
            out.write("\n")
        except BaseException:
            out.close()
            os.unlink(out.name)
            raise
    os.replace(out.name, path)


def load(packaged: Path, cache_file: Callable[[], Path], names: Collection[str] = ()) -> Schemas:
    """The schemas of the tools `names` (and any others kept): from the packaged file or the cache when fresh,
    else made now (and cached)."""
    tools = read_fresh(packaged, names)
    if tools is not None:
        return tools
    cached = cache_file()
    tools = read_fresh(cached, names)
    if tools is not None:
        return tools
    logger.debug("The packaged tool schemas do not match this code or pydantic: making them from the models")
    content = generate()
    try:
        write(cached, content)
    except OSError as exc:  # a read-only home: every start makes them, which is only slower
        logger.debug("Could not keep the tool schemas in %s: %s", cached, exc)
    return content["tools"]  # type: ignore[no-any-return]


def user_cache_file() -> Path:
    """This installation's file in the user's cache folder (one per installation: versions may differ)."""
    import platformdirs

    installation = hashlib.sha256(str(PACKAGE_ROOT).encode()).hexdigest()[:12]
    return platformdirs.user_cache_path("kling-mcp") / f"tool-schemas-{installation}.json"


@functools.cache
def published(names: frozenset[str]) -> Schemas:
    """The published schemas of these tools (and any others kept) for this process, by tool name."""
    return load(PACKAGED, user_cache_file, names)


if __name__ == "__main__":
    write(PACKAGED, generate())
    sys.stderr.write(f"wrote {PACKAGED}\n")
