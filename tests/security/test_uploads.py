"""Hostile photo uploads: bombs, polyglots, lying content types and metadata payloads.

Whatever is uploaded, what is stored and served is a fresh 400×400 JPEG with no metadata and
nothing after its end marker, served as `image/jpeg` with `nosniff`; anything unreadable is a 400
and anything too big a 413, never a 500.
"""

from __future__ import annotations

import io
import struct
import time
import zlib

import httpx
import pytest
from PIL import Image

from adapter.auth import Role
from tests.adapter.helpers import assert_error, auth, create_profile
from tests.factories import image_bytes, valid_body

API = "/api/v2/students"
MENTOR = auth(Role.MENTOR, "m1")
SCRIPT = b"<script>alert(document.domain)</script>"
HTML = b"<!DOCTYPE html><html><body>" + SCRIPT + b"<img src=x onerror=alert(1)></body></html>"
#: Bytes that must never reach the stored file: markup, archive headers, our payload marker.
FORBIDDEN = (b"<script", b"<html", b"onerror", b"PK\x03\x04", b"PAYLOAD-MARK", b"Exif", b"http://ns.adobe.com")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, raw: bytes, *extra_chunks: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + b"".join(extra_chunks)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _zip() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.html", HTML)
    return buffer.getvalue()


def _jpeg_with_metadata(description: bytes, exif_padding: int = 0) -> bytes:
    """A JPEG whose EXIF, XMP, ICC profile and comment all carry a script payload."""
    image = Image.new("RGB", (300, 300), "teal")
    exif = Image.Exif()
    exif[0x010E] = (description + b" PAYLOAD-MARK " + b"A" * exif_padding).decode()  # ImageDescription
    exif[0x013B] = "<img src=x onerror=alert(1)>"  # Artist
    exif[0x0112] = 1
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://ns.adobe.com">' + SCRIPT + b"</rdf:RDF>"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), comment=SCRIPT + b"PAYLOAD-MARK", xmp=xmp, icc_profile=HTML)
    return buffer.getvalue()


async def _upload(
    api: httpx.AsyncClient, data: bytes, filename: str = "me.jpg", content_type: str = "image/jpeg"
) -> httpx.Response:
    return await api.put(f"{API}/m1/photo", files={"photo": (filename, data, content_type)}, headers=MENTOR)


async def _stored(api: httpx.AsyncClient, response: httpx.Response) -> bytes:
    """The upload was accepted; the served file is a clean JPEG with safe headers."""
    assert response.status_code == 200, response.text
    url = response.json()["data"]["profilePhotoUrl"]
    assert url.startswith("/media/photos/") and url.endswith(".jpg")
    served = await api.get(url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
    data = served.content
    assert data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")  # nothing after the end marker
    for marker in FORBIDDEN:
        assert marker not in data, marker
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.size == (400, 400)
        assert not image.getexif()
        assert not set(image.info) & {"exif", "icc_profile", "comment", "xmp", "photoshop"}, image.info
        assert image.applist == [] or all(marker == "APP0" for marker, _ in image.applist), image.applist
    return data


@pytest.fixture
async def mentor(api: httpx.AsyncClient) -> httpx.AsyncClient:
    await create_profile(api, "m1", valid_body())
    return api


class TestBombs:
    async def test_zlib_bomb_in_idat_behind_sane_dimensions_is_not_inflated(self, mentor: httpx.AsyncClient) -> None:
        """200 MB of zeros compressed to ~200 kB under a 200×200 header: decoding stops at the header's size."""
        bomb = _png(200, 200, b"\0" * 200_000_000)
        assert len(bomb) < 300_000
        started = time.perf_counter()
        response = await _upload(mentor, bomb, "bomb.png", "image/png")
        assert time.perf_counter() - started < 5
        await _stored(mentor, response)

    async def test_bomb_claiming_more_pixels_than_allowed_is_413_before_decoding(
        self, mentor: httpx.AsyncClient
    ) -> None:
        for side in (7_000, 65_535):  # 49 M pixels (over our 40 M), and the largest a PNG header holds
            started = time.perf_counter()
            response = await _upload(mentor, _png(side, side, b"\0" * 1024), "bomb.png", "image/png")
            assert time.perf_counter() - started < 2
            assert_error(response, 413, "PHOTO_TOO_LARGE")

    async def test_wide_thin_bomb_is_refused(self, mentor: httpx.AsyncClient) -> None:
        assert_error(await _upload(mentor, _png(1_000_000, 100, b"\0" * 64)), 413, "PHOTO_TOO_LARGE")


class TestPolyglots:
    @pytest.mark.parametrize(
        ("name", "appended"), [("html", HTML), ("zip", b""), ("php", b"<?php system($_GET['c']); ?>" + SCRIPT)]
    )
    async def test_jpeg_with_something_appended_is_stored_without_it(
        self, mentor: httpx.AsyncClient, name: str, appended: bytes
    ) -> None:
        payload = appended or _zip()
        response = await _upload(mentor, image_bytes(300, 300) + payload, f"photo.{name}")
        await _stored(mentor, response)

    async def test_png_with_html_in_text_chunks_is_stored_without_them(self, mentor: httpx.AsyncClient) -> None:
        text = _chunk(b"tEXt", b"Comment\0" + HTML + b"PAYLOAD-MARK")
        compressed = _chunk(b"zTXt", b"Title\0\0" + zlib.compress(HTML))
        polyglot = _png(120, 120, (b"\0" + b"\x10\x20\x30" * 120) * 120, text, compressed) + HTML
        await _stored(mentor, await _upload(mentor, polyglot, "x.png", "image/png"))

    @pytest.mark.parametrize(
        ("name", "data"),
        [
            ("gif that is also html", b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00*/=1;" + HTML),
            ("real gif", image_bytes(200, 200, "GIF")),
            ("html", HTML),
            ("svg with script", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">' + SCRIPT + b"</svg>"),
            ("zip", b"PK\x03\x04" + b"\0" * 200),
            ("pdf", b"%PDF-1.4\n1 0 obj<</JS(alert(1))>>endobj\n%%EOF"),
            ("empty", b""),
            ("png signature only", b"\x89PNG\r\n\x1a\n"),
            ("bmp", image_bytes(200, 200, "BMP")),
        ],
    )
    async def test_anything_not_jpeg_png_or_webp_is_a_400_whatever_it_claims(
        self, mentor: httpx.AsyncClient, name: str, data: bytes
    ) -> None:
        for filename, content_type in (("me.jpg", "image/jpeg"), ("me.png", "image/png"), ("me.html", "text/html")):
            assert_error(await _upload(mentor, data, filename, content_type), 400, "INVALID_PHOTO")
        profile = await mentor.get(f"{API}/m1", headers=MENTOR)
        assert profile.json()["data"]["profilePhotoUrl"] is None


class TestDeclaredTypes:
    @pytest.mark.parametrize(
        ("filename", "content_type"),
        [("me.html", "text/html"), ("me.svg", "image/svg+xml"), ("../../etc/passwd", "application/octet-stream")],
    )
    async def test_the_declared_type_and_name_are_ignored_and_the_result_is_a_jpeg(
        self, mentor: httpx.AsyncClient, filename: str, content_type: str
    ) -> None:
        response = await _upload(mentor, image_bytes(300, 300, "PNG"), filename, content_type)
        await _stored(mentor, response)


class TestMetadata:
    async def test_script_payloads_in_exif_xmp_icc_and_comment_are_dropped(self, mentor: httpx.AsyncClient) -> None:
        upload = _jpeg_with_metadata(SCRIPT)
        assert b"PAYLOAD-MARK" in upload and b"<script" in upload
        await _stored(mentor, await _upload(mentor, upload))

    async def test_an_exif_block_near_its_64_kb_maximum_is_dropped(self, mentor: httpx.AsyncClient) -> None:
        upload = _jpeg_with_metadata(SCRIPT, exif_padding=60_000)
        assert len(upload) > 60_000
        await _stored(mentor, await _upload(mentor, upload))

    async def test_a_malformed_exif_block_is_a_400_or_dropped_never_a_500(self, mentor: httpx.AsyncClient) -> None:
        jpeg = image_bytes(300, 300)
        # An APP1 "Exif" segment whose TIFF header points far outside the segment.
        broken = b"Exif\0\0MM\0\x2a\xff\xff\xff\xf0" + b"\0" * 32
        segment = b"\xff\xe1" + struct.pack(">H", len(broken) + 2) + broken
        response = await _upload(mentor, jpeg[:2] + segment + jpeg[2:])
        if response.status_code == 200:
            await _stored(mentor, response)
        else:
            assert_error(response, 400, "INVALID_PHOTO")


class TestServing:
    async def test_photo_names_cannot_reach_other_files(self, api: httpx.AsyncClient) -> None:
        for name in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e%2fsecret.jpg", "A" * 64 + ".jpg", "a" * 64 + ".html"):
            response = await api.get(f"/media/photos/{name}")
            assert response.status_code == 404, (name, response.status_code)
