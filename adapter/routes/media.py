"""Profile photos, addressed by content hash and cached forever by browsers and CDNs."""

from __future__ import annotations

import re

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

from adapter.guards import public_guard
from adapter.routes.docs import errors
from core.errors import NotFound
from thotis_ext.profiles.service import ProfileService

_PHOTO_NAME = re.compile(r"^([0-9a-f]{64})\.jpg$")
IMMUTABLE = "public, max-age=31536000, immutable"


@get(
    "/media/photos/{name:str}",
    guards=[public_guard],
    tags=["media"],
    summary="A processed profile photo (400×400 JPEG)",
    responses={200: ResponseSpec(None, description="image/jpeg", media_type="image/jpeg"), **errors(404)},
)
async def photo(name: FromPath[str], profiles: NamedDependency[ProfileService]) -> Response[bytes]:
    match = _PHOTO_NAME.fullmatch(name)
    if match is None:
        raise NotFound("No such photo.", code="PHOTO_NOT_FOUND")
    data, content_type = await profiles.photo(match.group(1))
    return Response(data, media_type=content_type, headers={"Cache-Control": IMMUTABLE, "ETag": f'"{match.group(1)}"'})
