"""`kling-mcp check`: prove the configuration works with one cheap authenticated request (lists one task)."""

from __future__ import annotations

import sqlite3

import anyio
import httpx

from kling_mcp.api.client import KlingClient
from kling_mcp.api.errors import (
    KlingAPIError,
    KlingConnectionError,
    KlingError,
    KlingNotFoundError,
    KlingProtocolError,
    KlingTimeoutError,
)
from kling_mcp.api.retry import QUICK_RETRY_POLICY
from kling_mcp.api.signing import JwtSigner
from kling_mcp.cli.output import Say, printer
from kling_mcp.config import MissingCredentialsError, Settings
from kling_mcp.redaction import Redactor
from kling_mcp.service.journal import JournalConnectionError, JournalError, open_journal
from kling_mcp.service.recorder import MAX_PENDING

# What to do about a refused request, by the error's family (api/errors.py ERROR_CODES kinds).
ADVICE = {
    "auth": (
        "The keys were refused. Copy KLING_ACCESS_KEY and KLING_SECRET_KEY again from "
        "https://app.klingai.com/global/dev; keys from the China site only work with "
        "KLING_API_BASE_URL=https://api-beijing.klingai.com."
    ),
    "token_time": "Kling thinks the token's time is wrong: check that this machine's clock is correct.",
    "account": "The keys work, but the account cannot make videos right now: see the message above.",
    "permission": "The keys work, but this account may not use this resource.",
    "rate_limit": "The keys work, but the account is at its request or concurrency limit: try again in a minute.",
    "server": "Kling itself had a problem: try again later.",
}


def _explain_failure(exc: KlingError, settings: Settings, say: Say) -> None:
    url = settings.api_base_url
    if isinstance(exc, KlingTimeoutError):
        say(f"✗ Kling at {url} did not answer in time ({exc}).")
        say(f"  What to do: try again; raise KLING_MCP_HTTP_TIMEOUT (now {settings.http_timeout_seconds:g} s).")
    elif isinstance(exc, KlingConnectionError):
        say(f"✗ Could not reach Kling at {url} ({exc}).")
        say("  What to do: check KLING_API_BASE_URL, this machine's network connection and any proxy (HTTPS_PROXY).")
    elif isinstance(exc, KlingNotFoundError | KlingProtocolError):
        say(f"✗ {url} does not answer like Kling's API ({exc}).")
        say("  What to do: set KLING_API_BASE_URL to https://api-singapore.klingai.com (or the China host).")
    elif isinstance(exc, KlingAPIError):
        say(f"✗ Kling refused the request: {exc}")
        say(f"  What to do: {ADVICE.get(exc.kind, 'see docs/troubleshooting.md for this code.')}")
    else:
        say(f"✗ Could not talk to Kling: {exc}")


def _check_journal(settings: Settings, say: Say) -> bool:
    location = settings.resolved_journal()
    try:
        journal = open_journal(location)
    except JournalConnectionError as exc:  # its text names the database without the password
        say(f"✗ task journal: {exc}.")
        say("  What to do: check the host, database, user and password in KLING_MCP_JOURNAL.")
        return False
    except JournalError as exc:  # reached, but unusable (a read-only standby, a full disk, ...)
        say(f"✗ task journal: {exc.problem.detail} ({exc.problem.kind}).")
        say(f"  What to do: {exc.problem.advice}.")
        return False
    except (OSError, sqlite3.Error) as exc:
        say(f"✗ task journal: cannot open {location} ({exc}).")
        say("  What to do: set KLING_MCP_JOURNAL to a file in a folder this user can write.")
        return False
    say(f"• task journal: {journal.where}")
    say(
        f"  while it is down, the server keeps up to {MAX_PENDING} journal writes in memory and retries them until "
        "they land; past that it drops the oldest status refreshes (Kling keeps them), never a created task's id"
    )
    journal.close()
    return True


def _describe(settings: Settings, say: Say) -> bool:
    """Print what is being checked: Kling host, access key, journal, download folder. False if the journal fails."""
    if settings.sandbox:
        say("• Kling API: the built-in sandbox (KLING_MCP_SANDBOX is on; KLING_API_BASE_URL is not used)")
        say("• access key: the sandbox's own (no keys are needed; KLING_ACCESS_KEY and KLING_SECRET_KEY are not used)")
    else:
        say(f"• Kling API: {settings.api_base_url}")
        key = f"{settings.access_key[:4]}…" if settings.access_key else "not set"
        say(f"• access key: {key} (secret key {'set' if settings.secret_key else 'not set'})")
    journal_ok = _check_journal(settings, say)
    saving = settings.download_dir
    say(
        f"• videos saved to: {saving.expanduser()}"
        if saving
        else "• videos are not saved (KLING_MCP_DOWNLOAD_DIR unset)"
    )
    return journal_ok


async def _check(settings: Settings, say: Say) -> int:
    journal_ok = _describe(settings, say)
    if settings.sandbox:
        say("✓ Sandbox mode: the server makes sample videos from a fake Kling, with no keys and no cost.")
        return 0 if journal_ok else 1
    try:
        access_key, secret_key = settings.credentials()
    except MissingCredentialsError as exc:
        say(f"✗ {exc}")
        return 1
    if not journal_ok:
        return 1
    async with httpx.AsyncClient(base_url=settings.api_base_url, timeout=settings.http_timeout_seconds) as http:
        client = KlingClient(http, JwtSigner(access_key, secret_key), policy=QUICK_RETRY_POLICY)
        try:
            tasks = await client.list_tasks("image2video", page_size=1)
        except KlingError as exc:
            _explain_failure(exc, settings, say)
            return 1
    say(f"✓ Kling accepted the keys; the account has {'tasks' if tasks else 'no image2video tasks yet'}.")
    return 0


def run_check(settings: Settings) -> int:
    """Run the check and return the exit code (0: ready to generate videos)."""
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    return anyio.run(_check, settings, printer(Redactor([secret])))
