"""SIGTERM a server subprocess in the middle of a tool call: calls drain, and every created task is journaled."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from kling_mcp.config import Settings
from kling_mcp.sandbox.runner import SandboxServer
from tests.conftest import journal_entry, text_of
from tests.http_support import HttpServer, connect, run_server
from tests.names import GENERATE

# Every test here starts a server process.
pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ARGUMENTS = {"prompt": "a slow pan", "start_image_url": "https://example.com/a.png", "timeout": 30}


def _journaled(settings: Settings, task_id: str) -> str | None:
    entry = journal_entry(settings, task_id)
    return entry.status if entry is not None else None


async def _sigterm_once_created(server: HttpServer, sandbox: SandboxServer) -> float:
    with anyio.fail_after(15):
        while not sandbox.state.creates():
            await anyio.sleep(0.02)
    server.proc.send_signal(signal.SIGTERM)
    return time.monotonic()


async def _call_and_sigterm(server: HttpServer, sandbox: SandboxServer, mode: str = "auto") -> tuple[Any, float]:
    """Start a generate call, SIGTERM the server once its create reached Kling; the call's outcome and the time."""
    outcome: list[Any] = []
    async with anyio.create_task_group() as tg:

        async def call() -> None:
            try:
                async with connect(server.mcp_url, token=None, mode=mode) as client:
                    # Listed first, as clients do on connecting: a legacy client otherwise lists the tools right
                    # after the result (to check it against the output schema), and the server no longer listens.
                    await client.list_tools()
                    outcome.append(await client.call_tool(GENERATE, ARGUMENTS))
            except Exception as exc:  # the connection may go away with the server: that is an outcome too
                outcome.append(exc)

        tg.start_soon(call)
        sent = await _sigterm_once_created(server, sandbox)
    return outcome[0], sent


def _wait_exit(server: HttpServer, timeout: float) -> int:
    code = server.proc.wait(timeout=timeout)
    assert code in (0, -signal.SIGTERM), server.stderr()
    return code


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_sigterm_lets_a_running_call_finish(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path, mode: str
) -> None:
    sandbox.state.config.run_seconds = 1.5
    with run_server(settings, tmp_path, KLING_MCP_SHUTDOWN_GRACE="20") as server:
        result, _ = await _call_and_sigterm(server, sandbox, mode)
        _wait_exit(server, timeout=15)
    assert not isinstance(result, Exception), f"{result!r}\n{server.stderr()}"
    assert not result.is_error, text_of(result)
    task_id = result.structured_content["result"]["task_id"]
    assert result.structured_content["result"]["status"] == "succeed"
    assert _journaled(settings, task_id) == "succeed"
    assert "draining" in server.stderr()


async def test_sigterm_past_the_grace_answers_the_call_with_its_task_id(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """The task outlives the grace: the call is wrapped up with a normal result naming its task, not cut off."""
    sandbox.state.config.run_seconds = 120.0  # far longer than anyone waits
    with run_server(settings, tmp_path, KLING_MCP_SHUTDOWN_GRACE="0.5") as server:
        result, sent = await _call_and_sigterm(server, sandbox)
        _wait_exit(server, timeout=15)
        stopped_after = time.monotonic() - sent
    assert stopped_after < 8, f"shutdown took {stopped_after:.1f} s"
    assert not isinstance(result, Exception), f"{result!r}\n{server.stderr()}"
    assert not result.is_error, text_of(result)  # an error would invite the model to generate (and pay) again
    [task] = sandbox.state.tasks.values()
    answered = result.structured_content["result"]
    assert answered["task_id"] == task.task_id
    assert answered["status"] in ("submitted", "processing") and answered["done"] is False
    assert "kling_get_video_task" in answered["next_step"]
    assert _journaled(settings, task.task_id) in ("submitted", "processing")
    assert "answered with their task ids" in server.stderr()


async def test_sigterm_during_a_slow_create_still_journals_the_task_id(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """The create is in flight when the grace runs out: the server waits for its answer and records the id."""
    sandbox.state.config.run_seconds = 120.0
    sandbox.state.inject(create_slow=1, slow_seconds=2.0)
    with run_server(settings, tmp_path, KLING_MCP_SHUTDOWN_GRACE="0.1") as server:
        _, sent = await _call_and_sigterm(server, sandbox)
        _wait_exit(server, timeout=30)
        stopped_after = time.monotonic() - sent
    assert stopped_after >= 1.0, "the server exited before Kling answered the create"
    [task] = sandbox.state.tasks.values()
    assert _journaled(settings, task.task_id) in ("submitted", "processing")


async def test_healthz_turns_503_while_draining(settings: Settings, sandbox: SandboxServer, tmp_path: Path) -> None:
    """A load balancer probing an existing connection sees the drain at once."""
    import httpx

    sandbox.state.config.run_seconds = 2.0
    # The probe's kept-alive connection must outlive the idle keep-alive limit on a loaded machine.
    with run_server(settings, tmp_path, KLING_MCP_SHUTDOWN_GRACE="20", KLING_MCP_KEEP_ALIVE_TIMEOUT="60") as server:
        async with httpx.AsyncClient(timeout=10) as probe, anyio.create_task_group() as tg:
            assert (await probe.get(f"{server.base_url}/healthz")).status_code == 200  # opens a kept-alive connection

            async def call() -> None:
                async with connect(server.mcp_url, token=None) as client:
                    # Listed first, as clients do: else the client lists tools after the result to check it against
                    # the output schema, while the server is shutting down.
                    await client.list_tools()
                    await client.call_tool(GENERATE, ARGUMENTS)

            tg.start_soon(call)
            await _sigterm_once_created(server, sandbox)
            await anyio.sleep(0.3)
            draining = await probe.get(f"{server.base_url}/healthz")
            # A probe on a new connection, as most load balancers make: answered too (the docs promise 503).
            async with httpx.AsyncClient(timeout=10) as fresh:
                fresh_draining = await fresh.get(f"{server.base_url}/healthz")
        _wait_exit(server, timeout=15)
    assert draining.status_code == 503
    assert draining.json() == {"status": "draining"}
    assert fresh_draining.status_code == 503
    assert fresh_draining.json() == {"status": "draining"}


async def test_a_second_ctrl_c_during_the_drain_ends_it_quietly_and_keeps_the_task_id(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    """A person who presses Ctrl-C again does not want to wait for the drain: exit now, no traceback, task kept."""
    sandbox.state.config.run_seconds = 120.0
    with run_server(settings, tmp_path, KLING_MCP_SHUTDOWN_GRACE="20") as server:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                try:
                    async with connect(server.mcp_url, token=None) as client:
                        await client.list_tools()
                        await client.call_tool(GENERATE, ARGUMENTS)
                except Exception:  # the server goes away under the call: that is what a forced exit means
                    pass

            tg.start_soon(call)
            with anyio.fail_after(15):
                while not sandbox.state.creates():
                    await anyio.sleep(0.02)
                server.proc.send_signal(signal.SIGINT)
                while "draining" not in server.stderr():
                    await anyio.sleep(0.02)
            server.proc.send_signal(signal.SIGINT)
            code = server.proc.wait(timeout=15)
            tg.cancel_scope.cancel()
    err = server.stderr()
    assert code == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    [task] = sandbox.state.tasks.values()
    assert _journaled(settings, task.task_id) in ("submitted", "processing")
