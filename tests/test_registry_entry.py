"""The MCP Registry entry (`server.json`) is valid against the registry's published schema and agrees with the package.

The registry proves we own the PyPI package by finding `mcp-name: <server name>` in its description (the README).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from jsonschema.validators import Draft7Validator  # type: ignore[import-untyped]

import kling_mcp
from kling_mcp.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SCHEMA: dict[str, Any] = json.loads((ROOT / "tests" / "registry" / "server.schema.json").read_text(encoding="utf-8"))
ENTRY: dict[str, Any] = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
MANIFEST: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _errors(entry: dict[str, Any]) -> list[str]:
    validator = Draft7Validator(SCHEMA, format_checker=Draft7Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(entry)]


def test_server_json_is_valid_against_the_published_schema() -> None:
    Draft7Validator.check_schema(SCHEMA)
    assert ENTRY["$schema"] == SCHEMA["$id"], "server.json names the schema it is checked against"
    assert _errors(ENTRY) == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"version": None}, "'version' is a required property"),
        ({"name": "kling-mcp"}, "does not match"),
        ({"description": "x" * 101}, "is too long"),
    ],
)
def test_the_schema_check_refuses_a_broken_entry(change: dict[str, Any], complaint: str) -> None:
    broken = {**ENTRY, **change}
    broken = {key: value for key, value in broken.items() if value is not None}
    assert any(complaint in error for error in _errors(broken))


def test_server_json_names_this_package_and_version() -> None:
    assert PROJECT["name"] == "kling-mcp", "kling-mcp on PyPI; mcp-kling is someone else's project"
    assert ENTRY["version"] == kling_mcp.__version__ == MANIFEST["version"]
    [package] = ENTRY["packages"]
    assert (package["registryType"], package["identifier"]) == ("pypi", PROJECT["name"])
    assert package["version"] == kling_mcp.__version__
    assert package["transport"] == {"type": "stdio"}


def test_readme_carries_the_mcp_name_line_the_registry_checks() -> None:
    readme = (ROOT / PROJECT["readme"]).read_text(encoding="utf-8")
    assert f"mcp-name: {ENTRY['name']}" in readme


def test_server_json_offers_the_settings_the_bundle_offers() -> None:
    aliases = {str(field.validation_alias) for field in Settings.model_fields.values()}
    [package] = ENTRY["packages"]
    variables = {variable["name"]: variable for variable in package["environmentVariables"]}
    assert set(variables) <= aliases
    assert set(variables) == set(MANIFEST["server"]["mcp_config"]["env"])
    assert {name for name, v in variables.items() if v.get("isSecret")} == {"KLING_ACCESS_KEY", "KLING_SECRET_KEY"}


def test_package_metadata_is_ready_for_pypi() -> None:
    assert "text" in PROJECT["description"] and "image" in PROJECT["description"]
    assert {"image-to-video", "text-to-video"} <= set(PROJECT["keywords"])
    urls = PROJECT["urls"]
    assert urls["Repository"] == ENTRY["repository"]["url"] == MANIFEST["repository"]["url"]
    assert {"Homepage", "Documentation", "Issues"} <= set(urls)
    assert PROJECT["license"] == MANIFEST["license"] == "MIT" and (ROOT / "LICENSE").is_file()
