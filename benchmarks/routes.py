"""The measured routes, by name; kept apart from locust so importing them does not monkey-patch."""

from __future__ import annotations

#: Route name → path. The list and search pages and the profile are all served from the cache.
ROUTES: dict[str, str] = {
    "list": "/api/v2/students/by-field/LAW",
    "search": "/api/v2/students?field=LAW&q=droit",
    "profile": "/api/v2/students/demo-mentor-01",
    "ceiling": "/ceiling",
}

#: The mix phase's routes → share of its requests (`--mix-weights`). A directory visitor reads lists
#: and profiles, fewer look at the slots, fewer still book; Cal.com's webhooks come with every
#: booking made anywhere.
MIX_WEIGHTS: dict[str, int] = {"list": 35, "profile": 25, "availability": 25, "webhook": 12, "booking": 3}


def parse_mix_weights(text: str) -> dict[str, int]:
    """`list=35,booking=3,…` → weights: routes of `MIX_WEIGHTS` only, whole numbers ≥ 0, some > 0;
    a route left out gets 0.

    Raises:
        ValueError: with a message for the command line.
    """
    weights = dict.fromkeys(MIX_WEIGHTS, 0)
    for item in (part.strip() for part in text.split(",")):
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in weights or not value.strip().isdigit():
            raise ValueError(f"'{item}' is not route=weight with a route among {', '.join(MIX_WEIGHTS)}")
        weights[name.strip()] = int(value)
    if not any(weights.values()):
        raise ValueError("at least one route needs a weight above 0")
    return weights
