"""Reading Cal.com's success envelope ``{"status": "success", "data": …}`` into response models.

A 2xx whose body does not fit is a :class:`~calcom_client.errors.CalcomInvalidResponse`, never a
pydantic ``ValidationError`` leaking out of the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
from pydantic import TypeAdapter, ValidationError

from calcom_client.errors import CalcomInvalidResponse
from calcom_client.models import Slot

T = TypeVar("T")

_adapters: dict[Any, TypeAdapter[Any]] = {}


def _adapter(kind: Any) -> TypeAdapter[Any]:
    adapter = _adapters.get(kind)
    if adapter is None:
        adapter = _adapters[kind] = TypeAdapter(kind)
    return adapter


def unwrap(body: Any, path: str) -> Any:
    """The ``data`` of a success envelope.

    Raises:
        CalcomInvalidResponse: the body is not a success envelope.
    """
    if isinstance(body, Mapping) and "data" in body and body.get("status", "success") == "success":
        return body["data"]
    raise CalcomInvalidResponse("Cal.com answered without the success envelope", path=path, details=body)


def parse(kind: type[T], data: Any, path: str) -> T:
    """``data`` validated as ``kind`` (a model or e.g. ``list[Model]``).

    Raises:
        CalcomInvalidResponse: ``data`` does not fit ``kind``.
    """
    try:
        parsed: T = _adapter(kind).validate_python(data)
    except ValidationError as exc:
        raise CalcomInvalidResponse(
            f"Cal.com's answer does not fit {getattr(kind, '__name__', kind)}",
            path=path,
            details=exc.errors(include_url=False, include_input=False),
        ) from exc
    return parsed


def flatten_slots(data: Any, path: str) -> list[Slot]:
    """Slots come keyed by date (``{"2050-09-05": [{"start": …, "end": …}]}``, contract §4.1, §12.5).

    Items are objects in practice; the document's schema says strings, so accept both. Days without
    a free slot are simply absent. The result is one list in start order.

    Raises:
        CalcomInvalidResponse: the data is not a map of dates to lists of slots.
    """
    if not isinstance(data, Mapping):
        raise CalcomInvalidResponse("slots are not keyed by date", path=path, details=data)
    items: list[Any] = []
    for day in data.values():
        if not isinstance(day, list):
            raise CalcomInvalidResponse("a day's slots are not a list", path=path, details=data)
        items.extend({"start": item} if isinstance(item, str) else item for item in day)
    try:
        slots = msgspec.convert(items, list[Slot])
    except msgspec.ValidationError as exc:
        raise CalcomInvalidResponse(
            "Cal.com's answer does not fit list[Slot]", path=path, details=[{"msg": str(exc)}]
        ) from exc
    return sorted(slots, key=lambda slot: slot.start)
