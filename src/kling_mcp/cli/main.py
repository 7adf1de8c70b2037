"""The `kling-mcp` command: serve over stdio or streamable HTTP, run the sandbox, the demo, or a config check."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kling_mcp import __version__
from kling_mcp.cli import INTERRUPTED

if TYPE_CHECKING:
    from pydantic import SecretStr, ValidationError

    from kling_mcp.config import Settings
    from kling_mcp.http.settings import HttpSettings

logger = logging.getLogger("kling_mcp")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SANDBOX_PORT = 8765


DESCRIPTION = (
    "MCP server for Kling AI video generation: videos from an image (image-to-video) or from a text prompt "
    "(text-to-video), with task lookup and listing. Without a command it serves an MCP client over stdio (the "
    "default) or streamable HTTP."
)
# Each command: its name, the one line `kling-mcp --help` lists, and what its own --help adds.
COMMANDS = (
    (
        "sandbox",
        "Run the built-in Kling sandbox (a fake Kling API) on loopback.",
        "It prints the variables that point kling-mcp (or your own script) at it; no keys, no cost. Ctrl-C stops it.",
    ),
    (
        "demo",
        "Generate a video end to end against the sandbox (no keys needed).",
        "Starts the sandbox and the server, calls the image tool with an example image through a real MCP client, "
        "and prints the progress and where the video was saved.",
    ),
    (
        "check",
        "Check configuration and credentials with one cheap Kling request.",
        "Opens the task journal, checks the download folder, then lists one task at Kling with your keys (nothing "
        "is created or billed). Exit code 0: ready to generate videos.",
    ),
    (
        "spend-limit",
        "List, set or clear an owner's own spend limit (units per 24 h) in the task journal.",
        "Overrides KLING_MCP_SPEND_LIMIT for that owner on every replica sharing the journal (docs/limits.md).",
    ),
)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535; got {text!r}")
    return port


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0 and at most 3600; got {text!r}")
    return seconds


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(LOG_LEVELS)} (any case); got {text!r}")
    return level


def _add_log_level(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--log-level",
        type=_log_level,
        default=default,
        metavar="LEVEL",
        help="DEBUG, INFO, WARNING or ERROR, any case (default: KLING_MCP_LOG_LEVEL, else INFO). Logs go to stderr.",
    )


def build_parser() -> argparse.ArgumentParser:
    """All commands and flags."""
    from kling_mcp.http.settings import add_http_arguments

    parser = argparse.ArgumentParser(
        prog="kling-mcp",
        description=DESCRIPTION,
        epilog="Try it without keys: kling-mcp demo. Check your keys: kling-mcp check. Help on one command: "
        "kling-mcp COMMAND --help.",
    )
    parser.add_argument("--version", action="version", version=f"kling-mcp {__version__}")
    _add_log_level(parser, None)
    add_http_arguments(parser)
    commands = parser.add_subparsers(dest="command", title="commands (without one: serve MCP)", metavar="COMMAND")
    for name, summary, details in COMMANDS:
        commands.add_parser(name, help=summary, description=f"{summary} {details}")
    sandbox, demo, check, spend_limit = (commands.choices[name] for name, _, _ in COMMANDS)
    spend_limit.add_argument("owner", nargs="?", help="The owner (token:<label>, oauth:<subject>, local:<user>).")
    spend_limit.add_argument("units", nargs="?", type=float, help="Units per 24 h (omit with --clear).")
    spend_limit.add_argument("--clear", action="store_true", help="Remove the owner's own limit.")
    sandbox.add_argument(
        "--host", dest="sandbox_host", metavar="HOST", default="127.0.0.1", help="Bind address (default %(default)s)."
    )
    sandbox.add_argument(
        "--port",
        dest="sandbox_port",
        metavar="PORT",
        type=_port,
        default=SANDBOX_PORT,
        help="Port, 0 for any free one (default %(default)s).",
    )
    sandbox.add_argument(
        "--task-seconds",
        metavar="SECONDS",
        type=_seconds,
        default=4.0,
        help="How long each task runs (default %(default)g s).",
    )
    demo.add_argument(
        "--task-seconds",
        metavar="SECONDS",
        type=_seconds,
        default=4.0,
        help="How long the sandbox task runs (default %(default)g s).",
    )
    for command in (sandbox, demo, check, spend_limit):
        # Also after the subcommand (`kling-mcp check --log-level debug`); SUPPRESS keeps a value given before it.
        _add_log_level(command, argparse.SUPPRESS)
    return parser


def _describe_settings_error(exc: ValidationError, flags: dict[str, str] | None = None) -> str:
    """One plain line per bad variable: `KLING_MCP_MAX_WAIT: Input should be greater than 0 (got '-1')`.

    `flags` (variable → flag) names the flag instead where the value came from one: `--port: …`.
    """
    lines = []
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"])
        name = (flags or {}).get(name, name)
        message = error["msg"].removeprefix("Value error, ")
        if not name:  # a rule across variables: its message names them and the values
            lines.append(message)
            continue
        value = error.get("input")
        # A message that quotes the value (a path) needs no "(got …)"; a number inside "greater than 0" is no quote.
        quoted = isinstance(value, str) and any(c.isalpha() or c in "/\\" for c in value) and value in message
        got = "" if name in message or quoted else f" (got {value!r:.80})"
        lines.append(f"{name}: {message}{got}")
    return "; ".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C is how a person stops a server started by hand: no traceback, whenever it comes (imports included).
        return INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    # Tool-argument errors reach the model verbatim; pydantic's documentation link in each is only noise there.
    # Read by pydantic_core when it is first imported, so this comes before anything imports pydantic.
    os.environ.setdefault("PYDANTIC_ERRORS_INCLUDE_URL", "0")
    args = build_parser().parse_args(argv)
    from pydantic import ValidationError

    from kling_mcp.config import Settings
    from kling_mcp.http.settings import flags_given, http_settings_from
    from kling_mcp.listening import ListenError
    from kling_mcp.logs import configure_logging

    try:
        settings = Settings.from_environment()
        http = http_settings_from(args)
    except ValidationError as exc:
        configure_logging("ERROR")
        logger.error("invalid configuration: %s", _describe_settings_error(exc, flags_given(args)))
        return 2
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    tokens: tuple[SecretStr, ...] = ()
    if http.transport == "streamable-http" and args.command is None:
        from kling_mcp.http.security import HttpSecurityError, load_tokens

        try:
            tokens = load_tokens(http)
        except HttpSecurityError as exc:
            configure_logging("ERROR")
            logger.error("%s", exc)
            return 2
    oauth_secret = http.oauth_client_secret.get_secret_value() if http.oauth_client_secret else ""
    configure_logging(
        args.log_level or settings.log_level,
        secrets=(secret, oauth_secret, *(t.get_secret_value() for t in tokens)),
    )
    if args.command is None and _journal_driver_missing(settings):
        return 2
    _warn_unknown_variables()
    try:
        return _run(args, settings, http, tokens)
    except ListenError as exc:
        sandbox = args.command == "sandbox"
        if exc.port_in_use:
            flag = "--port" if sandbox else "--port (or KLING_MCP_PORT)"
            logger.error("%s; stop the program using it or choose another port with %s", exc, flag)
        else:
            flag = "--host" if sandbox else "--host (or KLING_MCP_HOST)"
            logger.error("%s; give %s an address of this machine, such as 127.0.0.1", exc, flag)
        return 1


def _warn_unknown_variables() -> None:
    """A misspelt variable (`KLING_MCP_MAXWAIT`) is silently a default: say which names are not ours."""
    from kling_mcp.config import Settings
    from kling_mcp.environment import unknown_variables
    from kling_mcp.http.settings import HttpSettings

    for name, known in unknown_variables(os.environ, (Settings, HttpSettings)):
        hint = f" (did you mean {known}?)" if known else ""
        logger.warning("%s is not a kling-mcp setting and is ignored%s; see docs/configuration.md", name, hint)


def _journal_driver_missing(settings: Settings) -> bool:
    """True, with one line logged, when the journal needs a driver that is not installed."""
    # Else the server would start, seem connected, and fail every call with the same cause.
    from kling_mcp.config import is_database_url

    if settings.journal is None or not is_database_url(settings.journal):
        return False  # the SQLite journal needs nothing more, and a start should not import the journal for it
    from kling_mcp.service.journal import JournalBackendMissingError, require_backend

    try:
        require_backend(settings.journal)
    except JournalBackendMissingError as exc:
        logger.error("%s", exc)
        return True
    return False


def _run(args: argparse.Namespace, settings: Settings, http: HttpSettings, tokens: tuple[SecretStr, ...]) -> int:
    if args.command == "sandbox":
        from kling_mcp.cli.sandbox import serve_sandbox

        return serve_sandbox(args.sandbox_host, args.sandbox_port, args.task_seconds)
    if args.command == "demo":
        from kling_mcp.cli.demo import main as demo_main

        return demo_main(task_seconds=args.task_seconds, keys_set=bool(settings.access_key and settings.secret_key))
    if args.command == "check":
        from kling_mcp.cli.check import run_check

        return run_check(settings, stateless=http.stateless)
    if args.command == "spend-limit":
        from kling_mcp.cli.limits import run_spend_limit

        return run_spend_limit(settings, args.owner, args.units, clear=args.clear)
    if http.transport == "streamable-http":
        from kling_mcp.http.app import serve_http
        from kling_mcp.http.security import HttpSecurityError

        try:
            return serve_http(settings, http, tokens)
        except HttpSecurityError as exc:
            logger.error("%s", exc)
            return 2
    from kling_mcp.cli.stdio import serve_stdio

    return serve_stdio(settings, http)


if __name__ == "__main__":
    sys.exit(main())
