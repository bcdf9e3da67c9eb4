"""Mentor profile photos (R1.3): what is accepted, what comes out, and what is refused."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import warnings
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from thotis_ext.photos import (
    PhotoRejected,
    PhotoTooLarge,
    PhotoTooSmall,
    ProcessedPhoto,
    process_photo,
)

ORIENTATION = 0x0112
RED = (255, 0, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
#: Modes each format can actually write (CMYK only JPEG; alpha and palette only PNG/WebP).
MODES_BY_FORMAT = {
    "JPEG": ("L", "RGB", "CMYK"),
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"),
    "WEBP": ("L", "LA", "P", "RGB", "RGBA"),
}
FORMAT_MODE_PAIRS = [(fmt, mode) for fmt, modes in MODES_BY_FORMAT.items() for mode in modes]


def encode(image: Image.Image, fmt: str, orientation: int | None = None, **params: Any) -> bytes:
    """The bytes an upload of `image` would carry, optionally with an EXIF orientation tag."""
    if orientation is not None:
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        params["exif"] = exif
    if fmt == "WEBP":
        params.setdefault("method", 0)  # fastest encoder: keeps the property test quick
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims `width`×`height` but whose pixel data is garbage.

    Costs nothing to build; if the code under test decoded it, the result would be
    PhotoRejected rather than PhotoTooLarge, so the test also proves nothing was decoded.
    """

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"not zlib data") + chunk(b"IEND", b"")


def opened(photo: ProcessedPhoto) -> Image.Image:
    image = Image.open(io.BytesIO(photo.data))
    image.load()
    return image


def near(pixel: Any, expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def two_halves(width: int, height: int) -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new("RGB", (width, height), RED)
    ImageDraw.Draw(image).rectangle((width // 2, 0, width, height), fill=BLUE)
    return image


def assert_user_safe(error: Exception) -> None:
    message = str(error)
    assert message
    for leak in ("Error", "Traceback", "Exception", "PIL", "BytesIO", "<"):
        assert leak not in message


@st.composite
def uploads(draw: st.DrawFn) -> bytes:
    fmt, mode = draw(st.sampled_from(FORMAT_MODE_PAIRS))
    width = draw(st.integers(100, 1500))
    height = draw(st.integers(100, 1500))
    colour = draw(st.tuples(*[st.integers(0, 255)] * 3))
    image = Image.new("RGB", (width, height), colour)
    ImageDraw.Draw(image).rectangle((0, 0, width // 3, height // 2), fill=(255 - colour[0], 80, 160))
    image = image.convert(mode)
    if mode in ("LA", "RGBA"):
        image.putalpha(draw(st.integers(0, 255)))
    if mode == "P" and draw(st.booleans()):
        image.info["transparency"] = 0
    return encode(image, fmt, orientation=draw(st.integers(1, 8)))


class TestAcceptedPhotos:
    @settings(max_examples=100, deadline=None, database=None)
    @given(upload=uploads())
    def test_property_02_any_accepted_image_is_stored_400x400_without_metadata(self, upload: bytes) -> None:
        photo = process_photo(upload)

        image = opened(photo)
        assert image.format == "JPEG"
        assert image.size == (400, 400)
        assert image.mode == "RGB"
        assert len(image.getexif()) == 0
        for key in ("exif", "icc_profile", "comment", "xmp"):
            assert key not in image.info
        assert photo.content_type == "image/jpeg"
        assert photo.content_hash == hashlib.sha256(photo.data).hexdigest()
        assert photo.filename == f"{photo.content_hash}.jpg"

    def test_metadata_of_the_upload_is_not_carried_over(self) -> None:
        exif = Image.Exif()
        exif[0x010F] = "SecretCam"  # Make
        exif[0x8825] = {2: (48.0, 51.0, 24.0)}  # GPS latitude
        upload = encode(
            Image.new("RGB", (300, 300), RED),
            "JPEG",
            exif=exif,
            icc_profile=b"fake icc profile",
            comment=b"secret comment",
            xmp=b"<x:xmpmeta>secret</x:xmpmeta>",
        )

        photo = process_photo(upload)

        for marker in (
            b"Exif\x00\x00",
            b"ICC_PROFILE",
            b"secret",
            b"SecretCam",
            b"xmpmeta",
        ):
            assert marker not in photo.data
        assert not {"exif", "icc_profile", "comment", "xmp"} & opened(photo).info.keys()

    def test_output_side_follows_the_size_argument(self) -> None:
        photo = process_photo(encode(Image.new("RGB", (640, 480), RED), "PNG"), size=128)

        assert opened(photo).size == (128, 128)

    def test_minimum_sized_image_is_scaled_up(self) -> None:
        photo = process_photo(encode(Image.new("RGB", (100, 100), BLUE), "PNG"))

        assert opened(photo).size == (400, 400)

    def test_same_bytes_give_the_same_hash(self) -> None:
        upload = encode(two_halves(800, 600), "JPEG", orientation=6)

        assert process_photo(upload).content_hash == process_photo(upload).content_hash

    def test_different_images_give_different_hashes(self) -> None:
        red = process_photo(encode(Image.new("RGB", (200, 200), RED), "PNG"))
        blue = process_photo(encode(Image.new("RGB", (200, 200), BLUE), "PNG"))

        assert red.content_hash != blue.content_hash


class TestOrientation:
    @pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
    def test_orientation_1_keeps_red_left_and_blue_right(self, fmt: str) -> None:
        image = opened(process_photo(encode(two_halves(300, 200), fmt, orientation=1)))

        assert near(image.getpixel((20, 200)), RED)
        assert near(image.getpixel((380, 200)), BLUE)

    @pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
    def test_orientation_6_rotates_clockwise_putting_red_on_top(self, fmt: str) -> None:
        image = opened(process_photo(encode(two_halves(300, 200), fmt, orientation=6)))

        assert near(image.getpixel((200, 20)), RED)
        assert near(image.getpixel((200, 380)), BLUE)

    @pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
    def test_orientation_8_rotates_anticlockwise_putting_blue_on_top(self, fmt: str) -> None:
        image = opened(process_photo(encode(two_halves(300, 200), fmt, orientation=8)))

        assert near(image.getpixel((200, 20)), BLUE)
        assert near(image.getpixel((200, 380)), RED)


class TestModeConversion:
    def test_transparent_areas_of_an_rgba_png_become_white(self) -> None:
        image = Image.new("RGBA", (300, 300), (0, 0, 0, 0))  # transparent black
        ImageDraw.Draw(image).rectangle((150, 0, 300, 300), fill=(*BLUE, 255))

        result = opened(process_photo(encode(image, "PNG")))

        assert near(result.getpixel((20, 200)), WHITE)
        assert near(result.getpixel((380, 200)), BLUE)

    def test_transparent_palette_entry_becomes_white(self) -> None:
        image = Image.new("P", (200, 200), 0)
        image.putpalette([0, 0, 0] * 256)
        image.info["transparency"] = 0

        result = opened(process_photo(encode(image, "PNG")))

        assert near(result.getpixel((200, 200)), WHITE)

    def test_cmyk_jpeg_comes_out_rgb(self) -> None:
        red_ink = (0, 255, 255, 0)
        upload = encode(Image.new("CMYK", (200, 200), red_ink), "JPEG")

        result = opened(process_photo(upload))

        assert result.mode == "RGB"
        assert near(result.getpixel((200, 200)), RED)

    def test_16_bit_greyscale_png_keeps_its_tone(self) -> None:
        upload = encode(Image.new("I;16", (200, 200), 128 * 256), "PNG")

        result = opened(process_photo(upload))

        assert near(result.getpixel((200, 200)), (128, 128, 128), tolerance=8)

    def test_animated_webp_keeps_the_first_frame(self) -> None:
        frames = [Image.new("RGB", (200, 200), colour) for colour in (RED, BLUE)]
        upload = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)
        assert getattr(Image.open(io.BytesIO(upload)), "n_frames", 1) == 2

        result = opened(process_photo(upload))

        assert near(result.getpixel((200, 200)), RED)


class TestRejectedPhotos:
    def test_one_pixel_png_is_too_small(self) -> None:
        with pytest.raises(PhotoTooSmall) as caught:
            process_photo(encode(Image.new("RGB", (1, 1)), "PNG"))

        assert caught.value.code == "PHOTO_TOO_SMALL"
        assert caught.value.status_code == 400
        assert caught.value.details["minSide"] == 100
        assert_user_safe(caught.value)

    def test_one_short_side_is_too_small(self) -> None:
        with pytest.raises(PhotoTooSmall):
            process_photo(encode(Image.new("RGB", (1200, 99)), "PNG"))

    def test_bytes_over_the_limit_are_too_large(self) -> None:
        upload = encode(Image.new("RGB", (200, 200), RED), "PNG")

        with pytest.raises(PhotoTooLarge) as caught:
            process_photo(upload, max_bytes=len(upload) - 1)

        assert caught.value.code == "PHOTO_TOO_LARGE"
        assert caught.value.status_code == 413
        assert_user_safe(caught.value)

    def test_garbage_over_the_limit_is_too_large_not_invalid(self) -> None:
        with pytest.raises(PhotoTooLarge):
            process_photo(b"x" * (5 * 1024 * 1024 + 1))

    def test_30000_square_png_bomb_is_refused_from_its_header(self) -> None:
        started = time.perf_counter()
        with pytest.raises(PhotoTooLarge) as caught:
            process_photo(png_header_only(30_000, 30_000))

        assert time.perf_counter() - started < 1
        assert caught.value.code == "PHOTO_TOO_LARGE"
        assert caught.value.status_code == 413
        assert_user_safe(caught.value)

    def test_our_pixel_limit_applies_below_pillows_own(self) -> None:
        with pytest.raises(PhotoTooLarge) as caught:
            # 49 Mpx: over our 40 M, under the 89 M at which Pillow would complain.
            process_photo(png_header_only(7_000, 7_000))

        assert caught.value.details["maxPixels"] == 40_000_000

    def test_pixel_limit_does_not_depend_on_pillows_global(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)

        with pytest.raises(PhotoTooLarge):
            process_photo(png_header_only(30_000, 30_000))

    def test_pixel_limit_is_configurable(self) -> None:
        with pytest.raises(PhotoTooLarge):
            process_photo(encode(Image.new("RGB", (300, 300)), "PNG"), max_pixels=300 * 300 - 1)

    @pytest.mark.parametrize("side", [10_000, 15_000], ids=["pillow-warning", "pillow-error"])
    def test_pillows_bomb_warning_and_error_become_too_large(self, side: int) -> None:
        with pytest.raises(PhotoTooLarge):
            process_photo(png_header_only(side, side), max_pixels=10**9)

    def test_pillow_global_state_is_left_alone(self) -> None:
        limit, filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)

        with pytest.raises(PhotoTooLarge):
            process_photo(png_header_only(15_000, 15_000))

        assert limit == Image.MAX_IMAGE_PIXELS
        assert list(warnings.filters) == filters

    @pytest.mark.parametrize(
        "upload",
        [
            pytest.param(b"hello, this is not an image", id="text"),
            pytest.param(b"", id="empty"),
            pytest.param(encode(Image.new("RGB", (200, 200), RED), "GIF"), id="gif"),
            pytest.param(encode(Image.new("RGB", (200, 200), RED), "BMP"), id="bmp"),
            pytest.param(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, id="png-signature-only"),
        ],
    )
    def test_anything_but_jpeg_png_or_webp_is_rejected(self, upload: bytes) -> None:
        with pytest.raises(PhotoRejected) as caught:
            process_photo(upload)

        assert caught.value.code == "INVALID_PHOTO"
        assert caught.value.status_code == 400
        assert_user_safe(caught.value)

    def test_truncated_jpeg_is_rejected(self) -> None:
        noisy = Image.effect_noise((400, 400), 64).convert("RGB")
        upload = encode(noisy, "JPEG")

        with pytest.raises(PhotoRejected) as caught:
            process_photo(upload[: len(upload) // 2])

        assert caught.value.code == "INVALID_PHOTO"
        assert_user_safe(caught.value)

    def test_garbage_pixel_data_behind_a_valid_header_is_rejected(self) -> None:
        with pytest.raises(PhotoRejected):
            process_photo(png_header_only(400, 400))
