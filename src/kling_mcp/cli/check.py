"""`kling-mcp check`: prove the configuration works with one cheap authenticated request (lists one task)."""

from __future__ import annotations

import sqlite3
import tempfile

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
from kling_mcp.cli import Say, printer
from kling_mcp.config import MissingCredentialsError, Settings, is_database_url
from kling_mcp.http.settings import stateless_consent_warning
from kling_mcp.redaction import Redactor
from kling_mcp.service.create.recorder import MAX_PENDING
from kling_mcp.service.journal import JournalBackendMissingError, JournalConnectionError, JournalError, open_journal

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
    # A database's own errors name it without the password; a file is named here, so the person knows which one.
    named = "" if is_database_url(location) else f" {location}"
    try:
        journal = open_journal(location)
    except JournalBackendMissingError as exc:
        say(f"✗ task journal: {exc}")
        return False
    except JournalConnectionError as exc:  # its text names the database without the password
        say(f"✗ task journal: {exc}.")
        say("  What to do: check the host, database, user and password in KLING_MCP_JOURNAL.")
        return False
    except JournalError as exc:  # reached, but unusable (a read-only standby, a full disk, ...)
        say(f"✗ task journal{named}: {exc.problem.detail} ({exc.problem.kind}).")
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


def _check_download_dir(settings: Settings, say: Say) -> bool:
    """Whether the server can save videos where KLING_MCP_DOWNLOAD_DIR says (a folder, made on the first save)."""
    if settings.download_dir is None:
        say("• videos are not saved (KLING_MCP_DOWNLOAD_DIR unset)")
        return True
    folder = settings.download_dir.expanduser()
    existing = next(p for p in (folder, *folder.parents) if p.exists())  # the root always exists
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is a file, not a folder")
        # Creating a file is the only true test of writing (permission bits do not stop root; a mount may be read-only).
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        say(f"✗ videos saved to: {folder}: cannot save there ({exc.strerror or exc}).")
        say("  What to do: set KLING_MCP_DOWNLOAD_DIR to a folder this user can write (it is made if missing).")
        return False
    made = "" if existing == folder else " (made on the first save)"
    say(f"• videos saved to: {folder}{made}")
    return True


# What KLING_MCP_CONFIRM_SPEND does, above all for clients that cannot ask their user (docs/spending.md).
SPEND_RULES = {
    "auto": "asks the user before each paid create where the client can ask (MCP elicitation); clients that cannot "
    "ask create WITHOUT confirmation (set always to refuse them)",
    "always": "asks the user before each paid create; clients that cannot ask are refused and nothing is sent",
    "off": "never asks: every paid create goes ahead without confirmation",
}


def spend_rule(settings: Settings) -> str:
    """The line `check` prints about confirming spends."""
    return f"• spending (KLING_MCP_CONFIRM_SPEND={settings.confirm_spend}): {SPEND_RULES[settings.confirm_spend]}"


def _describe(settings: Settings, say: Say, stateless: bool = False) -> bool:
    """Print what is being checked: Kling host, access key, journal, download folder. False if one of them fails."""
    if settings.sandbox:
        say("• Kling API: the built-in sandbox (KLING_MCP_SANDBOX is on; KLING_API_BASE_URL is not used)")
        say("• access key: the sandbox's own (no keys are needed; KLING_ACCESS_KEY and KLING_SECRET_KEY are not used)")
    else:
        say(f"• Kling API: {settings.api_base_url}")
        key = f"{settings.access_key[:4]}…" if settings.access_key else "not set"
        say(f"• access key: {key} (secret key {'set' if settings.secret_key else 'not set'})")
    journal_ok = _check_journal(settings, say)
    saving_ok = _check_download_dir(settings, say)
    say(spend_rule(settings))
    if warning := stateless_consent_warning(stateless, settings.confirm_spend):
        say(f"! {warning}")
    return journal_ok and saving_ok


# After a failed local check no ✓ follows: a server with a broken journal or folder is not ready, whatever Kling says.
SKIPPED = "– Kling not contacted: fix the ✗ above first (the server refuses paid calls it cannot journal or save)."


async def _check(settings: Settings, say: Say, stateless: bool = False) -> int:
    local_ok = _describe(settings, say, stateless)
    if settings.sandbox:
        if not local_ok:
            say("✗ Sandbox mode is on, but the server is not ready: fix the ✗ above.")
            return 1
        say("✓ Sandbox mode: the server makes sample videos from a fake Kling, with no keys and no cost.")
        return 0
    try:
        access_key, secret_key = settings.credentials()
    except MissingCredentialsError as exc:
        say(f"✗ {exc}")
        return 1
    if not local_ok:
        say(SKIPPED)
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


def run_check(settings: Settings, *, stateless: bool = False) -> int:
    """Run the check and return the exit code (0: ready to generate videos); `stateless`: the HTTP server would
    run stateless (`KLING_MCP_STATELESS`), which changes what confirmation does for 2025-11-25 clients."""
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    return anyio.run(_check, settings, printer(Redactor([secret])), stateless)
