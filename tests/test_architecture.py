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


ENTRY_INDENT = (
    10  # in ARCHITECTURE.md's tree, an entry (`api/`, `video.py`) starts left of this; its words go on further right
)


def section(tree: list[str], path: tuple[str, ...]) -> str:
    """The words the tree says about a package (`("service", "prepare")`): its entry's line and the lines under it,
    down to the next entry at its depth or above; a subpackage with no entry of its own is described in its parent's.
    """
    lines, found = tree, ""
    for name in path:
        start = next(
            (
                i
                for i, line in enumerate(lines)
                if line.lstrip().startswith(f"{name}/") and _indent(line) < ENTRY_INDENT
            ),
            None,
        )
        if start is None:
            return found
        depth = _indent(lines[start])
        end = next(
            (i for i in range(start + 1, len(lines)) if _indent(lines[i]) <= depth and lines[i].strip()), len(lines)
        )
        lines = lines[start:end]
        found = "\n".join(lines)
    return found


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def unnamed_modules(text: str, modules: list[Path]) -> list[str]:
    """The modules (paths relative to the package) that ARCHITECTURE.md does not name: by their path
    (`cli/limits.py`), or by their bare name in the words about their own package, not anywhere in the file."""
    tree = text.split("```", 2)[1].splitlines()
    missing = []
    for module in modules:
        where = f"{module.parent.as_posix()}/{module.name}"
        words = section(tree, module.parent.parts)
        if where not in text and not re.search(rf"\b{re.escape(module.stem)}\b", words):
            missing.append(module.as_posix())
    return missing


def test_architecture_md_names_every_module() -> None:
    """ARCHITECTURE.md stays true: each module of each layer package is named in it, where its package is described."""
    text = (PACKAGE.parent.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    modules = [
        path.relative_to(PACKAGE)
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.parent != PACKAGE and path.stem != "__init__"
    ]
    assert len(modules) > 40
    assert unnamed_modules(text, modules) == []


def test_a_module_named_only_in_another_packages_words_is_missing() -> None:
    """The check can fail: `limits` said of `service/limits/` does not name `cli/limits.py`."""
    text = (
        "```\nsrc/kling_mcp/\n  service/             the use case\n    limits/            spend, credits\n"
        "  cli/                 the command: main, check\n```\n"
    )
    modules = [Path("service/limits/spend.py"), Path("cli/limits.py"), Path("cli/main.py")]
    assert unnamed_modules(text, modules) == ["cli/limits.py"]
    assert unnamed_modules(text + "`cli/limits.py` (the limits command)\n", modules) == []


def tool_names() -> set[str]:
    """The declared tools' names, read off `server/descriptions.py`'s `*_TOOL` constants (by `ast`, not imported)."""
    tree = ast.parse((PACKAGE / "server" / "descriptions.py").read_text("utf-8"))
    return {
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and any(isinstance(target, ast.Name) and target.id.endswith("_TOOL") for target in node.targets)
    }


def tools_named(source: str, names: set[str]) -> list[str]:
    """`line: name` for each string literal (docstrings and f-string parts included) that names a tool."""
    pattern = re.compile(rf"\b({'|'.join(sorted(map(re.escape, names)))})\b")
    return [
        f"{node.lineno}: {match}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        for match in pattern.findall(node.value)
    ]


def test_service_and_api_code_names_no_tool() -> None:
    """The server layer words next steps with tool names (its constants); below it, no string names a tool, or a
    renamed tool would leave stale names in errors and published schemas (one named a tool that never existed)."""
    names = tool_names()
    assert len(names) >= 12 and all(name.startswith("kling_") for name in names)
    found = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for layer in ("service", "api")
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for line in tools_named(path.read_text("utf-8"), names)
    ]
    assert found == []


def test_the_tool_name_check_sees_literals_docstrings_and_f_strings() -> None:
    names = {"kling_get_video_task", "kling_list_models"}
    source = (
        '"""Uses kling_get_video_task."""\nMODELS = "kling_list_models"\nx = f"call kling_get_video_task with {y}"\n'
        'CHANNEL = "kling_list_models_changed"\n'
    )
    assert tools_named(source, names) == ["1: kling_get_video_task", "2: kling_list_models", "3: kling_get_video_task"]


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
