"""Mentor profile photos (R1.3): untrusted upload bytes in, one normalised JPEG out.

Uploads are hostile until proven otherwise, so the order matters: cap the byte size, sniff the
format from the content, check the pixel count from the header (Pillow opens lazily) and only
then decode. The output is always a `size`×`size` RGB JPEG with no metadata, so no GPS position,
camera serial or comment that a mentor's phone put in the file is ever served back, and its
SHA-256 names the stored file (same bytes, same name).
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from core.errors import InvalidInput, PayloadTooLarge

_ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
_WHITE = (255, 255, 255, 255)
_JPEG_QUALITY = 85
#: What Pillow raises on data it cannot parse or decode (UnidentifiedImageError is an OSError).
_UNREADABLE = (OSError, ValueError, SyntaxError, EOFError, struct.error)


@dataclass(frozen=True, slots=True)
class ProcessedPhoto:
    """A normalised photo, ready to store under its content-addressed name."""

    data: bytes
    content_hash: str
    content_type: str = "image/jpeg"

    @property
    def filename(self) -> str:
        """Content-addressed, so re-uploading the same photo never creates a second file."""
        return f"{self.content_hash}.jpg"


class PhotoRejected(InvalidInput):
    """The upload is not a JPEG, PNG or WebP image we can read (400)."""

    code = "INVALID_PHOTO"
    default_message = "The photo must be a valid JPEG, PNG or WebP image."


class PhotoTooSmall(InvalidInput):
    """The image is too small to give a usable profile photo (400)."""

    code = "PHOTO_TOO_SMALL"
    default_message = "The photo is too small."


class PhotoTooLarge(PayloadTooLarge):
    """The file, or its decoded pixel count, is over the limit (413)."""

    code = "PHOTO_TOO_LARGE"
    default_message = "The photo is too large."


def process_photo(
    data: bytes,
    *,
    max_bytes: int = 5 * 1024 * 1024,
    max_pixels: int = 40_000_000,
    min_side: int = 100,
    size: int = 400,
) -> ProcessedPhoto:
    """Validate an uploaded photo and return it as a metadata-free `size`×`size` JPEG.

    Raises PhotoTooLarge, PhotoRejected or PhotoTooSmall; their messages are safe to show.
    """
    if len(data) > max_bytes:
        raise PhotoTooLarge(
            f"The photo file must be at most {max_bytes / 1_048_576:g} MB.",
            details={"maxBytes": max_bytes},
        )
    try:
        # Pillow's own bomb guard fires inside Image.open, before our check: make its warning
        # an error here only, leaving the process-wide warning filters and limits untouched.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            jpeg = _normalise(data, max_pixels=max_pixels, min_side=min_side, size=size)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise _too_many_pixels(max_pixels) from exc
    except _UNREADABLE as exc:
        raise PhotoRejected() from exc
    return ProcessedPhoto(data=jpeg, content_hash=hashlib.sha256(jpeg).hexdigest())


def _normalise(data: bytes, *, max_pixels: int, min_side: int, size: int) -> bytes:
    """Check the header, then decode the first frame, orient, flatten, crop and re-encode."""
    # `formats` makes Pillow try only these decoders: the type comes from the content alone.
    with Image.open(io.BytesIO(data), formats=_ACCEPTED_FORMATS) as image:
        width, height = image.size  # from the header: no pixel has been decoded yet
        if width * height > max_pixels:
            raise _too_many_pixels(max_pixels)
        if min(width, height) < min_side:
            raise PhotoTooSmall(
                f"The photo must be at least {min_side}×{min_side} pixels.",
                details={"minSide": min_side, "width": width, "height": height},
            )
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the result still covers `size`;
        # a no-op for other formats. An animated file stays on its first frame.
        image.draft(None, (size, size))
        image.load()
        oriented = ImageOps.exif_transpose(image)
        square = ImageOps.fit(_to_rgb(oriented), (size, size), Image.Resampling.LANCZOS)
    # Pillow carries `info` (ICC profile, comment, XMP…) through convert/resize, and the JPEG
    # encoder writes some of it back: drop it all, and never pass exif/icc_profile on save.
    square.info.clear()
    out = io.BytesIO()
    square.save(out, "JPEG", quality=_JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any mode to RGB, with transparent areas shown on white rather than on black."""
    if image.mode.startswith("I;16"):
        # 16-bit grey: scale to 8 bits, a plain convert would clip nearly everything to white.
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _WHITE)
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _too_many_pixels(max_pixels: int) -> PhotoTooLarge:
    return PhotoTooLarge(
        f"The photo must have at most {max_pixels:,} pixels.",
        details={"maxPixels": max_pixels},
    )
