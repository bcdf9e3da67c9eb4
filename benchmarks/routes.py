"""The measured routes, by name; kept apart from locust so importing them does not monkey-patch."""

from __future__ import annotations

#: Route name → path. The list and search pages and the profile are all served from the cache.
ROUTES: dict[str, str] = {
    "list": "/api/v2/students/by-field/LAW",
    "search": "/api/v2/students?field=LAW&q=droit",
    "profile": "/api/v2/students/demo-mentor-01",
    "ceiling": "/ceiling",
}
