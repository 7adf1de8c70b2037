"""Cold start counted in instructions: spawn → `tools/list` answered, under valgrind's callgrind, per protocol mode.

Wall and CPU time on a shared VM swing by ±15 % from one start to the next, more than the difference being measured
(`cold_start.py` needs dozens of paired runs). The number of instructions a start executes does not depend on the
machine's load: one run per server and mode gives a steady answer, at ~50× the time. Needs `valgrind`.

python benchmarks/cold_start_instructions.py [--before-src /tmp/before/src] [--modes auto legacy]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cold_start import MODES, default_env  # type: ignore[import-not-found]

HERE = Path(__file__).resolve().parent
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
# What a client sends up to and including `tools/list`, per mode (the last message is the one timed to).
OPENING: dict[str, list[dict[str, Any]]] = {
    "legacy": [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}},
    ],
    "auto": [
        {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": META}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"_meta": META}},
    ],
}


def list_tools(proc: subprocess.Popen[bytes], mode: str) -> None:
    """Send the opening of `mode` up to `tools/list` and read its answer."""
    assert proc.stdin is not None and proc.stdout is not None
    for message in OPENING[mode]:
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()
        if "id" in message:
            answer = proc.stdout.readline()
    assert b'"tools"' in answer, answer[:200]


def warm_up(command: list[str], env: dict[str, str]) -> None:
    """One start without valgrind: Python writes the bytecode of every module the start imports."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        list_tools(proc, "legacy")
    finally:
        proc.kill()
        proc.wait()


def instructions(command: list[str], env: dict[str, str], mode: str) -> int:
    """Instructions the server executed from spawn until its `tools/list` answer was read."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            list_tools(proc, mode)
            subprocess.run(["callgrind_control", "--dump", str(proc.pid)], check=True, capture_output=True)
            for _ in range(100):  # the dump is written asynchronously
                dumps = [p for p in Path(folder).glob("callgrind.out*") if "summary:" in p.read_text()]
                if dumps:
                    break
                time.sleep(0.1)
        finally:
            proc.kill()
            proc.wait()
        summary = next(line for line in dumps[0].read_text().splitlines() if line.startswith("summary:"))
        return int(summary.split()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before-src", type=Path, help="src/ of an older checkout to compare with")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install -y valgrind)", file=sys.stderr)
        return 1
    env = {**default_env(), "PYTHONHASHSEED": "0"}  # string hashing steers dict work: fixed, the count repeats
    servers = {
        "bare_sdk": [sys.executable, str(HERE / "bare_server.py")],
        "kling_mcp": [sys.executable, "-m", "kling_mcp"],
    }
    envs = {"bare_sdk": env, "kling_mcp": env}
    if args.before_src is not None:
        servers["kling_mcp_before"] = servers["kling_mcp"]
        envs["kling_mcp_before"] = {**env, "PYTHONPATH": str(args.before_src)}
    for name, command in servers.items():  # once without valgrind, so that no count includes compiling bytecode
        warm_up(command, envs[name])
    jobs = [(mode, name) for mode in args.modes for name in servers]
    with ThreadPoolExecutor(max_workers=2) as pool:  # valgrind runs one thread: two at once on two cores
        counts = list(pool.map(lambda job: instructions(servers[job[1]], envs[job[1]], job[0]), jobs))
    result: dict[str, dict[str, Any]] = {}
    for (mode, name), count in zip(jobs, counts, strict=True):
        result.setdefault(mode, {})[name] = count
    for per_server in result.values():
        bare = per_server["bare_sdk"]
        for name in [n for n in per_server if n != "bare_sdk"]:
            per_server[f"{name}_overhead_pct"] = round(100 * (per_server[name] / bare - 1), 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
