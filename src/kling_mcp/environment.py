"""Settings models filled from environment variables and an optional `.env` file.

Each field names its variable as its `validation_alias`. The variables are matched in any case (as on Windows), a
variable in the environment wins over the same one in `.env`, and keyword arguments win over both. Values reach the
model as the strings they are, so pydantic's own parsing and the model's validators judge them.

This is the part of pydantic-settings kling-mcp used. That library imports readers for every source it supports
(cloud secret stores, YAML, TOML, a CLI parser) before anything else happens: about 20 ms on every launch of the
server, a fifth of what kling-mcp adds to a bare MCP server's cold start (docs/performance.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict

ENV_FILE = ".env"


class EnvironmentSettings(BaseModel):
    """A settings model: `from_environment()` reads it; the plain constructor reads nothing (tests, callers)."""

    # Other variables (and `.env` lines) are none of the model's business; defaults pass the validators too.
    model_config = ConfigDict(extra="ignore", validate_default=True)

    @classmethod
    def from_environment(cls, env_file: str | Path | None = ENV_FILE, **given: Any) -> Self:
        """The model from the variables (and `env_file` if it exists), with `given` values taking precedence."""
        return cls.model_validate({**cls.variables(env_file), **given})

    @classmethod
    def variables(cls, env_file: str | Path | None = ENV_FILE) -> dict[str, str]:
        """The model's variables that are set, by the name the model reads them by."""
        names = {alias.upper(): alias for alias in _aliases(cls)}
        found: dict[str, str] = {}
        for source in (_env_file_values(env_file), os.environ):
            found.update({names[key.upper()]: value for key, value in source.items() if key.upper() in names})
        return found


def _aliases(model: type[BaseModel]) -> Iterable[str]:
    for field in model.model_fields.values():
        if isinstance(field.validation_alias, str):
            yield field.validation_alias


def _env_file_values(env_file: str | Path | None) -> Mapping[str, str]:
    if env_file is None or not Path(env_file).is_file():
        return {}
    from dotenv import dotenv_values  # imported only when there is a file to read

    values = dotenv_values(env_file, encoding="utf-8")
    return {key: value for key, value in values.items() if value is not None}


def unknown_variables(
    environ: Mapping[str, str],
    models: Iterable[type[BaseModel]],
    prefix: str = "KLING_MCP_",
    env_file: str | Path | None = ENV_FILE,
) -> list[tuple[str, str | None]]:
    """`prefix` variables (in `environ` or `env_file`) that no model reads, each with the closest known name if any.

    Settings ignore other variables by design, so a misspelt one would otherwise just leave its default in place.
    """
    import difflib  # only on the command line's start, and cheap

    known = {alias.upper() for model in models for alias in _aliases(model)}
    names = {*environ, *_env_file_values(env_file)}
    found = []
    for name in sorted(names):
        upper = name.upper()
        if upper.startswith(prefix) and upper not in known:
            close = difflib.get_close_matches(upper, known, n=1, cutoff=0.8)
            found.append((name, close[0] if close else None))
    return found
