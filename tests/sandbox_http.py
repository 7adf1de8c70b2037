"""Talking to the sandbox as Kling's own clients do: real HTTP on loopback, each request signed with a fresh JWT.

The signing here is written from Kling's docs, not taken from our client, so the sandbox's endpoints are tested
on their own.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from kling_mcp.sandbox.runner import SandboxServer
from kling_mcp.sandbox.state import SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY

IMAGE = "https://images.example.com/start.png"
ELEMENTS = "/v1/general/advanced-custom-elements"
# An element made from images, as Kling's element endpoint takes it.
ELEMENT_BODY: dict[str, Any] = {
    "element_name": "Captain Mira",
    "element_description": "a red-haired pilot in a blue flight suit",
    "reference_type": "image_refer",
    "element_image_list": {
        "frontal_image": "https://images.example.com/hero-front.png",
        "refer_images": [{"image_url": "https://images.example.com/hero-side.png"}],
    },
}


def signed(sandbox: SandboxServer) -> httpx.Client:
    """An HTTP client for the sandbox whose requests carry a valid Bearer token."""
    now = int(time.time())
    token = jwt.encode({"iss": SANDBOX_ACCESS_KEY, "exp": now + 1800, "nbf": now - 5}, SANDBOX_SECRET_KEY)
    return httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def answer(response: httpx.Response) -> tuple[int, int, Any, str]:
    """(HTTP status, Kling code, data, message) of an answer."""
    body = response.json()
    return response.status_code, body["code"], body["data"], body["message"]


def finished(http: httpx.Client, path: str, seconds: float = 5.0) -> dict[str, Any]:
    """The task object at `path` once it is no longer submitted or processing."""
    deadline = time.monotonic() + seconds
    while True:
        _, code, data, message = answer(http.get(path))
        assert code == 0, message
        if data["task_status"] not in ("submitted", "processing") or time.monotonic() > deadline:
            return dict(data)
        time.sleep(0.01)
