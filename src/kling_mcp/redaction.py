"""The one scrubber every outgoing text passes: tool results and errors, CLI output and log lines.

It removes JWTs (every token signed for Kling is one), bearer credentials, `Authorization` header values, database
passwords (in a URL or a `password=` setting), and the exact values of the secrets the process was configured with
(the Kling secret key, the HTTP bearer tokens), and the token in a Kling callback address or a lent video's address.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
# Shorter values are not real keys (Kling's secret keys are 32 characters, our bearer tokens at least 16), and
# replacing them everywhere would censor ordinary words.
MIN_SECRET_LENGTH = 8

_PATTERNS = (
    # A JWT: base64url header (always starts `eyJ`, i.e. `{"`), payload and signature.
    re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    # The password in a URL's user info (a PostgreSQL journal URL) or in a key=value connection string.
    re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*:)(?!\[REDACTED\])[^@\s/]+(?=@)"),
    re.compile(r"(?i)(\bpassword\s*=\s*)(?!\[REDACTED\])[^\s\"',;&]+"),
    # The value of an Authorization header or field, whatever its scheme.
    re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:bearer\s+|basic\s+)?+)(?!\[REDACTED\])[^\s\"',;}\]]+"),
    # `Bearer <credential>`: only when what follows looks like a credential (has a digit or symbol, or is long),
    # so prose such as "bearer token #1 must be ..." is left alone.
    re.compile(r"(?i)(\bbearer\s+)(?:(?=[A-Za-z]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}|[A-Za-z]{24,}=*)"),
    # The token in a Kling callback address (service/callbacks/addresses.py): the address is the callback's only
    # credential.
    re.compile(r"(/kling/callback/[^/\s]+/)[A-Za-z0-9_-]{16,}"),
    # The token in the address of a reference video lent to Kling (service/prepare/reference_video.py): its only key.
    re.compile(r"(/kling/reference/)[A-Za-z0-9_-]{16,}"),
)

# Every pattern above needs one of these (a literal, or a URL with a password), and one search for them is far
# cheaper than six substitutions: most strings (a tool list's thousand schema words, a video URL) hold none.
_NEEDS = re.compile(r"eyJ|://[^/@\s:]*:[^@\s/]*@|/kling/callback/|/kling/reference/|(?i:password|authorization|bearer)")


class Redactor:
    """Removes credentials from text and from JSON-like values (dicts, lists, strings)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        kept = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets: tuple[str, ...] = tuple(sorted(kept, key=len, reverse=True))
        # Whether every secret reads the same inside JSON text (no quote, backslash or control character to escape).
        self._json_safe = all(json.dumps(secret, ensure_ascii=False) == f'"{secret}"' for secret in self.secrets)

    def with_secrets(self, *more: str | None) -> Redactor:
        """A redactor that also removes these values."""
        return Redactor((*self.secrets, *more))

    def text(self, text: str) -> str:
        """The text with every credential replaced by `[REDACTED]`."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        if _NEEDS.search(text) is None:
            return text
        for pattern in _PATTERNS:
            text = pattern.sub(_keep_prefix, text)
        return text

    def value(self, value: Any) -> Any:
        """A JSON-like value with every string in it redacted (keys included)."""
        if isinstance(value, dict | list) and not self._may_hold_credentials(value):
            return value  # most answers (a tool list: thousands of schema strings) hold nothing to look at closely
        return self._walk(value)

    def _may_hold_credentials(self, value: dict[Any, Any] | list[Any]) -> bool:
        # One pass of C code over the whole answer: what no string in it could match is not walked string by string.
        # JSON text holds every string's characters as they are, except those it escapes (hence `_json_safe`).
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            return True
        return not self._json_safe or _NEEDS.search(text) is not None or any(s in text for s in self.secrets)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self._walk(k): self._walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(item) for item in value]
        return value


# The user info of a URL (`user@` or `user:password@`), for text that is stored rather than shown (see `for_storage`).
_USER_INFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s?#]*@")
_STORAGE = Redactor()


def for_storage(text: str) -> str:
    """The text as it may be stored (the task journal): scrubbed like any outgoing text, and every URL's user info
    (`user:pass@`) removed whole, so a stored image URL still works as an address but carries no credentials."""
    if "@" in text:
        text = _USER_INFO.sub(r"\1", text)
    return _STORAGE.text(text)


def _keep_prefix(match: re.Match[str]) -> str:
    prefix = match.group(1) if match.re.groups else ""
    return f"{prefix}{REDACTED}"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Shorthand for `Redactor(secrets).text(text)`."""
    return Redactor(secrets).text(text)
