"""The layers of ARCHITECTURE.md, enforced: no module imports a layer above its own, and the sandbox stays apart."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "kling_mcp"

# Lower first. A module may import its own layer and any layer below it, never one above.
LAYERS: dict[str, int] = {
    "kling_mcp": 0,  # the package root: only __version__
    "config": 1,
    "environment": 1,
    "logs": 1,
    "redaction": 1,
    "listening": 1,
    "api": 2,
    "service": 3,
    "server": 4,
    "http": 5,
    "cli": 6,
    "__main__": 7,
}
# The fake Kling is the tests' oracle: it must not learn Kling's rules from our client, so it imports nothing of
# ours; only the layers that start it (the server's no-keys mode, the CLI) may import it.
SANDBOX = "sandbox"
MAY_START_SANDBOX = {"server", "cli"}


def layer_of(module: str) -> str:
    """`kling_mcp.api.client` → `api`; `kling_mcp` → `kling_mcp`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) for every import of kling_mcp in a file, at any depth (lazy and TYPE_CHECKING ones too)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports would hide the layer; the code base uses absolute ones only
                found.append((node.lineno, f"<relative import level {node.level}>"))
            elif node.module:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.startswith(("kling_mcp", "<relative"))]


def violations(module: str, source: str) -> list[str]:
    """Every import in this module's source that breaks the rules, as readable lines."""
    own = layer_of(module)
    problems = []
    for line, target in imported_modules(source):
        where = f"{module}:{line} imports {target}"
        if target.startswith("<relative"):
            problems.append(f"{where}: use an absolute import")
            continue
        other = layer_of(target)
        if own == SANDBOX or other == SANDBOX:
            if own != other and not (other == SANDBOX and own in MAY_START_SANDBOX):
                problems.append(f"{where}: the sandbox and the client stay independent")
        elif other not in LAYERS or own not in LAYERS:
            problems.append(f"{where}: {other if other not in LAYERS else own} is in no layer of ARCHITECTURE.md")
        elif LAYERS[other] > LAYERS[own]:
            problems.append(f"{where}: {own} must not import the layer above it ({other})")
    return problems


def test_no_module_imports_upward() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 40
    problems = [problem for path in files for problem in violations(module_name(path), path.read_text("utf-8"))]
    assert problems == []


def test_architecture_md_names_every_module() -> None:
    """ARCHITECTURE.md stays true: each module of each layer package is named in it."""
    text = (PACKAGE.parent.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.parent != PACKAGE and path.stem != "__init__" and not re.search(rf"\b{path.stem}\b", text)
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("module", "source", "complaint"),
    [
        (
            "kling_mcp.api.x",
            "from kling_mcp.service.video import VideoService\n",
            "api must not import the layer above",
        ),
        ("kling_mcp.service.x", "if True:\n    import kling_mcp.server.tools\n", "must not import the layer above"),
        ("kling_mcp.server.x", "def f():\n    from kling_mcp.cli import main\n", "must not import the layer above"),
        ("kling_mcp.http.x", "from kling_mcp.cli.main import main\n", "must not import the layer above"),
        ("kling_mcp.sandbox.x", "from kling_mcp.api.capabilities import CAPABILITIES\n", "stay independent"),
        ("kling_mcp.service.x", "from kling_mcp.sandbox import rules\n", "stay independent"),
        ("kling_mcp.api.x", "from .client import KlingClient\n", "absolute import"),
        ("kling_mcp.plugins.x", "from kling_mcp.api import client\n", "plugins is in no layer"),
    ],
)
def test_the_checker_notices_each_kind_of_breach(module: str, source: str, complaint: str) -> None:
    """The rule itself can fail: each kind of forbidden import is reported."""
    [problem] = violations(module, source)
    assert complaint in problem


def test_the_checker_allows_imports_downward_and_the_sandbox_where_it_is_started() -> None:
    source = "from kling_mcp.api.client import KlingClient\nfrom kling_mcp.config import Settings\n"
    assert violations("kling_mcp.server.x", source + "from kling_mcp.sandbox.runner import SandboxServer\n") == []
    assert violations("kling_mcp.cli.x", source + "from kling_mcp.http.app import build_http_app\n") == []
