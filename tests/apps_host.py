"""A real MCP Apps host for the browser tests: Debian's Chromium (Playwright), the real AppBridge, the real server.

The host page (tests/browser/host.js, bundled with esbuild) and the sandbox proxy are served on loopback from two
origins (127.0.0.1 and localhost); the page's MCP requests go through `window.mcpRequest` to a real MCP client that
advertises MCP Apps and talks to the kling-mcp server over streamable HTTP.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.client.streamable_http import streamable_http_client
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

BROWSER_DIR = Path(__file__).resolve().parent / "browser"
CHROMIUM = Path(os.environ.get("KLING_MCP_CHROMIUM", "/usr/bin/chromium"))
DEPS_DIR = Path(os.environ.get("KLING_MCP_BROWSER_DEPS", Path.home() / ".cache" / "kling-mcp" / "browser-deps"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = "run scripts/install-browser-deps.sh (.ci/run does)"


def require_browser() -> None:
    """Skip, saying why, when the browser or the npm packages are not installed on this machine."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: {INSTALL_HINT}")
    if not (DEPS_DIR / "node_modules" / "@modelcontextprotocol" / "ext-apps").is_dir():
        pytest.skip(f"npm packages for the browser tests missing in {DEPS_DIR}: {INSTALL_HINT}")
    if shutil.which("node") is None:
        pytest.skip("node is not installed (esbuild needs it to bundle the host page)")


def build_site(target: Path, frame_png: Path) -> Path:
    """The host page, its bundle, the sandbox proxy and one image, in `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("host.html", "sandbox.html"):
        shutil.copy(BROWSER_DIR / name, target / name)
    shutil.copy(frame_png, target / "frame.png")
    esbuild = DEPS_DIR / "node_modules" / ".bin" / "esbuild"
    subprocess.run(
        [str(esbuild), str(BROWSER_DIR / "host.js"), "--bundle", "--format=esm", "--log-level=warning",
         f"--outfile={target / 'host.bundle.js'}"],
        check=True,
        env={**os.environ, "NODE_PATH": str(DEPS_DIR / "node_modules")},
        timeout=120,
    )  # fmt: skip
    return target


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_site(root: Path) -> Iterator[int]:
    """Serve `root` on 127.0.0.1 (the host's origin; http://localhost:PORT is the sandbox's); yields the port."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@asynccontextmanager
async def apps_client(url: str, *, mode: str = "auto", declare_apps: bool = True) -> AsyncIterator[Client]:
    """A real MCP client over streamable HTTP that tells the server it renders MCP Apps (unless `declare_apps` is
    false: a host that renders `_meta.ui.resourceUri` without declaring the extension)."""
    ui = [advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})] if declare_apps else []
    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, read=120.0)) as http,
        Client(streamable_http_client(url, http_client=http), extensions=ui, mode=mode) as client,
    ):
        yield client


def _wire(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def mcp_bridge(client: Client) -> Any:
    """The function the page calls as `window.mcpRequest(method, params)`: one MCP request through `client`."""

    async def handle(method: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            if method == "tools/list":
                return {"result": _wire(await client.list_tools())}
            if method == "resources/read":
                return {"result": _wire(await client.read_resource(params["uri"]))}
            if method == "tools/call":
                result = await client.call_tool(params["name"], params.get("arguments") or {})
                return {"result": _wire(result)}
        except Exception as exc:  # handed to the page as a JSON-RPC error, as a host would
            return {"error": f"{type(exc).__name__}: {exc}"}
        return {"error": f"method {method} is not proxied by the test host"}

    return handle
