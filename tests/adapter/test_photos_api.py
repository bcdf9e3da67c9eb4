"""Photo upload and serving (R1.3) through the API."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import httpx
from PIL import Image

from adapter.auth import Role
from tests.adapter.helpers import SERVICE, assert_error, auth, create_profile
from tests.factories import image_bytes, valid_body

API = "/api/v2/students"
MENTOR = auth(Role.MENTOR, "m1")


def _png_bomb(side: int = 30_000) -> bytes:
    """A PNG whose header claims side×side pixels; the data is tiny (never decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


async def _upload(
    api: httpx.AsyncClient, data: bytes, filename: str = "me.jpg", field: str = "photo"
) -> httpx.Response:
    return await api.put(f"{API}/m1/photo", files={field: (filename, data, "image/jpeg")}, headers=MENTOR)


class TestPhotoUpload:
    async def test_upload_stores_400x400_and_serves_it_with_an_immutable_cache_header(
        self, api: httpx.AsyncClient
    ) -> None:
        await create_profile(api, "m1", valid_body())
        response = await _upload(api, image_bytes(1200, 800))
        assert response.status_code == 200, response.text
        url = response.json()["data"]["profilePhotoUrl"]
        assert url.startswith("/media/photos/") and url.endswith(".jpg")
        served = await api.get(url)
        assert served.status_code == 200
        assert served.headers["content-type"] == "image/jpeg"
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert hashlib.sha256(served.content).hexdigest() in url
        image = Image.open(io.BytesIO(served.content))
        assert image.size == (400, 400) and not image.getexif()
        listed = (await api.get(f"{API}/by-field/LAW", headers=SERVICE)).json()["data"][0]
        assert listed["profilePhotoUrl"] == url

    async def test_rejects_a_1x1_image(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        assert_error(await _upload(api, image_bytes(1, 1, "PNG"), "dot.png"), 400, "PHOTO_TOO_SMALL")

    async def test_rejects_a_30000x30000_png_bomb(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        assert_error(await _upload(api, _png_bomb(), "bomb.png"), 413, "PHOTO_TOO_LARGE")

    async def test_rejects_a_text_file_named_jpg(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        assert_error(await _upload(api, b"just some text, not a picture\n" * 10), 400, "INVALID_PHOTO")

    async def test_rejects_a_file_over_5_mb(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        assert_error(await _upload(api, b"\xff\xd8" + b"\0" * (5 * 1024 * 1024 + 10)), 413, "PHOTO_TOO_LARGE")

    async def test_rejects_a_request_far_over_the_limit(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        assert_error(await _upload(api, b"\0" * (7 * 1024 * 1024)), 413, "PAYLOAD_TOO_LARGE")

    async def test_rejects_upload_without_the_photo_field(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        assert_error(await _upload(api, image_bytes(), field="picture"), 400, "PHOTO_MISSING")

    async def test_rejects_upload_for_unknown_profile(self, api: httpx.AsyncClient) -> None:
        assert_error(await _upload(api, image_bytes()), 404, "PROFILE_NOT_FOUND")

    async def test_another_mentor_cannot_upload(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        response = await api.put(
            f"{API}/m1/photo", files={"photo": ("a.jpg", image_bytes(), "image/jpeg")}, headers=auth(Role.MENTOR, "m2")
        )
        assert_error(response, 403, "NOT_OWNER")

    async def test_unknown_photo_is_404(self, api: httpx.AsyncClient) -> None:
        assert_error(await api.get("/media/photos/" + "a" * 64 + ".jpg"), 404, "PHOTO_NOT_FOUND")
        assert_error(await api.get("/media/photos/../../etc/passwd"), 404, "NOT_FOUND")
        assert_error(await api.get("/media/photos/x.jpg"), 404, "PHOTO_NOT_FOUND")


class TestPhotoCaching:
    async def test_matching_etag_answers_304(self, api: httpx.AsyncClient) -> None:
        await create_profile(api, "m1", valid_body())
        url = (await _upload(api, image_bytes())).json()["data"]["profilePhotoUrl"]
        first = await api.get(url)
        again = await api.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
