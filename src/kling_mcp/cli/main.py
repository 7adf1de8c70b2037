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
        prog="kling-mcp", description="MCP server for Kling image-to-video (stdio by default)."
    )
    parser.add_argument("--version", action="version", version=f"kling-mcp {__version__}")
    _add_log_level(parser, None)
    add_http_arguments(parser)
    commands = parser.add_subparsers(dest="command")
    sandbox = commands.add_parser("sandbox", help="Run the built-in Kling sandbox (a fake Kling API) on loopback.")
    sandbox.add_argument(
        "--host", dest="sandbox_host", metavar="HOST", default="127.0.0.1", help="Bind address (default %(default)s)."
    )
    sandbox.add_argument(
        "--port",
        dest="sandbox_port",
        metavar="PORT",
        type=int,
        default=SANDBOX_PORT,
        help="Port (default %(default)s).",
    )
    sandbox.add_argument(
        "--task-seconds",
        metavar="SECONDS",
        type=float,
        default=4.0,
        help="How long each task runs (default %(default)g s).",
    )
    demo = commands.add_parser("demo", help="Generate a video end to end against the sandbox (no keys needed).")
    demo.add_argument(
        "--task-seconds",
        metavar="SECONDS",
        type=float,
        default=4.0,
        help="How long the sandbox task runs (default %(default)g s).",
    )
    check = commands.add_parser("check", help="Check configuration and credentials with one cheap Kling request.")
    for command in (sandbox, demo, check):
        # Also after the subcommand (`kling-mcp check --log-level debug`); SUPPRESS keeps a value given before it.
        _add_log_level(command, argparse.SUPPRESS)
    return parser


def _describe_settings_error(exc: ValidationError) -> str:
    """One plain line per bad variable: `KLING_MCP_MAX_WAIT: Input should be greater than 0 (got '-1')`."""
    lines = []
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        got = "" if name in message else f" (got {error.get('input')!r:.80})"
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
    from kling_mcp.http.settings import http_settings_from
    from kling_mcp.listening import ListenError
    from kling_mcp.logs import configure_logging

    try:
        settings = Settings.from_environment()
        http = http_settings_from(args)
    except ValidationError as exc:
        configure_logging("ERROR")
        logger.error("invalid configuration: %s", _describe_settings_error(exc))
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
    try:
        return _run(args, settings, http, tokens)
    except ListenError as exc:
        flag = "--port" if args.command == "sandbox" else "--port (or KLING_MCP_PORT)"
        logger.error("%s; stop the program using it or choose another port with %s", exc, flag)
        return 1


def _journal_driver_missing(settings: Settings) -> bool:
    """True, with one line logged, when the journal needs a driver that is not installed."""
    # Else the server would start, seem connected, and fail every call with the same cause.
    from kling_mcp.config import is_database_url

    if settings.journal is None or not is_database_url(settings.journal):
        return False  # the SQLite journal needs nothing more, and a start should not import the journal for it
    from kling_mcp.service.journal.factory import JournalBackendMissingError, require_backend

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

        return demo_main(task_seconds=args.task_seconds)
    if args.command == "check":
        from kling_mcp.cli.check import run_check

        return run_check(settings)
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
