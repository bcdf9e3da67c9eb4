"""Profile photos, addressed by content hash and cached forever by browsers and CDNs."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

from adapter.guards import public_guard
from adapter.routes.docs import errors
from core.errors import NotFound
from thotis_ext.profiles.service import ProfileService

_PHOTO_NAME = re.compile(r"^([0-9a-f]{64})\.jpg$")
IMMUTABLE = "public, max-age=31536000, immutable"
#: A photo is only ever an image: browsers must not sniff it into HTML, and if opened directly it
#: may run nothing and load nothing.
SAFE = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox"}


@get(
    "/media/photos/{name:str}",
    guards=[public_guard],
    tags=["media"],
    summary="A processed profile photo (400×400 JPEG)",
    responses={
        200: ResponseSpec(None, description="image/jpeg", media_type="image/jpeg"),
        **errors(404, 429, 503, api=False),
    },
)
async def photo(
    name: FromPath[str], profiles: NamedDependency[ProfileService], request: Request[Any, Any, Any]
) -> Response[bytes]:
    match = _PHOTO_NAME.fullmatch(name)
    if match is None:
        raise NotFound("No such photo.", code="PHOTO_NOT_FOUND")
    content_hash = match.group(1)
    headers = {"Cache-Control": IMMUTABLE, "ETag": f'"{content_hash}"', **SAFE}
    if content_hash in request.headers.get("if-none-match", ""):
        # Content-addressed: a matching ETag means the client already has exactly these bytes.
        return Response(b"", status_code=304, headers=headers)
    data, content_type = await profiles.photo(content_hash)
    return Response(data, media_type=content_type, headers=headers)
