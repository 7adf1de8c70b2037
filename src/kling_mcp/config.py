"""Settings read from the environment and an optional `.env` file; built in the entry point, never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from kling_mcp.environment import EnvironmentSettings

DEFAULT_API_BASE_URL = "https://api-singapore.klingai.com"
DEFAULT_DOWNLOAD_MAX_BYTES = 512 * 1024 * 1024
# How many times one request to Kling is sent at most (api.retry's default policy; a test keeps the two equal): a
# create takes up to this many HTTP timeouts, so KLING_MCP_STALE_INTENT_AFTER may not be shorter.
REQUEST_ATTEMPTS = 6

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def blank_to_none(value: Any) -> Any:
    """An empty or all-blank string means "not given" (clients and env files send "" for unset)."""
    return None if isinstance(value, str) and not value.strip() else value


def is_database_url(journal: str) -> bool:
    """Whether a `KLING_MCP_JOURNAL` value names a PostgreSQL database rather than an SQLite file."""
    return journal.startswith(("postgresql://", "postgres://"))


class MissingCredentialsError(RuntimeError):
    """The Kling keys are not configured; the message names the variables to set."""


class Settings(EnvironmentSettings):
    """Everything kling-mcp can be told from outside. Variables are prefixed `KLING_` / `KLING_MCP_`."""

    access_key: str | None = Field(None, validation_alias="KLING_ACCESS_KEY", description="Kling access key (JWT iss).")
    secret_key: SecretStr | None = Field(
        None, validation_alias="KLING_SECRET_KEY", description="Kling secret key (signs the JWT)."
    )
    api_base_url: str = Field(
        DEFAULT_API_BASE_URL,
        validation_alias="KLING_API_BASE_URL",
        description="Kling API host; https://api-beijing.klingai.com for keys from the China site.",
    )
    sandbox: bool = Field(
        False,
        validation_alias="KLING_MCP_SANDBOX",
        description="Start the built-in Kling sandbox in-process and use it instead of Kling (no keys, no cost).",
    )
    journal: str | None = Field(
        None,
        validation_alias="KLING_MCP_JOURNAL",
        description=(
            "Task journal: an SQLite file, or a PostgreSQL URL (`postgresql://user@host:5432/db`, any libpq URL) "
            "that replicas on several machines share. Default: the SQLite file `tasks.sqlite3` in the user data "
            "directory (`~/.local/share/kling-mcp` on Linux, `~/Library/Application Support/kling-mcp` on macOS, "
            "`%LOCALAPPDATA%\\kling-mcp` on Windows); with KLING_MCP_SANDBOX on, `sandbox-tasks.sqlite3` there "
            "instead, so sandbox tasks never mix with real ones."
        ),
    )
    download_dir: Path | None = Field(
        None,
        validation_alias="KLING_MCP_DOWNLOAD_DIR",
        description=(
            "Save every finished video into this folder (as `kling-<task_id>.mp4`) and return its local path beside "
            "the URL. Unset: nothing is saved unless kling_get_video_task is called with download=true, which then "
            "saves into the user's Downloads folder (`~/Downloads/kling-mcp`)."
        ),
    )
    download_max_bytes: int = Field(
        DEFAULT_DOWNLOAD_MAX_BYTES,
        gt=0,
        validation_alias="KLING_MCP_DOWNLOAD_MAX_BYTES",
        description="Largest video file (bytes) the server will save; a bigger one is refused (its URL still works).",
    )
    max_wait_seconds: float = Field(
        50.0,
        gt=0,
        validation_alias="KLING_MCP_MAX_WAIT",
        description=(
            "Longest a single tool call waits for a task (seconds) before handing back its id. Claude Desktop drops "
            "results arriving after ~60 s, so the default stays under that."
        ),
    )
    journal_write_wait: float = Field(
        30.0,
        gt=0,
        validation_alias="KLING_MCP_JOURNAL_WAIT",
        description=(
            "Longest a task journal write waits for another process's write lock (seconds; PostgreSQL: the "
            "sessions' lock_timeout). A create is refused, before anything is sent, if its intent cannot be written "
            "in that time; reads never wait for writers."
        ),
    )
    stale_intent_seconds: float = Field(
        600.0,
        gt=0,
        validation_alias="KLING_MCP_STALE_INTENT_AFTER",
        description=(
            "How long after a create was attempted a task Kling still does not know by its external_task_id is "
            "declared `never_created` (safe to create again). Kling's lookup can lag a create, and a create may "
            "still be in flight in another process, so keep it well above KLING_MCP_MAX_WAIT. Refused below the "
            "longest a create can take: KLING_MCP_HTTP_TIMEOUT × 6 attempts (180 s by default). A create is never "
            "sent later than this minus 2 × KLING_MCP_HTTP_TIMEOUT after its intent (a create waiting in line for "
            "Kling's account concurrency then fails with Kling's 1303 refusal, nothing created)."
        ),
    )
    http_timeout_seconds: float = Field(
        30.0,
        gt=0,
        validation_alias="KLING_MCP_HTTP_TIMEOUT",
        description="Timeout of one HTTP request to Kling (seconds).",
    )
    poll_min_interval: float = Field(
        2.0,
        gt=0,
        validation_alias="KLING_MCP_POLL_MIN_INTERVAL",
        description="Shortest gap between two task queries (seconds).",
    )
    poll_max_interval: float = Field(
        10.0,
        gt=0,
        validation_alias="KLING_MCP_POLL_MAX_INTERVAL",
        description="Longest gap between two task queries (seconds).",
    )
    confirm_spend: Literal["auto", "always", "off"] = Field(
        "auto",
        validation_alias="KLING_MCP_CONFIRM_SPEND",
        description=(
            "Ask the user before each paid create, showing the settings and the estimated cost (docs/spending.md): "
            "`auto` asks clients that can answer (MCP elicitation) and creates without asking for clients that "
            "cannot; `always` refuses a create, sending nothing, when the client cannot ask; `off` never asks."
        ),
    )
    skip_capability_check: bool = Field(
        False,
        validation_alias="KLING_MCP_SKIP_CAPABILITY_CHECK",
        description="Send model/mode/duration combinations the local capability table refuses (type checks stay).",
    )
    public_url: str | None = Field(
        None,
        validation_alias="KLING_MCP_PUBLIC_URL",
        description=(
            "HTTP mode: the https address Kling can reach this deployment at (e.g. https://mcp.example.com). When "
            "set, every create asks Kling to call back on this server when the task changes, and polling becomes a "
            "sparse safety net. With KLING_MCP_OAUTH_ISSUER it (plus the MCP path) is also the OAuth resource "
            "identifier access tokens must be issued for. See docs/deploying-http.md."
        ),
    )
    callback_secret: SecretStr | None = Field(
        None,
        validation_alias="KLING_MCP_CALLBACK_SECRET",
        description=(
            "Key of the HMAC that makes each callback address unguessable; every replica needs the same one. "
            "Default: derived from KLING_SECRET_KEY (which replicas share already)."
        ),
    )
    callback_safety_poll: float = Field(
        30.0,
        gt=0,
        validation_alias="KLING_MCP_CALLBACK_SAFETY_POLL",
        description=(
            "With callbacks: the gap between safety-net status queries (seconds) once a task is overdue, in case "
            "a callback was lost."
        ),
    )
    relay_to_private_addresses: bool = Field(
        False,
        validation_alias="KLING_MCP_RELAY_TO_PRIVATE_ADDRESSES",
        description=(
            "With KLING_MCP_PUBLIC_URL: also relay Kling's callbacks to a caller's callback_url on loopback, private "
            "or link-local addresses. Off by default: any signed-in caller could otherwise make the server POST into "
            "its own network (the cloud metadata service, admin ports). See docs/deploying-http.md."
        ),
    )
    spend_limit: float | None = Field(
        None,
        gt=0,
        validation_alias="KLING_MCP_SPEND_LIMIT",
        description=(
            "Units each owner (OAuth subject, static-token label, local user) may spend per rolling 24 h. A create "
            "that would pass it (spent, counting running tasks at their estimate, plus this create's estimate) is "
            "refused before anything is sent. Unset: no limit, except per-owner limits set with `kling-mcp "
            "spend-limit` (docs/limits.md)."
        ),
    )
    log_level: LogLevel = Field(
        "INFO",
        validation_alias="KLING_MCP_LOG_LEVEL",
        description=(
            "Log level (DEBUG, INFO, WARNING or ERROR, in any case); logs go to stderr with secrets redacted. The "
            "--log-level flag overrides it."
        ),
    )

    @field_validator(
        "access_key", "secret_key", "journal", "download_dir", "public_url", "callback_secret", mode="before"
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return blank_to_none(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("api_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"KLING_API_BASE_URL must start with http:// or https://; got {value!r}")
        return value.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"KLING_MCP_PUBLIC_URL must start with https:// (or http://); got {value!r}")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _grace_outlasts_a_create(self) -> Settings:
        # Shorter, an intent whose create is still in flight (here or in another process) would be declared never
        # created, and the caller told that creating again is safe: a second paid task.
        longest = round(self.http_timeout_seconds * REQUEST_ATTEMPTS, 6)  # 0.1 s × 6 is 0.6, not 0.6000000000000001
        if self.stale_intent_seconds < longest:
            raise ValueError(
                f"KLING_MCP_STALE_INTENT_AFTER must be at least {longest:g} s, the longest a create can take "
                f"(KLING_MCP_HTTP_TIMEOUT {self.http_timeout_seconds:g} s × {REQUEST_ATTEMPTS} attempts); "
                f"got {self.stale_intent_seconds:g}"
            )
        return self

    def credentials(self) -> tuple[str, SecretStr]:
        """The access and secret key, or a `MissingCredentialsError` naming what to set."""
        missing = [
            name
            for name, value in (("KLING_ACCESS_KEY", self.access_key), ("KLING_SECRET_KEY", self.secret_key))
            if value is None
        ]
        if missing or self.access_key is None or self.secret_key is None:
            raise MissingCredentialsError(
                f"Kling credentials are not configured: set {' and '.join(missing)} in the server's environment "
                "(keys from https://app.klingai.com/global/dev), or set KLING_MCP_SANDBOX=1 to try the built-in "
                "sandbox without keys."
            )
        return self.access_key, self.secret_key

    def resolved_journal(self) -> str:
        """Where the task journal lives: the configured database URL or file, or a file in the user data directory."""
        if self.journal is not None:
            return self.journal if is_database_url(self.journal) else str(Path(self.journal).expanduser())
        import platformdirs  # imported here: only needed when no journal is configured

        # The sandbox's tasks are fakes that vanish with its process: they must not sit among paid ones.
        name = "sandbox-tasks.sqlite3" if self.sandbox else "tasks.sqlite3"
        return str(Path(platformdirs.user_data_dir("kling-mcp", appauthor=False)) / name)

    def callback_key(self) -> SecretStr | None:
        """The secret behind callback addresses: KLING_MCP_CALLBACK_SECRET, else KLING_SECRET_KEY (None: neither)."""
        return self.callback_secret or self.secret_key

    def resolved_download_dir(self) -> Path:
        """Where videos are saved: the configured folder or `kling-mcp` in the user's Downloads folder."""
        if self.download_dir is not None:
            return self.download_dir.expanduser()
        import platformdirs  # imported here: only needed when no folder is configured

        return Path(platformdirs.user_downloads_dir()) / "kling-mcp"
