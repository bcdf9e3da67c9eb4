"""Static assets under content-hash names, cached a year by browsers (R17.5).

`/static/thotis.3f2a9c1b7e04.css` changes name whenever its bytes change, so it can be cached
for ever; pages link to `asset_url("thotis.css")`. Files are read once, on first use.
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from core.errors import NotFound

STATIC_DIR = Path(__file__).parent / "static"
#: Assets that live elsewhere in the tree (the logo is the emails' own).
EXTRA = {"logo.png": Path(__file__).parents[2] / "thotis_ext" / "emails" / "assets" / "logo.png"}
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Asset:
    hashed_name: str
    data: bytes
    content_type: str


@functools.cache
def _assets() -> dict[str, Asset]:
    """Logical name → asset, read once."""
    files = {path.name: path for path in STATIC_DIR.iterdir() if path.is_file()} | EXTRA
    found = {}
    for name, path in files.items():
        data = path.read_bytes()
        stem, _, extension = name.rpartition(".")
        digest = hashlib.sha256(data).hexdigest()[:12]
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if content_type.startswith("text/"):
            content_type += "; charset=utf-8"
        found[name] = Asset(f"{stem}.{digest}.{extension}", data, content_type)
    return found


@functools.cache
def _by_hashed_name() -> dict[str, Asset]:
    return {asset.hashed_name: asset for asset in _assets().values()}


def asset_url(name: str) -> str:
    """The content-hashed URL of a static asset (KeyError for an unknown one: a template bug)."""
    return f"/static/{_assets()[name].hashed_name}"


@get("/static/{name:str}", include_in_schema=False)
async def static_asset(name: FromPath[str], request: Request[Any, Any, Any]) -> Response[bytes]:
    asset = _by_hashed_name().get(name)
    if asset is None:
        raise NotFound("No such asset.", code="ASSET_NOT_FOUND")
    return Response(
        asset.data,
        media_type=asset.content_type,
        headers={"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"},
    )
