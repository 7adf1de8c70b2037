"""Real test images, made with Pillow: good ones, and one for each rule an image can break."""

from __future__ import annotations

import base64
import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

TEN_MB = 10 * 1024 * 1024


def image_bytes(width: int, height: int, fmt: str = "PNG", **save: object) -> bytes:
    """An image with some structure (a gradient), so compressed data has a realistic shape."""
    img = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = io.BytesIO()
    img.save(buffer, fmt, **save)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{b64(data)}"


@dataclass(frozen=True)
class Images:
    """Paths and strings for every image case, built once per test module."""

    root: Path
    png: bytes
    jpeg: bytes
    png_path: Path
    jpeg_path: Path
    tiny_png: bytes  # 200x200: a side under 300 px
    wide_png: bytes  # 1000x300: aspect 3.33, beyond 2.5:1
    tall_png: bytes  # 300x800: aspect 0.375, beyond 1:2.5
    gif: bytes
    webp: bytes
    bmp: bytes
    truncated_png: bytes
    truncated_jpeg: bytes
    text_as_png_path: Path  # a text file named .png
    gif_as_png_path: Path
    oversize_path: Path  # a real PNG padded past 10 MB
    directory: Path
    outside: Path  # a directory next to `inside`, for root policies
    inside: Path
    link_out: Path  # a symlink under `inside` to an image in `outside`


def build_images(root: Path) -> Images:
    """Write the files under `root` and return the namespace."""
    png, jpeg = image_bytes(480, 360), image_bytes(480, 360, "JPEG", quality=80)
    png_path, jpeg_path = root / "start.png", root / "photo.jpg"
    png_path.write_bytes(png)
    jpeg_path.write_bytes(jpeg)
    gif = image_bytes(400, 400, "GIF")
    text_path = root / "notes.png"
    text_path.write_text("this is not an image\n")
    gif_path = root / "animation.png"
    gif_path.write_bytes(gif)
    oversize = root / "huge.png"
    with oversize.open("wb") as handle:
        handle.write(png)
        handle.truncate(TEN_MB + 1)  # sparse: costs no disk
    directory = root / "folder.png"
    directory.mkdir()
    inside, outside = root / "inside", root / "outside"
    inside.mkdir()
    outside.mkdir()
    (inside / "ok.png").write_bytes(png)
    (outside / "secret.png").write_bytes(png)
    link_out = inside / "link.png"
    os.symlink(outside / "secret.png", link_out)
    # Cut at a multiple of 3 bytes, so the base64 is well-formed and only the image itself is incomplete.
    cut_png = len(png) // 2 // 3 * 3
    cut_jpeg = len(jpeg) // 2 // 3 * 3
    return Images(
        root=root,
        png=png,
        jpeg=jpeg,
        png_path=png_path,
        jpeg_path=jpeg_path,
        tiny_png=image_bytes(200, 200),
        wide_png=image_bytes(1000, 300),
        tall_png=image_bytes(300, 800),
        gif=gif,
        webp=image_bytes(400, 400, "WEBP"),
        bmp=image_bytes(400, 400, "BMP"),
        truncated_png=png[:cut_png],
        truncated_jpeg=jpeg[:cut_jpeg],
        text_as_png_path=text_path,
        gif_as_png_path=gif_path,
        oversize_path=oversize,
        directory=directory,
        outside=outside,
        inside=inside,
        link_out=link_out,
    )
