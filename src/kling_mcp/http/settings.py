"""How the server is exposed: transport, address, bearer tokens, Host/Origin lists, file roots and limits.

Read from `KLING_MCP_*` variables (and `.env`), each overridable by the command-line flag of the same name; built in
the entry point, never at import. Kept apart from `config.Settings` because only the serving entry point needs it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from kling_mcp.config import blank_to_none
from kling_mcp.environment import EnvironmentSettings

Transport = Literal["stdio", "streamable-http"]

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024  # an inline base64 image of Kling's 10 MB limit is ~14 MB of JSON
DEFAULT_MAX_CONCURRENT_CALLS = 64
DEFAULT_SHUTDOWN_GRACE_SECONDS = 30.0
# A request's headers must arrive within this (from the connection's first byte, or the next request's), its body
# within the second (a 16 MiB body needs about 2.3 Mbit/s), and an idle kept-alive connection closes after the third.
DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
DEFAULT_BODY_TIMEOUT_SECONDS = 60.0
DEFAULT_KEEP_ALIVE_SECONDS = 5
# Introspection of opaque tokens: POSTs to the identity provider per client address per minute (a token bucket that
# holds as many), and how long a "not active" answer is remembered (http/throttle.py).
DEFAULT_INTROSPECTIONS_PER_MINUTE = 60
DEFAULT_NEGATIVE_CACHE_SECONDS = 30.0
UNAUTHENTICATED_OPT_OUT_FLAG = "--allow-unauthenticated-network-access"


def _split(value: object, separator: str) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(separator) if part.strip()]
    return value


# What `--stateless` does to KLING_MCP_CONFIRM_SPEND (docs/spending.md): a stateless 2025-11-25 session keeps no
# client capabilities, so such a client counts as one that cannot be asked; 2026-07-28 clients are asked in the
# call's own answer either way.
STATELESS_CONFIRMATION = {
    "auto": "their paid creates go ahead WITHOUT confirmation",
    "always": "every paid create of theirs is refused (nothing is sent)",
}


def stateless_consent_warning(stateless: bool, confirm_spend: str) -> str | None:
    """The warning `kling-mcp check` and the server's start-up log give when stateless HTTP meets confirmation."""
    if not stateless or confirm_spend not in STATELESS_CONFIRMATION:
        return None
    return (
        f"--stateless (KLING_MCP_STATELESS) with KLING_MCP_CONFIRM_SPEND={confirm_spend}: clients on the 2025-11-25 "
        "protocol (the initialize handshake: most clients today, VS Code and Cursor among them) cannot be asked in a "
        "stateless session, which keeps no client capabilities, so "
        f"{STATELESS_CONFIRMATION[confirm_spend]}; clients on the 2026-07-28 protocol are still asked. To ask "
        "2025-11-25 clients, serve with sessions (no --stateless; pin each session to one replica)."
    )


class HttpSettings(EnvironmentSettings):
    """Serving settings. Variables are prefixed `KLING_MCP_`; flags of the `kling-mcp` command override them."""

    transport: Transport = Field("stdio", validation_alias="KLING_MCP_TRANSPORT")
    host: str = Field("127.0.0.1", min_length=1, validation_alias="KLING_MCP_HOST")
    port: int = Field(8000, ge=1, le=65535, validation_alias="KLING_MCP_PORT")
    path: str = Field("/mcp", validation_alias="KLING_MCP_PATH")
    stateless: bool = Field(False, validation_alias="KLING_MCP_STATELESS")
    auth_token: SecretStr | None = Field(
        None, validation_alias="KLING_MCP_AUTH_TOKEN", description="Bearer token(s) clients must send, comma-separated."
    )
    auth_token_file: Path | None = Field(
        None, validation_alias="KLING_MCP_AUTH_TOKEN_FILE", description="File with one bearer token per line."
    )
    oauth_issuer: str | None = Field(
        None,
        validation_alias="KLING_MCP_OAUTH_ISSUER",
        description="Issuer URL of the identity provider whose access tokens are accepted (turns OAuth on).",
    )
    oauth_client_id: str | None = Field(
        None,
        validation_alias="KLING_MCP_OAUTH_CLIENT_ID",
        description="This server's client id at the identity provider, for introspecting opaque tokens (RFC 7662).",
    )
    oauth_client_secret: SecretStr | None = Field(
        None, validation_alias="KLING_MCP_OAUTH_CLIENT_SECRET", description="Its client secret. Never logged."
    )
    oauth_introspections_per_minute: int = Field(
        DEFAULT_INTROSPECTIONS_PER_MINUTE,
        ge=1,
        validation_alias="KLING_MCP_OAUTH_INTROSPECTIONS_PER_MINUTE",
        description="Introspection requests to the identity provider per client address per minute; then 429.",
    )
    oauth_negative_cache_seconds: float = Field(
        DEFAULT_NEGATIVE_CACHE_SECONDS,
        ge=0,
        validation_alias="KLING_MCP_OAUTH_NEGATIVE_CACHE_SECONDS",
        description="Seconds a token the provider called not active is refused without asking again (0: off).",
    )
    allow_unauthenticated_network_access: bool = Field(
        False, validation_alias="KLING_MCP_ALLOW_UNAUTHENTICATED_NETWORK_ACCESS"
    )
    allowed_hosts: list[str] = Field(default_factory=list, validation_alias="KLING_MCP_ALLOWED_HOSTS")
    allowed_origins: list[str] = Field(default_factory=list, validation_alias="KLING_MCP_ALLOWED_ORIGINS")
    file_roots: list[Path] = Field(default_factory=list, validation_alias="KLING_MCP_FILE_ROOTS")
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1024, validation_alias="KLING_MCP_MAX_BODY_BYTES")
    max_concurrent_calls: int = Field(
        DEFAULT_MAX_CONCURRENT_CALLS, ge=1, validation_alias="KLING_MCP_MAX_CONCURRENT_CALLS"
    )
    max_calls_per_owner: int | None = Field(
        None,
        ge=1,
        validation_alias="KLING_MCP_MAX_CALLS_PER_OWNER",
        description="Tool calls and MCP task waits one owner may have running at once (default: a quarter of "
        "KLING_MCP_MAX_CONCURRENT_CALLS, at least 1; without authentication, where every caller is one owner, "
        "all of them).",
    )
    shutdown_grace_seconds: float = Field(
        DEFAULT_SHUTDOWN_GRACE_SECONDS, ge=0, validation_alias="KLING_MCP_SHUTDOWN_GRACE"
    )
    header_timeout_seconds: float = Field(
        DEFAULT_HEADER_TIMEOUT_SECONDS,
        gt=0,
        validation_alias="KLING_MCP_HEADER_TIMEOUT",
        description="Seconds a client has to send a request's line and headers; then the connection closes (408).",
    )
    body_timeout_seconds: float = Field(
        DEFAULT_BODY_TIMEOUT_SECONDS,
        gt=0,
        validation_alias="KLING_MCP_BODY_TIMEOUT",
        description="Seconds a client has to send a request's whole body, once its headers are in.",
    )
    keep_alive_seconds: int = Field(
        DEFAULT_KEEP_ALIVE_SECONDS,
        ge=1,
        validation_alias="KLING_MCP_KEEP_ALIVE_TIMEOUT",
        description="Seconds an idle kept-alive connection stays open between requests.",
    )

    @field_validator("allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split(value, ",")

    @field_validator("file_roots", mode="before")
    @classmethod
    def _path_list(cls, value: object) -> object:
        return _split(value, os.pathsep)

    @field_validator("auth_token", "oauth_issuer", "oauth_client_id", "oauth_client_secret", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return blank_to_none(value)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        # Checked here rather than with a `pattern`: pydantic compiles patterns with a Rust regex engine, and a
        # Unicode class such as \S costs every launch more than this check ever will (docs/performance.md).
        if not value.startswith("/") or any(character.isspace() for character in value):
            raise ValueError(f"must start with / and contain no whitespace; got {value!r}")
        return value

    @field_validator("oauth_issuer")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"must be an absolute http(s) URL without query or fragment; got {value!r}")
        return value.strip()  # an issuer is compared exactly as the provider spells it (RFC 8414 §3.3)

    def oauth_resource(self, public_url: str | None) -> str | None:
        """The resource identifier (and required token audience): KLING_MCP_PUBLIC_URL plus the MCP path."""
        return None if public_url is None else f"{public_url.rstrip('/')}{self.path.rstrip('/')}"

    @field_validator("file_roots")
    @classmethod
    def _roots_are_directories(cls, roots: list[Path]) -> list[Path]:
        resolved = []
        for root in roots:
            path = root.expanduser().resolve()
            if not path.is_dir():
                raise ValueError(f"{root} is not a directory")
            resolved.append(path)
        return resolved


# The flag of each setting that has one (field name → flag); an error in a given flag's value names the flag.
FLAGS = {
    "transport": "--transport",
    "host": "--host",
    "port": "--port",
    "path": "--path",
    "stateless": "--stateless",
    "auth_token_file": "--auth-token-file",
    "oauth_issuer": "--oauth-issuer",
    "oauth_client_id": "--oauth-client-id",
    "oauth_introspections_per_minute": "--oauth-introspections-per-minute",
    "oauth_negative_cache_seconds": "--oauth-negative-cache",
    "allow_unauthenticated_network_access": UNAUTHENTICATED_OPT_OUT_FLAG,
    "allowed_hosts": "--allowed-host",
    "allowed_origins": "--allowed-origin",
    "file_roots": "--file-root",
    "max_body_bytes": "--max-body-bytes",
    "max_concurrent_calls": "--max-concurrent-calls",
    "max_calls_per_owner": "--max-calls-per-owner",
    "shutdown_grace_seconds": "--shutdown-grace",
    "header_timeout_seconds": "--header-timeout",
    "body_timeout_seconds": "--body-timeout",
    "keep_alive_seconds": "--keep-alive-timeout",
}


def add_http_arguments(parser: argparse.ArgumentParser) -> None:
    """The serving flags; each defaults to its `KLING_MCP_*` variable. Tokens have no flag: argv is visible to all."""
    group = parser.add_argument_group("serving (flags override the KLING_MCP_* variables)")

    def add(name: str, text: str, **options: Any) -> None:
        group.add_argument(FLAGS[name], dest=name, help=text, default=None, **options)

    add("transport", "stdio (default: a client starts the server) or streamable-http.", choices=get_args(Transport))
    add("host", "HTTP bind address (default 127.0.0.1).", metavar="HOST")
    add("port", "HTTP port (default 8000).", metavar="PORT", type=int)
    add("path", "MCP endpoint path (default /mcp).", metavar="PATH")
    add(
        "stateless", "Keep no session state in the process, so replicas can share a load balancer.", action="store_true"
    )
    add("auth_token_file", "File with one bearer token per line.", metavar="FILE", type=Path)
    add("oauth_issuer", "Identity provider whose access tokens are accepted.", metavar="URL")
    add("oauth_client_id", "Client id for token introspection.", metavar="ID")
    add(
        "oauth_introspections_per_minute",
        "Introspections one client address may cause per minute (default 60).",
        metavar="N",
        type=int,
    )
    add(
        "oauth_negative_cache_seconds",
        "Seconds a token the provider called not active is refused without asking again (default 30; 0: off).",
        metavar="SECONDS",
        type=float,
    )
    add(
        "allow_unauthenticated_network_access",
        "Serve a non-loopback address WITHOUT bearer tokens: anyone who reaches it spends your Kling credits.",
        action="store_true",
    )
    add(
        "allowed_hosts",
        "A Host header to accept (loopback names are accepted on loopback); repeat the flag for more.",
        metavar="HOST",
        action="append",
    )
    add(
        "allowed_origins",
        "A browser Origin to accept (loopback origins are accepted on loopback); repeat the flag for more.",
        metavar="ORIGIN",
        action="append",
    )
    add(
        "file_roots",
        "A folder the tools may read images from by path; repeat for more (default: none over HTTP, any in stdio).",
        metavar="FOLDER",
        action="append",
    )
    add("max_body_bytes", "Largest request body in bytes (default 16 MiB).", metavar="BYTES", type=int)
    add("max_concurrent_calls", "Tool calls running at once; more are refused (default 64).", metavar="N", type=int)
    add(
        "max_calls_per_owner",
        "Tool calls and MCP task waits one owner may run at once (default a quarter of the above; all of them "
        "without authentication).",
        metavar="N",
        type=int,
    )
    add(
        "shutdown_grace_seconds",
        "Seconds running tool calls may finish in after SIGTERM or Ctrl-C (default 30).",
        metavar="SECONDS",
        type=float,
    )
    add("header_timeout_seconds", "Seconds to send a request's headers (default 10).", metavar="SECONDS", type=float)
    add("body_timeout_seconds", "Seconds to send a request's body (default 60).", metavar="SECONDS", type=float)
    add("keep_alive_seconds", "Seconds an idle connection stays open (default 5).", metavar="SECONDS", type=int)


def flags_given(args: argparse.Namespace) -> dict[str, str]:
    """The variable → flag of every serving flag given, so an error in its value names what the person typed."""
    return {
        str(HttpSettings.model_fields[name].validation_alias): flag
        for name, flag in FLAGS.items()
        if getattr(args, name, None) is not None
    }


def http_settings_from(args: argparse.Namespace) -> HttpSettings:
    """The variables, with every flag that was given taking precedence."""
    given: dict[str, Any] = {
        str(field.validation_alias): getattr(args, name)
        for name, field in HttpSettings.model_fields.items()
        if getattr(args, name, None) is not None
    }
    return HttpSettings.from_environment(**given)
