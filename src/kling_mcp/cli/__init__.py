"""The `kling-mcp` command: serve (stdio or HTTP), `check`, `demo` and `sandbox`."""

from __future__ import annotations

from collections.abc import Callable

from kling_mcp.redaction import Redactor

# What a shell reports for a program ended by Ctrl-C (128 + SIGINT).
INTERRUPTED = 130

Say = Callable[[str], None]


def printer(redactor: Redactor | None = None) -> Say:
    """A function that prints one line to stdout, credentials removed."""
    scrub = redactor or Redactor()

    def say(text: str) -> None:
        print(scrub.text(text), flush=True)  # noqa: T201 - a command for people

    return say
