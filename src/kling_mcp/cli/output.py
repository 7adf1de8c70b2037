"""What the commands print for people, through the same scrubber as every other text that leaves the process."""

from __future__ import annotations

from collections.abc import Callable

from kling_mcp.redaction import Redactor

Say = Callable[[str], None]


def printer(redactor: Redactor | None = None) -> Say:
    """A function that prints one line to stdout, credentials removed."""
    scrub = redactor or Redactor()

    def say(text: str) -> None:
        print(scrub.text(text), flush=True)  # noqa: T201 - a command for people

    return say
