"""Local files over HTTP: off by default; with KLING_MCP_FILE_ROOTS only resolved paths inside the roots are read."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import EXAMPLE_PNG, make_settings, text_of
from tests.http_support import HttpServer, connect, run_server
from tests.names import GENERATE

# Every test here starts a server process.
pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@dataclass
class Layout:
    root: Path
    outside: Path
    server: HttpServer


@pytest.fixture(scope="module")
def rooted(sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    """A server that may read only under `root`; a readable image sits next to it, outside."""
    base = tmp_path_factory.mktemp("files")
    root, outside = base / "root", base / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    shutil.copy(EXAMPLE_PNG, root / "inside.png")
    shutil.copy(EXAMPLE_PNG, outside / "secret.png")
    (root / "link.png").symlink_to(outside / "secret.png")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    (root / "dangling.png").symlink_to(outside / "missing.png")
    settings = make_settings(sandbox_server, base)
    with run_server(settings, base, KLING_MCP_FILE_ROOTS=str(root)) as server:
        yield Layout(root, outside, server)


async def _generate(server: HttpServer, image: str) -> tuple[bool, str]:
    async with connect(server.mcp_url, token=None) as client:
        result = await client.call_tool(GENERATE, {"prompt": "p", "start_image_url": image, "timeout": 20})
    return bool(result.is_error), text_of(result)


async def test_a_file_inside_the_roots_is_accepted(rooted: Layout, sandbox: SandboxServer) -> None:
    is_error, text = await _generate(rooted.server, str(rooted.root / "inside.png"))
    assert not is_error, text
    [create] = sandbox.state.creates()
    assert create.body is not None and not create.body["image"].startswith(("data:", "http", "/"))


@pytest.mark.usefixtures("sandbox")
async def test_a_dotdot_path_inside_the_root_is_accepted(rooted: Layout) -> None:
    is_error, text = await _generate(rooted.server, str(rooted.root / "sub" / ".." / "inside.png"))
    assert not is_error, text


@pytest.mark.parametrize(
    "attack",
    [
        "{root}/../outside/secret.png",  # ../ traversal
        "{root}/sub/../../outside/secret.png",
        "{root}/link.png",  # a symlink inside the root pointing out
        "{root}/linkdir/secret.png",  # a directory symlink pointing out
        "{root}/dangling.png",  # a symlink pointing out to nothing
        "file://{outside}/secret.png",
        "{outside}/secret.png",
        "/etc/passwd.png",
        "~/.ssh/id_rsa.png",
    ],
)
async def test_paths_outside_the_roots_are_refused(rooted: Layout, sandbox: SandboxServer, attack: str) -> None:
    image = attack.format(root=rooted.root, outside=rooted.outside)
    is_error, text = await _generate(rooted.server, image)
    assert is_error
    assert "outside the directories this server may read" in text
    assert sandbox.state.requests == []  # nothing was sent to Kling, nothing billed


async def test_outside_the_roots_existing_and_missing_files_look_the_same(rooted: Layout) -> None:
    """No oracle: a caller cannot learn whether a file outside the roots exists."""
    _, existing = await _generate(rooted.server, str(rooted.outside / "secret.png"))
    _, missing = await _generate(rooted.server, str(rooted.outside / "no-such.png"))
    assert existing.replace("secret", "X") == missing.replace("no-such", "X")


async def test_without_roots_no_local_file_is_read_over_http(
    sandbox: SandboxServer, tmp_path: Path, settings: Settings
) -> None:
    with run_server(settings, tmp_path) as server:
        is_error, text = await _generate(server, str(EXAMPLE_PNG))
    assert is_error
    assert "local files are not readable through this server" in text
    assert "KLING_MCP_FILE_ROOTS" in text
    assert sandbox.state.requests == []
