"""Image arguments at the service level: each form, the checks on the bytes, and the local-file policy's bounds."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from kling_mcp.service.failures import InvalidInputError
from kling_mcp.service.prepare.image_check import check_image_bytes
from kling_mcp.service.prepare.images import ImagePolicy, prepare_image
from tests.imaging import Images, b64, build_images, image_bytes

STDIO = ImagePolicy()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Images:
    return build_images(tmp_path_factory.mktemp("images"))


def refused(value: str, policy: ImagePolicy = STDIO, *, is_start: bool = True) -> str:
    with pytest.raises(InvalidInputError) as info:
        prepare_image("start_image_url", value, policy, is_start=is_start)
    assert info.value.field == "start_image_url"
    return str(info.value)


def sent(value: str, policy: ImagePolicy = STDIO, *, is_start: bool = True) -> str:
    return prepare_image("start_image_url", value, policy, is_start=is_start).value


# --- forms


def test_an_http_url_is_passed_through_unchanged() -> None:
    url = "https://cdn.example.com/a/b%20c.png?sig=x&w=1"
    assert sent(f"  {url}\n") == url
    assert sent("HTTPS://cdn.example.com/Cat.PNG") == "https://cdn.example.com/Cat.PNG"


def test_every_byte_form_is_sent_as_the_same_canonical_bare_base64(images: Images) -> None:
    canonical = b64(images.png)
    wrapped = base64.encodebytes(images.png).decode()  # 76-column lines, as `base64` prints it
    forms = [
        canonical,
        wrapped,
        f"\n {canonical} \n",
        canonical.rstrip("="),  # padding dropped
        base64.urlsafe_b64encode(images.png).decode(),
        f"data:image/png;base64,{canonical}",
        f"DATA:image/png;base64,{wrapped}",
        f"data:;base64,{canonical}",  # no type given: the bytes decide
        str(images.png_path),
        images.png_path.as_uri(),
        f"file://localhost{images.png_path}",
    ]
    assert "\n" in wrapped
    for form in forms:
        assert sent(form) == canonical, form[:40]


def test_the_bytes_decide_the_format_not_the_label(images: Images) -> None:
    assert sent(f"data:image/png;base64,{b64(images.jpeg)}") == b64(images.jpeg)
    assert "got GIF" in refused(f"data:image/jpeg;base64,{b64(images.gif)}")
    assert "got WEBP" in refused(f"data:image/webp;base64,{b64(images.webp)}")


def test_a_home_relative_path_is_expanded(images: Images, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(images.root))
    assert sent("~/start.png") == b64(images.png)
    assert "file not found" in refused("~/missing.png")


def test_a_relative_path_is_read_from_the_working_directory(images: Images, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(images.root)
    assert sent("./photo.jpg") == b64(images.jpeg)
    assert sent("photo.jpg") == b64(images.jpeg)


def test_a_journal_reference_never_holds_the_bytes(images: Images) -> None:
    """A short descriptor instead (form, format, size, SHA-256): enough to tell which image a task was made from."""
    png_sha, jpeg_sha = hashlib.sha256(images.png).hexdigest(), hashlib.sha256(images.jpeg).hexdigest()
    size = f"{len(images.png):,} bytes"
    ref = prepare_image("end_image_url", b64(images.png), STDIO, is_start=False).reference
    assert ref == f"<base64 png, {size}, sha256 {png_sha}>"
    ref = prepare_image("end_image_url", f"data:image/png;base64,{b64(images.jpeg)}", STDIO, is_start=False).reference
    assert ref == f"<data URI jpeg, {len(images.jpeg):,} bytes, sha256 {jpeg_sha}>"
    ref = prepare_image("end_image_url", str(images.png_path), STDIO, is_start=False).reference
    assert ref == f"file://{images.png_path.resolve()} (png, {size}, sha256 {png_sha})"


# --- the bytes


def test_a_phone_camera_jpeg_read_by_pillow_as_mpo_is_a_jpeg() -> None:
    frame = Image.linear_gradient("L").resize((400, 400)).convert("RGB")
    buffer = io.BytesIO()
    frame.save(buffer, "MPO", save_all=True, append_images=[frame])
    assert check_image_bytes("start_image_url", buffer.getvalue(), is_start=True) == "jpeg"


def test_aspect_bounds_are_inclusive_and_apply_to_the_start_frame_only() -> None:
    assert check_image_bytes("f", image_bytes(750, 300), is_start=True) == "png"  # exactly 2.5:1
    assert check_image_bytes("f", image_bytes(300, 750), is_start=True) == "png"  # exactly 1:2.5
    assert check_image_bytes("f", image_bytes(300, 300), is_start=True) == "png"  # exactly 300 px
    with pytest.raises(InvalidInputError, match="aspect ratio"):
        check_image_bytes("f", image_bytes(753, 300), is_start=True)
    assert check_image_bytes("end_image_url", image_bytes(1000, 300), is_start=False) == "png"
    with pytest.raises(InvalidInputError, match="at least 300 px; got 299x400"):
        check_image_bytes("end_image_url", image_bytes(299, 400), is_start=False)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_without_decoding_it() -> None:
    with pytest.raises(InvalidInputError, match="too many pixels"):
        check_image_bytes("start_image_url", _png_header_only(20000, 20000), is_start=True)


def test_cut_off_images_are_named_truncated(images: Images) -> None:
    for data in (images.truncated_png, images.truncated_jpeg, images.jpeg[:-200], images.png[:60]):
        assert "truncated or corrupt" in refused(b64(data))


def test_empty_and_non_image_data(images: Images) -> None:
    assert "must not be empty" in refused("   ")
    assert "not a jpg/jpeg or png" in refused(b64(b"GIF87a"[:4] + b"\0" * 40))
    assert "got BMP" in refused(b64(images.bmp))


def test_a_short_word_that_is_no_image_hints_at_a_path_without_extension() -> None:
    assert "file extension" in refused("images/start")


# --- local files and the policy


def test_a_file_larger_than_10_mb_is_refused_from_its_size_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as handle:
        handle.truncate(2 * 1024**3)  # sparse 2 GB: reading it would show; the message gives the stat size
    assert "got 2,147,483,648 bytes" in refused(str(huge))


def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert "not a regular file" in refused(str(fifo))
    assert "directory" in refused(str(tmp_path))


def test_no_local_files_at_all_when_the_policy_says_so(images: Images) -> None:
    closed = ImagePolicy(allow_local_files=False)
    for form in (str(images.png_path), images.png_path.as_uri(), "~/start.png", str(images.root / "nope.png")):
        assert "local files are not readable" in refused(form, closed)
    assert sent(b64(images.png), closed) == b64(images.png)  # data still works


def test_roots_allow_files_inside_them(images: Images) -> None:
    policy = ImagePolicy(roots=(images.inside,))
    assert sent(str(images.inside / "ok.png"), policy) == b64(images.png)
    assert sent(f"{images.outside}/../inside/ok.png", policy) == b64(images.png)  # `..` that stays inside


def test_roots_are_never_left_by_symlink_dotdot_or_a_look_alike_prefix(images: Images) -> None:
    policy = ImagePolicy(roots=(images.inside,))
    look_alike = Path(f"{images.inside}-evil")
    look_alike.mkdir(exist_ok=True)
    (look_alike / "x.png").write_bytes(images.png)
    dir_link = images.inside / "escape"
    if not dir_link.exists():
        os.symlink(images.outside, dir_link)
    escapes = [
        str(images.link_out),  # file symlink inside -> file outside
        str(dir_link / "secret.png"),  # directory symlink inside -> directory outside
        f"{images.inside}/../outside/secret.png",
        str(look_alike / "x.png"),  # /…/inside-evil is not under /…/inside
        str(images.outside / "does-not-exist.png"),  # judged before existence: nothing to probe
        (images.outside / "secret.png").as_uri(),
    ]
    for path in escapes:
        message = refused(path, policy)
        assert "outside the directories this server may read" in message, path
        assert "not found" not in message


def test_a_root_given_through_a_symlink_is_resolved(images: Images, tmp_path: Path) -> None:
    root_link = tmp_path / "root-link"
    os.symlink(images.inside, root_link)
    policy = ImagePolicy(roots=(root_link,))
    assert sent(str(images.inside / "ok.png"), policy) == b64(images.png)
    assert sent(str(root_link / "ok.png"), policy) == b64(images.png)
    assert "outside" in refused(str(images.outside / "secret.png"), policy)


def test_permits_judges_the_real_location(images: Images) -> None:
    policy = ImagePolicy(roots=(images.inside,))
    assert policy.permits(images.inside / "ok.png")
    assert not policy.permits(images.link_out)
    assert not policy.permits(images.inside / ".." / "outside" / "secret.png")
    assert ImagePolicy().permits(images.link_out)
    assert not ImagePolicy(allow_local_files=False).permits(images.inside / "ok.png")
