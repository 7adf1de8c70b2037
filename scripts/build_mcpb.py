"""Build the Claude Desktop bundle, `dist/kling-mcp-<version>.mcpb`, from this checkout.

python scripts/build_mcpb.py              # writes dist/kling-mcp-<version>.mcpb and prints its path and SHA-256
python scripts/build_mcpb.py --out DIR    # somewhere else

The bundle is a zip of `manifest.json` (server type `uv`: the host installs the dependencies from `pyproject.toml`
with uv, so no virtual environment is bundled), `pyproject.toml`, `README.md`, `LICENSE` and `src/kling_mcp`. The
same checkout gives the same bytes (sorted entries, fixed timestamps), so the SHA-256 a registry entry names can be
remade. No Node.js needed; `@anthropic-ai/mcpb validate` accepts the manifest (tests/test_bundle.py checks it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL_FILES = ("manifest.json", "pyproject.toml", "README.md", "LICENSE")
PACKAGE = Path("src") / "kling_mcp"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: the bytes depend on the content alone


def package_version(root: Path = ROOT) -> str:
    """`__version__` of the package, read from its source (the one place the version lives)."""
    text = (root / PACKAGE / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, flags=re.MULTILINE)
    if match is None:
        raise SystemExit("src/kling_mcp/__init__.py has no __version__ line")
    return match.group(1)


def bundle_files(root: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """(name in the bundle, file on disk) of everything the bundle holds, sorted."""
    for name in TOP_LEVEL_FILES:
        yield name, root / name
    package = sorted(
        path
        for path in (root / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in {".pyc", ".pyo"}
    )
    for path in package:
        yield path.relative_to(root).as_posix(), path


def build(out_dir: Path, root: Path = ROOT) -> Path:
    """Write the bundle into `out_dir`; returns its path. Refuses a manifest whose version is not the package's."""
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    version = package_version(root)
    if manifest["version"] != version:
        raise SystemExit(f"manifest.json says version {manifest['version']}, the package {version}: make them equal")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"kling-mcp-{version}.mcpb"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, path in bundle_files(root):
            entry = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(entry, path.read_bytes())
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="folder to write the bundle into (dist/)")
    args = parser.parse_args(argv)
    target = build(args.out)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    sys.stdout.write(f"{target}\nsha256 {digest}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
