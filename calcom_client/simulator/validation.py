"""Body and query validation in the manner of Cal.com's global `ValidationPipe`.

`whitelist: true` silently drops unknown properties, so the checkers only read the fields they
know; failures are collected as class-validator `ValidationError` objects and raised together as
one 400, as NestJS does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from calcom_client.simulator.errors import CalcomError, bad_request, validation_failed
from calcom_client.simulator.timefmt import load_zone, parse_iso

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MISSING = object()


class Checker:
    """Read typed fields of one JSON object, remembering every constraint it violates."""

    def __init__(self, data: Mapping[str, Any], *, prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix
        self.errors: list[dict[str, Any]] = []

    def _fail(self, name: str, value: Any, constraints: dict[str, str]) -> None:
        error: dict[str, Any] = {"target": dict(self.data), "property": name, "children": []}
        if value is not _MISSING:
            error["value"] = value
        error["constraints"] = constraints
        self.errors.append(error)

    def _get(self, name: str, required: bool, constraint: str, text: str) -> Any:
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self._fail(name, value, {constraint: f"{self.prefix}{name} {text}"})
            return None
        return value

    def string(self, name: str, *, required: bool = False) -> str | None:
        """A string field (`@IsString()`)."""
        value = self._get(name, required, "isString", "must be a string")
        if value is not None and not isinstance(value, str):
            self._fail(name, value, {"isString": f"{self.prefix}{name} must be a string"})
            return None
        return value if isinstance(value, str) else None

    def integer(self, name: str, *, required: bool = False, minimum: int | None = None) -> int | None:
        """An integer field (`@IsInt()`, `@Min()`); booleans are not integers."""
        value = self._get(name, required, "isInt", "must be an integer number")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            self._fail(name, value, {"isInt": f"{self.prefix}{name} must be an integer number"})
            return None
        if minimum is not None and value < minimum:
            self._fail(name, value, {"min": f"{self.prefix}{name} must not be less than {minimum}"})
            return None
        return int(value)

    def boolean(self, name: str, *, required: bool = False) -> bool | None:
        """A boolean field (`@IsBoolean()`)."""
        value = self._get(name, required, "isBoolean", "must be a boolean value")
        if value is not None and not isinstance(value, bool):
            self._fail(name, value, {"isBoolean": f"{self.prefix}{name} must be a boolean value"})
            return None
        return value if isinstance(value, bool) else None

    def obj(self, name: str, *, required: bool = False) -> dict[str, Any] | None:
        """A plain object field (`@IsObject()`)."""
        value = self._get(name, required, "isObject", "must be an object")
        if value is not None and not isinstance(value, dict):
            self._fail(name, value, {"isObject": f"{self.prefix}{name} must be an object"})
            return None
        return value if isinstance(value, dict) else None

    def array(self, name: str, *, required: bool = False) -> list[Any] | None:
        """An array field (`@IsArray()`)."""
        value = self._get(name, required, "isArray", "must be an array")
        if value is not None and not isinstance(value, list):
            self._fail(name, value, {"isArray": f"{self.prefix}{name} must be an array"})
            return None
        return value if isinstance(value, list) else None

    def date_string(self, name: str, *, required: bool = False) -> datetime | None:
        """An ISO 8601 date string (`@IsDateString()`), parsed to UTC."""
        value = self.string(name, required=required)
        if value is None:
            return None
        parsed = parse_iso(value)
        if parsed is None:
            self._fail(name, value, {"isDateString": f"{self.prefix}{name} must be a valid ISO 8601 date string"})
        return parsed

    def time_zone(self, name: str, *, required: bool = False) -> str | None:
        """An IANA time zone name (`@IsTimeZone()`)."""
        value = self.string(name, required=required)
        if value is not None and load_zone(value) is None:
            self._fail(name, value, {"isTimeZone": f"{self.prefix}{name} must be a valid IANA time zone"})
            return None
        return value

    def email(self, name: str, *, required: bool = False) -> str | None:
        """An email address (`@IsEmail()`)."""
        value = self.string(name, required=required)
        if value is not None and not _EMAIL.match(value):
            self._fail(name, value, {"isEmail": f"{self.prefix}{name} must be an email"})
            return None
        return value

    def choice(self, name: str, allowed: Collection[str], *, required: bool = False) -> str | None:
        """One of `allowed` (`@IsEnum()`)."""
        value = self.string(name, required=required)
        if value is not None and value not in allowed:
            text = f"{self.prefix}{name} must be one of the following values: {', '.join(allowed)}"
            self._fail(name, value, {"isEnum": text})
            return None
        return value

    def nested(self, name: str, child: Checker) -> None:
        """Attach a nested object's errors under `name`, as `@ValidateNested()` does."""
        if child.errors:
            self.errors.append({"target": dict(self.data), "property": name, "children": child.errors})

    def raise_if_invalid(self) -> None:
        """Raise the 400 of the `ValidationPipe` if any field failed.

        Raises:
            CalcomError: 400 `BadRequestException` with `details.errors`.
        """
        if self.errors:
            raise validation_failed(self.errors)


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The JSON object of a request body (an empty body reads as `{}`, as Express does).

    Raises:
        CalcomError: 400 when the body is not JSON.
    """
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise bad_request(f"Unexpected token in JSON at position {getattr(exc, 'pos', 0)}") from exc
    if not isinstance(value, dict):
        raise validation_failed([])
    return value


def check_metadata(checker: Checker, metadata: Mapping[str, Any] | None) -> None:
    """Booking metadata limits: at most 50 keys, keys up to 40 characters, strings up to 500."""
    if metadata is None:
        return
    too_many = len(metadata) > 50
    long_key = any(len(key) > 40 for key in metadata)
    long_value = any(isinstance(v, str) and len(v) > 500 for v in metadata.values())
    if too_many or long_key or long_value:
        checker.errors.append(
            {
                "target": dict(checker.data),
                "property": "metadata",
                "value": dict(metadata),
                "children": [],
                "constraints": {
                    "isMetadata": "Metadata must have at most 50 keys, each key up to 40 characters, "
                    "and string values up to 500 characters."
                },
            }
        )


__all__ = ["CalcomError", "Checker", "check_metadata", "parse_json_object"]
