"""The address each create asks Kling to call back.

Kling does not sign callbacks, so the address is the authentication: its path holds an HMAC of the task's
external_task_id under a server secret, which only this deployment (and Kling, which is told it) knows.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

CALLBACK_PATH = "/kling/callback"


class CallbackAddress:
    """Makes and checks the per-task callback addresses of one deployment."""

    def __init__(self, public_url: str, secret: SecretStr) -> None:
        self.public_url = public_url.rstrip("/")
        # Derived, not used raw: the same secret may also sign Kling's JWTs (the default is KLING_SECRET_KEY).
        self._key = hmac.new(secret.get_secret_value().encode(), b"kling-mcp callback v1", hashlib.sha256).digest()

    def token(self, external_task_id: str) -> str:
        """The unguessable path part for one task (128 bits of HMAC-SHA256)."""
        return hmac.new(self._key, external_task_id.encode(), hashlib.sha256).hexdigest()[:32]

    def url_for(self, external_task_id: str) -> str:
        """The callback_url sent to Kling with this task's create."""
        return f"{self.public_url}{CALLBACK_PATH}/{external_task_id}/{self.token(external_task_id)}"

    def is_valid(self, external_task_id: str, token: str) -> bool:
        """Whether `token` belongs to this task (compared in constant time)."""
        return hmac.compare_digest(self.token(external_task_id), token)
