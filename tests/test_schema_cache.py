"""The published schemas kept between starts (server/schema_cache.py): always the models' own, and a start that
imports neither the models nor the handlers."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from kling_mcp.config import Settings
from kling_mcp.server import schema_cache
from kling_mcp.server.schema_cache import PACKAGE_ROOT, PACKAGED, generate, load, read_fresh
from kling_mcp.server.tools import BY_NAME, DECLARATIONS
from tests.conftest import subprocess_env
from tests.names import LIST, TOOLS, WATCH

REMAKE = "the packaged tool schemas are stale: run `python -m kling_mcp.server.schema_cache` and commit the file"

# What a start must not import: the tools' handlers and models, and the service and journal behind them.
LOADED_ON_FIRST_CALL = (
    "kling_mcp.server.handlers",
    "kling_mcp.service.prepare.image_request",
    "kling_mcp.service.prepare.text_request",
    "kling_mcp.service.describe.task_results",
    "kling_mcp.service.journal",
    "kling_mcp.api.models",
)


def _kept() -> dict[str, Any]:
    kept = json.loads(PACKAGED.read_text(encoding="utf-8"))
    assert isinstance(kept, dict)
    return kept


def test_the_packaged_schemas_are_the_ones_the_models_make_now() -> None:
    kept, fresh = _kept(), generate()
    assert kept["tools"] == fresh["tools"], REMAKE
    assert (kept["sources"], kept["digest"]) == (fresh["sources"], fresh["digest"]), REMAKE
    assert set(kept["tools"]) == TOOLS | {WATCH} == set(BY_NAME)


def test_the_fingerprint_covers_the_models_and_what_they_import_not_the_rest() -> None:
    sources = set(_kept()["sources"])
    for binding in (declaration.binding() for declaration in DECLARATIONS):
        assert {binding.arguments.__module__, binding.output.__module__} <= sources
    # Imported by the models at module level: the shared field types, the capability table, Kling's wire models.
    assert {"kling_mcp.service.prepare.fields", "kling_mcp.api.capabilities", "kling_mcp.api.models"} <= sources
    # Code that cannot change a schema: imported only inside functions or for type checking, or not at all.
    assert not sources & {"kling_mcp.service.video", "kling_mcp.server.runtime", "kling_mcp.server.handlers"}


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the package's source, to edit."""
    copy = tmp_path / "kling_mcp"
    shutil.copytree(PACKAGE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_an_edited_model_module_makes_the_packaged_schemas_stale(package_copy: Path) -> None:
    assert read_fresh(PACKAGED, root=package_copy) is not None
    fields = package_copy / "service" / "prepare" / "fields.py"
    fields.write_text(fields.read_text(encoding="utf-8").replace("seconds", "secs", 1), encoding="utf-8")
    assert read_fresh(PACKAGED, root=package_copy) is None


def test_an_edit_elsewhere_keeps_them(package_copy: Path) -> None:
    video = package_copy / "service" / "video.py"
    video.write_text(video.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    assert read_fresh(PACKAGED, root=package_copy) is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("outside", "pydantic 1.0, pydantic-core 0.1, 0"),  # another pydantic (or SDK) than the one running
        ("digest", "0" * 64),
        ("sources", ["kling_mcp.no_such_module"]),
    ],
)
def test_a_file_made_from_other_code_is_not_trusted(tmp_path: Path, field: str, value: Any) -> None:
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**_kept(), field: value}), encoding="utf-8")
    assert read_fresh(stale) is None


def test_a_file_without_a_tool_is_not_trusted(tmp_path: Path) -> None:
    # A new tool whose model lives in a module that did not change leaves the fingerprint as it was.
    kept = _kept()
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({**kept, "tools": {n: s for n, s in kept["tools"].items() if n != WATCH}}))
    assert read_fresh(partial) is not None
    assert read_fresh(partial, TOOLS | {WATCH}) is None
    assert set(load(partial, lambda: tmp_path / "cache.json", TOOLS | {WATCH})) == TOOLS | {WATCH}


def test_a_kept_file_can_name_only_our_modules_and_the_sdks_schema_module() -> None:
    assert schema_cache.source_file("kling_mcp.service.prepare.fields") == str(
        PACKAGE_ROOT / "service" / "prepare" / "fields.py"
    )
    assert schema_cache.source_file(schema_cache.SDK_SCHEMA_MODULE) is not None
    for name in ("json", "kling_mcp.service/../config", "kling_mcp..service", "kling_mcp.no_such_module"):
        assert schema_cache.source_file(name) is None, name


def test_stale_schemas_are_made_again_and_kept_for_the_next_start(tmp_path: Path) -> None:
    stale, cache = tmp_path / "stale.json", tmp_path / "cache" / "tool-schemas.json"
    stale.write_text(json.dumps({**_kept(), "digest": "0" * 64}), encoding="utf-8")
    assert load(stale, lambda: cache) == generate()["tools"]
    kept = json.loads(cache.read_text(encoding="utf-8"))
    assert read_fresh(cache) == kept["tools"]
    # The next start reads the cache: a mark put in it shows up.
    kept["tools"][LIST]["input"]["description"] = "read from the cache"
    cache.write_text(json.dumps(kept), encoding="utf-8")
    assert load(stale, lambda: cache)[LIST]["input"]["description"] == "read from the cache"


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path: Path) -> None:
    stale, blocker = tmp_path / "stale.json", tmp_path / "a-file"
    stale.write_text("{not json", encoding="utf-8")
    blocker.write_text("", encoding="utf-8")
    assert load(stale, lambda: blocker / "tool-schemas.json") == generate()["tools"]


def test_the_cache_file_is_one_per_installation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = schema_cache.user_cache_file()
    assert cache.parent == tmp_path / "kling-mcp"
    assert re.fullmatch(r"tool-schemas-[0-9a-f]{12}\.json", cache.name)


def _imported(lines: list[str]) -> set[str]:
    return {match.group(1) for line in lines if (match := re.search(r"\|\s+([\w.]+)\s*$", line))}


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_start_lists_the_tools_without_the_handlers_and_the_first_call_loads_them(
    settings: Settings, tmp_path: Path
) -> None:
    """The real stdio server, its imports logged by `python -X importtime`."""
    params = StdioServerParameters(
        command=sys.executable, args=["-X", "importtime", "-m", "kling_mcp"], env=subprocess_env(settings)
    )
    log = tmp_path / "stderr.txt"
    with log.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            listed = await client.list_tools()
            at_start = _imported(log.read_text(encoding="utf-8").splitlines())
            called = await client.call_tool(LIST, {})
            after_call = _imported(log.read_text(encoding="utf-8").splitlines())
    assert {tool.name for tool in listed.tools} == TOOLS
    assert listed.tools[0].input_schema == _kept()["tools"][listed.tools[0].name]["input"]
    assert "kling_mcp.server.build" in at_start  # the log is read correctly
    assert not at_start & set(LOADED_ON_FIRST_CALL)
    assert not called.is_error
    assert set(LOADED_ON_FIRST_CALL) <= after_call
