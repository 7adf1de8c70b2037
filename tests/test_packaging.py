"""The wheel holds one package, `kling_mcp`, with its type marker and assets; the version lives in one place."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import kling_mcp
from kling_mcp.server.schema_cache import read_fresh

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """A wheel built from this checkout by the project's build backend (no network, no build isolation)."""
    pytest.importorskip("hatchling", reason="hatchling (in the test extras) builds the wheel")
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [path] = out.glob("*.whl")
    assert path.name == f"kling_mcp-{kling_mcp.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        yield archive


@pytest.mark.slow  # builds a wheel in a subprocess
def test_wheel_contains_only_the_kling_mcp_package(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    dist_info = f"kling_mcp-{kling_mcp.__version__}.dist-info/"
    strays = [n for n in names if not n.startswith(("kling_mcp/", dist_info))]
    assert strays == [], "the wheel must install nothing but kling_mcp (no top-level tests/, core/, utils/ …)"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    source = {p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src" / "kling_mcp").rglob("*.py")}
    assert source <= set(names), "every module of src/kling_mcp is shipped"
    for needed in ("kling_mcp/py.typed", "kling_mcp/assets/example.png", "kling_mcp/assets/sample.mp4"):
        assert needed in names, needed
    assert wheel.read("kling_mcp/assets/sample.mp4")[4:8] == b"ftyp"


@pytest.mark.slow  # builds a wheel in a subprocess
def test_wheel_ships_the_finished_player_view(wheel: zipfile.ZipFile) -> None:
    # The MCP Apps view is served from the installed package: the finished, self-contained HTML, not a build input.
    shipped = wheel.read("kling_mcp/assets/player.html").decode()
    assert shipped == (ROOT / "src" / "kling_mcp" / "assets" / "player.html").read_text(encoding="utf-8")
    assert shipped.startswith("<!DOCTYPE html>") and "ui/initialize" in shipped and "<script src" not in shipped


@pytest.mark.slow  # builds a wheel in a subprocess
def test_wheel_ships_tool_schemas_made_from_its_own_source(wheel: zipfile.ZipFile, tmp_path: Path) -> None:
    # An installed server lists its tools from this file (server/schema_cache.py): stale, every start would make them.
    wheel.extractall(tmp_path)
    package = tmp_path / "kling_mcp"
    assert read_fresh(package / "server" / "tool_schemas.json", root=package) is not None


@pytest.mark.slow  # builds a wheel in a subprocess
def test_wheel_metadata_and_entry_point(wheel: zipfile.ZipFile) -> None:
    dist_info = f"kling_mcp-{kling_mcp.__version__}.dist-info"
    metadata = wheel.read(f"{dist_info}/METADATA").decode()
    assert f"\nVersion: {kling_mcp.__version__}\n" in metadata
    assert "\nRequires-Python: >=3.11\n" in metadata
    assert "\nClassifier: Typing :: Typed\n" in metadata
    # PyPI shows the README, and the MCP Registry finds its mcp-name line there to prove the package is ours.
    assert "\nDescription-Content-Type: text/markdown\n" in metadata
    assert "\nProject-URL: Repository, https://github.com/kling-mcp/kling-mcp\n" in metadata
    assert "mcp-name: io.github.kling-mcp/kling-mcp" in metadata.split("\n\n", 1)[1]
    entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    assert "kling-mcp = kling_mcp.cli.main:main" in entry_points


def test_version_has_one_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "src/kling_mcp/__init__.py"
    assert importlib.metadata.version("kling-mcp") == kling_mcp.__version__


def test_classifiers_name_every_python_from_the_minimum_to_the_one_running_this() -> None:
    """3.11 to 3.13 are tried (the quick start and the tests); a newer Python running the suite must be named too."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
    named = {
        int(c.rsplit(".", 1)[1]) for c in project["classifiers"] if c.startswith("Programming Language :: Python :: 3.")
    }
    assert named >= set(range(11, max(13, sys.version_info.minor) + 1))
