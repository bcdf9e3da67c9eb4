"""Regenerate `thotis_ext/emails/assets/logo.png`, the logo every Thotis email embeds inline.

Drawn rather than exported from a design tool so the file can be rebuilt anywhere with Pillow
alone; the result is committed, so this runs only when the logo should change:

    .venv/bin/python scripts/make_email_logo.py
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ORANGE = (0xFF, 0x6B, 0x35, 255)
BLUE = (0x00, 0x4E, 0x89, 255)
WHITE = (255, 255, 255, 255)
#: Twice the displayed size (180×48 in the email), so the logo stays sharp on high-density screens.
WIDTH, HEIGHT = 360, 96
TARGET = Path(__file__).resolve().parents[1] / "thotis_ext" / "emails" / "assets" / "logo.png"


def draw_logo() -> Image.Image:
    """The mark (an orange rounded square with a white T) followed by the word Thotis in blue."""
    image = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 4, 92, 92), radius=20, fill=ORANGE)
    # The T is drawn from rectangles: no font is needed for the mark, so it looks the same everywhere.
    draw.rectangle((24, 24, 72, 36), fill=WHITE)
    draw.rectangle((42, 24, 54, 76), fill=WHITE)
    font = ImageFont.load_default(size=64)
    draw.text((110, HEIGHT // 2), "Thotis", font=font, fill=BLUE, anchor="lm", stroke_width=1, stroke_fill=BLUE)
    return image


def encode(image: Image.Image) -> bytes:
    """A palette PNG: a few colours and their anti-aliasing fit well under 10 KB."""
    buffer = io.BytesIO()
    image.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def main() -> None:
    data = encode(draw_logo())
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_bytes(data)
    print(f"wrote {TARGET} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
