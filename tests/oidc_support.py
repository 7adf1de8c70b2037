"""A real identity provider for the tests: npm `oidc-provider`, started on loopback by `tests/oidc/provider.mjs`.

The package is installed from the npm registry into a cache folder outside the repository
(`~/.cache/kling-mcp-oidc`, or `KLING_MCP_OIDC_DIR`) on first use by `tests.npm_support`, which `.ci/run` runs.
Signing keys are made here, so a test can rotate them (restart the provider with a new key first) and can also sign
tokens the provider never issued (another issuer, an unpublished key) to prove they are refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.npm_support import OIDC_PROVIDER

PROVIDER_SCRIPT = Path(__file__).resolve().parent / "oidc" / "provider.mjs"
START_TIMEOUT = 30.0
CLIENT_SECRET = "test-client-secret-0123456789"
RS_CLIENT_ID = "kling-mcp-rs"  # kling-mcp's own client at the provider, for introspection


def install_oidc_provider() -> Path:
    """The node_modules folder holding oidc-provider (installed on first use); skips where Node/npm is missing."""
    return OIDC_PROVIDER.install() / "node_modules"


def new_signing_key(kid: str) -> dict[str, Any]:
    """A fresh RSA private key as a JWK (with its key id)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.update(kid=kid, alg="RS256", use="sig")
    return jwk


def sign(claims: dict[str, Any], jwk: dict[str, Any]) -> str:
    """A JWT access token signed with a private JWK (for tokens the provider would never issue)."""
    key = RSAAlgorithm.from_jwk(json.dumps(jwk))
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": jwk["kid"], "typ": "at+jwt"})  # type: ignore[arg-type]


def _client(client_id: str, grant_types: list[str]) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "client_secret": CLIENT_SECRET,
        "grant_types": grant_types,
        "redirect_uris": [],
        "response_types": [],
    }


# Service clients (client credentials): their id is the token's subject, so each one is a separate owner.
# "short…" clients get tokens that live 1 s; "opaque…" ones get opaque tokens (introspection).
SERVICE_CLIENTS = ("alice-svc", "bob-svc", "admin-svc", "short-svc", "opaque-svc")


@dataclass
class IdentityProvider:
    """oidc-provider on loopback, as a subprocess."""

    modules: Path
    workdir: Path
    port: int
    resource: str
    keys: list[dict[str, Any]]
    proc: subprocess.Popen[bytes] | None = None
    log: list[str] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start (or restart, with the current keys) and wait until it listens."""
        self.stop()
        config = {
            "port": self.port,
            "issuer": self.issuer,
            "keys": self.keys,
            "resource": self.resource,
            "clients": [_client(c, ["client_credentials"]) for c in SERVICE_CLIENTS]
            + [_client(RS_CLIENT_ID, ["client_credentials"])],
        }
        config_path = self.workdir / f"oidc-{self.port}.json"
        config_path.write_text(json.dumps(config))
        with (self.workdir / f"oidc-{self.port}.stderr").open("ab") as stderr:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                ["node", str(PROVIDER_SCRIPT), str(config_path)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, "OIDC_PROVIDER_PREFIX": str(self.modules)},
            )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ready") or time.monotonic() > deadline:
            raise AssertionError(f"oidc-provider did not start: {line!r}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def requests(self, method: str, path: str) -> int:
        """How many `method path` requests the provider has served since it started."""
        counts: dict[str, int] = httpx.get(f"{self.issuer}/test/requests", timeout=10).json()
        return counts.get(f"{method} {path}", 0)

    def rotate(self, kid: str) -> dict[str, Any]:
        """Sign with a new key from now on (the old one stays published, as providers do); restarts the provider."""
        key = new_signing_key(kid)
        self.keys = [key, *self.keys]
        self.start()
        return key

    def token(self, client_id: str, scope: str = "kling:read kling:generate", resource: str | None = None) -> str:
        """An access token from the client credentials grant, for `resource` (default: the MCP server)."""
        response = httpx.post(
            f"{self.issuer}/token",
            data={"grant_type": "client_credentials", "scope": scope, "resource": resource or self.resource},
            auth=(client_id, CLIENT_SECRET),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token
