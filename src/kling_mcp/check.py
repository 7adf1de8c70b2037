"""`kling-mcp check`: prove the configuration works with one cheap authenticated request (lists one task)."""

from __future__ import annotations

import anyio
import httpx

from kling_mcp.api.client import KlingClient
from kling_mcp.api.errors import KlingAPIError, KlingError
from kling_mcp.auth import JwtSigner
from kling_mcp.config import MissingCredentialsError, Settings


def _say(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - a command for people


async def _check(settings: Settings) -> int:
    try:
        access_key, secret_key = settings.credentials()
    except MissingCredentialsError as exc:
        _say(f"✗ {exc}")
        return 1
    _say(f"• Kling API: {settings.api_base_url}")
    _say(f"• access key: {access_key[:4]}… (secret key set)")
    async with httpx.AsyncClient(base_url=settings.api_base_url, timeout=settings.http_timeout_seconds) as http:
        client = KlingClient(http, JwtSigner(access_key, secret_key))
        try:
            tasks = await client.list_tasks("image2video", page_size=1)
        except KlingAPIError as exc:
            _say(f"✗ Kling refused the request: {exc}")
            if exc.kind == "auth":
                _say("  The keys are wrong, or belong to the other Kling site (global vs China: KLING_API_BASE_URL).")
            return 1
        except KlingError as exc:
            _say(f"✗ Could not talk to Kling: {exc}")
            return 1
    _say(f"✓ Credentials accepted; the account has {'tasks' if tasks else 'no image2video tasks yet'}.")
    return 0


def run_check(settings: Settings) -> int:
    """Run the check and return the exit code."""
    return anyio.run(_check, settings)
